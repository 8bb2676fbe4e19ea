/* The two implementations behind http_client: a native HTTP/1.1 client
 * (the default: a fraction of curl's CPU per request, which is what a
 * migration spends its client time on) and libcurl (proxies, and as a
 * fallback). Each keeps its own connections on the event loop it is given;
 * http_client picks one and hands requests back to their callers.
 *
 * A backend reports every finished request through done(ud, req), with
 * the request's outputs filled in. It may do so from within start (a URL
 * it refuses): http_client only queues the request there, and hands it
 * back from a loop callback of its own, never from inside the backend. */
#ifndef DDBMIG_HTTP_BACKEND_H
#define DDBMIG_HTTP_BACKEND_H

#include "ddbmig/http.h"
#include "ddbmig/loop.h"

typedef void (*http_backend_done_fn)(void *ud, http_request *req);

typedef struct http_backend {
    const char *name;
    /* opts arrive with their defaults filled in; opts and loop are
     * borrowed for the backend's life. */
    void *(*create)(const http_options *opts, dm_loop *loop, http_backend_done_fn done, void *ud);
    /* Closes everything; requests still in flight are dropped without
     * being reported. */
    void (*destroy)(void *impl);
    int (*start)(void *impl, http_request *req);
} http_backend;

extern const http_backend http_curl_backend;
extern const http_backend http_h1_backend;

#endif
