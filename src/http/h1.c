/* Native HTTP/1.1 backend: persistent connections, one request at a time on
 * each (no pipelining), epoll for readiness, OpenSSL for TLS.
 *
 * A migration spends its client time per request, and curl spends more on
 * each request (option handling, URL parsing, a liveness poll before each
 * reuse, its header machinery) than ddbmig spends on everything else for an
 * item. Here a request goes out in one write, its answer usually comes in
 * with one read, and a socket stays registered with epoll for its whole
 * life.
 *
 * Connections are freed only after the batch of epoll events that may
 * still point at them has been handled (see sweep). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "http/backend.h"
#include "http/tls_socket.h"

#define MAX_HEAD_BYTES (64u << 10)
#define READ_CHUNK 16384
#define MAX_ADDRS 4
#define DNS_TTL_MS 60000

typedef struct origin {
    bool tls;
    char host[256];      /* without brackets */
    char port[8];
    char authority[270]; /* Host header: host[:port] as in the URL */
} origin;

typedef struct job {
    http_request *req;
    origin org;
    const char *path;    /* into req->url */
    int64_t deadline_ms;
    bool stale_retried;  /* sent once more after a kept-alive connection died */
    struct job *next;
} job;

enum phase { PH_CONNECT, PH_TLS, PH_READY, PH_DEAD };
enum framing { FR_NONE, FR_LENGTH, FR_CHUNKED, FR_CLOSE };
enum chunk_state { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };

typedef struct conn {
    int fd;
    SSL *ssl;
    origin org;
    enum phase phase;
    job *job;              /* NULL when idle */
    bool reused;           /* has completed an answer before */
    uint32_t events;       /* epoll interest */
    int64_t connect_deadline_ms;
    struct sockaddr_storage addrs[MAX_ADDRS];
    socklen_t addr_lens[MAX_ADDRS];
    int n_addrs, addr_i;
    dm_buf out;
    size_t out_off;
    dm_buf in;             /* read and not yet consumed from in_off */
    size_t in_off, head_scan;
    /* the answer being read */
    bool head_done, keep_alive, got_bytes;
    enum framing framing;
    enum chunk_state chunk;
    long long left;        /* body bytes (FR_LENGTH) or chunk bytes still due */
    struct conn *next;
} conn;

typedef struct dns_entry {
    char host[256], port[8];
    struct sockaddr_storage addrs[MAX_ADDRS];
    socklen_t addr_lens[MAX_ADDRS];
    int n_addrs;
    int64_t resolved_ms;
} dns_entry;

typedef struct h1 {
    http_options opts;
    int epfd;
    SSL_CTX *tls;
    conn *conns, *dead;
    size_t n_conns;
    job *pending, *pending_tail; /* waiting for a connection */
    job *done, *done_tail;
    job *free_jobs;
    size_t in_flight;
    dns_entry dns;               /* one origin is the common case */
    int64_t check_ms;            /* next look at deadlines */
} h1;

/* Deadlines are looked at this often, not after every event: a timeout
 * fires up to this late. */
#define CHECK_INTERVAL_MS 20

/* ---- small helpers --------------------------------------------------- */

static void set_message(http_request *req, http_net_error kind, const char *fmt, const char *a, const char *b)
{
    req->status = 0;
    req->net_error = kind;
    snprintf(req->net_message, sizeof req->net_message, fmt, a, b);
}

static int parse_url(const char *url, origin *o, const char **path)
{
    memset(o, 0, sizeof *o);
    const char *p;
    if (strncmp(url, "https://", 8) == 0) {
        o->tls = true;
        p = url + 8;
    } else if (strncmp(url, "http://", 7) == 0) {
        p = url + 7;
    } else {
        return DM_ERR_INVALID;
    }
    size_t alen = strcspn(p, "/?#");
    if (alen == 0 || alen >= sizeof o->authority || memchr(p, '@', alen))
        return DM_ERR_INVALID;
    memcpy(o->authority, p, alen);
    const char *hs = p, *he, *colon;
    if (*p == '[') {
        const char *rb = memchr(p, ']', alen);
        if (!rb)
            return DM_ERR_INVALID;
        hs = p + 1;
        he = rb;
        colon = rb + 1 < p + alen && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(p, ':', alen);
        he = colon ? colon : p + alen;
    }
    size_t hl = (size_t)(he - hs), pl = colon ? (size_t)(p + alen - colon - 1) : 0;
    if (hl == 0 || hl >= sizeof o->host || pl >= sizeof o->port)
        return DM_ERR_INVALID;
    memcpy(o->host, hs, hl);
    if (colon && pl) {
        memcpy(o->port, colon + 1, pl);
        if (strspn(o->port, "0123456789") != pl)
            return DM_ERR_INVALID;
    } else {
        strcpy(o->port, o->tls ? "443" : "80");
    }
    *path = p[alen] == '/' ? p + alen : (p[alen] == '?' ? p + alen : "/");
    return DM_OK;
}

static bool same_origin(const origin *a, const origin *b)
{
    return a->tls == b->tls && strcmp(a->host, b->host) == 0 && strcmp(a->port, b->port) == 0;
}

/* ---- jobs -------------------------------------------------------------- */

static job *job_take(h1 *c)
{
    job *j = c->free_jobs;
    if (j)
        c->free_jobs = j->next;
    else if (!(j = malloc(sizeof *j)))
        return NULL;
    memset(j, 0, sizeof *j);
    return j;
}

static void push(job **head, job **tail, job *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static void job_done(h1 *c, job *j) { push(&c->done, &c->done_tail, j); }

static void job_fail(h1 *c, job *j, http_net_error kind, const char *fmt, const char *a, const char *b)
{
    set_message(j->req, kind, fmt, a, b);
    job_done(c, j);
}

/* ---- connections ------------------------------------------------------- */

static void want(h1 *c, conn *k, uint32_t events)
{
    if (k->events == events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = k};
    epoll_ctl(c->epfd, EPOLL_CTL_MOD, k->fd, &ev);
    k->events = events;
}

/* Unlinks k and parks it until the current batch of events is handled. */
static void conn_kill(h1 *c, conn *k)
{
    if (k->phase == PH_DEAD)
        return;
    for (conn **pp = &c->conns; *pp; pp = &(*pp)->next) {
        if (*pp == k) {
            *pp = k->next;
            break;
        }
    }
    if (k->ssl)
        SSL_free(k->ssl);
    k->ssl = NULL;
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
    k->phase = PH_DEAD;
    k->job = NULL;
    k->next = c->dead;
    c->dead = k;
    c->n_conns--;
}

static void sweep(h1 *c)
{
    while (c->dead) {
        conn *k = c->dead;
        c->dead = k->next;
        dm_buf_cleanup(&k->out);
        dm_buf_cleanup(&k->in);
        free(k);
    }
}

static void reset_answer(conn *k)
{
    k->head_done = k->got_bytes = false;
    k->keep_alive = true;
    k->framing = FR_NONE;
    k->chunk = CH_SIZE;
    k->left = 0;
    k->head_scan = 0;
}

static int resolve(h1 *c, const origin *o, conn *k, char *msg, size_t msg_size)
{
    dns_entry *d = &c->dns;
    int64_t now = dm_monotonic_ms();
    if (!(d->n_addrs && strcmp(d->host, o->host) == 0 && strcmp(d->port, o->port) == 0 &&
          now - d->resolved_ms < DNS_TTL_MS)) {
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV};
        struct addrinfo *res = NULL;
        int g = getaddrinfo(o->host, o->port, &hints, &res);
        if (g != 0) {
            snprintf(msg, msg_size, "could not resolve host %.120s: %.100s", o->host, gai_strerror(g));
            return DM_ERR_NETWORK;
        }
        d->n_addrs = 0;
        for (struct addrinfo *a = res; a && d->n_addrs < MAX_ADDRS; a = a->ai_next) {
            if (a->ai_addrlen > sizeof d->addrs[0])
                continue;
            memcpy(&d->addrs[d->n_addrs], a->ai_addr, a->ai_addrlen);
            d->addr_lens[d->n_addrs++] = a->ai_addrlen;
        }
        freeaddrinfo(res);
        dm_strlcpy(d->host, o->host, sizeof d->host);
        dm_strlcpy(d->port, o->port, sizeof d->port);
        d->resolved_ms = now;
    }
    memcpy(k->addrs, d->addrs, sizeof k->addrs);
    memcpy(k->addr_lens, d->addr_lens, sizeof k->addr_lens);
    k->n_addrs = d->n_addrs;
    k->addr_i = 0;
    return DM_OK;
}

/* Starts a non-blocking connect to k's next address; errno on failure. */
static int connect_next(h1 *c, conn *k)
{
    if (k->fd >= 0) {
        close(k->fd);
        k->fd = -1;
    }
    int err = ECONNREFUSED;
    while (k->addr_i < k->n_addrs) {
        const struct sockaddr_storage *sa = &k->addrs[k->addr_i++];
        int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        if (connect(fd, (const struct sockaddr *)sa, k->addr_lens[k->addr_i - 1]) < 0 && errno != EINPROGRESS) {
            err = errno;
            close(fd);
            continue;
        }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = k};
        if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            err = errno;
            close(fd);
            continue;
        }
        k->fd = fd;
        k->events = ev.events;
        k->phase = PH_CONNECT;
        return 0;
    }
    return err;
}

static conn *conn_open(h1 *c, job *j)
{
    conn *k = calloc(1, sizeof *k);
    if (!k) {
        job_fail(c, j, HTTP_NET_OTHER, "out of memory%s%s", "", "");
        return NULL;
    }
    k->fd = -1;
    k->org = j->org;
    dm_buf_init(&k->out, 0);
    dm_buf_init(&k->in, MAX_HEAD_BYTES + 2 * READ_CHUNK);
    reset_answer(k);
    char msg[256];
    if (resolve(c, &j->org, k, msg, sizeof msg) != DM_OK) {
        free(k);
        job_fail(c, j, HTTP_NET_RESOLVE, "%.230s%s", msg, "");
        return NULL;
    }
    int err = connect_next(c, k);
    if (err) {
        free(k);
        job_fail(c, j, HTTP_NET_CONNECT, "could not connect to %.120s: %.100s", j->org.authority, strerror(err));
        return NULL;
    }
    k->connect_deadline_ms = dm_monotonic_ms() + c->opts.connect_timeout_ms;
    k->next = c->conns;
    c->conns = k;
    c->n_conns++;
    return k;
}

/* ---- TLS ----------------------------------------------------------------- */

static SSL_CTX *tls_ctx(h1 *c, char *msg, size_t msg_size)
{
    if (c->tls)
        return c->tls;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(msg, msg_size, "TLS setup failed");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* Servers that close without close_notify end an answer framed by
     * Content-Length just as well. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    int ok = c->opts.ca_file ? SSL_CTX_load_verify_locations(ctx, c->opts.ca_file, NULL)
                             : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        snprintf(msg, msg_size, "could not load CA certificates%s%s", c->opts.ca_file ? " from " : "",
                 c->opts.ca_file ? c->opts.ca_file : "");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return c->tls = ctx;
}

static int tls_begin(h1 *c, conn *k, char *msg, size_t msg_size)
{
    SSL_CTX *ctx = tls_ctx(c, msg, msg_size);
    if (!ctx || !(k->ssl = SSL_new(ctx)) || http_tls_set_socket(k->ssl, k->fd) != 1) {
        if (ctx)
            snprintf(msg, msg_size, "TLS setup failed");
        return DM_ERR_NETWORK;
    }
    SSL_set_connect_state(k->ssl);
    unsigned char ip[16];
    bool literal = inet_pton(AF_INET, k->org.host, ip) == 1 || inet_pton(AF_INET6, k->org.host, ip) == 1;
    if (literal) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(k->ssl), k->org.host);
    } else {
        SSL_set_tlsext_host_name(k->ssl, k->org.host);
        SSL_set1_host(k->ssl, k->org.host);
    }
    k->phase = PH_TLS;
    return DM_OK;
}

static void tls_error(conn *k, char *msg, size_t msg_size)
{
    long v = k->ssl ? SSL_get_verify_result(k->ssl) : X509_V_OK;
    if (v != X509_V_OK) {
        snprintf(msg, msg_size, "TLS certificate of %.120s not trusted: %.100s", k->org.host,
                 X509_verify_cert_error_string(v));
        return;
    }
    unsigned long e = ERR_get_error();
    char detail[160] = "connection closed during the handshake";
    if (e)
        ERR_error_string_n(e, detail, sizeof detail);
    snprintf(msg, msg_size, "TLS handshake with %.120s failed: %.100s", k->org.host, detail);
}

/* ---- the exchange ---------------------------------------------------------- */

static void conn_fail(h1 *c, conn *k, http_net_error kind, const char *fmt, const char *a, const char *b);
static void dispatch(h1 *c, job *j);
static void try_send(h1 *c, conn *k);

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

static int build_request(conn *k, const job *j)
{
    const http_request *r = j->req;
    dm_buf *o = &k->out;
    dm_buf_reset(o);
    k->out_off = 0;
    bool has_host = false;
    int rc = dm_buf_reserve(o, 256 + r->body_len);
    rc = rc ? rc : dm_buf_puts(o, r->method);
    rc = rc ? rc : dm_buf_putc(o, ' ');
    rc = rc ? rc : dm_buf_puts(o, j->path);
    rc = rc ? rc : dm_buf_puts(o, " HTTP/1.1\r\n");
    for (size_t i = 0; rc == DM_OK && i < r->n_headers; i++) {
        if (skip_header(r->headers[i]))
            continue;
        has_host = has_host || strncasecmp(r->headers[i], "host:", 5) == 0;
        rc = dm_buf_puts(o, r->headers[i]);
        rc = rc ? rc : dm_buf_puts(o, "\r\n");
    }
    if (rc == DM_OK && !has_host)
        rc = dm_buf_appendf(o, "Host: %s\r\n", j->org.authority);
    bool body = r->body || strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0;
    if (rc == DM_OK && body) {
        char num[24];
        size_t i = sizeof num;
        size_t v = r->body_len;
        do
            num[--i] = (char)('0' + v % 10);
        while ((v /= 10) > 0);
        rc = dm_buf_puts(o, "Content-Length: ");
        rc = rc ? rc : dm_buf_append(o, num + i, sizeof num - i);
        rc = rc ? rc : dm_buf_puts(o, "\r\n");
    }
    rc = rc ? rc : dm_buf_puts(o, "\r\n");
    if (rc == DM_OK && r->body_len)
        rc = dm_buf_append(o, r->body, r->body_len);
    return rc;
}

static void assign(h1 *c, conn *k, job *j)
{
    k->job = j;
    reset_answer(k);
    if (build_request(k, j) != DM_OK) {
        k->job = NULL;
        job_fail(c, j, HTTP_NET_OTHER, "out of memory building the request%s%s", "", "");
        return;
    }
    if (k->phase == PH_READY)
        try_send(c, k);
}

/* A kept-alive connection that the server closed while it sat idle fails
 * before any byte of the answer: such a request is sent once more on a fresh
 * connection, as curl and the AWS SDKs do. */
static bool retry_stale(h1 *c, conn *k)
{
    job *j = k->job;
    if (!j || !k->reused || k->got_bytes || j->stale_retried)
        return false;
    j->stale_retried = true;
    conn_kill(c, k);
    dispatch(c, j);
    return true;
}

static void conn_fail(h1 *c, conn *k, http_net_error kind, const char *fmt, const char *a, const char *b)
{
    job *j = k->job;
    if ((kind == HTTP_NET_RESET) && retry_stale(c, k))
        return;
    conn_kill(c, k);
    if (j)
        job_fail(c, j, kind, fmt, a, b);
}

static void try_send(h1 *c, conn *k)
{
    while (k->out_off < k->out.len) {
        const char *p = k->out.data + k->out_off;
        size_t n = k->out.len - k->out_off;
        if (k->ssl) {
            size_t w = 0;
            ERR_clear_error();
            if (SSL_write_ex(k->ssl, p, n, &w) == 1) {
                k->out_off += w;
                continue;
            }
            int e = SSL_get_error(k->ssl, 0);
            if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
                want(c, k, EPOLLIN | EPOLLOUT);
                return;
            }
            conn_fail(c, k, HTTP_NET_RESET, "sending to %.120s failed%s", k->org.authority, "");
            return;
        }
        ssize_t w = send(k->fd, p, n, MSG_NOSIGNAL);
        if (w >= 0) {
            k->out_off += (size_t)w;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            want(c, k, EPOLLIN | EPOLLOUT);
            return;
        } else if (errno != EINTR) {
            conn_fail(c, k, HTTP_NET_RESET, "sending to %.120s failed: %.100s", k->org.authority, strerror(errno));
            return;
        }
    }
    want(c, k, EPOLLIN);
}

/* ---- reading the answer ------------------------------------------------------ */

static int header_line(conn *k, http_request *req, const char *p, size_t n)
{
    const char *colon = memchr(p, ':', n);
    if (!colon)
        return DM_ERR_PARSE;
    size_t nl = (size_t)(colon - p);
    const char *v = colon + 1, *end = p + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vl = (size_t)(end - v);
    dm_buf *h = &req->response_headers;
    int rc = dm_buf_reserve(h, nl + vl + 3);
    if (rc)
        return rc;
    char *o = h->data + h->len;
    for (size_t i = 0; i < nl; i++)
        o[i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]);
    char *name = o;
    o += nl;
    *o++ = ':';
    *o++ = ' ';
    memcpy(o, v, vl);
    o[vl] = '\n';
    h->len += nl + vl + 3;
    h->data[h->len] = '\0';
    if (nl == 14 && memcmp(name, "content-length", 14) == 0) {
        char *e;
        char num[24];
        if (vl == 0 || vl >= sizeof num)
            return DM_ERR_PARSE;
        memcpy(num, v, vl);
        num[vl] = '\0';
        long long len = strtoll(num, &e, 10);
        if (*e || len < 0)
            return DM_ERR_PARSE;
        if (k->framing != FR_CHUNKED) {
            k->framing = FR_LENGTH;
            k->left = len;
        }
    } else if (nl == 17 && memcmp(name, "transfer-encoding", 17) == 0) {
        for (size_t i = 0; i + 7 <= vl; i++)
            if (strncasecmp(v + i, "chunked", 7) == 0)
                k->framing = FR_CHUNKED;
    } else if (nl == 10 && memcmp(name, "connection", 10) == 0) {
        if (vl == 5 && strncasecmp(v, "close", 5) == 0)
            k->keep_alive = false;
        else if (vl == 10 && strncasecmp(v, "keep-alive", 10) == 0)
            k->keep_alive = true;
    }
    return DM_OK;
}

/* Parses the status line and headers in [p, p + n) (without the blank
 * line). A 1xx answer is skipped by the caller. */
static int parse_head(conn *k, http_request *req, const char *p, size_t n)
{
    const char *eol = memchr(p, '\n', n);
    size_t sl = eol ? (size_t)(eol - p) : n;
    if (sl < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
        return DM_ERR_PARSE;
    if (p[7] == '0')
        k->keep_alive = false;
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9')
            return DM_ERR_PARSE;
        status = status * 10 + (p[i] - '0');
    }
    req->status = status;
    dm_buf_reset(&req->response_headers);
    k->framing = FR_CLOSE;
    const char *q = eol ? eol + 1 : p + n, *end = p + n;
    while (q < end) {
        const char *le = memchr(q, '\n', (size_t)(end - q));
        size_t ll = le ? (size_t)(le - q) : (size_t)(end - q);
        if (ll && q[ll - 1] == '\r')
            ll--;
        if (ll) {
            int rc = header_line(k, req, q, ll);
            if (rc)
                return rc;
        }
        q = le ? le + 1 : end;
    }
    bool no_body = strcmp(req->method, "HEAD") == 0 || status == 204 || status == 304 || status < 200;
    if (no_body)
        k->framing = FR_NONE;
    if (k->framing == FR_CLOSE)
        k->keep_alive = false;
    return DM_OK;
}

/* Finds the end of the head; returns its length including the blank line,
 * or 0 when more bytes are needed. */
static size_t head_end(conn *k)
{
    const char *base = k->in.data + k->in_off;
    size_t avail = k->in.len - k->in_off;
    for (size_t i = k->head_scan; i < avail; i++) {
        if (base[i] != '\n')
            continue;
        if (i >= 1 && base[i - 1] == '\n')
            return i + 1;
        if (i >= 2 && base[i - 1] == '\r' && base[i - 2] == '\n')
            return i + 1;
    }
    k->head_scan = avail;
    return 0;
}

enum { NEED_MORE = 0, COMPLETE = 1, BAD = -1, TOO_BIG = -2 };

static int body_chunked(conn *k, http_request *req)
{
    for (;;) {
        const char *p = k->in.data + k->in_off;
        size_t avail = k->in.len - k->in_off;
        if (k->chunk == CH_DATA) {
            size_t take = avail < (size_t)k->left ? avail : (size_t)k->left;
            if (take && dm_buf_append(&req->response, p, take) != DM_OK)
                return TOO_BIG;
            k->in_off += take;
            k->left -= (long long)take;
            if (k->left > 0)
                return NEED_MORE;
            k->chunk = CH_DATA_END;
            continue;
        }
        const char *nl = memchr(p, '\n', avail);
        if (!nl)
            return avail > 4096 ? BAD : NEED_MORE;
        size_t ll = (size_t)(nl - p);
        k->in_off += ll + 1;
        if (ll && p[ll - 1] == '\r')
            ll--;
        if (k->chunk == CH_DATA_END) {
            if (ll != 0)
                return BAD;
            k->chunk = CH_SIZE;
        } else if (k->chunk == CH_SIZE) {
            char *e;
            long long size = strtoll(p, &e, 16);
            if (e == p || size < 0 || (e < p + ll && *e != ';' && *e != ' ' && *e != '\r'))
                return BAD;
            k->left = size;
            k->chunk = size ? CH_DATA : CH_TRAILER;
        } else if (ll == 0) { /* CH_TRAILER: ends with a blank line */
            return COMPLETE;
        }
    }
}

static int parse_answer(conn *k, http_request *req)
{
    while (!k->head_done) {
        size_t hl = head_end(k);
        if (!hl || hl > MAX_HEAD_BYTES)
            return k->in.len - k->in_off > MAX_HEAD_BYTES ? BAD : NEED_MORE;
        const char *p = k->in.data + k->in_off;
        if (parse_head(k, req, p, hl) != DM_OK)
            return BAD;
        k->in_off += hl;
        k->head_scan = 0;
        if (req->status >= 100 && req->status < 200) {
            reset_answer(k); /* 100 Continue and the like */
            k->got_bytes = true;
            continue;
        }
        k->head_done = true;
    }
    size_t avail = k->in.len - k->in_off;
    const char *p = k->in.data + k->in_off;
    switch (k->framing) {
    case FR_NONE:
        return COMPLETE;
    case FR_LENGTH: {
        size_t take = avail < (size_t)k->left ? avail : (size_t)k->left;
        if (take && dm_buf_append(&req->response, p, take) != DM_OK)
            return TOO_BIG;
        k->in_off += take;
        k->left -= (long long)take;
        return k->left == 0 ? COMPLETE : NEED_MORE;
    }
    case FR_CHUNKED:
        return body_chunked(k, req);
    case FR_CLOSE:
        if (avail && dm_buf_append(&req->response, p, avail) != DM_OK)
            return TOO_BIG;
        k->in_off += avail;
        return NEED_MORE;
    }
    return BAD;
}

static void compact(conn *k)
{
    if (k->in_off == k->in.len) {
        k->in.len = k->in_off = 0;
    } else if (k->in_off > 0) {
        memmove(k->in.data, k->in.data + k->in_off, k->in.len - k->in_off);
        k->in.len -= k->in_off;
        k->in_off = 0;
    }
}

/* The answer is complete: hand it over and give the connection its next
 * request, or close it. */
static void complete(h1 *c, conn *k)
{
    job *j = k->job;
    j->req->net_error = HTTP_NET_OK;
    k->job = NULL;
    job_done(c, j);
    /* Leftover bytes mean the server sent more than one answer. */
    bool reusable = k->keep_alive && k->in_off == k->in.len && k->out_off == k->out.len;
    if (!reusable) {
        conn_kill(c, k);
        return;
    }
    k->reused = true;
    k->in.len = k->in_off = 0;
    reset_answer(k);
    job *next = c->pending;
    if (next && same_origin(&next->org, &k->org)) {
        c->pending = next->next;
        if (!c->pending)
            c->pending_tail = NULL;
        assign(c, k, next);
    }
}

/* EOF or a reset while reading: k is gone when this returns. */
static void on_closed(h1 *c, conn *k, const char *why)
{
    if (k->job && k->head_done && k->framing == FR_CLOSE) {
        k->keep_alive = false;
        complete(c, k);
        return;
    }
    if (!k->job) {
        conn_kill(c, k);
        return;
    }
    conn_fail(c, k, HTTP_NET_RESET,
              k->got_bytes ? "connection to %.120s closed before the answer was complete (%.60s)"
                           : "connection to %.120s closed without an answer (%.60s)",
              k->org.authority, why);
}

/* Reads what the socket has; returns false when k is gone. */
static bool read_some(h1 *c, conn *k, bool *again)
{
    *again = false;
    if (dm_buf_reserve(&k->in, READ_CHUNK) != DM_OK) {
        conn_fail(c, k, HTTP_NET_OTHER, "answer headers from %.120s too large%s", k->org.authority, "");
        return false;
    }
    char *dst = k->in.data + k->in.len;
    size_t room = k->in.cap - k->in.len - 1;
    if (room > k->in.max - k->in.len)
        room = k->in.max - k->in.len;
    if (k->ssl) {
        size_t n = 0;
        ERR_clear_error();
        if (SSL_read_ex(k->ssl, dst, room, &n) == 1) {
            k->in.len += n;
            *again = true;
            return true;
        }
        int e = SSL_get_error(k->ssl, 0);
        if (e == SSL_ERROR_WANT_READ)
            return true;
        if (e == SSL_ERROR_WANT_WRITE) {
            want(c, k, EPOLLIN | EPOLLOUT);
            return true;
        }
        on_closed(c, k, e == SSL_ERROR_ZERO_RETURN ? "end of stream" : "TLS error");
        return false;
    }
    ssize_t n = recv(k->fd, dst, room, 0);
    if (n > 0) {
        k->in.len += (size_t)n;
        *again = (size_t)n == room;
        return true;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return true;
    on_closed(c, k, n == 0 ? "end of stream" : strerror(errno));
    return false;
}

/* An idle connection becomes readable when the server closes it; over TLS
 * also when a record without data arrives (a session ticket, a key
 * update), which OpenSSL takes in and which leaves the connection usable. */
static void on_idle_readable(h1 *c, conn *k)
{
    if (k->ssl) {
        char scratch[256];
        size_t n = 0;
        ERR_clear_error();
        if (SSL_read_ex(k->ssl, scratch, sizeof scratch, &n) != 1 &&
            SSL_get_error(k->ssl, 0) == SSL_ERROR_WANT_READ)
            return;
    }
    conn_kill(c, k);
}

static void on_readable(h1 *c, conn *k)
{
    if (!k->job) {
        on_idle_readable(c, k);
        return;
    }
    for (;;) {
        size_t before = k->in.len;
        bool again;
        if (!read_some(c, k, &again))
            return;
        if (k->in.len > before)
            k->got_bytes = true;
        int st = parse_answer(k, k->job->req);
        if (st == COMPLETE) {
            complete(c, k);
            return;
        }
        if (st == BAD || st == TOO_BIG) {
            conn_fail(c, k, HTTP_NET_OTHER,
                      st == BAD ? "malformed HTTP answer from %.120s%s" : "answer from %.120s larger than the limit%s",
                      k->org.authority, "");
            return;
        }
        compact(k);
        if (!again)
            return;
    }
}

static void on_connected(h1 *c, conn *k)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        int next = connect_next(c, k);
        if (next == 0)
            return;
        conn_fail(c, k, HTTP_NET_CONNECT, "could not connect to %.120s: %.100s", k->org.authority, strerror(err));
        return;
    }
    char msg[256];
    if (k->org.tls && tls_begin(c, k, msg, sizeof msg) != DM_OK) {
        conn_fail(c, k, HTTP_NET_TLS, "%.230s%s", msg, "");
        return;
    }
    if (!k->org.tls)
        k->phase = PH_READY;
}

static void handshake(h1 *c, conn *k)
{
    ERR_clear_error();
    int r = SSL_do_handshake(k->ssl);
    if (r == 1) {
        k->phase = PH_READY;
        want(c, k, EPOLLIN);
        if (k->job)
            try_send(c, k);
        return;
    }
    int e = SSL_get_error(k->ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
        want(c, k, EPOLLIN);
    } else if (e == SSL_ERROR_WANT_WRITE) {
        want(c, k, EPOLLIN | EPOLLOUT);
    } else {
        char msg[256];
        tls_error(k, msg, sizeof msg);
        conn_fail(c, k, HTTP_NET_TLS, "%.230s%s", msg, "");
    }
}

static void on_event(h1 *c, conn *k, uint32_t ev)
{
    if (k->phase == PH_DEAD)
        return;
    if (k->phase == PH_CONNECT) {
        on_connected(c, k);
        if (k->phase == PH_DEAD || k->phase == PH_CONNECT)
            return;
        if (k->phase == PH_READY) {
            want(c, k, EPOLLIN);
            if (k->job)
                try_send(c, k);
            return;
        }
    }
    if (k->phase == PH_TLS) {
        handshake(c, k);
        return;
    }
    if ((ev & EPOLLOUT) && k->job && k->out_off < k->out.len) {
        try_send(c, k);
        if (k->phase == PH_DEAD)
            return;
    }
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable(c, k);
}

/* ---- scheduling ------------------------------------------------------------- */

static void dispatch(h1 *c, job *j)
{
    for (conn *k = c->conns; k; k = k->next) {
        if (!k->job && k->phase != PH_DEAD && same_origin(&k->org, &j->org)) {
            assign(c, k, j);
            return;
        }
    }
    if (c->n_conns >= (size_t)c->opts.max_connections) {
        for (conn *k = c->conns; k; k = k->next) {
            if (!k->job) { /* idle, for another origin */
                conn_kill(c, k);
                break;
            }
        }
    }
    if (c->n_conns >= (size_t)c->opts.max_connections) {
        push(&c->pending, &c->pending_tail, j);
        return;
    }
    conn *k = conn_open(c, j);
    if (k)
        assign(c, k, j);
}

/* A connection freed by a failure can serve a waiting request. */
static bool has_idle(const h1 *c)
{
    for (const conn *k = c->conns; k; k = k->next)
        if (!k->job)
            return true;
    return false;
}

static void drain_pending(h1 *c)
{
    while (c->pending && (c->n_conns < (size_t)c->opts.max_connections || has_idle(c))) {
        job *j = c->pending;
        c->pending = j->next;
        if (!c->pending)
            c->pending_tail = NULL;
        dispatch(c, j);
    }
}

static int64_t next_deadline(const h1 *c)
{
    int64_t t = INT64_MAX;
    for (const conn *k = c->conns; k; k = k->next) {
        if (k->job && k->job->deadline_ms < t)
            t = k->job->deadline_ms;
        if ((k->phase == PH_CONNECT || k->phase == PH_TLS) && k->connect_deadline_ms < t)
            t = k->connect_deadline_ms;
    }
    for (const job *j = c->pending; j; j = j->next)
        if (j->deadline_ms < t)
            t = j->deadline_ms;
    return t;
}

static void expire(h1 *c, int64_t now)
{
    char ms[24];
    for (conn *k = c->conns, *next; k; k = next) {
        next = k->next;
        if ((k->phase == PH_CONNECT || k->phase == PH_TLS) && now >= k->connect_deadline_ms) {
            snprintf(ms, sizeof ms, "%ld", c->opts.connect_timeout_ms);
            conn_fail(c, k, HTTP_NET_TIMEOUT, "connecting to %.120s timed out after %s ms", k->org.authority, ms);
        } else if (k->job && now >= k->job->deadline_ms) {
            conn_fail(c, k, HTTP_NET_TIMEOUT, "no complete answer from %.120s in time%s", k->org.authority, "");
        }
    }
    job **pp = &c->pending;
    c->pending_tail = NULL;
    while (*pp) {
        job *j = *pp;
        if (now >= j->deadline_ms) {
            *pp = j->next;
            job_fail(c, j, HTTP_NET_TIMEOUT, "no connection to %.120s became free in time%s", j->org.authority, "");
        } else {
            c->pending_tail = j;
            pp = &j->next;
        }
    }
}

/* ---- the backend interface ---------------------------------------------------- */

/* opts arrive with their defaults filled in by http_client_new. */
static void *h1_create(const http_options *opts)
{
    h1 *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->opts = *opts;
    if ((c->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        free(c);
        return NULL;
    }
    return c;
}

static void free_jobs(job *j)
{
    while (j) {
        job *n = j->next;
        free(j);
        j = n;
    }
}

static void h1_destroy(void *impl)
{
    h1 *c = impl;
    while (c->conns) {
        job *j = c->conns->job;
        conn_kill(c, c->conns);
        free(j);
    }
    sweep(c);
    free_jobs(c->pending);
    free_jobs(c->done);
    free_jobs(c->free_jobs);
    if (c->tls)
        SSL_CTX_free(c->tls);
    close(c->epfd);
    free(c);
}

static int h1_start(void *impl, http_request *req)
{
    h1 *c = impl;
    job *j = job_take(c);
    if (!j)
        return DM_ERR_NOMEM;
    j->req = req;
    j->deadline_ms = dm_monotonic_ms() + (req->timeout_ms ? req->timeout_ms : c->opts.timeout_ms);
    c->in_flight++;
    if (parse_url(req->url, &j->org, &j->path) != DM_OK) {
        job_fail(c, j, HTTP_NET_OTHER, "unsupported URL: %.200s%s", req->url, "");
        return DM_OK;
    }
    dispatch(c, j);
    sweep(c);
    return DM_OK;
}

static bool pop_done(h1 *c, http_request **done)
{
    job *j = c->done;
    if (!j)
        return false;
    c->done = j->next;
    if (!c->done)
        c->done_tail = NULL;
    *done = j->req;
    j->next = c->free_jobs;
    c->free_jobs = j;
    c->in_flight--;
    return true;
}

static int h1_wait(void *impl, int timeout_ms, http_request **done)
{
    h1 *c = impl;
    int64_t end = dm_monotonic_ms() + timeout_ms;
    for (;;) {
        if (pop_done(c, done) || c->in_flight == 0)
            return DM_OK;
        int64_t now = dm_monotonic_ms();
        if (now >= c->check_ms) {
            expire(c, now);
            drain_pending(c);
            sweep(c);
            int64_t next = next_deadline(c);
            c->check_ms = next < now + CHECK_INTERVAL_MS ? next : now + CHECK_INTERVAL_MS;
            if (pop_done(c, done) || c->in_flight == 0)
                return DM_OK;
        }
        int64_t until = c->check_ms < end ? c->check_ms : end;
        int wait_ms = until > now ? (int)(until - now) : 0;
        struct epoll_event ev[64];
        int n = epoll_wait(c->epfd, ev, 64, wait_ms);
        if (n < 0 && errno != EINTR)
            return DM_ERR_NETWORK;
        for (int i = 0; i < n; i++)
            on_event(c, ev[i].data.ptr, ev[i].events);
        drain_pending(c);
        sweep(c);
        if (!c->done && dm_monotonic_ms() >= end)
            return DM_OK;
    }
}

static size_t h1_in_flight(const void *impl) { return ((const h1 *)impl)->in_flight; }

const http_backend http_h1_backend = {"native", h1_create, h1_destroy, h1_start, h1_wait, h1_in_flight};
