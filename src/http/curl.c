/* libcurl multi backend, used where a proxy is configured (curl reads the
 * *_proxy variables) or when DDBMIG_HTTP=curl. Easy handles are pooled per
 * client so that each new request reuses a handle; connections live in the
 * multi handle's cache and are kept alive between requests.
 *
 * Sockets are watched with epoll through curl's socket interface, so a
 * wake-up costs work for the sockets that are ready, not for every request
 * in flight (curl_multi_perform checks each transfer's socket each time). */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/epoll.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http/backend.h"


typedef struct slot {
    CURL *easy;
    struct curl_slist *hdrs;
    http_request *req;
    char errbuf[CURL_ERROR_SIZE];
} slot;

typedef struct hcurl {
    CURLM *multi;
    int epfd;
    long timer_ms;          /* curl's requested timeout; -1: none */
    int64_t timer_set_at;
    http_options opts;
    slot **free_slots;
    size_t n_free, cap_free;
    size_t in_flight;
} hcurl;

/* curl tells which sockets to watch for what. */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *ud, void *sockp)
{
    (void)e;
    hcurl *c = ud;
    struct epoll_event ev = {0};
    ev.data.fd = fd;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);
        curl_multi_assign(c->multi, fd, NULL);
        return 0;
    }
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    /* curl keeps a per-socket pointer for us: non-NULL once registered. */
    if (sockp) {
        epoll_ctl(c->epfd, EPOLL_CTL_MOD, fd, &ev);
    } else {
        epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev);
        curl_multi_assign(c->multi, fd, c);
    }
    return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *ud)
{
    (void)m;
    hcurl *c = ud;
    c->timer_ms = timeout_ms;
    c->timer_set_at = dm_monotonic_ms();
    return 0;
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static void *hcurl_create(const http_options *opts)
{
    pthread_once(&global_once, global_init);
    hcurl *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (opts)
        c->opts = *opts;
    c->multi = curl_multi_init();
    c->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!c->multi || c->epfd < 0) {
        if (c->multi)
            curl_multi_cleanup(c->multi);
        if (c->epfd >= 0)
            close(c->epfd);
        free(c);
        return NULL;
    }
    c->timer_ms = -1;
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
    for (size_t i = 0; i < c->n_free; i++)
        slot_free(c->free_slots[i]);
    free(c->free_slots);
    curl_multi_cleanup(c->multi);
    close(c->epfd);
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
    slot *s = take_slot(c);
    if (!s)
        return DM_ERR_NOMEM;
    s->req = req;
    req->priv_ = s;
    int rc = configure(c, s, req);
    if (rc == DM_OK && curl_multi_add_handle(c->multi, s->easy) != CURLM_OK)
        rc = DM_ERR_NOMEM;
    if (rc) {
        give_slot(c, s);
        return rc;
    }
    c->in_flight++;
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
    req->priv_ = NULL;
    give_slot(c, s);
    c->in_flight--;
}

static bool take_done(hcurl *c, http_request **done)
{
    int left = 0;
    CURLMsg *m;
    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        slot *s = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        *done = s->req;
        finish(c, s, m->data.result);
        return true;
    }
    return false;
}

/* ms until curl's timer fires (0: now; -1: no timer). */
static long timer_left(const hcurl *c)
{
    if (c->timer_ms < 0)
        return -1;
    long left = c->timer_ms - (long)(dm_monotonic_ms() - c->timer_set_at);
    return left > 0 ? left : 0;
}

static int hcurl_wait(void *impl, int timeout_ms, http_request **done)
{
    hcurl *c = impl;
    int64_t deadline = dm_monotonic_ms() + timeout_ms;
    int running = 0;
    for (;;) {
        if (take_done(c, done))
            return DM_OK;
        if (c->in_flight == 0)
            return DM_OK;
        long t = timer_left(c);
        if (t == 0) {
            c->timer_ms = -1;
            if (curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running) != CURLM_OK)
                return DM_ERR_NETWORK;
            continue;
        }
        int64_t remaining = deadline - dm_monotonic_ms();
        if (remaining < 0)
            return DM_OK;
        long wait = (t > 0 && t < remaining) ? t : (long)remaining;
        struct epoll_event ev[64];
        int n = epoll_wait(c->epfd, ev, 64, (int)wait);
        for (int i = 0; i < n; i++) {
            int flags = (ev[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                        (ev[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                        (ev[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
            if (curl_multi_socket_action(c->multi, ev[i].data.fd, flags, &running) != CURLM_OK)
                return DM_ERR_NETWORK;
        }
        if (n == 0 && remaining <= wait && (t < 0 || t > remaining))
            return take_done(c, done), DM_OK;
    }
}


static size_t hcurl_in_flight(const void *impl) { return ((const hcurl *)impl)->in_flight; }

const http_backend http_curl_backend = {"curl", hcurl_create, hcurl_destroy, hcurl_start, hcurl_wait,
                                        hcurl_in_flight};
