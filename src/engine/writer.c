/* Spelling write plans as DynamoDB requests. Names and values go through
 * placeholders (#n0, :v0), so any attribute name is safe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddbmig/ddb_ops.h"
#include "writer.h"

/* Expression names and values collected while expressions are written. */
typedef struct expr {
    dm_buf *names, *values;
    int n_names, n_values;
} expr;

void wr_scratch_cleanup(wr_scratch *s)
{
    dm_buf_cleanup(&s->names);
    dm_buf_cleanup(&s->values);
    dm_buf_cleanup(&s->ue);
    dm_buf_cleanup(&s->cond);
    free(s->slots);
    memset(s, 0, sizeof *s);
}

/* The buffers for one request: the context's scratch, or *local. */
static wr_scratch *begin(const wr_ctx *w, wr_scratch *local, expr *e)
{
    wr_scratch *s = w->scratch ? w->scratch : local;
    if (s == local)
        memset(local, 0, sizeof *local);
    dm_buf_reset(&s->names);
    dm_buf_reset(&s->values);
    dm_buf_reset(&s->ue);
    dm_buf_reset(&s->cond);
    *e = (expr){.names = &s->names, .values = &s->values};
    return s;
}

static void end(wr_scratch *s, wr_scratch *local)
{
    if (s == local)
        wr_scratch_cleanup(local);
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
    int rc = map_key(e->names, "#n", e->n_names);
    rc = rc ? rc : ddb_json_put_string(e->names, p, n);
    rc = rc ? rc : dm_buf_puts(out, "#n");
    return rc ? rc : dm_buf_put_int(out, e->n_names++);
}

static int value_ref(expr *e, const ddb_value *v, dm_buf *out)
{
    int rc = map_key(e->values, ":v", e->n_values);
    rc = rc ? rc : ddb_value_encode(v, e->values);
    rc = rc ? rc : dm_buf_puts(out, ":v");
    return rc ? rc : dm_buf_put_int(out, e->n_values++);
}

static int and_sep(dm_buf *c) { return c->len ? dm_buf_puts(c, " AND ") : DM_OK; }

static int fn_ref(expr *e, const char *fn, const char *p, size_t n, dm_buf *cond)
{
    int rc = and_sep(cond);
    rc = rc ? rc : dm_buf_puts(cond, fn);
    rc = rc ? rc : dm_buf_putc(cond, '(');
    rc = rc ? rc : name_ref(e, p, n, cond);
    return rc ? rc : dm_buf_putc(cond, ')');
}

/* Placeholders already given to the names the update expression sets and
 * removes, so that the condition names them again for free. */
typedef struct refs {
    int *set, *remove; /* per diff index; -1: none yet */
} refs;

static int name_again(expr *e, const char *p, size_t n, int ref, dm_buf *out)
{
    if (ref < 0)
        return name_ref(e, p, n, out);
    int rc = dm_buf_puts(out, "#n");
    return rc ? rc : dm_buf_put_int(out, ref);
}

/* "#n = :v" when the attribute was read with value old, else
 * "attribute_not_exists(#n)". */
static int guard_attr(expr *e, const wplan_guard_attr *g, int ref, dm_buf *cond)
{
    int rc = and_sep(cond);
    if (!g->old) {
        rc = rc ? rc : dm_buf_puts(cond, "attribute_not_exists(");
        rc = rc ? rc : name_again(e, g->name.p, g->name.n, ref, cond);
        return rc ? rc : dm_buf_putc(cond, ')');
    }
    rc = rc ? rc : name_again(e, g->name.p, g->name.n, ref, cond);
    rc = rc ? rc : dm_buf_puts(cond, " = ");
    return rc ? rc : value_ref(e, g->old, cond);
}

static int ref_of(const refs *f, const wplan_guard_attr *g)
{
    if (f && g->from == WPLAN_FROM_SET)
        return f->set[g->k];
    if (f && g->from == WPLAN_FROM_REMOVE)
        return f->remove[g->k];
    return -1;
}

/* The terms of a plan's guard, whatever the language they are spelled
 * in: the version attribute alone, or the first n_guard attributes of
 * wplan_guard_next. */
typedef struct terms {
    const wr_ctx *w;
    const wplan *p;
    wplan_rules keys_only; /* when the context has no rules */
    wplan_guard_iter it;
    size_t i;
} terms;

static void terms_begin(terms *t, const wr_ctx *w, const wplan *p, const ddb_item *read)
{
    *t = (terms){.w = w, .p = p, .keys_only = {.keys = w->keys, .n_keys = w->n_keys}};
    wplan_guard_begin(&t->it, w->rules ? w->rules : &t->keys_only, p, read);
}

static bool terms_next(terms *t, wplan_guard_attr *g)
{
    const wplan *p = t->p;
    if (p->guard == WPLAN_GUARD_VERSION) {
        const char *v = t->w->version_attr;
        *g = (wplan_guard_attr){{v, strlen(v)}, p->version_read, WPLAN_FROM_READ, 0};
        return t->i++ == 0;
    }
    return p->guard == WPLAN_GUARD_IMAGE && t->i++ < p->n_guard && wplan_guard_next(&t->it, g);
}

/* The item exists, and the plan's guard holds. */
static int guard(const wr_ctx *w, const wplan *p, const ddb_item *read, const refs *f, expr *e, dm_buf *cond)
{
    int rc = fn_ref(e, "attribute_exists", w->keys[0], strlen(w->keys[0]), cond);
    terms t;
    wplan_guard_attr g;
    terms_begin(&t, w, p, read);
    while (!rc && terms_next(&t, &g))
        rc = guard_attr(e, &g, ref_of(f, &g), cond);
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

static int key_part(const wr_ctx *w, const ddb_item *it, dm_buf *out)
{
    int rc = dm_buf_puts(out, ",\"Key\":");
    return rc ? rc : wr_key_json(w, it, out);
}

static int item_part(const ddb_item *it, dm_buf *out)
{
    int rc = dm_buf_puts(out, ",\"Item\":");
    return rc ? rc : ddb_item_encode(it, out);
}

/* Condition, names, values and, for a guarded request, ALL_OLD. */
static int tail(expr *e, const dm_buf *cond, dm_buf *out)
{
    int rc = DM_OK;
    if (cond->len) {
        rc = dm_buf_puts(out, ",\"ConditionExpression\":");
        rc = rc ? rc : ddb_json_put_string(out, cond->data, cond->len);
    }
    if (!rc && e->n_names) {
        rc = dm_buf_puts(out, ",\"ExpressionAttributeNames\":{");
        rc = rc ? rc : dm_buf_append(out, e->names->data, e->names->len);
        rc = rc ? rc : dm_buf_putc(out, '}');
    }
    if (!rc && e->n_values) {
        rc = dm_buf_puts(out, ",\"ExpressionAttributeValues\":{");
        rc = rc ? rc : dm_buf_append(out, e->values->data, e->values->len);
        rc = rc ? rc : dm_buf_putc(out, '}');
    }
    if (!rc && cond->len)
        rc = dm_buf_puts(out, ",\"ReturnValuesOnConditionCheckFailure\":\"ALL_OLD\"");
    return rc;
}

static int update_expression(expr *e, const wplan *p, refs *f, dm_buf *ue)
{
    const ddb_diff *d = &p->diff;
    int rc = d->n_set ? dm_buf_puts(ue, "SET ") : DM_OK;
    for (size_t i = 0; !rc && i < d->n_set; i++) {
        const dm_str *nm = &p->final.names[d->set[i]];
        rc = i ? dm_buf_puts(ue, ", ") : 0;
        f->set[i] = e->n_names;
        rc = rc ? rc : name_ref(e, nm->p, nm->n, ue);
        rc = rc ? rc : dm_buf_puts(ue, " = ");
        rc = rc ? rc : value_ref(e, &p->final.values[d->set[i]], ue);
    }
    for (size_t i = 0; !rc && i < d->n_remove; i++) {
        rc = dm_buf_puts(ue, i ? ", " : (d->n_set ? " REMOVE " : "REMOVE "));
        f->remove[i] = e->n_names;
        rc = rc ? rc : name_ref(e, d->remove[i].p, d->remove[i].n, ue);
    }
    return rc;
}

static int *slots_for(wr_scratch *s, size_t n)
{
    if (n > s->cap_slots) {
        int *p = realloc(s->slots, n * sizeof *p);
        if (!p)
            return NULL;
        s->slots = p;
        s->cap_slots = n;
    }
    return s->slots;
}

/* One request of the plan: Key or Item, expressions and guard. */
static int request(const wr_ctx *w, const wplan *p, const ddb_item *read, dm_buf *out)
{
    expr e;
    wr_scratch local, *s = begin(w, &local, &e);
    dm_buf *ue = &s->ue, *cond = &s->cond;
    int rc = head(w, out);
    int *slots;
    refs f;
    switch (p->kind) {
    case WPLAN_UPDATE:
        if (!(slots = slots_for(s, p->diff.n_set + p->diff.n_remove + 1))) {
            rc = DM_ERR_NOMEM;
            break;
        }
        f = (refs){slots, slots + p->diff.n_set};
        rc = rc ? rc : key_part(w, read, out);
        rc = rc ? rc : update_expression(&e, p, &f, ue);
        rc = rc ? rc : dm_buf_puts(out, ",\"UpdateExpression\":");
        rc = rc ? rc : ddb_json_put_string(out, ue->data, ue->len);
        rc = rc ? rc : guard(w, p, read, &f, &e, cond);
        break;
    case WPLAN_PUT:
        rc = rc ? rc : item_part(&p->final, out);
        rc = rc ? rc : guard(w, p, read, NULL, &e, cond);
        break;
    case WPLAN_DELETE:
    case WPLAN_MOVE: /* its delete half */
        rc = rc ? rc : key_part(w, read, out);
        rc = rc ? rc : guard(w, p, read, NULL, &e, cond);
        break;
    default:
        rc = rc ? rc : item_part(&p->final, out);
        break;
    }
    rc = rc ? rc : tail(&e, cond, out);
    end(s, &local);
    return rc;
}

/* The put half of a move: the new key must be free. */
static int move_put(const wr_ctx *w, const wplan *p, dm_buf *out)
{
    expr e;
    wr_scratch local, *s = begin(w, &local, &e);
    int rc = head(w, out);
    rc = rc ? rc : item_part(&p->final, out);
    rc = rc ? rc : fn_ref(&e, "attribute_not_exists", w->keys[0], strlen(w->keys[0]), &s->cond);
    rc = rc ? rc : tail(&e, &s->cond, out);
    end(s, &local);
    return rc;
}

const char *wr_op(const wplan *p)
{
    switch (p->kind) {
    case WPLAN_UPDATE: return "UpdateItem";
    case WPLAN_DELETE: return "DeleteItem";
    case WPLAN_MOVE: return "TransactWriteItems";
    default: return "PutItem";
    }
}

int wr_body(const wr_ctx *w, const wplan *p, const ddb_item *read, dm_buf *out)
{
    int rc;
    if (p->kind == WPLAN_MOVE) {
        rc = dm_buf_puts(out, "{\"TransactItems\":[{\"Put\":");
        rc = rc ? rc : move_put(w, p, out);
        rc = rc ? rc : dm_buf_puts(out, "}},{\"Delete\":");
        rc = rc ? rc : request(w, p, read, out);
        return rc ? rc : dm_buf_puts(out, "}}],\"ReturnConsumedCapacity\":\"TOTAL\"}");
    }
    rc = request(w, p, read, out);
    return rc ? rc : dm_buf_puts(out, ",\"ReturnConsumedCapacity\":\"TOTAL\"}");
}

int wr_put_plain_body(const wr_ctx *w, const ddb_item *next, dm_buf *out)
{
    int rc = head(w, out);
    rc = rc ? rc : item_part(next, out);
    return rc ? rc : dm_buf_puts(out, ",\"ReturnConsumedCapacity\":\"TOTAL\"}");
}

int wr_get_body(const wr_ctx *w, const ddb_item *it, dm_buf *out)
{
    int rc = head(w, out);
    rc = rc ? rc : key_part(w, it, out);
    return rc ? rc : dm_buf_puts(out, ",\"ConsistentRead\":true,\"ReturnConsumedCapacity\":\"TOTAL\"}");
}

int wr_batch_entry(const wr_ctx *w, const wplan *p, const ddb_item *read, dm_buf *out)
{
    if (p->kind == WPLAN_BATCH_DELETE) {
        int rc = dm_buf_puts(out, "{\"DeleteRequest\":{\"Key\":");
        rc = rc ? rc : wr_key_json(w, read, out);
        return rc ? rc : dm_buf_puts(out, "}}");
    }
    int rc = dm_buf_puts(out, "{\"PutRequest\":{\"Item\":");
    rc = rc ? rc : ddb_item_encode(&p->final, out);
    return rc ? rc : dm_buf_puts(out, "}}");
}

/* ---- PartiQL ---------------------------------------------------------------- */

/* "name" as a PartiQL identifier, with " doubled. Only printable ASCII
 * other than the backslash is spelled, since PartiQL's quoting of other
 * bytes is not something to rely on: DM_ERR_LIMIT sends the plan by
 * UpdateItem instead. */
static int pq_ident(dm_buf *s, const char *p, size_t n)
{
    /* DynamoDB Local refuses a quoted name that starts as an expression
     * placeholder would: such a statement would only fail and go again. */
    if (n && (p[0] == '#' || p[0] == ':'))
        return DM_ERR_LIMIT;
    int rc = dm_buf_putc(s, '"');
    for (size_t i = 0; !rc && i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c > 0x7e || c == '\\')
            return DM_ERR_LIMIT;
        rc = dm_buf_putc(s, (char)c);
        if (!rc && c == '"')
            rc = dm_buf_putc(s, '"');
    }
    return rc ? rc : dm_buf_putc(s, '"');
}

static int pq_param(dm_buf *params, int *n, const ddb_value *v)
{
    int rc = (*n)++ ? dm_buf_putc(params, ',') : DM_OK;
    return rc ? rc : ddb_value_encode(v, params);
}

/* `"name" = ?` (the value joins the parameters), or `"name" IS MISSING`
 * for an attribute read as absent. A guard compares only scalars this
 * way: PartiQL's equality of maps, lists and sets is left to UpdateItem. */
static int pq_term(dm_buf *st, dm_buf *params, int *n, const dm_str *name, const ddb_value *old)
{
    if (old && old->type != DDB_S && old->type != DDB_N && old->type != DDB_B && old->type != DDB_BOOL)
        return DM_ERR_LIMIT;
    int rc = dm_buf_puts(st, " AND ");
    rc = rc ? rc : pq_ident(st, name->p, name->n);
    if (!old)
        return rc ? rc : dm_buf_puts(st, " IS MISSING");
    rc = rc ? rc : dm_buf_puts(st, " = ?");
    return rc ? rc : pq_param(params, n, old);
}

static int pq_guard(const wr_ctx *w, const wplan *p, const ddb_item *read, dm_buf *st, dm_buf *params, int *n)
{
    if (p->guard != WPLAN_GUARD_VERSION && p->guard != WPLAN_GUARD_IMAGE)
        return DM_ERR_LIMIT; /* only guarded writes are batched */
    terms t;
    wplan_guard_attr g;
    int rc = DM_OK;
    terms_begin(&t, w, p, read);
    while (!rc && terms_next(&t, &g))
        rc = pq_term(st, params, n, &g.name, g.old);
    return rc;
}

/* UPDATE "t" SET "a" = ? ... REMOVE "b" ... WHERE "pk" = ? ... AND guard. */
static int pq_update(const wr_ctx *w, const wplan *p, const ddb_item *read, dm_buf *st, dm_buf *params, int *n)
{
    const ddb_diff *d = &p->diff;
    int rc = dm_buf_puts(st, "UPDATE ");
    rc = rc ? rc : pq_ident(st, w->table, strlen(w->table));
    for (size_t i = 0; !rc && i < d->n_set; i++) {
        const dm_str *nm = &p->final.names[d->set[i]];
        rc = dm_buf_puts(st, " SET ");
        rc = rc ? rc : pq_ident(st, nm->p, nm->n);
        rc = rc ? rc : dm_buf_puts(st, " = ?");
        rc = rc ? rc : pq_param(params, n, &p->final.values[d->set[i]]);
    }
    for (size_t i = 0; !rc && i < d->n_remove; i++) {
        rc = dm_buf_puts(st, " REMOVE ");
        rc = rc ? rc : pq_ident(st, d->remove[i].p, d->remove[i].n);
    }
    for (size_t k = 0; !rc && k < w->n_keys; k++) {
        const ddb_value *v = ddb_item_get(read, w->keys[k], strlen(w->keys[k]));
        if (!v)
            return DM_ERR_INVALID;
        rc = dm_buf_puts(st, k ? " AND " : " WHERE ");
        rc = rc ? rc : pq_ident(st, w->keys[k], strlen(w->keys[k]));
        rc = rc ? rc : dm_buf_puts(st, " = ?");
        rc = rc ? rc : pq_param(params, n, v);
    }
    return rc ? rc : pq_guard(w, p, read, st, params, n);
}

int wr_statement(const wr_ctx *w, const wplan *p, const ddb_item *read, dm_buf *out)
{
    if (p->kind != WPLAN_UPDATE || p->read_first)
        return DM_ERR_LIMIT;
    expr e;
    wr_scratch local, *s = begin(w, &local, &e);
    int n = 0;
    int rc = pq_update(w, p, read, &s->ue, &s->values, &n);
    if (!rc && (s->ue.len > DDB_STATEMENT_MAX_BYTES || n > WPLAN_MAX_OPERATORS))
        rc = DM_ERR_LIMIT;
    size_t mark = out->len;
    rc = rc ? rc : dm_buf_puts(out, "{\"Statement\":");
    rc = rc ? rc : ddb_json_put_string(out, s->ue.data, s->ue.len);
    rc = rc ? rc : dm_buf_puts(out, ",\"Parameters\":[");
    rc = rc ? rc : dm_buf_append(out, s->values.data, s->values.len);
    rc = rc ? rc : dm_buf_puts(out, "]}");
    if (rc && out->len > mark) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    end(s, &local);
    return rc;
}
