/* Option parsing in the AWS CLI's style: "--name value" or "--name=value",
 * global options anywhere on the line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"


static const cli_opt *global_opts(cli_globals *g)
{
    static cli_opt o[9];
    cli_opt t[] = {
        {"region", 0, CLI_STRING, &g->region, "REGION", "AWS Region (else AWS_REGION, AWS_DEFAULT_REGION, profile)"},
        {"profile", 0, CLI_STRING, &g->profile, "NAME", "profile from ~/.aws/config and ~/.aws/credentials"},
        {"endpoint-url", 0, CLI_STRING, &g->endpoint_url, "URL",
         "DynamoDB endpoint (else AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL)"},
        {"output", 0, CLI_STRING, &g->output, "text|json", "output format (default text)"},
        {"max-attempts", 0, CLI_INT, &g->max_attempts, "N", "attempts per request, retries included (default 10)"},
        {"debug", 0, CLI_FLAG, &g->debug, NULL, "log each request's headers (secrets redacted) to stderr"},
        {"help", 'h', CLI_FLAG, &g->help, NULL, "show help"},
        {NULL, 0, 0, NULL, NULL, NULL}};
    memcpy(o, t, sizeof t);
    return o;
}

static const cli_opt *find(const cli_opt *opts, const char *name, size_t n, char short_name)
{
    for (; opts && opts->name; opts++) {
        if (short_name ? opts->short_name == short_name
                       : (strlen(opts->name) == n && strncmp(opts->name, name, n) == 0))
            return opts;
    }
    return NULL;
}

static int set_value(const char *command, const cli_opt *o, const char *v)
{
    switch (o->kind) {
    case CLI_FLAG: *(bool *)o->dest = true; return 0;
    case CLI_STRING: *(const char **)o->dest = v; return 0;
    case CLI_LIST: {
        cli_list *l = o->dest;
        if (l->n == 32) {
            fprintf(stderr, "ddbmig %s: --%s can be given at most 32 times\n", command, o->name);
            return CLI_EXIT_USAGE;
        }
        l->items[l->n++] = v;
        return 0;
    }
    case CLI_INT: {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end) {
            fprintf(stderr, "ddbmig %s: --%s wants a whole number, not '%s'\n", command, o->name, v);
            return CLI_EXIT_USAGE;
        }
        *(long *)o->dest = n;
        return 0;
    }
    }
    return 0;
}

int cli_parse(const char *command, int argc, char **argv, const cli_opt *opts, cli_globals *g)
{
    const cli_opt *globals = global_opts(g);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const cli_opt *o = NULL;
        const char *inline_val = NULL;
        if (strncmp(a, "--", 2) == 0 && a[2]) {
            const char *eq = strchr(a + 2, '=');
            size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            inline_val = eq ? eq + 1 : NULL;
            o = find(opts, a + 2, n, 0);
            if (!o)
                o = find(globals, a + 2, n, 0);
        } else if (a[0] == '-' && a[1] && !a[2]) {
            o = find(opts, NULL, 0, a[1]);
            if (!o)
                o = find(globals, NULL, 0, a[1]);
        } else {
            fprintf(stderr, "ddbmig %s: unexpected argument '%s' (see 'ddbmig help %s')\n", command, a, command);
            return CLI_EXIT_USAGE;
        }
        if (!o) {
            fprintf(stderr, "ddbmig %s: unknown option '%s' (see 'ddbmig help %s')\n", command, a, command);
            return CLI_EXIT_USAGE;
        }
        const char *v = NULL;
        if (o->kind != CLI_FLAG) {
            v = inline_val ? inline_val : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) {
                fprintf(stderr, "ddbmig %s: --%s needs a value (%s)\n", command, o->name, o->arg ? o->arg : "");
                return CLI_EXIT_USAGE;
            }
        } else if (inline_val) {
            fprintf(stderr, "ddbmig %s: --%s takes no value\n", command, o->name);
            return CLI_EXIT_USAGE;
        }
        int rc = set_value(command, o, v);
        if (rc)
            return rc;
    }
    if (g->output && strcmp(g->output, "text") != 0 && strcmp(g->output, "json") != 0) {
        fprintf(stderr, "ddbmig %s: --output must be text or json, not '%s'\n", command, g->output);
        return CLI_EXIT_USAGE;
    }
    if (g->max_attempts < 0 || g->max_attempts > 1000) {
        fprintf(stderr, "ddbmig %s: --max-attempts must be from 1 to 1000\n", command);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

static void print_table(const cli_opt *o)
{
    for (; o && o->name; o++) {
        char left[64];
        if (o->arg)
            snprintf(left, sizeof left, "--%s %s", o->name, o->arg);
        else
            snprintf(left, sizeof left, "--%s", o->name);
        printf("  %-28s %s\n", left, o->help);
    }
}

void cli_print_options(const cli_opt *opts)
{
    print_table(opts);
}

void cli_print_global_options(void)
{
    cli_globals g = {0};
    print_table(global_opts(&g));
}

bool cli_json_output(const cli_globals *g) { return g->output && strcmp(g->output, "json") == 0; }
