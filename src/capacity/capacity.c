/* Capacity calls: describing, applying a plan step by step on the table
 * as it is at that moment, waiting for ACTIVE, and restoring from the
 * record (record.c). Decisions are in capplan.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capacity/capplan.h"
#include "capacity/record.h"
#include "ddbmig/ddb_ops.h"

static bool stopped(const cap_clients *c) { return c->stop && *c->stop; }

/* Sleeps ms in slices, so that a stop is seen within 100 ms. */
static int nap(const cap_clients *c, int64_t ms, dm_error *err)
{
    for (int64_t end = dm_monotonic_ms() + ms; dm_monotonic_ms() < end;) {
        if (stopped(c))
            return dm_error_set(err, DM_ERR_STOPPED, "interrupted");
        dm_sleep_ms(end - dm_monotonic_ms() < 100 ? end - dm_monotonic_ms() : 100);
    }
    return DM_OK;
}

static int describe_table(const cap_clients *c, const char *table, cap_state *out, dm_error *err)
{
    json_t *req = json_pack("{s:s}", "TableName", table), *resp = NULL;
    if (!req)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    volatile sig_atomic_t *was = ddb_client_set_stop(c->ddb, c->stop);
    int rc = ddb_request(c->ddb, "DescribeTable", table, req, &resp, err);
    ddb_client_set_stop(c->ddb, was);
    json_decref(req);
    if (rc == DM_OK)
        rc = cap_state_from_table(json_object_get(resp, "Table"), out, err);
    json_decref(resp);
    return rc;
}

/* An endpoint that does not speak Application Auto Scaling at all (a
 * DynamoDB Local given as the only endpoint) answers so; anything else,
 * such as a missing permission, is an error: raising capacity that
 * scaling would undo, or not restoring its targets, is worse than
 * stopping. */
static bool scaling_absent(const dm_error *e)
{
    return strcmp(e->type, "UnknownOperationException") == 0 || strcmp(e->type, "InvalidAction") == 0 ||
           e->http_status == 404 || e->http_status == 501;
}

static int scaling_call(const cap_clients *c, const char *op, json_t *req, json_t **resp, dm_error *err)
{
    volatile sig_atomic_t *was = ddb_client_set_stop(c->scaling, c->stop);
    int rc = ddb_request(c->scaling, op, NULL, req, resp, err);
    ddb_client_set_stop(c->scaling, was);
    return rc;
}

static int describe_scaling(const cap_clients *c, cap_state *s, dm_error *err)
{
    if (!c->scaling) {
        dm_strlcpy(s->scaling_note, c->scaling_note ? c->scaling_note : "not checked", sizeof s->scaling_note);
        return DM_OK;
    }
    json_t *ids = json_array();
    char id[600];
    for (int i = 0; ids && i < s->n; i++) {
        cap_resource_id(s, i, id, sizeof id);
        json_array_append_new(ids, json_string(id));
    }
    json_t *req = json_pack("{s:s,s:o}", "ServiceNamespace", "dynamodb", "ResourceIds", ids), *resp = NULL;
    if (!req)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    dm_error e = {0};
    int rc = scaling_call(c, "DescribeScalableTargets", req, &resp, &e);
    json_decref(req);
    if (rc != DM_OK) {
        if (rc == DM_ERR_STOPPED || !scaling_absent(&e)) {
            *err = e;
            dm_error_prefix(err, "Application Auto Scaling DescribeScalableTargets (needs permission "
                                 "application-autoscaling:DescribeScalableTargets)");
            return rc;
        }
        snprintf(s->scaling_note, sizeof s->scaling_note, "the endpoint has no Application Auto Scaling (%s)",
                 e.type[0] ? e.type : "no answer");
        return DM_OK;
    }
    cap_state_add_targets(s, resp);
    json_decref(resp);
    s->scaling_known = true;
    for (int i = 0; i < s->n; i++) {
        if (!s->res[i].read_scaling.present && !s->res[i].write_scaling.present)
            continue;
        cap_resource_id(s, i, id, sizeof id);
        req = json_pack("{s:s,s:s}", "ServiceNamespace", "dynamodb", "ResourceId", id);
        resp = NULL;
        rc = req ? scaling_call(c, "DescribeScalingPolicies", req, &resp, err) : DM_ERR_NOMEM;
        json_decref(req);
        if (rc)
            return rc == DM_ERR_NOMEM ? dm_error_set(err, rc, "out of memory") : rc;
        cap_state_add_policies(s, resp);
        json_decref(resp);
    }
    return DM_OK;
}

int cap_describe(const cap_clients *c, const char *table, cap_state *out, dm_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = describe_table(c, table, out, err);
    if (rc == DM_OK && (rc = describe_scaling(c, out, err)) != DM_OK)
        cap_state_cleanup(out);
    return rc;
}

static bool all_active(const cap_state *s, char *busy, size_t size)
{
    busy[0] = '\0';
    size_t n = 0;
    for (int i = 0; i < s->n; i++) {
        const cap_resource *r = &s->res[i];
        bool warm_busy = r->warm_status[0] && strcmp(r->warm_status, "ACTIVE") != 0;
        if (strcmp(r->status, "ACTIVE") == 0 && !warm_busy)
            continue;
        int w = snprintf(busy + n, size - n, "%s%s%s %s", n ? ", " : "", r->index[0] ? "index " : "table",
                         r->index, warm_busy ? r->warm_status : r->status);
        if (w < 0 || (size_t)w >= size - n)
            break;
        n += (size_t)w;
    }
    return busy[0] == '\0';
}

/* Until the table, its indexes and their warm throughput are ACTIVE: a
 * change is asynchronous, and the next one is refused while UPDATING. */
static int wait_active(const cap_clients *c, const char *table, dm_error *err)
{
    int64_t start = dm_monotonic_ms(), limit = (int64_t)(c->wait_timeout_s > 0 ? c->wait_timeout_s : 1800) * 1000;
    int64_t pause = 200, last_said = 0;
    for (;;) {
        cap_state s = {0};
        int rc = describe_table(c, table, &s, err);
        char busy[400];
        bool done = rc == DM_OK && all_active(&s, busy, sizeof busy);
        cap_state_cleanup(&s);
        if (rc || done)
            return rc;
        int64_t waited = dm_monotonic_ms() - start;
        if (waited >= limit)
            return dm_error_set(err, DM_ERR_LIMIT, "table %s is still not ACTIVE after %lld s (%s)", table,
                                (long long)(waited / 1000), busy);
        if (c->progress && waited - last_said >= 10000) {
            fprintf(c->progress, "ddbmig: waiting for %s to be ACTIVE: %s (%lld s)\n", table, busy,
                    (long long)(waited / 1000));
            last_said = waited;
        }
        if ((rc = nap(c, pause, err)) != DM_OK)
            return rc;
        pause = pause * 2 > 5000 ? 5000 : pause * 2;
    }
}

/* One step on the table as it is now. DM_OK also when nothing was left
 * to do; the refusal's error (LimitExceededException...) otherwise. */
static int apply_step(const cap_clients *c, const cap_plan *p, const cap_step *st, dm_error *err)
{
    for (int attempt = 0;; attempt++) {
        cap_state fresh = {0};
        int rc = cap_describe(c, p->table, &fresh, err);
        const char *op = NULL;
        json_t *req = NULL;
        if (rc == DM_OK)
            rc = cap_step_request(p, st, &fresh, &op, &req, err);
        cap_state_cleanup(&fresh);
        if (rc || !req)
            return rc;
        char what[400];
        cap_step_describe(p, st, what, sizeof what);
        if (c->progress)
            fprintf(c->progress, "ddbmig: %s\n", what);
        bool scaling = strcmp(op, "RegisterScalableTarget") == 0;
        if (scaling && !c->scaling) {
            json_decref(req);
            return dm_error_set(err, DM_ERR_CONFIG, "%s needs Application Auto Scaling, which is not reachable: %s",
                                what, c->scaling_note ? c->scaling_note : "no endpoint");
        }
        dm_error e = {0};
        if (scaling) {
            rc = scaling_call(c, op, req, NULL, &e);
        } else {
            volatile sig_atomic_t *was = ddb_client_set_stop(c->ddb, c->stop);
            rc = ddb_request(c->ddb, op, p->table, req, NULL, &e);
            ddb_client_set_stop(c->ddb, was);
        }
        json_decref(req);
        /* Someone else's change still in progress: wait for it, then
         * look again (it may have done this step's work). */
        if (rc && strcmp(e.type, "ResourceInUseException") == 0 && attempt < 5) {
            if ((rc = wait_active(c, p->table, err)) != DM_OK)
                return rc;
            continue;
        }
        if (rc) {
            *err = e;
            dm_error_prefix(err, "%s", what);
            return rc;
        }
        return scaling ? DM_OK : wait_active(c, p->table, err);
    }
}

static bool limit_refusal(const dm_error *e) { return strcmp(e->type, "LimitExceededException") == 0; }
static int64_t possible_at(const cap_clients *c, const cap_plan *p, const cap_step *st, const cap_record *rec);

static FILE *notices(const cap_clients *c) { return c->notices ? c->notices : c->progress; }

int cap_prewarm(const cap_clients *c, const cap_plan *p, const cap_where *w, bool *changed, dm_error *err)
{
    *changed = false;
    int lock = -1;
    int rc = cap_record_lock(w, &lock, err);
    if (rc)
        return rc;
    /* The original is the table as it is now, not as it was planned from:
     * it may have changed while the question waited. */
    cap_state now = {0};
    cap_record rec;
    rc = cap_describe(c, p->table, &now, err);
    if (rc == DM_OK)
        rc = cap_record_begin(w, &now, p->method, &rec, err);
    cap_state_cleanup(&now);
    if (rc) {
        cap_record_unlock(lock);
        return rc;
    }
    *changed = true;
    for (int i = 0; rc == DM_OK && i < p->n_steps; i++) {
        const cap_step *st = &p->steps[i];
        dm_error e = {0};
        rc = apply_step(c, p, st, &e);
        if (rc == DM_OK && st->kind == CAP_STEP_BILLING && st->on_demand)
            cap_record_add_switch(&rec, dm_now_ms());
        if (rc && st->kind == CAP_STEP_BILLING && st->on_demand && limit_refusal(&e)) {
            /* Raised and provisioned: the run can go on; the switch waits. */
            char what[400];
            cap_step_describe(p, st, what, sizeof what);
            rc = cap_record_add_pending(&rec, what, possible_at(c, p, st, &rec), e.message, err);
            if (rc == DM_OK && notices(c))
                fprintf(notices(c), "ddbmig: the switch back to on-demand must wait (%s); the table stays "
                                    "provisioned, raised, until ddbmig capacity restore does it\n",
                        e.message);
        } else if (rc) {
            *err = e;
        }
    }
    dm_error e = {0};
    int rc2 = cap_record_set_status(&rec, w, rc == DM_OK ? "raised" : "raising", &e);
    if (rc == DM_OK && rc2 != DM_OK) {
        *err = e;
        rc = rc2;
    }
    cap_record_cleanup(&rec);
    cap_record_unlock(lock);
    return rc;
}

/* When a refused step becomes possible, from the table's own counts. */
static int64_t possible_at(const cap_clients *c, const cap_plan *p, const cap_step *st, const cap_record *rec)
{
    int64_t now = dm_now_ms();
    cap_state fresh = {0};
    dm_error e = {0};
    if (describe_table(c, p->table, &fresh, &e) != DM_OK)
        return now + 3600000;
    int64_t at = now + 3600000;
    if (st->kind == CAP_STEP_BILLING && st->on_demand) {
        int n = rec->n_switches;
        int64_t times[65];
        for (int i = 0; i < n && i < 64; i++)
            times[i] = rec->switches_ms[i];
        if (n > 64)
            n = 64;
        if (fresh.last_to_on_demand_ms)
            times[n++] = fresh.last_to_on_demand_ms;
        at = cap_next_on_demand_ms(times, n, now);
        /* Switches made elsewhere are not known: four in the window
         * counted here is a guess at the earliest. */
        if (at <= now)
            at = (fresh.last_to_on_demand_ms ? fresh.last_to_on_demand_ms : now) + 24 * 3600000LL;
    } else if (st->res >= 0) {
        for (int k = 0; k < fresh.n; k++)
            if (strcmp(fresh.res[k].index, p->names[st->res]) == 0) {
                const cap_resource *r = &fresh.res[k];
                at = cap_next_decrease_ms(r->decreases_today, r->last_decrease_ms, now);
                if (at <= now)
                    at = now + 3600000;
            }
    }
    cap_state_cleanup(&fresh);
    return at;
}

int cap_restore(const cap_clients *c, const cap_where *w, cap_outcome *out, dm_error *err)
{
    *out = CAP_DONE;
    cap_record rec;
    int lock = -1;
    int rc = cap_record_lock(w, &lock, err);
    if (rc == DM_OK && (rc = cap_record_open(w, &rec, err)) != DM_OK)
        cap_record_unlock(lock);
    if (rc)
        return rc;
    if (strcmp(rec.status, "restored") == 0) {
        cap_record_cleanup(&rec);
        cap_record_unlock(lock);
        return DM_OK;
    }
    cap_state now = {0};
    cap_plan *p = NULL;
    rc = cap_describe(c, rec.original.table, &now, err);
    if (rc == DM_OK)
        rc = cap_plan_restore(&rec.original, &now, &p, err);
    cap_state_cleanup(&now);
    if (rc == DM_OK)
        rc = cap_record_set_status(&rec, w, "restoring", err);
    cap_record_clear_pending(&rec);
    for (int i = 0; rc == DM_OK && i < p->n_steps; i++) {
        const cap_step *st = &p->steps[i];
        dm_error e = {0};
        int src = apply_step(c, p, st, &e);
        if (src == DM_OK) {
            if (st->kind == CAP_STEP_BILLING && st->on_demand)
                cap_record_add_switch(&rec, dm_now_ms());
            continue;
        }
        if (!limit_refusal(&e)) {
            *err = e;
            rc = src;
            break;
        }
        /* DynamoDB's limits: recorded, and the other steps still go. */
        char what[400];
        cap_step_describe(p, st, what, sizeof what);
        if ((rc = cap_record_add_pending(&rec, what, possible_at(c, p, st, &rec), e.message, err)) != DM_OK)
            break;
    }
    for (int i = 0; rc == DM_OK && notices(c) && p && i < p->n_notes; i++)
        fprintf(notices(c), "ddbmig: note: %s\n", p->notes[i]);
    if (rc == DM_OK) {
        *out = rec.n_pending ? CAP_PENDING : CAP_DONE;
        rc = cap_record_set_status(&rec, w, rec.n_pending ? "pending" : "restored", err);
    } else {
        /* Left as it was for the next restore; the error says why. */
        dm_error e2 = {0};
        cap_record_set_status(&rec, w, "pending", &e2);
    }
    if (rc == DM_OK && *out == CAP_PENDING && notices(c))
        cap_record_print_pending(&rec, notices(c));
    cap_plan_free(p);
    cap_record_cleanup(&rec);
    cap_record_unlock(lock);
    return rc;
}

void cap_record_path(const char *given, char *out, size_t size)
{
    size_t n = strlen(given);
    const char *suffix = ".capacity.json";
    if (n >= strlen(suffix) && strcmp(given + n - strlen(suffix), suffix) == 0)
        dm_strlcpy(out, given, size);
    else
        snprintf(out, size, "%s%s", given, suffix);
}

/* ---- printing ---- */

static void print_scaling(const char *dim, const cap_scaling *sc, FILE *f)
{
    if (!sc->present)
        return;
    fprintf(f, "    auto scaling %s: %lld..%lld, %d polic%s%s%s%s\n", dim, sc->min, sc->max, sc->n_policies,
            sc->n_policies == 1 ? "y" : "ies", sc->in_suspended ? ", scale-in suspended" : "",
            sc->out_suspended ? ", scale-out suspended" : "", sc->scheduled_suspended ? ", scheduled suspended" : "");
}

static void print_time(const char *label, int64_t ms, FILE *f)
{
    char iso[21];
    if (!ms)
        return;
    dm_format_iso8601(ms, iso);
    fprintf(f, "    %s %s\n", label, iso);
}

void cap_state_print(const cap_state *s, FILE *f)
{
    bool od = strcmp(s->billing_mode, "PAY_PER_REQUEST") == 0;
    fprintf(f, "Table %s: %s (%s), ~%lld items\n", s->table, od ? "on-demand" : "provisioned", s->billing_mode,
            s->item_count);
    if (s->last_to_on_demand_ms) {
        char iso[21];
        dm_format_iso8601(s->last_to_on_demand_ms, iso);
        fprintf(f, "  last switch to on-demand: %s\n", iso);
    }
    for (int i = 0; i < s->n; i++) {
        const cap_resource *r = &s->res[i];
        fprintf(f, "  %s%s [%s]\n", r->index[0] ? "index " : "table", r->index, r->status);
        if (!od)
            fprintf(f, "    provisioned: %lld read, %lld write units\n", r->read, r->write);
        if (od)
            fprintf(f, "    on-demand maximum: %s%lld read, %lld write request units\n",
                    r->od_max_read < 0 && r->od_max_write < 0 ? "none (" : "", r->od_max_read, r->od_max_write);
        if (s->warm_reported)
            fprintf(f, "    warm throughput: %lld read, %lld write units per second [%s]\n", r->warm_read,
                    r->warm_write, r->warm_status[0] ? r->warm_status : "?");
        fprintf(f, "    decreases today: %d\n", r->decreases_today);
        print_time("last decrease:", r->last_decrease_ms, f);
        print_time("last increase:", r->last_increase_ms, f);
        print_scaling("read", &r->read_scaling, f);
        print_scaling("write", &r->write_scaling, f);
    }
    if (!s->warm_reported)
        fprintf(f, "  warm throughput: not reported by this endpoint\n");
    if (!s->scaling_known)
        fprintf(f, "  auto scaling: not checked: %s\n", s->scaling_note);
}

void cap_plan_print(const cap_plan *p, const char *indent, FILE *f)
{
    fprintf(f, "%sprewarm    %s, to %lld read and %lld write units per second\n", indent, cap_method_name(p->method),
            p->read, p->write);
    if (p->n_steps == 0)
        fprintf(f, "%s           nothing to change: the table is already there\n", indent);
    for (int i = 0; i < p->n_steps; i++) {
        char what[400];
        cap_step_describe(p, &p->steps[i], what, sizeof what);
        fprintf(f, "%s           %s\n", indent, what);
    }
    for (int i = 0; i < p->n_notes; i++)
        fprintf(f, "%s           %s\n", indent, p->notes[i]);
    if (p->n_steps)
        fprintf(f, "%s           the original settings are recorded first and restored after the run\n", indent);
}

bool cap_plan_empty(const cap_plan *p) { return p->n_steps == 0; }
bool cap_plan_charged(const cap_plan *p) { return p->warm_read_added > 0 || p->warm_write_added > 0; }
cap_method cap_plan_method(const cap_plan *p) { return p->method; }

void cap_plan_ceiling(const cap_plan *p, double *read, double *write)
{
    *read = p->ceiling_read;
    *write = p->ceiling_write;
}
