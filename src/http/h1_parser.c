/* HTTP/1.1 response parsing (RFC 9112) as a state machine over the
 * caller's bytes; see h1_parser.h. Lines are only consumed whole, so the
 * parser needs no buffer: a caller keeps what was not consumed and
 * presents it again with the bytes that follow. */
#include <string.h>
#include <strings.h>

#include "http/h1_parser.h"

enum state {
    S_STATUS,          /* status line, after optional empty lines */
    S_FIELDS,          /* headers of the final answer */
    S_INTERIM_FIELDS,  /* headers of a 1xx answer, read and dropped */
    S_BODY_LENGTH,
    S_BODY_CLOSE,
    S_CHUNK_SIZE,
    S_CHUNK_DATA,
    S_CHUNK_END,       /* the line end after a chunk's data */
    S_TRAILERS,
    S_DONE,
    S_ERROR
};

enum {
    F_LENGTH = 1,      /* Content-Length seen */
    F_CHUNKED = 2,     /* Transfer-Encoding: chunked seen */
    F_CLOSE = 4,       /* Connection: close */
    F_KEEP_ALIVE = 8   /* Connection: keep-alive */
};

/* Content-Length values past this are refused (they fit an int64_t). */
#define MAX_LENGTH 999999999999999999ULL

void h1_parser_init(h1_parser *p, bool head_request)
{
    memset(p, 0, sizeof *p);
    p->head_request = head_request;
    p->max_head_bytes = H1_DEFAULT_MAX_HEAD;
    p->state_ = S_STATUS;
}

bool h1_parser_eof_completes(const h1_parser *p) { return p->state_ == S_BODY_CLOSE; }

bool h1_parser_done(const h1_parser *p) { return p->state_ == S_DONE; }

static int fail(h1_parser *p, int code, const char *why)
{
    p->state_ = S_ERROR;
    p->error_ = code;
    p->why = why;
    return code;
}

static int event(h1_event *ev, h1_event_kind kind, size_t used)
{
    ev->kind = kind;
    ev->used = used;
    return DM_OK;
}

/* A whole line at in: its length without the line end (CRLF, or a bare LF
 * as many servers send) and the bytes it takes up. False when no line end
 * has arrived yet. */
static bool take_line(const char *in, size_t len, size_t *line_len, size_t *adv)
{
    const char *nl = memchr(in, '\n', len);
    if (!nl)
        return false;
    size_t n = (size_t)(nl - in);
    *adv = n + 1;
    if (n && in[n - 1] == '\r')
        n--;
    *line_len = n;
    return true;
}

static bool is_tchar(unsigned char c)
{
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return true;
    if (c >= '0' && c <= '9')
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field values and reason phrases: visible characters, spaces, tabs and
 * bytes above 0x7f; no other control characters (a bare CR included). */
static bool is_text(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

static bool token_is(const char *s, size_t n, const char *word)
{
    size_t wl = strlen(word);
    return n == wl && strncasecmp(s, word, wl) == 0;
}

/* "HTTP/1.x NNN[ reason]" */
static int status_line(h1_parser *p, const char *s, size_t n)
{
    if (n < 7 || memcmp(s, "HTTP/1.", 7) != 0)
        return fail(p, DM_ERR_PARSE, "the answer does not start with HTTP/1.x");
    if (n < 12 || s[7] < '0' || s[7] > '9' || s[8] != ' ')
        return fail(p, DM_ERR_PARSE, "the status line is not HTTP/1.x NNN");
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (s[i] < '0' || s[i] > '9')
            return fail(p, DM_ERR_PARSE, "the status code is not three digits");
        status = status * 10 + (s[i] - '0');
    }
    if (n > 12 && s[12] != ' ')
        return fail(p, DM_ERR_PARSE, "the status code is not three digits");
    for (size_t i = 13; i < n; i++)
        if (!is_text((unsigned char)s[i]))
            return fail(p, DM_ERR_PARSE, "the reason phrase holds a control character");
    if (status < 100)
        return fail(p, DM_ERR_PARSE, "the status code is below 100");
    if (status == 101)
        return fail(p, DM_ERR_PARSE, "the server switched protocols unasked (101)");
    p->status = status;
    p->version_minor = s[7] == '0' ? 0 : 1;
    return DM_OK;
}

/* "name: value" with the value's surrounding spaces and tabs trimmed. */
static int field_line(h1_parser *p, const char *s, size_t n, dm_str *name, dm_str *value)
{
    if (s[0] == ' ' || s[0] == '\t')
        return fail(p, DM_ERR_PARSE, "a folded header line (obsolete line folding)");
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)s[i]))
        i++;
    if (i == 0 || i == n || s[i] != ':')
        return fail(p, DM_ERR_PARSE, "a header line without a valid name and ':'");
    name->p = s;
    name->n = i;
    size_t vs = i + 1, ve = n;
    while (vs < ve && (s[vs] == ' ' || s[vs] == '\t'))
        vs++;
    while (ve > vs && (s[ve - 1] == ' ' || s[ve - 1] == '\t'))
        ve--;
    for (size_t k = vs; k < ve; k++)
        if (!is_text((unsigned char)s[k]))
            return fail(p, DM_ERR_PARSE, "a header value holds a control character");
    value->p = s + vs;
    value->n = ve - vs;
    return DM_OK;
}

/* Calls fn on each element of a comma-separated list, trimmed; empty
 * elements are skipped, as the list syntax allows. */
static int each_element(h1_parser *p, dm_str v, int (*fn)(h1_parser *p, const char *s, size_t n))
{
    size_t i = 0;
    while (i < v.n) {
        size_t j = i;
        while (j < v.n && v.p[j] != ',')
            j++;
        size_t s = i, e = j;
        while (s < e && (v.p[s] == ' ' || v.p[s] == '\t'))
            s++;
        while (e > s && (v.p[e - 1] == ' ' || v.p[e - 1] == '\t'))
            e--;
        if (e > s) {
            int rc = fn(p, v.p + s, e - s);
            if (rc)
                return rc;
        }
        i = j + 1;
    }
    return DM_OK;
}

static int length_element(h1_parser *p, const char *s, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return fail(p, DM_ERR_PARSE, "Content-Length is not a number");
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > MAX_LENGTH)
            return fail(p, DM_ERR_PARSE, "Content-Length is too large");
    }
    if ((p->flags_ & F_LENGTH) && v != p->content_length)
        return fail(p, DM_ERR_PARSE, "conflicting Content-Length values");
    p->flags_ |= F_LENGTH;
    p->content_length = v;
    return DM_OK;
}

/* Only chunked is asked for (no TE header is sent), and only once. */
static int coding_element(h1_parser *p, const char *s, size_t n)
{
    if (!token_is(s, n, "chunked"))
        return fail(p, DM_ERR_PARSE, "an unsupported transfer coding");
    if (p->flags_ & F_CHUNKED)
        return fail(p, DM_ERR_PARSE, "chunked transfer coding applied twice");
    p->flags_ |= F_CHUNKED;
    return DM_OK;
}

static int connection_element(h1_parser *p, const char *s, size_t n)
{
    if (token_is(s, n, "close"))
        p->flags_ |= F_CLOSE;
    else if (token_is(s, n, "keep-alive"))
        p->flags_ |= F_KEEP_ALIVE;
    return DM_OK;
}

/* Headers that decide the framing and the connection's future. */
static int note_field(h1_parser *p, dm_str name, dm_str value)
{
    if (token_is(name.p, name.n, "content-length")) {
        if (value.n == 0)
            return fail(p, DM_ERR_PARSE, "Content-Length is empty");
        return each_element(p, value, length_element);
    }
    if (token_is(name.p, name.n, "transfer-encoding"))
        return each_element(p, value, coding_element);
    if (token_is(name.p, name.n, "connection"))
        return each_element(p, value, connection_element);
    return DM_OK;
}

/* The blank line after the headers: how the body is framed (RFC 9112
 * section 6.3) and whether the connection can be used again. */
static void head_done(h1_parser *p)
{
    bool keep = p->version_minor >= 1 ? !(p->flags_ & F_CLOSE)
                                      : (p->flags_ & F_KEEP_ALIVE) && !(p->flags_ & F_CLOSE);
    if (p->head_request || p->status == 204 || p->status == 304) {
        p->framing = H1_BODY_NONE;
        p->state_ = S_DONE;
    } else if (p->flags_ & F_CHUNKED) {
        p->framing = H1_BODY_CHUNKED;
        p->state_ = S_CHUNK_SIZE;
        /* Both framings at once may be a smuggling attempt: the chunked
         * one is read, and the connection not trusted with another. */
        if (p->flags_ & F_LENGTH)
            keep = false;
    } else if (p->flags_ & F_LENGTH) {
        p->framing = p->content_length ? H1_BODY_LENGTH : H1_BODY_NONE;
        p->left_ = p->content_length;
        p->state_ = p->content_length ? S_BODY_LENGTH : S_DONE;
    } else {
        p->framing = H1_BODY_CLOSE;
        p->state_ = S_BODY_CLOSE;
        keep = false;
    }
    p->keep_alive = keep;
}

/* "1a2f[;ext...]": the size in hex, then nothing or extensions. */
static int chunk_size(h1_parser *p, const char *s, size_t n)
{
    size_t i = 0;
    uint64_t v = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') ? (c | 0x20) - 'a' + 10 : -1;
        if (d < 0)
            break;
        if (v > (MAX_LENGTH >> 4))
            return fail(p, DM_ERR_PARSE, "a chunk size is too large");
        v = v * 16 + (uint64_t)d;
        i++;
    }
    if (i == 0)
        return fail(p, DM_ERR_PARSE, "a chunk size is not hexadecimal");
    size_t k = i;
    while (k < n && (s[k] == ' ' || s[k] == '\t'))
        k++;
    if (k < n && s[k] != ';')
        return fail(p, DM_ERR_PARSE, "a chunk size is followed by something other than an extension");
    for (; k < n; k++)
        if (!is_text((unsigned char)s[k]))
            return fail(p, DM_ERR_PARSE, "a chunk extension holds a control character");
    p->left_ = v;
    return DM_OK;
}

/* The start of a status line that is still arriving: refused as soon as
 * it cannot become "HTTP/1.". */
static bool could_be_status(const char *s, size_t n)
{
    static const char prefix[] = "HTTP/1.";
    if (s[0] == '\r')
        return n == 1;
    size_t k = n < 7 ? n : 7;
    return memcmp(s, prefix, k) == 0;
}

/* Status, header and trailer lines, whose bytes count against the limit. */
static int field_lines(h1_parser *p, const char *in, size_t len, size_t used, h1_event *ev)
{
    for (;;) {
        const char *q = in + used;
        size_t n = len - used, ll = 0, adv = 0;
        bool whole = take_line(q, n, &ll, &adv);
        /* Garbage is refused as such before any limit applies, whether its
         * line has ended yet or not, so that it is named the same way however
         * the bytes arrive. */
        if (p->state_ == S_STATUS && (whole ? ll : n) && !could_be_status(q, whole ? ll : n))
            return fail(p, DM_ERR_PARSE, "the answer does not start with HTTP/1.x");
        if (!whole) {
            if (p->field_bytes_ + n > p->max_head_bytes)
                return fail(p, DM_ERR_LIMIT, p->state_ == S_TRAILERS ? "the trailers are too large"
                                                                      : "the answer's head is too large");
            return event(ev, H1_NEED_MORE, used);
        }
        if (p->field_bytes_ + adv > p->max_head_bytes)
            return fail(p, DM_ERR_LIMIT, p->state_ == S_TRAILERS ? "the trailers are too large"
                                                                  : "the answer's head is too large");
        p->field_bytes_ += adv;
        used += adv;
        if (p->state_ == S_STATUS) {
            if (ll == 0)
                continue; /* empty lines before the status line are tolerated */
            int rc = status_line(p, q, ll);
            if (rc)
                return rc;
            if (p->status < 200) {
                if (++p->interim > H1_MAX_INTERIM)
                    return fail(p, DM_ERR_LIMIT, "too many interim (1xx) answers");
                p->state_ = S_INTERIM_FIELDS;
            } else {
                p->state_ = S_FIELDS;
            }
            continue;
        }
        if (ll == 0) {
            if (p->state_ == S_INTERIM_FIELDS) {
                p->state_ = S_STATUS;
                p->field_bytes_ = 0;
                p->n_fields_ = 0;
                continue;
            }
            if (p->state_ == S_TRAILERS) {
                p->state_ = S_DONE;
                return event(ev, H1_DONE, used);
            }
            head_done(p);
            return event(ev, H1_HEAD_DONE, used);
        }
        if (++p->n_fields_ > H1_MAX_FIELDS)
            return fail(p, DM_ERR_LIMIT, "too many header or trailer lines");
        dm_str name, value;
        int rc = field_line(p, q, ll, &name, &value);
        if (rc)
            return rc;
        if (p->state_ == S_INTERIM_FIELDS)
            continue;
        if (p->state_ == S_FIELDS && (rc = note_field(p, name, value)) != DM_OK)
            return rc;
        ev->name = name;
        ev->value = value;
        return event(ev, p->state_ == S_TRAILERS ? H1_TRAILER : H1_HEADER, used);
    }
}

int h1_parse(h1_parser *p, const char *in, size_t len, h1_event *ev)
{
    ev->kind = H1_NEED_MORE;
    ev->used = 0;
    ev->name.p = ev->value.p = ev->data.p = NULL;
    ev->name.n = ev->value.n = ev->data.n = 0;
    size_t used = 0;
    for (;;) {
        const char *q = in + used;
        size_t n = len - used;
        switch (p->state_) {
        case S_STATUS:
        case S_FIELDS:
        case S_INTERIM_FIELDS:
        case S_TRAILERS:
            return field_lines(p, in, len, used, ev);
        case S_BODY_LENGTH:
        case S_CHUNK_DATA: {
            if (n == 0)
                return event(ev, H1_NEED_MORE, used);
            size_t take = (uint64_t)n < p->left_ ? n : (size_t)p->left_;
            p->left_ -= take;
            if (p->left_ == 0)
                p->state_ = p->state_ == S_BODY_LENGTH ? S_DONE : S_CHUNK_END;
            ev->data.p = q;
            ev->data.n = take;
            return event(ev, H1_BODY, used + take);
        }
        case S_BODY_CLOSE:
            if (n == 0)
                return event(ev, H1_NEED_MORE, used);
            ev->data.p = q;
            ev->data.n = n;
            return event(ev, H1_BODY, len);
        case S_CHUNK_SIZE: {
            size_t ll, adv;
            if (!take_line(q, n, &ll, &adv)) {
                /* Room for the line's CR, which is not part of it. */
                if (n > H1_MAX_CHUNK_LINE + 1)
                    return fail(p, DM_ERR_LIMIT, "a chunk-size line is too long");
                return event(ev, H1_NEED_MORE, used);
            }
            if (ll > H1_MAX_CHUNK_LINE)
                return fail(p, DM_ERR_LIMIT, "a chunk-size line is too long");
            int rc = chunk_size(p, q, ll);
            if (rc)
                return rc;
            used += adv;
            if (p->left_ == 0) {
                p->state_ = S_TRAILERS;
                p->field_bytes_ = 0;
                p->n_fields_ = 0;
            } else {
                p->state_ = S_CHUNK_DATA;
            }
            continue;
        }
        case S_CHUNK_END:
            if (n == 0 || (q[0] == '\r' && n == 1))
                return event(ev, H1_NEED_MORE, used);
            if (q[0] == '\n') {
                used += 1;
            } else if (q[0] == '\r' && q[1] == '\n') {
                used += 2;
            } else {
                return fail(p, DM_ERR_PARSE, "a chunk's data is not followed by a line end");
            }
            p->state_ = S_CHUNK_SIZE;
            continue;
        case S_DONE:
            return event(ev, H1_DONE, used);
        default:
            return p->error_;
        }
    }
}
