/* engine_run as a library sees it, against DynamoDB Local: the go-ahead
 * before writing comes from the caller's confirm callback (stdin is never
 * read), a NULL callback needs yes, a stop flag already set ends the
 * checks before the first write with nothing written and no checkpoint,
 * and signal dispositions are left as the caller set them. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ddbmig/engine.h"
#include "ddbtest.h"
#include "test.h"

typedef struct asked {
    int calls;
    bool answer;
    char question[256];
} asked;

static bool confirm_cb(void *ud, const char *question)
{
    asked *a = ud;
    a->calls++;
    dm_strlcpy(a->question, question, sizeof a->question);
    return a->answer;
}

/* Items of the table that carry attribute name. */
static int count_with(ddbt *t, const char *name)
{
    json_t *resp = NULL;
    dm_error err = {0};
    if (ddbt_req(t, "Scan", "{\"TableName\": \"%s\", \"FilterExpression\": \"attribute_exists(#a)\", "
                            "\"ExpressionAttributeNames\": {\"#a\": \"%s\"}, \"Select\": \"COUNT\"}",
                 &resp, &err, t->table, name) != DM_OK)
        return -1;
    int n = (int)json_integer_value(json_object_get(resp, "Count"));
    json_decref(resp);
    return n;
}

static engine_options options(ddbt *t, const char *code, char *checkpoint, size_t size)
{
    snprintf(checkpoint, size, "%s/%s.json", test_tmpdir(), t->table);
    static char errors[1024];
    snprintf(errors, sizeof errors, "%s/%s.errors.jsonl", test_tmpdir(), t->table);
    engine_options o = {.job = ENGINE_MIGRATE, .table = t->table, .code = code, .workers = 2,
                        .checkpoint_path = checkpoint, .errors_path = errors, .quiet = true};
    return o;
}

/* stdin is not a terminal here (and holds a "y"): whatever happens comes
 * from the callback. */
static void stdin_says_yes(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/stdin", test_tmpdir());
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("y\n", f);
        fclose(f);
    }
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        dup2(fd, 0);
        close(fd);
    }
}

TEST(confirm_callback_decides)
{
    ddbt t;
    ddbt_open(&t, "it_confirm");
    CHECK_INT(ddbt_create(&t, NULL), DM_OK);
    CHECK_INT(ddbt_fill(&t, 30), DM_OK);
    stdin_says_yes();
    char cp[1024];
    dm_error err = {0};

    /* No callback and no yes: refused, nothing asked, nothing written. */
    engine_options o = options(&t, "item.a = 1; return item", cp, sizeof cp);
    engine_status st = engine_run(&o, t.shared, t.client, &err);
    CHECK_INT(st, ENGINE_CONFIG);
    CHECK_CONTAINS(err.message, "needs --yes");
    CHECK_INT(count_with(&t, "a"), 0);

    /* The callback says no. */
    asked a = {.answer = false};
    o.confirm = confirm_cb;
    o.confirm_ud = &a;
    st = engine_run(&o, t.shared, t.client, &err);
    CHECK_INT(st, ENGINE_CONFIG);
    CHECK_CONTAINS(err.message, "not confirmed");
    CHECK_INT(a.calls, 1);
    CHECK_CONTAINS(a.question, t.table);
    CHECK_INT(count_with(&t, "a"), 0);
    struct stat sb;
    CHECK(stat(cp, &sb) != 0);

    /* The callback says yes: the run goes ahead without a terminal. */
    a.answer = true;
    st = engine_run(&o, t.shared, t.client, &err);
    CHECK_INT(st, ENGINE_DONE);
    CHECK_INT(a.calls, 2);
    CHECK_INT(count_with(&t, "a"), 30);

    /* yes skips the question. */
    engine_options y = options(&t, "item.b = 1; return item", cp, sizeof cp);
    y.yes = true;
    y.confirm = confirm_cb;
    y.confirm_ud = &a;
    CHECK_INT(engine_run(&y, t.shared, t.client, &err), ENGINE_DONE);
    CHECK_INT(a.calls, 2);
    CHECK_INT(count_with(&t, "b"), 30);
    ddbt_close(&t);
}

TEST(stop_before_the_first_write)
{
    ddbt t;
    ddbt_open(&t, "it_stop");
    CHECK_INT(ddbt_create(&t, NULL), DM_OK);
    CHECK_INT(ddbt_fill(&t, 20), DM_OK);
    char cp[1024];
    volatile sig_atomic_t stop = 1;
    engine_options o = options(&t, "item.c = 1; return item", cp, sizeof cp);
    o.yes = true;
    o.stop = &stop;
    dm_error err = {0};
    CHECK_INT(engine_run(&o, t.shared, t.client, &err), ENGINE_INTERRUPTED);
    struct stat sb;
    CHECK(stat(cp, &sb) != 0);
    CHECK_INT(count_with(&t, "c"), 0);
    /* The client given to the engine still works, and waits again. */
    stop = 0;
    CHECK_INT(engine_run(&o, t.shared, t.client, &err), ENGINE_DONE);
    CHECK_INT(count_with(&t, "c"), 20);
    ddbt_close(&t);
}

static bool default_disposition(int sig)
{
    struct sigaction sa;
    return sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL;
}

TEST(signal_dispositions_are_left_alone)
{
    ddbt t;
    ddbt_open(&t, "it_signals");
    CHECK_INT(ddbt_create(&t, NULL), DM_OK);
    CHECK_INT(ddbt_fill(&t, 10), DM_OK);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    char cp[1024];
    engine_options o = options(&t, "item.d = 1; return item", cp, sizeof cp);
    o.yes = true;
    dm_error err = {0};
    CHECK_INT(engine_run(&o, t.shared, t.client, &err), ENGINE_DONE);
    CHECK(default_disposition(SIGPIPE));
    CHECK(default_disposition(SIGINT));
    CHECK(default_disposition(SIGTERM));
    ddbt_close(&t);
}
