/* libcurl multi backend, used where a proxy is configured (curl reads the
 * *_proxy variables) or when DDBMIG_HTTP=curl. Easy handles are pooled per
 * client so that each new request reuses a handle; connections live in the
 * multi handle's cache and are kept alive between requests.
 *
 * curl's socket interface puts its sockets and its one timer on the
 * caller's event loop: CURLMOPT_SOCKETFUNCTION registers, changes and
 * removes a watcher per socket, CURLMOPT_TIMERFUNCTION arms or disarms a
 * loop timer, and both kinds of callback hand curl the event with
 * curl_multi_socket_action. A wake-up costs work for the sockets that are
 * ready, not for every request in flight. */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "http/backend.h"
#include "http/url.h"

typedef struct slot {
    CURL *easy;
    struct curl_slist *hdrs;
    http_request *req;
    char errbuf[CURL_ERROR_SIZE];
    struct slot *prev, *next; /* in flight */
} slot;

typedef struct hcurl hcurl;

/* A socket curl asked us to watch. */
typedef struct sock {
    dm_loop_io io;
    hcurl *c;
    curl_socket_t fd;
    struct sock *prev, *next;
} sock;

struct hcurl {
    CURLM *multi;
    dm_loop *loop;
    dm_loop_timer timer;    /* curl's timeout */
    http_options opts;
    http_backend_done_fn done;
    void *done_ud;
    slot **free_slots;
    size_t n_free, cap_free;
    slot *active;           /* in flight */
    sock *socks;            /* watched */
};

static void finish_done(hcurl *c);

static void on_io(dm_loop_io *io, unsigned events, void *ud)
{
    sock *s = ud;
    hcurl *c = s->c;
    (void)io;
    int flags = (events & DM_LOOP_READ ? CURL_CSELECT_IN : 0) | (events & DM_LOOP_WRITE ? CURL_CSELECT_OUT : 0) |
                (events & DM_LOOP_ERROR ? CURL_CSELECT_ERR : 0);
    int running = 0;
    /* s may be removed (and freed) by curl inside this call. */
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    finish_done(c);
}

/* curl tells which sockets to watch for what. */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *ud, void *sockp)
{
    (void)e;
    hcurl *c = ud;
    sock *s = sockp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            dm_loop_io_stop(c->loop, &s->io);
            if (s->prev)
                s->prev->next = s->next;
            else
                c->socks = s->next;
            if (s->next)
                s->next->prev = s->prev;
            free(s);
            curl_multi_assign(c->multi, fd, NULL);
        }
        return 0;
    }
    if (!s) {
        if (!(s = calloc(1, sizeof *s)))
            return -1;
        s->c = c;
        s->fd = fd;
        dm_loop_io_init(&s->io, fd, on_io, s);
        s->next = c->socks;
        if (c->socks)
            c->socks->prev = s;
        c->socks = s;
        curl_multi_assign(c->multi, fd, s);
    }
    unsigned want = (what & CURL_POLL_IN ? DM_LOOP_READ : 0) | (what & CURL_POLL_OUT ? DM_LOOP_WRITE : 0);
    return dm_loop_io_start(c->loop, &s->io, want) == DM_OK ? 0 : -1;
}

static void on_timeout(dm_loop_timer *t, void *ud)
{
    hcurl *c = ud;
    (void)t;
    int running = 0;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    finish_done(c);
}

/* curl asks for its timeout to be (re)armed or disarmed; it must not be
 * acted on from within this callback, which the loop timer ensures. */
static int on_timer(CURLM *m, long timeout_ms, void *ud)
{
    (void)m;
    hcurl *c = ud;
    if (timeout_ms < 0) {
        dm_loop_timer_stop(c->loop, &c->timer);
        return 0;
    }
    return dm_loop_timer_start(c->loop, &c->timer, timeout_ms) == DM_OK ? 0 : -1;
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static void *hcurl_create(const http_options *opts, dm_loop *loop, http_backend_done_fn done, void *ud)
{
    pthread_once(&global_once, global_init);
    hcurl *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->opts = *opts;
    c->loop = loop;
    c->done = done;
    c->done_ud = ud;
    dm_loop_timer_init(&c->timer, on_timeout, c);
    if (!(c->multi = curl_multi_init())) {
        free(c);
        return NULL;
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, c->opts.max_connections);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, c->opts.max_connections);
    return c;
}

static void slot_free(slot *s)
{
    if (!s)
        return;
    curl_easy_cleanup(s->easy);
    curl_slist_free_all(s->hdrs);
    free(s);
}

static void hcurl_destroy(void *impl)
{
    hcurl *c = impl;
    if (!c)
        return;
    while (c->active) {
        slot *s = c->active;
        c->active = s->next;
        curl_multi_remove_handle(c->multi, s->easy);
        slot_free(s);
    }
    for (size_t i = 0; i < c->n_free; i++)
        slot_free(c->free_slots[i]);
    free(c->free_slots);
    curl_multi_cleanup(c->multi);
    /* Sockets curl did not remove while cleaning up. */
    while (c->socks) {
        sock *s = c->socks;
        c->socks = s->next;
        dm_loop_io_stop(c->loop, &s->io);
        free(s);
    }
    dm_loop_timer_stop(c->loop, &c->timer);
    free(c);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    http_request *req = ud;
    size_t len = size * n;
    return dm_buf_append(&req->response, p, len) == DM_OK ? len : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    http_request *req = ud;
    size_t len = size * n;
    const char *colon = memchr(p, ':', len);
    if (!colon)
        return len; /* status line or the blank line */
    size_t nl = (size_t)(colon - p);
    const char *v = colon + 1, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    for (size_t i = 0; i < nl; i++)
        dm_buf_putc(&req->response_headers, (char)tolower((unsigned char)p[i]));
    dm_buf_puts(&req->response_headers, ": ");
    dm_buf_append(&req->response_headers, v, (size_t)(end - v));
    dm_buf_putc(&req->response_headers, '\n');
    return len;
}

static slot *take_slot(hcurl *c)
{
    if (c->n_free)
        return c->free_slots[--c->n_free];
    slot *s = calloc(1, sizeof(*s));
    if (s && !(s->easy = curl_easy_init())) {
        free(s);
        s = NULL;
    }
    return s;
}

static void give_slot(hcurl *c, slot *s)
{
    curl_slist_free_all(s->hdrs);
    s->hdrs = NULL;
    s->req = NULL;
    if (c->n_free == c->cap_free) {
        size_t cap = c->cap_free ? c->cap_free * 2 : 16;
        slot **v = realloc(c->free_slots, cap * sizeof(*v));
        if (!v) {
            slot_free(s);
            return;
        }
        c->free_slots = v;
        c->cap_free = cap;
    }
    c->free_slots[c->n_free++] = s;
}

static int configure(hcurl *c, slot *s, http_request *req)
{
    CURL *e = s->easy;
    curl_easy_reset(e);
    for (size_t i = 0; i < req->n_headers; i++) {
        struct curl_slist *l = curl_slist_append(s->hdrs, req->headers[i]);
        if (!l)
            return DM_ERR_NOMEM;
        s->hdrs = l;
    }
    /* No 100-continue round trip, and no body re-encoding by curl. */
    struct curl_slist *l = curl_slist_append(s->hdrs, "Expect:");
    if (!l)
        return DM_ERR_NOMEM;
    s->hdrs = l;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->hdrs);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->opts.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms ? req->timeout_ms : c->opts.timeout_ms);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->opts.ca_file && *c->opts.ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->opts.ca_file);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, req);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, req);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    s->errbuf[0] = '\0';
    if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
        if (req->body || strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        }
    }
    return DM_OK;
}

static int hcurl_start(void *impl, http_request *req)
{
    hcurl *c = impl;
    /* The same verdict on a URL as the native backend, before curl
     * applies rules of its own. */
    http_url u;
    if (http_url_parse(req->url, &u, NULL) != DM_OK) {
        dm_error e;
        http_url_parse(req->url, &u, &e);
        req->status = 0;
        req->net_error = HTTP_NET_OTHER;
        dm_strlcpy(req->net_message, e.message, sizeof req->net_message);
        c->done(c->done_ud, req);
        return DM_OK;
    }
    slot *s = take_slot(c);
    if (!s)
        return DM_ERR_NOMEM;
    s->req = req;
    int rc = configure(c, s, req);
    if (rc == DM_OK && curl_multi_add_handle(c->multi, s->easy) != CURLM_OK)
        rc = DM_ERR_NOMEM;
    if (rc) {
        give_slot(c, s);
        return rc;
    }
    s->prev = NULL;
    s->next = c->active;
    if (c->active)
        c->active->prev = s;
    c->active = s;
    return DM_OK;
}

static http_net_error classify(CURLcode cc)
{
    switch (cc) {
    case CURLE_OK: return HTTP_NET_OK;
    case CURLE_COULDNT_CONNECT: return HTTP_NET_CONNECT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return HTTP_NET_RESOLVE;
    case CURLE_OPERATION_TIMEDOUT: return HTTP_NET_TIMEOUT;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return HTTP_NET_RESET;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE: return HTTP_NET_TLS;
    default: return HTTP_NET_OTHER;
    }
}

static void finish(hcurl *c, slot *s, CURLcode cc)
{
    http_request *req = s->req;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &req->status);
    req->net_error = classify(cc);
    if (cc != CURLE_OK) {
        req->status = 0;
        dm_strlcpy(req->net_message, s->errbuf[0] ? s->errbuf : curl_easy_strerror(cc), sizeof(req->net_message));
    }
    curl_multi_remove_handle(c->multi, s->easy);
    if (s->prev)
        s->prev->next = s->next;
    else
        c->active = s->next;
    if (s->next)
        s->next->prev = s->prev;
    give_slot(c, s);
    c->done(c->done_ud, req);
}

/* Reports every transfer curl has finished. */
static void finish_done(hcurl *c)
{
    int left = 0;
    CURLMsg *m;
    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        slot *s = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        finish(c, s, m->data.result);
    }
}

const http_backend http_curl_backend = {"curl", hcurl_create, hcurl_destroy, hcurl_start};
