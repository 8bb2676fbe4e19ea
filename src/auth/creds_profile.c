/* The shared files' profile, resolved as the AWS CLI resolves it
 * (botocore's AssumeRoleProvider and ProfileProviderBuilder):
 *
 *   - a role profile (role_arn without web_identity_token_file) assumes
 *     its role with the credentials of its source_profile, itself resolved
 *     the same way (chains of any depth, a loop is an error), or of its
 *     credential_source; a source profile with static keys gives those,
 *     and a role profile may name itself as its source when it has them;
 *   - otherwise the profile's own credentials: role_arn with
 *     web_identity_token_file, IAM Identity Center, static keys,
 *     credential_process.
 *
 * creds_profile_chain is the pure part (settings in, a chain out); the
 * providers are built from the chain on first use and kept. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds_impl.h"

static const char *pval(const aws_settings *s, const char *profile, const char *key)
{
    return aws_settings_profile_value(s, profile, key);
}

/* ---- static keys ------------------------------------------------------------ */

typedef struct static_provider {
    creds_provider base;
    const aws_settings *s;
    char profile[128];
} static_provider;

static int static_get(creds_provider *p, aws_creds *out, dm_error *err)
{
    static_provider *sp = (static_provider *)p;
    const char *ak = pval(sp->s, sp->profile, "aws_access_key_id");
    const char *sk = pval(sp->s, sp->profile, "aws_secret_access_key");
    const char *tok = pval(sp->s, sp->profile, "aws_session_token");
    if (!ak || !sk)
        return dm_error_set(err, DM_ERR_CREDENTIALS, "profile %s has %s but no %s", sp->profile,
                            ak ? "aws_access_key_id" : "aws_secret_access_key",
                            ak ? "aws_secret_access_key" : "aws_access_key_id");
    if (strlen(ak) >= sizeof out->access_key_id || strlen(sk) >= sizeof out->secret_access_key ||
        (tok && strlen(tok) >= sizeof out->session_token))
        return dm_error_set(err, DM_ERR_CREDENTIALS, "profile %s: a credential value is too long", sp->profile);
    dm_strlcpy(out->access_key_id, ak, sizeof out->access_key_id);
    dm_strlcpy(out->secret_access_key, sk, sizeof out->secret_access_key);
    if (tok)
        dm_strlcpy(out->session_token, tok, sizeof out->session_token);
    snprintf(out->source, sizeof out->source, "profile %s", sp->profile);
    return DM_OK;
}

static void plain_free(creds_provider *p)
{
    free(p);
}

static const creds_vtable static_vt = {"static keys of a profile", static_get, NULL, plain_free};

static creds_provider *static_new(const aws_settings *s, const char *profile)
{
    static_provider *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->base.vt = &static_vt;
    p->s = s;
    dm_strlcpy(p->profile, profile, sizeof p->profile);
    return &p->base;
}

/* ---- a credential_source that must deliver ------------------------------------ */

/* The environment, instance metadata or the container endpoint, named by
 * a role profile: finding nothing there is an error, not a reason for the
 * default chain to move on to another source. */
typedef struct required_provider {
    creds_provider base;
    creds_provider *inner; /* owned */
    char what[400];
} required_provider;

static int required_get(creds_provider *p, aws_creds *out, dm_error *err)
{
    required_provider *r = (required_provider *)p;
    int rc = creds_provider_get_raw(r->inner, out, err);
    if (rc != CREDS_ABSENT)
        return rc;
    char detail[600] = "";
    if (err && err->message[0])
        snprintf(detail, sizeof detail, " (%.500s)", err->message);
    return dm_error_set(err, DM_ERR_CREDENTIALS, "%s%s", r->what, detail);
}

static void required_invalidate(creds_provider *p)
{
    creds_invalidate(((required_provider *)p)->inner);
}

static void required_free(creds_provider *p)
{
    creds_provider_free(((required_provider *)p)->inner);
    free(p);
}

static const creds_vtable required_vt = {"credential_source", required_get, required_invalidate, required_free};

static creds_provider *required_new(creds_provider *inner, const char *what)
{
    required_provider *r = inner ? calloc(1, sizeof *r) : NULL;
    if (!r) {
        creds_provider_free(inner);
        return NULL;
    }
    r->base.vt = &required_vt;
    r->inner = inner;
    dm_strlcpy(r->what, what, sizeof r->what);
    return &r->base;
}

/* ---- the chain, pure ------------------------------------------------------------ */

/* A profile's own credentials, when it assumes no role itself. An
 * IAM Identity Center profile is one with sso_account_id or sso_role_name
 * (as in botocore); one with only sso_session or sso_start_url is taken
 * for one too when it has nothing else, so that the message says what it
 * lacks. */
static creds_base own_base(const aws_settings *s, const char *p)
{
    if (pval(s, p, "role_arn") && pval(s, p, "web_identity_token_file"))
        return CREDS_BASE_WEB_IDENTITY;
    if (pval(s, p, "sso_account_id") || pval(s, p, "sso_role_name"))
        return CREDS_BASE_SSO;
    if (pval(s, p, "aws_access_key_id") || pval(s, p, "aws_secret_access_key"))
        return CREDS_BASE_STATIC;
    if (pval(s, p, "credential_process"))
        return CREDS_BASE_PROCESS;
    if (pval(s, p, "sso_session") || pval(s, p, "sso_start_url"))
        return CREDS_BASE_SSO;
    return CREDS_BASE_NONE;
}

static int credential_source(const char *profile, const char *v, creds_base *out, dm_error *err)
{
    if (strcmp(v, "Environment") == 0)
        *out = CREDS_BASE_ENVIRONMENT;
    else if (strcmp(v, "Ec2InstanceMetadata") == 0)
        *out = CREDS_BASE_IMDS;
    else if (strcmp(v, "EcsContainer") == 0)
        *out = CREDS_BASE_CONTAINER;
    else
        return dm_error_set(err, DM_ERR_CREDENTIALS,
                            "profile %s: credential_source '%.100s' is not one of Environment, Ec2InstanceMetadata, "
                            "EcsContainer",
                            profile, v);
    return DM_OK;
}

static int loop_error(const char *const *visited, int n, const char *again, dm_error *err)
{
    char path[900] = "profile ";
    size_t len = strlen(path);
    for (int i = 0; i <= n; i++) {
        const char *name = i < n ? visited[i] : again;
        int w = snprintf(path + len, sizeof path - len, "%s%s", i ? " -> " : "", name);
        if (w < 0 || (size_t)w >= sizeof path - len)
            break;
        len += (size_t)w;
    }
    return dm_error_set(err, DM_ERR_CREDENTIALS, "source_profile loops: %s", path);
}

int creds_profile_chain(const aws_settings *s, const char *profile, creds_chain *out, dm_error *err)
{
    memset(out, 0, sizeof *out);
    const char *visited[CREDS_MAX_CHAIN + 1];
    int n_visited = 0;
    const char *p = profile;
    bool top = true;
    visited[n_visited++] = p;
    for (;;) {
        if (strlen(p) >= sizeof out->roles[0])
            return dm_error_set(err, DM_ERR_CREDENTIALS, "a profile name in the chain of profile %s is too long",
                                profile);
        const char *role = pval(s, p, "role_arn");
        bool has_static = pval(s, p, "aws_access_key_id") || pval(s, p, "aws_secret_access_key");
        /* The CLI assumes the role of the profile asked for even when it
         * has static keys (they are then its source); further down the
         * chain static keys win. */
        if (!role || pval(s, p, "web_identity_token_file") || (!top && has_static)) {
            out->base = own_base(s, p);
            if (out->base == CREDS_BASE_NONE && !top)
                return dm_error_set(err, DM_ERR_CREDENTIALS,
                                    "profile %s, the source_profile of profile %s, has no credentials", p,
                                    out->roles[out->n_roles - 1]);
            dm_strlcpy(out->base_profile, p, sizeof out->base_profile);
            break;
        }
        if (out->n_roles == CREDS_MAX_CHAIN)
            return dm_error_set(err, DM_ERR_CREDENTIALS, "profile %s: more than %d roles in its source_profile chain",
                                profile, CREDS_MAX_CHAIN);
        dm_strlcpy(out->roles[out->n_roles++], p, sizeof out->roles[0]);
        const char *src = pval(s, p, "source_profile");
        const char *cs = pval(s, p, "credential_source");
        if (src && cs)
            return dm_error_set(err, DM_ERR_CREDENTIALS,
                                "profile %s has both source_profile and credential_source; keep one", p);
        if (!src && !cs)
            return dm_error_set(err, DM_ERR_CREDENTIALS,
                                "profile %s has role_arn but neither source_profile nor credential_source", p);
        if (cs) {
            int rc = credential_source(p, cs, &out->base, err);
            if (rc)
                return rc;
            dm_strlcpy(out->base_profile, p, sizeof out->base_profile);
            break;
        }
        if (!aws_settings_profile_exists(s, src))
            return dm_error_set(err, DM_ERR_CREDENTIALS,
                                "profile %s: its source_profile '%.128s' is in neither %s nor %s", p, src,
                                s->config_path, s->credentials_path);
        int seen = -1;
        for (int i = 0; i < n_visited && seen < 0; i++)
            if (strcmp(visited[i], src) == 0)
                seen = i;
        if (seen >= 0) {
            /* A profile may source its own static keys. */
            if (strcmp(src, p) == 0 && has_static) {
                out->base = CREDS_BASE_STATIC;
                dm_strlcpy(out->base_profile, p, sizeof out->base_profile);
                break;
            }
            return loop_error(visited, n_visited, src, err);
        }
        visited[n_visited++] = src;
        p = src;
        top = false;
    }
    /* Walked from the top down; the providers are built from the base up. */
    for (int i = 0, j = out->n_roles - 1; i < j; i++, j--) {
        char t[sizeof out->roles[0]];
        memcpy(t, out->roles[i], sizeof t);
        memcpy(out->roles[i], out->roles[j], sizeof t);
        memcpy(out->roles[j], t, sizeof t);
    }
    return DM_OK;
}

/* ---- providers for a chain ------------------------------------------------------ */

static creds_provider *base_provider(const aws_settings *s, const creds_chain *c, char *via, size_t via_size,
                                     dm_error *err)
{
    const char *bp = c->base_profile;
    char what[400];
    snprintf(via, via_size, "profile %s", bp);
    switch (c->base) {
    case CREDS_BASE_STATIC: return static_new(s, bp);
    case CREDS_BASE_PROCESS: return creds_process_new(pval(s, bp, "credential_process"), bp);
    case CREDS_BASE_WEB_IDENTITY:
        return creds_web_identity_new(s, pval(s, bp, "role_arn"), pval(s, bp, "web_identity_token_file"),
                                      pval(s, bp, "role_session_name"));
    case CREDS_BASE_SSO: return creds_sso_new(s, bp, err);
    case CREDS_BASE_ENVIRONMENT:
        snprintf(via, via_size, "environment variables");
        snprintf(what, sizeof what,
                 "profile %.128s: credential_source = Environment, but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are "
                 "not set",
                 bp);
        return required_new(creds_env_new(s->env), what);
    case CREDS_BASE_IMDS:
        snprintf(via, via_size, "EC2 instance metadata");
        snprintf(what, sizeof what,
                 "profile %.128s: credential_source = Ec2InstanceMetadata, but instance metadata gave no credentials",
                 bp);
        return required_new(creds_imds_new(s->env), what);
    case CREDS_BASE_CONTAINER:
        snprintf(via, via_size, "container credentials");
        snprintf(what, sizeof what,
                 "profile %.128s: credential_source = EcsContainer, but neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI "
                 "nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set",
                 bp);
        return required_new(creds_container_new(s->env), what);
    case CREDS_BASE_NONE: break;
    }
    dm_error_set(err, DM_ERR_CREDENTIALS, "profile %s has no credentials", bp);
    return NULL;
}

int creds_chain_provider_new(const aws_settings *s, const creds_chain *c, creds_provider **out, dm_error *err)
{
    char via[200];
    *out = NULL;
    if (err)
        err->message[0] = '\0';
    creds_provider *p = base_provider(s, c, via, sizeof via, err);
    for (int i = 0; p && i < c->n_roles; i++) {
        /* Each level keeps its credentials until they are due, so that a
         * refresh above does not go all the way down. */
        creds_provider *src = creds_cached_new(p, 0);
        p = src ? creds_assume_role_new(s, c->roles[i], src, via, err) : NULL;
        snprintf(via, sizeof via, "profile %s", c->roles[i]);
    }
    if (!p)
        return err && err->message[0] ? (err->code = DM_ERR_CREDENTIALS)
                                      : dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    *out = p;
    return DM_OK;
}

/* ---- the profile provider ------------------------------------------------------- */

typedef struct profile_provider {
    creds_provider base;
    const aws_settings *s;
    creds_provider *delegate; /* owned, made on first use */
} profile_provider;

static int profile_get(creds_provider *p, aws_creds *out, dm_error *err)
{
    profile_provider *pp = (profile_provider *)p;
    const aws_settings *s = pp->s;
    if (!pp->delegate) {
        creds_chain chain;
        int rc = creds_profile_chain(s, s->profile, &chain, err);
        if (rc)
            return rc;
        if (chain.base == CREDS_BASE_NONE && chain.n_roles == 0) {
            if (s->profile_explicit)
                return dm_error_set(err, DM_ERR_CREDENTIALS, "profile %s has no credentials (in %s or %s)", s->profile,
                                    s->credentials_path, s->config_path);
            return CREDS_ABSENT;
        }
        rc = creds_chain_provider_new(s, &chain, &pp->delegate, err);
        if (rc)
            return rc;
    }
    return creds_provider_get_raw(pp->delegate, out, err);
}

static void profile_invalidate(creds_provider *p)
{
    creds_invalidate(((profile_provider *)p)->delegate);
}

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
