/* Native HTTP/1.1 backend: the exchange of a request and its answer on a
 * pooled connection (pool.c), one request at a time on each connection (no
 * pipelining). URLs are parsed by url.c, answers by h1_parser.c; every
 * socket and deadline lives on the caller's event loop.
 *
 * A migration spends its client time per request, and curl spends more on
 * each request (option handling, URL parsing, a liveness poll before each
 * reuse, its header machinery) than ddbmig spends on everything else for an
 * item. Here a request goes out in one write, its answer usually comes in
 * with one read, and a socket stays registered with the loop for its whole
 * life.
 *
 * Deadlines: each request has one timer for its whole time (waiting for a
 * connection, connecting, sending, reading); connecting has its own in the
 * pool. Requests beyond the connection limit wait in a queue, which a
 * zero-delay timer ("kick") drains when a connection frees up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/backend.h"
#include "http/pool.h"

#define READ_CHUNK 16384

typedef struct h1 h1;

typedef struct job {
    h1 *c;
    http_request *req;
    http_url url;
    http_origin org;
    dm_loop_timer deadline;
    http_conn *conn;      /* the connection carrying it; NULL while queued */
    bool stale_retried;   /* sent once more after a kept-alive connection died */
    struct job *next;     /* in the queue, or the free list */
} job;

struct h1 {
    http_options opts;
    dm_loop *loop;
    http_backend_done_fn done;
    void *done_ud;
    http_pool *pool;
    job *queue, *queue_tail;  /* waiting for a connection */
    dm_loop_timer kick;       /* drains the queue from the loop */
    job *free_jobs;
    /* The last URL parsed (a client sends to one endpoint over and over):
     * its text, and the parse with path as an offset into it. */
    char *url_text;
    http_url url_parsed;
};

static void dispatch(h1 *c, job *j);
static void try_send(h1 *c, http_conn *k);

/* ---- jobs -------------------------------------------------------------- */

static void on_deadline(dm_loop_timer *t, void *ud);

static job *job_take(h1 *c)
{
    job *j = c->free_jobs;
    if (j)
        c->free_jobs = j->next;
    else if (!(j = malloc(sizeof *j)))
        return NULL;
    j->c = c;
    j->conn = NULL;
    j->stale_retried = false;
    j->next = NULL;
    dm_loop_timer_init(&j->deadline, on_deadline, j);
    return j;
}

/* Hands the request back and recycles the job. */
static void job_finish(h1 *c, job *j)
{
    dm_loop_timer_stop(c->loop, &j->deadline);
    http_request *req = j->req;
    j->req = NULL;
    j->next = c->free_jobs;
    c->free_jobs = j;
    c->done(c->done_ud, req);
}

static void job_fail(h1 *c, job *j, http_net_error kind, const char *msg)
{
    http_request *req = j->req;
    req->status = 0;
    req->net_error = kind;
    dm_strlcpy(req->net_message, msg, sizeof req->net_message);
    job_finish(c, j);
}

static void queue_push(h1 *c, job *j)
{
    j->next = NULL;
    if (c->queue_tail)
        c->queue_tail->next = j;
    else
        c->queue = j;
    c->queue_tail = j;
}

static job *queue_pop(h1 *c)
{
    job *j = c->queue;
    if (j) {
        c->queue = j->next;
        if (!c->queue)
            c->queue_tail = NULL;
    }
    return j;
}

static void queue_remove(h1 *c, job *j)
{
    job *prev = NULL;
    for (job *q = c->queue; q; prev = q, q = q->next) {
        if (q == j) {
            if (prev)
                prev->next = q->next;
            else
                c->queue = q->next;
            if (c->queue_tail == q)
                c->queue_tail = prev;
            return;
        }
    }
}

/* A connection may have freed up: let queued requests try again, from the
 * loop rather than from deep inside whatever freed it. */
static void kick(h1 *c)
{
    if (c->queue && !dm_loop_timer_active(&c->kick))
        dm_loop_timer_start(c->loop, &c->kick, 0);
}

/* ---- the request --------------------------------------------------------- */

static bool skip_header(const char *line)
{
    const char *colon = strchr(line, ':');
    if (!colon)
        return true;
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    /* "Name:" with nothing after it asks curl not to send the header. */
    return *v == '\0';
}

static int build_request(http_conn *k, const job *j)
{
    const http_request *r = j->req;
    dm_buf *o = &k->out;
    dm_buf_reset(o);
    k->out_off = 0;
    bool has_host = false;
    int rc = dm_buf_reserve(o, 256 + r->body_len);
    rc = rc ? rc : dm_buf_puts(o, r->method);
    rc = rc ? rc : dm_buf_putc(o, ' ');
    if (rc == DM_OK && http_url_needs_slash(&j->url))
        rc = dm_buf_putc(o, '/');
    rc = rc ? rc : dm_buf_append(o, j->url.path, j->url.path_len);
    rc = rc ? rc : dm_buf_puts(o, " HTTP/1.1\r\n");
    for (size_t i = 0; rc == DM_OK && i < r->n_headers; i++) {
        if (skip_header(r->headers[i]))
            continue;
        has_host = has_host || strncasecmp(r->headers[i], "host:", 5) == 0;
        rc = dm_buf_puts(o, r->headers[i]);
        rc = rc ? rc : dm_buf_puts(o, "\r\n");
    }
    if (rc == DM_OK && !has_host) {
        rc = dm_buf_puts(o, "Host: ");
        rc = rc ? rc : dm_buf_puts(o, j->org.authority);
        rc = rc ? rc : dm_buf_puts(o, "\r\n");
    }
    bool body = r->body || strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0;
    if (rc == DM_OK && body) {
        rc = dm_buf_puts(o, "Content-Length: ");
        rc = rc ? rc : dm_buf_put_int(o, (long long)r->body_len);
        rc = rc ? rc : dm_buf_puts(o, "\r\n");
    }
    rc = rc ? rc : dm_buf_puts(o, "\r\n");
    if (rc == DM_OK && r->body_len)
        rc = dm_buf_append(o, r->body, r->body_len);
    return rc;
}

static void assign(h1 *c, http_conn *k, job *j)
{
    k->job = j;
    j->conn = k;
    k->got_bytes = false;
    k->in.len = k->in_off = 0;
    h1_parser_init(&k->parser, strcmp(j->req->method, "HEAD") == 0);
    if (build_request(k, j) != DM_OK) {
        k->job = NULL;
        j->conn = NULL;
        job_fail(c, j, HTTP_NET_OTHER, "out of memory building the request");
        return;
    }
    if (k->ready)
        try_send(c, k);
}

/* Closes k, failing or re-sending its request. A kept-alive connection
 * that the server closed while it sat idle fails before any byte of the
 * answer: its request goes out once more on a fresh connection, as curl and
 * the AWS SDKs do. */
static void conn_fail(h1 *c, http_conn *k, http_net_error kind, const char *msg)
{
    job *j = k->job;
    bool stale = j && kind == HTTP_NET_RESET && k->reused && !k->got_bytes && !j->stale_retried;
    http_pool_close(c->pool, k);
    kick(c);
    if (!j)
        return;
    j->conn = NULL;
    if (stale) {
        j->stale_retried = true;
        j->req->resent = true;
        dispatch(c, j);
        return;
    }
    job_fail(c, j, kind, msg);
}

static void try_send(h1 *c, http_conn *k)
{
    while (k->out_off < k->out.len) {
        size_t put;
        int err;
        http_io r = http_conn_send(k, k->out.data + k->out_off, k->out.len - k->out_off, &put, &err);
        if (r == HTTP_IO_DONE) {
            k->out_off += put;
            continue;
        }
        if (r == HTTP_IO_WANT_READ || r == HTTP_IO_WANT_WRITE) {
            http_conn_want(k, DM_LOOP_READ | DM_LOOP_WRITE);
            return;
        }
        char msg[256];
        snprintf(msg, sizeof msg, "sending to %.120s failed%s%.100s", k->org.authority, err ? ": " : "",
                 err ? strerror(err) : "");
        conn_fail(c, k, HTTP_NET_RESET, msg);
        return;
    }
    http_conn_want(k, DM_LOOP_READ);
}

/* ---- the answer ------------------------------------------------------------ */

/* The answer is complete: hand it over and give the connection the next
 * queued request for its origin, or close it. */
static void complete(h1 *c, http_conn *k)
{
    job *j = k->job;
    j->req->net_error = HTTP_NET_OK;
    k->job = NULL;
    j->conn = NULL;
    /* Leftover bytes mean the server sent more than one answer. */
    bool reusable = k->parser.keep_alive && k->in_off == k->in.len && k->out_off == k->out.len;
    job_finish(c, j);
    if (!reusable) {
        http_pool_close(c->pool, k);
        kick(c);
        return;
    }
    k->reused = true;
    k->in.len = k->in_off = 0;
    if (c->queue && http_origin_equal(&c->queue->org, &k->org)) {
        assign(c, k, queue_pop(c));
        return;
    }
    http_pool_now_idle(c->pool, k);
    kick(c);
}

static void header_line(http_request *req, dm_str name, dm_str value, int *rc)
{
    dm_buf *h = &req->response_headers;
    if ((*rc = dm_buf_reserve(h, name.n + value.n + 3)) != DM_OK)
        return;
    char *o = h->data + h->len;
    for (size_t i = 0; i < name.n; i++)
        o[i] = (char)((name.p[i] >= 'A' && name.p[i] <= 'Z') ? name.p[i] + 32 : name.p[i]);
    o += name.n;
    *o++ = ':';
    *o++ = ' ';
    memcpy(o, value.p, value.n);
    o[value.n] = '\n';
    h->len += name.n + value.n + 3;
    h->data[h->len] = '\0';
}

/* Feeds what has arrived to the parser. Returns true when k is still in
 * use for this answer (more bytes needed), false when the answer completed
 * or failed (k may be closed). */
static bool parse_some(h1 *c, http_conn *k)
{
    http_request *req = ((job *)k->job)->req;
    for (;;) {
        h1_event ev;
        int rc = h1_parse(&k->parser, k->in.data + k->in_off, k->in.len - k->in_off, &ev);
        char msg[256];
        if (rc) {
            snprintf(msg, sizeof msg, "%s HTTP answer from %.120s: %.100s",
                     rc == DM_ERR_LIMIT ? "oversized" : "malformed", k->org.authority, k->parser.why);
            conn_fail(c, k, HTTP_NET_OTHER, msg);
            return false;
        }
        k->in_off += ev.used;
        switch (ev.kind) {
        case H1_NEED_MORE:
            return true;
        case H1_HEADER:
            header_line(req, ev.name, ev.value, &rc);
            break;
        case H1_HEAD_DONE:
            req->status = k->parser.status;
            break;
        case H1_BODY:
            rc = dm_buf_append(&req->response, ev.data.p, ev.data.n);
            break;
        case H1_TRAILER:
            break;
        case H1_DONE:
            complete(c, k);
            return false;
        }
        if (rc) {
            snprintf(msg, sizeof msg, "answer from %.120s larger than the limit", k->org.authority);
            conn_fail(c, k, HTTP_NET_OTHER, msg);
            return false;
        }
    }
}

/* Drops consumed bytes so that the buffer keeps room for the next read. */
static void compact(http_conn *k)
{
    if (k->in_off == k->in.len) {
        k->in.len = k->in_off = 0;
    } else if (k->in_off > 0) {
        memmove(k->in.data, k->in.data + k->in_off, k->in.len - k->in_off);
        k->in.len -= k->in_off;
        k->in_off = 0;
    }
}

/* The peer closed the connection, or reading failed. */
static void on_closed(h1 *c, http_conn *k, const char *why)
{
    if (k->job && h1_parser_eof_completes(&k->parser)) {
        complete(c, k);
        return;
    }
    if (!k->job) {
        http_pool_close(c->pool, k);
        kick(c);
        return;
    }
    char msg[256];
    snprintf(msg, sizeof msg,
             k->got_bytes ? "connection to %.120s closed before the answer was complete (%.60s)"
                          : "connection to %.120s closed without an answer (%.60s)",
             k->org.authority, why);
    conn_fail(c, k, HTTP_NET_RESET, msg);
}

static void on_readable(h1 *c, http_conn *k)
{
    if (!k->job) {
        /* An idle connection becomes readable when the server closes it;
         * over TLS also for records without data, which leave it usable. */
        if (!k->ssl || !http_tls_idle_usable(k->ssl)) {
            http_pool_close(c->pool, k);
            kick(c);
        }
        return;
    }
    for (;;) {
        if (dm_buf_reserve(&k->in, READ_CHUNK) != DM_OK) {
            char msg[256];
            snprintf(msg, sizeof msg, "answer headers from %.120s too large", k->org.authority);
            conn_fail(c, k, HTTP_NET_OTHER, msg);
            return;
        }
        size_t room = k->in.cap - k->in.len - 1, got = 0;
        if (room > k->in.max - k->in.len)
            room = k->in.max - k->in.len;
        int err;
        http_io r = http_conn_recv(k, k->in.data + k->in.len, room, &got, &err);
        if (r == HTTP_IO_WANT_READ)
            return;
        if (r == HTTP_IO_WANT_WRITE) {
            http_conn_want(k, DM_LOOP_READ | DM_LOOP_WRITE);
            return;
        }
        if (r != HTTP_IO_DONE) {
            on_closed(c, k, r == HTTP_IO_EOF ? "end of stream" : err ? strerror(err) : "TLS error");
            return;
        }
        k->in.len += got;
        k->got_bytes = true;
        /* A TLS read that wanted the socket writable has got through. */
        if (k->ssl && k->out_off == k->out.len)
            http_conn_want(k, DM_LOOP_READ);
        if (!parse_some(c, k))
            return;
        compact(k);
        /* A full read may have left more behind; over TLS, decrypted
         * bytes may wait inside OpenSSL where the socket cannot show them. */
        if (got < room && !k->ssl)
            return;
    }
}

/* ---- the pool's callbacks ---------------------------------------------------- */

static void on_ready(void *ud, http_conn *k)
{
    h1 *c = ud;
    if (k->job) {
        try_send(c, k);
        return;
    }
    http_pool_now_idle(c->pool, k);
    kick(c);
}

static void on_io(void *ud, http_conn *k, unsigned events)
{
    h1 *c = ud;
    if ((events & DM_LOOP_WRITE) && k->job && k->out_off < k->out.len) {
        try_send(c, k);
        if (k->closed)
            return;
    }
    /* Over TLS a read may wait for the socket to be writable. */
    bool read_waits = (events & DM_LOOP_WRITE) && k->ssl && k->job && k->out_off == k->out.len;
    if ((events & (DM_LOOP_READ | DM_LOOP_ERROR)) || read_waits)
        on_readable(c, k);
}

static void on_open_failed(void *ud, http_conn *k, http_net_error kind, const char *msg)
{
    h1 *c = ud;
    job *j = k->job;
    k->job = NULL;
    kick(c);
    if (j) {
        j->conn = NULL;
        job_fail(c, j, kind, msg);
    }
}

static const http_pool_events pool_events = {on_ready, on_io, on_open_failed};

/* ---- scheduling ---------------------------------------------------------------- */

static void dispatch(h1 *c, job *j)
{
    http_conn *k = http_pool_idle(c->pool, &j->org);
    if (k) {
        assign(c, k, j);
        return;
    }
    if (!http_pool_room(c->pool)) {
        queue_push(c, j);
        return;
    }
    http_net_error kind;
    char msg[256];
    if (!(k = http_pool_open(c->pool, &j->org, &kind, msg, sizeof msg))) {
        job_fail(c, j, kind, msg);
        return;
    }
    assign(c, k, j);
}

static void on_kick(dm_loop_timer *t, void *ud)
{
    h1 *c = ud;
    (void)t;
    /* Each queued request either finds a connection or queues again. */
    size_t n = 0;
    for (job *j = c->queue; j; j = j->next)
        n++;
    while (n-- > 0 && c->queue) {
        job *j = queue_pop(c);
        dispatch(c, j);
        if (c->queue_tail == j) /* queued again: no connection is free */
            break;
    }
    http_pool_sweep(c->pool);
}

static void on_deadline(dm_loop_timer *t, void *ud)
{
    job *j = ud;
    h1 *c = j->c;
    (void)t;
    char msg[256];
    if (j->conn) {
        snprintf(msg, sizeof msg, "no complete answer from %.120s in time", j->org.authority);
        conn_fail(c, j->conn, HTTP_NET_TIMEOUT, msg);
    } else {
        queue_remove(c, j);
        snprintf(msg, sizeof msg, "no connection to %.120s became free in time", j->org.authority);
        job_fail(c, j, HTTP_NET_TIMEOUT, msg);
    }
    http_pool_sweep(c->pool);
}

/* ---- the backend interface -------------------------------------------------------- */

static void *h1_create(const http_options *opts, dm_loop *loop, http_backend_done_fn done, void *ud)
{
    h1 *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->opts = *opts;
    c->loop = loop;
    c->done = done;
    c->done_ud = ud;
    dm_loop_timer_init(&c->kick, on_kick, c);
    if (!(c->pool = http_pool_new(loop, &c->opts, &pool_events, c))) {
        free(c);
        return NULL;
    }
    return c;
}

static void drop(h1 *c, job *j)
{
    dm_loop_timer_stop(c->loop, &j->deadline);
    free(j);
}

static void h1_destroy(void *impl)
{
    h1 *c = impl;
    /* Requests on connections are dropped with them. */
    for (http_conn *k = http_pool_first(c->pool); k; k = k->next)
        if (k->job)
            drop(c, k->job);
    job *j;
    while ((j = queue_pop(c)) != NULL)
        drop(c, j);
    http_pool_free(c->pool);
    dm_loop_timer_stop(c->loop, &c->kick);
    while ((j = c->free_jobs) != NULL) {
        c->free_jobs = j->next;
        free(j);
    }
    free(c->url_text);
    free(c);
}

static int h1_start(void *impl, http_request *req)
{
    h1 *c = impl;
    job *j = job_take(c);
    if (!j)
        return DM_ERR_NOMEM;
    j->req = req;
    if (dm_loop_timer_start(c->loop, &j->deadline, req->timeout_ms ? req->timeout_ms : c->opts.timeout_ms)) {
        j->next = c->free_jobs;
        c->free_jobs = j;
        return DM_ERR_NOMEM;
    }
    if (c->url_text && strcmp(req->url, c->url_text) == 0) {
        j->url = c->url_parsed;
        j->url.path = req->url + (c->url_parsed.path - c->url_text);
    } else if (http_url_parse(req->url, &j->url, NULL) != DM_OK) {
        dm_error e;
        http_url_parse(req->url, &j->url, &e);
        job_fail(c, j, HTTP_NET_OTHER, e.message);
        return DM_OK;
    } else {
        char *copy = dm_strdup(req->url);
        if (copy) {
            free(c->url_text);
            c->url_text = copy;
            c->url_parsed = j->url;
            c->url_parsed.path = copy + (j->url.path - req->url);
        }
    }
    http_origin_from_url(&j->org, &j->url);
    dispatch(c, j);
    http_pool_sweep(c->pool);
    return DM_OK;
}

const http_backend http_h1_backend = {"native", h1_create, h1_destroy, h1_start};
