/* ddbmig lambda: the engine as an AWS Lambda custom runtime. The packaged
 * bootstrap execs `ddbmig lambda` with the migration's options; each
 * invocation runs one segment of the migration until it is done or the
 * invocation's deadline nears, its cursor kept in the checkpoint table
 * between invocations. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ddbmig/engine.h"
#include "ddbmig/lambda.h"

#include <jansson.h>

static volatile sig_atomic_t stop_flag;

/* Lambda sends SIGTERM before it shuts a runtime down: the running
 * segment stops, its writes in flight finish, its cursor is saved. */
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

/* Reports an error of the invocation (or of the initialisation, id NULL);
 * a Runtime API that cannot be told is fatal to the runtime. */
static int report(lambda_rt *rt, const char *id, const char *type, const char *message)
{
    dm_error err = {0};
    fprintf(stderr, "ddbmig lambda: %s: %s\n", type, message);
    if (lambda_rt_error(rt, id, type, message, &err) != DM_OK) {
        fprintf(stderr, "ddbmig lambda: %s\n", err.message);
        return -1;
    }
    return 0;
}

static int answer(lambda_rt *rt, const char *id, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    dm_error err = {0};
    int rc = text ? lambda_rt_respond(rt, id, text, &err) : DM_ERR_NOMEM;
    free(text);
    if (rc)
        fprintf(stderr, "ddbmig lambda: %s\n", err.message[0] ? err.message : "out of memory");
    return rc ? -1 : 0;
}

/* The migration's id, as the segments' items have it. */
static const char *migration_of(const engine_options *base, char id[80])
{
    if (base->migration_id)
        return base->migration_id;
    dm_buf b;
    dm_buf_init(&b, 16 << 20);
    if (base->script_path ? dm_read_file(base->script_path, &b, NULL) == DM_OK : dm_buf_puts(&b, base->code) == DM_OK)
        engine_migration_id(dm_buf_cstr(&b), b.len, id);
    else
        dm_strlcpy(id, "unknown", 80);
    dm_buf_cleanup(&b);
    return id;
}

/* prewarm / restore: the stack's steps around the Map, through the same
 * code as ddbmig capacity, the record in the checkpoint table. A change
 * that is still becoming ACTIVE at the deadline answers "waiting": the
 * state machine calls again, and the plan then starts from the table as
 * it is. */
static int capacity_event(lambda_rt *rt, cli_globals *g, const engine_options *base, cli_conn *c,
                          const lambda_invocation *inv, const lambda_event *ev)
{
    cli_cap cap;
    if (cli_cap_open(g, c, &stop_flag, &cap) != CLI_EXIT_OK)
        return report(rt, inv->request_id, LAMBDA_ERR_CONFIG, "cannot reach Application Auto Scaling (see the log)");
    int64_t left = inv->deadline_ms - dm_now_ms() - 5000;
    cap.c.wait_timeout_s = left > 1000 ? (int)(left / 1000) : 1;
    char id[80];
    cap_where w = {.ddb = c->client, .table = base->checkpoint_table, .migration = migration_of(base, id)};
    dm_error err = {0};
    int rc;
    json_t *o = NULL;
    char rec_table[256], rec_status[16];
    if (ev->action == LAMBDA_RESTORE &&
        cap_record_info(&w, rec_table, sizeof rec_table, rec_status, sizeof rec_status, &err) == DM_OK &&
        strcmp(rec_table, ev->table) != 0) {
        cli_cap_close(&cap);
        char msg[700];
        snprintf(msg, sizeof msg, "the capacity record of migration %s is of table %s, not %s", w.migration, rec_table,
                 ev->table);
        return report(rt, inv->request_id, LAMBDA_ERR_CONFIG, msg);
    }
    if (ev->action == LAMBDA_RESTORE) {
        cap_outcome out;
        rc = cap_restore(&cap.c, &w, &out, &err);
        if (rc == DM_OK)
            o = json_pack("{s:s,s:s}", "action", "restore", "status", out == CAP_DONE ? "restored" : "pending");
    } else {
        cap_state s;
        cap_goal goal;
        cap_plan *p = NULL;
        rc = cap_describe(&cap.c, ev->table, &s, &err);
        if (rc == DM_OK && (rc = cli_cap_goal(&s, base->consistent_read, 0, 0, &goal, &err)) == DM_OK) {
            goal.read = ev->read_units ? ev->read_units : goal.read;
            goal.write = ev->write_units ? ev->write_units : goal.write;
            if (ev->method[0])
                cap_method_parse(ev->method, &goal.method);
            rc = cap_plan_prewarm(&s, &goal, &p, &err);
        }
        bool changed = false;
        if (rc == DM_OK && !cap_plan_empty(p))
            rc = cap_prewarm(&cap.c, p, &w, &changed, &err);
        const char *status = rc == DM_OK ? (p && cap_plan_empty(p) ? "nothing to raise" : "raised") : "waiting";
        if (rc == DM_ERR_LIMIT) /* not ACTIVE yet when the time ran out */
            rc = DM_OK;
        if (rc == DM_OK)
            o = json_pack("{s:s,s:s}", "action", "prewarm", "status", status);
        cap_plan_free(p);
        cap_state_cleanup(&s);
    }
    cli_cap_close(&cap);
    if (rc == DM_OK)
        return answer(rt, inv->request_id, o);
    json_decref(o);
    const char *type = rc == DM_ERR_CONFIG || rc == DM_ERR_INVALID || rc == DM_ERR_PARSE || rc == DM_ERR_IO
                           ? LAMBDA_ERR_CONFIG
                           : lambda_error_type(ENGINE_STOPPED, &err);
    return report(rt, inv->request_id, type, err.message[0] ? err.message : "capacity change failed");
}

/* One invocation: the event's segment, to its end or the deadline. */
static int invoke(lambda_rt *rt, cli_globals *g, const engine_options *base, cli_conn *c,
                  const lambda_invocation *inv)
{
    lambda_event ev;
    dm_error err = {0};
    if (lambda_event_parse(inv->event.data ? inv->event.data : "", inv->event.len, &ev, &err) != DM_OK)
        return report(rt, inv->request_id, LAMBDA_ERR_EVENT, err.message);
    if (base->table && strcmp(base->table, ev.table) != 0) {
        char msg[700];
        snprintf(msg, sizeof msg, "the event names table %s; this function migrates %s", ev.table, base->table);
        return report(rt, inv->request_id, LAMBDA_ERR_CONFIG, msg);
    }
    if (ev.action != LAMBDA_SEGMENT)
        return capacity_event(rt, g, base, c, inv, &ev);
    /* An invocation too short to work in would answer "not done" with
     * nothing done, and the state machine would call it again forever. */
    int64_t left = inv->deadline_ms - dm_now_ms(), margin = engine_deadline_margin_ms(left, base->deadline_margin_ms);
    if (left - margin < 1000) {
        char msg[300];
        snprintf(msg, sizeof msg,
                 "the invocation has %lld ms left, less than the %lld ms it keeps back for its last writes plus a "
                 "second of work: give the function a longer timeout",
                 (long long)left, (long long)margin);
        return report(rt, inv->request_id, LAMBDA_ERR_CONFIG, msg);
    }
    char seg[16];
    snprintf(seg, sizeof seg, "%d", ev.segment);
    engine_result res;
    engine_options e = *base;
    e.table = ev.table;
    e.total_segments = ev.total_segments;
    e.segments = seg;
    e.deadline_ms = inv->deadline_ms;
    e.result = &res;
    stop_flag = 0;
    engine_status st = engine_run(&e, c->shared, c->client, &err);
    /* Stopped at the deadline is not a failure: done is false, the state
     * machine invokes again and the cursor takes it from there. */
    bool deadline = st == ENGINE_STOPPED && err.code == DM_ERR_STOPPED;
    if (st == ENGINE_DONE || st == ENGINE_ITEM_ERRORS || deadline) {
        char *answer = lambda_answer_json(&ev, &res);
        int rc = answer ? lambda_rt_respond(rt, inv->request_id, answer, &err) : DM_ERR_NOMEM;
        free(answer);
        if (rc)
            fprintf(stderr, "ddbmig lambda: %s\n", err.message[0] ? err.message : "out of memory");
        return rc ? -1 : 0;
    }
    return report(rt, inv->request_id, lambda_error_type(st, &err),
                  err.message[0] ? err.message : "the migration stopped");
}

static int lambda_main(cli_globals *g, int argc, char **argv)
{
    dm_error err = {0};
    lambda_rt *rt = lambda_rt_new(getenv("AWS_LAMBDA_RUNTIME_API"), &err);
    if (!rt)
        return cli_fail(&err, err.code);
    /* The stack's function gets its options in DDBMIG_LAMBDA_ARGS (a JSON
     * array of strings): the bootstrap needs no quoting. */
    char **env_argv = NULL;
    if (argc == 0 && getenv("DDBMIG_LAMBDA_ARGS")) {
        json_t *a = json_loads(getenv("DDBMIG_LAMBDA_ARGS"), 0, NULL);
        size_t n = json_is_array(a) ? json_array_size(a) : 0;
        env_argv = n ? calloc(n + 1, sizeof *env_argv) : NULL;
        for (size_t i = 0; env_argv && i < n; i++) {
            const char *v = json_string_value(json_array_get(a, i));
            env_argv[argc++] = dm_strdup(v ? v : "");
        }
        json_decref(a);
        if (!env_argv) {
            report(rt, NULL, LAMBDA_ERR_CONFIG, "DDBMIG_LAMBDA_ARGS is not a JSON array of strings");
            lambda_rt_free(rt);
            return CLI_EXIT_USAGE;
        }
        argv = env_argv; /* kept for the process's life: options point into it */
    }
    /* Bad options are an initialisation error Lambda shows for the
     * function; the log has cli_parse's message. */
    int rc = cli_parse(&cli_cmd_lambda, argc, argv, g);
    if (rc) {
        report(rt, NULL, LAMBDA_ERR_CONFIG, "bad options for ddbmig lambda (see the log)");
        lambda_rt_free(rt);
        return rc;
    }
    engine_options base = {.job = ENGINE_MIGRATE};
    if ((rc = cli_job_engine_options("lambda", g, &base)) != CLI_EXIT_OK) {
        report(rt, NULL, LAMBDA_ERR_CONFIG, "bad options for ddbmig lambda (see the log)");
        lambda_rt_free(rt);
        return rc;
    }
    if (!base.checkpoint_table) {
        report(rt, NULL, LAMBDA_ERR_CONFIG,
               "ddbmig lambda needs --checkpoint-table: a segment's cursor must outlive the invocation");
        lambda_rt_free(rt);
        return CLI_EXIT_USAGE;
    }
    /* /var/task is read-only: the errors file goes where Lambda lets one
     * write, the script is found where it was given. */
    static char script_abs[4096];
    if (base.script_path && realpath(base.script_path, script_abs))
        base.script_path = script_abs;
    if (access(".", W_OK) != 0) {
        const char *tmp = getenv("TMPDIR");
        if (chdir(tmp && *tmp ? tmp : "/tmp") != 0)
            fprintf(stderr, "ddbmig lambda: no writable directory for the errors file\n");
    }
    base.yes = true; /* nobody to ask: the deployment was the go-ahead */
    base.confirm = NULL;
    base.json_output = true;
    base.stop = &stop_flag;
    base.resume_command = NULL;
    cli_conn c;
    if ((rc = cli_connect(g, &c)) != CLI_EXIT_OK) {
        report(rt, NULL, LAMBDA_ERR_CONFIG, "cannot set up the DynamoDB client (see the log)");
        lambda_rt_free(rt);
        return rc;
    }
    install_signals();
    for (;;) {
        lambda_invocation inv;
        if (lambda_rt_next(rt, &inv, &err) != DM_OK) {
            rc = cli_fail(&err, err.code);
            lambda_invocation_cleanup(&inv);
            break;
        }
        if (inv.trace_id[0])
            setenv("_X_AMZN_TRACE_ID", inv.trace_id, 1);
        else
            unsetenv("_X_AMZN_TRACE_ID");
        int r = invoke(rt, g, &base, &c, &inv);
        lambda_invocation_cleanup(&inv);
        if (r != 0) {
            rc = CLI_EXIT_AWS;
            break;
        }
    }
    cli_disconnect(&c);
    lambda_rt_free(rt);
    return rc;
}

const cli_command cli_cmd_lambda = {
    "lambda", CLI_CMD_LAMBDA, "serve AWS Lambda invocations (a custom runtime's bootstrap)",
    "ddbmig lambda (--script FILE | -e CODE) --checkpoint-table NAME [options]", cli_job_options, lambda_main,
    "Speaks the Lambda Runtime API at AWS_LAMBDA_RUNTIME_API. Each invocation's event is\n"
    "{\"segment\", \"totalSegments\", \"tableName\"} (numbers or numeric strings); it runs that\n"
    "segment until it is done or the invocation's deadline nears (minus a margin), keeping\n"
    "the cursor in the checkpoint table, and answers {\"segment\", \"scanned\", \"changed\",\n"
    "\"failed\", \"done\"}: invoke again while done is false. Errors carry errorType\n"
    "Ddbmig.Retryable (throttling, network, 5xx: retry), Ddbmig.ConfigError or\n"
    "Ddbmig.BadEvent (do not retry), Ddbmig.TooManyItemErrors (see the errors).\n"
    "Takes run's options for what is written and how fast; see docs/SCALE.md.\n"};
