/* Option parsing in the AWS CLI's style: "--name value" or "--name=value",
 * global options anywhere on the line. Every check of a value lives in
 * its table entry (cli_opt): the kind, the range, the choices, the
 * commands that take it; this file applies them and prints help from the
 * same entries, so that help and checks cannot drift apart. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const cli_opt *global_opts(cli_globals *g)
{
    static cli_opt o[8];
    /* Tables read best one entry to a line or two. */
    /* clang-format off */
    cli_opt t[] = {
        {.name = "region", .kind = CLI_STRING, .dest = &g->region, .arg = "REGION", .commands = CLI_CMD_ALL,
         .help = "AWS Region (else AWS_REGION, AWS_DEFAULT_REGION, profile)"},
        {.name = "profile", .kind = CLI_STRING, .dest = &g->profile, .arg = "NAME", .commands = CLI_CMD_ALL,
         .help = "profile from ~/.aws/config and ~/.aws/credentials"},
        {.name = "endpoint-url", .kind = CLI_STRING, .dest = &g->endpoint_url, .arg = "URL", .commands = CLI_CMD_ALL,
         .help = "DynamoDB endpoint (else AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL)"},
        {.name = "output", .kind = CLI_CHOICE, .dest = &g->output, .arg = "text|json", .choices = "text|json",
         .commands = CLI_CMD_ALL, .help = "output format (default text)"},
        {.name = "max-attempts", .kind = CLI_INT, .dest = &g->max_attempts, .arg = "N", .imin = 1, .imax = 1000,
         .commands = CLI_CMD_ALL, .help = "attempts per request, retries included (default 10)"},
        {.name = "debug", .kind = CLI_FLAG, .dest = &g->debug, .commands = CLI_CMD_ALL,
         .help = "log each request's headers (secrets redacted) to stderr"},
        {.name = "help", .short_name = 'h', .kind = CLI_FLAG, .dest = &g->help, .commands = CLI_CMD_ALL,
         .help = "show help"},
        {0}};
    /* clang-format on */
    memcpy(o, t, sizeof t);
    return o;
}

static bool is_end(const cli_opt *o) { return !o->name && !o->short_name; }

/* "--name", or "-e" for a short-only option. Static buffer. */
static const char *label(const cli_opt *o)
{
    static char buf[96];
    if (o->name)
        snprintf(buf, sizeof buf, "--%s", o->name);
    else
        snprintf(buf, sizeof buf, "-%c", o->short_name);
    return buf;
}

static const cli_opt *find_long(const cli_opt *opts, const char *name, size_t n)
{
    for (; opts && !is_end(opts); opts++)
        if (opts->name && strlen(opts->name) == n && strncmp(opts->name, name, n) == 0)
            return opts;
    return NULL;
}

static const cli_opt *find_short(const cli_opt *opts, char short_name)
{
    for (; opts && !is_end(opts); opts++)
        if (opts->short_name == short_name)
            return opts;
    return NULL;
}

static void put_number(char *out, size_t size, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(out, size, "%.0f", v);
    else
        snprintf(out, size, "%g", v);
}

/* The accepted values in words ("from 1 to 1024", "more than 0 and at
 * most 1000000000"), for messages and help; "" when any value goes. Help
 * leaves out a maximum that only the machine imposes (LLONG_MAX). */
static void range_text(const cli_opt *o, bool for_help, char *out, size_t size)
{
    out[0] = '\0';
    if (o->kind == CLI_INT) {
        if (o->imax == LLONG_MAX && for_help)
            snprintf(out, size, "at least %lld", o->imin);
        else
            snprintf(out, size, "from %lld to %lld", o->imin, o->imax);
    } else if (o->kind == CLI_NUMBER) {
        char lo[32], hi[32];
        put_number(lo, sizeof lo, o->dmin);
        put_number(hi, sizeof hi, o->dmax);
        snprintf(out, size, "%s %s and at most %s", o->dmin_open ? "more than" : "at least", lo, hi);
    }
}

/* "update, put or batch" from "update|put|batch". */
static void choices_text(const char *choices, char *out, size_t size)
{
    size_t o = 0;
    const char *p = choices;
    while (*p && o + 1 < size) {
        size_t n = strcspn(p, "|");
        const char *next = p[n] ? p + n + 1 : p + n;
        const char *sep = !*next ? "" : strchr(next, '|') ? ", " : " or ";
        int w = snprintf(out + o, size - o, "%.*s%s", (int)n, p, sep);
        if (w < 0)
            break;
        o += (size_t)w < size - o ? (size_t)w : size - o - 1;
        p = next;
    }
    out[o] = '\0';
}

static bool is_choice(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        size_t w = strcspn(p, "|");
        if (w == n && strncmp(p, v, n) == 0)
            return true;
        p += w + (p[w] == '|');
    }
    return false;
}

static int bad_value(const char *command, const cli_opt *o, const char *v, const char *wants)
{
    fprintf(stderr, "ddbmig %s: %s wants %s, not '%.100s'\n", command, label(o), wants, v);
    return CLI_EXIT_USAGE;
}

static int out_of_range(const char *command, const cli_opt *o, const char *v)
{
    char range[96];
    range_text(o, false, range, sizeof range);
    fprintf(stderr, "ddbmig %s: %s %.100s is out of range: %s must be %s\n", command, label(o), v,
            o->arg ? o->arg : "it", range);
    return CLI_EXIT_USAGE;
}

static int set_value(const char *command, const cli_opt *o, const char *v)
{
    if ((o->kind == CLI_STRING || o->kind == CLI_CHOICE || o->kind == CLI_LIST) && !*v) {
        fprintf(stderr, "ddbmig %s: %s needs a value, not an empty string\n", command, label(o));
        return CLI_EXIT_USAGE;
    }
    switch (o->kind) {
    case CLI_FLAG: *(bool *)o->dest = true; return 0;
    case CLI_STRING: *(const char **)o->dest = v; return 0;
    case CLI_CHOICE:
        if (!is_choice(o->choices, v)) {
            char words[128];
            choices_text(o->choices, words, sizeof words);
            fprintf(stderr, "ddbmig %s: %s must be %s, not '%.100s'\n", command, label(o), words, v);
            return CLI_EXIT_USAGE;
        }
        *(const char **)o->dest = v;
        return 0;
    case CLI_LIST: {
        cli_list *l = o->dest;
        if (l->n == 32) {
            fprintf(stderr, "ddbmig %s: %s can be given at most 32 times\n", command, label(o));
            return CLI_EXIT_USAGE;
        }
        l->items[l->n++] = v;
        return 0;
    }
    case CLI_INT: {
        long long n = 0;
        int rc = dm_parse_int(v, o->imin, o->imax, &n);
        if (rc == DM_ERR_INVALID)
            return bad_value(command, o, v, "a whole number");
        if (rc != DM_OK)
            return out_of_range(command, o, v);
        *(long long *)o->dest = n;
        return 0;
    }
    case CLI_NUMBER: {
        double d = 0;
        int rc = dm_parse_number(v, &d);
        if (rc == DM_ERR_INVALID)
            return bad_value(command, o, v, "a number");
        if (rc != DM_OK || d < o->dmin || (o->dmin_open && d == o->dmin) || d > o->dmax)
            return out_of_range(command, o, v);
        *(double *)o->dest = d;
        return 0;
    }
    }
    return 0;
}

/* Names the commands of a bit set: "run", "run and verify". lambda is
 * run inside AWS Lambda: named only when no other command takes it. */
static void command_names(unsigned bits, char *out, size_t size)
{
    static const char *names[] = {"run", "verify", "export", "import", "describe", "capacity", "lambda", "aws"};
    if (bits != CLI_CMD_LAMBDA)
        bits &= ~(unsigned)CLI_CMD_LAMBDA;
    size_t o = 0;
    int left = __builtin_popcount(bits);
    out[0] = '\0';
    for (int i = 0; i < 8; i++) {
        if (!(bits & (1u << i)))
            continue;
        left--;
        int w = snprintf(out + o, size - o, "%s%s", names[i], left == 0 ? "" : left == 1 ? " and " : ", ");
        if (w < 0 || (size_t)w >= size - o)
            return;
        o += (size_t)w;
    }
}

int cli_parse(const cli_command *cmd, int argc, char **argv, cli_globals *g)
{
    const char *command = cmd->name;
    const cli_opt *opts = cmd->options();
    const cli_opt *globals = global_opts(g);
    bool given[64] = {false};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const cli_opt *o = NULL;
        const char *inline_val = NULL;
        if (strncmp(a, "--", 2) == 0 && a[2]) {
            const char *eq = strchr(a + 2, '=');
            size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            inline_val = eq ? eq + 1 : NULL;
            o = find_long(opts, a + 2, n);
            if (!o)
                o = find_long(globals, a + 2, n);
        } else if (a[0] == '-' && a[1] && !a[2]) {
            o = find_short(opts, a[1]);
            if (!o)
                o = find_short(globals, a[1]);
        } else {
            fprintf(stderr, "ddbmig %s: unexpected argument '%.100s' (see 'ddbmig help %s')\n", command, a, command);
            return CLI_EXIT_USAGE;
        }
        if (!o) {
            fprintf(stderr, "ddbmig %s: unknown option '%.100s' (see 'ddbmig help %s')\n", command, a, command);
            return CLI_EXIT_USAGE;
        }
        if (!(o->commands & cmd->id)) {
            char names[64];
            command_names(o->commands, names, sizeof names);
            fprintf(stderr, "ddbmig %s: %s is an option of %s, not of %s (see 'ddbmig help %s')\n", command,
                    label(o), names, command, command);
            return CLI_EXIT_USAGE;
        }
        const char *v = NULL;
        if (o->kind != CLI_FLAG) {
            v = inline_val ? inline_val : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) {
                fprintf(stderr, "ddbmig %s: %s needs a value (%s)\n", command, label(o), o->arg ? o->arg : "");
                return CLI_EXIT_USAGE;
            }
        } else if (inline_val) {
            fprintf(stderr, "ddbmig %s: %s takes no value\n", command, label(o));
            return CLI_EXIT_USAGE;
        }
        int rc = set_value(command, o, v);
        if (rc)
            return rc;
        if (o >= opts && o - opts < 64)
            given[o - opts] = true;
    }
    for (const cli_opt *o = opts; !is_end(o); o++) {
        if ((o->required & cmd->id) && o - opts < 64 && !given[o - opts]) {
            fprintf(stderr, "ddbmig %s: %s is required (see 'ddbmig help %s')\n", command, label(o), command);
            return CLI_EXIT_USAGE;
        }
    }
    return 0;
}

static void print_table(const cli_opt *o, unsigned id)
{
    for (; !is_end(o); o++) {
        if (!(o->commands & id))
            continue;
        char left[80], range[96];
        int n = o->name && o->short_name ? snprintf(left, sizeof left, "-%c, --%s", o->short_name, o->name)
                                         : snprintf(left, sizeof left, "%s", label(o));
        if (o->arg && n >= 0 && (size_t)n < sizeof left)
            snprintf(left + n, sizeof left - (size_t)n, " %s", o->arg);
        range_text(o, true, range, sizeof range);
        if (strlen(left) > 30)
            printf("  %s\n  %-30s", left, "");
        else
            printf("  %-30s", left);
        printf(" %s%s%s%s%s\n", o->help, range[0] ? "; " : "", range[0] ? o->arg : "", range[0] ? " " : "", range);
    }
}

void cli_print_options(const cli_command *cmd)
{
    cli_globals g = {0};
    printf("Options:\n");
    print_table(cmd->options(), cmd->id);
    printf("\nGlobal options:\n");
    print_table(global_opts(&g), cmd->id);
}

/* One line per spelling of an option: "--name" or "-n", TAB, its
 * placeholder ("" for a flag), TAB, its choices separated by spaces (""
 * unless CLI_CHOICE), TAB, its help. Entries of o that cli_parse never
 * reaches because shadow (the command's own table) has the name are left
 * out (aws --output). */
static void list_table(const cli_opt *o, unsigned id, const cli_opt *shadow)
{
    for (; !is_end(o); o++) {
        if (!(o->commands & id) || (o->name && find_long(shadow, o->name, strlen(o->name))))
            continue;
        char choices[256] = "";
        if (o->kind == CLI_CHOICE) {
            dm_strlcpy(choices, o->choices, sizeof choices);
            for (char *p = choices; *p; p++)
                if (*p == '|')
                    *p = ' ';
        }
        const char *arg = o->kind == CLI_FLAG ? "" : o->arg ? o->arg : "VALUE";
        if (o->name)
            printf("--%s\t%s\t%s\t%s\n", o->name, arg, choices, o->help);
        if (o->short_name)
            printf("-%c\t%s\t%s\t%s\n", o->short_name, arg, choices, o->help);
    }
}

void cli_list_options(const cli_command *cmd)
{
    cli_globals g = {0};
    list_table(cmd->options(), cmd->id, NULL);
    list_table(global_opts(&g), cmd->id, cmd->options());
}

bool cli_json_output(const cli_globals *g) { return g->output && strcmp(g->output, "json") == 0; }
