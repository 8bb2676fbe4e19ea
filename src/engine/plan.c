/* Before the first write: what the run will cost, whether the table can
 * be restored (point-in-time recovery), and the go-ahead, which the
 * caller obtains (engine_options.confirm): the library never prompts. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine_impl.h"

/* "ENABLED", "DISABLED", or "" when the endpoint cannot tell. */
static int pitr_status(ddb_client *c, const char *table, char *out, size_t size, dm_error *err)
{
    json_t *req = json_pack("{s:s}", "TableName", table), *resp = NULL;
    dm_error e = {0};
    int rc = ddb_request(c, "DescribeContinuousBackups", table, req, &resp, &e);
    json_decref(req);
    out[0] = '\0';
    if (rc == DM_OK) {
        const char *s = json_string_value(json_object_get(
            json_object_get(json_object_get(resp, "ContinuousBackupsDescription"), "PointInTimeRecoveryDescription"),
            "PointInTimeRecoveryStatus"));
        dm_strlcpy(out, s ? s : "DISABLED", size);
        json_decref(resp);
        return DM_OK;
    }
    if (strcmp(e.type, "UnknownOperationException") == 0 || e.http_status == 501)
        return DM_OK;
    if (err)
        *err = e;
    return rc;
}

static void print_plan(run_state *r, const char *pitr)
{
    const engine_options *o = r->o;
    const ddb_table_desc *d = &r->desc;
    char size[32];
    dm_format_bytes(d->size_bytes, size, sizeof size);
    double avg = d->item_count > 0 ? (double)d->size_bytes / (double)d->item_count : 1024;
    double reads = ceil((double)d->size_bytes / 4096.0) * (o->consistent_read ? 1.0 : 0.5);
    double per_item = ceil(avg / 1024.0);
    double writes = (double)d->item_count * per_item;
    double cost = reads / 1e6 * o->read_price + writes / 1e6 * o->write_price;
    static const char *modes[] = {"update (guarded)", "put (guarded)", "batch (unguarded)"};
    FILE *f = stderr;
    fprintf(f, "Plan for %s (%s):\n", o->table, ddb_shared_region(r->shared));
    fprintf(f, "  items      ~%lld (DynamoDB's estimate, refreshed every ~6 h), %s\n", (long long)d->item_count, size);
    fprintf(f, "  script     %s (sha256 %.12s), migration %s\n", o->script_path ? o->script_path : "-e", r->script_hash,
            r->migration);
    if (r->target != o->table)
        fprintf(f, "  target     %s\n", r->target);
    fprintf(f, "  work       %d segments over %d workers, write mode %s%s%s\n", r->n_segs, o->workers,
            modes[r->mode], o->marker ? ", marker " : "", o->marker ? o->marker : "");
    fprintf(f, "  reads      ~%.0f read units\n", reads);
    fprintf(f, "  writes     up to ~%.0f write units if every item changes\n", writes);
    fprintf(f, "  cost       up to ~$%.2f at on-demand prices ($%.3g per million reads, $%.3g per million writes)\n",
            cost, o->read_price, o->write_price);
    double rcap = rl_limit(&r->rl_read), wcap = rl_limit(&r->rl_write);
    if (rcap > 0 || wcap > 0)
        fprintf(f, "  rate       at most %.0f read and %.0f write units per second (0: no cap)\n", rcap, wcap);
    else
        fprintf(f, "  rate       no cap; backs off when DynamoDB throttles\n");
    fprintf(f, "  recovery   point-in-time recovery %s\n",
            pitr[0] ? (strcmp(pitr, "ENABLED") == 0 ? "is on" : "is OFF")
                    : "unknown: the endpoint lacks DescribeContinuousBackups (DynamoDB Local?); going on");
}

static int confirm(run_state *r, dm_error *err)
{
    const engine_options *o = r->o;
    if (o->yes)
        return DM_OK;
    if (!o->confirm)
        return dm_error_set(err, DM_ERR_CONFIG,
                            "writing to %s needs --yes when it cannot be confirmed interactively (not run from a "
                            "terminal?), or use --dry-run",
                            r->target);
    char question[400];
    snprintf(question, sizeof question, "Write to table %s?", r->target);
    if (o->confirm(o->confirm_ud, question))
        return DM_OK;
    return dm_error_set(err, DM_ERR_CONFIG, "not confirmed; nothing was written");
}

int plan_and_confirm(run_state *r, ddb_client *c, dm_error *err)
{
    char pitr[32];
    int rc = pitr_status(c, r->target, pitr, sizeof pitr, err);
    if (rc)
        return rc;
    bool shown = !r->o->quiet || !r->o->yes;
    if (shown)
        print_plan(r, pitr);
    if (r->o->plan_hook && (rc = r->o->plan_hook(r->o->hook_ud, shown ? stderr : NULL, err)) != DM_OK)
        return rc;
    if (pitr[0] && strcmp(pitr, "ENABLED") != 0 && !r->o->no_pitr_check)
        return dm_error_set(err, DM_ERR_CONFIG,
                            "point-in-time recovery is off for table %s, so a mistake could not be undone; turn it "
                            "on (aws dynamodb update-continuous-backups --table-name %s "
                            "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true) or pass "
                            "--no-pitr-check",
                            r->target, r->target);
    return confirm(r, err);
}
