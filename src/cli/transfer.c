/* ddbmig export and ddbmig import. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ddbmig/engine.h"

static struct {
    const char *table, *file;
    long segments, workers;
    bool quiet;
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
        {NULL, 0, 0, NULL, NULL, NULL}};
    return o;
}

static int report(cli_globals *g, const char *verb, const transfer_result *r)
{
    if (cli_json_output(g))
        printf("{\"table\": \"%s\", \"file\": \"%s\", \"items\": %lld, \"capacity_units\": %.1f, "
               "\"elapsed_s\": %.3f, \"items_per_s\": %.0f}\n",
               opt.table, opt.file, r->items, r->units, r->seconds, r->seconds > 0 ? (double)r->items / r->seconds : 0);
    else
        printf("%s %lld items %s %s in %.1f s (%.0f items/s, %.1f capacity units)\n", verb, r->items,
               strcmp(verb, "Exported") == 0 ? "to" : "from", opt.file, r->seconds,
               r->seconds > 0 ? (double)r->items / r->seconds : 0, r->units);
    return CLI_EXIT_OK;
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
    cli_conn c;
    if ((rc = cli_connect(g, &c)) != CLI_EXIT_OK)
        return rc;
    transfer_options o = {.table = opt.table, .path = opt.file, .total_segments = (int)opt.segments,
                          .workers = (int)opt.workers, .json_output = cli_json_output(g)};
    transfer_result r = {0};
    dm_error err = {0};
    /* Fail before work on a missing table, with DescribeTable's clear error. */
    ddb_table_desc d;
    rc = ddb_describe_table(c.client, opt.table, &d, &err);
    if (rc == DM_OK) {
        ddb_table_desc_cleanup(&d);
        rc = out ? engine_export(&o, c.shared, &r, &err) : engine_import(&o, c.client, &r, &err);
    }
    rc = rc == DM_OK ? report(g, out ? "Exported" : "Imported", &r) : cli_fail(&err, rc);
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
    "import", "write the items of a DynamoDB JSON lines file", "ddbmig import --table-name NAME --file F.jsonl[.gz]",
    import_options, import_main,
    "Checks every line first (a bad line is reported with its number and nothing is\n"
    "written), then writes with BatchWriteItem, retrying UnprocessedItems.\n"};
