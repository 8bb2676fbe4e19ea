/* The writes-in-flight controller: it grows while answer times hold and
 * the limit holds writes back, shrinks when they rise or throttling
 * starts, and stays within its bounds (conc.h). A simulated service
 * answers in base time while fewer than its capacity are in flight and
 * queues the rest, as a service or a saturated client does. */
#include <math.h>

#include "engine/conc.h"
#include "test.h"

/* Runs the controller against a service that answers n in flight in
 * base_ms while n <= knee, and in base_ms * n / knee beyond (a queue).
 * Returns the limit after secs of simulated time. */
static int simulate(conc_ctl *c, double base_ms, int knee, int secs, bool always_held)
{
    int64_t now = 1000;
    for (int64_t end = now + secs * 1000; now < end; now += 5) {
        int n = conc_limit(c);
        double ms = n <= knee ? base_ms : base_ms * n / knee;
        /* In 5 ms, n in flight complete 5 / ms * n answers. */
        int answers = (int)(5.0 / ms * n) + 1;
        if (always_held)
            conc_held(c);
        for (int k = 0; k < answers; k++)
            conc_answer(c, now, ms, false);
    }
    return conc_limit(c);
}

TEST(grows_to_the_knee_and_stays_near_it)
{
    conc_ctl c;
    conc_init(&c, 32, 4, 1024);
    int l = simulate(&c, 5.0, 300, 30, true);
    CHECK(l >= 200);
    CHECK(l <= 700); /* past the knee answer times rise and it comes back */
}

TEST(does_not_grow_when_the_limit_holds_nothing_back)
{
    conc_ctl c;
    conc_init(&c, 32, 4, 1024);
    CHECK_INT(simulate(&c, 5.0, 300, 10, false), 32);
}

TEST(shrinks_when_answer_times_rise)
{
    conc_ctl c;
    conc_init(&c, 400, 4, 1024);
    /* The best window seen is 5 ms; then everything takes 40 ms. */
    for (int i = 0; i < 500; i++)
        conc_answer(&c, 1000 + i, 5.0, false);
    int before = conc_limit(&c);
    for (int i = 0; i < 2000; i++)
        conc_answer(&c, 2000 + i, 40.0, false);
    CHECK(conc_limit(&c) < before / 2);
    CHECK(conc_limit(&c) >= 4);
}

TEST(throttling_shrinks_it)
{
    conc_ctl c;
    conc_init(&c, 100, 4, 1024);
    for (int i = 0; i < 1000; i++)
        conc_answer(&c, 1000 + i, 5.0, true);
    CHECK(conc_limit(&c) < 100);
    CHECK(conc_limit(&c) >= 4);
}

TEST(a_fixed_limit_never_moves)
{
    conc_ctl c;
    conc_init(&c, 16, 16, 16);
    CHECK_INT(simulate(&c, 5.0, 300, 5, true), 16);
    for (int i = 0; i < 1000; i++)
        conc_answer(&c, 9000 + i, 500.0, true);
    CHECK_INT(conc_limit(&c), 16);
}

TEST(bounds_hold)
{
    conc_ctl c;
    conc_init(&c, 5000, 4, 64);
    CHECK_INT(conc_limit(&c), 64);
    CHECK_INT(simulate(&c, 1.0, 100000, 5, true), 64);
    conc_init(&c, 1, 4, 64);
    CHECK_INT(conc_limit(&c), 4);
}

/* Answers read late because the loop was busy transforming (some slow,
 * the fastest still the service's time) are no reason to shrink. */
TEST(the_processs_own_delays_do_not_shrink_it)
{
    conc_ctl c;
    conc_init(&c, 32, 4, 512);
    int64_t now = 1000;
    for (int round = 0; round < 200; round++, now += 20) {
        conc_held(&c);
        for (int k = 0; k < conc_limit(&c); k++)
            conc_answer(&c, now, k % 4 == 0 ? 5.0 : 40.0, false);
    }
    CHECK(conc_limit(&c) > 32);
}

/* The pool: in proportion to the CPU's room, within the cap and four
 * times a look; nothing when workers hardly wait, when the CPU is busy,
 * or with nonsense shares. */
TEST(the_pool_grows_with_the_cpus_room)
{
    CHECK_INT(conc_pool_add(4, 16, 0.80, 0.10), 12);  /* four times: 16 */
    CHECK_INT(conc_pool_add(4, 64, 0.30, 0.10), 12);  /* as much for less waiting */
    CHECK_INT(conc_pool_add(4, 64, 0.90, 0.40), 5);   /* 0.85 / 0.4 = 2.1 times: 9 */
    CHECK_INT(conc_pool_add(8, 64, 0.30, 0.80), 1);   /* 8.5: 9 */
    CHECK_INT(conc_pool_add(8, 10, 0.50, 0.20), 2);   /* the cap */
    CHECK_INT(conc_pool_add(100, 101, 0.26, 0.5), 1); /* at least one, never past the cap */
}

TEST(the_pool_stays_when_it_should)
{
    CHECK_INT(conc_pool_add(4, 64, 0.20, 0.10), 0);  /* hardly waiting */
    CHECK_INT(conc_pool_add(4, 64, 0.90, 0.90), 0);  /* CPU busy */
    CHECK_INT(conc_pool_add(16, 16, 0.90, 0.10), 0); /* at the cap */
    CHECK_INT(conc_pool_add(20, 16, 0.90, 0.10), 0); /* past it */
    CHECK_INT(conc_pool_add(0, 16, 0.90, 0.10), 0);
    CHECK_INT(conc_pool_add(4, 64, NAN, 0.10), 0); /* NaN */
    CHECK_INT(conc_pool_add(4, 64, 0.90, NAN), 0);
}
