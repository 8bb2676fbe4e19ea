/* Retry classification for each error class, backoff bounds and the
 * budget's accounting. */
#include "ddbmig/retry.h"
#include "test.h"

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
