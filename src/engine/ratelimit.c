/* Token bucket with CUBIC or AIMD adaptation; see ratelimit.h. */
#include <math.h>
#include <string.h>

#include "ddbmig/common.h"
#include "ratelimit.h"

#define WINDOW_MS 1000
#define CUBIC_WINDOW_MS 500
#define THROTTLE_RATIO 0.05
#define BETA 0.7
#define SCALE 0.4
#define CUT_SPACING_MS 100

void rl_init(ratelimit *r, double cap)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->clock_ms = dm_monotonic_ms;
    /* CUBIC cuts on every throttle; DynamoDB throttles a few requests now
     * and then even under its limits, and under a fault-injecting proxy
     * (4 % random throttles) CUBIC sank to its floor. AIMD's 5 % rule
     * stays the default until CUBIC learns to tell the two apart. */
    r->mode = RL_AIMD;
    r->cap = cap > 0 ? cap : 0;
    r->limit = r->cap;
    r->tokens = r->cap; /* one second of burst */
    r->last_ms = r->window_start_ms = r->last_raise_ms = r->clock_ms();
    r->last_cut_ms = -1000000;
}

void rl_destroy(ratelimit *r) { pthread_mutex_destroy(&r->mu); }

static double floor_rate(const ratelimit *r) { return fmax(1.0, r->peak * 0.1); }

static void close_window(ratelimit *r, int64_t now)
{
    double secs = (double)(now - r->window_start_ms) / 1000.0;
    double rate = r->window_units / secs;
    r->observed = r->observed == 0 ? rate : 0.7 * r->observed + 0.3 * rate;
    if (r->observed > r->peak)
        r->peak = r->observed;
    if (r->mode == RL_CUBIC) {
        r->window_units = 0;
        r->window_requests = r->window_throttles = 0;
        r->window_start_ms = now;
        return;
    }
    long total = r->window_requests + r->window_throttles;
    if (r->window_throttles >= 3 && (double)r->window_throttles > THROTTLE_RATIO * (double)total) {
        double base = rate > 0 ? rate : r->observed;
        if (r->limit > 0 && (base <= 0 || r->limit < base))
            base = r->limit;
        if (base <= 0)
            base = 100;
        r->limit = fmax(floor_rate(r), base * BETA);
        if (r->tokens > r->limit)
            r->tokens = r->limit;
        r->last_cut_ms = now;
        r->cuts++;
    }
    r->window_units = 0;
    r->window_requests = r->window_throttles = 0;
    r->window_start_ms = now;
}

static void raise_when_calm(ratelimit *r, int64_t now)
{
    if (r->limit <= 0 || now - r->last_cut_ms <= 2000 || now - r->last_raise_ms < 1000)
        return;
    r->limit += fmax(1.0, r->limit * 0.05);
    r->last_raise_ms = now;
    if (r->cap > 0 && r->limit > r->cap)
        r->limit = r->cap;
    /* Without a cap, lift the limit once it is well above demand. */
    if (r->cap == 0 && r->observed > 0 && r->limit > 3 * r->observed && now - r->last_cut_ms > 30000)
        r->limit = 0;
}

/* CUBIC: the allowed rate at `now`, once a throttle has set max_rate. */
static void cubic_rate(ratelimit *r, int64_t now)
{
    if (r->max_rate <= 0)
        return;
    double t = (double)(now - r->last_cut_ms) / 1000.0;
    double k = cbrt(r->max_rate * (1 - BETA) / SCALE);
    double rate = SCALE * (t - k) * (t - k) * (t - k) + r->max_rate;
    if (r->observed > 0 && rate > 2 * r->observed)
        rate = 2 * r->observed;
    if (r->cap > 0 && rate > r->cap)
        rate = r->cap;
    r->limit = fmax(floor_rate(r), rate);
}

static void cubic_cut(ratelimit *r, int64_t now)
{
    if (now - r->last_cut_ms < CUT_SPACING_MS)
        return;
    /* What the table served lately: the current window once it is long
     * enough to say, else the smoothed rate. */
    int64_t span = now - r->window_start_ms;
    double base = span >= 100 ? r->window_units * 1000.0 / (double)span : r->observed;
    if (base <= 0)
        base = fmax(1.0, r->observed);
    if (r->limit > 0 && r->limit < base)
        base = r->limit;
    r->max_rate = base;
    r->limit = fmax(floor_rate(r), base * BETA);
    if (r->tokens > r->limit)
        r->tokens = r->limit;
    r->last_cut_ms = now;
    r->cuts++;
}

/* Under the lock: windows, refill, recovery. */
static void advance(ratelimit *r, int64_t now)
{
    if (now - r->window_start_ms >= (r->mode == RL_CUBIC ? CUBIC_WINDOW_MS : WINDOW_MS))
        close_window(r, now);
    if (r->mode == RL_CUBIC)
        cubic_rate(r, now);
    else
        raise_when_calm(r, now);
    if (r->limit > 0) {
        r->tokens += (double)(now - r->last_ms) * r->limit / 1000.0;
        if (r->tokens > r->limit)
            r->tokens = r->limit;
    }
    r->last_ms = now;
}

int64_t rl_acquire(ratelimit *r, double units)
{
    pthread_mutex_lock(&r->mu);
    advance(r, r->clock_ms());
    int64_t wait = 0;
    if (r->limit > 0) {
        if (r->tokens > 0)
            r->tokens -= units;
        else
            wait = 1 + (int64_t)((-r->tokens + 1) * 1000.0 / r->limit);
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
    r->window_requests++;
    pthread_mutex_unlock(&r->mu);
}

void rl_throttled(ratelimit *r)
{
    pthread_mutex_lock(&r->mu);
    r->throttles++;
    r->window_throttles++;
    if (r->mode == RL_CUBIC) {
        int64_t now = r->clock_ms();
        advance(r, now);
        cubic_cut(r, now);
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
