/* BatchWriteItem's UnprocessedItems, handled in one place: the answer is
 * parsed as JSON, the requests DynamoDB left are counted and put into the
 * body that resends them, and the wait before resending comes from the
 * retry policy of retry.c. The import, the engine's batch writes and
 * ddb_batch_write_all all resend through ddb_batch_unprocessed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddbmig/ddb_ops.h"
#include "ddbmig/item.h"
#include "http/retry.h"

/* CapacityUnits of every ConsumedCapacity entry: a batch reports one per
 * table, as an array; a single object is taken too. */
static double capacity_units(json_t *cc)
{
    if (json_is_object(cc))
        return json_number_value(json_object_get(cc, "CapacityUnits"));
    double total = 0;
    size_t i;
    json_t *e;
    json_array_foreach(cc, i, e) {
        total += json_number_value(json_object_get(e, "CapacityUnits"));
    }
    return total;
}

/* *mine gets the table's array of requests in UnprocessedItems (borrowed
 * from doc; NULL when there are none). DM_ERR_PARSE when the answer is
 * not shaped as BatchWriteItem's. */
static int table_requests(json_t *doc, const char *table, json_t **mine, dm_error *err)
{
    *mine = NULL;
    json_t *un = json_object_get(doc, "UnprocessedItems");
    if (!un || json_is_null(un))
        return DM_OK;
    if (!json_is_object(un))
        return dm_error_set(err, DM_ERR_PARSE, "BatchWriteItem: UnprocessedItems is not an object");
    const char *name;
    json_t *reqs;
    json_object_foreach(un, name, reqs) {
        if (!json_is_array(reqs))
            return dm_error_set(err, DM_ERR_PARSE, "BatchWriteItem: UnprocessedItems of a table is not an array");
        if (strcmp(name, table) != 0 && json_array_size(reqs) > 0)
            return dm_error_set(err, DM_ERR_PARSE,
                                "BatchWriteItem: UnprocessedItems names a table this call did not write");
    }
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(un, table), i, r) {
        if (!json_is_object(r) || json_object_size(r) != 1 ||
            !(json_object_get(r, "PutRequest") || json_object_get(r, "DeleteRequest")))
            return dm_error_set(err, DM_ERR_PARSE,
                                "BatchWriteItem: unprocessed request %zu is not a PutRequest or DeleteRequest", i);
    }
    *mine = json_object_get(un, table);
    return DM_OK;
}

static int put_resend(dm_buf *out, const char *table, json_t *reqs, const char *return_consumed)
{
    char *text = json_dumps(reqs, JSON_COMPACT);
    if (!text)
        return DM_ERR_NOMEM;
    int rc = dm_buf_puts(out, "{\"RequestItems\":{");
    rc = rc ? rc : ddb_json_put_string(out, table, strlen(table));
    rc = rc ? rc : dm_buf_putc(out, ':');
    rc = rc ? rc : dm_buf_puts(out, text);
    rc = rc ? rc : dm_buf_putc(out, '}');
    if (!rc && return_consumed) {
        rc = dm_buf_puts(out, ",\"ReturnConsumedCapacity\":");
        rc = rc ? rc : ddb_json_put_string(out, return_consumed, strlen(return_consumed));
    }
    rc = rc ? rc : dm_buf_putc(out, '}');
    free(text);
    return rc;
}

int ddb_batch_unprocessed(const dm_buf *answer, const char *table, const char *return_consumed, int resends,
                          double r01, dm_buf *resend, ddb_batch_left *out, dm_error *err)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *doc = json_loadb(answer->data ? answer->data : "", answer->len, JSON_ALLOW_NUL, &je);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return dm_error_set(err, DM_ERR_PARSE, "BatchWriteItem: the answer is not a JSON object (%s)",
                            doc ? "another JSON value" : je.text);
    }
    int rc = DM_OK;
    out->units = capacity_units(json_object_get(doc, "ConsumedCapacity"));
    json_t *reqs = NULL;
    if ((rc = table_requests(doc, table, &reqs, err)) != DM_OK) {
        /* out->n stays 0 */
    } else if ((out->n = json_array_size(reqs)) == 0) {
        rc = DM_OK;
    } else if (resends >= DDB_BATCH_MAX_RESENDS) {
        rc = dm_error_set(err, DM_ERR_THROTTLED, "BatchWriteItem: %zu requests still unprocessed after %d resends",
                          out->n, DDB_BATCH_MAX_RESENDS);
    } else {
        size_t mark = resend->len;
        if ((rc = put_resend(resend, table, reqs, return_consumed)) != DM_OK) {
            resend->len = mark;
            if (resend->data)
                resend->data[mark] = '\0';
            dm_error_set(err, rc, "BatchWriteItem: cannot build the resend: %s", dm_err_str(rc));
        } else {
            retry_policy pol = retry_policy_default();
            out->delay_ms = retry_backoff_ms(&pol, resends + 1, r01);
        }
    }
    json_decref(doc);
    return rc;
}

int ddb_statements_answer(const dm_buf *answer, size_t n, unsigned char *failed, double *units, dm_error *err)
{
    *units = 0;
    json_error_t je;
    json_t *doc = json_loadb(answer->data ? answer->data : "", answer->len, JSON_ALLOW_NUL, &je);
    json_t *resp = json_object_get(doc, "Responses");
    int rc = DM_OK;
    if (!json_is_object(doc))
        rc = dm_error_set(err, DM_ERR_PARSE, "BatchExecuteStatement: the answer is not a JSON object (%s)",
                          doc ? "another JSON value" : je.text);
    else if (!json_is_array(resp) || json_array_size(resp) != n)
        rc = dm_error_set(err, DM_ERR_PARSE, "BatchExecuteStatement: Responses is not an array of %zu", n);
    for (size_t i = 0; rc == DM_OK && i < n; i++) {
        json_t *r = json_array_get(resp, i);
        if (!json_is_object(r)) {
            rc = dm_error_set(err, DM_ERR_PARSE, "BatchExecuteStatement: response %zu is not an object", i);
            break;
        }
        json_t *e = json_object_get(r, "Error");
        const char *code = json_string_value(json_object_get(e, "Code"));
        failed[i] = !e || json_is_null(e) ? 0
                    : code && (strcmp(code, "ProvisionedThroughputExceeded") == 0 ||
                               strcmp(code, "ThrottlingError") == 0 || strcmp(code, "RequestLimitExceeded") == 0)
                        ? DDB_STATEMENT_THROTTLED
                        : DDB_STATEMENT_FAILED;
    }
    json_t *cc = json_object_get(doc, "ConsumedCapacity");
    if (rc == DM_OK)
        *units = cc && !json_is_null(cc) ? capacity_units(cc) : -1;
    json_decref(doc);
    return rc;
}

/* One chunk of up to 25 requests, resent until DynamoDB has processed all. */
static int write_chunk(ddb_client *c, const char *table, json_t *chunk, int max_calls, uint64_t *rng, dm_error *err)
{
    ddb_call call;
    ddb_call_init(&call, "BatchWriteItem", table);
    json_t *body = json_pack("{s:{s:O}}", "RequestItems", table, chunk);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    int rc = text ? dm_buf_puts(&call.body, text) : DM_ERR_NOMEM;
    free(text);
    if (rc) {
        ddb_call_cleanup(&call);
        return dm_error_set(err, rc, "out of memory");
    }
    for (int resends = 0;; resends++) {
        if ((rc = ddb_client_run(c, &call)) != DM_OK) {
            if (err)
                *err = call.err;
            break;
        }
        dm_buf next;
        dm_buf_init(&next, 0);
        ddb_batch_left left;
        rc = ddb_batch_unprocessed(&call.response, table, NULL, resends, retry_random01(rng), &next, &left, err);
        if (rc == DM_OK && left.n > 0 && resends + 1 >= max_calls)
            rc = dm_error_set(err, DM_ERR_THROTTLED, "BatchWriteItem: %zu requests still unprocessed after %d calls",
                              left.n, max_calls);
        if (rc != DM_OK || left.n == 0) {
            dm_buf_cleanup(&next);
            break;
        }
        dm_sleep_ms(left.delay_ms);
        ddb_call_reuse(&call, "BatchWriteItem", table);
        dm_buf_cleanup(&call.body);
        call.body = next;
    }
    ddb_call_cleanup(&call);
    return rc;
}

int ddb_batch_write_all(ddb_client *c, const char *table, json_t *requests, int max_rounds, dm_error *err)
{
    int max_calls = max_rounds > 0 && max_rounds <= DDB_BATCH_MAX_RESENDS + 1 ? max_rounds : DDB_BATCH_MAX_RESENDS + 1;
    uint64_t rng = 0;
    int rc = DM_OK;
    size_t n = json_array_size(requests);
    for (size_t i = 0; rc == DM_OK && i < n; i += 25) {
        json_t *chunk = json_array();
        for (size_t j = i; chunk && j < i + 25 && j < n; j++)
            json_array_append(chunk, json_array_get(requests, j));
        rc = chunk ? write_chunk(c, table, chunk, max_calls, &rng, err)
                   : dm_error_set(err, DM_ERR_NOMEM, "out of memory");
        json_decref(chunk);
    }
    return rc;
}
