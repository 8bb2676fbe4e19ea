/* Export (parallel scan to DynamoDB JSON lines) and import (lines to
 * BatchWriteItem, many calls in flight). zlib's gz* functions read plain
 * and gzip files alike, and write gzip when the name ends in .gz. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "ddbmig/engine.h"
#include "ddbmig/item.h"
#include "ddbmig/retry.h"
#include "engine_impl.h"

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

/* ---- import --------------------------------------------------------------- */

typedef struct line_reader {
    gzFile f;
    dm_buf line;
    long lineno;
} line_reader;

/* Next line without its newline; 0 at the end, <0 on error. */
static int next_line(line_reader *lr)
{
    dm_buf_reset(&lr->line);
    char chunk[65536];
    for (;;) {
        if (!gzgets(lr->f, chunk, sizeof chunk))
            return lr->line.len > 0 ? 1 : (gzeof(lr->f) ? 0 : -1);
        size_t n = strlen(chunk);
        bool nl = n > 0 && chunk[n - 1] == '\n';
        if (dm_buf_append(&lr->line, chunk, nl ? n - 1 : n))
            return -1;
        if (nl) {
            lr->lineno++;
            if (lr->line.len && lr->line.data[lr->line.len - 1] == '\r')
                lr->line.data[--lr->line.len] = '\0';
            return 1;
        }
    }
}

static int open_reader(line_reader *lr, const char *path, dm_error *err)
{
    memset(lr, 0, sizeof *lr);
    dm_buf_init(&lr->line, 8 << 20);
    lr->f = gzopen(path, "rb");
    return lr->f ? DM_OK : dm_error_set(err, DM_ERR_IO, "cannot open %s", path);
}

static void close_reader(line_reader *lr)
{
    if (lr->f)
        gzclose(lr->f);
    dm_buf_cleanup(&lr->line);
}

static bool blank(const dm_buf *b)
{
    for (size_t i = 0; i < b->len; i++)
        if (b->data[i] != ' ' && b->data[i] != '\t')
            return false;
    return true;
}

/* First pass: every line must be an item; nothing is written otherwise. */
static int check_file(const char *path, long long *count, dm_error *err)
{
    line_reader lr;
    int rc = open_reader(&lr, path, err), r;
    dm_arena *a = dm_arena_new(0);
    *count = 0;
    while (rc == DM_OK && (r = next_line(&lr)) > 0) {
        if (blank(&lr.line))
            continue;
        ddb_item it;
        size_t used;
        dm_error e = {0};
        dm_arena_reset(a);
        if (ddb_item_decode(lr.line.data, lr.line.len, a, &it, &used, &e) != DM_OK)
            rc = dm_error_set(err, DM_ERR_PARSE, "%s, line %ld: %s", path, lr.lineno, e.message);
        else if (used != lr.line.len && !blank(&(dm_buf){.data = lr.line.data + used, .len = lr.line.len - used}))
            rc = dm_error_set(err, DM_ERR_PARSE, "%s, line %ld: text after the item", path, lr.lineno);
        else if (ddb_item_size(&it) > DDB_MAX_ITEM_BYTES)
            rc = dm_error_set(err, DM_ERR_PARSE, "%s, line %ld: the item is over DynamoDB's 400 KB limit", path,
                              lr.lineno);
        (*count)++;
    }
    if (rc == DM_OK && r < 0)
        rc = dm_error_set(err, DM_ERR_IO, "%s: read error after line %ld", path, lr.lineno);
    dm_arena_free(a);
    close_reader(&lr);
    return rc;
}

typedef struct batch_call {
    ddb_call call;
    int n;
    int round;
    int64_t due_ms;
    struct batch_call *next;
} batch_call;

typedef struct importer {
    const transfer_options *o;
    ddb_client *c;
    batch_call *waiting; /* UnprocessedItems to resend */
    int in_flight;
    long long written;
    double units;
    uint64_t rng;
    dm_error err;
    bool failed;
} importer;

static void on_batch(importer *im, batch_call *b)
{
    im->in_flight--;
    if (b->call.rc != DM_OK) {
        if (!im->failed)
            im->err = b->call.err;
        im->failed = true;
        ddb_call_cleanup(&b->call);
        free(b);
        return;
    }
    im->units += ddb_consumed_units(&b->call.response);
    json_t *doc = json_loadb(dm_buf_cstr(&b->call.response), b->call.response.len, 0, NULL);
    json_t *un = json_object_get(doc, "UnprocessedItems");
    size_t left = json_array_size(json_object_get(un, im->o->table));
    im->written += b->n - (long long)left;
    if (left == 0 || b->round >= 50) {
        if (left) {
            dm_error_set(&im->err, DM_ERR_THROTTLED, "%zu items still unprocessed after 50 rounds", left);
            im->failed = true;
        }
        json_decref(doc);
        ddb_call_cleanup(&b->call);
        free(b);
        return;
    }
    char *text = json_dumps(un, JSON_COMPACT);
    retry_policy pol = retry_policy_default();
    dm_buf_reset(&b->call.body);
    dm_buf_appendf(&b->call.body, "{\"RequestItems\":%s,\"ReturnConsumedCapacity\":\"TOTAL\"}", text ? text : "{}");
    free(text);
    json_decref(doc);
    b->n = (int)left;
    b->round++;
    b->due_ms = dm_monotonic_ms() + retry_backoff_ms(&pol, b->round, retry_random01(&im->rng));
    b->next = im->waiting;
    im->waiting = b;
}

static void start_batch(importer *im, batch_call *b)
{
    im->in_flight++;
    ddb_client_start(im->c, &b->call);
}

/* Waits for one completion, resending due UnprocessedItems meanwhile. */
static void pump_import(importer *im)
{
    int64_t now = dm_monotonic_ms(), wait = 100;
    for (batch_call **pp = &im->waiting; *pp;) {
        batch_call *b = *pp;
        if (b->due_ms <= now) {
            *pp = b->next;
            start_batch(im, b);
        } else {
            wait = b->due_ms - now < wait ? b->due_ms - now : wait;
            pp = &b->next;
        }
    }
    ddb_call *done = NULL;
    if (ddb_client_pending(im->c) == 0) {
        dm_sleep_ms(wait);
        return;
    }
    if (ddb_client_wait(im->c, (int)wait, &done) == DM_OK && done)
        on_batch(im, done->user);
}

static batch_call *new_batch(const char *table)
{
    batch_call *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    ddb_call_init(&b->call, "BatchWriteItem", table);
    b->call.user = b;
    dm_buf_puts(&b->call.body, "{\"RequestItems\":{");
    ddb_json_put_string(&b->call.body, table, strlen(table));
    dm_buf_puts(&b->call.body, ":[");
    return b;
}

int engine_import(const transfer_options *o, ddb_client *c, transfer_result *res, dm_error *err)
{
    long long lines = 0;
    int rc = check_file(o->path, &lines, err);
    if (rc)
        return rc;
    importer im = {.o = o, .c = c};
    int max_flight = o->in_flight > 0 ? o->in_flight : 32;
    int64_t t0 = dm_monotonic_ms();
    line_reader lr;
    if ((rc = open_reader(&lr, o->path, err)) != DM_OK)
        return rc;
    batch_call *b = NULL;
    int r;
    while (!im.failed && (r = next_line(&lr)) > 0) {
        if (blank(&lr.line))
            continue;
        if (!b && !(b = new_batch(o->table))) {
            rc = dm_error_set(err, DM_ERR_NOMEM, "out of memory");
            break;
        }
        dm_buf_appendf(&b->call.body, "%s{\"PutRequest\":{\"Item\":", b->n ? "," : "");
        dm_buf_append(&b->call.body, lr.line.data, lr.line.len);
        dm_buf_puts(&b->call.body, "}}");
        if (++b->n == 25) {
            dm_buf_puts(&b->call.body, "]},\"ReturnConsumedCapacity\":\"TOTAL\"}");
            while (im.in_flight >= max_flight && !im.failed)
                pump_import(&im);
            start_batch(&im, b);
            b = NULL;
        }
    }
    if (b && !im.failed) {
        dm_buf_puts(&b->call.body, "]},\"ReturnConsumedCapacity\":\"TOTAL\"}");
        start_batch(&im, b);
    } else if (b) {
        ddb_call_cleanup(&b->call);
        free(b);
    }
    while (im.in_flight > 0 || im.waiting)
        pump_import(&im);
    close_reader(&lr);
    res->items = im.written;
    res->units = im.units;
    res->seconds = (double)(dm_monotonic_ms() - t0) / 1000.0;
    if (im.failed && rc == DM_OK) {
        if (err)
            *err = im.err;
        rc = im.err.code ? im.err.code : DM_ERR_SERVICE;
    }
    return rc;
}
