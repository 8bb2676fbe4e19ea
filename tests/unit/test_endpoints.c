/* Endpoints from every place they are configured go through the one URL
 * parser: an unparsable one is refused with a message naming where it came
 * from, a password in it never shows, and credential endpoints (STS,
 * container, instance metadata) refuse bad URLs rather than going
 * elsewhere. */
#include <stdlib.h>
#include <string.h>

#include "ddbmig/config.h"
#include "ddbmig/creds.h"
#include "ddbmig/ddb.h"
#include "test.h"
#include "testutil.h"

static void clean_env(test_env *e)
{
    test_env_init(e);
    test_env_set(e, "HOME", test_tmpdir());
    test_env_set(e, "AWS_EC2_METADATA_DISABLED", "true");
    test_env_set(e, "AWS_REGION", "eu-west-1");
}

/* Resolves the DynamoDB endpoint with value configured through source
 * ("--endpoint-url", an environment variable, or "profile"). */
static int resolve(const char *source, const char *value, char *url, dm_error *err)
{
    test_env e;
    clean_env(&e);
    aws_settings_args a = {0};
    if (strcmp(source, "--endpoint-url") == 0) {
        a.endpoint_url = value;
    } else if (strcmp(source, "profile") == 0) {
        char text[1024];
        snprintf(text, sizeof text, "[default]\nendpoint_url = %s\n", value);
        test_env_set(&e, "AWS_CONFIG_FILE", test_write_file("config", text, 0600));
    } else {
        test_env_set(&e, source, value);
    }
    aws_settings s;
    int rc = aws_settings_load(&a, &e.env, &s, err);
    if (rc == DM_OK) {
        rc = aws_settings_endpoint(&s, "DYNAMODB", "dynamodb", url, 512, err);
        aws_settings_cleanup(&s);
    }
    test_env_cleanup(&e);
    return rc;
}

static const char *const sources[] = {"--endpoint-url", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL", "profile"};
static const char *const named[] = {"--endpoint-url: ", "AWS_ENDPOINT_URL_DYNAMODB: ", "AWS_ENDPOINT_URL: ",
                                    "endpoint_url of profile 'default' in "};

TEST(unparsable_endpoints_name_their_source)
{
    static const char *const bad[] = {"http//x", "ftp://x", "http://", "http://[::1", "http://h:99999",
                                      "http://a b", "http://h/\x01", "localhost:8000"};
    for (size_t s = 0; s < 4; s++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            if (s == 3 && strchr(bad[i], ' ')) /* the INI reader trims and splits on its own */
                continue;
            char url[512];
            dm_error err = {0};
            int rc = resolve(sources[s], bad[i], url, &err);
            if (rc != DM_ERR_INVALID || !strstr(err.message, named[s]) ||
                !strstr(err.message, "is not a valid URL"))
                fprintf(stderr, "  %s = [%s]: rc %d, %s\n", sources[s], bad[i], rc, err.message);
            CHECK_INT(rc, DM_ERR_INVALID);
            CHECK_CONTAINS(err.message, named[s]);
            CHECK_CONTAINS(err.message, "is not a valid URL");
        }
    }
}

TEST(password_in_an_endpoint_is_never_shown)
{
    static const char *const bad[] = {"http://alice:s3cr3t@localhost:8000", "https://alice:s3cr3t@db.example/",
                                      "http//alice:s3cr3t@localhost", "http://alice:s3cr3t@[::1"};
    for (size_t s = 0; s < 4; s++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            char url[512];
            dm_error err = {0};
            CHECK_INT(resolve(sources[s], bad[i], url, &err), DM_ERR_INVALID);
            CHECK(strstr(err.message, "s3cr3t") == NULL);
            CHECK(strstr(err.message, "alice") == NULL);
            CHECK_CONTAINS(err.message, "[redacted]");
        }
    }
}

TEST(endpoint_with_a_query_or_fragment_is_refused)
{
    char url[512];
    dm_error err = {0};
    CHECK_INT(resolve("AWS_ENDPOINT_URL", "http://localhost:8000/?x=1", url, &err), DM_ERR_INVALID);
    CHECK_CONTAINS(err.message, "AWS_ENDPOINT_URL: 'http://localhost:8000/?x=1' has a query or fragment");
    CHECK_INT(resolve("--endpoint-url", "http://localhost:8000#top", url, &err), DM_ERR_INVALID);
    CHECK_CONTAINS(err.message, "query or fragment");
}

TEST(good_endpoints_are_kept_as_written)
{
    char url[512];
    dm_error err = {0};
    CHECK_INT(resolve("--endpoint-url", "HTTP://[::1]:8000/", url, &err), DM_OK);
    CHECK_STR(url, "HTTP://[::1]:8000");
    CHECK_INT(resolve("profile", "https://dynamodb.eu-west-1.amazonaws.com", url, &err), DM_OK);
    CHECK_STR(url, "https://dynamodb.eu-west-1.amazonaws.com");
}

TEST(overlong_endpoint_argument_is_refused)
{
    static char v[700];
    memcpy(v, "http://h/", 9);
    memset(v + 9, 'a', sizeof v - 10);
    char url[512];
    dm_error err = {0};
    CHECK_INT(resolve("--endpoint-url", v, url, &err), DM_ERR_INVALID);
    CHECK_CONTAINS(err.message, "--endpoint-url is longer than");
    CHECK_INT(resolve("AWS_ENDPOINT_URL", v, url, &err), DM_ERR_INVALID);
    CHECK_CONTAINS(err.message, "is longer than 511 characters");
}

/* Without an endpoint, the region becomes part of the regional host name. */
TEST(region_that_cannot_be_a_host_name)
{
    static const char *const bad[] = {"eu west 1", "eu-west-1/x", "eu-west-1?", "eu_west@1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        test_env e;
        clean_env(&e);
        test_env_set(&e, "AWS_REGION", bad[i]);
        aws_settings s;
        dm_error err = {0};
        char url[512];
        int rc = aws_settings_load(NULL, &e.env, &s, &err);
        if (rc == DM_OK) {
            rc = aws_settings_endpoint(&s, "DYNAMODB", "dynamodb", url, sizeof url, &err);
            aws_settings_cleanup(&s);
        }
        test_env_cleanup(&e);
        CHECK_INT(rc, DM_ERR_INVALID);
        CHECK_CONTAINS(err.message, "(from AWS_REGION) cannot be part of a host name");
    }
}

/* The DynamoDB client parses what a library caller passes, too. */
TEST(client_refuses_an_unusable_endpoint)
{
    static const char *const bad[] = {"http//x", "http://alice:s3cr3t@h", "http://h/?q", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ddb_options o = {.endpoint = bad[i], .region = "us-east-1"};
        dm_error err = {0};
        ddb_shared *s = ddb_shared_new(&o, &err);
        CHECK(s == NULL);
        CHECK_INT(err.code, DM_ERR_CONFIG);
        CHECK(strstr(err.message, "s3cr3t") == NULL);
    }
    ddb_options o = {.endpoint = "http://[::1]:8000/base", .region = "us-east-1"};
    ddb_shared *s = ddb_shared_new(&o, NULL);
    CHECK(s != NULL);
    CHECK_STR(ddb_shared_endpoint(s), "http://[::1]:8000/base");
    ddb_shared_free(s);
}

/* ---- credential endpoints ------------------------------------------------ */

static int chain(test_env *e, aws_creds *c, dm_error *err)
{
    aws_settings s;
    int rc = aws_settings_load(NULL, &e->env, &s, err);
    if (rc)
        return rc;
    creds_provider *p = creds_default_new(&s);
    rc = creds_get(p, c, err);
    creds_provider_free(p);
    aws_settings_cleanup(&s);
    return rc;
}

/* A bad STS endpoint fails web identity; the token is not sent to the
 * global STS endpoint instead. */
TEST(web_identity_with_an_unparsable_sts_endpoint)
{
    test_env e;
    clean_env(&e);
    test_env_set(&e, "AWS_ENDPOINT_URL_STS", "https://alice:s3cr3t@sts.example");
    test_env_set(&e, "AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/migrator");
    test_env_set(&e, "AWS_WEB_IDENTITY_TOKEN_FILE", test_write_file("token", "eyJ.token\n", 0600));
    aws_creds c;
    dm_error err = {0};
    int rc = chain(&e, &c, &err);
    test_env_cleanup(&e);
    CHECK_INT(rc, DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "AWS_ENDPOINT_URL_STS: 'https://[redacted]@sts.example' is not a valid URL");
}

static void container_refused(const char *var, const char *value, const char *words)
{
    test_env e;
    clean_env(&e);
    test_env_set(&e, var, value);
    aws_creds c;
    dm_error err = {0};
    int rc = chain(&e, &c, &err);
    test_env_cleanup(&e);
    CHECK_INT(rc, DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, words);
    CHECK(strstr(err.message, "s3cr3t") == NULL);
}

TEST(container_endpoint_must_parse)
{
    container_refused("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://alice:s3cr3t@127.0.0.1/creds",
                      "AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://[redacted]@127.0.0.1/creds' is not a valid URL");
    container_refused("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://[::1/creds", "no closing ']'");
    container_refused("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/creds with space",
                      "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: 'http://169.254.170.2/v2/creds with space'");
}

/* Plain http only to loopback or the agents' addresses, compared as
 * addresses: a host name that merely starts with "127." is not loopback. */
TEST(container_plain_http_only_to_loopback_addresses)
{
    container_refused("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.example.com/creds", "must use https");
    container_refused("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.99/creds", "must use https");
    container_refused("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://[fd00:ec2::24]/creds", "must use https");
}

TEST(instance_metadata_endpoint_must_parse)
{
    test_env e;
    clean_env(&e);
    test_env_set(&e, "AWS_EC2_METADATA_DISABLED", "false");
    test_env_set(&e, "AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://169.254.169.254:99999");
    aws_creds c;
    dm_error err = {0};
    int rc = chain(&e, &c, &err);
    test_env_cleanup(&e);
    CHECK_INT(rc, DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://169.254.169.254:99999' is not a valid URL");
}
