/* DynamoDB items, exactly. Every type (S, N, B, BOOL, NULL, M, L, SS, NS,
 * BS); numbers keep their decimal text; binary is bytes. Decoding keeps
 * each top-level attribute's original JSON text, so that an attribute
 * nobody changed is written back byte for byte.
 *
 * Memory: every value, string and array of an item lives in the arena the
 * item was decoded into (or built in); nothing is freed on its own. The
 * arena is owned by the caller (usually one per scanned page). */
#ifndef DDBMIG_ITEM_H
#define DDBMIG_ITEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ddbmig/common.h"

/* ---- arena ------------------------------------------------------------- */

typedef struct dm_arena dm_arena;

DM_API dm_arena *dm_arena_new(size_t chunk_bytes); /* 0: 64 KiB */
DM_API void dm_arena_free(dm_arena *a);
/* Drops everything allocated so far, keeping the first chunk. */
DM_API void dm_arena_reset(dm_arena *a);
/* 8-byte aligned; NULL when out of memory. */
DM_API void *dm_arena_alloc(dm_arena *a, size_t n);
DM_API char *dm_arena_strndup(dm_arena *a, const char *s, size_t n);
DM_API size_t dm_arena_used(const dm_arena *a);

/* ---- values ------------------------------------------------------------ */

typedef enum ddb_type {
    DDB_S, DDB_N, DDB_B, DDB_BOOL, DDB_NULL, DDB_M, DDB_L, DDB_SS, DDB_NS, DDB_BS
} ddb_type;

DM_API const char *ddb_type_name(ddb_type t); /* "S", "N", ... */

typedef struct ddb_value ddb_value;

struct ddb_value {
    ddb_type type;
    bool boolean;        /* BOOL */
    const char *data;    /* S: UTF-8 text; N: decimal text; B: bytes */
    size_t len;
    ddb_value *items;    /* M, L: children; SS, NS, BS: members */
    dm_str *names;       /* M: child names, parallel to items */
    size_t n;
    dm_str wire;         /* original JSON of this value, when decoded; else {0} */
};

typedef struct ddb_item {
    dm_str *names;
    ddb_value *values;
    size_t n;
} ddb_item;

/* The value of attribute name, or NULL. */
DM_API const ddb_value *ddb_item_get(const ddb_item *it, const char *name, size_t len);

/* ---- DynamoDB JSON ----------------------------------------------------- */

/* Limits of DynamoDB itself. */
#define DDB_MAX_DEPTH 32
#define DDB_MAX_ITEM_BYTES (400 * 1024)

/* Decodes one item ({"attr": {"S": "..."}, ...}) from text[0..len).
 * *used gets the bytes consumed. Errors (DM_ERR_PARSE) name the offset and
 * the attribute path. */
DM_API int ddb_item_decode(const char *text, size_t len, dm_arena *a, ddb_item *out, size_t *used, dm_error *err);
/* Decodes a single AttributeValue ({"N": "1"}). */
DM_API int ddb_value_decode(const char *text, size_t len, dm_arena *a, ddb_value *out, size_t *used,
                            dm_error *err);
/* Appends an item as DynamoDB JSON. Values that carry their wire text are
 * copied as they are. */
DM_API int ddb_item_encode(const ddb_item *it, dm_buf *out);
DM_API int ddb_value_encode(const ddb_value *v, dm_buf *out);

/* Appends bytes as a JSON string literal (escaping quotes, backslashes and
 * control characters; UTF-8 passes through). */
DM_API int ddb_json_put_string(dm_buf *out, const char *s, size_t n);

/* A Scan (or Query) answer. Items are decoded; LastEvaluatedKey is kept
 * as JSON text (to send back as ExclusiveStartKey). */
typedef struct ddb_page {
    ddb_item *items;
    size_t n_items;
    long scanned_count;
    dm_str last_key;          /* {0} when the segment is done */
    double consumed_units;    /* ConsumedCapacity.CapacityUnits, 0 when absent */
} ddb_page;

DM_API int ddb_page_decode(const char *text, size_t len, dm_arena *a, ddb_page *out, dm_error *err);

/* The answer to an item call (GetItem, PutItem, UpdateItem, DeleteItem,
 * TransactWriteItems), success or error, read by field. Items and strings
 * borrow from text (which must outlive them) or live in the arena. */
typedef struct ddb_cancel_reason {
    dm_str code;              /* "None", "ConditionalCheckFailed", ... */
    dm_str message;
    bool has_item;            /* ALL_OLD of a failed condition */
    ddb_item item;
} ddb_cancel_reason;

typedef struct ddb_answer {
    dm_str type;              /* __type after its '#'; errors only */
    dm_str message;
    bool has_item;            /* "Item": GetItem's, or ALL_OLD of a failed condition */
    ddb_item item;
    bool has_attributes;      /* "Attributes": ReturnValues */
    ddb_item attributes;
    double consumed_units;    /* every ConsumedCapacity's CapacityUnits */
    ddb_cancel_reason *reasons; /* TransactionCanceledException, by index */
    size_t n_reasons;
} ddb_answer;

DM_API int ddb_answer_decode(const char *text, size_t len, dm_arena *a, ddb_answer *out, dm_error *err);
DM_API bool ddb_answer_type_is(const ddb_answer *a, const char *type);

/* True when s[0..n) is valid UTF-8 (no surrogates, no overlong forms). */
DM_API bool ddb_utf8_valid(const char *s, size_t n);

/* ---- semantics --------------------------------------------------------- */

/* Equality as DynamoDB sees it: numbers by value (1.50 == 1.5), sets as
 * sets, maps regardless of order. */
DM_API bool ddb_value_equal(const ddb_value *a, const ddb_value *b);
DM_API bool ddb_item_equal(const ddb_item *a, const ddb_item *b);
/* Appends a key value's bytes (S, N or B): its type, length and value,
 * numbers in canonical form, so that key values DynamoDB sees as equal
 * ("1.0" and "1") have equal bytes. DM_ERR_INVALID for another type or a
 * number DynamoDB does not hold. */
DM_API int ddb_key_value_bytes(const ddb_value *v, dm_buf *out);

/* Size as DynamoDB counts it (attribute names + values), for the 400 KB
 * limit and capacity estimates. */
DM_API size_t ddb_value_size(const ddb_value *v);
DM_API size_t ddb_item_size(const ddb_item *it);

/* ---- DynamoDB's rules for an item to be written ------------------------ */

/* Limits the checker applies (besides DDB_MAX_ITEM_BYTES and the number
 * rules below). Nesting: an item's attribute is level 1 and a map or list
 * puts its members one level down; DynamoDB refuses a map or list on level
 * 32 even when it is empty, so nothing sits below level 32. */
#define DDB_MAX_NAME_BYTES 65535      /* attribute names, at any level */
#define DDB_MAX_HASH_KEY_BYTES 2048   /* partition keys, of the table or an index */
#define DDB_MAX_RANGE_KEY_BYTES 1024  /* sort keys, likewise */
#define DDB_MAX_INDEX_KEYS 64

/* One key attribute: its name and the type the table declares for it. */
typedef struct ddb_key_def {
    const char *name; /* borrowed, NUL-terminated; NULL: none */
    ddb_type type;    /* DDB_S, DDB_N or DDB_B */
    bool range;       /* a sort key (1,024 bytes at most) rather than a partition key */
} ddb_key_def;

/* The keys an item written to a table must respect. The table's own keys
 * are required; a secondary index's key attributes may be absent, but when
 * present must have the declared type and fit the key limits. Names are
 * borrowed (ddb_table_key_schema in ddb_ops.h fills one from DescribeTable). */
typedef struct ddb_key_schema {
    ddb_key_def hash;
    ddb_key_def range;                        /* name NULL: no sort key */
    ddb_key_def index[DDB_MAX_INDEX_KEYS];   /* secondary index keys */
    size_t n_index;
} ddb_key_schema;

/* Applies DynamoDB's rules for an item to be written: the key attributes
 * of `keys` (may be NULL: no key rules) present, of the declared type, not
 * empty and within the key size limits; attribute names not empty, at most
 * DDB_MAX_NAME_BYTES, valid UTF-8 and not repeated within one map; sets not
 * empty, of one member type, without duplicates (numbers compare by value:
 * "1", "1.0" and "1E0" are one member); numbers valid (ddb_number_parse);
 * nesting within 32 levels; the item at most DDB_MAX_ITEM_BYTES as
 * ddb_item_size counts. Empty strings and binary values outside keys are
 * allowed, in sets too.
 *
 * Pure; reports the first failure as DM_ERR_INVALID with the message
 * "attribute PATH: RULE" (PATH as in tags[3].colors) or, for the size,
 * "the item is N bytes, ...". DM_ERR_NOMEM when a large set cannot be
 * sorted for its duplicate check. */
DM_API int ddb_item_check(const ddb_item *it, const ddb_key_schema *keys, dm_error *err);

/* ---- numbers ----------------------------------------------------------- */

/* A number in canonical form: sign, significant digits without leading or
 * trailing zeros, and the exponent of the last digit. Zero has no digits. */
typedef struct ddb_number {
    bool negative;
    uint8_t n_digits;
    char digits[40];     /* '0'..'9', not NUL-terminated */
    int exponent;        /* value = digits * 10^exponent */
} ddb_number;

/* Parses decimal text as DynamoDB accepts it: at most 38 significant
 * digits, magnitude 1E-130 to 9.9999999999999999999999999999999999999E+125,
 * or zero. DM_ERR_INVALID with a reason otherwise. */
DM_API int ddb_number_parse(const char *s, size_t len, ddb_number *out, const char **why);
/* Canonical text: plain digits when short, else scientific. out >= 64. */
DM_API void ddb_number_format(const ddb_number *n, char *out, size_t size);
DM_API int ddb_number_cmp(const ddb_number *a, const ddb_number *b);

#endif
