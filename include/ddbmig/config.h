/* Where ddbmig finds its AWS settings, in the AWS CLI's order:
 *   region:   --region, AWS_REGION, AWS_DEFAULT_REGION, the profile's region
 *   endpoint: --endpoint-url, AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL,
 *             else the service's regional endpoint
 *   profile:  --profile, AWS_PROFILE, "default"
 *   CA certificates: AWS_CA_BUNDLE, the profile's ca_bundle, else the system's
 *   files:    AWS_CONFIG_FILE (~/.aws/config),
 *             AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials) */
#ifndef DDBMIG_CONFIG_H
#define DDBMIG_CONFIG_H

#include <stdbool.h>

#include "ddbmig/common.h"

struct dm_ini;

/* Asks a person for the current code of an MFA device (the mfa_serial of
 * a role profile). Writes the code, NUL-terminated, into code; returns
 * DM_OK, or an error with a message in err. */
typedef int (*aws_mfa_prompt_fn)(void *ud, const char *profile, const char *serial, char *code, size_t size,
                                 dm_error *err);

typedef struct aws_settings_args {
    const char *profile;      /* --profile, or NULL */
    const char *region;       /* --region, or NULL */
    const char *endpoint_url; /* --endpoint-url, or NULL */
} aws_settings_args;

typedef struct aws_settings {
    const dm_env *env;             /* borrowed */
    char profile[128];
    bool profile_explicit;         /* from --profile or AWS_PROFILE */
    bool profile_from_arg;         /* from --profile: outranks env keys */
    char region[64];               /* "" when none could be found */
    const char *region_source;     /* static: "--region", "AWS_REGION", ... */
    char endpoint_arg[512];        /* --endpoint-url */
    char config_path[1024];
    char credentials_path[1024];
    struct dm_ini *config;         /* owned; NULL when the file is absent */
    struct dm_ini *credentials;    /* owned; NULL when the file is absent */
    int max_attempts;              /* AWS_MAX_ATTEMPTS or profile; 0 = unset */
    char ca_bundle[1024];          /* AWS_CA_BUNDLE or the profile's ca_bundle;
                                    * "" = the system's CA certificates */
    /* How a role profile with mfa_serial gets its code. NULL (as loaded):
     * ddbmig's own prompt on /dev/tty, an error when there is no terminal.
     * A caller may set it after aws_settings_load. */
    aws_mfa_prompt_fn mfa_prompt;
    void *mfa_prompt_ud;
} aws_settings;

/* Loads files and resolves profile and region. A profile named explicitly
 * that neither file defines is an error (DM_ERR_CONFIG), as in the AWS CLI.
 * Release with aws_settings_cleanup. */
DM_API int aws_settings_load(const aws_settings_args *args, const dm_env *env, aws_settings *out, dm_error *err);
DM_API void aws_settings_cleanup(aws_settings *s);

/* A key of the active profile in the config file ("[profile NAME]", or
 * "[default]"); borrowed, NULL when absent. */
DM_API const char *aws_settings_config_value(const aws_settings *s, const char *key);

/* A key of any profile, as the AWS CLI merges them: the credentials file's
 * "[NAME]" first, then the config file's "[profile NAME]" ("[default]" or
 * "[profile default]" for default). Borrowed, NULL when absent. */
DM_API const char *aws_settings_profile_value(const aws_settings *s, const char *profile, const char *key);
/* Whether either file has a section for the profile. */
DM_API bool aws_settings_profile_exists(const aws_settings *s, const char *profile);
/* A key of the config file's "[sso-session NAME]"; borrowed, NULL when
 * absent. aws_settings_sso_session_exists: whether that section is there. */
DM_API const char *aws_settings_sso_session_value(const aws_settings *s, const char *name, const char *key);
DM_API bool aws_settings_sso_session_exists(const aws_settings *s, const char *name);

/* The endpoint for a service: service_id is the AWS_ENDPOINT_URL_<ID>
 * suffix ("DYNAMODB", "STS") and host_prefix the regional host's first
 * label ("dynamodb", "sts"). Writes into out. DM_ERR_INVALID when the
 * configured URL does not parse (see src/http/url.h: the message names its
 * source and never shows user information), or has a query or fragment;
 * DM_ERR_CONFIG when neither an endpoint nor a region is known. */
DM_API int aws_settings_endpoint(const aws_settings *s, const char *service_id, const char *host_prefix,
                                 char *out, size_t size, dm_error *err);
/* The endpoint of a service that serves the credentials rather than the
 * command (IAM Identity Center's portal "SSO" and its OIDC service
 * "SSO_OIDC"), in the given region: AWS_ENDPOINT_URL_<ID>,
 * AWS_ENDPOINT_URL, the profile's endpoint_url, else
 * https://<host_prefix>.<region>.amazonaws.com. Never --endpoint-url,
 * which names the command's own service: a bearer token must not go to
 * the DynamoDB endpoint. Errors as aws_settings_endpoint. */
/* The endpoint of a service the command reaches on the side (STS for
 * credentials): as aws_settings_endpoint, but never --endpoint-url, which
 * names the command's own service (DynamoDB Local does not assume
 * roles). */
DM_API int aws_settings_other_endpoint(const aws_settings *s, const char *service_id, const char *host_prefix,
                                       char *out, size_t size, dm_error *err);
DM_API int aws_settings_endpoint_in(const aws_settings *s, const char *service_id, const char *host_prefix,
                                    const char *region, char *out, size_t size, dm_error *err);

#endif
