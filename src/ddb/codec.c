/* DynamoDB JSON, decoded and encoded by hand: numbers stay text, binary is
 * base64-decoded once, and each value remembers the span of JSON it came
 * from so that unchanged attributes are written back verbatim.
 *
 * Decoded strings without escapes point into the source text; the rest
 * lives in the arena. Both must outlive the item. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddbmig/item.h"
#include "common/crypto.h"

typedef struct jcur {
    const char *p, *end, *start;
    dm_arena *a;
    dm_error *err;
    char path[256]; /* attribute path of a failure, built on the way out */
    const char *why;
    size_t at;
} jcur;

static int fail(jcur *j, const char *why)
{
    if (!j->why) {
        j->why = why;
        j->at = (size_t)(j->p - j->start);
    }
    return DM_ERR_PARSE;
}

static int nomem(jcur *j) { return fail(j, "out of memory"), DM_ERR_NOMEM; }

/* Prepends a path component after a child failed. */
static void path_push(jcur *j, const char *name, size_t len, long index)
{
    char comp[96];
    if (name)
        snprintf(comp, sizeof comp, "%.*s%s", (int)(len > 64 ? 64 : len), name,
                 j->path[0] && j->path[0] != '[' ? "." : "");
    else
        snprintf(comp, sizeof comp, "[%ld]", index);
    size_t cl = strlen(comp), pl = strlen(j->path);
    if (cl + pl >= sizeof j->path)
        return;
    memmove(j->path + cl, j->path, pl + 1);
    memcpy(j->path, comp, cl);
}

static void ws(jcur *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static bool eat(jcur *j, char c)
{
    ws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return true;
    }
    return false;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 sequence at p, or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned min;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0)
        n = 2, min = 0x80, c &= 0x1F;
    else if ((c & 0xF0) == 0xE0)
        n = 3, min = 0x800, c &= 0x0F;
    else if ((c & 0xF8) == 0xF0)
        n = 4, min = 0x10000, c &= 0x07;
    else
        return 0;
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    return n;
}

/* Eight bytes at a time where text is plain ASCII, which most is: the
 * page decoder and the item checks go over every string of every item. */
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static uint64_t load8(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* Non-zero when some byte of w may be zero (exact for the lowest such
 * byte; a byte above it may be reported too, which only sends the caller
 * to its byte-by-byte path). */
static uint64_t may_have_zero(uint64_t w)
{
    return (w - ONES) & ~w & HIGHS;
}

/* Non-zero when some byte of w may end a plain run of a JSON string: a
 * quote, a backslash, a control character or a non-ASCII byte. */
static uint64_t may_stop_string(uint64_t w)
{
    return may_have_zero(w ^ (ONES * '"')) | may_have_zero(w ^ (ONES * '\\')) | ((w - ONES * 0x20) & ~w & HIGHS) |
           (w & HIGHS);
}

bool ddb_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        if (end - p >= 8 && !(load8(p) & HIGHS)) {
            p += 8;
            continue;
        }
        if (*p < 0x80) {
            p++;
            continue;
        }
        size_t k = utf8_len(p, end);
        if (!k)
            return false;
        p += k;
    }
    return true;
}

static int decode_escapes(jcur *j, const char *s, const char *e, const char **out, size_t *len)
{
    char *o = dm_arena_alloc(j->a, (size_t)(e - s) + 1);
    if (!o)
        return nomem(j);
    size_t n = 0;
    while (s < e) {
        if (*s != '\\') {
            o[n++] = *s++;
            continue;
        }
        s++;
        char c = *s++;
        switch (c) {
        case '"': case '\\': case '/': o[n++] = c; break;
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'n': o[n++] = '\n'; break;
        case 'r': o[n++] = '\r'; break;
        case 't': o[n++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (e - s < 4 || hex4(s, &cp))
                return fail(j, "bad \\u escape");
            s += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (e - s < 6 || s[0] != '\\' || s[1] != 'u' || hex4(s + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return fail(j, "unpaired surrogate in \\u escape");
                s += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return fail(j, "unpaired surrogate in \\u escape");
            }
            n += put_utf8(o + n, cp);
            break;
        }
        default: return fail(j, "bad escape in string");
        }
    }
    o[n] = '\0';
    *out = o;
    *len = n;
    return DM_OK;
}

/* A JSON string; borrowed from the text when it has no escapes. */
static int parse_string(jcur *j, const char **out, size_t *len)
{
    if (!eat(j, '"'))
        return fail(j, "expected a string");
    const char *s = j->p;
    bool escaped = false;
    while (j->p < j->end && *j->p != '"') {
        if (j->end - j->p >= 8 && !may_stop_string(load8((const unsigned char *)j->p))) {
            j->p += 8;
            continue;
        }
        unsigned char c = (unsigned char)*j->p;
        if (c < 0x20)
            return fail(j, "control character in string");
        if (c == '\\') {
            escaped = true;
            if (++j->p == j->end)
                break;
            j->p++;
        } else if (c < 0x80) {
            j->p++;
        } else {
            size_t n = utf8_len((const unsigned char *)j->p, (const unsigned char *)j->end);
            if (!n)
                return fail(j, "invalid UTF-8 in string");
            j->p += n;
        }
    }
    if (j->p >= j->end)
        return fail(j, "unterminated string");
    const char *e = j->p++;
    if (!escaped) {
        *out = s;
        *len = (size_t)(e - s);
        return DM_OK;
    }
    return decode_escapes(j, s, e, out, len);
}

static bool literal(jcur *j, const char *word)
{
    ws(j);
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) >= n && memcmp(j->p, word, n) == 0) {
        j->p += n;
        return true;
    }
    return false;
}

static int skip_value(jcur *j, int depth);

static int skip_container(jcur *j, char close, int depth)
{
    if (eat(j, close))
        return DM_OK;
    do {
        if (close == '}') {
            const char *k;
            size_t kl;
            if (parse_string(j, &k, &kl) || !eat(j, ':'))
                return fail(j, "expected \"name\":");
        }
        int rc = skip_value(j, depth + 1);
        if (rc)
            return rc;
    } while (eat(j, ','));
    return eat(j, close) ? DM_OK : fail(j, close == '}' ? "expected , or }" : "expected , or ]");
}

static int skip_value(jcur *j, int depth)
{
    if (depth > 64)
        return fail(j, "nested too deeply");
    ws(j);
    if (j->p >= j->end)
        return fail(j, "unexpected end");
    const char *s;
    size_t n;
    switch (*j->p) {
    case '"': return parse_string(j, &s, &n);
    case '{': j->p++; return skip_container(j, '}', depth);
    case '[': j->p++; return skip_container(j, ']', depth);
    case 't': return literal(j, "true") ? DM_OK : fail(j, "bad literal");
    case 'f': return literal(j, "false") ? DM_OK : fail(j, "bad literal");
    case 'n': return literal(j, "null") ? DM_OK : fail(j, "bad literal");
    default:
        if (*j->p != '-' && (*j->p < '0' || *j->p > '9'))
            return fail(j, "unexpected character");
        while (j->p < j->end && strchr("+-.eE0123456789", *j->p))
            j->p++;
        return DM_OK;
    }
}

/* ---- values ------------------------------------------------------------ */

/* Growable array in the arena: doubles by copying (the old block is left
 * behind; arenas are short-lived). */
static void *grow(jcur *j, void *old, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return old;
    size_t nc = *cap ? *cap * 2 : 4;
    void *p = dm_arena_alloc(j->a, nc * elem);
    if (!p)
        return NULL;
    if (old)
        memcpy(p, old, n * elem);
    *cap = nc;
    return p;
}

static int parse_av(jcur *j, ddb_value *v, int depth);

static int parse_scalar(jcur *j, ddb_type t, ddb_value *v)
{
    const char *s;
    size_t n;
    int rc = parse_string(j, &s, &n);
    if (rc)
        return rc;
    if (t == DDB_N) {
        ddb_number num;
        const char *why = NULL;
        if (ddb_number_parse(s, n, &num, &why) != DM_OK)
            return fail(j, why);
    } else if (t == DDB_B) {
        dm_buf b;
        dm_buf_init(&b, 0);
        if (dm_base64_decode(s, n, &b) != DM_OK) {
            dm_buf_cleanup(&b);
            return fail(j, "bad base64 in B");
        }
        s = dm_arena_strndup(j->a, b.data ? b.data : "", b.len);
        n = b.len;
        dm_buf_cleanup(&b);
        if (!s)
            return nomem(j);
    }
    v->data = s;
    v->len = n;
    return DM_OK;
}

static int parse_list(jcur *j, ddb_value *v, int depth, ddb_type member)
{
    size_t cap = 0;
    if (!eat(j, '['))
        return fail(j, "expected [");
    if (eat(j, ']'))
        return member == DDB_L ? DM_OK : fail(j, "empty set");
    do {
        if (!(v->items = grow(j, v->items, v->n, &cap, sizeof *v->items)))
            return nomem(j);
        ddb_value *c = &v->items[v->n];
        memset(c, 0, sizeof *c);
        int rc;
        if (member == DDB_L) {
            rc = parse_av(j, c, depth + 1);
        } else {
            c->type = member;
            rc = parse_scalar(j, member, c);
        }
        if (rc) {
            path_push(j, NULL, 0, (long)v->n);
            return rc;
        }
        v->n++;
    } while (eat(j, ','));
    return eat(j, ']') ? DM_OK : fail(j, "expected , or ]");
}

static int parse_map(jcur *j, ddb_value *v, int depth)
{
    size_t cap = 0, cap2 = 0;
    if (!eat(j, '{'))
        return fail(j, "expected {");
    if (eat(j, '}'))
        return DM_OK;
    do {
        if (!(v->items = grow(j, v->items, v->n, &cap, sizeof *v->items)) ||
            !(v->names = grow(j, v->names, v->n, &cap2, sizeof *v->names)))
            return nomem(j);
        dm_str *name = &v->names[v->n];
        int rc = parse_string(j, &name->p, &name->n);
        if (rc)
            return rc;
        if (!eat(j, ':'))
            return fail(j, "expected :");
        memset(&v->items[v->n], 0, sizeof v->items[0]);
        if ((rc = parse_av(j, &v->items[v->n], depth + 1)) != DM_OK) {
            path_push(j, name->p, name->n, 0);
            return rc;
        }
        v->n++;
    } while (eat(j, ','));
    return eat(j, '}') ? DM_OK : fail(j, "expected , or }");
}

static int type_of(const char *s, size_t n, ddb_type *t)
{
    static const char *const names[] = {"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"};
    for (int i = 0; i < 10; i++)
        if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0) {
            *t = (ddb_type)i;
            return 0;
        }
    return -1;
}

const char *ddb_type_name(ddb_type t)
{
    static const char *const names[] = {"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"};
    return (unsigned)t < 10 ? names[t] : "?";
}

static int parse_av(jcur *j, ddb_value *v, int depth)
{
    if (depth > DDB_MAX_DEPTH)
        return fail(j, "nested deeper than 32 levels");
    ws(j);
    const char *start = j->p;
    if (!eat(j, '{'))
        return fail(j, "expected an attribute value {\"TYPE\": ...}");
    const char *tag;
    size_t tl;
    int rc = parse_string(j, &tag, &tl);
    if (rc)
        return rc;
    if (type_of(tag, tl, &v->type))
        return fail(j, "unknown attribute type");
    if (!eat(j, ':'))
        return fail(j, "expected :");
    switch (v->type) {
    case DDB_S: case DDB_N: case DDB_B: rc = parse_scalar(j, v->type, v); break;
    case DDB_BOOL:
        if (literal(j, "true"))
            v->boolean = true;
        else if (!literal(j, "false"))
            rc = fail(j, "BOOL must be true or false");
        break;
    case DDB_NULL: rc = literal(j, "true") ? DM_OK : fail(j, "NULL must be true"); break;
    case DDB_M: rc = parse_map(j, v, depth); break;
    case DDB_L: rc = parse_list(j, v, depth, DDB_L); break;
    case DDB_SS: rc = parse_list(j, v, depth, DDB_S); break;
    case DDB_NS: rc = parse_list(j, v, depth, DDB_N); break;
    case DDB_BS: rc = parse_list(j, v, depth, DDB_B); break;
    }
    if (rc)
        return rc;
    if (!eat(j, '}'))
        return fail(j, "an attribute value has exactly one type");
    v->wire.p = start;
    v->wire.n = (size_t)(j->p - start);
    return DM_OK;
}

static int parse_item(jcur *j, ddb_item *it)
{
    ddb_value m = {0};
    ws(j);
    if (j->p >= j->end || *j->p != '{')
        return fail(j, "expected an item {...}");
    int rc = parse_map(j, &m, 0);
    it->names = m.names;
    it->values = m.items;
    it->n = m.n;
    return rc;
}

static int finish(jcur *j, int rc, const char *what)
{
    if (rc == DM_OK)
        return DM_OK;
    if (j->err) {
        if (j->path[0]) /* the attribute first, as the item checker reports */
            dm_error_set(j->err, rc, "attribute %s: %s (DynamoDB JSON %s, byte %zu)", j->path,
                         j->why ? j->why : "error", what, j->at);
        else
            dm_error_set(j->err, rc, "invalid DynamoDB JSON %s at byte %zu: %s", what, j->at,
                         j->why ? j->why : "error");
    }
    return rc;
}

static void cur_init(jcur *j, const char *text, size_t len, dm_arena *a, dm_error *err)
{
    memset(j, 0, sizeof *j);
    j->p = j->start = text;
    j->end = text + len;
    j->a = a;
    j->err = err;
}

int ddb_item_decode(const char *text, size_t len, dm_arena *a, ddb_item *out, size_t *used, dm_error *err)
{
    jcur j;
    cur_init(&j, text, len, a, err);
    memset(out, 0, sizeof *out);
    int rc = parse_item(&j, out);
    if (used)
        *used = (size_t)(j.p - text);
    return finish(&j, rc, "item");
}

int ddb_value_decode(const char *text, size_t len, dm_arena *a, ddb_value *out, size_t *used, dm_error *err)
{
    jcur j;
    cur_init(&j, text, len, a, err);
    memset(out, 0, sizeof *out);
    int rc = parse_av(&j, out, 0);
    if (used)
        *used = (size_t)(j.p - text);
    return finish(&j, rc, "value");
}

/* ---- pages --------------------------------------------------------------- */

static int parse_items(jcur *j, ddb_page *pg)
{
    /* A repeated "Items" replaces the earlier one: its array's capacity
     * is not known here, so nothing may be appended to it. */
    size_t cap = 0;
    pg->items = NULL;
    pg->n_items = 0;
    if (!eat(j, '['))
        return fail(j, "Items is not an array");
    if (eat(j, ']'))
        return DM_OK;
    do {
        if (!(pg->items = grow(j, pg->items, pg->n_items, &cap, sizeof *pg->items)))
            return nomem(j);
        int rc = parse_item(j, &pg->items[pg->n_items]);
        if (rc)
            return rc;
        pg->n_items++;
    } while (eat(j, ','));
    return eat(j, ']') ? DM_OK : fail(j, "expected , or ]");
}

static int parse_number(jcur *j, double *out)
{
    ws(j);
    const char *s = j->p;
    int rc = skip_value(j, 0);
    if (rc)
        return rc;
    char tmp[64];
    size_t n = (size_t)(j->p - s);
    if (n == 0 || n >= sizeof tmp || (*s != '-' && (*s < '0' || *s > '9')))
        return fail(j, "expected a number");
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    *out = strtod(tmp, NULL);
    return DM_OK;
}

static int parse_capacity(jcur *j, ddb_page *pg)
{
    if (!eat(j, '{'))
        return fail(j, "ConsumedCapacity is not an object");
    if (eat(j, '}'))
        return DM_OK;
    do {
        const char *k;
        size_t kl;
        int rc = parse_string(j, &k, &kl);
        if (rc || !eat(j, ':'))
            return rc ? rc : fail(j, "expected :");
        if (kl == 13 && memcmp(k, "CapacityUnits", 13) == 0)
            rc = parse_number(j, &pg->consumed_units);
        else
            rc = skip_value(j, 1);
        if (rc)
            return rc;
    } while (eat(j, ','));
    return eat(j, '}') ? DM_OK : fail(j, "expected , or }");
}

static int page_field(jcur *j, const char *k, size_t kl, ddb_page *pg)
{
    double d;
    if (kl == 5 && memcmp(k, "Items", 5) == 0)
        return parse_items(j, pg);
    if (kl == 12 && memcmp(k, "ScannedCount", 12) == 0) {
        int rc = parse_number(j, &d);
        pg->scanned_count = (long)d;
        return rc;
    }
    if (kl == 16 && memcmp(k, "LastEvaluatedKey", 16) == 0) {
        ws(j);
        const char *s = j->p;
        int rc = skip_value(j, 0);
        pg->last_key.p = s;
        pg->last_key.n = (size_t)(j->p - s);
        return rc;
    }
    if (kl == 16 && memcmp(k, "ConsumedCapacity", 16) == 0)
        return parse_capacity(j, pg);
    return skip_value(j, 0);
}

int ddb_page_decode(const char *text, size_t len, dm_arena *a, ddb_page *pg, dm_error *err)
{
    jcur j;
    cur_init(&j, text, len, a, err);
    memset(pg, 0, sizeof *pg);
    int rc = eat(&j, '{') ? DM_OK : fail(&j, "expected {");
    if (rc == DM_OK && !eat(&j, '}')) {
        do {
            const char *k;
            size_t kl;
            rc = parse_string(&j, &k, &kl);
            if (rc == DM_OK && !eat(&j, ':'))
                rc = fail(&j, "expected :");
            if (rc == DM_OK)
                rc = page_field(&j, k, kl, pg);
        } while (rc == DM_OK && eat(&j, ','));
        if (rc == DM_OK && !eat(&j, '}'))
            rc = fail(&j, "expected , or }");
    }
    return finish(&j, rc, "page");
}

/* ---- answers to item calls ----------------------------------------------- */

static bool key_is(const char *k, size_t kl, const char *want)
{
    size_t n = strlen(want);
    return kl == n && memcmp(k, want, n) == 0;
}

/* Calls field(j, key, len, ud) for each member of an object. */
static int each_member(jcur *j, int (*field)(jcur *, const char *, size_t, void *), void *ud)
{
    if (!eat(j, '{'))
        return fail(j, "expected {");
    if (eat(j, '}'))
        return DM_OK;
    do {
        const char *k;
        size_t kl;
        int rc = parse_string(j, &k, &kl);
        if (rc == DM_OK && !eat(j, ':'))
            rc = fail(j, "expected :");
        if (rc == DM_OK)
            rc = field(j, k, kl, ud);
        if (rc)
            return rc;
    } while (eat(j, ','));
    return eat(j, '}') ? DM_OK : fail(j, "expected , or }");
}

static int string_field(jcur *j, dm_str *out)
{
    ws(j);
    if (literal(j, "null"))
        return DM_OK;
    return parse_string(j, &out->p, &out->n);
}

static int units_field(jcur *j, const char *k, size_t kl, void *ud)
{
    double d = 0;
    if (!key_is(k, kl, "CapacityUnits"))
        return skip_value(j, 1);
    int rc = parse_number(j, &d);
    *(double *)ud += d;
    return rc;
}

/* ConsumedCapacity: one object, or one per table (transactions, batches). */
static int parse_units(jcur *j, double *total)
{
    ws(j);
    if (j->p < j->end && *j->p == '{')
        return each_member(j, units_field, total);
    if (!eat(j, '['))
        return fail(j, "ConsumedCapacity is not an object or array");
    if (eat(j, ']'))
        return DM_OK;
    do {
        int rc = each_member(j, units_field, total);
        if (rc)
            return rc;
    } while (eat(j, ','));
    return eat(j, ']') ? DM_OK : fail(j, "expected , or ]");
}

static int reason_field(jcur *j, const char *k, size_t kl, void *ud)
{
    ddb_cancel_reason *r = ud;
    if (key_is(k, kl, "Code"))
        return string_field(j, &r->code);
    if (key_is(k, kl, "Message"))
        return string_field(j, &r->message);
    if (key_is(k, kl, "Item")) {
        r->has_item = true;
        return parse_item(j, &r->item);
    }
    return skip_value(j, 1);
}

static int parse_reasons(jcur *j, ddb_answer *a)
{
    /* A repeated field replaces the earlier one (see parse_items). */
    size_t cap = 0;
    a->reasons = NULL;
    a->n_reasons = 0;
    if (!eat(j, '['))
        return fail(j, "CancellationReasons is not an array");
    if (eat(j, ']'))
        return DM_OK;
    do {
        if (!(a->reasons = grow(j, a->reasons, a->n_reasons, &cap, sizeof *a->reasons)))
            return nomem(j);
        ddb_cancel_reason *r = &a->reasons[a->n_reasons++];
        memset(r, 0, sizeof *r);
        int rc = each_member(j, reason_field, r);
        if (rc)
            return rc;
    } while (eat(j, ','));
    return eat(j, ']') ? DM_OK : fail(j, "expected , or ]");
}

static int answer_field(jcur *j, const char *k, size_t kl, void *ud)
{
    ddb_answer *a = ud;
    if (key_is(k, kl, "Item")) {
        a->has_item = true;
        return parse_item(j, &a->item);
    }
    if (key_is(k, kl, "Attributes")) {
        a->has_attributes = true;
        return parse_item(j, &a->attributes);
    }
    if (key_is(k, kl, "ConsumedCapacity"))
        return parse_units(j, &a->consumed_units);
    if (key_is(k, kl, "CancellationReasons"))
        return parse_reasons(j, a);
    if (key_is(k, kl, "__type")) {
        int rc = string_field(j, &a->type);
        const char *hash = a->type.p ? memchr(a->type.p, '#', a->type.n) : NULL;
        if (hash) {
            a->type.n -= (size_t)(hash + 1 - a->type.p);
            a->type.p = hash + 1;
        }
        return rc;
    }
    if (key_is(k, kl, "message") || key_is(k, kl, "Message"))
        return string_field(j, &a->message);
    return skip_value(j, 0);
}

int ddb_answer_decode(const char *text, size_t len, dm_arena *a, ddb_answer *out, dm_error *err)
{
    jcur j;
    cur_init(&j, text, len, a, err);
    memset(out, 0, sizeof *out);
    int rc = each_member(&j, answer_field, out);
    if (rc == DM_OK) {
        ws(&j);
        if (j.p != j.end)
            rc = fail(&j, "text after the answer");
    }
    return finish(&j, rc, "answer");
}

bool ddb_answer_type_is(const ddb_answer *a, const char *type)
{
    return a->type.p && key_is(a->type.p, a->type.n, type);
}

/* ---- encoding -------------------------------------------------------------- */

static int put_string(dm_buf *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rc = dm_buf_reserve(o, n + 2);
    if (rc)
        return rc;
    dm_buf_putc(o, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if ((rc = dm_buf_append(o, s + run, i - run)))
            return rc;
        run = i + 1;
        char esc[7] = {'\\', 0};
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
        }
        if ((rc = dm_buf_puts(o, esc)))
            return rc;
    }
    rc = dm_buf_append(o, s + run, n - run);
    return rc ? rc : dm_buf_putc(o, '"');
}

int ddb_json_put_string(dm_buf *out, const char *s, size_t n) { return put_string(out, s, n); }

static int put_scalar(dm_buf *o, const ddb_value *v)
{
    if (v->type == DDB_B) {
        int rc = dm_buf_putc(o, '"');
        rc = rc ? rc : dm_base64_encode(v->data, v->len, o);
        return rc ? rc : dm_buf_putc(o, '"');
    }
    return put_string(o, v->data, v->len);
}

int ddb_value_encode(const ddb_value *v, dm_buf *o)
{
    if (v->wire.p)
        return dm_buf_append(o, v->wire.p, v->wire.n);
    int rc = dm_buf_puts(o, "{\"");
    rc = rc ? rc : dm_buf_puts(o, ddb_type_name(v->type));
    rc = rc ? rc : dm_buf_puts(o, "\":");
    if (rc)
        return rc;
    switch (v->type) {
    case DDB_S: case DDB_N: case DDB_B: rc = put_scalar(o, v); break;
    case DDB_BOOL: rc = dm_buf_puts(o, v->boolean ? "true" : "false"); break;
    case DDB_NULL: rc = dm_buf_puts(o, "true"); break;
    case DDB_M:
        rc = dm_buf_putc(o, '{');
        for (size_t i = 0; !rc && i < v->n; i++) {
            rc = i ? dm_buf_putc(o, ',') : 0;
            rc = rc ? rc : put_string(o, v->names[i].p, v->names[i].n);
            rc = rc ? rc : dm_buf_putc(o, ':');
            rc = rc ? rc : ddb_value_encode(&v->items[i], o);
        }
        rc = rc ? rc : dm_buf_putc(o, '}');
        break;
    default: /* L and sets */
        rc = dm_buf_putc(o, '[');
        for (size_t i = 0; !rc && i < v->n; i++) {
            rc = i ? dm_buf_putc(o, ',') : 0;
            rc = rc ? rc : (v->type == DDB_L ? ddb_value_encode(&v->items[i], o) : put_scalar(o, &v->items[i]));
        }
        rc = rc ? rc : dm_buf_putc(o, ']');
    }
    return rc ? rc : dm_buf_putc(o, '}');
}

int ddb_item_encode(const ddb_item *it, dm_buf *o)
{
    int rc = dm_buf_putc(o, '{');
    for (size_t i = 0; !rc && i < it->n; i++) {
        rc = i ? dm_buf_putc(o, ',') : 0;
        rc = rc ? rc : put_string(o, it->names[i].p, it->names[i].n);
        rc = rc ? rc : dm_buf_putc(o, ':');
        rc = rc ? rc : ddb_value_encode(&it->values[i], o);
    }
    return rc ? rc : dm_buf_putc(o, '}');
}
