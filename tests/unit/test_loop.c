/* The event loop: timer order and ties, stopping, re-arming from a
 * callback, readiness of descriptors, watchers stopped (and freed) by
 * another callback of the same batch, the recursion guard and waking a
 * waiting loop from another thread. */
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ddbmig/loop.h"
#include "test.h"

typedef struct rec {
    int order[64];
    int n;
} rec;

typedef struct tagged {
    dm_loop_timer t;
    rec *r;
    int tag;
} tagged;

static void note(dm_loop_timer *t, void *ud)
{
    tagged *g = ud;
    (void)t;
    if (g->r->n < 64)
        g->r->order[g->r->n++] = g->tag;
}

/* Runs the loop until no timer is left (at most 5 s). */
static void drain(dm_loop *l)
{
    int64_t end = dm_monotonic_ms() + 5000;
    while (dm_loop_timer_count(l) > 0 && dm_monotonic_ms() < end)
        dm_loop_run_once(l, 100);
}

TEST(timers_fire_in_due_order_ties_in_start_order)
{
    dm_loop *l = dm_loop_new();
    CHECK(l);
    rec r = {0};
    static const int delays[] = {30, 10, 0, 20, 0, 10};
    tagged g[6];
    for (int i = 0; i < 6; i++) {
        g[i].r = &r;
        g[i].tag = i;
        dm_loop_timer_init(&g[i].t, note, &g[i]);
        CHECK_INT(dm_loop_timer_start(l, &g[i].t, delays[i]), DM_OK);
    }
    CHECK_INT(dm_loop_timer_count(l), 6);
    drain(l);
    dm_loop_free(l);
    CHECK_INT(r.n, 6);
    static const int want[] = {2, 4, 1, 5, 3, 0};
    for (int i = 0; i < 6; i++)
        CHECK_INT(r.order[i], want[i]);
}

TEST(stopped_and_rearmed_timers)
{
    dm_loop *l = dm_loop_new();
    rec r = {0};
    tagged a = {.r = &r, .tag = 1}, b = {.r = &r, .tag = 2}, c = {.r = &r, .tag = 3};
    dm_loop_timer_init(&a.t, note, &a);
    dm_loop_timer_init(&b.t, note, &b);
    dm_loop_timer_init(&c.t, note, &c);
    dm_loop_timer_start(l, &a.t, 5);
    dm_loop_timer_start(l, &b.t, 10);
    dm_loop_timer_start(l, &c.t, 15);
    dm_loop_timer_stop(l, &b.t);
    dm_loop_timer_stop(l, &b.t); /* twice is harmless */
    CHECK(!dm_loop_timer_active(&b.t));
    dm_loop_timer_start(l, &a.t, 25); /* re-armed: moves after c */
    CHECK(dm_loop_timer_active(&a.t));
    CHECK_INT(dm_loop_timer_count(l), 2);
    drain(l);
    dm_loop_free(l);
    CHECK_INT(r.n, 2);
    CHECK_INT(r.order[0], 3);
    CHECK_INT(r.order[1], 1);
}

typedef struct order_check {
    dm_loop_timer t;
    int64_t *last_due;
    int *bad;
    int *count;
} order_check;

static void check_order(dm_loop_timer *t, void *ud)
{
    order_check *o = ud;
    if (t->due_ms < *o->last_due)
        (*o->bad)++;
    *o->last_due = t->due_ms;
    (*o->count)++;
}

/* Many timers with random delays, some stopped: each one
 * still armed fires once, in due order. */
TEST(timers_never_fire_out_of_due_order)
{
    enum { N = 500 };
    dm_loop *l = dm_loop_new();
    static order_check g[N];
    int64_t last = 0;
    int bad = 0, count = 0;
    unsigned seed = 777;
    for (int i = 0; i < N; i++) {
        g[i] = (order_check){.last_due = &last, .bad = &bad, .count = &count};
        dm_loop_timer_init(&g[i].t, check_order, &g[i]);
        dm_loop_timer_start(l, &g[i].t, rand_r(&seed) % 40);
        if (i % 7 == 0)
            dm_loop_timer_stop(l, &g[i / 2].t);
    }
    int expected = (int)dm_loop_timer_count(l);
    drain(l);
    dm_loop_free(l);
    CHECK_INT(bad, 0);
    CHECK_INT(count, expected);
}

/* ---- sockets and the batch ------------------------------------------------ */

typedef struct spinner {
    dm_loop_timer t;
    dm_loop *l;
    int runs;
} spinner;

static void spin(dm_loop_timer *t, void *ud)
{
    spinner *s = ud;
    s->runs++;
    dm_loop_timer_start(s->l, t, 0);
}

typedef struct reader {
    dm_loop_io io;
    int calls;
    unsigned got;
} reader;

static void on_ready(dm_loop_io *io, unsigned events, void *ud)
{
    reader *r = ud;
    (void)io;
    r->calls++;
    r->got |= events;
}

TEST(self_rearming_timer_does_not_starve_sockets)
{
    dm_loop *l = dm_loop_new();
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK(write(p[1], "x", 1) == 1);
    reader rd = {0};
    dm_loop_io_init(&rd.io, p[0], on_ready, &rd);
    CHECK_INT(dm_loop_io_start(l, &rd.io, DM_LOOP_READ), DM_OK);
    spinner s = {.l = l};
    dm_loop_timer_init(&s.t, spin, &s);
    dm_loop_timer_start(l, &s.t, 0);
    CHECK_INT(dm_loop_run_once(l, 1000), DM_OK);
    int runs = s.runs;
    dm_loop_io_stop(l, &rd.io);
    dm_loop_timer_stop(l, &s.t);
    dm_loop_free(l);
    close(p[0]);
    close(p[1]);
    CHECK_INT(rd.calls, 1);
    CHECK(rd.got & DM_LOOP_READ);
    CHECK_INT(runs, 2); /* once before the sockets, once after */
}

TEST(read_and_write_readiness)
{
    dm_loop *l = dm_loop_new();
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    reader rd = {0};
    dm_loop_io_init(&rd.io, sv[0], on_ready, &rd);
    CHECK_INT(dm_loop_io_start(l, &rd.io, DM_LOOP_WRITE), DM_OK);
    dm_loop_run_once(l, 1000);
    unsigned first = rd.got;
    rd.got = 0;
    rd.calls = 0;
    CHECK_INT(dm_loop_io_start(l, &rd.io, DM_LOOP_READ), DM_OK);
    dm_loop_run_once(l, 0); /* nothing to read yet */
    int idle_calls = rd.calls;
    CHECK(write(sv[1], "ab", 2) == 2);
    dm_loop_run_once(l, 1000);
    unsigned second = rd.got;
    close(sv[1]); /* the peer hangs up */
    rd.got = 0;
    dm_loop_run_once(l, 1000);
    unsigned third = rd.got;
    dm_loop_io_stop(l, &rd.io);
    CHECK(!dm_loop_io_active(&rd.io));
    dm_loop_free(l);
    close(sv[0]);
    CHECK_INT(first, DM_LOOP_WRITE);
    CHECK_INT(idle_calls, 0);
    CHECK_INT(second, DM_LOOP_READ);
    CHECK(third & DM_LOOP_READ);
}

/* Two descriptors are ready in the same pass; whichever callback runs
 * first stops and frees the other's watcher, which must then not run. */
typedef struct pair_io {
    dm_loop_io io;
    dm_loop *l;
    struct pair_io **other;
    int *calls;
} pair_io;

static void kill_other(dm_loop_io *io, unsigned events, void *ud)
{
    pair_io *me = ud;
    (void)io;
    (void)events;
    (*me->calls)++;
    if (*me->other) {
        dm_loop_io_stop(me->l, &(*me->other)->io);
        free(*me->other);
        *me->other = NULL;
    }
}

TEST(watcher_freed_by_an_earlier_callback_is_not_called)
{
    dm_loop *l = dm_loop_new();
    int a[2], b[2];
    CHECK(pipe(a) == 0 && pipe(b) == 0);
    CHECK(write(a[1], "x", 1) == 1 && write(b[1], "y", 1) == 1);
    int calls = 0;
    pair_io *pa = calloc(1, sizeof *pa), *pb = calloc(1, sizeof *pb);
    pa->l = pb->l = l;
    pa->calls = pb->calls = &calls;
    pa->other = &pb;
    pb->other = &pa;
    dm_loop_io_init(&pa->io, a[0], kill_other, pa);
    dm_loop_io_init(&pb->io, b[0], kill_other, pb);
    dm_loop_io_start(l, &pa->io, DM_LOOP_READ);
    dm_loop_io_start(l, &pb->io, DM_LOOP_READ);
    dm_loop_run_once(l, 1000);
    int first_pass = calls;
    pair_io *left = pa ? pa : pb;
    dm_loop_io_stop(l, &left->io);
    free(left);
    dm_loop_free(l);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    CHECK_INT(first_pass, 1);
}

typedef struct nested {
    dm_loop_timer t;
    dm_loop *l;
    int rc;
} nested;

static void run_inside(dm_loop_timer *t, void *ud)
{
    nested *n = ud;
    (void)t;
    n->rc = dm_loop_run_once(n->l, 0);
}

TEST(running_the_loop_from_a_callback_is_refused)
{
    dm_loop *l = dm_loop_new();
    nested n = {.l = l, .rc = 99};
    dm_loop_timer_init(&n.t, run_inside, &n);
    dm_loop_timer_start(l, &n.t, 0);
    CHECK_INT(dm_loop_run_once(l, 0), DM_OK);
    dm_loop_free(l);
    CHECK_INT(n.rc, DM_ERR_INVALID);
}

static void *wake_later(void *arg)
{
    usleep(50 * 1000);
    dm_loop_wake(arg);
    return NULL;
}

static void flag(dm_loop_timer *t, void *ud)
{
    (void)t;
    *(int *)ud = 1;
}

/* A loop waiting with nothing due returns when another thread wakes it,
 * not when its 30 s guard timer fires. */
TEST(another_thread_wakes_a_waiting_loop)
{
    dm_loop *l = dm_loop_new();
    int guard_fired = 0;
    dm_loop_timer guard;
    dm_loop_timer_init(&guard, flag, &guard_fired);
    dm_loop_timer_start(l, &guard, 30000);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, wake_later, l) == 0);
    CHECK_INT(dm_loop_run_once(l, -1), DM_OK);
    pthread_join(th, NULL);
    CHECK_INT(guard_fired, 0);
    CHECK(dm_loop_timer_active(&guard));
    /* The wake-up was consumed: the next pass does not return at once for it. */
    dm_loop_timer_stop(l, &guard);
    dm_loop_free(l);
}

TEST(timer_fires_while_no_socket_is_ready)
{
    dm_loop *l = dm_loop_new();
    int p[2];
    CHECK(pipe(p) == 0);
    reader rd = {0};
    dm_loop_io_init(&rd.io, p[0], on_ready, &rd);
    dm_loop_io_start(l, &rd.io, DM_LOOP_READ);
    int fired = 0;
    dm_loop_timer t;
    dm_loop_timer_init(&t, flag, &fired);
    dm_loop_timer_start(l, &t, 20);
    int64_t end = dm_monotonic_ms() + 5000;
    while (!fired && dm_monotonic_ms() < end)
        dm_loop_run_once(l, -1);
    dm_loop_io_stop(l, &rd.io);
    dm_loop_free(l);
    close(p[0]);
    close(p[1]);
    CHECK_INT(fired, 1);
    CHECK_INT(rd.calls, 0);
}
