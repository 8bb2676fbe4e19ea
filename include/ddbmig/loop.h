/* The event loop: one per thread, owning every timer and socket of that
 * thread (HTTP connections, request deadlines, DynamoDB retry backoffs, and
 * whatever the caller adds). One epoll set for readiness, one binary heap of
 * timers on the monotonic clock; dm_loop_run_once waits for the earlier of
 * the next timer and the next ready socket, then runs their callbacks.
 *
 * Threads: a loop and everything registered on it belong to the thread that
 * runs it. Only dm_loop_wake may be called from another thread.
 *
 * Ownership: watchers (dm_loop_io, dm_loop_timer) are caller-owned storage,
 * usually embedded in the object they serve; the loop only links them. A
 * watcher must be stopped before its memory is freed or reused, and a
 * socket's watcher stopped before the socket is closed.
 *
 * Reentrancy: callbacks may start and stop any watcher, their own included,
 * and may free a watcher's memory after stopping it (events already
 * collected for a stopped watcher are dropped, not delivered). Callbacks
 * must not run the loop (dm_loop_run_once refuses with DM_ERR_INVALID) or
 * free it.
 *
 * Order: within one dm_loop_run_once, due timers run first (earliest due
 * first, ties in the order they were started), then the ready sockets, then
 * the timers that became due meanwhile. A timer started from a timer
 * callback runs on a later pass even when its delay is 0, so a callback
 * that re-arms itself cannot starve the sockets. */
#ifndef DDBMIG_LOOP_H
#define DDBMIG_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ddbmig/common.h"

typedef struct dm_loop dm_loop;

/* Readiness bits, both for what a watcher wants and what it got. */
enum {
    DM_LOOP_READ = 1,
    DM_LOOP_WRITE = 2,
    DM_LOOP_ERROR = 4 /* got only: error or hang-up; a read tells which */
};

typedef struct dm_loop_io dm_loop_io;
typedef void (*dm_loop_io_fn)(dm_loop_io *io, unsigned events, void *ud);

/* A socket (or any epoll-able descriptor) watched for readiness. */
struct dm_loop_io {
    int fd;
    dm_loop_io_fn fn;
    void *ud;
    unsigned want_;       /* private: current interest; 0 when stopped */
};

typedef struct dm_loop_timer dm_loop_timer;
typedef void (*dm_loop_timer_fn)(dm_loop_timer *t, void *ud);

/* A one-shot timer; start it again to repeat. */
struct dm_loop_timer {
    dm_loop_timer_fn fn;
    void *ud;
    int64_t due_ms;       /* monotonic ms (dm_monotonic_ms) when armed */
    uint64_t seq_;        /* private: start order, for ties */
    size_t slot_;         /* private: heap position + 1; 0 when stopped */
};

/* A new loop with its epoll set; NULL when the system refuses one. */
DM_API dm_loop *dm_loop_new(void);
/* Frees the loop. Watchers still registered are forgotten, not called. */
DM_API void dm_loop_free(dm_loop *l);

/* Runs due timers and ready sockets, waiting up to max_wait_ms (0: do not
 * wait; negative: until a timer or a socket has something) for them; it
 * does not wait when a timer already ran at the start of the pass.
 * Returns after one such pass: DM_OK, DM_ERR_INVALID when called from one
 * of this loop's callbacks, DM_ERR_IO when epoll fails. */
DM_API int dm_loop_run_once(dm_loop *l, int max_wait_ms);

/* Makes a dm_loop_run_once that is waiting (or the next one) return soon.
 * Safe from any thread and from signal handlers. */
DM_API void dm_loop_wake(dm_loop *l);

/* True while dm_loop_run_once runs, that is, inside one of its callbacks:
 * where synchronous waits (which run the loop) cannot be used. */
DM_API bool dm_loop_running(const dm_loop *l);

/* The monotonic time of the loop's current pass (ms). */
DM_API int64_t dm_loop_now_ms(const dm_loop *l);

/* ---- sockets ----------------------------------------------------------- */

/* Prepares a watcher for fd; nothing is registered yet. */
DM_API void dm_loop_io_init(dm_loop_io *io, int fd, dm_loop_io_fn fn, void *ud);
/* Registers io for events (DM_LOOP_READ | DM_LOOP_WRITE), or changes what
 * it waits for when already registered. Level-triggered: a socket that
 * stays ready is reported on every pass. Returns DM_OK or DM_ERR_IO. */
DM_API int dm_loop_io_start(dm_loop *l, dm_loop_io *io, unsigned events);
/* Unregisters io; no callback for it runs after this returns. Stopping a
 * stopped watcher does nothing. */
DM_API void dm_loop_io_stop(dm_loop *l, dm_loop_io *io);
DM_API bool dm_loop_io_active(const dm_loop_io *io);

/* ---- timers ------------------------------------------------------------ */

DM_API void dm_loop_timer_init(dm_loop_timer *t, dm_loop_timer_fn fn, void *ud);
/* Arms t to fire once, delay_ms (clamped at 0) from now; re-arms it when
 * it is already armed. Returns DM_OK or DM_ERR_NOMEM. */
DM_API int dm_loop_timer_start(dm_loop *l, dm_loop_timer *t, int64_t delay_ms);
/* Disarms t; its callback does not run. Stopping a stopped timer does
 * nothing. */
DM_API void dm_loop_timer_stop(dm_loop *l, dm_loop_timer *t);
DM_API bool dm_loop_timer_active(const dm_loop_timer *t);
/* Timers armed on the loop. */
DM_API size_t dm_loop_timer_count(const dm_loop *l);

#endif
