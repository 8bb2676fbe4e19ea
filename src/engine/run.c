/* engine_run: checks everything that can be checked before a write, then
 * runs the workers and the monitor, and reports. */
#include <errno.h>
#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/crypto.h"
#include "ctable.h"
#include "doneset.h"
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

/* Reads the script once: the checkpoint's hash and every worker's host
 * see the same bytes, whatever happens to the file during the run. */
static int hash_script(run_state *r, dm_error *err)
{
    const engine_options *o = r->o;
    dm_buf_init(&r->script, 16 << 20);
    int rc = o->script_path ? dm_read_file(o->script_path, &r->script, err) : dm_buf_puts(&r->script, o->code ? o->code : "");
    if (rc)
        return err ? (err->code = DM_ERR_CONFIG) : DM_ERR_CONFIG;
    dm_sha256_hex(dm_buf_cstr(&r->script), r->script.len, r->script_hash);
    if (o->migration_id)
        dm_strlcpy(r->migration, o->migration_id, sizeof r->migration);
    else
        snprintf(r->migration, sizeof r->migration, "m-%.12s", r->script_hash);
    return DM_OK;
}

void engine_migration_id(const char *script, size_t len, char out[80])
{
    char hash[65];
    dm_sha256_hex(script, len, hash);
    snprintf(out, 80, "m-%.12s", hash);
}

static int check_script(run_state *r, dm_error *err)
{
    r->lua = (lua_host_options){.script = dm_buf_cstr(&r->script), .script_len = r->script.len,
                                .chunk_name = r->o->script_path ? r->o->script_path : "-e",
                                .one_liner = !r->o->script_path, .now = r->now, .migration = r->migration,
                                .table = r->o->table, .stop = r->o->stop};
    lua_host *h = NULL;
    int rc = lua_host_new(&r->lua, &h, err);
    dm_error probe = {0};
    /* Many scripts assume their attributes exist; failing on an empty item
     * is worth knowing before the run, not a reason to refuse it. */
    int prc = rc == DM_OK ? lua_host_probe(h, &probe) : DM_OK;
    if (prc == DM_ERR_STOPPED) {
        if (err)
            *err = probe;
        rc = prc;
    } else if (prc != DM_OK && !r->o->quiet) {
        fprintf(stderr, "ddbmig: warning: %s\n", probe.message);
    }
    lua_host_free(h);
    return rc;
}

/* --expression-attribute-names/-values go into every Scan request as they
 * are, so each must be exactly one JSON object of the right shape: names
 * map to strings, values to DynamoDB attribute values (objects). */
static int check_expression_json(const char *text, const char *option, bool values, dm_error *err)
{
    json_error_t je;
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return dm_error_set(err, DM_ERR_CONFIG, "--%s is not valid JSON: %s (column %d)", option, je.text, je.column);
    int rc = DM_OK;
    const char *key;
    json_t *v;
    if (!json_is_object(doc) || json_object_size(doc) == 0)
        rc = dm_error_set(err, DM_ERR_CONFIG, "--%s must be a JSON object such as %s", option,
                          values ? "{\":v\": {\"S\": \"text\"}}" : "{\"#n\": \"name\"}");
    json_object_foreach(doc, key, v) {
        if (rc == DM_OK && (values ? !json_is_object(v) : !json_is_string(v)))
            rc = dm_error_set(err, DM_ERR_CONFIG, "--%s: the value of \"%.100s\" must be %s", option, key,
                              values ? "an attribute value such as {\"S\": \"text\"}" : "a string");
    }
    json_decref(doc);
    return rc;
}

/* What can be checked without a request, before the first one. */
static int check_options(const engine_options *o, dm_error *err)
{
    if ((o->names_json || o->values_json) && !o->filter_expression)
        return dm_error_set(err, DM_ERR_CONFIG, "--expression-attribute-names/-values go with --filter-expression");
    int rc = DM_OK;
    if (o->names_json)
        rc = check_expression_json(o->names_json, "expression-attribute-names", false, err);
    if (rc == DM_OK && o->values_json)
        rc = check_expression_json(o->values_json, "expression-attribute-values", true, err);
    return rc;
}

/* One Scan of at most one item with the run's filter: DynamoDB checks the
 * expression's syntax and that its names and values are defined and used,
 * so a mistake ends here as a usage error instead of stopping the run
 * after its checkpoint exists. */
static int check_filter(run_state *r, ddb_client *c, dm_error *err)
{
    const engine_options *o = r->o;
    if (!o->filter_expression)
        return DM_OK;
    ddb_call call;
    ddb_call_init(&call, "Scan", o->table);
    ddb_scan_params p = {.table = o->table, .filter_expression = o->filter_expression,
                         .names_json = o->names_json, .values_json = o->values_json, .limit = 1};
    int rc = ddb_scan_body(&p, &call.body);
    if (rc == DM_OK)
        rc = ddb_client_run(c, &call);
    if (rc != DM_OK && err) {
        *err = call.err;
        if (strcmp(call.err.type, "ValidationException") == 0) {
            const char *m = call.err.message;
            const char *option = strstr(m, "ExpressionAttributeValues") || strstr(m, "attribute value")
                                     ? "--expression-attribute-values"
                                 : strstr(m, "ExpressionAttributeNames") || strstr(m, "attribute name")
                                     ? "--expression-attribute-names"
                                     : "--filter-expression";
            char text[sizeof err->message];
            dm_strlcpy(text, m, sizeof text);
            dm_error_set(err, DM_ERR_CONFIG, "%s is refused by DynamoDB: %s", option, text);
        } else if (!err->message[0]) {
            dm_error_set(err, rc, "checking --filter-expression: %s", dm_err_str(rc));
        }
    }
    ddb_call_cleanup(&call);
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

/* One run per checkpoint at a time: a second process with the same
 * migration would write the same items and the same file. The lock goes
 * with the process, kill -9 included. */
static int lock_checkpoint(run_state *r, dm_error *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s.lock", r->checkpoint_path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return dm_error_set(err, DM_ERR_CONFIG, "cannot write the checkpoint's lock %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        return dm_error_set(err, DM_ERR_CONFIG, "checkpoint %s is in use by another ddbmig run%s%s", r->checkpoint_path,
                            pid[0] ? " (pid " : "", pid[0] ? strcat(pid, ")") : "");
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) < 0)
        dm_log(DM_LOG_DEBUG, "could not note the pid in %s", path);
    r->lock_fd = fd;
    return DM_OK;
}

int engine_default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    n = n > 0 ? n * 2 : 4;
    return (int)(n < 2 ? 2 : n > 64 ? 64 : n);
}

/* A new run, or the continuation of the one in the checkpoint: a stopped
 * run needs --resume; a run cut short by --limit goes on by itself, so
 * that the same command twice takes the next items, never the same ones. */
/* Four per worker, and one per GB at least. */
static int default_segments(const run_state *r)
{
    long long by_size = (long long)(r->desc.size_bytes >> 30) + 1, want = 4LL * r->o->workers;
    want = by_size > want ? by_size : want;
    return want > 1000000 ? 1000000 : (int)want;
}

/* --segments, against the run's segment count. */
static int setup_seg_list(run_state *r, dm_error *err)
{
    if (!r->o->segments)
        return DM_OK;
    return seglist_parse(r->o->segments, r->n_segs, &r->seg_list, &r->n_seg_list, err);
}

static int setup_segments(run_state *r, ddb_client *c, bool *continuing, dm_error *err)
{
    const engine_options *o = r->o;
    bool found = false, limited = false;
    *continuing = false;
    if (o->checkpoint_table && !o->dry_run && o->job != ENGINE_VERIFY) {
        if (o->total_segments > 0)
            r->n_segs = o->total_segments; /* for a new migration's meta item */
        else
            r->n_segs = default_segments(r);
        int rc = ctable_open(r, c, err);
        *continuing = true; /* others' errors file lines stay */
        rc = rc ? rc : setup_seg_list(r, err);
        return rc ? rc : ctable_check(r, c, err);
    }
    if (!o->dry_run && o->job != ENGINE_VERIFY) {
        int rc = checkpoint_load(r, &found, &limited, err);
        if (rc)
            return rc;
        if (found && !o->resume && !limited)
            return dm_error_set(err, DM_ERR_CONFIG,
                                "checkpoint %s holds an unfinished run of this migration; add --resume to continue "
                                "it, or remove the file to start over",
                                r->checkpoint_path);
        if (!found && o->resume)
            return dm_error_set(err, DM_ERR_CONFIG, "--resume: no unfinished run in %s", r->checkpoint_path);
    }
    if (found) {
        r->continued = true;
        for (int i = 0; i < r->n_segs; i++)
            r->resumed_scanned += r->segs[i].scanned;
        if (limited && !o->quiet)
            fprintf(stderr, "ddbmig: continuing after the %lld items of the earlier --limit run (%s)\n",
                    r->resumed_scanned, r->checkpoint_path);
        *continuing = true;
        return setup_seg_list(r, err);
    }
    long long want = o->total_segments > 0 ? o->total_segments : default_segments(r);
    if (want < 1 || want > 1000000)
        return dm_error_set(err, DM_ERR_CONFIG, "--total-segments must be from 1 to 1000000");
    r->n_segs = (int)want;
    r->segs = calloc((size_t)r->n_segs, sizeof *r->segs);
    if (!r->segs)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < r->n_segs; i++)
        r->segs[i].index = i;
    return setup_seg_list(r, err);
}

static bool same_name(const char *a, const char *b) { return strlen(a) == strlen(b) && strcmp(a, b) == 0; }

/* What the workers decide by (wplan.h), checked against the tables. */
static int setup_rules(run_state *r, dm_error *err)
{
    const engine_options *o = r->o;
    const char *v = o->version_attribute, *m = o->marker;
    for (size_t k = 0; k < r->n_target_keys; k++) {
        if (v && same_name(v, r->target_keys[k]))
            return dm_error_set(err, DM_ERR_CONFIG, "--version-attribute %s is a key attribute of the table", v);
        if (m && same_name(m, r->target_keys[k]))
            return dm_error_set(err, DM_ERR_CONFIG, "--marker %s is a key attribute of the table", m);
    }
    if (v && m && same_name(v, m))
        return dm_error_set(err, DM_ERR_CONFIG, "--marker and --version-attribute name the same attribute");
    if ((v && !*v) || (m && !*m))
        return dm_error_set(err, DM_ERR_CONFIG, "%s needs an attribute name", v && !*v ? "--version-attribute"
                                                                                       : "--marker");
    const ddb_table_desc *wd = r->target != o->table ? &r->target_desc : &r->desc;
    int rc = ddb_table_key_schema(wd, &r->schema, err);
    if (rc)
        return rc;
    r->rules = (wplan_rules){.keys = r->target_keys, .n_keys = r->n_target_keys, .schema = &r->schema,
                             .marker = m, .migration = r->migration, .version_attr = v, .mode = r->mode,
                             .copy = r->target != o->table};
    return DM_OK;
}

/* Dry runs and verify keep their errors apart from a real run's. */
static int open_errors(run_state *r, bool continuing, dm_error *err)
{
    const engine_options *o = r->o;
    bool dry = o->dry_run || o->job == ENGINE_VERIFY;
    if (dry && !o->errors_path) {
        size_t n = strlen(r->errors_path);
        if (n > 6 && n + 9 < sizeof r->errors_path && strcmp(r->errors_path + n - 6, ".jsonl") == 0)
            strcpy(r->errors_path + n - 6, ".dry-run.jsonl");
    }
    int rc = errlog_open(&r->errors, r->errors_path, continuing, err);
    r->errors_open = rc == DM_OK;
    return rc;
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
    /* A full 1 MB page, eventually consistent, unless the table is too
     * small to fill one per segment: reserving 128 units per page on a
     * small provisioned table would wait for capacity it never uses. */
    double per_seg = ceil((double)r->desc.size_bytes / 4096.0 / 2.0 / (r->n_segs > 0 ? r->n_segs : 1)) + 1;
    r->scan_estimate = o->page_size > 0 ? 1 : per_seg < 128 ? per_seg : 128;
}

/* The client's throttle hook: engine_throttled (worker.c) decides. */
static int64_t on_throttle(void *ud, const ddb_call *call, ddb_throttle t) { return engine_throttled(ud, call, t); }

static int prepare(run_state *r, ddb_client *c, dm_error *err)
{
    const engine_options *o = r->o;
    int rc = describe(c, o->table, &r->desc, err);
    if (rc)
        return rc;
    key_names(&r->desc, r->keys, &r->n_keys);
    r->key_types[0] = r->desc.hash.type;
    r->key_types[1] = r->desc.range.type;
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
    bool continuing = false;
    bool dry = o->dry_run || o->job == ENGINE_VERIFY;
    if ((rc = hash_script(r, err)) || (rc = check_script(r, err)) || (rc = check_filter(r, c, err)) ||
        (rc = paths(r, err)) || (!dry && !o->checkpoint_table && (rc = lock_checkpoint(r, err))) ||
        (rc = setup_segments(r, c, &continuing, err)) || (rc = setup_rules(r, err)) ||
        (rc = open_errors(r, continuing, err)))
        return rc;
    setup_rates(r);
    return DM_OK;
}

static engine_status finish_status(run_state *r, dm_error *err)
{
    stop_reason why = (stop_reason)atomic_load(&r->stop);
    engine_result res;
    progress_result(r, &res);
    /* An interrupt or the deadline that came once every segment was done
     * stopped nothing: the run is whole, and there is nothing to resume. */
    if ((why == STOP_INTERRUPT || why == STOP_DEADLINE) && res.done)
        why = STOP_NONE;
    if (why == STOP_INTERRUPT)
        return ENGINE_INTERRUPTED;
    if (why == STOP_DEADLINE) {
        if (err)
            dm_error_set(err, DM_ERR_STOPPED, "stopped before the deadline; the cursors are saved");
        return ENGINE_STOPPED;
    }
    if (why == STOP_MAX_ERRORS || why == STOP_FATAL) {
        if (err)
            *err = r->fatal;
        return ENGINE_STOPPED;
    }
    if (r->o->job == ENGINE_VERIFY)
        return atomic_load(&r->c.changed) + atomic_load(&r->c.deleted) > 0 ? ENGINE_ITEM_ERRORS : ENGINE_DONE;
    /* With a checkpoint table, a segment this process could not take (its
     * owner still renewing at the deadline, say) is not done: said so. */
    if (r->ct && !res.done && why != STOP_LIMIT) {
        if (err)
            dm_error_set(err, DM_ERR_STOPPED, "%d of %d segments are not done yet (other processes hold them)",
                         res.segments - res.segments_done, res.segments);
        return ENGINE_STOPPED;
    }
    return atomic_load(&r->c.failed) > 0 ? ENGINE_ITEM_ERRORS : ENGINE_DONE;
}

static void free_run(run_state *r)
{
    for (int i = 0; i < r->n_segs && r->segs; i++) {
        free(r->segs[i].last_key);
        doneset_free(r->segs[i].done);
        doneset_free(r->segs[i].doubt);
    }
    free(r->segs);
    free(r->seg_list);
    ctable_free(r->ct);
    free(r->loops);
    if (r->errors_open)
        errlog_close(&r->errors);
    if (r->lock_fd > 0)
        close(r->lock_fd);
    ddb_table_desc_cleanup(&r->desc);
    ddb_table_desc_cleanup(&r->target_desc);
    dm_buf_cleanup(&r->script);
    free(r->threads);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->waits.mu);
    pthread_mutex_destroy(&r->end_mu);
    pthread_cond_destroy(&r->end_cv);
    free(r);
}

/* Watches the caller's stop flag (set by a signal handler). */
static void *signal_watch(void *arg)
{
    run_state *r = arg;
    while (!engine_wait_finished(r, 50)) {
        if (r->o->stop && *r->o->stop)
            engine_request_stop(r, STOP_INTERRUPT, NULL);
    }
    return NULL;
}

bool engine_wait_finished(run_state *r, int64_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->end_mu);
    while (!atomic_load(&r->finished) && pthread_cond_timedwait(&r->end_cv, &r->end_mu, &until) == 0) {
    }
    bool done = atomic_load(&r->finished);
    pthread_mutex_unlock(&r->end_mu);
    return done;
}

int64_t engine_deadline_margin_ms(int64_t left_ms, int64_t configured_ms)
{
    if (configured_ms > 0)
        return configured_ms;
    int64_t m = left_ms / 10;
    return m < 2000 ? 2000 : m > 30000 ? 30000 : m;
}

/* From the deadline: workers start no work after deadline - margin, the
 * client gives up a retry that would wait past deadline - margin/2, and
 * the final save of the cursors has what is left. Set before the checks
 * before the first write, so that they are bounded too. */
static void setup_deadline(run_state *r)
{
    const engine_options *o = r->o;
    if (o->deadline_ms <= 0)
        return;
    int64_t left = o->deadline_ms - dm_now_ms(), margin = engine_deadline_margin_ms(left, o->deadline_margin_ms);
    int64_t now = dm_monotonic_ms();
    r->deadline_mono = now + (left - margin > 0 ? left - margin : 0);
    r->deadline_end = now + (left > 0 ? left : 0);
    /* Sent attempts end with the retries, at half the margin: the other
     * half is the final save's, which a checkpoint table under throttling
     * needs (a save given up makes the next owner redo the segment from
     * its cursor before). A write still unanswered then is recorded as in
     * doubt and settled by the resume. */
    int64_t retry_until = now + (left - margin / 2 > 0 ? left - margin / 2 : 0);
    int64_t attempts_until = retry_until;
    ddb_shared_set_deadline(r->shared, retry_until, attempts_until);
}

static void run_workers(run_state *r)
{
    pthread_t mon, sig;
    r->start_ms = dm_monotonic_ms();
    engine_pool_begin(r);
    pthread_create(&mon, NULL, monitor_main, r);
    pthread_create(&sig, NULL, signal_watch, r);
    for (int i = 0; i < r->o->workers; i++)
        engine_add_worker(r);
    /* Workers the monitor adds meanwhile are joined too. */
    for (int i = 0;; i++) {
        pthread_mutex_lock(&r->mu);
        bool more = i < r->n_threads;
        pthread_t t = more ? r->threads[i] : 0;
        if (!more)
            r->pool_closed = true;
        pthread_mutex_unlock(&r->mu);
        if (!more)
            break;
        pthread_join(t, NULL);
    }
    pthread_mutex_lock(&r->end_mu);
    atomic_store(&r->finished, 1);
    pthread_cond_broadcast(&r->end_cv);
    pthread_mutex_unlock(&r->end_mu);
    pthread_join(mon, NULL);
    pthread_join(sig, NULL);
}

static bool stop_requested(const engine_options *o) { return o->stop && *o->stop; }

/* The caller's work before the first write; its ceilings replace the
 * limits taken from the table before it was raised. */
static int before_writes(run_state *r, dm_error *err)
{
    const engine_options *o = r->o;
    double rc_read = 0, rc_write = 0;
    int rc = o->before_writes(o->hook_ud, r->checkpoint_path, &rc_read, &rc_write, err);
    if (rc)
        return rc;
    if (o->max_read_units <= 0 && rc_read > 0) {
        rl_destroy(&r->rl_read);
        rl_init(&r->rl_read, rc_read, NULL);
        r->rl_read.name = "read";
    }
    if (o->max_write_units <= 0 && rc_write > 0) {
        rl_destroy(&r->rl_write);
        rl_init(&r->rl_write, rc_write, NULL);
        r->rl_write.name = "write";
    }
    return DM_OK;
}

/* Everything before the first write, each request given up as soon as the
 * caller asks to stop. The checkpoint is written last, and taken back if
 * a stop came while it was being written, unless it is a resumed run's. */
static int preflight(run_state *r, ddb_client *c, bool dry, dm_error *err)
{
    const engine_options *o = r->o;
    volatile sig_atomic_t *was = ddb_client_set_stop(c, o->stop);
    int rc = prepare(r, c, err);
    if (rc == DM_OK && !dry)
        rc = plan_and_confirm(r, c, err);
    ddb_client_set_stop(c, was);
    if (rc == DM_OK && stop_requested(o))
        rc = DM_ERR_STOPPED;
    if (rc == DM_OK && !dry && r->ct)
        rc = ctable_commit(r, c, err);
    if (rc == DM_OK && !dry && !r->ct) {
        rc = checkpoint_save(r, "running", err); /* fails early when it cannot be written */
        r->saved_first = rc == DM_OK;
        /* A new run's file goes with it; one it continues stays. */
        if (rc == DM_OK && stop_requested(o)) {
            if (!r->continued) {
                unlink(r->checkpoint_path);
                r->saved_first = false;
            }
            rc = DM_ERR_STOPPED;
        }
    }
    if (rc == DM_OK && !dry && o->before_writes)
        rc = before_writes(r, err);
    return rc;
}

/* The time limit came during the checks before the first write (a slow
 * or throttled endpoint): a stop at the deadline like any other (exit 3;
 * for Lambda, "not done yet"), with nothing written, its summary all
 * zeros and not done. Frees r. */
static engine_status stopped_in_checks(run_state *r, dm_error *err)
{
    const engine_options *o = r->o;
    bool resume = r->saved_first && o->resume_command && !o->resume;
    if (err)
        dm_error_set(err, DM_ERR_STOPPED, "the time limit came during the checks before the first write; nothing "
                                          "was written; run %s again", resume ? "it with --resume" : "the same command");
    if (!o->quiet && err)
        fprintf(stderr, "ddbmig: %s\n", err->message);
    if (resume && !o->quiet)
        fprintf(stderr, "ddbmig: resume with: %s\n", o->resume_command);
    atomic_store(&r->stop, STOP_DEADLINE);
    r->start_ms = dm_monotonic_ms();
    if (!r->segs)
        r->n_segs = 0; /* none set up yet */
    if (o->json_output)
        progress_final(r, ENGINE_STOPPED);
    if (o->result) {
        progress_result(r, o->result);
        o->result->done = false;
    }
    free_run(r);
    return ENGINE_STOPPED;
}

static engine_status run_job(const engine_options *opts, ddb_shared *shared, ddb_client *c, dm_error *err)
{
    engine_options o = *opts;
    bool workers_fixed = o.workers > 0;
    if (o.workers <= 0)
        o.workers = engine_default_workers();
    int rc = check_options(&o, err);
    run_state *r = rc == DM_OK ? calloc(1, sizeof *r) : NULL;
    if (!r) {
        if (rc == DM_OK)
            dm_error_set(err, DM_ERR_NOMEM, "out of memory");
        return ENGINE_CONFIG;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->waits.mu, NULL);
    pthread_mutex_init(&r->end_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->end_cv, &ca);
    pthread_condattr_destroy(&ca);
    r->o = &o;
    r->workers_fixed = workers_fixed;
    atomic_store(&r->no_statements, o.no_partiql);
    r->shared = shared;
    bool dry = o.dry_run || o.job == ENGINE_VERIFY;
    setup_deadline(r);
    rc = preflight(r, c, dry, err);
    if (rc != DM_OK && stop_requested(&o)) {
        fprintf(stderr, "ddbmig: interrupted before the first write; nothing was written\n");
        free_run(r);
        return ENGINE_INTERRUPTED;
    }
    if (rc != DM_OK) {
        if (err && err->code == DM_OK)
            err->code = rc;
        if (rc == DM_ERR_STOPPED && o.deadline_ms > 0)
            return stopped_in_checks(r, err);
        free_run(r);
        if (rc == DM_ERR_STOPPED) {
            if (!o.quiet && err)
                fprintf(stderr, "ddbmig: %s\n", err->message);
            return ENGINE_INTERRUPTED; /* before the run: nothing was written */
        }
        return ENGINE_CONFIG; /* nothing was written; err->code says why */
    }
    ddb_shared_on_throttle(shared, on_throttle, r);
    run_workers(r);
    ddb_shared_on_throttle(shared, NULL, NULL);
    engine_status st = finish_status(r, err);
    bool saved = true;
    if (!dry && r->ct) {
        dm_error cerr = {0};
        if (r->deadline_end) {
            ddb_shared_set_deadline(shared, r->deadline_end, r->deadline_end); /* what is left is for this save */
            /* A few requests against the time left: short backoffs, so
             * that throttling of the checkpoint table does not make the
             * next owner redo what this run did. */
            ddb_client_set_backoff_cap(ctable_client(r), 100);
        }
        if (ctable_flush(r, ctable_client(r), true, &cerr) != DM_OK) {
            saved = false;
            fprintf(stderr, "ddbmig: could not save the last progress in the checkpoint table %s (%s): the next run "
                            "redoes it from the cursor saved before, once the lease has expired\n",
                    o.checkpoint_table, cerr.message);
        }
    } else if (!dry) {
        stop_reason why = (stop_reason)atomic_load(&r->stop);
        const char *cp = r->segs_done == r->n_segs ? "complete" : why == STOP_LIMIT ? "limited" : "stopped";
        dm_error cerr;
        if (checkpoint_save(r, cp, &cerr) != DM_OK)
            dm_log(DM_LOG_ERROR, "%s", cerr.message);
    }
    progress_final(r, st);
    if (o.result)
        progress_result(r, o.result);
    if ((st == ENGINE_STOPPED || st == ENGINE_INTERRUPTED) && !dry) {
        if (r->fatal.message[0])
            fprintf(stderr, "ddbmig: stopped: %s\n", r->fatal.message);
        else if (atomic_load(&r->stop) == STOP_DEADLINE)
            fprintf(stderr, "ddbmig: stopped before the deadline; writes in flight finished\n");
        else if (err && err->message[0] && st == ENGINE_STOPPED)
            fprintf(stderr, "ddbmig: %s\n", err->message);
        long long doubt = atomic_load(&r->c.in_doubt);
        if (doubt && !o.marker)
            fprintf(stderr,
                    "ddbmig: %lld item%s had a write still unanswered when the run stopped; one that reached "
                    "DynamoDB regardless leaves its item changed, and the resume runs the script on it again "
                    "(--marker makes every item exactly once)\n",
                    doubt, doubt == 1 ? "" : "s");
        if (saved)
            fprintf(stderr, "ddbmig: progress is saved in %s%s\n", r->ct ? "the checkpoint table " : "",
                    r->ct ? o.checkpoint_table : r->checkpoint_path);
        /* A checkpoint table needs no --resume: the same command goes on. */
        if (o.resume_command && !r->ct)
            fprintf(stderr, "ddbmig: resume with: %s\n", o.resume_command);
        else if (r->ct)
            fprintf(stderr, "ddbmig: continue with the same command\n");
    }
    rl_destroy(&r->rl_read);
    rl_destroy(&r->rl_write);
    free_run(r);
    return st;
}

engine_status engine_run(const engine_options *opts, ddb_shared *shared, ddb_client *c, dm_error *err)
{
    engine_status st = run_job(opts, shared, c, err);
    /* The client outlives the run (Lambda's next invocation): no deadline
     * of this one may stay on it. */
    ddb_shared_set_deadline(shared, 0, 0);
    return st;
}
