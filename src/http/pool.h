/* The native backend's connection pool: opening connections (name
 * resolution, a non-blocking connect to each address in turn, the TLS
 * handshake, the connect deadline), registering their sockets on the
 * caller's event loop, keeping them for reuse by origin, enforcing the
 * connection limit, and closing them.
 *
 * The pool knows nothing of HTTP; the exchange on a connection (h1.c) is
 * told through callbacks when a connection is ready, has I/O, or failed to
 * open, and keeps its own state in the fields marked "exchange's".
 *
 * Closing parks a connection until http_pool_sweep, so that code up the
 * stack may still look at it (k->closed); every entry point from the loop
 * sweeps before it returns. */
#ifndef DDBMIG_HTTP_POOL_H
#define DDBMIG_HTTP_POOL_H

#include "ddbmig/http.h"
#include "ddbmig/loop.h"
#include "http/h1_parser.h"
#include "http/resolve.h"
#include "http/tls.h"
#include "http/url.h"

typedef struct http_pool http_pool;
typedef struct http_conn http_conn;

/* Where a connection goes: equal origins share connections. */
typedef struct http_origin {
    bool tls;
    char host[254];      /* without brackets */
    char port[6];
    char authority[270]; /* for messages and the Host header */
} http_origin;

struct http_conn {
    /* The pool's. */
    http_origin org;
    int fd;
    SSL *ssl;
    bool ready;            /* connected, TLS handshake done */
    bool closed;           /* parked until the next sweep */
    dm_loop_io io;
    dm_loop_timer connect_timer;
    http_addrs addrs;
    int addr_i;
    http_pool *pool;
    struct http_conn *next, *prev;
    /* The exchange's. */
    void *job;             /* the request on this connection; NULL: idle */
    bool reused;           /* has carried a whole exchange before */
    bool got_bytes;        /* some of the current answer arrived */
    dm_buf out;            /* the request being sent */
    size_t out_off;
    dm_buf in;             /* received and not yet consumed from in_off */
    size_t in_off;
    h1_parser parser;
};

typedef struct http_pool_events {
    /* k finished connecting (and its handshake): it can send. */
    void (*ready)(void *ud, http_conn *k);
    /* A ready connection's socket has events (DM_LOOP_READ, ...). */
    void (*io)(void *ud, http_conn *k, unsigned events);
    /* k could not be opened (kind, msg for people); the pool closes it
     * after this returns. */
    void (*failed)(void *ud, http_conn *k, http_net_error kind, const char *msg);
} http_pool_events;

/* opts (defaults filled in) and loop are borrowed for the pool's life. */
http_pool *http_pool_new(dm_loop *loop, const http_options *opts, const http_pool_events *ev, void *ud);
/* Closes every connection (without callbacks) and frees the pool. */
void http_pool_free(http_pool *p);

void http_origin_from_url(http_origin *o, const http_url *u);
bool http_origin_equal(const http_origin *a, const http_origin *b);

/* An idle, ready connection to o; NULL when there is none. */
http_conn *http_pool_idle(http_pool *p, const http_origin *o);
/* k has no request any more: it moves to the front of the list, where
 * http_pool_idle looks first (and finds the most recently used one). */
void http_pool_now_idle(http_pool *p, http_conn *k);
/* Whether a new connection may open now; at the limit, an idle connection
 * to another origin is closed to make room. */
bool http_pool_room(http_pool *p);
/* Starts opening a connection to o. Returns it, or NULL with kind and msg
 * saying why (name resolution, every address refused, out of memory). */
http_conn *http_pool_open(http_pool *p, const http_origin *o, http_net_error *kind, char *msg, size_t msg_size);
/* Closes k now (socket, TLS, watchers) and parks it for the sweep.
 * Closing a closed connection does nothing. */
void http_pool_close(http_pool *p, http_conn *k);
/* Frees parked connections. */
void http_pool_sweep(http_pool *p);
size_t http_pool_count(const http_pool *p);
/* The open (and opening) connections, linked by next; idle ones first. */
http_conn *http_pool_first(http_pool *p);

/* What k's socket should be watched for (DM_LOOP_READ | DM_LOOP_WRITE). */
void http_conn_want(http_conn *k, unsigned events);
/* Reads or writes on a ready connection, through TLS when it has it. */
http_io http_conn_recv(http_conn *k, char *dst, size_t n, size_t *got, int *err);
http_io http_conn_send(http_conn *k, const char *src, size_t n, size_t *put, int *err);

#endif
