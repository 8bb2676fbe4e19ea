/* fakeddb: a fake DynamoDB endpoint (JSON protocol, HTTP/1.1, optional
 * TLS) for benchmarks: bench/run measures ddbmig and SDK scripts on
 * it. It must never be the bottleneck, so the work per request is small:
 * bodies are walked once by a small JSON scanner (only the fields an
 * answer depends on are read), answers are written from templates, and
 * each thread owns an epoll set, a SO_REUSEPORT listener and a timerfd.
 *
 * The table: every table name is accepted (or only those of --table), all
 * with the same synthetic content: --items items, item i being
 * {pk: "k%09d" of i, n: 0, payload: filler, and a few attributes of the
 * other types}, about --item-bytes bytes by DynamoDB's measure. Items are
 * generated, never stored, so memory stays small whatever the count.
 * Writes (BatchExecuteStatement's write statements too, each answered as
 * carried out) are accepted (every condition holds) and counted, but change
 * nothing: a later Scan or GetItem returns the same items, so a `verify`
 * after a run still finds every item to migrate.
 *
 * Latency: each answer is held for its operation's latency (--latency
 * scan=100,write=5,batch=15,get=5,other=0, in ms; BatchExecuteStatement is
 * a batch) without blocking
 * anything else: a class's latency is fixed, so each class's held answers
 * form a FIFO ordered by due time, and the thread's timerfd is armed at
 * the earliest head. Answers on one connection leave in request order.
 *
 * Observation: a sampler thread reads, every --sample-ms, how many
 * requests of each class are held (received, not yet answered) while any
 * client is connected; the exit line reports their means, maxima and how
 * often Scans and writes were in flight together (--timeline FILE writes
 * it per 100 ms).
 *
 * Output: the port on the first line of stdout; on SIGTERM or SIGINT one
 * JSON line (CPU seconds from getrusage, requests and bytes per operation,
 * in-flight statistics), then exit 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <zlib.h>

#define MAX_HEAD_BYTES (64 * 1024)
#define MAX_BODY_BYTES (32u * 1024 * 1024)
#define OUT_PAUSE_BYTES (8u * 1024 * 1024) /* stop parsing while this much waits to be sent */
#define BIG_BUF_BYTES (256 * 1024)         /* a buffer this large is freed once empty */
#define MAX_TABLES 16
#define MAX_BATCH_TABLES 100
#define HIST_MAX 4096

/* ---- operations and latency classes -------------------------------------- */

enum op {
    OP_SCAN,
    OP_GET,
    OP_UPDATE,
    OP_PUT,
    OP_DELETE,
    OP_BATCH_WRITE,
    OP_BATCH_GET,
    OP_TRANSACT_WRITE,
    OP_BATCH_STMT,
    OP_DESCRIBE_TABLE,
    OP_DESCRIBE_BACKUPS,
    OP_LIST_TABLES,
    OP_UNKNOWN,
    N_OPS
};

static const char *const op_names[N_OPS] = {
    "Scan",           "GetItem",      "UpdateItem",         "PutItem",       "DeleteItem",
    "BatchWriteItem", "BatchGetItem", "TransactWriteItems", "BatchExecuteStatement", "DescribeTable",
    "DescribeContinuousBackups", "ListTables", "other"};

enum cls { C_SCAN, C_WRITE, C_BATCH, C_GET, C_OTHER, N_CLS };

static const char *const cls_names[N_CLS] = {"scan", "write", "batch", "get", "other"};

static const int op_cls[N_OPS] = {C_SCAN, C_GET,   C_WRITE, C_WRITE, C_WRITE, C_BATCH,
                                  C_GET,  C_WRITE, C_BATCH, C_OTHER, C_OTHER, C_OTHER, C_OTHER};

/* ---- configuration ----------------------------------------------------- */

static struct {
    const char *bind_addr;
    int port;
    int threads;
    const char *tables[MAX_TABLES];
    size_t table_lens[MAX_TABLES];
    int n_tables;
    int64_t items;
    int64_t item_bytes;
    int64_t page_bytes;
    int64_t latency_ns[N_CLS];
    int64_t slack_ns;
    const char *tls_cert, *tls_key;
    const char *timeline;
    int sample_ms;
    const char *region;
} cfg = {.bind_addr = "127.0.0.1",
         .threads = 1,
         .items = 100000,
         .item_bytes = 1024,
         .page_bytes = 1 << 20,
         .sample_ms = 2,
         .region = "us-east-1"};

static SSL_CTX *g_ssl;

/* The item template: item i is the template with its key's digits written
 * at key_at. */
static char *g_item;
static size_t g_item_len, g_key_at;
static int g_key_width;
static int64_t g_item_size;  /* by DynamoDB's measure, about --item-bytes */
static int64_t g_item_units; /* write units of one item */

/* ---- shared counters (the sampler reads them) ---------------------------- */

static atomic_int g_stop;
static atomic_long g_inflight[N_CLS];
static atomic_long g_done[N_CLS];
static atomic_long g_conns_open, g_conns_max, g_conns_total;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fakeddb: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* ---- growable buffers ---------------------------------------------------- */

typedef struct dbuf {
    char *p;
    size_t len, cap;
} dbuf;

static void b_reserve(dbuf *b, size_t more)
{
    if (b->cap - b->len >= more)
        return;
    size_t want = b->len + more, cap = b->cap ? b->cap : 4096;
    while (cap < want)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        die("out of memory");
    b->p = p;
    b->cap = cap;
}

static void b_free(dbuf *b)
{
    free(b->p);
    *b = (dbuf){0};
}

static void b_put(dbuf *b, const char *s, size_t n)
{
    b_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void b_puts(dbuf *b, const char *s)
{
    b_put(b, s, strlen(s));
}

static void b_putc(dbuf *b, char c)
{
    b_reserve(b, 1);
    b->p[b->len++] = c;
}

static void b_putu(dbuf *b, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    b_reserve(b, (size_t)n);
    while (n)
        b->p[b->len++] = tmp[--n];
}

/* Capacity units counted in halves: 3 halves is "1.5". */
static void b_put_halves(dbuf *b, uint64_t halves)
{
    b_putu(b, halves / 2);
    b_puts(b, halves % 2 ? ".5" : ".0");
}

/* A string already valid inside JSON quotes (raw text taken from a
 * request's JSON string, or a table name given on the command line). */
static void b_putq(dbuf *b, const char *s, size_t n)
{
    b_putc(b, '"');
    b_put(b, s, n);
    b_putc(b, '"');
}

static void put_digits(char *dst, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        dst[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* ---- a small JSON scanner -------------------------------------------------
 * Walks a body once; strings come back as raw views (escapes kept), values
 * that do not matter are skipped with their syntax checked. Every read is
 * bounded by the end of the body. */

typedef struct js {
    const char *p, *e;
} js;

static void js_ws(js *j)
{
    while (j->p < j->e && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static bool js_eat(js *j, char c)
{
    js_ws(j);
    if (j->p < j->e && *j->p == c) {
        j->p++;
        return true;
    }
    return false;
}

/* Eight bytes at a time, a word with none of '"', '\\' or a control
 * character is passed over whole: most of a write's body is string values. */
static bool plain8(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
    uint64_t hit = ((q - ones) & ~q) | ((b - ones) & ~b) | ((v - ones * 0x20) & ~v);
    return (hit & highs) == 0;
}

static bool js_str(js *j, const char **s, size_t *n)
{
    if (!js_eat(j, '"'))
        return false;
    const char *start = j->p;
    while (j->e - j->p >= 8 && plain8(j->p))
        j->p += 8;
    while (j->p < j->e) {
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            *s = start;
            *n = (size_t)(j->p - start);
            j->p++;
            return true;
        }
        if (c == '\\') {
            if (j->e - j->p < 2)
                return false;
            j->p += 2;
            continue;
        }
        if (c < 0x20)
            return false;
        j->p++;
        while (j->e - j->p >= 8 && plain8(j->p))
            j->p += 8;
    }
    return false;
}

static bool js_lit(js *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->e - j->p) < n || memcmp(j->p, lit, n) != 0)
        return false;
    j->p += n;
    return true;
}

static bool js_skip(js *j, int depth);

/* Opens an object or array: 1 when a member follows, 0 when it is empty,
 * -1 when the value is not one. */
static int js_open(js *j, char open, char close)
{
    if (!js_eat(j, open))
        return -1;
    return js_eat(j, close) ? 0 : 1;
}

/* After a member: 1 when another follows, 0 at the end, -1 on an error. */
static int js_next(js *j, char close)
{
    if (js_eat(j, ','))
        return 1;
    return js_eat(j, close) ? 0 : -1;
}

static bool js_key(js *j, const char **k, size_t *n)
{
    return js_str(j, k, n) && js_eat(j, ':');
}

static bool js_skip(js *j, int depth)
{
    const char *s;
    size_t n;
    js_ws(j);
    if (j->p >= j->e || depth > 64)
        return false;
    switch (*j->p) {
    case '"': return js_str(j, &s, &n);
    case '{': {
        int more = js_open(j, '{', '}');
        while (more == 1) {
            if (!js_key(j, &s, &n) || !js_skip(j, depth + 1))
                return false;
            more = js_next(j, '}');
        }
        return more == 0;
    }
    case '[': {
        int more = js_open(j, '[', ']');
        while (more == 1) {
            if (!js_skip(j, depth + 1))
                return false;
            more = js_next(j, ']');
        }
        return more == 0;
    }
    case 't': return js_lit(j, "true");
    case 'f': return js_lit(j, "false");
    case 'n': return js_lit(j, "null");
    default: {
        const char *start = j->p;
        bool digit = false;
        while (j->p < j->e && strchr("0123456789+-.eE", *j->p)) {
            digit = digit || (*j->p >= '0' && *j->p <= '9');
            j->p++;
        }
        return digit && j->p > start;
    }
    }
}

/* A whole number (no fraction or exponent), as DynamoDB's integer fields. */
static bool js_int(js *j, int64_t *v)
{
    js_ws(j);
    bool neg = j->p < j->e && *j->p == '-';
    if (neg)
        j->p++;
    int64_t x = 0;
    int digits = 0;
    while (j->p < j->e && *j->p >= '0' && *j->p <= '9' && digits < 18) {
        x = x * 10 + (*j->p++ - '0');
        digits++;
    }
    if (!digits || (j->p < j->e && strchr("0123456789.eE", *j->p)))
        return false;
    *v = neg ? -x : x;
    return true;
}

static bool js_bool(js *j, bool *v)
{
    js_ws(j);
    if (js_lit(j, "true"))
        return *v = true;
    if (js_lit(j, "false"))
        return !(*v = false);
    return false;
}

#define KEY_IS(k, n, lit) ((n) == sizeof(lit) - 1 && memcmp((k), (lit), sizeof(lit) - 1) == 0)

/* A key or item ({"pk":{"S":"k000000042"}, ...}): *idx is the item's
 * index, or -1 when pk is not one of ours. */
static bool js_item_key(js *j, int64_t *idx)
{
    const char *k, *s;
    size_t kn, sn;
    *idx = -1;
    int more = js_open(j, '{', '}');
    while (more == 1) {
        if (!js_key(j, &k, &kn))
            return false;
        if (KEY_IS(k, kn, "pk")) {
            int m = js_open(j, '{', '}');
            while (m == 1) {
                if (!js_key(j, &k, &kn))
                    return false;
                if (KEY_IS(k, kn, "S")) {
                    if (!js_str(j, &s, &sn))
                        return false;
                    int64_t v = 0;
                    bool ok = sn >= 2 && sn <= 19 && s[0] == 'k';
                    for (size_t i = 1; ok && i < sn; i++) {
                        ok = s[i] >= '0' && s[i] <= '9';
                        v = v * 10 + (s[i] - '0');
                    }
                    *idx = ok ? v : -1;
                } else if (!js_skip(j, 1)) {
                    return false;
                }
                m = js_next(j, '}');
            }
            if (m < 0)
                return false;
        } else if (!js_skip(j, 1)) {
            return false;
        }
        more = js_next(j, '}');
    }
    return more == 0;
}

/* ReturnConsumedCapacity: TOTAL or INDEXES ask for it, NONE does not. */
static bool js_cc(js *j, bool *want)
{
    const char *s;
    size_t n;
    if (!js_str(j, &s, &n))
        return false;
    *want = !KEY_IS(s, n, "NONE");
    return true;
}

/* ---- the synthetic items ------------------------------------------------- */

/* DynamoDB's size of the attributes other than the payload's value (names
 * and values, by its rules for each type; numbers about half their digits
 * plus one). */
#define FIXED_ITEM_SIZE 128

static void build_item_template(void)
{
    int width = 9;
    for (int64_t n = cfg.items - 1; n >= 1000000000; n /= 10)
        width++;
    g_key_width = width;
    int64_t filler = cfg.item_bytes - FIXED_ITEM_SIZE - width - 1;
    if (filler < 1)
        filler = 1;
    g_item_size = FIXED_ITEM_SIZE + width + 1 + filler;
    g_item_units = (g_item_size + 1023) / 1024;
    dbuf b = {0};
    b_puts(&b, "{\"pk\":{\"S\":\"k");
    g_key_at = b.len;
    for (int i = 0; i < width; i++)
        b_putc(&b, '0');
    b_puts(&b, "\"},\"n\":{\"N\":\"0\"},\"payload\":{\"S\":\"");
    static const char pattern[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int64_t i = 0; i < filler; i++)
        b_putc(&b, pattern[i % (int64_t)(sizeof pattern - 1)]);
    b_puts(&b, "\"},\"status\":{\"S\":\"active\"},\"price\":{\"N\":\"19.99\"},\"active\":{\"BOOL\":true},"
               "\"tags\":{\"SS\":[\"blue\",\"green\",\"red\"]},\"scores\":{\"NS\":[\"1\",\"2.5\",\"300\"]},"
               "\"meta\":{\"M\":{\"owner\":{\"S\":\"bench\"},\"rev\":{\"N\":\"7\"},"
               "\"flags\":{\"L\":[{\"BOOL\":false},{\"NULL\":true},{\"N\":\"-1\"}]}}},"
               "\"blob\":{\"B\":\"AAECAwQFBgc=\"}}");
    g_item = b.p;
    g_item_len = b.len;
}

static void put_item(dbuf *b, int64_t i)
{
    b_reserve(b, g_item_len);
    char *dst = b->p + b->len;
    memcpy(dst, g_item, g_item_len);
    put_digits(dst + g_key_at, (uint64_t)i, g_key_width);
    b->len += g_item_len;
}

static void put_key_json(dbuf *b, int64_t i)
{
    b_puts(b, "{\"pk\":{\"S\":\"k");
    b_reserve(b, (size_t)g_key_width);
    put_digits(b->p + b->len, (uint64_t)i, g_key_width);
    b->len += (size_t)g_key_width;
    b_puts(b, "\"}}");
}

static bool table_known(const char *s, size_t n)
{
    if (cfg.n_tables == 0)
        return n > 0;
    for (int i = 0; i < cfg.n_tables; i++)
        if (cfg.table_lens[i] == n && memcmp(cfg.tables[i], s, n) == 0)
            return true;
    return false;
}

/* ---- answers --------------------------------------------------------------- */

typedef struct answer {
    dbuf *b;            /* the body */
    int status;         /* HTTP status */
    int64_t items_read; /* items returned */
    int64_t items_written;
} answer;

static void fail(answer *a, int status, const char *type, const char *message)
{
    a->b->len = 0;
    a->status = status;
    b_puts(a->b, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#");
    b_puts(a->b, type);
    b_puts(a->b, "\",\"message\":\"");
    b_puts(a->b, message);
    b_puts(a->b, "\"}");
}

static void bad_json(answer *a)
{
    fail(a, 400, "SerializationException", "the request body is not valid JSON");
}

static void no_table(answer *a)
{
    fail(a, 400, "ResourceNotFoundException", "Requested resource not found");
}

static bool check_table(answer *a, const char *t, size_t tn)
{
    if (!t) {
        fail(a, 400, "ValidationException", "TableName is required");
        return false;
    }
    if (!table_known(t, tn)) {
        no_table(a);
        return false;
    }
    return true;
}

static void put_cc(dbuf *b, const char *t, size_t tn, uint64_t halves)
{
    b_puts(b, "\"ConsumedCapacity\":{\"TableName\":");
    b_putq(b, t, tn);
    b_puts(b, ",\"CapacityUnits\":");
    b_put_halves(b, halves);
    b_putc(b, '}');
}

static void do_scan(const char *body, size_t n, answer *a)
{
    js j = {body, body + n};
    const char *t = NULL, *k;
    size_t tn = 0, kn;
    int64_t seg = -1, total = -1, limit = -1, start = -1;
    bool have_seg = false, have_total = false, have_start = false, consistent = false, cc = false, ok;
    int more = js_open(&j, '{', '}');
    while (more == 1) {
        if (!js_key(&j, &k, &kn))
            return bad_json(a);
        if (KEY_IS(k, kn, "TableName"))
            ok = js_str(&j, &t, &tn);
        else if (KEY_IS(k, kn, "Segment"))
            ok = have_seg = js_int(&j, &seg);
        else if (KEY_IS(k, kn, "TotalSegments"))
            ok = have_total = js_int(&j, &total);
        else if (KEY_IS(k, kn, "Limit"))
            ok = js_int(&j, &limit);
        else if (KEY_IS(k, kn, "ExclusiveStartKey"))
            ok = have_start = js_item_key(&j, &start);
        else if (KEY_IS(k, kn, "ConsistentRead"))
            ok = js_bool(&j, &consistent);
        else if (KEY_IS(k, kn, "ReturnConsumedCapacity"))
            ok = js_cc(&j, &cc);
        else
            ok = js_skip(&j, 0);
        if (!ok)
            return bad_json(a);
        more = js_next(&j, '}');
    }
    if (more < 0)
        return bad_json(a);
    if (!check_table(a, t, tn))
        return;
    if (have_seg != have_total || (have_total && (total < 1 || total > 1000000 || seg < 0 || seg >= total)))
        return fail(a, 400, "ValidationException", "Segment and TotalSegments are inconsistent or out of range");
    if (!have_total)
        seg = 0, total = 1;
    if (limit == 0 || limit < -1)
        return fail(a, 400, "ValidationException", "Limit must be at least 1");
    if (have_start && start < 0)
        return fail(a, 400, "ValidationException", "The provided starting key is invalid");
    int64_t from = (int64_t)((__int128)cfg.items * seg / total);
    int64_t end = (int64_t)((__int128)cfg.items * (seg + 1) / total);
    if (have_start && start + 1 > from)
        from = start + 1;
    dbuf *b = a->b;
    b_puts(b, "{\"Items\":[");
    int64_t i = from, count = 0, bytes = 0;
    while (i < end && (limit < 0 || count < limit) && bytes < cfg.page_bytes) {
        if (count)
            b_putc(b, ',');
        put_item(b, i++);
        count++;
        bytes += g_item_size;
    }
    b_puts(b, "],\"Count\":");
    b_putu(b, (uint64_t)count);
    b_puts(b, ",\"ScannedCount\":");
    b_putu(b, (uint64_t)count);
    if (i < end) {
        b_puts(b, ",\"LastEvaluatedKey\":");
        put_key_json(b, i - 1);
    }
    if (cc) {
        b_putc(b, ',');
        uint64_t blocks = (uint64_t)((bytes + 4095) / 4096);
        put_cc(b, t, tn, consistent ? 2 * blocks : blocks);
    }
    b_putc(b, '}');
    a->items_read = count;
}

static void do_get(const char *body, size_t n, answer *a)
{
    js j = {body, body + n};
    const char *t = NULL, *k;
    size_t tn = 0, kn;
    int64_t key = -1;
    bool have_key = false, consistent = false, cc = false, ok;
    int more = js_open(&j, '{', '}');
    while (more == 1) {
        if (!js_key(&j, &k, &kn))
            return bad_json(a);
        if (KEY_IS(k, kn, "TableName"))
            ok = js_str(&j, &t, &tn);
        else if (KEY_IS(k, kn, "Key"))
            ok = have_key = js_item_key(&j, &key);
        else if (KEY_IS(k, kn, "ConsistentRead"))
            ok = js_bool(&j, &consistent);
        else if (KEY_IS(k, kn, "ReturnConsumedCapacity"))
            ok = js_cc(&j, &cc);
        else
            ok = js_skip(&j, 0);
        if (!ok)
            return bad_json(a);
        more = js_next(&j, '}');
    }
    if (more < 0)
        return bad_json(a);
    if (!check_table(a, t, tn))
        return;
    if (!have_key)
        return fail(a, 400, "ValidationException", "Key is required");
    dbuf *b = a->b;
    bool found = key >= 0 && key < cfg.items;
    b_putc(b, '{');
    if (found) {
        b_puts(b, "\"Item\":");
        put_item(b, key);
        a->items_read = 1;
    }
    if (cc) {
        if (found)
            b_putc(b, ',');
        uint64_t blocks = found ? (uint64_t)((g_item_size + 4095) / 4096) : 1;
        put_cc(b, t, tn, consistent ? 2 * blocks : blocks);
    }
    b_putc(b, '}');
}

/* UpdateItem, PutItem, DeleteItem: every condition holds. */
static void do_write(enum op op, const char *body, size_t n, answer *a)
{
    js j = {body, body + n};
    const char *t = NULL, *k, *rv = NULL;
    size_t tn = 0, kn, rvn = 0;
    int64_t key = -1;
    bool have_key = false, cc = false, ok;
    const char *key_field = op == OP_PUT ? "Item" : "Key";
    int more = js_open(&j, '{', '}');
    while (more == 1) {
        if (!js_key(&j, &k, &kn))
            return bad_json(a);
        if (KEY_IS(k, kn, "TableName"))
            ok = js_str(&j, &t, &tn);
        else if (kn == strlen(key_field) && memcmp(k, key_field, kn) == 0)
            ok = have_key = js_item_key(&j, &key);
        else if (KEY_IS(k, kn, "ReturnValues"))
            ok = js_str(&j, &rv, &rvn);
        else if (KEY_IS(k, kn, "ReturnConsumedCapacity"))
            ok = js_cc(&j, &cc);
        else
            ok = js_skip(&j, 0);
        if (!ok)
            return bad_json(a);
        more = js_next(&j, '}');
    }
    if (more < 0)
        return bad_json(a);
    if (!check_table(a, t, tn))
        return;
    if (!have_key)
        return fail(a, 400, "ValidationException", op == OP_PUT ? "Item is required" : "Key is required");
    /* ALL_OLD, ALL_NEW, UPDATED_*: the synthetic item stands for both
     * images (writes change nothing here). */
    bool attrs = rv && !KEY_IS(rv, rvn, "NONE") && key >= 0 && key < cfg.items;
    dbuf *b = a->b;
    b_putc(b, '{');
    if (attrs) {
        b_puts(b, "\"Attributes\":");
        put_item(b, key);
    }
    if (cc) {
        if (attrs)
            b_putc(b, ',');
        put_cc(b, t, tn, 2 * (uint64_t)g_item_units);
    }
    b_putc(b, '}');
    a->items_written = 1;
}

typedef struct table_count {
    const char *name;
    size_t len;
    int64_t n;
} table_count;

static void put_cc_list(dbuf *b, const table_count *tc, int n, uint64_t halves_per_item)
{
    b_puts(b, "\"ConsumedCapacity\":[");
    for (int i = 0; i < n; i++) {
        if (i)
            b_putc(b, ',');
        b_puts(b, "{\"TableName\":");
        b_putq(b, tc[i].name, tc[i].len);
        b_puts(b, ",\"CapacityUnits\":");
        b_put_halves(b, halves_per_item * (uint64_t)tc[i].n);
        b_putc(b, '}');
    }
    b_putc(b, ']');
}

/* BatchWriteItem: every request is processed. */
static void do_batch_write(const char *body, size_t n, answer *a)
{
    js j = {body, body + n};
    const char *k;
    size_t kn;
    table_count tc[MAX_BATCH_TABLES];
    int n_tc = 0;
    int64_t total = 0;
    bool cc = false, have_items = false, unknown = false;
    int more = js_open(&j, '{', '}');
    while (more == 1) {
        if (!js_key(&j, &k, &kn))
            return bad_json(a);
        if (KEY_IS(k, kn, "RequestItems")) {
            have_items = true;
            int m = js_open(&j, '{', '}');
            while (m == 1) {
                table_count t = {0};
                if (!js_key(&j, &t.name, &t.len))
                    return bad_json(a);
                unknown = unknown || !table_known(t.name, t.len);
                int e = js_open(&j, '[', ']');
                while (e == 1) {
                    int r = js_open(&j, '{', '}');
                    while (r == 1) {
                        if (!js_key(&j, &k, &kn))
                            return bad_json(a);
                        if (!KEY_IS(k, kn, "PutRequest") && !KEY_IS(k, kn, "DeleteRequest"))
                            return fail(a, 400, "ValidationException",
                                        "a request is neither PutRequest nor DeleteRequest");
                        if (!js_skip(&j, 2))
                            return bad_json(a);
                        t.n++;
                        r = js_next(&j, '}');
                    }
                    if (r < 0)
                        return bad_json(a);
                    e = js_next(&j, ']');
                }
                if (e < 0)
                    return bad_json(a);
                total += t.n;
                if (n_tc < MAX_BATCH_TABLES)
                    tc[n_tc++] = t;
                m = js_next(&j, '}');
            }
            if (m < 0)
                return bad_json(a);
        } else if (KEY_IS(k, kn, "ReturnConsumedCapacity")) {
            if (!js_cc(&j, &cc))
                return bad_json(a);
        } else if (!js_skip(&j, 0)) {
            return bad_json(a);
        }
        more = js_next(&j, '}');
    }
    if (more < 0)
        return bad_json(a);
    if (unknown)
        return no_table(a);
    if (!have_items || total < 1 || total > 25)
        return fail(a, 400, "ValidationException", "RequestItems must hold 1 to 25 requests");
    dbuf *b = a->b;
    b_puts(b, "{\"UnprocessedItems\":{}");
    if (cc) {
        b_putc(b, ',');
        put_cc_list(b, tc, n_tc, 2 * (uint64_t)g_item_units);
    }
    b_putc(b, '}');
    a->items_written = total;
}

/* The table a write statement names: UPDATE "t" ..., DELETE FROM "t" ...,
 * INSERT INTO "t" ...; s is the statement as the JSON string holds it, so
 * its quotes are \" (a table name has no quote or backslash). False when
 * it names none. */
static bool stmt_table(const char *s, size_t n, const char **t, size_t *tn)
{
    if (!(n >= 7 && (memcmp(s, "UPDATE ", 7) == 0 || memcmp(s, "DELETE ", 7) == 0 || memcmp(s, "INSERT ", 7) == 0)))
        return false;
    const char *end = s + n, *p = s;
    while (p + 1 < end && !(p[0] == '\\' && p[1] == '"'))
        p++;
    const char *start = p + 2, *q = start;
    while (q + 1 < end && !(q[0] == '\\' && q[1] == '"'))
        q++;
    if (start >= end || q + 1 >= end)
        return false;
    *t = start;
    *tn = (size_t)(q - start);
    return true;
}

/* BatchExecuteStatement of write statements: each is carried out (every
 * condition holds), as writes are. */
static void do_batch_stmt(const char *body, size_t n, answer *a)
{
    js j = {body, body + n};
    const char *k, *t = NULL;
    size_t kn, tn = 0;
    int64_t total = 0;
    bool cc = false, unknown = false;
    int more = js_open(&j, '{', '}');
    while (more == 1) {
        if (!js_key(&j, &k, &kn))
            return bad_json(a);
        if (KEY_IS(k, kn, "Statements")) {
            int e = js_open(&j, '[', ']');
            while (e == 1) {
                int r = js_open(&j, '{', '}');
                while (r == 1) {
                    if (!js_key(&j, &k, &kn))
                        return bad_json(a);
                    if (KEY_IS(k, kn, "Statement")) {
                        const char *st;
                        size_t sn;
                        if (!js_str(&j, &st, &sn))
                            return bad_json(a);
                        if (!stmt_table(st, sn, &t, &tn))
                            return fail(a, 400, "ValidationException", "a statement is not a write of a table");
                        unknown = unknown || !table_known(t, tn);
                    } else if (!js_skip(&j, 2)) {
                        return bad_json(a);
                    }
                    r = js_next(&j, '}');
                }
                if (r < 0)
                    return bad_json(a);
                total++;
                e = js_next(&j, ']');
            }
            if (e < 0)
                return bad_json(a);
        } else if (KEY_IS(k, kn, "ReturnConsumedCapacity")) {
            if (!js_cc(&j, &cc))
                return bad_json(a);
        } else if (!js_skip(&j, 0)) {
            return bad_json(a);
        }
        more = js_next(&j, '}');
    }
    if (more < 0)
        return bad_json(a);
    if (unknown)
        return no_table(a);
    if (total < 1 || total > 25 || !t)
        return fail(a, 400, "ValidationException", "Statements must hold 1 to 25 statements");
    dbuf *b = a->b;
    b_puts(b, "{\"Responses\":[");
    for (int64_t i = 0; i < total; i++) {
        b_puts(b, i ? ",{\"TableName\":" : "{\"TableName\":");
        b_putq(b, t, tn);
        b_putc(b, '}');
    }
    b_putc(b, ']');
    if (cc) {
        table_count tc = {.name = t, .len = tn, .n = total};
        b_putc(b, ',');
        put_cc_list(b, &tc, 1, 2 * (uint64_t)g_item_units);
    }
    b_putc(b, '}');
    a->items_written = total;
}

/* BatchGetItem: the items of the keys that exist, none unprocessed. The
 * answer is written while the request is read (same tables, same order). */
static void do_batch_get(const char *body, size_t n, answer *a)
{
    js j = {body, body + n};
    const char *k;
    size_t kn;
    table_count tc[MAX_BATCH_TABLES];
    int n_tc = 0;
    int64_t total = 0;
    bool cc = false, unknown = false;
    dbuf *b = a->b;
    b_puts(b, "{\"Responses\":{");
    int more = js_open(&j, '{', '}');
    while (more == 1) {
        if (!js_key(&j, &k, &kn))
            return bad_json(a);
        if (KEY_IS(k, kn, "RequestItems")) {
            int m = js_open(&j, '{', '}');
            while (m == 1) {
                table_count t = {0};
                if (!js_key(&j, &t.name, &t.len))
                    return bad_json(a);
                unknown = unknown || !table_known(t.name, t.len);
                if (n_tc)
                    b_putc(b, ',');
                b_putq(b, t.name, t.len);
                b_puts(b, ":[");
                int64_t found = 0;
                int r = js_open(&j, '{', '}');
                while (r == 1) {
                    if (!js_key(&j, &k, &kn))
                        return bad_json(a);
                    if (KEY_IS(k, kn, "Keys")) {
                        int e = js_open(&j, '[', ']');
                        while (e == 1) {
                            int64_t idx;
                            if (!js_item_key(&j, &idx))
                                return bad_json(a);
                            t.n++;
                            if (idx >= 0 && idx < cfg.items) {
                                if (found++)
                                    b_putc(b, ',');
                                put_item(b, idx);
                            }
                            e = js_next(&j, ']');
                        }
                        if (e < 0)
                            return bad_json(a);
                    } else if (!js_skip(&j, 2)) {
                        return bad_json(a);
                    }
                    r = js_next(&j, '}');
                }
                if (r < 0)
                    return bad_json(a);
                b_putc(b, ']');
                total += t.n;
                a->items_read += found;
                if (n_tc < MAX_BATCH_TABLES)
                    tc[n_tc++] = t;
                m = js_next(&j, '}');
            }
            if (m < 0)
                return bad_json(a);
        } else if (KEY_IS(k, kn, "ReturnConsumedCapacity")) {
            if (!js_cc(&j, &cc))
                return bad_json(a);
        } else if (!js_skip(&j, 0)) {
            return bad_json(a);
        }
        more = js_next(&j, '}');
    }
    if (more < 0)
        return bad_json(a);
    if (unknown)
        return no_table(a);
    if (total < 1 || total > 100)
        return fail(a, 400, "ValidationException", "RequestItems must hold 1 to 100 keys");
    b_puts(b, "},\"UnprocessedKeys\":{}");
    if (cc) {
        b_putc(b, ',');
        put_cc_list(b, tc, n_tc, (uint64_t)((g_item_size + 4095) / 4096));
    }
    b_putc(b, '}');
}

/* TransactWriteItems: every condition holds; two units per item written,
 * as transactions cost. */
static void do_transact_write(const char *body, size_t n, answer *a)
{
    js j = {body, body + n};
    const char *k, *tk;
    size_t kn, tkn;
    table_count tc[1] = {{0}};
    bool cc = false, unknown = false;
    int more = js_open(&j, '{', '}');
    while (more == 1) {
        if (!js_key(&j, &k, &kn))
            return bad_json(a);
        if (KEY_IS(k, kn, "TransactItems")) {
            int e = js_open(&j, '[', ']');
            while (e == 1) {
                int r = js_open(&j, '{', '}');
                while (r == 1) {
                    if (!js_key(&j, &k, &kn))
                        return bad_json(a);
                    int f = js_open(&j, '{', '}');
                    while (f == 1) {
                        if (!js_key(&j, &tk, &tkn))
                            return bad_json(a);
                        if (KEY_IS(tk, tkn, "TableName")) {
                            const char *t;
                            size_t tn;
                            if (!js_str(&j, &t, &tn))
                                return bad_json(a);
                            unknown = unknown || !table_known(t, tn);
                            if (!tc[0].name)
                                tc[0].name = t, tc[0].len = tn;
                        } else if (!js_skip(&j, 3)) {
                            return bad_json(a);
                        }
                        f = js_next(&j, '}');
                    }
                    if (f < 0)
                        return bad_json(a);
                    if (!KEY_IS(k, kn, "ConditionCheck"))
                        tc[0].n++;
                    r = js_next(&j, '}');
                }
                if (r < 0)
                    return bad_json(a);
                e = js_next(&j, ']');
            }
            if (e < 0)
                return bad_json(a);
        } else if (KEY_IS(k, kn, "ReturnConsumedCapacity")) {
            if (!js_cc(&j, &cc))
                return bad_json(a);
        } else if (!js_skip(&j, 0)) {
            return bad_json(a);
        }
        more = js_next(&j, '}');
    }
    if (more < 0)
        return bad_json(a);
    if (unknown || !tc[0].name)
        return tc[0].name ? no_table(a) : fail(a, 400, "ValidationException", "TransactItems is required");
    dbuf *b = a->b;
    b_putc(b, '{');
    if (cc)
        put_cc_list(b, tc, 1, 4 * (uint64_t)g_item_units);
    b_putc(b, '}');
    a->items_written = tc[0].n;
}

/* DescribeTable and DescribeContinuousBackups take the table's name. */
static bool table_of(const char *body, size_t n, answer *a, const char **t, size_t *tn)
{
    js j = {body, body + n};
    const char *k;
    size_t kn;
    *t = NULL;
    int more = js_open(&j, '{', '}');
    while (more == 1) {
        if (!js_key(&j, &k, &kn))
            break;
        if (!(KEY_IS(k, kn, "TableName") ? js_str(&j, t, tn) : js_skip(&j, 0)))
            break;
        more = js_next(&j, '}');
    }
    if (more != 0) {
        bad_json(a);
        return false;
    }
    return check_table(a, *t, *tn);
}

static void do_describe_table(const char *body, size_t n, answer *a)
{
    const char *t;
    size_t tn;
    if (!table_of(body, n, a, &t, &tn))
        return;
    dbuf *b = a->b;
    b_puts(b, "{\"Table\":{\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"}],"
              "\"TableName\":");
    b_putq(b, t, tn);
    b_puts(b, ",\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}],\"TableStatus\":\"ACTIVE\","
              "\"CreationDateTime\":1700000000.0,\"ProvisionedThroughput\":{\"NumberOfDecreasesToday\":0,"
              "\"ReadCapacityUnits\":0,\"WriteCapacityUnits\":0},\"TableSizeBytes\":");
    b_putu(b, (uint64_t)(cfg.items * g_item_size));
    b_puts(b, ",\"ItemCount\":");
    b_putu(b, (uint64_t)cfg.items);
    b_puts(b, ",\"TableArn\":\"arn:aws:dynamodb:");
    b_puts(b, cfg.region);
    b_puts(b, ":123456789012:table/");
    b_put(b, t, tn);
    b_puts(b, "\",\"TableId\":\"00000000-0000-4000-8000-000000000000\","
              "\"BillingModeSummary\":{\"BillingMode\":\"PAY_PER_REQUEST\","
              "\"LastUpdateToPayPerRequestDateTime\":1700000000.0},\"DeletionProtectionEnabled\":false}}");
}

static void do_describe_backups(const char *body, size_t n, answer *a)
{
    const char *t;
    size_t tn;
    if (!table_of(body, n, a, &t, &tn))
        return;
    b_puts(a->b, "{\"ContinuousBackupsDescription\":{\"ContinuousBackupsStatus\":\"ENABLED\","
                 "\"PointInTimeRecoveryDescription\":{\"PointInTimeRecoveryStatus\":\"ENABLED\","
                 "\"EarliestRestorableDateTime\":1700000000.0,\"LatestRestorableDateTime\":1700000000.0}}}");
}

static void do_list_tables(answer *a)
{
    dbuf *b = a->b;
    b_puts(b, "{\"TableNames\":[");
    for (int i = 0; i < cfg.n_tables; i++) {
        if (i)
            b_putc(b, ',');
        b_putq(b, cfg.tables[i], cfg.table_lens[i]);
    }
    b_puts(b, "]}");
}

static void dispatch(enum op op, const char *body, size_t n, answer *a)
{
    switch (op) {
    case OP_SCAN: do_scan(body, n, a); break;
    case OP_GET: do_get(body, n, a); break;
    case OP_UPDATE:
    case OP_PUT:
    case OP_DELETE: do_write(op, body, n, a); break;
    case OP_BATCH_WRITE: do_batch_write(body, n, a); break;
    case OP_BATCH_STMT: do_batch_stmt(body, n, a); break;
    case OP_BATCH_GET: do_batch_get(body, n, a); break;
    case OP_TRANSACT_WRITE: do_transact_write(body, n, a); break;
    case OP_DESCRIBE_TABLE: do_describe_table(body, n, a); break;
    case OP_DESCRIBE_BACKUPS: do_describe_backups(body, n, a); break;
    case OP_LIST_TABLES: do_list_tables(a); break;
    default: fail(a, 400, "UnknownOperationException", "An unknown operation was requested."); break;
    }
}

/* ---- connections ------------------------------------------------------------ */

typedef struct conn conn;
typedef struct worker worker;

/* An answer held for its latency, or waiting behind one on its connection. */
typedef struct held {
    struct held *next;  /* the connection's answers, in request order */
    struct held *qnext; /* the class's queue, in due order */
    conn *c;
    int64_t due_ns;
    int status, op;
    bool ready, queued;
    dbuf body;
} held;

struct conn {
    int kind; /* first: the epoll tag */
    int fd;
    SSL *ssl;
    bool handshaken, dead, closing, dirty, tls_want_write, sent_continue;
    uint32_t events;
    dbuf in;
    size_t in_pos, head_scanned; /* parsed up to in_pos; no end of head in in_pos + head_scanned */
    dbuf out;
    size_t out_pos;
    held *hhead, *htail;
    int n_held;        /* held answers that still point here (queued ones too) */
    conn *prev, *next; /* the worker's live connections */
    conn *dirty_next, *grave_next;
};

typedef struct op_stats {
    uint64_t requests, bytes_in, bytes_out;
} op_stats;

struct worker {
    int id;
    int ep, lfd, tfd, efd;
    int ltag, ttag, etag; /* epoll tags */
    pthread_t th;
    held *qh[N_CLS], *qt[N_CLS];
    int64_t armed_ns;
    conn *live, *dirty, *grave;
    dbuf scratch;
    uint64_t seq;
    op_stats ops[N_OPS];
    uint64_t items_read, items_written, errors;
    uint64_t wakeups, timer_fires;
    int64_t first_ns, last_ns;
};

enum { K_CONN = 1 };

static void conn_events(worker *w, conn *c)
{
    if (c->dead)
        return;
    uint32_t ev = 0;
    size_t pending = c->out.len - c->out_pos;
    if (!c->closing && pending < OUT_PAUSE_BYTES)
        ev |= EPOLLIN;
    if (pending || c->tls_want_write)
        ev |= EPOLLOUT;
    if (ev != c->events) {
        struct epoll_event e = {.events = ev, .data.ptr = c};
        epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &e);
        c->events = ev;
    }
}

static void held_free(held *h)
{
    b_free(&h->body);
    free(h);
}

static void conn_close(worker *w, conn *c)
{
    if (c->dead)
        return;
    c->dead = true;
    epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    close(c->fd);
    b_free(&c->in);
    b_free(&c->out);
    /* Answers still in a class queue stay there until due; the rest go. */
    for (held *h = c->hhead, *nx; h; h = nx) {
        nx = h->next;
        if (!h->queued) {
            held_free(h);
            c->n_held--;
        }
    }
    c->hhead = c->htail = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->live = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    if (c->n_held == 0) {
        c->grave_next = w->grave;
        w->grave = c;
    }
    atomic_fetch_sub(&g_conns_open, 1);
}

static const char *status_line(int status)
{
    switch (status) {
    case 200: return "HTTP/1.1 200 OK\r\n";
    case 400: return "HTTP/1.1 400 Bad Request\r\n";
    case 413: return "HTTP/1.1 413 Payload Too Large\r\n";
    case 431: return "HTTP/1.1 431 Request Header Fields Too Large\r\n";
    case 501: return "HTTP/1.1 501 Not Implemented\r\n";
    default: return "HTTP/1.1 500 Internal Server Error\r\n";
    }
}

/* Writes one whole answer (head and body) into the connection's output. */
static void put_answer(worker *w, conn *c, int op, int status, const char *body, size_t n, bool close_after)
{
    dbuf *o = &c->out;
    size_t mark = o->len;
    uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)body, (uInt)n);
    b_reserve(o, n + 256);
    b_puts(o, status_line(status));
    b_puts(o, "Content-Type: application/x-amz-json-1.0\r\nContent-Length: ");
    b_putu(o, n);
    b_puts(o, "\r\nx-amzn-RequestId: FAKEDDB");
    char id[17];
    uint64_t seq = ((uint64_t)w->id << 48) | ++w->seq;
    for (int i = 15; i >= 0; i--, seq >>= 4)
        id[i] = "0123456789ABCDEF"[seq & 15];
    b_put(o, id, 16);
    b_puts(o, "\r\nx-amz-crc32: ");
    b_putu(o, crc);
    b_puts(o, close_after ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n");
    b_put(o, body, n);
    w->ops[op].bytes_out += o->len - mark;
    w->last_ns = now_ns();
}

static void conn_flush(worker *w, conn *c)
{
    c->tls_want_write = false;
    while (c->out_pos < c->out.len) {
        size_t left = c->out.len - c->out_pos;
        ssize_t n;
        if (c->ssl) {
            int r = SSL_write(c->ssl, c->out.p + c->out_pos, left > INT_MAX ? INT_MAX : (int)left);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
                    c->tls_want_write = e == SSL_ERROR_WANT_WRITE;
                    break;
                }
                ERR_clear_error();
                conn_close(w, c);
                return;
            }
            n = r;
        } else {
            n = send(c->fd, c->out.p + c->out_pos, left, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    break;
                conn_close(w, c);
                return;
            }
        }
        c->out_pos += (size_t)n;
    }
    if (c->out_pos == c->out.len) {
        c->out.len = c->out_pos = 0;
        if (c->out.cap > BIG_BUF_BYTES)
            b_free(&c->out);
        if (c->closing && !c->hhead) {
            conn_close(w, c);
            return;
        }
    }
    conn_events(w, c);
}

static void arm_timer(worker *w)
{
    int64_t next = 0;
    for (int k = 0; k < N_CLS; k++)
        if (w->qh[k] && (!next || w->qh[k]->due_ns < next))
            next = w->qh[k]->due_ns;
    if (next == w->armed_ns)
        return;
    struct itimerspec its = {{0, 0}, {0, 0}};
    if (next) {
        int64_t at = next + cfg.slack_ns;
        its.it_value.tv_sec = at / 1000000000;
        its.it_value.tv_nsec = at % 1000000000;
    }
    timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL);
    w->armed_ns = next;
}

/* Sends the answers at the head of the connection that are ready. */
static void release_ready(worker *w, conn *c)
{
    while (c->hhead && c->hhead->ready) {
        held *h = c->hhead;
        c->hhead = h->next;
        if (!c->hhead)
            c->htail = NULL;
        put_answer(w, c, h->op, h->status, h->body.p ? h->body.p : "", h->body.len, c->closing && !c->hhead);
        held_free(h);
        c->n_held--;
    }
}

static void mark_dirty(worker *w, conn *c)
{
    if (!c->dirty) {
        c->dirty = true;
        c->dirty_next = w->dirty;
        w->dirty = c;
    }
}

static void on_timer(worker *w)
{
    uint64_t ticks;
    if (read(w->tfd, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
        return;
    w->armed_ns = 0;
    w->timer_fires++;
    int64_t now = now_ns();
    for (int k = 0; k < N_CLS; k++) {
        while (w->qh[k] && w->qh[k]->due_ns <= now) {
            held *h = w->qh[k];
            w->qh[k] = h->qnext;
            if (!w->qh[k])
                w->qt[k] = NULL;
            h->queued = false;
            atomic_fetch_sub(&g_inflight[k], 1);
            atomic_fetch_add(&g_done[k], 1);
            conn *c = h->c;
            if (c->dead) {
                held_free(h);
                if (--c->n_held == 0) {
                    c->grave_next = w->grave;
                    w->grave = c;
                }
                continue;
            }
            h->ready = true;
            mark_dirty(w, c);
        }
    }
    arm_timer(w);
}

/* An answer goes out now, or is held for its class's latency. */
static void answer_request(worker *w, conn *c, enum op op, answer *a, bool close_after)
{
    int k = op_cls[op];
    int64_t lat = cfg.latency_ns[k];
    if (lat == 0 && !c->hhead) {
        put_answer(w, c, op, a->status, a->b->p ? a->b->p : "", a->b->len, close_after);
        atomic_fetch_add(&g_done[k], 1);
        return;
    }
    held *h = calloc(1, sizeof *h);
    if (!h)
        die("out of memory");
    h->c = c;
    h->op = op;
    h->status = a->status;
    h->body = *a->b; /* the scratch buffer moves into the held answer */
    *a->b = (dbuf){0};
    if (c->htail)
        c->htail->next = h;
    else
        c->hhead = h;
    c->htail = h;
    c->n_held++;
    if (lat == 0) {
        h->ready = true; /* waits only for the answers ahead of it */
        atomic_fetch_add(&g_done[k], 1);
        return;
    }
    h->due_ns = now_ns() + lat;
    h->queued = true;
    atomic_fetch_add(&g_inflight[k], 1);
    if (w->qt[k])
        w->qt[k]->qnext = h;
    else
        w->qh[k] = h;
    w->qt[k] = h;
    if (!w->armed_ns || h->due_ns < w->armed_ns)
        arm_timer(w);
}

/* ---- HTTP requests ----------------------------------------------------------- */

typedef struct http_head {
    bool get, keep_alive, expect_continue, chunked, has_length;
    size_t length;
    enum op op;
} http_head;

static enum op op_of(const char *s, size_t n)
{
    static const char prefix[] = "DynamoDB_20120810.";
    size_t pn = sizeof prefix - 1;
    if (n <= pn || memcmp(s, prefix, pn) != 0)
        return OP_UNKNOWN;
    s += pn;
    n -= pn;
    for (int i = 0; i < OP_UNKNOWN; i++)
        if (strlen(op_names[i]) == n && memcmp(op_names[i], s, n) == 0)
            return (enum op)i;
    return OP_UNKNOWN;
}

static bool header_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

static bool token_in(const char *v, size_t n, const char *tok)
{
    size_t tn = strlen(tok);
    for (size_t i = 0; i + tn <= n; i++)
        if (strncasecmp(v + i, tok, tn) == 0)
            return true;
    return false;
}

/* The next "\r\n" in [p, end), or NULL. */
static const char *crlf(const char *p, const char *end)
{
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return NULL;
        if (nl > p && nl[-1] == '\r')
            return nl - 1;
        p = nl + 1;
    }
    return NULL;
}

/* The end of the empty line that ends a request's head, searched from
 * `from` (a line start or any byte before it), or NULL. */
static const char *head_end(const char *p, const char *from, const char *end)
{
    for (const char *nl; from < end && (nl = memchr(from, '\n', (size_t)(end - from))) != NULL; from = nl + 1)
        if (nl - p >= 3 && nl[-1] == '\r' && nl[-2] == '\n' && nl[-3] == '\r')
            return nl + 1;
    return NULL;
}

/* The request line and headers (len bytes, ending in the empty line). */
static int parse_head(const char *p, size_t len, http_head *h)
{
    memset(h, 0, sizeof *h);
    h->op = OP_UNKNOWN;
    const char *end = p + len, *eol = crlf(p, end);
    if (!eol)
        return -1;
    const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || eol - sp2 != 9 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return -1;
    h->get = sp1 - p == 3 && memcmp(p, "GET", 3) == 0;
    h->keep_alive = sp2[8] == '1';
    for (const char *line = eol + 2; line < end;) {
        const char *le = crlf(line, end);
        if (!le || le == line)
            break;
        const char *colon = memchr(line, ':', (size_t)(le - line));
        if (!colon)
            return -1;
        size_t nn = (size_t)(colon - line);
        const char *v = colon + 1;
        while (v < le && (*v == ' ' || *v == '\t'))
            v++;
        size_t vn = (size_t)(le - v);
        while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
            vn--;
        if (header_is(line, nn, "content-length")) {
            size_t x = 0;
            if (!vn)
                return -1;
            for (size_t i = 0; i < vn; i++) {
                if (v[i] < '0' || v[i] > '9' || x > (SIZE_MAX - 9) / 10)
                    return -1;
                x = x * 10 + (size_t)(v[i] - '0');
            }
            if (h->has_length && x != h->length)
                return -1;
            h->has_length = true;
            h->length = x;
        } else if (header_is(line, nn, "x-amz-target")) {
            h->op = op_of(v, vn);
        } else if (header_is(line, nn, "connection")) {
            if (token_in(v, vn, "close"))
                h->keep_alive = false;
            else if (token_in(v, vn, "keep-alive"))
                h->keep_alive = true;
        } else if (header_is(line, nn, "expect")) {
            h->expect_continue = token_in(v, vn, "100-continue");
        } else if (header_is(line, nn, "transfer-encoding")) {
            h->chunked = true;
        }
        line = le + 2;
    }
    return 0;
}

static void refuse(worker *w, conn *c, int status, const char *type, const char *message)
{
    dbuf b = {0};
    answer a = {.b = &b, .status = status};
    fail(&a, status, type, message);
    put_answer(w, c, OP_UNKNOWN, status, b.p, b.len, true);
    b_free(&b);
    w->errors++;
    c->closing = true;
}

static void handle(worker *w, conn *c, const http_head *h, const char *body, size_t n, size_t req_bytes)
{
    int64_t t = now_ns();
    if (!w->first_ns)
        w->first_ns = t;
    w->ops[h->op].requests++;
    w->ops[h->op].bytes_in += req_bytes;
    if (h->get) { /* a health check, as DynamoDB answers GET / */
        static const char ok[] = "healthy: fakeddb";
        put_answer(w, c, OP_UNKNOWN, 200, ok, sizeof ok - 1, !h->keep_alive);
        if (!h->keep_alive)
            c->closing = true;
        return;
    }
    w->scratch.len = 0;
    answer a = {.b = &w->scratch, .status = 200};
    dispatch(h->op, body, n, &a);
    if (a.status != 200)
        w->errors++;
    w->items_read += (uint64_t)a.items_read;
    w->items_written += (uint64_t)a.items_written;
    answer_request(w, c, h->op, &a, !h->keep_alive);
    if (!h->keep_alive)
        c->closing = true;
}

/* Parses and answers every whole request in the input. */
static void process_input(worker *w, conn *c)
{
    while (!c->dead && !c->closing && c->in_pos < c->in.len && c->out.len - c->out_pos < OUT_PAUSE_BYTES) {
        const char *p = c->in.p + c->in_pos;
        size_t avail = c->in.len - c->in_pos;
        size_t from = c->head_scanned > 3 ? c->head_scanned - 3 : 0;
        const char *e = head_end(p, p + from, p + avail);
        if (!e) {
            c->head_scanned = avail;
            if (avail > MAX_HEAD_BYTES)
                refuse(w, c, 431, "ValidationException", "the request head is too large");
            break;
        }
        size_t head = (size_t)(e - p);
        http_head h;
        if (parse_head(p, head, &h) != 0) {
            refuse(w, c, 400, "SerializationException", "malformed HTTP request");
            break;
        }
        if (h.chunked) {
            refuse(w, c, 501, "ValidationException", "chunked request bodies are not supported");
            break;
        }
        if (h.length > MAX_BODY_BYTES) {
            refuse(w, c, 413, "ValidationException", "the request body is too large");
            break;
        }
        if (avail < head + h.length) {
            if (h.expect_continue && !c->sent_continue) {
                b_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
                c->sent_continue = true;
            }
            b_reserve(&c->in, head + h.length - avail);
            break;
        }
        c->head_scanned = 0;
        c->sent_continue = false;
        handle(w, c, &h, p + head, h.length, head + h.length);
        c->in_pos += head + h.length;
    }
    if (c->dead)
        return;
    if (c->in_pos == c->in.len) {
        c->in_pos = c->in.len = 0;
        if (c->in.cap > BIG_BUF_BYTES)
            b_free(&c->in);
    } else if (c->in_pos > 0 && c->in_pos >= c->in.cap / 2) {
        memmove(c->in.p, c->in.p + c->in_pos, c->in.len - c->in_pos);
        c->in.len -= c->in_pos;
        c->in_pos = 0;
    }
    conn_flush(w, c);
}

static void conn_read(worker *w, conn *c)
{
    for (;;) {
        b_reserve(&c->in, 16384);
        size_t room = c->in.cap - c->in.len;
        ssize_t n;
        if (c->ssl) {
            int r = SSL_read(c->ssl, c->in.p + c->in.len, room > INT_MAX ? INT_MAX : (int)room);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ)
                    break;
                if (e == SSL_ERROR_WANT_WRITE) {
                    c->tls_want_write = true;
                    break;
                }
                ERR_clear_error();
                conn_close(w, c);
                return;
            }
            n = r;
        } else {
            n = recv(c->fd, c->in.p + c->in.len, room, 0);
            if (n == 0) {
                conn_close(w, c);
                return;
            }
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    break;
                conn_close(w, c);
                return;
            }
        }
        c->in.len += (size_t)n;
        if (!c->ssl && (size_t)n < room)
            break; /* the socket is empty: no need to hear EAGAIN */
    }
    process_input(w, c);
}

static bool tls_handshake(worker *w, conn *c)
{
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->handshaken = true;
        c->tls_want_write = false;
        return true;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->tls_want_write = e == SSL_ERROR_WANT_WRITE;
        conn_events(w, c);
        return false;
    }
    ERR_clear_error();
    conn_close(w, c);
    return false;
}

static void conn_io(worker *w, conn *c, uint32_t ev)
{
    if (c->ssl && !c->handshaken && !tls_handshake(w, c))
        return;
    if ((ev & (EPOLLERR | EPOLLHUP)) && !(ev & EPOLLIN)) {
        conn_close(w, c);
        return;
    }
    if (ev & EPOLLOUT) {
        conn_flush(w, c);
        if (c->dead)
            return;
        if (c->in_pos < c->in.len)
            process_input(w, c); /* parsing had paused for output */
        if (c->dead)
            return;
    }
    if ((ev & EPOLLIN) || (c->ssl && (ev & EPOLLOUT)))
        conn_read(w, c);
}

static void accept_all(worker *w)
{
    for (;;) {
        int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN, or out of descriptors: try on the next event */
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = calloc(1, sizeof *c);
        if (!c)
            die("out of memory");
        c->kind = K_CONN;
        c->fd = fd;
        if (g_ssl) {
            c->ssl = SSL_new(g_ssl);
            if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1)
                die("SSL_new failed");
            SSL_set_accept_state(c->ssl);
        }
        c->events = EPOLLIN;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &e) != 0)
            die("epoll_ctl: %s", strerror(errno));
        c->next = w->live;
        if (w->live)
            w->live->prev = c;
        w->live = c;
        atomic_fetch_add(&g_conns_total, 1);
        long open = atomic_fetch_add(&g_conns_open, 1) + 1, max = atomic_load(&g_conns_max);
        while (open > max && !atomic_compare_exchange_weak(&g_conns_max, &max, open))
            ;
    }
}

static void bury(worker *w)
{
    while (w->grave) {
        conn *c = w->grave;
        w->grave = c->grave_next;
        free(c);
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    struct epoll_event ev[256];
    while (!atomic_load(&g_stop)) {
        int n = epoll_wait(w->ep, ev, 256, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait: %s", strerror(errno));
        }
        w->wakeups++;
        for (int i = 0; i < n; i++) {
            void *p = ev[i].data.ptr;
            if (p == &w->ltag) {
                accept_all(w);
            } else if (p == &w->ttag) {
                on_timer(w);
            } else if (p == &w->etag) {
                break;
            } else {
                conn *c = p;
                if (!c->dead)
                    conn_io(w, c, ev[i].events);
            }
        }
        while (w->dirty) {
            conn *c = w->dirty;
            w->dirty = c->dirty_next;
            c->dirty = false;
            if (c->dead)
                continue;
            release_ready(w, c);
            conn_flush(w, c);
        }
        bury(w);
    }
    /* Exit: everything freed, so that LeakSanitizer stays quiet. */
    while (w->live)
        conn_close(w, w->live);
    for (int k = 0; k < N_CLS; k++)
        while (w->qh[k]) {
            held *h = w->qh[k];
            w->qh[k] = h->qnext;
            if (--h->c->n_held == 0) {
                h->c->grave_next = w->grave;
                w->grave = h->c;
            }
            held_free(h);
        }
    bury(w);
    b_free(&w->scratch);
    return NULL;
}

/* ---- the sampler ------------------------------------------------------------ */

static struct {
    uint64_t samples, sum[N_CLS], max[N_CLS];
    uint64_t both, scan_only, writes_only, none;
    uint32_t hist_writes[HIST_MAX + 1], hist_scan[HIST_MAX + 1];
} smp;

static void *sampler_main(void *arg)
{
    (void)arg;
    FILE *tl = NULL;
    if (cfg.timeline && !(tl = fopen(cfg.timeline, "w")))
        die("cannot write %s: %s", cfg.timeline, strerror(errno));
    if (tl)
        fprintf(tl, "t_s,conns,scan,write,batch,get,other,done_scan,done_write,done_batch,done_get,done_other\n");
    int64_t period = (int64_t)cfg.sample_ms * 1000000, start = now_ns(), next = start;
    int64_t tl_next = start + 100000000;
    uint64_t tl_n = 0, tl_sum[N_CLS] = {0};
    long tl_done[N_CLS] = {0};
    while (!atomic_load(&g_stop)) {
        next += period;
        struct timespec ts = {.tv_sec = next / 1000000000, .tv_nsec = next % 1000000000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
        long conns = atomic_load(&g_conns_open);
        long v[N_CLS];
        for (int k = 0; k < N_CLS; k++)
            v[k] = atomic_load(&g_inflight[k]);
        if (conns > 0) {
            smp.samples++;
            for (int k = 0; k < N_CLS; k++) {
                smp.sum[k] += (uint64_t)v[k];
                if ((uint64_t)v[k] > smp.max[k])
                    smp.max[k] = (uint64_t)v[k];
            }
            long writes = v[C_WRITE] + v[C_BATCH];
            if (v[C_SCAN] && writes)
                smp.both++;
            else if (v[C_SCAN])
                smp.scan_only++;
            else if (writes)
                smp.writes_only++;
            else
                smp.none++;
            smp.hist_writes[writes > HIST_MAX ? HIST_MAX : writes]++;
            smp.hist_scan[v[C_SCAN] > HIST_MAX ? HIST_MAX : v[C_SCAN]]++;
        }
        if (tl) {
            tl_n++;
            for (int k = 0; k < N_CLS; k++)
                tl_sum[k] += (uint64_t)v[k];
            if (next >= tl_next) {
                fprintf(tl, "%.1f,%ld", (double)(next - start) / 1e9, conns);
                for (int k = 0; k < N_CLS; k++)
                    fprintf(tl, ",%.1f", (double)tl_sum[k] / (double)tl_n);
                for (int k = 0; k < N_CLS; k++) {
                    long d = atomic_load(&g_done[k]);
                    fprintf(tl, ",%ld", d - tl_done[k]);
                    tl_done[k] = d;
                }
                fputc('\n', tl);
                tl_n = 0;
                memset(tl_sum, 0, sizeof tl_sum);
                tl_next += 100000000;
            }
        }
        int64_t now = now_ns();
        if (now > next + 100 * period)
            next = now; /* suspended or starved: no burst of catch-up samples */
    }
    if (tl)
        fclose(tl);
    return NULL;
}

static uint64_t percentile(const uint32_t *hist, uint64_t total, double q)
{
    uint64_t want = (uint64_t)ceil(q * (double)total), seen = 0;
    for (int i = 0; i <= HIST_MAX; i++) {
        seen += hist[i];
        if (seen >= want && seen > 0)
            return (uint64_t)i;
    }
    return 0;
}

/* ---- set up and report ------------------------------------------------------ */

static int listener(int port)
{
    int fd = socket(strchr(cfg.bind_addr, ':') ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (strchr(cfg.bind_addr, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, cfg.bind_addr, &a->sin6_addr) != 1)
            die("--bind %s is not an address", cfg.bind_addr);
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, cfg.bind_addr, &a->sin_addr) != 1)
            die("--bind %s is not an address", cfg.bind_addr);
        len = sizeof *a;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0)
        die("bind %s:%d: %s", cfg.bind_addr, port, strerror(errno));
    if (listen(fd, 4096) != 0)
        die("listen: %s", strerror(errno));
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        die("getsockname: %s", strerror(errno));
    return ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                    : ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void add_watch(int ep, int fd, int *tag)
{
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = tag};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) != 0)
        die("epoll_ctl: %s", strerror(errno));
}

static void setup_tls(void)
{
    if (!cfg.tls_cert && !cfg.tls_key)
        return;
    if (!cfg.tls_cert || !cfg.tls_key)
        die("--tls-cert and --tls-key go together");
    g_ssl = SSL_CTX_new(TLS_server_method());
    if (!g_ssl)
        die("SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(g_ssl, TLS1_2_VERSION);
    SSL_CTX_set_mode(g_ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_use_certificate_chain_file(g_ssl, cfg.tls_cert) != 1)
        die("cannot load the certificate %s", cfg.tls_cert);
    if (SSL_CTX_use_PrivateKey_file(g_ssl, cfg.tls_key, SSL_FILETYPE_PEM) != 1)
        die("cannot load the key %s", cfg.tls_key);
    if (SSL_CTX_check_private_key(g_ssl) != 1)
        die("the key %s does not match the certificate %s", cfg.tls_key, cfg.tls_cert);
}

static double ms_to_ns_checked(const char *v, const char *what)
{
    char *end;
    double ms = strtod(v, &end);
    if (end == v || *end || !(ms >= 0) || ms > 3600000)
        die("--latency %s: '%s' is not a number of milliseconds from 0 to 3600000", what, v);
    return ms * 1e6;
}

/* scan=100,write=5,batch=15,get=5,other=0; a bare number sets every class. */
static void parse_latency(const char *spec)
{
    char *copy = strdup(spec), *save = NULL;
    if (!copy)
        die("out of memory");
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            double ns = ms_to_ns_checked(tok, "all");
            for (int k = 0; k < N_CLS; k++)
                cfg.latency_ns[k] = (int64_t)ns;
            continue;
        }
        *eq = '\0';
        int k = 0;
        while (k < N_CLS && strcmp(cls_names[k], tok) != 0)
            k++;
        if (k == N_CLS)
            die("--latency: unknown class '%s' (scan, write, batch, get, other)", tok);
        cfg.latency_ns[k] = (int64_t)ms_to_ns_checked(eq + 1, tok);
    }
    free(copy);
}

static int64_t int_arg(const char *opt, const char *v, int64_t lo, int64_t hi)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi)
        die("%s %s: expected a whole number from %" PRId64 " to %" PRId64, opt, v, lo, hi);
    return (int64_t)x;
}

static void usage(FILE *f)
{
    fputs("usage: fakeddb [--port P] [--bind ADDR] [--threads N] [--table NAME]... [--items N]\n"
          "               [--item-bytes B] [--page-bytes B] [--latency scan=MS,write=MS,batch=MS,get=MS,other=MS]\n"
          "               [--tls-cert FILE --tls-key FILE] [--region R] [--timer-slack-us US] [--sample-ms MS]\n"
          "               [--timeline FILE]\n"
          "\n"
          "A fake DynamoDB endpoint for benchmarks. Prints its port on the first line; on\n"
          "SIGTERM or SIGINT prints one JSON line of statistics and exits 0.\n"
          "  --port P        0 (default) picks a free port\n"
          "  --threads N     event loops, each with its own SO_REUSEPORT listener (default 1)\n"
          "  --table NAME    accept only these tables (repeatable; default: any name)\n"
          "  --items N       synthetic items per table (default 100000)\n"
          "  --item-bytes B  DynamoDB size of an item, about (default 1024)\n"
          "  --page-bytes B  a Scan page's size before Limit (default 1048576)\n"
          "  --latency SPEC  ms per class: scan (Scan), write (UpdateItem, PutItem, DeleteItem,\n"
          "                  TransactWriteItems), batch (BatchWriteItem), get (GetItem, BatchGetItem),\n"
          "                  other (Describe*, ListTables); a bare number sets all (default 0)\n"
          "  --timer-slack-us US  answers may leave up to US late, so that one wake-up sends\n"
          "                  several (default 0)\n"
          "  --sample-ms MS  how often in-flight requests are sampled (default 2; 0: never)\n"
          "  --timeline FILE in-flight means and completions per 100 ms, as CSV\n",
          f);
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc)
            die("%s needs a value (or is unknown; see --help)", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--port"))
            cfg.port = (int)int_arg(a, v, 0, 65535);
        else if (!strcmp(a, "--bind"))
            cfg.bind_addr = v;
        else if (!strcmp(a, "--threads"))
            cfg.threads = (int)int_arg(a, v, 1, 256);
        else if (!strcmp(a, "--table")) {
            if (cfg.n_tables == MAX_TABLES)
                die("at most %d --table", MAX_TABLES);
            if (!*v || strpbrk(v, "\"\\"))
                die("--table %s: not a table name", v);
            cfg.table_lens[cfg.n_tables] = strlen(v);
            cfg.tables[cfg.n_tables++] = v;
        } else if (!strcmp(a, "--items"))
            cfg.items = int_arg(a, v, 0, 100000000000LL);
        else if (!strcmp(a, "--item-bytes"))
            cfg.item_bytes = int_arg(a, v, 1, 400 * 1024);
        else if (!strcmp(a, "--page-bytes"))
            cfg.page_bytes = int_arg(a, v, 1, 16 << 20);
        else if (!strcmp(a, "--latency"))
            parse_latency(v);
        else if (!strcmp(a, "--tls-cert"))
            cfg.tls_cert = v;
        else if (!strcmp(a, "--tls-key"))
            cfg.tls_key = v;
        else if (!strcmp(a, "--region"))
            cfg.region = v;
        else if (!strcmp(a, "--sample-ms"))
            cfg.sample_ms = (int)int_arg(a, v, 0, 10000);
        else if (!strcmp(a, "--timeline"))
            cfg.timeline = v;
        else if (!strcmp(a, "--timer-slack-us"))
            cfg.slack_ns = int_arg(a, v, 0, 1000000) * 1000;
        else
            die("unknown option %s (see --help)", a);
    }
    if (strpbrk(cfg.region, "\"\\"))
        die("--region %s: not a region", cfg.region);
}

static void report(const worker *ws, int n, int64_t start_ns)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    double sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    double wall = (double)(now_ns() - start_ns) / 1e9;
    op_stats tot[N_OPS] = {{0}};
    uint64_t reqs = 0, in = 0, out = 0, items_read = 0, items_written = 0, errors = 0, wakeups = 0, fires = 0;
    int64_t first = 0, last = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < N_OPS; k++) {
            tot[k].requests += ws[i].ops[k].requests;
            tot[k].bytes_in += ws[i].ops[k].bytes_in;
            tot[k].bytes_out += ws[i].ops[k].bytes_out;
        }
        items_read += ws[i].items_read;
        items_written += ws[i].items_written;
        errors += ws[i].errors;
        wakeups += ws[i].wakeups;
        fires += ws[i].timer_fires;
        if (ws[i].first_ns && (!first || ws[i].first_ns < first))
            first = ws[i].first_ns;
        if (ws[i].last_ns > last)
            last = ws[i].last_ns;
    }
    double active = first && last > first ? (double)(last - first) / 1e9 : 0;
    printf("{\"threads\":%d,\"wall_s\":%.3f,\"active_s\":%.3f,\"cpu_s\":%.3f,\"user_s\":%.3f,\"sys_s\":%.3f,"
           "\"busy_of_active\":%.3f,\"requests\":{",
           n, wall, active, user + sys, user, sys, active > 0 ? (user + sys) / active : 0);
    bool firstop = true;
    for (int k = 0; k < N_OPS; k++) {
        reqs += tot[k].requests;
        in += tot[k].bytes_in;
        out += tot[k].bytes_out;
        if (!tot[k].requests)
            continue;
        printf("%s\"%s\":%" PRIu64, firstop ? "" : ",", op_names[k], tot[k].requests);
        firstop = false;
    }
    printf("},\"requests_total\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"items_read\":%" PRIu64
           ",\"items_written\":%" PRIu64 ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64
           ",\"cpu_us_per_request\":%.2f,\"wakeups\":%" PRIu64 ",\"timer_fires\":%" PRIu64
           ",\"connections\":%ld,\"max_connections\":%ld",
           reqs, errors, items_read, items_written, in, out, reqs ? (user + sys) * 1e6 / (double)reqs : 0, wakeups,
           fires, atomic_load(&g_conns_total), atomic_load(&g_conns_max));
    if (smp.samples) {
        double s = (double)smp.samples;
        printf(",\"in_flight\":{\"sampled_s\":%.3f", s * cfg.sample_ms / 1000.0);
        for (int k = 0; k < N_CLS; k++)
            printf(",\"%s\":{\"mean\":%.2f,\"max\":%" PRIu64 "}", cls_names[k], (double)smp.sum[k] / s, smp.max[k]);
        printf(",\"writes_p50\":%" PRIu64 ",\"writes_p90\":%" PRIu64 ",\"scan_p50\":%" PRIu64
               ",\"share_scan_and_writes\":%.3f,\"share_scan_only\":%.3f,\"share_writes_only\":%.3f,"
               "\"share_none\":%.3f}",
               percentile(smp.hist_writes, smp.samples, 0.5), percentile(smp.hist_writes, smp.samples, 0.9),
               percentile(smp.hist_scan, smp.samples, 0.5), (double)smp.both / s, (double)smp.scan_only / s,
               (double)smp.writes_only / s, (double)smp.none / s);
    }
    printf("}\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    build_item_template();
    setup_tls();
    int64_t start = now_ns();

    /* Signals are taken by sigwait here; every other thread blocks them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    worker *ws = calloc((size_t)cfg.threads, sizeof *ws);
    if (!ws)
        die("out of memory");
    int port = cfg.port;
    for (int i = 0; i < cfg.threads; i++) {
        worker *w = &ws[i];
        w->id = i;
        w->lfd = listener(port);
        if (i == 0)
            port = bound_port(w->lfd);
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w->ep < 0 || w->tfd < 0 || w->efd < 0)
            die("epoll, timerfd or eventfd: %s", strerror(errno));
        add_watch(w->ep, w->lfd, &w->ltag);
        add_watch(w->ep, w->tfd, &w->ttag);
        add_watch(w->ep, w->efd, &w->etag);
    }
    printf("%d\n", port);
    fflush(stdout);
    for (int i = 0; i < cfg.threads; i++)
        if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i]) != 0)
            die("pthread_create failed");
    pthread_t sampler;
    bool sampling = cfg.sample_ms > 0 && pthread_create(&sampler, NULL, sampler_main, NULL) == 0;

    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    atomic_store(&g_stop, 1);
    for (int i = 0; i < cfg.threads; i++) {
        uint64_t one = 1;
        if (write(ws[i].efd, &one, sizeof one) < 0)
            die("eventfd write: %s", strerror(errno));
    }
    for (int i = 0; i < cfg.threads; i++)
        pthread_join(ws[i].th, NULL);
    if (sampling)
        pthread_join(sampler, NULL);
    report(ws, cfg.threads, start);
    for (int i = 0; i < cfg.threads; i++) {
        close(ws[i].lfd);
        close(ws[i].ep);
        close(ws[i].tfd);
        close(ws[i].efd);
    }
    free(ws);
    free(g_item);
    SSL_CTX_free(g_ssl);
    return 0;
}
