/* ddbmig export and ddbmig import. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ddbmig/engine.h"
#include "ddbmig/item.h"

static struct {
    const char *table, *file;
    long segments, workers, in_flight;
    bool dry_run;
} opt;

static const cli_opt *export_options(void)
{
    static const cli_opt o[] = {
        {"table-name", 0, CLI_STRING, &opt.table, "NAME", "the table to export (required)"},
        {"file", 0, CLI_STRING, &opt.file, "F.jsonl[.gz]", "output; gzip when the name ends in .gz (required)"},
        {"total-segments", 0, CLI_INT, &opt.segments, "N", "scan segments (default 4 x workers)"},
        {"workers", 0, CLI_INT, &opt.workers, "N", "worker threads (default 2 x CPUs)"},
        {NULL, 0, 0, NULL, NULL, NULL}};
    return o;
}

static const cli_opt *import_options(void)
{
    static const cli_opt o[] = {
        {"table-name", 0, CLI_STRING, &opt.table, "NAME", "the table to write into (required)"},
        {"file", 0, CLI_STRING, &opt.file, "F.jsonl[.gz]", "DynamoDB JSON, one item per line (required)"},
        {"dry-run", 0, CLI_FLAG, &opt.dry_run, NULL, "check every line against the table, write nothing"},
        {"in-flight", 0, CLI_INT, &opt.in_flight, "N", "BatchWriteItem calls in flight (default 32)"},
        {NULL, 0, 0, NULL, NULL, NULL}};
    return o;
}

/* A JSON string literal of s (for names that may hold quotes). */
static void put_json(const char *s)
{
    dm_buf b;
    dm_buf_init(&b, 0);
    if (ddb_json_put_string(&b, s, strlen(s)) == DM_OK)
        fputs(dm_buf_cstr(&b), stdout);
    else
        fputs("\"\"", stdout);
    dm_buf_cleanup(&b);
}

static void report_json(const transfer_result *r, bool import, const char *status, const dm_error *err)
{
    printf("{\"table\": ");
    put_json(opt.table);
    printf(", \"file\": ");
    put_json(opt.file);
    printf(", \"items\": %lld, ", r->items);
    if (import)
        printf("\"file_items\": %lld, \"status\": \"%s\", ", r->file_items, status);
    printf("\"capacity_units\": %.1f, \"elapsed_s\": %.3f, \"items_per_s\": %.0f", r->units, r->seconds,
           r->seconds > 0 ? (double)r->items / r->seconds : 0);
    if (err) {
        printf(", \"error\": ");
        put_json(err->message);
    }
    printf("}\n");
}

static int report(cli_globals *g, bool out, const transfer_result *r)
{
    if (cli_json_output(g))
        report_json(r, !out, opt.dry_run ? "checked" : "done", NULL);
    else if (!out && opt.dry_run)
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
        report_json(r, true, "failed", err);
    return CLI_EXIT_AWS;
}

static int transfer(cli_globals *g, const char *name, const cli_opt *opts, int argc, char **argv, bool out)
{
    int rc = cli_parse(name, argc, argv, opts, g);
    if (rc)
        return rc;
    if (!opt.table || !opt.file) {
        fprintf(stderr, "ddbmig %s: --table-name and --file are required\n", name);
        return CLI_EXIT_USAGE;
    }
    if (opt.segments < 0 || opt.segments > 1000000 || opt.workers < 0 || opt.workers > 1024) {
        fprintf(stderr, "ddbmig %s: --total-segments or --workers out of range\n", name);
        return CLI_EXIT_USAGE;
    }
    if (opt.in_flight < 0 || opt.in_flight > 1024) {
        fprintf(stderr, "ddbmig %s: --in-flight must be between 1 and 1024\n", name);
        return CLI_EXIT_USAGE;
    }
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

static int export_main(cli_globals *g, int argc, char **argv)
{
    return transfer(g, "export", export_options(), argc, argv, true);
}

static int import_main(cli_globals *g, int argc, char **argv)
{
    return transfer(g, "import", import_options(), argc, argv, false);
}

const cli_command cli_cmd_export = {
    "export", "write every item to a DynamoDB JSON lines file", "ddbmig export --table-name NAME --file F.jsonl[.gz]",
    export_options, export_main,
    "A parallel scan; each line is one item in DynamoDB JSON, exactly as DynamoDB\n"
    "returned it (numbers keep every digit). A name ending in .gz is gzip-compressed.\n"};

const cli_command cli_cmd_import = {
    "import", "write the items of a DynamoDB JSON lines file",
    "ddbmig import --table-name NAME --file F.jsonl[.gz] [--dry-run]", import_options, import_main,
    "Reads the whole file first and checks every line against DynamoDB's rules and\n"
    "the table's keys and indexes (from DescribeTable). Any bad line is reported as\n"
    "FILE:LINE: attribute PATH: rule (the first 5), and nothing is written (exit 2).\n"
    "Then writes with BatchWriteItem, resending UnprocessedItems. Blank lines are\n"
    "skipped; gzip (by content) must be whole. When a key repeats, the last line\n"
    "wins. If writing fails part way (exit 4), running the same import again is safe.\n"
    "\n"
    "  ddbmig import --table-name orders_copy --file orders.jsonl.gz --dry-run\n"
    "  ddbmig import --table-name orders_copy --file orders.jsonl.gz\n"};
