/* Signed synchronous requests to AWS's REST and query services, retried
 * like every other call of ddbmig (src/http/retry.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth/sigv4.h"
#include "common/crypto.h"
#include "ddbmig/awsapi.h"
#include "ddbmig/xml.h"
#include "http/retry.h"
#include "http/url.h"

void awsreq_answer_cleanup(awsreq_answer *a)
{
    dm_buf_cleanup(&a->body);
}

bool awsreq_xml_error(const char *body, size_t len, char *code, size_t code_size, char *msg, size_t msg_size)
{
    xml_node *root = NULL;
    if (!body || xml_parse(body, len, &root, NULL) != DM_OK)
        return false;
    const xml_node *e = strcmp(root->name, "Error") == 0 ? root : xml_child(root, "Error");
    const char *c = e ? xml_path_text(e, "Code") : NULL;
    const char *m = e ? xml_path_text(e, "Message") : NULL;
    if (c) {
        dm_strlcpy(code, c, code_size);
        dm_strlcpy(msg, m ? m : "", msg_size);
    }
    xml_free(root);
    return c != NULL;
}

int awsreq_form_add(dm_buf *form, const char *name, const char *value)
{
    int rc = form->len ? dm_buf_putc(form, '&') : DM_OK;
    rc = rc ? rc : sigv4_uri_encode(name, strlen(name), false, form);
    rc = rc ? rc : dm_buf_putc(form, '=');
    return rc ? rc : sigv4_uri_encode(value, strlen(value), false, form);
}

/* The request's headers, signed; text holds them ("Name: value"). */
static int sign(const awsreq_service *svc, const awsreq *req, const http_url *u, dm_buf *text, size_t *offs,
                int *n, dm_error *err)
{
    aws_creds cr;
    int rc = creds_get(svc->creds, &cr, err);
    if (rc)
        return rc;
    char hash[65];
    dm_sha256_hex(req->body ? req->body : "", req->body_len, hash);
    sigv4_header hs[5];
    size_t nh = 0;
    hs[nh++] = (sigv4_header){"host", u->authority};
    if (req->content_type)
        hs[nh++] = (sigv4_header){"content-type", req->content_type};
    if (req->s3)
        hs[nh++] = (sigv4_header){"x-amz-content-sha256", hash};
    if (req->expected_owner)
        hs[nh++] = (sigv4_header){"x-amz-expected-bucket-owner", req->expected_owner};
    sigv4_request sr = {.method = req->method, .path = req->path, .query = req->query, .headers = hs,
                        .n_headers = nh, .body = req->body, .body_len = req->body_len,
                        .payload_hash = req->s3 ? hash : NULL};
    sigv4_params p = {.access_key_id = cr.access_key_id, .secret_access_key = cr.secret_access_key,
                      .session_token = cr.session_token, .region = svc->region, .service = svc->signing_name,
                      .time = time(NULL), .keep_path = req->s3};
    sigv4_result res;
    rc = sigv4_sign(&sr, &p, &res);
    *n = 0;
#define ADD(fmt, ...)                                                                                              \
    do {                                                                                                           \
        offs[(*n)++] = text->len;                                                                                  \
        if (rc == DM_OK && (dm_buf_appendf(text, fmt, __VA_ARGS__) || dm_buf_putc(text, '\0')))                    \
            rc = DM_ERR_NOMEM;                                                                                     \
    } while (0)
    if (rc == DM_OK) {
        for (size_t i = 1; i < nh; i++)
            ADD("%s: %s", hs[i].name, hs[i].value);
        ADD("X-Amz-Date: %s", res.amz_date);
        ADD("Authorization: %s", dm_buf_cstr(&res.authorization));
        ADD("User-Agent: %s", "ddbmig/" DDBMIG_VERSION);
        if (cr.session_token[0])
            ADD("X-Amz-Security-Token: %s", cr.session_token);
    }
#undef ADD
    sigv4_result_cleanup(&res);
    aws_creds_clear(&cr);
    if (rc)
        return dm_error_set(err, rc, "signing the request failed: %s", dm_err_str(rc));
    return DM_OK;
}

static int url_of(const awsreq_service *svc, const awsreq *req, http_url *u, dm_buf *url, dm_error *err)
{
    if (http_url_parse(svc->endpoint, u, err) != DM_OK)
        return DM_ERR_CONFIG;
    if (u->path_len > 1 || u->has_query)
        return dm_error_set(err, DM_ERR_CONFIG, "the endpoint %s has a path; give only scheme, host and port",
                            u->authority);
    int rc = dm_buf_appendf(url, "%s://%s", u->tls ? "https" : "http", u->authority);
    rc = rc ? rc : sigv4_uri_encode(req->path, strlen(req->path), true, url);
    if (!rc && req->query && *req->query)
        rc = dm_buf_appendf(url, "?%s", req->query);
    return rc ? dm_error_set(err, DM_ERR_NOMEM, "out of memory") : DM_OK;
}

static void service_error(const char *what, const http_request *h, dm_error *err)
{
    char code[128] = "", msg[700] = "";
    if (!awsreq_xml_error(h->response.data, h->response.len, code, sizeof code, msg, sizeof msg)) {
        /* HEAD answers and proxies carry no XML error. */
        snprintf(code, sizeof code, "%s",
                 h->status == 404 ? "NotFound" : h->status == 403 ? "Forbidden" : "HTTPError");
        snprintf(msg, sizeof msg, "HTTP status %ld", h->status);
    }
    dm_error_set(err, DM_ERR_SERVICE, "%s: %s: %s", what, code, msg);
    if (!err)
        return;
    dm_strlcpy(err->type, code, sizeof err->type);
    err->http_status = h->status;
    char rid[96];
    if ((http_response_header(h, "x-amzn-requestid", rid, sizeof rid) ||
                http_response_header(h, "x-amz-request-id", rid, sizeof rid)))
        dm_strlcpy(err->request_id, rid, sizeof err->request_id);
}

/* One attempt: *cls says what became of it. */
static int attempt(http_client *hc, const awsreq_service *svc, const awsreq *req, const http_url *u,
                   const char *url, const char *what, awsreq_answer *answer, retry_class *cls, dm_error *err)
{
    dm_buf text;
    dm_buf_init(&text, 0);
    size_t offs[8];
    int n = 0;
    int rc = sign(svc, req, u, &text, offs, &n, err);
    if (rc) {
        dm_buf_cleanup_secure(&text);
        *cls = RETRY_FATAL;
        return rc;
    }
    const char *headers[8];
    for (int i = 0; i < n; i++)
        headers[i] = text.data + offs[i];
    http_request h = {.method = req->method, .url = url, .headers = headers, .n_headers = (size_t)n,
                      .body = req->body ? req->body : "", .body_len = req->body_len};
    rc = http_client_perform(hc, &h);
    dm_buf_cleanup_secure(&text);
    if (rc) {
        *cls = RETRY_FATAL;
        http_request_cleanup(&h);
        return dm_error_set(err, rc, "%s: %s", what, dm_err_str(rc));
    }
    char code[128] = "", msg[8];
    if (h.net_error == HTTP_NET_OK && h.status >= 300)
        awsreq_xml_error(h.response.data, h.response.len, code, sizeof code, msg, sizeof msg);
    *cls = retry_classify(h.status, h.net_error, code, false);
    if (h.net_error != HTTP_NET_OK) {
        rc = dm_error_set(err, DM_ERR_NETWORK, "%s: %s", what, h.net_message);
    } else if (h.status >= 200 && h.status < 300) {
        *cls = RETRY_SUCCESS;
        answer->status = h.status;
        answer->body = h.response;
        dm_buf_init(&h.response, 0);
    } else {
        service_error(what, &h, err);
        rc = *cls == RETRY_THROTTLE ? DM_ERR_THROTTLED : DM_ERR_SERVICE;
        if (err)
            err->code = rc;
    }
    http_request_cleanup(&h);
    return rc;
}

int awsreq_perform(const awsreq_service *svc, const awsreq *req, const char *what, awsreq_answer *answer,
                   dm_error *err)
{
    memset(answer, 0, sizeof *answer);
    dm_buf_init(&answer->body, 0);
    http_url u;
    dm_buf url;
    dm_buf_init(&url, 0);
    int rc = url_of(svc, req, &u, &url, err);
    if (rc) {
        dm_buf_cleanup(&url);
        return rc;
    }
    http_options o = {.max_connections = 1, .timeout_ms = 120000,
                      .ca_file = svc->ca_file && *svc->ca_file ? svc->ca_file : NULL};
    http_client *hc = http_client_new(&o);
    if (!hc) {
        dm_buf_cleanup(&url);
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    }
    retry_policy p = retry_policy_default();
    p.max_attempts = svc->max_attempts > 0 ? svc->max_attempts : 5;
    p.base_ms = 100;
    uint64_t seed = 0;
    for (int attempts = 1, throttled = 0;; attempts++) {
        retry_class cls;
        rc = attempt(hc, svc, req, &u, dm_buf_cstr(&url), what, answer, &cls, err);
        if (cls == RETRY_SUCCESS || rc == DM_ERR_CREDENTIALS)
            break;
        throttled += cls == RETRY_THROTTLE;
        int64_t delay;
        int cost;
        if (!retry_next(&p, NULL, cls, attempts, throttled, retry_random01(&seed), &delay, &cost))
            break;
        DM_DEBUG("%s: attempt %d failed (%s), again in %lld ms", what, attempts, retry_class_name(cls),
                 (long long)delay);
        dm_sleep_ms(delay);
    }
    http_client_free(hc);
    dm_buf_cleanup(&url);
    return rc;
}
