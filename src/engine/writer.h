/* Request bodies for the writes of a migration. Every guarded write
 * carries a ConditionExpression saying that what the script read and
 * changed still holds the value that was scanned (and that the item still
 * exists), so a concurrent write by the application is never overwritten:
 * the write fails instead, and the engine runs the script again on the
 * current item. */
#ifndef DDBMIG_ENGINE_WRITER_H
#define DDBMIG_ENGINE_WRITER_H

#include "ddbmig/diff.h"
#include "ddbmig/item.h"

typedef struct wr_ctx {
    const char *table;            /* where writes go */
    const char *const *keys;      /* the table's key attribute names */
    size_t n_keys;
    const char *marker;           /* --marker attribute, or NULL */
    const char *migration;        /* the marker's value */
    bool return_old_on_conflict;  /* ReturnValuesOnConditionCheckFailure=ALL_OLD */
} wr_ctx;

/* UpdateItem: SET the changed attributes, REMOVE the removed ones. */
int wr_update_body(const wr_ctx *w, const ddb_item *orig, const ddb_item *next, const ddb_diff *d, dm_buf *out);
/* PutItem of the whole new item, with the same guard as an update. */
int wr_put_body(const wr_ctx *w, const ddb_item *orig, const ddb_item *next, const ddb_diff *d, dm_buf *out);
/* PutItem with no guard (copies into another table, ddb.put extras). */
int wr_put_plain_body(const wr_ctx *w, const ddb_item *next, dm_buf *out);
/* DeleteItem guarded by every attribute still holding its scanned value. */
int wr_delete_body(const wr_ctx *w, const ddb_item *orig, dm_buf *out);
/* A key change: TransactWriteItems putting the new item (which must not
 * exist yet) and deleting the old one (guarded as a delete). */
int wr_move_body(const wr_ctx *w, const ddb_item *orig, const ddb_item *next, dm_buf *out);
/* One BatchWriteItem entry: {"PutRequest":...} or {"DeleteRequest":...}. */
int wr_batch_put(const wr_ctx *w, const ddb_item *next, dm_buf *out);
int wr_batch_delete(const wr_ctx *w, const ddb_item *orig, dm_buf *out);
/* {"pk":...,"sk":...} of an item; DM_ERR_INVALID when a key is missing. */
int wr_key_json(const wr_ctx *w, const ddb_item *it, dm_buf *out);
/* The item with the marker attribute added (arena-allocated copy). */
int wr_with_marker(const wr_ctx *w, const ddb_item *next, dm_arena *a, ddb_item *out);

#endif
