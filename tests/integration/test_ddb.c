/* The DynamoDB client against DynamoDB Local: tables, item calls with
 * conditions, batch writes, transactions and parallel scans. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddbtest.h"
#include "test.h"

TEST(create_describe_delete)
{
    ddbt t;
    ddbt_open(&t, "it_describe");
    json_t *req = json_pack(
        "{s:s, s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}], s:[{s:s,s:s},{s:s,s:s}], s:s, s:{s:i,s:i},"
        " s:[{s:s, s:[{s:s,s:s}], s:{s:s}, s:{s:i,s:i}}]}",
        "TableName", t.table, "AttributeDefinitions", "AttributeName", "pk", "AttributeType", "S", "AttributeName",
        "sk", "AttributeType", "N", "AttributeName", "status", "AttributeType", "S", "KeySchema", "AttributeName",
        "pk", "KeyType", "HASH", "AttributeName", "sk", "KeyType", "RANGE", "BillingMode", "PROVISIONED",
        "ProvisionedThroughput", "ReadCapacityUnits", 7, "WriteCapacityUnits", 3, "GlobalSecondaryIndexes",
        "IndexName", "byStatus", "KeySchema", "AttributeName", "status", "KeyType", "HASH", "Projection",
        "ProjectionType", "KEYS_ONLY", "ProvisionedThroughput", "ReadCapacityUnits", 2, "WriteCapacityUnits", 1);
    dm_error err = {0};
    int rc = ddb_create_table(t.client, req, &err);
    json_decref(req);
    CHECK_INT(rc, DM_OK);
    ddb_table_desc d;
    CHECK_INT(ddb_describe_table(t.client, t.table, &d, &err), DM_OK);
    CHECK_STR(d.name, t.table);
    CHECK_STR(d.status, "ACTIVE");
    CHECK_STR(d.hash.name, "pk");
    CHECK_STR(d.hash.type, "S");
    CHECK(d.has_range);
    CHECK_STR(d.range.name, "sk");
    CHECK_STR(d.range.type, "N");
    CHECK_STR(d.billing_mode, "PROVISIONED");
    CHECK_INT(d.read_units, 7);
    CHECK_INT(d.write_units, 3);
    CHECK_INT(d.n_gsis, 1);
    CHECK_STR(d.gsis[0].name, "byStatus");
    CHECK_STR(d.gsis[0].hash.name, "status");
    CHECK_STR(d.gsis[0].projection, "KEYS_ONLY");
    ddb_table_desc_cleanup(&d);

    /* UpdateTable: new provisioned capacity. */
    CHECK_INT(ddbt_req(&t, "UpdateTable",
                       "{\"TableName\":\"%s\",\"ProvisionedThroughput\":{\"ReadCapacityUnits\":11,"
                       "\"WriteCapacityUnits\":12}}",
                       NULL, &err, t.table),
              DM_OK);
    CHECK_INT(ddb_wait_table(t.client, t.table, false, 60, &err), DM_OK);
    CHECK_INT(ddb_describe_table(t.client, t.table, &d, &err), DM_OK);
    CHECK_INT(d.read_units, 11);
    CHECK_INT(d.write_units, 12);
    ddb_table_desc_cleanup(&d);

    CHECK_INT(ddb_delete_table(t.client, t.table, false, &err), DM_OK);
    CHECK(ddb_describe_table(t.client, t.table, &d, &err) != DM_OK);
    CHECK_STR(err.type, "ResourceNotFoundException");
    ddbt_close(&t);
}

TEST(missing_table_message)
{
    ddbt t;
    ddbt_open(&t, "it_missing");
    ddb_table_desc d;
    dm_error err = {0};
    CHECK_INT(ddb_describe_table(t.client, t.table, &d, &err), DM_ERR_SERVICE);
    char want[200];
    snprintf(want, sizeof want, "ResourceNotFoundException: Cannot do operations on a non-existent table (table '%s', us-east-1)",
             t.table);
    CHECK_STR(err.message, want);
    CHECK_INT(err.attempts, 1);
    ddbt_close(&t);
}

TEST(items_with_conditions)
{
    ddbt t;
    ddbt_open(&t, "it_items");
    CHECK_INT(ddbt_create(&t, NULL), DM_OK);
    dm_error err = {0};
    json_t *out = NULL;
    const char *put = "{\"TableName\":\"%s\",\"Item\":{\"pk\":{\"S\":\"a\"},\"v\":{\"N\":\"1\"}},"
                      "\"ConditionExpression\":\"attribute_not_exists(pk)\"}";
    CHECK_INT(ddbt_req(&t, "PutItem", put, NULL, &err, t.table), DM_OK);
    CHECK_INT(ddbt_req(&t, "PutItem", put, NULL, &err, t.table), DM_ERR_SERVICE);
    CHECK_STR(err.type, "ConditionalCheckFailedException");

    const char *upd = "{\"TableName\":\"%s\",\"Key\":{\"pk\":{\"S\":\"a\"}},"
                      "\"UpdateExpression\":\"SET #v = :new\",\"ConditionExpression\":\"#v = :old\","
                      "\"ExpressionAttributeNames\":{\"#v\":\"v\"},"
                      "\"ExpressionAttributeValues\":{\":old\":{\"N\":\"%s\"},\":new\":{\"N\":\"2\"}},"
                      "\"ReturnValuesOnConditionCheckFailure\":\"ALL_OLD\"}";
    CHECK_INT(ddbt_req(&t, "UpdateItem", upd, NULL, &err, t.table, "1"), DM_OK);
    /* The stale guard fails, and the current item comes back with it. */
    ddb_call call;
    ddb_call_init(&call, "UpdateItem", t.table);
    dm_buf_appendf(&call.body, upd, t.table, "1");
    CHECK_INT(ddb_client_run(t.client, &call), DM_ERR_SERVICE);
    CHECK_STR(call.err.type, "ConditionalCheckFailedException");
    CHECK_CONTAINS(dm_buf_cstr(&call.response), "\"Item\"");
    CHECK_CONTAINS(dm_buf_cstr(&call.response), "\"2\"");
    ddb_call_cleanup(&call);

    CHECK_INT(ddbt_req(&t, "GetItem",
                       "{\"TableName\":\"%s\",\"Key\":{\"pk\":{\"S\":\"a\"}},\"ConsistentRead\":true}", &out, &err,
                       t.table),
              DM_OK);
    CHECK_STR(json_string_value(json_object_get(json_object_get(json_object_get(out, "Item"), "v"), "N")), "2");
    json_decref(out);

    const char *del = "{\"TableName\":\"%s\",\"Key\":{\"pk\":{\"S\":\"a\"}},\"ConditionExpression\":\"v = :x\","
                      "\"ExpressionAttributeValues\":{\":x\":{\"N\":\"%s\"}}}";
    CHECK_INT(ddbt_req(&t, "DeleteItem", del, NULL, &err, t.table, "1"), DM_ERR_SERVICE);
    CHECK_INT(ddbt_req(&t, "DeleteItem", del, NULL, &err, t.table, "2"), DM_OK);
    CHECK_INT(ddbt_req(&t, "GetItem", "{\"TableName\":\"%s\",\"Key\":{\"pk\":{\"S\":\"a\"}}}", &out, &err, t.table),
              DM_OK);
    CHECK(json_object_get(out, "Item") == NULL);
    json_decref(out);
    ddbt_close(&t);
}

TEST(transactions)
{
    ddbt t;
    ddbt_open(&t, "it_tx");
    CHECK_INT(ddbt_create(&t, NULL), DM_OK);
    dm_error err = {0};
    CHECK_INT(ddbt_req(&t, "PutItem", "{\"TableName\":\"%s\",\"Item\":{\"pk\":{\"S\":\"old\"}}}", NULL, &err, t.table),
              DM_OK);
    /* A key change: put the new item, delete the old one, both guarded. */
    const char *tx = "{\"TransactItems\":[{\"Put\":{\"TableName\":\"%s\",\"Item\":{\"pk\":{\"S\":\"new\"}},"
                     "\"ConditionExpression\":\"attribute_not_exists(pk)\"}},"
                     "{\"Delete\":{\"TableName\":\"%s\",\"Key\":{\"pk\":{\"S\":\"old\"}},"
                     "\"ConditionExpression\":\"attribute_exists(pk)\"}}]}";
    CHECK_INT(ddbt_req(&t, "TransactWriteItems", tx, NULL, &err, t.table, t.table), DM_OK);
    ddb_call call;
    ddb_call_init(&call, "TransactWriteItems", t.table);
    dm_buf_appendf(&call.body, tx, t.table, t.table);
    CHECK_INT(ddb_client_run(t.client, &call), DM_ERR_SERVICE);
    CHECK_STR(call.err.type, "TransactionCanceledException");
    CHECK_CONTAINS(dm_buf_cstr(&call.response), "ConditionalCheckFailed");
    CHECK_INT(call.attempts, 1);
    ddb_call_cleanup(&call);
    json_t *out = NULL;
    CHECK_INT(ddbt_req(&t, "Scan", "{\"TableName\":\"%s\",\"ConsistentRead\":true}", &out, &err, t.table), DM_OK);
    CHECK_INT(json_integer_value(json_object_get(out, "Count")), 1);
    json_t *first = json_array_get(json_object_get(out, "Items"), 0);
    CHECK_STR(json_string_value(json_object_get(json_object_get(first, "pk"), "S")), "new");
    json_decref(out);
    ddbt_close(&t);
}

TEST(batch_write_then_count)
{
    ddbt t;
    ddbt_open(&t, "it_batch");
    CHECK_INT(ddbt_create(&t, NULL), DM_OK);
    CHECK_INT(ddbt_fill(&t, 103), DM_OK);
    json_t *out = NULL;
    dm_error err = {0};
    CHECK_INT(ddbt_req(&t, "Scan", "{\"TableName\":\"%s\",\"Select\":\"COUNT\"}", &out, &err, t.table), DM_OK);
    CHECK_INT(json_integer_value(json_object_get(out, "Count")), 103);
    json_decref(out);
    ddbt_close(&t);
}

/* Every segment's pages run concurrently on one client. */
typedef struct seg_state {
    ddb_call call;
    int segment;
    int pages;
    bool done;
} seg_state;

static int start_page(ddbt *t, seg_state *s, int total, const char *start_key)
{
    ddb_call_cleanup(&s->call);
    ddb_call_init(&s->call, "Scan", t->table);
    s->call.user = s;
    ddb_scan_params p = {.table = t->table, .segment = s->segment, .total_segments = total,
                         .exclusive_start_key = start_key, .limit = 37, .return_consumed_capacity = true};
    int rc = ddb_scan_body(&p, &s->call.body);
    return rc ? rc : ddb_client_start(t->client, &s->call);
}

TEST(segmented_scan_exactly_once)
{
    enum { N = 1000, SEGS = 7 };
    ddbt t;
    ddbt_open(&t, "it_scan");
    CHECK_INT(ddbt_create(&t, NULL), DM_OK);
    CHECK_INT(ddbt_fill(&t, N), DM_OK);
    static int seen[N];
    memset(seen, 0, sizeof seen);
    seg_state segs[SEGS];
    memset(segs, 0, sizeof segs);
    for (int i = 0; i < SEGS; i++) {
        segs[i].segment = i;
        CHECK_INT(start_page(&t, &segs[i], SEGS, NULL), DM_OK);
    }
    int open = SEGS, total = 0, max_in_flight = 0;
    while (open > 0) {
        int inflight = (int)ddb_client_pending(t.client);
        max_in_flight = inflight > max_in_flight ? inflight : max_in_flight;
        ddb_call *done = NULL;
        CHECK_INT(ddb_client_wait(t.client, 1000, &done), DM_OK);
        if (!done)
            continue;
        seg_state *s = done->user;
        CHECK_INT(done->rc, DM_OK);
        json_t *page = json_loads(dm_buf_cstr(&done->response), 0, NULL);
        CHECK(page != NULL);
        CHECK(json_object_get(page, "ConsumedCapacity") != NULL);
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(page, "Items"), i, it) {
            int n = atoi(json_string_value(json_object_get(json_object_get(it, "n"), "N")));
            CHECK(n >= 0 && n < N);
            seen[n]++;
            total++;
        }
        s->pages++;
        json_t *lek = json_object_get(page, "LastEvaluatedKey");
        if (lek) {
            char *k = json_dumps(lek, JSON_COMPACT);
            CHECK_INT(start_page(&t, s, SEGS, k), DM_OK);
            free(k);
        } else {
            s->done = true;
            open--;
        }
        json_decref(page);
    }
    CHECK_INT(total, N);
    for (int i = 0; i < N; i++)
        CHECK_INT(seen[i], 1);
    int pages = 0;
    for (int i = 0; i < SEGS; i++) {
        pages += segs[i].pages;
        ddb_call_cleanup(&segs[i].call);
    }
    CHECK(pages >= N / 37);
    CHECK(max_in_flight > 1);
    ddbt_close(&t);
}
