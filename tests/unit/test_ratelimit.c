/* The capacity limiter on a simulated clock: caps hold, heavy throttling
 * cuts the rate, a few throttles do not, and calm brings it back. */
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

static ratelimit *make(double cap)
{
    static ratelimit r;
    rl_init(&r, cap);
    r.clock_ms = fake_clock;
    r.last_ms = r.window_start_ms = r.last_raise_ms = fake_now;
    return &r;
}

TEST(cap_holds)
{
    fake_now = 1000000;
    ratelimit *r = make(100);
    double sent = drive(r, 10000, 1, 0);
    /* 10 s at 100 units/s plus one second of burst. */
    CHECK(sent >= 950 && sent <= 1110);
    rl_destroy(r);
}

TEST(heavy_throttling_backs_off_then_recovers)
{
    fake_now = 2000000;
    ratelimit *r = make(0);
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

TEST(occasional_throttles_are_tolerated)
{
    fake_now = 3000000;
    ratelimit *r = make(0);
    drive(r, 5000, 1, 50); /* 2 % throttled */
    CHECK_INT(r->cuts, 0);
    CHECK(rl_limit(r) == 0);
    rl_destroy(r);
}

TEST(floor_is_a_tenth_of_the_best_rate)
{
    fake_now = 4000000;
    ratelimit *r = make(0);
    drive(r, 3000, 1, 0);
    double peak = r->peak;
    drive(r, 30000, 1, 2); /* half throttled, for a long time */
    CHECK(rl_limit(r) >= peak * 0.1 - 1e-9);
    rl_destroy(r);
}
