/* The per-thread event loop (see include/ddbmig/loop.h): epoll for
 * readiness, a binary min-heap of timers ordered by (due, start order).
 *
 * Stopped watchers and the batch: epoll hands back a batch of events that
 * point at watchers. A callback may stop (and free) a watcher whose event
 * is still further down the batch; dm_loop_io_stop blanks such entries, so
 * that callers may free a watcher as soon as it is stopped. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ddbmig/loop.h"

#define BATCH 64

struct dm_loop {
    int epfd;
    int wake_fd;                /* eventfd; -1 when unavailable */
    dm_loop_io wake_io;
    bool running;               /* inside dm_loop_run_once */
    int64_t now_ms;
    /* timers */
    dm_loop_timer **heap;
    size_t n_timers, cap_timers;
    uint64_t next_seq;
    /* the batch being dispatched */
    struct epoll_event batch[BATCH];
    int batch_n, batch_i;
};

/* ---- timer heap ------------------------------------------------------- */

static bool earlier(const dm_loop_timer *a, const dm_loop_timer *b)
{
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->seq_ < b->seq_);
}

static void place(dm_loop *l, size_t i, dm_loop_timer *t)
{
    l->heap[i] = t;
    t->slot_ = i + 1;
}

static void sift_up(dm_loop *l, size_t i)
{
    dm_loop_timer *t = l->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(t, l->heap[parent]))
            break;
        place(l, i, l->heap[parent]);
        i = parent;
    }
    place(l, i, t);
}

static void sift_down(dm_loop *l, size_t i)
{
    dm_loop_timer *t = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->n_timers)
            break;
        if (c + 1 < l->n_timers && earlier(l->heap[c + 1], l->heap[c]))
            c++;
        if (!earlier(l->heap[c], t))
            break;
        place(l, i, l->heap[c]);
        i = c;
    }
    place(l, i, t);
}

static void heap_remove(dm_loop *l, dm_loop_timer *t)
{
    size_t i = t->slot_ - 1;
    t->slot_ = 0;
    dm_loop_timer *last = l->heap[--l->n_timers];
    if (i == l->n_timers)
        return;
    place(l, i, last);
    if (i > 0 && earlier(last, l->heap[(i - 1) / 2]))
        sift_up(l, i);
    else
        sift_down(l, i);
}

void dm_loop_timer_init(dm_loop_timer *t, dm_loop_timer_fn fn, void *ud)
{
    t->fn = fn;
    t->ud = ud;
    t->due_ms = 0;
    t->seq_ = 0;
    t->slot_ = 0;
}

int dm_loop_timer_start(dm_loop *l, dm_loop_timer *t, int64_t delay_ms)
{
    if (t->slot_)
        heap_remove(l, t);
    if (l->n_timers == l->cap_timers) {
        size_t cap = l->cap_timers ? l->cap_timers * 2 : 64;
        dm_loop_timer **h = realloc(l->heap, cap * sizeof *h);
        if (!h)
            return DM_ERR_NOMEM;
        l->heap = h;
        l->cap_timers = cap;
    }
    if (delay_ms < 0)
        delay_ms = 0;
    if (delay_ms > INT64_MAX / 4)
        delay_ms = INT64_MAX / 4;
    t->due_ms = dm_monotonic_ms() + delay_ms;
    t->seq_ = l->next_seq++;
    l->n_timers++;
    place(l, l->n_timers - 1, t);
    sift_up(l, l->n_timers - 1);
    return DM_OK;
}

void dm_loop_timer_stop(dm_loop *l, dm_loop_timer *t)
{
    if (t->slot_)
        heap_remove(l, t);
}

bool dm_loop_timer_active(const dm_loop_timer *t) { return t->slot_ != 0; }

size_t dm_loop_timer_count(const dm_loop *l) { return l->n_timers; }

/* Runs the timers due by now that were armed before this pass began;
 * returns how many ran. */
static int run_timers(dm_loop *l)
{
    uint64_t limit = l->next_seq;
    int ran = 0;
    while (l->n_timers) {
        dm_loop_timer *t = l->heap[0];
        if (t->due_ms > l->now_ms || t->seq_ >= limit)
            break;
        heap_remove(l, t);
        t->fn(t, t->ud);
        ran++;
    }
    return ran;
}

/* ---- sockets ------------------------------------------------------------- */

static uint32_t epoll_bits(unsigned events)
{
    return (events & DM_LOOP_READ ? EPOLLIN : 0) | (events & DM_LOOP_WRITE ? EPOLLOUT : 0);
}

void dm_loop_io_init(dm_loop_io *io, int fd, dm_loop_io_fn fn, void *ud)
{
    io->fd = fd;
    io->fn = fn;
    io->ud = ud;
    io->want_ = 0;
}

int dm_loop_io_start(dm_loop *l, dm_loop_io *io, unsigned events)
{
    events &= DM_LOOP_READ | DM_LOOP_WRITE;
    /* A registered watcher is marked by a non-zero want_ even when it asks
     * for nothing; epoll then still reports errors and hang-ups. */
    unsigned mark = events | 0x100u;
    if (io->want_ == mark)
        return DM_OK;
    struct epoll_event ev = {.events = epoll_bits(events), .data.ptr = io};
    int op = io->want_ ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(l->epfd, op, io->fd, &ev) < 0)
        return DM_ERR_IO;
    io->want_ = mark;
    return DM_OK;
}

void dm_loop_io_stop(dm_loop *l, dm_loop_io *io)
{
    if (!io->want_)
        return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->want_ = 0;
    for (int i = l->batch_i + 1; i < l->batch_n; i++)
        if (l->batch[i].data.ptr == io)
            l->batch[i].data.ptr = NULL;
}

bool dm_loop_io_active(const dm_loop_io *io) { return io->want_ != 0; }

/* ---- the loop ------------------------------------------------------------ */

static void on_wake(dm_loop_io *io, unsigned events, void *ud)
{
    uint64_t n;
    (void)events;
    (void)ud;
    while (read(io->fd, &n, sizeof n) > 0)
        ;
}

dm_loop *dm_loop_new(void)
{
    dm_loop *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        free(l);
        return NULL;
    }
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wake_fd >= 0) {
        dm_loop_io_init(&l->wake_io, l->wake_fd, on_wake, NULL);
        if (dm_loop_io_start(l, &l->wake_io, DM_LOOP_READ) != DM_OK) {
            close(l->wake_fd);
            l->wake_fd = -1;
        }
    }
    l->now_ms = dm_monotonic_ms();
    return l;
}

void dm_loop_free(dm_loop *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n_timers; i++)
        l->heap[i]->slot_ = 0;
    free(l->heap);
    if (l->wake_fd >= 0)
        close(l->wake_fd);
    close(l->epfd);
    free(l);
}

void dm_loop_wake(dm_loop *l)
{
    uint64_t one = 1;
    if (l->wake_fd >= 0) {
        ssize_t w = write(l->wake_fd, &one, sizeof one);
        (void)w; /* a full counter already wakes the loop */
    }
}

int64_t dm_loop_now_ms(const dm_loop *l) { return l->now_ms; }

bool dm_loop_running(const dm_loop *l) { return l->running; }

static unsigned loop_bits(uint32_t ev)
{
    return (ev & EPOLLIN ? DM_LOOP_READ : 0) | (ev & EPOLLOUT ? DM_LOOP_WRITE : 0) |
           (ev & (EPOLLERR | EPOLLHUP | EPOLLRDHUP) ? DM_LOOP_ERROR : 0);
}

int dm_loop_run_once(dm_loop *l, int max_wait_ms)
{
    if (l->running)
        return DM_ERR_INVALID;
    l->running = true;
    l->now_ms = dm_monotonic_ms();
    /* Work done by timers may be what the caller waits for: look at the
     * sockets without waiting then. */
    int64_t wait = run_timers(l) ? 0 : max_wait_ms;
    if (l->n_timers) {
        int64_t until = l->heap[0]->due_ms - l->now_ms;
        if (until < 0)
            until = 0;
        if (wait < 0 || until < wait)
            wait = until;
    }
    if (wait > INT_MAX)
        wait = INT_MAX;
    int rc = DM_OK;
    int n = epoll_wait(l->epfd, l->batch, BATCH, (int)wait);
    if (n < 0) {
        n = 0;
        if (errno != EINTR)
            rc = DM_ERR_IO;
    }
    l->now_ms = dm_monotonic_ms();
    l->batch_n = n;
    for (l->batch_i = 0; l->batch_i < n; l->batch_i++) {
        dm_loop_io *io = l->batch[l->batch_i].data.ptr;
        if (io)
            io->fn(io, loop_bits(l->batch[l->batch_i].events), io->ud);
    }
    l->batch_n = l->batch_i = 0;
    /* Timers armed by the socket callbacks with no delay run now. */
    l->now_ms = dm_monotonic_ms();
    run_timers(l);
    l->running = false;
    return rc;
}
