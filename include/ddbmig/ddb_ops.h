/* Typed helpers over ddb.h for the operations that need more than one
 * request or a parsed answer: table description, create and delete with
 * waiting, scan request bodies, and batch writes that finish their
 * UnprocessedItems. Item-level calls (GetItem, PutItem, UpdateItem,
 * DeleteItem, TransactWriteItems, UpdateTable) go through ddb_request or
 * ddb_call directly: their bodies are built by the callers. */
#ifndef DDBMIG_DDB_OPS_H
#define DDBMIG_DDB_OPS_H

#include "ddbmig/ddb.h"
#include "ddbmig/item.h"

typedef struct ddb_key_attr {
    char name[256];
    char type[2]; /* "S", "N" or "B" */
} ddb_key_attr;

typedef struct ddb_index_desc {
    char name[256];
    ddb_key_attr hash, range;
    bool has_range;
    char status[32];
    char projection[32];      /* ALL, KEYS_ONLY, INCLUDE */
    int64_t read_units;       /* provisioned; 0 on demand */
    int64_t write_units;
    int64_t item_count;
    int64_t size_bytes;
} ddb_index_desc;

typedef struct ddb_table_desc {
    char name[256];
    char arn[512];
    char status[32];
    ddb_key_attr hash, range;
    bool has_range;
    int64_t item_count;       /* DynamoDB updates it about every six hours */
    int64_t size_bytes;
    char billing_mode[32];    /* PROVISIONED or PAY_PER_REQUEST */
    int64_t read_units;       /* provisioned capacity; 0 on demand */
    int64_t write_units;
    int64_t max_read_units;   /* on-demand maximum; -1 when unset */
    int64_t max_write_units;
    char stream_view[32];     /* "" when no stream */
    ddb_index_desc *gsis;     /* owned */
    size_t n_gsis;
    size_t n_lsis;
    json_t *raw;              /* the Table object; owned */
} ddb_table_desc;

DM_API int ddb_describe_table(ddb_client *c, const char *table, ddb_table_desc *out, dm_error *err);
DM_API void ddb_table_desc_cleanup(ddb_table_desc *d);

/* The keys items written to the table must respect (ddb_item_check): the
 * table's keys and the key attributes of its global and local secondary
 * indexes. Names are borrowed from d, which must outlive out. */
DM_API int ddb_table_key_schema(const ddb_table_desc *d, ddb_key_schema *out, dm_error *err);

/* Polls DescribeTable until the table and its indexes are ACTIVE, or until
 * it is gone when want_gone. */
DM_API int ddb_wait_table(ddb_client *c, const char *table, bool want_gone, int timeout_s, dm_error *err);
/* CreateTable from a full request (borrowed) and wait for ACTIVE. */
DM_API int ddb_create_table(ddb_client *c, json_t *req, dm_error *err);
/* DeleteTable and wait until it is gone; a missing table is not an error
 * when missing_ok. */
DM_API int ddb_delete_table(ddb_client *c, const char *table, bool missing_ok, dm_error *err);

typedef struct ddb_scan_params {
    const char *table;
    int segment, total_segments;          /* total 0: not a parallel scan */
    const char *exclusive_start_key;      /* JSON object text, or NULL */
    bool consistent_read;
    const char *filter_expression;        /* or NULL */
    const char *projection_expression;    /* or NULL */
    const char *names_json;               /* ExpressionAttributeNames text */
    const char *values_json;              /* ExpressionAttributeValues text */
    int limit;                            /* 0: none */
    bool return_consumed_capacity;
} ddb_scan_params;

/* Appends a Scan request body to out. */
DM_API int ddb_scan_body(const ddb_scan_params *p, dm_buf *out);

/* ---- BatchWriteItem: the one retry path for UnprocessedItems ------------ */

/* Resends of the same requests before a batch write gives up. */
#define DDB_BATCH_MAX_RESENDS 50

/* What a BatchWriteItem answer leaves to do. */
typedef struct ddb_batch_left {
    size_t n;          /* requests for the table that DynamoDB did not process */
    int64_t delay_ms;  /* wait before resending them; 0 when n is 0 */
    double units;      /* capacity units the answer reports (ConsumedCapacity) */
} ddb_batch_left;

/* Reads the answer of a successful BatchWriteItem call to `table` (parsed
 * as JSON). When UnprocessedItems holds requests for the table, appends to
 * `resend` the body of a BatchWriteItem that sends them again, with
 * ReturnConsumedCapacity `return_consumed` ("TOTAL", "INDEXES"; NULL: none),
 * and sets out->delay_ms from the retry policy (retry_backoff_ms of
 * retry_policy_default for retry number resends + 1, with jitter r01 in
 * [0, 1)). `resends` is how many times these requests have already been
 * resent: 0 after the first call.
 *
 * Pure. DM_ERR_PARSE when the answer is not JSON or UnprocessedItems is
 * malformed or names another table (nothing appended; out->n is 0);
 * DM_ERR_THROTTLED when requests are left after DDB_BATCH_MAX_RESENDS
 * resends (out->n says how many; nothing appended). */
DM_API int ddb_batch_unprocessed(const dm_buf *answer, const char *table, const char *return_consumed, int resends,
                                 double r01, dm_buf *resend, ddb_batch_left *out, dm_error *err);

/* ---- BatchExecuteStatement: statements that succeed or fail alone ------- */

/* Statements in one BatchExecuteStatement call, and the longest statement. */
#define DDB_STATEMENTS_MAX 25
#define DDB_STATEMENT_MAX_BYTES 8192

#define DDB_STATEMENT_FAILED 1    /* any Error: a failed condition, a conflict... */
#define DDB_STATEMENT_THROTTLED 2 /* an Error that is a throttle */

/* Reads the answer of a successful BatchExecuteStatement call of n
 * statements (parsed as JSON): failed[i] is 0 for a statement carried
 * out, else DDB_STATEMENT_THROTTLED or DDB_STATEMENT_FAILED for one whose
 * response carries an Error; *units gets the capacity the answer reports, -1 when it
 * reports none (DynamoDB Local leaves it out for these calls). Pure.
 * DM_ERR_PARSE when the answer is not JSON, or Responses is not an array
 * of n objects: then no statement can be known carried out. */
DM_API int ddb_statements_answer(const dm_buf *answer, size_t n, unsigned char *failed, double *units,
                                 dm_error *err);

/* Writes every request of `requests` (a JSON array of {"PutRequest":...}
 * or {"DeleteRequest":...}, borrowed) in calls of 25, resending
 * UnprocessedItems through ddb_batch_unprocessed until none remain; gives
 * up after max_rounds calls for the same requests (0, or more than
 * DDB_BATCH_MAX_RESENDS + 1: DDB_BATCH_MAX_RESENDS + 1). */
DM_API int ddb_batch_write_all(ddb_client *c, const char *table, json_t *requests, int max_rounds,
                               dm_error *err);

/* Appends s as a JSON string literal (quotes and escapes) to out;
 * DM_ERR_INVALID when s is not UTF-8. */
DM_API int ddb_json_string(dm_buf *out, const char *s);


#endif
