/* http_client: picks a backend per client, holds the loop (the caller's or
 * its own), hands finished requests back, and holds what is common to both
 * backends (header lookup, request buffers, redacted logging).
 *
 * Handing back: a backend reports a finished request from wherever it
 * notices (an I/O callback, a deadline, or start itself); the client queues
 * it and a zero-delay timer delivers the queue from the top of the loop, so
 * that on_done callbacks never run inside a backend and may start new
 * requests freely. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/backend.h"

#define MAX_RESPONSE_BYTES (64u << 20)

typedef struct req_list {
    http_request *head, *tail;
} req_list;

struct http_client {
    const http_backend *be;
    void *impl;
    dm_loop *loop;
    bool own_loop;
    char ca_file[1024];
    http_options opts;
    req_list finished;     /* reported by the backend, not yet delivered */
    req_list ready;        /* delivered, without on_done: for http_client_wait */
    dm_loop_timer deliver;
    size_t in_flight;      /* started, not yet handed back */
};

static void push(req_list *l, http_request *r)
{
    r->next_ = NULL;
    if (l->tail)
        l->tail->next_ = r;
    else
        l->head = r;
    l->tail = r;
}

static http_request *pop(req_list *l)
{
    http_request *r = l->head;
    if (r) {
        l->head = r->next_;
        if (!l->head)
            l->tail = NULL;
        r->next_ = NULL;
    }
    return r;
}

static bool proxy_configured(void)
{
    static const char *names[] = {"https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY",
                                  "all_proxy",   "ALL_PROXY",   NULL};
    for (int i = 0; names[i]; i++) {
        const char *v = getenv(names[i]);
        if (v && *v)
            return true;
    }
    return false;
}

const char *http_backend_name(void)
{
    const char *v = getenv("DDBMIG_HTTP");
    if (v && strcmp(v, "curl") == 0)
        return "curl";
    if (v && strcmp(v, "native") == 0)
        return "native";
    return proxy_configured() ? "curl" : "native";
}

static void deliver(dm_loop_timer *t, void *ud)
{
    http_client *c = ud;
    (void)t;
    http_request *r;
    /* Callbacks may finish more requests meanwhile; they join this run. */
    while ((r = pop(&c->finished)) != NULL) {
        if (r->on_done) {
            c->in_flight--;
            r->on_done(r, r->on_done_ud);
        } else {
            push(&c->ready, r);
        }
    }
}

/* The backend's report of a finished request. */
static void finished(void *ud, http_request *req)
{
    http_client *c = ud;
    push(&c->finished, req);
    if (!dm_loop_timer_active(&c->deliver))
        dm_loop_timer_start(c->loop, &c->deliver, 0);
}

http_client *http_client_new(const http_options *opts)
{
    http_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    http_options o = {0};
    if (opts)
        o = *opts;
    if (o.ca_file)
        dm_strlcpy(c->ca_file, o.ca_file, sizeof c->ca_file);
    o.ca_file = c->ca_file[0] ? c->ca_file : NULL;
    /* Defaults for both backends. */
    if (!o.connect_timeout_ms)
        o.connect_timeout_ms = 3000;
    if (!o.timeout_ms)
        o.timeout_ms = 30000;
    if (!o.max_connections)
        o.max_connections = 64;
    c->loop = o.loop;
    if (!c->loop) {
        if (!(c->loop = dm_loop_new())) {
            free(c);
            return NULL;
        }
        c->own_loop = true;
    }
    o.loop = c->loop;
    c->opts = o;
    dm_loop_timer_init(&c->deliver, deliver, c);
    c->be = strcmp(http_backend_name(), "curl") == 0 ? &http_curl_backend : &http_h1_backend;
    if (!(c->impl = c->be->create(&c->opts, c->loop, finished, c))) {
        if (c->own_loop)
            dm_loop_free(c->loop);
        free(c);
        return NULL;
    }
    return c;
}

void http_client_free(http_client *c)
{
    if (!c)
        return;
    c->be->destroy(c->impl);
    dm_loop_timer_stop(c->loop, &c->deliver);
    if (c->own_loop)
        dm_loop_free(c->loop);
    free(c);
}

dm_loop *http_client_loop(http_client *c) { return c->loop; }

int http_client_start(http_client *c, http_request *req)
{
    http_request_reset(req);
    req->next_ = NULL;
    int rc = c->be->start(c->impl, req);
    if (rc == DM_OK)
        c->in_flight++;
    return rc;
}

int http_client_wait(http_client *c, int timeout_ms, http_request **done)
{
    *done = NULL;
    if (dm_loop_running(c->loop))
        return DM_ERR_INVALID;
    int64_t end = dm_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if ((*done = pop(&c->ready)) != NULL) {
            c->in_flight--;
            return DM_OK;
        }
        if (c->in_flight == 0)
            return DM_OK;
        int64_t left = end - dm_monotonic_ms();
        int rc = dm_loop_run_once(c->loop, left > 0 ? (int)left : 0);
        if (rc)
            return rc;
        if (!c->ready.head && dm_monotonic_ms() >= end)
            return DM_OK;
    }
}

size_t http_client_in_flight(const http_client *c) { return c->in_flight; }

static void performed(http_request *req, void *ud)
{
    (void)req;
    *(bool *)ud = true;
}

int http_client_perform(http_client *c, http_request *req)
{
    if (dm_loop_running(c->loop))
        return DM_ERR_INVALID;
    http_done_fn fn = req->on_done;
    void *ud = req->on_done_ud;
    bool fin = false;
    req->on_done = performed;
    req->on_done_ud = &fin;
    int rc = http_client_start(c, req);
    /* The request's deadline bounds this: it always finishes. */
    while (rc == DM_OK && !fin)
        dm_loop_run_once(c->loop, -1);
    req->on_done = fn;
    req->on_done_ud = ud;
    return rc;
}

const char *http_response_header(const http_request *req, const char *name, char *buf, size_t size)
{
    const char *p = dm_buf_cstr(&req->response_headers);
    size_t nl = strlen(name);
    while (*p) {
        const char *eol = strchr(p, '\n');
        if (!eol)
            break;
        if (strncmp(p, name, nl) == 0 && p[nl] == ':' && p[nl + 1] == ' ') {
            size_t vl = (size_t)(eol - p - nl - 2);
            if (vl >= size)
                vl = size - 1;
            memcpy(buf, p + nl + 2, vl);
            buf[vl] = '\0';
            return buf;
        }
        p = eol + 1;
    }
    return NULL;
}

void http_request_reset(http_request *req)
{
    req->status = 0;
    req->resent = false;
    req->net_error = HTTP_NET_OK;
    req->net_message[0] = '\0';
    if (req->response.max == 0)
        dm_buf_init(&req->response, MAX_RESPONSE_BYTES);
    if (req->response_headers.max == 0)
        dm_buf_init(&req->response_headers, 1u << 20);
    dm_buf_reset(&req->response);
    dm_buf_reset(&req->response_headers);
}

void http_request_cleanup(http_request *req)
{
    /* Credential endpoints return secrets in the body. */
    dm_buf_cleanup_secure(&req->response);
    dm_buf_cleanup(&req->response_headers);
}

static bool secret_header(const char *line)
{
    static const char *names[] = {"authorization:", "x-amz-security-token:", "x-aws-ec2-metadata-token:",
                                  "x-amz-content-sha256:", NULL};
    for (int i = 0; names[i]; i++)
        if (strncasecmp(line, names[i], strlen(names[i])) == 0)
            return true;
    return false;
}

void http_log_headers(const char *prefix, const char *const *headers, size_t n)
{
    if (!dm_log_enabled(DM_LOG_DEBUG))
        return;
    for (size_t i = 0; i < n; i++) {
        const char *colon = strchr(headers[i], ':');
        if (secret_header(headers[i]) && colon)
            dm_log(DM_LOG_DEBUG, "%s%.*s: [redacted]", prefix, (int)(colon - headers[i]), headers[i]);
        else
            dm_log(DM_LOG_DEBUG, "%s%s", prefix, headers[i]);
    }
}
