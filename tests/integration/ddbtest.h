/* Shared set-up for tests against DynamoDB Local: a client with dummy
 * credentials, unique table names, and small helpers. Exits 77 (skipped)
 * when no endpoint is configured. */
#ifndef DDBMIG_TESTS_DDBTEST_H
#define DDBMIG_TESTS_DDBTEST_H

#include <jansson.h>

#include "ddbmig/ddb.h"
#include "ddbmig/ddb_ops.h"
#include "testutil.h"

typedef struct ddbt {
    test_env env;
    creds_provider *creds;
    ddb_shared *shared;
    ddb_client *client;
    char table[64];
} ddbt;

/* Connects and picks a fresh table name with the given prefix. */
void ddbt_open(ddbt *t, const char *prefix);
void ddbt_close(ddbt *t);
/* Creates t->table with a string hash key "pk" and, when sort_key is not
 * NULL, a number range key of that name, on demand. */
int ddbt_create(ddbt *t, const char *sort_key);
/* ddb_request with a JSON text body; *out owned when not NULL. */
int ddbt_req(ddbt *t, const char *op, const char *body_fmt, json_t **out, dm_error *err, ...);
/* Puts n items {pk: "item-<i>", n: i, payload: "..."} with batch writes. */
int ddbt_fill(ddbt *t, int n);

#endif
