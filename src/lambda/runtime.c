/* The Lambda Runtime API client (lambda.h), over the HTTP client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddbmig/http.h"
#include "ddbmig/lambda.h"

struct lambda_rt {
    http_client *http;
    char base[300]; /* http://host:port/2018-06-01 */
};

lambda_rt *lambda_rt_new(const char *api, dm_error *err)
{
    /* host:port, as Lambda sets it; nothing that could bend the URL. */
    size_t n = api ? strlen(api) : 0;
    bool ok = n > 0 && n < 200;
    for (size_t i = 0; ok && i < n; i++)
        ok = (api[i] >= 'a' && api[i] <= 'z') || (api[i] >= 'A' && api[i] <= 'Z') || (api[i] >= '0' && api[i] <= '9') ||
             api[i] == '.' || api[i] == '-' || api[i] == ':' || api[i] == '[' || api[i] == ']';
    if (!ok) {
        dm_error_set(err, DM_ERR_CONFIG, "AWS_LAMBDA_RUNTIME_API is not host:port (ddbmig lambda runs inside AWS "
                                         "Lambda, or against a Runtime API emulator)");
        return NULL;
    }
    lambda_rt *rt = calloc(1, sizeof *rt);
    http_options o = {.timeout_ms = 24L * 3600 * 1000, .max_connections = 2};
    if (!rt || !(rt->http = http_client_new(&o))) {
        free(rt);
        dm_error_set(err, DM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(rt->base, sizeof rt->base, "http://%s/2018-06-01", api);
    return rt;
}

void lambda_rt_free(lambda_rt *rt)
{
    if (!rt)
        return;
    http_client_free(rt->http);
    free(rt);
}

void lambda_invocation_cleanup(lambda_invocation *inv)
{
    dm_buf_cleanup(&inv->event);
    memset(inv, 0, sizeof *inv);
}

static int call(lambda_rt *rt, const char *method, const char *url, const char *body, const char *const *headers,
                size_t n_headers, http_request *req, dm_error *err)
{
    memset(req, 0, sizeof *req);
    req->method = method;
    req->url = url;
    req->headers = headers;
    req->n_headers = n_headers;
    req->body = body ? body : "";
    req->body_len = body ? strlen(body) : 0;
    int rc = http_client_perform(rt->http, req);
    if (rc == DM_OK && req->net_error != HTTP_NET_OK)
        rc = dm_error_set(err, DM_ERR_NETWORK, "Runtime API %s: %s", url, req->net_message);
    else if (rc != DM_OK)
        dm_error_set(err, rc, "Runtime API %s failed", url);
    return rc;
}

/* Request ids become part of a URL path. */
static bool id_ok(const char *id)
{
    if (!*id)
        return false;
    for (; *id; id++)
        if (!((*id >= 'a' && *id <= 'z') || (*id >= 'A' && *id <= 'Z') || (*id >= '0' && *id <= '9') || *id == '-' ||
              *id == '_'))
            return false;
    return true;
}

int lambda_rt_next(lambda_rt *rt, lambda_invocation *inv, dm_error *err)
{
    memset(inv, 0, sizeof *inv);
    char url[400], v[64];
    snprintf(url, sizeof url, "%s/runtime/invocation/next", rt->base);
    http_request req;
    int rc = call(rt, "GET", url, NULL, NULL, 0, &req, err);
    if (rc == DM_OK && req.status != 200)
        rc = dm_error_set(err, DM_ERR_SERVICE, "Runtime API next: HTTP %ld", req.status);
    if (rc == DM_OK) {
        http_response_header(&req, "lambda-runtime-aws-request-id", inv->request_id, sizeof inv->request_id);
        http_response_header(&req, "lambda-runtime-trace-id", inv->trace_id, sizeof inv->trace_id);
        http_response_header(&req, "lambda-runtime-invoked-function-arn", inv->function_arn, sizeof inv->function_arn);
        inv->deadline_ms = http_response_header(&req, "lambda-runtime-deadline-ms", v, sizeof v) ? atoll(v) : 0;
        if (!id_ok(inv->request_id))
            rc = dm_error_set(err, DM_ERR_PARSE, "Runtime API next: no usable Lambda-Runtime-Aws-Request-Id");
        inv->event = req.response;
        dm_buf_init(&req.response, 0);
    }
    http_request_cleanup(&req);
    return rc;
}

static int post(lambda_rt *rt, const char *url, const char *body, const char *const *headers, size_t n,
                dm_error *err)
{
    http_request req;
    const char *h[3] = {"Content-Type: application/json", n ? headers[0] : NULL, NULL};
    int rc = call(rt, "POST", url, body, h, n ? 2 : 1, &req, err);
    if (rc == DM_OK && (req.status < 200 || req.status > 299))
        rc = dm_error_set(err, DM_ERR_SERVICE, "Runtime API %s: HTTP %ld", url, req.status);
    http_request_cleanup(&req);
    return rc;
}

int lambda_rt_respond(lambda_rt *rt, const char *request_id, const char *json, dm_error *err)
{
    if (!id_ok(request_id))
        return dm_error_set(err, DM_ERR_INVALID, "bad request id");
    char url[400];
    snprintf(url, sizeof url, "%s/runtime/invocation/%s/response", rt->base, request_id);
    return post(rt, url, json, NULL, 0, err);
}

int lambda_rt_error(lambda_rt *rt, const char *request_id, const char *type, const char *message, dm_error *err)
{
    char url[400], hdr[160];
    if (request_id && !id_ok(request_id))
        return dm_error_set(err, DM_ERR_INVALID, "bad request id");
    if (request_id)
        snprintf(url, sizeof url, "%s/runtime/invocation/%s/error", rt->base, request_id);
    else
        snprintf(url, sizeof url, "%s/runtime/init/error", rt->base);
    snprintf(hdr, sizeof hdr, "Lambda-Runtime-Function-Error-Type: %s", type);
    char *body = lambda_error_json(type, message);
    const char *h[1] = {hdr};
    int rc = body ? post(rt, url, body, h, 1, err) : dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    free(body);
    return rc;
}
