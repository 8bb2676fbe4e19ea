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

#include "checkpoint.h"
#include "doneset.h"
#include "engine_impl.h"

const char *checkpoint_mode_name(engine_write_mode m)
{
    return m == ENGINE_WRITE_PUT ? "put" : m == ENGINE_WRITE_BATCH ? "batch" : "update";
}

/* A set of keys (done past the cursor, or in doubt), as a JSON array;
 * NULL when none. */
static json_t *set_json(const doneset *d)
{
    if (!doneset_size(d))
        return NULL;
    dm_buf b;
    dm_buf_init(&b, 0);
    json_t *keys = doneset_write(d, 0, &b, NULL) == DM_OK ? json_loadb(b.data, b.len, JSON_ALLOW_NUL, NULL) : NULL;
    dm_buf_cleanup(&b);
    return keys;
}

static json_t *segment_json(const seg_state *s)
{
    json_t *key = s->last_key ? json_loads(s->last_key, JSON_ALLOW_NUL, NULL) : json_null();
    json_t *seg = json_pack("{s:i,s:b,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "segment", s->index, "done",
                     s->status == SEG_DONE, "start_key", key ? key : json_null(), "scanned", (json_int_t)s->scanned,
                     "changed", (json_int_t)s->changed, "unchanged", (json_int_t)s->unchanged, "deleted",
                     (json_int_t)s->deleted, "failed", (json_int_t)s->failed, "conflicts", (json_int_t)s->conflicts,
                     "work_ms", (json_int_t)(s->work_ms + (s->status == SEG_RUNNING ? dm_monotonic_ms() - s->started_ms : 0)));
    json_t *done = set_json(s->done), *doubt = set_json(s->doubt);
    if (seg && done)
        json_object_set_new(seg, "done_keys", done);
    else
        json_decref(done);
    if (seg && doubt)
        json_object_set_new(seg, "in_doubt", doubt);
    else
        json_decref(doubt);
    return seg;
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
                     "write_mode", checkpoint_mode_name(r->mode), "marker", o->marker, "version_attribute",
                     o->version_attribute, "filter_expression", o->filter_expression, "expression_attribute_names",
                     o->names_json, "expression_attribute_values", o->values_json, "segments", segs);
}

int checkpoint_save(run_state *r, const char *status, dm_error *err)
{
    json_t *doc = build(r, status);
    char *text = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (!text)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory writing the checkpoint");
    /* A crash leaves the old checkpoint or the new one, never half of one. */
    size_t len = strlen(text);
    text[len] = '\n'; /* json_dumps's terminator becomes the last line's end */
    int rc = dm_write_file_atomic(r->checkpoint_path, text, len + 1, err);
    if (rc)
        dm_error_prefix(err, "the checkpoint");
    free(text);
    return rc;
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

/* The options of the run in doc (kept in `where`) against this one's. */
static int check_binding(run_state *r, const checkpoint_doc *d, const char *where, dm_error *err)
{
    const engine_options *o = r->o;
    dm_buf why;
    dm_buf_init(&why, 0);
    differ(&why, "--target-table-name", d->target_table, o->target_table);
    differ(&why, "--write-mode", d->write_mode, checkpoint_mode_name(r->mode));
    differ(&why, "--marker", d->marker, o->marker);
    differ(&why, "--version-attribute", d->version_attribute, o->version_attribute);
    differ(&why, "--filter-expression", d->filter_expression, o->filter_expression);
    differ(&why, "--expression-attribute-names", d->names_json, o->names_json);
    differ(&why, "--expression-attribute-values", d->values_json, o->values_json);
    if (o->migration_id)
        differ(&why, "--migration-id", d->migration, o->migration_id);
    if (o->total_segments > 0 && o->total_segments != d->n_segs) {
        char was[24], now[24];
        snprintf(was, sizeof was, "%d", d->n_segs);
        snprintf(now, sizeof now, "%d", o->total_segments);
        differ(&why, "--total-segments", was, now);
    }
    int rc = DM_OK;
    if (why.len)
        rc = dm_error_set(err, DM_ERR_CONFIG,
                          "%s belongs to a run with other options (%s); continue it with the same options, or "
                          "start over elsewhere",
                          where, dm_buf_cstr(&why));
    dm_buf_cleanup(&why);
    return rc;
}

/* Starting over runs the script on every item again: said where it is
 * offered. */
#define FIX_OR_REMOVE "fix it, or remove it to start over (which runs the script on every item again)"

/* A segment's cursor and keys finished past it, checked against the
 * table's key schema: a key of other attributes or types would fail every
 * Scan, or never match. */
static int adopt_keys(run_state *r, seg_state *s, checkpoint_seg *c, int i, dm_error *err)
{
    dm_error e = {0};
    if (c->start_key && doneset_check_key(RUN_KEY_SCHEMA(r), c->start_key, strlen(c->start_key), &e) != DM_OK)
        return dm_error_set(err, DM_ERR_CONFIG, "segment %d's start_key: %s; %s", i, e.message, FIX_OR_REMOVE);
    if (!c->n_done)
        return DM_OK;
    if (!(s->done = doneset_new(RUN_KEY_SCHEMA(r))))
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    for (int k = 0; k < c->n_done; k++)
        if (doneset_add_json(s->done, c->done_keys[k], strlen(c->done_keys[k]), &e) != DM_OK)
            return dm_error_set(err, e.code == DM_ERR_NOMEM ? DM_ERR_NOMEM : DM_ERR_CONFIG,
                                "segment %d's done_keys[%d]: %s; %s", i, k, e.message, FIX_OR_REMOVE);
    return DM_OK;
}

/* A segment's writes in doubt: keys of the table, records that parse. */
static int adopt_doubts(run_state *r, seg_state *s, checkpoint_seg *c, int i, dm_error *err)
{
    dm_error e = {0};
    if (c->n_doubt && !(s->doubt = doneset_new(RUN_KEY_SCHEMA(r))))
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    for (int k = 0; k < c->n_doubt; k++) {
        const char *key = c->doubt_keys[k], *wrote = c->doubt_wrote[k];
        if (wplan_wrote_check(wrote, strlen(wrote), &e) != DM_OK ||
            doneset_add_json_with(s->doubt, key, strlen(key), wrote, &e) != DM_OK)
            return dm_error_set(err, e.code == DM_ERR_NOMEM ? DM_ERR_NOMEM : DM_ERR_CONFIG,
                                "segment %d's in_doubt[%d]: %s; %s", i, k, e.message, FIX_OR_REMOVE);
    }
    return DM_OK;
}

/* Takes the segments (their keys move) and the run's identity: ctx.now
 * and the marker value are those of the first start, so that items done
 * again come out the same. */
static int adopt(run_state *r, checkpoint_doc *d, dm_error *err)
{
    r->n_segs = d->n_segs;
    r->segs = calloc((size_t)d->n_segs, sizeof *r->segs);
    if (!r->segs)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < d->n_segs; i++) {
        seg_state *s = &r->segs[i];
        checkpoint_seg *c = &d->segs[i];
        int rc = adopt_keys(r, s, c, i, err);
        rc = rc ? rc : adopt_doubts(r, s, c, i, err);
        if (rc)
            return rc;
        s->index = i;
        s->status = c->done ? SEG_DONE : SEG_PENDING;
        s->last_key = c->start_key;
        c->start_key = NULL;
        s->scanned = c->scanned;
        s->changed = c->changed;
        s->unchanged = c->unchanged;
        s->deleted = c->deleted;
        s->failed = c->failed;
        s->conflicts = c->conflicts;
        s->work_ms = c->work_ms;
        r->segs_done += c->done;
    }
    if (d->started_at)
        dm_strlcpy(r->now, d->started_at, sizeof r->now);
    dm_strlcpy(r->migration, d->migration, sizeof r->migration);
    return DM_OK;
}

int checkpoint_refuse(run_state *r, const checkpoint_doc *d, const char *where, dm_error *err)
{
    if (strcmp(d->table, r->o->table) != 0)
        return dm_error_set(err, DM_ERR_CONFIG, "%s is for table '%s', not '%s'", where, d->table, r->o->table);
    if (strcmp(d->script_sha256, r->script_hash) != 0)
        return dm_error_set(err, DM_ERR_CONFIG,
                            "the script changed since %s was written (sha256 %.12s..., now %.12s...); resuming with "
                            "a different script is refused: restore the script, or start over (another "
                            "--migration-id, or without the old checkpoint)",
                            where, d->script_sha256, r->script_hash);
    return check_binding(r, d, where, err);
}

int checkpoint_load(run_state *r, bool *found, bool *limited, dm_error *err)
{
    *found = *limited = false;
    dm_buf text;
    dm_buf_init(&text, 0);
    dm_error rerr = {0};
    if (access(r->checkpoint_path, F_OK) != 0)
        return DM_OK;
    if (dm_read_file(r->checkpoint_path, &text, &rerr) != DM_OK) {
        dm_buf_cleanup(&text);
        return dm_error_set(err, DM_ERR_CONFIG, "cannot read checkpoint %s: %s", r->checkpoint_path, rerr.message);
    }
    checkpoint_doc d;
    dm_error perr = {0};
    int rc = checkpoint_parse(text.data ? text.data : "", text.len, &d, &perr);
    dm_buf_cleanup(&text);
    if (rc)
        return dm_error_set(err, DM_ERR_CONFIG, "checkpoint %s is %s; remove it to start over", r->checkpoint_path,
                            perr.message);
    /* A finished run does not hold back a new one. */
    if (strcmp(d.status, "complete") != 0) {
        char where[1100];
        snprintf(where, sizeof where, "checkpoint %s", r->checkpoint_path);
        rc = checkpoint_refuse(r, &d, where, err);
        if (rc == DM_OK) {
            *found = true;
            *limited = strcmp(d.status, "limited") == 0;
            rc = adopt(r, &d, err);
            if (rc == DM_ERR_CONFIG)
                dm_error_prefix(err, "checkpoint %s", r->checkpoint_path);
        }
    }
    checkpoint_doc_cleanup(&d);
    return rc;
}
