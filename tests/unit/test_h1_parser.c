/* The HTTP/1.1 response parser, case by case. Every case is parsed whole,
 * then again split in two at every byte boundary, then one byte at a time,
 * as a connection would deliver it (the unconsumed bytes kept and presented
 * again with the next ones); every way must give the same answer. */
#include <stdlib.h>
#include <string.h>

#include "http/h1_parser.h"
#include "test.h"

typedef struct result {
    int rc;
    const char *why;
    bool done;
    int status;
    h1_framing framing;
    bool keep_alive;
    unsigned interim;
    char headers[2048];   /* "name: value\n" each */
    char trailers[512];
    char body[2048];
    size_t body_len;
    size_t consumed;      /* bytes taken up to the end of the answer */
} result;

static void append(char *dst, size_t size, const char *p, size_t n)
{
    size_t l = strlen(dst);
    if (l + n >= size)
        n = size - l - 1;
    memcpy(dst + l, p, n);
    dst[l + n] = '\0';
}

/* Delivers text in pieces ending at the given cut offsets (ascending; the
 * last piece ends at len), then the end of the connection when eof. */
static void run(const char *text, size_t len, const size_t *cuts, size_t n_cuts, bool head, bool eof,
                size_t max_head, result *r)
{
    memset(r, 0, sizeof *r);
    h1_parser p;
    h1_parser_init(&p, head);
    if (max_head)
        p.max_head_bytes = max_head;
    char *buf = malloc(len + 1);
    size_t have = 0, arrived = 0;
    for (size_t piece = 0; piece <= n_cuts && r->rc == DM_OK && !r->done; piece++) {
        size_t end = piece < n_cuts ? cuts[piece] : len;
        memcpy(buf + have, text + arrived, end - arrived);
        have += end - arrived;
        arrived = end;
        size_t off = 0;
        for (;;) {
            h1_event ev;
            int rc = h1_parse(&p, buf + off, have - off, &ev);
            if (rc) {
                r->rc = rc;
                r->why = p.why;
                break;
            }
            if (ev.used > have - off) {
                r->rc = -999; /* consumed more than it was given */
                break;
            }
            off += ev.used;
            r->consumed += ev.used;
            if (ev.kind == H1_NEED_MORE)
                break;
            if (ev.kind == H1_HEADER || ev.kind == H1_TRAILER) {
                char *dst = ev.kind == H1_HEADER ? r->headers : r->trailers;
                size_t size = ev.kind == H1_HEADER ? sizeof r->headers : sizeof r->trailers;
                append(dst, size, ev.name.p, ev.name.n);
                append(dst, size, ": ", 2);
                append(dst, size, ev.value.p, ev.value.n);
                append(dst, size, "\n", 1);
            } else if (ev.kind == H1_HEAD_DONE) {
                r->status = p.status;
                r->framing = p.framing;
            } else if (ev.kind == H1_BODY) {
                append(r->body, sizeof r->body, ev.data.p, ev.data.n);
                r->body_len += ev.data.n;
            } else if (ev.kind == H1_DONE) {
                r->done = true;
                break;
            }
        }
        memmove(buf, buf + off, have - off); /* what a connection keeps */
        have -= off;
    }
    if (eof && r->rc == DM_OK && !r->done && h1_parser_eof_completes(&p))
        r->done = true;
    r->keep_alive = p.keep_alive;
    r->interim = p.interim;
    free(buf);
}

static bool same(const result *a, const result *b)
{
    return a->rc == b->rc && a->done == b->done && a->status == b->status && a->framing == b->framing &&
           a->keep_alive == b->keep_alive && a->interim == b->interim && strcmp(a->headers, b->headers) == 0 &&
           strcmp(a->trailers, b->trailers) == 0 && a->body_len == b->body_len &&
           strcmp(a->body, b->body) == 0 && (a->rc != DM_OK || a->consumed == b->consumed) &&
           (a->why == b->why || (a->why && b->why && strcmp(a->why, b->why) == 0));
}

static void show(const char *label, const result *r)
{
    fprintf(stderr, "  %s: rc %d (%s) done %d status %d framing %d keep %d interim %u consumed %zu\n"
                    "    headers [%s]\n    trailers [%s]\n    body [%s]\n",
            label, r->rc, r->why ? r->why : "", r->done, r->status, r->framing, r->keep_alive, r->interim,
            r->consumed, r->headers, r->trailers, r->body);
}

/* Parses text every way; *whole gets the result of the unsplit parse. */
static bool every_split(const char *text, size_t len, bool head, bool eof, size_t max_head, result *whole)
{
    run(text, len, NULL, 0, head, eof, max_head, whole);
    result r;
    for (size_t k = 1; k < len; k++) {
        size_t cut[1] = {k};
        run(text, len, cut, 1, head, eof, max_head, &r);
        if (!same(whole, &r)) {
            fprintf(stderr, "  split at byte %zu differs\n", k);
            show("whole", whole);
            show("split", &r);
            return false;
        }
    }
    size_t *cuts = malloc((len ? len : 1) * sizeof *cuts);
    for (size_t k = 0; k + 1 < len; k++)
        cuts[k] = k + 1;
    run(text, len, cuts, len ? len - 1 : 0, head, eof, max_head, &r);
    free(cuts);
    if (!same(whole, &r)) {
        fprintf(stderr, "  byte-at-a-time differs\n");
        show("whole", whole);
        show("bytes", &r);
        return false;
    }
    return true;
}

#define PARSE(text, head, eof, r) CHECK(every_split(text, sizeof(text) - 1, head, eof, 0, r))

/* ---- answers that parse ---------------------------------------------------- */

TEST(content_length_body)
{
    result r;
    PARSE("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhello", false, false,
          &r);
    CHECK_INT(r.rc, DM_OK);
    CHECK(r.done);
    CHECK_INT(r.status, 200);
    CHECK_INT(r.framing, H1_BODY_LENGTH);
    CHECK(r.keep_alive);
    CHECK_STR(r.headers, "Content-Type: application/json\nContent-Length: 5\n");
    CHECK_STR(r.body, "hello");
}

TEST(chunked_with_extensions_and_trailers)
{
    result r;
    PARSE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          "5;ext=1\r\nhello\r\n6 ; name=\"quoted value\"\r\n world\r\n0;last\r\nx-trailer: yes\r\n"
          "Another:  two words \r\n\r\n",
          false, false, &r);
    CHECK_INT(r.rc, DM_OK);
    CHECK(r.done);
    CHECK_INT(r.framing, H1_BODY_CHUNKED);
    CHECK(r.keep_alive);
    CHECK_STR(r.body, "hello world");
    CHECK_STR(r.trailers, "x-trailer: yes\nAnother: two words\n");
}

TEST(chunk_sizes_in_any_case_with_leading_zeros)
{
    result r;
    PARSE("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n000A\r\n0123456789\r\n1b\r\n"
          "abcdefghijklmnopqrstuvwxyz!\r\n0000\r\n\r\n",
          false, false, &r);
    CHECK_INT(r.rc, DM_OK);
    CHECK(r.done);
    CHECK_STR(r.body, "0123456789abcdefghijklmnopqrstuvwxyz!");
}

TEST(body_until_the_connection_closes)
{
    result r;
    PARSE("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", false, true, &r);
    CHECK_INT(r.rc, DM_OK);
    CHECK(r.done);
    CHECK_INT(r.framing, H1_BODY_CLOSE);
    CHECK(!r.keep_alive);
    CHECK_STR(r.body, "until the end");
    PARSE("HTTP/1.1 200 OK\r\n\r\nno end yet", false, false, &r);
    CHECK(!r.done);
}

TEST(http_1_0_closes_unless_kept_alive)
{
    result r;
    PARSE("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false, false, &r);
    CHECK(r.done);
    CHECK(!r.keep_alive);
    PARSE("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok", false, false, &r);
    CHECK(r.done);
    CHECK(r.keep_alive);
}

TEST(connection_close_ends_keep_alive)
{
    result r;
    PARSE("HTTP/1.1 200 OK\r\nConnection: upgrade, CLOSE\r\nContent-Length: 0\r\n\r\n", false, false, &r);
    CHECK(r.done);
    CHECK(!r.keep_alive);
    CHECK_INT(r.framing, H1_BODY_NONE);
}

TEST(interim_answers_are_skipped)
{
    result r;
    PARSE("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
          "HTTP/1.1 201 Created\r\nx-final: 1\r\nContent-Length: 3\r\n\r\nabc",
          false, false, &r);
    CHECK_INT(r.rc, DM_OK);
    CHECK(r.done);
    CHECK_INT(r.status, 201);
    CHECK_INT(r.interim, 2);
    CHECK_STR(r.headers, "x-final: 1\nContent-Length: 3\n");
    CHECK_STR(r.body, "abc");
}

TEST(answer_to_head_has_no_body)
{
    result r;
    PARSE("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", true, false, &r);
    CHECK_INT(r.rc, DM_OK);
    CHECK(r.done);
    CHECK_INT(r.framing, H1_BODY_NONE);
    CHECK(r.keep_alive);
    CHECK_INT(r.body_len, 0);
    PARSE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true, false, &r);
    CHECK(r.done);
}

/* The same head answering a POST does announce a body. */
TEST(answer_to_post_reads_the_announced_body)
{
    result r;
    PARSE("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody", false, false, &r);
    CHECK(r.done);
    CHECK_STR(r.body, "body");
    PARSE("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbo", false, true, &r);
    CHECK(!r.done); /* cut short: the end of the connection does not complete it */
}

TEST(no_content_and_not_modified_have_no_body)
{
    result r;
    PARSE("HTTP/1.1 204 No Content\r\n\r\n", false, false, &r);
    CHECK(r.done);
    CHECK(r.keep_alive);
    CHECK_INT(r.framing, H1_BODY_NONE);
    PARSE("HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n", false, false, &r);
    CHECK(r.done);
    CHECK_INT(r.body_len, 0);
}

TEST(bare_line_feeds_and_leading_empty_lines)
{
    result r;
    PARSE("\r\n\nHTTP/1.1 200 OK\nContent-Length: 2\nX-A: b\n\nok", false, false, &r);
    CHECK_INT(r.rc, DM_OK);
    CHECK(r.done);
    CHECK_STR(r.headers, "Content-Length: 2\nX-A: b\n");
    CHECK_STR(r.body, "ok");
    PARSE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\n\n2\nok\n0\n\n", false, false, &r);
    CHECK(r.done);
    CHECK_STR(r.body, "ok");
}

TEST(status_line_variants)
{
    result r;
    PARSE("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", false, false, &r);
    CHECK(r.done);
    CHECK_INT(r.status, 200);
    PARSE("HTTP/1.1 599 Caf\xc3\xa9 \t reason\r\nContent-Length: 0\r\n\r\n", false, false, &r);
    CHECK(r.done);
    CHECK_INT(r.status, 599);
    PARSE("HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", false, false, &r);
    CHECK_INT(r.status, 404);
    PARSE("HTTP/1.9 200 OK\r\nContent-Length: 0\r\n\r\n", false, false, &r);
    CHECK(r.done);
    CHECK(r.keep_alive);
}

TEST(empty_header_values_and_odd_names)
{
    result r;
    PARSE("HTTP/1.1 200 OK\r\nX-Empty:\r\nX-Spaces:   \r\n!#$%&'*+-.^_`|~09az: v\r\nContent-Length: 0\r\n\r\n",
          false, false, &r);
    CHECK_INT(r.rc, DM_OK);
    CHECK_STR(r.headers, "X-Empty: \nX-Spaces: \n!#$%&'*+-.^_`|~09az: v\nContent-Length: 0\n");
}

TEST(bytes_after_the_answer_are_not_consumed)
{
    static const char t[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n";
    result r;
    PARSE(t, false, false, &r);
    CHECK(r.done);
    CHECK_INT(r.consumed, strlen("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
}

TEST(equal_content_lengths_are_one)
{
    result r;
    PARSE("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc", false, false, &r);
    CHECK_INT(r.rc, DM_OK);
    CHECK_STR(r.body, "abc");
}

TEST(chunked_wins_over_length_and_closes)
{
    result r;
    PARSE("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
          false, false, &r);
    CHECK_INT(r.rc, DM_OK);
    CHECK(r.done);
    CHECK_STR(r.body, "abc");
    CHECK(!r.keep_alive);
}

TEST(large_body_in_pieces)
{
    static char t[1200];
    int n = snprintf(t, sizeof t, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
    for (int i = 0; i < 1000; i++)
        t[n + i] = (char)('a' + i % 26);
    result r;
    CHECK(every_split(t, (size_t)n + 1000, false, false, 0, &r));
    CHECK(r.done);
    CHECK_INT(r.body_len, 1000);
    CHECK(memcmp(r.body, t + n, 1000) == 0);
}

/* ---- answers that do not --------------------------------------------------- */

static void refused(const char *text, size_t len, int rc, const char *why)
{
    result r;
    CHECK(every_split(text, len, false, true, 0, &r));
    CHECK_INT(r.rc, rc);
    CHECK(!r.done);
    CHECK_CONTAINS(r.why, why);
}

#define REFUSED(text, rc, why) refused(text, sizeof(text) - 1, rc, why)

TEST(garbage_is_refused)
{
    REFUSED("SURPRISE\r\n\r\n", DM_ERR_PARSE, "does not start with HTTP/1.x");
    REFUSED("<html>", DM_ERR_PARSE, "does not start with HTTP/1.x");
    REFUSED("\r\r\n", DM_ERR_PARSE, "does not start with HTTP/1.x");
}

/* The first byte that cannot begin an answer is enough. */
TEST(garbage_is_refused_at_its_first_byte)
{
    h1_parser p;
    h1_parser_init(&p, false);
    h1_event ev;
    CHECK_INT(h1_parse(&p, "X", 1, &ev), DM_ERR_PARSE);
    CHECK_INT(h1_parse(&p, "HTTP/1.1 200 OK\r\n", 17, &ev), DM_ERR_PARSE); /* sticky */
    h1_parser_init(&p, false);
    CHECK_INT(h1_parse(&p, "HTT", 3, &ev), DM_OK);
    CHECK_INT(ev.kind, H1_NEED_MORE);
    CHECK_INT(ev.used, 0);
}

TEST(answer_without_a_head_is_refused)
{
    REFUSED("{\"TableNames\":[]}", DM_ERR_PARSE, "does not start with HTTP/1.x");
}

TEST(bad_status_lines)
{
    REFUSED("HTTP/2 200 OK\r\n\r\n", DM_ERR_PARSE, "does not start with HTTP/1.x");
    REFUSED("HTTP/1.1 2000 OK\r\n\r\n", DM_ERR_PARSE, "three digits");
    REFUSED("HTTP/1.1 20 OK\r\n\r\n", DM_ERR_PARSE, "three digits");
    REFUSED("HTTP/1.1 20\r\n\r\n", DM_ERR_PARSE, "not HTTP/1.x NNN");
    REFUSED("HTTP/1.x 200 OK\r\n\r\n", DM_ERR_PARSE, "not HTTP/1.x NNN");
    REFUSED("HTTP/1.1 2x0 OK\r\n\r\n", DM_ERR_PARSE, "three digits");
    REFUSED("HTTP/1.1  200 OK\r\n\r\n", DM_ERR_PARSE, "three digits");
    REFUSED("HTTP/1.1 099 Low\r\n\r\n", DM_ERR_PARSE, "below 100");
    REFUSED("HTTP/1.1 101 Switching Protocols\r\n\r\n", DM_ERR_PARSE, "switched protocols");
    REFUSED("HTTP/1.1 200 O\x01K\r\n\r\n", DM_ERR_PARSE, "reason phrase");
}

TEST(bad_header_lines)
{
    REFUSED("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", DM_ERR_PARSE, "without a valid name");
    REFUSED("HTTP/1.1 200 OK\r\nName : v\r\n\r\n", DM_ERR_PARSE, "without a valid name");
    REFUSED("HTTP/1.1 200 OK\r\n: v\r\n\r\n", DM_ERR_PARSE, "without a valid name");
    REFUSED("HTTP/1.1 200 OK\r\nA: b\r\n  folded\r\n\r\n", DM_ERR_PARSE, "folded");
    REFUSED("HTTP/1.1 200 OK\r\nA: b\x01\r\n\r\n", DM_ERR_PARSE, "control character");
    REFUSED("HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", DM_ERR_PARSE, "control character");
    refused("HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n", 27, DM_ERR_PARSE, "control character");
}

TEST(bad_content_lengths)
{
    REFUSED("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello", DM_ERR_PARSE, "conflicting");
    REFUSED("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", DM_ERR_PARSE,
            "conflicting");
    REFUSED("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", DM_ERR_PARSE, "not a number");
    REFUSED("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", DM_ERR_PARSE, "not a number");
    REFUSED("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", DM_ERR_PARSE, "empty");
    REFUSED("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", DM_ERR_PARSE, "too large");
}

TEST(bad_transfer_codings)
{
    REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", DM_ERR_PARSE, "unsupported transfer coding");
    REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", DM_ERR_PARSE, "unsupported");
    REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", DM_ERR_PARSE,
            "twice");
}

TEST(bad_chunks)
{
    REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", DM_ERR_PARSE, "not hexadecimal");
    REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n", DM_ERR_PARSE,
            "other than an extension");
    REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\x02\r\nhello\r\n", DM_ERR_PARSE,
            "extension holds a control");
    REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n", DM_ERR_PARSE,
            "too large");
    REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n", DM_ERR_PARSE,
            "not followed by a line end");
    REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\rX", DM_ERR_PARSE,
            "not followed by a line end");
    REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n", DM_ERR_PARSE,
            "without a valid name");
}

TEST(truncated_answers_are_not_complete)
{
    static const char *const cut[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n",
        "HTTP/1.1 200 OK\r\nContent-Le",
        "HTTP/1.1 100 Continue\r\n\r\n",
        "",
    };
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        result r;
        CHECK(every_split(cut[i], strlen(cut[i]), false, true, 0, &r));
        CHECK_INT(r.rc, DM_OK);
        CHECK(!r.done);
    }
}

/* ---- limits ------------------------------------------------------------------ */

TEST(head_larger_than_the_limit)
{
    /* 64 KiB by default: 70 lines of 1000 bytes exceed it. */
    static char t[80000];
    size_t n = (size_t)snprintf(t, sizeof t, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 70; i++) {
        n += (size_t)snprintf(t + n, sizeof t - n, "x-filler-%02d: ", i);
        memset(t + n, 'f', 984);
        n += 984;
        t[n++] = '\r';
        t[n++] = '\n';
    }
    result r;
    run(t, n, NULL, 0, false, false, 0, &r);
    CHECK_INT(r.rc, DM_ERR_LIMIT);
    CHECK_CONTAINS(r.why, "head is too large");
    /* Refused before the head's end arrives, and in pieces too. */
    CHECK(every_split(t, 1500, false, false, 1024, &r));
    CHECK_INT(r.rc, DM_ERR_LIMIT);
}

TEST(one_endless_header_line)
{
    static char t[2000];
    size_t n = (size_t)snprintf(t, sizeof t, "HTTP/1.1 200 OK\r\nx: ");
    memset(t + n, 'v', sizeof t - n);
    result r;
    CHECK(every_split(t, sizeof t, false, false, 512, &r));
    CHECK_INT(r.rc, DM_ERR_LIMIT);
}

TEST(too_many_headers)
{
    static char t[8000];
    size_t n = (size_t)snprintf(t, sizeof t, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i <= H1_MAX_FIELDS; i++)
        n += (size_t)snprintf(t + n, sizeof t - n, "a: %d\r\n", i);
    n += (size_t)snprintf(t + n, sizeof t - n, "\r\n");
    result r;
    run(t, n, NULL, 0, false, false, 0, &r);
    CHECK_INT(r.rc, DM_ERR_LIMIT);
    CHECK_CONTAINS(r.why, "too many header");
}

TEST(trailers_larger_than_the_limit)
{
    static char t[3000];
    size_t n = (size_t)snprintf(t, sizeof t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nt: ");
    memset(t + n, 't', 2000);
    n += 2000;
    result r;
    CHECK(every_split(t, n, false, false, 1024, &r));
    CHECK_INT(r.rc, DM_ERR_LIMIT);
    CHECK_CONTAINS(r.why, "trailers are too large");
}

/* Garbage longer than the head limit is garbage, not an oversized head,
 * however its bytes arrive. */
TEST(long_garbage_is_garbage)
{
    static char t[3000];
    memcpy(t, "HTchun", 6);
    memset(t + 6, 'x', sizeof t - 8);
    memcpy(t + sizeof t - 2, "\r\n", 2);
    result r;
    CHECK(every_split(t, sizeof t, false, false, 1024, &r));
    CHECK_INT(r.rc, DM_ERR_PARSE);
    CHECK_CONTAINS(r.why, "does not start with HTTP/1.x");
}

/* A chunk-size line of exactly the limit (extensions included) is read,
 * whether or not its CR arrives apart from its LF. */
TEST(chunk_size_line_at_the_limit)
{
    static char t[H1_MAX_CHUNK_LINE + 200];
    size_t n = (size_t)snprintf(t, sizeof t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    size_t line = n;
    memcpy(t + n, "1;", 2);
    memset(t + n + 2, 'e', H1_MAX_CHUNK_LINE - 2);
    n += H1_MAX_CHUNK_LINE;
    n += (size_t)snprintf(t + n, sizeof t - n, "\r\nA\r\n0\r\n\r\n");
    result r;
    run(t, n, NULL, 0, false, false, 0, &r);
    CHECK_INT(r.rc, DM_OK);
    CHECK(r.done);
    CHECK_STR(r.body, "A");
    size_t cut[1] = {line + H1_MAX_CHUNK_LINE + 1}; /* the CR has come, not the LF */
    run(t, n, cut, 1, false, false, 0, &r);
    CHECK_INT(r.rc, DM_OK);
    CHECK(r.done);
}

TEST(chunk_size_line_too_long)
{
    static char t[H1_MAX_CHUNK_LINE + 200];
    size_t n = (size_t)snprintf(t, sizeof t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;");
    memset(t + n, 'e', sizeof t - n);
    result r;
    run(t, sizeof t, NULL, 0, false, false, 0, &r);
    CHECK_INT(r.rc, DM_ERR_LIMIT);
    CHECK_CONTAINS(r.why, "chunk-size line");
}

TEST(endless_interim_answers)
{
    static char t[2000];
    size_t n = 0;
    for (int i = 0; i <= H1_MAX_INTERIM; i++)
        n += (size_t)snprintf(t + n, sizeof t - n, "HTTP/1.1 100 Continue\r\n\r\n");
    result r;
    run(t, n, NULL, 0, false, false, 0, &r);
    CHECK_INT(r.rc, DM_ERR_LIMIT);
    CHECK_CONTAINS(r.why, "interim");
}
