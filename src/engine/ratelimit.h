/* Capacity limiter: a token bucket of capacity units per second, fed by
 * what DynamoDB reports as consumed (ReturnConsumedCapacity), with one of
 * two adaptations to throttling:
 *
 * RL_AIMD is the default (rl_init); bench/limiter-sim measures both.
 *
 * RL_CUBIC: nothing is
 * limited (beyond the cap) until a request is throttled. Then the rate
 * drops to 70 % of the rate achieved, which becomes max_rate, and climbs
 * back along rate(t) = 0.4 (t - K)^3 + max_rate, K = cbrt(max_rate * 0.3 /
 * 0.4), t seconds since the cut: fast at first, flat near the rate that
 * was throttled, then probing above it. It never exceeds twice the rate
 * achieved (so it follows demand), the cap, or falls below a tenth of the
 * best rate seen. Throttles within 200 ms of a cut are answers to requests
 * sent before it and do not cut again. This is the scheme of the AWS SDKs'
 * adaptive retry mode, applied to capacity units rather than requests.
 *
 * RL_AIMD: over one-second windows, when more than 5 % of the requests
 * were throttled the rate drops to 70 % of the rate achieved; after two
 * calm seconds it climbs by 5 % a second, and without a cap is lifted once
 * well above demand.
 *
 * Tokens are taken when a request is sent, not when it is queued, so a
 * changed limit applies at once. */
#ifndef DDBMIG_ENGINE_RATELIMIT_H
#define DDBMIG_ENGINE_RATELIMIT_H

#include <pthread.h>
#include <stdint.h>

typedef enum rl_mode { RL_CUBIC = 0, RL_AIMD } rl_mode;

typedef struct ratelimit {
    pthread_mutex_t mu;
    rl_mode mode;
    int64_t (*clock_ms)(void); /* dm_monotonic_ms; tests pass their own */
    double cap;          /* configured maximum; 0: none */
    double limit;        /* current allowed rate; 0: unlimited */
    double tokens;
    int64_t last_ms;
    double window_units; /* consumed in the current 1 s window */
    long window_requests, window_throttles;
    int64_t window_start_ms;
    double observed;     /* units per second, smoothed */
    double peak;         /* highest smoothed rate seen */
    int64_t last_cut_ms;
    double max_rate;     /* CUBIC: the rate when last throttled */
    int64_t last_raise_ms;
    long long throttles, cuts;
} ratelimit;

void rl_init(ratelimit *r, double cap);
void rl_destroy(ratelimit *r);
/* Takes units and returns 0 when the bucket has any tokens left (a large
 * request may take it below zero); otherwise takes nothing and returns how
 * long (ms) to wait before asking again. */
int64_t rl_acquire(ratelimit *r, double units);
/* A request completed: corrects its reservation with what DynamoDB
 * reported it consumed. */
void rl_settle(ratelimit *r, double reserved, double actual);
/* An attempt was throttled. */
void rl_throttled(ratelimit *r);
/* Current limit (0: unlimited). */
double rl_limit(ratelimit *r);

#endif
