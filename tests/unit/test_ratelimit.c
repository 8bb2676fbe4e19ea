/* The capacity limiter on a simulated clock: caps hold in both modes; with
 * CUBIC a throttle cuts the rate once per burst and the rate climbs back
 * along the curve; with AIMD heavy throttling cuts the rate, a few
 * throttles do not, and calm brings it back. */
#include <math.h>

#include "engine/ratelimit.h"
#include "test.h"

static int64_t fake_now;
static int64_t fake_clock(void) { return fake_now; }

/* Sends as fast as the limiter allows for ms, each request `units`;
 * throttles every `every`-th (0: none). Returns units sent. */
static double drive(ratelimit *r, int64_t ms, double units, int every)
{
    double sent = 0;
    long n = 0;
    for (int64_t end = fake_now + ms; fake_now < end;) {
        int64_t wait = rl_acquire(r, units);
        if (wait > 0) {
            fake_now += wait;
            continue;
        }
        n++;
        if (every && n % every == 0) {
            rl_throttled(r);
            rl_settle(r, units, 0);
        } else {
            rl_settle(r, units, units);
            sent += units;
        }
        fake_now += 1; /* a request takes a millisecond of the caller's time */
    }
    return sent;
}

static ratelimit *make(double cap, rl_mode mode)
{
    static ratelimit r;
    rl_init(&r, cap);
    r.mode = mode;
    r.clock_ms = fake_clock;
    r.last_ms = r.window_start_ms = r.last_raise_ms = fake_now;
    return &r;
}

TEST(cap_holds)
{
    for (int m = 0; m < 2; m++) {
        fake_now = 1000000;
        ratelimit *r = make(100, m ? RL_AIMD : RL_CUBIC);
        double sent = drive(r, 10000, 1, 0);
        rl_destroy(r);
        /* 10 s at 100 units/s plus one second of burst. */
        CHECK(sent >= 950 && sent <= 1110);
    }
}

TEST(cubic_cuts_once_per_burst_then_climbs_back)
{
    fake_now = 5000000;
    ratelimit *r = make(0, RL_CUBIC);
    drive(r, 3000, 1, 0); /* about 1000 units/s, unlimited */
    CHECK(rl_limit(r) == 0);
    double rate = r->observed;
    CHECK(rate > 800 && rate < 1200);
    for (int i = 0; i < 5; i++) /* answers to requests already in flight */
        rl_throttled(r);
    CHECK_INT(r->cuts, 1);
    CHECK(fabs(r->max_rate - rate) < rate * 0.15);
    double cut = rl_limit(r);
    CHECK(fabs(cut - 0.7 * r->max_rate) < 1);
    /* Back near the throttled rate after K seconds, flat around it. */
    double k = cbrt(r->max_rate * 0.3 / 0.4);
    drive(r, (int64_t)(k * 1000) - 1000, 1, 0);
    CHECK(rl_limit(r) > cut && rl_limit(r) < r->max_rate);
    drive(r, 1500, 1, 0);
    CHECK(fabs(rl_limit(r) - r->max_rate) < r->max_rate * 0.1);
    rl_destroy(r);
}

TEST(cubic_floor_and_repeated_cuts)
{
    fake_now = 6000000;
    ratelimit *r = make(0, RL_CUBIC);
    drive(r, 3000, 1, 0);
    double peak = r->peak;
    drive(r, 20000, 1, 2); /* half throttled, for a long time */
    CHECK(r->cuts > 10);
    CHECK(rl_limit(r) >= peak * 0.1 - 1e-9);
    CHECK(rl_limit(r) < peak);
    rl_destroy(r);
}

TEST(aimd_heavy_throttling_backs_off_then_recovers)
{
    fake_now = 2000000;
    ratelimit *r = make(0, RL_AIMD);
    drive(r, 3000, 1, 0); /* unlimited: hundreds per second */
    CHECK(rl_limit(r) == 0);
    drive(r, 3000, 1, 4); /* a quarter throttled */
    double cut = rl_limit(r);
    CHECK(cut > 0);
    CHECK(r->cuts >= 1);
    drive(r, 20000, 1, 0); /* calm */
    CHECK(rl_limit(r) == 0 || rl_limit(r) > cut * 1.5);
    rl_destroy(r);
}

TEST(aimd_occasional_throttles_are_tolerated)
{
    fake_now = 3000000;
    ratelimit *r = make(0, RL_AIMD);
    drive(r, 5000, 1, 50); /* 2 % throttled */
    CHECK_INT(r->cuts, 0);
    CHECK(rl_limit(r) == 0);
    rl_destroy(r);
}

TEST(aimd_floor_is_a_tenth_of_the_best_rate)
{
    fake_now = 4000000;
    ratelimit *r = make(0, RL_AIMD);
    drive(r, 3000, 1, 0);
    double peak = r->peak;
    drive(r, 30000, 1, 2); /* half throttled, for a long time */
    CHECK(rl_limit(r) >= peak * 0.1 - 1e-9);
    rl_destroy(r);
}
