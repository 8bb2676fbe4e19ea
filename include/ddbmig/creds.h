/* AWS credentials and their providers. A provider is shared by every worker
 * of a run: creds_get is thread-safe, and the caching wrapper refreshes
 * temporary credentials before they expire, with one thread fetching while
 * the others keep using the still-valid ones.
 *
 * The default chain, in order: environment variables; web identity from
 * AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN; the shared files' profile;
 * the container endpoint (ECS, EKS Pod Identity); EC2 instance metadata
 * (IMDSv2). With --profile only the profile is consulted.
 *
 * A profile is resolved as the AWS CLI resolves it: a role (role_arn)
 * assumed with STS AssumeRole using the credentials of its source_profile
 * (a chain of any depth; a loop is an error that names it) or of its
 * credential_source (Environment, Ec2InstanceMetadata, EcsContainer);
 * else role_arn with web_identity_token_file; IAM Identity Center
 * (sso_session, or the legacy sso_start_url form) with the AWS CLI's
 * cached login; static keys; credential_process. */
#ifndef DDBMIG_CREDS_H
#define DDBMIG_CREDS_H

#include <stdint.h>

#include "ddbmig/common.h"
#include "ddbmig/config.h"

typedef struct aws_creds {
    char access_key_id[128];
    char secret_access_key[128];
    char session_token[4096];
    int64_t expiration_ms; /* 0: does not expire */
    char source[256];      /* "environment", "profile dev", "imds", ...:
                            * names, never values */
} aws_creds;

/* Zeroes the whole record. */
DM_API void aws_creds_clear(aws_creds *c);

typedef struct creds_provider creds_provider;

/* Copies current credentials into *out (caller clears it after use).
 * DM_ERR_CREDENTIALS with a message when none can be had. */
DM_API int creds_get(creds_provider *p, aws_creds *out, dm_error *err);
/* Drops cached credentials, e.g. after an ExpiredTokenException. */
DM_API void creds_invalidate(creds_provider *p);
DM_API void creds_provider_free(creds_provider *p);

/* Individual providers (uncached). Each returns NULL only on allocation
 * failure. A provider that finds nothing configured for it answers
 * DM_ERR_CREDENTIALS from creds_get, so that a chain moves on. */
DM_API creds_provider *creds_env_new(const dm_env *env);
DM_API creds_provider *creds_profile_new(const aws_settings *s); /* borrows s */
DM_API creds_provider *creds_process_new(const char *command, const char *profile);
DM_API creds_provider *creds_web_identity_new(const aws_settings *s, const char *role_arn, const char *token_file,
                                              const char *session_name);
DM_API creds_provider *creds_web_identity_env_new(const aws_settings *s);
DM_API creds_provider *creds_container_new(const dm_env *env);
DM_API creds_provider *creds_imds_new(const dm_env *env);

/* Takes ownership of the providers. */
DM_API creds_provider *creds_chain_new(creds_provider **providers, size_t n);
/* Wraps inner (owned) with refresh-before-expiry caching. refresh_window_ms
 * is how long before expiry a refresh starts (0: 5 minutes). */
DM_API creds_provider *creds_cached_new(creds_provider *inner, int64_t refresh_window_ms);
/* The cached default chain for these settings (borrowed; must outlive it). */
DM_API creds_provider *creds_default_new(const aws_settings *s);

#endif
