/* Resolution of profile, files, region and endpoints (see config.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddbmig/config.h"
#include "../common/ini.h"
#include "http/url.h"

static void expand_home(const dm_env *env, const char *path, char *out, size_t size)
{
    const char *home = dm_env_get(env, "HOME");
    if (path[0] == '~' && (path[1] == '/' || path[1] == '\0') && home)
        snprintf(out, size, "%s%s", home, path + 1);
    else
        dm_strlcpy(out, path, size);
}

static void file_path(const dm_env *env, const char *var, const char *deflt, char *out, size_t size)
{
    const char *v = dm_env_get(env, var);
    expand_home(env, v ? v : deflt, out, size);
}

/* Config-file section title of a profile: "default" stays bare. */
static void config_section(const char *profile, char *out, size_t size)
{
    if (strcmp(profile, "default") == 0)
        dm_strlcpy(out, "default", size);
    else
        snprintf(out, size, "profile %s", profile);
}

/* A key of a profile's section in the config file. */
static const char *config_value_of(const aws_settings *s, const char *profile, const char *key)
{
    char sec[160];
    if (!s->config)
        return NULL;
    config_section(profile, sec, sizeof sec);
    const char *v = dm_ini_get(s->config, sec, key);
    /* The AWS CLI also accepts "[default]" written as "[profile default]". */
    if (!v && strcmp(profile, "default") == 0)
        v = dm_ini_get(s->config, "profile default", key);
    return v;
}

const char *aws_settings_config_value(const aws_settings *s, const char *key)
{
    return config_value_of(s, s->profile, key);
}

const char *aws_settings_profile_value(const aws_settings *s, const char *profile, const char *key)
{
    const char *v = s->credentials ? dm_ini_get(s->credentials, profile, key) : NULL;
    return v ? v : config_value_of(s, profile, key);
}

const char *aws_settings_sso_session_value(const aws_settings *s, const char *name, const char *key)
{
    char sec[160];
    if (!s->config || snprintf(sec, sizeof sec, "sso-session %s", name) >= (int)sizeof sec)
        return NULL;
    return dm_ini_get(s->config, sec, key);
}

bool aws_settings_sso_session_exists(const aws_settings *s, const char *name)
{
    char sec[160];
    if (!s->config || snprintf(sec, sizeof sec, "sso-session %s", name) >= (int)sizeof sec)
        return false;
    return dm_ini_has_section(s->config, sec);
}

bool aws_settings_profile_exists(const aws_settings *s, const char *profile)
{
    char sec[160];
    config_section(profile, sec, sizeof sec);
    if (s->config && (dm_ini_has_section(s->config, sec) ||
                      (strcmp(profile, "default") == 0 && dm_ini_has_section(s->config, "profile default"))))
        return true;
    return s->credentials && dm_ini_has_section(s->credentials, profile);
}

static void resolve_region(const aws_settings_args *args, aws_settings *s)
{
    const char *v;
    if (args && args->region && *args->region) {
        dm_strlcpy(s->region, args->region, sizeof s->region);
        s->region_source = "--region";
    } else if ((v = dm_env_get(s->env, "AWS_REGION"))) {
        dm_strlcpy(s->region, v, sizeof s->region);
        s->region_source = "AWS_REGION";
    } else if ((v = dm_env_get(s->env, "AWS_DEFAULT_REGION"))) {
        dm_strlcpy(s->region, v, sizeof s->region);
        s->region_source = "AWS_DEFAULT_REGION";
    } else if ((v = aws_settings_config_value(s, "region"))) {
        dm_strlcpy(s->region, v, sizeof s->region);
        s->region_source = "profile";
    } else {
        s->region[0] = '\0';
        s->region_source = "none";
    }
}

static int resolve_max_attempts(aws_settings *s, dm_error *err)
{
    const char *v = dm_env_get(s->env, "AWS_MAX_ATTEMPTS");
    const char *src = "AWS_MAX_ATTEMPTS";
    if (!v) {
        v = aws_settings_config_value(s, "max_attempts");
        src = "max_attempts in the profile";
    }
    if (!v)
        return DM_OK;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < 1 || n > 1000)
        return dm_error_set(err, DM_ERR_CONFIG, "%s must be a whole number from 1 to 1000, not '%s'", src, v);
    s->max_attempts = (int)n;
    return DM_OK;
}

int aws_settings_load(const aws_settings_args *args, const dm_env *env, aws_settings *s, dm_error *err)
{
    memset(s, 0, sizeof *s);
    s->env = env ? env : dm_env_process();
    const char *p = args ? args->profile : NULL;
    if (p && *p) {
        s->profile_explicit = s->profile_from_arg = true;
    } else if ((p = dm_env_get(s->env, "AWS_PROFILE"))) {
        s->profile_explicit = true;
    } else {
        p = "default";
    }
    if (strlen(p) >= sizeof s->profile)
        return dm_error_set(err, DM_ERR_CONFIG, "profile name is too long");
    dm_strlcpy(s->profile, p, sizeof s->profile);
    if (args && args->endpoint_url) {
        if (strlen(args->endpoint_url) >= sizeof s->endpoint_arg)
            return dm_error_set(err, DM_ERR_INVALID, "--endpoint-url is longer than %zu characters",
                                sizeof s->endpoint_arg - 1);
        dm_strlcpy(s->endpoint_arg, args->endpoint_url, sizeof s->endpoint_arg);
    }

    file_path(s->env, "AWS_CONFIG_FILE", "~/.aws/config", s->config_path, sizeof s->config_path);
    file_path(s->env, "AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials", s->credentials_path,
              sizeof s->credentials_path);
    int rc = dm_ini_load(s->config_path, &s->config, err);
    if (rc == DM_OK)
        rc = dm_ini_load(s->credentials_path, &s->credentials, err);
    if (rc != DM_OK) {
        aws_settings_cleanup(s);
        return err ? (err->code = DM_ERR_CONFIG) : DM_ERR_CONFIG;
    }
    if (s->profile_explicit && !aws_settings_profile_exists(s, s->profile)) {
        dm_error_set(err, DM_ERR_CONFIG, "the config profile (%s) could not be found in %s or %s", s->profile,
                     s->config_path, s->credentials_path);
        aws_settings_cleanup(s);
        return DM_ERR_CONFIG;
    }
    resolve_region(args, s);
    const char *ca = dm_env_get(s->env, "AWS_CA_BUNDLE");
    if (!ca || !*ca)
        ca = aws_settings_config_value(s, "ca_bundle");
    dm_strlcpy(s->ca_bundle, ca ? ca : "", sizeof s->ca_bundle);
    rc = resolve_max_attempts(s, err);
    if (rc != DM_OK)
        aws_settings_cleanup(s);
    return rc;
}

void aws_settings_cleanup(aws_settings *s)
{
    dm_ini_free(s->config);
    dm_ini_free(s->credentials);
    s->config = s->credentials = NULL;
}

/* A configured endpoint goes through the HTTP layer's URL parser, so that
 * what is accepted here is what the transport can connect to. The message
 * names where the URL came from and never repeats user information. */
static int check_endpoint(const char *src, const char *v, size_t size, dm_error *err)
{
    http_url u;
    if (http_url_parse(v, &u, err) != DM_OK) {
        dm_error_prefix(err, "%s", src);
        return DM_ERR_INVALID;
    }
    char shown[200];
    http_url_display(v, shown, sizeof shown);
    if (u.has_query || u.has_fragment)
        return dm_error_set(err, DM_ERR_INVALID, "%s: '%s' has a query or fragment, which an endpoint URL cannot have",
                            src, shown);
    if (strlen(v) >= size)
        return dm_error_set(err, DM_ERR_INVALID, "%s: '%s' is longer than %zu characters", src, shown, size - 1);
    return DM_OK;
}

/* The endpoint from the settings, or the regional one: use_arg says
 * whether --endpoint-url counts. */
static int endpoint(const aws_settings *s, const char *service_id, const char *host_prefix, const char *region,
                    const char *region_source, bool use_arg, char *out, size_t size, dm_error *err)
{
    char var[64], profile_src[1300];
    const char *src = "--endpoint-url", *v = use_arg && s->endpoint_arg[0] ? s->endpoint_arg : NULL;
    snprintf(var, sizeof var, "AWS_ENDPOINT_URL_%s", service_id);
    if (!v && (v = dm_env_get(s->env, var)))
        src = var;
    if (!v && (v = dm_env_get(s->env, "AWS_ENDPOINT_URL")))
        src = "AWS_ENDPOINT_URL";
    if (!v && (v = aws_settings_config_value(s, "endpoint_url"))) {
        snprintf(profile_src, sizeof profile_src, "endpoint_url of profile '%s' in %s", s->profile, s->config_path);
        src = profile_src;
    }
    if (v) {
        int rc = check_endpoint(src, v, size, err);
        if (rc)
            return rc;
        dm_strlcpy(out, v, size);
        size_t n = strlen(out);
        while (n > 0 && out[n - 1] == '/')
            out[--n] = '\0';
        return DM_OK;
    }
    if (!region || !region[0])
        return dm_error_set(err, DM_ERR_CONFIG,
                            "no region: use --region, set AWS_REGION, or add region to profile '%s' in %s",
                            s->profile, s->config_path);
    /* The region becomes part of a host name. */
    for (const char *r = region; *r; r++) {
        unsigned char c = (unsigned char)*r;
        if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z') && !(c >= '0' && c <= '9') && c != '-') {
            char shown[64];
            size_t i = 0;
            for (const char *q = region; *q && i + 1 < sizeof shown; q++)
                shown[i++] = (unsigned char)*q >= 0x20 && (unsigned char)*q < 0x7f ? *q : '?';
            shown[i] = '\0';
            return dm_error_set(err, DM_ERR_INVALID,
                                "the region '%s' (from %s) cannot be part of a host name: letters, digits and '-' "
                                "only",
                                shown, region_source);
        }
    }
    const char *suffix = strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
    snprintf(out, size, "https://%s.%s.%s", host_prefix, region, suffix);
    return DM_OK;
}

int aws_settings_endpoint(const aws_settings *s, const char *service_id, const char *host_prefix, char *out,
                          size_t size, dm_error *err)
{
    return endpoint(s, service_id, host_prefix, s->region, s->region_source, true, out, size, err);
}

int aws_settings_other_endpoint(const aws_settings *s, const char *service_id, const char *host_prefix, char *out,
                                size_t size, dm_error *err)
{
    return endpoint(s, service_id, host_prefix, s->region, s->region_source, false, out, size, err);
}

int aws_settings_endpoint_in(const aws_settings *s, const char *service_id, const char *host_prefix,
                             const char *region, char *out, size_t size, dm_error *err)
{
    return endpoint(s, service_id, host_prefix, region, "sso_region", false, out, size, err);
}
