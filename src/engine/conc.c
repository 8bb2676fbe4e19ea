/* The writes-in-flight controller (conc.h). */
#include "conc.h"

#include <math.h>

void conc_init(conc_ctl *c, int initial, int min, int max)
{
    *c = (conc_ctl){.min = min, .max = max < min ? min : max};
    c->limit = initial < min ? min : initial > c->max ? c->max : initial;
}

int conc_limit(const conc_ctl *c)
{
    return (int)c->limit;
}

void conc_held(conc_ctl *c)
{
    c->win_held = true;
}

static void clamp(conc_ctl *c)
{
    if (c->limit < c->min)
        c->limit = c->min;
    if (c->limit > c->max)
        c->limit = c->max;
}

static void window_end(conc_ctl *c, int64_t now_ms)
{
    /* The window's fastest answer: the service's time and queue. Slower
     * ones also carry this process's own delays (a burst of transforms
     * before the loop reads answers), which more in flight do not cause. */
    double mean = c->win_min_ms;
    if (c->floor_ms <= 0 || mean < c->floor_ms)
        c->floor_ms = mean;
    if (c->best_ms <= 0 || mean < c->best_ms)
        c->best_ms = mean;
    else if (c->best_ms * 1.001 < 2 * c->floor_ms)
        c->best_ms *= 1.001;
    if (c->win_throttled > 0) {
        c->limit *= 0.8;
    } else if (mean > 1.5 * c->best_ms) {
        double ratio = c->best_ms / mean;
        c->limit *= ratio < 0.5 ? 0.5 : ratio;
    } else if (mean < 1.2 * c->best_ms && c->win_held) {
        double step = c->limit / 4;
        c->limit += step < 1 ? 1 : step;
    }
    clamp(c);
    c->win_start_ms = now_ms;
    c->win_n = c->win_throttled = 0;
    c->win_sum_ms = 0;
    c->win_min_ms = 0;
    c->win_held = false;
}

void conc_answer(conc_ctl *c, int64_t now_ms, double ms, bool throttled)
{
    if (c->min == c->max)
        return;
    if (c->win_n == 0 && c->win_throttled == 0)
        c->win_start_ms = now_ms;
    if (throttled) {
        c->win_throttled++;
    } else {
        ms = ms < 0 ? 0 : ms;
        c->win_min_ms = c->win_n == 0 || ms < c->win_min_ms ? ms : c->win_min_ms;
        c->win_n++;
        c->win_sum_ms += ms;
    }
    bool long_enough = now_ms - c->win_start_ms >= 100 && c->win_n + c->win_throttled >= (int)c->limit;
    if (!long_enough)
        return;
    if (c->win_n > 0) {
        window_end(c, now_ms);
    } else {
        /* Only throttles: no time to learn from. */
        c->limit *= 0.8;
        clamp(c);
        c->win_throttled = 0;
        c->win_held = false;
    }
}

int conc_pool_add(int n, int cap, double starved, double busy)
{
    if (n < 1 || n >= cap || !(starved >= 0.25) || !(busy <= 0.85))
        return 0;
    double grow = busy > 0.2125 ? 0.85 / busy : 4.0;
    double want = ceil((double)n * grow);
    int add = want > (double)cap ? cap - n : (int)want - n;
    return add > 0 ? add : 1;
}
