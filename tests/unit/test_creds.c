/* Settings resolution and every credential provider, against loopback
 * fakes of STS, the container endpoint and EC2 instance metadata. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddbmig/config.h"
#include "ddbmig/creds.h"
#include "auth/creds_impl.h"
#include "test.h"
#include "testutil.h"

/* An environment whose HOME has no ~/.aws, so the machine's own files
 * never leak into a test. */
static void clean_env(test_env *e)
{
    test_env_init(e);
    test_env_set(e, "HOME", test_tmpdir());
    test_env_set(e, "AWS_EC2_METADATA_DISABLED", "true");
}

static char *path_of(const char *name, const char *text, int mode)
{
    return strdup(test_write_file(name, text, mode));
}

static int load(test_env *e, const char *profile, aws_settings *s, dm_error *err)
{
    aws_settings_args a = {.profile = profile};
    return aws_settings_load(&a, &e->env, s, err);
}

/* Credentials from the default chain for env e. */
static int chain_creds(test_env *e, const char *profile, aws_creds *c, dm_error *err)
{
    aws_settings s;
    int rc = load(e, profile, &s, err);
    if (rc)
        return rc;
    creds_provider *p = creds_default_new(&s);
    rc = creds_get(p, c, err);
    creds_provider_free(p);
    aws_settings_cleanup(&s);
    return rc;
}

TEST(region_order)
{
    test_env e;
    clean_env(&e);
    char *cfg = path_of("config", "[default]\nregion = eu-west-1\n[profile dev]\nregion = ap-south-1\n", 0600);
    test_env_set(&e, "AWS_CONFIG_FILE", cfg);
    aws_settings s;
    dm_error err = {0};
    CHECK_INT(load(&e, NULL, &s, &err), DM_OK);
    CHECK_STR(s.region, "eu-west-1");
    CHECK_STR(s.region_source, "profile");
    aws_settings_cleanup(&s);
    CHECK_INT(load(&e, "dev", &s, &err), DM_OK);
    CHECK_STR(s.region, "ap-south-1");
    aws_settings_cleanup(&s);
    test_env_set(&e, "AWS_DEFAULT_REGION", "us-west-1");
    CHECK_INT(load(&e, NULL, &s, &err), DM_OK);
    CHECK_STR(s.region, "us-west-1");
    aws_settings_cleanup(&s);
    test_env_set(&e, "AWS_REGION", "us-east-2");
    CHECK_INT(load(&e, NULL, &s, &err), DM_OK);
    CHECK_STR(s.region, "us-east-2");
    aws_settings_cleanup(&s);
    aws_settings_args a = {.region = "sa-east-1"};
    CHECK_INT(aws_settings_load(&a, &e.env, &s, &err), DM_OK);
    CHECK_STR(s.region, "sa-east-1");
    CHECK_STR(s.region_source, "--region");
    aws_settings_cleanup(&s);
    free(cfg);
    test_env_cleanup(&e);
}

TEST(ca_bundle_order)
{
    test_env e;
    clean_env(&e);
    char *cfg = path_of("config", "[default]\nca_bundle = /etc/corp/ca.pem\n", 0600);
    test_env_set(&e, "AWS_CONFIG_FILE", cfg);
    aws_settings s;
    dm_error err = {0};
    CHECK_INT(load(&e, NULL, &s, &err), DM_OK);
    CHECK_STR(s.ca_bundle, "/etc/corp/ca.pem");
    aws_settings_cleanup(&s);
    test_env_set(&e, "AWS_CA_BUNDLE", "/tmp/other.pem");
    CHECK_INT(load(&e, NULL, &s, &err), DM_OK);
    CHECK_STR(s.ca_bundle, "/tmp/other.pem");
    aws_settings_cleanup(&s);
    free(cfg);
    test_env_cleanup(&e);
    clean_env(&e);
    CHECK_INT(load(&e, NULL, &s, &err), DM_OK);
    CHECK_STR(s.ca_bundle, "");
    aws_settings_cleanup(&s);
    test_env_cleanup(&e);
}

TEST(endpoint_order)
{
    test_env e;
    clean_env(&e);
    test_env_set(&e, "AWS_REGION", "eu-central-1");
    aws_settings s;
    dm_error err = {0};
    char url[512];
    CHECK_INT(load(&e, NULL, &s, &err), DM_OK);
    CHECK_INT(aws_settings_endpoint(&s, "DYNAMODB", "dynamodb", url, sizeof url, &err), DM_OK);
    CHECK_STR(url, "https://dynamodb.eu-central-1.amazonaws.com");
    aws_settings_cleanup(&s);
    test_env_set(&e, "AWS_ENDPOINT_URL", "http://global:1/");
    CHECK_INT(load(&e, NULL, &s, &err), DM_OK);
    CHECK_INT(aws_settings_endpoint(&s, "DYNAMODB", "dynamodb", url, sizeof url, &err), DM_OK);
    CHECK_STR(url, "http://global:1");
    aws_settings_cleanup(&s);
    test_env_set(&e, "AWS_ENDPOINT_URL_DYNAMODB", "http://ddb:2");
    CHECK_INT(load(&e, NULL, &s, &err), DM_OK);
    CHECK_INT(aws_settings_endpoint(&s, "DYNAMODB", "dynamodb", url, sizeof url, &err), DM_OK);
    CHECK_STR(url, "http://ddb:2");
    CHECK_INT(aws_settings_endpoint(&s, "STS", "sts", url, sizeof url, &err), DM_OK);
    CHECK_STR(url, "http://global:1");
    aws_settings_cleanup(&s);
    aws_settings_args a = {.endpoint_url = "http://arg:3"};
    CHECK_INT(aws_settings_load(&a, &e.env, &s, &err), DM_OK);
    CHECK_INT(aws_settings_endpoint(&s, "DYNAMODB", "dynamodb", url, sizeof url, &err), DM_OK);
    CHECK_STR(url, "http://arg:3");
    aws_settings_cleanup(&s);
    a.endpoint_url = "localhost:8000";
    CHECK_INT(aws_settings_load(&a, &e.env, &s, &err), DM_OK);
    CHECK_INT(aws_settings_endpoint(&s, "DYNAMODB", "dynamodb", url, sizeof url, &err), DM_ERR_INVALID);
    CHECK_CONTAINS(err.message, "--endpoint-url: 'localhost:8000' is not a valid URL: it does not start with a scheme");
    aws_settings_cleanup(&s);
    test_env_cleanup(&e);
}

TEST(no_region_is_a_clear_error)
{
    test_env e;
    clean_env(&e);
    aws_settings s;
    dm_error err = {0};
    char url[512];
    CHECK_INT(load(&e, NULL, &s, &err), DM_OK);
    CHECK_INT(aws_settings_endpoint(&s, "DYNAMODB", "dynamodb", url, sizeof url, &err), DM_ERR_CONFIG);
    CHECK_CONTAINS(err.message, "no region");
    aws_settings_cleanup(&s);
    test_env_cleanup(&e);
}

TEST(unknown_profile_is_a_config_error)
{
    test_env e;
    clean_env(&e);
    aws_settings s;
    dm_error err = {0};
    CHECK_INT(load(&e, "nope", &s, &err), DM_ERR_CONFIG);
    CHECK_CONTAINS(err.message, "profile (nope) could not be found");
    test_env_set(&e, "AWS_MAX_ATTEMPTS", "zero");
    CHECK_INT(load(&e, NULL, &s, &err), DM_ERR_CONFIG);
    CHECK_CONTAINS(err.message, "AWS_MAX_ATTEMPTS");
    test_env_cleanup(&e);
}

TEST(env_keys)
{
    test_env e;
    clean_env(&e);
    test_env_set(&e, "AWS_ACCESS_KEY_ID", "AKIDENV");
    test_env_set(&e, "AWS_SECRET_ACCESS_KEY", "env-secret");
    test_env_set(&e, "AWS_SESSION_TOKEN", "env-token");
    aws_creds c;
    dm_error err = {0};
    CHECK_INT(chain_creds(&e, NULL, &c, &err), DM_OK);
    CHECK_STR(c.access_key_id, "AKIDENV");
    CHECK_STR(c.secret_access_key, "env-secret");
    CHECK_STR(c.session_token, "env-token");
    CHECK_STR(c.source, "environment");
    test_env_cleanup(&e);
}

TEST(env_half_configured_stops_the_chain)
{
    test_env e;
    clean_env(&e);
    char *cred = path_of("credentials", "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = s\n", 0600);
    test_env_set(&e, "AWS_SHARED_CREDENTIALS_FILE", cred);
    test_env_set(&e, "AWS_ACCESS_KEY_ID", "AKIDENV");
    aws_creds c;
    dm_error err = {0};
    CHECK_INT(chain_creds(&e, NULL, &c, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    free(cred);
    test_env_cleanup(&e);
}

TEST(nothing_configured)
{
    test_env e;
    clean_env(&e);
    aws_creds c;
    dm_error err = {0};
    CHECK_INT(chain_creds(&e, NULL, &c, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "unable to locate credentials");
    CHECK_CONTAINS(err.message, "EC2 instance metadata");
    test_env_cleanup(&e);
}

TEST(profile_static_keys)
{
    test_env e;
    clean_env(&e);
    char *cred = path_of("credentials",
                         "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = d\n"
                         "[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = dev-secret\n"
                         "aws_session_token = dev-token\n",
                         0600);
    test_env_set(&e, "AWS_SHARED_CREDENTIALS_FILE", cred);
    aws_creds c;
    dm_error err = {0};
    CHECK_INT(chain_creds(&e, NULL, &c, &err), DM_OK);
    CHECK_STR(c.access_key_id, "AKIDDEFAULT");
    CHECK_INT(chain_creds(&e, "dev", &c, &err), DM_OK);
    CHECK_STR(c.access_key_id, "AKIDDEV");
    CHECK_STR(c.session_token, "dev-token");
    CHECK_STR(c.source, "profile dev");
    /* AWS_PROFILE selects the profile, but environment keys still win... */
    test_env_set(&e, "AWS_PROFILE", "dev");
    test_env_set(&e, "AWS_ACCESS_KEY_ID", "AKIDENV");
    test_env_set(&e, "AWS_SECRET_ACCESS_KEY", "env-secret");
    CHECK_INT(chain_creds(&e, NULL, &c, &err), DM_OK);
    CHECK_STR(c.access_key_id, "AKIDENV");
    /* ...and --profile outranks them, as in the AWS CLI. */
    CHECK_INT(chain_creds(&e, "dev", &c, &err), DM_OK);
    CHECK_STR(c.access_key_id, "AKIDDEV");
    free(cred);
    test_env_cleanup(&e);
}

TEST(profile_credential_process)
{
    test_env e;
    clean_env(&e);
    char *ok = path_of("ok.sh",
                       "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"ASIAPROC\", \"SecretAccessKey\": "
                       "\"proc-secret\", \"SessionToken\": \"proc-token\", \"Expiration\": \"2099-01-01T00:00:00Z\"}'\n",
                       0700);
    char *fail = path_of("fail.sh", "#!/bin/sh\necho 'sso session expired' >&2\nexit 3\n", 0700);
    char *junk = path_of("junk.sh", "#!/bin/sh\necho 'not json'\n", 0700);
    char *nover = path_of("nover.sh", "#!/bin/sh\necho '{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"B\"}'\n", 0700);
    char cfg[8192];
    snprintf(cfg, sizeof cfg,
             "[profile ok]\ncredential_process = %s --flag\n[profile fail]\ncredential_process = %s\n"
             "[profile junk]\ncredential_process = %s\n[profile nover]\ncredential_process = %s\n",
             ok, fail, junk, nover);
    char *cfgp = path_of("config", cfg, 0600);
    test_env_set(&e, "AWS_CONFIG_FILE", cfgp);
    aws_creds c;
    dm_error err = {0};
    CHECK_INT(chain_creds(&e, "ok", &c, &err), DM_OK);
    CHECK_STR(c.access_key_id, "ASIAPROC");
    CHECK_STR(c.session_token, "proc-token");
    CHECK(c.expiration_ms > 4000000000000LL);
    CHECK_INT(chain_creds(&e, "fail", &c, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "credential_process of profile fail");
    CHECK_CONTAINS(err.message, "exited with status 3");
    CHECK_INT(chain_creds(&e, "junk", &c, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "not valid JSON");
    CHECK_INT(chain_creds(&e, "nover", &c, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "\"Version\": 1");
    free(ok), free(fail), free(junk), free(nover), free(cfgp);
    test_env_cleanup(&e);
}

/* ---- no message repeats a secret --------------------------------------- */

/* What tests/fakes/fake_aws.py hides in its *-garbled answers. */
#define LEAKED "wJalrLEAKEDxSECRETxKEY0123456789abcdefAB"

typedef struct captured {
    int rc;
    dm_error err;
    char *log; /* everything written to stderr meanwhile, debug log included */
} captured;

/* The default chain for env e (and profile), with debug logging on and
 * stderr captured, so that both the message and the log can be searched. */
static captured chain_captured(test_env *e, const char *profile)
{
    captured c = {0};
    char path[1024];
    snprintf(path, sizeof path, "%s/stderr.txt", test_tmpdir());
    fflush(stderr);
    int saved = dup(2);
    FILE *f = fopen(path, "w");
    if (saved < 0 || !f) {
        c.rc = -100;
        return c;
    }
    dup2(fileno(f), 2);
    dm_log_set_level(DM_LOG_DEBUG);
    aws_creds creds;
    c.rc = chain_creds(e, profile, &creds, &c.err);
    aws_creds_clear(&creds);
    dm_log_set_level(DM_LOG_WARN);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(f);
    dm_buf b;
    dm_buf_init(&b, 0);
    dm_read_file(path, &b, NULL);
    c.log = b.data ? b.data : strdup("");
    return c;
}

/* Neither the message nor the log holds the secret (or its first half). */
#define CHECK_NO_SECRET(cap, secret)                                                                  \
    do {                                                                                              \
        char half_[24];                                                                               \
        snprintf(half_, sizeof half_, "%.20s", (secret));                                             \
        if (strstr((cap).err.message, half_) || strstr((cap).log, half_)) {                           \
            fprintf(stderr, "%s:%d: secret shown:\n  message: %s\n  log: %s\n", __FILE__, __LINE__, \
                    (cap).err.message, (cap).log);                                                    \
            test_failures++;                                                                          \
            free((cap).log);                                                                          \
            return;                                                                                   \
        }                                                                                             \
        free((cap).log);                                                                              \
    } while (0)

TEST(credential_process_output_is_never_quoted)
{
    static const struct {
        const char *output; /* what the command prints: each holds the secret */
        const char *words;  /* what the message says instead */
    } cases[] = {
        /* A bare token where a string belongs: a JSON parser's message
         * would quote the token. */
        {"{\"Version\": 1, \"AccessKeyId\": \"ASIAX\", \"SecretAccessKey\": " LEAKED "}", "not valid JSON (line 1"},
        {"{\"Version\": 1, \"AccessKeyId\": \"ASIAX\", \"SecretAccessKey\": \"" LEAKED "\"", "not valid JSON"},
        {"AccessKeyId=ASIAX SecretAccessKey=" LEAKED, "not valid JSON"},
        {"{\"Version\": 2, \"AccessKeyId\": \"ASIAX\", \"SecretAccessKey\": \"" LEAKED "\"}", "\"Version\": 1"},
        {"{\"Version\": \"" LEAKED "\"}", "\"Version\": 1"},
        {"{\"Version\": 1, \"SecretAccessKey\": \"" LEAKED "\"}", "AccessKeyId or SecretAccessKey is missing"},
        {"{\"Version\": 1, \"AccessKeyId\": \"" LEAKED "\", \"SecretAccessKey\": 7}",
         "AccessKeyId or SecretAccessKey is missing"},
        {"{\"Version\": 1, \"AccessKeyId\": \"ASIAX\", \"SecretAccessKey\": \"s\", \"Expiration\": \"" LEAKED "\"}",
         "Expiration is not an ISO-8601 time"},
        {"[\"" LEAKED "\"]", "\"Version\": 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_env e;
        clean_env(&e);
        char script[1024], cfg[2048];
        snprintf(script, sizeof script, "#!/bin/sh\ncat <<'EOF'\n%s\nEOF\n", cases[i].output);
        char *cmd = path_of("leak.sh", script, 0700);
        snprintf(cfg, sizeof cfg, "[profile leak]\ncredential_process = %s\n", cmd);
        char *cfgp = path_of("config", cfg, 0600);
        test_env_set(&e, "AWS_CONFIG_FILE", cfgp);
        captured c = chain_captured(&e, "leak");
        free(cmd), free(cfgp);
        test_env_cleanup(&e);
        if (c.rc != DM_ERR_CREDENTIALS || !strstr(c.err.message, cases[i].words))
            fprintf(stderr, "  case %zu: rc %d, message [%s]\n", i, c.rc, c.err.message);
        CHECK_INT(c.rc, DM_ERR_CREDENTIALS);
        CHECK_CONTAINS(c.err.message, "credential_process of profile leak");
        CHECK_CONTAINS(c.err.message, cases[i].words);
        CHECK_NO_SECRET(c, LEAKED);
    }
}

/* A credential endpoint's 200 answer that cannot be used is reported
 * without quoting it; mode is a fake_aws.py mode, env_name/suffix say
 * where the chain finds it. */
static captured endpoint_captured(const char *mode, const char *env_name, const char *suffix)
{
    char url[64], full[160];
    captured c = {.rc = -100, .log = strdup("")};
    pid_t pid = test_fake_start(mode, NULL, url);
    if (pid <= 0)
        return c;
    free(c.log);
    snprintf(full, sizeof full, "%s%s", url, suffix);
    test_env e;
    test_env_init(&e);
    test_env_set(&e, "HOME", test_tmpdir());
    if (strcmp(env_name, "sts") == 0) {
        test_env_set(&e, "AWS_ENDPOINT_URL_STS", url);
        test_env_set(&e, "AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/migrator");
        test_env_set(&e, "AWS_WEB_IDENTITY_TOKEN_FILE", test_write_file("token", "eyJ.token", 0600));
        test_env_set(&e, "AWS_EC2_METADATA_DISABLED", "true");
    } else {
        test_env_set(&e, env_name, full);
        if (strcmp(env_name, "AWS_EC2_METADATA_SERVICE_ENDPOINT") != 0)
            test_env_set(&e, "AWS_EC2_METADATA_DISABLED", "true");
    }
    c = chain_captured(&e, NULL);
    test_fake_stop(pid);
    test_env_cleanup(&e);
    return c;
}

TEST(credential_endpoint_answers_are_never_quoted)
{
    static const struct {
        const char *mode, *env, *suffix, *words;
    } cases[] = {
        {"imds-garbled", "AWS_EC2_METADATA_SERVICE_ENDPOINT", "", "instance metadata"},
        {"imds-badcode", "AWS_EC2_METADATA_SERVICE_ENDPOINT", "", "Code is not Success"},
        {"container-garbled", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "/v1/credentials", "container credentials"},
        {"sts-garbled", "sts", "", "unexpected answer from STS"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        captured c = endpoint_captured(cases[i].mode, cases[i].env, cases[i].suffix);
        if (c.rc != DM_ERR_CREDENTIALS || !strstr(c.err.message, cases[i].words))
            fprintf(stderr, "  %s: rc %d, message [%s]\n", cases[i].mode, c.rc, c.err.message);
        CHECK_INT(c.rc, DM_ERR_CREDENTIALS);
        CHECK_CONTAINS(c.err.message, cases[i].words);
        CHECK_NO_SECRET(c, LEAKED);
    }
}

TEST(profile_sources_that_cannot_work_say_why)
{
    test_env e;
    clean_env(&e);
    char *cfgp = path_of("config",
                         "[profile assume]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n"
                         "[profile sso]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = r\n"
                         "[profile empty]\nregion = us-east-1\n",
                         0600);
    test_env_set(&e, "AWS_CONFIG_FILE", cfgp);
    aws_creds c;
    dm_error err = {0};
    CHECK_INT(chain_creds(&e, "assume", &c, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "profile assume: its source_profile 'base' is in neither");
    CHECK_INT(chain_creds(&e, "sso", &c, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "sso_session 'corp' has no [sso-session corp] section");
    CHECK_INT(chain_creds(&e, "empty", &c, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "profile empty has no credentials");
    free(cfgp);
    test_env_cleanup(&e);
}

static char *read_all(const char *path)
{
    dm_buf b;
    dm_buf_init(&b, 0);
    if (dm_read_file(path, &b, NULL) != DM_OK)
        return strdup("");
    return b.data ? b.data : strdup("");
}

TEST(web_identity_from_env)
{
    char url[64], log[1024];
    snprintf(log, sizeof log, "%s/sts.log", test_tmpdir());
    pid_t pid = test_fake_start("sts", log, url);
    CHECK(pid > 0);
    test_env e;
    clean_env(&e);
    char *tok = path_of("token", "eyJ.oidc-token+/=\n", 0600);
    test_env_set(&e, "AWS_ENDPOINT_URL_STS", url);
    test_env_set(&e, "AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/migrator");
    test_env_set(&e, "AWS_WEB_IDENTITY_TOKEN_FILE", tok);
    test_env_set(&e, "AWS_ROLE_SESSION_NAME", "nightly");
    aws_creds c;
    dm_error err = {0};
    int rc = chain_creds(&e, NULL, &c, &err);
    char *sent = read_all(log);
    test_fake_stop(pid);
    CHECK_INT(rc, DM_OK);
    CHECK_STR(c.access_key_id, "ASIAWEBIDENTITY");
    CHECK_STR(c.session_token, "webid-session&token");
    CHECK(c.expiration_ms > dm_now_ms());
    CHECK_CONTAINS(sent, "WebIdentityToken=eyJ.oidc-token%2B%2F%3D");
    CHECK_CONTAINS(sent, "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fmigrator");
    CHECK_CONTAINS(sent, "RoleSessionName=nightly");
    CHECK(!strstr(sent, "authorization"));
    free(sent), free(tok);
    test_env_cleanup(&e);
}

TEST(web_identity_refused)
{
    char url[64];
    pid_t pid = test_fake_start("sts", NULL, url);
    CHECK(pid > 0);
    test_env e;
    clean_env(&e);
    char *tok = path_of("token", "bad-token", 0600);
    char cfg[2048];
    snprintf(cfg, sizeof cfg, "[profile ci]\nrole_arn = arn:aws:iam::1:role/r\nweb_identity_token_file = %s\n", tok);
    char *cfgp = path_of("config", cfg, 0600);
    test_env_set(&e, "AWS_CONFIG_FILE", cfgp);
    test_env_set(&e, "AWS_ENDPOINT_URL_STS", url);
    aws_creds c;
    dm_error err = {0};
    int rc = chain_creds(&e, "ci", &c, &err);
    test_fake_stop(pid);
    CHECK_INT(rc, DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity");
    free(tok), free(cfgp);
    test_env_cleanup(&e);
}

TEST(container_full_uri_with_token_file)
{
    char url[64], full[128], log[1024];
    snprintf(log, sizeof log, "%s/container.log", test_tmpdir());
    pid_t pid = test_fake_start("container", log, url);
    CHECK(pid > 0);
    snprintf(full, sizeof full, "%s/v1/credentials", url);
    test_env e;
    clean_env(&e);
    char *tok = path_of("eks-token", "container-auth-token\n", 0600);
    test_env_set(&e, "AWS_CONTAINER_CREDENTIALS_FULL_URI", full);
    test_env_set(&e, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored-when-a-file-is-given");
    test_env_set(&e, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tok);
    aws_creds c;
    dm_error err = {0};
    int rc = chain_creds(&e, NULL, &c, &err);
    char *sent = read_all(log);
    CHECK_INT(rc, DM_OK);
    CHECK_STR(c.access_key_id, "ASIACONTAINER");
    CHECK_STR(c.session_token, "container-session-token");
    CHECK_CONTAINS(sent, "\"path\": \"/v1/credentials\"");
    free(sent);

    test_env_set(&e, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", test_write_file("wrong", "nope", 0600));
    rc = chain_creds(&e, NULL, &c, &err);
    test_fake_stop(pid);
    CHECK_INT(rc, DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "HTTP 403: wrong authorization token");
    free(tok);
    test_env_cleanup(&e);
}

TEST(container_refuses_plain_http_off_host)
{
    test_env e;
    clean_env(&e);
    test_env_set(&e, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://198.51.100.7/creds");
    aws_creds c;
    dm_error err = {0};
    CHECK_INT(chain_creds(&e, NULL, &c, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "must use https");
    test_env_cleanup(&e);
}

static int imds_creds(const char *mode, aws_creds *c, dm_error *err)
{
    char url[64];
    pid_t pid = test_fake_start(mode, NULL, url);
    if (pid <= 0)
        return -100;
    test_env e;
    test_env_init(&e);
    test_env_set(&e, "HOME", test_tmpdir());
    test_env_set(&e, "AWS_EC2_METADATA_SERVICE_ENDPOINT", url);
    int rc = chain_creds(&e, NULL, c, err);
    test_fake_stop(pid);
    test_env_cleanup(&e);
    return rc;
}

TEST(imds_v2)
{
    aws_creds c;
    dm_error err = {0};
    CHECK_INT(imds_creds("imds", &c, &err), DM_OK);
    CHECK_STR(c.access_key_id, "ASIAIMDS1");
    CHECK_STR(c.session_token, "imds-session-token");
    CHECK_STR(c.source, "instance metadata");
}

TEST(imds_without_role)
{
    aws_creds c;
    dm_error err = {0};
    CHECK_INT(imds_creds("imds-norole", &c, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "no IAM role");
}

TEST(imds_unreachable_or_disabled_is_absent)
{
    test_env e;
    test_env_init(&e);
    test_env_set(&e, "HOME", test_tmpdir());
    test_env_set(&e, "AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1");
    aws_creds c;
    dm_error err = {0};
    CHECK_INT(chain_creds(&e, NULL, &c, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "unable to locate credentials");
    test_env_set(&e, "AWS_EC2_METADATA_DISABLED", "TRUE");
    test_env_set(&e, "AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:2");
    CHECK_INT(chain_creds(&e, NULL, &c, &err), DM_ERR_CREDENTIALS);
    test_env_cleanup(&e);
}

/* ---- the refreshing cache, with a counting provider -------------------- */

typedef struct counting {
    creds_provider base;
    int calls;
    int64_t life_ms; /* 0: never expires */
    int sleep_ms;
    pthread_mutex_t mu;
} counting;

static int counting_get(creds_provider *p, aws_creds *out, dm_error *err)
{
    counting *c = (counting *)p;
    pthread_mutex_lock(&c->mu);
    int n = ++c->calls;
    pthread_mutex_unlock(&c->mu);
    if (c->sleep_ms)
        dm_sleep_ms(c->sleep_ms);
    snprintf(out->access_key_id, sizeof out->access_key_id, "AKID%d", n);
    strcpy(out->secret_access_key, "s");
    out->expiration_ms = c->life_ms ? dm_now_ms() + c->life_ms : 0;
    return DM_OK;
}

static void counting_free(creds_provider *p) { (void)p; }

static const creds_vtable counting_vt = {"counting", counting_get, NULL, counting_free};

TEST(cache_keeps_static_credentials)
{
    counting inner = {.base.vt = &counting_vt};
    pthread_mutex_init(&inner.mu, NULL);
    creds_provider *p = creds_cached_new(&inner.base, 0);
    aws_creds c;
    for (int i = 0; i < 100; i++)
        CHECK_INT(creds_get(p, &c, NULL), DM_OK);
    CHECK_INT(inner.calls, 1);
    creds_invalidate(p);
    CHECK_INT(creds_get(p, &c, NULL), DM_OK);
    CHECK_INT(inner.calls, 2);
    CHECK_STR(c.access_key_id, "AKID2");
    creds_provider_free(p);
}

TEST(cache_refreshes_before_expiry)
{
    /* 30 s credentials: the refresh window shrinks to half their life, so
     * they are refreshed 15 s early, never used past expiry. */
    counting inner = {.base.vt = &counting_vt, .life_ms = 30000};
    pthread_mutex_init(&inner.mu, NULL);
    creds_provider *p = creds_cached_new(&inner.base, 20000);
    aws_creds c;
    CHECK_INT(creds_get(p, &c, NULL), DM_OK);
    CHECK_INT(creds_get(p, &c, NULL), DM_OK);
    CHECK_INT(inner.calls, 1);
    creds_provider_free(p);

    counting shortlived = {.base.vt = &counting_vt, .life_ms = 400};
    pthread_mutex_init(&shortlived.mu, NULL);
    p = creds_cached_new(&shortlived.base, 0);
    CHECK_INT(creds_get(p, &c, NULL), DM_OK);
    dm_sleep_ms(250); /* past half its life: due for refresh */
    CHECK_INT(creds_get(p, &c, NULL), DM_OK);
    CHECK_INT(shortlived.calls, 2);
    CHECK_STR(c.access_key_id, "AKID2");
    CHECK(c.expiration_ms > dm_now_ms());
    creds_provider_free(p);
}

typedef struct hammer_arg {
    creds_provider *p;
    int bad;
} hammer_arg;

static void *hammer(void *ud)
{
    hammer_arg *a = ud;
    for (int i = 0; i < 2000; i++) {
        aws_creds c;
        if (creds_get(a->p, &c, NULL) != DM_OK || strncmp(c.access_key_id, "AKID", 4) != 0)
            a->bad++;
        if (i % 200 == 0)
            dm_sleep_ms(20);
    }
    return NULL;
}

TEST(cache_is_thread_safe)
{
    counting inner = {.base.vt = &counting_vt, .life_ms = 200, .sleep_ms = 30};
    pthread_mutex_init(&inner.mu, NULL);
    creds_provider *p = creds_cached_new(&inner.base, 0);
    pthread_t t[8];
    hammer_arg a[8];
    for (int i = 0; i < 8; i++) {
        a[i] = (hammer_arg){p, 0};
        pthread_create(&t[i], NULL, hammer, &a[i]);
    }
    int bad = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        bad += a[i].bad;
    }
    CHECK_INT(bad, 0);
    /* 16000 gets; without the single-flight refresh most would fetch. */
    CHECK(inner.calls < 1000);
    creds_provider_free(p);
}

/* What a pipe received from dm_redact_write. */
static void through_filter(const char *text, char *out, size_t size)
{
    int fds[2];
    if (pipe(fds) != 0)
        abort();
    if (dm_redact_write(fds[1], text, strlen(text)) != 0)
        abort();
    close(fds[1]);
    ssize_t n = read(fds[0], out, size - 1);
    out[n > 0 ? n : 0] = '\0';
    close(fds[0]);
}

/* Credentials read by any provider never reach stderr, whatever quotes
 * them; short strings are not taken, so that common words stay. */
TEST(secrets_read_are_redacted_from_stderr)
{
    test_env e;
    clean_env(&e);
    test_env_set(&e, "AWS_ACCESS_KEY_ID", "AKIDREDACT");
    test_env_set(&e, "AWS_SECRET_ACCESS_KEY", "redact-me-secret-1");
    test_env_set(&e, "AWS_SESSION_TOKEN", "redact-me-token-22");
    aws_creds c;
    dm_error err = {0};
    CHECK_INT(chain_creds(&e, NULL, &c, &err), DM_OK);
    char out[512];
    through_filter("url 'http://redact-me-secret-1.invalid/?t=redact-me-token-22' and redact-me-secret-1\n", out,
                   sizeof out);
    CHECK_STR(out, "url 'http://[redacted].invalid/?t=[redacted]' and [redacted]\n");
    dm_redact_add("short");
    through_filter("a short line\n", out, sizeof out);
    CHECK_STR(out, "a short line\n");
    /* Overlapping and adjacent occurrences. */
    dm_redact_add("abcdefgh12");
    through_filter("abcdefgh12abcdefgh12 abcdefgh1\n", out, sizeof out);
    CHECK_STR(out, "[redacted][redacted] abcdefgh1\n");
    test_env_cleanup(&e);
}
