/* ddbmig export and ddbmig import. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ddbmig/engine.h"
#include "ddbmig/item.h"
#include "ddbmig/json_out.h"

static struct {
    const char *table, *file;
    long long segments, workers, in_flight;
    bool dry_run;
} opt;

enum { X = CLI_CMD_EXPORT, I = CLI_CMD_IMPORT, XI = CLI_CMD_EXPORT | CLI_CMD_IMPORT };

static const cli_opt *file_options(void)
{
    /* Tables read best one entry to a line or two. */
    /* clang-format off */
    static const cli_opt o[] = {
        {.name = "table-name", .kind = CLI_STRING, .dest = &opt.table, .arg = "NAME", .commands = XI, .required = XI,
         .help = "the table to read (export) or write (import) (required)"},
        {.name = "file", .kind = CLI_STRING, .dest = &opt.file, .arg = "F.jsonl[.gz]", .commands = XI,
         .required = XI, .help = "DynamoDB JSON, one item per line; gzip when the name ends in .gz (required)"},
        {.name = "total-segments", .kind = CLI_INT, .dest = &opt.segments, .arg = "N", .imin = 1, .imax = 1000000,
         .commands = X, .help = "scan segments (default 4 x workers)"},
        {.name = "workers", .kind = CLI_INT, .dest = &opt.workers, .arg = "N", .imin = 1, .imax = 1024,
         .commands = X, .help = "worker threads (default 2 x CPUs, at most 64)"},
        {.name = "dry-run", .kind = CLI_FLAG, .dest = &opt.dry_run, .commands = I,
         .help = "check every line against the table, write nothing"},
        {.name = "in-flight", .kind = CLI_INT, .dest = &opt.in_flight, .arg = "N", .imin = 1, .imax = 1024,
         .commands = I, .help = "BatchWriteItem calls in flight (default 32)"},
        {0}};
    /* clang-format on */
    return o;
}

static int print_json(json_t *o)
{
    int rc = o ? dm_json_print(o, stdout) : DM_ERR_NOMEM;
    json_decref(o);
    return rc == DM_OK ? CLI_EXIT_OK : CLI_EXIT_AWS;
}

static json_t *summary_json(const transfer_result *r, bool import, const char *status, const dm_error *err)
{
    double rate = r->seconds > 0 ? (double)r->items / r->seconds : 0;
    json_t *o = json_pack("{s:s,s:s,s:I}", "table", opt.table, "file", opt.file, "items", (json_int_t)r->items);
    if (!o)
        return NULL;
    if (import) {
        json_object_set_new(o, "file_items", json_integer(r->file_items));
        json_object_set_new(o, "status", json_string(status));
    }
    json_object_set_new(o, "capacity_units", dm_json_quantity(r->units, DM_JSON_UNITS));
    json_object_set_new(o, "elapsed_s", dm_json_quantity(r->seconds, DM_JSON_SECONDS));
    json_object_set_new(o, "items_per_s", dm_json_quantity(rate, DM_JSON_RATE));
    if (err)
        json_object_set_new(o, "error", json_string(err->message));
    return o;
}

static int report(cli_globals *g, bool out, const transfer_result *r)
{
    if (cli_json_output(g))
        return print_json(summary_json(r, !out, opt.dry_run ? "checked" : "done", NULL));
    if (!out && opt.dry_run)
        printf("Checked %lld items in %s: every line can be written to %s; nothing was written (--dry-run)\n",
               r->file_items, opt.file, opt.table);
    else
        printf("%s %lld items %s %s in %.1f s (%.0f items/s, %.1f capacity units)\n", out ? "Exported" : "Imported",
               r->items, out ? "to" : "from", opt.file, r->seconds,
               r->seconds > 0 ? (double)r->items / r->seconds : 0, r->units);
    return CLI_EXIT_OK;
}

/* An import that failed: bad input (nothing written, exit 2) or a failure
 * while writing (exit 4, with how far it got). */
static int import_failed(cli_globals *g, const transfer_result *r, const dm_error *err, int rc)
{
    if (r->n_bad > 0) {
        for (int i = 0; i < r->n_bad; i++)
            fprintf(stderr, "ddbmig: error: %s\n", r->bad[i]);
        fprintf(stderr, "ddbmig: %s\n", err->message);
        return CLI_EXIT_USAGE;
    }
    if (!r->writing)
        return cli_fail(err, rc);
    cli_fail(err, rc);
    fprintf(stderr,
            "ddbmig: %lld of the file's %lld items were written before the failure; puts are idempotent, so the "
            "same import can be run again\n",
            r->items, r->file_items);
    if (cli_json_output(g))
        print_json(summary_json(r, true, "failed", err));
    return CLI_EXIT_AWS;
}

static int transfer(cli_globals *g, const cli_command *cmd, int argc, char **argv, bool out)
{
    int rc = cli_parse(cmd, argc, argv, g);
    if (rc)
        return rc;
    cli_conn c;
    if ((rc = cli_connect(g, &c)) != CLI_EXIT_OK)
        return rc;
    transfer_options o = {.table = opt.table, .path = opt.file, .total_segments = (int)opt.segments,
                          .workers = (int)opt.workers, .in_flight = (int)opt.in_flight, .dry_run = opt.dry_run,
                          .json_output = cli_json_output(g)};
    transfer_result r;
    memset(&r, 0, sizeof r);
    dm_error err = {0};
    if (out) {
        /* Fail before work on a missing table, with DescribeTable's clear
         * error (import describes the table itself, for its keys). */
        ddb_table_desc d;
        rc = ddb_describe_table(c.client, opt.table, &d, &err);
        if (rc == DM_OK) {
            ddb_table_desc_cleanup(&d);
            rc = engine_export(&o, c.shared, &r, &err);
        }
        rc = rc == DM_OK ? report(g, out, &r) : cli_fail(&err, rc);
    } else {
        rc = engine_import(&o, c.client, &r, &err);
        rc = rc == DM_OK ? report(g, out, &r) : import_failed(g, &r, &err, rc);
    }
    cli_disconnect(&c);
    return rc;
}

static int export_main(cli_globals *g, int argc, char **argv) { return transfer(g, &cli_cmd_export, argc, argv, true); }

static int import_main(cli_globals *g, int argc, char **argv)
{
    return transfer(g, &cli_cmd_import, argc, argv, false);
}

const cli_command cli_cmd_export = {
    "export", CLI_CMD_EXPORT, "write every item to a DynamoDB JSON lines file",
    "ddbmig export --table-name NAME --file F.jsonl[.gz] [--total-segments N] [--workers N]", file_options,
    export_main,
    "A parallel scan; each line is one item in DynamoDB JSON, exactly as DynamoDB\n"
    "returned it (numbers keep every digit). A name ending in .gz is gzip-compressed.\n\n"
    "Example:\n"
    "  ddbmig export --table-name orders --file orders.jsonl.gz --output json\n"};

const cli_command cli_cmd_import = {
    "import", CLI_CMD_IMPORT, "write the items of a DynamoDB JSON lines file",
    "ddbmig import --table-name NAME --file F.jsonl[.gz] [--dry-run] [--in-flight N]", file_options, import_main,
    "Reads the whole file first and checks every line against DynamoDB's rules and\n"
    "the table's keys and indexes (from DescribeTable). Any bad line is reported as\n"
    "FILE:LINE: attribute PATH: rule (the first 5), and nothing is written (exit 2).\n"
    "Then writes with BatchWriteItem, resending UnprocessedItems. Blank lines are\n"
    "skipped; gzip (by content) must be whole. When a key repeats, the last line\n"
    "wins. If writing fails part way (exit 4), running the same import again is safe.\n\n"
    "Examples:\n"
    "  ddbmig import --table-name orders_copy --file orders.jsonl.gz --dry-run\n"
    "  ddbmig import --table-name orders_copy --file orders.jsonl.gz\n"};
