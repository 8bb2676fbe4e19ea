/* Step Functions (JSON 1.0): start, describe, the Map Run of an execution,
 * redrive. The transport is the DynamoDB client's, signed as "states". */
#include <stdio.h>
#include <string.h>

#include "ddbmig/awsapi.h"

ddb_shared *sfn_shared_new(const char *endpoint, const char *region, creds_provider *creds, const char *ca_file,
                           int max_attempts, dm_error *err)
{
    ddb_options o = {.endpoint = endpoint, .region = region, .creds = creds, .ca_file = ca_file,
                     .max_attempts = max_attempts, .signing_name = "states", .target_prefix = "AWSStepFunctions",
                     .content_type = "application/x-amz-json-1.0"};
    return ddb_shared_new(&o, err);
}

int sfn_execution_arn(const char *machine_arn, const char *name, char *out, size_t size)
{
    /* arn:aws:states:REGION:ACCOUNT:stateMachine:M -> ...:execution:M:NAME */
    const char *k = strstr(machine_arn, ":stateMachine:");
    if (!k)
        return DM_ERR_INVALID;
    int n = snprintf(out, size, "%.*s:execution:%s:%s", (int)(k - machine_arn), machine_arn,
                     k + strlen(":stateMachine:"), name);
    return n > 0 && (size_t)n < size ? DM_OK : DM_ERR_LIMIT;
}

/* Dates come as epoch seconds (AWS) or ISO-8601 text (some servers). */
static int64_t date_ms(const json_t *v)
{
    int64_t ms = 0;
    if (json_is_number(v))
        ms = (int64_t)(json_number_value(v) * 1000.0);
    else if (json_is_string(v) && dm_parse_iso8601(json_string_value(v), &ms) != DM_OK)
        ms = 0;
    return ms;
}

static void str(char *dst, size_t size, const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    dm_strlcpy(dst, s ? s : "", size);
}

int sfn_parse_execution(const json_t *a, sfn_execution *out, dm_error *err)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(a) || !json_is_string(json_object_get(a, "status")) ||
        !json_is_string(json_object_get(a, "executionArn")))
        return dm_error_set(err, DM_ERR_PARSE, "Step Functions: an execution without executionArn or status");
    str(out->arn, sizeof out->arn, a, "executionArn");
    str(out->name, sizeof out->name, a, "name");
    str(out->status, sizeof out->status, a, "status");
    str(out->error, sizeof out->error, a, "error");
    str(out->cause, sizeof out->cause, a, "cause");
    out->start_ms = date_ms(json_object_get(a, "startDate"));
    out->stop_ms = date_ms(json_object_get(a, "stopDate"));
    json_t *rc = json_object_get(a, "redriveCount");
    out->redrive_count = json_is_integer(rc) ? (int)json_integer_value(rc) : 0;
    return DM_OK;
}

static long long count(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? json_integer_value(v) : 0;
}

int sfn_parse_map_run(const json_t *a, sfn_map_run *out, dm_error *err)
{
    memset(out, 0, sizeof *out);
    json_t *c = json_object_get(a, "itemCounts");
    if (!json_is_object(a) || !json_is_object(c))
        return dm_error_set(err, DM_ERR_PARSE, "Step Functions DescribeMapRun: the answer holds no itemCounts");
    str(out->arn, sizeof out->arn, a, "mapRunArn");
    str(out->status, sizeof out->status, a, "status");
    out->pending = count(c, "pending");
    out->running = count(c, "running");
    out->succeeded = count(c, "succeeded");
    out->failed = count(c, "failed");
    out->timed_out = count(c, "timedOut");
    out->aborted = count(c, "aborted");
    out->total = count(c, "total");
    return DM_OK;
}

int sfn_start(ddb_client *c, const char *machine_arn, const char *name, const char *input, char *arn_out,
              size_t arn_size, dm_error *err)
{
    json_t *req = json_pack("{s:s,s:s,s:s}", "stateMachineArn", machine_arn, "name", name, "input", input);
    json_t *a = NULL;
    int rc = req ? ddb_request(c, "StartExecution", NULL, req, &a, err) : DM_ERR_NOMEM;
    json_decref(req);
    const char *arn = json_string_value(json_object_get(a, "executionArn"));
    if (rc == DM_OK && !arn)
        rc = dm_error_set(err, DM_ERR_PARSE, "Step Functions StartExecution: the answer holds no executionArn");
    if (rc == DM_OK)
        dm_strlcpy(arn_out, arn, arn_size);
    json_decref(a);
    return rc;
}

int sfn_describe(ddb_client *c, const char *execution_arn, sfn_execution *out, dm_error *err)
{
    json_t *req = json_pack("{s:s}", "executionArn", execution_arn);
    json_t *a = NULL;
    int rc = req ? ddb_request(c, "DescribeExecution", NULL, req, &a, err) : DM_ERR_NOMEM;
    json_decref(req);
    if (rc == DM_OK)
        rc = sfn_parse_execution(a, out, err);
    json_decref(a);
    return rc;
}

int sfn_latest(ddb_client *c, const char *machine_arn, sfn_execution *out, bool *found, dm_error *err)
{
    *found = false;
    json_t *req = json_pack("{s:s,s:i}", "stateMachineArn", machine_arn, "maxResults", 100);
    json_t *a = NULL;
    int rc = req ? ddb_request(c, "ListExecutions", NULL, req, &a, err) : DM_ERR_NOMEM;
    json_decref(req);
    json_t *list = json_object_get(a, "executions");
    if (rc == DM_OK && !json_is_array(list))
        rc = dm_error_set(err, DM_ERR_PARSE, "Step Functions ListExecutions: the answer holds no executions");
    /* The newest by start date, whatever order the list comes in. */
    const char *best = NULL;
    int64_t best_ms = -1;
    size_t i;
    json_t *e;
    json_array_foreach(rc == DM_OK ? list : NULL, i, e) {
        int64_t ms = date_ms(json_object_get(e, "startDate"));
        const char *arn = json_string_value(json_object_get(e, "executionArn"));
        if (arn && ms > best_ms) {
            best = arn;
            best_ms = ms;
        }
    }
    char arn[512];
    dm_strlcpy(arn, best ? best : "", sizeof arn);
    json_decref(a);
    if (rc == DM_OK && best) {
        *found = true;
        rc = sfn_describe(c, arn, out, err);
    }
    return rc;
}

int sfn_describe_map_run(ddb_client *c, const char *execution_arn, sfn_map_run *out, bool *found, dm_error *err)
{
    *found = false;
    json_t *req = json_pack("{s:s}", "executionArn", execution_arn);
    json_t *a = NULL;
    int rc = req ? ddb_request(c, "ListMapRuns", NULL, req, &a, err) : DM_ERR_NOMEM;
    json_decref(req);
    json_t *first = json_array_get(json_object_get(a, "mapRuns"), 0);
    const char *arn = json_string_value(json_object_get(first, "mapRunArn"));
    char run_arn[600];
    dm_strlcpy(run_arn, arn ? arn : "", sizeof run_arn);
    json_decref(a);
    if (rc || !run_arn[0])
        return rc;
    req = json_pack("{s:s}", "mapRunArn", run_arn);
    a = NULL;
    rc = req ? ddb_request(c, "DescribeMapRun", NULL, req, &a, err) : DM_ERR_NOMEM;
    json_decref(req);
    if (rc == DM_OK && (rc = sfn_parse_map_run(a, out, err)) == DM_OK)
        *found = true;
    json_decref(a);
    return rc;
}

int sfn_redrive(ddb_client *c, const char *execution_arn, dm_error *err)
{
    json_t *req = json_pack("{s:s}", "executionArn", execution_arn);
    int rc = req ? ddb_request(c, "RedriveExecution", NULL, req, NULL, err) : DM_ERR_NOMEM;
    json_decref(req);
    return rc;
}

void sfn_console_url(const char *region, const char *execution_arn, char *out, size_t size)
{
    snprintf(out, size, "https://%s.console.aws.amazon.com/states/home?region=%s#/v2/executions/details/%s",
             region, region, execution_arn);
}
