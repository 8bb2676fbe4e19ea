/* ddbmig run and ddbmig verify. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ddbmig/engine.h"

static struct {
    const char *table, *target, *script, *code, *migration_id, *write_mode, *checkpoint, *errors, *marker, *version_attr;
    const char *filter, *names, *values;
    long segments, workers, show_diffs, limit, max_errors, page_size;
    const char *max_read, *max_write, *read_price, *write_price;
    bool dry_run, resume, consistent, quiet, yes, no_pitr;
} opt;

static const cli_opt *run_options(void)
{
    static const cli_opt o[] = {
        {"table-name", 0, CLI_STRING, &opt.table, "NAME", "the table to migrate (required)"},
        {"script", 0, CLI_STRING, &opt.script, "FILE", "Lua file defining migrate(item, ctx)"},
        {"e", 'e', CLI_STRING, &opt.code, "CODE", "the body of migrate(item, ctx), instead of --script"},
        {"target-table-name", 0, CLI_STRING, &opt.target, "NAME", "write the results into another table"},
        {"total-segments", 0, CLI_INT, &opt.segments, "N", "scan segments (default: 4 x workers, 1 per GB at least)"},
        {"workers", 0, CLI_INT, &opt.workers, "N", "worker threads (default: 2 x CPUs)"},
        {"write-mode", 0, CLI_STRING, &opt.write_mode, "update|put|batch", "how changes are written (see docs)"},
        {"max-read-units", 0, CLI_STRING, &opt.max_read, "R", "read capacity units per second at most"},
        {"max-write-units", 0, CLI_STRING, &opt.max_write, "U", "write capacity units per second at most"},
        {"dry-run", 0, CLI_FLAG, &opt.dry_run, NULL, "do everything but write"},
        {"show-diffs", 0, CLI_INT, &opt.show_diffs, "K", "with --dry-run, print the first K changes"},
        {"limit", 0, CLI_INT, &opt.limit, "N", "process at most N items"},
        {"checkpoint", 0, CLI_STRING, &opt.checkpoint, "FILE", "checkpoint file (default .ddbmig/TABLE-ID.json)"},
        {"resume", 0, CLI_FLAG, &opt.resume, NULL, "continue the run recorded in the checkpoint"},
        {"errors", 0, CLI_STRING, &opt.errors, "FILE", "per-item errors, JSON lines (default .ddbmig/...)"},
        {"max-errors", 0, CLI_INT, &opt.max_errors, "N", "stop (resumably) after N per-item errors (default 100)"},
        {"marker", 0, CLI_STRING, &opt.marker, "ATTR", "mark migrated items; skip marked ones (exactly once)"},
        {"version-attribute", 0, CLI_STRING, &opt.version_attr, "ATTR",
         "guard writes on this number attribute, which every writer bumps; bump it too"},
        {"migration-id", 0, CLI_STRING, &opt.migration_id, "ID", "the run's id (default: from the script's hash)"},
        {"filter-expression", 0, CLI_STRING, &opt.filter, "EXPR", "only items matching this Scan filter"},
        {"expression-attribute-names", 0, CLI_STRING, &opt.names, "JSON", "names for the filter"},
        {"expression-attribute-values", 0, CLI_STRING, &opt.values, "JSON", "values for the filter"},
        {"consistent-read", 0, CLI_FLAG, &opt.consistent, NULL, "strongly consistent scan (twice the read units)"},
        {"page-size", 0, CLI_INT, &opt.page_size, "N", "items per Scan page (default: 1 MB pages)"},
        {"yes", 'y', CLI_FLAG, &opt.yes, NULL, "do not ask before writing"},
        {"no-pitr-check", 0, CLI_FLAG, &opt.no_pitr, NULL, "write even though point-in-time recovery is off"},
        {"read-price", 0, CLI_STRING, &opt.read_price, "USD", "per million read units (default 0.125)"},
        {"write-price", 0, CLI_STRING, &opt.write_price, "USD", "per million write units (default 0.625)"},
        {"quiet", 'q', CLI_FLAG, &opt.quiet, NULL, "no progress output"},
        {NULL, 0, 0, NULL, NULL, NULL}};
    return o;
}

static const cli_opt *verify_options(void)
{
    static const cli_opt o[] = {
        {"table-name", 0, CLI_STRING, &opt.table, "NAME", "the table to check (required)"},
        {"script", 0, CLI_STRING, &opt.script, "FILE", "Lua file defining migrate(item, ctx)"},
        {"e", 'e', CLI_STRING, &opt.code, "CODE", "the body of migrate(item, ctx), instead of --script"},
        {"total-segments", 0, CLI_INT, &opt.segments, "N", "scan segments"},
        {"workers", 0, CLI_INT, &opt.workers, "N", "worker threads"},
        {"marker", 0, CLI_STRING, &opt.marker, "ATTR", "items carrying the marker count as migrated"},
        {"migration-id", 0, CLI_STRING, &opt.migration_id, "ID", "the marker's value"},
        {"show-diffs", 0, CLI_INT, &opt.show_diffs, "K", "print the first K items still to migrate"},
        {"filter-expression", 0, CLI_STRING, &opt.filter, "EXPR", "only items matching this Scan filter"},
        {"expression-attribute-names", 0, CLI_STRING, &opt.names, "JSON", "names for the filter"},
        {"expression-attribute-values", 0, CLI_STRING, &opt.values, "JSON", "values for the filter"},
        {"consistent-read", 0, CLI_FLAG, &opt.consistent, NULL, "strongly consistent scan"},
        {"quiet", 'q', CLI_FLAG, &opt.quiet, NULL, "no progress output"},
        {NULL, 0, 0, NULL, NULL, NULL}};
    return o;
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    if (stop_flag) {
        static const char msg[] = "\nddbmig: second interrupt, exiting now\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(CLI_EXIT_INTERRUPTED);
    }
    stop_flag = 1;
    static const char msg[] = "\nddbmig: stopping: finishing in-flight writes and saving the checkpoint "
                              "(interrupt again to exit at once)\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
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

/* The command line again, quoted for a POSIX shell, with --resume. */
static char *resume_command(int argc, char **argv)
{
    dm_buf b;
    dm_buf_init(&b, 0);
    dm_buf_puts(&b, "ddbmig run");
    bool has = false;
    for (int i = 0; i < argc; i++) {
        has = has || strcmp(argv[i], "--resume") == 0;
        dm_buf_puts(&b, " '");
        for (const char *p = argv[i]; *p; p++)
            *p == '\'' ? dm_buf_puts(&b, "'\\''") : dm_buf_putc(&b, *p);
        dm_buf_putc(&b, '\'');
    }
    if (!has)
        dm_buf_puts(&b, " --resume");
    return b.data;
}

static int parse_units(const char *name, const char *v, double *out)
{
    if (!v)
        return 0;
    char *end;
    double d = strtod(v, &end);
    if (*end || d < 0) {
        fprintf(stderr, "ddbmig run: --%s wants a non-negative number, not '%s'\n", name, v);
        return CLI_EXIT_USAGE;
    }
    *out = d;
    return 0;
}

static int check_options(engine_options *e)
{
    if (!opt.table) {
        fprintf(stderr, "ddbmig: --table-name is required\n");
        return CLI_EXIT_USAGE;
    }
    if (!!opt.script == !!opt.code) {
        fprintf(stderr, "ddbmig: give the transform as --script FILE or as -e CODE (one of them)\n");
        return CLI_EXIT_USAGE;
    }
    if (opt.write_mode) {
        e->write_mode_set = true;
        if (strcmp(opt.write_mode, "update") == 0)
            e->write_mode = ENGINE_WRITE_UPDATE;
        else if (strcmp(opt.write_mode, "put") == 0)
            e->write_mode = ENGINE_WRITE_PUT;
        else if (strcmp(opt.write_mode, "batch") == 0)
            e->write_mode = ENGINE_WRITE_BATCH;
        else {
            fprintf(stderr, "ddbmig run: --write-mode must be update, put or batch, not '%s'\n", opt.write_mode);
            return CLI_EXIT_USAGE;
        }
    }
    if (opt.segments < 0 || opt.segments > 1000000 || opt.workers < 0 || opt.workers > 1024 || opt.limit < 0 ||
        opt.max_errors < 0 || opt.show_diffs < 0 || opt.page_size < 0) {
        fprintf(stderr, "ddbmig: --total-segments (1..1000000), --workers (1..1024), --limit, --max-errors, "
                        "--show-diffs and --page-size must be positive\n");
        return CLI_EXIT_USAGE;
    }
    if ((opt.names || opt.values) && !opt.filter) {
        fprintf(stderr, "ddbmig: --expression-attribute-names/-values go with --filter-expression\n");
        return CLI_EXIT_USAGE;
    }
    if (opt.marker && !*opt.marker) {
        fprintf(stderr, "ddbmig run: --marker needs an attribute name\n");
        return CLI_EXIT_USAGE;
    }
    e->read_price = 0.125;
    e->write_price = 0.625;
    int rc = parse_units("max-read-units", opt.max_read, &e->max_read_units);
    rc = rc ? rc : parse_units("max-write-units", opt.max_write, &e->max_write_units);
    rc = rc ? rc : parse_units("read-price", opt.read_price, &e->read_price);
    return rc ? rc : parse_units("write-price", opt.write_price, &e->write_price);
}

static int run_job(engine_job job, const char *name, const cli_opt *opts, cli_globals *g, int argc, char **argv)
{
    int rc = cli_parse(name, argc, argv, opts, g);
    if (rc)
        return rc;
    engine_options e = {.job = job};
    if ((rc = check_options(&e)) != 0)
        return rc;
    e.table = opt.table;
    e.target_table = opt.target;
    e.script_path = opt.script;
    e.code = opt.code;
    e.migration_id = opt.migration_id;
    e.total_segments = (int)opt.segments;
    e.workers = (int)opt.workers;
    e.dry_run = opt.dry_run;
    e.show_diffs = (int)opt.show_diffs;
    e.limit = opt.limit;
    e.checkpoint_path = opt.checkpoint;
    e.resume = opt.resume;
    e.errors_path = opt.errors;
    e.max_errors = opt.max_errors;
    e.marker = opt.marker;
    e.version_attribute = opt.version_attr;
    e.filter_expression = opt.filter;
    e.names_json = opt.names;
    e.values_json = opt.values;
    e.consistent_read = opt.consistent;
    e.json_output = cli_json_output(g);
    e.quiet = opt.quiet;
    e.page_size = (int)opt.page_size;
    e.yes = opt.yes;
    e.no_pitr_check = opt.no_pitr;
    e.stop = &stop_flag;
    e.diff_out = e.json_output ? stderr : stdout;
    if (job == ENGINE_VERIFY && !e.show_diffs)
        e.diff_out = NULL;
    char *resume = resume_command(argc, argv);
    e.resume_command = resume;
    cli_conn c;
    if ((rc = cli_connect(g, &c)) != CLI_EXIT_OK) {
        free(resume);
        return rc;
    }
    install_signals();
    dm_error err = {0};
    engine_status st = engine_run(&e, c.shared, c.client, &err);
    if (st == ENGINE_CONFIG)
        rc = cli_fail(&err, err.code ? err.code : DM_ERR_CONFIG);
    else
        rc = (int)st;
    cli_disconnect(&c);
    free(resume);
    return rc;
}

static int run_main(cli_globals *g, int argc, char **argv)
{
    return run_job(ENGINE_MIGRATE, "run", run_options(), g, argc, argv);
}

static int verify_main(cli_globals *g, int argc, char **argv)
{
    return run_job(ENGINE_VERIFY, "verify", verify_options(), g, argc, argv);
}

const cli_command cli_cmd_run = {
    "run", "migrate every item of a table with a Lua script",
    "ddbmig run --table-name NAME (--script FILE | -e CODE) [options]", run_options, run_main,
    "Scans the table in parallel segments, runs migrate(item, ctx) on each item, and\n"
    "writes only what changed, guarded so that concurrent writes are never lost.\n"
    "Progress is checkpointed; an interrupted run continues with --resume.\n\n"
    "Examples:\n"
    "  ddbmig run --table-name orders --script examples/add-updated-at.lua --dry-run --show-diffs 5\n"
    "  ddbmig run --table-name orders -e 'item.updatedAt = item.updatedAt or ctx.now; return item' --yes\n"
    "  ddbmig run --table-name orders --script fix.lua --marker _mig --max-write-units 500 --yes\n\n"
    "Exit codes: 0 done; 1 done with per-item errors; 2 usage or configuration error\n"
    "(nothing written); 3 stopped early, resumable; 4 AWS or network failure; 130 interrupted.\n"};

const cli_command cli_cmd_verify = {
    "verify", "count the items a script would still change",
    "ddbmig verify --table-name NAME (--script FILE | -e CODE) [options]", verify_options, verify_main,
    "Runs the script on every item without writing and counts the items it would\n"
    "still change or delete. Exit 0 when none are left, 1 when some are.\n"};
