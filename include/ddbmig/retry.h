/* Retry strategy in the manner of the AWS SDKs' standard mode: classify each
 * failed attempt, back off exponentially with full jitter, and spend from a
 * shared retry budget so that a failing endpoint is not hammered.
 *
 * Throttling is the normal state of a bulk job running at a table's limit;
 * it is retried with backoff (and reported to the rate limiter by the
 * engine) but does not drain the budget, which is there for outages. */
#ifndef DDBMIG_RETRY_H
#define DDBMIG_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "ddbmig/common.h"
#include "ddbmig/http.h"

typedef enum retry_class {
    RETRY_SUCCESS = 0,
    RETRY_THROTTLE,  /* ProvisionedThroughputExceeded, Throttling, RequestLimitExceeded, 429 */
    RETRY_TRANSIENT, /* 5xx, connection reset or refused, CRC mismatch, TransactionConflict */
    RETRY_TIMEOUT,   /* a transient failure that costs more budget */
    RETRY_FATAL      /* everything else: validation, not found, access denied, ... */
} retry_class;

/* error_type is the service's __type without its namespace (may be NULL). */
DM_API retry_class retry_classify(long http_status, http_net_error net, const char *error_type, bool crc_mismatch);
DM_API const char *retry_class_name(retry_class c);

typedef struct retry_policy {
    int max_attempts; /* including the first; >= 1 */
    int base_ms;      /* DynamoDB's customary 25 */
    int cap_ms;       /* 20000 */
} retry_policy;

DM_API retry_policy retry_policy_default(void);

/* Delay before retry number `retry` (1 for the first retry): a uniform draw
 * from [0, min(cap, base * 2^retry)]; r01 is a uniform number in [0, 1). */
DM_API int64_t retry_backoff_ms(const retry_policy *p, int retry, double r01);

/* Thread-safe token bucket shared by every client of a run. */
typedef struct retry_budget retry_budget;

#define RETRY_BUDGET_CAPACITY 500
#define RETRY_COST 5
#define RETRY_TIMEOUT_COST 10

DM_API retry_budget *retry_budget_new(int capacity);
DM_API void retry_budget_free(retry_budget *b);
/* Takes the cost of retrying a failure of class c. Returns false when the
 * budget is exhausted (then the failure is final). *cost gets what was taken. */
DM_API bool retry_budget_acquire(retry_budget *b, retry_class c, int *cost);
/* After a success: refunds the cost taken for its retries, or adds one token
 * for a first-attempt success. */
DM_API void retry_budget_success(retry_budget *b, int cost_taken);
DM_API int retry_budget_tokens(retry_budget *b);

/* A thread-safe xorshift generator for jitter; seed 0 picks one from time. */
DM_API double retry_random01(uint64_t *state);

#endif
