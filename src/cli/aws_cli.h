/* ddbmig aws: what its subcommands share (aws.c: options, template,
 * package; aws_stack.c: deploy, start, status, redrive). */
#ifndef DDBMIG_CLI_AWS_H
#define DDBMIG_CLI_AWS_H

#include "cli.h"

typedef struct aws_cli_options {
    const char *table, *target, *script, *code, *migration_id, *write_mode, *marker, *version_attr;
    const char *filter, *names, *values, *output;
    long long segments, concurrency, max_errors, lease;
    double tolerated, max_read, max_write;
    bool prewarm;
    /* deploy, start, status, redrive */
    const char *stack, *code_bucket, *architecture, *name, *execution_arn;
    long long memory, interval;
    bool watch;
} aws_cli_options;

extern aws_cli_options aws_opt;

/* The template as text (with a final newline), owned by the caller; an
 * exit code (the message printed) on failure. */
int aws_template_text(char **out);
/* The function's zip: bootstrap, this binary, its shared libraries,
 * --script as script.lua. */
int aws_package_zip(dm_buf *zip, int *libs, dm_error *err);

int aws_deploy_main(cli_globals *g);
int aws_start_main(cli_globals *g);
int aws_status_main(cli_globals *g);
int aws_redrive_main(cli_globals *g);

#endif
