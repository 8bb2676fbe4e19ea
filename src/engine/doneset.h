/* The keys of items finished past a segment's cursor.
 *
 * A run that stops in the middle of a page saves the key of the last item
 * of the page's finished prefix as its cursor; items after the first
 * unfinished one may be finished too (their writes went out in other
 * calls, or the first one's write was given up at the deadline). A resume
 * scans from the cursor, so without a record it would run the script on
 * those items again: twice, for a script that is not idempotent. The set
 * is that record: saved with the cursor, and on the resume an item whose
 * key is in it is taken out and not run again.
 *
 * Keys compare by value, as DynamoDB compares them ("1.0" and "1" are one
 * number key). A key is one to three scalar attributes (S, N or B) named
 * by the key schema and nothing else: anything else is refused, so a
 * hand-edited or corrupt checkpoint is named rather than silently never
 * matching. Not thread-safe: the owner locks. */
#ifndef DDBMIG_ENGINE_DONESET_H
#define DDBMIG_ENGINE_DONESET_H

#include <stdbool.h>
#include <stddef.h>

#include "ddbmig/item.h"

typedef struct doneset doneset;

/* The key schema: names[0..n) (1 or 2) and their types ("S", "N" or "B";
 * types may be NULL: any of the three). */
typedef struct doneset_schema {
    const char *const *names;
    const char *const *types;
    size_t n;
} doneset_schema;

/* The schema's arrays are borrowed and must outlive the set. NULL when
 * out of memory. */
doneset *doneset_new(doneset_schema schema);
void doneset_free(doneset *s);

/* Checks that text[0..len) is a key of this schema as DynamoDB JSON
 * ({"pk":{"S":"a"}}): DM_ERR_PARSE with the reason otherwise. */
int doneset_check_key(doneset_schema schema, const char *text, size_t len, dm_error *err);

/* Adds a key given as DynamoDB JSON (checked as above). A key already in
 * the set is not added twice. */
int doneset_add_json(doneset *s, const char *text, size_t len, dm_error *err);
/* Adds the key of an item (its key attributes). DM_ERR_INVALID when the
 * item lacks one or it is not a scalar. */
int doneset_add_item(doneset *s, const ddb_item *it);

/* The same, each key with a payload (owned copy of a JSON text): what a
 * write in doubt wrote (wplan_wrote_json), beside the key of its item. A
 * key added again takes the new payload. */
int doneset_add_item_with(doneset *s, const ddb_item *it, const char *payload);
int doneset_add_json_with(doneset *s, const char *text, size_t len, const char *payload, dm_error *err);

/* True when the item's key is in the set; it is then taken out. */
bool doneset_take(doneset *s, const ddb_item *it);
/* The same, with the key's payload in *payload (NULL for none; borrowed
 * until the set is freed). */
bool doneset_take_with(doneset *s, const ddb_item *it, const char **payload);
size_t doneset_size(const doneset *s);

/* Appends the keys held as a JSON array of DynamoDB JSON keys ("[]" when
 * empty), in the order they were added; a key with a payload as
 * {"key": KEY, "wrote": PAYLOAD}. With max > 0, the array stops
 * before the key that would take it past max bytes; *left (if not NULL)
 * gets the number of keys left out. */
int doneset_write(const doneset *s, size_t max, dm_buf *out, size_t *left);

#endif
