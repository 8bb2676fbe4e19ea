/* The two implementations behind http_client: libcurl (proxies, and as a
 * fallback) and a native HTTP/1.1 client (the default: a fraction of curl's
 * CPU per request, which is what a migration spends its client time on).
 * Each keeps its own connections; http_client only picks one. */
#ifndef DDBMIG_HTTP_BACKEND_H
#define DDBMIG_HTTP_BACKEND_H

#include "ddbmig/http.h"

typedef struct http_backend {
    const char *name;
    void *(*create)(const http_options *opts);
    void (*destroy)(void *impl);
    int (*start)(void *impl, http_request *req);
    int (*wait)(void *impl, int timeout_ms, http_request **done);
    size_t (*in_flight)(const void *impl);
} http_backend;

extern const http_backend http_curl_backend;
extern const http_backend http_h1_backend;

#endif
