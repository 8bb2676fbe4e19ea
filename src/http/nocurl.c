/* The libcurl backend's stand-in where ddbmig is built without libcurl
 * (the statically linked release binary: Debian ships no static libraries
 * for much of what libcurl links). libcurl is only there for proxies, so
 * with a proxy variable set a request ends at once, not retried
 * (HTTP_NET_OTHER), naming the way out, instead of silently going around
 * the proxy. */
#include <stdlib.h>
#include <string.h>

#include "http/backend.h"

typedef struct nocurl {
    http_backend_done_fn done;
    void *ud;
} nocurl;

static void *create(const http_options *opts, dm_loop *loop, http_backend_done_fn done, void *ud)
{
    (void)opts;
    (void)loop;
    nocurl *n = calloc(1, sizeof *n);
    if (n) {
        n->done = done;
        n->ud = ud;
    }
    return n;
}

static void destroy(void *impl) { free(impl); }

static int start(void *impl, http_request *req)
{
    nocurl *n = impl;
    req->net_error = HTTP_NET_OTHER;
    dm_strlcpy(req->net_message,
               "a proxy is set (https_proxy, http_proxy or all_proxy), but this ddbmig is built without libcurl, "
               "which proxies need: use the dynamically linked build, or DDBMIG_HTTP=native to connect directly",
               sizeof req->net_message);
    n->done(n->ud, req);
    return DM_OK;
}

const http_backend http_curl_backend = {"curl", create, destroy, start};
