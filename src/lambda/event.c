/* The handler's events, answers and error types (lambda.h): pure. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ddbmig/lambda.h"

/* A whole number from a JSON number or a numeric string. */
static int whole(json_t *v, long long lo, long long hi, long long *out)
{
    if (json_is_integer(v)) {
        *out = (long long)json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        if (!*s || *s == '-' || *s == '+' || *s == ' ')
            return DM_ERR_INVALID;
        *out = strtoll(s, &end, 10);
        if (errno || *end)
            return DM_ERR_INVALID;
    } else {
        return DM_ERR_INVALID;
    }
    return *out >= lo && *out <= hi ? DM_OK : DM_ERR_INVALID;
}

static bool table_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 255)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-' || *s == '.'))
            return false;
    return true;
}

/* {"action": "prewarm" | "restore", "tableName", ...}: the stack's steps
 * around the Map. */
static int capacity_event(json_t *doc, json_t *action, lambda_event *out, dm_error *err)
{
    const char *a = json_string_value(action), *table = json_string_value(json_object_get(doc, "tableName"));
    if (!a || (strcmp(a, "prewarm") != 0 && strcmp(a, "restore") != 0))
        return dm_error_set(err, DM_ERR_INVALID, "the event's action is neither prewarm nor restore");
    if (!table || !table_name_ok(table))
        return dm_error_set(err, DM_ERR_INVALID, "the event's tableName is not a DynamoDB table name");
    out->action = strcmp(a, "prewarm") == 0 ? LAMBDA_PREWARM : LAMBDA_RESTORE;
    dm_strlcpy(out->table, table, sizeof out->table);
    json_t *r = json_object_get(doc, "readUnits"), *w = json_object_get(doc, "writeUnits");
    if ((r && whole(r, 1, 40000000, &out->read_units) != DM_OK) ||
        (w && whole(w, 1, 40000000, &out->write_units) != DM_OK))
        return dm_error_set(err, DM_ERR_INVALID, "the event's readUnits or writeUnits is not 1 to 40000000");
    json_t *m = json_object_get(doc, "method");
    if (m) {
        const char *v = json_string_value(m);
        if (!v || (strcmp(v, "warm-throughput") != 0 && strcmp(v, "provisioned") != 0 && strcmp(v, "toggle") != 0))
            return dm_error_set(err, DM_ERR_INVALID, "the event's method is not warm-throughput, provisioned or toggle");
        dm_strlcpy(out->method, v, sizeof out->method);
    }
    return DM_OK;
}

int lambda_event_parse(const char *text, size_t len, lambda_event *out, dm_error *err)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return dm_error_set(err, DM_ERR_INVALID, "the event is not a JSON object {\"segment\", \"totalSegments\", "
                                                 "\"tableName\"}");
    }
    long long seg, total;
    const char *table = json_string_value(json_object_get(doc, "tableName"));
    json_t *action = json_object_get(doc, "action");
    int rc = DM_OK;
    if (action) {
        rc = capacity_event(doc, action, out, err);
        json_decref(doc);
        return rc;
    }
    if (whole(json_object_get(doc, "totalSegments"), 1, 1000000, &total) != DM_OK)
        rc = dm_error_set(err, DM_ERR_INVALID, "the event's totalSegments is not a whole number from 1 to 1000000");
    else if (whole(json_object_get(doc, "segment"), 0, total - 1, &seg) != DM_OK)
        rc = dm_error_set(err, DM_ERR_INVALID, "the event's segment is not a whole number from 0 to %lld", total - 1);
    else if (!table || !table_name_ok(table))
        rc = dm_error_set(err, DM_ERR_INVALID, "the event's tableName is not a DynamoDB table name");
    if (rc == DM_OK) {
        out->action = LAMBDA_SEGMENT;
        out->segment = (int)seg;
        out->total_segments = (int)total;
        dm_strlcpy(out->table, table, sizeof out->table);
    }
    json_decref(doc);
    return rc;
}

char *lambda_answer_json(const lambda_event *ev, const engine_result *res)
{
    json_t *o = json_pack("{s:i,s:I,s:I,s:I,s:b}", "segment", ev->segment, "scanned", (json_int_t)res->scanned,
                          "changed", (json_int_t)res->changed, "failed", (json_int_t)res->failed, "done", res->done);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

const char *lambda_error_type(engine_status st, const dm_error *err)
{
    if (st == ENGINE_CONFIG)
        return LAMBDA_ERR_CONFIG;
    if (st == ENGINE_INTERRUPTED)
        return LAMBDA_ERR_RETRYABLE;
    int code = err ? err->code : 0;
    if (code == DM_ERR_NETWORK || code == DM_ERR_THROTTLED || code == DM_ERR_CHECKSUM || code == DM_ERR_STOPPED ||
        (code == DM_ERR_SERVICE && err->http_status >= 500))
        return LAMBDA_ERR_RETRYABLE;
    if (code == DM_ERR_LIMIT)
        return LAMBDA_ERR_ITEMS; /* --max-errors */
    return code == DM_ERR_SERVICE || code == DM_ERR_CREDENTIALS || code == DM_ERR_CONFIG ? LAMBDA_ERR_CONFIG
                                                                                         : LAMBDA_ERR_RETRYABLE;
}

char *lambda_error_json(const char *type, const char *message)
{
    json_t *o = json_pack("{s:s,s:s}", "errorMessage", message ? message : "", "errorType", type);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}
