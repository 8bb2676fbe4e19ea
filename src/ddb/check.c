/* DynamoDB's rules for an item to be written, in one place: what the
 * service would refuse with a ValidationException, found before anything
 * is sent, so that an import can refuse bad input whole and a transform's
 * result can be refused with the attribute that breaks a rule.
 *
 * The limits are AWS's documented ones ("Supported data types and naming
 * rules", "Service, account, and table quotas"); where the documents leave
 * room (how nesting levels count, names repeated within a map) the rule
 * follows what DynamoDB Local, AWS's own implementation, refuses. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddbmig/item.h"

/* Sets of up to this many members are checked for duplicates pairwise;
 * larger ones are sorted (a set may hold a few hundred thousand members). */
#define PAIRWISE_MAX 16

typedef struct checker {
    dm_error *err;
    char path[320]; /* attribute path so far, as in tags[3].colors */
    size_t len;
    bool clipped;   /* the path did not fit; "..." stands for the rest */
    size_t clip_at; /* len before the "..." */
} checker;

/* ---- the attribute path --------------------------------------------------- */

static void path_add(checker *c, const char *s, size_t n)
{
    if (c->clipped)
        return;
    if (c->len + n + 4 > sizeof c->path) {
        c->clip_at = c->len;
        memcpy(c->path + c->len, "...", 4);
        c->len += 3;
        c->clipped = true;
        return;
    }
    memcpy(c->path + c->len, s, n);
    c->len += n;
    c->path[c->len] = '\0';
}

/* Appends a name as people can read it: control characters (the message
 * goes to a terminal) and the bytes of a name that is not UTF-8 become
 * '?', long names are cut at a character boundary, and an empty name
 * shows as "". */
static size_t path_push_name(checker *c, const char *name, size_t n)
{
    size_t old = c->len;
    char comp[80];
    size_t o = 0;
    if (c->len > 0)
        comp[o++] = '.';
    if (n == 0) {
        memcpy(comp + o, "\"\"", 2);
        o += 2;
    }
    size_t take = n > 48 ? 48 : n;
    while (take > 0 && take < n && ((unsigned char)name[take] & 0xC0) == 0x80)
        take--; /* do not split a UTF-8 sequence */
    bool text = ddb_utf8_valid(name, take);
    for (size_t i = 0; i < take; i++) {
        unsigned char ch = (unsigned char)name[i];
        comp[o++] = ch < 0x20 || ch == 0x7F || (ch >= 0x80 && !text) ? '?' : (char)ch;
    }
    if (take < n) {
        memcpy(comp + o, "...", 3);
        o += 3;
    }
    path_add(c, comp, o);
    return old;
}

static size_t path_push_index(checker *c, size_t i)
{
    size_t old = c->len;
    char comp[32];
    int n = snprintf(comp, sizeof comp, "[%zu]", i);
    path_add(c, comp, (size_t)n);
    return old;
}

static void path_pop(checker *c, size_t old)
{
    if (c->clipped && old <= c->clip_at)
        c->clipped = false;
    c->len = old;
    c->path[old] = '\0';
}

static int fail(checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(checker *c, const char *fmt, ...)
{
    char rule[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rule, sizeof rule, fmt, ap);
    va_end(ap);
    return dm_error_set(c->err, DM_ERR_INVALID, "attribute %s: %s", c->path, rule);
}

/* ---- duplicates ------------------------------------------------------------ */

typedef struct member {
    const char *p;
    size_t n;
    size_t index;   /* position in the set or map */
    ddb_number num; /* NS members */
} member;

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int r = memcmp(a, b, an < bn ? an : bn);
    return r ? r : (an > bn) - (an < bn);
}

static int cmp_bytes(const void *x, const void *y)
{
    const member *a = x, *b = y;
    int r = bytes_cmp(a->p, a->n, b->p, b->n);
    return r ? r : (a->index > b->index) - (a->index < b->index);
}

static int cmp_numbers(const void *x, const void *y)
{
    const member *a = x, *b = y;
    int r = ddb_number_cmp(&a->num, &b->num);
    return r ? r : (a->index > b->index) - (a->index < b->index);
}

static bool same(const member *a, const member *b, bool numbers)
{
    return numbers ? ddb_number_cmp(&a->num, &b->num) == 0 : bytes_cmp(a->p, a->n, b->p, b->n) == 0;
}

/* Finds two equal members of m[0..n) (which it may reorder); *first and
 * *second get their positions, first < second. */
static bool find_duplicate(member *m, size_t n, bool numbers, size_t *first, size_t *second)
{
    if (n <= PAIRWISE_MAX) {
        for (size_t j = 1; j < n; j++)
            for (size_t i = 0; i < j; i++)
                if (same(&m[i], &m[j], numbers)) {
                    *first = m[i].index;
                    *second = m[j].index;
                    return true;
                }
        return false;
    }
    qsort(m, n, sizeof *m, numbers ? cmp_numbers : cmp_bytes);
    /* Equal members end up adjacent, ordered by position; report the pair
     * whose later member comes first in the set, as the pairwise scan does. */
    bool found = false;
    for (size_t i = 1; i < n; i++)
        if (same(&m[i - 1], &m[i], numbers) && (!found || m[i].index < *second)) {
            *first = m[i - 1].index;
            *second = m[i].index;
            found = true;
        }
    return found;
}

static member *members_new(size_t n, member *small)
{
    return n <= PAIRWISE_MAX ? small : malloc(n * sizeof(member));
}

static void members_free(member *m, const member *small)
{
    if (m != small)
        free(m);
}

/* ---- values ---------------------------------------------------------------- */

static int check_value(checker *c, const ddb_value *v, int level);

static int check_name(checker *c, const dm_str *name)
{
    if (name->n == 0)
        return fail(c, "empty attribute name");
    if (name->n > DDB_MAX_NAME_BYTES)
        return fail(c, "a name of %zu bytes; DynamoDB allows at most %d", name->n, DDB_MAX_NAME_BYTES);
    if (!ddb_utf8_valid(name->p, name->n))
        return fail(c, "the name is not valid UTF-8");
    return DM_OK;
}

/* Names and values of a map (or of the item, at level 0). */
static int check_map(checker *c, const dm_str *names, const ddb_value *values, size_t n, int level)
{
    for (size_t i = 0; i < n; i++) {
        size_t old = path_push_name(c, names[i].p, names[i].n);
        int rc = check_name(c, &names[i]);
        rc = rc ? rc : check_value(c, &values[i], level + 1);
        if (rc)
            return rc;
        path_pop(c, old);
    }
    member small[PAIRWISE_MAX], *m = members_new(n, small);
    if (!m)
        return dm_error_set(c->err, DM_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        m[i] = (member){.p = names[i].p, .n = names[i].n, .index = i};
    size_t first = 0, second = 0;
    bool dup = find_duplicate(m, n, false, &first, &second);
    members_free(m, small);
    if (!dup)
        return DM_OK;
    size_t old = path_push_name(c, names[second].p, names[second].n);
    int rc = fail(c, "the name appears twice in the same %s; DynamoDB would keep only one",
                  level == 0 ? "item" : "map");
    path_pop(c, old);
    return rc;
}

static int check_set(checker *c, const ddb_value *v)
{
    ddb_type want = v->type == DDB_SS ? DDB_S : v->type == DDB_NS ? DDB_N : DDB_B;
    if (v->n == 0)
        return fail(c, "empty set; DynamoDB stores no empty sets");
    member small[PAIRWISE_MAX], *m = members_new(v->n, small);
    if (!m)
        return dm_error_set(c->err, DM_ERR_NOMEM, "out of memory");
    int rc = DM_OK;
    for (size_t i = 0; rc == DM_OK && i < v->n; i++) {
        const ddb_value *x = &v->items[i];
        m[i] = (member){.p = x->data, .n = x->len, .index = i};
        const char *why = NULL;
        if (x->type != want)
            rc = fail(c, "member [%zu] is %s in a set of type %s", i, ddb_type_name(x->type), ddb_type_name(v->type));
        else if (want == DDB_S && !ddb_utf8_valid(x->data, x->len))
            rc = fail(c, "member [%zu] is not valid UTF-8", i);
        else if (want == DDB_N && ddb_number_parse(x->data, x->len, &m[i].num, &why) != DM_OK)
            rc = fail(c, "member [%zu] is not a valid number: %s", i, why);
    }
    size_t first = 0, second = 0;
    if (rc == DM_OK && find_duplicate(m, v->n, want == DDB_N, &first, &second))
        rc = fail(c, "members [%zu] and [%zu] are the same%s; a set holds each value once", first, second,
                  want == DDB_N ? " number" : "");
    members_free(m, small);
    return rc;
}

static int check_value(checker *c, const ddb_value *v, int level)
{
    const char *why = NULL;
    ddb_number num;
    switch (v->type) {
    case DDB_S:
        return ddb_utf8_valid(v->data, v->len) ? DM_OK : fail(c, "the string is not valid UTF-8");
    case DDB_N:
        return ddb_number_parse(v->data, v->len, &num, &why) == DM_OK ? DM_OK : fail(c, "not a valid number: %s", why);
    case DDB_B: case DDB_BOOL: case DDB_NULL: return DM_OK;
    case DDB_SS: case DDB_NS: case DDB_BS: return check_set(c, v);
    case DDB_M: case DDB_L: break;
    default: return fail(c, "unknown attribute type");
    }
    if (level >= DDB_MAX_DEPTH)
        return fail(c, "a %s on level %d, counting the attribute as level 1; DynamoDB allows maps and lists down "
                    "to level %d only", v->type == DDB_M ? "map" : "list", level, DDB_MAX_DEPTH - 1);
    if (v->type == DDB_M)
        return check_map(c, v->names, v->items, v->n, level);
    for (size_t i = 0; i < v->n; i++) {
        size_t old = path_push_index(c, i);
        int rc = check_value(c, &v->items[i], level + 1);
        if (rc)
            return rc;
        path_pop(c, old);
    }
    return DM_OK;
}

/* ---- keys ------------------------------------------------------------------ */

static int check_key(checker *c, const ddb_item *it, const ddb_key_def *k, bool required, const char *role)
{
    if (!k->name)
        return DM_OK;
    size_t len = strlen(k->name);
    const ddb_value *v = ddb_item_get(it, k->name, len);
    size_t old = path_push_name(c, k->name, len);
    int rc = DM_OK;
    size_t max = k->range ? DDB_MAX_RANGE_KEY_BYTES : DDB_MAX_HASH_KEY_BYTES;
    const char *kind = k->range ? "sort" : "partition";
    if (!v) {
        if (required)
            rc = fail(c, "missing; it is the table's %s key (%s)", kind, ddb_type_name(k->type));
    } else if (v->type != k->type) {
        rc = fail(c, "type %s, but it is %s %s key of type %s", ddb_type_name(v->type), role, kind,
                  ddb_type_name(k->type));
    } else if (v->type != DDB_N && v->len == 0) {
        rc = fail(c, "empty, but it is %s %s key; a key value has at least 1 byte", role, kind);
    } else if (v->len > max) {
        rc = fail(c, "%zu bytes; %s %s key value has at most %zu bytes", v->len, role, kind, max);
    }
    path_pop(c, old);
    return rc;
}

int ddb_item_check(const ddb_item *it, const ddb_key_schema *keys, dm_error *err)
{
    checker c = {.err = err};
    int rc = DM_OK;
    if (keys) {
        rc = check_key(&c, it, &keys->hash, true, "the table's");
        rc = rc ? rc : check_key(&c, it, &keys->range, true, "the table's");
        for (size_t i = 0; rc == DM_OK && i < keys->n_index && i < DDB_MAX_INDEX_KEYS; i++)
            rc = check_key(&c, it, &keys->index[i], false, "a secondary index's");
    }
    rc = rc ? rc : check_map(&c, it->names, it->values, it->n, 0);
    if (rc)
        return rc;
    size_t size = ddb_item_size(it);
    if (size > DDB_MAX_ITEM_BYTES)
        return dm_error_set(err, DM_ERR_INVALID,
                            "the item is %zu bytes as DynamoDB counts them; the limit is 400 KB (%d bytes)", size,
                            DDB_MAX_ITEM_BYTES);
    return DM_OK;
}
