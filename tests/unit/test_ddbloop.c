/* The DynamoDB client on an event loop, against loopback fakes: calls
 * handed back through completion callbacks (never from within start),
 * callbacks that start further calls, retry backoffs as loop timers next to
 * the caller's own, polled and event-driven calls on one client, a client
 * freed while a call backs off, and the synchronous helpers refusing to run
 * inside a callback. */
#include <stdlib.h>
#include <string.h>

#include "ddbmig/ddb.h"
#include "ddbmig/loop.h"
#include "test.h"
#include "testutil.h"

typedef struct fixture {
    pid_t pid;
    test_env env;
    creds_provider *creds;
    ddb_shared *shared;
    dm_loop *loop;
    ddb_client *client;
} fixture;

/* mode "" starts no fake (the endpoint then refuses connections). */
static int setup(fixture *f, const char *mode, int max_attempts, bool with_keys)
{
    char url[64] = "http://127.0.0.1:1";
    memset(f, 0, sizeof *f);
    if (*mode && (f->pid = test_fake_start(mode, NULL, url)) <= 0)
        return -1;
    test_env_init(&f->env);
    if (with_keys) {
        test_env_set(&f->env, "AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
        test_env_set(&f->env, "AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    }
    f->creds = creds_env_new(&f->env.env);
    ddb_options o = {.endpoint = url, .region = "us-east-1", .creds = f->creds, .max_attempts = max_attempts};
    f->shared = ddb_shared_new(&o, NULL);
    f->loop = dm_loop_new();
    f->client = f->shared ? ddb_client_new_on_loop(f->shared, f->loop) : NULL;
    return f->client ? 0 : -1;
}

static void teardown(fixture *f)
{
    ddb_client_free(f->client);
    dm_loop_free(f->loop);
    ddb_shared_free(f->shared);
    creds_provider_free(f->creds);
    test_fake_stop(f->pid);
    test_env_cleanup(&f->env);
}

static void describe(ddb_call *call)
{
    ddb_call_init(call, "DescribeTable", "orders");
    dm_buf_puts(&call->body, "{\"TableName\":\"orders\"}");
}

static void count(ddb_call *call, void *ud)
{
    (void)call;
    (*(int *)ud)++;
}

/* Runs the loop until *flag reaches want (at most 10 s). */
static void run_until(dm_loop *loop, const int *flag, int want)
{
    int64_t end = dm_monotonic_ms() + 10000;
    while (*flag < want && dm_monotonic_ms() < end)
        dm_loop_run_once(loop, 200);
}

TEST(completion_callback_hands_back_a_retried_call)
{
    fixture f;
    CHECK(setup(&f, "ddb-flaky", 5, true) == 0);
    ddb_call call;
    describe(&call);
    int done = 0;
    call.on_done = count;
    call.on_done_ud = &done;
    CHECK_INT(ddb_client_start(f.client, &call), DM_OK);
    CHECK_INT(done, 0);
    CHECK_INT(ddb_client_pending(f.client), 1);
    run_until(f.loop, &done, 1);
    int rc = call.rc, attempts = call.attempts;
    size_t pending = ddb_client_pending(f.client);
    ddb_call_cleanup(&call);
    teardown(&f);
    CHECK_INT(done, 1);
    CHECK_INT(rc, DM_OK);
    CHECK_INT(attempts, 3);
    CHECK_INT(pending, 0);
}

/* Each callback reuses its call for the next request: five in a row. */
typedef struct relay {
    ddb_client *c;
    ddb_call call;
    int done, ok;
} relay;

static void pass_on(ddb_call *call, void *ud)
{
    relay *r = ud;
    r->done++;
    r->ok += call->rc == DM_OK;
    if (r->done < 5) {
        ddb_call_reuse(call, "DescribeTable", "orders");
        dm_buf_puts(&call->body, "{\"TableName\":\"orders\"}");
        call->on_done = pass_on;
        call->on_done_ud = r;
        ddb_client_start(r->c, call);
    }
}

TEST(completion_callback_starts_the_next_call)
{
    fixture f;
    CHECK(setup(&f, "ddb-flaky", 5, true) == 0);
    static relay r;
    memset(&r, 0, sizeof r);
    r.c = f.client;
    describe(&r.call);
    r.call.on_done = pass_on;
    r.call.on_done_ud = &r;
    ddb_client_start(f.client, &r.call);
    run_until(f.loop, &r.done, 5);
    size_t pending = ddb_client_pending(f.client);
    ddb_call_cleanup(&r.call);
    teardown(&f);
    CHECK_INT(r.done, 5);
    CHECK_INT(r.ok, 5);
    CHECK_INT(pending, 0);
}

typedef struct watch {
    dm_loop_timer t;
    ddb_client *c;
    int fired;
    size_t pending;
} watch;

static void on_watch(dm_loop_timer *t, void *ud)
{
    watch *w = ud;
    (void)t;
    w->fired++;
    w->pending = ddb_client_pending(w->c);
}

/* A call that keeps failing backs off on the loop while the caller's timer
 * fires; freeing the client withdraws the backoff timer and the request,
 * leaving only the caller's watchers on the loop. */
TEST(backoff_waits_on_the_loop_and_free_withdraws_it)
{
    fixture f;
    CHECK(setup(&f, "status:503", 1000, true) == 0);
    ddb_call call;
    describe(&call);
    int done = 0;
    call.on_done = count;
    call.on_done_ud = &done;
    ddb_client_start(f.client, &call);
    watch w = {.c = f.client};
    dm_loop_timer_init(&w.t, on_watch, &w);
    dm_loop_timer_start(f.loop, &w.t, 300);
    run_until(f.loop, &w.fired, 1);
    long attempts = atomic_load(&ddb_shared_stats(f.shared)->attempts);
    ddb_client_free(f.client);
    f.client = NULL;
    size_t left = dm_loop_timer_count(f.loop);
    for (int i = 0; i < 3; i++) /* nothing of the client may run now */
        dm_loop_run_once(f.loop, 20);
    teardown(&f);
    ddb_call_cleanup(&call);
    CHECK_INT(w.fired, 1);
    CHECK_INT(w.pending, 1);
    CHECK_INT(done, 0);
    CHECK(attempts >= 2);
    CHECK_INT(left, 0);
}

/* One call collected with ddb_client_wait, one through its callback, on
 * the same client at the same time. */
TEST(polled_and_event_driven_calls_together)
{
    fixture f;
    CHECK(setup(&f, "ddb-flaky", 5, true) == 0);
    ddb_call polled, driven;
    describe(&polled);
    describe(&driven);
    int done = 0;
    driven.on_done = count;
    driven.on_done_ud = &done;
    ddb_client_start(f.client, &polled);
    ddb_client_start(f.client, &driven);
    ddb_call *got = NULL;
    int64_t end = dm_monotonic_ms() + 10000;
    while (!got && dm_monotonic_ms() < end)
        ddb_client_wait(f.client, 200, &got);
    run_until(f.loop, &done, 1);
    size_t pending = ddb_client_pending(f.client);
    int rc1 = polled.rc, rc2 = driven.rc;
    ddb_call_cleanup(&polled);
    ddb_call_cleanup(&driven);
    teardown(&f);
    CHECK(got == &polled);
    CHECK_INT(done, 1);
    CHECK_INT(rc1, DM_OK);
    CHECK_INT(rc2, DM_OK);
    CHECK_INT(pending, 0);
}

/* Without credentials the call cannot be signed: it fails before being
 * sent, and is still handed back from the loop, not from within start. */
TEST(call_failing_before_it_is_sent_comes_back_through_the_loop)
{
    fixture f;
    CHECK(setup(&f, "", 3, false) == 0);
    ddb_call call;
    describe(&call);
    int done = 0;
    call.on_done = count;
    call.on_done_ud = &done;
    CHECK_INT(ddb_client_start(f.client, &call), DM_OK);
    int during = done;
    run_until(f.loop, &done, 1);
    int rc = call.rc;
    ddb_call_cleanup(&call);
    teardown(&f);
    CHECK_INT(during, 0);
    CHECK_INT(done, 1);
    CHECK_INT(rc, DM_ERR_CREDENTIALS);
}

typedef struct inner {
    ddb_client *c;
    int run_rc, request_rc, wait_rc, calls;
} inner;

static void sync_inside(ddb_call *call, void *ud)
{
    inner *in = ud;
    ddb_call other;
    (void)call;
    describe(&other);
    in->run_rc = ddb_client_run(in->c, &other);
    ddb_call_cleanup(&other);
    json_t *req = json_pack("{s:s}", "TableName", "orders");
    in->request_rc = ddb_request(in->c, "DescribeTable", "orders", req, NULL, NULL);
    json_decref(req);
    ddb_call *d = NULL;
    in->wait_rc = ddb_client_wait(in->c, 0, &d);
    in->calls++;
}

TEST(synchronous_helpers_refuse_to_run_inside_a_callback)
{
    fixture f;
    CHECK(setup(&f, "ddb-flaky", 5, true) == 0);
    inner in = {.c = f.client, .run_rc = 99, .request_rc = 99, .wait_rc = 99};
    ddb_call call;
    describe(&call);
    call.on_done = sync_inside;
    call.on_done_ud = &in;
    ddb_client_start(f.client, &call);
    run_until(f.loop, &in.calls, 1);
    ddb_call_cleanup(&call);
    teardown(&f);
    CHECK_INT(in.calls, 1);
    CHECK_INT(in.run_rc, DM_ERR_INVALID);
    CHECK_INT(in.request_rc, DM_ERR_INVALID);
    CHECK_INT(in.wait_rc, DM_ERR_INVALID);
}

/* ddb_client_run leaves other finished calls for ddb_client_wait. */
TEST(run_keeps_other_finished_calls_for_wait)
{
    fixture f;
    CHECK(setup(&f, "ddb-flaky", 5, true) == 0);
    ddb_call other, mine;
    describe(&other);
    describe(&mine);
    ddb_client_start(f.client, &other);
    int rc = ddb_client_run(f.client, &mine);
    ddb_call *got = NULL;
    int64_t end = dm_monotonic_ms() + 10000;
    while (!got && dm_monotonic_ms() < end)
        ddb_client_wait(f.client, 200, &got);
    ddb_call_cleanup(&other);
    ddb_call_cleanup(&mine);
    teardown(&f);
    CHECK_INT(rc, DM_OK);
    CHECK(got == &other);
}
