/* ddbmig aws deploy|start|status|redrive: the stack of `aws template`
 * deployed with CloudFormation, its executions started and watched.
 *
 * Every service is reached through the same settings, credentials and
 * endpoint overrides as DynamoDB (--endpoint-url, AWS_ENDPOINT_URL_<ID>,
 * AWS_ENDPOINT_URL): CLOUDFORMATION, S3, STS, SFN, and DYNAMODB for the
 * checkpoint table that status reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "aws_cli.h"
#include "common/crypto.h"
#include "ddbmig/awsapi.h"
#include "ddbmig/ddb_ops.h"
#include "ddbmig/engine.h"
#include "ddbmig/json_out.h"
#include "ddbmig/stack.h"

#define opt aws_opt
/* CreateStack's limit for TemplateBody; a larger template goes by S3. */
#define CFN_BODY_MAX 51200

typedef struct stack_ctx {
    cli_conn conn; /* settings, credentials, DynamoDB */
    char cfn_ep[512], s3_ep[512], sts_ep[512], sfn_ep[512];
    awsreq_service cfn, s3, sts;
    ddb_shared *sfn_shared;
    ddb_client *sfn;
    cfn_stack stack;
} stack_ctx;

static void ctx_close(stack_ctx *x)
{
    ddb_client_free(x->sfn);
    ddb_shared_free(x->sfn_shared);
    cli_disconnect(&x->conn);
}

static int service(stack_ctx *x, const char *id, const char *host, const char *signing, char *ep, size_t size,
                   awsreq_service *out)
{
    dm_error err = {0};
    int rc = aws_settings_endpoint(&x->conn.settings, id, host, ep, size, &err);
    if (rc)
        return cli_fail(&err, rc);
    if (out)
        *out = (awsreq_service){.endpoint = ep, .region = x->conn.settings.region, .signing_name = signing,
                                .creds = x->conn.creds, .ca_file = x->conn.settings.ca_bundle};
    return CLI_EXIT_OK;
}

static int ctx_open(cli_globals *g, stack_ctx *x, bool sfn)
{
    memset(x, 0, sizeof *x);
    int rc = cli_connect(g, &x->conn);
    if (rc)
        return rc;
    rc = service(x, "CLOUDFORMATION", "cloudformation", "cloudformation", x->cfn_ep, sizeof x->cfn_ep, &x->cfn);
    rc = rc ? rc : service(x, "S3", "s3", "s3", x->s3_ep, sizeof x->s3_ep, &x->s3);
    rc = rc ? rc : service(x, "STS", "sts", "sts", x->sts_ep, sizeof x->sts_ep, &x->sts);
    if (!rc && sfn) {
        rc = service(x, "SFN", "states", "states", x->sfn_ep, sizeof x->sfn_ep, NULL);
        dm_error err = {0};
        x->sfn_shared = rc ? NULL
                           : sfn_shared_new(x->sfn_ep, x->conn.settings.region, x->conn.creds,
                                            x->conn.settings.ca_bundle, (int)g->max_attempts, &err);
        x->sfn = x->sfn_shared ? ddb_client_new(x->sfn_shared) : NULL;
        if (!rc && !x->sfn)
            rc = cli_fail(&err, err.code ? err.code : DM_ERR_NOMEM);
    }
    if (rc)
        ctx_close(x);
    return rc;
}

/* The stack, which must exist and be usable (not mid-change, not a
 * failed creation). */
static int ctx_stack(stack_ctx *x)
{
    bool found;
    dm_error err = {0};
    int rc = cfn_describe_stack(&x->cfn, opt.stack, &x->stack, &found, &err);
    if (rc)
        return cli_fail(&err, rc);
    if (!found) {
        fprintf(stderr, "ddbmig: error: there is no stack %s in %s (ddbmig aws deploy makes it)\n", opt.stack,
                x->conn.settings.region);
        return CLI_EXIT_USAGE;
    }
    if (cfn_status_in_progress(x->stack.status) || strstr(x->stack.status, "ROLLBACK_COMPLETE") == x->stack.status ||
        strstr(x->stack.status, "FAILED")) {
        fprintf(stderr, "ddbmig: error: stack %s is %s%s%s\n", opt.stack, x->stack.status,
                x->stack.reason[0] ? ": " : "", x->stack.reason);
        return CLI_EXIT_AWS;
    }
    static const char *const need[] = {"StateMachineArn", "BucketName", "CheckpointTableName", "TableName",
                                       "TotalSegments", "MigrationId"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        if (!cfn_output(&x->stack, need[i]) || !*cfn_output(&x->stack, need[i])) {
            fprintf(stderr, "ddbmig: error: stack %s has no output %s: it was not made by ddbmig aws deploy\n",
                    opt.stack, need[i]);
            return CLI_EXIT_USAGE;
        }
    }
    return CLI_EXIT_OK;
}

/* ---- deploy ---- */

static const char *build_architecture(void)
{
#if defined(__x86_64__)
    return "x86_64";
#elif defined(__aarch64__)
    return "arm64";
#else
    return NULL;
#endif
}

/* The code bucket: --code-bucket, else one per account and region, made
 * when missing. Either must belong to the credentials' account. */
static int code_bucket(stack_ctx *x, char *bucket, size_t size, char account[16])
{
    if (opt.code_bucket && !s3_valid_bucket(opt.code_bucket)) {
        fprintf(stderr, "ddbmig: error: --code-bucket: %s is not a valid S3 bucket name\n", opt.code_bucket);
        return CLI_EXIT_USAGE;
    }
    dm_error err = {0};
    int rc = sts_account(&x->sts, account, &err);
    if (rc)
        return cli_fail(&err, rc);
    if (opt.code_bucket)
        dm_strlcpy(bucket, opt.code_bucket, size);
    else
        snprintf(bucket, size, "ddbmig-code-%.12s-%.40s", account, x->conn.settings.region);
    if (!s3_valid_bucket(bucket)) {
        fprintf(stderr, "ddbmig: error: %s is not a valid S3 bucket name\n", bucket);
        return CLI_EXIT_USAGE;
    }
    rc = s3_bucket_exists(&x->s3, bucket, account, &err);
    if (rc < 0)
        return cli_fail(&err, rc);
    if (rc == 1)
        return CLI_EXIT_OK;
    if (opt.code_bucket) {
        fprintf(stderr, "ddbmig: error: the bucket %s does not exist\n", bucket);
        return CLI_EXIT_USAGE;
    }
    fprintf(stderr, "ddbmig: making the code bucket %s\n", bucket);
    rc = s3_create_bucket(&x->s3, bucket, &err);
    return rc ? cli_fail(&err, rc) : CLI_EXIT_OK;
}

/* Uploads under a key named by the content's hash: the same code is one
 * object, and a new build changes the stack's CodeKey. */
static int upload(stack_ctx *x, const char *bucket, const char *account, const char *prefix, const char *suffix,
                  const void *data, size_t len, const char *type, char *key, size_t key_size)
{
    char hash[65];
    dm_sha256_hex(data, len, hash);
    snprintf(key, key_size, "%.200s%.16s%.8s", prefix, hash, suffix);
    dm_error err = {0};
    int rc = s3_put_object(&x->s3, bucket, key, data, len, type, account, &err);
    return rc ? cli_fail(&err, rc) : CLI_EXIT_OK;
}

typedef struct seen_events {
    char (*ids)[256];
    int n, cap;
} seen_events;

static bool seen_add(seen_events *s, const char *id)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->ids[i], id) == 0)
            return false;
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 64;
        void *p = realloc(s->ids, (size_t)cap * sizeof *s->ids);
        if (!p)
            return true;
        s->ids = p;
        s->cap = cap;
    }
    dm_strlcpy(s->ids[s->n++], id, sizeof s->ids[0]);
    return true;
}

/* Prints the events not yet seen, oldest first (they come newest first). */
static void print_events(stack_ctx *x, seen_events *seen, bool print)
{
    enum { MAX = 100 };
    cfn_event *ev = calloc(MAX, sizeof *ev);
    int n = 0;
    dm_error err = {0};
    if (!ev || cfn_stack_events(&x->cfn, opt.stack, ev, MAX, &n, &err) != DM_OK) {
        if (err.message[0])
            DM_DEBUG("stack events: %s", err.message);
        free(ev);
        return;
    }
    for (int i = n - 1; i >= 0; i--) {
        if (seen_add(seen, ev[i].id) && print)
            fprintf(stderr, "  %-19.19s %-20s %-36s %s%s%s\n", ev[i].timestamp, ev[i].status, ev[i].type,
                    ev[i].logical_id, ev[i].reason[0] ? ": " : "", ev[i].reason);
    }
    free(ev);
}

static int wait_stack(stack_ctx *x, seen_events *seen)
{
    for (int k = 0;; k++) {
        bool found;
        dm_error err = {0};
        int rc = cfn_describe_stack(&x->cfn, opt.stack, &x->stack, &found, &err);
        if (rc)
            return cli_fail(&err, rc);
        print_events(x, seen, true);
        if (!found) {
            fprintf(stderr, "ddbmig: error: stack %s is gone\n", opt.stack);
            return CLI_EXIT_AWS;
        }
        if (!cfn_status_in_progress(x->stack.status))
            break;
        if (k == 0)
            fprintf(stderr, "ddbmig: waiting for stack %s (%s); interrupting stops the wait, not the change\n",
                    opt.stack, x->stack.status);
        dm_sleep_ms(5000);
    }
    if (cfn_status_ok(x->stack.status))
        return CLI_EXIT_OK;
    fprintf(stderr, "ddbmig: error: stack %s ended %s%s%s (see the events above)\n", opt.stack, x->stack.status,
            x->stack.reason[0] ? ": " : "", x->stack.reason);
    return CLI_EXIT_AWS;
}

static void print_stack(const cli_globals *g, const stack_ctx *x, bool changed)
{
    if (cli_json_output(g)) {
        json_t *outs = json_object();
        for (int i = 0; i < x->stack.n_outputs; i++)
            json_object_set_new(outs, x->stack.outputs[i].key, json_string(x->stack.outputs[i].value));
        json_t *j = json_pack("{s:s,s:s,s:s,s:b,s:o}", "stack", opt.stack, "stackId", x->stack.id, "status",
                              x->stack.status, "changed", changed, "outputs", outs);
        dm_json_print(j, stdout);
        json_decref(j);
        return;
    }
    printf("stack %s: %s%s\n", opt.stack, x->stack.status, changed ? "" : " (no changes)");
    for (int i = 0; i < x->stack.n_outputs; i++)
        printf("  %-20s %s\n", x->stack.outputs[i].key, x->stack.outputs[i].value);
    printf("next: ddbmig aws start --stack-name %s\n", opt.stack);
}

/* Creates or updates the stack from its template and code. */
static int deploy_stack(cli_globals *g, stack_ctx *x, const char *bucket, const char *template_text,
                        const char *template_url, const char *code_key, const char *arch)
{
    bool found;
    dm_error err = {0};
    int rc = cfn_describe_stack(&x->cfn, opt.stack, &x->stack, &found, &err);
    if (rc)
        return cli_fail(&err, rc);
    if (found && cfn_status_in_progress(x->stack.status)) {
        fprintf(stderr, "ddbmig: error: stack %s is %s: wait until it has finished\n", opt.stack, x->stack.status);
        return CLI_EXIT_AWS;
    }
    if (found && strcmp(x->stack.status, "ROLLBACK_COMPLETE") == 0) {
        fprintf(stderr,
                "ddbmig: error: stack %s failed to create (ROLLBACK_COMPLETE) and can only be deleted: "
                "aws cloudformation delete-stack --stack-name %s, then deploy again\n",
                opt.stack, opt.stack);
        return CLI_EXIT_USAGE;
    }
    char memory[16];
    snprintf(memory, sizeof memory, "%lld", opt.memory ? opt.memory : 1024);
    cfn_param params[] = {{"CodeBucket", bucket}, {"CodeKey", code_key}, {"Architecture", arch},
                          {"MemorySize", memory}};
    seen_events seen = {0};
    if (found)
        print_events(x, &seen, false);
    fprintf(stderr, "ddbmig: %s stack %s\n", found ? "updating" : "creating", opt.stack);
    bool no_change = false;
    rc = cfn_create_or_update(&x->cfn, found, opt.stack, template_text, template_url, params, 4, &no_change, &err);
    if (rc) {
        free(seen.ids);
        return cli_fail(&err, rc);
    }
    rc = no_change ? CLI_EXIT_OK : wait_stack(x, &seen);
    free(seen.ids);
    if (rc == CLI_EXIT_OK && no_change)
        rc = cfn_describe_stack(&x->cfn, opt.stack, &x->stack, &found, &err) ? cli_fail(&err, err.code)
                                                                             : CLI_EXIT_OK;
    if (rc == CLI_EXIT_OK)
        print_stack(g, x, !no_change);
    return rc;
}

int aws_deploy_main(cli_globals *g)
{
    const char *arch = build_architecture();
    if (!arch || (opt.architecture && strcmp(opt.architecture, arch) != 0)) {
        fprintf(stderr,
                "ddbmig: error: this ddbmig is built for %s; a function for %s needs a ddbmig built for it "
                "(deploy from such a build)\n",
                arch ? arch : "neither x86_64 nor arm64", opt.architecture ? opt.architecture : "Lambda");
        return CLI_EXIT_USAGE;
    }
    char *tpl = NULL;
    int rc = aws_template_text(&tpl);
    if (rc)
        return rc;
    stack_ctx x;
    if ((rc = ctx_open(g, &x, false)) != CLI_EXIT_OK) {
        free(tpl);
        return rc;
    }
    dm_buf zip;
    int libs = 0;
    dm_error err = {0};
    char bucket[128], account[16], code_key[128], tpl_key[300], tpl_url[1200] = "";
    rc = code_bucket(&x, bucket, sizeof bucket, account);
    if (rc == CLI_EXIT_OK && (rc = aws_package_zip(&zip, &libs, &err)) != DM_OK)
        rc = cli_fail(&err, rc);
    else if (rc == CLI_EXIT_OK) {
        fprintf(stderr, "ddbmig: uploading the function (%zu bytes) to s3://%s\n", zip.len, bucket);
        rc = upload(&x, bucket, account, "ddbmig/function-", ".zip", zip.data, zip.len, "application/zip", code_key,
                    sizeof code_key);
        dm_buf_cleanup(&zip);
    }
    if (rc == CLI_EXIT_OK && strlen(tpl) > CFN_BODY_MAX) {
        char prefix[300];
        snprintf(prefix, sizeof prefix, "ddbmig/%.128s/template-", opt.stack);
        rc = upload(&x, bucket, account, prefix, ".json", tpl, strlen(tpl), "application/json", tpl_key,
                    sizeof tpl_key);
        snprintf(tpl_url, sizeof tpl_url, "%s/%s/%s", x.s3_ep, bucket, tpl_key);
    }
    if (rc == CLI_EXIT_OK)
        rc = deploy_stack(g, &x, bucket, tpl, tpl_url[0] ? tpl_url : NULL, code_key, arch);
    free(tpl);
    ctx_close(&x);
    return rc;
}

/* ---- start ---- */

static bool valid_execution_name(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 80 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

static void default_name(char *out, size_t size)
{
    unsigned char r[2] = {0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        r[0] = (unsigned char)dm_now_ms();
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y%m%d-%H%M%S", &tm);
    snprintf(out, size, "ddbmig-%s-%02x%02x", when, r[0], r[1]);
}

static int start_with(cli_globals *g, stack_ctx *x, const char *name)
{
    const char *bucket = cfn_output(&x->stack, "BucketName");
    long long segs = 0;
    if (dm_parse_int(cfn_output(&x->stack, "TotalSegments"), 1, 1000000, &segs) != DM_OK) {
        fprintf(stderr, "ddbmig: error: stack %s: TotalSegments is not a segment count\n", opt.stack);
        return CLI_EXIT_USAGE;
    }
    stack_options so = {.table = cfn_output(&x->stack, "TableName"), .total_segments = (int)segs};
    json_t *list = stack_segment_list(&so);
    char *text = list ? json_dumps(list, JSON_COMPACT) : NULL;
    json_decref(list);
    char key[200], results[200];
    /* Where the state machine's role may read and write (template.c). */
    snprintf(key, sizeof key, "segments/%s.json", name);
    snprintf(results, sizeof results, "results/%s", name);
    dm_error err = {0};
    int rc = text ? s3_put_object(&x->s3, bucket, key, text, strlen(text), "application/json", NULL, &err)
                  : dm_error_set(&err, DM_ERR_NOMEM, "out of memory");
    free(text);
    if (rc)
        return cli_fail(&err, rc);
    json_t *in = stack_start_input(bucket, key, results);
    char *input = in ? json_dumps(in, JSON_COMPACT) : NULL;
    json_decref(in);
    char arn[512];
    rc = input ? sfn_start(x->sfn, cfn_output(&x->stack, "StateMachineArn"), name, input, arn, sizeof arn, &err)
               : dm_error_set(&err, DM_ERR_NOMEM, "out of memory");
    free(input);
    if (rc) {
        if (strcmp(err.type, "ExecutionAlreadyExists") == 0)
            dm_error_set(&err, DM_ERR_INVALID, "an execution named %s exists already: give another --name", name);
        return cli_fail(&err, rc);
    }
    char url[1200];
    sfn_console_url(x->conn.settings.region, arn, url, sizeof url);
    if (cli_json_output(g)) {
        json_t *j = json_pack("{s:s,s:s,s:s,s:I,s:s}", "executionArn", arn, "name", name, "segmentsKey", key,
                              "segments", (json_int_t)segs, "console", url);
        dm_json_print(j, stdout);
        json_decref(j);
    } else {
        printf("started %s over %lld segments of %s\n  %s\n  %s\nnext: ddbmig aws status --stack-name %s --name %s "
               "--watch\n",
               name, segs, so.table, arn, url, opt.stack, name);
    }
    return CLI_EXIT_OK;
}

int aws_start_main(cli_globals *g)
{
    char name[96];
    if (opt.name && !valid_execution_name(opt.name)) {
        fprintf(stderr, "ddbmig aws start: --name takes 1 to 80 letters, digits, '-' and '_'\n");
        return CLI_EXIT_USAGE;
    }
    if (opt.name)
        dm_strlcpy(name, opt.name, sizeof name);
    else
        default_name(name, sizeof name);
    stack_ctx x;
    int rc = ctx_open(g, &x, true);
    if (rc)
        return rc;
    rc = ctx_stack(&x);
    if (rc == CLI_EXIT_OK)
        rc = start_with(g, &x, name);
    ctx_close(&x);
    return rc;
}

/* ---- status and redrive ---- */

/* The execution --execution-arn or --name names, else the newest. */
static int find_execution(stack_ctx *x, sfn_execution *e)
{
    dm_error err = {0};
    const char *machine = cfn_output(&x->stack, "StateMachineArn");
    char arn[512];
    int rc;
    if (opt.execution_arn || opt.name) {
        if (opt.execution_arn)
            dm_strlcpy(arn, opt.execution_arn, sizeof arn);
        else if (!valid_execution_name(opt.name) || sfn_execution_arn(machine, opt.name, arn, sizeof arn)) {
            fprintf(stderr, "ddbmig: error: %s is not an execution name of this stack\n", opt.name);
            return CLI_EXIT_USAGE;
        }
        rc = sfn_describe(x->sfn, arn, e, &err);
        if (rc && strcmp(err.type, "ExecutionDoesNotExist") == 0) {
            fprintf(stderr, "ddbmig: error: stack %s has no execution %s\n", opt.stack, arn);
            return CLI_EXIT_USAGE;
        }
        return rc ? cli_fail(&err, rc) : CLI_EXIT_OK;
    }
    bool found;
    rc = sfn_latest(x->sfn, machine, e, &found, &err);
    if (rc)
        return cli_fail(&err, rc);
    if (!found) {
        fprintf(stderr, "ddbmig: error: stack %s has no execution yet (ddbmig aws start)\n", opt.stack);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

typedef struct status_view {
    sfn_execution exec;
    bool has_map;
    sfn_map_run map;
    char map_note[300];
    bool has_progress;
    engine_progress p;
    char progress_note[300];
    int64_t item_count; /* the table's, -1 unknown */
    double rate;        /* items scanned a second, -1 unknown */
    double eta_s;       /* -1 unknown */
} status_view;

static void look(stack_ctx *x, status_view *v)
{
    dm_error err = {0};
    if (sfn_describe_map_run(x->sfn, v->exec.arn, &v->map, &v->has_map, &err) != DM_OK)
        snprintf(v->map_note, sizeof v->map_note, "not available: %.250s", err.message);
    memset(&err, 0, sizeof err);
    int rc = engine_progress_read(x->conn.client, cfn_output(&x->stack, "CheckpointTableName"),
                                  cfn_output(&x->stack, "MigrationId"), &v->p, &err);
    v->has_progress = rc == DM_OK && v->p.begun;
    if (rc == DM_OK && !v->p.begun)
        snprintf(v->progress_note, sizeof v->progress_note, "no segment has begun");
    else if (rc && strcmp(err.type, "ResourceNotFoundException") == 0)
        snprintf(v->progress_note, sizeof v->progress_note, "no segment has begun (the checkpoint table is not there yet)");
    else if (rc)
        snprintf(v->progress_note, sizeof v->progress_note, "not available: %.250s", err.message);
    ddb_table_desc d;
    memset(&err, 0, sizeof err);
    v->item_count = -1;
    if (ddb_describe_table(x->conn.client, cfn_output(&x->stack, "TableName"), &d, &err) == DM_OK) {
        v->item_count = d.item_count;
        ddb_table_desc_cleanup(&d);
    }
}

/* Rate from the previous look when there is one, else since the
 * migration began; the ETA from the table's (approximate) item count. */
static void estimate(status_view *v, const status_view *prev, int64_t prev_ms, int64_t now_ms)
{
    v->rate = v->eta_s = -1;
    if (!v->has_progress)
        return;
    if (prev && prev->has_progress && now_ms > prev_ms)
        v->rate = (double)(v->p.scanned - prev->p.scanned) * 1000.0 / (double)(now_ms - prev_ms);
    else if (v->p.started_ms && now_ms > v->p.started_ms)
        v->rate = (double)v->p.scanned * 1000.0 / (double)(now_ms - v->p.started_ms);
    bool all_done = v->p.total_segments && v->p.done == v->p.total_segments;
    if (all_done)
        v->eta_s = 0;
    else if (v->rate > 0 && v->item_count > v->p.scanned)
        v->eta_s = (double)(v->item_count - v->p.scanned) / v->rate;
}

static void print_duration(double s, char *out, size_t size)
{
    long long t = (long long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, size, "%lldh%02lldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(out, size, "%lldm%02llds", t / 60, t % 60);
    else
        snprintf(out, size, "%llds", t);
}

static json_t *status_json(const stack_ctx *x, const status_view *v)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:i}", "executionArn", v->exec.arn, "name", v->exec.name, "status",
                          v->exec.status, "redriveCount", v->exec.redrive_count);
    char when[21];
    if (v->exec.start_ms) {
        dm_format_iso8601(v->exec.start_ms, when);
        json_object_set_new(j, "startDate", json_string(when));
    }
    if (v->exec.stop_ms) {
        dm_format_iso8601(v->exec.stop_ms, when);
        json_object_set_new(j, "stopDate", json_string(when));
    }
    if (v->exec.error[0])
        json_object_set_new(j, "error", json_pack("{s:s,s:s}", "error", v->exec.error, "cause", v->exec.cause));
    if (v->has_map)
        json_object_set_new(j, "mapRun",
                            json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "status", v->map.status, "total",
                                      (json_int_t)v->map.total, "pending", (json_int_t)v->map.pending, "running",
                                      (json_int_t)v->map.running, "succeeded", (json_int_t)v->map.succeeded,
                                      "failed", (json_int_t)v->map.failed, "timedOut", (json_int_t)v->map.timed_out,
                                      "aborted", (json_int_t)v->map.aborted));
    if (v->has_progress) {
        json_t *p = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "segments", (json_int_t)v->p.total_segments,
                              "segmentsDone", (json_int_t)v->p.done, "segmentsRunning", (json_int_t)v->p.running,
                              "segmentsWaiting", (json_int_t)v->p.waiting, "scanned", (json_int_t)v->p.scanned,
                              "changed", (json_int_t)v->p.changed, "failed", (json_int_t)v->p.failed);
        if (v->rate >= 0)
            json_object_set_new(p, "itemsPerSecond", json_real(v->rate));
        if (v->eta_s >= 0)
            json_object_set_new(p, "etaSeconds", json_integer((json_int_t)(v->eta_s + 0.5)));
        if (v->item_count >= 0)
            json_object_set_new(p, "tableItemCount", json_integer(v->item_count));
        json_object_set_new(j, "progress", p);
    }
    if (!v->has_map && v->map_note[0])
        json_object_set_new(j, "mapRunNote", json_string(v->map_note));
    if (!v->has_progress)
        json_object_set_new(j, "progressNote", json_string(v->progress_note));
    char url[1200];
    sfn_console_url(x->conn.settings.region, v->exec.arn, url, sizeof url);
    json_object_set_new(j, "console", json_string(url));
    return j;
}

static void status_text(const stack_ctx *x, const status_view *v)
{
    char ago[32] = "";
    if (v->exec.start_ms)
        print_duration((double)((v->exec.stop_ms ? v->exec.stop_ms : dm_now_ms()) - v->exec.start_ms) / 1000.0, ago,
                       sizeof ago);
    printf("execution  %s  %s%s%s", v->exec.name, v->exec.status, ago[0] ? ", for " : "", ago);
    if (v->exec.redrive_count)
        printf(", redriven %d times", v->exec.redrive_count);
    printf("\n");
    if (v->exec.error[0])
        printf("error      %s: %.300s\n", v->exec.error, v->exec.cause);
    if (v->has_map)
        printf("map run    %lld segments: %lld pending, %lld running, %lld succeeded, %lld failed, %lld timed out, "
               "%lld aborted\n",
               v->map.total, v->map.pending, v->map.running, v->map.succeeded, v->map.failed, v->map.timed_out,
               v->map.aborted);
    else
        printf("map run    %s\n", v->map_note[0] ? v->map_note : "not begun");
    if (v->has_progress) {
        char rate[48] = "", eta[48] = "";
        if (v->rate >= 0)
            snprintf(rate, sizeof rate, ", %.0f items/s", v->rate);
        if (v->eta_s >= 0) {
            char d[32];
            print_duration(v->eta_s, d, sizeof d);
            snprintf(eta, sizeof eta, ", ETA %s", d);
        }
        printf("progress   segments done %lld/%lld (%lld running, %lld waiting); items scanned %lld, changed %lld, "
               "failed %lld%s%s\n",
               v->p.done, v->p.total_segments, v->p.running, v->p.waiting, v->p.scanned, v->p.changed, v->p.failed,
               rate, eta);
    } else {
        printf("progress   %s\n", v->progress_note);
    }
    char url[1200];
    sfn_console_url(x->conn.settings.region, v->exec.arn, url, sizeof url);
    printf("console    %s\n", url);
    fflush(stdout);
}

static int status_exit(const status_view *v)
{
    const char *s = v->exec.status;
    if (strcmp(s, "RUNNING") == 0)
        return CLI_EXIT_OK;
    if (strcmp(s, "SUCCEEDED") == 0) {
        bool whole = v->has_progress && v->p.total_segments && v->p.done == v->p.total_segments && !v->p.failed;
        return whole ? CLI_EXIT_OK : CLI_EXIT_ITEMS;
    }
    return CLI_EXIT_RESUMABLE;
}

int aws_status_main(cli_globals *g)
{
    stack_ctx x;
    int rc = ctx_open(g, &x, true);
    if (rc)
        return rc;
    rc = ctx_stack(&x);
    status_view v = {0}, prev = {0};
    int64_t prev_ms = 0;
    for (bool first = true; rc == CLI_EXIT_OK; first = false) {
        memset(&v, 0, sizeof v);
        if ((rc = find_execution(&x, &v.exec)) != CLI_EXIT_OK)
            break;
        look(&x, &v);
        int64_t now = dm_now_ms();
        estimate(&v, first ? NULL : &prev, prev_ms, now);
        if (cli_json_output(g)) {
            json_t *j = status_json(&x, &v);
            dm_json_print(j, stdout);
            json_decref(j);
        } else {
            status_text(&x, &v);
        }
        rc = status_exit(&v);
        if (!opt.watch || strcmp(v.exec.status, "RUNNING") != 0)
            break;
        /* The newest execution stays the one first found. */
        static char first_arn[sizeof v.exec.arn];
        if (!opt.execution_arn && !opt.name) {
            dm_strlcpy(first_arn, v.exec.arn, sizeof first_arn);
            opt.execution_arn = first_arn;
        }
        prev = v;
        prev_ms = now;
        dm_sleep_ms((opt.interval ? opt.interval : 10) * 1000);
        if (!cli_json_output(g))
            printf("\n");
    }
    ctx_close(&x);
    return rc;
}

int aws_redrive_main(cli_globals *g)
{
    /* One call a person waits on: a server that cannot redrive says so
     * without ten rounds of backoff. */
    if (!g->max_attempts)
        g->max_attempts = 3;
    stack_ctx x;
    int rc = ctx_open(g, &x, true);
    if (rc)
        return rc;
    rc = ctx_stack(&x);
    sfn_execution e;
    if (rc == CLI_EXIT_OK)
        rc = find_execution(&x, &e);
    if (rc == CLI_EXIT_OK) {
        dm_error err = {0};
        int r = sfn_redrive(x.sfn, e.arn, &err);
        if (r) {
            rc = cli_fail(&err, r);
            fprintf(stderr,
                    "ddbmig: the execution was not redriven; ddbmig aws start --stack-name %s starts a new one, "
                    "which also resumes every segment from its cursor\n",
                    opt.stack);
        } else if (cli_json_output(g)) {
            json_t *j = json_pack("{s:s,s:s}", "executionArn", e.arn, "redriven", "yes");
            dm_json_print(j, stdout);
            json_decref(j);
        } else {
            printf("redriven %s (was %s); its failed children resume from their cursors\n", e.arn, e.status);
        }
    }
    ctx_close(&x);
    return rc;
}
