/* UnprocessedItems of a BatchWriteItem answer: how many requests are
 * left, the body that resends them, the backoff, and answers that are not
 * shaped as they should be. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ddbmig/ddb_ops.h"
#include "http/retry.h"
#include "test.h"

static dm_buf answer(const char *text)
{
    dm_buf b;
    dm_buf_init(&b, 0);
    dm_buf_puts(&b, text);
    return b;
}

TEST(nothing_left)
{
    dm_buf a = answer("{\"UnprocessedItems\":{},\"ConsumedCapacity\":[{\"TableName\":\"t\",\"CapacityUnits\":25.0}]}");
    dm_buf out;
    dm_buf_init(&out, 0);
    ddb_batch_left left;
    dm_error err = {0};
    CHECK_INT(ddb_batch_unprocessed(&a, "t", "TOTAL", 0, 0.5, &out, &left, &err), DM_OK);
    CHECK_INT(left.n, 0);
    CHECK_INT(left.delay_ms, 0);
    CHECK_INT(out.len, 0);
    CHECK(left.units > 24.99 && left.units < 25.01);
    /* An answer without the field at all (DynamoDB Local leaves it out). */
    dm_buf_cleanup(&a);
    a = answer("{}");
    CHECK_INT(ddb_batch_unprocessed(&a, "t", "TOTAL", 0, 0.5, &out, &left, &err), DM_OK);
    CHECK_INT(left.n, 0);
    CHECK_INT(left.units, 0);
    dm_buf_cleanup(&a);
}

TEST(left_requests_are_resent_exactly)
{
    /* Items with text that must survive the round trip: escapes, a NUL, a
     * number with every digit, binary; the table name needs escaping. */
    const char *reqs = "[{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"a\\\"b\\u0000c\\u00e9\\ud83d\\ude00\"},"
                       "\"n\":{\"N\":\"12345678901234567890123456789012345678\"},\"b\":{\"B\":\"AAEC\"}}}},"
                       "{\"DeleteRequest\":{\"Key\":{\"pk\":{\"S\":\"gone\"}}}}]";
    dm_buf text;
    dm_buf_init(&text, 0);
    dm_buf_appendf(&text, "{\"UnprocessedItems\":{\"odd\\\"table\":%s},\"ConsumedCapacity\":[{\"CapacityUnits\":1.5}]}",
                   reqs);
    dm_buf out;
    dm_buf_init(&out, 0);
    dm_buf_puts(&out, "kept:");
    ddb_batch_left left;
    dm_error err = {0};
    CHECK_INT(ddb_batch_unprocessed(&text, "odd\"table", "TOTAL", 0, 0.5, &out, &left, &err), DM_OK);
    CHECK_INT(left.n, 2);
    CHECK(left.units > 1.49 && left.units < 1.51);
    CHECK(strncmp(out.data, "kept:", 5) == 0); /* appended */
    json_t *body = json_loadb(out.data + 5, out.len - 5, JSON_ALLOW_NUL, NULL);
    CHECK(body != NULL);
    json_t *want = json_loads(reqs, JSON_ALLOW_NUL, NULL);
    CHECK(json_equal(json_object_get(json_object_get(body, "RequestItems"), "odd\"table"), want));
    CHECK_INT(json_object_size(json_object_get(body, "RequestItems")), 1);
    CHECK_STR(json_string_value(json_object_get(body, "ReturnConsumedCapacity")), "TOTAL");
    CHECK_INT(json_object_size(body), 2);
    json_decref(body);
    json_decref(want);
    /* The number keeps its digits as text. */
    CHECK(strstr(out.data, "\"12345678901234567890123456789012345678\"") != NULL);

    /* Without ReturnConsumedCapacity, the resend asks for none either. */
    dm_buf_reset(&out);
    CHECK_INT(ddb_batch_unprocessed(&text, "odd\"table", NULL, 0, 0.5, &out, &left, &err), DM_OK);
    CHECK(strstr(out.data, "ReturnConsumedCapacity") == NULL);
    CHECK(strncmp(out.data, "{\"RequestItems\":{\"odd\\\"table\":[", 31) == 0);
    dm_buf_cleanup(&out);
    dm_buf_cleanup(&text);
}

TEST(backoff_from_the_retry_policy)
{
    dm_buf a = answer("{\"UnprocessedItems\":{\"t\":[{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"x\"}}}}]}}");
    retry_policy pol = retry_policy_default();
    const double draws[] = {0.0, 0.25, 0.999};
    for (int resends = 0; resends < DDB_BATCH_MAX_RESENDS; resends += 7) {
        for (int d = 0; d < 3; d++) {
            dm_buf out;
            dm_buf_init(&out, 0);
            ddb_batch_left left;
            CHECK_INT(ddb_batch_unprocessed(&a, "t", "TOTAL", resends, draws[d], &out, &left, NULL), DM_OK);
            CHECK_INT(left.n, 1);
            CHECK_INT(left.delay_ms, retry_backoff_ms(&pol, resends + 1, draws[d]));
            CHECK(left.delay_ms <= pol.cap_ms);
            dm_buf_cleanup(&out);
        }
    }
    /* The first resend waits at most base x 2. */
    dm_buf out;
    dm_buf_init(&out, 0);
    ddb_batch_left left;
    CHECK_INT(ddb_batch_unprocessed(&a, "t", "TOTAL", 0, 0.999, &out, &left, NULL), DM_OK);
    CHECK(left.delay_ms >= 40 && left.delay_ms <= 2 * pol.base_ms);
    dm_buf_cleanup(&out);
    dm_buf_cleanup(&a);
}

TEST(gives_up_after_the_last_resend)
{
    dm_buf a = answer("{\"UnprocessedItems\":{\"t\":[{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"x\"}}}},"
                      "{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"y\"}}}}]}}");
    dm_buf out;
    dm_buf_init(&out, 0);
    ddb_batch_left left;
    dm_error err = {0};
    CHECK_INT(ddb_batch_unprocessed(&a, "t", "TOTAL", DDB_BATCH_MAX_RESENDS - 1, 0.5, &out, &left, &err), DM_OK);
    CHECK(out.len > 0);
    dm_buf_reset(&out);
    CHECK_INT(ddb_batch_unprocessed(&a, "t", "TOTAL", DDB_BATCH_MAX_RESENDS, 0.5, &out, &left, &err),
              DM_ERR_THROTTLED);
    CHECK_INT(left.n, 2);
    CHECK_INT(out.len, 0);
    CHECK_STR(err.message, "BatchWriteItem: 2 requests still unprocessed after 50 resends");
    /* Done on the last round is done. */
    dm_buf_cleanup(&a);
    a = answer("{\"UnprocessedItems\":{}}");
    CHECK_INT(ddb_batch_unprocessed(&a, "t", "TOTAL", DDB_BATCH_MAX_RESENDS, 0.5, &out, &left, &err), DM_OK);
    CHECK_INT(left.n, 0);
    dm_buf_cleanup(&out);
    dm_buf_cleanup(&a);
}

static const char *refusal(const char *text)
{
    static dm_error err;
    memset(&err, 0, sizeof err);
    dm_buf a = answer(text), out;
    dm_buf_init(&out, 0);
    ddb_batch_left left;
    int rc = ddb_batch_unprocessed(&a, "t", "TOTAL", 0, 0.5, &out, &left, &err);
    if (rc == DM_OK)
        snprintf(err.message, sizeof err.message, "accepted, %zu left", left.n);
    else if (rc != DM_ERR_PARSE || out.len != 0 || left.n != 0)
        snprintf(err.message, sizeof err.message, "rc %d, %zu bytes, %zu left", rc, out.len, left.n);
    dm_buf_cleanup(&a);
    dm_buf_cleanup(&out);
    return err.message;
}

TEST(malformed_answers_refused)
{
    CHECK_CONTAINS(refusal(""), "the answer is not a JSON object");
    CHECK_CONTAINS(refusal("{\"UnprocessedItems\":{\"t\":[}"), "the answer is not a JSON object");
    CHECK_CONTAINS(refusal("[1]"), "the answer is not a JSON object");
    CHECK_CONTAINS(refusal("{\"UnprocessedItems\":[]}"), "UnprocessedItems is not an object");
    CHECK_CONTAINS(refusal("{\"UnprocessedItems\":{\"t\":{}}}"), "is not an array");
    CHECK_CONTAINS(refusal("{\"UnprocessedItems\":{\"other\":[{\"PutRequest\":{}}]}}"),
                   "names a table this call did not write");
    CHECK_CONTAINS(refusal("{\"UnprocessedItems\":{\"t\":[{\"PutRequest\":{}},7]}}"),
                   "unprocessed request 1 is not a PutRequest or DeleteRequest");
    CHECK_CONTAINS(refusal("{\"UnprocessedItems\":{\"t\":[{\"GetRequest\":{}}]}}"), "unprocessed request 0");
    /* An empty list for another table is harmless. */
    CHECK_STR(refusal("{\"UnprocessedItems\":{\"other\":[]}}"), "accepted, 0 left");
    CHECK_STR(refusal("{\"UnprocessedItems\":null}"), "accepted, 0 left");
}

TEST(answer_read_as_json_not_searched)
{
    /* Text that looks like UnprocessedItems inside a value is a value. */
    CHECK_STR(refusal("{\"Note\":\"\\\"UnprocessedItems\\\":{\\\"t\\\":[{\\\"PutRequest\\\":{}}]}\","
                      "\"UnprocessedItems\":{}}"),
              "accepted, 0 left");
    CHECK_STR(refusal("{\"ConsumedCapacity\":[{\"TableName\":\"UnprocessedItems\",\"CapacityUnits\":1}],"
                      "\"UnprocessedItems\" : { \"t\" : [ {\"PutRequest\":{\"Item\":{}}} ] } }"),
              "accepted, 1 left");
}

/* BatchExecuteStatement: which statements were carried out, which failed
 * (throttles told apart), the capacity, and answers not so shaped. */
TEST(statement_answers)
{
    dm_error err = {0};
    unsigned char failed[4];
    double units;
    dm_buf a = answer("{\"Responses\":[{\"TableName\":\"t\"},{\"Error\":{\"Code\":\"ConditionalCheckFailed\","
                      "\"Message\":\"The conditional request failed\"},\"TableName\":\"t\"},"
                      "{\"Error\":{\"Code\":\"ThrottlingError\"}},{\"Error\":{\"Code\":\"ProvisionedThroughputExceeded\"},"
                      "\"Item\":{\"pk\":{\"S\":\"\\\"Error\\\"\"}}}],"
                      "\"ConsumedCapacity\":[{\"TableName\":\"t\",\"CapacityUnits\":2.0}]}");
    memset(failed, 9, sizeof failed);
    CHECK_INT(ddb_statements_answer(&a, 4, failed, &units, &err), DM_OK);
    CHECK_INT(failed[0], 0);
    CHECK_INT(failed[1], DDB_STATEMENT_FAILED);
    CHECK_INT(failed[2], DDB_STATEMENT_THROTTLED);
    CHECK_INT(failed[3], DDB_STATEMENT_THROTTLED);
    CHECK(units > 1.99 && units < 2.01);
    dm_buf_cleanup(&a);
    /* No ConsumedCapacity (DynamoDB Local): -1, not 0. An Error without a
     * code is a failure all the same. */
    a = answer("{\"Responses\":[{\"TableName\":\"t\"},{\"Error\":{}}]}");
    CHECK_INT(ddb_statements_answer(&a, 2, failed, &units, &err), DM_OK);
    CHECK_INT(failed[0], 0);
    CHECK_INT(failed[1], DDB_STATEMENT_FAILED);
    CHECK(units < 0);
    dm_buf_cleanup(&a);
    /* Not the statements sent, or not JSON: nothing is known carried out. */
    static const char *const bad[] = {
        "{\"Responses\":[{\"TableName\":\"t\"}]}",          /* one of two */
        "{\"Responses\":[{},{},{}]}",                       /* three of two */
        "{\"Responses\":[{\"TableName\":\"t\"},\"Error\"]}", /* not an object */
        "{\"Responses\":{}}", "[]", "{\"Responses\":[{},{}", "", "null",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        a = answer(bad[i]);
        CHECK_INT(ddb_statements_answer(&a, 2, failed, &units, &err), DM_ERR_PARSE);
        CHECK_CONTAINS(err.message, "BatchExecuteStatement");
        dm_buf_cleanup(&a);
    }
}
