/* Capacity limiter: a token bucket of capacity units per second, fed by
 * what DynamoDB reports as consumed (ReturnConsumedCapacity), whose rate
 * adapts to the throttling the run's own rate causes, and only to that.
 *
 * Two kinds of throttling look alike in one answer and call for opposite
 * responses:
 *
 * - Capacity throttling: the table (an index, an on-demand maximum) serves
 *   at most C units a second. The throttled share of attempts rises with
 *   the rate sent above C; slowing to just under C is the answer.
 * - Scattered throttling: a share of requests is throttled whatever the
 *   rate (the service now and then, another client, a hot key range
 *   reported without a reason). Slowing down does not lower the share, it
 *   only slows the run; the retries are the answer.
 *
 * The limiter tells them apart by trying. Over windows of a second or
 * more (until 200 attempts and 20 answers, at most 5 s), it compares the
 * throttled share of attempts with a background share it has learned (0
 * at first). A share above the background by more than chance (three
 * standard deviations, at least 3 points) in two windows in a row, or by
 * twice that in one, or heavy throttling (40 points over) in any 200 ms
 * slice, cuts the rate to 85 % of the units the table served in the
 * window: under capacity throttling, that is C.
 *
 * Then it watches. Capacity throttling moves the share with the rate: it
 * falls under the cut (cut again if it stays clearly over), or rises (the
 * window before the cut was flattered by the table's burst allowance: cut
 * again). While the table serves more than the new limit, it is working
 * through retries of earlier throttles, and the limiter waits. Throttling
 * that ignores the rate leaves the share where it was although fewer
 * attempts went out; the limiter then probes with a second, gentler cut,
 * and when the share does not move under that one either, it undoes both
 * and learns the share as the background. Calm windows keep the learned
 * background in step; a lower share pulls it down quickly.
 *
 * While calm and held back by its limit, the rate climbs: quickly (half
 * the gap a window) back to the capacity seen while throttled, slowly (2 %
 * a window) through the fifth above it, where a burst allowance hides an
 * overshoot for a while, then by doubling steps up to 25 % a window, as
 * capacity has been added.
 *
 * Retries: the client retries throttled calls itself, without asking for
 * tokens again. Under capacity throttling each retry is as much load as a
 * new call, so a throttled call's retry takes its tokens (rl_retry), into
 * debt if need be, and waits for them. Without that, a hundred calls
 * retrying every few tens of milliseconds keep a table throttled for
 * seconds after a cut.
 *
 * Without a cap, nothing is limited until the first cut. Tokens are taken
 * when a request is sent, not when it is queued, so a changed limit
 * applies at once; the bucket holds one second of tokens.
 *
 * bench/limiter-sim.c measures all this against simulated tables, and the
 * tests in tests/unit/test_ratelimit.c hold it to its two promises. */
#ifndef DDBMIG_ENGINE_RATELIMIT_H
#define DDBMIG_ENGINE_RATELIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct ratelimit {
    pthread_mutex_t mu;
    int64_t (*clock_ms)(void); /* dm_monotonic_ms unless a test passes its own */
    const char *name;          /* "read", "write": for the debug log; static */
    double cap;                /* configured maximum; 0: none */
    double limit;              /* units per second allowed now; 0: unlimited */
    double tokens;
    int64_t last_ms;
    /* The window being counted. */
    int64_t window_start_ms;
    double window_units;                  /* consumed by calls that completed */
    double prev_units, prev_secs;         /* the window before */
    long window_calls;                    /* calls that completed (each after its retries) */
    long window_throttles;                /* throttled attempts */
    bool window_held;                     /* the limit made a request wait */
    int64_t slice_start_ms;               /* the window's latest slice, for heavy throttling */
    long slice_attempts, slice_throttles; /* the window's counts when it began */
    /* Learned. */
    double background; /* share of attempts throttled whatever the rate */
    double capacity;   /* units per second the table served while over; 0: unknown */
    double peak;       /* highest served rate, smoothed; for the floor */
    double smoothed;   /* served units per second, smoothed */
    double growth;     /* next increase above capacity, as a fraction */
    /* A cut being checked. */
    bool checking;
    double before_limit, before_ratio, before_attempts_per_s;
    long before_attempts;
    int checks;        /* windows judged since the cut */
    bool probing;      /* the cut is a second one, after an unmoved share */
    bool was_over;     /* the last window was throttled over the background */
    long long windows; /* closed so far */
    long long throttles, cuts, undone;
} ratelimit;

/* cap: units per second at most (0: none). clock_ms: NULL for
 * dm_monotonic_ms; tests and the simulation pass their own. */
void rl_init(ratelimit *r, double cap, int64_t (*clock_ms)(void));
void rl_destroy(ratelimit *r);
/* Takes units and returns 0 when the bucket has any tokens left (a large
 * request may take it below zero); otherwise takes nothing and returns how
 * long (ms) to wait before asking again. */
int64_t rl_acquire(ratelimit *r, double units);
/* A call completed, after any retries: corrects its reservation with what
 * DynamoDB reported it consumed (0 when it failed). */
void rl_settle(ratelimit *r, double reserved, double actual);
/* An attempt was throttled for the capacity this limiter stands for, or
 * for no reason given. Throttles of one hot key range must not come here:
 * slowing the whole run does not cool one partition. */
void rl_throttled(ratelimit *r);
/* A throttled call will be sent again: takes units for the retry, into
 * debt if need be, and returns how long (ms) the retry must wait for them
 * (0 without a limit). */
int64_t rl_retry(ratelimit *r, double units);
/* Current limit (0: unlimited). */
double rl_limit(ratelimit *r);

#endif
