/* The AWS stack that runs a migration on Lambda under a Step Functions
 * Distributed Map: its CloudFormation template (JSON), the state machine's
 * definition, and what `aws start` gives the state machine. Pure: options
 * in, documents out (tests/unit/test_stack.c; cfn-lint and asl-validator
 * in tests/integration/cli_aws_template.sh). */
#ifndef DDBMIG_STACK_H
#define DDBMIG_STACK_H

#include <jansson.h>
#include <stdbool.h>

#include "ddbmig/common.h"

typedef struct stack_options {
    const char *table;             /* required */
    const char *target_table;      /* NULL: in place */
    bool script_file;              /* the script is script.lua in the code zip */
    const char *code;              /* else -e CODE (kept in the function's environment) */
    const char *migration_id;      /* required: a checkpoint table item prefix */
    const char *write_mode, *marker, *version_attribute;
    const char *filter_expression, *names_json, *values_json;
    int total_segments;            /* 1..1,000,000 */
    int max_concurrency;           /* children at once; 0: min(segments, 1000) */
    double tolerated_failure_percentage; /* 0..100 */
    double max_read_units, max_write_units; /* totals for the whole run; 0: none */
    int max_errors;                /* per child; 0: the engine's default */
    int lease_seconds;             /* a segment's lease in the checkpoint table; 0: 20 */
    /* Pre-warm before the Map and restore after it, on success and on
     * failure (the function's prewarm and restore events). */
    bool prewarm;
    long long prewarm_read, prewarm_write; /* 0: from the table */
    const char *prewarm_method;            /* NULL: from the table */
} stack_options;

/* The template; DM_ERR_INVALID with the reason for options that cannot
 * be deployed. Owned by the caller. */
DM_API int stack_template(const stack_options *o, json_t **out, dm_error *err);
/* The state machine's definition (Amazon States Language), with
 * ${FunctionArn} where the function's ARN goes. */
DM_API json_t *stack_definition(const stack_options *o);
/* The arguments `ddbmig lambda` gets (DDBMIG_LAMBDA_ARGS): the rate caps
 * divided among the concurrent children. checkpoint_table may be a
 * placeholder. A JSON array of strings. */
DM_API json_t *stack_lambda_args(const stack_options *o, const char *checkpoint_table);
/* The segment list the Map reads from S3: [{"segment","totalSegments","tableName"}...]. */
DM_API json_t *stack_segment_list(const stack_options *o);
/* The execution's input: where the list is, where results go. */
DM_API json_t *stack_start_input(const char *bucket, const char *key, const char *results_prefix);

/* A zip archive built in memory (the Lambda deployment package). */
typedef struct stack_zip stack_zip;
DM_API stack_zip *stack_zip_new(void);
DM_API void stack_zip_free(stack_zip *z);
/* Adds a file (deflated) with Unix mode bits (0755 for bootstrap). */
DM_API int stack_zip_add(stack_zip *z, const char *name, const void *data, size_t len, unsigned mode,
                         dm_error *err);
/* The whole archive into *out (owned by the caller); z is spent. */
DM_API int stack_zip_finish(stack_zip *z, dm_buf *out, dm_error *err);

#endif
