/* ddbmig export and ddbmig import. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ddbmig/engine.h"
#include "ddbmig/json_out.h"

static struct {
    const char *table, *file;
    long long segments, workers;
} opt;

enum { X = CLI_CMD_EXPORT, XI = CLI_CMD_EXPORT | CLI_CMD_IMPORT };

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
        {0}};
    /* clang-format on */
    return o;
}

static int report(cli_globals *g, const char *verb, const transfer_result *r)
{
    double rate = r->seconds > 0 ? (double)r->items / r->seconds : 0;
    if (cli_json_output(g)) {
        json_t *o = json_pack("{s:s,s:s,s:I,s:o,s:o,s:o}", "table", opt.table, "file", opt.file, "items",
                              (json_int_t)r->items, "capacity_units", dm_json_quantity(r->units, DM_JSON_UNITS),
                              "elapsed_s", dm_json_quantity(r->seconds, DM_JSON_SECONDS), "items_per_s",
                              dm_json_quantity(rate, DM_JSON_RATE));
        int rc = dm_json_print(o, stdout);
        json_decref(o);
        return rc == DM_OK ? CLI_EXIT_OK : CLI_EXIT_AWS;
    }
    printf("%s %lld items %s %s in %.1f s (%.0f items/s, %.1f capacity units)\n", verb, r->items,
           strcmp(verb, "Exported") == 0 ? "to" : "from", opt.file, r->seconds, rate, r->units);
    return CLI_EXIT_OK;
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
    "ddbmig import --table-name NAME --file F.jsonl[.gz]", file_options, import_main,
    "Checks every line first (a bad line is reported with its number and nothing is\n"
    "written), then writes with BatchWriteItem, retrying UnprocessedItems.\n\n"
    "Example:\n"
    "  ddbmig import --table-name orders_copy --file orders.jsonl.gz\n"};
