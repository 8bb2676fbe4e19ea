/* Profile chains as the AWS CLI resolves them (creds_profile_chain, pure:
 * config files in, a chain out), the AssumeRole form a role profile's
 * settings make, and the errors a person meets: loops named, missing and
 * conflicting settings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddbmig/config.h"
#include "ddbmig/creds.h"
#include "auth/creds_impl.h"
#include "test.h"
#include "testutil.h"

typedef struct fixture {
    test_env env;
    aws_settings s;
} fixture;

/* Settings over a config and a credentials file with this text. */
static int load(fixture *f, const char *config, const char *credentials)
{
    test_env_init(&f->env);
    test_env_set(&f->env, "HOME", test_tmpdir());
    test_env_set(&f->env, "AWS_CONFIG_FILE", test_write_file("config", config ? config : "", 0600));
    test_env_set(&f->env, "AWS_SHARED_CREDENTIALS_FILE",
                 test_write_file("credentials", credentials ? credentials : "", 0600));
    dm_error err = {0};
    int rc = aws_settings_load(NULL, &f->env.env, &f->s, &err);
    if (rc)
        fprintf(stderr, "settings: %s\n", err.message);
    return rc;
}

static void unload(fixture *f)
{
    aws_settings_cleanup(&f->s);
    test_env_cleanup(&f->env);
}

static const char CHAIN[] =
    "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = b\n"
    "[profile b]\nrole_arn = arn:aws:iam::123456789012:role/b\nsource_profile = c\n"
    "[profile env]\nrole_arn = arn:aws:iam::123456789012:role/e\ncredential_source = Environment\n"
    "[profile imds]\nrole_arn = arn:aws:iam::123456789012:role/i\ncredential_source = Ec2InstanceMetadata\n"
    "[profile ecs]\nrole_arn = arn:aws:iam::123456789012:role/x\ncredential_source = EcsContainer\n";

TEST(chain_of_roles_down_to_static_keys)
{
    fixture f;
    CHECK_INT(load(&f, CHAIN, "[c]\naws_access_key_id = AKIDC\naws_secret_access_key = secret-c\n"), DM_OK);
    creds_chain c;
    dm_error err = {0};
    CHECK_INT(creds_profile_chain(&f.s, "a", &c, &err), DM_OK);
    CHECK_INT(c.base, CREDS_BASE_STATIC);
    CHECK_STR(c.base_profile, "c");
    CHECK_INT(c.n_roles, 2);
    CHECK_STR(c.roles[0], "b"); /* assumed first, with c's keys */
    CHECK_STR(c.roles[1], "a");
    CHECK_INT(creds_profile_chain(&f.s, "b", &c, &err), DM_OK);
    CHECK_INT(c.n_roles, 1);
    CHECK_STR(c.roles[0], "b");
    CHECK_INT(creds_profile_chain(&f.s, "c", &c, &err), DM_OK);
    CHECK_INT(c.n_roles, 0);
    CHECK_INT(c.base, CREDS_BASE_STATIC);
    unload(&f);
}

TEST(credential_sources)
{
    fixture f;
    CHECK_INT(load(&f, CHAIN, NULL), DM_OK);
    static const struct {
        const char *profile;
        creds_base base;
    } cases[] = {{"env", CREDS_BASE_ENVIRONMENT}, {"imds", CREDS_BASE_IMDS}, {"ecs", CREDS_BASE_CONTAINER}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        creds_chain c;
        dm_error err = {0};
        CHECK_INT(creds_profile_chain(&f.s, cases[i].profile, &c, &err), DM_OK);
        CHECK_INT(c.base, cases[i].base);
        CHECK_STR(c.base_profile, cases[i].profile);
        CHECK_INT(c.n_roles, 1);
        CHECK_STR(c.roles[0], cases[i].profile);
    }
    unload(&f);
}

TEST(loops_are_named)
{
    fixture f;
    CHECK_INT(load(&f,
                   "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = b\n"
                   "[profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = c\n"
                   "[profile c]\nrole_arn = arn:aws:iam::1:role/c\nsource_profile = a\n"
                   "[profile self]\nrole_arn = arn:aws:iam::1:role/s\nsource_profile = self\n"
                   "[profile x]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = y\n"
                   "[profile y]\nrole_arn = arn:aws:iam::1:role/y\nsource_profile = y\n",
                   NULL),
              DM_OK);
    creds_chain c;
    dm_error err = {0};
    CHECK_INT(creds_profile_chain(&f.s, "a", &c, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "source_profile loops: profile a -> b -> c -> a");
    CHECK_INT(creds_profile_chain(&f.s, "b", &c, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "profile b -> c -> a -> b");
    /* Naming itself is a loop unless the profile has static keys. */
    CHECK_INT(creds_profile_chain(&f.s, "self", &c, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "profile self -> self");
    CHECK_INT(creds_profile_chain(&f.s, "x", &c, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "profile x -> y -> y");
    unload(&f);
}

TEST(a_role_profile_may_source_its_own_static_keys)
{
    fixture f;
    CHECK_INT(load(&f, "[profile me]\nrole_arn = arn:aws:iam::1:role/me\nsource_profile = me\n",
                   "[me]\naws_access_key_id = AKIDME\naws_secret_access_key = s\n"),
              DM_OK);
    creds_chain c;
    dm_error err = {0};
    CHECK_INT(creds_profile_chain(&f.s, "me", &c, &err), DM_OK);
    CHECK_INT(c.base, CREDS_BASE_STATIC);
    CHECK_STR(c.base_profile, "me");
    CHECK_INT(c.n_roles, 1);
    CHECK_STR(c.roles[0], "me");
    unload(&f);
}

TEST(static_keys_win_below_the_top_but_not_at_it)
{
    /* The CLI assumes the asked-for profile's role even when it has keys;
     * a source profile with keys gives its keys, its role_arn unused. */
    fixture f;
    CHECK_INT(load(&f,
                   "[profile top]\nrole_arn = arn:aws:iam::1:role/top\nsource_profile = mid\n"
                   "aws_access_key_id = AKIDTOP\naws_secret_access_key = t\n"
                   "[profile mid]\nrole_arn = arn:aws:iam::1:role/mid\nsource_profile = nowhere\n"
                   "aws_access_key_id = AKIDMID\naws_secret_access_key = m\n",
                   NULL),
              DM_OK);
    creds_chain c;
    dm_error err = {0};
    CHECK_INT(creds_profile_chain(&f.s, "top", &c, &err), DM_OK);
    CHECK_INT(c.n_roles, 1);
    CHECK_STR(c.roles[0], "top");
    CHECK_INT(c.base, CREDS_BASE_STATIC);
    CHECK_STR(c.base_profile, "mid");
    unload(&f);
}

TEST(source_profiles_of_every_kind)
{
    fixture f;
    CHECK_INT(load(&f,
                   "[profile r1]\nrole_arn = arn:aws:iam::1:role/r1\nsource_profile = proc\n"
                   "[profile r2]\nrole_arn = arn:aws:iam::1:role/r2\nsource_profile = web\n"
                   "[profile r3]\nrole_arn = arn:aws:iam::1:role/r3\nsource_profile = sso\n"
                   "[profile r4]\nrole_arn = arn:aws:iam::1:role/r4\nsource_profile = legacy\n"
                   "[profile proc]\ncredential_process = /bin/true\n"
                   "[profile web]\nrole_arn = arn:aws:iam::1:role/w\nweb_identity_token_file = /tmp/t\n"
                   "[profile sso]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Dev\n"
                   "[profile legacy]\nsso_start_url = https://x.awsapps.com/start\nsso_region = us-east-1\n"
                   "sso_account_id = 111122223333\nsso_role_name = Dev\n"
                   "[sso-session corp]\nsso_start_url = https://x.awsapps.com/start\nsso_region = eu-west-1\n",
                   NULL),
              DM_OK);
    static const struct {
        const char *profile, *base_profile;
        creds_base base;
    } cases[] = {{"r1", "proc", CREDS_BASE_PROCESS},
                 {"r2", "web", CREDS_BASE_WEB_IDENTITY},
                 {"r3", "sso", CREDS_BASE_SSO},
                 {"r4", "legacy", CREDS_BASE_SSO},
                 {"web", "web", CREDS_BASE_WEB_IDENTITY}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        creds_chain c;
        dm_error err = {0};
        CHECK_INT(creds_profile_chain(&f.s, cases[i].profile, &c, &err), DM_OK);
        CHECK_INT(c.base, cases[i].base);
        CHECK_STR(c.base_profile, cases[i].base_profile);
        CHECK_INT(c.n_roles, strcmp(cases[i].profile, "web") == 0 ? 0 : 1);
    }
    unload(&f);
}

TEST(role_profiles_that_cannot_work)
{
    fixture f;
    CHECK_INT(load(&f,
                   "[profile both]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = x\n"
                   "credential_source = Environment\n"
                   "[profile neither]\nrole_arn = arn:aws:iam::1:role/r\n"
                   "[profile badsrc]\nrole_arn = arn:aws:iam::1:role/r\ncredential_source = Ec2\n"
                   "[profile missing]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = ghost\n"
                   "[profile hollow]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = empty\n"
                   "[profile empty]\nregion = us-east-1\n"
                   "[profile x]\nregion = us-east-1\n",
                   NULL),
              DM_OK);
    static const struct {
        const char *profile, *words;
    } cases[] = {
        {"both", "profile both has both source_profile and credential_source"},
        {"neither", "profile neither has role_arn but neither source_profile nor credential_source"},
        {"badsrc", "credential_source 'Ec2' is not one of Environment, Ec2InstanceMetadata, EcsContainer"},
        {"missing", "profile missing: its source_profile 'ghost' is in neither"},
        {"hollow", "profile empty, the source_profile of profile hollow, has no credentials"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        creds_chain c;
        dm_error err = {0};
        CHECK_INT(creds_profile_chain(&f.s, cases[i].profile, &c, &err), DM_ERR_CREDENTIALS);
        CHECK_CONTAINS(err.message, cases[i].words);
    }
    /* A profile that configures nothing is not an error here: the chain
     * decides (absent, or an error when it was named). */
    creds_chain c;
    CHECK_INT(creds_profile_chain(&f.s, "empty", &c, NULL), DM_OK);
    CHECK_INT(c.base, CREDS_BASE_NONE);
    CHECK_INT(c.n_roles, 0);
    unload(&f);
}

TEST(chains_have_a_limit)
{
    dm_buf cfg;
    dm_buf_init(&cfg, 0);
    for (int i = 0; i < 40; i++)
        dm_buf_appendf(&cfg, "[profile p%d]\nrole_arn = arn:aws:iam::1:role/r%d\nsource_profile = p%d\n", i, i, i + 1);
    dm_buf_appendf(&cfg, "[profile p40]\naws_access_key_id = A\naws_secret_access_key = s\n");
    fixture f;
    CHECK_INT(load(&f, cfg.data, NULL), DM_OK);
    creds_chain c;
    dm_error err = {0};
    CHECK_INT(creds_profile_chain(&f.s, "p10", &c, &err), DM_OK);
    CHECK_INT(c.n_roles, 30);
    CHECK_STR(c.roles[29], "p10");
    CHECK_STR(c.base_profile, "p40");
    CHECK_INT(creds_profile_chain(&f.s, "p0", &c, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "more than 32 roles");
    dm_buf_cleanup(&cfg);
    unload(&f);
}

TEST(credentials_file_settings_count)
{
    /* role_arn and source_profile may live in the credentials file, which
     * outranks the config file, as in the CLI. */
    fixture f;
    CHECK_INT(load(&f, "[profile a]\nrole_arn = arn:aws:iam::1:role/from-config\nsource_profile = nowhere\n",
                   "[a]\nsource_profile = b\n[b]\naws_access_key_id = AKIDB\naws_secret_access_key = s\n"),
              DM_OK);
    creds_chain c;
    dm_error err = {0};
    CHECK_INT(creds_profile_chain(&f.s, "a", &c, &err), DM_OK);
    CHECK_STR(c.base_profile, "b");
    unload(&f);
}

TEST(assume_role_form)
{
    fixture f;
    CHECK_INT(load(&f,
                   "[profile full]\nrole_arn = arn:aws:iam::123456789012:role/migrator\nsource_profile = full\n"
                   "external_id = ext id&1\nduration_seconds = 900\nmfa_serial = arn:aws:iam::123456789012:mfa/me\n"
                   "[profile plain]\nrole_arn = arn:aws:iam::1:role/p\ncredential_source = Environment\n"
                   "[profile baddur]\nrole_arn = arn:aws:iam::1:role/p\ncredential_source = Environment\n"
                   "duration_seconds = 1h\n",
                   NULL),
              DM_OK);
    dm_buf form;
    dm_buf_init(&form, 0);
    dm_error err = {0};
    CHECK_INT(creds_assume_role_form(&f.s, "full", "nightly", "123456", &form, &err), DM_OK);
    CHECK_STR(form.data, "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2F"
                         "migrator&RoleSessionName=nightly&ExternalId=ext%20id%261&DurationSeconds=900&SerialNumber="
                         "arn%3Aaws%3Aiam%3A%3A123456789012%3Amfa%2Fme&TokenCode=123456");
    dm_buf_reset(&form);
    CHECK_INT(creds_assume_role_form(&f.s, "plain", "botocore-session-1", NULL, &form, &err), DM_OK);
    CHECK_STR(form.data, "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fp&"
                         "RoleSessionName=botocore-session-1");
    dm_buf_reset(&form);
    CHECK_INT(creds_assume_role_form(&f.s, "baddur", "s", NULL, &form, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "profile baddur: duration_seconds must be a whole number of seconds up to 43200, "
                                "not '1h'");
    /* The provider refuses it when it is made, before any request. */
    creds_provider *p = creds_assume_role_new(&f.s, "baddur", creds_env_new(&f.env.env), "environment", &err);
    CHECK(p == NULL);
    CHECK_CONTAINS(err.message, "duration_seconds");
    dm_buf_cleanup(&form);
    unload(&f);
}

TEST(sso_settings_both_forms)
{
    fixture f;
    CHECK_INT(load(&f,
                   "[profile dev]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Dev\n"
                   "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n"
                   "sso_registration_scopes = sso:account:access\n"
                   "[profile legacy]\nsso_start_url = https://old.awsapps.com/start\nsso_region = us-east-2\n"
                   "sso_account_id = 444455556666\nsso_role_name = Admin\n"
                   "[profile clash]\nsso_session = corp\nsso_start_url = https://other.awsapps.com/start\n"
                   "sso_account_id = 1\nsso_role_name = r\n"
                   "[profile same]\nsso_session = corp\nsso_region = eu-west-1\nsso_account_id = 1\nsso_role_name = r\n"
                   "[profile half]\nsso_session = corp\n"
                   "[profile ghost]\nsso_session = nowhere\nsso_account_id = 1\nsso_role_name = r\n"
                   "[profile oldhalf]\nsso_start_url = https://old.awsapps.com/start\nsso_account_id = 1\n",
                   NULL),
              DM_OK);
    creds_sso_config c;
    dm_error err = {0};
    CHECK_INT(creds_sso_config_load(&f.s, "dev", &c, &err), DM_OK);
    CHECK_STR(c.session, "corp");
    CHECK_STR(c.start_url, "https://corp.awsapps.com/start");
    CHECK_STR(c.region, "eu-west-1");
    CHECK_STR(c.account_id, "111122223333");
    CHECK_STR(c.role_name, "Dev");
    CHECK_INT(creds_sso_config_load(&f.s, "legacy", &c, &err), DM_OK);
    CHECK_STR(c.session, "");
    CHECK_STR(c.start_url, "https://old.awsapps.com/start");
    CHECK_STR(c.region, "us-east-2");
    CHECK_INT(creds_sso_config_load(&f.s, "same", &c, &err), DM_OK);
    CHECK_INT(creds_sso_config_load(&f.s, "clash", &c, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "sso_start_url is 'https://other.awsapps.com/start' in the profile but "
                                "'https://corp.awsapps.com/start' in sso-session corp");
    CHECK_INT(creds_sso_config_load(&f.s, "half", &c, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "profile half uses IAM Identity Center but has no sso_account_id, sso_role_name");
    CHECK_INT(creds_sso_config_load(&f.s, "ghost", &c, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "sso_session 'nowhere' has no [sso-session nowhere] section");
    CHECK_INT(creds_sso_config_load(&f.s, "oldhalf", &c, &err), DM_ERR_CREDENTIALS);
    CHECK_CONTAINS(err.message, "has no sso_region, sso_role_name");
    unload(&f);
}
