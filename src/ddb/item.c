/* Item semantics: DynamoDB's equality and its size accounting. */
#include <stdlib.h>
#include <string.h>

#include "ddbmig/item.h"

const ddb_value *ddb_item_get(const ddb_item *it, const char *name, size_t len)
{
    for (size_t i = 0; i < it->n; i++)
        if (it->names[i].n == len && memcmp(it->names[i].p, name, len) == 0)
            return &it->values[i];
    return NULL;
}

static bool bytes_eq(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static bool number_eq(const ddb_value *a, const ddb_value *b)
{
    if (bytes_eq(a->data, a->len, b->data, b->len))
        return true;
    ddb_number x, y;
    if (ddb_number_parse(a->data, a->len, &x, NULL) || ddb_number_parse(b->data, b->len, &y, NULL))
        return false;
    return ddb_number_cmp(&x, &y) == 0;
}

static bool scalar_eq(const ddb_value *a, const ddb_value *b)
{
    return a->type == DDB_N ? number_eq(a, b) : bytes_eq(a->data, a->len, b->data, b->len);
}

static bool set_eq(const ddb_value *a, const ddb_value *b)
{
    if (a->n != b->n)
        return false;
    /* Members of a set are distinct, so equal sizes and a ⊆ b suffice. */
    for (size_t i = 0; i < a->n; i++) {
        size_t k = 0;
        while (k < b->n && !scalar_eq(&a->items[i], &b->items[k]))
            k++;
        if (k == b->n)
            return false;
    }
    return true;
}

static bool map_eq(const ddb_value *a, const ddb_value *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        /* Same order is the common case: try the same index first. */
        size_t k = i;
        if (!bytes_eq(a->names[i].p, a->names[i].n, b->names[k].p, b->names[k].n)) {
            for (k = 0; k < b->n; k++)
                if (bytes_eq(a->names[i].p, a->names[i].n, b->names[k].p, b->names[k].n))
                    break;
            if (k == b->n)
                return false;
        }
        if (!ddb_value_equal(&a->items[i], &b->items[k]))
            return false;
    }
    return true;
}

int ddb_key_value_bytes(const ddb_value *v, dm_buf *out)
{
    char canon[64];
    const char *p = v->data;
    size_t n = v->len;
    if (v->type == DDB_N) {
        ddb_number num;
        if (ddb_number_parse(v->data, v->len, &num, NULL) != DM_OK)
            return DM_ERR_INVALID;
        ddb_number_format(&num, canon, sizeof canon);
        p = canon;
        n = strlen(canon);
    } else if (v->type != DDB_S && v->type != DDB_B) {
        return DM_ERR_INVALID;
    }
    uint32_t n32 = (uint32_t)n;
    int rc = dm_buf_putc(out, ddb_type_name(v->type)[0]);
    rc = rc ? rc : dm_buf_append(out, &n32, sizeof n32);
    return rc ? rc : dm_buf_append(out, p, n);
}

bool ddb_value_equal(const ddb_value *a, const ddb_value *b)
{
    if (a->type != b->type)
        return false;
    if (a->wire.p && b->wire.p && bytes_eq(a->wire.p, a->wire.n, b->wire.p, b->wire.n))
        return true;
    switch (a->type) {
    case DDB_S: case DDB_B: case DDB_N: return scalar_eq(a, b);
    case DDB_BOOL: return a->boolean == b->boolean;
    case DDB_NULL: return true;
    case DDB_M: return map_eq(a, b);
    case DDB_L:
        if (a->n != b->n)
            return false;
        for (size_t i = 0; i < a->n; i++)
            if (!ddb_value_equal(&a->items[i], &b->items[i]))
                return false;
        return true;
    default: return set_eq(a, b);
    }
}

bool ddb_item_equal(const ddb_item *a, const ddb_item *b)
{
    ddb_value ma = {.type = DDB_M, .names = a->names, .items = a->values, .n = a->n};
    ddb_value mb = {.type = DDB_M, .names = b->names, .items = b->values, .n = b->n};
    return map_eq(&ma, &mb);
}

/* DynamoDB: a number takes about one byte per two significant digits plus
 * one; leading and trailing zeros do not count. */
static size_t number_size(const ddb_value *v)
{
    ddb_number n;
    if (ddb_number_parse(v->data, v->len, &n, NULL) != DM_OK)
        return v->len;
    return (size_t)(n.n_digits + 1) / 2 + 1;
}

static size_t scalar_size(const ddb_value *v)
{
    return v->type == DDB_N ? number_size(v) : v->len;
}

size_t ddb_value_size(const ddb_value *v)
{
    size_t s = 0;
    switch (v->type) {
    case DDB_S: case DDB_B: case DDB_N: return scalar_size(v);
    case DDB_BOOL: case DDB_NULL: return 1;
    case DDB_M:
        /* Documents: 3 bytes of overhead, plus 1 byte per element. */
        s = 3 + v->n;
        for (size_t i = 0; i < v->n; i++)
            s += v->names[i].n + ddb_value_size(&v->items[i]);
        return s;
    case DDB_L:
        s = 3 + v->n;
        for (size_t i = 0; i < v->n; i++)
            s += ddb_value_size(&v->items[i]);
        return s;
    default:
        for (size_t i = 0; i < v->n; i++)
            s += scalar_size(&v->items[i]);
        return s;
    }
}

size_t ddb_item_size(const ddb_item *it)
{
    size_t s = 0;
    for (size_t i = 0; i < it->n; i++)
        s += it->names[i].n + ddb_value_size(&it->values[i]);
    return s;
}
