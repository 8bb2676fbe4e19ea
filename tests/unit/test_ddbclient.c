/* The DynamoDB call loop against loopback fakes: checksum verification,
 * retries of transient failures, throttling with its reasons, and the
 * error text a person reads. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "ddbmig/ddb.h"
#include "test.h"
#include "testutil.h"

typedef struct fixture {
    pid_t pid;
    test_env env;
    creds_provider *creds;
    ddb_shared *shared;
    ddb_client *client;
} fixture;

static int setup(fixture *f, const char *mode, int max_attempts)
{
    char url[64];
    memset(f, 0, sizeof *f);
    f->pid = test_fake_start(mode, NULL, url);
    if (f->pid <= 0)
        return -1;
    test_env_init(&f->env);
    test_env_set(&f->env, "AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
    test_env_set(&f->env, "AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    f->creds = creds_env_new(&f->env.env);
    ddb_options o = {.endpoint = url, .region = "us-east-1", .creds = f->creds, .max_attempts = max_attempts};
    f->shared = ddb_shared_new(&o, NULL);
    f->client = f->shared ? ddb_client_new(f->shared) : NULL;
    return f->client ? 0 : -1;
}

static void teardown(fixture *f)
{
    ddb_client_free(f->client);
    ddb_shared_free(f->shared);
    creds_provider_free(f->creds);
    test_fake_stop(f->pid);
    test_env_cleanup(&f->env);
}

static int describe(fixture *f, ddb_call *call)
{
    ddb_call_init(call, "DescribeTable", "orders");
    dm_buf_puts(&call->body, "{\"TableName\":\"orders\"}");
    return ddb_client_run(f->client, call);
}

TEST(checksum_is_verified)
{
    fixture f;
    CHECK(setup(&f, "ddb-badcrc", 3) == 0);
    ddb_call call;
    int rc = describe(&f, &call);
    int attempts = call.attempts;
    char msg[1024];
    dm_strlcpy(msg, call.err.message, sizeof msg);
    ddb_call_cleanup(&call);
    teardown(&f);
    CHECK_INT(rc, DM_ERR_CHECKSUM);
    CHECK_INT(attempts, 3);
    CHECK_CONTAINS(msg, "x-amz-crc32");
}

TEST(transient_failures_are_retried)
{
    fixture f;
    CHECK(setup(&f, "ddb-flaky", 5) == 0);
    ddb_call call;
    int rc = describe(&f, &call);
    int attempts = call.attempts;
    char body[256];
    dm_strlcpy(body, dm_buf_cstr(&call.response), sizeof body);
    long retried = atomic_load(&ddb_shared_stats(f.shared)->retried);
    ddb_call_cleanup(&call);
    teardown(&f);
    CHECK_INT(rc, DM_OK);
    CHECK_INT(attempts, 3);
    CHECK_INT(retried, 2);
    CHECK_STR(body, "{\"Table\":{\"TableName\":\"orders\"}}");
}

TEST(throttling_keeps_its_reasons)
{
    fixture f;
    CHECK(setup(&f, "ddb-throttle", 2) == 0);
    ddb_call call;
    int rc = describe(&f, &call);
    dm_error e = call.err;
    int throttles = call.throttles;
    ddb_call_cleanup(&call);
    teardown(&f);
    CHECK_INT(rc, DM_ERR_THROTTLED);
    CHECK_INT(throttles, 2);
    CHECK_STR(e.type, "ThrottlingException");
    CHECK_CONTAINS(e.message, "ThrottlingException: Throughput exceeds");
    CHECK_CONTAINS(e.message, "(table 'orders', us-east-1, after 2 attempts)");
    CHECK_CONTAINS(e.throttle_reasons, "IndexWriteKeyRangeThroughputExceeded (arn:aws:dynamodb:");
}

TEST(fatal_errors_are_not_retried)
{
    fixture f;
    CHECK(setup(&f, "status:400", 5) == 0);
    ddb_call call;
    int rc = describe(&f, &call);
    int attempts = call.attempts;
    dm_error e = call.err;
    ddb_call_cleanup(&call);
    teardown(&f);
    CHECK_INT(rc, DM_ERR_SERVICE);
    CHECK_INT(attempts, 1);
    CHECK_STR(e.type, "ValidationException");
    CHECK_CONTAINS(e.message, "ValidationException: injected failure (table 'orders', us-east-1)");
}

TEST(refused_connection_is_a_network_error)
{
    test_env env;
    test_env_init(&env);
    test_env_set(&env, "AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
    test_env_set(&env, "AWS_SECRET_ACCESS_KEY", "secret");
    creds_provider *cp = creds_env_new(&env.env);
    ddb_options o = {.endpoint = "http://127.0.0.1:1", .region = "eu-west-1", .creds = cp, .max_attempts = 2};
    ddb_shared *s = ddb_shared_new(&o, NULL);
    ddb_client *c = ddb_client_new(s);
    ddb_call call;
    ddb_call_init(&call, "DescribeTable", NULL);
    dm_buf_puts(&call.body, "{}");
    int rc = ddb_client_run(c, &call);
    CHECK_INT(rc, DM_ERR_NETWORK);
    CHECK_INT(call.attempts, 2);
    CHECK_CONTAINS(call.err.message, "cannot reach http://127.0.0.1:1");
    ddb_call_cleanup(&call);
    ddb_client_free(c);
    ddb_shared_free(s);
    creds_provider_free(cp);
    test_env_cleanup(&env);
}

/* ---- giving up on request ------------------------------------------------- */

static volatile sig_atomic_t stop_flag;

static void *raise_stop(void *arg)
{
    (void)arg;
    dm_sleep_ms(300);
    stop_flag = 1;
    return NULL;
}

/* Runs one DescribeTable on c while another thread sets the stop flag. */
static int run_until_stopped(ddb_client *c, ddb_call *call)
{
    stop_flag = 0;
    ddb_client_set_stop(c, &stop_flag);
    pthread_t t;
    pthread_create(&t, NULL, raise_stop, NULL);
    ddb_call_init(call, "DescribeTable", "orders");
    dm_buf_puts(&call->body, "{\"TableName\":\"orders\"}");
    int rc = ddb_client_run(c, call);
    pthread_join(t, NULL);
    return rc;
}

/* A server that never answers: without the stop the call would wait for
 * its 60 s timeout and fail as a network error. */
TEST(stop_gives_up_a_call_on_the_wire)
{
    int port = 0;
    pid_t pid = test_edge_start("silent", NULL, NULL, &port);
    CHECK(pid > 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    test_env env;
    test_env_init(&env);
    test_env_set(&env, "AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
    test_env_set(&env, "AWS_SECRET_ACCESS_KEY", "secret");
    creds_provider *cp = creds_env_new(&env.env);
    ddb_options o = {.endpoint = url, .region = "us-east-1", .creds = cp, .max_attempts = 1, .timeout_ms = 60000};
    ddb_shared *s = ddb_shared_new(&o, NULL);
    ddb_client *c = ddb_client_new(s);
    ddb_call call;
    int rc = run_until_stopped(c, &call);
    char msg[1024];
    dm_strlcpy(msg, call.err.message, sizeof msg);
    size_t pending = ddb_client_pending(c);
    ddb_call_cleanup(&call);
    /* With the flag still set, the next call is given up as well; the
     * client stays usable (its transport was replaced, not broken). */
    ddb_call again;
    ddb_call_init(&again, "DescribeTable", "orders");
    dm_buf_puts(&again.body, "{}");
    int rc2 = ddb_client_run(c, &again);
    ddb_call_cleanup(&again);
    ddb_client_free(c);
    ddb_shared_free(s);
    creds_provider_free(cp);
    test_env_cleanup(&env);
    test_fake_stop(pid);
    CHECK_INT(rc, DM_ERR_STOPPED);
    CHECK_CONTAINS(msg, "DescribeTable: stopped before DynamoDB answered");
    CHECK_INT(pending, 0);
    CHECK_INT(rc2, DM_ERR_STOPPED);
}

/* A call backing off between retries (every answer a 500) is given up too. */
TEST(stop_gives_up_a_call_between_retries)
{
    fixture f;
    CHECK(setup(&f, "status:500", 1000) == 0);
    ddb_call call;
    int rc = run_until_stopped(f.client, &call);
    int attempts = call.attempts;
    size_t pending = ddb_client_pending(f.client);
    ddb_call_cleanup(&call);
    teardown(&f);
    CHECK_INT(rc, DM_ERR_STOPPED);
    CHECK(attempts >= 1);
    CHECK_INT(pending, 0);
}
