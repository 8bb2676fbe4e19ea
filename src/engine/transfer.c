/* Export (parallel scan to DynamoDB JSON lines) and import (lines to
 * BatchWriteItem, many calls in flight). Export writes gzip through zlib's
 * gz* functions when the name ends in .gz; import reads through lines.c,
 * which finds every flaw of a gzip file before the first write.
 *
 * Import is two passes over the file: the check (every line decoded and
 * put through ddb_item_check against the table's keys; nothing is written
 * unless all pass), then the writes. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "ddbmig/engine.h"
#include "ddbmig/item.h"
#include "http/retry.h"
#include "engine_impl.h"
#include "lines.h"

static bool gz_name(const char *p)
{
    size_t n = strlen(p);
    return n > 3 && strcmp(p + n - 3, ".gz") == 0;
}

/* ---- export --------------------------------------------------------------- */

typedef struct exporter {
    const transfer_options *o;
    ddb_shared *shared;
    pthread_mutex_t mu;
    FILE *plain;
    gzFile gz;
    int next_seg, n_segs;
    atomic_llong items, bytes, units_milli;
    atomic_int failed;
    dm_error err;
} exporter;

static int put_out(exporter *x, const dm_buf *b)
{
    int ok;
    pthread_mutex_lock(&x->mu);
    if (x->gz)
        ok = b->len == 0 || gzwrite(x->gz, b->data, (unsigned)b->len) == (int)b->len;
    else
        ok = fwrite(b->data, 1, b->len, x->plain) == b->len;
    pthread_mutex_unlock(&x->mu);
    return ok ? DM_OK : DM_ERR_IO;
}

static void export_fail(exporter *x, const dm_error *e)
{
    pthread_mutex_lock(&x->mu);
    if (!atomic_load(&x->failed))
        x->err = *e;
    atomic_store(&x->failed, 1);
    pthread_mutex_unlock(&x->mu);
}

static int export_page(exporter *x, ddb_call *scan, dm_arena *a, char **next_key, dm_error *err)
{
    ddb_page pg;
    dm_arena_reset(a);
    int rc = ddb_page_decode(scan->response.data, scan->response.len, a, &pg, err);
    if (rc)
        return rc;
    dm_buf out;
    dm_buf_init(&out, 0);
    for (size_t i = 0; rc == DM_OK && i < pg.n_items; i++) {
        rc = ddb_item_encode(&pg.items[i], &out);
        rc = rc ? rc : dm_buf_putc(&out, '\n');
    }
    if (rc == DM_OK && (rc = put_out(x, &out)) != DM_OK)
        dm_error_set(err, rc, "cannot write %s", x->o->path);
    atomic_fetch_add(&x->items, (long long)pg.n_items);
    atomic_fetch_add(&x->bytes, (long long)out.len);
    atomic_fetch_add(&x->units_milli, (long long)(pg.consumed_units * 1000));
    dm_buf_cleanup(&out);
    *next_key = pg.last_key.p ? dm_strndup(pg.last_key.p, pg.last_key.n) : NULL;
    return rc;
}

static void *export_worker(void *arg)
{
    exporter *x = arg;
    ddb_client *c = ddb_client_new(x->shared);
    dm_arena *a = dm_arena_new(256 * 1024);
    for (;;) {
        pthread_mutex_lock(&x->mu);
        int seg = x->next_seg < x->n_segs && !atomic_load(&x->failed) ? x->next_seg++ : -1;
        pthread_mutex_unlock(&x->mu);
        if (seg < 0 || !c || !a)
            break;
        char *key = NULL;
        do {
            ddb_call scan;
            ddb_call_init(&scan, "Scan", x->o->table);
            ddb_scan_params p = {.table = x->o->table, .segment = seg, .total_segments = x->n_segs,
                                 .exclusive_start_key = key, .return_consumed_capacity = true};
            ddb_scan_body(&p, &scan.body);
            free(key);
            key = NULL;
            dm_error err = {0};
            int rc = ddb_client_run(c, &scan);
            if (rc == DM_OK)
                rc = export_page(x, &scan, a, &key, &err);
            else
                err = scan.err;
            ddb_call_cleanup(&scan);
            if (rc) {
                export_fail(x, &err);
                free(key);
                key = NULL;
            }
        } while (key);
    }
    dm_arena_free(a);
    ddb_client_free(c);
    return NULL;
}

int engine_export(const transfer_options *o, ddb_shared *shared, transfer_result *res, dm_error *err)
{
    exporter x = {.o = o, .shared = shared};
    int workers = o->workers > 0 ? o->workers : engine_default_workers();
    x.n_segs = o->total_segments > 0 ? o->total_segments : 4 * workers;
    pthread_mutex_init(&x.mu, NULL);
    if (gz_name(o->path))
        x.gz = gzopen(o->path, "wb6");
    else
        x.plain = fopen(o->path, "wb");
    if (!x.gz && !x.plain) {
        pthread_mutex_destroy(&x.mu);
        return dm_error_set(err, DM_ERR_IO, "cannot create %s", o->path);
    }
    int64_t t0 = dm_monotonic_ms();
    pthread_t *t = calloc((size_t)workers, sizeof *t);
    int started = 0;
    for (int i = 0; t && i < workers; i++)
        started += pthread_create(&t[i], NULL, export_worker, &x) == 0;
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    free(t);
    int close_ok = x.gz ? gzclose(x.gz) == Z_OK : fclose(x.plain) == 0;
    res->items = atomic_load(&x.items);
    res->bytes = atomic_load(&x.bytes);
    res->units = atomic_load(&x.units_milli) / 1000.0;
    res->seconds = (double)(dm_monotonic_ms() - t0) / 1000.0;
    pthread_mutex_destroy(&x.mu);
    if (atomic_load(&x.failed)) {
        if (err)
            *err = x.err;
        return x.err.code ? x.err.code : DM_ERR_IO;
    }
    if (!close_ok)
        return dm_error_set(err, DM_ERR_IO, "cannot finish writing %s", o->path);
    return DM_OK;
}


/* ---- import: the check ------------------------------------------------------ */

/* Lines longer than this are refused without being read whole: the JSON
 * of a 400 KB item stays far below it even with every byte escaped. */
#define MAX_LINE_BYTES (8u << 20)

static bool blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
            return false;
    return true;
}

/* One line to one checked item; err gets what is wrong (without the file
 * and line). */
static int line_item(dm_str line, dm_arena *a, const ddb_key_schema *keys, ddb_item *it, dm_error *err)
{
    size_t used = 0;
    int rc = ddb_item_decode(line.p, line.n, a, it, &used, err);
    if (rc)
        return rc;
    if (!blank(line.p + used, line.n - used))
        return dm_error_set(err, DM_ERR_PARSE, "text after the item, at byte %zu", used);
    return ddb_item_check(it, keys, err);
}

static void add_bad(transfer_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_bad(transfer_result *res, const char *fmt, ...)
{
    if (res->n_bad >= TRANSFER_MAX_BAD_LINES)
        return;
    char msg[1600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *dst = res->bad[res->n_bad++];
    size_t n = strlen(msg), max = sizeof res->bad[0] - 1;
    if (n > max) { /* cut at a character boundary */
        n = max;
        while (n > 0 && ((unsigned char)msg[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, msg, n);
    dst[n] = '\0';
}

int engine_import_check(const transfer_options *o, const ddb_key_schema *keys, transfer_result *res, dm_error *err)
{
    res->file_items = res->lines_read = 0;
    res->n_bad = 0;
    line_reader *lr = NULL;
    dm_arena *a = dm_arena_new(0);
    dm_error e = {0};
    int rc = a ? lines_open(o->path, MAX_LINE_BYTES, &lr, &e) : DM_ERR_NOMEM;
    if (rc && rc != DM_ERR_NOMEM) {
        add_bad(res, "%s", e.message);
        rc = DM_OK;
    }
    bool stopped = false;
    while (rc == DM_OK && lr) {
        dm_str line;
        bool end;
        int r = lines_next(lr, &line, &end, &e);
        if (r == DM_ERR_NOMEM) {
            rc = r;
        } else if (r == DM_ERR_LIMIT) {
            add_bad(res, "%s", e.message);
        } else if (r != DM_OK) {
            add_bad(res, "%s", e.message); /* the file's own flaw: nothing more to read */
            break;
        } else if (end) {
            break;
        } else if (!blank(line.p, line.n)) {
            dm_arena_reset(a);
            ddb_item it;
            r = line_item(line, a, keys, &it, &e);
            if (r == DM_ERR_NOMEM)
                rc = r;
            else if (r)
                add_bad(res, "%s:%ld: %s", o->path, lines_number(lr), e.message);
            else
                res->file_items++;
        }
        if (res->n_bad == TRANSFER_MAX_BAD_LINES) {
            stopped = true;
            break;
        }
    }
    res->lines_read = lr ? lines_number(lr) : 0;
    lines_free(lr);
    dm_arena_free(a);
    if (rc)
        return dm_error_set(err, rc, "checking %s: out of memory", o->path);
    if (res->n_bad == 0)
        return DM_OK;
    if (stopped)
        return dm_error_set(err, DM_ERR_INVALID,
                            "%s: checking stopped at line %lld after %d problems; nothing was written", o->path,
                            res->lines_read, res->n_bad);
    return dm_error_set(err, DM_ERR_INVALID, "%s: %d problem%s found; nothing was written", o->path, res->n_bad,
                        res->n_bad == 1 ? "" : "s");
}

/* ---- import: the writes ------------------------------------------------------- */

#define BATCH_MAX 25
/* BatchWriteItem takes at most 16 MB a call: a batch goes out early
 * rather than grow past this. */
#define MAX_BODY_BYTES (12u << 20)
#define BUSY_BUCKETS 4096

typedef struct batch_call batch_call;

/* The key of an item whose put has not finished. The set of them is what
 * makes the last line of a repeated key win: a put waits until no earlier
 * put of its key is in flight, so DynamoDB sees them in the file's order
 * (and never twice in one call, which it refuses). */
typedef struct busy_key {
    uint64_t hash;
    batch_call *owner;
    size_t off, len;         /* the key's bytes in owner->keys */
    struct busy_key *next;   /* in its bucket */
} busy_key;

struct batch_call {
    ddb_call call;
    int n;                   /* requests in the body being sent */
    int resends;
    int64_t due_ms;
    dm_buf keys;             /* canonical keys of the batch's items */
    busy_key busy[BATCH_MAX];
    int n_keys;
    batch_call *next;        /* waiting to be resent */
};

typedef struct importer {
    const transfer_options *o;
    const ddb_key_schema *ks;
    ddb_client *c;
    busy_key *buckets[BUSY_BUCKETS];
    batch_call *waiting;     /* UnprocessedItems to resend */
    int in_flight, max_flight;
    long long written;
    double units;
    uint64_t rng;
    dm_error err;
    bool failed;
} importer;

static void import_fail(importer *im, const dm_error *e)
{
    if (!im->failed)
        im->err = *e;
    im->failed = true;
}

/* The item's key as bytes that are equal exactly when DynamoDB would see
 * the same key: numbers in canonical form ("1.0" is "1"). */
static int key_bytes(const ddb_item *it, const ddb_key_schema *ks, dm_buf *out)
{
    const ddb_key_def *defs[2] = {&ks->hash, &ks->range};
    int rc = DM_OK;
    for (int k = 0; rc == DM_OK && k < 2; k++) {
        if (!defs[k]->name)
            continue;
        const ddb_value *v = ddb_item_get(it, defs[k]->name, strlen(defs[k]->name));
        if (!v)
            return DM_ERR_INVALID;
        rc = ddb_key_value_bytes(v, out);
    }
    return rc;
}

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
    return h;
}

static batch_call *busy_owner(importer *im, const dm_buf *key, uint64_t h)
{
    for (busy_key *k = im->buckets[h % BUSY_BUCKETS]; k; k = k->next)
        if (k->hash == h && k->len == key->len && memcmp(k->owner->keys.data + k->off, key->data, key->len) == 0)
            return k->owner;
    return NULL;
}

static void release_batch(importer *im, batch_call *b)
{
    for (int i = 0; i < b->n_keys; i++) {
        busy_key **pp = &im->buckets[b->busy[i].hash % BUSY_BUCKETS];
        while (*pp && *pp != &b->busy[i])
            pp = &(*pp)->next;
        if (*pp)
            *pp = b->busy[i].next;
    }
    ddb_call_cleanup(&b->call);
    dm_buf_cleanup(&b->keys);
    free(b);
}

static batch_call *new_batch(const char *table)
{
    batch_call *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    ddb_call_init(&b->call, "BatchWriteItem", table);
    b->call.user = b;
    dm_buf_init(&b->keys, 0);
    int rc = dm_buf_puts(&b->call.body, "{\"RequestItems\":{");
    rc = rc ? rc : ddb_json_put_string(&b->call.body, table, strlen(table));
    rc = rc ? rc : dm_buf_puts(&b->call.body, ":[");
    if (rc) {
        ddb_call_cleanup(&b->call);
        free(b);
        return NULL;
    }
    return b;
}

/* Adds one line's put and its key (not yet in the busy set). */
static int add_put(importer *im, batch_call *b, dm_str line, const dm_buf *key, uint64_t h)
{
    int rc = dm_buf_puts(&b->call.body, b->n ? ",{\"PutRequest\":{\"Item\":" : "{\"PutRequest\":{\"Item\":");
    rc = rc ? rc : dm_buf_append(&b->call.body, line.p, line.n);
    rc = rc ? rc : dm_buf_puts(&b->call.body, "}}");
    size_t off = b->keys.len;
    rc = rc ? rc : dm_buf_append(&b->keys, key->data, key->len);
    if (rc)
        return rc;
    busy_key *k = &b->busy[b->n_keys++];
    *k = (busy_key){.hash = h, .owner = b, .off = off, .len = key->len};
    k->next = im->buckets[h % BUSY_BUCKETS];
    im->buckets[h % BUSY_BUCKETS] = k;
    b->n++;
    return DM_OK;
}

static void on_batch(importer *im, batch_call *b)
{
    im->in_flight--;
    if (b->call.rc != DM_OK) {
        import_fail(im, &b->call.err);
        release_batch(im, b);
        return;
    }
    dm_buf next;
    dm_buf_init(&next, 0);
    ddb_batch_left left;
    dm_error e = {0};
    int rc = ddb_batch_unprocessed(&b->call.response, im->o->table, "TOTAL", b->resends, retry_random01(&im->rng),
                                   &next, &left, &e);
    im->units += left.units;
    if (rc == DM_OK || rc == DM_ERR_THROTTLED)
        im->written += b->n - (long long)left.n;
    if (rc != DM_OK || left.n == 0) {
        if (rc)
            import_fail(im, &e);
        dm_buf_cleanup(&next);
        release_batch(im, b);
        return;
    }
    /* Resend what is left after the backoff; its keys stay busy. */
    ddb_call_reuse(&b->call, "BatchWriteItem", im->o->table);
    dm_buf_cleanup(&b->call.body);
    b->call.body = next;
    b->call.user = b;
    b->n = (int)left.n;
    b->resends++;
    b->due_ms = dm_monotonic_ms() + left.delay_ms;
    b->next = im->waiting;
    im->waiting = b;
}

static void start_batch(importer *im, batch_call *b)
{
    im->in_flight++;
    ddb_client_start(im->c, &b->call);
}

/* Waits for one completion, resending due UnprocessedItems meanwhile.
 * After a failure, nothing more is sent. */
static void pump_import(importer *im)
{
    int64_t now = dm_monotonic_ms(), wait = 100;
    for (batch_call **pp = &im->waiting; *pp;) {
        batch_call *b = *pp;
        if (im->failed) {
            *pp = b->next;
            release_batch(im, b);
        } else if (b->due_ms <= now && im->in_flight < im->max_flight) {
            *pp = b->next;
            start_batch(im, b);
        } else {
            if (b->due_ms > now && b->due_ms - now < wait)
                wait = b->due_ms - now;
            pp = &b->next;
        }
    }
    if (ddb_client_pending(im->c) == 0) {
        if (im->waiting)
            dm_sleep_ms(wait);
        return;
    }
    ddb_call *done = NULL;
    if (ddb_client_wait(im->c, (int)wait, &done) == DM_OK && done)
        on_batch(im, done->user);
}

/* Sends the batch being built once a call may start. */
static void send_batch(importer *im, batch_call **cur)
{
    batch_call *b = *cur;
    *cur = NULL;
    if (dm_buf_puts(&b->call.body, "]},\"ReturnConsumedCapacity\":\"TOTAL\"}") != DM_OK) {
        dm_error e;
        dm_error_set(&e, DM_ERR_NOMEM, "out of memory");
        import_fail(im, &e);
    }
    while (im->in_flight >= im->max_flight && !im->failed)
        pump_import(im);
    if (im->failed)
        release_batch(im, b);
    else
        start_batch(im, b);
}

/* Waits until no unfinished put has this key, sending the batch being
 * built if the key is in it. */
static void wait_for_key(importer *im, batch_call **cur, const dm_buf *key, uint64_t h)
{
    batch_call *owner;
    while (!im->failed && (owner = busy_owner(im, key, h)) != NULL) {
        if (owner == *cur)
            send_batch(im, cur);
        else
            pump_import(im);
    }
}

static void write_lines(importer *im, line_reader *lr, dm_arena *a)
{
    batch_call *cur = NULL;
    dm_buf key;
    dm_buf_init(&key, 0);
    dm_error e = {0};
    while (!im->failed) {
        dm_str line;
        bool end;
        int rc = lines_next(lr, &line, &end, &e);
        if (rc == DM_OK && end)
            break;
        if (rc != DM_OK) {
            dm_error_prefix(&e, "reading the file again to write it");
            import_fail(im, &e);
            break;
        }
        if (blank(line.p, line.n))
            continue;
        dm_arena_reset(a);
        dm_buf_reset(&key);
        ddb_item it;
        if ((rc = line_item(line, a, im->ks, &it, &e)) != DM_OK || (rc = key_bytes(&it, im->ks, &key)) != DM_OK) {
            dm_error_set(&e, rc, "%s:%ld: the line changed after it was checked", im->o->path, lines_number(lr));
            import_fail(im, &e);
            break;
        }
        uint64_t h = fnv1a(key.data, key.len);
        wait_for_key(im, &cur, &key, h);
        if (im->failed)
            break;
        if (cur && cur->call.body.len + line.n + 64 > MAX_BODY_BYTES)
            send_batch(im, &cur);
        if (!im->failed && !cur && !(cur = new_batch(im->o->table)))
            rc = DM_ERR_NOMEM;
        if (!im->failed && rc == DM_OK)
            rc = add_put(im, cur, line, &key, h);
        if (rc) {
            dm_error_set(&e, rc, "out of memory");
            import_fail(im, &e);
        } else if (!im->failed && cur->n == BATCH_MAX) {
            send_batch(im, &cur);
        }
    }
    if (cur && !im->failed)
        send_batch(im, &cur);
    else if (cur)
        release_batch(im, cur);
    dm_buf_cleanup(&key);
}

static int import_writes(const transfer_options *o, ddb_client *c, const ddb_key_schema *ks, transfer_result *res,
                         dm_error *err)
{
    importer *im = calloc(1, sizeof *im);
    dm_arena *a = dm_arena_new(0);
    line_reader *lr = NULL;
    int rc = im && a ? lines_open(o->path, MAX_LINE_BYTES, &lr, err) : dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    if (rc) {
        free(im);
        dm_arena_free(a);
        return rc;
    }
    *im = (importer){.o = o, .ks = ks, .c = c, .max_flight = o->in_flight > 0 ? o->in_flight : 32};
    int64_t t0 = dm_monotonic_ms();
    res->writing = true;
    write_lines(im, lr, a);
    while (im->in_flight > 0 || im->waiting)
        pump_import(im);
    res->items = im->written;
    res->units = im->units;
    res->seconds = (double)(dm_monotonic_ms() - t0) / 1000.0;
    if (im->failed) {
        if (err)
            *err = im->err;
        rc = im->err.code ? im->err.code : DM_ERR_SERVICE;
    }
    lines_free(lr);
    dm_arena_free(a);
    free(im);
    return rc;
}

int engine_import(const transfer_options *o, ddb_client *c, transfer_result *res, dm_error *err)
{
    memset(res, 0, sizeof *res);
    ddb_table_desc d;
    int rc = ddb_describe_table(c, o->table, &d, err);
    if (rc)
        return rc;
    ddb_key_schema ks;
    rc = ddb_table_key_schema(&d, &ks, err);
    rc = rc ? rc : engine_import_check(o, &ks, res, err);
    if (rc == DM_OK && !o->dry_run)
        rc = import_writes(o, c, &ks, res, err);
    ddb_table_desc_cleanup(&d);
    return rc;
}
