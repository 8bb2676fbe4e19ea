/* AWS Signature Version 4. The canonical forms follow the published rules:
 * each path segment percent-encoded (twice for services other than S3 when
 * the path arrives encoded), query pairs decoded, re-encoded and sorted by
 * name then value, header names lower-cased, values trimmed with inner runs
 * of whitespace folded to one space, repeated headers joined with commas in
 * the order given. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "auth/sigv4.h"

#define MAX_SIGNED_HEADERS 64

static bool unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

int sigv4_uri_encode(const char *s, size_t n, bool keep_slash, dm_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = dm_buf_reserve(out, n * 3);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            out->data[out->len++] = (char)c;
        } else {
            out->data[out->len++] = '%';
            out->data[out->len++] = hex[c >> 4];
            out->data[out->len++] = hex[c & 15];
        }
    }
    out->data[out->len] = '\0';
    return DM_OK;
}

/* Removes empty and "." segments and resolves "..", keeping a trailing
 * slash; the result always starts with '/'. */
static int normalize_path(const char *path, dm_buf *out)
{
    size_t n = strlen(path);
    size_t small[64];
    size_t *starts = n / 2 + 2 <= 64 ? small : malloc((n / 2 + 2) * sizeof(size_t));
    if (!starts)
        return DM_ERR_NOMEM;
    size_t depth = 0;
    dm_buf_reset(out);
    int rc = DM_OK;
    for (size_t i = 0; i < n;) {
        while (i < n && path[i] == '/')
            i++;
        size_t j = i;
        while (j < n && path[j] != '/')
            j++;
        size_t len = j - i;
        if (len == 0 || (len == 1 && path[i] == '.')) {
            /* skip */
        } else if (len == 2 && path[i] == '.' && path[i + 1] == '.') {
            if (depth) {
                out->len = starts[--depth];
                out->data[out->len] = '\0';
            }
        } else {
            starts[depth++] = out->len;
            if ((rc = dm_buf_putc(out, '/')) || (rc = dm_buf_append(out, path + i, len)))
                break;
        }
        i = j;
    }
    if (starts != small)
        free(starts);
    if (rc)
        return rc;
    if (out->len == 0 || (n > 1 && path[n - 1] == '/'))
        rc = dm_buf_putc(out, '/');
    return rc;
}

static int canonical_uri(const sigv4_request *req, const sigv4_params *p, dm_buf *creq)
{
    const char *path = (req->path && *req->path) ? req->path : "/";
    if (strcmp(path, "/") == 0) /* every JSON API request */
        return dm_buf_puts(creq, "/\n");
    dm_buf norm, once;
    dm_buf_init(&norm, 0);
    dm_buf_init(&once, 0);
    int rc = p->keep_path ? dm_buf_puts(&norm, path) : normalize_path(path, &norm);
    if (!rc && p->double_encode) {
        rc = sigv4_uri_encode(norm.data, norm.len, true, &once);
        if (!rc)
            rc = sigv4_uri_encode(once.data, once.len, true, creq);
    } else if (!rc) {
        rc = sigv4_uri_encode(norm.data, norm.len, true, creq);
    }
    dm_buf_cleanup(&norm);
    dm_buf_cleanup(&once);
    return rc ? rc : dm_buf_putc(creq, '\n');
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) then re-encodes it strictly into out. */
static int reencode(const char *s, size_t n, dm_buf *out)
{
    char *tmp = malloc(n + 1);
    if (!tmp)
        return DM_ERR_NOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 && (lo = hexval(s[i + 2])) >= 0) {
            tmp[m++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            tmp[m++] = s[i];
        }
    }
    int rc = sigv4_uri_encode(tmp, m, false, out);
    free(tmp);
    return rc;
}

typedef struct qpair {
    char *name;
    char *value;
} qpair;

static int cmp_qpair(const void *a, const void *b)
{
    const qpair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static int canonical_query(const char *q, dm_buf *creq)
{
    size_t n = q ? strlen(q) : 0, count = 0, cap = 8;
    qpair *pairs = calloc(cap, sizeof(*pairs));
    int rc = pairs ? DM_OK : DM_ERR_NOMEM;
    for (size_t i = 0; i < n && !rc;) {
        size_t j = i;
        while (j < n && q[j] != '&')
            j++;
        if (j > i) {
            const char *eq = memchr(q + i, '=', j - i);
            size_t nl = eq ? (size_t)(eq - q - i) : j - i;
            dm_buf name, value;
            dm_buf_init(&name, 0);
            dm_buf_init(&value, 0);
            rc = reencode(q + i, nl, &name);
            if (!rc)
                rc = eq ? reencode(eq + 1, (size_t)(q + j - eq - 1), &value) : dm_buf_puts(&value, "");
            if (!rc && count == cap) {
                qpair *np = realloc(pairs, cap * 2 * sizeof(*np));
                if (np) {
                    pairs = np;
                    cap *= 2;
                } else {
                    rc = DM_ERR_NOMEM;
                }
            }
            if (!rc) {
                if (!value.data)
                    dm_buf_puts(&value, "");
                pairs[count].name = name.data ? name.data : strdup("");
                pairs[count].value = value.data;
                count++;
            } else {
                dm_buf_cleanup(&name);
                dm_buf_cleanup(&value);
            }
        }
        i = j + 1;
    }
    if (!rc)
        qsort(pairs, count, sizeof(*pairs), cmp_qpair);
    for (size_t i = 0; i < count; i++) {
        if (!rc)
            rc = dm_buf_appendf(creq, "%s%s=%s", i ? "&" : "", pairs[i].name, pairs[i].value);
        free(pairs[i].name);
        free(pairs[i].value);
    }
    free(pairs);
    return rc ? rc : dm_buf_putc(creq, '\n');
}

typedef struct hdr {
    char name[128];    /* lower case */
    const char *value; /* borrowed */
} hdr;

static int lower_name(char *dst, const char *src)
{
    size_t n = strlen(src);
    if (n >= sizeof(((hdr *)0)->name))
        return DM_ERR_LIMIT;
    for (size_t i = 0; i <= n; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    return DM_OK;
}

/* Trims and folds runs of whitespace (including line folding) to one space. */
static int append_folded(dm_buf *out, const char *v)
{
    while (*v && isspace((unsigned char)*v))
        v++;
    bool space = false;
    for (; *v; v++) {
        if (isspace((unsigned char)*v)) {
            space = true;
            continue;
        }
        if (space && dm_buf_putc(out, ' '))
            return DM_ERR_NOMEM;
        space = false;
        if (dm_buf_putc(out, *v))
            return DM_ERR_NOMEM;
    }
    return DM_OK;
}

static int collect_headers(const sigv4_request *req, const sigv4_params *p, const char *amz_date,
                           hdr *h, size_t *count)
{
    size_t n = 0;
    bool have_date = false, have_token = false;
    for (size_t i = 0; i < req->n_headers; i++) {
        if (n == MAX_SIGNED_HEADERS - 2)
            return DM_ERR_LIMIT;
        if (lower_name(h[n].name, req->headers[i].name) != DM_OK)
            return DM_ERR_LIMIT;
        h[n].value = req->headers[i].value ? req->headers[i].value : "";
        have_date |= strcmp(h[n].name, "x-amz-date") == 0;
        have_token |= strcmp(h[n].name, "x-amz-security-token") == 0;
        n++;
    }
    if (!have_date) {
        strcpy(h[n].name, "x-amz-date");
        h[n++].value = amz_date;
    }
    if (!have_token && p->session_token && *p->session_token) {
        strcpy(h[n].name, "x-amz-security-token");
        h[n++].value = p->session_token;
    }
    *count = n;
    /* Stable insertion sort: repeated headers keep the order given. */
    for (size_t i = 1; i < n; i++) {
        hdr t = h[i];
        size_t j = i;
        while (j > 0 && strcmp(h[j - 1].name, t.name) > 0) {
            h[j] = h[j - 1];
            j--;
        }
        h[j] = t;
    }
    return DM_OK;
}

static int canonical_headers(const hdr *h, size_t n, dm_buf *creq, dm_buf *signed_headers)
{
    int rc = DM_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        bool repeat = i > 0 && strcmp(h[i - 1].name, h[i].name) == 0;
        if (repeat) {
            /* Replace the previous newline with a comma and continue. */
            creq->len--;
            rc = dm_buf_putc(creq, ',');
        } else {
            rc = dm_buf_puts(creq, h[i].name);
            rc = rc ? rc : dm_buf_putc(creq, ':');
            if (!rc && signed_headers->len)
                rc = dm_buf_putc(signed_headers, ';');
            if (!rc)
                rc = dm_buf_puts(signed_headers, h[i].name);
        }
        if (!rc)
            rc = append_folded(creq, h[i].value);
        if (!rc)
            rc = dm_buf_putc(creq, '\n');
    }
    return rc;
}

int sigv4_canonical_request(const sigv4_request *req, const sigv4_params *p, const char *amz_date,
                            dm_buf *creq, dm_buf *signed_headers)
{
    hdr h[MAX_SIGNED_HEADERS];
    size_t n = 0;
    int rc = dm_buf_puts(creq, req->method);
    rc = rc ? rc : dm_buf_putc(creq, '\n');
    if (!rc)
        rc = canonical_uri(req, p, creq);
    if (!rc)
        rc = canonical_query(req->query, creq);
    if (!rc)
        rc = collect_headers(req, p, amz_date, h, &n);
    if (!rc)
        rc = canonical_headers(h, n, creq, signed_headers);
    if (rc)
        return rc;
    char hash[65];
    const char *payload = req->payload_hash;
    if (!payload) {
        dm_sha256_hex(req->body ? req->body : "", req->body ? req->body_len : 0, hash);
        payload = hash;
    }
    rc = dm_buf_putc(creq, '\n');
    rc = rc ? rc : dm_buf_append(creq, dm_buf_cstr(signed_headers), signed_headers->len);
    rc = rc ? rc : dm_buf_putc(creq, '\n');
    return rc ? rc : dm_buf_puts(creq, payload);
}

int sigv4_string_to_sign(const char *amz_date, const char *scope, const char *creq, size_t creq_len,
                         dm_buf *out)
{
    char hash[65];
    dm_sha256_hex(creq, creq_len, hash);
    int rc = dm_buf_puts(out, "AWS4-HMAC-SHA256\n");
    rc = rc ? rc : dm_buf_puts(out, amz_date);
    rc = rc ? rc : dm_buf_putc(out, '\n');
    rc = rc ? rc : dm_buf_puts(out, scope);
    rc = rc ? rc : dm_buf_putc(out, '\n');
    return rc ? rc : dm_buf_puts(out, hash);
}

void sigv4_signing_key(const char *secret, const char *date8, const char *region, const char *service,
                       uint8_t key[32])
{
    size_t sl = strlen(secret);
    char *k = malloc(sl + 5);
    uint8_t a[32], b[32];
    if (!k) {
        memset(key, 0, 32);
        return;
    }
    memcpy(k, "AWS4", 4);
    memcpy(k + 4, secret, sl + 1);
    dm_hmac_sha256(k, sl + 4, date8, strlen(date8), a);
    dm_hmac_sha256(a, 32, region, strlen(region), b);
    dm_hmac_sha256(b, 32, service, strlen(service), a);
    dm_hmac_sha256(a, 32, "aws4_request", 12, key);
    dm_memzero(k, sl + 4);
    dm_memzero(a, sizeof(a));
    dm_memzero(b, sizeof(b));
    free(k);
}

void sigv4_signature(const uint8_t key[32], const char *sts, size_t sts_len, char out[65])
{
    uint8_t mac[32];
    dm_hmac_sha256(key, 32, sts, sts_len, mac);
    dm_hex(mac, 32, out);
}

/* "yyyymmddThhmmssZ" without strftime's locale machinery. */
static void put_date(const struct tm *tm, char out[17])
{
    int parts[6] = {tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday, tm->tm_hour, tm->tm_min, tm->tm_sec};
    int widths[6] = {4, 2, 2, 2, 2, 2};
    char *o = out;
    for (int i = 0; i < 6; i++) {
        if (i == 3)
            *o++ = 'T';
        for (int d = widths[i] - 1, v = parts[i]; d >= 0; d--, v /= 10)
            o[d] = (char)('0' + v % 10);
        o += widths[i];
    }
    *o++ = 'Z';
    *o = '\0';
}

int sigv4_sign(const sigv4_request *req, const sigv4_params *p, sigv4_result *out)
{
    memset(out, 0, sizeof(*out));
    dm_buf_init(&out->canonical_request, 0);
    dm_buf_init(&out->string_to_sign, 0);
    dm_buf_init(&out->signed_headers, 0);
    dm_buf_init(&out->authorization, 0);
    if (!req->method || !p->access_key_id || !p->secret_access_key || !p->region || !p->service)
        return DM_ERR_INVALID;
    struct tm tm;
    time_t t = p->time;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
        return DM_ERR_INVALID;
    put_date(&tm, out->amz_date);
    char date8[9];
    memcpy(date8, out->amz_date, 8);
    date8[8] = '\0';
    int w = snprintf(out->scope, sizeof(out->scope), "%s/%s/%s/aws4_request", date8, p->region, p->service);
    if (w < 0 || (size_t)w >= sizeof(out->scope))
        return DM_ERR_INVALID;
    /* Room for a typical request up front, rather than growing by doubling. */
    int rc = dm_buf_reserve(&out->canonical_request, 512 + req->n_headers * 64);
    rc = rc ? rc : dm_buf_reserve(&out->string_to_sign, 192);
    rc = rc ? rc : dm_buf_reserve(&out->signed_headers, 128);
    if (!rc)
        rc = sigv4_canonical_request(req, p, out->amz_date, &out->canonical_request, &out->signed_headers);
    if (!rc)
        rc = sigv4_string_to_sign(out->amz_date, out->scope, out->canonical_request.data,
                                  out->canonical_request.len, &out->string_to_sign);
    if (rc)
        return rc;
    uint8_t key[32];
    if (p->key_cache && p->key_date && strcmp(p->key_date, date8) == 0) {
        memcpy(key, p->key_cache, 32);
    } else {
        sigv4_signing_key(p->secret_access_key, date8, p->region, p->service, key);
        if (p->key_cache && p->key_date) {
            memcpy(p->key_cache, key, 32);
            memcpy(p->key_date, date8, 9);
        }
    }
    sigv4_signature(key, out->string_to_sign.data, out->string_to_sign.len, out->signature);
    dm_memzero(key, sizeof(key));
    dm_buf *a = &out->authorization;
    rc = dm_buf_reserve(a, 256);
    rc = rc ? rc : dm_buf_puts(a, "AWS4-HMAC-SHA256 Credential=");
    rc = rc ? rc : dm_buf_puts(a, p->access_key_id);
    rc = rc ? rc : dm_buf_putc(a, '/');
    rc = rc ? rc : dm_buf_puts(a, out->scope);
    rc = rc ? rc : dm_buf_puts(a, ", SignedHeaders=");
    rc = rc ? rc : dm_buf_append(a, dm_buf_cstr(&out->signed_headers), out->signed_headers.len);
    rc = rc ? rc : dm_buf_puts(a, ", Signature=");
    return rc ? rc : dm_buf_puts(a, out->signature);
}

void sigv4_result_cleanup(sigv4_result *r)
{
    dm_buf_cleanup(&r->canonical_request);
    dm_buf_cleanup(&r->string_to_sign);
    dm_buf_cleanup(&r->signed_headers);
    dm_buf_cleanup(&r->authorization);
}
