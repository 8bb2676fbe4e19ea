/* ddbmig capacity show | prewarm | restore, and the capacity pieces that
 * ddbmig run --prewarm shares with it. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "ddbmig/json_out.h"

cli_prewarm cli_prewarm_opt;

static struct {
    const char *table, *checkpoint, *checkpoint_table, *migration_id;
    bool yes, quiet;
} opt;

static const cli_opt *capacity_options(void)
{
    enum { C = CLI_CMD_CAPACITY };
    static const cli_opt o[] = {
        {.name = "table-name", .kind = CLI_STRING, .dest = &opt.table, .arg = "NAME", .commands = C,
         .help = "the table (show, prewarm; restore: finds .ddbmig/NAME.capacity.json)"},
        {.name = "checkpoint", .kind = CLI_STRING, .dest = &opt.checkpoint, .arg = "FILE", .commands = C,
         .help = "a run's checkpoint, or a capacity record: where the original settings are kept"},
        {.name = "checkpoint-table", .kind = CLI_STRING, .dest = &opt.checkpoint_table, .arg = "NAME",
         .commands = C, .help = "keep the record in this checkpoint table (with --migration-id), as Lambda runs do"},
        {.name = "migration-id", .kind = CLI_STRING, .dest = &opt.migration_id, .arg = "ID", .commands = C,
         .help = "with --checkpoint-table: the migration whose record it is"},
        {.name = "yes", .short_name = 'y', .kind = CLI_FLAG, .dest = &opt.yes, .commands = C,
         .help = "do not ask before changing capacity"},
        {.name = "quiet", .short_name = 'q', .kind = CLI_FLAG, .dest = &opt.quiet, .commands = C,
         .help = "no progress output"},
        CLI_PREWARM_OPTIONS(C),
        {0}};
    return o;
}

/* ---- shared with run ---- */

int cli_cap_open(const cli_globals *g, cli_conn *conn, volatile sig_atomic_t *stop, cli_cap *out)
{
    memset(out, 0, sizeof *out);
    out->c.ddb = conn->client;
    out->c.stop = stop;
    out->c.wait_timeout_s = (int)cli_prewarm_opt.timeout_s;
    out->c.progress = stderr;
    out->c.notices = stderr;
    const dm_env *env = conn->settings.env;
    /* A DynamoDB endpoint of its own (DynamoDB Local) says nothing of
     * where Application Auto Scaling is: without one named for it, real
     * AWS is not asked about a local table. */
    if (!g->endpoint_url && !dm_env_get(env, "AWS_ENDPOINT_URL") &&
        !dm_env_get(env, "AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING") && dm_env_get(env, "AWS_ENDPOINT_URL_DYNAMODB")) {
        dm_strlcpy(out->note,
                   "DynamoDB's endpoint is AWS_ENDPOINT_URL_DYNAMODB and none is set for Application Auto Scaling "
                   "(AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING)",
                   sizeof out->note);
        out->c.scaling_note = out->note;
        return CLI_EXIT_OK;
    }
    dm_error err = {0};
    int rc = aws_settings_endpoint(&conn->settings, "APPLICATION_AUTO_SCALING", "application-autoscaling",
                                   out->endpoint, sizeof out->endpoint, &err);
    if (rc)
        return cli_fail(&err, rc);
    ddb_options o = {.endpoint = out->endpoint, .region = conn->settings.region, .creds = conn->creds,
                     .max_attempts = 3, .ca_file = conn->settings.ca_bundle,
                     .signing_name = "application-autoscaling", .target_prefix = "AnyScaleFrontendService",
                     .content_type = "application/x-amz-json-1.1"};
    out->shared = ddb_shared_new(&o, &err);
    out->client = out->shared ? ddb_client_new(out->shared) : NULL;
    if (!out->client) {
        cli_cap_close(out);
        return cli_fail(&err, err.code ? err.code : DM_ERR_NOMEM);
    }
    out->c.scaling = out->client;
    return CLI_EXIT_OK;
}

void cli_cap_close(cli_cap *c)
{
    ddb_client_free(c->client);
    ddb_shared_free(c->shared);
    memset(c, 0, sizeof *c);
}

/* A positive whole number of units from an environment variable. */
static int env_units(const char *name, long long *out, dm_error *err)
{
    const char *v = getenv(name);
    if (!v)
        return DM_OK;
    char *end;
    errno = 0;
    long long n = *v >= '0' && *v <= '9' ? strtoll(v, &end, 10) : 0;
    if (errno || n == 0 || *end || n < 1 || n > 40000000)
        return dm_error_set(err, DM_ERR_INVALID, "%s must be a whole number of units from 1 to 40000000", name);
    *out = n;
    return DM_OK;
}

int cli_cap_goal(const cap_state *s, bool consistent, double max_read, double max_write, cap_goal *out, dm_error *err)
{
    memset(out, 0, sizeof *out);
    if (cli_prewarm_opt.method && cap_method_parse(cli_prewarm_opt.method, &out->method) != DM_OK)
        return dm_error_set(err, DM_ERR_INVALID, "unknown --prewarm-method");
    cap_default_goal(s->item_count, s->size_bytes, consistent, max_read, max_write, &out->read, &out->write);
    /* A flag wins over its variable, which is then not even read. */
    int rc = cli_prewarm_opt.read ? DM_OK : env_units("PREWARM_RCU", &out->read, err);
    if (rc == DM_OK && !cli_prewarm_opt.write)
        rc = env_units("PREWARM_WCU", &out->write, err);
    if (cli_prewarm_opt.read)
        out->read = cli_prewarm_opt.read;
    if (cli_prewarm_opt.write)
        out->write = cli_prewarm_opt.write;
    out->warm_read_price = cli_prewarm_opt.warm_read_price;
    out->warm_write_price = cli_prewarm_opt.warm_write_price;
    return rc;
}

int cli_prewarm_env(void)
{
    const char *v = getenv("PREWARM");
    if (!v || !*v || strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0)
        return 0;
    if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0)
        return 1;
    fprintf(stderr, "ddbmig: error: PREWARM must be true or false\n");
    return -1;
}

/* The command that restores from w, for messages. */
static void restore_command(const cap_where *w, char *out, size_t size)
{
    if (w->path)
        snprintf(out, size, "ddbmig capacity restore --checkpoint '%s'", w->path);
    else
        snprintf(out, size, "ddbmig capacity restore --checkpoint-table '%s' --migration-id '%s'", w->table,
                 w->migration);
}

int cli_cap_restore(cli_cap *c, const cap_where *w, bool quiet)
{
    cap_outcome out;
    dm_error err = {0};
    char record[700], again[1400];
    cap_where_name(w, record, sizeof record);
    restore_command(w, again, sizeof again);
    FILE *was = c->c.progress;
    if (quiet)
        c->c.progress = NULL;
    int rc = cap_restore(&c->c, w, &out, &err);
    c->c.progress = was;
    if (rc) {
        int code = cli_fail(&err, rc);
        /* A record that is missing or unreadable is the problem itself:
         * repeating the command would not help. */
        if (rc == DM_ERR_IO || rc == DM_ERR_PARSE)
            fprintf(stderr, "ddbmig: nothing was restored from %s\n", record);
        else
            fprintf(stderr, "ddbmig: capacity is NOT restored; the original settings are in %s; put them back with: "
                            "%s\n",
                    record, again);
        return code;
    }
    if (out == CAP_PENDING) {
        fprintf(stderr, "ddbmig: capacity partly restored; DynamoDB's limits hold the rest back (above). Finish "
                        "later with: %s\n",
                again);
        return CLI_EXIT_RESUMABLE;
    }
    if (!quiet)
        fprintf(stderr, "ddbmig: capacity restored (record %s)\n", record);
    return CLI_EXIT_OK;
}

/* ---- the command ---- */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    if (stop_flag)
        _exit(CLI_EXIT_INTERRUPTED);
    stop_flag = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* The record's path: from --checkpoint, else .ddbmig/TABLE.capacity.json. */
static int record_path(char *out, size_t size)
{
    if (opt.checkpoint_table) {
        out[0] = '\0';
        return CLI_EXIT_OK;
    }
    if (opt.checkpoint) {
        cap_record_path(opt.checkpoint, out, size);
        return CLI_EXIT_OK;
    }
    if (!opt.table) {
        fprintf(stderr, "ddbmig capacity: give --table-name or --checkpoint\n");
        return CLI_EXIT_USAGE;
    }
    if (strchr(opt.table, '/') || strlen(opt.table) > 255) {
        fprintf(stderr, "ddbmig capacity: '%s' is not a table name\n", opt.table);
        return CLI_EXIT_USAGE;
    }
    mkdir(".ddbmig", 0755);
    size_t n = strlen(opt.table);
    if (n <= 200) {
        snprintf(out, size, ".ddbmig/%s.capacity.json", opt.table);
    } else {
        /* File names end at 255 bytes: a long table name is shortened,
         * with a hash of the whole name to keep it apart from others. */
        uint64_t h = 1469598103934665603ULL;
        for (size_t i = 0; i < n; i++)
            h = (h ^ (unsigned char)opt.table[i]) * 1099511628211ULL;
        snprintf(out, size, ".ddbmig/%.180s-%016llx.capacity.json", opt.table, (unsigned long long)h);
    }
    return CLI_EXIT_OK;
}

static int show(const cli_globals *g, cli_cap *cap)
{
    cap_state s;
    dm_error err = {0};
    int rc = cap_describe(&cap->c, opt.table, &s, &err);
    if (rc)
        return cli_fail(&err, rc);
    if (cli_json_output(g)) {
        json_t *j = cap_state_json(&s);
        char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(j);
    } else {
        cap_state_print(&s, stdout);
    }
    cap_state_cleanup(&s);
    return CLI_EXIT_OK;
}

static int prewarm(cli_cap *cap, const cap_where *w)
{
    char record[700];
    cap_where_name(w, record, sizeof record);
    cap_state s;
    dm_error err = {0};
    int rc = cap_describe(&cap->c, opt.table, &s, &err);
    cap_goal goal;
    cap_plan *p = NULL;
    if (rc == DM_OK && (rc = cli_cap_goal(&s, false, 0, 0, &goal, &err)) == DM_OK)
        rc = cap_plan_prewarm(&s, &goal, &p, &err);
    if (rc) {
        cap_state_cleanup(&s);
        return cli_fail(&err, rc);
    }
    fprintf(stderr, "Capacity of %s:\n", opt.table);
    cap_plan_print(p, "  ", stderr);
    int code = CLI_EXIT_OK;
    bool changed = false;
    if (!cap_plan_empty(p)) {
        if (!opt.yes && !(isatty(0) && isatty(2))) {
            fprintf(stderr, "ddbmig: error: changing capacity needs --yes when it cannot be confirmed "
                            "interactively\n");
            code = CLI_EXIT_USAGE;
        } else if (!opt.yes && !cli_ask(cap_plan_charged(p) ? "Raise warm throughput (charged, permanent)?"
                                                         : "Change the table's capacity?",
                                    &stop_flag)) {
            fprintf(stderr, "ddbmig: nothing changed\n");
            code = CLI_EXIT_USAGE;
        } else if ((rc = cap_prewarm(&cap->c, p, w, &changed, &err)) != DM_OK) {
            code = cli_fail(&err, rc);
            char again[1400];
            restore_command(w, again, sizeof again);
            if (changed)
                fprintf(stderr, "ddbmig: put back what was changed with: %s\n", again);
            else
                fprintf(stderr, "ddbmig: nothing was changed\n");
        } else {
            char again[1400];
            restore_command(w, again, sizeof again);
            fprintf(stderr, "ddbmig: raised; the original settings are in %s\n"
                            "ddbmig: restore them after the migration with: %s\n",
                    record, again);
        }
    }
    cap_plan_free(p);
    cap_state_cleanup(&s);
    return code;
}

/* restore --table-name T --checkpoint F: F must be T's. */
static int check_record_table(const cap_where *w)
{
    char table[256], status[16], record[700];
    dm_error err = {0};
    if (!opt.table || (!opt.checkpoint && !opt.checkpoint_table) ||
        cap_record_info(w, table, sizeof table, status, sizeof status, &err))
        return CLI_EXIT_OK; /* restore itself says what is wrong */
    cap_where_name(w, record, sizeof record);
    if (strcmp(table, opt.table) != 0) {
        fprintf(stderr, "ddbmig capacity restore: the record %s is of table %s, not %s\n", record, table, opt.table);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static int capacity_main(cli_globals *g, int argc, char **argv)
{
    if (argc < 1 || argv[0][0] == '-') {
        fprintf(stderr, "usage: %s\n", cli_cmd_capacity.usage);
        return CLI_EXIT_USAGE;
    }
    const char *sub = argv[0];
    if (strcmp(sub, "show") != 0 && strcmp(sub, "prewarm") != 0 && strcmp(sub, "restore") != 0) {
        fprintf(stderr, "ddbmig capacity: unknown action '%s' (show, prewarm or restore)\n", sub);
        return CLI_EXIT_USAGE;
    }
    int rc = cli_parse(&cli_cmd_capacity, argc - 1, argv + 1, g);
    if (rc)
        return rc;
    if (strcmp(sub, "restore") != 0 && !opt.table) {
        fprintf(stderr, "ddbmig capacity %s: --table-name is required\n", sub);
        return CLI_EXIT_USAGE;
    }
    if (!!opt.checkpoint_table != !!opt.migration_id || (opt.checkpoint_table && opt.checkpoint)) {
        fprintf(stderr, "ddbmig capacity %s: the record is in a file (--checkpoint) or in a checkpoint table "
                        "(--checkpoint-table with --migration-id)\n",
                sub);
        return CLI_EXIT_USAGE;
    }
    char record[1100] = "";
    if (strcmp(sub, "show") != 0 && (rc = record_path(record, sizeof record)) != CLI_EXIT_OK)
        return rc;
    cli_conn c;
    if ((rc = cli_connect(g, &c)) != CLI_EXIT_OK)
        return rc;
    install_signals();
    cli_cap cap;
    cap_where w = {.path = opt.checkpoint_table ? NULL : record, .ddb = c.client, .table = opt.checkpoint_table,
                   .migration = opt.migration_id};
    if ((rc = cli_cap_open(g, &c, &stop_flag, &cap)) == CLI_EXIT_OK) {
        if (opt.quiet)
            cap.c.progress = NULL;
        if (strcmp(sub, "show") == 0)
            rc = show(g, &cap);
        else if (strcmp(sub, "prewarm") == 0)
            rc = prewarm(&cap, &w);
        else if ((rc = check_record_table(&w)) == CLI_EXIT_OK)
            rc = cli_cap_restore(&cap, &w, opt.quiet);
        cli_cap_close(&cap);
    }
    cli_disconnect(&c);
    return rc;
}

const cli_command cli_cmd_capacity = {
    "capacity", CLI_CMD_CAPACITY, "show, pre-warm and restore a table's capacity",
    "ddbmig capacity show|prewarm|restore --table-name NAME [options]", capacity_options, capacity_main,
    "show     billing mode, provisioned and on-demand maximum, warm throughput, auto\n"
    "         scaling targets and policies of the table and each index, decreases today.\n"
    "prewarm  raise capacity before a migration (method: warm-throughput, provisioned or\n"
    "         toggle; see docs/CLI.md), recording the original settings first.\n"
    "restore  put the recorded settings back, within DynamoDB's limits; what must wait is\n"
    "         kept in the record and finished by running restore again.\n\n"
    "Examples:\n"
    "  ddbmig capacity show --table-name orders --output json\n"
    "  ddbmig capacity prewarm --table-name orders --prewarm-write-units 4000 --yes\n"
    "  ddbmig capacity restore --table-name orders\n"
    "  ddbmig capacity restore --checkpoint .ddbmig/orders-m1.json\n\n"
    "Exit codes: 0 done; 2 usage or configuration error (nothing changed); 3 restore\n"
    "partly pending (run it again later); 4 AWS or network failure; 130 interrupted.\n"};
