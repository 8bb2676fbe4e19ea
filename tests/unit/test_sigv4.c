/* SigV4 against AWS's published test-suite vectors, stage by stage. Each
 * folder under tests/fixtures/sigv4/ holds request.txt (the raw request in
 * the suite's notation), the expected canonical request, string to sign and
 * Authorization header, and optionally params.txt (key=value overrides). */
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "auth/sigv4.h"
#include "test.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define MAXH 16

typedef struct vec {
    dm_buf raw;
    char *method, *path, *query;
    sigv4_header h[MAXH];
    size_t nh;
    const char *body;
    size_t body_len;
    char region[32], service[32], token[1024];
} vec;

static char *slurp(const char *dir, const char *file)
{
    char rel[512];
    snprintf(rel, sizeof(rel), "sigv4/%s/%s", dir, file);
    dm_buf b;
    dm_buf_init(&b, 0);
    if (dm_read_file(test_fixture(rel), &b, NULL) != DM_OK) {
        dm_buf_cleanup(&b);
        return NULL;
    }
    return b.data;
}

/* Parses the suite's request notation: request line, Name:value headers
 * (continuation lines start with whitespace), blank line, body. */
static int load(const char *dir, vec *v)
{
    memset(v, 0, sizeof(*v));
    strcpy(v->region, "us-east-1");
    strcpy(v->service, "service");
    char *text = slurp(dir, "request.txt");
    if (!text)
        return -1;
    v->raw.data = text;
    char *line_end = strchr(text, '\n');
    *line_end = '\0';
    char *sp = strchr(text, ' ');
    *sp = '\0';
    v->method = text;
    char *target = sp + 1;
    char *proto = strstr(target, " HTTP/1.1");
    *proto = '\0';
    char *q = strchr(target, '?');
    if (q) {
        *q = '\0';
        v->query = q + 1;
    }
    v->path = target;
    char *p = line_end + 1;
    while (*p && *p != '\n') {
        char *e = strchr(p, '\n');
        while (e && (e[1] == ' ' || e[1] == '\t'))
            e = strchr(e + 1, '\n'); /* folded value continues */
        if (e)
            *e = '\0';
        char *colon = strchr(p, ':');
        *colon = '\0';
        if (strcasecmp(p, "X-Amz-Date") != 0) { /* the signer adds it */
            v->h[v->nh].name = p;
            v->h[v->nh].value = colon + 1;
            v->nh++;
        }
        p = e ? e + 1 : p + strlen(p);
    }
    v->body = *p ? p + 1 : "";
    v->body_len = strlen(v->body);
    char *params = slurp(dir, "params.txt");
    for (char *l = params ? strtok(params, "\n") : NULL; l; l = strtok(NULL, "\n")) {
        if (!strncmp(l, "token=", 6))
            dm_strlcpy(v->token, l + 6, sizeof(v->token));
        if (!strncmp(l, "service=", 8))
            dm_strlcpy(v->service, l + 8, sizeof(v->service));
        if (!strncmp(l, "region=", 7))
            dm_strlcpy(v->region, l + 7, sizeof(v->region));
    }
    free(params);
    return 0;
}

static void run_vector(const char *dir)
{
    vec v;
    CHECK(load(dir, &v) == 0);
    sigv4_request req = {v.method, v.path, v.query, v.h, v.nh, v.body, v.body_len, NULL};
    sigv4_params p = {"AKIDEXAMPLE", SECRET, v.token[0] ? v.token : NULL, v.region, v.service,
                      1440938160 /* 2015-08-30T12:36:00Z */, false, false, NULL, NULL};
    sigv4_result r;
    int rc = sigv4_sign(&req, &p, &r);
    char *creq = slurp(dir, "canonical-request.txt");
    char *sts = slurp(dir, "string-to-sign.txt");
    char *authz = slurp(dir, "authorization.txt");
    int ok = rc == DM_OK && creq && sts && authz;
    if (ok) {
        CHECK_STR(r.amz_date, "20150830T123600Z");
        CHECK_STR(dm_buf_cstr(&r.canonical_request), creq);
        CHECK_STR(dm_buf_cstr(&r.string_to_sign), sts);
        CHECK_STR(dm_buf_cstr(&r.authorization), authz);
    }
    CHECK(ok);
    sigv4_result_cleanup(&r);
    free(creq);
    free(sts);
    free(authz);
    free(v.raw.data);
}

TEST(get_vanilla) { run_vector("get-vanilla"); }
TEST(get_unreserved) { run_vector("get-unreserved"); }
TEST(get_slashes) { run_vector("get-slashes"); }
TEST(get_slash_pointless_dot) { run_vector("get-slash-pointless-dot"); }
TEST(get_relative_relative) { run_vector("get-relative-relative"); }
TEST(get_space) { run_vector("get-space"); }
TEST(get_utf8) { run_vector("get-utf8"); }
TEST(get_vanilla_query_order_key_case) { run_vector("get-vanilla-query-order-key-case"); }
TEST(get_vanilla_query_order_value) { run_vector("get-vanilla-query-order-value"); }
TEST(get_vanilla_utf8_query) { run_vector("get-vanilla-utf8-query"); }
TEST(get_vanilla_empty_query_key) { run_vector("get-vanilla-empty-query-key"); }
TEST(get_header_value_order) { run_vector("get-header-value-order"); }
TEST(get_header_key_duplicate) { run_vector("get-header-key-duplicate"); }
TEST(get_header_value_trim) { run_vector("get-header-value-trim"); }
TEST(post_vanilla) { run_vector("post-vanilla"); }
TEST(post_vanilla_query) { run_vector("post-vanilla-query"); }
TEST(post_x_www_form_urlencoded) { run_vector("post-x-www-form-urlencoded"); }
TEST(post_sts_header_before) { run_vector("post-sts-header-before"); }
TEST(iam_list_users) { run_vector("iam-list-users"); }

/* The published signing-key example (AWS General Reference, "deriving the
 * signing key") for the IAM example's day, region and service. */
TEST(signing_key_known_answer)
{
    uint8_t key[32];
    char hex[65];
    sigv4_signing_key(SECRET, "20150830", "us-east-1", "iam", key);
    dm_hex(key, 32, hex);
    CHECK_STR(hex, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

/* Rules the suite states in prose, checked on the canonical request only. */
static char *creq_of(const char *method, const char *path, const char *query, sigv4_header *h, size_t nh,
                     bool keep_path, bool double_encode)
{
    sigv4_request req = {method, path, query, h, nh, "", 0, NULL};
    sigv4_params p = {"AKIDEXAMPLE", SECRET, NULL, "us-east-1", "service", 1440938160, keep_path, double_encode,
                      NULL, NULL};
    dm_buf creq, sh;
    dm_buf_init(&creq, 0);
    dm_buf_init(&sh, 0);
    sigv4_canonical_request(&req, &p, "20150830T123600Z", &creq, &sh);
    dm_buf_cleanup(&sh);
    return creq.data;
}

TEST(header_folding_multiline)
{
    sigv4_header h[] = {{"Host", "example.amazonaws.com"}, {"My-Header1", "value1\n  value2\n     value3"}};
    char *c = creq_of("GET", "/", NULL, h, 2, false, false);
    CHECK_CONTAINS(c, "\nmy-header1:value1 value2 value3\n");
    free(c);
}

TEST(query_empty_value_and_encoding)
{
    sigv4_header h[] = {{"Host", "example.amazonaws.com"}};
    char *c = creq_of("GET", "/", "b&a=1&c=x%2Fy&d=a+b&e=%7e", h, 1, false, false);
    CHECK_CONTAINS(c, "\na=1&b=&c=x%2Fy&d=a%2Bb&e=~\n");
    free(c);
}

TEST(path_kept_and_double_encoded)
{
    sigv4_header h[] = {{"Host", "example.amazonaws.com"}};
    char *c = creq_of("GET", "//a/../b c", NULL, h, 1, true, false);
    CHECK_CONTAINS(c, "GET\n//a/../b%20c\n");
    free(c);
    c = creq_of("GET", "/b c", NULL, h, 1, false, true);
    CHECK_CONTAINS(c, "GET\n/b%2520c\n");
    free(c);
}

TEST(empty_path_is_root)
{
    sigv4_header h[] = {{"Host", "example.amazonaws.com"}};
    char *c = creq_of("GET", "", NULL, h, 1, false, false);
    CHECK(strncmp(c, "GET\n/\n", 6) == 0);
    free(c);
}

TEST(signing_key_cache)
{
    /* A cached key gives the same signature and is filled on first use. */
    sigv4_header hs[] = {{"host", "example.amazonaws.com"}};
    sigv4_request req = {.method = "GET", .path = "/", .headers = hs, .n_headers = 1};
    uint8_t key[32] = {0};
    char date[9] = "";
    sigv4_params p = {.access_key_id = "AKIDEXAMPLE", .secret_access_key = SECRET, .region = "us-east-1",
                      .service = "service", .time = 1440938160};
    sigv4_result a, b, c;
    CHECK_INT(sigv4_sign(&req, &p, &a), DM_OK);
    p.key_cache = key;
    p.key_date = date;
    CHECK_INT(sigv4_sign(&req, &p, &b), DM_OK);
    CHECK_STR(date, "20150830");
    CHECK_INT(sigv4_sign(&req, &p, &c), DM_OK);
    CHECK_STR(b.signature, a.signature);
    CHECK_STR(c.signature, a.signature);
    CHECK_STR(a.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    sigv4_result_cleanup(&a);
    sigv4_result_cleanup(&b);
    sigv4_result_cleanup(&c);
}
