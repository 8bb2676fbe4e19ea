/* Building guarded UpdateItem, PutItem, DeleteItem and TransactWriteItems
 * bodies from an item, its new version and their diff. */
#include <stdio.h>
#include <string.h>

#include "writer.h"

/* Expression names (#n0...) and values (:v0...) collected while the
 * expressions are written. */
typedef struct expr {
    dm_buf names, values;
    int n_names, n_values;
} expr;

static void expr_init(expr *e)
{
    memset(e, 0, sizeof *e);
    dm_buf_init(&e->names, 0);
    dm_buf_init(&e->values, 0);
}

static void expr_cleanup(expr *e)
{
    dm_buf_cleanup(&e->names);
    dm_buf_cleanup(&e->values);
}

/* Appends ,"#n3": (or ,":v3":) to a names or values map being built. */
static int map_key(dm_buf *map, const char *prefix, int i)
{
    int rc = i ? dm_buf_putc(map, ',') : DM_OK;
    rc = rc ? rc : dm_buf_putc(map, '"');
    rc = rc ? rc : dm_buf_puts(map, prefix);
    rc = rc ? rc : dm_buf_put_int(map, i);
    return rc ? rc : dm_buf_puts(map, "\":");
}

static int name_ref(expr *e, const char *p, size_t n, dm_buf *out)
{
    int rc = map_key(&e->names, "#n", e->n_names);
    rc = rc ? rc : ddb_json_put_string(&e->names, p, n);
    rc = rc ? rc : dm_buf_puts(out, "#n");
    return rc ? rc : dm_buf_put_int(out, e->n_names++);
}

static int value_ref(expr *e, const ddb_value *v, dm_buf *out)
{
    int rc = map_key(&e->values, ":v", e->n_values);
    rc = rc ? rc : ddb_value_encode(v, &e->values);
    rc = rc ? rc : dm_buf_puts(out, ":v");
    return rc ? rc : dm_buf_put_int(out, e->n_values++);
}

static int text_ref(expr *e, const char *s, dm_buf *out)
{
    ddb_value v = {.type = DDB_S, .data = s, .len = strlen(s)};
    return value_ref(e, &v, out);
}

static int and_sep(dm_buf *c) { return c->len ? dm_buf_puts(c, " AND ") : DM_OK; }

/* "#n = :v" when the attribute existed, else "attribute_not_exists(#n)". */
static int guard_attr(expr *e, const char *p, size_t n, const ddb_value *old, dm_buf *cond)
{
    int rc = and_sep(cond);
    if (old) {
        rc = rc ? rc : name_ref(e, p, n, cond);
        rc = rc ? rc : dm_buf_puts(cond, " = ");
        return rc ? rc : value_ref(e, old, cond);
    }
    rc = rc ? rc : dm_buf_puts(cond, "attribute_not_exists(");
    rc = rc ? rc : name_ref(e, p, n, cond);
    return rc ? rc : dm_buf_putc(cond, ')');
}

static int guard_exists(const wr_ctx *w, expr *e, dm_buf *cond)
{
    int rc = and_sep(cond);
    rc = rc ? rc : dm_buf_puts(cond, "attribute_exists(");
    rc = rc ? rc : name_ref(e, w->keys[0], strlen(w->keys[0]), cond);
    return rc ? rc : dm_buf_putc(cond, ')');
}

static int guard_marker(const wr_ctx *w, expr *e, dm_buf *cond)
{
    if (!w->marker)
        return DM_OK;
    dm_buf ref;
    dm_buf_init(&ref, 0);
    int rc = name_ref(e, w->marker, strlen(w->marker), &ref);
    rc = rc ? rc : and_sep(cond);
    rc = rc ? rc : dm_buf_appendf(cond, "(attribute_not_exists(%s) OR %s <> ", ref.data, ref.data);
    rc = rc ? rc : text_ref(e, w->migration, cond);
    rc = rc ? rc : dm_buf_putc(cond, ')');
    dm_buf_cleanup(&ref);
    return rc;
}

/* The guard of an update or put: the item exists, and each changed or
 * removed attribute still has its scanned value. */
static int guard_changes(const wr_ctx *w, expr *e, const ddb_item *orig, const ddb_item *next, const ddb_diff *d,
                         dm_buf *cond)
{
    int rc = guard_exists(w, e, cond);
    for (size_t i = 0; !rc && i < d->n_set; i++) {
        const dm_str *nm = &next->names[d->set[i]];
        rc = guard_attr(e, nm->p, nm->n, ddb_item_get(orig, nm->p, nm->n), cond);
    }
    for (size_t i = 0; !rc && i < d->n_remove; i++)
        rc = guard_attr(e, d->remove[i].p, d->remove[i].n, ddb_item_get(orig, d->remove[i].p, d->remove[i].n), cond);
    return rc ? rc : guard_marker(w, e, cond);
}

/* Every attribute as scanned: for deletes and moves. */
static int guard_all(const wr_ctx *w, expr *e, const ddb_item *orig, dm_buf *cond)
{
    int rc = guard_exists(w, e, cond);
    for (size_t i = 0; !rc && i < orig->n; i++) {
        bool key = false;
        for (size_t k = 0; k < w->n_keys; k++)
            key = key || (strlen(w->keys[k]) == orig->names[i].n && !memcmp(w->keys[k], orig->names[i].p, orig->names[i].n));
        if (!key)
            rc = guard_attr(e, orig->names[i].p, orig->names[i].n, &orig->values[i], cond);
    }
    return rc;
}

int wr_key_json(const wr_ctx *w, const ddb_item *it, dm_buf *out)
{
    int rc = dm_buf_putc(out, '{');
    for (size_t k = 0; !rc && k < w->n_keys; k++) {
        const ddb_value *v = ddb_item_get(it, w->keys[k], strlen(w->keys[k]));
        if (!v)
            return DM_ERR_INVALID;
        rc = k ? dm_buf_putc(out, ',') : 0;
        rc = rc ? rc : ddb_json_put_string(out, w->keys[k], strlen(w->keys[k]));
        rc = rc ? rc : dm_buf_putc(out, ':');
        rc = rc ? rc : ddb_value_encode(v, out);
    }
    return rc ? rc : dm_buf_putc(out, '}');
}

static int head(const wr_ctx *w, dm_buf *out)
{
    int rc = dm_buf_puts(out, "{\"TableName\":");
    return rc ? rc : ddb_json_put_string(out, w->table, strlen(w->table));
}

/* The common tail: expressions, return options, closing brace. */
static int tail(const wr_ctx *w, expr *e, const dm_buf *cond, bool ret_old, dm_buf *out)
{
    int rc = DM_OK;
    if (cond && cond->len) {
        rc = dm_buf_puts(out, ",\"ConditionExpression\":");
        rc = rc ? rc : ddb_json_put_string(out, cond->data, cond->len);
    }
    if (!rc && e->n_names) {
        rc = dm_buf_puts(out, ",\"ExpressionAttributeNames\":{");
        rc = rc ? rc : dm_buf_append(out, e->names.data, e->names.len);
        rc = rc ? rc : dm_buf_putc(out, '}');
    }
    if (!rc && e->n_values) {
        rc = dm_buf_puts(out, ",\"ExpressionAttributeValues\":{");
        rc = rc ? rc : dm_buf_append(out, e->values.data, e->values.len);
        rc = rc ? rc : dm_buf_putc(out, '}');
    }
    if (!rc && ret_old && w->return_old_on_conflict)
        rc = dm_buf_puts(out, ",\"ReturnValuesOnConditionCheckFailure\":\"ALL_OLD\"");
    return rc;
}

static int update_expression(const wr_ctx *w, expr *e, const ddb_item *next, const ddb_diff *d, dm_buf *ue)
{
    int rc = DM_OK;
    bool any_set = d->n_set > 0 || w->marker;
    if (any_set)
        rc = dm_buf_puts(ue, "SET ");
    for (size_t i = 0; !rc && i < d->n_set; i++) {
        const dm_str *nm = &next->names[d->set[i]];
        rc = i ? dm_buf_puts(ue, ", ") : 0;
        rc = rc ? rc : name_ref(e, nm->p, nm->n, ue);
        rc = rc ? rc : dm_buf_puts(ue, " = ");
        rc = rc ? rc : value_ref(e, &next->values[d->set[i]], ue);
    }
    if (!rc && w->marker) {
        rc = d->n_set ? dm_buf_puts(ue, ", ") : 0;
        rc = rc ? rc : name_ref(e, w->marker, strlen(w->marker), ue);
        rc = rc ? rc : dm_buf_puts(ue, " = ");
        rc = rc ? rc : text_ref(e, w->migration, ue);
    }
    for (size_t i = 0; !rc && i < d->n_remove; i++) {
        rc = dm_buf_puts(ue, i ? ", " : (any_set ? " REMOVE " : "REMOVE "));
        rc = rc ? rc : name_ref(e, d->remove[i].p, d->remove[i].n, ue);
    }
    return rc;
}

int wr_update_body(const wr_ctx *w, const ddb_item *orig, const ddb_item *next, const ddb_diff *d, dm_buf *out)
{
    expr e;
    dm_buf ue, cond;
    expr_init(&e);
    dm_buf_init(&ue, 0);
    dm_buf_init(&cond, 0);
    int rc = head(w, out);
    rc = rc ? rc : dm_buf_puts(out, ",\"Key\":");
    rc = rc ? rc : wr_key_json(w, orig, out);
    rc = rc ? rc : update_expression(w, &e, next, d, &ue);
    rc = rc ? rc : guard_changes(w, &e, orig, next, d, &cond);
    rc = rc ? rc : dm_buf_puts(out, ",\"UpdateExpression\":");
    rc = rc ? rc : ddb_json_put_string(out, ue.data, ue.len);
    rc = rc ? rc : tail(w, &e, &cond, true, out);
    rc = rc ? rc : dm_buf_puts(out, ",\"ReturnConsumedCapacity\":\"TOTAL\"}");
    expr_cleanup(&e);
    dm_buf_cleanup(&ue);
    dm_buf_cleanup(&cond);
    return rc;
}

int wr_with_marker(const wr_ctx *w, const ddb_item *next, dm_arena *a, ddb_item *out)
{
    *out = *next;
    if (!w->marker)
        return DM_OK;
    size_t m = strlen(w->marker);
    out->names = dm_arena_alloc(a, (next->n + 1) * sizeof *out->names);
    out->values = dm_arena_alloc(a, (next->n + 1) * sizeof *out->values);
    if (!out->names || !out->values)
        return DM_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < next->n; i++) {
        if (next->names[i].n == m && memcmp(next->names[i].p, w->marker, m) == 0)
            continue;
        out->names[n] = next->names[i];
        out->values[n++] = next->values[i];
    }
    out->names[n] = (dm_str){w->marker, m};
    out->values[n] = (ddb_value){.type = DDB_S, .data = w->migration, .len = strlen(w->migration)};
    out->n = n + 1;
    return DM_OK;
}

static int put_item_part(const ddb_item *next, dm_buf *out)
{
    int rc = dm_buf_puts(out, ",\"Item\":");
    return rc ? rc : ddb_item_encode(next, out);
}

int wr_put_body(const wr_ctx *w, const ddb_item *orig, const ddb_item *next, const ddb_diff *d, dm_buf *out)
{
    expr e;
    dm_buf cond;
    expr_init(&e);
    dm_buf_init(&cond, 0);
    int rc = head(w, out);
    rc = rc ? rc : put_item_part(next, out);
    rc = rc ? rc : guard_changes(w, &e, orig, next, d, &cond);
    rc = rc ? rc : tail(w, &e, &cond, true, out);
    rc = rc ? rc : dm_buf_puts(out, ",\"ReturnConsumedCapacity\":\"TOTAL\"}");
    expr_cleanup(&e);
    dm_buf_cleanup(&cond);
    return rc;
}

int wr_put_plain_body(const wr_ctx *w, const ddb_item *next, dm_buf *out)
{
    int rc = head(w, out);
    rc = rc ? rc : put_item_part(next, out);
    return rc ? rc : dm_buf_puts(out, ",\"ReturnConsumedCapacity\":\"TOTAL\"}");
}

int wr_delete_body(const wr_ctx *w, const ddb_item *orig, dm_buf *out)
{
    expr e;
    dm_buf cond;
    expr_init(&e);
    dm_buf_init(&cond, 0);
    int rc = head(w, out);
    rc = rc ? rc : dm_buf_puts(out, ",\"Key\":");
    rc = rc ? rc : wr_key_json(w, orig, out);
    rc = rc ? rc : guard_all(w, &e, orig, &cond);
    rc = rc ? rc : tail(w, &e, &cond, true, out);
    rc = rc ? rc : dm_buf_puts(out, ",\"ReturnConsumedCapacity\":\"TOTAL\"}");
    expr_cleanup(&e);
    dm_buf_cleanup(&cond);
    return rc;
}

int wr_move_body(const wr_ctx *w, const ddb_item *orig, const ddb_item *next, dm_buf *out)
{
    expr pe, de;
    dm_buf pc, dc;
    expr_init(&pe);
    expr_init(&de);
    dm_buf_init(&pc, 0);
    dm_buf_init(&dc, 0);
    int rc = dm_buf_puts(out, "{\"TransactItems\":[{\"Put\":");
    rc = rc ? rc : head(w, out);
    rc = rc ? rc : put_item_part(next, out);
    rc = rc ? rc : dm_buf_puts(&pc, "attribute_not_exists(");
    rc = rc ? rc : name_ref(&pe, w->keys[0], strlen(w->keys[0]), &pc);
    rc = rc ? rc : dm_buf_putc(&pc, ')');
    rc = rc ? rc : tail(w, &pe, &pc, false, out);
    rc = rc ? rc : dm_buf_puts(out, "}},{\"Delete\":");
    rc = rc ? rc : head(w, out);
    rc = rc ? rc : dm_buf_puts(out, ",\"Key\":");
    rc = rc ? rc : wr_key_json(w, orig, out);
    rc = rc ? rc : guard_all(w, &de, orig, &dc);
    rc = rc ? rc : tail(w, &de, &dc, true, out);
    rc = rc ? rc : dm_buf_puts(out, "}}],\"ReturnConsumedCapacity\":\"TOTAL\"}");
    expr_cleanup(&pe);
    expr_cleanup(&de);
    dm_buf_cleanup(&pc);
    dm_buf_cleanup(&dc);
    return rc;
}

int wr_batch_put(const wr_ctx *w, const ddb_item *next, dm_buf *out)
{
    (void)w;
    int rc = dm_buf_puts(out, "{\"PutRequest\":{\"Item\":");
    rc = rc ? rc : ddb_item_encode(next, out);
    return rc ? rc : dm_buf_puts(out, "}}");
}

int wr_batch_delete(const wr_ctx *w, const ddb_item *orig, dm_buf *out)
{
    int rc = dm_buf_puts(out, "{\"DeleteRequest\":{\"Key\":");
    rc = rc ? rc : wr_key_json(w, orig, out);
    return rc ? rc : dm_buf_puts(out, "}}");
}
