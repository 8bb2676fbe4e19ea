/* AIMD token bucket; see ratelimit.h. */
#include <math.h>
#include <string.h>

#include "ddbmig/common.h"
#include "ratelimit.h"

void rl_init(ratelimit *r, double cap)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->cap = cap > 0 ? cap : 0;
    r->limit = r->cap;
    r->tokens = r->cap; /* one second of burst */
    r->last_ms = r->window_start_ms = r->last_raise_ms = dm_monotonic_ms();
}

void rl_destroy(ratelimit *r) { pthread_mutex_destroy(&r->mu); }

/* Under the lock: refill, account the window, raise the limit when calm. */
static void advance(ratelimit *r, int64_t now)
{
    if (now - r->window_start_ms >= 1000) {
        double rate = r->window_units * 1000.0 / (double)(now - r->window_start_ms);
        r->observed = r->observed == 0 ? rate : 0.7 * r->observed + 0.3 * rate;
        r->window_units = 0;
        r->window_start_ms = now;
    }
    if (r->limit > 0 && now - r->last_throttle_ms > 2000 && now - r->last_raise_ms >= 1000) {
        r->limit += fmax(1.0, r->limit * 0.05);
        r->last_raise_ms = now;
        if (r->cap > 0 && r->limit > r->cap)
            r->limit = r->cap;
        /* Without a configured cap, lift the limit once well above what the
         * table has been taking. */
        if (r->cap == 0 && r->observed > 0 && r->limit > 3 * r->observed && now - r->last_throttle_ms > 30000)
            r->limit = 0;
    }
    if (r->limit > 0) {
        r->tokens += (double)(now - r->last_ms) * r->limit / 1000.0;
        if (r->tokens > r->limit)
            r->tokens = r->limit;
    }
    r->last_ms = now;
}

int64_t rl_reserve(ratelimit *r, double units)
{
    pthread_mutex_lock(&r->mu);
    int64_t now = dm_monotonic_ms();
    advance(r, now);
    int64_t wait = 0;
    if (r->limit > 0) {
        r->tokens -= units;
        if (r->tokens < 0)
            wait = (int64_t)(-r->tokens * 1000.0 / r->limit);
    }
    pthread_mutex_unlock(&r->mu);
    return wait;
}

void rl_settle(ratelimit *r, double reserved, double actual)
{
    pthread_mutex_lock(&r->mu);
    if (r->limit > 0)
        r->tokens += reserved - actual;
    r->window_units += actual;
    pthread_mutex_unlock(&r->mu);
}

void rl_throttled(ratelimit *r)
{
    pthread_mutex_lock(&r->mu);
    int64_t now = dm_monotonic_ms();
    advance(r, now);
    r->throttles++;
    /* One cut per half second: a burst of throttles is one signal. */
    if (now - r->last_throttle_ms > 500) {
        double base = r->observed > 0 ? r->observed : (r->limit > 0 ? r->limit : 100);
        if (r->limit > 0 && r->limit < base)
            base = r->limit;
        r->limit = fmax(1.0, base * 0.7);
        if (r->tokens > r->limit)
            r->tokens = r->limit;
        r->last_throttle_ms = now;
    }
    pthread_mutex_unlock(&r->mu);
}

double rl_limit(ratelimit *r)
{
    pthread_mutex_lock(&r->mu);
    double l = r->limit;
    pthread_mutex_unlock(&r->mu);
    return l;
}
