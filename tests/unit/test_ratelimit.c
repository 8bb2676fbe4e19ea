/* The capacity limiter on a simulated clock, against a simulated table: a
 * cap holds; throttling that ignores the rate (a constant share of
 * requests) leaves the rate near demand; a fixed capacity is found and
 * held within [0.8 C, C] with few throttles, with or without such
 * scattered throttling on top; retries wait for their tokens. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "engine/ratelimit.h"
#include "test.h"

static int64_t fake_now;
static int64_t fake_clock(void)
{
    return fake_now;
}

/* ---- a simulated client and table ----------------------------------------
 * SLOTS calls in flight at most, each answered LATENCY_MS after it is sent
 * (a throttle after 2 ms: nothing is done for it); the client could send
 * SLOTS * 1000 / LATENCY_MS = 1,600 requests a second. A new call takes a
 * unit from the limiter; a throttled one reports it and is retried after
 * the longer of its backoff and the limiter's hold, without asking again. */
#define SLOTS 64
#define LATENCY_MS 40

/* A request is let in while the bucket holds any tokens and charged when
 * it is done, so that many at once take it into debt. */
typedef struct table {
    double capacity;  /* units per second; 0: unlimited */
    double scattered; /* share of requests throttled whatever the rate */
    double bucket;    /* holds one second of capacity */
} table;

typedef struct tally {
    double served, attempts, throttled;
} tally;

typedef struct slot {
    int64_t due_ms;
    bool in_flight, throttled;
    int retries;
} slot;

static uint64_t rng_state;
static double uniform(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static slot slots[SLOTS];
static bool limited; /* false: the client without a limiter */

static void start(ratelimit *r, double cap)
{
    fake_now = 1000000;
    rng_state = 0x9E3779B97F4A7C15ull;
    memset(slots, 0, sizeof slots);
    rl_init(r, cap, fake_clock);
    limited = true;
}

/* Runs for ms; adds what happened to *t (may be NULL). */
static void run(ratelimit *r, table *tb, int64_t ms, tally *t)
{
    tally none;
    if (!t)
        t = &none;
    for (int64_t end = fake_now + ms; fake_now < end; fake_now++) {
        if (tb->capacity > 0)
            tb->bucket = fmin(tb->capacity, tb->bucket + tb->capacity / 1000);
        for (int i = 0; i < SLOTS; i++) {
            slot *c = &slots[i];
            if (c->due_ms > fake_now)
                continue;
            if (c->in_flight) {
                c->in_flight = false;
                if (c->throttled) {
                    int64_t hold = 0;
                    if (limited) {
                        rl_throttled(r);
                        hold = rl_retry(r, 1);
                    }
                    int64_t backoff = (int64_t)(uniform() * (double)(25LL << (c->retries > 9 ? 9 : c->retries)));
                    c->retries++;
                    c->due_ms = fake_now + (hold > backoff ? hold : backoff);
                    continue;
                }
                if (tb->capacity > 0)
                    tb->bucket -= 1; /* charged when done, as DynamoDB does */
                if (limited)
                    rl_settle(r, 1, 1);
                t->served++;
                c->retries = 0;
            }
            if (limited && c->retries == 0 && rl_acquire(r, 1) != 0)
                continue;
            bool hit = uniform() < tb->scattered;
            if (!hit && tb->capacity > 0)
                hit = tb->bucket <= 0; /* let in while any tokens are left */
            t->attempts++;
            t->throttled += hit;
            c->throttled = hit;
            c->in_flight = true;
            c->due_ms = fake_now + (hit ? 2 : LATENCY_MS);
        }
    }
}

/* ---- tests --------------------------------------------------------------- */

TEST(cap_holds)
{
    ratelimit r;
    table tb = {0};
    tally t = {0};
    start(&r, 100);
    run(&r, &tb, 10000, &t);
    rl_destroy(&r);
    /* 10 s at 100 units/s plus one second of burst. */
    CHECK(t.served >= 950 && t.served <= 1110);
}

TEST(no_throttling_means_no_limit)
{
    ratelimit r;
    table tb = {0};
    tally t = {0};
    start(&r, 0);
    run(&r, &tb, 20000, &t);
    CHECK(rl_limit(&r) == 0);
    CHECK_INT(r.cuts, 0);
    CHECK(t.served / 20 > 1500);
    rl_destroy(&r);
}

/* A tenth of the requests throttled at any rate: the limiter tries a cut,
 * sees the share unmoved, undoes it and learns the share as background; the
 * run goes on near what the client does without any limiter. */
TEST(scattered_throttles_keep_the_rate_near_demand)
{
    ratelimit r;
    table tb = {.scattered = 0.10};
    tally free_run = {0}, t = {0};
    /* The same client and table without a limiter: what its retries alone
     * make of it. */
    start(&r, 0);
    limited = false;
    run(&r, &tb, 60000, &free_run);
    rl_destroy(&r);

    start(&r, 0);
    run(&r, &tb, 60000, &t);
    CHECK(t.served >= 0.9 * free_run.served);
    CHECK(r.undone >= 1);
    CHECK(fabs(r.background - 0.10) < 0.03);
    /* And it stays there. */
    tally later = {0};
    run(&r, &tb, 60000, &later);
    CHECK(later.served >= 0.9 * free_run.served);
    rl_destroy(&r);
}

TEST(heavier_scattered_throttles_too)
{
    ratelimit r;
    table tb = {.scattered = 0.25};
    tally free_run = {0}, t = {0};
    start(&r, 0);
    limited = false;
    run(&r, &tb, 60000, &free_run);
    rl_destroy(&r);
    start(&r, 0);
    run(&r, &tb, 60000, &t);
    CHECK(t.served >= 0.85 * free_run.served);
    rl_destroy(&r);
}

/* A table that serves 400 units a second, the client able to send four
 * times that: after the first seconds, within [0.8 C, C] and few of the
 * attempts throttled. */
TEST(fixed_capacity_settles_below_it)
{
    ratelimit r;
    table tb = {.capacity = 400, .bucket = 400};
    tally first = {0}, t = {0};
    start(&r, 0);
    run(&r, &tb, 10000, &first);
    CHECK(r.cuts >= 1);
    CHECK(rl_limit(&r) > 0 && rl_limit(&r) < 1.3 * 400);
    run(&r, &tb, 50000, &t);
    double rate = t.served / 50;
    CHECK(rate >= 0.8 * 400 && rate <= 400 + 400 / 50.0); /* C, and the table's burst once */
    CHECK(t.throttled / t.attempts < 0.05);
    /* The start costs some throttles, but not many. */
    CHECK((first.throttled + t.throttled) / (first.attempts + t.attempts) < 0.10);
    CHECK_INT(r.undone, 0);
    rl_destroy(&r);
}

TEST(fixed_capacity_with_scattered_throttles)
{
    ratelimit r;
    table tb = {.capacity = 400, .bucket = 400, .scattered = 0.10};
    tally t = {0};
    start(&r, 0);
    run(&r, &tb, 10000, NULL);
    run(&r, &tb, 50000, &t);
    double rate = t.served / 50;
    CHECK(rate >= 0.8 * 400 && rate <= 400 + 400 / 50.0); /* C, and the table's burst once */
    /* The scattered tenth, and little more. */
    CHECK(t.throttled / t.attempts < 0.10 + 0.06);
    rl_destroy(&r);
}

/* Heavy throttling at the start of an uncapped run is answered within a
 * fraction of a second, not at the end of a window. */
TEST(heavy_throttling_is_cut_at_once)
{
    ratelimit r;
    table tb = {.capacity = 200, .bucket = 200};
    start(&r, 0);
    run(&r, &tb, 500, NULL);
    CHECK(r.cuts >= 1);
    CHECK(rl_limit(&r) > 0);
    rl_destroy(&r);
}

TEST(capacity_added_later_is_found)
{
    ratelimit r;
    table tb = {.capacity = 300, .bucket = 300};
    tally t = {0};
    start(&r, 0);
    run(&r, &tb, 30000, NULL);
    tb.capacity = 900;
    run(&r, &tb, 30000, NULL);
    run(&r, &tb, 20000, &t);
    CHECK(t.served / 20 >= 0.8 * 900);
    rl_destroy(&r);
}

TEST(retries_wait_for_their_tokens)
{
    ratelimit r;
    start(&r, 100);
    CHECK_INT(rl_acquire(&r, 100), 0); /* the second of burst */
    CHECK_INT(rl_retry(&r, 50), 500);  /* 50 units in debt at 100 a second */
    CHECK(rl_acquire(&r, 1) > 0);      /* new calls wait for the debt too */
    fake_now += 600;
    CHECK_INT(rl_acquire(&r, 1), 0);
    rl_destroy(&r);
    start(&r, 0);
    CHECK_INT(rl_retry(&r, 50), 0); /* no limit: no wait */
    rl_destroy(&r);
}

TEST(a_learned_background_fades)
{
    ratelimit r;
    table tb = {.scattered = 0.15};
    start(&r, 0);
    run(&r, &tb, 30000, NULL);
    CHECK(r.background > 0.1);
    tb.scattered = 0;
    run(&r, &tb, 30000, NULL);
    CHECK(r.background < 0.02);
    rl_destroy(&r);
}

TEST(idle_windows_change_nothing)
{
    ratelimit r;
    table tb = {.capacity = 300, .bucket = 300};
    start(&r, 0);
    run(&r, &tb, 20000, NULL);
    double before = rl_limit(&r);
    long long cuts = r.cuts;
    fake_now += 60000; /* nothing sent for a minute */
    CHECK_INT(rl_acquire(&r, 1), 0);
    CHECK(rl_limit(&r) == before);
    CHECK_INT(r.cuts, cuts);
    rl_destroy(&r);
}
