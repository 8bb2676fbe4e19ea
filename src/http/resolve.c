/* Host names to addresses, cached per client (see resolve.h). */
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "ddbmig/common.h"
#include "http/resolve.h"

void http_resolver_init(http_resolver *r) { memset(r, 0, sizeof *r); }

int http_resolve(http_resolver *r, const char *host, const char *port, http_addrs *out, char *msg,
                 size_t msg_size)
{
    int64_t now = dm_monotonic_ms();
    int oldest = 0;
    for (int i = 0; i < HTTP_RESOLVE_CACHE; i++) {
        if (r->entry[i].resolved_ms && now - r->entry[i].resolved_ms < HTTP_RESOLVE_TTL_MS &&
            strcmp(r->entry[i].host, host) == 0 && strcmp(r->entry[i].port, port) == 0) {
            *out = r->entry[i].addrs;
            return DM_OK;
        }
        if (r->entry[i].resolved_ms < r->entry[oldest].resolved_ms)
            oldest = i;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0) {
        snprintf(msg, msg_size, "could not resolve host %.120s: %.100s", host, gai_strerror(g));
        return DM_ERR_NETWORK;
    }
    http_addrs a = {.n = 0};
    for (struct addrinfo *ai = res; ai && a.n < HTTP_RESOLVE_MAX_ADDRS; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof a.addr[0])
            continue;
        memcpy(&a.addr[a.n], ai->ai_addr, ai->ai_addrlen);
        a.len[a.n++] = ai->ai_addrlen;
    }
    freeaddrinfo(res);
    if (a.n == 0) {
        snprintf(msg, msg_size, "could not resolve host %.120s: no usable address", host);
        return DM_ERR_NETWORK;
    }
    dm_strlcpy(r->entry[oldest].host, host, sizeof r->entry[oldest].host);
    dm_strlcpy(r->entry[oldest].port, port, sizeof r->entry[oldest].port);
    r->entry[oldest].addrs = a;
    r->entry[oldest].resolved_ms = now ? now : 1;
    *out = a;
    return DM_OK;
}
