/* Assume-role profiles: STS AssumeRole (creds_sts.c) signed with the
 * credentials of the profile's source (another profile's, or its
 * credential_source's), with the profile's role_session_name,
 * external_id, duration_seconds and mfa_serial.
 *
 * Without role_session_name the session is named as the AWS CLI names it,
 * botocore-session-<seconds since the epoch>, once per provider, so that
 * trust policies and CloudTrail queries written for the CLI match.
 *
 * With mfa_serial the code is asked once (settings' mfa_prompt, else
 * /dev/tty). Like the AWS CLI, a refresh that would need a new code is an
 * error: a migration should not stop to wait for a person half way; the
 * cache above keeps using the current credentials until they expire. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds_impl.h"

typedef struct assume_provider {
    creds_provider base;
    const aws_settings *s;
    creds_provider *source; /* owned */
    char profile[128];
    char via[200];
    char session[128];
    bool mfa_asked;
} assume_provider;

static int duration_of(const aws_settings *s, const char *profile, long long *out, dm_error *err)
{
    const char *v = aws_settings_profile_value(s, profile, "duration_seconds");
    *out = 0;
    if (!v)
        return DM_OK;
    if (dm_parse_int(v, 1, 43200, out) != DM_OK)
        return dm_error_set(err, DM_ERR_CREDENTIALS,
                            "profile %s: duration_seconds must be a whole number of seconds up to 43200, not '%.40s'",
                            profile, v);
    return DM_OK;
}

int creds_assume_role_form(const aws_settings *s, const char *profile, const char *session, const char *token_code,
                           dm_buf *form, dm_error *err)
{
    const char *role = aws_settings_profile_value(s, profile, "role_arn");
    const char *ext = aws_settings_profile_value(s, profile, "external_id");
    const char *serial = aws_settings_profile_value(s, profile, "mfa_serial");
    long long duration;
    if (!role)
        return dm_error_set(err, DM_ERR_CREDENTIALS, "profile %s has no role_arn", profile);
    int rc = duration_of(s, profile, &duration, err);
    if (rc)
        return rc;
    char dur[24];
    snprintf(dur, sizeof dur, "%lld", duration);
    rc = creds_form_add(form, "Action", "AssumeRole");
    rc = rc ? rc : creds_form_add(form, "Version", "2011-06-15");
    rc = rc ? rc : creds_form_add(form, "RoleArn", role);
    rc = rc ? rc : creds_form_add(form, "RoleSessionName", session);
    if (!rc && ext)
        rc = creds_form_add(form, "ExternalId", ext);
    if (!rc && duration)
        rc = creds_form_add(form, "DurationSeconds", dur);
    if (!rc && serial && token_code) {
        rc = creds_form_add(form, "SerialNumber", serial);
        rc = rc ? rc : creds_form_add(form, "TokenCode", token_code);
    }
    return rc ? dm_error_set(err, DM_ERR_NOMEM, "out of memory") : DM_OK;
}

/* The MFA code, when the profile names a device. */
static int mfa_code(assume_provider *a, const char *serial, char *code, size_t size, dm_error *err)
{
    if (a->mfa_asked)
        return dm_error_set(err, DM_ERR_CREDENTIALS,
                            "profile %s: its role credentials are due for a refresh, which needs a new code from the "
                            "MFA device %s; ddbmig asks for one once per run, as the AWS CLI does (a longer "
                            "duration_seconds covers a longer run)",
                            a->profile, serial);
    a->mfa_asked = true;
    aws_mfa_prompt_fn ask = a->s->mfa_prompt ? a->s->mfa_prompt : creds_mfa_tty_prompt;
    int rc = ask(a->s->mfa_prompt_ud, a->profile, serial, code, size, err);
    if (rc == DM_OK && (!code[0] || strpbrk(code, "\r\n")))
        rc = dm_error_set(err, DM_ERR_CREDENTIALS, "profile %s: no MFA code was given", a->profile);
    return rc == DM_OK ? DM_OK : (err ? (err->code = DM_ERR_CREDENTIALS) : DM_ERR_CREDENTIALS);
}

static int assume_get(creds_provider *p, aws_creds *out, dm_error *err)
{
    assume_provider *a = (assume_provider *)p;
    const char *serial = aws_settings_profile_value(a->s, a->profile, "mfa_serial");
    aws_creds src;
    int rc = creds_provider_get_raw(a->source, &src, err);
    if (rc == CREDS_ABSENT)
        rc = dm_error_set(err, DM_ERR_CREDENTIALS, "profile %s: no credentials from %s to assume its role with",
                          a->profile, a->via);
    if (rc)
        return rc;
    char code[64] = "";
    if (serial)
        rc = mfa_code(a, serial, code, sizeof code, err);
    dm_buf form;
    dm_buf_init(&form, 1 << 20);
    if (rc == DM_OK)
        rc = creds_assume_role_form(a->s, a->profile, a->session, serial ? code : NULL, &form, err);
    dm_memzero(code, sizeof code);
    char user[512] = "";
    if (rc == DM_OK) {
        rc = creds_sts_call(a->s, "AssumeRole", dm_buf_cstr(&form), &src, out, user, sizeof user, err);
        if (rc)
            dm_error_prefix(err, "profile %s", a->profile);
    }
    dm_buf_cleanup_secure(&form);
    aws_creds_clear(&src);
    if (rc)
        return err ? (err->code = DM_ERR_CREDENTIALS) : DM_ERR_CREDENTIALS;
    dm_buf src_text;
    dm_buf_init(&src_text, 4096);
    if (dm_buf_appendf(&src_text, "profile %s: role %s via %s", a->profile,
                       aws_settings_profile_value(a->s, a->profile, "role_arn"), a->via) == DM_OK)
        dm_strlcpy(out->source, src_text.data, sizeof out->source);
    dm_buf_cleanup(&src_text);
    char until[21];
    dm_format_iso8601(out->expiration_ms, until);
    DM_DEBUG("profile %s: assumed %s as %s (session %s), until %s", a->profile,
             aws_settings_profile_value(a->s, a->profile, "role_arn"), user[0] ? user : "?", a->session, until);
    return DM_OK;
}

static void assume_invalidate(creds_provider *p)
{
    creds_invalidate(((assume_provider *)p)->source);
}

static void assume_free(creds_provider *p)
{
    assume_provider *a = (assume_provider *)p;
    creds_provider_free(a->source);
    free(a);
}

static const creds_vtable assume_vt = {"assume role", assume_get, assume_invalidate, assume_free};

creds_provider *creds_assume_role_new(const aws_settings *s, const char *profile, creds_provider *source,
                                      const char *via, dm_error *err)
{
    long long duration;
    if (!source)
        return NULL;
    if (!aws_settings_profile_value(s, profile, "role_arn") || duration_of(s, profile, &duration, err) != DM_OK) {
        if (!aws_settings_profile_value(s, profile, "role_arn"))
            dm_error_set(err, DM_ERR_CREDENTIALS, "profile %s has no role_arn", profile);
        creds_provider_free(source);
        return NULL;
    }
    const char *name = aws_settings_profile_value(s, profile, "role_session_name");
    if (name && strlen(name) >= sizeof((assume_provider *)0)->session) {
        dm_error_set(err, DM_ERR_CREDENTIALS,
                     "profile %s: role_session_name is too long (STS takes at most 64 characters)", profile);
        creds_provider_free(source);
        return NULL;
    }
    assume_provider *a = calloc(1, sizeof *a);
    if (!a) {
        creds_provider_free(source);
        return NULL;
    }
    a->base.vt = &assume_vt;
    a->s = s;
    a->source = source;
    dm_strlcpy(a->profile, profile, sizeof a->profile);
    dm_strlcpy(a->via, via ? via : "its source", sizeof a->via);
    if (name)
        dm_strlcpy(a->session, name, sizeof a->session);
    else
        snprintf(a->session, sizeof a->session, "botocore-session-%lld", (long long)(dm_now_ms() / 1000));
    return &a->base;
}
