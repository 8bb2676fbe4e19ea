/* The checkpoint: per segment, the key after which the scan goes on (the
 * LastEvaluatedKey of the last page whose writes all completed, or the key
 * of the last item of a finished prefix of a page), with counts, the
 * script's hash and every option that changes what is written. A
 * checkpoint belongs to one run: resuming it with other such options is
 * refused, naming each difference. Written to a temporary file, fsynced,
 * and renamed over the old one, so a crash leaves the old or the new file
 * and never half of one. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine_impl.h"

static const char *mode_name(engine_write_mode m)
{
    return m == ENGINE_WRITE_PUT ? "put" : m == ENGINE_WRITE_BATCH ? "batch" : "update";
}

static json_t *segment_json(const seg_state *s)
{
    json_t *key = s->last_key ? json_loads(s->last_key, 0, NULL) : json_null();
    return json_pack("{s:i,s:b,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "segment", s->index, "done",
                     s->status == SEG_DONE, "start_key", key ? key : json_null(), "scanned", (json_int_t)s->scanned,
                     "changed", (json_int_t)s->changed, "unchanged", (json_int_t)s->unchanged, "deleted",
                     (json_int_t)s->deleted, "failed", (json_int_t)s->failed, "conflicts", (json_int_t)s->conflicts,
                     "work_ms", (json_int_t)(s->work_ms + (s->status == SEG_RUNNING ? dm_monotonic_ms() - s->started_ms : 0)));
}

static json_t *build(run_state *r, const char *status)
{
    json_t *segs = json_array();
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n_segs; i++)
        json_array_append_new(segs, segment_json(&r->segs[i]));
    pthread_mutex_unlock(&r->mu);
    const engine_options *o = r->o;
    return json_pack("{s:i,s:s,s:s,s:s?,s:s,s:s,s:s,s:i,s:{s:s,s:s?,s:s?,s:s?,s:s?,s:s?},s:o}", "version", 1,
                     "status", status, "table", o->table, "target_table", o->target_table, "migration", r->migration,
                     "script_sha256", r->script_hash, "started_at", r->now, "total_segments", r->n_segs, "options",
                     "write_mode", mode_name(r->mode), "marker", o->marker, "version_attribute",
                     o->version_attribute, "filter_expression", o->filter_expression, "expression_attribute_names",
                     o->names_json, "expression_attribute_values", o->values_json, "segments", segs);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void sync_dir(const char *path)
{
    char dir[1024];
    dm_strlcpy(dir, path, sizeof dir);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int checkpoint_save(run_state *r, const char *status, dm_error *err)
{
    json_t *doc = build(r, status);
    char *text = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (!text)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory writing the checkpoint");
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", r->checkpoint_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = DM_OK;
    if (fd < 0 || write_all(fd, text, strlen(text)) || write_all(fd, "\n", 1) || fsync(fd))
        rc = dm_error_set(err, DM_ERR_IO, "cannot write the checkpoint %s: %s", tmp, strerror(errno));
    if (fd >= 0)
        close(fd);
    if (rc == DM_OK && rename(tmp, r->checkpoint_path) != 0)
        rc = dm_error_set(err, DM_ERR_IO, "cannot rename %s to %s: %s", tmp, r->checkpoint_path, strerror(errno));
    if (rc == DM_OK)
        sync_dir(r->checkpoint_path);
    free(text);
    return rc;
}

static int load_segment(run_state *r, json_t *js, dm_error *err)
{
    json_int_t idx = json_integer_value(json_object_get(js, "segment"));
    if (idx < 0 || idx >= r->n_segs)
        return dm_error_set(err, DM_ERR_PARSE, "checkpoint %s: segment %lld out of range", r->checkpoint_path,
                            (long long)idx);
    seg_state *s = &r->segs[idx];
    s->status = json_is_true(json_object_get(js, "done")) ? SEG_DONE : SEG_PENDING;
    json_t *key = json_object_get(js, "start_key");
    s->last_key = json_is_object(key) ? json_dumps(key, JSON_COMPACT) : NULL;
    s->scanned = json_integer_value(json_object_get(js, "scanned"));
    s->changed = json_integer_value(json_object_get(js, "changed"));
    s->unchanged = json_integer_value(json_object_get(js, "unchanged"));
    s->deleted = json_integer_value(json_object_get(js, "deleted"));
    s->failed = json_integer_value(json_object_get(js, "failed"));
    s->conflicts = json_integer_value(json_object_get(js, "conflicts"));
    s->work_ms = json_integer_value(json_object_get(js, "work_ms"));
    if (s->status == SEG_DONE)
        r->segs_done++;
    return DM_OK;
}

/* Appends "--opt was 'a', now 'b'" to *why when a bound option differs. */
static void differ(dm_buf *why, const char *opt, const char *was, const char *now)
{
    if (!was)
        was = "";
    if (!now)
        now = "";
    if (strcmp(was, now) == 0)
        return;
    if (why->len)
        dm_buf_puts(why, "; ");
    dm_buf_appendf(why, "%s was '%.80s', now '%.80s'", opt, was, now);
}

/* The options of the run in doc against this one's. */
static int check_binding(run_state *r, json_t *doc, int n_segs, dm_error *err)
{
    const engine_options *o = r->o;
    json_t *opts = json_object_get(doc, "options");
    dm_buf why;
    dm_buf_init(&why, 0);
    const char *(*str)(const json_t *) = json_string_value;
    differ(&why, "--target-table-name", str(json_object_get(doc, "target_table")), o->target_table);
    differ(&why, "--write-mode", str(json_object_get(opts, "write_mode")), mode_name(r->mode));
    differ(&why, "--marker", str(json_object_get(opts, "marker")), o->marker);
    differ(&why, "--version-attribute", str(json_object_get(opts, "version_attribute")), o->version_attribute);
    differ(&why, "--filter-expression", str(json_object_get(opts, "filter_expression")), o->filter_expression);
    differ(&why, "--expression-attribute-names", str(json_object_get(opts, "expression_attribute_names")),
           o->names_json);
    differ(&why, "--expression-attribute-values", str(json_object_get(opts, "expression_attribute_values")),
           o->values_json);
    if (o->migration_id)
        differ(&why, "--migration-id", str(json_object_get(doc, "migration")), o->migration_id);
    if (o->total_segments > 0 && o->total_segments != n_segs) {
        char was[24], now[24];
        snprintf(was, sizeof was, "%d", n_segs);
        snprintf(now, sizeof now, "%d", o->total_segments);
        differ(&why, "--total-segments", was, now);
    }
    int rc = DM_OK;
    if (why.len)
        rc = dm_error_set(err, DM_ERR_CONFIG,
                          "checkpoint %s belongs to a run with other options (%s); continue it with the same "
                          "options, or remove the file to start over",
                          r->checkpoint_path, dm_buf_cstr(&why));
    dm_buf_cleanup(&why);
    return rc;
}

static int load_segments(run_state *r, json_t *doc, int n, dm_error *err)
{
    json_t *segs = json_object_get(doc, "segments");
    r->n_segs = n;
    r->segs = calloc((size_t)n, sizeof *r->segs);
    if (!r->segs)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++)
        r->segs[i].index = i;
    int rc = DM_OK;
    for (int i = 0; rc == DM_OK && i < n; i++)
        rc = load_segment(r, json_array_get(segs, (size_t)i), err);
    /* Resuming keeps the run's identity: ctx.now and the marker value
     * are those of the first start, so re-processed items come out the
     * same. */
    const char *started = json_string_value(json_object_get(doc, "started_at"));
    const char *mig = json_string_value(json_object_get(doc, "migration"));
    if (rc == DM_OK && started)
        dm_strlcpy(r->now, started, sizeof r->now);
    if (rc == DM_OK && mig)
        dm_strlcpy(r->migration, mig, sizeof r->migration);
    return rc;
}

int checkpoint_load(run_state *r, bool *found, bool *limited, dm_error *err)
{
    *found = *limited = false;
    json_error_t je;
    json_t *doc = json_load_file(r->checkpoint_path, 0, &je);
    if (!doc) {
        if (access(r->checkpoint_path, F_OK) != 0)
            return DM_OK;
        return dm_error_set(err, DM_ERR_PARSE, "checkpoint %s, line %d: %s", r->checkpoint_path, je.line, je.text);
    }
    int rc = DM_OK;
    const char *status = json_string_value(json_object_get(doc, "status"));
    const char *hash = json_string_value(json_object_get(doc, "script_sha256"));
    const char *table = json_string_value(json_object_get(doc, "table"));
    json_t *segs = json_object_get(doc, "segments");
    json_int_t n = json_integer_value(json_object_get(doc, "total_segments"));
    if (!status || !hash || !table || !json_is_array(segs) || n < 1 || n > 1000000 ||
        (size_t)n != json_array_size(segs))
        rc = dm_error_set(err, DM_ERR_PARSE, "checkpoint %s is not a ddbmig checkpoint", r->checkpoint_path);
    else if (strcmp(status, "complete") == 0) {
        /* A finished run does not hold back a new one. */
        json_decref(doc);
        return DM_OK;
    } else if (strcmp(table, r->o->table) != 0)
        rc = dm_error_set(err, DM_ERR_CONFIG, "checkpoint %s is for table '%s', not '%s'", r->checkpoint_path, table,
                          r->o->table);
    else if (strcmp(hash, r->script_hash) != 0)
        rc = dm_error_set(err, DM_ERR_CONFIG,
                          "the script changed since checkpoint %s was written (sha256 %.12s..., now %.12s...); "
                          "resuming with a different script is refused: restore the script, or remove the "
                          "checkpoint to start over",
                          r->checkpoint_path, hash, r->script_hash);
    else
        rc = check_binding(r, doc, (int)n, err);
    if (rc == DM_OK) {
        *found = true;
        *limited = strcmp(status, "limited") == 0;
        rc = load_segments(r, doc, (int)n, err);
    }
    json_decref(doc);
    return rc;
}
