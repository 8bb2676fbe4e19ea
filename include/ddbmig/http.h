/* HTTP transport: one client per thread keeps its connections alive and runs
 * any number of requests concurrently without a thread each. TLS
 * verification is always on.
 *
 * Two implementations stand behind it: a native HTTP/1.1 client (default)
 * and libcurl, used when a proxy variable (https_proxy, HTTPS_PROXY,
 * http_proxy, HTTP_PROXY, all_proxy, ALL_PROXY) is set, since curl applies
 * those with NO_PROXY; DDBMIG_HTTP=curl or =native forces one.
 *
 * Event loop: every socket and timer of a client (connections, connect and
 * request deadlines) lives on one dm_loop (loop.h): the caller's, given in
 * http_options.loop, or one the client makes for itself. A client and its
 * loop belong to one thread.
 *
 * A request is owned by the caller; it is borrowed by the client from
 * http_client_start() until it is handed back, in one of two ways:
 *   - with on_done set, by calling on_done(req, on_done_ud) from a callback
 *     of the loop (never from within http_client_start). The callback may
 *     start new requests, on this client too, and may free or reuse req;
 *     it must not free the client or run the loop.
 *   - with on_done NULL, through http_client_wait(), which runs the loop
 *     until such a request has finished. */
#ifndef DDBMIG_HTTP_H
#define DDBMIG_HTTP_H

#include <stdbool.h>

#include "ddbmig/common.h"

typedef enum http_net_error {
    HTTP_NET_OK = 0,
    HTTP_NET_CONNECT,  /* refused or unreachable */
    HTTP_NET_RESOLVE,  /* host name did not resolve */
    HTTP_NET_TIMEOUT,
    HTTP_NET_RESET,    /* dropped mid-request, empty or partial answer */
    HTTP_NET_TLS,
    HTTP_NET_OTHER
} http_net_error;

struct dm_loop;

typedef struct http_options {
    long connect_timeout_ms; /* 0: 3000 */
    long timeout_ms;         /* whole request; 0: 30000 */
    long max_connections;    /* per client; 0: 64 */
    const char *ca_file;     /* PEM bundle replacing the system's; copied */
    struct dm_loop *loop;    /* borrowed, must outlive the client; NULL:
                              * the client makes and owns one */
} http_options;

typedef struct http_request http_request;
typedef void (*http_done_fn)(http_request *req, void *ud);

struct http_request {
    /* In: all borrowed until the request completes. */
    const char *method;
    const char *url;
    const char *const *headers; /* "Name: value" lines */
    size_t n_headers;
    const char *body;
    size_t body_len;
    long timeout_ms;            /* 0: client default */
    http_done_fn on_done;       /* NULL: hand back through http_client_wait */
    void *on_done_ud;
    /* Out: filled on completion; release with http_request_cleanup. */
    long status;                /* 0 when no HTTP answer */
    http_net_error net_error;
    bool resent;                /* sent again after a kept-alive connection died unanswered: the first
                                 * send may have reached the server */
    char net_message[256];
    dm_buf response;            /* body */
    dm_buf response_headers;    /* "name: value\n" lines, names lower-cased */
    void *user;                 /* for the caller */
    struct http_request *next_; /* client's */
};

typedef struct http_client http_client;

DM_API http_client *http_client_new(const http_options *opts);
/* Closes the client's connections and withdraws its watchers from the
 * loop; requests not yet handed back are dropped without a callback. Not
 * from one of the client's own callbacks. */
DM_API void http_client_free(http_client *c);

/* The loop the client's sockets and timers are on. Borrowed. */
DM_API struct dm_loop *http_client_loop(http_client *c);

/* Resets req's outputs and starts it: it is sent as soon as a connection
 * allows. A URL that does not parse (see src/http/url.c) is not an error
 * here: the request finishes with HTTP_NET_OTHER and the reason. */
DM_API int http_client_start(http_client *c, http_request *req);
/* Runs the loop for at most timeout_ms (0: one pass without waiting) and
 * hands back one finished request that has no on_done in *done (NULL if
 * none finished in time, or none is in flight). Not from a loop callback. */
DM_API int http_client_wait(http_client *c, int timeout_ms, http_request **done);
/* Number of requests started and not yet handed back. */
DM_API size_t http_client_in_flight(const http_client *c);
/* Runs one request to completion, running the loop (other requests and
 * timers on it progress meanwhile). req->on_done is used for the duration
 * and restored. Not from a loop callback (DM_ERR_INVALID). */
DM_API int http_client_perform(http_client *c, http_request *req);

/* "native" or "curl": what http_client_new would pick now. */
DM_API const char *http_backend_name(void);

/* Value of a response header (name in lower case) copied into buf; NULL
 * when absent. */
DM_API const char *http_response_header(const http_request *req, const char *name, char *buf, size_t size);
DM_API void http_request_cleanup(http_request *req);
/* Resets the outputs so that the request can be sent again. */
DM_API void http_request_reset(http_request *req);

/* Writes request headers to the debug log with secrets redacted
 * (authorization, x-amz-security-token, metadata tokens). */
DM_API void http_log_headers(const char *prefix, const char *const *headers, size_t n);

#endif
