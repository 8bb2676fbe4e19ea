/* How many writes a worker keeps in flight: a limit that finds the
 * table's and the machine's ceiling by itself.
 *
 * Little's law sets the need: at 5 ms an answer, 60,000 writes a second
 * take 300 in flight. Too few and the run waits on the network; too many
 * and the answers queue (in the service, or in this process when its CPU
 * is the bottleneck, which shows as the same rise in answer time). The
 * controller watches windows of answers (at least 100 ms and as many
 * answers as the limit), by the fastest answer of each: the service's
 * time and queue, without the delays of this process's own loop (a burst
 * of transforms before it reads answers), which more in flight do not
 * cause. While that time stays within a fifth of the best window seen
 * and the limit was what held writes back, the limit grows by a
 * quarter; when it rises past one and a half times that best, the limit
 * shrinks by its ratio to it (at most by half);
 * throttling shrinks it by a fifth (the capacity limiter sets the pace
 * then; a long queue of retries only adds latency). The best time seen
 * drifts up by 0.1 % a window (about 1 % a second), so that a slower
 * baseline (a remote region, a loaded service) is learned rather than
 * taken for congestion; it
 * stays under twice the best ever, which bounds what congestion can pass
 * for a baseline.
 *
 * Pure: times come from the caller (tests/unit/test_conc.c). */
#ifndef DDBMIG_ENGINE_CONC_H
#define DDBMIG_ENGINE_CONC_H

#include <stdbool.h>
#include <stdint.h>

typedef struct conc_ctl {
    double limit;
    int min, max;
    double best_ms;        /* lowest window mean seen, drifting up; 0: none yet */
    double floor_ms;       /* lowest window mean ever: best_ms stays under twice it */
    int64_t win_start_ms;
    int win_n, win_throttled;
    double win_sum_ms, win_min_ms;
    bool win_held;         /* writes waited on the limit in this window */
} conc_ctl;

/* Starts at initial, kept within [min, max]. min == max fixes it. */
void conc_init(conc_ctl *c, int initial, int min, int max);
/* The limit now. */
int conc_limit(const conc_ctl *c);
/* Writes waited because the limit was reached. */
void conc_held(conc_ctl *c);
/* One answer: its time from send to answer (first attempts only: a
 * retry's backoff is not latency), whether it was throttled. */
void conc_answer(conc_ctl *c, int64_t now_ms, double ms, bool throttled);

/* How many workers to add to a pool of n (at most cap) after a window in
 * which they waited on Scan pages a share `starved` of their time while
 * the machine's CPUs were busy a share `busy`. Workers that wait on pages
 * a quarter of their time or more are bound by the Scans' answer time,
 * one page at a time per segment; more of them at once scan more pages,
 * as far as the CPU goes. So the pool grows in proportion to the CPU's
 * room, up to 85 % busy, by at most four times a look; with workers
 * hardly waiting, or the CPU busy, it stays. Pure. */
int conc_pool_add(int n, int cap, double starved, double busy);

#endif
