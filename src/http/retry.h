/* Retry strategy in the manner of the AWS SDKs' standard mode: classify each
 * failed attempt, back off exponentially with full jitter, and spend from a
 * shared retry budget so that a failing endpoint is not hammered.
 *
 * Two departures, both because a bulk job would rather be slow than lose
 * items:
 *
 * - Throttling is the normal state of a bulk job running at a table's
 *   limit. It is retried with backoff (and reported to the rate limiter by
 *   the engine), does not drain the budget, and is counted apart from
 *   --max-attempts: a call gives up on throttling only after
 *   RETRY_MAX_THROTTLED throttled attempts.
 * - An empty budget does not fail the call, as it does in the SDKs: the
 *   retry waits between half the cap and the cap instead. Many calls
 *   failing at once (an outage) then slow to a trickle, and a run of a
 *   few percent of 5xx answers or dropped connections never turns into
 *   failed items. --max-attempts still ends a call that keeps failing. */
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
    int max_attempts;  /* including the first; throttled ones not counted; >= 1 */
    int base_ms;       /* DynamoDB's customary 25 */
    int cap_ms;        /* 20000 */
    int max_throttled; /* throttled attempts; 0: RETRY_MAX_THROTTLED */
} retry_policy;

#define RETRY_MAX_THROTTLED 50

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
 * budget is exhausted (retry_next then waits long before the retry) or the
 * class is not retried. *cost gets what was taken. */
DM_API bool retry_budget_acquire(retry_budget *b, retry_class c, int *cost);
/* After a success: refunds the cost taken for its retries, or adds one token
 * for a first-attempt success. */
DM_API void retry_budget_success(retry_budget *b, int cost_taken);
DM_API int retry_budget_tokens(retry_budget *b);

/* After a failed attempt of class c, the call's attempts so far (this one
 * included) and how many of them were throttled: returns true with
 * *delay_ms and the budget taken (*cost, to refund on success) when the
 * call is to be retried, false when the failure is final. b may be NULL
 * (no budget). */
DM_API bool retry_next(const retry_policy *p, retry_budget *b, retry_class c, int attempts, int throttled,
                       double r01, int64_t *delay_ms, int *cost);

/* A thread-safe xorshift generator for jitter; seed 0 picks one from time. */
DM_API double retry_random01(uint64_t *state);

#endif
