/* Assume-role profiles: the STS answer parser (creds_sts_parse, pure),
 * then whole chains against a loopback STS (tests/fakes/sso_fake.py):
 * each AssumeRole signed with the credentials of the level below, MFA
 * through the settings' prompt, refreshes on a fake clock, and messages
 * that never show a secret. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ddbmig/config.h"
#include "ddbmig/creds.h"
#include "auth/creds_impl.h"
#include "test.h"
#include "testutil.h"

/* ---- the answer parser ------------------------------------------------------------ */

static const char GOOD[] =
    "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
    "  <AssumeRoleResult>\n"
    "    <SourceIdentity>DevUser123</SourceIdentity>\n"
    "    <AssumedRoleUser>\n"
    "      <Arn>arn:aws:sts::123456789012:assumed-role/demo/John</Arn>\n"
    "      <AssumedRoleId>ARO123EXAMPLE123:John</AssumedRoleId>\n"
    "    </AssumedRoleUser>\n"
    "    <Credentials>\n"
    "      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>\n"
    "      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>\n"
    "      <SessionToken>AQoDYXdzEPT//////////wEXAMPLE&amp;tOk&lt;en</SessionToken>\n"
    "      <Expiration>2019-11-09T13:34:41Z</Expiration>\n"
    "    </Credentials>\n"
    "    <PackedPolicySize>6</PackedPolicySize>\n"
    "  </AssumeRoleResult>\n"
    "  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>\n"
    "</AssumeRoleResponse>\n";

TEST(sts_answer)
{
    aws_creds c;
    aws_creds_clear(&c);
    char arn[256];
    dm_error err = {0};
    CHECK_INT(creds_sts_parse("AssumeRole", GOOD, strlen(GOOD), 200, &c, arn, sizeof arn, &err), DM_OK);
    CHECK_STR(c.access_key_id, "ASIAIOSFODNN7EXAMPLE");
    CHECK_STR(c.secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
    CHECK_STR(c.session_token, "AQoDYXdzEPT//////////wEXAMPLE&tOk<en");
    int64_t want;
    dm_parse_iso8601("2019-11-09T13:34:41Z", &want);
    CHECK_INT(c.expiration_ms, want);
    CHECK_STR(arn, "arn:aws:sts::123456789012:assumed-role/demo/John");
    /* The same document answers another action only under its name. */
    CHECK_INT(creds_sts_parse("AssumeRoleWithWebIdentity", GOOD, strlen(GOOD), 200, &c, NULL, 0, &err),
              DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "unexpected answer from STS, without AssumeRoleWithWebIdentityResponse");
}

TEST(sts_error_answer_is_quoted)
{
    static const char doc[] = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"
                              "<Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::1:user/c is "
                              "not authorized to perform: sts:AssumeRole</Message></Error>"
                              "<RequestId>r-1</RequestId></ErrorResponse>";
    aws_creds c;
    dm_error err = {0};
    CHECK_INT(creds_sts_parse("AssumeRole", doc, strlen(doc), 403, &c, NULL, 0, &err), DM_ERR_CREDENTIALS);
    CHECK_STR(err.message, "AssumeRole failed: AccessDenied: User: arn:aws:iam::1:user/c is not authorized to "
                           "perform: sts:AssumeRole (HTTP 403)");
    CHECK_STR(err.type, "AccessDenied");
    /* EC2's shape of error, which moto answers. */
    static const char ec2[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<ErrorResponse><Errors><Error><Code>"
                              "AccessDenied</Code><Message>no</Message><Type>Sender</Type></Error></Errors>"
                              "</ErrorResponse>";
    CHECK_INT(creds_sts_parse("AssumeRole", ec2, strlen(ec2), 403, &c, NULL, 0, &err), DM_ERR_CREDENTIALS);
    CHECK_STR(err.message, "AssumeRole failed: AccessDenied: no (HTTP 403)");
    CHECK_INT(creds_sts_parse("AssumeRole", "busy", 4, 503, &c, NULL, 0, &err), DM_ERR_CREDENTIALS);
    CHECK_STR(err.message, "AssumeRole failed: error: no message (HTTP 503)");
}

#define LEAK "wJalrLEAKEDxSECRETxKEY0123456789abcdefAB"

TEST(sts_malformed_answers_are_never_quoted)
{
    static const char *const docs[] = {
        "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIA</AccessKeyId>"
        "<SecretAccessKey>" LEAK "</SecretAccessKey>",
        "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIA</AccessKeyId><SecretAccessKey>" LEAK
        "</SecretAccessKey><SessionToken>t</SessionToken><Expiration>" LEAK "</Expiration></Credentials>"
        "</AssumeRoleResult></AssumeRoleResponse>",
        "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>" LEAK "</AccessKeyId>"
        "</Credentials></AssumeRoleResult></AssumeRoleResponse>",
        "<!DOCTYPE x [<!ENTITY e \"" LEAK "\">]><AssumeRoleResponse>&e;</AssumeRoleResponse>",
        "<Other>" LEAK "</Other>",
        "",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        aws_creds c;
        aws_creds_clear(&c);
        dm_error err = {0};
        CHECK_INT(creds_sts_parse("AssumeRole", docs[i], strlen(docs[i]), 200, &c, NULL, 0, &err), DM_ERR_CREDENTIALS);
        CHECK_CONTAINS(err.message, "unexpected answer from STS");
        CHECK(!strstr(err.message, LEAK));
        CHECK(!c.secret_access_key[0] && !c.access_key_id[0]);
    }
}

/* ---- against the loopback STS ------------------------------------------------------- */

typedef struct fake {
    pid_t pid;
    char url[64];
    char log[1024];
} fake;

static int fake_start(fake *f, const char *expires_s)
{
    snprintf(f->log, sizeof f->log, "%s/sts.log", test_tmpdir());
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    f->pid = fork();
    if (f->pid == 0) {
        close(fds[0]);
        dup2(fds[1], 1);
        if (expires_s)
            setenv("FAKE_EXPIRES_S", expires_s, 1);
        execlp("python3", "python3", DDBMIG_TESTS_DIR "/fakes/sso_fake.py", f->log, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[32] = {0};
    size_t n = 0;
    while (n + 1 < sizeof line && read(fds[0], line + n, 1) == 1 && line[n] != '\n')
        n++;
    close(fds[0]);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d", atoi(line));
    return atoi(line) > 0 ? 0 : -1;
}

static void fake_stop(fake *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
    }
}

static char *read_all(const char *path)
{
    dm_buf b;
    dm_buf_init(&b, 0);
    if (dm_read_file(path, &b, NULL) != DM_OK) {
        dm_buf_cleanup(&b);
        return strdup("");
    }
    return b.data ? b.data : strdup("");
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

typedef struct fixture {
    fake sts;
    test_env env;
    aws_settings s;
} fixture;

static const char CONFIG[] =
    "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = b\nrole_session_name = run-a\n"
    "[profile b]\nrole_arn = arn:aws:iam::123456789012:role/b\nsource_profile = c\nexternal_id = ext-b\n"
    "duration_seconds = 900\n"
    "[profile env]\nrole_arn = arn:aws:iam::123456789012:role/e\ncredential_source = Environment\n"
    "[profile mfa]\nrole_arn = arn:aws:iam::123456789012:role/m\nsource_profile = c\n"
    "mfa_serial = arn:aws:iam::123456789012:mfa/me\n"
    "[profile proc]\nrole_arn = arn:aws:iam::123456789012:role/p\nsource_profile = process\n"
    "[profile process]\ncredential_process = %s\n"
    "[profile webrole]\nrole_arn = arn:aws:iam::123456789012:role/wr\nsource_profile = web\n"
    "[profile web]\nrole_arn = arn:aws:iam::123456789012:role/w\nweb_identity_token_file = %s\n";

static int setup(fixture *f, const char *expires_s)
{
    memset(f, 0, sizeof *f);
    if (fake_start(&f->sts, expires_s))
        return -1;
    /* test_write_file answers a static buffer: one path at a time. */
    char *proc = strdup(test_write_file("proc.sh",
                                        "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", "
                                        "\"SecretAccessKey\": \"proc-secret-value\"}'\n",
                                        0700));
    char *token = strdup(test_write_file("webtoken", "eyJ.web-identity-token\n", 0600));
    char cfg[4096];
    snprintf(cfg, sizeof cfg, CONFIG, proc, token);
    free(proc);
    free(token);
    test_env_init(&f->env);
    test_env_set(&f->env, "HOME", test_tmpdir());
    test_env_set(&f->env, "AWS_EC2_METADATA_DISABLED", "true");
    test_env_set(&f->env, "AWS_REGION", "eu-central-1");
    test_env_set(&f->env, "AWS_ENDPOINT_URL_STS", f->sts.url);
    test_env_set(&f->env, "AWS_CONFIG_FILE", test_write_file("config", cfg, 0600));
    test_env_set(&f->env, "AWS_SHARED_CREDENTIALS_FILE",
                 test_write_file("credentials",
                                 "[c]\naws_access_key_id = AKIDSTATICC\n"
                                 "aws_secret_access_key = static-secret-c\n",
                                 0600));
    return 0;
}

static int settings_for(fixture *f, const char *profile, dm_error *err)
{
    aws_settings_args a = {.profile = profile};
    return aws_settings_load(&a, &f->env.env, &f->s, err);
}

static void teardown(fixture *f)
{
    aws_settings_cleanup(&f->s);
    fake_stop(&f->sts);
    test_env_cleanup(&f->env);
}

TEST(chain_of_two_roles)
{
    fixture f;
    CHECK_INT(setup(&f, NULL), 0);
    dm_error err = {0};
    CHECK_INT(settings_for(&f, "a", &err), DM_OK);
    creds_provider *p = creds_default_new(&f.s);
    aws_creds c;
    int rc = creds_get(p, &c, &err);
    creds_provider_free(p);
    char *sent = read_all(f.sts.log);
    teardown(&f);
    CHECK_INT(rc, DM_OK);
    /* b first, signed with c's static keys; then a, signed with b's. */
    CHECK_STR(c.access_key_id, "ASIAROLE2");
    CHECK_STR(c.secret_access_key, "role-secret-2");
    CHECK_STR(c.session_token, "role-session-2");
    CHECK(c.expiration_ms > 0);
    CHECK_CONTAINS(c.source, "profile a: role arn:aws:iam::123456789012:role/a via profile b");
    CHECK_INT(count(sent, "Action=AssumeRole"), 2);
    const char *first = strstr(sent, "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fb");
    const char *second = strstr(sent, "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fa");
    CHECK(first && second && first < second);
    CHECK_CONTAINS(sent, "Credential=AKIDSTATICC/");
    CHECK_CONTAINS(sent, "/eu-central-1/sts/aws4_request");
    CHECK_CONTAINS(sent, "Credential=ASIAROLE1/");
    CHECK_CONTAINS(sent, "\"x-amz-security-token\": \"role-session-1\"");
    CHECK_CONTAINS(sent, "ExternalId=ext-b&DurationSeconds=900");
    CHECK_CONTAINS(sent, "RoleSessionName=run-a");
    CHECK_CONTAINS(sent, "RoleSessionName=botocore-session-");
    CHECK(!strstr(sent, "static-secret-c") && !strstr(sent, "role-secret-1"));
    free(sent);
}

TEST(credential_source_environment)
{
    fixture f;
    CHECK_INT(setup(&f, NULL), 0);
    test_env_set(&f.env, "AWS_ACCESS_KEY_ID", "AKIDFROMENV");
    test_env_set(&f.env, "AWS_SECRET_ACCESS_KEY", "env-secret-value");
    dm_error err = {0};
    CHECK_INT(settings_for(&f, "env", &err), DM_OK);
    creds_provider *p = creds_default_new(&f.s);
    aws_creds c;
    int rc = creds_get(p, &c, &err);
    creds_provider_free(p);
    char *sent = read_all(f.sts.log);
    teardown(&f);
    CHECK_INT(rc, DM_OK);
    CHECK_STR(c.access_key_id, "ASIAROLE1");
    CHECK_CONTAINS(c.source, "via environment variables");
    CHECK_CONTAINS(sent, "Credential=AKIDFROMENV/");
    free(sent);
}

TEST(credential_source_environment_without_keys)
{
    fixture f;
    CHECK_INT(setup(&f, NULL), 0);
    dm_error err = {0};
    CHECK_INT(settings_for(&f, "env", &err), DM_OK);
    creds_provider *p = creds_default_new(&f.s);
    aws_creds c;
    int rc = creds_get(p, &c, &err);
    creds_provider_free(p);
    teardown(&f);
    CHECK_INT(rc, DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "profile env: credential_source = Environment, but AWS_ACCESS_KEY_ID and "
                                "AWS_SECRET_ACCESS_KEY are not set");
}

TEST(source_profile_with_credential_process)
{
    fixture f;
    CHECK_INT(setup(&f, NULL), 0);
    dm_error err = {0};
    CHECK_INT(settings_for(&f, "proc", &err), DM_OK);
    creds_provider *p = creds_default_new(&f.s);
    aws_creds c;
    int rc = creds_get(p, &c, &err);
    creds_provider_free(p);
    char *sent = read_all(f.sts.log);
    teardown(&f);
    CHECK_INT(rc, DM_OK);
    CHECK_STR(c.access_key_id, "ASIAROLE1");
    CHECK_CONTAINS(sent, "Credential=AKIDPROC/");
    free(sent);
}

TEST(source_profile_with_web_identity)
{
    fixture f;
    CHECK_INT(setup(&f, NULL), 0);
    dm_error err = {0};
    CHECK_INT(settings_for(&f, "webrole", &err), DM_OK);
    creds_provider *p = creds_default_new(&f.s);
    aws_creds c;
    int rc = creds_get(p, &c, &err);
    creds_provider_free(p);
    char *sent = read_all(f.sts.log);
    teardown(&f);
    CHECK_INT(rc, DM_OK);
    CHECK_STR(c.access_key_id, "ASIAROLE2");
    CHECK_CONTAINS(sent, "Action=AssumeRoleWithWebIdentity");
    CHECK_CONTAINS(sent, "WebIdentityToken=eyJ.web-identity-token");
    CHECK_CONTAINS(sent, "Credential=ASIAWEB1/");
    free(sent);
}

typedef struct prompt_state {
    int calls;
    char serial[128];
    const char *code; /* NULL: the right one */
} prompt_state;

static int fake_prompt(void *ud, const char *profile, const char *serial, char *code, size_t size, dm_error *err)
{
    prompt_state *st = ud;
    (void)profile, (void)err;
    st->calls++;
    dm_strlcpy(st->serial, serial, sizeof st->serial);
    dm_strlcpy(code, st->code ? st->code : "123456", size);
    return DM_OK;
}

TEST(mfa_code_is_asked_once)
{
    fixture f;
    CHECK_INT(setup(&f, NULL), 0);
    dm_error err = {0};
    CHECK_INT(settings_for(&f, "mfa", &err), DM_OK);
    prompt_state st = {0};
    f.s.mfa_prompt = fake_prompt;
    f.s.mfa_prompt_ud = &st;
    creds_provider *p = creds_default_new(&f.s);
    aws_creds c;
    int rc1 = creds_get(p, &c, &err);
    /* A refresh would need a new code: refused, as the CLI does. */
    creds_invalidate(p);
    dm_error err2 = {0};
    int rc2 = creds_get(p, &c, &err2);
    creds_provider_free(p);
    char *sent = read_all(f.sts.log);
    teardown(&f);
    CHECK_INT(rc1, DM_OK);
    CHECK_INT(st.calls, 1);
    CHECK_STR(st.serial, "arn:aws:iam::123456789012:mfa/me");
    CHECK_CONTAINS(sent, "SerialNumber=arn%3Aaws%3Aiam%3A%3A123456789012%3Amfa%2Fme&TokenCode=123456");
    CHECK_INT(rc2, DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err2.message, "needs a new code from the MFA device arn:aws:iam::123456789012:mfa/me");
    free(sent);
}

TEST(mfa_without_a_terminal)
{
    /* No prompt set and no terminal: ddbmig's own prompt says so. Run in
     * a child with a new session, which has no controlling terminal. */
    fixture f;
    CHECK_INT(setup(&f, NULL), 0);
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        setsid();
        dm_error err = {0};
        if (settings_for(&f, "mfa", &err) != DM_OK)
            _exit(3);
        creds_provider *p = creds_default_new(&f.s);
        aws_creds c;
        int rc = creds_get(p, &c, &err);
        (void)!write(fds[1], err.message, strlen(err.message));
        _exit(rc == DM_ERR_CREDENTIALS ? 0 : 1);
    }
    close(fds[1]);
    char msg[1100] = {0};
    size_t n = 0;
    ssize_t r;
    while (n + 1 < sizeof msg && (r = read(fds[0], msg + n, sizeof msg - 1 - n)) > 0)
        n += (size_t)r;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    char *sent = read_all(f.sts.log);
    teardown(&f);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_CONTAINS(msg, "profile mfa needs a code from the MFA device arn:aws:iam::123456789012:mfa/me (mfa_serial), "
                        "and there is no terminal to ask for it on");
    CHECK_INT(count(sent, "Action=AssumeRole"), 0);
    free(sent);
}

static int64_t fake_now;
static int64_t fake_clock(void *ud)
{
    (void)ud;
    return fake_now;
}

TEST(expiring_role_credentials_are_refreshed)
{
    /* STS hands out 900-second credentials. On a clock that moves without
     * waiting: used as they are well before expiry, refreshed (a new
     * AssumeRole, new keys) once inside the refresh window, while the
     * source's static keys are read again without any other call. */
    fixture f;
    CHECK_INT(setup(&f, "900"), 0);
    dm_error err = {0};
    CHECK_INT(settings_for(&f, "b", &err), DM_OK);
    creds_chain chain;
    CHECK_INT(creds_profile_chain(&f.s, "b", &chain, &err), DM_OK);
    creds_provider *inner = NULL;
    CHECK_INT(creds_chain_provider_new(&f.s, &chain, &inner, &err), DM_OK);
    fake_now = dm_now_ms();
    creds_provider *p = creds_cached_new_clock(inner, 0, fake_clock, NULL);
    aws_creds c1, c2, c3;
    int rc1 = creds_get(p, &c1, &err);
    fake_now += 60 * 1000; /* a minute on: still fresh */
    int rc2 = creds_get(p, &c2, &err);
    fake_now = c1.expiration_ms - 4 * 60 * 1000; /* inside the 5-minute window */
    int rc3 = creds_get(p, &c3, &err);
    creds_provider_free(p);
    char *sent = read_all(f.sts.log);
    teardown(&f);
    CHECK_INT(rc1, DM_OK);
    CHECK_INT(rc2, DM_OK);
    CHECK_INT(rc3, DM_OK);
    CHECK_STR(c1.access_key_id, "ASIAROLE1");
    CHECK_STR(c2.access_key_id, "ASIAROLE1");
    CHECK_STR(c3.access_key_id, "ASIAROLE2");
    CHECK(c3.expiration_ms > c1.expiration_ms - 1000);
    CHECK_INT(count(sent, "Action=AssumeRole"), 2);
    free(sent);
}

TEST(sts_refusal_names_the_profile)
{
    fixture f;
    CHECK_INT(setup(&f, NULL), 0);
    dm_error err = {0};
    CHECK_INT(settings_for(&f, "mfa", &err), DM_OK);
    /* A wrong code: STS's refusal is quoted with the profile. */
    prompt_state st = {.code = "000000"};
    f.s.mfa_prompt = fake_prompt;
    f.s.mfa_prompt_ud = &st;
    creds_provider *p = creds_default_new(&f.s);
    aws_creds c;
    int rc = creds_get(p, &c, &err);
    creds_provider_free(p);
    teardown(&f);
    CHECK_INT(rc, DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "profile mfa: AssumeRole failed: AccessDenied: MultiFactorAuthentication failed");
    CHECK(!strstr(err.message, "000000"));

    /* STS unreachable: the message names the profile and the endpoint. */
    fixture g;
    CHECK_INT(setup(&g, NULL), 0);
    test_env_set(&g.env, "AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1");
    CHECK_INT(settings_for(&g, "b", &err), DM_OK);
    p = creds_default_new(&g.s);
    rc = creds_get(p, &c, &err);
    creds_provider_free(p);
    teardown(&g);
    CHECK_INT(rc, DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "profile b: AssumeRole at http://127.0.0.1:1");
    CHECK(!strstr(err.message, "static-secret-c"));
}

/* A source that gives credentials once, then fails. */
typedef struct once_provider {
    creds_provider base;
    int calls;
    int64_t expires_ms;
} once_provider;

static int once_get(creds_provider *p, aws_creds *out, dm_error *err)
{
    once_provider *o = (once_provider *)p;
    if (o->calls++ > 0)
        return dm_error_set(err, DM_ERR_CREDENTIALS, "cannot refresh");
    dm_strlcpy(out->access_key_id, "ASIAONCE", sizeof out->access_key_id);
    dm_strlcpy(out->secret_access_key, "once-secret", sizeof out->secret_access_key);
    out->expiration_ms = o->expires_ms;
    return DM_OK;
}

static void once_free(creds_provider *p)
{
    (void)p;
}

static const creds_vtable once_vt = {"once", once_get, NULL, once_free};

TEST(failed_refresh_is_not_retried_on_every_request)
{
    /* An hour's credentials whose refresh fails (STS down, or a role that
     * would need a new MFA code): used until they expire, the refresh
     * tried again after 30 seconds, not on every call; at expiry, the
     * error. Time moves on a fake clock. */
    fake_now = 1000000000000LL;
    once_provider o = {.base.vt = &once_vt, .expires_ms = fake_now + 3600 * 1000};
    creds_provider *p = creds_cached_new_clock(&o.base, 0, fake_clock, NULL);
    aws_creds c;
    dm_error err = {0};
    dm_log_level quiet = DM_LOG_ERROR;
    dm_log_set_level(quiet); /* the expected warnings */
    CHECK_INT(creds_get(p, &c, &err), DM_OK);
    CHECK_INT(o.calls, 1);
    fake_now = o.expires_ms - 4 * 60 * 1000; /* due */
    for (int i = 0; i < 100; i++) {
        CHECK_INT(creds_get(p, &c, &err), DM_OK);
        CHECK_STR(c.access_key_id, "ASIAONCE");
        fake_now += 100;
    }
    CHECK_INT(o.calls, 2);
    fake_now += 30 * 1000;
    CHECK_INT(creds_get(p, &c, &err), DM_OK);
    CHECK_INT(o.calls, 3);
    fake_now = o.expires_ms - 5000; /* no longer usable */
    CHECK_INT(creds_get(p, &c, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "cannot refresh");
    CHECK_INT(o.calls, 4);
    creds_provider_free(p);
}
