/* DynamoDB JSON API client.
 *
 * ddb_shared holds what every thread of a run shares: endpoint, region,
 * credentials, the retry budget and the counters. Each thread makes its own
 * ddb_client over it (its own connections, many calls in flight on one
 * thread). A call's request body is JSON text owned by the call; the
 * answer is kept as text, so that item attributes can be decoded without
 * losing a digit (see item.h).
 *
 * Every attempt is signed afresh; a retryable failure waits its backoff on
 * a timer of the client's event loop, without blocking other calls.
 *
 * Event loop and threads: a ddb_client, its calls and its loop belong to
 * one thread. The loop (loop.h) is the caller's (ddb_client_new_on_loop)
 * or the client's own (ddb_client_new); every socket, deadline and backoff
 * of the client is on it, next to whatever else the caller puts there.
 *
 * Two ways to learn that a call finished:
 *   - event driven: set call->on_done before ddb_client_start. It is called
 *     as on_done(call, on_done_ud) from a callback of the loop (never from
 *     within ddb_client_start), once the call has succeeded or failed for
 *     good; from then on the client no longer touches the call. The
 *     callback may start new calls on the same client (the same call
 *     again, after ddb_call_reuse), clean up or free the call, and register
 *     or stop loop watchers; it must not free the client nor run the loop
 *     (ddb_client_run, ddb_request, ddb_client_wait).
 *   - polled: leave on_done NULL and collect finished calls with
 *     ddb_client_wait, which runs the loop until one has finished. */
#ifndef DDBMIG_DDB_H
#define DDBMIG_DDB_H

#include <jansson.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "ddbmig/common.h"
#include "ddbmig/creds.h"
#include "ddbmig/http.h"
#include "ddbmig/loop.h"

typedef struct ddb_options {
    const char *endpoint;      /* "https://dynamodb.us-east-1.amazonaws.com";
                                * parsed by the HTTP layer's URL parser: no
                                * user information, query or fragment */
    const char *region;        /* signing region */
    creds_provider *creds;     /* borrowed; thread-safe */
    int max_attempts;          /* 0: 10 (bulk work; the SDKs default to 3); throttled ones apart */
    int max_throttled_attempts; /* 0: the retry policy's limit for throttled attempts (50) */
    long connect_timeout_ms;   /* 0: 3000 */
    long timeout_ms;           /* per attempt; 0: 30000 */
    const char *ca_file;       /* PEM bundle instead of the system's; NULL: system */
    /* Another AWS JSON service over the same client (Application Auto
     * Scaling: "application-autoscaling", "AnyScaleFrontendService",
     * "application/x-amz-json-1.1"). NULL: DynamoDB's. */
    const char *signing_name;  /* SigV4 service name */
    const char *target_prefix; /* X-Amz-Target is PREFIX.Operation */
    const char *content_type;
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

/* Copies what it needs from opts (creds stays borrowed). An endpoint that
 * is not a usable URL is DM_ERR_CONFIG, with the URL quoted redacted. */
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
/* Deadlines (dm_monotonic_ms; 0: none) for every call of every client: a
 * retry whose backoff would end past retry_until gives up with
 * DM_ERR_STOPPED instead of waiting, and no attempt's timeout reaches past
 * attempts_until (at least retry_until): an attempt already sent has
 * longer to be answered than a new one has to start, since once sent it
 * may be carried out, and given up it leaves its item in doubt. */
DM_API void ddb_shared_set_deadline(ddb_shared *s, int64_t retry_until, int64_t attempts_until);

typedef struct ddb_client ddb_client;

/* Caps the backoff between this client's retries (ms; 0: the policy's
 * 20 s): for a few requests that must get through before a deadline,
 * such as the last save of a run's cursors. */
DM_API void ddb_client_set_backoff_cap(ddb_client *c, int ms);

/* A client with a loop of its own. */
DM_API ddb_client *ddb_client_new(ddb_shared *s);
/* A client on the caller's loop (borrowed; it must outlive the client). */
DM_API ddb_client *ddb_client_new_on_loop(ddb_shared *s, dm_loop *loop);
/* Frees the client; calls still pending are dropped unfinished (their
 * timers and requests are withdrawn from the loop). Not from a callback. */
DM_API void ddb_client_free(ddb_client *c);
/* The loop the client runs on. Borrowed. */
DM_API dm_loop *ddb_client_loop(ddb_client *c);
DM_API const char *ddb_client_region(const ddb_client *c);

typedef struct ddb_call ddb_call;
/* A finished call, handed back (see the top of this file). */
typedef void (*ddb_done_fn)(ddb_call *call, void *ud);

struct ddb_call {
    /* In */
    const char *op;        /* "Scan", "UpdateItem", ...; static string */
    const char *table;     /* for messages; borrowed, may be NULL */
    dm_buf body;           /* request JSON; owned by the call */
    int max_attempts;      /* 0: the shared default */
    void *user;
    ddb_done_fn on_done;   /* NULL: collect it with ddb_client_wait */
    void *on_done_ud;
    /* Out (after completion) */
    int rc;                /* DM_OK, or the error's code */
    dm_error err;          /* type/message on failure */
    long status;
    dm_buf response;       /* the last answer's body, error bodies too */
    int attempts;
    int throttles;
    bool maybe_applied;    /* an attempt got no answer, or a 5xx one: it may have been carried out */
    /* Private */
    http_request http_;
    const char *headers_[8];
    dm_buf header_text_;   /* the lines headers_ points into; holds secrets */
    dm_loop_timer retry_timer_;  /* the backoff before the next attempt */
    struct ddb_client *client_;
    int budget_cost_;
    struct ddb_call *next_, *prev_;
};

/* Prepares a call; fill call->body (and on_done, if wanted) before
 * starting it. */
DM_API void ddb_call_init(ddb_call *call, const char *op, const char *table);
DM_API void ddb_call_cleanup(ddb_call *call);
/* Makes a finished (or cleaned-up, or initialised) call ready for another
 * request like ddb_call_init, keeping its buffers' memory (up to 64 KiB
 * each) for the next body and answer. on_done and user are cleared too. */
DM_API void ddb_call_reuse(ddb_call *call, const char *op, const char *table);

/* Starts a call; it is handed back through call->on_done or
 * ddb_client_wait, with call->rc set, and is borrowed until then. Safe
 * from loop callbacks (on_done included). */
DM_API int ddb_client_start(ddb_client *c, ddb_call *call);
/* Runs the loop for at most timeout_ms (0: one pass without waiting);
 * *done gets one finished call that has no on_done, or NULL. Not from a
 * loop callback. */
DM_API int ddb_client_wait(ddb_client *c, int timeout_ms, ddb_call **done);
/* Calls started and not yet handed back (through either way). */
DM_API size_t ddb_client_pending(const ddb_client *c);

/* Runs one call to completion, running the loop: other calls and timers on
 * it progress meanwhile, and finished calls without on_done stay for
 * ddb_client_wait. call->on_done is used for the duration and restored.
 * Returns call->rc; DM_ERR_INVALID from a loop callback. */
DM_API int ddb_client_run(ddb_client *c, ddb_call *call);

/* While *stop (borrowed; typically set by a signal handler) is nonzero,
 * ddb_client_run, and ddb_request and the helpers of ddb_ops.h over it,
 * give up their call within about 100 ms, retries and backoff included:
 * the call fails with DM_ERR_STOPPED and its connection is dropped. NULL
 * (the default) waits for every call. Returns the previous pointer. */
DM_API volatile sig_atomic_t *ddb_client_set_stop(ddb_client *c, volatile sig_atomic_t *stop);

/* One synchronous request from a jansson object (borrowed); *out gets the
 * parsed answer (owned) when out is not NULL. Not from a loop callback. */
DM_API int ddb_request(ddb_client *c, const char *op, const char *table, json_t *req, json_t **out,
                       dm_error *err);

#endif
