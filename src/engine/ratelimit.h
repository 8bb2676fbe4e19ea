/* Capacity limiter: a token bucket of capacity units per second, fed by
 * what DynamoDB reports as consumed (ReturnConsumedCapacity), with AIMD
 * adaptation measured over one-second windows:
 *   - when more than 5 % of a window's requests were throttled, the
 *     allowed rate drops to 70 % of the rate achieved (never below a tenth
 *     of the best rate seen);
 *   - after two calm seconds it climbs back by 5 % a second, up to the
 *     configured cap, or without a cap is lifted once well above demand.
 * A few throttles are normal (burst and adaptive capacity smooth them) and
 * are left to the retries. Tokens are taken when a request is sent, not
 * when it is queued, so a changed limit applies at once. */
#ifndef DDBMIG_ENGINE_RATELIMIT_H
#define DDBMIG_ENGINE_RATELIMIT_H

#include <pthread.h>
#include <stdint.h>

typedef struct ratelimit {
    pthread_mutex_t mu;
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
