/* The AWS services `ddbmig aws deploy|start|status|redrive` talk to,
 * besides DynamoDB: S3 (REST), CloudFormation and STS (query protocol,
 * XML answers) and Step Functions (JSON 1.0, through the DynamoDB
 * client's transport with its own signing name and target).
 *
 * Calls are synchronous (a person waits on each); each is signed with
 * the project's SigV4 and retried like DynamoDB's calls (throttling and
 * 5xx with backoff). Answers are parsed as XML or JSON into the structs
 * below; the parse functions are pure and public for the unit tests and
 * the fuzz target. Nothing here logs a credential or a signature. */
#ifndef DDBMIG_AWSAPI_H
#define DDBMIG_AWSAPI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ddbmig/common.h"
#include "ddbmig/creds.h"
#include "ddbmig/ddb.h"

/* One service endpoint with what signing it needs. Borrowed strings. */
typedef struct awsreq_service {
    const char *endpoint;     /* "https://cloudformation.us-east-1.amazonaws.com" */
    const char *region;
    const char *signing_name; /* "cloudformation", "s3", "sts" */
    creds_provider *creds;
    const char *ca_file;      /* NULL or "": the system's */
    int max_attempts;         /* 0: 5 */
} awsreq_service;

typedef struct awsreq {
    const char *method;       /* "GET", "PUT", "POST", "HEAD" */
    const char *path;         /* not yet percent-encoded: "/bucket/key with space" */
    const char *query;        /* already encoded, without '?'; NULL: none */
    const char *content_type; /* NULL: none */
    const void *body;
    size_t body_len;
    bool s3;                  /* S3's signing: x-amz-content-sha256, the path as it is */
    const char *expected_owner; /* S3: x-amz-expected-bucket-owner, or NULL */
} awsreq;

typedef struct awsreq_answer {
    long status;
    dm_buf body;
} awsreq_answer;

/* Sends req, retrying what is worth retrying. DM_OK for a 2xx answer
 * (answer filled, released with awsreq_answer_cleanup); otherwise
 * DM_ERR_SERVICE with err->type and the message from the service's XML
 * error, DM_ERR_NETWORK, DM_ERR_THROTTLED, DM_ERR_CREDENTIALS. what names
 * the operation in messages ("CloudFormation CreateStack"). */
DM_API int awsreq_perform(const awsreq_service *svc, const awsreq *req, const char *what, awsreq_answer *answer,
                          dm_error *err);
DM_API void awsreq_answer_cleanup(awsreq_answer *a);
/* The code and message of an AWS XML error body (<Error><Code>, also
 * inside <ErrorResponse>). false when the body is no such document. */
DM_API bool awsreq_xml_error(const char *body, size_t len, char *code, size_t code_size, char *msg,
                             size_t msg_size);

/* A form body for the query protocol: appends "&name=value" encoded. */
DM_API int awsreq_form_add(dm_buf *form, const char *name, const char *value);

/* ---- STS --------------------------------------------------------------- */

/* The account of the credentials (GetCallerIdentity), 12 digits. */
DM_API int sts_account(const awsreq_service *sts, char account[16], dm_error *err);
DM_API int sts_parse_account(const char *xml, size_t len, char account[16], dm_error *err);

/* ---- S3 ---------------------------------------------------------------- */

/* Bucket names: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit. */
DM_API bool s3_valid_bucket(const char *name);
/* Whether the bucket exists and belongs to owner (NULL: any owner):
 * 1 yes, 0 absent, DM_ERR_SERVICE when it is someone else's or refused. */
DM_API int s3_bucket_exists(const awsreq_service *s3, const char *bucket, const char *owner, dm_error *err);
DM_API int s3_create_bucket(const awsreq_service *s3, const char *bucket, dm_error *err);
DM_API int s3_put_object(const awsreq_service *s3, const char *bucket, const char *key, const void *data, size_t len,
                         const char *content_type, const char *owner, dm_error *err);

/* ---- CloudFormation ------------------------------------------------------ */

#define CFN_MAX_OUTPUTS 16
typedef struct cfn_stack {
    char id[512];
    char name[256];
    char status[64];          /* "CREATE_COMPLETE", ... */
    char reason[1024];        /* StackStatusReason */
    int n_outputs;
    struct {
        char key[128];
        char value[1024];
    } outputs[CFN_MAX_OUTPUTS];
} cfn_stack;

typedef struct cfn_event {
    char id[256];
    char timestamp[40];
    char logical_id[256];
    char type[128];
    char status[64];
    char reason[1024];
} cfn_event;

typedef struct cfn_param {
    const char *key, *value;
} cfn_param;

/* *found false when the stack does not exist. */
DM_API int cfn_describe_stack(const awsreq_service *cfn, const char *name, cfn_stack *out, bool *found,
                              dm_error *err);
/* Creates or updates (update: *no_change when CloudFormation says there
 * is nothing to update). template_url instead of the body when not NULL. */
DM_API int cfn_create_or_update(const awsreq_service *cfn, bool update, const char *name, const char *body,
                                const char *template_url, const cfn_param *params, int n_params, bool *no_change,
                                dm_error *err);
/* The newest events first, at most max. */
DM_API int cfn_stack_events(const awsreq_service *cfn, const char *name, cfn_event *out, int max, int *n,
                            dm_error *err);
DM_API const char *cfn_output(const cfn_stack *s, const char *key);
/* Status words: still moving, and finished well. */
DM_API bool cfn_status_in_progress(const char *status);
DM_API bool cfn_status_ok(const char *status);

DM_API int cfn_parse_stack(const char *xml, size_t len, cfn_stack *out, bool *found, dm_error *err);
DM_API int cfn_parse_events(const char *xml, size_t len, cfn_event *out, int max, int *n, dm_error *err);

/* ---- Step Functions ------------------------------------------------------ */

/* A client for Step Functions over the DynamoDB client's transport
 * (JSON 1.0, target AWSStepFunctions, signing name "states"). */
DM_API ddb_shared *sfn_shared_new(const char *endpoint, const char *region, creds_provider *creds,
                                  const char *ca_file, int max_attempts, dm_error *err);

typedef struct sfn_execution {
    char arn[512];
    char name[96];
    char status[32];          /* RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE */
    int64_t start_ms, stop_ms; /* 0: not given */
    char error[256], cause[1024];
    int redrive_count;
} sfn_execution;

typedef struct sfn_map_run {
    char arn[600];
    char status[32];
    long long pending, running, succeeded, failed, timed_out, aborted, total;
} sfn_map_run;

/* The execution's ARN from the state machine's and a name. */
DM_API int sfn_execution_arn(const char *machine_arn, const char *name, char *out, size_t size);
DM_API int sfn_start(ddb_client *c, const char *machine_arn, const char *name, const char *input, char *arn_out,
                     size_t arn_size, dm_error *err);
DM_API int sfn_describe(ddb_client *c, const char *execution_arn, sfn_execution *out, dm_error *err);
/* The newest execution of the machine; *found false when none. */
DM_API int sfn_latest(ddb_client *c, const char *machine_arn, sfn_execution *out, bool *found, dm_error *err);
/* The first Map Run of the execution; *found false when none yet. */
DM_API int sfn_describe_map_run(ddb_client *c, const char *execution_arn, sfn_map_run *out, bool *found, dm_error *err);
DM_API int sfn_redrive(ddb_client *c, const char *execution_arn, dm_error *err);

DM_API int sfn_parse_execution(const json_t *answer, sfn_execution *out, dm_error *err);
DM_API int sfn_parse_map_run(const json_t *answer, sfn_map_run *out, dm_error *err);

/* The console page of an execution. */
DM_API void sfn_console_url(const char *region, const char *execution_arn, char *out, size_t size);

#endif
