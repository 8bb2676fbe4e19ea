/* Web identity: exchanges an OIDC token (EKS IRSA, GitHub Actions, ...)
 * for role credentials with STS AssumeRoleWithWebIdentity. That call is
 * not signed; the token is the proof. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds_impl.h"
#include "auth/sigv4.h"

typedef struct webid_provider {
    creds_provider base;
    const aws_settings *s;
    bool from_env;    /* role and token file come from the environment */
    char *role_arn;   /* owned, when !from_env */
    char *token_file; /* owned, when !from_env */
    char *session_name;
} webid_provider;

/* Text of the first <tag>...</tag>, with XML's five entities decoded. */
static int xml_text(const char *doc, const char *tag, char *out, size_t size)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = strstr(doc, open);
    const char *b = a ? strstr(a, close) : NULL;
    if (!b)
        return -1;
    a += strlen(open);
    static const struct { const char *ent; char c; } ents[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    size_t o = 0;
    while (a < b && o + 1 < size) {
        size_t i = 0;
        for (; i < 5; i++) {
            size_t l = strlen(ents[i].ent);
            if ((size_t)(b - a) >= l && strncmp(a, ents[i].ent, l) == 0) {
                out[o++] = ents[i].c;
                a += l;
                break;
            }
        }
        if (i == 5)
            out[o++] = *a++;
    }
    out[o] = '\0';
    return a == b ? 0 : -1;
}

static int form_add(dm_buf *b, const char *key, const char *value)
{
    int rc = dm_buf_appendf(b, "%s%s=", b->len ? "&" : "", key);
    return rc ? rc : sigv4_uri_encode(value, strlen(value), false, b);
}

static int parse_answer(const char *doc, long status, aws_creds *out, dm_error *err)
{
    char code[128] = "", msg[512] = "", exp[64] = "";
    if (status != 200) {
        xml_text(doc, "Code", code, sizeof code);
        xml_text(doc, "Message", msg, sizeof msg);
        return dm_error_set(err, DM_ERR_CREDENTIALS, "AssumeRoleWithWebIdentity failed: %s: %s (HTTP %ld)",
                            code[0] ? code : "error", msg[0] ? msg : "no message", status);
    }
    if (xml_text(doc, "AccessKeyId", out->access_key_id, sizeof out->access_key_id) ||
        xml_text(doc, "SecretAccessKey", out->secret_access_key, sizeof out->secret_access_key) ||
        xml_text(doc, "SessionToken", out->session_token, sizeof out->session_token) ||
        xml_text(doc, "Expiration", exp, sizeof exp) || dm_parse_iso8601(exp, &out->expiration_ms))
        return dm_error_set(err, DM_ERR_CREDENTIALS, "AssumeRoleWithWebIdentity: unexpected answer from STS");
    dm_strlcpy(out->source, "web identity", sizeof out->source);
    return DM_OK;
}

static int webid_get(creds_provider *p, aws_creds *out, dm_error *err)
{
    webid_provider *w = (webid_provider *)p;
    const dm_env *env = w->s->env;
    const char *role = w->from_env ? dm_env_get(env, "AWS_ROLE_ARN") : w->role_arn;
    const char *file = w->from_env ? dm_env_get(env, "AWS_WEB_IDENTITY_TOKEN_FILE") : w->token_file;
    if (w->from_env && !role && !file)
        return CREDS_ABSENT;
    if (!role || !file)
        return dm_error_set(err, DM_ERR_CREDENTIALS, "web identity needs both %s",
                            w->from_env ? "AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE"
                                        : "role_arn and web_identity_token_file");
    char session[128];
    const char *sn = w->from_env ? dm_env_get(env, "AWS_ROLE_SESSION_NAME") : w->session_name;
    if (sn)
        dm_strlcpy(session, sn, sizeof session);
    else
        snprintf(session, sizeof session, "ddbmig-%lld", (long long)dm_now_ms());

    /* Without a region (and no endpoint) STS's global endpoint serves; a
     * configured endpoint that does not parse is an error, not a reason to
     * send the token somewhere else. */
    char *token = NULL, url[600];
    int rc = aws_settings_endpoint(w->s, "STS", "sts", url, sizeof url, err);
    if (rc == DM_ERR_CONFIG) {
        dm_strlcpy(url, "https://sts.amazonaws.com", sizeof url);
        dm_error_clear(err);
    } else if (rc) {
        return err ? (err->code = DM_ERR_CREDENTIALS) : DM_ERR_CREDENTIALS;
    }
    rc = creds_read_token_file(file, "web identity token", &token, err);
    if (rc)
        return rc;
    dm_buf form;
    dm_buf_init(&form, 1 << 20);
    rc = form_add(&form, "Action", "AssumeRoleWithWebIdentity");
    rc = rc ? rc : form_add(&form, "Version", "2011-06-15");
    rc = rc ? rc : form_add(&form, "RoleArn", role);
    rc = rc ? rc : form_add(&form, "RoleSessionName", session);
    rc = rc ? rc : form_add(&form, "WebIdentityToken", token);
    dm_free_secret(token);
    static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded",
                                          "Accept: application/xml"};
    long status = 0;
    dm_buf resp = {0};
    if (rc == DM_OK)
        rc = creds_http("POST", url, headers, 2, dm_buf_cstr(&form), 10000, w->s->ca_bundle, &status, &resp, err);
    dm_buf_cleanup_secure(&form);
    if (rc == DM_OK)
        rc = parse_answer(dm_buf_cstr(&resp), status, out, err);
    else
        dm_error_prefix(err, "AssumeRoleWithWebIdentity at %s", url);
    dm_buf_cleanup_secure(&resp);
    return rc == DM_OK ? DM_OK : (err ? (err->code = DM_ERR_CREDENTIALS) : DM_ERR_CREDENTIALS);
}

static void webid_free(creds_provider *p)
{
    webid_provider *w = (webid_provider *)p;
    free(w->role_arn);
    free(w->token_file);
    free(w->session_name);
    free(w);
}

static const creds_vtable webid_vt = {"web identity", webid_get, NULL, webid_free};

creds_provider *creds_web_identity_new(const aws_settings *s, const char *role_arn, const char *token_file,
                                       const char *session_name)
{
    webid_provider *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->base.vt = &webid_vt;
    w->s = s;
    w->role_arn = dm_strdup(role_arn);
    w->token_file = dm_strdup(token_file);
    w->session_name = dm_strdup(session_name);
    if ((role_arn && !w->role_arn) || (token_file && !w->token_file) || (session_name && !w->session_name)) {
        webid_free(&w->base);
        return NULL;
    }
    return &w->base;
}

creds_provider *creds_web_identity_env_new(const aws_settings *s)
{
    webid_provider *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->base.vt = &webid_vt;
    w->s = s;
    w->from_env = true;
    return &w->base;
}
