/* The HTTP/1.1 response parser: a pure function of the bytes it is given.
 * No I/O, no allocation, no buffer of its own; header names, values and
 * body bytes are handed back as views into the caller's input.
 *
 * Use: h1_parser_init, then call h1_parse on the bytes received so far.
 * Each call consumes ev->used bytes (the caller drops them before the next
 * call, and keeps the rest: a line that has not arrived whole is left
 * unconsumed) and reports one event:
 *
 *   H1_NEED_MORE   call again when more bytes have arrived
 *   H1_HEADER      ev->name, ev->value: a header of the final answer
 *   H1_HEAD_DONE   status, framing and keep_alive are known
 *   H1_BODY        ev->data: the next body bytes (chunk framing removed)
 *   H1_TRAILER     ev->name, ev->value: a trailer after a chunked body
 *   H1_DONE        the answer is complete; bytes after it are not its own
 *
 * Views are valid until the caller changes or moves its input. When the
 * connection ends, h1_parser_eof_completes says whether that completes the
 * answer (a body that runs until the connection closes) or cuts it short.
 *
 * What it handles: status line (HTTP/1.0 and 1.1), interim 1xx answers
 * (skipped; 101 refused), header names and values (checked character by
 * character, folded lines refused), Content-Length (a list of equal values
 * allowed, different ones refused), Transfer-Encoding: chunked (size,
 * extensions, data, trailers), bodies that end with the connection, and
 * answers without a body (HEAD, 204, 304). Limits: the head (status line
 * and headers) and the trailers each at most max_head_bytes, at most
 * H1_MAX_FIELDS fields each, a chunk-size line at most H1_MAX_CHUNK_LINE. */
#ifndef DDBMIG_HTTP_H1_PARSER_H
#define DDBMIG_HTTP_H1_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ddbmig/common.h"

#define H1_DEFAULT_MAX_HEAD (64u << 10)
#define H1_MAX_FIELDS 256
#define H1_MAX_CHUNK_LINE 4096
#define H1_MAX_INTERIM 32

typedef enum h1_framing {
    H1_BODY_NONE,    /* no body: HEAD, 204, 304, or Content-Length: 0 */
    H1_BODY_LENGTH,  /* Content-Length bytes */
    H1_BODY_CHUNKED,
    H1_BODY_CLOSE    /* until the server closes the connection */
} h1_framing;

typedef enum h1_event_kind {
    H1_NEED_MORE,
    H1_HEADER,
    H1_HEAD_DONE,
    H1_BODY,
    H1_TRAILER,
    H1_DONE
} h1_event_kind;

typedef struct h1_event {
    h1_event_kind kind;
    size_t used;        /* input bytes consumed by this call */
    dm_str name, value; /* H1_HEADER, H1_TRAILER */
    dm_str data;        /* H1_BODY */
} h1_event;

typedef struct h1_parser {
    /* Set by h1_parser_init; max_head_bytes may be changed before the
     * first call. */
    bool head_request;       /* answer to HEAD: never a body */
    size_t max_head_bytes;
    /* The answer, from H1_HEAD_DONE on. */
    int status;
    int version_minor;       /* 0 or 1 (HTTP/1.x with x > 1 counts as 1) */
    h1_framing framing;
    uint64_t content_length; /* H1_BODY_LENGTH */
    bool keep_alive;         /* the connection may carry another request */
    unsigned interim;        /* 1xx answers skipped */
    /* After an error: what was wrong (static text). */
    const char *why;
    /* Private. */
    int state_;
    int error_;
    uint64_t left_;
    size_t field_bytes_;
    unsigned n_fields_;
    unsigned flags_;
} h1_parser;

/* Prepares p for one answer; head_request when the request was HEAD. */
void h1_parser_init(h1_parser *p, bool head_request);

/* Consumes from [in, in + len) and reports one event in *ev. Returns DM_OK,
 * or DM_ERR_PARSE (malformed answer) / DM_ERR_LIMIT (a limit exceeded)
 * with p->why; after an error every call fails the same way. */
int h1_parse(h1_parser *p, const char *in, size_t len, h1_event *ev);

/* True when the connection ending now completes the answer: its body runs
 * until the close and the head has been read. */
bool h1_parser_eof_completes(const h1_parser *p);

/* True once the answer is complete (H1_DONE has been reported, or is
 * reported by the next call without further input). */
bool h1_parser_done(const h1_parser *p);

#endif
