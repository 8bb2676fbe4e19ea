/* Token bucket whose rate adapts to capacity throttling and learns to
 * leave scattered throttling to the retries; see ratelimit.h. */
#include <math.h>
#include <string.h>

#include "ddbmig/common.h"
#include "ratelimit.h"

#define WINDOW_MS 1000
#define LONG_WINDOW_MS 5000 /* a window ends here however few attempts it saw */
#define MIN_ATTEMPTS 200    /* below this a window goes on, up to LONG_WINDOW_MS */
#define STALE_MS 15000      /* a window this long was mostly idle: discarded */
#define MIN_THROTTLES 3
#define MIN_CALLS 20 /* completed calls a window needs to end early */
#define SLICE_MS 200 /* heavy throttling ends a window at once */
#define MIN_HEAVY 20
#define HEAVY_EXCESS 0.4
#define MIN_EXCESS 0.03 /* throttled share above background that always counts */
#define CUT 0.85        /* of the units served, under capacity throttling ~C */
#define GROWTH_FIRST 0.02
#define GROWTH_MAX 0.25
#define MAX_CHECKS 3 /* windows a falling share is given after a cut */
#define MAX_DRAIN 10 /* windows given to retries of earlier throttles */
#define BACKGROUND_MAX 0.5
#define FADE 0.2    /* how fast a lower share pulls the background down */
#define FOLLOW 0.05 /* how fast calm windows move it either way */

void rl_init(ratelimit *r, double cap, int64_t (*clock_ms)(void))
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->clock_ms = clock_ms ? clock_ms : dm_monotonic_ms;
    r->name = "";
    r->cap = cap > 0 ? cap : 0;
    r->limit = r->cap;
    r->tokens = r->cap; /* one second of burst */
    r->growth = GROWTH_FIRST;
    r->last_ms = r->window_start_ms = r->slice_start_ms = r->clock_ms();
}

void rl_destroy(ratelimit *r)
{
    pthread_mutex_destroy(&r->mu);
}

/* Never below a twentieth of the best rate seen: a misjudged run of
 * throttles must not stall the run. */
static double floor_rate(const ratelimit *r)
{
    return fmax(1.0, r->peak * 0.05);
}

static void set_limit(ratelimit *r, double limit)
{
    if (r->cap > 0 && (limit <= 0 || limit > r->cap))
        limit = r->cap;
    r->limit = limit;
    if (limit > 0 && r->tokens > limit)
        r->tokens = limit;
}

/* Standard deviation of a share near p measured over n attempts. */
static double sd_of(double p, long n)
{
    p = fmax(p, 0.01);
    return sqrt(p * (1 - p) / (double)n);
}

/* How far above the background a throttled share must be before it is
 * more than chance: three standard deviations of a share measured over
 * `attempts`, and at least MIN_EXCESS. */
static double excess_needed(double background, long attempts)
{
    return fmax(MIN_EXCESS, 3 * sd_of(background, attempts));
}

/* What one window saw. */
typedef struct window {
    long attempts, throttles;
    double ratio; /* throttles / attempts */
    double attempts_per_s;
    double served; /* units per second, over the window and, when it
                    * was cut short by heavy throttling, the one
                    * before: a fraction of a second says little */
} window;

/* Cuts to CUT of what the table served (under capacity throttling, its
 * capacity), or with `gentle` of the limit (a probe: under throttling that
 * ignores the rate the table serves the limit less the throttled share,
 * and a probe must not take that off too). Then starts checking the cut. */
static void cut(ratelimit *r, const window *w, bool gentle)
{
    double base = gentle ? r->limit : w->served;
    if (r->limit > 0 && r->limit < base)
        base = r->limit;
    if (base <= 0)
        base = r->smoothed > 0 ? r->smoothed : 1;
    r->before_limit = r->limit;
    r->before_ratio = w->ratio;
    r->before_attempts_per_s = w->attempts_per_s;
    r->before_attempts = w->attempts;
    r->checks = 0;
    r->checking = true;
    r->probing = false;
    r->growth = GROWTH_FIRST;
    set_limit(r, fmax(floor_rate(r), CUT * base));
    r->cuts++;
    DM_DEBUG("limiter %s: cut to %.0f units/s%s", r->name, r->limit, gentle ? " (a probe)" : "");
}

/* Two shares differ by more than chance (two standard deviations of the
 * difference, and at least 2 points). */
static bool differ(double a, long na, double b, long nb)
{
    double p = fmax((a + b) / 2, 0.01);
    double sd = sqrt(p * (1 - p) * (1.0 / (double)na + 1.0 / (double)nb));
    return fabs(a - b) > fmax(0.02, 2 * sd);
}

/* A window after a cut, still throttled above the background.
 *
 * While the table serves more than the new limit lets out, it is working
 * through retries of earlier throttles, and the share says nothing about
 * the new rate yet: wait (up to MAX_DRAIN windows).
 *
 * Capacity throttling moves the share with the rate: it falls, and once
 * the rate is under the capacity it is soon within the threshold (a share
 * that fell but is still clearly over means the rate is still over the
 * capacity: cut again; one just over is given MAX_CHECKS windows); or it
 * rises (cut again). Throttling that ignores the rate leaves it where it was,
 * although fewer attempts went out. One unmoved window is not proof: the
 * window before the cut may have been flattered by the table's burst
 * allowance, with both at a rate over the capacity. So the first unmoved
 * window brings a second cut, a probe; when the share does not move under
 * that one either, both cuts are undone and the share is learned as the
 * background. */
static void check(ratelimit *r, const window *w, bool clearly)
{
    /* The table's ceiling, if it is capacity: the most it served while
     * over, leaving out the window before the cut, which a refilled burst
     * allowance may have flattered. */
    r->capacity = r->checks++ == 0 ? w->served : fmax(r->capacity, w->served);
    if (w->served > 1.05 * r->limit && r->checks <= MAX_DRAIN)
        return;
    bool fell = w->attempts_per_s < 0.92 * r->before_attempts_per_s;
    bool moved = differ(w->ratio, w->attempts, r->before_ratio, r->before_attempts);
    if (fell && !moved && r->probing) {
        set_limit(r, r->before_limit);
        /* The higher of the two: a background learned too low brings
         * false cuts, each costing seconds of throughput, where one too
         * high lets a few more throttles by until calm windows lower it. */
        r->background = fmin(BACKGROUND_MAX, fmax(w->ratio, r->before_ratio));
        r->capacity = 0;
        r->checking = r->probing = false;
        r->undone++;
        DM_DEBUG("limiter %s: throttling did not follow the rate: cuts undone, limit %.0f, background %.1f %%", r->name,
                 r->limit, 100 * r->background);
        return;
    }
    if (fell && !moved) {
        double restore = r->before_limit;
        cut(r, w, true);
        r->before_limit = restore;
        r->probing = true;
        return;
    }
    r->probing = false;
    if ((moved && (w->ratio > r->before_ratio || clearly)) || r->checks >= MAX_CHECKS)
        cut(r, w, false);
}

/* Calm and held back by the limit: climb. Quickly (half the gap a
 * window) back to the capacity last seen; slowly (2 % a window) through
 * the fifth above it, where a table's burst allowance hides an overshoot
 * for a while; then by steps growing by 2 % a window (up to 25 %), since
 * capacity has been added. */
static void raise_limit(ratelimit *r)
{
    double l = r->limit;
    if (r->capacity > 0 && l < r->capacity * 0.98) {
        l += fmax((r->capacity - l) / 2, l * GROWTH_FIRST);
    } else if (r->capacity > 0 && l < r->capacity * 1.2) {
        l *= 1 + GROWTH_FIRST;
    } else {
        l *= 1 + r->growth;
        r->growth = fmin(GROWTH_MAX, r->growth * 2);
    }
    set_limit(r, l);
}

static void close_window(ratelimit *r, int64_t now)
{
    double secs = (double)(now - r->window_start_ms) / 1000.0;
    window w = {.attempts = r->window_calls + r->window_throttles, .throttles = r->window_throttles};
    w.attempts_per_s = (double)w.attempts / secs;
    w.served = secs < 1 ? (r->window_units + r->prev_units) / (secs + r->prev_secs) : r->window_units / secs;
    r->prev_units = r->window_units;
    r->prev_secs = secs;
    w.ratio = w.attempts ? (double)w.throttles / (double)w.attempts : 0;
    r->smoothed = r->smoothed == 0 ? w.served : 0.7 * r->smoothed + 0.3 * w.served;
    if (r->smoothed > r->peak)
        r->peak = r->smoothed;
    DM_DEBUG("limiter %s: %.1f s, %ld attempts, %ld throttled (%.1f %%), %.0f units/s served, limit %.0f, "
             "background %.1f %%%s",
             r->name, secs, w.attempts, w.throttles, 100 * w.ratio, w.served, r->limit, 100 * r->background,
             r->checking ? ", checking a cut" : "");
    /* Over the background by more than chance; clearly so when by twice
     * that. A window only a little over cuts when the one before it was
     * over too: a false cut costs more than a second of a small excess. */
    double excess = excess_needed(r->background, w.attempts);
    bool over = w.throttles >= MIN_THROTTLES && w.ratio > r->background + excess;
    bool clearly = over && w.ratio > r->background + 2 * excess;
    bool was_over = r->was_over;
    r->was_over = over;
    /* The first window of a run is skewed: throttles come back at once,
     * answers after their latency. Only heavy throttling counts there. */
    if (r->windows++ == 0 && w.ratio < r->background + HEAVY_EXCESS)
        over = clearly = false;
    if (w.attempts == 0 || now - r->window_start_ms > STALE_MS) {
        r->was_over = false; /* idle, or mostly: nothing learned */
    } else if (over && r->checking) {
        check(r, &w, clearly);
    } else if (clearly || (over && was_over)) {
        r->capacity = w.served;
        cut(r, &w, false);
    } else if (over) {
        /* wait for the next window */
    } else {
        r->checking = false;
        /* A learned background follows what calm windows see, so that
         * it is not left below the truth by the two windows it was
         * learned from (each false cut costs a few windows); a share lower
         * by more than chance pulls it down faster. One never learned
         * stays 0: capacity throttling slightly under the threshold must
         * not raise it. */
        if (w.ratio < r->background - 2 * sd_of(r->background, w.attempts))
            r->background += FADE * (w.ratio - r->background);
        else if (r->background > 0)
            r->background += FOLLOW * (w.ratio - r->background);
        if (r->limit > 0 && r->window_held)
            raise_limit(r);
    }
    r->window_units = 0;
    r->window_calls = r->window_throttles = 0;
    r->window_held = false;
    r->window_start_ms = r->slice_start_ms = now;
    r->slice_attempts = r->slice_throttles = 0;
}

/* Under the lock: window, refill. */
static void advance(ratelimit *r, int64_t now)
{
    int64_t span = now - r->window_start_ms;
    long attempts = r->window_calls + r->window_throttles;
    /* Heavy throttling needs no second to be sure of: at the start of a
     * run with no cap, a second at many times a table's capacity would
     * throttle more requests than the rest of a short run. It is looked
     * for in slices of SLICE_MS, as a burst allowance may hide the first
     * part of the window. */
    bool heavy = false;
    if (now - r->slice_start_ms >= SLICE_MS) {
        long slice_attempts = attempts - r->slice_attempts, slice_throttles = r->window_throttles - r->slice_throttles;
        heavy = slice_throttles >= MIN_HEAVY &&
                (double)slice_throttles > (r->background + HEAVY_EXCESS) * (double)slice_attempts;
        r->slice_start_ms = now;
        r->slice_attempts = attempts;
        r->slice_throttles = r->window_throttles;
    }
    /* The rate served is what a cut goes by: until some calls have come
     * back (answers can take longer than a window on a loaded machine,
     * while throttles come back at once), there is none to go by. */
    bool served = r->window_calls >= MIN_CALLS;
    if (span >= LONG_WINDOW_MS || (served && ((span >= WINDOW_MS && attempts >= MIN_ATTEMPTS) || heavy)))
        close_window(r, now);
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
        if (r->tokens > 0) {
            r->tokens -= units;
        } else {
            wait = 1 + (int64_t)((-r->tokens + 1) * 1000.0 / r->limit);
            r->window_held = true;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return wait;
}

void rl_settle(ratelimit *r, double reserved, double actual)
{
    pthread_mutex_lock(&r->mu);
    advance(r, r->clock_ms());
    if (r->limit > 0)
        r->tokens += reserved - actual;
    r->window_units += actual;
    r->window_calls++;
    pthread_mutex_unlock(&r->mu);
}

void rl_throttled(ratelimit *r)
{
    pthread_mutex_lock(&r->mu);
    advance(r, r->clock_ms());
    r->throttles++;
    r->window_throttles++;
    pthread_mutex_unlock(&r->mu);
}

int64_t rl_retry(ratelimit *r, double units)
{
    pthread_mutex_lock(&r->mu);
    advance(r, r->clock_ms());
    int64_t wait = 0;
    if (r->limit > 0) {
        r->tokens -= units;
        if (r->tokens < 0)
            wait = (int64_t)(-r->tokens * 1000.0 / r->limit);
    }
    pthread_mutex_unlock(&r->mu);
    return wait;
}

double rl_limit(ratelimit *r)
{
    pthread_mutex_lock(&r->mu);
    double l = r->limit;
    pthread_mutex_unlock(&r->mu);
    return l;
}
