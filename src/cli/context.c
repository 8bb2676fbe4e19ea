/* The connection every command makes, and error reporting. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

int cli_exit_code(const dm_error *err, int rc)
{
    switch (rc) {
    case DM_OK: return CLI_EXIT_OK;
    case DM_ERR_STOPPED: return CLI_EXIT_INTERRUPTED;
    case DM_ERR_INVALID:
    case DM_ERR_CONFIG:
    case DM_ERR_CREDENTIALS:
    case DM_ERR_IO:
    case DM_ERR_PARSE: return CLI_EXIT_USAGE;
    default: break;
    }
    /* A table that is not there, or a request DynamoDB finds malformed,
     * is the caller's input: nothing was written. */
    if (err && (strcmp(err->type, "ResourceNotFoundException") == 0 ||
                strcmp(err->type, "ValidationException") == 0 ||
                strcmp(err->type, "UnrecognizedClientException") == 0 ||
                strcmp(err->type, "InvalidSignatureException") == 0))
        return CLI_EXIT_USAGE;
    return CLI_EXIT_AWS;
}

int cli_fail(const dm_error *err, int rc)
{
    const char *msg = err && err->message[0] ? err->message : dm_err_str(rc);
    fprintf(stderr, "ddbmig: error: %s\n", msg);
    if (err && err->throttle_reasons[0])
        fprintf(stderr, "ddbmig: throttled by: %s\n", err->throttle_reasons);
    if (err && err->request_id[0])
        fprintf(stderr, "ddbmig: request id: %s\n", err->request_id);
    return cli_exit_code(err, rc);
}

int cli_connect(const cli_globals *g, cli_conn *c)
{
    memset(c, 0, sizeof *c);
    dm_error err = {0};
    aws_settings_args a = {.profile = g->profile, .region = g->region, .endpoint_url = g->endpoint_url};
    int rc = aws_settings_load(&a, dm_env_process(), &c->settings, &err);
    if (rc)
        return cli_fail(&err, rc);
    /* A local endpoint needs no region, but requests are signed with one:
     * use the AWS CLI's usual default rather than refusing to start. */
    bool custom = g->endpoint_url || dm_env_get(c->settings.env, "AWS_ENDPOINT_URL_DYNAMODB") ||
                  dm_env_get(c->settings.env, "AWS_ENDPOINT_URL");
    if (!c->settings.region[0] && custom) {
        dm_strlcpy(c->settings.region, "us-east-1", sizeof c->settings.region);
        c->settings.region_source = "default for a custom endpoint";
    }
    rc = aws_settings_endpoint(&c->settings, "DYNAMODB", "dynamodb", c->endpoint, sizeof c->endpoint, &err);
    if (rc) {
        aws_settings_cleanup(&c->settings);
        return cli_fail(&err, rc);
    }
    DM_DEBUG("profile %s%s, region %s (from %s), endpoint %s", c->settings.profile,
             c->settings.profile_explicit ? "" : " (default)", c->settings.region, c->settings.region_source,
             c->endpoint);
    c->creds = creds_default_new(&c->settings);
    long attempts = g->max_attempts ? g->max_attempts : c->settings.max_attempts;
    ddb_options o = {.endpoint = c->endpoint, .region = c->settings.region, .creds = c->creds,
                     .max_attempts = (int)attempts, .ca_file = c->settings.ca_bundle};
    c->shared = c->creds ? ddb_shared_new(&o, &err) : NULL;
    c->client = c->shared ? ddb_client_new(c->shared) : NULL;
    if (!c->client) {
        if (!err.message[0])
            dm_error_set(&err, DM_ERR_NOMEM, "out of memory");
        cli_disconnect(c);
        return cli_fail(&err, err.code);
    }
    return CLI_EXIT_OK;
}

void cli_disconnect(cli_conn *c)
{
    ddb_client_free(c->client);
    ddb_shared_free(c->shared);
    creds_provider_free(c->creds);
    aws_settings_cleanup(&c->settings);
    memset(c, 0, sizeof *c);
}

bool cli_ask(const char *question, volatile sig_atomic_t *stop)
{
    fprintf(stderr, "%s [y/N] ", question);
    fflush(stderr);
    char line[32];
    if (!fgets(line, sizeof line, stdin) || (stop && *stop))
        return false;
    line[strcspn(line, "\r\n")] = '\0';
    return strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0;
}
