/* Compares ddbmig's AIMD capacity limiter (src/engine/ratelimit.c) with a
 * CUBIC limiter of the kind the AWS SDKs use in their adaptive retry mode,
 * on a simulated table whose capacity changes during the run.
 *
 * The table is a token bucket: it serves a request (one unit) when it has a
 * token and throttles it otherwise; it refills at the phase's capacity and
 * holds at most one second of it. The client could send 5,000 requests a
 * second; each limiter decides how many go out. Time advances in 1 ms
 * steps on a simulated clock, so the result is the same on every machine.
 *
 * Reported per phase: the share of the table's capacity used by successful
 * requests, and the share of requests sent that were throttled (each one a
 * wasted round trip and a retry). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "engine/ratelimit.h"

#define DEMAND_PER_MS 5
#define PHASES 4

static const struct { const char *what; double capacity; int seconds; } phase[PHASES] = {
    {"steady, 1000 units/s", 1000, 30},
    {"capacity drops to 400", 400, 30},
    {"capacity rises to 1500", 1500, 30},
    {"back to 1000", 1000, 30},
};

static int64_t now_ms;
static int64_t sim_clock(void) { return now_ms; }

/* ---- a CUBIC limiter, after the published description of the SDKs'
 * adaptive retry mode: the allowed rate follows
 *   rate(t) = S (t - K)^3 + max_rate,  K = cbrt(max_rate (1 - beta) / S)
 * after each throttle, which sets max_rate to the rate measured then and
 * cuts the allowed rate to beta times it. Until the first throttle nothing
 * is limited. */
typedef struct cubic {
    bool enabled;
    double fill_rate, max_rate, tokens;
    double last_throttle_s, last_fill_s;
    double measured, bucket_count, bucket_start_s;
} cubic;

static const double BETA = 0.7, SCALE = 0.4, SMOOTH = 0.8;

static void cubic_measure(cubic *c, double t)
{
    c->bucket_count++;
    double bucket = floor(t * 2) / 2; /* half-second buckets */
    if (bucket > c->bucket_start_s) {
        double rate = c->bucket_count / (bucket - c->bucket_start_s);
        c->measured = rate * SMOOTH + c->measured * (1 - SMOOTH);
        c->bucket_count = 0;
        c->bucket_start_s = bucket;
    }
}

static bool cubic_acquire(cubic *c, double t)
{
    if (!c->enabled)
        return true;
    c->tokens += (t - c->last_fill_s) * c->fill_rate;
    if (c->tokens > c->fill_rate)
        c->tokens = c->fill_rate > 1 ? c->fill_rate : 1;
    c->last_fill_s = t;
    if (c->tokens < 1)
        return false;
    c->tokens -= 1;
    return true;
}

static void cubic_result(cubic *c, double t, bool throttled)
{
    cubic_measure(c, t);
    double rate;
    if (throttled) {
        c->max_rate = c->enabled && c->fill_rate < c->measured ? c->fill_rate : c->measured;
        c->last_throttle_s = t;
        rate = c->max_rate * BETA;
        if (!c->enabled) {
            c->enabled = true;
            c->last_fill_s = t;
        }
    } else {
        double k = cbrt(c->max_rate * (1 - BETA) / SCALE);
        double dt = t - c->last_throttle_s - k;
        rate = SCALE * dt * dt * dt + c->max_rate;
    }
    double cap = 2 * c->measured;
    c->fill_rate = rate < cap ? rate : cap;
    if (c->fill_rate < 0.5)
        c->fill_rate = 0.5;
}

/* ---- the simulation ---------------------------------------------------- */

typedef struct result {
    double used[PHASES], throttle_share[PHASES];
} result;

static void simulate(bool use_cubic, result *out)
{
    ratelimit rl;
    cubic cu;
    memset(&cu, 0, sizeof cu);
    now_ms = 1000000;
    rl_init(&rl, 0);
    rl.clock_ms = sim_clock;
    rl.last_ms = rl.window_start_ms = rl.last_raise_ms = now_ms;
    double table_tokens = phase[0].capacity;
    for (int p = 0; p < PHASES; p++) {
        double ok = 0, throttled = 0, cap = phase[p].capacity;
        for (int ms = 0; ms < phase[p].seconds * 1000; ms++, now_ms++) {
            table_tokens += cap / 1000;
            if (table_tokens > cap)
                table_tokens = cap;
            double t = (double)now_ms / 1000;
            for (int i = 0; i < DEMAND_PER_MS; i++) {
                bool go = use_cubic ? cubic_acquire(&cu, t) : rl_acquire(&rl, 1) == 0;
                if (!go)
                    break;
                bool served = table_tokens >= 1;
                if (served) {
                    table_tokens -= 1;
                    ok++;
                } else {
                    throttled++;
                }
                if (use_cubic) {
                    cubic_result(&cu, t, !served);
                } else {
                    if (!served)
                        rl_throttled(&rl);
                    rl_settle(&rl, 1, served ? 1 : 0);
                }
            }
        }
        out->used[p] = ok / (cap * phase[p].seconds);
        out->throttle_share[p] = ok + throttled > 0 ? throttled / (ok + throttled) : 0;
    }
    rl_destroy(&rl);
}

int main(void)
{
    result aimd, cub;
    simulate(false, &aimd);
    simulate(true, &cub);
    printf("| phase | AIMD: capacity used | AIMD: throttled | CUBIC: capacity used | CUBIC: throttled |\n");
    printf("|---|---:|---:|---:|---:|\n");
    for (int p = 0; p < PHASES; p++)
        printf("| %s (%d s) | %.0f %% | %.1f %% | %.0f %% | %.1f %% |\n", phase[p].what, phase[p].seconds,
               aimd.used[p] * 100, aimd.throttle_share[p] * 100, cub.used[p] * 100, cub.throttle_share[p] * 100);
    return 0;
}
