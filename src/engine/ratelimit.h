/* Capacity limiter: a token bucket of capacity units per second, fed by
 * what DynamoDB reports as consumed (ReturnConsumedCapacity), with AIMD
 * adaptation: on throttling the allowed rate drops to 70 % of what was
 * being achieved, then climbs back by 5 % a second while calm. */
#ifndef DDBMIG_ENGINE_RATELIMIT_H
#define DDBMIG_ENGINE_RATELIMIT_H

#include <pthread.h>
#include <stdint.h>

typedef struct ratelimit {
    pthread_mutex_t mu;
    double cap;          /* configured maximum; 0: none */
    double limit;        /* current allowed rate; 0: unlimited */
    double tokens;
    int64_t last_ms;
    double window_units; /* consumed in the current 1 s window */
    int64_t window_start_ms;
    double observed;     /* units per second, smoothed */
    int64_t last_throttle_ms;
    int64_t last_raise_ms;
    long long throttles;
} ratelimit;

void rl_init(ratelimit *r, double cap);
void rl_destroy(ratelimit *r);
/* Takes units now; returns how long (ms) the caller must wait before
 * sending so that the rate holds (0: send now). */
int64_t rl_reserve(ratelimit *r, double units);
/* Corrects a reservation with what DynamoDB reported. */
void rl_settle(ratelimit *r, double reserved, double actual);
void rl_throttled(ratelimit *r);
/* Current limit (0: unlimited) for progress lines. */
double rl_limit(ratelimit *r);

#endif
