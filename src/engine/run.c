/* engine_run: checks everything that can be checked before a write, then
 * runs the workers and the monitor, and reports. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crypto.h"
#include "engine_impl.h"

static void key_names(const ddb_table_desc *d, const char **keys, size_t *n)
{
    keys[0] = d->hash.name;
    keys[1] = d->range.name;
    *n = d->has_range ? 2 : 1;
}

static int describe(ddb_client *c, const char *table, ddb_table_desc *d, dm_error *err)
{
    int rc = ddb_describe_table(c, table, d, err);
    if (rc && err && strcmp(err->type, "ResourceNotFoundException") == 0) {
        char type[sizeof err->type];
        dm_strlcpy(type, err->type, sizeof type);
        dm_error_set(err, rc, "table '%s' does not exist in %s (ResourceNotFoundException)", table,
                     ddb_client_region(c));
        dm_strlcpy(err->type, type, sizeof err->type);
    }
    return rc;
}

static int hash_script(run_state *r, dm_error *err)
{
    const engine_options *o = r->o;
    dm_buf text;
    dm_buf_init(&text, 16 << 20);
    int rc = o->script_path ? dm_read_file(o->script_path, &text, err) : dm_buf_puts(&text, o->code ? o->code : "");
    if (rc == DM_OK)
        dm_sha256_hex(text.data ? text.data : "", text.len, r->script_hash);
    dm_buf_cleanup(&text);
    if (rc)
        return err ? (err->code = DM_ERR_CONFIG) : DM_ERR_CONFIG;
    if (o->migration_id)
        dm_strlcpy(r->migration, o->migration_id, sizeof r->migration);
    else
        snprintf(r->migration, sizeof r->migration, "m-%.12s", r->script_hash);
    return DM_OK;
}

static int check_script(run_state *r, dm_error *err)
{
    lua_host_options lo = {.script_path = r->o->script_path, .code = r->o->code, .now = r->now,
                           .migration = r->migration, .table = r->o->table};
    lua_host *h = NULL;
    int rc = lua_host_new(&lo, &h, err);
    dm_error probe = {0};
    /* Many scripts assume their attributes exist; failing on an empty item
     * is worth knowing before the run, not a reason to refuse it. */
    if (rc == DM_OK && lua_host_probe(h, &probe) != DM_OK && !r->o->quiet)
        fprintf(stderr, "ddbmig: warning: %s\n", probe.message);
    lua_host_free(h);
    return rc;
}

static int paths(run_state *r, dm_error *err)
{
    const engine_options *o = r->o;
    bool need_dir = !o->checkpoint_path || !o->errors_path;
    if (need_dir && mkdir(".ddbmig", 0755) != 0 && errno != EEXIST)
        return dm_error_set(err, DM_ERR_CONFIG, "cannot create .ddbmig/ for the checkpoint: %s", strerror(errno));
    if (o->checkpoint_path)
        dm_strlcpy(r->checkpoint_path, o->checkpoint_path, sizeof r->checkpoint_path);
    else
        snprintf(r->checkpoint_path, sizeof r->checkpoint_path, ".ddbmig/%s-%s.json", o->table, r->migration);
    if (o->errors_path)
        dm_strlcpy(r->errors_path, o->errors_path, sizeof r->errors_path);
    else
        snprintf(r->errors_path, sizeof r->errors_path, ".ddbmig/%s-%s.errors.jsonl", o->table, r->migration);
    return DM_OK;
}

int engine_default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    n = n > 0 ? n * 2 : 4;
    return (int)(n < 2 ? 2 : n > 64 ? 64 : n);
}

static int setup_segments(run_state *r, dm_error *err)
{
    const engine_options *o = r->o;
    bool found = false;
    if (!o->dry_run && o->job != ENGINE_VERIFY) {
        int rc = checkpoint_load(r, &found, err);
        if (rc)
            return rc;
        if (found && !o->resume)
            return dm_error_set(err, DM_ERR_CONFIG,
                                "checkpoint %s holds an unfinished run of this migration; add --resume to continue "
                                "it, or remove the file to start over",
                                r->checkpoint_path);
        if (!found && o->resume)
            return dm_error_set(err, DM_ERR_CONFIG, "--resume: no unfinished run in %s", r->checkpoint_path);
        if (found && o->total_segments > 0 && o->total_segments != r->n_segs)
            return dm_error_set(err, DM_ERR_CONFIG, "the checkpoint has %d segments, not %d", r->n_segs,
                                o->total_segments);
    }
    if (found) {
        for (int i = 0; i < r->n_segs; i++)
            r->resumed_scanned += r->segs[i].scanned;
        return DM_OK;
    }
    long long want = o->total_segments;
    if (want <= 0) {
        long long by_size = (long long)(r->desc.size_bytes >> 30) + 1;
        want = 4LL * o->workers;
        if (by_size > want)
            want = by_size;
    }
    if (want < 1 || want > 1000000)
        return dm_error_set(err, DM_ERR_CONFIG, "--total-segments must be from 1 to 1000000");
    r->n_segs = (int)want;
    r->segs = calloc((size_t)r->n_segs, sizeof *r->segs);
    if (!r->segs)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < r->n_segs; i++)
        r->segs[i].index = i;
    return DM_OK;
}

static void setup_rates(run_state *r)
{
    const engine_options *o = r->o;
    const ddb_table_desc *w = r->target != o->table ? &r->target_desc : &r->desc;
    bool src_prov = strcmp(r->desc.billing_mode, "PROVISIONED") == 0;
    bool dst_prov = strcmp(w->billing_mode, "PROVISIONED") == 0;
    double rcap = o->max_read_units > 0 ? o->max_read_units : (src_prov ? 0.8 * (double)r->desc.read_units : 0);
    double wcap = o->max_write_units > 0 ? o->max_write_units : (dst_prov ? 0.8 * (double)w->write_units : 0);
    rl_init(&r->rl_read, rcap, NULL);
    rl_init(&r->rl_write, wcap, NULL);
    r->rl_read.name = "read";
    r->rl_write.name = "write";
    r->scan_estimate = o->page_size > 0 ? 1 : 128; /* a full 1 MB page, eventually consistent */
}

/* The client's throttle hook. Capacity throttles, and throttles without a
 * reason (the limiter learns which of those its rate causes), go to the
 * table's limiter for the units they name, and the retry waits for its
 * tokens like a new call. A hot key range is left to the retries' backoff:
 * slowing every segment would not cool one partition. The worker can slow
 * only the requests that hit it: call->user is the worker's task (NULL for
 * a Scan), which knows its segment; a per-segment ratelimit fed with these
 * throttles and acquired besides the table's would do it. */
static int64_t on_throttle(void *ud, const ddb_call *call, ddb_throttle t)
{
    run_state *r = ud;
    (void)call;
    if (t.cls == DDB_THROTTLE_KEY_RANGE)
        return 0;
    ratelimit *rl = t.write ? &r->rl_write : &r->rl_read;
    rl_throttled(rl);
    return rl_retry(rl, 1);
}

static int prepare(run_state *r, ddb_client *c, dm_error *err)
{
    const engine_options *o = r->o;
    int rc = describe(c, o->table, &r->desc, err);
    if (rc)
        return rc;
    key_names(&r->desc, r->keys, &r->n_keys);
    r->target = o->table;
    if (o->target_table && strcmp(o->target_table, o->table) != 0) {
        if ((rc = describe(c, o->target_table, &r->target_desc, err)) != DM_OK)
            return rc;
        r->target = o->target_table;
        key_names(&r->target_desc, r->target_keys, &r->n_target_keys);
    } else {
        key_names(&r->desc, r->target_keys, &r->n_target_keys);
    }
    r->mode = o->write_mode_set ? o->write_mode : (r->target != o->table ? ENGINE_WRITE_BATCH : ENGINE_WRITE_UPDATE);
    if (r->target != o->table && r->mode == ENGINE_WRITE_UPDATE)
        return dm_error_set(err, DM_ERR_CONFIG, "--write-mode update writes back to the source table; "
                                                "use put or batch with --target-table-name");
    dm_format_iso8601(dm_now_ms(), r->now);
    if ((rc = hash_script(r, err)) || (rc = check_script(r, err)) || (rc = paths(r, err)) ||
        (rc = setup_segments(r, err)))
        return rc;
    setup_rates(r);
    return DM_OK;
}

static engine_status finish_status(run_state *r, dm_error *err)
{
    stop_reason why = (stop_reason)atomic_load(&r->stop);
    if (why == STOP_INTERRUPT)
        return ENGINE_INTERRUPTED;
    if (why == STOP_MAX_ERRORS || why == STOP_FATAL) {
        if (err)
            *err = r->fatal;
        return ENGINE_STOPPED;
    }
    if (r->o->job == ENGINE_VERIFY)
        return atomic_load(&r->c.changed) + atomic_load(&r->c.deleted) > 0 ? ENGINE_ITEM_ERRORS : ENGINE_DONE;
    return atomic_load(&r->c.failed) > 0 ? ENGINE_ITEM_ERRORS : ENGINE_DONE;
}

static void free_run(run_state *r)
{
    for (int i = 0; i < r->n_segs && r->segs; i++)
        free(r->segs[i].last_key);
    free(r->segs);
    if (r->errors)
        fclose(r->errors);
    ddb_table_desc_cleanup(&r->desc);
    ddb_table_desc_cleanup(&r->target_desc);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* Watches the caller's stop flag (set by a signal handler). */
static void *signal_watch(void *arg)
{
    run_state *r = arg;
    while (!atomic_load(&r->finished)) {
        if (r->o->stop && *r->o->stop)
            engine_request_stop(r, STOP_INTERRUPT, NULL);
        dm_sleep_ms(50);
    }
    return NULL;
}

static void run_workers(run_state *r)
{
    int n = r->o->workers;
    pthread_t *t = calloc((size_t)n, sizeof *t);
    pthread_t mon, sig;
    r->start_ms = dm_monotonic_ms();
    pthread_create(&mon, NULL, monitor_main, r);
    pthread_create(&sig, NULL, signal_watch, r);
    int started = 0;
    for (int i = 0; t && i < n; i++)
        if (pthread_create(&t[i], NULL, worker_main, r) == 0)
            started++;
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    atomic_store(&r->finished, 1);
    pthread_join(mon, NULL);
    pthread_join(sig, NULL);
    free(t);
}

engine_status engine_run(const engine_options *opts, ddb_shared *shared, ddb_client *c, dm_error *err)
{
    engine_options o = *opts;
    if (o.workers <= 0)
        o.workers = engine_default_workers();
    run_state *r = calloc(1, sizeof *r);
    if (!r) {
        dm_error_set(err, DM_ERR_NOMEM, "out of memory");
        return ENGINE_CONFIG;
    }
    pthread_mutex_init(&r->mu, NULL);
    r->o = &o;
    r->shared = shared;
    bool dry = o.dry_run || o.job == ENGINE_VERIFY;
    int rc = prepare(r, c, err);
    if (rc == DM_OK && !dry)
        rc = plan_and_confirm(r, c, err);
    if (rc == DM_OK && !dry)
        rc = checkpoint_save(r, "running", err); /* fails early when it cannot be written */
    if (rc != DM_OK) {
        if (err && err->code == DM_OK)
            err->code = rc;
        free_run(r);
        return ENGINE_CONFIG; /* nothing was written; err->code says why */
    }
    ddb_shared_on_throttle(shared, on_throttle, r);
    run_workers(r);
    ddb_shared_on_throttle(shared, NULL, NULL);
    engine_status st = finish_status(r, err);
    if (!dry) {
        stop_reason why = (stop_reason)atomic_load(&r->stop);
        const char *cp = r->segs_done == r->n_segs ? "complete" : why == STOP_LIMIT ? "limited" : "stopped";
        dm_error cerr;
        if (checkpoint_save(r, cp, &cerr) != DM_OK)
            dm_log(DM_LOG_ERROR, "%s", cerr.message);
    }
    progress_final(r, st);
    if ((st == ENGINE_STOPPED || st == ENGINE_INTERRUPTED) && !dry) {
        if (r->fatal.message[0])
            fprintf(stderr, "ddbmig: stopped: %s\n", r->fatal.message);
        fprintf(stderr, "ddbmig: progress is saved in %s\n", r->checkpoint_path);
        if (o.resume_command)
            fprintf(stderr, "ddbmig: resume with: %s\n", o.resume_command);
    }
    rl_destroy(&r->rl_read);
    rl_destroy(&r->rl_write);
    free_run(r);
    return st;
}
