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
} aws_settings;

/* Loads files and resolves profile and region. A profile named explicitly
 * that neither file defines is an error (DM_ERR_CONFIG), as in the AWS CLI.
 * Release with aws_settings_cleanup. */
DM_API int aws_settings_load(const aws_settings_args *args, const dm_env *env, aws_settings *out, dm_error *err);
DM_API void aws_settings_cleanup(aws_settings *s);

/* A key of the active profile in the config file ("[profile NAME]", or
 * "[default]"); borrowed, NULL when absent. */
DM_API const char *aws_settings_config_value(const aws_settings *s, const char *key);

/* The endpoint for a service: service_id is the AWS_ENDPOINT_URL_<ID>
 * suffix ("DYNAMODB", "STS") and host_prefix the regional host's first
 * label ("dynamodb", "sts"). Writes into out. DM_ERR_INVALID when the
 * configured URL does not parse (see src/http/url.h: the message names its
 * source and never shows user information), or has a query or fragment;
 * DM_ERR_CONFIG when neither an endpoint nor a region is known. */
DM_API int aws_settings_endpoint(const aws_settings *s, const char *service_id, const char *host_prefix,
                                 char *out, size_t size, dm_error *err);

#endif
