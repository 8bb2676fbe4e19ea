/* Drives ddbmig's capacity limiter (src/engine/ratelimit.c) against
 * simulated tables, on a simulated clock, so that the figures are the same
 * on every machine.
 *
 * The client is shaped like the engine: 128 calls in flight at most (4
 * workers with 32 writes each), each answered after 80 ms (1 s in the
 * scenarios of a loaded machine), so it could send 1,600 requests a second
 * (128). A call takes one unit from the limiter
 * when it is sent; a throttled attempt is retried by the client itself
 * after a full-jitter backoff (25 ms * 2^n, at most 20 s) without asking
 * the limiter again, as src/ddb/client.c does.
 *
 * The table decides when a request arrives: first a scattered throttle
 * with the scenario's probability (rate-independent: another client, the
 * service), then a token bucket of the scenario's capacity that holds one
 * second of it (unlimited when the capacity is 0). As with DynamoDB (and
 * tests/fakes/fault_proxy.py), a request is let in while the bucket holds
 * any tokens and charged when it is done, so many requests at once can take
 * it into debt, which the next moments pay off.
 *
 * Reported per scenario: units served per second against the client's
 * demand (no capacity) or the capacity; the share of attempts throttled;
 * cuts made and undone by the limiter. LIMITER_SIM_DEBUG=1 in the
 * environment logs the limiter's windows and decisions to stderr. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "ddbmig/common.h"
#include "engine/ratelimit.h"

#define SLOTS 128
#define LATENCY_MS 80
#define THROTTLE_LATENCY_MS 5 /* a throttle is answered before any work */

typedef struct phase {
    double capacity;  /* units per second; 0: no limit */
    double scattered; /* share of requests throttled whatever the rate */
    int seconds;
} phase;

typedef struct scenario {
    const char *what;
    int n_phases;
    phase phases[12];
    int latency_ms; /* 0: LATENCY_MS */
} scenario;

static const scenario scenarios[] = {
    {"no throttling", 1, {{0, 0, 60}}, 0},
    {"10 % scattered throttles", 1, {{0, 0.10, 60}}, 0},
    {"20 % scattered throttles", 1, {{0, 0.20, 60}}, 0},
    {"10 % scattered, answers after 1 s (a loaded machine)", 1, {{0, 0.10, 60}}, 1000},
    /* Another client's bursts: half the requests throttled for 2 s in 10. */
    {"bursts: 50 % throttled 2 s in every 10",
     12,
     {{0, 0, 8},
      {0, 0.5, 2},
      {0, 0, 8},
      {0, 0.5, 2},
      {0, 0, 8},
      {0, 0.5, 2},
      {0, 0, 8},
      {0, 0.5, 2},
      {0, 0, 8},
      {0, 0.5, 2},
      {0, 0, 8},
      {0, 0.5, 2}},
     0},
    {"capacity 300 units/s", 1, {{300, 0, 60}}, 0},
    {"capacity 500 units/s", 1, {{500, 0, 60}}, 0},
    {"capacity 1000 units/s", 1, {{1000, 0, 60}}, 0},
    {"capacity 500 + 10 % scattered", 1, {{500, 0.10, 60}}, 0},
    {"capacity 100, answers after 1 s", 1, {{100, 0, 60}}, 1000},
    {"capacity 1000, 400, 1500, 1000 (30 s each)", 4, {{1000, 0, 30}, {400, 0, 30}, {1500, 0, 30}, {1000, 0, 30}}, 0},
};

static int64_t now_ms;
static int64_t sim_clock(void)
{
    return now_ms;
}

static uint64_t rng = 88172645463325252ull;
static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

typedef struct slot {
    int64_t due_ms; /* when the answer arrives, or the retry goes out */
    bool in_flight, throttled;
    int retries;
} slot;

typedef struct result {
    double served, attempts, throttled, capacity_seconds, seconds;
    long long cuts, undone;
} result;

/* use_limiter false: every call goes out at once, as without a limiter. */
static void run(const scenario *sc, bool use_limiter, result *out)
{
    ratelimit rl;
    slot s[SLOTS];
    memset(s, 0, sizeof s);
    memset(out, 0, sizeof *out);
    now_ms = 1000000;
    rl_init(&rl, 0, sim_clock);
    int latency = sc->latency_ms > 0 ? sc->latency_ms : LATENCY_MS;
    double bucket = sc->phases[0].capacity;
    for (int p = 0; p < sc->n_phases; p++) {
        const phase *ph = &sc->phases[p];
        for (int ms = 0; ms < ph->seconds * 1000; ms++, now_ms++) {
            if (ph->capacity > 0)
                bucket = bucket + ph->capacity / 1000 > ph->capacity ? ph->capacity : bucket + ph->capacity / 1000;
            for (int i = 0; i < SLOTS; i++) {
                slot *c = &s[i];
                if (c->due_ms > now_ms)
                    continue;
                if (c->in_flight) { /* the answer arrives */
                    c->in_flight = false;
                    if (c->throttled) {
                        int64_t hold = 0;
                        if (use_limiter) {
                            rl_throttled(&rl);
                            hold = rl_retry(&rl, 1);
                        }
                        c->retries++;
                        int64_t ceiling = 25LL << (c->retries > 10 ? 10 : c->retries);
                        int64_t backoff = (int64_t)(uniform() * (double)(ceiling > 20000 ? 20000 : ceiling));
                        c->due_ms = now_ms + (backoff > hold ? backoff : hold);
                        continue;
                    }
                    if (ph->capacity > 0)
                        bucket -= 1;
                    if (use_limiter)
                        rl_settle(&rl, 1, 1);
                    out->served += 1;
                    c->retries = 0;
                }
                /* A new call asks the limiter; a retry does not. */
                if (use_limiter && c->retries == 0 && rl_acquire(&rl, 1) != 0)
                    continue;
                out->attempts += 1;
                bool hit = uniform() < ph->scattered;
                if (!hit && ph->capacity > 0)
                    hit = bucket <= 0;
                c->throttled = hit;
                out->throttled += hit;
                c->in_flight = true;
                c->due_ms = now_ms + (hit ? THROTTLE_LATENCY_MS : latency);
            }
        }
        out->capacity_seconds += ph->capacity * ph->seconds;
        out->seconds += ph->seconds;
    }
    out->cuts = rl.cuts;
    out->undone = rl.undone;
    rl_destroy(&rl);
}

/* Served units per second, and as a share of the capacity or, without
 * one, of what the client served with no limiter at all (its retries
 * alone). */
int main(void)
{
    /* LIMITER_SIM_DEBUG=1: the limiter's windows and decisions on stderr. */
    bool debug = getenv("LIMITER_SIM_DEBUG") != NULL;
    if (debug)
        dm_log_set_level(DM_LOG_DEBUG);
    printf("| scenario | no limiter: units/s | throttled | limiter: units/s | of capacity or of no limiter | "
           "throttled | cuts (undone) |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        const scenario *sc = &scenarios[i];
        result free_run, res;
        run(sc, false, &free_run);
        if (debug)
            fprintf(stderr, "== %s\n", sc->what);
        run(sc, true, &res);
        bool capped = false;
        for (int p = 0; p < sc->n_phases; p++)
            capped = capped || sc->phases[p].capacity > 0;
        double base = capped ? res.capacity_seconds : free_run.served;
        printf("| %s | %.0f | %.1f %% | %.0f | %.0f %% | %.1f %% | %lld (%lld) |\n", sc->what,
               free_run.served / free_run.seconds, 100 * free_run.throttled / free_run.attempts,
               res.served / res.seconds, 100 * res.served / base, 100 * res.throttled / res.attempts, res.cuts,
               res.undone);
    }
    return 0;
}
