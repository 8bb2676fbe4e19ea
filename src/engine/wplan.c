/* Write plans and conflict verdicts; the rules are in wplan.h. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wplan.h"

/* Expression cost of one guard term, at most: placeholders are "#n" and
 * ":v" with up to four digits. */
#define COST_EQ_BYTES 20     /* "#n9999 = :v9999 AND " */
#define COST_ABSENT_BYTES 33 /* "attribute_not_exists(#n9999) AND " */
#define COST_EXISTS_BYTES 29 /* "attribute_exists(#n9999) AND " */
#define COST_SET_BYTES 17    /* "#n9999 = :v9999, " */
#define COST_REMOVE_BYTES 8  /* "#n9999, " */
#define OPS_PER_TERM 2       /* a comparison or function, and its AND */

static bool name_is(const dm_str *n, const char *s)
{
    size_t l = strlen(s);
    return n->n == l && memcmp(n->p, s, l) == 0;
}

static bool is_key(const wplan_rules *r, const dm_str *n)
{
    for (size_t k = 0; k < r->n_keys; k++)
        if (name_is(n, r->keys[k]))
            return true;
    return false;
}

/* The plan becomes an item error; fmt has one %s for arg. */
static int fail(wplan *p, const char *fmt, const char *arg)
{
    char text[1280]; /* room for a whole dm_error message */
    snprintf(text, sizeof text, fmt, arg ? arg : "");
    p->kind = WPLAN_FAIL;
    p->message = p->arena_ ? dm_arena_strndup(p->arena_, text, strlen(text)) : NULL;
    if (!p->message)
        p->message = "the script's item cannot be written (out of memory describing why)";
    return DM_OK;
}

bool wplan_has_marker(const wplan_rules *r, const ddb_item *it)
{
    if (!r->marker || !it)
        return false;
    const ddb_value *v = ddb_item_get(it, r->marker, strlen(r->marker));
    return v && v->type == DDB_S && v->len == strlen(r->migration) && memcmp(v->data, r->migration, v->len) == 0;
}

/* ---- the final item ------------------------------------------------------- */

/* A copy of it with name set to v (replacing or appending). */
static int with_attr(const ddb_item *it, const char *name, const ddb_value *v, dm_arena *a, ddb_item *out)
{
    size_t n = strlen(name);
    ddb_item o = {.names = dm_arena_alloc(a, (it->n + 1) * sizeof *o.names),
                  .values = dm_arena_alloc(a, (it->n + 1) * sizeof *o.values)};
    if (!o.names || !o.values)
        return DM_ERR_NOMEM;
    for (size_t i = 0; i < it->n; i++) {
        if (it->names[i].n == n && memcmp(it->names[i].p, name, n) == 0)
            continue;
        o.names[o.n] = it->names[i];
        o.values[o.n++] = it->values[i];
    }
    o.names[o.n] = (dm_str){name, n};
    o.values[o.n++] = *v;
    *out = o;
    return DM_OK;
}

/* The version after v: v + 1 for an integer, 1 when absent. */
static int next_version(const ddb_value *v, dm_arena *a, ddb_value *out, bool *ok)
{
    long long n = 0;
    *ok = true;
    if (v) {
        char tmp[32], *end;
        if (v->type != DDB_N || v->len == 0 || v->len >= sizeof tmp) {
            *ok = false;
            return DM_OK;
        }
        memcpy(tmp, v->data, v->len);
        tmp[v->len] = '\0';
        n = strtoll(tmp, &end, 10);
        if (*end || n < 0 || n == INT64_MAX) {
            *ok = false;
            return DM_OK;
        }
    }
    char *text = dm_arena_alloc(a, 24);
    if (!text)
        return DM_ERR_NOMEM;
    int len = snprintf(text, 24, "%lld", n + 1);
    *out = (ddb_value){.type = DDB_N, .data = text, .len = (size_t)len};
    return DM_OK;
}

/* next with the marker and the version set. */
static int make_final(const wplan_rules *r, const ddb_item *read, const ddb_item *next, dm_arena *a, wplan *p)
{
    p->final = *next;
    int rc = DM_OK;
    if (r->marker) {
        ddb_value m = {.type = DDB_S, .data = r->migration, .len = strlen(r->migration)};
        rc = with_attr(&p->final, r->marker, &m, a, &p->final);
    }
    if (rc == DM_OK && r->version_attr && !r->copy) {
        bool ok;
        ddb_value v;
        p->version_read = ddb_item_get(read, r->version_attr, strlen(r->version_attr));
        rc = next_version(p->version_read, a, &v, &ok);
        if (rc == DM_OK && !ok)
            return fail(p, "the version attribute '%s' is not a whole number from 0 up", r->version_attr);
        if (rc == DM_OK)
            rc = with_attr(&p->final, r->version_attr, &v, a, &p->final);
    }
    return rc;
}

/* DynamoDB's item rules (ddb_item_check) on what the write sends: the
 * whole item into another table, else the keys and the values the script
 * changed (the rest came from DynamoDB as it is). */
static int check_final(const wplan_rules *r, wplan *p, bool whole, dm_arena *a)
{
    ddb_item part = p->final;
    dm_str names[32];
    ddb_value values[32];
    if (!whole) {
        /* The part checked is gone once checked: on the stack when small. */
        bool small = p->final.n <= 32;
        part.names = small ? names : dm_arena_alloc(a, (p->final.n + 1) * sizeof *part.names);
        part.values = small ? values : dm_arena_alloc(a, (p->final.n + 1) * sizeof *part.values);
        if (!part.names || !part.values)
            return DM_ERR_NOMEM;
        part.n = 0;
        for (size_t i = 0; i < p->final.n; i++) {
            bool changed = is_key(r, &p->final.names[i]);
            for (size_t k = 0; !changed && k < p->diff.n_set; k++)
                changed = p->diff.set[k] == i;
            if (changed) {
                part.names[part.n] = p->final.names[i];
                part.values[part.n++] = p->final.values[i];
            }
        }
    }
    dm_error e = {0};
    if (ddb_item_check(&part, r->schema, &e) != DM_OK)
        return fail(p, "%s", e.message);
    return DM_OK;
}

/* ---- guards --------------------------------------------------------------- */

typedef struct budget {
    size_t bytes, ops;
} budget;

static bool take(budget *b, size_t bytes, size_t ops)
{
    if (b->bytes + bytes > WPLAN_MAX_EXPR_BYTES || b->ops + ops > WPLAN_MAX_OPERATORS)
        return false;
    b->bytes += bytes;
    b->ops += ops;
    return true;
}

static bool same(const dm_str *a, const dm_str *b) { return a->n == b->n && memcmp(a->p, b->p, a->n) == 0; }

void wplan_guard_begin(wplan_guard_iter *it, const wplan_rules *r, const wplan *p, const ddb_item *read)
{
    *it = (wplan_guard_iter){.r = r, .p = p, .read = read};
}

/* Whether read's attribute n was listed before WPLAN_FROM_READ. */
static bool listed_early(const wplan_guard_iter *it, const dm_str *n)
{
    const wplan *p = it->p;
    for (size_t k = 0; k < p->diff.n_set; k++)
        if (same(&p->final.names[p->diff.set[k]], n))
            return true;
    for (size_t k = 0; k < p->diff.n_remove; k++)
        if (same(&p->diff.remove[k], n))
            return true;
    return it->r->marker && name_is(n, it->r->marker);
}

/* Whether an update may leave read's attribute i out of its guard: the
 * script never looked at it. A delete or a move takes the whole item. */
static bool unseen(const wplan *p, size_t i)
{
    return p->kind == WPLAN_UPDATE && !p->saw_all && p->seen && !p->seen[i];
}

bool wplan_guard_next(wplan_guard_iter *it, wplan_guard_attr *out)
{
    const wplan *p = it->p;
    for (;;) {
        dm_str n;
        switch (it->from) {
        case WPLAN_FROM_SET:
            if (it->i >= p->diff.n_set) {
                it->from = WPLAN_FROM_REMOVE;
                it->i = 0;
                continue;
            }
            n = p->final.names[p->diff.set[it->i]];
            break;
        case WPLAN_FROM_REMOVE:
            if (it->i >= p->diff.n_remove) {
                it->from = WPLAN_FROM_MARKER;
                it->i = 0;
                continue;
            }
            n = p->diff.remove[it->i];
            break;
        case WPLAN_FROM_MARKER: {
            dm_str m = {it->r->marker, it->r->marker ? strlen(it->r->marker) : 0};
            it->i = 0;
            it->from = WPLAN_FROM_ABSENT;
            bool written = false;
            for (size_t k = 0; m.p && k < p->diff.n_set; k++)
                written = written || same(&p->final.names[p->diff.set[k]], &m);
            if (!m.p || written)
                continue;
            *out = (wplan_guard_attr){m, ddb_item_get(it->read, m.p, m.n), WPLAN_FROM_MARKER, 0};
            return true;
        }
        case WPLAN_FROM_ABSENT:
            if (it->i >= p->n_absent) {
                it->from = WPLAN_FROM_READ;
                it->i = 0;
                continue;
            }
            n = p->absent[it->i++];
            /* Already named (set by the script), or in the image after all
             * (the script removed it, then looked): listed elsewhere. */
            if (is_key(it->r, &n) || ddb_item_get(it->read, n.p, n.n) || listed_early(it, &n))
                continue;
            *out = (wplan_guard_attr){n, NULL, WPLAN_FROM_ABSENT, it->i - 1};
            return true;
        default:
            if (it->i >= it->read->n)
                return false;
            n = it->read->names[it->i];
            if (is_key(it->r, &n) || unseen(p, it->i) || listed_early(it, &n)) {
                it->i++;
                continue;
            }
            *out = (wplan_guard_attr){n, &it->read->values[it->i], WPLAN_FROM_READ, it->i};
            it->i++;
            return true;
        }
        size_t k = it->i++;
        if (is_key(it->r, &n))
            continue;
        *out = (wplan_guard_attr){n, ddb_item_get(it->read, n.p, n.n), it->from, k};
        return true;
    }
}

/* The image (all of it, or what an update's script saw: wplan_guard_next):
 * what the write touches (and the marker) must fit, the rest follows as
 * far as it fits. */
static int image_guard(const wplan_rules *r, const ddb_item *read, wplan *p)
{
    budget b = {0};
    take(&b, COST_EXISTS_BYTES, OPS_PER_TERM);
    wplan_guard_iter it;
    wplan_guard_attr g;
    wplan_guard_begin(&it, r, p, read);
    p->guard = WPLAN_GUARD_IMAGE;
    p->n_guard = 0;
    while (wplan_guard_next(&it, &g)) {
        if (take(&b, g.old ? COST_EQ_BYTES : COST_ABSENT_BYTES, OPS_PER_TERM)) {
            p->n_guard++;
            continue;
        }
        if (g.from != WPLAN_FROM_READ)
            return fail(p, "the write touches more attributes than one guarded request can name (DynamoDB's "
                           "expression limits); give the table a version attribute and use --version-attribute%s",
                        NULL);
        p->guard_partial = true;
        /* What the script read and the condition cannot name could change
         * unseen: the update first reads the item, as a delete does. */
        if (p->kind == WPLAN_UPDATE)
            p->read_first = true;
        break;
    }
    return DM_OK;
}

static int set_guard(const wplan_rules *r, const ddb_item *read, dm_arena *a, wplan *p)
{
    if (r->version_attr) {
        p->guard = WPLAN_GUARD_VERSION;
        return DM_OK;
    }
    return image_guard(r, read, p);
}

static bool update_fits(const ddb_diff *d)
{
    budget b = {0};
    return take(&b, 8 + d->n_set * COST_SET_BYTES + d->n_remove * COST_REMOVE_BYTES, d->n_set + d->n_remove);
}

/* ---- deciding ------------------------------------------------------------- */

static bool has_keys(const wplan_rules *r, const ddb_item *it, wplan *p)
{
    for (size_t k = 0; k < r->n_keys; k++)
        if (!ddb_item_get(it, r->keys[k], strlen(r->keys[k]))) {
            fail(p, "the script's item lacks the key attribute '%s'", r->keys[k]);
            return false;
        }
    return true;
}

static int decide_copy(const wplan_rules *r, const ddb_item *read, const lua_result *res, dm_arena *a, wplan *p)
{
    if (res->outcome == LUA_DELETE) {
        p->kind = WPLAN_NOTHING;
        p->counts_as = WPLAN_COUNT_DELETED;
        return DM_OK;
    }
    const ddb_item *next = res->outcome == LUA_WRITE ? &res->item : read;
    if (!has_keys(r, next, p))
        return DM_OK;
    p->counts_as = ddb_item_equal(read, next) ? WPLAN_COUNT_UNCHANGED : WPLAN_COUNT_CHANGED;
    p->kind = r->mode == ENGINE_WRITE_BATCH ? WPLAN_BATCH_PUT : WPLAN_COPY;
    int rc = make_final(r, read, next, a, p);
    if (rc || p->kind == WPLAN_FAIL || !r->schema)
        return rc;
    return check_final(r, p, true, a);
}

static int decide_delete(const wplan_rules *r, const ddb_item *read, dm_arena *a, wplan *p)
{
    p->counts_as = WPLAN_COUNT_DELETED;
    if (r->mode == ENGINE_WRITE_BATCH) {
        p->kind = WPLAN_BATCH_DELETE;
        return DM_OK;
    }
    p->kind = WPLAN_DELETE;
    p->final = (ddb_item){0};
    if (r->version_attr) {
        p->guard = WPLAN_GUARD_VERSION;
        p->version_read = ddb_item_get(read, r->version_attr, strlen(r->version_attr));
        return DM_OK;
    }
    p->read_first = true;
    p->diff = (ddb_diff){0};
    return image_guard(r, read, p);
}

static int decide_write(const wplan_rules *r, const ddb_item *read, const ddb_item *next, const ddb_diff *d,
                        dm_arena *a, wplan *p)
{
    int rc = make_final(r, read, next, a, p);
    if (rc || p->kind == WPLAN_FAIL)
        return rc;
    if (ddb_item_size(&p->final) > DDB_MAX_ITEM_BYTES) {
        char size[32];
        snprintf(size, sizeof size, "%zu", ddb_item_size(&p->final));
        return fail(p, "the new item is %s bytes, over DynamoDB's 400 KB limit", size);
    }
    /* Without a marker or a version, final is next: its diff is known. */
    if (p->final.names == next->names && p->final.n == next->n)
        p->diff = *d;
    else if ((rc = ddb_diff_compute(read, &p->final, r->keys, r->n_keys, a, &p->diff)) != DM_OK)
        return rc;
    if (r->schema && ((rc = check_final(r, p, false, a)) != DM_OK || p->kind == WPLAN_FAIL))
        return rc;
    if (p->diff.key_changed) {
        p->kind = WPLAN_MOVE;
        p->counts_as = WPLAN_COUNT_MOVED;
        if (r->mode == ENGINE_WRITE_BATCH)
            return DM_OK; /* unguarded delete; the put still needs a free key */
        p->read_first = !r->version_attr;
        return set_guard(r, read, a, p);
    }
    p->counts_as = WPLAN_COUNT_CHANGED;
    if (r->mode == ENGINE_WRITE_BATCH) {
        p->kind = WPLAN_BATCH_PUT;
        return DM_OK;
    }
    if (!update_fits(&p->diff)) {
        if (!r->version_attr)
            return fail(p, "the change touches more attributes than one UpdateItem can carry (DynamoDB's "
                           "expression limits); give the table a version attribute and use --version-attribute%s",
                        NULL);
        p->kind = WPLAN_PUT;
        p->guard = WPLAN_GUARD_VERSION;
        return DM_OK;
    }
    p->kind = WPLAN_UPDATE;
    return set_guard(r, read, a, p);
}

int wplan_decide(const wplan_rules *r, const ddb_item *read, const lua_result *res, dm_arena *a, wplan *out)
{
    memset(out, 0, sizeof *out);
    out->arena_ = a;
    out->absent = res->absent;
    out->n_absent = res->n_absent;
    out->seen = res->saw_all ? NULL : res->seen;
    out->saw_all = res->saw_all || !res->seen;
    if (r->copy)
        return decide_copy(r, read, res, a, out);
    if (res->outcome == LUA_UNCHANGED)
        return DM_OK;
    if (res->outcome == LUA_DELETE)
        return decide_delete(r, read, a, out);
    if (!has_keys(r, &res->item, out))
        return DM_OK;
    /* Whether the script changed anything is judged without the marker
     * and the version, which only ride along with a change. */
    ddb_diff d;
    int rc = ddb_diff_compute(read, &res->item, r->keys, r->n_keys, a, &d);
    if (rc || ddb_diff_empty(&d))
        return rc;
    return decide_write(r, read, &res->item, &d, a, out);
}

/* ---- verdicts ------------------------------------------------------------- */

bool wplan_in_place(const wplan *p, const ddb_item *now)
{
    if (p->kind == WPLAN_DELETE || p->kind == WPLAN_BATCH_DELETE)
        return now == NULL;
    if (!now)
        return false;
    for (size_t i = 0; i < p->final.n; i++) {
        const ddb_value *v = ddb_item_get(now, p->final.names[i].p, p->final.names[i].n);
        if (!v || !ddb_value_equal(v, &p->final.values[i]))
            return false;
    }
    for (size_t i = 0; i < p->diff.n_remove; i++)
        if (ddb_item_get(now, p->diff.remove[i].p, p->diff.remove[i].n))
            return false;
    return true;
}

/* The item as it is now, after a failed condition. */
static wplan_verdict judge(const wplan_rules *r, const wplan *p, const ddb_item *now, int conflicts, int max,
                           const ddb_item **current)
{
    if (!now)
        return WPLAN_GONE;
    if (wplan_has_marker(r, now) || (p->kind != WPLAN_DELETE && wplan_in_place(p, now)))
        return WPLAN_DONE;
    if (conflicts + 1 > max)
        return WPLAN_GIVE_UP;
    *current = now;
    return WPLAN_RERUN;
}

static bool code_is(const ddb_cancel_reason *c, const char *code)
{
    return c->code.p && name_is(&c->code, code);
}

/* Codes that say nothing about the item itself: a condition, a
 * conflicting transaction, throttling. */
static bool passing(const ddb_cancel_reason *c)
{
    static const char *const ok[] = {"None", "ConditionalCheckFailed", "TransactionConflict", "ThrottlingError",
                                      "ProvisionedThroughputExceeded", "RequestLimitExceeded", NULL};
    if (!c->code.p)
        return true;
    for (int i = 0; ok[i]; i++)
        if (code_is(c, ok[i]))
            return true;
    return false;
}

/* A cancelled move: reason 0 is the put of the new key, 1 the delete of
 * the old one. */
static wplan_verdict judge_move(const wplan_rules *r, const wplan *p, const ddb_answer *ans, int conflicts, int max,
                                const ddb_item **current)
{
    if (ans->n_reasons < 2)
        return WPLAN_FETCH;
    const ddb_cancel_reason *put = &ans->reasons[0], *del = &ans->reasons[1];
    for (size_t k = 0; k < 2; k++)
        if (!passing(&ans->reasons[k]))
            return WPLAN_REFUSED;
    bool put_failed = code_is(put, "ConditionalCheckFailed");
    bool del_failed = code_is(del, "ConditionalCheckFailed");
    if (!put_failed && !del_failed)
        return WPLAN_FETCH; /* a conflicting transaction or throttling: look again */
    if (del_failed && del->has_item)
        return judge(r, p, &del->item, conflicts, max, current);
    if (del_failed) {
        /* The old item is gone: moved by an earlier attempt whose answer
         * was lost, when the new key holds what the move wrote. */
        if (put_failed && put->has_item && wplan_in_place(p, &put->item))
            return WPLAN_DONE;
        return WPLAN_GONE;
    }
    return WPLAN_TARGET_TAKEN;
}

wplan_verdict wplan_on_conflict(const wplan_rules *r, const wplan *p, const ddb_answer *ans, int conflicts,
                                int max_conflicts, const ddb_item **current)
{
    *current = NULL;
    if (p->kind == WPLAN_MOVE)
        return judge_move(r, p, ans, conflicts, max_conflicts, current);
    if (!ans->has_item)
        return WPLAN_FETCH;
    return judge(r, p, &ans->item, conflicts, max_conflicts, current);
}

wplan_verdict wplan_on_fetch(const wplan_rules *r, const wplan *p, const ddb_item *now, int conflicts,
                             int max_conflicts, const ddb_item **current)
{
    *current = NULL;
    if (p->kind == WPLAN_MOVE && !now)
        return WPLAN_GONE;
    return judge(r, p, now, conflicts, max_conflicts, current);
}

wplan_verdict wplan_on_fresh_read(const wplan_rules *r, const ddb_item *read, const ddb_item *now,
                                  const ddb_item **current)
{
    (void)r;
    *current = NULL;
    if (!now)
        return WPLAN_GONE;
    if (ddb_item_equal(read, now))
        return WPLAN_PROCEED;
    *current = now;
    return WPLAN_RERUN;
}

/* ---- writes in doubt -------------------------------------------------------- */

bool wplan_doubtful(const wplan *p) { return p->kind == WPLAN_UPDATE || p->kind == WPLAN_PUT; }

int wplan_wrote_json(const wplan *p, dm_buf *out)
{
    int rc = dm_buf_puts(out, "{\"set\":{");
    for (size_t i = 0; !rc && i < p->diff.n_set; i++) {
        size_t k = p->diff.set[i];
        rc = i ? dm_buf_putc(out, ',') : DM_OK;
        rc = rc ? rc : ddb_json_put_string(out, p->final.names[k].p, p->final.names[k].n);
        rc = rc ? rc : dm_buf_putc(out, ':');
        rc = rc ? rc : ddb_value_encode(&p->final.values[k], out);
    }
    rc = rc ? rc : dm_buf_puts(out, "},\"remove\":[");
    for (size_t i = 0; !rc && i < p->diff.n_remove; i++) {
        rc = i ? dm_buf_putc(out, ',') : DM_OK;
        rc = rc ? rc : ddb_json_put_string(out, p->diff.remove[i].p, p->diff.remove[i].n);
    }
    return rc ? rc : dm_buf_puts(out, "]}");
}

/* The record's parts: what it set (decoded into a), what it removed. */
typedef struct wrote {
    ddb_item set;
    json_t *remove; /* the array; owned by doc */
    json_t *doc;    /* owned */
} wrote;

static int wrote_parse(const char *text, size_t len, dm_arena *a, wrote *w, dm_error *err)
{
    memset(w, 0, sizeof *w);
    w->doc = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    json_t *set = json_object_get(w->doc, "set");
    w->remove = json_object_get(w->doc, "remove");
    if (!json_is_object(set) || !json_is_array(w->remove) || json_object_size(w->doc) != 2)
        return dm_error_set(err, DM_ERR_PARSE, "a write in doubt that is not {\"set\": {...}, \"remove\": [...]}");
    if (!json_object_size(set) && !json_array_size(w->remove))
        return dm_error_set(err, DM_ERR_PARSE, "a write in doubt that wrote nothing");
    for (size_t i = 0; i < json_array_size(w->remove); i++)
        if (!json_is_string(json_array_get(w->remove, i)))
            return dm_error_set(err, DM_ERR_PARSE, "a write in doubt whose remove list holds a non-string");
    /* The item borrows its text: the text goes into the arena. */
    char *st = json_dumps(set, JSON_COMPACT);
    char *copy = st ? dm_arena_strndup(a, st, strlen(st)) : NULL;
    free(st);
    dm_error e = {0};
    int rc = copy ? ddb_item_decode(copy, strlen(copy), a, &w->set, NULL, &e) : DM_ERR_NOMEM;
    if (rc)
        return dm_error_set(err, DM_ERR_PARSE, "a write in doubt whose set is not DynamoDB JSON (%s)", e.message);
    return DM_OK;
}

int wplan_wrote_check(const char *text, size_t len, dm_error *err)
{
    dm_arena *a = dm_arena_new(0);
    wrote w = {0};
    int rc = a ? wrote_parse(text, len, a, &w, err) : dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    json_decref(w.doc);
    dm_arena_free(a);
    return rc;
}

bool wplan_wrote_in_place(const char *text, size_t len, const ddb_item *now)
{
    dm_arena *a = dm_arena_new(0);
    wrote w = {0};
    bool in = a && wrote_parse(text, len, a, &w, NULL) == DM_OK;
    for (size_t i = 0; in && i < w.set.n; i++) {
        const ddb_value *v = ddb_item_get(now, w.set.names[i].p, w.set.names[i].n);
        in = v && ddb_value_equal(v, &w.set.values[i]);
    }
    for (size_t i = 0; in && i < json_array_size(w.remove); i++) {
        json_t *n = json_array_get(w.remove, i);
        in = !ddb_item_get(now, json_string_value(n), json_string_length(n));
    }
    json_decref(w.doc);
    dm_arena_free(a);
    return in;
}
