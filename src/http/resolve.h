/* Name resolution for the native HTTP backend, with a small cache: a
 * client talks to one or two origins for hours, and getaddrinfo (which
 * blocks the calling thread) should run when a connection opens only if
 * the answer is older than HTTP_RESOLVE_TTL_MS. */
#ifndef DDBMIG_HTTP_RESOLVE_H
#define DDBMIG_HTTP_RESOLVE_H

#include <stdint.h>
#include <sys/socket.h>

#define HTTP_RESOLVE_MAX_ADDRS 4
#define HTTP_RESOLVE_CACHE 4
#define HTTP_RESOLVE_TTL_MS 60000

/* The addresses of a host, in the resolver's order; tried in turn. */
typedef struct http_addrs {
    struct sockaddr_storage addr[HTTP_RESOLVE_MAX_ADDRS];
    socklen_t len[HTTP_RESOLVE_MAX_ADDRS];
    int n;
} http_addrs;

typedef struct http_resolver {
    struct {
        char host[256], port[8];
        http_addrs addrs;
        int64_t resolved_ms; /* 0: empty */
    } entry[HTTP_RESOLVE_CACHE];
} http_resolver;

void http_resolver_init(http_resolver *r);

/* Addresses of host:port (numeric port) into *out, from the cache when
 * fresh. Returns DM_OK, or DM_ERR_NETWORK with a message for people in
 * msg. */
int http_resolve(http_resolver *r, const char *host, const char *port, http_addrs *out, char *msg,
                 size_t msg_size);

#endif
