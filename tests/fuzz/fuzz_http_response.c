/* libFuzzer target for the HTTP/1.1 response parser. The first byte picks
 * HEAD or not and how the rest is cut into pieces; the rest is the answer.
 * The answer is parsed whole and then in pieces (unconsumed bytes kept and
 * presented again, as a connection does): both must report the same
 * events, no call may consume more than it was given, and body views must
 * lie inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/h1_parser.h"

typedef struct digest {
    uint64_t h;
    int rc;
    bool done;
    size_t consumed;
} digest;

static void mix(digest *d, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        d->h = (d->h ^ b[i]) * 1099511628211ULL;
}

/* Feeds data in pieces whose sizes come from seed (0: all at once). */
static void parse(const uint8_t *data, size_t size, bool head, unsigned seed, digest *d)
{
    memset(d, 0, sizeof *d);
    d->h = 1469598103934665603ULL;
    h1_parser p;
    h1_parser_init(&p, head);
    p.max_head_bytes = 2048; /* small, so that inputs reach the limit */
    char *buf = malloc(size + 1);
    size_t have = 0, arrived = 0;
    while (d->rc == 0 && !d->done) {
        size_t piece = seed ? 1 + (seed = seed * 1103515245u + 12345u) % 97 : size;
        if (arrived == size && have == 0)
            break;
        size_t take = size - arrived < piece ? size - arrived : piece;
        memcpy(buf + have, data + arrived, take);
        have += take;
        arrived += take;
        size_t off = 0;
        for (;;) {
            h1_event ev;
            int rc = h1_parse(&p, buf + off, have - off, &ev);
            if (rc) {
                d->rc = rc;
                break;
            }
            if (ev.used > have - off)
                abort();
            if (ev.kind == H1_BODY && (ev.data.p < buf + off || ev.data.p + ev.data.n > buf + off + ev.used))
                abort();
            off += ev.used;
            d->consumed += ev.used;
            /* Body bytes come in as many events as pieces: only their
             * concatenation counts. */
            int k = (int)ev.kind;
            if (ev.kind != H1_NEED_MORE && ev.kind != H1_BODY)
                mix(d, &k, sizeof k);
            mix(d, ev.name.p ? ev.name.p : "", ev.name.n);
            mix(d, ev.value.p ? ev.value.p : "", ev.value.n);
            mix(d, ev.data.p ? ev.data.p : "", ev.data.n);
            if (ev.kind == H1_HEAD_DONE) {
                mix(d, &p.status, sizeof p.status);
                mix(d, &p.framing, sizeof p.framing);
            }
            if (ev.kind == H1_DONE) {
                d->done = true;
                break;
            }
            if (ev.kind == H1_NEED_MORE)
                break;
        }
        memmove(buf, buf + off, have - off);
        have -= off;
        if (arrived == size && d->rc == 0 && !d->done) {
            if (h1_parser_eof_completes(&p))
                d->done = true;
            break;
        }
    }
    mix(d, &p.keep_alive, sizeof p.keep_alive);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool head = data[0] & 1;
    unsigned seed = data[0] >> 1 | 1u;
    digest whole, pieces;
    parse(data + 1, size - 1, head, 0, &whole);
    parse(data + 1, size - 1, head, seed, &pieces);
    if (whole.rc != pieces.rc || whole.done != pieces.done)
        abort();
    if (whole.rc == 0 && (whole.h != pieces.h || whole.consumed != pieces.consumed))
        abort();
    return 0;
}
