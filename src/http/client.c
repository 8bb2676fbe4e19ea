/* http_client: picks a backend per client and holds what is common to
 * both (header lookup, request buffers, redacted logging). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/backend.h"

#define MAX_RESPONSE_BYTES (64u << 20)

struct http_client {
    const http_backend *be;
    void *impl;
    char ca_file[1024];
};

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
    c->be = strcmp(http_backend_name(), "curl") == 0 ? &http_curl_backend : &http_h1_backend;
    if (!(c->impl = c->be->create(&o))) {
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
    free(c);
}

int http_client_start(http_client *c, http_request *req)
{
    http_request_reset(req);
    return c->be->start(c->impl, req);
}

int http_client_wait(http_client *c, int timeout_ms, http_request **done)
{
    *done = NULL;
    return c->be->wait(c->impl, timeout_ms, done);
}

size_t http_client_in_flight(const http_client *c) { return c->be->in_flight(c->impl); }

int http_client_perform(http_client *c, http_request *req)
{
    int rc = http_client_start(c, req);
    if (rc)
        return rc;
    http_request *done = NULL;
    while (done != req) {
        if ((rc = http_client_wait(c, 1000, &done)) != DM_OK)
            return rc;
    }
    return DM_OK;
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
