/* ddbmig describe: what a migration needs to know about a table. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ddbmig/ddb_ops.h"
#include "ddbmig/json_out.h"

static struct {
    const char *table;
} opt;

static const cli_opt *describe_options(void)
{
    static const cli_opt o[] = {
        {.name = "table-name", .kind = CLI_STRING, .dest = &opt.table, .arg = "NAME", .commands = CLI_CMD_DESCRIBE,
         .required = CLI_CMD_DESCRIBE, .help = "the table to describe (required)"},
        {0}};
    return o;
}

static void key_text(const ddb_key_attr *h, const ddb_key_attr *r, bool has_range, char *out, size_t size)
{
    if (has_range)
        snprintf(out, size, "%s (%s, partition key), %s (%s, sort key)", h->name, h->type, r->name, r->type);
    else
        snprintf(out, size, "%s (%s, partition key)", h->name, h->type);
}

static void capacity_text(const ddb_table_desc *d, char *out, size_t size)
{
    if (strcmp(d->billing_mode, "PAY_PER_REQUEST") == 0) {
        if (d->max_read_units > 0 || d->max_write_units > 0)
            snprintf(out, size, "on demand, at most %" PRId64 " reads and %" PRId64 " writes per second",
                     d->max_read_units, d->max_write_units);
        else
            snprintf(out, size, "on demand, no maximum set");
    } else {
        snprintf(out, size, "%" PRId64 " read units, %" PRId64 " write units per second", d->read_units,
                 d->write_units);
    }
}

static void print_text(const ddb_table_desc *d)
{
    char keys[700], size[32], cap[160];
    key_text(&d->hash, &d->range, d->has_range, keys, sizeof keys);
    dm_format_bytes(d->size_bytes, size, sizeof size);
    capacity_text(d, cap, sizeof cap);
    printf("Table:         %s (%s)\n", d->name, d->status);
    if (d->arn[0])
        printf("ARN:           %s\n", d->arn);
    printf("Keys:          %s\n", keys);
    printf("Items:         %" PRId64 " (DynamoDB refreshes this about every six hours)\n", d->item_count);
    printf("Size:          %s (%" PRId64 " bytes)\n", size, d->size_bytes);
    printf("Billing mode:  %s\n", d->billing_mode);
    printf("Capacity:      %s\n", cap);
    printf("Stream:        %s\n", d->stream_view[0] ? d->stream_view : "off");
    printf("Local indexes: %zu\n", d->n_lsis);
    printf("Global secondary indexes: %zu\n", d->n_gsis);
    for (size_t i = 0; i < d->n_gsis; i++) {
        const ddb_index_desc *x = &d->gsis[i];
        key_text(&x->hash, &x->range, x->has_range, keys, sizeof keys);
        printf("  %s (%s): %s; projection %s; %" PRId64 " items", x->name, x->status, keys, x->projection,
               x->item_count);
        if (x->read_units || x->write_units)
            printf("; %" PRId64 " read / %" PRId64 " write units", x->read_units, x->write_units);
        printf("\n");
    }
}

static json_t *key_json(const ddb_key_attr *h, const ddb_key_attr *r, bool has_range)
{
    json_t *k = json_pack("{s:{s:s,s:s}}", "partition_key", "name", h->name, "type", h->type);
    if (has_range)
        json_object_set_new(k, "sort_key", json_pack("{s:s,s:s}", "name", r->name, "type", r->type));
    return k;
}

static void print_json(const ddb_table_desc *d)
{
    json_t *gsis = json_array();
    for (size_t i = 0; i < d->n_gsis; i++) {
        const ddb_index_desc *x = &d->gsis[i];
        json_t *g = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I}", "name", x->name, "status", x->status, "projection",
                              x->projection, "item_count", (json_int_t)x->item_count, "size_bytes",
                              (json_int_t)x->size_bytes, "read_units", (json_int_t)x->read_units, "write_units",
                              (json_int_t)x->write_units);
        json_t *k = key_json(&x->hash, &x->range, x->has_range);
        json_object_update(g, k);
        json_decref(k);
        json_array_append_new(gsis, g);
    }
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s,s:{s:I,s:I},s:s?,s:i,s:o}", "table", d->name, "arn", d->arn,
                          "status", d->status, "item_count", (json_int_t)d->item_count, "size_bytes",
                          (json_int_t)d->size_bytes, "billing_mode", d->billing_mode, "capacity", "read_units",
                          (json_int_t)d->read_units, "write_units", (json_int_t)d->write_units, "stream",
                          d->stream_view[0] ? d->stream_view : NULL, "local_indexes", (int)d->n_lsis,
                          "global_secondary_indexes", gsis);
    json_t *keys = key_json(&d->hash, &d->range, d->has_range);
    json_object_update(o, keys);
    json_decref(keys);
    if (d->max_read_units > 0 || d->max_write_units > 0)
        json_object_set_new(o, "on_demand_maximum", json_pack("{s:I,s:I}", "read_units",
                                                              (json_int_t)d->max_read_units, "write_units",
                                                              (json_int_t)d->max_write_units));
    dm_json_print(o, stdout);
    json_decref(o);
}

static int describe_run(cli_globals *g, int argc, char **argv)
{
    int rc = cli_parse(&cli_cmd_describe, argc, argv, g);
    if (rc)
        return rc;
    cli_conn c;
    if ((rc = cli_connect(g, &c)) != CLI_EXIT_OK)
        return rc;
    ddb_table_desc d;
    dm_error err = {0};
    rc = ddb_describe_table(c.client, opt.table, &d, &err);
    if (rc == DM_OK) {
        if (cli_json_output(g))
            print_json(&d);
        else
            print_text(&d);
        ddb_table_desc_cleanup(&d);
    } else {
        rc = cli_fail(&err, rc);
    }
    cli_disconnect(&c);
    return rc == DM_OK ? CLI_EXIT_OK : rc;
}

const cli_command cli_cmd_describe = {
    "describe", CLI_CMD_DESCRIBE, "show a table's keys, size, capacity and indexes",
    "ddbmig describe --table-name NAME [--output json]", describe_options, describe_run,
    "Prints what a migration needs to know: key schema, approximate item count\n"
    "and size, billing mode and capacity, stream, and global secondary indexes.\n\n"
    "Example:\n"
    "  ddbmig describe --table-name orders --region eu-west-1 --output json\n"};
