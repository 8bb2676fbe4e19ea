/* Compares the two adaptations of ddbmig's capacity limiter
 * (src/engine/ratelimit.c): AIMD, and CUBIC as in the AWS SDKs' adaptive
 * retry mode, on a simulated table whose capacity changes during the run.
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

/* ---- the simulation ---------------------------------------------------- */

typedef struct result {
    double used[PHASES], throttle_share[PHASES];
} result;

static void simulate(rl_mode mode, result *out)
{
    ratelimit rl;
    now_ms = 1000000;
    rl_init(&rl, 0);
    rl.mode = mode;
    rl.clock_ms = sim_clock;
    rl.last_ms = rl.window_start_ms = rl.last_raise_ms = now_ms;
    double table_tokens = phase[0].capacity;
    for (int p = 0; p < PHASES; p++) {
        double ok = 0, throttled = 0, cap = phase[p].capacity;
        for (int ms = 0; ms < phase[p].seconds * 1000; ms++, now_ms++) {
            table_tokens += cap / 1000;
            if (table_tokens > cap)
                table_tokens = cap;
            for (int i = 0; i < DEMAND_PER_MS; i++) {
                if (rl_acquire(&rl, 1) != 0)
                    break;
                bool served = table_tokens >= 1;
                if (served) {
                    table_tokens -= 1;
                    ok++;
                } else {
                    throttled++;
                }
                if (!served)
                    rl_throttled(&rl);
                rl_settle(&rl, 1, served ? 1 : 0);
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
    simulate(RL_AIMD, &aimd);
    simulate(RL_CUBIC, &cub);
    printf("| phase | AIMD: capacity used | AIMD: throttled | CUBIC: capacity used | CUBIC: throttled |\n");
    printf("|---|---:|---:|---:|---:|\n");
    for (int p = 0; p < PHASES; p++)
        printf("| %s (%d s) | %.0f %% | %.1f %% | %.0f %% | %.1f %% |\n", phase[p].what, phase[p].seconds,
               aimd.used[p] * 100, aimd.throttle_share[p] * 100, cub.used[p] * 100, cub.throttle_share[p] * 100);
    return 0;
}
