/* DynamoDB JSON API client.
 *
 * ddb_shared holds what every thread of a run shares: endpoint, region,
 * credentials, the retry budget and the counters. Each thread makes its own
 * ddb_client over it (one libcurl multi handle, so many calls in flight on
 * one thread). A call's request body is JSON text owned by the call; the
 * answer is kept as text, so that item attributes can be decoded without
 * losing a digit (see item.h).
 *
 * Every attempt is signed afresh; retryable failures wait their backoff
 * inside ddb_client_wait without blocking other calls. */
#ifndef DDBMIG_DDB_H
#define DDBMIG_DDB_H

#include <jansson.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "ddbmig/common.h"
#include "ddbmig/creds.h"
#include "ddbmig/http.h"
#include "ddbmig/retry.h"

typedef struct ddb_options {
    const char *endpoint;      /* "https://dynamodb.us-east-1.amazonaws.com" */
    const char *region;        /* signing region */
    creds_provider *creds;     /* borrowed; thread-safe */
    int max_attempts;          /* 0: 10 (bulk work; the SDKs default to 3); throttled ones apart */
    int max_throttled_attempts; /* 0: RETRY_MAX_THROTTLED */
    long connect_timeout_ms;   /* 0: 3000 */
    long timeout_ms;           /* per attempt; 0: 30000 */
    const char *ca_file;       /* PEM bundle instead of the system's; NULL: system */
} ddb_options;

/* Counters over every client of a ddb_shared. */
typedef struct ddb_stats {
    atomic_llong calls;       /* calls completed */
    atomic_llong attempts;    /* HTTP requests sent */
    atomic_llong throttled;   /* attempts answered with throttling */
    atomic_llong retried;     /* attempts that were retried (any class) */
    atomic_llong failed;      /* calls that failed for good */
} ddb_stats;

typedef struct ddb_shared ddb_shared;

/* Copies what it needs from opts (creds stays borrowed). */
DM_API ddb_shared *ddb_shared_new(const ddb_options *opts, dm_error *err);
DM_API void ddb_shared_free(ddb_shared *s);
DM_API ddb_stats *ddb_shared_stats(ddb_shared *s);
DM_API const char *ddb_shared_region(const ddb_shared *s);
DM_API const char *ddb_shared_endpoint(const ddb_shared *s);

/* What a throttled attempt ran into, from the ThrottlingReasons DynamoDB
 * sends with it: reasons read resource + operation + limit, such as
 * TableWriteProvisionedThroughputExceeded or
 * IndexReadKeyRangeThroughputExceeded. */
typedef enum ddb_throttle_class {
    /* No reason given: ThrottlingException or
     * ProvisionedThroughputExceededException without reasons (DynamoDB
     * Local, older answers), RequestLimitExceeded, HTTP 429. */
    DDB_THROTTLE_UNKNOWN = 0,
    /* The capacity of the table or an index: ...ProvisionedThroughputExceeded,
     * ...AccountLimitExceeded, ...MaxOnDemandThroughputExceeded. Slowing
     * the whole run is the answer. */
    DDB_THROTTLE_CAPACITY,
    /* One partition's key range is hot: ...KeyRangeThroughputExceeded.
     * Slowing the whole run does not cool it; slowing the requests that go
     * to that key range does. */
    DDB_THROTTLE_KEY_RANGE
} ddb_throttle_class;

typedef struct ddb_throttle {
    ddb_throttle_class cls;
    bool write;   /* write capacity (from the reason; else from the operation) */
    bool index;   /* a reason names a secondary index */
} ddb_throttle;

/* Classifies the reasons of one throttled answer (n may be 0). With
 * reasons of both classes, capacity wins: the table's limiter must hear of
 * it. op ("Scan", "UpdateItem", ...) decides read or write when no reason
 * says. */
DM_API ddb_throttle ddb_throttle_classify(const char *op, const char *const *reasons, size_t n);

struct ddb_call;
/* Called after every throttled attempt, from the thread that saw it,
 * before the call waits for its retry. call is borrowed for the duration
 * (its op, table and user tell which request it was; the engine's tasks
 * are its user). Returns how long (ms) the retry must wait at least: the
 * rate limiter's answer; the backoff applies when longer. */
typedef int64_t (*ddb_throttle_fn)(void *ud, const struct ddb_call *call, ddb_throttle t);
DM_API void ddb_shared_on_throttle(ddb_shared *s, ddb_throttle_fn fn, void *ud);

typedef struct ddb_client ddb_client;

DM_API ddb_client *ddb_client_new(ddb_shared *s);
DM_API void ddb_client_free(ddb_client *c);
DM_API const char *ddb_client_region(const ddb_client *c);

typedef struct ddb_call {
    /* In */
    const char *op;        /* "Scan", "UpdateItem", ...; static string */
    const char *table;     /* for messages; borrowed, may be NULL */
    dm_buf body;           /* request JSON; owned by the call */
    int max_attempts;      /* 0: the shared default */
    void *user;
    /* Out (after completion) */
    int rc;                /* DM_OK, or the error's code */
    dm_error err;          /* type/message on failure */
    long status;
    dm_buf response;       /* the last answer's body, error bodies too */
    int attempts;
    int throttles;
    /* Private */
    http_request http_;
    const char *headers_[8];
    dm_buf header_text_;   /* the lines headers_ points into; holds secrets */
    int64_t due_ms_;
    int budget_cost_;
    struct ddb_call *next_;
} ddb_call;

/* Prepares a call; fill call->body before starting it. */
DM_API void ddb_call_init(ddb_call *call, const char *op, const char *table);
DM_API void ddb_call_cleanup(ddb_call *call);
/* Makes a finished (or cleaned-up, or initialised) call ready for another
 * request like ddb_call_init, keeping its buffers' memory (up to 64 KiB
 * each) for the next body and answer. */
DM_API void ddb_call_reuse(ddb_call *call, const char *op, const char *table);

/* Starts a call; it completes through ddb_client_wait. The call is
 * borrowed until then. */
DM_API int ddb_client_start(ddb_client *c, ddb_call *call);
/* Drives calls for at most timeout_ms; *done gets one completed call (with
 * rc set) or NULL. */
DM_API int ddb_client_wait(ddb_client *c, int timeout_ms, ddb_call **done);
/* Calls started and not yet handed back. */
DM_API size_t ddb_client_pending(const ddb_client *c);

/* Runs one call to completion on a client with nothing else in flight.
 * Returns call->rc. */
DM_API int ddb_client_run(ddb_client *c, ddb_call *call);

/* While *stop (borrowed; typically set by a signal handler) is nonzero,
 * ddb_client_run, and ddb_request and the helpers of ddb_ops.h over it,
 * give up their call within about 100 ms, retries and backoff included:
 * the call fails with DM_ERR_STOPPED and its connection is dropped. NULL
 * (the default) waits for every call. Returns the previous pointer. */
DM_API volatile sig_atomic_t *ddb_client_set_stop(ddb_client *c, volatile sig_atomic_t *stop);

/* One synchronous request from a jansson object (borrowed); *out gets the
 * parsed answer (owned) when out is not NULL. */
DM_API int ddb_request(ddb_client *c, const char *op, const char *table, json_t *req, json_t **out,
                       dm_error *err);

#endif
