/* Connections of the native backend: open, keep, limit, close (see
 * pool.h). A connection's socket is registered on the loop from its
 * connect to its close; its connect deadline is a loop timer. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/pool.h"

#define MAX_HEAD_BYTES H1_DEFAULT_MAX_HEAD
#define READ_ROOM (2 * 16384)

struct http_pool {
    dm_loop *loop;
    http_options opts;
    http_pool_events ev;
    void *ud;
    SSL_CTX *tls;          /* made at the first TLS connection */
    http_resolver dns;
    http_conn *conns;      /* open or opening */
    http_conn *dead;       /* closed, not yet freed */
    size_t n_conns;
};

/* Connection-private phase: connected is set once TCP is up. */
#define CONNECTED(k) ((k)->addr_i < 0)

void http_origin_from_url(http_origin *o, const http_url *u)
{
    o->tls = u->tls;
    memcpy(o->host, u->host, sizeof o->host);
    memcpy(o->port, u->port, sizeof o->port);
    memcpy(o->authority, u->authority, sizeof o->authority);
}

bool http_origin_equal(const http_origin *a, const http_origin *b)
{
    return a->tls == b->tls && strcmp(a->port, b->port) == 0 && strcmp(a->host, b->host) == 0;
}

http_pool *http_pool_new(dm_loop *loop, const http_options *opts, const http_pool_events *ev, void *ud)
{
    http_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->loop = loop;
    p->opts = *opts;
    p->ev = *ev;
    p->ud = ud;
    http_resolver_init(&p->dns);
    return p;
}

void http_pool_free(http_pool *p)
{
    if (!p)
        return;
    while (p->conns)
        http_pool_close(p, p->conns);
    http_pool_sweep(p);
    if (p->tls)
        SSL_CTX_free(p->tls);
    free(p);
}

size_t http_pool_count(const http_pool *p) { return p->n_conns; }

http_conn *http_pool_first(http_pool *p) { return p->conns; }

static void unlink_conn(http_pool *p, http_conn *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        p->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    k->next = k->prev = NULL;
}

static void push_front(http_pool *p, http_conn *k)
{
    k->prev = NULL;
    k->next = p->conns;
    if (p->conns)
        p->conns->prev = k;
    p->conns = k;
}

void http_pool_now_idle(http_pool *p, http_conn *k)
{
    if (k->closed || p->conns == k)
        return;
    unlink_conn(p, k);
    push_front(p, k);
}

void http_pool_close(http_pool *p, http_conn *k)
{
    if (k->closed)
        return;
    unlink_conn(p, k);
    dm_loop_timer_stop(p->loop, &k->connect_timer);
    if (k->fd >= 0) {
        dm_loop_io_stop(p->loop, &k->io);
        if (k->ssl)
            SSL_free(k->ssl);
        close(k->fd);
    }
    k->ssl = NULL;
    k->fd = -1;
    k->closed = true;
    k->ready = false;
    k->job = NULL;
    k->next = p->dead;
    p->dead = k;
    p->n_conns--;
}

void http_pool_sweep(http_pool *p)
{
    while (p->dead) {
        http_conn *k = p->dead;
        p->dead = k->next;
        dm_buf_cleanup(&k->out);
        dm_buf_cleanup(&k->in);
        free(k);
    }
}

void http_conn_want(http_conn *k, unsigned events) { dm_loop_io_start(k->pool->loop, &k->io, events); }

/* ---- opening ------------------------------------------------------------- */

static void fail(http_pool *p, http_conn *k, http_net_error kind, const char *msg)
{
    p->ev.failed(p->ud, k, kind, msg);
    http_pool_close(p, k);
}

static void become_ready(http_pool *p, http_conn *k)
{
    dm_loop_timer_stop(p->loop, &k->connect_timer);
    k->ready = true;
    http_conn_want(k, DM_LOOP_READ);
    p->ev.ready(p->ud, k);
}

static void on_io(dm_loop_io *io, unsigned events, void *ud);

/* Starts a non-blocking connect to k's next address; 0 or an errno. */
static int connect_next(http_pool *p, http_conn *k)
{
    if (k->fd >= 0) {
        dm_loop_io_stop(p->loop, &k->io);
        close(k->fd);
        k->fd = -1;
    }
    int err = ECONNREFUSED;
    while (k->addr_i < k->addrs.n) {
        int i = k->addr_i++;
        const struct sockaddr_storage *sa = &k->addrs.addr[i];
        int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        if (connect(fd, (const struct sockaddr *)sa, k->addrs.len[i]) < 0 && errno != EINPROGRESS) {
            err = errno;
            close(fd);
            continue;
        }
        /* Writable means connected (or failed: SO_ERROR tells). */
        dm_loop_io_init(&k->io, fd, on_io, k);
        if (dm_loop_io_start(p->loop, &k->io, DM_LOOP_WRITE) != DM_OK) {
            err = errno;
            close(fd);
            continue;
        }
        k->fd = fd;
        return 0;
    }
    return err;
}

static void handshake(http_pool *p, http_conn *k)
{
    switch (http_tls_handshake(k->ssl)) {
    case HTTP_IO_DONE:
        become_ready(p, k);
        return;
    case HTTP_IO_WANT_READ:
        http_conn_want(k, DM_LOOP_READ);
        return;
    case HTTP_IO_WANT_WRITE:
        http_conn_want(k, DM_LOOP_READ | DM_LOOP_WRITE);
        return;
    default: {
        char msg[256];
        http_tls_failure(k->ssl, k->org.host, msg, sizeof msg);
        fail(p, k, HTTP_NET_TLS, msg);
    }
    }
}

/* TCP is up: TLS begins, or the connection is ready. */
static void connected(http_pool *p, http_conn *k)
{
    k->addr_i = -1;
    if (!k->org.tls) {
        become_ready(p, k);
        return;
    }
    char msg[256];
    if (!p->tls && !(p->tls = http_tls_context(p->opts.ca_file, msg, sizeof msg))) {
        fail(p, k, HTTP_NET_TLS, msg);
        return;
    }
    if (!(k->ssl = http_tls_session(p->tls, k->fd, k->org.host, msg, sizeof msg))) {
        fail(p, k, HTTP_NET_TLS, msg);
        return;
    }
    handshake(p, k);
}

static void connect_done(http_pool *p, http_conn *k)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (!err) {
        connected(p, k);
        return;
    }
    if (connect_next(p, k) == 0)
        return;
    char msg[256];
    snprintf(msg, sizeof msg, "could not connect to %.120s: %.100s", k->org.authority, strerror(err));
    fail(p, k, HTTP_NET_CONNECT, msg);
}

static void on_io(dm_loop_io *io, unsigned events, void *ud)
{
    http_conn *k = ud;
    http_pool *p = k->pool;
    (void)io;
    if (k->ready)
        p->ev.io(p->ud, k, events);
    else if (!CONNECTED(k))
        connect_done(p, k);
    else
        handshake(p, k);
    http_pool_sweep(p);
}

static void on_connect_timeout(dm_loop_timer *t, void *ud)
{
    http_conn *k = ud;
    http_pool *p = k->pool;
    (void)t;
    char msg[256];
    snprintf(msg, sizeof msg, "connecting to %.120s timed out after %ld ms", k->org.authority,
             p->opts.connect_timeout_ms);
    fail(p, k, HTTP_NET_TIMEOUT, msg);
    http_pool_sweep(p);
}

http_conn *http_pool_open(http_pool *p, const http_origin *o, http_net_error *kind, char *msg, size_t msg_size)
{
    http_conn *k = calloc(1, sizeof *k);
    if (!k) {
        *kind = HTTP_NET_OTHER;
        snprintf(msg, msg_size, "out of memory");
        return NULL;
    }
    k->fd = -1;
    k->org = *o;
    k->pool = p;
    dm_buf_init(&k->out, 0);
    dm_buf_init(&k->in, MAX_HEAD_BYTES + READ_ROOM);
    dm_loop_timer_init(&k->connect_timer, on_connect_timeout, k);
    if (http_resolve(&p->dns, o->host, o->port, &k->addrs, msg, msg_size) != DM_OK) {
        free(k);
        *kind = HTTP_NET_RESOLVE;
        return NULL;
    }
    int err = connect_next(p, k);
    if (err) {
        if (k->fd >= 0)
            close(k->fd);
        free(k);
        *kind = HTTP_NET_CONNECT;
        snprintf(msg, msg_size, "could not connect to %.120s: %.100s", o->authority, strerror(err));
        return NULL;
    }
    dm_loop_timer_start(p->loop, &k->connect_timer, p->opts.connect_timeout_ms);
    push_front(p, k);
    p->n_conns++;
    return k;
}

/* ---- reuse and limits ------------------------------------------------------ */

http_conn *http_pool_idle(http_pool *p, const http_origin *o)
{
    /* Connections move to the front when they fall idle, so the scan
     * usually ends at the first one. */
    for (http_conn *k = p->conns; k; k = k->next)
        if (k->ready && !k->job && http_origin_equal(&k->org, o))
            return k;
    return NULL;
}

bool http_pool_room(http_pool *p)
{
    if (p->n_conns < (size_t)p->opts.max_connections)
        return true;
    for (http_conn *k = p->conns; k; k = k->next) {
        if (k->ready && !k->job) {
            http_pool_close(p, k);
            return true;
        }
    }
    return false;
}

/* ---- I/O --------------------------------------------------------------------- */

http_io http_conn_recv(http_conn *k, char *dst, size_t n, size_t *got, int *err)
{
    *err = 0;
    if (k->ssl)
        return http_tls_read(k->ssl, dst, n, got);
    for (;;) {
        ssize_t r = recv(k->fd, dst, n, 0);
        if (r > 0) {
            *got = (size_t)r;
            return HTTP_IO_DONE;
        }
        *got = 0;
        if (r == 0)
            return HTTP_IO_EOF;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return HTTP_IO_WANT_READ;
        if (errno != EINTR) {
            *err = errno;
            return HTTP_IO_FAILED;
        }
    }
}

http_io http_conn_send(http_conn *k, const char *src, size_t n, size_t *put, int *err)
{
    *err = 0;
    if (k->ssl)
        return http_tls_write(k->ssl, src, n, put);
    for (;;) {
        ssize_t w = send(k->fd, src, n, MSG_NOSIGNAL);
        if (w >= 0) {
            *put = (size_t)w;
            return HTTP_IO_DONE;
        }
        *put = 0;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return HTTP_IO_WANT_WRITE;
        if (errno != EINTR) {
            *err = errno;
            return HTTP_IO_FAILED;
        }
    }
}
