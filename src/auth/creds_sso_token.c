/* The AWS CLI's IAM Identity Center token cache, ~/.aws/sso/cache/: which
 * file holds a profile's login, what is in it, when the CLI would refresh
 * it, and how a refreshed token is written back. Everything but the write
 * is pure (tests/unit/test_creds_sso.c, tests/fuzz/fuzz_creds.c).
 *
 * As botocore (utils.SSOTokenLoader, tokens.SSOTokenProvider) has it:
 *   - the file is <sha1 hex>.json of the sso-session's name, or of the
 *     start URL for a legacy profile (sso_start_url in the profile itself);
 *   - accessToken and expiresAt must be there; refreshToken, clientId,
 *     clientSecret and registrationExpiresAt make a refresh possible;
 *   - a token of the sso-session form is refreshed when less than 15
 *     minutes are left and the client registration has not expired; the
 *     new file holds startUrl, region, accessToken, expiresAt, clientId,
 *     clientSecret, registrationExpiresAt and the refreshToken of the
 *     answer (none when the answer has none), written through a temporary
 *     file that is renamed over the old one.
 * The file holds secrets: messages give a line and column, never text. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "creds_impl.h"

#define SSO_REFRESH_WINDOW_MS (15 * 60 * 1000)

void creds_sso_cache_key(const creds_sso_config *c, char hex[41])
{
    const char *in = c->session[0] ? c->session : c->start_url;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    hex[0] = '\0';
    if (EVP_Digest(in, strlen(in), md, &n, EVP_sha1(), NULL) != 1 || n != 20)
        return;
    static const char digits[] = "0123456789abcdef";
    for (unsigned int i = 0; i < n; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[40] = '\0';
}

int creds_sso_cache_path(const aws_settings *s, const creds_sso_config *c, char *out, size_t size, dm_error *err)
{
    const char *home = dm_env_get(s->env, "HOME");
    char key[41];
    creds_sso_cache_key(c, key);
    if (!home || !key[0])
        return dm_error_set(err, DM_ERR_CREDENTIALS,
                            "profile %s: HOME is not set, so the AWS CLI's SSO cache "
                            "(~/.aws/sso/cache) cannot be found",
                            c->profile);
    if (snprintf(out, size, "%s/.aws/sso/cache/%s.json", home, key) >= (int)size)
        return dm_error_set(err, DM_ERR_CREDENTIALS, "profile %s: HOME is too long", c->profile);
    return DM_OK;
}

/* Zeroes the string values of a document that held secrets before it is
 * released (jansson frees without zeroing). */
static void json_zero_strings(json_t *v)
{
    const char *key;
    json_t *member;
    if (json_is_object(v)) {
        json_object_foreach(v, key, member) json_zero_strings(member);
    } else if (json_is_array(v)) {
        size_t i;
        json_array_foreach(v, i, member) json_zero_strings(member);
    } else if (json_is_string(v)) {
        dm_memzero((char *)json_string_value(v), json_string_length(v));
    }
}

void creds_sso_json_free_secure(json_t *v)
{
    if (!v)
        return;
    json_zero_strings(v);
    json_decref(v);
}

static char *dup_string(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? dm_strdup(v) : NULL;
}

void creds_sso_token_cleanup(creds_sso_token *t)
{
    dm_free_secret(t->access_token);
    dm_free_secret(t->refresh_token);
    dm_free_secret(t->client_secret);
    free(t->client_id);
    free(t->start_url);
    free(t->region);
    free(t->registration_expires);
    memset(t, 0, sizeof *t);
}

int creds_sso_token_parse(const char *text, size_t len, creds_sso_token *out, dm_error *err)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *doc = json_loadb(text ? text : "", len, 0, &je);
    if (!doc)
        return dm_error_set(err, DM_ERR_CREDENTIALS, "it is not valid JSON (line %d, column %d)", je.line, je.column);
    int rc = DM_OK;
    const char *exp = json_string_value(json_object_get(doc, "expiresAt"));
    const char *tok = json_string_value(json_object_get(doc, "accessToken"));
    if (!json_is_object(doc))
        rc = dm_error_set(err, DM_ERR_CREDENTIALS, "it is not a JSON object");
    else if (!tok || !*tok || !exp)
        rc = dm_error_set(err, DM_ERR_CREDENTIALS, "it has no accessToken or no expiresAt");
    else if (dm_parse_iso8601(exp, &out->expires_ms) != DM_OK)
        rc = dm_error_set(err, DM_ERR_CREDENTIALS, "its expiresAt is not an ISO-8601 time");
    if (rc == DM_OK) {
        out->access_token = dm_strdup(tok);
        out->refresh_token = dup_string(doc, "refreshToken");
        out->client_id = dup_string(doc, "clientId");
        out->client_secret = dup_string(doc, "clientSecret");
        out->start_url = dup_string(doc, "startUrl");
        out->region = dup_string(doc, "region");
        out->registration_expires = dup_string(doc, "registrationExpiresAt");
        if (out->registration_expires &&
            dm_parse_iso8601(out->registration_expires, &out->registration_expires_ms) != DM_OK)
            out->registration_expires_ms = 0;
        if (!out->access_token)
            rc = dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    }
    creds_sso_json_free_secure(doc);
    if (rc)
        creds_sso_token_cleanup(out);
    return rc;
}

static int dump_to_buf(const char *p, size_t n, void *ud)
{
    return dm_buf_append(ud, p, n) == DM_OK ? 0 : -1;
}

static int set_string(json_t *o, const char *key, const char *v)
{
    return v ? json_object_set_new(o, key, json_string(v)) : 0;
}

int creds_sso_token_format(const creds_sso_token *t, dm_buf *out)
{
    json_t *o = json_object();
    char exp[21];
    dm_format_iso8601(t->expires_ms, exp);
    int bad = !o;
    bad = bad || set_string(o, "startUrl", t->start_url) || set_string(o, "region", t->region) ||
          set_string(o, "accessToken", t->access_token) || set_string(o, "expiresAt", exp) ||
          set_string(o, "clientId", t->client_id) || set_string(o, "clientSecret", t->client_secret) ||
          set_string(o, "registrationExpiresAt", t->registration_expires) ||
          set_string(o, "refreshToken", t->refresh_token);
    if (!bad)
        bad = json_dump_callback(o, dump_to_buf, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
              dm_buf_putc(out, '\n') != DM_OK;
    creds_sso_json_free_secure(o);
    return bad ? DM_ERR_NOMEM : DM_OK;
}

bool creds_sso_token_due(const creds_sso_token *t, int64_t now_ms)
{
    return t->expires_ms - now_ms < SSO_REFRESH_WINDOW_MS;
}

bool creds_sso_token_refreshable(const creds_sso_token *t, int64_t now_ms)
{
    return t->refresh_token && *t->refresh_token && t->client_id && t->client_secret && t->registration_expires &&
           t->registration_expires_ms > now_ms;
}

int creds_sso_apply_create_token(const char *doc, size_t len, long status, int64_t now_ms, creds_sso_token *t,
                                 dm_error *err)
{
    json_t *a = json_loadb(doc ? doc : "", len, 0, NULL);
    int rc = DM_OK;
    if (status != 200) {
        /* OIDC's errors ({"error", "error_description"}) or AWS's JSON
         * errors ({"__type", "message"}): neither holds a secret. */
        const char *code = json_string_value(json_object_get(a, "error"));
        const char *msg = json_string_value(json_object_get(a, "error_description"));
        if (!code)
            code = json_string_value(json_object_get(a, "__type"));
        if (!msg)
            msg = json_string_value(json_object_get(a, "message"));
        rc = dm_error_set(err, DM_ERR_CREDENTIALS, "CreateToken failed: %.100s: %.300s (HTTP %ld)",
                          code ? code : "error", msg ? msg : "no message", status);
        json_decref(a);
        return rc;
    }
    const char *tok = json_string_value(json_object_get(a, "accessToken"));
    json_t *in = json_object_get(a, "expiresIn");
    json_t *rt = json_object_get(a, "refreshToken");
    if (!a || !json_is_object(a))
        rc = dm_error_set(err, DM_ERR_CREDENTIALS, "CreateToken: the answer is not a JSON object");
    else if (!tok || !*tok || !json_is_integer(in) || json_integer_value(in) <= 0 ||
             json_integer_value(in) > 100LL * 365 * 86400 || (rt && !json_is_string(rt)))
        rc = dm_error_set(err, DM_ERR_CREDENTIALS,
                          "CreateToken: the answer lacks accessToken or a positive expiresIn, or its refreshToken is "
                          "not a string");
    if (rc == DM_OK) {
        char *access = dm_strdup(tok);
        char *refresh = rt ? dm_strdup(json_string_value(rt)) : NULL;
        if (!access || (rt && !refresh)) {
            dm_free_secret(access);
            dm_free_secret(refresh);
            rc = dm_error_set(err, DM_ERR_NOMEM, "out of memory");
        } else {
            dm_free_secret(t->access_token);
            dm_free_secret(t->refresh_token);
            t->access_token = access;
            t->refresh_token = refresh;
            t->expires_ms = now_ms + json_integer_value(in) * 1000;
        }
    }
    creds_sso_json_free_secure(a);
    return rc;
}

int creds_sso_parse_role_credentials(const char *doc, size_t len, aws_creds *out, dm_error *err)
{
    json_error_t je;
    json_t *a = json_loadb(doc ? doc : "", len, 0, &je);
    if (!a)
        return dm_error_set(err, DM_ERR_CREDENTIALS,
                            "GetRoleCredentials: the answer is not valid JSON (line %d, column %d)", je.line,
                            je.column);
    json_t *rc_obj = json_object_get(a, "roleCredentials");
    const char *ak = json_string_value(json_object_get(rc_obj, "accessKeyId"));
    const char *sk = json_string_value(json_object_get(rc_obj, "secretAccessKey"));
    const char *tok = json_string_value(json_object_get(rc_obj, "sessionToken"));
    json_t *exp = json_object_get(rc_obj, "expiration");
    int rc = DM_OK;
    if (!json_is_object(rc_obj) || !ak || !*ak || !sk || !*sk || !tok || !*tok)
        rc = dm_error_set(err, DM_ERR_CREDENTIALS,
                          "GetRoleCredentials: the answer lacks roleCredentials' accessKeyId, secretAccessKey or "
                          "sessionToken");
    else if (!json_is_integer(exp) || json_integer_value(exp) <= 0)
        rc = dm_error_set(err, DM_ERR_CREDENTIALS, "GetRoleCredentials: the answer's expiration is not a time");
    else if (strlen(ak) >= sizeof out->access_key_id || strlen(sk) >= sizeof out->secret_access_key ||
             strlen(tok) >= sizeof out->session_token)
        rc = dm_error_set(err, DM_ERR_CREDENTIALS, "GetRoleCredentials: a credential in the answer is too long");
    if (rc == DM_OK) {
        dm_strlcpy(out->access_key_id, ak, sizeof out->access_key_id);
        dm_strlcpy(out->secret_access_key, sk, sizeof out->secret_access_key);
        dm_strlcpy(out->session_token, tok, sizeof out->session_token);
        out->expiration_ms = json_integer_value(exp);
    }
    creds_sso_json_free_secure(a);
    return rc;
}

int creds_sso_write_cache(const char *path, const char *text, size_t len, dm_error *err)
{
    return dm_write_file_private(path, text, len, err);
}
