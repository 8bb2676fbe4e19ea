/* Web identity: exchanges an OIDC token (EKS IRSA, GitHub Actions, ...)
 * for role credentials with STS AssumeRoleWithWebIdentity (creds_sts.c).
 * That call is not signed; the token is the proof. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds_impl.h"

typedef struct webid_provider {
    creds_provider base;
    const aws_settings *s;
    bool from_env;    /* role and token file come from the environment */
    char *role_arn;   /* owned, when !from_env */
    char *token_file; /* owned, when !from_env */
    char *session_name;
} webid_provider;

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

    char *token = NULL;
    int rc = creds_read_token_file(file, "web identity token", &token, err);
    if (rc)
        return rc;
    dm_buf form;
    dm_buf_init(&form, 1 << 20);
    rc = creds_form_add(&form, "Action", "AssumeRoleWithWebIdentity");
    rc = rc ? rc : creds_form_add(&form, "Version", "2011-06-15");
    rc = rc ? rc : creds_form_add(&form, "RoleArn", role);
    rc = rc ? rc : creds_form_add(&form, "RoleSessionName", session);
    rc = rc ? rc : creds_form_add(&form, "WebIdentityToken", token);
    dm_free_secret(token);
    if (rc == DM_OK)
        rc = creds_sts_call(w->s, "AssumeRoleWithWebIdentity", dm_buf_cstr(&form), NULL, out, NULL, 0, err);
    else
        rc = dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    dm_buf_cleanup_secure(&form);
    if (rc == DM_OK)
        dm_strlcpy(out->source, "web identity", sizeof out->source);
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
