/* The import file reader: line ends, long lines, and gzip files that are
 * whole, concatenated, truncated, corrupt, or followed by other bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "engine/lines.h"
#include "test.h"

/* gzip of text[0..n) as one member. */
static dm_buf gzip_of(const char *text, size_t n)
{
    dm_buf out;
    dm_buf_init(&out, 0);
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    dm_buf_reserve(&out, deflateBound(&z, (uLong)n) + 16);
    z.next_in = (unsigned char *)text;
    z.avail_in = (uInt)n;
    z.next_out = (unsigned char *)out.data;
    z.avail_out = (uInt)(out.cap - 1);
    deflate(&z, Z_FINISH);
    out.len = z.total_out;
    deflateEnd(&z);
    return out;
}

/* Every line of data (read as a file called name) joined with '|', each
 * failure as <message>, and the final result as "." (end) or "!" (final
 * error). Static buffer. */
static const char *read_all(const char *name, const void *data, size_t n, size_t max_line)
{
    static dm_buf res;
    dm_buf_cleanup(&res);
    dm_buf_init(&res, 0);
    FILE *f = fmemopen((void *)data, n, "rb");
    line_reader *r;
    dm_error err = {0};
    if (lines_open_stream(f, name, max_line, &r, &err) != DM_OK) {
        dm_buf_appendf(&res, "<%s>!", err.message);
        fclose(f);
        return res.data;
    }
    for (int guard = 0; guard < 100000; guard++) {
        dm_str line;
        bool end;
        int rc = lines_next(r, &line, &end, &err);
        if (rc == DM_ERR_LIMIT) {
            dm_buf_appendf(&res, "<%s>|", err.message);
            continue;
        }
        if (rc != DM_OK) {
            dm_buf_appendf(&res, "<%s>!", err.message);
            /* A final error repeats. */
            dm_error again = {0};
            if (lines_next(r, &line, &end, &again) != rc || strcmp(again.message, err.message) != 0)
                dm_buf_puts(&res, "(did not repeat)");
            break;
        }
        if (end) {
            dm_buf_puts(&res, ".");
            break;
        }
        dm_buf_appendf(&res, "%ld:", lines_number(r));
        dm_buf_append(&res, line.p, line.n);
        dm_buf_puts(&res, "|");
    }
    lines_free(r);
    fclose(f);
    return res.data ? res.data : "";
}

static const char *read_text(const char *text) { return read_all("f.jsonl", text, strlen(text), 0); }

TEST(line_ends)
{
    CHECK_STR(read_text("a\nb\n"), "1:a|2:b|.");
    CHECK_STR(read_text("a\r\nb\r\n"), "1:a|2:b|.");
    CHECK_STR(read_text("a\nlast"), "1:a|2:last|.");
    CHECK_STR(read_text("a\n\n  \nb"), "1:a|2:|3:  |4:b|.");
    CHECK_STR(read_text("a\rb\n"), "1:a\rb|."); /* only a \r before \n is a line end's */
    CHECK_STR(read_text(""), ".");
    CHECK_STR(read_text("\n"), "1:|.");
    CHECK_STR(read_text("x"), "1:x|.");
}

TEST(byte_order_mark_skipped_at_the_start_only)
{
    CHECK_STR(read_text("\xEF\xBB\xBF{}\n\xEF\xBB\xBF{}\n"), "1:{}|2:\xEF\xBB\xBF{}|.");
}

TEST(long_lines_reported_and_skipped)
{
    CHECK_STR(read_all("f.jsonl", "short\nxxxxxxxxxxxxxxxxxxxxxxxxx\nafter\n", 38, 10),
              "1:short|<f.jsonl:2: the line is longer than 10 bytes; no DynamoDB item needs that much>|3:after|.");
    /* Exactly the maximum is fine; the \r of \r\n does not count against it
     * once dropped, but is read as part of the line first. */
    CHECK_STR(read_all("f.jsonl", "0123456789\n", 11, 10), "1:0123456789|.");
    /* A long line across many reads, holding nothing. */
    size_t n = 300 * 1024;
    char *big = malloc(n + 16);
    memset(big, 'y', n);
    memcpy(big + n, "\nend", 4);
    CHECK_STR(read_all("big.jsonl", big, n + 4, 100 * 1024),
              "<big.jsonl:1: the line is longer than 102400 bytes; no DynamoDB item needs that much>|2:end|.");
    free(big);
}

static char *many_lines(int n, size_t *len)
{
    dm_buf b;
    dm_buf_init(&b, 0);
    for (int i = 1; i <= n; i++)
        dm_buf_appendf(&b, "{\"pk\":{\"S\":\"item-%d\"},\"pad\":{\"S\":\"%0*d\"}}\n", i, 40 + i % 50, i);
    *len = b.len;
    return b.data;
}

TEST(gzip_read_whole)
{
    size_t n;
    char *text = many_lines(20000, &n); /* ~1.7 MB: many inflate rounds */
    dm_buf gz = gzip_of(text, n);
    FILE *f = fmemopen(gz.data, gz.len, "rb");
    line_reader *r;
    dm_error err = {0};
    CHECK_INT(lines_open_stream(f, "x.jsonl.gz", 0, &r, &err), DM_OK);
    const char *p = text;
    long count = 0;
    for (;;) {
        dm_str line;
        bool end;
        CHECK_INT(lines_next(r, &line, &end, &err), DM_OK);
        if (end)
            break;
        const char *nl = strchr(p, '\n');
        CHECK_INT(line.n, nl - p);
        CHECK(memcmp(line.p, p, line.n) == 0);
        p = nl + 1;
        count++;
    }
    CHECK_INT(count, 20000);
    lines_free(r);
    fclose(f);
    dm_buf_cleanup(&gz);
    free(text);
}

TEST(gzip_members_concatenated)
{
    dm_buf a = gzip_of("one\ntw", 6), b = gzip_of("o\nthree\n", 8), empty = gzip_of("", 0);
    dm_buf all;
    dm_buf_init(&all, 0);
    dm_buf_append(&all, a.data, a.len);
    dm_buf_append(&all, empty.data, empty.len);
    dm_buf_append(&all, b.data, b.len);
    CHECK_STR(read_all("c.gz", all.data, all.len, 0), "1:one|2:two|3:three|.");
    CHECK_STR(read_all("e.gz", empty.data, empty.len, 0), ".");
    /* gzip is known by its bytes, whatever the name. */
    CHECK_STR(read_all("plain-name.jsonl", a.data, a.len, 0), "1:one|2:tw|.");
    dm_buf_cleanup(&a);
    dm_buf_cleanup(&b);
    dm_buf_cleanup(&empty);
    dm_buf_cleanup(&all);
}

TEST(gzip_truncated)
{
    dm_buf gz = gzip_of("first\nsecond\n", 13);
    /* Without its 8-byte trailer (CRC and length), without part of it, and
     * cut inside the compressed data. */
    CHECK_STR(read_all("t.gz", gz.data, gz.len - 8, 0),
              "1:first|2:second|<t.gz: the gzip data is truncated: it ends before gzip's trailer (after line 2)>!");
    CHECK_CONTAINS(read_all("t.gz", gz.data, gz.len - 1, 0), "<t.gz: the gzip data is truncated");
    CHECK_STR(read_all("t.gz", gz.data, 12, 0),
              "<t.gz: the gzip data is truncated: it ends before gzip's trailer>!");
    CHECK_STR(read_all("t.gz", gz.data, 2, 0), "<t.gz: the gzip data is truncated: it ends before gzip's trailer>!");
    dm_buf_cleanup(&gz);
}

TEST(gzip_corrupt)
{
    dm_buf gz = gzip_of("first\nsecond\n", 13);
    gz.data[gz.len - 8] ^= 0x01; /* CRC-32 */
    /* zlib checks the trailer in the call that inflates this small file's
     * text, so no line comes out before the error. */
    CHECK_STR(read_all("c.gz", gz.data, gz.len, 0),
              "<c.gz: the gzip data is corrupt: its CRC does not match the data>!");
    gz.data[gz.len - 8] ^= 0x01;
    gz.data[gz.len - 4] ^= 0x01; /* ISIZE */
    CHECK_CONTAINS(read_all("c.gz", gz.data, gz.len, 0), "<c.gz: the gzip data is corrupt: its length does not match");
    gz.data[gz.len - 4] ^= 0x01;
    gz.data[3] = 0x7F; /* reserved header flags */
    CHECK_CONTAINS(read_all("c.gz", gz.data, gz.len, 0), "<c.gz: the gzip data is corrupt:");
    dm_buf_cleanup(&gz);
}

TEST(gzip_followed_by_other_bytes)
{
    dm_buf gz = gzip_of("only\n", 5);
    const char *tails[] = {"x", "garbage\n", "\0\0\0\0", "\x1f"};
    const size_t tail_len[] = {1, 8, 4, 1};
    for (int i = 0; i < 4; i++) {
        dm_buf all;
        dm_buf_init(&all, 0);
        dm_buf_append(&all, gz.data, gz.len);
        dm_buf_append(&all, tails[i], tail_len[i]);
        CHECK_STR(read_all("g.gz", all.data, all.len, 0),
                  "1:only|<g.gz: unexpected bytes after the end of the gzip data (after line 1)>!");
        dm_buf_cleanup(&all);
    }
    /* A second member's magic followed by nothing is a truncated member. */
    dm_buf all;
    dm_buf_init(&all, 0);
    dm_buf_append(&all, gz.data, gz.len);
    dm_buf_append(&all, "\x1f\x8b", 2);
    CHECK_CONTAINS(read_all("g.gz", all.data, all.len, 0), "1:only|<g.gz: the gzip data is truncated");
    dm_buf_cleanup(&all);
    dm_buf_cleanup(&gz);
}

TEST(gz_name_needs_gzip_data)
{
    CHECK_STR(read_all("data.jsonl.gz", "{}\n", 3, 0),
              "<data.jsonl.gz: the name ends in .gz but the file is not gzip data>!");
    CHECK_STR(read_all("data.jsonl.gz", "", 0, 0),
              "<data.jsonl.gz: the name ends in .gz but the file is empty, not gzip data>!");
}

TEST(files_that_cannot_be_read)
{
    line_reader *r = NULL;
    dm_error err = {0};
    CHECK_INT(lines_open("/nonexistent/dir/x.jsonl", 0, &r, &err), DM_ERR_IO);
    CHECK_STR(err.message, "cannot open /nonexistent/dir/x.jsonl: No such file or directory");
    CHECK(r == NULL);
    const char *dir = test_tmpdir();
    CHECK_INT(lines_open(dir, 0, &r, &err), DM_ERR_IO);
    CHECK_CONTAINS(err.message, "cannot read: Is a directory");
}
