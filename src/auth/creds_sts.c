/* STS for the credential providers: one query-protocol call (AssumeRole
 * signed with the source credentials, AssumeRoleWithWebIdentity unsigned)
 * at the settings' STS endpoint, a few attempts for what is worth another
 * try, and the answer read with the XML reader (creds_sts_parse, pure and
 * fuzzed: tests/fuzz/fuzz_creds.c).
 *
 * The answer of a 200 carries the secret key: messages about it say what
 * is missing, never what was there. An error answer carries none, and its
 * code and message are quoted for the person who has to fix the cause. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "creds_impl.h"
#include "auth/sigv4.h"
#include "ddbmig/xml.h"
#include "http/url.h"

#define STS_ATTEMPTS 3
#define STS_TIMEOUT_MS 10000

/* The tree held a secret key and a session token: zero every text. */
static void xml_free_secure(xml_node *n)
{
    for (xml_node *c = n; c; c = c->next) {
        if (c->text)
            dm_memzero(c->text, c->text_len);
        if (c->children)
            xml_free_secure(c->children);
    }
}

/* The <Error> of an error answer: STS's <ErrorResponse><Error>, also a
 * bare <Error> or <ErrorResponse><Errors><Error> (EC2's shape, which some
 * emulators answer). */
static const xml_node *error_node(const xml_node *root)
{
    if (!root)
        return NULL;
    if (strcmp(root->name, "Error") == 0)
        return root;
    const xml_node *e = xml_child(root, "Error");
    return e ? e : xml_path(root, "Errors/Error");
}

static int copy_text(const xml_node *creds, const char *name, char *dst, size_t size)
{
    const char *v = xml_path_text(creds, name);
    if (!v || !*v || strlen(v) >= size)
        return -1;
    dm_strlcpy(dst, v, size);
    return 0;
}

int creds_sts_parse(const char *action, const char *doc, size_t len, long status, aws_creds *out, char *user_arn,
                    size_t arn_size, dm_error *err)
{
    xml_node *root = NULL;
    dm_error perr = {0};
    int prc = doc ? xml_parse(doc, len, &root, &perr) : DM_ERR_PARSE;
    if (status != 200) {
        const xml_node *e = prc == DM_OK ? error_node(root) : NULL;
        const char *code = e ? xml_path_text(e, "Code") : NULL;
        const char *msg = e ? xml_path_text(e, "Message") : NULL;
        dm_error_set(err, DM_ERR_CREDENTIALS, "%s failed: %s: %s (HTTP %ld)", action, code && *code ? code : "error",
                     msg && *msg ? msg : "no message", status);
        if (err && code)
            dm_strlcpy(err->type, code, sizeof err->type);
        if (err)
            err->http_status = status;
        if (root)
            xml_free_secure(root);
        xml_free(root);
        return DM_ERR_CREDENTIALS;
    }
    if (prc != DM_OK) {
        /* The reader's message names a byte offset and a fault, not text. */
        return dm_error_set(err, DM_ERR_CREDENTIALS, "%s: unexpected answer from STS, not XML (%s)", action,
                            perr.message[0] ? perr.message : "empty");
    }
    char path[128];
    snprintf(path, sizeof path, "%sResult/Credentials", action);
    char expect_root[96];
    snprintf(expect_root, sizeof expect_root, "%sResponse", action);
    const xml_node *creds = strcmp(root->name, expect_root) == 0 ? xml_path(root, path) : NULL;
    char exp[64];
    int rc = DM_OK;
    if (!creds)
        rc = dm_error_set(err, DM_ERR_CREDENTIALS, "%s: unexpected answer from STS, without %s/%s", action, expect_root,
                          path);
    else if (copy_text(creds, "AccessKeyId", out->access_key_id, sizeof out->access_key_id) ||
             copy_text(creds, "SecretAccessKey", out->secret_access_key, sizeof out->secret_access_key) ||
             copy_text(creds, "SessionToken", out->session_token, sizeof out->session_token))
        rc = dm_error_set(err, DM_ERR_CREDENTIALS,
                          "%s: unexpected answer from STS: AccessKeyId, SecretAccessKey or SessionToken is missing "
                          "or too long",
                          action);
    else if (copy_text(creds, "Expiration", exp, sizeof exp) || dm_parse_iso8601(exp, &out->expiration_ms) != DM_OK)
        rc = dm_error_set(err, DM_ERR_CREDENTIALS,
                          "%s: unexpected answer from STS: Expiration is missing or not an ISO-8601 time", action);
    if (rc == DM_OK && user_arn && arn_size) {
        char ap[160];
        snprintf(ap, sizeof ap, "%sResult/AssumedRoleUser/Arn", action);
        const char *arn = xml_path_text(root, ap);
        dm_strlcpy(user_arn, arn ? arn : "", arn_size);
    }
    xml_free_secure(root);
    xml_free(root);
    if (rc != DM_OK)
        aws_creds_clear(out);
    return rc;
}

int creds_form_add(dm_buf *form, const char *key, const char *value)
{
    int rc = dm_buf_appendf(form, "%s%s=", form->len ? "&" : "", key);
    return rc ? rc : sigv4_uri_encode(value, strlen(value), false, form);
}

/* The endpoint, or STS's global one when neither an endpoint nor a region
 * is configured. A configured URL that does not parse is an error, not a
 * reason to send the request somewhere else. */
static int sts_url(const aws_settings *s, char *url, size_t size, dm_error *err)
{
    int rc = aws_settings_other_endpoint(s, "STS", "sts", url, size, err);
    if (rc == DM_ERR_CONFIG) {
        dm_strlcpy(url, "https://sts.amazonaws.com", size);
        dm_error_clear(err);
        return DM_OK;
    }
    return rc;
}

/* Header lines of one signed attempt into text (NUL-separated), pointers
 * into it in lines. */
static int sign_headers(const char *url, const char *region, const char *form, const aws_creds *signer, dm_buf *text,
                        const char **lines, size_t *n, dm_error *err)
{
    http_url u;
    if (http_url_parse(url, &u, err) != DM_OK)
        return DM_ERR_CREDENTIALS;
    char *path = http_url_needs_slash(&u) ? dm_strdup("/") : dm_strndup(u.path, u.path_len);
    if (!path)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    static const char ctype[] = "application/x-www-form-urlencoded; charset=utf-8";
    sigv4_header hs[] = {{"host", u.authority}, {"content-type", ctype}};
    sigv4_request sr = {
        .method = "POST", .path = path, .headers = hs, .n_headers = 2, .body = form, .body_len = strlen(form)};
    sigv4_params p = {.access_key_id = signer->access_key_id,
                      .secret_access_key = signer->secret_access_key,
                      .session_token = signer->session_token,
                      .region = region,
                      .service = "sts",
                      .time = time(NULL)};
    sigv4_result res;
    int rc = sigv4_sign(&sr, &p, &res);
    size_t offs[4];
    size_t k = 0;
    if (rc == DM_OK) {
        offs[k++] = text->len;
        rc = dm_buf_appendf(text, "X-Amz-Date: %s", res.amz_date) || dm_buf_putc(text, '\0');
        offs[k++] = text->len;
        rc = rc ? rc
                : (dm_buf_appendf(text, "Authorization: %s", dm_buf_cstr(&res.authorization)) ||
                   dm_buf_putc(text, '\0'));
        if (signer->session_token[0]) {
            offs[k++] = text->len;
            rc = rc ? rc
                    : (dm_buf_appendf(text, "X-Amz-Security-Token: %s", signer->session_token) ||
                       dm_buf_putc(text, '\0'));
        }
    }
    sigv4_result_cleanup(&res);
    free(path);
    if (rc)
        return dm_error_set(err, DM_ERR_NOMEM, "signing the STS request failed");
    for (size_t i = 0; i < k; i++)
        lines[(*n)++] = text->data + offs[i];
    return DM_OK;
}

/* Worth another attempt: no answer, a 5xx, or throttling (the error
 * answer's code, read as XML; error answers hold no credentials). */
static bool retryable(int rc, long status, const dm_buf *resp)
{
    if (rc == DM_ERR_NETWORK)
        return true;
    if (rc != DM_OK || status == 200)
        return false;
    if (status >= 500)
        return true;
    xml_node *root = NULL;
    if (!resp->data || xml_parse(resp->data, resp->len, &root, NULL) != DM_OK)
        return false;
    const xml_node *e = error_node(root);
    const char *code = e ? xml_path_text(e, "Code") : NULL;
    bool again = code && (strcmp(code, "Throttling") == 0 || strcmp(code, "RequestLimitExceeded") == 0 ||
                          strcmp(code, "IDPCommunicationError") == 0);
    xml_free(root);
    return again;
}

int creds_sts_call(const aws_settings *s, const char *action, const char *form, const aws_creds *signer, aws_creds *out,
                   char *user_arn, size_t arn_size, dm_error *err)
{
    char url[600];
    int rc = sts_url(s, url, sizeof url, err);
    if (rc)
        return err ? (err->code = DM_ERR_CREDENTIALS) : DM_ERR_CREDENTIALS;
    const char *region = s->region[0] ? s->region : "us-east-1";
    long status = 0;
    dm_buf resp = {0};
    for (int attempt = 1;; attempt++) {
        dm_buf text;
        dm_buf_init(&text, 64 * 1024);
        const char *lines[8] = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8",
                                "Accept: application/xml"};
        size_t n = 2;
        rc = signer ? sign_headers(url, region, form, signer, &text, lines, &n, err) : DM_OK;
        if (rc == DM_OK)
            rc = creds_http("POST", url, lines, n, form, STS_TIMEOUT_MS, s->ca_bundle, &status, &resp, err);
        dm_buf_cleanup_secure(&text);
        /* Error answers hold no credentials: their text may be looked at. */
        bool again = attempt < STS_ATTEMPTS && retryable(rc, status, &resp);
        if (!again)
            break;
        DM_DEBUG("%s at %s: attempt %d failed (%s), trying again", action, url, attempt,
                 rc == DM_OK ? "HTTP error"
                 : err       ? err->message
                             : dm_err_str(rc));
        dm_buf_cleanup_secure(&resp);
        dm_error_clear(err);
        dm_sleep_ms(200LL << attempt);
    }
    if (rc == DM_OK)
        rc = creds_sts_parse(action, resp.data, resp.len, status, out, user_arn, arn_size, err);
    else
        dm_error_prefix(err, "%s at %s", action, url);
    dm_buf_cleanup_secure(&resp);
    return rc == DM_OK ? DM_OK : (err ? (err->code = DM_ERR_CREDENTIALS) : DM_ERR_CREDENTIALS);
}
