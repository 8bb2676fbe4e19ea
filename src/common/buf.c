/* Growable buffers with a hard maximum, and small string helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddbmig/common.h"

#define DEFAULT_MAX ((size_t)1 << 30)

void dm_buf_init(dm_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max ? max : DEFAULT_MAX;
}

int dm_buf_reserve(dm_buf *b, size_t extra)
{
    if (b->max == 0)
        b->max = DEFAULT_MAX;
    if (extra > b->max || b->len > b->max - extra)
        return DM_ERR_LIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return DM_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return DM_ERR_NOMEM;
    p[b->len] = '\0'; /* data is a string from its first allocation on */
    b->data = p;
    b->cap = cap;
    return DM_OK;
}

int dm_buf_append(dm_buf *b, const void *p, size_t n)
{
    /* Most appends fit: skip the limit arithmetic then. */
    if (!(b->data && b->len + n < b->cap && b->len + n <= b->max)) {
        int rc = dm_buf_reserve(b, n);
        if (rc)
            return rc;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return DM_OK;
}

int dm_buf_puts(dm_buf *b, const char *s) { return dm_buf_append(b, s, strlen(s)); }

int dm_buf_putc(dm_buf *b, char c)
{
    if (b->data && b->len + 1 < b->cap && b->len < b->max) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return DM_OK;
    }
    return dm_buf_append(b, &c, 1);
}

int dm_buf_put_int(dm_buf *b, long long v)
{
    char num[24];
    size_t i = sizeof num;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do
        num[--i] = (char)('0' + u % 10);
    while ((u /= 10) > 0);
    if (v < 0)
        num[--i] = '-';
    return dm_buf_append(b, num + i, sizeof num - i);
}

/* Formats into the free space first: a second pass only when it is short. */
int dm_buf_appendf(dm_buf *b, const char *fmt, ...)
{
    if (!b->data && dm_buf_reserve(b, 64) != DM_OK)
        return DM_ERR_NOMEM;
    size_t room = b->cap - b->len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->data + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->data[b->len] = '\0';
        return DM_ERR_INVALID;
    }
    if ((size_t)n >= room) {
        b->data[b->len] = '\0';
        int rc = dm_buf_reserve(b, (size_t)n);
        if (rc)
            return rc;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    } else if (b->len + (size_t)n > (b->max ? b->max : (size_t)1 << 30)) {
        b->data[b->len] = '\0';
        return DM_ERR_LIMIT;
    }
    b->len += (size_t)n;
    return DM_OK;
}

void dm_buf_reset(dm_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void dm_buf_cleanup(dm_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void dm_buf_cleanup_secure(dm_buf *b)
{
    if (b->data)
        dm_memzero(b->data, b->cap);
    dm_buf_cleanup(b);
}

const char *dm_buf_cstr(const dm_buf *b) { return b->data ? b->data : ""; }

char *dm_strdup(const char *s) { return s ? strdup(s) : NULL; }

char *dm_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void dm_memzero(void *p, size_t n)
{
    /* A plain memset of memory about to be freed may be optimised away;
     * explicit_bzero may not, and is as fast as memset. */
    explicit_bzero(p, n);
}

void dm_free_secret(char *s)
{
    if (!s)
        return;
    dm_memzero(s, strlen(s));
    free(s);
}

void dm_strlcpy(char *dst, const char *src, size_t size)
{
    if (!size)
        return;
    size_t n = src ? strlen(src) : 0;
    if (n >= size)
        n = size - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

int dm_read_file(const char *path, dm_buf *buf, dm_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return dm_error_set(err, DM_ERR_IO, "cannot open '%s': %m", path);
    char chunk[8192];
    size_t n;
    int rc = DM_OK;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if ((rc = dm_buf_append(buf, chunk, n)) != DM_OK) {
            dm_error_set(err, rc, "reading '%s': %s", path, dm_err_str(rc));
            break;
        }
    }
    if (rc == DM_OK && ferror(f))
        rc = dm_error_set(err, DM_ERR_IO, "reading '%s' failed", path);
    fclose(f);
    if (rc == DM_OK && !buf->data)
        rc = dm_buf_reserve(buf, 0); /* an empty file still yields "" */
    return rc;
}

void dm_format_bytes(int64_t bytes, char *out, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, size, "%lld B", (long long)bytes);
    else
        snprintf(out, size, "%.1f %s", v, units[u]);
}
