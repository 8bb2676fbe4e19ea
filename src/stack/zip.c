/* A zip archive in memory, for the Lambda package: entries deflated with
 * zlib, Unix permissions kept (Lambda runs `bootstrap` only when it is
 * executable). Just what a deployment package needs: no ZIP64 (a Lambda
 * zip is at most 50 MB), no encryption, no directories. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "ddbmig/stack.h"

struct stack_zip {
    dm_buf data;      /* local headers and data, then the directory */
    dm_buf central;
    int entries;
};

static void le16(dm_buf *b, unsigned v)
{
    char c[2] = {(char)(v & 0xff), (char)(v >> 8 & 0xff)};
    dm_buf_append(b, c, 2);
}

static void le32(dm_buf *b, uint32_t v)
{
    char c[4] = {(char)(v & 0xff), (char)(v >> 8 & 0xff), (char)(v >> 16 & 0xff), (char)(v >> 24 & 0xff)};
    dm_buf_append(b, c, 4);
}

stack_zip *stack_zip_new(void)
{
    stack_zip *z = calloc(1, sizeof *z);
    if (z) {
        dm_buf_init(&z->data, (size_t)250 << 20);
        dm_buf_init(&z->central, 16 << 20);
    }
    return z;
}

void stack_zip_free(stack_zip *z)
{
    if (!z)
        return;
    dm_buf_cleanup(&z->data);
    dm_buf_cleanup(&z->central);
    free(z);
}

/* DOS time and date of a fixed moment: the same inputs give the same zip. */
enum { DOS_TIME = 0, DOS_DATE = (2020 - 1980) << 9 | 1 << 5 | 1 };

int stack_zip_add(stack_zip *z, const char *name, const void *data, size_t len, unsigned mode, dm_error *err)
{
    if (len > 0xfffffffeu || z->data.len > 0xfffffffeu)
        return dm_error_set(err, DM_ERR_LIMIT, "%s: too big for a zip without ZIP64", name);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, data, (uInt)len);
    uLongf cap = compressBound((uLong)len);
    unsigned char *out = malloc(cap ? cap : 1);
    if (!out)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    /* Raw deflate (no zlib header), as zip wants it. */
    z_stream s;
    memset(&s, 0, sizeof s);
    int zr = deflateInit2(&s, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY);
    s.next_in = (Bytef *)data;
    s.avail_in = (uInt)len;
    s.next_out = out;
    s.avail_out = (uInt)cap;
    if (zr == Z_OK)
        zr = deflate(&s, Z_FINISH);
    size_t clen = s.total_out;
    deflateEnd(&s);
    if (zr != Z_STREAM_END) {
        free(out);
        return dm_error_set(err, DM_ERR_IO, "%s: deflate failed", name);
    }
    size_t nlen = strlen(name);
    uint32_t offset = (uint32_t)z->data.len;
    dm_buf *b = &z->data;
    le32(b, 0x04034b50);
    le16(b, 20);
    le16(b, 0x0800); /* UTF-8 names */
    le16(b, 8);
    le16(b, DOS_TIME);
    le16(b, DOS_DATE);
    le32(b, (uint32_t)crc);
    le32(b, (uint32_t)clen);
    le32(b, (uint32_t)len);
    le16(b, (unsigned)nlen);
    le16(b, 0);
    dm_buf_append(b, name, nlen);
    int rc = dm_buf_append(b, (const char *)out, clen);
    free(out);
    dm_buf *c = &z->central;
    le32(c, 0x02014b50);
    le16(c, 3 << 8 | 20); /* made by Unix: the mode below counts */
    le16(c, 20);
    le16(c, 0x0800);
    le16(c, 8);
    le16(c, DOS_TIME);
    le16(c, DOS_DATE);
    le32(c, (uint32_t)crc);
    le32(c, (uint32_t)clen);
    le32(c, (uint32_t)len);
    le16(c, (unsigned)nlen);
    le16(c, 0);
    le16(c, 0);
    le16(c, 0);
    le16(c, 0);
    le32(c, (uint32_t)(0100000 | (mode & 0777)) << 16);
    le32(c, offset);
    rc = rc ? rc : dm_buf_append(c, name, nlen);
    z->entries++;
    return rc ? dm_error_set(err, rc, "the zip is too big") : DM_OK;
}

int stack_zip_finish(stack_zip *z, dm_buf *out, dm_error *err)
{
    uint32_t at = (uint32_t)z->data.len;
    dm_buf *b = &z->data;
    int rc = dm_buf_append(b, z->central.data ? z->central.data : "", z->central.len);
    le32(b, 0x06054b50);
    le16(b, 0);
    le16(b, 0);
    le16(b, (unsigned)z->entries);
    le16(b, (unsigned)z->entries);
    le32(b, (uint32_t)z->central.len);
    le32(b, at);
    le16(b, 0);
    if (rc)
        return dm_error_set(err, rc, "the zip is too big");
    *out = z->data;
    dm_buf_init(&z->data, 0);
    return DM_OK;
}
