#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddbtest.h"

void ddbt_open(ddbt *t, const char *prefix)
{
    static int seq;
    const char *ep = test_ddb_endpoint();
    if (!ep) {
        fprintf(stderr, "DDBMIG_TEST_ENDPOINT is not set: skipped\n");
        exit(77);
    }
    memset(t, 0, sizeof *t);
    test_env_init(&t->env);
    test_env_set(&t->env, "AWS_ACCESS_KEY_ID", "AKIDLOCAL");
    test_env_set(&t->env, "AWS_SECRET_ACCESS_KEY", "local-secret");
    t->creds = creds_env_new(&t->env.env);
    ddb_options o = {.endpoint = ep, .region = "us-east-1", .creds = t->creds};
    t->shared = ddb_shared_new(&o, NULL);
    t->client = ddb_client_new(t->shared);
    snprintf(t->table, sizeof t->table, "%s_%d_%d", prefix, (int)getpid(), ++seq);
}

void ddbt_close(ddbt *t)
{
    if (t->client && t->table[0])
        ddb_delete_table(t->client, t->table, true, NULL);
    ddb_client_free(t->client);
    ddb_shared_free(t->shared);
    creds_provider_free(t->creds);
    test_env_cleanup(&t->env);
}

int ddbt_create(ddbt *t, const char *sort_key)
{
    json_t *req;
    if (sort_key)
        req = json_pack("{s:s, s:[{s:s,s:s},{s:s,s:s}], s:[{s:s,s:s},{s:s,s:s}], s:s}", "TableName", t->table,
                        "AttributeDefinitions", "AttributeName", "pk", "AttributeType", "S", "AttributeName",
                        sort_key, "AttributeType", "N", "KeySchema", "AttributeName", "pk", "KeyType", "HASH",
                        "AttributeName", sort_key, "KeyType", "RANGE", "BillingMode", "PAY_PER_REQUEST");
    else
        req = json_pack("{s:s, s:[{s:s,s:s}], s:[{s:s,s:s}], s:s}", "TableName", t->table, "AttributeDefinitions",
                        "AttributeName", "pk", "AttributeType", "S", "KeySchema", "AttributeName", "pk", "KeyType",
                        "HASH", "BillingMode", "PAY_PER_REQUEST");
    dm_error err = {0};
    int rc = ddb_create_table(t->client, req, &err);
    if (rc)
        fprintf(stderr, "create %s: %s\n", t->table, err.message);
    json_decref(req);
    return rc;
}

int ddbt_req(ddbt *t, const char *op, const char *fmt, json_t **out, dm_error *err, ...)
{
    va_list ap;
    va_start(ap, err);
    dm_buf b;
    dm_buf_init(&b, 0);
    char tmp[1];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(tmp, 1, fmt, ap2);
    va_end(ap2);
    dm_buf_reserve(&b, (size_t)n + 1);
    vsnprintf(b.data, (size_t)n + 1, fmt, ap);
    b.len = (size_t)n;
    va_end(ap);
    json_error_t je;
    json_t *req = json_loadb(b.data, b.len, 0, &je);
    dm_buf_cleanup(&b);
    if (!req) {
        fprintf(stderr, "bad test JSON: %s\n", je.text);
        return DM_ERR_PARSE;
    }
    int rc = ddb_request(t->client, op, t->table, req, out, err);
    json_decref(req);
    return rc;
}

int ddbt_fill(ddbt *t, int n)
{
    json_t *reqs = json_array();
    for (int i = 0; i < n; i++) {
        char pk[32], num[32];
        snprintf(pk, sizeof pk, "item-%d", i);
        snprintf(num, sizeof num, "%d", i);
        json_array_append_new(reqs, json_pack("{s:{s:{s:{s:s}, s:{s:s}, s:{s:s}}}}", "PutRequest", "Item", "pk",
                                              "S", pk, "n", "N", num, "payload", "S", "some text to scan"));
    }
    dm_error err = {0};
    int rc = ddb_batch_write_all(t->client, t->table, reqs, 20, &err);
    if (rc)
        fprintf(stderr, "fill: %s\n", err.message);
    json_decref(reqs);
    return rc;
}
