/* Internals shared by the credential providers, and the pure parts the
 * unit tests and fuzz targets reach: profile chains, STS and IAM Identity
 * Center answers, the SSO token cache. */
#ifndef DDBMIG_AUTH_CREDS_IMPL_H
#define DDBMIG_AUTH_CREDS_IMPL_H

#include <jansson.h>

#include "ddbmig/creds.h"
#include "ddbmig/http.h"

/* A provider's get answers this when nothing is configured for it, so that
 * a chain moves on; creds_get turns it into DM_ERR_CREDENTIALS. */
#define CREDS_ABSENT 1

typedef struct creds_vtable {
    const char *name; /* for "tried: ..." messages */
    int (*get)(creds_provider *p, aws_creds *out, dm_error *err);
    void (*invalidate)(creds_provider *p); /* may be NULL */
    void (*free)(creds_provider *p);
} creds_vtable;

struct creds_provider {
    const creds_vtable *vt;
};

/* creds_cached_new (creds.h) on another clock (ms since the epoch) than
 * dm_now_ms: for tests that move time on without waiting. */
typedef int64_t (*creds_clock_fn)(void *ud);
creds_provider *creds_cached_new_clock(creds_provider *inner, int64_t refresh_window_ms, creds_clock_fn now,
                                       void *now_ud);

/* Appends "key=value" to a query-protocol form, percent-encoded. */
int creds_form_add(dm_buf *form, const char *key, const char *value);

/* ---- STS (creds_sts.c) --------------------------------------------------- */

/* One call of STS's query protocol (form: Action, Version and the rest) at
 * the settings' STS endpoint (aws_settings_endpoint's "STS": --endpoint-url,
 * AWS_ENDPOINT_URL_STS, ..., the regional one; the global one without a
 * region), signed with signer (NULL: unsigned), with up to 3
 * attempts for network failures, 5xx and throttling. The answer's
 * Credentials go into out; user_arn (optional) gets AssumedRoleUser/Arn.
 * Errors are DM_ERR_CREDENTIALS. */
int creds_sts_call(const aws_settings *s, const char *action, const char *form, const aws_creds *signer,
                   aws_creds *out, char *user_arn, size_t arn_size, dm_error *err);
/* Reads an STS answer of action ("AssumeRole") given with HTTP status:
 * <ActionResponse><ActionResult><Credentials>. A non-200 answer gives its
 * Error's Code (also in err->type) and Message. Pure; never quotes a 200
 * answer. */
int creds_sts_parse(const char *action, const char *doc, size_t len, long status, aws_creds *out, char *user_arn,
                    size_t arn_size, dm_error *err);

/* ---- profile chains (creds_profile.c) ------------------------------------- */

#define CREDS_MAX_CHAIN 32

/* Where the credentials at the bottom of a profile chain come from. */
typedef enum creds_base {
    CREDS_BASE_NONE,         /* the profile configures no credentials */
    CREDS_BASE_STATIC,       /* aws_access_key_id, aws_secret_access_key */
    CREDS_BASE_PROCESS,      /* credential_process */
    CREDS_BASE_WEB_IDENTITY, /* role_arn with web_identity_token_file */
    CREDS_BASE_SSO,          /* IAM Identity Center */
    CREDS_BASE_ENVIRONMENT,  /* credential_source = Environment */
    CREDS_BASE_IMDS,         /* credential_source = Ec2InstanceMetadata */
    CREDS_BASE_CONTAINER     /* credential_source = EcsContainer */
} creds_base;

/* A profile resolved as the AWS CLI does: roles to assume, each with the
 * credentials of the one below, on top of a base. */
typedef struct creds_chain {
    creds_base base;
    char base_profile[128];               /* whose keys give the base (for a
                                           * credential_source: the profile
                                           * that names it) */
    int n_roles;
    char roles[CREDS_MAX_CHAIN][128];     /* profiles whose role_arn is
                                           * assumed, the base's first; the
                                           * last is the profile asked for */
} creds_chain;

/* Resolves profile. A role profile (role_arn without
 * web_identity_token_file) assumes its role with the credentials of its
 * source_profile, recursively, or of its credential_source; a source
 * profile with static keys gives those (a profile may name itself as its
 * source when it has them). Otherwise the profile's own credentials, in
 * the AWS CLI's order: web identity, IAM Identity Center, static keys,
 * credential_process. DM_OK with CREDS_BASE_NONE and no roles when the
 * profile configures nothing; DM_ERR_CREDENTIALS naming the profiles for
 * a loop ("profile a -> b -> a"), a source_profile that does not exist or
 * has no credentials, both or neither of source_profile and
 * credential_source, an unknown credential_source, a chain longer than
 * CREDS_MAX_CHAIN. Pure: reads only the settings' files. */
int creds_profile_chain(const aws_settings *s, const char *profile, creds_chain *out, dm_error *err);
/* The providers for a chain (owned by *out): the base, then one AssumeRole
 * provider per role over the (cached) one below. s is borrowed. */
int creds_chain_provider_new(const aws_settings *s, const creds_chain *chain, creds_provider **out, dm_error *err);

/* ---- AssumeRole (creds_assume.c) ----------------------------------------- */

/* The role of profile (role_arn, role_session_name, external_id,
 * duration_seconds, mfa_serial), assumed with the credentials of source
 * (owned; via names it in messages and --debug: "profile b"). NULL with
 * err on a bad setting (duration_seconds) or no memory. */
creds_provider *creds_assume_role_new(const aws_settings *s, const char *profile, creds_provider *source,
                                      const char *via, dm_error *err);
/* The AssumeRole form of profile's settings; session is the
 * RoleSessionName, token_code the MFA code or NULL. Appends to form. */
int creds_assume_role_form(const aws_settings *s, const char *profile, const char *session, const char *token_code,
                           dm_buf *form, dm_error *err);

/* ddbmig's own MFA prompt (aws_mfa_prompt_fn): /dev/tty, without echo. */
int creds_mfa_tty_prompt(void *ud, const char *profile, const char *serial, char *code, size_t size, dm_error *err);

/* ---- IAM Identity Center (creds_sso.c, creds_sso_token.c) ----------------- */

/* A profile's SSO settings, the sso-session's merged in. */
typedef struct creds_sso_config {
    char profile[128];
    char session[128];    /* sso_session; "" for the legacy form */
    char start_url[1024];
    char region[64];      /* sso_region */
    char account_id[64];
    char role_name[256];
} creds_sso_config;

/* DM_ERR_CREDENTIALS naming what is missing or inconsistent. Pure. */
int creds_sso_config_load(const aws_settings *s, const char *profile, creds_sso_config *out, dm_error *err);
/* The token cache's key, as the AWS CLI names the file: the lower-case hex
 * SHA-1 of the sso-session's name, or of the start URL for the legacy
 * form. */
void creds_sso_cache_key(const creds_sso_config *c, char hex[41]);
/* HOME/.aws/sso/cache/KEY.json. DM_ERR_CREDENTIALS without HOME. */
int creds_sso_cache_path(const aws_settings *s, const creds_sso_config *c, char *out, size_t size, dm_error *err);

/* A cached token, as the AWS CLI writes it. Strings owned; the secret ones
 * (access_token, refresh_token, client_secret) are zeroed on cleanup. */
typedef struct creds_sso_token {
    char *start_url;
    char *region;
    char *access_token;
    int64_t expires_ms;
    char *refresh_token;         /* NULL when none */
    char *client_id;
    char *client_secret;
    char *registration_expires;  /* as written */
    int64_t registration_expires_ms; /* 0: none or unreadable */
} creds_sso_token;

/* Parses a cache file's text: accessToken and expiresAt are required.
 * Messages give line and column, never the text. Pure. */
int creds_sso_token_parse(const char *text, size_t len, creds_sso_token *out, dm_error *err);
void creds_sso_token_cleanup(creds_sso_token *t);
/* The cache file's text for t (a JSON object). */
int creds_sso_token_format(const creds_sso_token *t, dm_buf *out);
/* The CLI's rule for the sso-session form: refresh when less than 15
 * minutes are left (or none), if a refresh token, client id and secret are
 * cached and the client registration has not expired. */
bool creds_sso_token_refreshable(const creds_sso_token *t, int64_t now_ms);
bool creds_sso_token_due(const creds_sso_token *t, int64_t now_ms);
/* Applies an OIDC CreateToken answer (status 200: accessToken, expiresIn,
 * optional refreshToken) to t, as of now_ms; an error answer gives its
 * error and error_description. Pure. */
int creds_sso_apply_create_token(const char *doc, size_t len, long status, int64_t now_ms, creds_sso_token *t,
                                 dm_error *err);
/* Reads a GetRoleCredentials answer (roleCredentials: accessKeyId,
 * secretAccessKey, sessionToken, expiration in ms). Pure; an error answer
 * is the caller's to word. */
int creds_sso_parse_role_credentials(const char *doc, size_t len, aws_creds *out, dm_error *err);
/* Zeroes a JSON document's strings, then releases it (NULL is fine). */
void creds_sso_json_free_secure(json_t *v);
/* Writes text to path through a temporary file in the same directory
 * (mode 0600), synced and renamed over it, as the AWS CLI does. */
int creds_sso_write_cache(const char *path, const char *text, size_t len, dm_error *err);

/* The provider for profile's SSO settings (checked here: NULL with err). */
creds_provider *creds_sso_new(const aws_settings *s, const char *profile, dm_error *err);

/* Raw call of a provider, CREDS_ABSENT included. */
int creds_provider_get_raw(creds_provider *p, aws_creds *out, dm_error *err);

/* Fills out from a JSON object with AccessKeyId, SecretAccessKey, the
 * session token under token_key, and an optional ISO-8601 Expiration.
 * `what` names the source in messages; values never appear in them. */
int creds_from_json(json_t *obj, const char *token_key, const char *what, aws_creds *out, dm_error *err);

/* One blocking HTTP exchange for a credential endpoint, on its own short-
 * lived client. Network failures give DM_ERR_NETWORK; any HTTP status is
 * returned in *status with the body in resp (initialised here). ca_file:
 * a PEM bundle for TLS instead of the system's, or NULL/"". */
int creds_http(const char *method, const char *url, const char *const *headers, size_t n_headers,
               const char *body, long timeout_ms, const char *ca_file, long *status, dm_buf *resp,
               dm_error *err);

/* Messages never quote an answer that carries credentials (a 200 answer
 * of a credential endpoint, a credential_process's output), even a
 * malformed one: it may hold the secret key anywhere. Error answers
 * (another status) hold no credentials, and their service message is
 * quoted for the person who has to fix the cause. */

/* Reads a small file (a token), trimming trailing whitespace. Owned. */
int creds_read_token_file(const char *path, const char *what, char **out, dm_error *err);

#endif
