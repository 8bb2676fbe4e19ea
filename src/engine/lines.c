/* The import file's lines: raw bytes from the file, inflated when they
 * are gzip, cut at newlines. zlib's inflate is driven directly rather than
 * through gzread, which would ignore bytes after the last gzip member and
 * cannot tell a read error from the end of the data. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lines.h"

#define CHUNK (64 * 1024)
#define DEFAULT_MAX_LINE (8u << 20)

struct line_reader {
    FILE *f;
    bool own;           /* fclose on free */
    char name[1024];
    bool gz;
    z_stream z;
    bool z_ready;       /* inflateInit2 done */
    bool in_member;     /* inside a gzip member: the end of the file now is a truncation */
    bool raw_eof;       /* the file has no more bytes */
    unsigned char *in;  /* raw bytes (gzip only) */
    unsigned char *out; /* bytes of the text */
    size_t out_pos, out_len;
    bool text_eof;      /* no more text */
    dm_buf line;
    size_t max_line;
    long lineno;
    char at_text[48];   /* " (after line N)" */
    int failed;         /* a final error, repeated */
    dm_error fail_err;
};

/* Where a failure was noticed, for messages: after the last line read. */
static const char *at(line_reader *r)
{
    if (r->lineno == 0)
        return "";
    snprintf(r->at_text, sizeof r->at_text, " (after line %ld)", r->lineno);
    return r->at_text;
}

/* Records a final error; every later call repeats it. */
static int final(line_reader *r, dm_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int final(line_reader *r, dm_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[sizeof r->fail_err.message];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->failed = code;
    dm_error_set(&r->fail_err, code, "%s", msg);
    if (err)
        *err = r->fail_err;
    return code;
}

static bool has_gz_name(const char *p)
{
    size_t n = strlen(p);
    return n >= 3 && strcmp(p + n - 3, ".gz") == 0;
}

/* Reads raw bytes after the unread ones in r->in (gzip). */
static int read_raw(line_reader *r, dm_error *err)
{
    if (r->z.avail_in > 0 && r->z.next_in != r->in)
        memmove(r->in, r->z.next_in, r->z.avail_in);
    r->z.next_in = r->in;
    size_t n = fread(r->in + r->z.avail_in, 1, CHUNK - r->z.avail_in, r->f);
    r->z.avail_in += (uInt)n;
    if (n == 0 && ferror(r->f))
        return final(r, err, DM_ERR_IO, "%s: cannot read: %s%s", r->name, strerror(errno),
                     at(r));
    if (n == 0)
        r->raw_eof = true;
    return DM_OK;
}

/* After a member's trailer: the end of the file, another member, or bytes
 * that do not belong. */
static int after_member(line_reader *r, dm_error *err)
{
    while (r->z.avail_in < 2 && !r->raw_eof) {
        int rc = read_raw(r, err);
        if (rc)
            return rc;
    }
    if (r->z.avail_in == 0) {
        r->text_eof = true;
        return DM_OK;
    }
    if (r->z.avail_in < 2 || r->z.next_in[0] != 0x1f || r->z.next_in[1] != 0x8b)
        return final(r, err, DM_ERR_PARSE, "%s: unexpected bytes after the end of the gzip data%s",
                     r->name, at(r));
    inflateReset(&r->z);
    r->in_member = true;
    return DM_OK;
}

static int fill_gz(line_reader *r, dm_error *err)
{
    r->out_pos = r->out_len = 0;
    while (r->out_len == 0 && !r->text_eof) {
        if (!r->in_member) {
            int rc = after_member(r, err);
            if (rc || r->text_eof)
                return rc;
        }
        if (r->z.avail_in == 0) {
            int rc = read_raw(r, err);
            if (rc)
                return rc;
            if (r->raw_eof && r->z.avail_in == 0)
                return final(r, err, DM_ERR_PARSE,
                             "%s: the gzip data is truncated: it ends before gzip's trailer%s", r->name,
                             at(r));
        }
        r->z.next_out = r->out;
        r->z.avail_out = CHUNK;
        int zr = inflate(&r->z, Z_NO_FLUSH);
        r->out_len = CHUNK - r->z.avail_out;
        if (zr == Z_STREAM_END)
            r->in_member = false;
        else if (zr == Z_MEM_ERROR)
            return final(r, err, DM_ERR_NOMEM, "%s: out of memory%s", r->name, at(r));
        else if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT || zr == Z_STREAM_ERROR) {
            const char *why = r->z.msg ? r->z.msg : "bad data";
            if (strcmp(why, "incorrect data check") == 0)
                why = "its CRC does not match the data";
            else if (strcmp(why, "incorrect length check") == 0)
                why = "its length does not match the data";
            return final(r, err, DM_ERR_PARSE, "%s: the gzip data is corrupt: %s%s", r->name, why,
                         at(r));
        }
        /* Z_OK and Z_BUF_ERROR: more input or more room; loop. */
    }
    return DM_OK;
}

/* Makes text bytes available in r->out, or sets text_eof. */
static int fill(line_reader *r, dm_error *err)
{
    if (r->gz)
        return fill_gz(r, err);
    r->out_pos = 0;
    r->out_len = fread(r->out, 1, CHUNK, r->f);
    if (r->out_len == 0 && ferror(r->f))
        return final(r, err, DM_ERR_IO, "%s: cannot read: %s%s", r->name, strerror(errno),
                     at(r));
    if (r->out_len == 0)
        r->text_eof = true;
    return DM_OK;
}

int lines_open_stream(FILE *f, const char *name, size_t max_line, line_reader **out, dm_error *err)
{
    *out = NULL;
    line_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->out = malloc(CHUNK)))
        goto nomem;
    r->f = f;
    dm_strlcpy(r->name, name, sizeof r->name);
    r->max_line = max_line ? max_line : DEFAULT_MAX_LINE;
    dm_buf_init(&r->line, r->max_line + 1);
    /* The first bytes say whether this is gzip. */
    int c1 = getc(f), c2 = c1 == EOF ? EOF : getc(f);
    if (ferror(f)) {
        int rc = dm_error_set(err, DM_ERR_IO, "%s: cannot read: %s", name, strerror(errno));
        lines_free(r);
        return rc;
    }
    r->gz = c1 == 0x1f && c2 == 0x8b;
    if (!r->gz && has_gz_name(name)) {
        lines_free(r);
        return dm_error_set(err, DM_ERR_PARSE, "%s: the name ends in .gz but the file is %s", name,
                            c1 == EOF ? "empty, not gzip data" : "not gzip data");
    }
    if (r->gz) {
        if (!(r->in = malloc(CHUNK)))
            goto nomem;
        r->in[0] = 0x1f;
        r->in[1] = 0x8b;
        r->z.next_in = r->in;
        r->z.avail_in = 2;
        if (inflateInit2(&r->z, 15 + 16) != Z_OK) /* gzip wrapper only */
            goto nomem;
        r->z_ready = true;
        r->in_member = true;
    } else {
        /* Give the bytes back to the text. */
        if (c1 != EOF)
            r->out[r->out_len++] = (unsigned char)c1;
        if (c2 != EOF)
            r->out[r->out_len++] = (unsigned char)c2;
        if (c1 == EOF)
            r->text_eof = true;
    }
    *out = r;
    return DM_OK;
nomem:
    lines_free(r);
    return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
}

int lines_open(const char *path, size_t max_line, line_reader **out, dm_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return dm_error_set(err, DM_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    int rc = lines_open_stream(f, path, max_line, out, err);
    if (rc) {
        fclose(f);
        return rc;
    }
    (*out)->own = true;
    return DM_OK;
}

void lines_free(line_reader *r)
{
    if (!r)
        return;
    if (r->z_ready)
        inflateEnd(&r->z);
    if (r->own && r->f)
        fclose(r->f);
    free(r->in);
    free(r->out);
    dm_buf_cleanup(&r->line);
    free(r);
}

long lines_number(const line_reader *r) { return r->lineno; }

int lines_next(line_reader *r, dm_str *line, bool *end, dm_error *err)
{
    *end = false;
    line->p = NULL;
    line->n = 0;
    if (r->failed) {
        if (err)
            *err = r->fail_err;
        return r->failed;
    }
    dm_buf_reset(&r->line);
    bool any = false, too_long = false, newline = false;
    while (!newline) {
        if (r->out_pos == r->out_len) {
            if (r->text_eof)
                break;
            int rc = fill(r, err);
            if (rc)
                return rc;
            continue;
        }
        const unsigned char *p = r->out + r->out_pos;
        size_t avail = r->out_len - r->out_pos;
        const unsigned char *nl = memchr(p, '\n', avail);
        size_t take = nl ? (size_t)(nl - p) : avail;
        any = true;
        if (!too_long && r->line.len + take > r->max_line) {
            too_long = true; /* keep reading to its end, holding nothing */
            dm_buf_reset(&r->line);
        }
        if (!too_long && dm_buf_append(&r->line, p, take) != DM_OK)
            return final(r, err, DM_ERR_NOMEM, "%s: out of memory (at line %ld)", r->name, r->lineno + 1);
        r->out_pos += take + (nl ? 1 : 0);
        newline = nl != NULL;
    }
    if (!any) {
        *end = true;
        return DM_OK;
    }
    r->lineno++;
    if (too_long)
        return dm_error_set(err, DM_ERR_LIMIT,
                            "%s:%ld: the line is longer than %zu bytes; no DynamoDB item needs that much", r->name,
                            r->lineno, r->max_line);
    char *s = r->line.data ? r->line.data : "";
    size_t n = r->line.len;
    if (n > 0 && s[n - 1] == '\r')
        n--;
    if (r->lineno == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        s += 3;
        n -= 3;
    }
    line->p = s;
    line->n = n;
    return DM_OK;
}
