/* URL parsing for endpoints and request URLs (see url.h). The text is read
 * once, left to right; nothing is allocated. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/url.h"

static bool is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_hex(unsigned char c) { return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }

/* RFC 3986 unreserved characters: all a host name may hold here. */
static bool is_unreserved(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* What a path, query or fragment may hold besides %XX. */
static bool is_pchar(unsigned char c)
{
    return is_unreserved(c) || (c && strchr("!$&'()*+,;=:@/?", c) != NULL);
}

static int fail(dm_error *err, const char *text, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(dm_error *err, const char *text, const char *fmt, ...)
{
    if (!err) /* the request path: only the verdict is needed */
        return DM_ERR_INVALID;
    char shown[200], why[400];
    http_url_display(text, shown, sizeof shown);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return dm_error_set(err, DM_ERR_INVALID, "'%s' is not a valid URL: %s", shown, why);
}

/* Spaces, control characters and non-ASCII bytes are refused wherever they
 * are: they would break a request line or hide in a message. */
static int check_bytes(const char *text, size_t len, dm_error *err)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        char hex[8];
        if (c == ' ')
            return fail(err, text, "it contains a space (at character %zu)", i + 1);
        if (c < 0x20 || c == 0x7f) {
            snprintf(hex, sizeof hex, "0x%02x", c);
            return fail(err, text, "it contains the control character %s (at character %zu)", hex, i + 1);
        }
        if (c >= 0x80)
            return fail(err, text, "it contains a non-ASCII byte (at character %zu)", i + 1);
    }
    return DM_OK;
}

static int parse_scheme(const char *text, http_url *u, const char **rest, dm_error *err)
{
    size_t n = 0;
    while (is_alpha((unsigned char)text[n]) || (n > 0 && (is_digit((unsigned char)text[n]) ||
                                                         text[n] == '+' || text[n] == '-' || text[n] == '.')))
        n++;
    bool https = n == 5 && strncasecmp(text, "https", 5) == 0, http = n == 4 && strncasecmp(text, "http", 4) == 0;
    bool slashes = n > 0 && text[n] == ':' && text[n + 1] == '/' && text[n + 2] == '/';
    /* "localhost:8000" has no scheme; "http:x" has one but lacks "//". */
    if (!slashes && (https || http) && text[n] == ':')
        return fail(err, text, "'//' must follow '%.*s:'", (int)n, text);
    if (!slashes)
        return fail(err, text, "it does not start with a scheme (http:// or https://)");
    if (https) {
        u->tls = true;
    } else if (!http) {
        char scheme[24];
        snprintf(scheme, sizeof scheme, "%.*s%s", (int)(n < 16 ? n : 16), text, n < 16 ? "" : "...");
        return fail(err, text, "the scheme '%s' is not supported (use http or https)", scheme);
    }
    *rest = text + n + 3;
    return DM_OK;
}

static int parse_port(const char *text, const char *p, size_t n, http_url *u, dm_error *err)
{
    if (n == 0)
        return fail(err, text, "the port after ':' is empty");
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)p[i]))
            return fail(err, text, "the port '%.*s' is not a number", (int)n, p);
        if (v <= 65535)
            v = v * 10 + (unsigned long)(p[i] - '0');
    }
    if (v == 0 || v > 65535)
        return fail(err, text, "the port %.*s is out of range (1 to 65535)", (int)n, p);
    snprintf(u->port, sizeof u->port, "%lu", v);
    return DM_OK;
}

/* host[:port] in [p, p + n), user information already excluded. */
static int parse_hostport(const char *text, const char *p, size_t n, http_url *u, dm_error *err)
{
    const char *end = p + n, *colon;
    if (n > 0 && *p == '[') {
        const char *rb = memchr(p, ']', n);
        if (!rb)
            return fail(err, text, "the IPv6 address has no closing ']'");
        size_t hl = (size_t)(rb - p - 1);
        unsigned char bin[16];
        if (hl == 0 || hl >= sizeof u->host)
            return fail(err, text, "'[%.*s]' is not an IPv6 address", (int)hl, p + 1);
        memcpy(u->host, p + 1, hl);
        u->host[hl] = '\0';
        if (inet_pton(AF_INET6, u->host, bin) != 1)
            return fail(err, text, "'[%.*s]' is not an IPv6 address", (int)hl, p + 1);
        u->ipv6 = true;
        if (rb + 1 < end && rb[1] != ':')
            return fail(err, text, "'%.*s' follows the IPv6 address", (int)(end - rb - 1), rb + 1);
        colon = rb + 1 < end ? rb + 1 : NULL;
    } else {
        colon = memchr(p, ':', n);
        const char *he = colon ? colon : end;
        size_t hl = (size_t)(he - p);
        if (hl == 0)
            return fail(err, text, "it has no host");
        if (hl >= sizeof u->host)
            return fail(err, text, "the host name is longer than %zu characters", sizeof u->host - 1);
        for (size_t i = 0; i < hl; i++) {
            if (!is_unreserved((unsigned char)p[i]))
                return fail(err, text, "the host may not contain '%c'", p[i]);
        }
        memcpy(u->host, p, hl);
        u->host[hl] = '\0';
    }
    if (colon) {
        int rc = parse_port(text, colon + 1, (size_t)(end - colon - 1), u, err);
        if (rc)
            return rc;
    } else {
        strcpy(u->port, u->tls ? "443" : "80");
    }
    memcpy(u->authority, p, n);
    u->authority[n] = '\0';
    return DM_OK;
}

/* Path, query and fragment: unencoded characters a URL may hold, and %XX. */
static int parse_rest(const char *text, const char *p, http_url *u, dm_error *err)
{
    u->path = p;
    const char *q = p;
    bool in_fragment = false;
    for (; *q; q++) {
        unsigned char c = (unsigned char)*q;
        if (c == '%') {
            if (!is_hex((unsigned char)q[1]) || !is_hex((unsigned char)q[2]))
                return fail(err, text, "'%%' at character %zu is not followed by two hex digits",
                            (size_t)(q - text) + 1);
            q += 2;
            continue;
        }
        if (c == '#' && !in_fragment) {
            in_fragment = true;
            u->has_fragment = true;
            u->path_len = (size_t)(q - p);
            continue;
        }
        if (c == '?' && !in_fragment)
            u->has_query = true;
        if (!is_pchar(c))
            return fail(err, text, "'%c' may not appear unencoded in a URL", *q);
    }
    if (!in_fragment)
        u->path_len = (size_t)(q - p);
    return DM_OK;
}

int http_url_parse(const char *text, http_url *u, dm_error *err)
{
    memset(u, 0, sizeof *u);
    if (!text || !*text)
        return fail(err, "", "it is empty");
    size_t len = strnlen(text, HTTP_URL_MAX_LEN + 1);
    if (len > HTTP_URL_MAX_LEN)
        return fail(err, text, "it is longer than %d characters", HTTP_URL_MAX_LEN);
    int rc = check_bytes(text, len, err);
    const char *auth = NULL;
    if (rc == DM_OK)
        rc = parse_scheme(text, u, &auth, err);
    if (rc)
        return rc;
    size_t an = strcspn(auth, "/?#");
    if (memchr(auth, '@', an))
        return fail(err, text, "a user name or password ('...@') is not supported in an endpoint URL");
    if (an == 0)
        return fail(err, text, "it has no host");
    rc = parse_hostport(text, auth, an, u, err);
    return rc ? rc : parse_rest(text, auth + an, u, err);
}

void http_url_display(const char *text, char *out, size_t size)
{
    if (size == 0)
        return;
    if (!text) {
        dm_strlcpy(out, "", size);
        return;
    }
    const char *sep = strstr(text, "://");
    const char *start = sep ? sep + 3 : text;
    const char *at = strrchr(start, '@');
    size_t o = 0;
    bool cut = false;
    for (const char *p = text; *p; p++) {
        char piece[16];
        unsigned char c = (unsigned char)*p;
        if (at && p == start) {
            dm_strlcpy(piece, "[redacted]", sizeof piece);
            p = at - 1; /* the loop's p++ lands on '@' */
        } else if (c < 0x20 || c == 0x7f || c >= 0x80) {
            snprintf(piece, sizeof piece, "\\x%02x", c);
        } else {
            piece[0] = (char)c;
            piece[1] = '\0';
        }
        size_t pl = strlen(piece);
        if (o + pl + 4 > size) { /* room for "..." and the terminator */
            cut = true;
            break;
        }
        memcpy(out + o, piece, pl);
        o += pl;
    }
    if (cut && size >= 4) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o < size ? o : size - 1] = '\0';
}
