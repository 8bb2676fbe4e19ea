/* The shared files' profile: static keys, credential_process, or a role
 * assumed with a web identity token. The first call decides which, and the
 * delegate provider is kept for later calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds_impl.h"
#include "../common/ini.h"

typedef struct profile_provider {
    creds_provider base;
    const aws_settings *s;
    creds_provider *delegate; /* owned, made on first use */
} profile_provider;

/* A key from the credentials file's section, else the config file's. */
static const char *profile_value(const aws_settings *s, const char *key)
{
    const char *v = s->credentials ? dm_ini_get(s->credentials, s->profile, key) : NULL;
    return v ? v : aws_settings_config_value(s, key);
}

static int static_keys(const aws_settings *s, aws_creds *out, dm_error *err)
{
    const char *ak = profile_value(s, "aws_access_key_id");
    const char *sk = profile_value(s, "aws_secret_access_key");
    const char *tok = profile_value(s, "aws_session_token");
    if (!ak || !sk)
        return dm_error_set(err, DM_ERR_CREDENTIALS, "profile %s has aws_%s_access_key_id but no aws_%s", s->profile,
                            ak ? "" : "secret", ak ? "secret_access_key" : "access_key_id");
    if (strlen(ak) >= sizeof out->access_key_id || strlen(sk) >= sizeof out->secret_access_key ||
        (tok && strlen(tok) >= sizeof out->session_token))
        return dm_error_set(err, DM_ERR_CREDENTIALS, "profile %s: a credential value is too long", s->profile);
    dm_strlcpy(out->access_key_id, ak, sizeof out->access_key_id);
    dm_strlcpy(out->secret_access_key, sk, sizeof out->secret_access_key);
    if (tok)
        dm_strlcpy(out->session_token, tok, sizeof out->session_token);
    char src[160];
    snprintf(src, sizeof src, "profile %s", s->profile);
    dm_strlcpy(out->source, src, sizeof out->source);
    return DM_OK;
}

static int unsupported(const aws_settings *s, const char *what, dm_error *err)
{
    return dm_error_set(err, DM_ERR_CREDENTIALS,
                        "profile %s uses %s, which ddbmig does not resolve itself; add "
                        "'credential_process = aws configure export-credentials --profile %s --format process' "
                        "to a profile of its own and use that one",
                        s->profile, what, s->profile);
}

static int make_delegate(profile_provider *pp, dm_error *err)
{
    const aws_settings *s = pp->s;
    const char *proc = profile_value(s, "credential_process");
    const char *role = profile_value(s, "role_arn");
    if (role && profile_value(s, "web_identity_token_file")) {
        pp->delegate = creds_web_identity_new(s, role, profile_value(s, "web_identity_token_file"),
                                              profile_value(s, "role_session_name"));
    } else if (role) {
        return unsupported(s, profile_value(s, "source_profile") ? "role_arn with source_profile"
                                                                  : "role_arn with credential_source", err);
    } else if (proc) {
        pp->delegate = creds_process_new(proc, s->profile);
    } else if (profile_value(s, "sso_session") || profile_value(s, "sso_start_url")) {
        return unsupported(s, "IAM Identity Center (SSO)", err);
    } else {
        return CREDS_ABSENT;
    }
    return pp->delegate ? DM_OK : dm_error_set(err, DM_ERR_NOMEM, "out of memory");
}

static int profile_get(creds_provider *p, aws_creds *out, dm_error *err)
{
    profile_provider *pp = (profile_provider *)p;
    const aws_settings *s = pp->s;
    if (profile_value(s, "aws_access_key_id") || profile_value(s, "aws_secret_access_key"))
        return static_keys(s, out, err);
    if (!pp->delegate) {
        int rc = make_delegate(pp, err);
        if (rc == CREDS_ABSENT && s->profile_explicit)
            return dm_error_set(err, DM_ERR_CREDENTIALS, "profile %s has no credentials (in %s or %s)", s->profile,
                                s->credentials_path, s->config_path);
        if (rc != DM_OK)
            return rc;
    }
    return creds_provider_get_raw(pp->delegate, out, err);
}

static void profile_invalidate(creds_provider *p) { creds_invalidate(((profile_provider *)p)->delegate); }

static void profile_free(creds_provider *p)
{
    profile_provider *pp = (profile_provider *)p;
    creds_provider_free(pp->delegate);
    free(pp);
}

static const creds_vtable profile_vt = {"shared config and credentials files", profile_get, profile_invalidate,
                                        profile_free};

creds_provider *creds_profile_new(const aws_settings *s)
{
    profile_provider *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->base.vt = &profile_vt;
    p->s = s;
    return &p->base;
}
