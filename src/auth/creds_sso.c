/* IAM Identity Center (SSO) profiles: the role credentials of an account
 * and permission set, bought with the access token that `aws sso login`
 * cached (creds_sso_token.c). ddbmig never logs in itself: a missing or
 * expired login is an error that says which command to run.
 *
 * Two forms, as in the AWS CLI: a profile with sso_session naming an
 * [sso-session NAME] section (sso_start_url, sso_region,
 * sso_registration_scopes), whose token is refreshed with its refresh
 * token (SSO OIDC CreateToken) when less than 15 minutes are left, and the
 * legacy profile with sso_start_url and sso_region in itself, whose token
 * is used until it expires. Then GetRoleCredentials at the portal, with
 * the token in x-amz-sso_bearer_token.
 *
 * Endpoints: AWS_ENDPOINT_URL_SSO (portal) and AWS_ENDPOINT_URL_SSO_OIDC,
 * AWS_ENDPOINT_URL, the profile's endpoint_url, else the sso_region's
 * https://portal.sso.REGION.amazonaws.com and https://oidc.REGION.amazonaws.com
 * (never --endpoint-url: the token must not go to the DynamoDB endpoint). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds_impl.h"
#include "auth/sigv4.h"

#define SSO_TIMEOUT_MS 10000
#define SSO_ATTEMPTS 3

typedef struct sso_provider {
    creds_provider base;
    const aws_settings *s;
    creds_sso_config cfg;
} sso_provider;

/* ---- settings ---------------------------------------------------------------- */

static int take(char *dst, size_t size, const char *v, const char *profile, const char *key, dm_error *err)
{
    if (strlen(v) >= size)
        return dm_error_set(err, DM_ERR_CREDENTIALS, "profile %s: %s is too long", profile, key);
    dm_strlcpy(dst, v, size);
    return DM_OK;
}

int creds_sso_config_load(const aws_settings *s, const char *profile, creds_sso_config *out, dm_error *err)
{
    static const char *const keys[] = {"sso_start_url", "sso_region", "sso_account_id", "sso_role_name"};
    const char *v[4];
    memset(out, 0, sizeof *out);
    dm_strlcpy(out->profile, profile, sizeof out->profile);
    const char *session = aws_settings_profile_value(s, profile, "sso_session");
    for (int i = 0; i < 4; i++)
        v[i] = aws_settings_profile_value(s, profile, keys[i]);
    if (session) {
        if (!aws_settings_sso_session_exists(s, session))
            return dm_error_set(err, DM_ERR_CREDENTIALS,
                                "profile %s: sso_session '%.100s' has no [sso-session %.100s] "
                                "section in %s",
                                profile, session, session, s->config_path);
        /* The session's settings win; the profile may repeat them, but
         * not differently (botocore refuses that too). */
        for (int i = 0; i < 2; i++) {
            const char *sv = aws_settings_sso_session_value(s, session, keys[i]);
            if (sv && v[i] && strcmp(sv, v[i]) != 0)
                return dm_error_set(err, DM_ERR_CREDENTIALS,
                                    "profile %s: %s is '%.200s' in the profile but '%.200s' in sso-session %.100s",
                                    profile, keys[i], v[i], sv, session);
            if (sv)
                v[i] = sv;
        }
        int rc = take(out->session, sizeof out->session, session, profile, "sso_session", err);
        if (rc)
            return rc;
    }
    char missing[200] = "";
    for (int i = 0; i < 4; i++)
        if (!v[i] || !*v[i])
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s", missing[0] ? ", " : "",
                     keys[i]);
    if (missing[0])
        return dm_error_set(err, DM_ERR_CREDENTIALS, "profile %s uses IAM Identity Center but has no %s%s%.100s%s",
                            profile, missing, session ? " (in the profile or in sso-session " : "",
                            session ? session : "", session ? ")" : "");
    int rc = take(out->start_url, sizeof out->start_url, v[0], profile, keys[0], err);
    rc = rc ? rc : take(out->region, sizeof out->region, v[1], profile, keys[1], err);
    rc = rc ? rc : take(out->account_id, sizeof out->account_id, v[2], profile, keys[2], err);
    rc = rc ? rc : take(out->role_name, sizeof out->role_name, v[3], profile, keys[3], err);
    return rc;
}

/* ---- HTTP ------------------------------------------------------------------------ */

/* One exchange with a few attempts for no answer, 5xx and 429. */
static int sso_http(const aws_settings *s, const char *method, const char *url, const char *const *headers,
                    size_t n_headers, const char *body, long *status, dm_buf *resp, dm_error *err)
{
    for (int attempt = 1;; attempt++) {
        int rc = creds_http(method, url, headers, n_headers, body, SSO_TIMEOUT_MS, s->ca_bundle, status, resp, err);
        bool again = rc == DM_ERR_NETWORK || (rc == DM_OK && (*status >= 500 || *status == 429));
        if (!again || attempt == SSO_ATTEMPTS)
            return rc;
        dm_buf_cleanup_secure(resp);
        dm_error_clear(err);
        dm_sleep_ms(200LL << attempt);
    }
}

/* ---- the token --------------------------------------------------------------------- */

static int refresh_token(sso_provider *p, creds_sso_token *t, int64_t now, dm_error *err)
{
    char url[700];
    char base[600];
    int rc = aws_settings_endpoint_in(p->s, "SSO_OIDC", "oidc", p->cfg.region, base, sizeof base, err);
    if (rc)
        return rc;
    snprintf(url, sizeof url, "%s/token", base);
    json_t *req = json_object();
    dm_buf body;
    dm_buf_init(&body, 1 << 20);
    int bad = !req || json_object_set_new(req, "clientId", json_string(t->client_id)) ||
              json_object_set_new(req, "clientSecret", json_string(t->client_secret)) ||
              json_object_set_new(req, "grantType", json_string("refresh_token")) ||
              json_object_set_new(req, "refreshToken", json_string(t->refresh_token));
    char *text = bad ? NULL : json_dumps(req, JSON_COMPACT);
    if (text) {
        dm_buf_puts(&body, text);
        dm_free_secret(text);
    }
    creds_sso_json_free_secure(req);
    if (!body.len) {
        dm_buf_cleanup_secure(&body);
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    }
    static const char *const headers[] = {"Content-Type: application/json", "Accept: application/json"};
    long status = 0;
    dm_buf resp = {0};
    rc = sso_http(p->s, "POST", url, headers, 2, body.data, &status, &resp, err);
    dm_buf_cleanup_secure(&body);
    if (rc == DM_OK)
        rc = creds_sso_apply_create_token(resp.data, resp.len, status, now, t, err);
    else
        dm_error_prefix(err, "CreateToken at %s", url);
    dm_buf_cleanup_secure(&resp);
    return rc;
}

/* The token to use: the cached one, refreshed (and written back) when it
 * is due and can be. On success t is the caller's to clean up. */
static int load_token(sso_provider *p, creds_sso_token *t, dm_error *err)
{
    const creds_sso_config *c = &p->cfg;
    char path[1200], login[300];
    snprintf(login, sizeof login, "run: aws sso login --profile %s", c->profile);
    int rc = creds_sso_cache_path(p->s, c, path, sizeof path, err);
    if (rc)
        return rc;
    dm_buf text;
    dm_buf_init(&text, 1 << 20);
    dm_error ferr = {0};
    rc = dm_read_file(path, &text, &ferr);
    bool absent = rc == DM_ERR_IO && errno == ENOENT;
    if (rc == DM_OK) {
        rc = creds_sso_token_parse(text.data, text.len, t, &ferr);
        if (rc)
            dm_error_prefix(&ferr, "%s", path);
    }
    dm_buf_cleanup_secure(&text);
    if (absent)
        return dm_error_set(err, DM_ERR_CREDENTIALS,
                            "profile %s: no IAM Identity Center login is cached for %s%.300s "
                            "(%s does not exist); %s",
                            c->profile, c->session[0] ? "sso-session " : "start URL ",
                            c->session[0] ? c->session : c->start_url, path, login);
    if (rc)
        return dm_error_set(err, DM_ERR_CREDENTIALS, "profile %s: the cached SSO login is unusable: %s; %s", c->profile,
                            ferr.message, login);
    int64_t now = dm_now_ms();
    char why[700] = "";
    /* Only the sso-session form is refreshed, as in the AWS CLI: the
     * legacy form's login has no refresh token. */
    if (c->session[0] && creds_sso_token_due(t, now)) {
        if (!creds_sso_token_refreshable(t, now)) {
            snprintf(why, sizeof why, " (no usable refresh token)");
        } else {
            dm_error rerr = {0};
            rc = refresh_token(p, t, now, &rerr);
            if (rc == DM_OK) {
                free(t->start_url);
                free(t->region);
                t->start_url = dm_strdup(c->start_url);
                t->region = dm_strdup(c->region);
                dm_buf out;
                dm_buf_init(&out, 1 << 20);
                dm_error werr = {0};
                rc = creds_sso_token_format(t, &out);
                if (rc == DM_OK)
                    rc = creds_sso_write_cache(path, out.data, out.len, &werr);
                else
                    dm_error_set(&werr, rc, "out of memory");
                dm_buf_cleanup_secure(&out);
                if (rc)
                    dm_log(DM_LOG_WARN, "profile %s: the refreshed SSO token is not saved: %s", c->profile,
                           werr.message);
                else
                    DM_DEBUG("profile %s: SSO token refreshed, %s rewritten", c->profile, path);
            } else {
                snprintf(why, sizeof why, " (refreshing it failed: %.600s)", rerr.message);
                if (t->expires_ms > now)
                    dm_log(DM_LOG_WARN, "profile %s: refreshing the SSO token failed: %s", c->profile, rerr.message);
            }
        }
    }
    if (t->expires_ms <= now) {
        char when[21];
        dm_format_iso8601(t->expires_ms, when);
        creds_sso_token_cleanup(t);
        return dm_error_set(err, DM_ERR_CREDENTIALS, "profile %s: the IAM Identity Center login expired at %s%s; %s",
                            c->profile, when, why, login);
    }
    return DM_OK;
}

/* ---- role credentials ---------------------------------------------------------------- */

static int role_credentials(sso_provider *p, const char *token, aws_creds *out, dm_error *err)
{
    const creds_sso_config *c = &p->cfg;
    for (const char *q = token; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            return dm_error_set(err, DM_ERR_CREDENTIALS,
                                "profile %s: the cached SSO token holds a control "
                                "character; run: aws sso login --profile %s",
                                c->profile, c->profile);
    char base[600];
    int rc = aws_settings_endpoint_in(p->s, "SSO", "portal.sso", c->region, base, sizeof base, err);
    if (rc)
        return rc;
    dm_buf url, hdr;
    dm_buf_init(&url, 8192);
    dm_buf_init(&hdr, 1 << 20);
    rc = dm_buf_appendf(&url, "%s/federation/credentials?role_name=", base);
    rc = rc ? rc : sigv4_uri_encode(c->role_name, strlen(c->role_name), false, &url);
    rc = rc ? rc : dm_buf_puts(&url, "&account_id=");
    rc = rc ? rc : sigv4_uri_encode(c->account_id, strlen(c->account_id), false, &url);
    rc = rc ? rc : dm_buf_appendf(&hdr, "x-amz-sso_bearer_token: %s", token);
    long status = 0;
    dm_buf resp = {0};
    if (rc == DM_OK) {
        const char *headers[] = {"Accept: application/json", hdr.data};
        rc = sso_http(p->s, "GET", url.data, headers, 2, NULL, &status, &resp, err);
        if (rc)
            dm_error_prefix(err, "profile %s: GetRoleCredentials at %s", c->profile, base);
    } else {
        rc = dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    }
    dm_buf_cleanup_secure(&hdr);
    dm_buf_cleanup(&url);
    if (rc == DM_OK && status == 200) {
        rc = creds_sso_parse_role_credentials(resp.data, resp.len, out, err);
        if (rc)
            dm_error_prefix(err, "profile %s", c->profile);
    } else if (rc == DM_OK) {
        /* Error answers hold no credentials: their message is quoted. */
        json_t *a = json_loadb(dm_buf_cstr(&resp), resp.len, 0, NULL);
        const char *m = json_string_value(json_object_get(a, "message"));
        if (!m)
            m = json_string_value(json_object_get(a, "Message"));
        if (status == 401)
            rc = dm_error_set(
                err, DM_ERR_CREDENTIALS,
                "profile %s: IAM Identity Center refused the cached login (HTTP 401%s%.300s); run: aws sso "
                "login --profile %s",
                c->profile, m ? ": " : "", m ? m : "", c->profile);
        else
            rc = dm_error_set(err, DM_ERR_CREDENTIALS,
                              "profile %s: GetRoleCredentials for role %s in account %s failed: HTTP %ld%s%.300s",
                              c->profile, c->role_name, c->account_id, status, m ? ": " : "", m ? m : "");
        json_decref(a);
    }
    dm_buf_cleanup_secure(&resp);
    return rc;
}

static int sso_get(creds_provider *base, aws_creds *out, dm_error *err)
{
    sso_provider *p = (sso_provider *)base;
    creds_sso_token t;
    int rc = load_token(p, &t, err);
    if (rc)
        return err ? (err->code = DM_ERR_CREDENTIALS) : DM_ERR_CREDENTIALS;
    rc = role_credentials(p, t.access_token, out, err);
    creds_sso_token_cleanup(&t);
    if (rc)
        return err ? (err->code = DM_ERR_CREDENTIALS) : DM_ERR_CREDENTIALS;
    snprintf(out->source, sizeof out->source, "profile %.100s: IAM Identity Center, account %.20s, role %.80s",
             p->cfg.profile, p->cfg.account_id, p->cfg.role_name);
    return DM_OK;
}

static void sso_free(creds_provider *p)
{
    free(p);
}

static const creds_vtable sso_vt = {"IAM Identity Center", sso_get, NULL, sso_free};

creds_provider *creds_sso_new(const aws_settings *s, const char *profile, dm_error *err)
{
    sso_provider *p = calloc(1, sizeof *p);
    if (!p) {
        dm_error_set(err, DM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (creds_sso_config_load(s, profile, &p->cfg, err) != DM_OK) {
        free(p);
        return NULL;
    }
    p->base.vt = &sso_vt;
    p->s = s;
    return &p->base;
}
