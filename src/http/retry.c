/* Error classification, backoff and the retry budget. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "http/retry.h"

static bool is_one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

retry_class retry_classify(long status, http_net_error net, const char *type, bool crc_mismatch)
{
    static const char *const throttles[] = {
        "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
        "Throttling", "TooManyRequestsException", "RequestThrottled", "RequestThrottledException",
        "SlowDown", "ThrottledException", NULL};
    static const char *const transients[] = {
        "TransactionConflictException", "InternalServerError", "InternalFailure", "ServiceUnavailable",
        "RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete", "IDPCommunicationError",
        "ExpiredTokenException", NULL};
    switch (net) {
    case HTTP_NET_OK: break;
    case HTTP_NET_TIMEOUT: return RETRY_TIMEOUT;
    case HTTP_NET_CONNECT:
    case HTTP_NET_RESET: return RETRY_TRANSIENT;
    default: return RETRY_FATAL; /* unresolvable host, TLS failure: configuration */
    }
    if (crc_mismatch)
        return RETRY_TRANSIENT;
    if (status >= 200 && status < 300 && !type)
        return RETRY_SUCCESS;
    if (type && is_one_of(type, throttles))
        return RETRY_THROTTLE;
    if (type && is_one_of(type, transients))
        return RETRY_TRANSIENT;
    if (status == 429)
        return RETRY_THROTTLE;
    if (status >= 500 || status == 408)
        return RETRY_TRANSIENT;
    return RETRY_FATAL;
}

const char *retry_class_name(retry_class c)
{
    static const char *names[] = {"success", "throttling", "transient", "timeout", "fatal"};
    return (unsigned)c < 5 ? names[c] : "?";
}

retry_policy retry_policy_default(void)
{
    retry_policy p = {10, 25, 20000, RETRY_MAX_THROTTLED};
    return p;
}

int64_t retry_backoff_ms(const retry_policy *p, int retry, double r01)
{
    if (retry < 1)
        retry = 1;
    double ceiling = p->base_ms * ldexp(1.0, retry > 30 ? 30 : retry);
    if (ceiling > p->cap_ms)
        ceiling = p->cap_ms;
    return (int64_t)(r01 * ceiling);
}

struct retry_budget {
    pthread_mutex_t lock;
    int tokens, capacity;
};

retry_budget *retry_budget_new(int capacity)
{
    retry_budget *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    pthread_mutex_init(&b->lock, NULL);
    b->tokens = b->capacity = capacity > 0 ? capacity : RETRY_BUDGET_CAPACITY;
    return b;
}

void retry_budget_free(retry_budget *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->lock);
    free(b);
}

bool retry_budget_acquire(retry_budget *b, retry_class c, int *cost)
{
    *cost = 0;
    if (c == RETRY_FATAL || c == RETRY_SUCCESS)
        return false;
    if (!b || c == RETRY_THROTTLE)
        return true;
    int want = c == RETRY_TIMEOUT ? RETRY_TIMEOUT_COST : RETRY_COST;
    pthread_mutex_lock(&b->lock);
    bool ok = b->tokens >= want;
    if (ok) {
        b->tokens -= want;
        *cost = want;
    }
    pthread_mutex_unlock(&b->lock);
    return ok;
}

void retry_budget_success(retry_budget *b, int cost_taken)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->lock);
    b->tokens += cost_taken ? cost_taken : 1;
    if (b->tokens > b->capacity)
        b->tokens = b->capacity;
    pthread_mutex_unlock(&b->lock);
}

int retry_budget_tokens(retry_budget *b)
{
    pthread_mutex_lock(&b->lock);
    int t = b->tokens;
    pthread_mutex_unlock(&b->lock);
    return t;
}

bool retry_next(const retry_policy *p, retry_budget *b, retry_class c, int attempts, int throttled, double r01,
                int64_t *delay_ms, int *cost)
{
    *delay_ms = 0;
    *cost = 0;
    if (c == RETRY_FATAL || c == RETRY_SUCCESS)
        return false;
    if (c == RETRY_THROTTLE) {
        int max = p->max_throttled > 0 ? p->max_throttled : RETRY_MAX_THROTTLED;
        if (throttled >= max)
            return false;
    } else if (attempts - throttled >= p->max_attempts) {
        return false;
    }
    *delay_ms = retry_backoff_ms(p, attempts, r01);
    /* Spent budget: many calls are failing. Wait long rather than give up
     * (see retry.h). */
    if (!retry_budget_acquire(b, c, cost))
        *delay_ms = p->cap_ms / 2 + (int64_t)(r01 * (p->cap_ms / 2));
    return true;
}

double retry_random01(uint64_t *state)
{
    if (*state == 0)
        *state = (uint64_t)dm_monotonic_ms() * 0x9E3779B97F4A7C15ull | 1;
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return (double)(x >> 11) / 9007199254740992.0;
}
