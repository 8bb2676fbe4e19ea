/* ddbmig run and ddbmig verify. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "ddbmig/engine.h"

static struct {
    const char *table, *target, *script, *code, *migration_id, *write_mode, *checkpoint, *errors, *marker, *version_attr;
    const char *filter, *names, *values, *checkpoint_table, *segment_list;
    long long time_limit, lease;
    long long segments, workers, writes_in_flight, show_diffs, limit, max_errors, page_size;
    double max_read, max_write, read_price, write_price;
    bool dry_run, resume, consistent, quiet, yes, no_pitr, prewarm, no_partiql;
} opt = {.read_price = 0.125, .write_price = 0.625};

enum { R = CLI_CMD_RUN, V = CLI_CMD_VERIFY, RV = CLI_CMD_RUN | CLI_CMD_VERIFY, L = CLI_CMD_LAMBDA };

/* One table for both commands; verify takes what reads and transforms,
 * run also what writes. Ranges: DynamoDB allows 1,000,000 scan segments;
 * 1024 workers are far past the point where more help. */
const cli_opt *cli_job_options(void)
{
    /* Tables read best one entry to a line or two. */
    /* clang-format off */
    static const cli_opt o[] = {
        {.name = "table-name", .kind = CLI_STRING, .dest = &opt.table, .arg = "NAME", .commands = RV | L, .required = RV,
         .help = "the table to migrate or check (required)"},
        {.name = "script", .kind = CLI_STRING, .dest = &opt.script, .arg = "FILE", .commands = RV | L,
         .help = "Lua file defining migrate(item, ctx)"},
        {.short_name = 'e', .kind = CLI_STRING, .dest = &opt.code, .arg = "CODE", .commands = RV | L,
         .help = "the body of migrate(item, ctx), instead of --script"},
        {.name = "target-table-name", .kind = CLI_STRING, .dest = &opt.target, .arg = "NAME", .commands = R | L,
         .help = "write the results into another table"},
        {.name = "total-segments", .kind = CLI_INT, .dest = &opt.segments, .arg = "N", .imin = 1, .imax = 1000000,
         .commands = RV, .help = "scan segments (default: 4 x workers, 1 per GB at least)"},
        {.name = "workers", .kind = CLI_INT, .dest = &opt.workers, .arg = "N", .imin = 1, .imax = 1024,
         .commands = RV | L, .help = "worker threads, then fixed (default: 2 x CPUs to start, at most 64, more while Scans are slow)"},
        {.name = "writes-in-flight", .kind = CLI_INT, .dest = &opt.writes_in_flight, .arg = "N", .imin = 1,
         .imax = 4096, .commands = R | L,
         .help = "requests in flight per worker (default: adapts to answer times, from 32, 4 to 512)"},
        {.name = "write-mode", .kind = CLI_CHOICE, .dest = &opt.write_mode, .arg = "update|put|batch",
         .choices = "update|put|batch", .commands = R | L, .help = "how changes are written (see docs/CLI.md)"},
        {.name = "max-read-units", .kind = CLI_NUMBER, .dest = &opt.max_read, .arg = "R", .dmin = 0, .dmin_open = true,
         .dmax = 1e9, .commands = RV | L, .help = "read capacity units per second at most"},
        {.name = "max-write-units", .kind = CLI_NUMBER, .dest = &opt.max_write, .arg = "U", .dmin = 0,
         .dmin_open = true, .dmax = 1e9, .commands = R | L, .help = "write capacity units per second at most"},
        {.name = "dry-run", .kind = CLI_FLAG, .dest = &opt.dry_run, .commands = R, .help = "do everything but write"},
        {.name = "show-diffs", .kind = CLI_INT, .dest = &opt.show_diffs, .arg = "K", .imin = 0, .imax = 1000000,
         .commands = RV, .help = "print the first K changes (verify: of the items still to migrate)"},
        {.name = "limit", .kind = CLI_INT, .dest = &opt.limit, .arg = "N", .imin = 1, .imax = LLONG_MAX,
         .commands = R, .help = "process at most N items"},
        {.name = "checkpoint", .kind = CLI_STRING, .dest = &opt.checkpoint, .arg = "FILE", .commands = R,
         .help = "checkpoint file (default .ddbmig/TABLE-ID.json)"},
        {.name = "checkpoint-table", .kind = CLI_STRING, .dest = &opt.checkpoint_table, .arg = "NAME", .commands = R | L,
         .help = "keep cursors in this DynamoDB table, shared by every process of the migration"},
        {.name = "segments", .kind = CLI_STRING, .dest = &opt.segment_list, .arg = "LIST", .commands = R,
         .help = "only these segments, as 0-99,200"},
        /* At least 3: the last 2 s at least are kept for finishing and saving. */
        {.name = "time-limit", .kind = CLI_INT, .dest = &opt.time_limit, .arg = "S", .imin = 3, .imax = 31536000,
         .commands = R, .help = "stop cleanly (cursors saved) before S seconds have passed"},
        {.name = "lease-seconds", .kind = CLI_INT, .dest = &opt.lease, .arg = "S", .imin = 5, .imax = 3600,
         .commands = R | L, .help = "with --checkpoint-table: a segment's lease (default 60)"},
        {.name = "resume", .kind = CLI_FLAG, .dest = &opt.resume, .commands = R,
         .help = "continue the run recorded in the checkpoint"},
        {.name = "errors", .kind = CLI_STRING, .dest = &opt.errors, .arg = "FILE", .commands = R | L,
         .help = "per-item errors, JSON lines (default .ddbmig/...)"},
        {.name = "max-errors", .kind = CLI_INT, .dest = &opt.max_errors, .arg = "N", .imin = 1, .imax = LLONG_MAX,
         .commands = R | L, .help = "stop (resumably) after N per-item errors (default 100)"},
        {.name = "marker", .kind = CLI_STRING, .dest = &opt.marker, .arg = "ATTR", .commands = RV | L,
         .help = "mark migrated items; skip marked ones (exactly once)"},
        {.name = "version-attribute", .kind = CLI_STRING, .dest = &opt.version_attr, .arg = "ATTR", .commands = R | L,
         .help = "guard writes on this whole-number attribute, which every writer bumps; bump it too"},
        {.name = "migration-id", .kind = CLI_STRING, .dest = &opt.migration_id, .arg = "ID", .commands = RV | L,
         .help = "the run's id, the marker's value (default: from the script's hash)"},
        {.name = "filter-expression", .kind = CLI_STRING, .dest = &opt.filter, .arg = "EXPR", .commands = RV | L,
         .help = "only items matching this Scan filter"},
        {.name = "expression-attribute-names", .kind = CLI_STRING, .dest = &opt.names, .arg = "JSON", .commands = RV | L,
         .help = "names for the filter, as {\"#n\": \"name\"}"},
        {.name = "expression-attribute-values", .kind = CLI_STRING, .dest = &opt.values, .arg = "JSON",
         .commands = RV | L, .help = "values for the filter, as {\":v\": {\"S\": \"x\"}}"},
        {.name = "consistent-read", .kind = CLI_FLAG, .dest = &opt.consistent, .commands = RV | L,
         .help = "strongly consistent scan (twice the read units)"},
        {.name = "page-size", .kind = CLI_INT, .dest = &opt.page_size, .arg = "N", .imin = 1, .imax = 1000000,
         .commands = RV | L, .help = "items per Scan page (default: 1 MB pages)"},
        {.name = "yes", .short_name = 'y', .kind = CLI_FLAG, .dest = &opt.yes, .commands = R,
         .help = "do not ask before writing"},
        {.name = "no-pitr-check", .kind = CLI_FLAG, .dest = &opt.no_pitr, .commands = R | L,
         .help = "write even though point-in-time recovery is off"},
        {.name = "no-partiql", .kind = CLI_FLAG, .dest = &opt.no_partiql, .commands = R,
         .help = "each update as its own UpdateItem, none in BatchExecuteStatement calls"},
        {.name = "read-price", .kind = CLI_NUMBER, .dest = &opt.read_price, .arg = "USD", .dmin = 0, .dmax = 1e6,
         .commands = R, .help = "per million read units, for the plan (default 0.125)"},
        {.name = "write-price", .kind = CLI_NUMBER, .dest = &opt.write_price, .arg = "USD", .dmin = 0, .dmax = 1e6,
         .commands = R, .help = "per million write units, for the plan (default 0.625)"},
        {.name = "quiet", .short_name = 'q', .kind = CLI_FLAG, .dest = &opt.quiet, .commands = RV | L,
         .help = "no progress output"},
        {.name = "prewarm", .kind = CLI_FLAG, .dest = &opt.prewarm, .commands = R,
         .help = "raise capacity before the run, restore it after (also PREWARM=true)"},
        CLI_PREWARM_OPTIONS(R),
        {0}};
    /* clang-format on */
    return o;
}

static volatile sig_atomic_t stop_flag;

/* Said by the signal handler on a second interrupt (written once the
 * record exists): the only words it can still say. */
static char second_interrupt_note[1300];
static volatile sig_atomic_t second_interrupt_len;


static void on_signal(int sig)
{
    (void)sig;
    if (stop_flag) {
        static const char msg[] = "\nddbmig: second interrupt, exiting now\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        if (second_interrupt_len > 0)
            w = write(2, second_interrupt_note, (size_t)second_interrupt_len);
        (void)w;
        _exit(CLI_EXIT_INTERRUPTED);
    }
    stop_flag = 1;
    static const char msg[] = "\nddbmig: stopping: writes in flight finish and the checkpoint is saved "
                              "(interrupt again to exit at once)\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
}

/* No SA_RESTART: a read of the answer to the question before writing
 * returns at the first interrupt. */
static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* engine_options.confirm on a terminal: the question on stderr, the
 * answer from stdin. */
static bool ask(void *ud, const char *question)
{
    (void)ud;
    return cli_ask(question, &stop_flag);
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

/* ---- --prewarm: the engine's hooks around the first write ---- */

typedef struct prewarm_ctx {
    cli_cap cap;
    cap_state state;
    cap_plan *plan;
    char record[1100];
    bool attempted;          /* a change may have been made: restore after */
    const engine_options *e;
} prewarm_ctx;

static int prewarm_plan(void *ud, FILE *f, dm_error *err)
{
    prewarm_ctx *p = ud;
    cap_goal goal;
    int rc = cap_describe(&p->cap.c, p->e->table, &p->state, err);
    if (rc == DM_OK)
        rc = cli_cap_goal(&p->state, p->e->consistent_read, p->e->max_read_units, p->e->max_write_units, &goal, err);
    if (rc == DM_OK)
        rc = cap_plan_prewarm(&p->state, &goal, &p->plan, err);
    if (rc != DM_OK)
        return rc;
    /* A charged, permanent change is said even when the plan is not, and
     * asked about on its own when a person is there to answer. */
    bool charged = cap_plan_charged(p->plan);
    if (f || charged)
        cap_plan_print(p->plan, "  ", f ? f : stderr);
    if (charged && !p->e->yes) {
        if (!p->e->confirm)
            return dm_error_set(err, DM_ERR_CONFIG, "raising warm throughput is charged and permanent: it needs --yes "
                                                    "when it cannot be confirmed interactively");
        if (!p->e->confirm(p->e->confirm_ud, "Raise warm throughput (charged once, can never be lowered)?"))
            return dm_error_set(err, DM_ERR_CONFIG, "warm throughput not raised: not confirmed");
    }
    return DM_OK;
}

/* A record of an earlier run of this checkpoint not yet restored (the run
 * was killed after its raise): it is restored after this run too, even
 * when nothing is left to raise. */
static bool unrestored(const char *record)
{
    char table[256], status[16];
    dm_error err = {0};
    cap_where w = {.path = record};
    return cap_record_info(&w, table, sizeof table, status, sizeof status, &err) == DM_OK &&
           strcmp(status, "restored") != 0;
}

static int prewarm_start(void *ud, const char *checkpoint, double *read, double *write, dm_error *err)
{
    prewarm_ctx *p = ud;
    cap_record_path(checkpoint, p->record, sizeof p->record);
    int n = snprintf(second_interrupt_note, sizeof second_interrupt_note,
                     "ddbmig: capacity is left raised; put it back with: ddbmig capacity restore --checkpoint '%s'\n",
                     p->record);
    if (cap_plan_empty(p->plan)) {
        p->attempted = unrestored(p->record);
        if (p->attempted && !p->e->quiet)
            fprintf(stderr, "ddbmig: %s holds settings of an earlier raise: they are restored after the run\n",
                    p->record);
        if (p->attempted)
            second_interrupt_len = n;
        return DM_OK;
    }
    p->attempted = true;
    second_interrupt_len = n;
    bool changed = false;
    cap_where where = {.path = p->record};
    int rc = cap_prewarm(&p->cap.c, p->plan, &where, &changed, err);
    if (rc != DM_OK) {
        p->attempted = changed || unrestored(p->record);
        return rc;
    }
    cap_plan_ceiling(p->plan, read, write);
    if (!p->e->quiet) {
        double r = p->e->max_read_units > 0 ? p->e->max_read_units : *read;
        double w = p->e->max_write_units > 0 ? p->e->max_write_units : *write;
        fprintf(stderr, "ddbmig: capacity raised (original settings in %s); the run's rate limits: %.0f read, %.0f "
                        "write units per second (0: none)\n",
                p->record, r, w);
    }
    return DM_OK;
}

/* After the run, however it ended: what was raised goes back. A first
 * interrupt has already been used to stop the run, so the restore runs
 * to its end unless interrupted again (then the record stays). A run
 * that did its work but could not put the capacity back exits
 * CLI_EXIT_CAPACITY: its own code would say all is well. */
static int prewarm_finish(prewarm_ctx *p, int run_rc)
{
    if (!p->attempted)
        return run_rc;
    fprintf(stderr, "ddbmig: restoring capacity (interrupt again to leave it raised; then: ddbmig capacity "
                    "restore --checkpoint '%s')\n",
            p->record);
    p->cap.c.stop = NULL;
    cap_where w = {.path = p->record};
    int rc = cli_cap_restore(&p->cap, &w, false);
    if (rc == CLI_EXIT_OK)
        return run_rc;
    return run_rc == CLI_EXIT_OK || run_rc == CLI_EXIT_ITEMS ? CLI_EXIT_CAPACITY : run_rc;
}

static bool prewarm_from_env;

static int check_options(const char *command, engine_options *e)
{
    if (!!opt.script == !!opt.code) {
        fprintf(stderr, "ddbmig %s: give the transform as --script FILE or as -e CODE (one of them)\n", command);
        return CLI_EXIT_USAGE;
    }
    if (!opt.prewarm && e->job == ENGINE_MIGRATE) {
        int env = cli_prewarm_env();
        if (env < 0)
            return CLI_EXIT_USAGE;
        opt.prewarm = env == 1;
        prewarm_from_env = opt.prewarm;
    }
    if (opt.prewarm && opt.target) {
        fprintf(stderr, "ddbmig %s: %s raises the capacity of the table being migrated; with "
                        "--target-table-name, pre-warm each table first with ddbmig capacity prewarm%s\n",
                command, prewarm_from_env ? "PREWARM=true (from the environment)" : "--prewarm",
                prewarm_from_env ? ", and unset PREWARM" : "");
        return CLI_EXIT_USAGE;
    }
    if (opt.write_mode) {
        e->write_mode_set = true;
        e->write_mode = strcmp(opt.write_mode, "put") == 0     ? ENGINE_WRITE_PUT
                        : strcmp(opt.write_mode, "batch") == 0 ? ENGINE_WRITE_BATCH
                                                               : ENGINE_WRITE_UPDATE;
    }
    return 0;
}

/* The engine's options from the parsed command line. */
int cli_job_engine_options(const char *command, cli_globals *g, engine_options *e)
{
    int rc = check_options(command, e);
    if (rc)
        return rc;
    e->table = opt.table;
    e->target_table = opt.target;
    e->script_path = opt.script;
    e->code = opt.code;
    e->migration_id = opt.migration_id;
    e->total_segments = (int)opt.segments;
    e->workers = (int)opt.workers;
    e->writes_in_flight = (int)opt.writes_in_flight;
    e->dry_run = opt.dry_run;
    e->show_diffs = (int)opt.show_diffs;
    e->limit = opt.limit;
    e->checkpoint_path = opt.checkpoint;
    e->checkpoint_table = opt.checkpoint_table;
    e->segments = opt.segment_list;
    e->lease_seconds = (int)opt.lease;
    if (opt.time_limit)
        e->deadline_ms = dm_now_ms() + opt.time_limit * 1000;
    e->resume = opt.resume;
    e->errors_path = opt.errors;
    e->max_errors = opt.max_errors;
    e->marker = opt.marker;
    e->version_attribute = opt.version_attr;
    e->filter_expression = opt.filter;
    e->names_json = opt.names;
    e->values_json = opt.values;
    e->consistent_read = opt.consistent;
    e->json_output = cli_json_output(g);
    e->quiet = opt.quiet;
    e->page_size = (int)opt.page_size;
    e->yes = opt.yes;
    e->confirm = isatty(0) && isatty(2) ? ask : NULL;
    e->no_pitr_check = opt.no_pitr;
    e->no_partiql = opt.no_partiql;
    e->max_read_units = opt.max_read;
    e->max_write_units = opt.max_write;
    e->read_price = opt.read_price;
    e->write_price = opt.write_price;
    e->diff_out = e->json_output ? stderr : stdout;
    if (e->job == ENGINE_VERIFY && !e->show_diffs)
        e->diff_out = NULL;
    return CLI_EXIT_OK;
}

static int run_job(engine_job job, const cli_command *cmd, cli_globals *g, int argc, char **argv)
{
    int rc = cli_parse(cmd, argc, argv, g);
    if (rc)
        return rc;
    engine_options e = {.job = job};
    if ((rc = cli_job_engine_options(cmd->name, g, &e)) != 0)
        return rc;
    e.stop = &stop_flag;
    char *resume = resume_command(argc, argv);
    e.resume_command = resume;
    cli_conn c;
    if ((rc = cli_connect(g, &c)) != CLI_EXIT_OK) {
        free(resume);
        return rc;
    }
    install_signals();
    prewarm_ctx pw = {.e = &e};
    if (opt.prewarm && opt.dry_run && !opt.quiet)
        fprintf(stderr, "ddbmig: --prewarm: a dry run raises nothing (ddbmig capacity prewarm without --yes shows "
                        "the plan)\n");
    if (opt.prewarm && !opt.dry_run) {
        if ((rc = cli_cap_open(g, &c, &stop_flag, &pw.cap)) != CLI_EXIT_OK) {
            cli_disconnect(&c);
            free(resume);
            return rc;
        }
        e.plan_hook = prewarm_plan;
        e.before_writes = prewarm_start;
        e.hook_ud = &pw;
    }
    dm_error err = {0};
    engine_status st = engine_run(&e, c.shared, c.client, &err);
    if (st == ENGINE_CONFIG)
        rc = cli_fail(&err, err.code ? err.code : DM_ERR_CONFIG);
    else
        rc = (int)st;
    if (opt.prewarm && !opt.dry_run) {
        rc = prewarm_finish(&pw, rc);
        cap_plan_free(pw.plan);
        cap_state_cleanup(&pw.state);
        cli_cap_close(&pw.cap);
    }
    cli_disconnect(&c);
    free(resume);
    return rc;
}

static int run_main(cli_globals *g, int argc, char **argv)
{
    return run_job(ENGINE_MIGRATE, &cli_cmd_run, g, argc, argv);
}

static int verify_main(cli_globals *g, int argc, char **argv)
{
    return run_job(ENGINE_VERIFY, &cli_cmd_verify, g, argc, argv);
}

const cli_command cli_cmd_run = {
    "run", CLI_CMD_RUN, "migrate every item of a table with a Lua script",
    "ddbmig run --table-name NAME (--script FILE | -e CODE) [options]", cli_job_options, run_main,
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
    "verify", CLI_CMD_VERIFY, "count the items a script would still change",
    "ddbmig verify --table-name NAME (--script FILE | -e CODE) [options]", cli_job_options, verify_main,
    "Runs the script on every item without writing and counts the items it would\n"
    "still change or delete. Exit 0 when none are left, 1 when some are.\n\n"
    "Examples:\n"
    "  ddbmig verify --table-name orders --script examples/add-updated-at.lua\n"
    "  ddbmig verify --table-name orders --script fix.lua --marker _mig --migration-id m-1 --show-diffs 3\n\n"
    "Exit codes: 0 none left; 1 items left; 2 usage or configuration error; 4 AWS or\n"
    "network failure; 130 interrupted.\n"};
