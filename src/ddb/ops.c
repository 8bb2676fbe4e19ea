/* Table description and key schema, create/delete with waiting, scan
 * bodies. Batch writes are in batch.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddbmig/ddb_ops.h"
#include "ddbmig/item.h"

static const char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static int64_t jint(json_t *o, const char *k, int64_t dflt)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

/* Key schema + attribute types into hash/range. */
static void parse_keys(json_t *schema, json_t *defs, ddb_key_attr *hash, ddb_key_attr *range, bool *has_range)
{
    size_t i, j;
    json_t *k, *d;
    *has_range = false;
    json_array_foreach(schema, i, k) {
        ddb_key_attr *dst = strcmp(jstr(k, "KeyType"), "RANGE") == 0 ? range : hash;
        if (dst == range)
            *has_range = true;
        dm_strlcpy(dst->name, jstr(k, "AttributeName"), sizeof dst->name);
        json_array_foreach(defs, j, d) {
            if (strcmp(jstr(d, "AttributeName"), dst->name) == 0)
                dm_strlcpy(dst->type, jstr(d, "AttributeType"), sizeof dst->type);
        }
    }
}

static void parse_gsi(json_t *g, json_t *defs, ddb_index_desc *x)
{
    dm_strlcpy(x->name, jstr(g, "IndexName"), sizeof x->name);
    parse_keys(json_object_get(g, "KeySchema"), defs, &x->hash, &x->range, &x->has_range);
    dm_strlcpy(x->status, jstr(g, "IndexStatus"), sizeof x->status);
    dm_strlcpy(x->projection, jstr(json_object_get(g, "Projection"), "ProjectionType"), sizeof x->projection);
    json_t *pt = json_object_get(g, "ProvisionedThroughput");
    x->read_units = jint(pt, "ReadCapacityUnits", 0);
    x->write_units = jint(pt, "WriteCapacityUnits", 0);
    x->item_count = jint(g, "ItemCount", 0);
    x->size_bytes = jint(g, "IndexSizeBytes", 0);
}

static int fill_desc(json_t *t, ddb_table_desc *d)
{
    json_t *defs = json_object_get(t, "AttributeDefinitions");
    dm_strlcpy(d->name, jstr(t, "TableName"), sizeof d->name);
    dm_strlcpy(d->arn, jstr(t, "TableArn"), sizeof d->arn);
    dm_strlcpy(d->status, jstr(t, "TableStatus"), sizeof d->status);
    parse_keys(json_object_get(t, "KeySchema"), defs, &d->hash, &d->range, &d->has_range);
    d->item_count = jint(t, "ItemCount", 0);
    d->size_bytes = jint(t, "TableSizeBytes", 0);
    /* Tables created before billing modes existed report no summary. */
    const char *bm = jstr(json_object_get(t, "BillingModeSummary"), "BillingMode");
    dm_strlcpy(d->billing_mode, *bm ? bm : "PROVISIONED", sizeof d->billing_mode);
    json_t *pt = json_object_get(t, "ProvisionedThroughput");
    d->read_units = jint(pt, "ReadCapacityUnits", 0);
    d->write_units = jint(pt, "WriteCapacityUnits", 0);
    json_t *od = json_object_get(t, "OnDemandThroughput");
    d->max_read_units = jint(od, "MaxReadRequestUnits", -1);
    d->max_write_units = jint(od, "MaxWriteRequestUnits", -1);
    json_t *ss = json_object_get(t, "StreamSpecification");
    if (json_is_true(json_object_get(ss, "StreamEnabled")))
        dm_strlcpy(d->stream_view, jstr(ss, "StreamViewType"), sizeof d->stream_view);
    json_t *gsis = json_object_get(t, "GlobalSecondaryIndexes");
    d->n_gsis = json_array_size(gsis);
    d->n_lsis = json_array_size(json_object_get(t, "LocalSecondaryIndexes"));
    if (d->n_gsis && !(d->gsis = calloc(d->n_gsis, sizeof *d->gsis)))
        return DM_ERR_NOMEM;
    for (size_t i = 0; i < d->n_gsis; i++)
        parse_gsi(json_array_get(gsis, i), defs, &d->gsis[i]);
    return DM_OK;
}

int ddb_describe_table(ddb_client *c, const char *table, ddb_table_desc *out, dm_error *err)
{
    memset(out, 0, sizeof *out);
    json_t *req = json_pack("{s:s}", "TableName", table), *resp = NULL;
    if (!req)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    int rc = ddb_request(c, "DescribeTable", table, req, &resp, err);
    json_decref(req);
    if (rc)
        return rc;
    json_t *t = json_object_get(resp, "Table");
    if (!json_is_object(t)) {
        json_decref(resp);
        return dm_error_set(err, DM_ERR_PARSE, "DescribeTable: the answer has no Table");
    }
    out->raw = json_incref(t);
    json_decref(resp);
    rc = fill_desc(t, out);
    if (rc) {
        ddb_table_desc_cleanup(out);
        return dm_error_set(err, rc, "out of memory");
    }
    return DM_OK;
}

void ddb_table_desc_cleanup(ddb_table_desc *d)
{
    free(d->gsis);
    json_decref(d->raw);
    memset(d, 0, sizeof *d);
}

static int key_type(const char *t, ddb_type *out)
{
    if (strcmp(t, "S") == 0 || strcmp(t, "N") == 0 || strcmp(t, "B") == 0) {
        *out = t[0] == 'S' ? DDB_S : t[0] == 'N' ? DDB_N : DDB_B;
        return DM_OK;
    }
    return DM_ERR_PARSE;
}

/* Adds an index key attribute unless the table's keys or an earlier index
 * already name it; a sort key anywhere gets the sort key's smaller limit. */
static int add_index_key(ddb_key_schema *ks, const char *name, const char *type, bool range, dm_error *err)
{
    if (!*name)
        return DM_OK;
    if (strcmp(name, ks->hash.name) == 0 || (ks->range.name && strcmp(name, ks->range.name) == 0))
        return DM_OK;
    for (size_t i = 0; i < ks->n_index; i++)
        if (strcmp(ks->index[i].name, name) == 0) {
            ks->index[i].range = ks->index[i].range || range;
            return DM_OK;
        }
    if (ks->n_index == DDB_MAX_INDEX_KEYS)
        return dm_error_set(err, DM_ERR_LIMIT, "more than %d secondary index key attributes", DDB_MAX_INDEX_KEYS);
    ddb_key_def *k = &ks->index[ks->n_index];
    k->name = name;
    k->range = range;
    if (key_type(type, &k->type))
        return dm_error_set(err, DM_ERR_PARSE, "DescribeTable: index key '%s' has no type S, N or B", name);
    ks->n_index++;
    return DM_OK;
}

static const char *defined_type(json_t *defs, const char *name)
{
    size_t i;
    json_t *d;
    json_array_foreach(defs, i, d) {
        if (strcmp(jstr(d, "AttributeName"), name) == 0)
            return jstr(d, "AttributeType");
    }
    return "";
}

int ddb_table_key_schema(const ddb_table_desc *d, ddb_key_schema *ks, dm_error *err)
{
    memset(ks, 0, sizeof *ks);
    ks->hash.name = d->hash.name;
    if (key_type(d->hash.type, &ks->hash.type))
        return dm_error_set(err, DM_ERR_PARSE, "DescribeTable: the partition key '%s' has no type S, N or B",
                            d->hash.name);
    if (d->has_range) {
        ks->range.name = d->range.name;
        ks->range.range = true;
        if (key_type(d->range.type, &ks->range.type))
            return dm_error_set(err, DM_ERR_PARSE, "DescribeTable: the sort key '%s' has no type S, N or B",
                                d->range.name);
    }
    int rc = DM_OK;
    for (size_t i = 0; rc == DM_OK && i < d->n_gsis; i++) {
        const ddb_index_desc *x = &d->gsis[i];
        rc = add_index_key(ks, x->hash.name, x->hash.type, false, err);
        if (rc == DM_OK && x->has_range)
            rc = add_index_key(ks, x->range.name, x->range.type, true, err);
    }
    /* Local indexes are not in ddb_table_desc beyond their count. */
    json_t *defs = json_object_get(d->raw, "AttributeDefinitions"), *lsi;
    size_t i;
    json_array_foreach(json_object_get(d->raw, "LocalSecondaryIndexes"), i, lsi) {
        json_t *k;
        size_t j;
        json_array_foreach(json_object_get(lsi, "KeySchema"), j, k) {
            const char *name = jstr(k, "AttributeName");
            if (rc == DM_OK)
                rc = add_index_key(ks, name, defined_type(defs, name), strcmp(jstr(k, "KeyType"), "RANGE") == 0,
                                   err);
        }
    }
    return rc;
}

static bool all_active(const ddb_table_desc *d)
{
    if (strcmp(d->status, "ACTIVE") != 0)
        return false;
    for (size_t i = 0; i < d->n_gsis; i++)
        if (strcmp(d->gsis[i].status, "ACTIVE") != 0)
            return false;
    return true;
}

int ddb_wait_table(ddb_client *c, const char *table, bool want_gone, int timeout_s, dm_error *err)
{
    int64_t deadline = dm_monotonic_ms() + (int64_t)timeout_s * 1000;
    for (int delay = 50;; delay = delay < 2000 ? delay * 2 : 2000) {
        ddb_table_desc d;
        dm_error e = {0};
        int rc = ddb_describe_table(c, table, &d, &e);
        bool gone = rc != DM_OK && strcmp(e.type, "ResourceNotFoundException") == 0;
        if (rc != DM_OK && !gone) {
            if (err)
                *err = e;
            return rc;
        }
        bool ready = want_gone ? gone : (!gone && all_active(&d));
        if (rc == DM_OK)
            ddb_table_desc_cleanup(&d);
        if (ready)
            return DM_OK;
        if (dm_monotonic_ms() > deadline)
            return dm_error_set(err, DM_ERR_SERVICE, "table '%s' did not become %s within %d s", table,
                                want_gone ? "deleted" : "ACTIVE", timeout_s);
        dm_sleep_ms(delay);
    }
}

int ddb_create_table(ddb_client *c, json_t *req, dm_error *err)
{
    const char *table = json_string_value(json_object_get(req, "TableName"));
    int rc = ddb_request(c, "CreateTable", table, req, NULL, err);
    return rc ? rc : ddb_wait_table(c, table, false, 300, err);
}

int ddb_delete_table(ddb_client *c, const char *table, bool missing_ok, dm_error *err)
{
    json_t *req = json_pack("{s:s}", "TableName", table);
    if (!req)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    dm_error e = {0};
    int rc = ddb_request(c, "DeleteTable", table, req, NULL, &e);
    json_decref(req);
    if (rc && missing_ok && strcmp(e.type, "ResourceNotFoundException") == 0)
        return DM_OK;
    if (rc) {
        if (err)
            *err = e;
        return rc;
    }
    return ddb_wait_table(c, table, true, 300, err);
}

int ddb_json_string(dm_buf *out, const char *s)
{
    size_t n = strlen(s);
    return ddb_utf8_valid(s, n) ? ddb_json_put_string(out, s, n) : DM_ERR_INVALID;
}

int ddb_scan_body(const ddb_scan_params *p, dm_buf *out)
{
    int rc = dm_buf_puts(out, "{\"TableName\":");
    rc = rc ? rc : ddb_json_string(out, p->table);
    if (!rc && p->total_segments > 0)
        rc = dm_buf_appendf(out, ",\"Segment\":%d,\"TotalSegments\":%d", p->segment, p->total_segments);
    if (!rc && p->exclusive_start_key)
        rc = dm_buf_appendf(out, ",\"ExclusiveStartKey\":%s", p->exclusive_start_key);
    if (!rc && p->consistent_read)
        rc = dm_buf_puts(out, ",\"ConsistentRead\":true");
    if (!rc && p->filter_expression) {
        rc = dm_buf_puts(out, ",\"FilterExpression\":");
        rc = rc ? rc : ddb_json_string(out, p->filter_expression);
    }
    if (!rc && p->projection_expression) {
        rc = dm_buf_puts(out, ",\"ProjectionExpression\":");
        rc = rc ? rc : ddb_json_string(out, p->projection_expression);
    }
    if (!rc && p->names_json)
        rc = dm_buf_appendf(out, ",\"ExpressionAttributeNames\":%s", p->names_json);
    if (!rc && p->values_json)
        rc = dm_buf_appendf(out, ",\"ExpressionAttributeValues\":%s", p->values_json);
    if (!rc && p->limit > 0)
        rc = dm_buf_appendf(out, ",\"Limit\":%d", p->limit);
    if (!rc && p->return_consumed_capacity)
        rc = dm_buf_puts(out, ",\"ReturnConsumedCapacity\":\"TOTAL\"");
    return rc ? rc : dm_buf_putc(out, '}');
}
