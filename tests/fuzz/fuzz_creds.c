/* libFuzzer target for the answers and files credentials are read from:
 * STS's AssumeRole and AssumeRoleWithWebIdentity answers (200 and error),
 * the AWS CLI's SSO token cache file, SSO OIDC CreateToken answers and
 * GetRoleCredentials answers. Any input is refused or gives credentials
 * whose fields are set and terminated; a token file that parses and holds
 * a sane time is written back by creds_sso_token_format into text that
 * parses to the same token. */
#include <stdlib.h>
#include <string.h>

#include "auth/creds_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_creds(const aws_creds *c)
{
    if (!c->access_key_id[0] || !c->secret_access_key[0] ||
        strnlen(c->access_key_id, sizeof c->access_key_id) == sizeof c->access_key_id ||
        strnlen(c->secret_access_key, sizeof c->secret_access_key) == sizeof c->secret_access_key ||
        strnlen(c->session_token, sizeof c->session_token) == sizeof c->session_token)
        abort();
}

static void token_round_trip(const creds_sso_token *t)
{
    /* Years 1970 to 9999: what a refresh can produce and the format can spell. */
    if (t->expires_ms < 0 || t->expires_ms >= 253402300800000LL)
        return;
    dm_buf out;
    dm_buf_init(&out, 0);
    if (creds_sso_token_format(t, &out) != DM_OK)
        abort();
    creds_sso_token back;
    if (creds_sso_token_parse(out.data, out.len, &back, NULL) != DM_OK)
        abort();
    if (strcmp(back.access_token, t->access_token) != 0 || back.expires_ms / 1000 != t->expires_ms / 1000 ||
        (t->refresh_token && (!back.refresh_token || strcmp(back.refresh_token, t->refresh_token) != 0)))
        abort();
    creds_sso_token_cleanup(&back);
    dm_buf_cleanup(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    static const char *const actions[] = {"AssumeRole", "AssumeRoleWithWebIdentity"};
    for (int i = 0; i < 2; i++) {
        aws_creds c;
        aws_creds_clear(&c);
        char arn[64];
        if (creds_sts_parse(actions[i], text, size, 200, &c, arn, sizeof arn, NULL) == DM_OK) {
            check_creds(&c);
            if (!c.session_token[0] || strnlen(arn, sizeof arn) == sizeof arn)
                abort();
        }
        dm_error err = {0};
        if (creds_sts_parse(actions[i], text, size, 403, &c, NULL, 0, &err) != DM_ERR_CREDENTIALS)
            abort();
    }

    creds_sso_token t;
    if (creds_sso_token_parse(text, size, &t, NULL) == DM_OK) {
        if (!t.access_token || !t.access_token[0])
            abort();
        token_round_trip(&t);
        (void)creds_sso_token_due(&t, 0);
        (void)creds_sso_token_refreshable(&t, 0);
        creds_sso_token_cleanup(&t);
    }

    creds_sso_token old = {.access_token = dm_strdup("old"), .refresh_token = dm_strdup("r")};
    if (creds_sso_apply_create_token(text, size, 200, 1000, &old, NULL) == DM_OK &&
        (!old.access_token || !old.access_token[0] || old.expires_ms <= 1000))
        abort();
    creds_sso_apply_create_token(text, size, 400, 1000, &old, NULL);
    creds_sso_token_cleanup(&old);

    aws_creds c;
    aws_creds_clear(&c);
    if (creds_sso_parse_role_credentials(text, size, &c, NULL) == DM_OK) {
        check_creds(&c);
        if (!c.session_token[0] || c.expiration_ms <= 0)
            abort();
    }
    return 0;
}
