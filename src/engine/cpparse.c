/* Checkpoint files, parsed and checked; see checkpoint.h. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"

static int bad(dm_error *err, const char *what)
{
    return dm_error_set(err, DM_ERR_PARSE, "not a ddbmig checkpoint: %s", what);
}

/* An optional string field; false when present but not a string. */
static bool opt_string(json_t *o, const char *name, char **out)
{
    json_t *v = json_object_get(o, name);
    *out = NULL;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v))
        return false;
    *out = dm_strndup(json_string_value(v), json_string_length(v));
    return *out != NULL;
}

static bool count(json_t *o, const char *name, long long *out)
{
    json_t *v = json_object_get(o, name);
    *out = 0;
    if (!v)
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = json_integer_value(v);
    return true;
}

/* "in_doubt": [{"key": {...}, "wrote": {...}}, ...], optional. */
static int parse_doubts(json_t *js, checkpoint_seg *s, json_int_t i, dm_error *err)
{
    json_t *list = json_object_get(js, "in_doubt");
    if (!list)
        return DM_OK;
    size_t n = json_array_size(list);
    if (!json_is_array(list))
        return bad(err, "in_doubt that is not a list");
    if (!n)
        return DM_OK;
    /* One more, NULL: the cleanup frees up to n_doubt inclusive. */
    if (n > 10000000 || !(s->doubt_keys = calloc(n + 1, sizeof *s->doubt_keys)) ||
        !(s->doubt_wrote = calloc(n + 1, sizeof *s->doubt_wrote)))
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < n; k++, s->n_doubt++) {
        json_t *one = json_array_get(list, k), *key = json_object_get(one, "key"), *wrote = json_object_get(one, "wrote");
        if (!json_is_object(key) || !json_object_size(key) || !json_is_object(wrote) || json_object_size(one) != 2)
            return dm_error_set(err, DM_ERR_PARSE,
                                "not a ddbmig checkpoint: segment %lld's in_doubt[%zu] is not {\"key\", \"wrote\"}",
                                (long long)i, k);
        if (!(s->doubt_keys[k] = json_dumps(key, JSON_COMPACT)) || !(s->doubt_wrote[k] = json_dumps(wrote, JSON_COMPACT)))
            return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    }
    return DM_OK;
}

static int parse_segment(json_t *js, checkpoint_doc *d, dm_error *err)
{
    json_t *idx = json_object_get(js, "segment");
    if (!json_is_object(js) || !json_is_integer(idx))
        return bad(err, "a segment without its index");
    json_int_t i = json_integer_value(idx);
    if (i < 0 || i >= d->n_segs)
        return bad(err, "a segment index out of range");
    checkpoint_seg *s = &d->segs[i];
    json_t *done = json_object_get(js, "done"), *key = json_object_get(js, "start_key");
    if (!json_is_boolean(done))
        return bad(err, "a segment without \"done\"");
    if (key && !json_is_null(key) && (!json_is_object(key) || json_object_size(key) == 0))
        return bad(err, "a start key that is not a key");
    long long work = 0;
    if (!count(js, "scanned", &s->scanned) || !count(js, "changed", &s->changed) ||
        !count(js, "unchanged", &s->unchanged) || !count(js, "deleted", &s->deleted) ||
        !count(js, "failed", &s->failed) || !count(js, "conflicts", &s->conflicts) || !count(js, "work_ms", &work))
        return bad(err, "a count that is not a whole number from 0 up");
    json_t *past = json_object_get(js, "done_keys");
    if (past && !json_is_array(past))
        return bad(err, "done_keys that are not a list");
    s->done = json_is_true(done);
    if (past && json_array_size(past) > 0) {
        if (json_array_size(past) > 10000000 || !(s->done_keys = calloc(json_array_size(past), sizeof *s->done_keys)))
            return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
        for (size_t k = 0; k < json_array_size(past); k++, s->n_done++) {
            json_t *one = json_array_get(past, k);
            if (!json_is_object(one) || json_object_size(one) == 0)
                return dm_error_set(err, DM_ERR_PARSE, "not a ddbmig checkpoint: segment %lld's done_keys[%zu] is "
                                                       "not a key", (long long)i, k);
            if (!(s->done_keys[k] = json_dumps(one, JSON_COMPACT)))
                return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
        }
    }
    if (json_is_object(key) && !(s->start_key = json_dumps(key, JSON_COMPACT)))
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    s->work_ms = work;
    return parse_doubts(js, s, i, err);
}

static int parse_doc(json_t *doc, checkpoint_doc *d, dm_error *err)
{
    json_t *opts = json_object_get(doc, "options"), *segs = json_object_get(doc, "segments");
    json_t *n = json_object_get(doc, "total_segments"), *version = json_object_get(doc, "version");
    if (!json_is_object(doc))
        return bad(err, "not a JSON object");
    if (!json_is_integer(version) || json_integer_value(version) != 1)
        return bad(err, "an unknown version");
    if (!opt_string(doc, "status", &d->status) || !opt_string(doc, "table", &d->table) ||
        !opt_string(doc, "target_table", &d->target_table) || !opt_string(doc, "migration", &d->migration) ||
        !opt_string(doc, "script_sha256", &d->script_sha256) || !opt_string(doc, "started_at", &d->started_at) ||
        !opt_string(opts, "write_mode", &d->write_mode) || !opt_string(opts, "marker", &d->marker) ||
        !opt_string(opts, "version_attribute", &d->version_attribute) ||
        !opt_string(opts, "filter_expression", &d->filter_expression) ||
        !opt_string(opts, "expression_attribute_names", &d->names_json) ||
        !opt_string(opts, "expression_attribute_values", &d->values_json))
        return bad(err, "a field of the wrong type");
    if (!d->status || !d->table || !d->migration || !d->script_sha256)
        return bad(err, "a required field is missing");
    static const char *const statuses[] = {"running", "stopped", "limited", "complete", NULL};
    bool known = false;
    for (int i = 0; statuses[i]; i++)
        known = known || strcmp(d->status, statuses[i]) == 0;
    if (!known)
        return bad(err, "an unknown status");
    if (opts && !json_is_object(opts))
        return bad(err, "options that are not an object");
    if (!json_is_integer(n) || json_integer_value(n) < 1 || json_integer_value(n) > 1000000 || !json_is_array(segs) ||
        json_array_size(segs) != (size_t)json_integer_value(n))
        return bad(err, "segments that do not match total_segments");
    d->n_segs = (int)json_integer_value(n);
    if (!(d->segs = calloc((size_t)d->n_segs, sizeof *d->segs)))
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    /* Each segment exactly once: mark seen ones while parsing. */
    char *seen = calloc((size_t)d->n_segs, 1);
    if (!seen)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    int rc = DM_OK;
    for (size_t i = 0; rc == DM_OK && i < json_array_size(segs); i++) {
        json_t *js = json_array_get(segs, i);
        json_int_t idx = json_integer_value(json_object_get(js, "segment"));
        if (json_is_integer(json_object_get(js, "segment")) && idx >= 0 && idx < d->n_segs && seen[idx])
            rc = bad(err, "a segment listed twice");
        if (rc == DM_OK && (rc = parse_segment(js, d, err)) == DM_OK)
            seen[idx] = 1;
    }
    free(seen);
    return rc;
}

int checkpoint_parse(const char *text, size_t len, checkpoint_doc *out, dm_error *err)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!doc)
        return dm_error_set(err, DM_ERR_PARSE, "not a ddbmig checkpoint: line %d: %s", je.line, je.text);
    int rc = parse_doc(doc, out, err);
    json_decref(doc);
    if (rc)
        checkpoint_doc_cleanup(out);
    return rc;
}

void checkpoint_doc_cleanup(checkpoint_doc *d)
{
    char **strs[] = {&d->status, &d->table, &d->target_table, &d->migration, &d->script_sha256, &d->started_at,
                     &d->write_mode, &d->marker, &d->version_attribute, &d->filter_expression, &d->names_json,
                     &d->values_json};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
    for (int i = 0; d->segs && i < d->n_segs; i++) {
        free(d->segs[i].start_key);
        for (int k = 0; k < d->segs[i].n_done; k++)
            free(d->segs[i].done_keys[k]);
        free(d->segs[i].done_keys);
        /* A record cut short by a parse error has its key only. */
        for (int k = 0; k <= d->segs[i].n_doubt && d->segs[i].doubt_keys; k++) {
            free(d->segs[i].doubt_keys[k]);
            free(d->segs[i].doubt_wrote ? d->segs[i].doubt_wrote[k] : NULL);
        }
        free(d->segs[i].doubt_keys);
        free(d->segs[i].doubt_wrote);
    }
    free(d->segs);
    d->segs = NULL;
    d->n_segs = 0;
}
