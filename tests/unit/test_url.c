/* The URL parser: what it accepts and how it splits it, what it refuses
 * and the reason it gives, and that user information never shows. */
#include <string.h>

#include "http/url.h"
#include "test.h"

TEST(plain_endpoint)
{
    http_url u;
    CHECK_INT(http_url_parse("http://localhost:8000", &u, NULL), DM_OK);
    CHECK(!u.tls && !u.ipv6);
    CHECK_STR(u.host, "localhost");
    CHECK_STR(u.port, "8000");
    CHECK_STR(u.authority, "localhost:8000");
    CHECK_INT(u.path_len, 0);
    CHECK(http_url_needs_slash(&u));
    CHECK(!u.has_query && !u.has_fragment);
}

TEST(https_default_port_and_path)
{
    http_url u;
    CHECK_INT(http_url_parse("https://dynamodb.us-east-1.amazonaws.com/", &u, NULL), DM_OK);
    CHECK(u.tls);
    CHECK_STR(u.port, "443");
    CHECK_STR(u.authority, "dynamodb.us-east-1.amazonaws.com");
    CHECK_INT(u.path_len, 1);
    CHECK(!http_url_needs_slash(&u));
    CHECK_INT(http_url_parse("http://127.0.0.1", &u, NULL), DM_OK);
    CHECK_STR(u.port, "80");
    CHECK_STR(u.host, "127.0.0.1");
}

TEST(scheme_is_case_insensitive_path_query_fragment_split)
{
    http_url u;
    const char *t = "HTTPS://Example.COM:8443/a/b%2F?x=1&y=a:b@c#frag/x?y";
    CHECK_INT(http_url_parse(t, &u, NULL), DM_OK);
    CHECK(u.tls);
    CHECK_STR(u.host, "Example.COM");
    CHECK_STR(u.port, "8443");
    CHECK(u.has_query && u.has_fragment);
    CHECK_INT(u.path_len, strlen("/a/b%2F?x=1&y=a:b@c"));
    CHECK(strncmp(u.path, "/a/b%2F?x=1&y=a:b@c", u.path_len) == 0);
    CHECK_INT(http_url_parse("http://h?x=1", &u, NULL), DM_OK);
    CHECK(http_url_needs_slash(&u));
    CHECK_INT(u.path_len, 4);
}

TEST(ipv6_literal)
{
    http_url u;
    CHECK_INT(http_url_parse("http://[::1]:8000/x", &u, NULL), DM_OK);
    CHECK(u.ipv6);
    CHECK_STR(u.host, "::1");
    CHECK_STR(u.port, "8000");
    CHECK_STR(u.authority, "[::1]:8000");
    CHECK_INT(http_url_parse("https://[2001:db8::7]", &u, NULL), DM_OK);
    CHECK_STR(u.host, "2001:db8::7");
    CHECK_STR(u.port, "443");
    CHECK_STR(u.authority, "[2001:db8::7]");
}

static void refused(const char *text, const char *words)
{
    http_url u;
    dm_error e = {0};
    CHECK_INT(http_url_parse(text, &u, NULL), DM_ERR_INVALID);
    CHECK_INT(http_url_parse(text, &u, &e), DM_ERR_INVALID);
    CHECK_INT(e.code, DM_ERR_INVALID);
    CHECK_CONTAINS(e.message, "is not a valid URL");
    CHECK_CONTAINS(e.message, words);
}

TEST(missing_scheme_separator) { refused("http//x", "does not start with a scheme"); }
TEST(missing_slashes) { refused("http:x", "'//' must follow 'http:'"); }
TEST(host_and_port_without_scheme) { refused("localhost:8000", "does not start with a scheme"); }
TEST(unsupported_scheme) { refused("ftp://x", "the scheme 'ftp' is not supported"); }
TEST(no_host) { refused("http://", "it has no host"); }
TEST(no_host_before_path) { refused("https:///path", "it has no host"); }
TEST(no_host_before_port) { refused("http://:80", "it has no host"); }
TEST(unterminated_ipv6) { refused("http://[::1", "no closing ']'"); }
TEST(bad_ipv6) { refused("http://[zz::q]/", "'[zz::q]' is not an IPv6 address"); }
TEST(text_after_ipv6) { refused("http://[::1]x", "'x' follows the IPv6 address"); }
TEST(port_out_of_range) { refused("http://h:99999", "the port 99999 is out of range"); }
TEST(port_zero) { refused("http://h:0/", "the port 0 is out of range"); }
TEST(huge_port) { refused("http://h:123456789012345678901234567890", "out of range"); }
TEST(empty_port) { refused("http://h:/x", "the port after ':' is empty"); }
TEST(port_not_a_number) { refused("http://h:8o", "the port '8o' is not a number"); }
TEST(space_in_host) { refused("http://ho st", "a space (at character 10)"); }
TEST(space_in_path) { refused("http://h/a b", "a space (at character 11)"); }
TEST(newline) { refused("http://h/\nx", "the control character 0x0a (at character 10)"); }
TEST(delete_character) { refused("http://h/\x7f", "control character 0x7f"); }
TEST(non_ascii_host) { refused("http://h\xc3\xa9/", "a non-ASCII byte (at character 9)"); }
TEST(bad_host_character) { refused("http://a!b/", "the host may not contain '!'"); }
TEST(bad_path_character) { refused("http://h/<x>", "'<' may not appear unencoded"); }
TEST(second_fragment_mark) { refused("http://h/#a#b", "'#' may not appear unencoded"); }
TEST(bad_percent) { refused("http://h/%zz", "'%' at character 10 is not followed by two hex digits"); }
TEST(percent_at_end) { refused("http://h/%4", "not followed by two hex digits"); }
TEST(empty_text) { refused("", "empty"); }

TEST(overlong_url)
{
    static char t[HTTP_URL_MAX_LEN + 20];
    memcpy(t, "http://h/", 9);
    memset(t + 9, 'a', sizeof t - 10);
    t[sizeof t - 1] = '\0';
    refused(t, "longer than 4096 characters");
    /* the message quotes a shortened URL */
    http_url u;
    dm_error e;
    http_url_parse(t, &u, &e);
    CHECK(strlen(e.message) < 400);
    CHECK_CONTAINS(e.message, "...");
}

/* ---- user information is refused and never shown -------------------- */

static void never_shown(const char *text)
{
    http_url u;
    dm_error e = {0};
    CHECK_INT(http_url_parse(text, &u, &e), DM_ERR_INVALID);
    CHECK(strstr(e.message, "s3cr3t") == NULL);
    CHECK(strstr(e.message, "alice") == NULL);
    CHECK_CONTAINS(e.message, "[redacted]");
}

TEST(password_in_a_valid_url_is_refused_and_redacted)
{
    never_shown("http://alice:s3cr3t@localhost:8000/");
    http_url u;
    dm_error e = {0};
    http_url_parse("https://alice:s3cr3t@db.example", &u, &e);
    CHECK_CONTAINS(e.message, "'https://[redacted]@db.example' is not a valid URL");
    CHECK_CONTAINS(e.message, "a user name or password");
}

TEST(password_in_a_broken_url_is_redacted)
{
    never_shown("http//alice:s3cr3t@localhost");
    never_shown("http://alice:s3cr3t@[::1");
    never_shown("ftp://alice:s3cr3t@h");
    never_shown("http://alice:s3cr/t@h");
    never_shown("http://alice:s3cr3t@h:99999");
    never_shown("http://alice:s3cr3t@h/a b");
    never_shown("http://alice:s3cr3t@@h");
}

TEST(display_escapes_and_cuts)
{
    char out[64];
    http_url_display("http://h/\x01\xff", out, sizeof out);
    CHECK_STR(out, "http://h/\\x01\\xff");
    http_url_display("http://h/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", out, 20);
    CHECK_STR(out, "http://h/aaaaaaa...");
    http_url_display("user:pw@host", out, sizeof out);
    CHECK_STR(out, "[redacted]@host");
    http_url_display("http://localhost/x", out, sizeof out);
    CHECK_STR(out, "http://localhost/x");
    http_url_display(NULL, out, sizeof out);
    CHECK_STR(out, "");
}
