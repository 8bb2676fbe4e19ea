/* A worker: takes segments off the queue, scans their pages, runs the
 * script on each item, and writes what changed. The next page's Scan is in
 * flight while the current page's writes go out, on one libcurl multi
 * handle; memory is two pages per worker whatever the table's size.
 *
 * A page counts as done (and its LastEvaluatedKey goes to the checkpoint)
 * only when every write it caused has completed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_impl.h"

typedef enum task_kind { T_UPDATE, T_PUT, T_PLAIN_PUT, T_DELETE, T_MOVE, T_BATCH, T_GET } task_kind;
typedef enum outcome { O_CHANGED, O_DELETED, O_MOVED, O_EXTRA, O_COPIED, O_NONE } outcome;

typedef struct task {
    task_kind kind;
    outcome counts_as;
    ddb_call call;
    const ddb_item *orig;
    const ddb_item *next_item; /* the body is built when the task starts */
    ddb_diff diff;
    int conflicts;
    int batch_round;
    int64_t due_ms;
    double reserved;
    bool acquired;        /* capacity taken from the limiter */
    struct task *next;
} task;

typedef struct page_counts {
    long long scanned, changed, unchanged, deleted, failed, conflicts;
} page_counts;

typedef struct worker {
    run_state *r;
    int id;
    ddb_client *client;
    lua_host *host;
    wr_ctx wr;
    seg_state *seg;
    dm_arena *arena;
    task *tasks;          /* not yet started, first in first out */
    task *tasks_tail;
    size_t n_queued;
    task *free_tasks;     /* finished tasks, their buffers kept for reuse */
    size_t in_flight;
    const ddb_page *page; /* the page being worked through */
    size_t page_next;     /* its next item to transform */
    dm_buf batch;         /* pending BatchWriteItem entries */
    int batch_n;
    ddb_call scan;
    bool scan_in_flight, scan_started;
    int64_t scan_due_ms;
    double scan_reserved;
    double scan_estimate; /* read units the next page will take */
    page_counts pc;
    bool page_aborted;
} worker;

static bool stopping(run_state *r) { return atomic_load(&r->stop) != STOP_NONE; }

/* An interrupt or a failure drops writes not yet sent; reaching --limit
 * lets the items already taken finish. */
static bool abandon_queued(run_state *r)
{
    int s = atomic_load(&r->stop);
    return s != STOP_NONE && s != STOP_LIMIT;
}

void engine_request_stop(run_state *r, stop_reason why, const dm_error *err)
{
    int none = STOP_NONE;
    if (atomic_compare_exchange_strong(&r->stop, &none, (int)why) && err) {
        pthread_mutex_lock(&r->mu);
        r->fatal = *err;
        pthread_mutex_unlock(&r->mu);
    }
}

/* ---- per-item errors ---------------------------------------------------- */

void engine_item_error(run_state *r, int segment, const ddb_item *it, const char *message)
{
    dm_buf line;
    dm_buf_init(&line, 0);
    wr_ctx kw = {.keys = r->keys, .n_keys = r->n_keys};
    dm_buf_appendf(&line, "{\"segment\":%d,\"key\":", segment);
    size_t mark = line.len;
    if (!it || wr_key_json(&kw, it, &line) != DM_OK) {
        line.len = mark;
        dm_buf_puts(&line, "null");
    }
    dm_buf_puts(&line, ",\"error\":");
    ddb_json_put_string(&line, message, strlen(message));
    dm_buf_puts(&line, ",\"item\":");
    if (it)
        ddb_item_encode(it, &line);
    else
        dm_buf_puts(&line, "null");
    dm_buf_puts(&line, "}\n");
    pthread_mutex_lock(&r->mu);
    if (!r->errors)
        r->errors = fopen(r->errors_path, r->o->resume ? "a" : "w");
    if (r->errors) {
        fwrite(line.data, 1, line.len, r->errors);
        fflush(r->errors);
    }
    pthread_mutex_unlock(&r->mu);
    dm_buf_cleanup(&line);
    long long failed = atomic_fetch_add(&r->c.failed, 1) + 1;
    long long max = r->o->max_errors > 0 ? r->o->max_errors : 100;
    if (failed >= max) {
        dm_error e;
        dm_error_set(&e, DM_ERR_LIMIT, "stopped after %lld per-item errors (--max-errors %lld); see %s", failed, max,
                     r->errors_path);
        engine_request_stop(r, STOP_MAX_ERRORS, &e);
    }
}

/* Page counts go to the segment when the page is done; the run's totals
 * move at once, for the progress line. */
#define COUNT(w, field)                                        \
    do {                                                       \
        (w)->pc.field++;                                       \
        atomic_fetch_add(&(w)->r->c.field, 1);                 \
    } while (0)

static void item_error(worker *w, const ddb_item *it, const char *message)
{
    w->pc.failed++;
    engine_item_error(w->r, w->seg->index, it, message);
}

/* ---- dry-run diffs ---------------------------------------------------------- */

static void print_value(FILE *f, const ddb_value *v)
{
    dm_buf b;
    dm_buf_init(&b, 0);
    ddb_value_encode(v, &b);
    if (b.len > 160)
        fprintf(f, "%.150s... (%zu bytes)", b.data, b.len);
    else
        fputs(dm_buf_cstr(&b), f);
    dm_buf_cleanup(&b);
}

static void show_diff(worker *w, const ddb_item *orig, const ddb_item *next, const ddb_diff *d, const char *what)
{
    run_state *r = w->r;
    if (r->o->show_diffs <= 0 || !r->o->diff_out)
        return;
    pthread_mutex_lock(&r->mu);
    if (r->diffs_shown < r->o->show_diffs) {
        r->diffs_shown++;
        FILE *f = r->o->diff_out;
        dm_buf key;
        dm_buf_init(&key, 0);
        wr_key_json(&w->wr, orig, &key);
        fprintf(f, "--- %s %s\n", r->o->table, dm_buf_cstr(&key));
        dm_buf_cleanup(&key);
        if (what)
            fprintf(f, "  %s\n", what);
        for (size_t i = 0; d && i < d->n_set; i++) {
            const dm_str *n = &next->names[d->set[i]];
            const ddb_value *old = ddb_item_get(orig, n->p, n->n);
            fprintf(f, "  SET %.*s: ", (int)n->n, n->p);
            if (old)
                print_value(f, old);
            else
                fputs("(absent)", f);
            fputs(" -> ", f);
            print_value(f, &next->values[d->set[i]]);
            fputc('\n', f);
        }
        for (size_t i = 0; d && i < d->n_remove; i++) {
            fprintf(f, "  REMOVE %.*s: ", (int)d->remove[i].n, d->remove[i].p);
            print_value(f, ddb_item_get(orig, d->remove[i].p, d->remove[i].n));
            fputc('\n', f);
        }
        fflush(f);
    }
    pthread_mutex_unlock(&r->mu);
}

/* ---- tasks ------------------------------------------------------------------ */

static double write_units(const ddb_item *it)
{
    return it ? ceil((double)(ddb_item_size(it) + 1) / 1024.0) : 1;
}

static task *new_task(worker *w, task_kind kind, outcome counts_as, const ddb_item *orig, int conflicts,
                      double units, const char *op)
{
    task *t = w->free_tasks;
    if (t) {
        w->free_tasks = t->next;
        ddb_call call = t->call;
        memset(t, 0, sizeof *t);
        t->call = call;
        ddb_call_reuse(&t->call, op, w->wr.table);
    } else {
        if (!(t = malloc(sizeof *t)))
            return NULL;
        memset(t, 0, sizeof *t);
        ddb_call_init(&t->call, op, w->wr.table);
    }
    t->kind = kind;
    t->counts_as = counts_as;
    t->orig = orig;
    t->conflicts = conflicts;
    t->call.user = t;
    t->reserved = units;
    return t;
}

/* A task is done with: back to the pool. */
static void release_task(worker *w, task *t)
{
    t->next = w->free_tasks;
    w->free_tasks = t;
}

static void queue_task(worker *w, task *t)
{
    w->n_queued++;
    t->next = NULL;
    if (w->tasks_tail)
        w->tasks_tail->next = t;
    else
        w->tasks = t;
    w->tasks_tail = t;
}

/* Request bodies are built only when a task starts, so that memory holds
 * the bodies in flight, not a page's worth of them. */
static int build_body(worker *w, task *t)
{
    switch (t->kind) {
    case T_UPDATE: return wr_update_body(&w->wr, t->orig, t->next_item, &t->diff, &t->call.body);
    case T_PUT: return wr_put_body(&w->wr, t->orig, t->next_item, &t->diff, &t->call.body);
    case T_PLAIN_PUT: return wr_put_plain_body(&w->wr, t->next_item, &t->call.body);
    case T_DELETE: return wr_delete_body(&w->wr, t->orig, &t->call.body);
    case T_MOVE: return wr_move_body(&w->wr, t->orig, t->next_item, &t->call.body);
    default: return DM_OK; /* batch and get bodies are made up front */
    }
}

static void flush_batch(worker *w, bool force)
{
    if (w->batch_n == 0 || (!force && w->batch_n < 25))
        return;
    task *t = new_task(w, T_BATCH, O_NONE, NULL, 0, w->batch_n, "BatchWriteItem");
    if (!t)
        return;
    dm_buf_puts(&t->call.body, "{\"RequestItems\":{");
    ddb_json_put_string(&t->call.body, w->wr.table, strlen(w->wr.table));
    dm_buf_appendf(&t->call.body, ":[%s]},\"ReturnConsumedCapacity\":\"TOTAL\"}", dm_buf_cstr(&w->batch));
    dm_buf_reset(&w->batch);
    w->batch_n = 0;
    queue_task(w, t);
}

static void add_batch_entry(worker *w, const ddb_item *put, const ddb_item *del)
{
    if (w->batch_n)
        dm_buf_putc(&w->batch, ',');
    if (put)
        wr_batch_put(&w->wr, put, &w->batch);
    else
        wr_batch_delete(&w->wr, del, &w->batch);
    w->batch_n++;
    flush_batch(w, false);
}

static bool has_keys(const wr_ctx *wr, const ddb_item *it)
{
    for (size_t k = 0; k < wr->n_keys; k++)
        if (!ddb_item_get(it, wr->keys[k], strlen(wr->keys[k])))
            return false;
    return true;
}

static void enqueue_write(worker *w, task_kind kind, outcome oc, const ddb_item *orig, const ddb_item *next,
                          const ddb_diff *d, int conflicts)
{
    static const char *const ops[] = {"UpdateItem", "PutItem", "PutItem", "DeleteItem", "TransactWriteItems"};
    ddb_diff none = {0};
    if (!d)
        d = &none;
    ddb_item *marked = next ? dm_arena_alloc(w->arena, sizeof *marked) : NULL;
    if (marked && wr_with_marker(&w->wr, next, w->arena, marked) == DM_OK)
        next = marked;
    double units = write_units(next ? next : orig) * (kind == T_MOVE ? 4 : 1);
    task *t = new_task(w, kind, oc, orig, conflicts, units, ops[kind]);
    if (!t) {
        item_error(w, orig, "out of memory");
        return;
    }
    t->next_item = next;
    if (d)
        t->diff = *d;
    if (!has_keys(&w->wr, orig ? orig : next)) {
        item_error(w, orig ? orig : next, "the item lacks a key attribute of the table");
        release_task(w, t);
        return;
    }
    queue_task(w, t);
}

/* ---- one item --------------------------------------------------------------- */

static bool has_marker(const worker *w, const ddb_item *it)
{
    if (!w->wr.marker)
        return false;
    const ddb_value *v = ddb_item_get(it, w->wr.marker, strlen(w->wr.marker));
    return v && v->type == DDB_S && v->len == strlen(w->wr.migration) &&
           memcmp(v->data, w->wr.migration, v->len) == 0;
}

static void emit_extras(worker *w, const lua_result *res)
{
    run_state *r = w->r;
    for (size_t i = 0; i < res->n_extras; i++) {
        if (r->o->dry_run || r->o->job == ENGINE_VERIFY)
            continue;
        if (r->mode == ENGINE_WRITE_BATCH) {
            ddb_item marked;
            const ddb_item *it = &res->extras[i];
            if (wr_with_marker(&w->wr, it, w->arena, &marked) == DM_OK)
                it = &marked;
            add_batch_entry(w, it, NULL);
            atomic_fetch_add(&r->c.extras, 1);
        } else {
            enqueue_write(w, T_PLAIN_PUT, O_EXTRA, NULL, &res->extras[i], NULL, 0);
        }
    }
}

static void copy_item(worker *w, const ddb_item *orig, const lua_result *res)
{
    run_state *r = w->r;
    if (res->outcome == LUA_DELETE) {
        COUNT(w, deleted);
        return;
    }
    const ddb_item *next = res->outcome == LUA_WRITE ? &res->item : orig;
    if (res->outcome == LUA_WRITE && !ddb_item_equal(orig, next))
        COUNT(w, changed);
    else
        COUNT(w, unchanged);
    if (r->o->dry_run || r->o->job == ENGINE_VERIFY)
        return;
    if (r->mode == ENGINE_WRITE_BATCH) {
        ddb_item marked;
        if (wr_with_marker(&w->wr, next, w->arena, &marked) == DM_OK)
            next = &marked;
        add_batch_entry(w, next, NULL);
    } else {
        enqueue_write(w, T_PLAIN_PUT, O_COPIED, NULL, next, NULL, 0);
    }
}

static void handle_item(worker *w, const ddb_item *orig, int conflicts)
{
    run_state *r = w->r;
    lua_result res;
    dm_error err = {0};
    bool dry = r->o->dry_run || r->o->job == ENGINE_VERIFY;
    int rc = lua_host_migrate(w->host, orig, w->seg->index, w->arena, &res, &err);
    if (rc == DM_ERR_INTERRUPTED) { /* not the item's fault: its page stays unfinished, to run again */
        engine_request_stop(r, STOP_INTERRUPT, NULL);
        w->page_aborted = true;
        return;
    }
    if (rc != DM_OK) {
        item_error(w, orig, err.message);
        return;
    }
    emit_extras(w, &res);
    if (r->target != r->o->table) {
        copy_item(w, orig, &res);
        return;
    }
    if (res.outcome == LUA_UNCHANGED) {
        COUNT(w, unchanged);
        return;
    }
    if (res.outcome == LUA_DELETE) {
        if (dry) {
            COUNT(w, deleted);
            show_diff(w, orig, NULL, NULL, "DELETE");
        } else if (r->mode == ENGINE_WRITE_BATCH) {
            COUNT(w, deleted);
            add_batch_entry(w, NULL, orig);
        } else {
            enqueue_write(w, T_DELETE, O_DELETED, orig, NULL, NULL, conflicts);
        }
        return;
    }
    ddb_diff d;
    if (ddb_diff_compute(orig, &res.item, r->keys, r->n_keys, w->arena, &d) != DM_OK) {
        item_error(w, orig, "out of memory");
        return;
    }
    if (ddb_diff_empty(&d)) {
        COUNT(w, unchanged);
        return;
    }
    if (ddb_item_size(&res.item) > DDB_MAX_ITEM_BYTES) {
        char msg[160];
        snprintf(msg, sizeof msg, "the new item is %zu bytes, over DynamoDB's 400 KB limit",
                 ddb_item_size(&res.item));
        item_error(w, orig, msg);
        return;
    }
    if (dry) {
        COUNT(w, changed);
        show_diff(w, orig, &res.item, &d, d.key_changed ? "KEY CHANGE (new item put, old item deleted)" : NULL);
        return;
    }
    if (r->mode == ENGINE_WRITE_BATCH) {
        COUNT(w, changed);
        ddb_item marked;
        const ddb_item *next = &res.item;
        if (wr_with_marker(&w->wr, next, w->arena, &marked) == DM_OK)
            next = &marked;
        add_batch_entry(w, next, NULL);
        if (d.key_changed)
            add_batch_entry(w, NULL, orig);
        return;
    }
    if (d.key_changed)
        enqueue_write(w, T_MOVE, O_MOVED, orig, &res.item, &d, conflicts);
    else
        enqueue_write(w, r->mode == ENGINE_WRITE_PUT ? T_PUT : T_UPDATE, O_CHANGED, orig, &res.item, &d, conflicts);
}

static int max_in_flight(const worker *w)
{
    return w->r->o->writes_in_flight > 0 ? w->r->o->writes_in_flight : 32;
}

/* Transforms the page's next items while few writes wait to start, up to
 * twice the writes in flight: the transform overlaps the writes, and
 * memory holds a window of writes rather than a page of them. */
static void feed_items(worker *w)
{
    run_state *r = w->r;
    const ddb_page *pg = w->page;
    /* In bursts: the script runs many items in a row, with its state
     * still in the caches, rather than one item between two answers. */
    if (!pg || (int)w->n_queued > max_in_flight(w) / 4)
        return;
    while (w->page_next < pg->n_items && (int)w->n_queued < 2 * max_in_flight(w)) {
        if (stopping(r)) {
            w->page_aborted = true;
            w->page = NULL;
            return;
        }
        if (r->o->limit > 0 && atomic_fetch_add(&r->c.limit_taken, 1) >= r->o->limit) {
            engine_request_stop(r, STOP_LIMIT, NULL);
            w->page_aborted = true;
            w->page = NULL;
            return;
        }
        w->pc.scanned++;
        atomic_fetch_add(&r->c.scanned, 1);
        const ddb_item *it = &pg->items[w->page_next++];
        if (has_marker(w, it)) {
            atomic_fetch_add(&r->c.skipped, 1);
            COUNT(w, unchanged);
            continue;
        }
        handle_item(w, it, 0);
    }
    if (w->page_next >= pg->n_items) {
        flush_batch(w, true);
        w->page = NULL;
    }
}

/* ---- completions ------------------------------------------------------------ */

/* The first "Item" of an answer at or after `from`, decoded into the page's
 * arena (with a copy of its text, which must outlive it). NULL when absent
 * or unreadable. */
static const ddb_item *item_in_answer(worker *w, const dm_buf *resp, const char *from)
{
    const char *body = dm_buf_cstr(resp);
    const char *p = from ? strstr(body, from) : body;
    const char *it = p ? strstr(p, "\"Item\"") : NULL;
    it = it ? strchr(it + 6, '{') : NULL;
    if (!it)
        return NULL;
    size_t len = resp->len - (size_t)(it - body);
    char *copy = dm_arena_strndup(w->arena, it, len);
    ddb_item *out = dm_arena_alloc(w->arena, sizeof *out);
    if (!copy || !out || ddb_item_decode(copy, len, w->arena, out, NULL, NULL) != DM_OK)
        return NULL;
    return out;
}

/* The current item from a failed guarded write: ALL_OLD's Item, or for a
 * transaction the Item of the cancelled Delete. */
static const ddb_item *current_item(worker *w, task *t)
{
    return item_in_answer(w, &t->call.response, t->kind == T_MOVE ? "\"CancellationReasons\"" : NULL);
}

static bool is_conflict(const task *t)
{
    if (strcmp(t->call.err.type, "ConditionalCheckFailedException") == 0)
        return true;
    return strcmp(t->call.err.type, "TransactionCanceledException") == 0 &&
           strstr(dm_buf_cstr(&t->call.response), "ConditionalCheckFailed") != NULL;
}

static void enqueue_get(worker *w, const ddb_item *orig, int conflicts)
{
    task *t = new_task(w, T_GET, O_NONE, orig, conflicts, 0, "GetItem");
    if (!t)
        return;
    wr_ctx src = w->wr;
    src.table = w->r->o->table;
    dm_buf_puts(&t->call.body, "{\"TableName\":");
    ddb_json_put_string(&t->call.body, src.table, strlen(src.table));
    dm_buf_puts(&t->call.body, ",\"ConsistentRead\":true,\"Key\":");
    wr_key_json(&src, orig, &t->call.body);
    dm_buf_puts(&t->call.body, "}");
    queue_task(w, t);
}

static void on_conflict(worker *w, task *t)
{
    run_state *r = w->r;
    w->pc.conflicts++;
    atomic_fetch_add(&r->c.conflicts, 1);
    int max = r->o->conflict_retries > 0 ? r->o->conflict_retries : 5;
    if (t->kind == T_MOVE && strstr(dm_buf_cstr(&t->call.response), "\"Code\":\"ConditionalCheckFailed\"") ==
                                 strstr(dm_buf_cstr(&t->call.response), "\"Code\"")) {
        item_error(w, t->orig, "the new key already exists in the table; the item was not moved");
        return;
    }
    if (t->conflicts + 1 > max) {
        char msg[200];
        snprintf(msg, sizeof msg, "gave up after %d concurrent writes by others changed the item", max);
        item_error(w, t->orig, msg);
        return;
    }
    const ddb_item *cur = current_item(w, t);
    if (cur)
        handle_item(w, cur, t->conflicts + 1);
    else
        enqueue_get(w, t->orig, t->conflicts + 1);
}

static void on_batch_done(worker *w, task *t)
{
    json_t *doc = json_loadb(dm_buf_cstr(&t->call.response), t->call.response.len, 0, NULL);
    json_t *un = json_object_get(doc, "UnprocessedItems");
    json_t *mine = json_object_get(un, w->wr.table);
    size_t left = json_array_size(mine);
    size_t sent = (size_t)t->reserved;
    atomic_fetch_add(&w->r->c.writes, (long long)(sent - left));
    if (left > 0) {
        uint64_t rng = 0;
        retry_policy pol = retry_policy_default();
        task *again = new_task(w, T_BATCH, O_NONE, NULL, 0, (double)left, "BatchWriteItem");
        if (again) {
            char *text = json_dumps(un, JSON_COMPACT);
            dm_buf_appendf(&again->call.body, "{\"RequestItems\":%s,\"ReturnConsumedCapacity\":\"TOTAL\"}",
                           text ? text : "{}");
            free(text);
            again->batch_round = t->batch_round + 1;
            again->due_ms = dm_monotonic_ms() + retry_backoff_ms(&pol, again->batch_round, retry_random01(&rng));
            if (again->batch_round > 50) {
                dm_error e;
                dm_error_set(&e, DM_ERR_THROTTLED, "BatchWriteItem left %zu items unprocessed 50 times", left);
                engine_request_stop(w->r, STOP_FATAL, &e);
            } else {
                queue_task(w, again);
            }
        }
    }
    json_decref(doc);
}

static void count_success(worker *w, task *t)
{
    run_state *r = w->r;
    atomic_fetch_add(&r->c.writes, 1);
    switch (t->counts_as) {
    case O_CHANGED: COUNT(w, changed); break;
    case O_DELETED: COUNT(w, deleted); break;
    case O_MOVED: COUNT(w, changed); atomic_fetch_add(&r->c.moved, 1); break;
    case O_EXTRA: atomic_fetch_add(&r->c.extras, 1); break;
    default: break;
    }
}

static void on_get_done(worker *w, task *t)
{
    if (!strstr(dm_buf_cstr(&t->call.response), "\"Item\"")) {
        COUNT(w, unchanged); /* deleted by someone else meanwhile: nothing to migrate */
        return;
    }
    const ddb_item *cur = item_in_answer(w, &t->call.response, NULL);
    if (!cur) {
        item_error(w, t->orig, "GetItem returned an item that could not be read");
        return;
    }
    handle_item(w, cur, t->conflicts);
}

static void on_task_done(worker *w, task *t)
{
    run_state *r = w->r;
    w->in_flight--;
    double used = ddb_consumed_units(&t->call.response);
    if (t->kind == T_GET) {
        rl_settle(&r->rl_read, 0, used);
        atomic_fetch_add(&r->c.read_milli, (long long)(used * 1000));
    } else {
        rl_settle(&r->rl_write, t->reserved, used);
        atomic_fetch_add(&r->c.write_milli, (long long)(used * 1000));
    }
    if (t->call.rc == DM_OK) {
        if (t->kind == T_BATCH)
            on_batch_done(w, t);
        else if (t->kind == T_GET)
            on_get_done(w, t);
        else
            count_success(w, t);
    } else if (is_conflict(t)) {
        on_conflict(w, t);
    } else if (t->call.rc == DM_ERR_SERVICE && strcmp(t->call.err.type, "ResourceNotFoundException") != 0 &&
               strcmp(t->call.err.type, "AccessDeniedException") != 0 && t->kind != T_BATCH) {
        item_error(w, t->orig, t->call.err.message);
    } else {
        engine_request_stop(r, STOP_FATAL, &t->call.err);
        w->page_aborted = true;
    }
    release_task(w, t);
}

/* ---- the loop --------------------------------------------------------------- */

static void on_scan_done(worker *w) { w->scan_in_flight = false; }

/* Starts due tasks (and a due scan); returns ms until the next is due. */
static int64_t start_due(worker *w)
{
    int64_t now = dm_monotonic_ms(), next = 200;
    if (w->scan_started && !w->scan_in_flight && w->scan_due_ms > 0) {
        int64_t wait = w->scan_due_ms <= now ? rl_acquire(&w->r->rl_read, w->scan_reserved) : w->scan_due_ms - now;
        if (wait == 0) {
            w->scan_due_ms = 0;
            w->scan_in_flight = true;
            ddb_client_start(w->client, &w->scan);
        } else {
            w->scan_due_ms = now + wait;
            next = wait;
        }
    }
    /* Due times grow along the queue (the limiter hands them out in
     * order), so the head is the only one to look at. */
    while (w->tasks && (int)w->in_flight < max_in_flight(w)) {
        task *t = w->tasks;
        if (t->due_ms > now) {
            if (t->due_ms - now < next)
                next = t->due_ms - now;
            break;
        }
        if (!t->acquired) {
            ratelimit *rl = t->kind == T_GET ? &w->r->rl_read : &w->r->rl_write;
            int64_t wait = rl_acquire(rl, t->reserved);
            if (wait > 0) {
                next = wait < next ? wait : next;
                break;
            }
            t->acquired = true;
        }
        w->tasks = t->next;
        if (!w->tasks)
            w->tasks_tail = NULL;
        w->n_queued--;
        if (build_body(w, t) != DM_OK) {
            item_error(w, t->orig ? t->orig : t->next_item, "out of memory building a request");
            release_task(w, t);
            continue;
        }
        w->in_flight++;
        ddb_client_start(w->client, &t->call);
    }
    return next;
}

/* Drives calls once; returns after one completion or a short wait. */
static void pump(worker *w)
{
    int64_t wait = start_due(w);
    ddb_call *done = NULL;
    if (ddb_client_pending(w->client) == 0) {
        if (wait > 0)
            dm_sleep_ms(wait < 50 ? wait : 50);
        return;
    }
    if (ddb_client_wait(w->client, (int)(wait < 100 ? wait : 100), &done) != DM_OK || !done)
        return;
    if (done == &w->scan)
        on_scan_done(w);
    else
        on_task_done(w, done->user);
}

/* Works through the page: transforms, writes, completions. */
static void drain_writes(worker *w)
{
    for (;;) {
        feed_items(w);
        if (abandon_queued(w->r) && (w->tasks || w->page)) {
            /* Stop: nothing new goes out; in-flight writes finish. */
            for (task *t = w->tasks, *next; t; t = next) {
                next = t->next;
                release_task(w, t);
            }
            w->tasks = w->tasks_tail = NULL;
            w->n_queued = 0;
            w->page = NULL;
            w->page_aborted = true;
            continue;
        }
        if (!w->page && !w->tasks && w->in_flight == 0)
            return;
        pump(w);
    }
}

static void start_scan(worker *w, const char *start_key)
{
    run_state *r = w->r;
    ddb_call_cleanup(&w->scan);
    ddb_call_init(&w->scan, "Scan", r->o->table);
    ddb_scan_params p = {.table = r->o->table, .segment = w->seg->index, .total_segments = r->n_segs,
                         .exclusive_start_key = start_key, .consistent_read = r->o->consistent_read,
                         .filter_expression = r->o->filter_expression, .names_json = r->o->names_json,
                         .values_json = r->o->values_json, .limit = r->o->page_size,
                         .return_consumed_capacity = true};
    ddb_scan_body(&p, &w->scan.body);
    w->scan_reserved = w->scan_estimate;
    w->scan_due_ms = dm_monotonic_ms();
    w->scan_started = true;
    w->scan_in_flight = false;
    start_due(w);
}

static void wait_scan(worker *w)
{
    while (w->scan_due_ms > 0 || w->scan_in_flight)
        pump(w);
    w->scan_started = false;
}

/* Adds the page's counts to its segment; moves the segment's start key
 * only for a page whose writes all completed. */
static void commit_page(worker *w, char *next_key, bool complete, bool last)
{
    run_state *r = w->r;
    seg_state *s = w->seg;
    pthread_mutex_lock(&r->mu);
    s->scanned += w->pc.scanned;
    s->changed += w->pc.changed;
    s->unchanged += w->pc.unchanged;
    s->deleted += w->pc.deleted;
    s->failed += w->pc.failed;
    s->conflicts += w->pc.conflicts;
    if (!complete) {
        pthread_mutex_unlock(&r->mu);
        free(next_key);
        return;
    }
    s->pages++;
    free(s->last_key);
    s->last_key = next_key;
    if (last) {
        s->status = SEG_DONE;
        s->elapsed_ms = dm_monotonic_ms() - s->started_ms;
        s->work_ms += s->elapsed_ms;
        r->segs_done++;
    }
    pthread_mutex_unlock(&r->mu);
}

/* Returns false when the run must stop. */
static bool page_step(worker *w, bool *more)
{
    run_state *r = w->r;
    *more = false;
    wait_scan(w);
    if (w->scan.rc != DM_OK) {
        engine_request_stop(r, STOP_FATAL, &w->scan.err);
        return false;
    }
    /* The page's text moves out of the call, so the next Scan can go. */
    dm_buf text = w->scan.response;
    dm_buf_init(&w->scan.response, 0);
    dm_arena_reset(w->arena);
    ddb_page pg;
    dm_error err = {0};
    if (ddb_page_decode(text.data, text.len, w->arena, &pg, &err) != DM_OK) {
        engine_request_stop(r, STOP_FATAL, &err);
        dm_buf_cleanup(&text);
        return false;
    }
    rl_settle(&r->rl_read, w->scan_reserved, pg.consumed_units);
    atomic_fetch_add(&r->c.read_milli, (long long)(pg.consumed_units * 1000));
    w->scan_estimate = pg.consumed_units > 0 ? pg.consumed_units : w->scan_estimate;
    char *next_key = pg.last_key.p ? dm_strndup(pg.last_key.p, pg.last_key.n) : NULL;
    if (next_key && !stopping(r))
        start_scan(w, next_key);
    memset(&w->pc, 0, sizeof w->pc);
    w->page_aborted = false;
    w->page = &pg;
    w->page_next = 0;
    drain_writes(w);
    bool complete = !w->page_aborted;
    *more = complete && next_key != NULL;
    commit_page(w, next_key, complete, next_key == NULL);
    if (w->scan_started && (stopping(r) || w->page_aborted))
        wait_scan(w); /* let an early Scan finish before leaving */
    dm_buf_cleanup(&text);
    return !stopping(r) && !w->page_aborted;
}

static seg_state *take_segment(run_state *r)
{
    seg_state *s = NULL;
    pthread_mutex_lock(&r->mu);
    while (r->next_seg < r->n_segs && !s) {
        seg_state *c = &r->segs[r->next_seg++];
        if (c->status != SEG_DONE) {
            c->status = SEG_RUNNING;
            c->started_ms = dm_monotonic_ms();
            s = c;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return s;
}

static void run_segment(worker *w, seg_state *s)
{
    w->seg = s;
    pthread_mutex_lock(&w->r->mu);
    char *start = dm_strdup(s->last_key);
    pthread_mutex_unlock(&w->r->mu);
    start_scan(w, start);
    free(start);
    bool more = true;
    while (more && page_step(w, &more))
        ;
    pthread_mutex_lock(&w->r->mu);
    if (s->status != SEG_DONE)
        s->status = SEG_PENDING;
    pthread_mutex_unlock(&w->r->mu);
}

static void worker_cleanup(worker *w)
{
    while (w->free_tasks) {
        task *t = w->free_tasks;
        w->free_tasks = t->next;
        ddb_call_cleanup(&t->call);
        free(t);
    }
    ddb_call_cleanup(&w->scan);
    dm_buf_cleanup(&w->batch);
    lua_host_free(w->host);
    ddb_client_free(w->client);
    dm_arena_free(w->arena);
}

void *worker_main(void *arg)
{
    worker w;
    memset(&w, 0, sizeof w);
    w.r = arg;
    run_state *r = w.r;
    dm_error err = {0};
    lua_host_options lo = r->lua;
    w.client = ddb_client_new(r->shared);
    w.arena = dm_arena_new(256 * 1024);
    dm_buf_init(&w.batch, 0);
    ddb_call_init(&w.scan, "Scan", r->o->table);
    if (!w.client || !w.arena || lua_host_new(&lo, &w.host, &err) != DM_OK) {
        if (!err.message[0])
            dm_error_set(&err, DM_ERR_NOMEM, "out of memory starting a worker");
        engine_request_stop(r, err.code == DM_ERR_INTERRUPTED ? STOP_INTERRUPT : STOP_FATAL, &err);
        worker_cleanup(&w);
        return NULL;
    }
    w.scan_estimate = r->scan_estimate;
    w.wr = (wr_ctx){.table = r->target, .keys = r->target_keys, .n_keys = r->n_target_keys,
                    .marker = r->o->marker, .migration = r->migration, .return_old_on_conflict = true};
    seg_state *s;
    while (!stopping(r) && (s = take_segment(r)) != NULL)
        run_segment(&w, s);
    worker_cleanup(&w);
    return NULL;
}
