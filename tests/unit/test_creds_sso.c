/* IAM Identity Center: the AWS CLI's token cache (file names checked
 * against botocore's SSOTokenLoader, contents, the refresh rule, the file
 * written back), the OIDC and portal answers, and whole profiles against a
 * loopback portal and OIDC service (tests/fakes/sso_fake.py). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ddbmig/config.h"
#include "ddbmig/creds.h"
#include "auth/creds_impl.h"
#include "test.h"
#include "testutil.h"

/* ---- pure parts ------------------------------------------------------------------ */

TEST(cache_file_names_match_the_cli)
{
    /* Expected values from botocore.utils.SSOTokenLoader._generate_cache_key. */
    creds_sso_config c = {.session = "my-sso", .start_url = "https://my-sso-portal.awsapps.com/start"};
    char key[41];
    creds_sso_cache_key(&c, key);
    CHECK_STR(key, "0ad374308c5a4e22f723adf10145eafad7c4031c");
    c.session[0] = '\0';
    creds_sso_cache_key(&c, key);
    CHECK_STR(key, "c7aaaf71fcc8777ae2475525ed049d39fe16c484");
    dm_strlcpy(c.start_url, "https://d-92671207e4.awsapps.com/start", sizeof c.start_url);
    creds_sso_cache_key(&c, key);
    CHECK_STR(key, "13f9d35043871d073ab260e020f0ffde092cb14b");

    test_env e;
    test_env_init(&e);
    test_env_set(&e, "HOME", "/home/me");
    aws_settings s = {.env = &e.env};
    char path[1200];
    CHECK_INT(creds_sso_cache_path(&s, &c, path, sizeof path, NULL), DM_OK);
    CHECK_STR(path, "/home/me/.aws/sso/cache/13f9d35043871d073ab260e020f0ffde092cb14b.json");
    test_env_cleanup(&e);
}

static const char CLI_TOKEN[] =
    "{\"startUrl\": \"https://corp.awsapps.com/start\", \"region\": \"eu-west-1\", "
    "\"accessToken\": \"aoa-access-token\", \"expiresAt\": \"2030-01-02T03:04:05Z\", "
    "\"clientId\": \"client-id-1\", \"clientSecret\": \"client-secret-1\", "
    "\"registrationExpiresAt\": \"2030-03-01T00:00:00Z\", \"refreshToken\": \"aor-refresh-token\"}";

TEST(token_file_round_trip)
{
    creds_sso_token t;
    dm_error err = {0};
    CHECK_INT(creds_sso_token_parse(CLI_TOKEN, strlen(CLI_TOKEN), &t, &err), DM_OK);
    CHECK_STR(t.access_token, "aoa-access-token");
    CHECK_STR(t.refresh_token, "aor-refresh-token");
    CHECK_STR(t.client_id, "client-id-1");
    CHECK_STR(t.client_secret, "client-secret-1");
    CHECK_STR(t.registration_expires, "2030-03-01T00:00:00Z");
    int64_t want;
    dm_parse_iso8601("2030-01-02T03:04:05Z", &want);
    CHECK_INT(t.expires_ms, want);
    dm_buf out;
    dm_buf_init(&out, 0);
    CHECK_INT(creds_sso_token_format(&t, &out), DM_OK);
    creds_sso_token back;
    CHECK_INT(creds_sso_token_parse(out.data, out.len, &back, &err), DM_OK);
    CHECK_STR(back.access_token, t.access_token);
    CHECK_STR(back.refresh_token, t.refresh_token);
    CHECK_STR(back.client_secret, t.client_secret);
    CHECK_STR(back.start_url, "https://corp.awsapps.com/start");
    CHECK_STR(back.region, "eu-west-1");
    CHECK_INT(back.expires_ms, t.expires_ms);
    CHECK_CONTAINS(out.data, "\"expiresAt\": \"2030-01-02T03:04:05Z\"");
    CHECK_CONTAINS(out.data, "\"registrationExpiresAt\": \"2030-03-01T00:00:00Z\"");
    creds_sso_token_cleanup(&back);
    creds_sso_token_cleanup(&t);
    dm_buf_cleanup(&out);
    /* The AWS CLI v1's cache wrote "...UTC" times. */
    static const char v1[] = "{\"accessToken\": \"x\", \"expiresAt\": \"2030-01-02T03:04:05UTC\"}";
    CHECK_INT(creds_sso_token_parse(v1, strlen(v1), &t, &err), DM_OK);
    CHECK_INT(t.expires_ms, want);
    CHECK(!t.refresh_token);
    creds_sso_token_cleanup(&t);
}

#define LEAK "aoa-LEAKED-access-token-value"

TEST(bad_token_files_are_never_quoted)
{
    static const struct {
        const char *text, *words;
    } cases[] = {
        {"{\"accessToken\": \"" LEAK "\", \"expiresAt\": " LEAK "}", "not valid JSON (line 1, column"},
        {"{\"accessToken\": \"" LEAK "\"}", "no accessToken or no expiresAt"},
        {"{\"accessToken\": \"" LEAK "\", \"expiresAt\": \"" LEAK "\"}", "expiresAt is not an ISO-8601 time"},
        {"[\"" LEAK "\"]", "not a JSON object"},
        {"", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        creds_sso_token t;
        dm_error err = {0};
        CHECK_INT(creds_sso_token_parse(cases[i].text, strlen(cases[i].text), &t, &err), DM_ERR_CREDENTIALS);
        CHECK_CONTAINS(err.message, cases[i].words);
        CHECK(!strstr(err.message, LEAK));
    }
}

TEST(refresh_rule)
{
    creds_sso_token t;
    CHECK_INT(creds_sso_token_parse(CLI_TOKEN, strlen(CLI_TOKEN), &t, NULL), DM_OK);
    int64_t exp = t.expires_ms, reg = t.registration_expires_ms;
    CHECK(!creds_sso_token_due(&t, exp - 16 * 60 * 1000));
    CHECK(creds_sso_token_due(&t, exp - 14 * 60 * 1000));
    CHECK(creds_sso_token_due(&t, exp + 1));
    CHECK(creds_sso_token_refreshable(&t, exp));
    CHECK(!creds_sso_token_refreshable(&t, reg)); /* the registration has expired */
    free(t.client_secret);
    t.client_secret = NULL;
    CHECK(!creds_sso_token_refreshable(&t, exp));
    creds_sso_token_cleanup(&t);
    static const char no_reg[] = "{\"accessToken\": \"a\", \"expiresAt\": \"2030-01-01T00:00:00Z\", \"clientId\": "
                                 "\"c\", \"clientSecret\": \"s\", \"refreshToken\": \"r\"}";
    CHECK_INT(creds_sso_token_parse(no_reg, strlen(no_reg), &t, NULL), DM_OK);
    CHECK(!creds_sso_token_refreshable(&t, 0));
    creds_sso_token_cleanup(&t);
}

TEST(create_token_answers)
{
    creds_sso_token t;
    CHECK_INT(creds_sso_token_parse(CLI_TOKEN, strlen(CLI_TOKEN), &t, NULL), DM_OK);
    static const char ok[] =
        "{\"accessToken\": \"new-access\", \"expiresIn\": 3600, \"refreshToken\": \"new-refresh\", "
        "\"tokenType\": \"Bearer\"}";
    dm_error err = {0};
    CHECK_INT(creds_sso_apply_create_token(ok, strlen(ok), 200, 1000000, &t, &err), DM_OK);
    CHECK_STR(t.access_token, "new-access");
    CHECK_STR(t.refresh_token, "new-refresh");
    CHECK_INT(t.expires_ms, 1000000 + 3600 * 1000);
    CHECK_STR(t.client_secret, "client-secret-1");
    /* Without a refreshToken in the answer, the CLI keeps none. */
    static const char bare[] = "{\"accessToken\": \"newer\", \"expiresIn\": 60}";
    CHECK_INT(creds_sso_apply_create_token(bare, strlen(bare), 200, 0, &t, &err), DM_OK);
    CHECK(!t.refresh_token);
    static const char refused[] = "{\"error\": \"invalid_grant\", \"error_description\": \"Invalid refresh token\"}";
    CHECK_INT(creds_sso_apply_create_token(refused, strlen(refused), 400, 0, &t, &err), DM_ERR_CREDENTIALS);
    CHECK_STR(err.message, "CreateToken failed: invalid_grant: Invalid refresh token (HTTP 400)");
    static const char leaky[] = "{\"accessToken\": \"" LEAK "\", \"expiresIn\": \"" LEAK "\"}";
    CHECK_INT(creds_sso_apply_create_token(leaky, strlen(leaky), 200, 0, &t, &err), DM_ERR_CREDENTIALS);
    CHECK(!strstr(err.message, LEAK));
    CHECK_STR(t.access_token, "newer");
    creds_sso_token_cleanup(&t);
}

TEST(role_credentials_answers)
{
    static const char ok[] =
        "{\"roleCredentials\": {\"accessKeyId\": \"ASIASSO\", \"secretAccessKey\": \"sso-secret\", "
        "\"sessionToken\": \"sso-token\", \"expiration\": 1893456000000}}";
    aws_creds c;
    aws_creds_clear(&c);
    dm_error err = {0};
    CHECK_INT(creds_sso_parse_role_credentials(ok, strlen(ok), &c, &err), DM_OK);
    CHECK_STR(c.access_key_id, "ASIASSO");
    CHECK_STR(c.secret_access_key, "sso-secret");
    CHECK_STR(c.session_token, "sso-token");
    CHECK_INT(c.expiration_ms, 1893456000000LL);
    static const char *const bad[] = {
        "{\"roleCredentials\": {\"accessKeyId\": \"A\", \"secretAccessKey\": \"" LEAK "\"}}",
        "{\"roleCredentials\": {\"accessKeyId\": \"A\", \"secretAccessKey\": \"" LEAK "\", \"sessionToken\": \"t\", "
        "\"expiration\": \"" LEAK "\"}}",
        "{\"roleCredentials\": {\"secretAccessKey\": " LEAK "}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        aws_creds_clear(&c);
        CHECK_INT(creds_sso_parse_role_credentials(bad[i], strlen(bad[i]), &c, &err), DM_ERR_CREDENTIALS);
        CHECK_CONTAINS(err.message, "GetRoleCredentials");
        CHECK(!strstr(err.message, LEAK));
    }
}

TEST(cache_write_is_private_and_whole)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/token.json", test_tmpdir());
    CHECK_INT(creds_sso_write_cache(path, "{\"a\": 1}\n", 9, NULL), DM_OK);
    CHECK_INT(creds_sso_write_cache(path, "{\"b\": 2}\n", 9, NULL), DM_OK);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK_INT(st.st_mode & 0777, 0600);
    dm_buf b;
    dm_buf_init(&b, 0);
    CHECK_INT(dm_read_file(path, &b, NULL), DM_OK);
    CHECK_STR(b.data, "{\"b\": 2}\n");
    dm_buf_cleanup(&b);
    dm_error err = {0};
    CHECK_INT(creds_sso_write_cache("/nonexistent-dir/x.json", "{}", 2, &err), DM_ERR_IO);
    CHECK_CONTAINS(err.message, "/nonexistent-dir/x.json");
}

/* ---- whole profiles against the loopback portal ----------------------------------------- */

typedef struct fixture {
    pid_t pid;
    char url[64];
    char log[1024];
    char home[1024];
    test_env env;
    aws_settings s;
} fixture;

static const char CONFIG[] =
    "[profile dev]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Migrator\n"
    "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n"
    "sso_registration_scopes = sso:account:access\n"
    "[profile old]\nsso_start_url = https://old.awsapps.com/start\nsso_region = us-east-2\n"
    "sso_account_id = 444455556666\nsso_role_name = Migrator\n"
    "[profile nope]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Forbidden\n"
    "[profile role]\nrole_arn = arn:aws:iam::111122223333:role/r\nsource_profile = dev\n";

static int setup(fixture *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->log, sizeof f->log, "%s/sso.log", test_tmpdir());
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    f->pid = fork();
    if (f->pid == 0) {
        close(fds[0]);
        dup2(fds[1], 1);
        execlp("python3", "python3", DDBMIG_TESTS_DIR "/fakes/sso_fake.py", f->log, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[32] = {0};
    size_t n = 0;
    while (n + 1 < sizeof line && read(fds[0], line + n, 1) == 1 && line[n] != '\n')
        n++;
    close(fds[0]);
    if (atoi(line) <= 0)
        return -1;
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d", atoi(line));
    snprintf(f->home, sizeof f->home, "%s", test_tmpdir());
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/.aws", f->home);
    mkdir(dir, 0700);
    snprintf(dir, sizeof dir, "%s/.aws/sso", f->home);
    mkdir(dir, 0700);
    snprintf(dir, sizeof dir, "%s/.aws/sso/cache", f->home);
    mkdir(dir, 0700);
    test_env_init(&f->env);
    test_env_set(&f->env, "HOME", f->home);
    test_env_set(&f->env, "AWS_EC2_METADATA_DISABLED", "true");
    test_env_set(&f->env, "AWS_ENDPOINT_URL_SSO", f->url);
    test_env_set(&f->env, "AWS_ENDPOINT_URL_SSO_OIDC", f->url);
    test_env_set(&f->env, "AWS_ENDPOINT_URL_STS", f->url);
    test_env_set(&f->env, "AWS_CONFIG_FILE", test_write_file("config", CONFIG, 0600));
    return 0;
}

static void teardown(fixture *f)
{
    aws_settings_cleanup(&f->s);
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
    }
    test_env_cleanup(&f->env);
}

/* Writes the cache file of sso-session NAME (or start URL) with a token
 * expiring `in_s` seconds from now; refresh: with refresh settings. */
static void write_token(fixture *f, const char *session, const char *start_url, const char *token, long in_s,
                        int refresh, char *path_out)
{
    creds_sso_config c = {0};
    dm_strlcpy(c.session, session ? session : "", sizeof c.session);
    dm_strlcpy(c.start_url, start_url, sizeof c.start_url);
    char key[41];
    creds_sso_cache_key(&c, key);
    char exp[21];
    dm_format_iso8601(dm_now_ms() + in_s * 1000, exp);
    char text[2048];
    snprintf(text, sizeof text,
             "{\"startUrl\": \"%s\", \"region\": \"eu-west-1\", \"accessToken\": \"%s\", \"expiresAt\": \"%s\"%s}",
             start_url, token, exp,
             refresh ? ", \"clientId\": \"sso-client-id\", \"clientSecret\": \"sso-client-secret-value\", "
                       "\"registrationExpiresAt\": \"2099-01-01T00:00:00Z\", "
                       "\"refreshToken\": \"sso-refresh-token-good\""
                     : "");
    snprintf(path_out, 1200, "%s/.aws/sso/cache/%s.json", f->home, key);
    FILE *fp = fopen(path_out, "w");
    if (fp) {
        fputs(text, fp);
        fclose(fp);
    }
}

static int get(fixture *f, const char *profile, aws_creds *c, dm_error *err)
{
    aws_settings_args a = {.profile = profile};
    int rc = aws_settings_load(&a, &f->env.env, &f->s, err);
    if (rc)
        return rc;
    creds_provider *p = creds_default_new(&f->s);
    rc = creds_get(p, c, err);
    creds_provider_free(p);
    aws_settings_cleanup(&f->s);
    return rc;
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

TEST(sso_session_profile_with_a_valid_token)
{
    fixture f;
    CHECK_INT(setup(&f), 0);
    char path[1200];
    write_token(&f, "corp", "https://corp.awsapps.com/start", "sso-access-token-valid", 3600, 1, path);
    char *before = read_all(path);
    aws_creds c;
    dm_error err = {0};
    int rc = get(&f, "dev", &c, &err);
    char *after = read_all(path);
    char *sent = read_all(f.log);
    teardown(&f);
    CHECK_INT(rc, DM_OK);
    CHECK_STR(c.access_key_id, "ASIASSO1");
    CHECK_STR(c.secret_access_key, "sso-role-secret-1");
    CHECK_STR(c.session_token, "sso-role-session-1");
    CHECK(c.expiration_ms > 0);
    CHECK_STR(c.source, "profile dev: IAM Identity Center, account 111122223333, role Migrator");
    CHECK_CONTAINS(sent, "/federation/credentials?role_name=Migrator&account_id=111122223333");
    CHECK_CONTAINS(sent, "\"x-amz-sso_bearer_token\": \"sso-access-token-valid\"");
    CHECK(!strstr(sent, "/token"));
    CHECK_STR(after, before); /* not due: not refreshed, not rewritten */
    free(before), free(after), free(sent);
}

TEST(sso_session_token_expired_is_refreshed_and_saved)
{
    fixture f;
    CHECK_INT(setup(&f), 0);
    char path[1200];
    write_token(&f, "corp", "https://corp.awsapps.com/start", "sso-access-token-stale", -60, 1, path);
    aws_creds c;
    dm_error err = {0};
    int rc = get(&f, "dev", &c, &err);
    char *after = read_all(path);
    char *sent = read_all(f.log);
    struct stat st;
    int mode = stat(path, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
    teardown(&f);
    if (rc)
        fprintf(stderr, "%s\n", err.message);
    CHECK_INT(rc, DM_OK);
    CHECK_STR(c.access_key_id, "ASIASSO2");
    CHECK_CONTAINS(sent, "\"path\": \"/token\"");
    CHECK_CONTAINS(sent, "grantType\\\":\\\"refresh_token");
    CHECK_CONTAINS(sent, "\"x-amz-sso_bearer_token\": \"sso-access-token-refreshed-1\"");
    creds_sso_token t;
    CHECK_INT(creds_sso_token_parse(after, strlen(after), &t, &err), DM_OK);
    CHECK_STR(t.access_token, "sso-access-token-refreshed-1");
    CHECK_STR(t.refresh_token, "sso-refresh-token-rotated-1");
    CHECK_STR(t.client_id, "sso-client-id");
    CHECK_STR(t.client_secret, "sso-client-secret-value");
    CHECK_STR(t.registration_expires, "2099-01-01T00:00:00Z");
    CHECK_STR(t.start_url, "https://corp.awsapps.com/start");
    CHECK_STR(t.region, "eu-west-1");
    CHECK(creds_sso_token_due(&t, dm_now_ms()) == false);
    CHECK_INT(mode, 0600);
    creds_sso_token_cleanup(&t);
    free(after), free(sent);
}

TEST(sso_token_near_expiry_is_refreshed)
{
    fixture f;
    CHECK_INT(setup(&f), 0);
    char path[1200];
    /* Still valid for ten minutes, inside the CLI's 15-minute window; the
     * old token still works for GetRoleCredentials, the new one is used. */
    write_token(&f, "corp", "https://corp.awsapps.com/start", "sso-access-token-valid", 600, 1, path);
    aws_creds c;
    dm_error err = {0};
    int rc = get(&f, "dev", &c, &err);
    char *after = read_all(path);
    teardown(&f);
    CHECK_INT(rc, DM_OK);
    CHECK_CONTAINS(after, "sso-access-token-refreshed-1");
    free(after);
}

TEST(sso_missing_login)
{
    fixture f;
    CHECK_INT(setup(&f), 0);
    aws_creds c;
    dm_error err = {0};
    int rc = get(&f, "dev", &c, &err);
    teardown(&f);
    CHECK_INT(rc, DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "profile dev: no IAM Identity Center login is cached for sso-session corp");
    CHECK_CONTAINS(err.message, "/.aws/sso/cache/ee0bfd2552fbd840c02cc48b6e823320543c450f.json does not exist");
    CHECK_CONTAINS(err.message, "run: aws sso login --profile dev");
}

TEST(sso_expired_without_refresh)
{
    fixture f;
    CHECK_INT(setup(&f), 0);
    char path[1200];
    write_token(&f, "corp", "https://corp.awsapps.com/start", "sso-access-token-valid", -60, 0, path);
    aws_creds c;
    dm_error err = {0};
    int rc = get(&f, "dev", &c, &err);
    char *sent = read_all(f.log);
    teardown(&f);
    CHECK_INT(rc, DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "profile dev: the IAM Identity Center login expired at");
    CHECK_CONTAINS(err.message, "(no usable refresh token); run: aws sso login --profile dev");
    CHECK_STR(sent, ""); /* nothing was sent */
    free(sent);
}

TEST(sso_refresh_refused)
{
    fixture f;
    CHECK_INT(setup(&f), 0);
    char path[1200];
    write_token(&f, "corp", "https://corp.awsapps.com/start", "sso-access-token-stale", -60, 1, path);
    /* A refresh token the service no longer takes. */
    char *text = read_all(path);
    char *at = strstr(text, "sso-refresh-token-good");
    if (at)
        memcpy(at, "sso-refresh-token-BAD!", 22);
    FILE *fp = fopen(path, "w");
    if (fp) {
        fputs(text, fp);
        fclose(fp);
    }
    free(text);
    aws_creds c;
    dm_error err = {0};
    int rc = get(&f, "dev", &c, &err);
    teardown(&f);
    CHECK_INT(rc, DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "refreshing it failed: CreateToken failed: invalid_grant: Invalid refresh token");
    CHECK_CONTAINS(err.message, "run: aws sso login --profile dev");
    CHECK(!strstr(err.message, "sso-refresh-token") && !strstr(err.message, "sso-client-secret"));
}

TEST(legacy_profile)
{
    fixture f;
    CHECK_INT(setup(&f), 0);
    char path[1200];
    write_token(&f, NULL, "https://old.awsapps.com/start", "sso-access-token-valid", 3600, 0, path);
    aws_creds c;
    dm_error err = {0};
    int rc = get(&f, "old", &c, &err);
    char *sent = read_all(f.log);
    CHECK_INT(rc, DM_OK);
    CHECK_STR(c.access_key_id, "ASIASSO1");
    CHECK_CONTAINS(sent, "role_name=Migrator&account_id=444455556666");
    free(sent);
    /* Expired: the legacy form is never refreshed, even with a refresh
     * token (as in the CLI). */
    write_token(&f, NULL, "https://old.awsapps.com/start", "sso-access-token-valid", -60, 1, path);
    rc = get(&f, "old", &c, &err);
    sent = read_all(f.log);
    teardown(&f);
    CHECK_INT(rc, DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "profile old: the IAM Identity Center login expired at");
    CHECK_CONTAINS(err.message, "run: aws sso login --profile old");
    CHECK(!strstr(sent, "/token"));
    free(sent);
}

TEST(sso_refusals)
{
    fixture f;
    CHECK_INT(setup(&f), 0);
    char path[1200];
    /* A token the portal does not know (signed out elsewhere). */
    write_token(&f, "corp", "https://corp.awsapps.com/start", "sso-access-token-revoked", 3600, 0, path);
    aws_creds c;
    dm_error err = {0};
    int rc1 = get(&f, "dev", &c, &err);
    char m1[1024];
    dm_strlcpy(m1, err.message, sizeof m1);
    write_token(&f, "corp", "https://corp.awsapps.com/start", "sso-access-token-valid", 3600, 0, path);
    int rc2 = get(&f, "nope", &c, &err);
    teardown(&f);
    CHECK_INT(rc1, DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(m1, "IAM Identity Center refused the cached login (HTTP 401: Session token not found or invalid); "
                       "run: aws sso login --profile dev");
    CHECK(!strstr(m1, "sso-access-token-revoked"));
    CHECK_INT(rc2, DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "GetRoleCredentials for role Forbidden in account 111122223333 failed: HTTP 403: No "
                                "access");
}

TEST(role_on_top_of_sso)
{
    fixture f;
    CHECK_INT(setup(&f), 0);
    char path[1200];
    write_token(&f, "corp", "https://corp.awsapps.com/start", "sso-access-token-valid", 3600, 0, path);
    aws_creds c;
    dm_error err = {0};
    int rc = get(&f, "role", &c, &err);
    char *sent = read_all(f.log);
    teardown(&f);
    CHECK_INT(rc, DM_OK);
    CHECK_STR(c.access_key_id, "ASIAROLE2");
    CHECK_CONTAINS(sent, "Credential=ASIASSO1/");
    free(sent);
}
