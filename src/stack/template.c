/* The CloudFormation template and the state machine (stack.h).
 *
 * Shape: a function (provided.al2023, `ddbmig lambda`, 900 s), the
 * checkpoint table, a bucket for the segment list and the Map's results,
 * a role for each with only what it needs, and a state machine whose
 * Distributed Map reads the segment list from S3 (so that the execution's
 * input stays a few hundred bytes for any number of segments), runs one
 * STANDARD child per segment that invokes the function again while the
 * segment is not done (each invocation continues from the cursor in the
 * checkpoint table, so a retried or redriven child resumes), retries only
 * errors that say so, and writes its results to S3. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddbmig/stack.h"

#define FUNCTION_NAME "${AWS::StackName}-ddbmig"

static json_t *sub(const char *s) { return json_pack("{s:s}", "Fn::Sub", s); }
static json_t *ref(const char *s) { return json_pack("{s:s}", "Ref", s); }
static json_t *getatt(const char *res, const char *attr) { return json_pack("{s:[s,s]}", "Fn::GetAtt", res, attr); }

static int concurrency(const stack_options *o)
{
    int c = o->max_concurrency > 0 ? o->max_concurrency : (o->total_segments < 1000 ? o->total_segments : 1000);
    return c > o->total_segments ? o->total_segments : c;
}

/* Errors a child retries: ours that say so, and the Lambda service's own
 * transient ones (a runtime that died or timed out resumes from its
 * cursor). Configuration and script errors are not among them. */
static json_t *retryable(void)
{
    return json_pack("[s,s,s,s,s,s,s,s]", "Ddbmig.Retryable", "Lambda.ServiceException", "Lambda.AWSLambdaException",
                     "Lambda.SdkClientException", "Lambda.TooManyRequestsException", "Sandbox.Timedout",
                     "Runtime.ExitError", "States.Timeout");
}

static json_t *child(void)
{
    json_t *run = json_pack(
        "{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s,s:s,s:s},s:s,s:s,s:[{s:o,s:i,s:i,s:f,s:s}]}", "Type", "Task", "Resource",
        "arn:aws:states:::lambda:invoke", "Parameters", "FunctionName", "${FunctionArn}", "Payload.$", "$.event",
        "ResultSelector", "segment.$", "$.Payload.segment", "scanned.$", "$.Payload.scanned", "changed.$",
        "$.Payload.changed", "failed.$", "$.Payload.failed", "done.$", "$.Payload.done", "ResultPath", "$.last", "Next",
        "Segment done?", "Retry", "ErrorEquals", retryable(), "IntervalSeconds", 5, "MaxAttempts", 10, "BackoffRate", 2.0,
        "JitterStrategy", "FULL");
    json_t *done = json_pack("{s:s,s:[{s:s,s:b,s:s}],s:s}", "Type", "Choice", "Choices", "Variable", "$.last.done",
                             "BooleanEquals", 1, "Next", "Segment finished", "Default", "Run segment");
    json_t *fin = json_pack("{s:s,s:s,s:b}", "Type", "Pass", "OutputPath", "$.last", "End", 1);
    return json_pack("{s:{s:s,s:s},s:s,s:{s:o,s:o,s:o}}", "ProcessorConfig", "Mode", "DISTRIBUTED", "ExecutionType",
                     "STANDARD", "StartAt", "Run segment", "States", "Run segment", run, "Segment done?", done,
                     "Segment finished", fin);
}

static json_t *capacity_task(const stack_options *o, const char *action, const char *result, const char *next,
                             const char *on_error)
{
    json_t *payload = json_pack("{s:s,s:s}", "action", action, "tableName", o->table);
    if (strcmp(action, "prewarm") == 0) {
        if (o->prewarm_read)
            json_object_set_new(payload, "readUnits", json_integer(o->prewarm_read));
        if (o->prewarm_write)
            json_object_set_new(payload, "writeUnits", json_integer(o->prewarm_write));
        if (o->prewarm_method)
            json_object_set_new(payload, "method", json_string(o->prewarm_method));
    }
    return json_pack("{s:s,s:s,s:{s:s,s:o},s:{s:s},s:s,s:s,s:[{s:o,s:i,s:i,s:f,s:s}],s:[{s:[s],s:s,s:s}]}", "Type",
                     "Task", "Resource", "arn:aws:states:::lambda:invoke", "Parameters", "FunctionName",
                     "${FunctionArn}", "Payload", payload, "ResultSelector", "status.$", "$.Payload.status",
                     "ResultPath", result, "Next", next, "Retry", "ErrorEquals", retryable(), "IntervalSeconds", 10,
                     "MaxAttempts", 10, "BackoffRate", 2.0, "JitterStrategy", "FULL", "Catch", "ErrorEquals",
                     "States.ALL", "ResultPath", "$.capacityError", "Next", on_error);
}

/* Before the Map: pre-warm, again while the table is still becoming
 * ACTIVE. After it, on success and on failure: restore. */
static void capacity_states(const stack_options *o, json_t *states, json_t *map)
{
    json_object_set_new(states, "Prewarm", capacity_task(o, "prewarm", "$.prewarm", "Prewarmed?", "Restore after failure"));
    json_object_set_new(states, "Prewarmed?",
                        json_pack("{s:s,s:[{s:s,s:s,s:s}],s:s}", "Type", "Choice", "Choices", "Variable",
                                  "$.prewarm.status", "StringEquals", "waiting", "Next", "Wait for capacity",
                                  "Default", "Segments"));
    json_object_set_new(states, "Wait for capacity",
                        json_pack("{s:s,s:i,s:s}", "Type", "Wait", "Seconds", 30, "Next", "Prewarm"));
    json_object_set_new(states, "Restore", capacity_task(o, "restore", "$.restore", "Done", "Failed"));
    json_object_set_new(states, "Restore after failure",
                        capacity_task(o, "restore", "$.restore", "Failed", "Failed"));
    json_object_set_new(map, "Next", json_string("Restore"));
    json_t *c = json_array_get(json_object_get(map, "Catch"), 0);
    json_object_set_new(c, "Next", json_string("Restore after failure"));
}

json_t *stack_definition(const stack_options *o)
{
    char comment[400];
    snprintf(comment, sizeof comment, "ddbmig migration %.80s of table %.255s", o->migration_id, o->table);
    /* Each item of the list becomes the child's input as {"event": item}:
     * the invocations' answers go beside it, never into the event. */
    json_t *map = json_pack(
        "{s:s,s:{s:s,s:{s:s},s:{s:s,s:s}},s:{s:s},s:o,s:i,s:f,s:{s:s,s:{s:s,s:s}},s:s,s:[{s:[s],s:s,s:s}],s:s}", "Type",
        "Map", "ItemReader", "Resource", "arn:aws:states:::s3:getObject", "ReaderConfig", "InputType", "JSON",
        "Parameters", "Bucket.$", "$.bucket", "Key.$", "$.segmentsKey", "ItemSelector", "event.$", "$$.Map.Item.Value",
        "ItemProcessor", child(), "MaxConcurrency", concurrency(o), "ToleratedFailurePercentage",
        o->tolerated_failure_percentage, "ResultWriter", "Resource", "arn:aws:states:::s3:putObject", "Parameters",
        "Bucket.$", "$.bucket", "Prefix.$", "$.resultsPrefix", "ResultPath", "$.map", "Catch", "ErrorEquals",
        "States.ALL", "ResultPath", "$.error", "Next", "Failed", "Next", "Done");
    json_t *def = json_pack("{s:s,s:s,s:{s:o,s:{s:s},s:{s:s,s:s,s:s}}}", "Comment", comment, "StartAt",
                            o->prewarm ? "Prewarm" : "Segments", "States", "Segments", map, "Done", "Type",
                            "Succeed", "Failed", "Type", "Fail", "Error", "Ddbmig.MigrationFailed", "Cause",
                            "the migration or a capacity step failed: see the execution's events and the results "
                            "in S3; redrive the execution to go on");
    if (def && o->prewarm)
        capacity_states(o, json_object_get(def, "States"), map);
    return def;
}

static void add(json_t *a, const char *flag, const char *value)
{
    if (!value)
        return;
    json_array_append_new(a, json_string(flag));
    json_array_append_new(a, json_string(value));
}

static void add_rate(json_t *a, const char *flag, double total, int children)
{
    if (total <= 0)
        return;
    char v[32];
    /* The total is never exceeded: each child gets its share, rounded down
     * (but something). */
    double share = floor(total / children * 100) / 100;
    snprintf(v, sizeof v, "%g", share > 0.01 ? share : 0.01);
    add(a, flag, v);
}

json_t *stack_lambda_args(const stack_options *o, const char *checkpoint_table)
{
    json_t *a = json_array();
    char n[32];
    add(a, "--table-name", o->table);
    if (o->script_file)
        add(a, "--script", "script.lua");
    else
        add(a, "-e", o->code);
    add(a, "--migration-id", o->migration_id);
    add(a, "--checkpoint-table", checkpoint_table);
    add(a, "--target-table-name", o->target_table);
    add(a, "--write-mode", o->write_mode);
    add(a, "--marker", o->marker);
    add(a, "--version-attribute", o->version_attribute);
    add(a, "--filter-expression", o->filter_expression);
    add(a, "--expression-attribute-names", o->names_json);
    add(a, "--expression-attribute-values", o->values_json);
    add_rate(a, "--max-read-units", o->max_read_units, concurrency(o));
    add_rate(a, "--max-write-units", o->max_write_units, concurrency(o));
    if (o->max_errors > 0) {
        snprintf(n, sizeof n, "%d", o->max_errors);
        add(a, "--max-errors", n);
    }
    /* A runtime that crashed or timed out holds its segment until its
     * lease runs out, and the retry waits for it, billed: shorter than
     * a run's default, still well above the renewal period. */
    snprintf(n, sizeof n, "%d", o->lease_seconds > 0 ? o->lease_seconds : 20);
    add(a, "--lease-seconds", n);
    /* One segment per invocation: a few workers keep its writes in flight. */
    add(a, "--workers", "2");
    json_array_append_new(a, json_string("--no-pitr-check"));
    return a;
}

static json_t *policy(const char *name, json_t *statements)
{
    return json_pack("{s:s,s:{s:s,s:o}}", "PolicyName", name, "PolicyDocument", "Version", "2012-10-17", "Statement",
                     statements);
}

static json_t *table_arn(const char *table)
{
    char s[400];
    snprintf(s, sizeof s, "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/%s", table);
    return sub(s);
}

static json_t *function_role(const stack_options *o)
{
    json_t *tables = json_array();
    json_array_append_new(tables, table_arn(o->table));
    if (o->target_table && strcmp(o->target_table, o->table) != 0)
        json_array_append_new(tables, table_arn(o->target_table));
    /* TransactWriteItems is allowed by the actions of its parts;
     * BatchExecuteStatement's UPDATE statements by PartiQLUpdate. */
    json_t *st = json_pack(
        "[{s:s,s:[s,s,s,s,s,s,s,s,s,s],s:o},{s:s,s:[s,s,s,s,s,s,s],s:o},{s:s,s:[s,s],s:o}]", "Effect", "Allow", "Action",
        "dynamodb:DescribeTable", "dynamodb:DescribeContinuousBackups", "dynamodb:Scan", "dynamodb:GetItem",
        "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
        "dynamodb:ConditionCheckItem", "dynamodb:PartiQLUpdate", "Resource", tables, "Effect", "Allow", "Action",
        "dynamodb:DescribeTable",
        "dynamodb:CreateTable", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Scan", "dynamodb:PutItem",
        "dynamodb:UpdateItem", "Resource",
        getatt("CheckpointTable", "Arn"), "Effect", "Allow", "Action", "logs:CreateLogStream", "logs:PutLogEvents",
        "Resource",
        sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/" FUNCTION_NAME ":*"));
    if (o->prewarm) {
        /* Capacity: the table's own settings, and Application Auto Scaling,
         * whose Describe calls take no resource. */
        json_array_append_new(st, json_pack("{s:s,s:[s],s:o}", "Effect", "Allow", "Action", "dynamodb:UpdateTable",
                                            "Resource", table_arn(o->table)));
        json_array_append_new(st, json_pack("{s:s,s:[s,s,s],s:s}", "Effect", "Allow", "Action",
                                            "application-autoscaling:DescribeScalableTargets",
                                            "application-autoscaling:DescribeScalingPolicies",
                                            "application-autoscaling:RegisterScalableTarget", "Resource", "*"));
    }
    return json_pack("{s:s,s:{s:{s:s,s:[{s:s,s:{s:s},s:s}]},s:[o]}}", "Type", "AWS::IAM::Role", "Properties",
                     "AssumeRolePolicyDocument", "Version", "2012-10-17", "Statement", "Effect", "Allow", "Principal",
                     "Service", "lambda.amazonaws.com", "Action", "sts:AssumeRole", "Policies",
                     policy("ddbmig-function", st));
}

static json_t *machine_role(void)
{
    const char *fn = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:" FUNCTION_NAME;
    char fn_any[300];
    snprintf(fn_any, sizeof fn_any, "%s:*", fn);
    const char *sm = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:" FUNCTION_NAME;
    const char *ex = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:" FUNCTION_NAME ":*";
    json_t *st = json_pack(
        "[{s:s,s:[s],s:[o,o]},{s:s,s:[s],s:o},{s:s,s:[s,s,s],s:o},{s:s,s:[s,s],s:[o]},{s:s,s:[s,s],s:[o]}]",
        "Effect", "Allow", "Action", "lambda:InvokeFunction", "Resource", sub(fn), sub(fn_any), "Effect", "Allow",
        "Action", "s3:GetObject", "Resource", sub("${DataBucket.Arn}/segments/*"), "Effect", "Allow", "Action",
        "s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "Resource", sub("${DataBucket.Arn}/results/*"),
        "Effect", "Allow", "Action", "states:StartExecution", "states:DescribeStateMachine", "Resource", sub(sm),
        "Effect", "Allow", "Action", "states:DescribeExecution", "states:StopExecution", "Resource", sub(ex));
    return json_pack("{s:s,s:{s:{s:s,s:[{s:s,s:{s:s},s:s}]},s:[o]}}", "Type", "AWS::IAM::Role", "Properties",
                     "AssumeRolePolicyDocument", "Version", "2012-10-17", "Statement", "Effect", "Allow", "Principal",
                     "Service", "states.amazonaws.com", "Action", "sts:AssumeRole", "Policies",
                     policy("ddbmig-state-machine", st));
}

static int check(const stack_options *o, dm_error *err)
{
    if (!o->table || !*o->table)
        return dm_error_set(err, DM_ERR_INVALID, "--table-name is required");
    if (!o->migration_id || !*o->migration_id)
        return dm_error_set(err, DM_ERR_INVALID, "a migration id is required");
    if (o->total_segments < 1 || o->total_segments > 1000000)
        return dm_error_set(err, DM_ERR_INVALID, "--total-segments must be from 1 to 1000000");
    if (o->max_concurrency < 0 || o->max_concurrency > 10000)
        return dm_error_set(err, DM_ERR_INVALID, "--max-concurrency must be from 1 to 10000 (Step Functions' "
                                                 "limit for a Distributed Map)");
    if (o->tolerated_failure_percentage < 0 || o->tolerated_failure_percentage > 100)
        return dm_error_set(err, DM_ERR_INVALID, "--tolerated-failure-percentage must be from 0 to 100");
    if (!o->script_file && (!o->code || !*o->code))
        return dm_error_set(err, DM_ERR_INVALID, "give the transform as --script FILE or -e CODE");
    /* Lambda's environment holds 4 KB in all: a longer -e belongs in a file. */
    if (!o->script_file && strlen(o->code) > 2048)
        return dm_error_set(err, DM_ERR_INVALID, "-e CODE is %zu bytes; above 2048 put it in a file (--script)",
                            strlen(o->code));
    return DM_OK;
}

/* Text for Fn::Sub: every "${" of user text becomes "${!" (a literal),
 * and the placeholders named in keep become references. */
static char *for_sub(const char *text, const char *const *keep, size_t n_keep)
{
    dm_buf b;
    dm_buf_init(&b, 0);
    for (const char *p = text; *p; p++) {
        size_t k = 0;
        for (; k < n_keep; k++)
            if (strncmp(p, keep[k], strlen(keep[k])) == 0)
                break;
        if (k < n_keep) {
            dm_buf_puts(&b, keep[k]);
            p += strlen(keep[k]) - 1;
        } else if (p[0] == '$' && p[1] == '{') {
            dm_buf_puts(&b, "${!");
            p++;
        } else {
            dm_buf_putc(&b, *p);
        }
    }
    return b.data;
}

static json_t *parameters(void)
{
    return json_pack("{s:{s:s,s:s,s:[s,s],s:s},s:{s:s,s:i,s:i,s:i,s:s},s:{s:s,s:s},s:{s:s,s:s}}", "Architecture",
                     "Type", "String", "Default", "x86_64", "AllowedValues", "x86_64", "arm64", "Description",
                     "The function's architecture (the zip must match: ddbmig aws package)", "MemorySize", "Type",
                     "Number", "Default", 1024, "MinValue", 128, "MaxValue", 10240, "Description",
                     "The function's memory, MB (1,769 MB is one vCPU)", "CodeBucket", "Type", "String",
                     "Description", "The bucket holding the function's zip (ddbmig aws package)", "CodeKey", "Type",
                     "String", "Description", "The zip's key in CodeBucket");
}

static json_t *storage(json_t *res)
{
    json_object_set_new(res, "CheckpointTable",
                        json_pack("{s:s,s:{s:s,s:[{s:s,s:s}],s:[{s:s,s:s}]}}", "Type", "AWS::DynamoDB::Table",
                                  "Properties", "BillingMode", "PAY_PER_REQUEST", "AttributeDefinitions",
                                  "AttributeName", "id", "AttributeType", "S", "KeySchema", "AttributeName", "id",
                                  "KeyType", "HASH"));
    json_object_set_new(res, "DataBucket",
                        json_pack("{s:s,s:{s:{s:[{s:{s:s}}]},s:{s:b,s:b,s:b,s:b}}}", "Type", "AWS::S3::Bucket",
                                  "Properties", "BucketEncryption", "ServerSideEncryptionConfiguration",
                                  "ServerSideEncryptionByDefault", "SSEAlgorithm", "AES256",
                                  "PublicAccessBlockConfiguration", "BlockPublicAcls", 1, "BlockPublicPolicy", 1,
                                  "IgnorePublicAcls", 1, "RestrictPublicBuckets", 1));
    return res;
}

static json_t *function(const char *args_sub)
{
    return json_pack("{s:s,s:{s:o,s:s,s:s,s:[o],s:o,s:i,s:o,s:{s:o,s:o},s:{s:{s:o}}}}", "Type",
                     "AWS::Lambda::Function", "Properties", "FunctionName", sub(FUNCTION_NAME), "Runtime",
                     "provided.al2023", "Handler", "bootstrap", "Architectures", ref("Architecture"), "MemorySize",
                     ref("MemorySize"), "Timeout", 900, "Role", getatt("FunctionRole", "Arn"), "Code", "S3Bucket",
                     ref("CodeBucket"), "S3Key", ref("CodeKey"), "Environment", "Variables", "DDBMIG_LAMBDA_ARGS",
                     sub(args_sub));
}

static json_t *machine(const char *def_sub)
{
    return json_pack("{s:s,s:{s:o,s:o,s:{s:[s,{s:o}]}}}", "Type", "AWS::StepFunctions::StateMachine", "Properties",
                     "StateMachineName", sub(FUNCTION_NAME), "RoleArn", getatt("StateMachineRole", "Arn"),
                     "DefinitionString", "Fn::Sub", def_sub, "FunctionArn", getatt("Function", "Arn"));
}

int stack_template(const stack_options *o, json_t **out, dm_error *err)
{
    *out = NULL;
    int rc = check(o, err);
    if (rc)
        return rc;
    json_t *args = stack_lambda_args(o, "CHECKPOINT_TABLE_PLACEHOLDER");
    char *args_text = json_dumps(args, JSON_COMPACT);
    json_decref(args);
    json_t *def = stack_definition(o);
    char *def_text = json_dumps(def, JSON_INDENT(2));
    json_decref(def);
    /* The arguments name the checkpoint table CloudFormation makes, the
     * definition the function: references of Fn::Sub. */
    static const char *const fn_keep[] = {"${FunctionArn}"};
    char *def_sub = def_text ? for_sub(def_text, fn_keep, 1) : NULL;
    char *args_sub = args_text ? for_sub(args_text, NULL, 0) : NULL;
    dm_buf a;
    dm_buf_init(&a, 0);
    const char *ph = "CHECKPOINT_TABLE_PLACEHOLDER";
    for (const char *p = args_sub ? args_sub : ""; *p; p++) {
        if (strncmp(p, ph, strlen(ph)) == 0) {
            dm_buf_puts(&a, "${CheckpointTable}");
            p += strlen(ph) - 1;
        } else {
            dm_buf_putc(&a, *p);
        }
    }
    json_t *res = storage(json_object());
    json_t *t = NULL;
    if (res && def_sub && args_sub) {
        json_object_set_new(res, "FunctionRole", function_role(o));
        json_object_set_new(res, "StateMachineRole", machine_role());
        json_object_set_new(res, "Function", function(dm_buf_cstr(&a)));
        json_object_set_new(res, "StateMachine", machine(def_sub));
        /* What aws start and aws status read back: where things are,
         * and what the segment list holds. */
        char segs[16];
        snprintf(segs, sizeof segs, "%d", o->total_segments);
        t = json_pack("{s:s,s:s,s:o,s:o,s:{s:{s:o},s:{s:o},s:{s:o},s:{s:o},s:{s:s},s:{s:s},s:{s:s}}}",
                      "AWSTemplateFormatVersion", "2010-09-09", "Description",
                      "ddbmig: a DynamoDB migration on Lambda under a Step Functions Distributed Map", "Parameters",
                      parameters(), "Resources", res, "Outputs", "StateMachineArn", "Value", ref("StateMachine"),
                      "FunctionName", "Value", ref("Function"), "CheckpointTableName", "Value",
                      ref("CheckpointTable"), "BucketName", "Value", ref("DataBucket"), "TableName", "Value",
                      o->table, "TotalSegments", "Value", segs, "MigrationId", "Value", o->migration_id);
        res = NULL;
    }
    json_decref(res);
    dm_buf_cleanup(&a);
    free(args_text);
    free(args_sub);
    free(def_text);
    free(def_sub);
    if (!t)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory building the template");
    *out = t;
    return DM_OK;
}

json_t *stack_segment_list(const stack_options *o)
{
    json_t *a = json_array();
    for (int i = 0; a && i < o->total_segments; i++)
        json_array_append_new(a, json_pack("{s:i,s:i,s:s}", "segment", i, "totalSegments", o->total_segments,
                                           "tableName", o->table));
    return a;
}

json_t *stack_start_input(const char *bucket, const char *key, const char *results_prefix)
{
    return json_pack("{s:s,s:s,s:s}", "bucket", bucket, "segmentsKey", key, "resultsPrefix", results_prefix);
}
