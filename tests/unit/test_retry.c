/* Retry classification for each error class, backoff bounds, the budget's
 * accounting, the attempt policy (throttles counted apart, an empty budget
 * slows rather than fails), the classes of ThrottlingReasons and the
 * client's throttle hook. */
#include <string.h>

#include "ddbmig/ddb.h"
#include "http/retry.h"
#include "test.h"
#include "testutil.h"

TEST(classify_throttling)
{
    CHECK_INT(retry_classify(400, HTTP_NET_OK, "ProvisionedThroughputExceededException", false), RETRY_THROTTLE);
    CHECK_INT(retry_classify(400, HTTP_NET_OK, "ThrottlingException", false), RETRY_THROTTLE);
    CHECK_INT(retry_classify(400, HTTP_NET_OK, "RequestLimitExceeded", false), RETRY_THROTTLE);
    CHECK_INT(retry_classify(429, HTTP_NET_OK, NULL, false), RETRY_THROTTLE);
}

TEST(classify_transient)
{
    CHECK_INT(retry_classify(500, HTTP_NET_OK, "InternalServerError", false), RETRY_TRANSIENT);
    CHECK_INT(retry_classify(503, HTTP_NET_OK, NULL, false), RETRY_TRANSIENT);
    CHECK_INT(retry_classify(502, HTTP_NET_OK, NULL, false), RETRY_TRANSIENT);
    CHECK_INT(retry_classify(400, HTTP_NET_OK, "TransactionConflictException", false), RETRY_TRANSIENT);
    CHECK_INT(retry_classify(0, HTTP_NET_RESET, NULL, false), RETRY_TRANSIENT);
    CHECK_INT(retry_classify(0, HTTP_NET_CONNECT, NULL, false), RETRY_TRANSIENT);
    CHECK_INT(retry_classify(0, HTTP_NET_TIMEOUT, NULL, false), RETRY_TIMEOUT);
    /* A 200 whose body fails its checksum was damaged on the way. */
    CHECK_INT(retry_classify(200, HTTP_NET_OK, NULL, true), RETRY_TRANSIENT);
}

TEST(classify_fatal)
{
    CHECK_INT(retry_classify(400, HTTP_NET_OK, "ValidationException", false), RETRY_FATAL);
    CHECK_INT(retry_classify(400, HTTP_NET_OK, "ResourceNotFoundException", false), RETRY_FATAL);
    CHECK_INT(retry_classify(400, HTTP_NET_OK, "ConditionalCheckFailedException", false), RETRY_FATAL);
    CHECK_INT(retry_classify(400, HTTP_NET_OK, "AccessDeniedException", false), RETRY_FATAL);
    CHECK_INT(retry_classify(400, HTTP_NET_OK, "UnrecognizedClientException", false), RETRY_FATAL);
    CHECK_INT(retry_classify(0, HTTP_NET_RESOLVE, NULL, false), RETRY_FATAL);
    CHECK_INT(retry_classify(0, HTTP_NET_TLS, NULL, false), RETRY_FATAL);
    CHECK_INT(retry_classify(200, HTTP_NET_OK, NULL, false), RETRY_SUCCESS);
}

TEST(backoff_full_jitter_bounds)
{
    retry_policy p = retry_policy_default();
    CHECK_INT(p.base_ms, 25);
    CHECK_INT(p.cap_ms, 20000);
    CHECK_INT(retry_backoff_ms(&p, 1, 0.0), 0);
    CHECK_INT(retry_backoff_ms(&p, 1, 0.999999), 49);
    CHECK_INT(retry_backoff_ms(&p, 3, 0.5), 100);
    CHECK_INT(retry_backoff_ms(&p, 20, 0.999999), 19999);
    CHECK_INT(retry_backoff_ms(&p, 1000, 0.5), 10000);
    uint64_t st = 42;
    double lo = 1, hi = 0;
    for (int i = 0; i < 10000; i++) {
        double r = retry_random01(&st);
        CHECK(r >= 0 && r < 1);
        lo = r < lo ? r : lo;
        hi = r > hi ? r : hi;
    }
    CHECK(lo < 0.01 && hi > 0.99);
}

TEST(budget_accounting)
{
    retry_budget *b = retry_budget_new(20);
    int cost;
    CHECK(retry_budget_acquire(b, RETRY_TRANSIENT, &cost));
    CHECK_INT(cost, RETRY_COST);
    CHECK(retry_budget_acquire(b, RETRY_TIMEOUT, &cost));
    CHECK_INT(cost, RETRY_TIMEOUT_COST);
    CHECK_INT(retry_budget_tokens(b), 5);
    CHECK(!retry_budget_acquire(b, RETRY_TIMEOUT, &cost));
    CHECK_INT(cost, 0);
    /* Throttling does not drain the budget; fatal errors are never retried. */
    CHECK(retry_budget_acquire(b, RETRY_THROTTLE, &cost));
    CHECK_INT(cost, 0);
    CHECK(!retry_budget_acquire(b, RETRY_FATAL, &cost));
    retry_budget_success(b, RETRY_TIMEOUT_COST);
    CHECK_INT(retry_budget_tokens(b), 15);
    retry_budget_success(b, 0);
    CHECK_INT(retry_budget_tokens(b), 16);
    for (int i = 0; i < 100; i++)
        retry_budget_success(b, 0);
    CHECK_INT(retry_budget_tokens(b), 20);
    retry_budget_free(b);
}

TEST(throttles_are_counted_apart_from_max_attempts)
{
    retry_policy p = retry_policy_default();
    p.max_attempts = 3;
    int64_t delay;
    int cost;
    /* 20 attempts, 19 of them throttled: a transient failure may still be
     * retried, as only one attempt failed otherwise. */
    CHECK(retry_next(&p, NULL, RETRY_TRANSIENT, 20, 19, 0.5, &delay, &cost));
    CHECK(retry_next(&p, NULL, RETRY_THROTTLE, 20, 20, 0.5, &delay, &cost));
    CHECK_INT(cost, 0);
    CHECK(!retry_next(&p, NULL, RETRY_TRANSIENT, 5, 2, 0.5, &delay, &cost)); /* third failure */
    CHECK(!retry_next(&p, NULL, RETRY_THROTTLE, RETRY_MAX_THROTTLED, RETRY_MAX_THROTTLED, 0.5, &delay, &cost));
    p.max_throttled = 4;
    CHECK(retry_next(&p, NULL, RETRY_THROTTLE, 3, 3, 0.5, &delay, &cost));
    CHECK(!retry_next(&p, NULL, RETRY_THROTTLE, 4, 4, 0.5, &delay, &cost));
    CHECK(!retry_next(&p, NULL, RETRY_FATAL, 1, 0, 0.5, &delay, &cost));
    CHECK(!retry_next(&p, NULL, RETRY_SUCCESS, 1, 0, 0.5, &delay, &cost));
}

TEST(an_empty_budget_slows_instead_of_failing)
{
    retry_policy p = retry_policy_default();
    retry_budget *b = retry_budget_new(10);
    int64_t delay;
    int cost;
    CHECK(retry_next(&p, b, RETRY_TRANSIENT, 1, 0, 0.5, &delay, &cost));
    CHECK_INT(cost, RETRY_COST);
    CHECK_INT(delay, 25);
    CHECK(retry_next(&p, b, RETRY_TRANSIENT, 1, 0, 0.5, &delay, &cost));
    CHECK_INT(retry_budget_tokens(b), 0);
    /* Spent: still retried, after half the cap or more, at no cost. */
    CHECK(retry_next(&p, b, RETRY_TRANSIENT, 1, 0, 0.0, &delay, &cost));
    CHECK_INT(cost, 0);
    CHECK_INT(delay, p.cap_ms / 2);
    CHECK(retry_next(&p, b, RETRY_TIMEOUT, 2, 0, 0.999, &delay, &cost));
    CHECK(delay >= p.cap_ms / 2 && delay < p.cap_ms);
    /* Throttling never spent the budget and is not slowed by its end. */
    CHECK(retry_next(&p, b, RETRY_THROTTLE, 1, 1, 0.5, &delay, &cost));
    CHECK_INT(delay, 25);
    retry_budget_free(b);
}

/* Calls under a fault mix like the benchmark's (per attempt: 10 %
 * throttled, 2 % 5xx, 2 % dropped, the rest served), with the default
 * policy and a shared budget: none fails, and the budget never runs dry
 * (so no retry waits the long way either). Then an outage: every attempt
 * fails for a while; the budget empties, the calls slow down, and once the
 * outage ends they all complete. */
TEST(fault_mix_fails_no_call)
{
    retry_policy p = retry_policy_default();
    retry_budget *b = retry_budget_new(RETRY_BUDGET_CAPACITY);
    uint64_t rng = 7;
    int failed = 0, slowed = 0, lowest = RETRY_BUDGET_CAPACITY;
    for (int call = 0; call < 20000; call++) {
        int attempts = 0, throttled = 0, taken = 0;
        for (;;) {
            double x = retry_random01(&rng);
            retry_class c = x < 0.10 ? RETRY_THROTTLE : x < 0.14 ? RETRY_TRANSIENT : RETRY_SUCCESS;
            attempts++;
            throttled += c == RETRY_THROTTLE;
            if (c == RETRY_SUCCESS) {
                retry_budget_success(b, taken);
                break;
            }
            int64_t delay;
            int cost;
            if (!retry_next(&p, b, c, attempts, throttled, retry_random01(&rng), &delay, &cost)) {
                failed++;
                break;
            }
            taken += cost;
            slowed += delay >= p.cap_ms / 2;
            int t = retry_budget_tokens(b);
            lowest = t < lowest ? t : lowest;
        }
    }
    CHECK_INT(failed, 0);
    CHECK_INT(slowed, 0);
    CHECK(lowest > RETRY_BUDGET_CAPACITY / 2);

    /* The outage: 300 calls in flight each fail three times in a row. */
    int waited_long = 0;
    for (int call = 0; call < 300; call++) {
        for (int attempt = 1; attempt <= 3; attempt++) {
            int64_t delay;
            int cost;
            CHECK(retry_next(&p, b, RETRY_TRANSIENT, attempt, 0, 0.5, &delay, &cost));
            waited_long += delay >= p.cap_ms / 2;
        }
    }
    CHECK(waited_long > 0);
    CHECK_INT(retry_budget_tokens(b), 0);
    retry_budget_free(b);
}

TEST(throttling_reasons_are_classified)
{
    static const struct {
        const char *reason;
        ddb_throttle_class cls;
        bool write, index;
    } cases[] = {
        {"TableReadProvisionedThroughputExceeded", DDB_THROTTLE_CAPACITY, false, false},
        {"TableWriteProvisionedThroughputExceeded", DDB_THROTTLE_CAPACITY, true, false},
        {"IndexReadProvisionedThroughputExceeded", DDB_THROTTLE_CAPACITY, false, true},
        {"IndexWriteProvisionedThroughputExceeded", DDB_THROTTLE_CAPACITY, true, true},
        {"TableReadAccountLimitExceeded", DDB_THROTTLE_CAPACITY, false, false},
        {"TableWriteAccountLimitExceeded", DDB_THROTTLE_CAPACITY, true, false},
        {"IndexReadAccountLimitExceeded", DDB_THROTTLE_CAPACITY, false, true},
        {"IndexWriteAccountLimitExceeded", DDB_THROTTLE_CAPACITY, true, true},
        {"TableReadMaxOnDemandThroughputExceeded", DDB_THROTTLE_CAPACITY, false, false},
        {"TableWriteMaxOnDemandThroughputExceeded", DDB_THROTTLE_CAPACITY, true, false},
        {"IndexReadMaxOnDemandThroughputExceeded", DDB_THROTTLE_CAPACITY, false, true},
        {"IndexWriteMaxOnDemandThroughputExceeded", DDB_THROTTLE_CAPACITY, true, true},
        {"TableReadKeyRangeThroughputExceeded", DDB_THROTTLE_KEY_RANGE, false, false},
        {"TableWriteKeyRangeThroughputExceeded", DDB_THROTTLE_KEY_RANGE, true, false},
        {"IndexReadKeyRangeThroughputExceeded", DDB_THROTTLE_KEY_RANGE, false, true},
        {"IndexWriteKeyRangeThroughputExceeded", DDB_THROTTLE_KEY_RANGE, true, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* The operation does not override what the reason says. */
        ddb_throttle t = ddb_throttle_classify(cases[i].write ? "Scan" : "UpdateItem", &cases[i].reason, 1);
        if (t.cls != cases[i].cls || t.write != cases[i].write || t.index != cases[i].index)
            fprintf(stderr, "reason %s\n", cases[i].reason);
        CHECK_INT(t.cls, cases[i].cls);
        CHECK_INT(t.write, cases[i].write);
        CHECK_INT(t.index, cases[i].index);
    }
}

TEST(throttling_without_known_reasons)
{
    ddb_throttle t = ddb_throttle_classify("UpdateItem", NULL, 0);
    CHECK_INT(t.cls, DDB_THROTTLE_UNKNOWN);
    CHECK(t.write);
    static const char *const reads[] = {"Scan", "Query", "GetItem", "BatchGetItem", "TransactGetItems"};
    for (size_t i = 0; i < 5; i++)
        CHECK(!ddb_throttle_classify(reads[i], NULL, 0).write);
    CHECK(ddb_throttle_classify("BatchWriteItem", NULL, 0).write);
    CHECK(ddb_throttle_classify("TransactWriteItems", NULL, 0).write);
    /* Reasons this version does not know, or malformed, count as none. */
    const char *odd[] = {"TableWriteSomethingNewExceeded", "Table", "", NULL, "GlobalWriteProvisionedThroughputExceeded"};
    t = ddb_throttle_classify("GetItem", odd, 5);
    CHECK_INT(t.cls, DDB_THROTTLE_UNKNOWN);
    CHECK(!t.write);
}

TEST(capacity_outranks_a_key_range)
{
    const char *both[] = {"IndexWriteKeyRangeThroughputExceeded", "TableWriteProvisionedThroughputExceeded"};
    ddb_throttle t = ddb_throttle_classify("PutItem", both, 2);
    CHECK_INT(t.cls, DDB_THROTTLE_CAPACITY);
    CHECK(t.write);
    CHECK(!t.index);
    const char *ranges[] = {"TableReadKeyRangeThroughputExceeded", "IndexReadKeyRangeThroughputExceeded"};
    t = ddb_throttle_classify("Query", ranges, 2);
    CHECK_INT(t.cls, DDB_THROTTLE_KEY_RANGE);
    CHECK(t.index);
}

/* The hook sees the class of an answer's reasons and the call, and its
 * answer holds the retry back. */
typedef struct seen {
    int n;
    ddb_throttle t;
    const char *op;
    void *user;
    int64_t hold_ms;
} seen;

static int64_t record(void *ud, const ddb_call *call, ddb_throttle t)
{
    seen *s = ud;
    s->n++;
    s->t = t;
    s->op = call->op;
    s->user = call->user;
    return s->hold_ms;
}

TEST(client_hook_gets_the_class_and_holds_the_retry)
{
    char url[64];
    pid_t pid = test_fake_start("ddb-throttle", NULL, url);
    CHECK(pid > 0);
    test_env env;
    test_env_init(&env);
    test_env_set(&env, "AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
    test_env_set(&env, "AWS_SECRET_ACCESS_KEY", "secret");
    creds_provider *cp = creds_env_new(&env.env);
    ddb_options o = {.endpoint = url, .region = "us-east-1", .creds = cp, .max_throttled_attempts = 2};
    ddb_shared *sh = ddb_shared_new(&o, NULL);
    ddb_client *c = ddb_client_new(sh);
    seen s = {.hold_ms = 60000};
    ddb_shared_on_throttle(sh, record, &s);
    ddb_call call;
    ddb_call_init(&call, "UpdateItem", "orders");
    call.user = &s;
    dm_buf_puts(&call.body, "{}");
    ddb_client_start(c, &call);
    /* The first answer comes; its retry is held for a minute, so after a
     * few short waits the call is still waiting, not sent again. */
    ddb_call *done = NULL;
    for (int i = 0; i < 5 && !done && s.n == 0; i++)
        ddb_client_wait(c, 200, &done);
    for (int i = 0; i < 3 && !done; i++)
        ddb_client_wait(c, 100, &done);
    int attempts = call.attempts;
    size_t pending = ddb_client_pending(c);
    ddb_client_free(c); /* drops the waiting call */
    ddb_call_cleanup(&call);
    ddb_shared_free(sh);
    creds_provider_free(cp);
    test_fake_stop(pid);
    test_env_cleanup(&env);
    CHECK(done == NULL);
    CHECK_INT(s.n, 1);
    CHECK_INT(attempts, 1);
    CHECK_INT(pending, 1);
    CHECK_INT(s.t.cls, DDB_THROTTLE_KEY_RANGE);
    CHECK(s.t.write);
    CHECK(s.t.index);
    CHECK_STR(s.op, "UpdateItem");
    CHECK(s.user == &s);
}
