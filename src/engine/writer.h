/* Request bodies for a write plan (wplan.h): the plan says what to write
 * and how it is guarded; this module only spells it in DynamoDB's JSON and
 * expression language. Pure: text in, text out. */
#ifndef DDBMIG_ENGINE_WRITER_H
#define DDBMIG_ENGINE_WRITER_H

#include "ddbmig/item.h"
#include "wplan.h"

/* Buffers reused from one request to the next, so that building a body
 * allocates nothing once they have grown: one per thread. */
typedef struct wr_scratch {
    dm_buf names, values, ue, cond;
    int *slots;
    size_t cap_slots;
} wr_scratch;

void wr_scratch_cleanup(wr_scratch *s);

typedef struct wr_ctx {
    const char *table;            /* where writes go */
    const char *const *keys;      /* the table's key attribute names */
    size_t n_keys;
    const char *version_attr;     /* --version-attribute, or NULL */
    const wplan_rules *rules;     /* the rules the plans were made by (their guard order) */
    wr_scratch *scratch;          /* borrowed; NULL: buffers of each call's own */
} wr_ctx;

/* The body of the request a plan needs: UpdateItem (WPLAN_UPDATE),
 * PutItem (WPLAN_PUT, WPLAN_COPY), DeleteItem (WPLAN_DELETE) or
 * TransactWriteItems (WPLAN_MOVE). read is the image the plan was made
 * from. Guarded requests ask for ALL_OLD when their condition fails. */
int wr_body(const wr_ctx *w, const wplan *p, const ddb_item *read, dm_buf *out);
/* The operation name for that body ("UpdateItem", ...). */
const char *wr_op(const wplan *p);
/* One BatchWriteItem entry for WPLAN_BATCH_PUT / WPLAN_BATCH_DELETE. */
int wr_batch_entry(const wr_ctx *w, const wplan *p, const ddb_item *read, dm_buf *out);
/* The plan as one statement of a BatchExecuteStatement call (PartiQL):
 * {"Statement":"UPDATE ... WHERE <key> AND <guard>","Parameters":[...]}
 * appended to out. The same write and the same guard as wr_body's
 * UpdateItem; the statement fails alone when its guard does not hold
 * (the item is then sent by UpdateItem, whose answer says why).
 * DM_ERR_LIMIT, with nothing appended, for a plan that is not an
 * UpdateItem or that a statement does not spell as safely: a name
 * outside printable ASCII, a map, list, set or null in the guard, a
 * statement over DynamoDB's 8 KB. */
int wr_statement(const wr_ctx *w, const wplan *p, const ddb_item *read, dm_buf *out);
/* PutItem with no guard (ddb.put extras). */
int wr_put_plain_body(const wr_ctx *w, const ddb_item *next, dm_buf *out);
/* A strongly consistent GetItem of it's key. */
int wr_get_body(const wr_ctx *w, const ddb_item *it, dm_buf *out);
/* {"pk":...,"sk":...} of an item; DM_ERR_INVALID when a key is missing. */
int wr_key_json(const wr_ctx *w, const ddb_item *it, dm_buf *out);

#endif
