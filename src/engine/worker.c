/* A worker: takes segments off the run's queue, scans their pages, runs
 * the script on each item, and carries out the write plan (wplan.h) that
 * the item and the script's result call for. It keeps up to LANES_MAX
 * segments open, each with its next page's Scan in flight while the
 * current page's writes go out; memory is at most a page per lane plus
 * the page being worked, whatever the table's size.
 *
 * The path of an item: feed_items takes it from the page; handle_item runs
 * the script and asks wplan_decide what to write; dispatch queues the
 * request; on_task_done reads the answer and, after a failed condition,
 * asks wplan_on_conflict what it means (done, run again, gone, ...). An
 * item is finished when its outcome is known and no request of its is
 * outstanding; the page's progress is the prefix of finished items
 * (page.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conc.h"
#include "ctable.h"
#include "doneset.h"
#include "engine_impl.h"
#include "http/retry.h"
#include "page.h"
#include "task.h"

#define BATCH_MAX 25
#define LANES_MAX 4

/* A segment a worker has open, with its next page's Scan. A worker keeps
 * up to LANES_MAX open, so that a page is at hand when it finishes one:
 * a segment gives one page per Scan's answer time, however fast its
 * worker. */
typedef struct lane {
    seg_state *seg;       /* NULL: free */
    ratelimit *rl;        /* the segment's own pace (key-range throttles); owned */
    ddb_call scan;
    bool started;         /* a Scan is due, in flight, or answered and not yet taken */
    bool in_flight;
    int64_t due_ms;       /* > 0: waits on the limiters until then */
    double reserved;      /* read units taken for it */
    int64_t answered_us;  /* when its answer came (the oldest is worked first) */
} lane;

/* An item's key values, looked up once: a batch checks each new entry
 * against the ones it holds by value, on every item. */
typedef struct key_vals {
    const ddb_value *v[2]; /* NULL: the item lacks that key attribute */
} key_vals;

typedef struct worker {
    run_state *r;
    dm_loop *loop;        /* owns every socket and timer of this thread */
    dm_loop_timer kick;   /* wakes the loop when the limiter's wait is over */
    dm_loop_timer widen;  /* wakes a wait on pages to open another lane */
    task *delayed;        /* tasks waiting on their own timers (resends), linked by next */
    ddb_client *client;
    lua_host *host;
    wr_ctx wr;            /* the table written */
    wr_scratch scratch;   /* the writer's buffers, reused */
    wr_ctx src;           /* the table scanned (keys for checkpoints and errors) */
    wplan_rules rules;
    seg_state *seg;       /* the page being worked's segment */
    bool seg_done_keys;   /* its set of keys finished before (doneset.h) is not empty */
    bool seg_doubts;      /* its set of writes in doubt is not empty */
    ratelimit *seg_rl;    /* its pace: borrowed from its lane, or owned once the lane let it go */
    bool seg_owned;
    lane lanes[LANES_MAX];
    int n_lanes;          /* how many this worker may open now: more while it waits on pages */
    dm_arena *arena;      /* the current page's items, results and plans */
    task_queue q;
    size_t in_flight;
    conc_ctl conc;        /* how many may be in flight (--writes-in-flight fixes it) */
    page_work pw;
    bool feeding;         /* the page has items to take */
    task *batch;          /* BatchWriteItem being filled */
    key_vals batch_keys[BATCH_MAX];
    task *stmts;          /* BatchExecuteStatement being filled */
    key_vals stmt_keys[DDB_STATEMENTS_MAX];
    dm_buf stmt_entry;    /* one statement, reused */
    double scan_estimate; /* read units the next page will take */
    bool waited_before;   /* on a page: the worker's first wait is not counted */
    uint64_t rng;
} worker;

/* The worker running on this thread, for the client's throttle hook. */
static _Thread_local worker *this_worker;

static bool stopping(run_state *r) { return atomic_load(&r->stop) != STOP_NONE; }

/* An interrupt or a failure drops writes not yet sent; reaching --limit
 * lets the items already taken finish. */
static bool abandon_queued(run_state *r)
{
    int s = atomic_load(&r->stop);
    return s != STOP_NONE && s != STOP_LIMIT;
}

/* Checkpoint table: the segment may be another process's now (its lease
 * could not be renewed): nothing more of it is started here. */
static bool segment_lost(worker *w)
{
    return w->r->ct && w->seg && !ctable_holds(w->r, w->seg);
}

static bool dry(const run_state *r) { return r->o->dry_run || r->o->job == ENGINE_VERIFY; }

static int max_in_flight(const worker *w)
{
    return conc_limit(&w->conc);
}

/* Answer times in microseconds: at a few hundred microseconds a
 * millisecond clock would read most answers as taking no time. */
static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void engine_request_stop(run_state *r, stop_reason why, const dm_error *err)
{
    int none = STOP_NONE;
    if (!atomic_compare_exchange_strong(&r->stop, &none, (int)why))
        return;
    pthread_mutex_lock(&r->mu);
    if (err)
        r->fatal = *err;
    for (int i = 0; i < r->n_loops; i++)
        dm_loop_wake(r->loops[i]);
    pthread_mutex_unlock(&r->mu);
}

void engine_register_loop(run_state *r, dm_loop *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&r->mu);
    if (r->n_loops == r->cap_loops) {
        int cap = r->cap_loops ? 2 * r->cap_loops : 16;
        dm_loop **p = realloc(r->loops, (size_t)cap * sizeof *p);
        if (p) {
            r->loops = p;
            r->cap_loops = cap;
        }
    }
    if (r->n_loops < r->cap_loops)
        r->loops[r->n_loops++] = l;
    pthread_mutex_unlock(&r->mu);
}

void engine_unregister_loop(run_state *r, dm_loop *l)
{
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n_loops; i++)
        if (r->loops[i] == l) {
            r->loops[i] = r->loops[--r->n_loops];
            break;
        }
    pthread_mutex_unlock(&r->mu);
}

/* Units a throttled call of this thread's worker stands for. */
static lane *lane_of(worker *w, const ddb_call *call)
{
    for (int i = 0; w && i < w->n_lanes; i++)
        if (call == &w->lanes[i].scan)
            return &w->lanes[i];
    return NULL;
}

static double call_units(worker *w, const ddb_call *call)
{
    lane *l = lane_of(w, call);
    if (l)
        return l->reserved > 0 ? l->reserved : 1;
    const task *t = w ? call->user : NULL;
    return t && t->reserved > 0 ? t->reserved : 1;
}

/* Only the migrated tables' throttles say anything of their capacity. The
 * checkpoint table's are its own: they wait the client's backoff alone,
 * and never for the write limiter, whose wait could outlast the time left
 * for the last save of the cursors. */
static bool migrated_table(const run_state *r, const char *table)
{
    return table && (strcmp(table, r->o->table) == 0 || (r->target && strcmp(table, r->target) == 0));
}

int64_t engine_throttled(run_state *r, const ddb_call *call, ddb_throttle t)
{
    if (!migrated_table(r, call->table))
        return 0;
    worker *w = this_worker && this_worker->r == r ? this_worker : NULL;
    double units = call_units(w, call);
    /* A hot key range slows only the segment that meets it: the requests
     * of other segments go to other partitions. */
    if (t.cls == DDB_THROTTLE_KEY_RANGE) {
        if (!w)
            return 0;
        lane *l = lane_of(w, call);
        ratelimit *seg = l ? l->rl : w->seg_rl;
        if (!seg)
            return 0;
        rl_throttled(seg);
        return rl_retry(seg, units);
    }
    ratelimit *rl = t.write ? &r->rl_write : &r->rl_read;
    rl_throttled(rl);
    return rl_retry(rl, units);
}

/* ---- outcomes --------------------------------------------------------------- */

/* Moves the run's totals (the progress line) for an outcome. */
static void count_outcome(worker *w, item_outcome o)
{
    counters *c = &w->r->c;
    switch (o) {
    case OUT_SKIPPED: atomic_fetch_add(&c->skipped, 1); /* fall through */
    case OUT_UNCHANGED: atomic_fetch_add(&c->unchanged, 1); break;
    case OUT_MOVED: atomic_fetch_add(&c->moved, 1); /* fall through */
    case OUT_CHANGED: atomic_fetch_add(&c->changed, 1); break;
    case OUT_DELETED: atomic_fetch_add(&c->deleted, 1); break;
    case OUT_FAILED: atomic_fetch_add(&c->failed, 1); break;
    default: break;
    }
}

static void settle(worker *w, int i, item_outcome o)
{
    page_set_outcome(&w->pw, i, o);
    count_outcome(w, o);
}

static item_outcome outcome_of(wplan_count c)
{
    switch (c) {
    case WPLAN_COUNT_CHANGED: return OUT_CHANGED;
    case WPLAN_COUNT_DELETED: return OUT_DELETED;
    case WPLAN_COUNT_MOVED: return OUT_MOVED;
    default: return OUT_UNCHANGED;
    }
}

/* Records the item's failure. An item whose failure could not be written
 * down stays unfinished, and the run stops: its page is not counted done. */
static void item_failed(worker *w, int i, const ddb_item *it, const char *message)
{
    run_state *r = w->r;
    dm_buf key;
    dm_buf_init(&key, 0);
    bool have_key = it && wr_key_json(&w->src, it, &key) == DM_OK;
    int rc = errlog_record(&r->errors, w->seg->index, have_key ? dm_buf_cstr(&key) : NULL, message, it);
    dm_buf_cleanup(&key);
    if (rc != DM_OK) {
        dm_error e;
        dm_error_set(&e, DM_ERR_IO, "cannot write the errors file %s; stopping so that no failure goes unrecorded",
                     r->errors_path);
        engine_request_stop(r, STOP_FATAL, &e);
        if (i >= 0)
            page_stick(&w->pw, i);
        return;
    }
    if (i >= 0)
        settle(w, i, OUT_FAILED);
    else
        atomic_fetch_add(&r->c.failed, 1);
    long long failed = atomic_load(&r->c.failed);
    long long max = r->o->max_errors > 0 ? r->o->max_errors : 100;
    if (failed >= max) {
        dm_error e;
        dm_error_set(&e, DM_ERR_LIMIT, "stopped after %lld per-item errors (--max-errors %lld); see %s", failed, max,
                     r->errors_path);
        engine_request_stop(r, STOP_MAX_ERRORS, &e);
    }
}

/* ---- queueing requests ------------------------------------------------------ */

static double write_units(const ddb_item *it)
{
    return it ? ceil((double)(ddb_item_size(it) + 1) / 1024.0) : 1;
}

static double plan_units(const wplan *p, const ddb_item *read)
{
    switch (p->kind) {
    case WPLAN_DELETE: return write_units(read);
    case WPLAN_MOVE: return 2 * (write_units(&p->final) + write_units(read));
    default: return write_units(&p->final);
    }
}

/* A task for item i, holding the item until it completes. */
static task *item_task(worker *w, task_kind kind, const char *op, int i)
{
    task *t = task_take(&w->q, kind, op, w->wr.table);
    if (!t) {
        item_failed(w, i, i >= 0 ? &w->pw.pg.items[i] : NULL, "out of memory");
        return NULL;
    }
    t->item = i;
    if (i >= 0)
        page_hold(&w->pw, i);
    return t;
}

static void queue(worker *w, task *t) { task_push(&w->q, t); }
static void delay(worker *w, task *t, int64_t delay_ms);
static void on_call_done(ddb_call *call, void *ud);
static void on_kick(dm_loop_timer *t, void *ud);

/* A write made from an image just read goes first, past the limiter:
 * every moment it waits is a moment for another writer to change the item
 * again. Its units were taken by the read before it, or are settled as
 * debt (reserved 0). */
static void urgent(worker *w, task *t)
{
    if (!t->acquired)
        t->reserved = 0;
    t->acquired = t->seg_acquired = true;
    task_push_front(&w->q, t);
}

/* Closes the body of the batch being filled in *open and queues it. */
static void flush_open(worker *w, task **open, const char *close)
{
    task *t = *open;
    if (!t)
        return;
    *open = NULL;
    dm_buf_puts(&t->call.body, close);
    queue(w, t);
}

static void flush_batch(worker *w) { flush_open(w, &w->batch, "]},\"ReturnConsumedCapacity\":\"TOTAL\"}"); }

static key_vals key_of(const worker *w, const ddb_item *it)
{
    key_vals k = {{NULL, NULL}};
    for (size_t i = 0; i < w->wr.n_keys && i < 2; i++)
        k.v[i] = ddb_item_get(it, w->wr.keys[i], strlen(w->wr.keys[i]));
    return k;
}

/* Whether k is among held[0..n): a call may not name a key twice. */
static bool key_held(const worker *w, const key_vals *held, int n, const key_vals *k)
{
    for (int e = 0; e < n; e++) {
        bool same = true;
        for (size_t i = 0; same && i < w->wr.n_keys && i < 2; i++)
            same = k->v[i] && held[e].v[i] && ddb_value_equal(k->v[i], held[e].v[i]);
        if (same)
            return true;
    }
    return false;
}

/* Adds an entry to the open BatchWriteItem. One call may not name a key
 * twice, so a repeated key starts a new call. */
static void add_batch(worker *w, int i, const ddb_item *keyed, const dm_buf *entry)
{
    key_vals key = key_of(w, keyed);
    if (w->batch && key_held(w, w->batch_keys, w->batch->entries, &key))
        flush_batch(w);
    if (!w->batch) {
        task *t = task_take(&w->q, T_BATCH, "BatchWriteItem", w->wr.table);
        if (!t) {
            item_failed(w, i, keyed, "out of memory");
            return;
        }
        dm_buf_puts(&t->call.body, "{\"RequestItems\":{");
        ddb_json_put_string(&t->call.body, w->wr.table, strlen(w->wr.table));
        dm_buf_puts(&t->call.body, ":[");
        w->batch = t;
    }
    task *t = w->batch;
    if (t->entries)
        dm_buf_putc(&t->call.body, ',');
    dm_buf_append(&t->call.body, entry->data, entry->len);
    w->batch_keys[t->entries++] = key;
    t->reserved += write_units(keyed);
    if (i >= 0 && task_add_item(t, i) == DM_OK)
        page_hold(&w->pw, i);
    if (t->entries == BATCH_MAX)
        flush_batch(w);
}

static void batch_plan(worker *w, int i, const ddb_item *read, const wplan *p)
{
    dm_buf entry;
    dm_buf_init(&entry, 0);
    /* The plan is the caller's; the key add_batch remembers must last. */
    ddb_item *keyed = dm_arena_alloc(w->arena, sizeof *keyed);
    if (keyed && wr_batch_entry(&w->wr, p, read, &entry) == DM_OK) {
        /* Counted in the totals when the batch is answered. */
        *keyed = p->kind == WPLAN_BATCH_DELETE ? *read : p->final;
        page_set_outcome(&w->pw, i, outcome_of(p->counts_as));
        add_batch(w, i, keyed, &entry);
    } else {
        item_failed(w, i, read, "the item lacks a key attribute of the table");
    }
    dm_buf_cleanup(&entry);
}

/* conflicts > 0: a rerun, whose write goes ahead of these (urgent): sent,
 * it leaves these to finish on a stop, or its item would stay unfinished
 * with its write done. */
static void emit_extras(worker *w, int i, const lua_result *res, int conflicts)
{
    run_state *r = w->r;
    if (dry(r))
        return;
    for (size_t k = 0; k < res->n_extras; k++) {
        const ddb_item *x = &res->extras[k];
        dm_buf key;
        dm_buf_init(&key, 0);
        bool keyed = wr_key_json(&w->wr, x, &key) == DM_OK;
        dm_buf_cleanup(&key);
        if (!keyed) {
            item_failed(w, i, x, "an item from ddb.put lacks a key attribute of the table");
            continue;
        }
        if (r->mode == ENGINE_WRITE_BATCH) {
            dm_buf entry;
            dm_buf_init(&entry, 0);
            wplan p = {.kind = WPLAN_BATCH_PUT, .final = *x};
            wr_batch_entry(&w->wr, &p, NULL, &entry);
            add_batch(w, i, x, &entry);
            atomic_fetch_add(&r->c.extras, 1);
            dm_buf_cleanup(&entry);
            continue;
        }
        task *t = item_task(w, T_EXTRA, "PutItem", i);
        if (t)
            t->must_finish = conflicts > 0;
        if (t) {
            t->extra = x;
            t->reserved = write_units(x);
            queue(w, t);
        }
    }
}

/* ---- statement batches ----------------------------------------------------- */

/* Guarded updates go out DDB_STATEMENTS_MAX to a BatchExecuteStatement
 * call: each statement is the UpdateItem its plan needs, spelled in
 * PartiQL with the same guard, and succeeds or fails alone. One request
 * then carries many writes, so what each request costs (the network
 * stack, the signature, the service's front door) is shared. A statement
 * that fails, for whatever reason, goes again as its own UpdateItem, on
 * the path that knows what a failed condition, a throttle or an error
 * means: a batch is only a faster way to the same outcome. A statement
 * carried out whose answer is lost fails its own guard when sent again,
 * as an UpdateItem does. */
#define STMTS_MAX_BODY (1024 * 1024)
#define STMT_MAX_ENTRY (256 * 1024)

static void settle_capacity(worker *w, task *t, double used);
static void release_item(worker *w, task *t);

static void flush_stmts(worker *w) { flush_open(w, &w->stmts, "],\"ReturnConsumedCapacity\":\"TOTAL\"}"); }

/* Puts update c into the open batch; false when it goes alone. */
static bool add_stmt(worker *w, task *c)
{
    dm_buf *e = &w->stmt_entry;
    dm_buf_reset(e);
    if (atomic_load(&w->r->no_statements) || wr_statement(&w->wr, &c->plan, c->read, e) != DM_OK ||
        e->len > STMT_MAX_ENTRY)
        return false;
    task *t = w->stmts;
    key_vals key = key_of(w, c->read);
    if (t && key_held(w, w->stmt_keys, t->entries, &key))
        t = NULL;
    if (!t || t->call.body.len + e->len + 64 > STMTS_MAX_BODY) {
        flush_stmts(w);
        if (!(t = task_take(&w->q, T_STMTS, "BatchExecuteStatement", w->wr.table)))
            return false;
        if (dm_buf_puts(&t->call.body, "{\"Statements\":[") != DM_OK) {
            task_release(&w->q, t);
            return false;
        }
        w->stmts = t;
    }
    size_t mark = t->call.body.len;
    if ((t->entries && dm_buf_putc(&t->call.body, ',') != DM_OK) ||
        dm_buf_append(&t->call.body, e->data, e->len) != DM_OK) {
        t->call.body.len = mark; /* back to the statements it holds whole */
        t->call.body.data[mark] = '\0';
        if (t->entries) {
            flush_stmts(w);
        } else {
            w->stmts = NULL;
            task_release(&w->q, t);
        }
        return false;
    }
    w->stmt_keys[t->entries++] = key;
    t->reserved += c->reserved;
    c->next = NULL;
    task **end = &t->subs;
    while (*end)
        end = &(*end)->next;
    *end = c;
    if (t->entries == DDB_STATEMENTS_MAX)
        flush_stmts(w);
    return true;
}

/* BatchExecuteStatement may not be had at all (a policy without
 * dynamodb:PartiQLUpdate, an endpoint without PartiQL): then updates go
 * one by one for the rest of the run, which is said once. */
static void maybe_refused(worker *w, const task *t)
{
    const char *type = t->call.err.type;
    bool refused = strcmp(type, "AccessDeniedException") == 0 || strcmp(type, "UnknownOperationException") == 0 ||
                   (strcmp(type, "ValidationException") == 0 && !atomic_load(&w->r->statements_worked));
    if (refused && !atomic_exchange(&w->r->no_statements, true))
        dm_log(DM_LOG_WARN,
               "BatchExecuteStatement was refused (%s: %.200s); each update goes as its own UpdateItem from "
               "now on (batched guarded updates need dynamodb:PartiQLUpdate)",
               type, t->call.err.message);
}

/* Whether t's write may have been carried out unanswered; then next, which
 * settles it, carries the doubt and finishes on a stop. */
static void inherit_doubt(task *next, const task *t)
{
    if (!t->call.maybe_applied && !t->in_doubt)
        return;
    next->in_doubt = next->call.maybe_applied = next->must_finish = true;
}

/* Item i was left unfinished by a write that may have been carried out
 * with no answer to say so: what it wrote goes with the checkpoint, for
 * the resume to check; without a record (another kind of write, out of
 * memory) the item is counted in doubt. */
static void left_in_doubt(worker *w, int i, const wplan *p)
{
    if (i >= 0 && p && wplan_doubtful(p)) {
        dm_buf b;
        dm_buf_init(&b, 0);
        const char *rec = wplan_wrote_json(p, &b) == DM_OK ? dm_arena_strndup(w->arena, b.data, b.len) : NULL;
        dm_buf_cleanup(&b);
        if (rec) {
            w->pw.items[i].wrote = rec;
            return;
        }
    }
    atomic_fetch_add(&w->r->c.in_doubt, 1);
}

static void on_stmts_done(worker *w, task *t)
{
    run_state *r = w->r;
    unsigned char failed[DDB_STATEMENTS_MAX] = {0};
    double units = 0;
    dm_error e = {0};
    bool ok = t->call.rc == DM_OK;
    bool known = ok && t->entries <= DDB_STATEMENTS_MAX &&
                 ddb_statements_answer(&t->call.response, (size_t)t->entries, failed, &units, &e) == DM_OK;
    bool stopped = t->call.rc == DM_ERR_STOPPED;
    if (known && units < 0) { /* not reported: what the statements carried out took */
        units = 0;
        int k = 0;
        for (task *c = t->subs; c; c = c->next, k++)
            units += failed[k] ? 0 : c->reserved;
    }
    settle_capacity(w, t, units > 0 ? units : 0);
    /* A statement's throttle does not say whether the table or a hot key
     * range met its limit: its update, sent alone, hears which, and the
     * right limiter slows. */
    if (ok) {
        atomic_store(&r->statements_worked, true);
    } else if (stopped) {
        engine_request_stop(r, r->deadline_mono ? STOP_DEADLINE : STOP_INTERRUPT, NULL);
    } else {
        maybe_refused(w, t);
    }
    for (int k = 0; t->subs; k++) {
        task *c = t->subs;
        t->subs = c->next;
        c->next = NULL;
        if (known && !failed[k]) {
            atomic_fetch_add(&r->c.writes, 1); /* a write, though not a request of its own */
            settle(w, c->item, outcome_of(c->plan.counts_as));
        } else if (stopped) {
            page_stick(&w->pw, c->item);
            if (t->call.maybe_applied)
                left_in_doubt(w, c->item, &c->plan);
        } else {
            c->acquired = c->seg_acquired = false; /* its units go to the batch's settling */
            c->must_finish = true;
            /* An answer that could not be read may hide statements done. */
            if (ok && !known)
                c->in_doubt = c->call.maybe_applied = true;
            inherit_doubt(c, t);
            queue(w, c);
            continue;
        }
        release_item(w, c);
        task_release(&w->q, c);
    }
}

/* ---- one item --------------------------------------------------------------- */

static void dispatch(worker *w, int i, const ddb_item *read, const wplan *p, int conflicts)
{
    switch (p->kind) {
    case WPLAN_FAIL: item_failed(w, i, read, p->message); return;
    case WPLAN_NOTHING: settle(w, i, outcome_of(p->counts_as)); return;
    default: break;
    }
    if (dry(w->r)) {
        settle(w, i, outcome_of(p->counts_as));
        diffshow_print(w->r, read, p);
        return;
    }
    if (p->kind == WPLAN_BATCH_PUT || p->kind == WPLAN_BATCH_DELETE) {
        batch_plan(w, i, read, p);
        return;
    }
    task *t = item_task(w, p->read_first ? T_FRESH : T_WRITE, p->read_first ? "GetItem" : wr_op(p), i);
    if (!t)
        return;
    t->read = read;
    t->plan = *p;
    t->conflicts = conflicts;
    /* A read first takes the write's units, which the write then uses. */
    t->reserved = plan_units(p, read);
    if (conflicts > 0 && !p->read_first) {
        urgent(w, t);
    } else if (p->kind != WPLAN_UPDATE || !add_stmt(w, t)) {
        /* Items finish in the order they were taken, as far as a stop
         * goes (it drops what was not sent): an open batch goes ahead. */
        flush_stmts(w);
        flush_batch(w);
        queue(w, t);
    }
}

/* Runs the script on an item (as scanned, or as it is now after a
 * conflict) and carries out the plan. */
static void handle_item(worker *w, int i, const ddb_item *read, int conflicts)
{
    run_state *r = w->r;
    lua_result res;
    dm_error err = {0};
    int rc = lua_host_migrate(w->host, read, w->seg->index, w->arena, &res, &err);
    if (rc == DM_ERR_STOPPED) {
        /* Not the item's fault: it stays unfinished, to run again. */
        engine_request_stop(r, STOP_INTERRUPT, NULL);
        return;
    }
    if (rc != DM_OK) {
        if (!stopping(r))
            item_failed(w, i, read, err.message);
        return;
    }
    emit_extras(w, i, &res, conflicts);
    wplan p;
    if (wplan_decide(&w->rules, read, &res, w->arena, &p) != DM_OK) {
        item_failed(w, i, read, "out of memory");
        return;
    }
    dispatch(w, i, read, &p, conflicts);
}

/* Whether the run this one resumes finished the item past its cursor: it
 * is then not run again (and taken out of the set). */
static bool finished_before(worker *w, const ddb_item *it)
{
    run_state *r = w->r;
    pthread_mutex_lock(&r->mu);
    bool taken = doneset_take(w->seg->done, it);
    w->seg_done_keys = doneset_size(w->seg->done) > 0;
    pthread_mutex_unlock(&r->mu);
    return taken;
}

/* Whether the run this one resumes left the item with a write in doubt
 * that in fact applied: the item holds what it wrote. Then it is done,
 * and counted changed here (that run could not count it). */
static bool applied_before(worker *w, const ddb_item *it)
{
    run_state *r = w->r;
    const char *wrote = NULL;
    pthread_mutex_lock(&r->mu);
    bool taken = doneset_take_with(w->seg->doubt, it, &wrote);
    w->seg_doubts = doneset_size(w->seg->doubt) > 0;
    bool in = taken && wrote && wplan_wrote_in_place(wrote, strlen(wrote), it);
    pthread_mutex_unlock(&r->mu);
    return in;
}

/* Transforms the page's next items while few writes wait to start, up to
 * twice the writes in flight: the transform overlaps the writes, and
 * memory holds a window of writes rather than a page of them. */
static void feed_items(worker *w)
{
    run_state *r = w->r;
    page_work *pw = &w->pw;
    /* In bursts: the script runs many items in a row, with its state
     * still in the caches, rather than one item between two answers. */
    if (!w->feeding || (int)w->q.n > max_in_flight(w) / 4)
        return;
    while (pw->fed < pw->pg.n_items && (int)w->q.n < 2 * max_in_flight(w)) {
        if (stopping(r) || segment_lost(w)) {
            w->feeding = false;
            return;
        }
        /* Passed over before --limit counts it: it is not taken. */
        if (w->seg_done_keys && finished_before(w, &pw->pg.items[pw->fed])) {
            page_set_outcome(pw, (int)pw->fed++, OUT_DONE_BEFORE);
            continue;
        }
        if (w->seg_doubts && applied_before(w, &pw->pg.items[pw->fed])) {
            atomic_fetch_add(&r->c.scanned, 1);
            settle(w, (int)pw->fed++, OUT_CHANGED);
            continue;
        }
        if (r->o->limit > 0 && atomic_fetch_add(&r->c.limit_taken, 1) >= r->o->limit) {
            engine_request_stop(r, STOP_LIMIT, NULL);
            w->feeding = false;
            break;
        }
        int i = (int)pw->fed++;
        const ddb_item *it = &pw->pg.items[i];
        atomic_fetch_add(&r->c.scanned, 1);
        page_hold(pw, i);
        if (wplan_has_marker(&w->rules, it))
            settle(w, i, OUT_SKIPPED);
        else
            handle_item(w, i, it, 0);
        page_release(pw, i);
    }
    if (pw->fed == pw->pg.n_items)
        w->feeding = false;
    if (!w->feeding) {
        flush_batch(w);
        flush_stmts(w);
    }
}

/* ---- answers ---------------------------------------------------------------- */

static void release_item(worker *w, task *t)
{
    if (t->item >= 0)
        page_release(&w->pw, t->item);
}

static void count_conflict(worker *w, int i)
{
    atomic_fetch_add(&w->r->c.conflicts, 1);
    if (i >= 0)
        page_add_conflict(&w->pw, i);
}

static void fetch_current(worker *w, task *t)
{
    task *g = item_task(w, T_FETCH, "GetItem", t->item);
    if (!g)
        return;
    g->read = t->read;
    g->plan = t->plan;
    g->conflicts = t->conflicts;
    inherit_doubt(g, t);
    queue(w, g);
}

static void refused(worker *w, task *t, const ddb_answer *ans)
{
    char msg[400] = "DynamoDB refused the write";
    for (size_t k = 0; k < ans->n_reasons; k++) {
        const ddb_cancel_reason *c = &ans->reasons[k];
        if (c->code.p && !(c->code.n == 4 && memcmp(c->code.p, "None", 4) == 0)) {
            snprintf(msg, sizeof msg, "DynamoDB refused the write: %.*s: %.*s", (int)c->code.n, c->code.p,
                     (int)(c->message.n > 300 ? 300 : c->message.n), c->message.p ? c->message.p : "");
            break;
        }
    }
    item_failed(w, t->item, t->read, msg);
}

/* Acts on a verdict about a failed condition or a fresh read. */
static void act(worker *w, task *t, wplan_verdict v, const ddb_item *current, const ddb_answer *ans)
{
    int max = w->r->o->conflict_retries > 0 ? w->r->o->conflict_retries : 5;
    char msg[200];
    switch (v) {
    case WPLAN_DONE: settle(w, t->item, outcome_of(t->plan.counts_as)); break;
    case WPLAN_GONE:
        settle(w, t->item, t->plan.kind == WPLAN_DELETE ? OUT_DELETED : OUT_UNCHANGED);
        break;
    case WPLAN_FETCH: fetch_current(w, t); break;
    case WPLAN_PROCEED: {
        task *x = item_task(w, T_WRITE, wr_op(&t->plan), t->item);
        if (x) {
            x->read = t->read;
            x->plan = t->plan;
            x->plan.read_first = false;
            x->conflicts = t->conflicts;
            x->reserved = t->reserved;
            x->acquired = true;
            x->must_finish = true;
            t->reserved = 0; /* moved to the write */
            urgent(w, x);
        }
        break;
    }
    case WPLAN_RERUN: {
        /* current lives in the answer, on the stack; its arrays are in
         * the arena already, the item itself must join them. */
        ddb_item *keep = dm_arena_alloc(w->arena, sizeof *keep);
        count_conflict(w, t->item);
        if (!keep) {
            item_failed(w, t->item, t->read, "out of memory");
            break;
        }
        *keep = *current;
        handle_item(w, t->item, keep, t->conflicts + 1);
        break;
    }
    case WPLAN_TARGET_TAKEN:
        item_failed(w, t->item, t->read, "the new key already holds another item; the item was not moved");
        break;
    case WPLAN_GIVE_UP:
        count_conflict(w, t->item);
        snprintf(msg, sizeof msg, "gave up after %d concurrent writes by others changed the item", max);
        item_failed(w, t->item, t->read, msg);
        break;
    case WPLAN_REFUSED: refused(w, t, ans); break;
    }
}

static bool is_conflict(const task *t)
{
    return strcmp(t->call.err.type, "ConditionalCheckFailedException") == 0 ||
           strcmp(t->call.err.type, "TransactionCanceledException") == 0;
}

/* The item of a GetItem answer, or NULL when there is none. */
static const ddb_item *got_item(const ddb_answer *ans) { return ans->has_item ? &ans->item : NULL; }

static void on_success(worker *w, task *t, const ddb_answer *ans)
{
    run_state *r = w->r;
    int max = r->o->conflict_retries > 0 ? r->o->conflict_retries : 5;
    const ddb_item *current = NULL;
    wplan_verdict v;
    switch (t->kind) {
    case T_WRITE:
        atomic_fetch_add(&r->c.writes, 1);
        settle(w, t->item, outcome_of(t->plan.counts_as));
        break;
    case T_EXTRA:
        atomic_fetch_add(&r->c.writes, 1);
        atomic_fetch_add(&r->c.extras, 1);
        break;
    case T_FRESH:
        v = wplan_on_fresh_read(&w->rules, t->read, got_item(ans), &current);
        act(w, t, v, current, ans);
        break;
    case T_FETCH:
        v = wplan_on_fetch(&w->rules, &t->plan, got_item(ans), t->conflicts, max, &current);
        act(w, t, v, current, ans);
        break;
    case T_BATCH:
    case T_STMTS: break;
    }
}

/* Errors of the item itself become item errors; the rest (access, a
 * missing table, the network or throttling after every retry) stop the
 * run, leaving the item unfinished for a resume. */
static bool item_level(const task *t)
{
    const char *type = t->call.err.type;
    return t->call.rc == DM_ERR_SERVICE && strcmp(type, "ResourceNotFoundException") != 0 &&
           strcmp(type, "AccessDeniedException") != 0 && strcmp(type, "UnrecognizedClientException") != 0 &&
           strcmp(type, "MissingAuthenticationTokenException") != 0 && strcmp(type, "InvalidSignatureException") != 0;
}

static void on_failure(worker *w, task *t, const ddb_answer *ans)
{
    run_state *r = w->r;
    if ((t->kind == T_WRITE) && is_conflict(t)) {
        int max = r->o->conflict_retries > 0 ? r->o->conflict_retries : 5;
        const ddb_item *current = NULL;
        wplan_verdict v = wplan_on_conflict(&w->rules, &t->plan, ans, t->conflicts, max, &current);
        act(w, t, v, current, ans);
        return;
    }
    if (!item_level(t)) {
        /* A write given up after an attempt that got no answer may have
         * been carried out: its items are in doubt, said at the end. */
        if ((t->call.maybe_applied && t->kind != T_FRESH && t->kind != T_FETCH) || t->in_doubt) {
            if (t->kind == T_WRITE || t->kind == T_FETCH)
                left_in_doubt(w, t->item, &t->plan);
            else
                atomic_fetch_add(&r->c.in_doubt, (long long)(t->item >= 0) + (long long)t->n_items);
        }
        /* Given up for the deadline (or a stop): unfinished, not failed. */
        if (t->call.rc == DM_ERR_STOPPED)
            engine_request_stop(r, r->deadline_mono ? STOP_DEADLINE : STOP_INTERRUPT, NULL);
        else
            engine_request_stop(r, STOP_FATAL, &t->call.err);
        if (t->item >= 0)
            page_stick(&w->pw, t->item);
        for (size_t k = 0; k < t->n_items; k++)
            page_stick(&w->pw, t->items[k]);
        return;
    }
    if (t->kind == T_BATCH) {
        for (size_t k = 0; k < t->n_items; k++)
            item_failed(w, t->items[k], &w->pw.pg.items[t->items[k]], t->call.err.message);
        return;
    }
    item_failed(w, t->item, t->kind == T_EXTRA ? t->extra : t->read, t->call.err.message);
}

/* UnprocessedItems of a BatchWriteItem answer go out again, after a
 * backoff, holding the same items (ddb_batch_unprocessed is the one home
 * of that rule). An answer that cannot be read stops the run: its items
 * cannot be known written. */
static void on_batch_done(worker *w, task *t)
{
    dm_buf body;
    dm_buf_init(&body, 0);
    ddb_batch_left left = {0};
    dm_error e = {0};
    int rc = ddb_batch_unprocessed(&t->call.response, w->wr.table, "TOTAL", t->round, retry_random01(&w->rng),
                                   &body, &left, &e);
    atomic_fetch_add(&w->r->c.writes, 1);
    task *again = NULL;
    if (rc == DM_OK && left.n > 0 && !(again = task_take(&w->q, T_BATCH, "BatchWriteItem", w->wr.table)))
        rc = dm_error_set(&e, DM_ERR_NOMEM, "out of memory resending unprocessed items");
    if (rc != DM_OK) {
        engine_request_stop(w->r, STOP_FATAL, &e);
        for (size_t k = 0; k < t->n_items; k++)
            page_stick(&w->pw, t->items[k]);
    } else if (again) {
        dm_buf_append(&again->call.body, body.data, body.len);
        again->round = t->round + 1;
        again->reserved = (double)left.n;
        /* The items stay held until the resend is answered, and a stop
         * lets it go: some of them are done. */
        again->must_finish = true;
        int *items = again->items;
        size_t cap = again->cap_items;
        again->items = t->items;
        again->n_items = t->n_items;
        again->cap_items = t->cap_items;
        t->items = items;
        t->n_items = 0;
        t->cap_items = cap;
        delay(w, again, left.delay_ms);
    }
    dm_buf_cleanup(&body);
}

/* Corrects the limiters with what DynamoDB says the call consumed. A
 * fresh read holds write units for the write after it (handed over in
 * act, or given back in on_task_done), so its own reads settle as debt. */
static void settle_capacity(worker *w, task *t, double used)
{
    run_state *r = w->r;
    bool read = t->kind == T_FRESH || t->kind == T_FETCH;
    rl_settle(read ? &r->rl_read : &r->rl_write, t->kind == T_FRESH ? 0 : t->reserved, used);
    rl_settle(w->seg_rl, t->kind == T_FRESH ? 0 : t->reserved, used);
    atomic_fetch_add(read ? &r->c.read_milli : &r->c.write_milli, (long long)(used * 1000));
}

/* Decodes the answer: items of answers that may be kept (a conflict's
 * current item, a GetItem's) are decoded from a copy in the page's arena,
 * since the task's buffers go back to the pool. */
static void decode_answer(worker *w, task *t, ddb_answer *ans)
{
    const dm_buf *resp = &t->call.response;
    memset(ans, 0, sizeof *ans);
    if (resp->len == 0)
        return;
    const char *text = resp->data;
    if (t->call.rc != DM_OK || t->kind == T_FRESH || t->kind == T_FETCH)
        text = dm_arena_strndup(w->arena, resp->data, resp->len);
    if (!text || ddb_answer_decode(text, resp->len, w->arena, ans, NULL) != DM_OK)
        memset(ans, 0, sizeof *ans);
}

static void on_task_done(worker *w, task *t)
{
    w->in_flight--;
    /* A first attempt's time is the service's (and this process's) pace;
     * a retry's includes its backoff. */
    if (t->call.attempts == 1 || t->call.throttles > 0) {
        int64_t now = now_us();
        conc_answer(&w->conc, now / 1000, (double)(now - t->sent_us) / 1000.0, t->call.throttles > 0);
    }
    if (t->kind == T_STMTS) {
        on_stmts_done(w, t);
        task_release(&w->q, t);
        return;
    }
    ddb_answer ans;
    decode_answer(w, t, &ans);
    settle_capacity(w, t, ans.consumed_units);
    if (t->call.rc == DM_OK && t->kind == T_BATCH)
        on_batch_done(w, t);
    else if (t->call.rc == DM_OK)
        on_success(w, t, &ans);
    else
        on_failure(w, t, &ans);
    if (t->kind == T_FRESH && t->reserved > 0) { /* no write followed the read */
        rl_settle(&w->r->rl_write, t->reserved, 0);
        rl_settle(w->seg_rl, t->reserved, 0);
    }
    if (t->kind == T_BATCH) {
        /* An item written by batches counts in the totals once its last
         * entry is in (its own and ddb.put's may be in several calls). */
        for (size_t k = 0; k < t->n_items; k++) {
            int i = t->items[k];
            if (page_release(&w->pw, i) && t->call.rc == DM_OK && w->pw.items[i].outcome != OUT_FAILED)
                count_outcome(w, (item_outcome)w->pw.items[i].outcome);
        }
        t->n_items = 0;
    } else {
        release_item(w, t);
    }
    task_release(&w->q, t);
}

/* ---- the loop --------------------------------------------------------------- */

/* Request bodies are built only when a task starts, so that memory holds
 * the bodies in flight, not a page's worth of them. */
static int build_body(worker *w, task *t)
{
    switch (t->kind) {
    case T_WRITE: return wr_body(&w->wr, &t->plan, t->read, &t->call.body);
    case T_FRESH: case T_FETCH: return wr_get_body(&w->wr, t->read, &t->call.body);
    case T_EXTRA: return wr_put_plain_body(&w->wr, t->extra, &t->call.body);
    default: return DM_OK; /* batch bodies are made as they fill */
    }
}

/* Each returns how long (ms) until it can start what waits, -1 when
 * nothing waits on time (an answer will come first). */
static int64_t start_scan_if_due(worker *w, lane *l, int64_t now)
{
    if (!l->started || l->in_flight || l->due_ms <= 0)
        return -1;
    int64_t wait = l->due_ms <= now ? rl_acquire(&w->r->rl_read, l->reserved) : l->due_ms - now;
    if (wait == 0 && (wait = rl_acquire(l->rl, l->reserved)) > 0)
        rl_settle(&w->r->rl_read, l->reserved, 0); /* give the table's tokens back; ask again */
    if (wait == 0) {
        l->due_ms = 0;
        l->in_flight = true;
        l->scan.on_done = on_call_done;
        l->scan.on_done_ud = w;
        ddb_client_start(w->client, &l->scan);
        return -1;
    }
    l->due_ms = now + wait;
    return wait;
}

static int64_t sooner(int64_t a, int64_t b) { return a < 0 ? b : b < 0 ? a : a < b ? a : b; }

/* Starts the queued tasks the limiters let go (and a due scan), in order,
 * up to the writes in flight a worker allows. */
static int64_t start_due(worker *w)
{
    int64_t now = dm_monotonic_ms();
    int64_t next = -1;
    for (int i = 0; i < w->n_lanes; i++)
        next = sooner(next, start_scan_if_due(w, &w->lanes[i], now));
    if (w->q.head && (int)w->in_flight >= max_in_flight(w))
        conc_held(&w->conc);
    while (w->q.head && (int)w->in_flight < max_in_flight(w)) {
        task *t = w->q.head;
        if (!t->acquired) {
            if (t->kind == T_FETCH)
                t->reserved = 1;
            int64_t wait = rl_acquire(t->kind == T_FETCH ? &w->r->rl_read : &w->r->rl_write, t->reserved);
            if (wait > 0) {
                next = sooner(next, wait);
                break;
            }
            t->acquired = true;
        }
        if (!t->seg_acquired) {
            int64_t wait = rl_acquire(w->seg_rl, t->reserved);
            if (wait > 0) {
                next = sooner(next, wait);
                break;
            }
            t->seg_acquired = true;
        }
        task_pop(&w->q);
        if (build_body(w, t) != DM_OK) {
            item_failed(w, t->item, t->read ? t->read : t->extra, "out of memory building a request");
            release_item(w, t);
            task_release(&w->q, t);
            continue;
        }
        w->in_flight++;
        t->sent_us = now_us();
        t->call.on_done = on_call_done;
        t->call.on_done_ud = w;
        ddb_client_start(w->client, &t->call);
    }
    return next;
}

/* A call of this worker finished (a loop callback). */
static void on_call_done(ddb_call *call, void *ud)
{
    worker *w = ud;
    lane *l = lane_of(w, call);
    if (l) {
        l->in_flight = false;
        l->answered_us = now_us();
    } else {
        on_task_done(w, call->user);
    }
}

static void on_kick(dm_loop_timer *t, void *ud)
{
    (void)t;
    (void)ud; /* waking the loop was the point */
}

static void undelay(worker *w, task *t)
{
    for (task **pp = &w->delayed; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            return;
        }
}

/* A resend's backoff is over: it goes out first. */
static void on_task_due(dm_loop_timer *timer, void *ud)
{
    task *t = ud;
    worker *w = t->owner;
    (void)timer;
    undelay(w, t);
    task_push_front(&w->q, t);
}

/* Holds t back for delay_ms on a timer of its own, so that it waits
 * without holding up the tasks queued behind it. */
static void delay(worker *w, task *t, int64_t delay_ms)
{
    t->owner = w;
    dm_loop_timer_init(&t->due, on_task_due, t);
    if (dm_loop_timer_start(w->loop, &t->due, delay_ms) != DM_OK) {
        task_push(&w->q, t); /* no timer to be had: go now */
        return;
    }
    t->next = w->delayed;
    w->delayed = t;
}

/* A stop drops the resends still waiting, with what is queued, except
 * (unless all) those that must finish. */
static void drop_delayed(worker *w, bool all)
{
    task **at = &w->delayed;
    while (*at) {
        task *t = *at;
        if (t->must_finish && !all) {
            at = &t->next;
            continue;
        }
        *at = t->next;
        dm_loop_timer_stop(w->loop, &t->due);
        task_release(&w->q, t);
    }
}

static bool delayed_droppable(const worker *w)
{
    for (const task *t = w->delayed; t; t = t->next)
        if (!t->must_finish)
            return true;
    return false;
}

/* Starts what the limiters let go, then runs the loop once: it returns
 * after answers, a limiter's wait, a resend's backoff, or a wake-up (the
 * run stopping). Nothing polls: every wait is a socket or a timer. */
static void pump(worker *w)
{
    int64_t wait = start_due(w);
    if (wait >= 0)
        dm_loop_timer_start(w->loop, &w->kick, wait);
    else
        dm_loop_timer_stop(w->loop, &w->kick);
    bool scanning = false;
    for (int i = 0; i < w->n_lanes; i++)
        scanning = scanning || w->lanes[i].in_flight;
    if (wait < 0 && w->in_flight == 0 && !scanning && !w->delayed)
        return; /* nothing to wait for */
    if (dm_loop_run_once(w->loop, -1) != DM_OK) {
        dm_error e;
        dm_error_set(&e, DM_ERR_IO, "the event loop failed");
        engine_request_stop(w->r, STOP_FATAL, &e);
    }
}

/* Whether a queued task may be dropped by a stop. */
static bool droppable(const worker *w)
{
    for (const task *t = w->q.head; t; t = t->next)
        if (!t->must_finish)
            return true;
    return false;
}

/* Works through the page: transforms, writes, answers. */
static void work_page(worker *w)
{
    for (;;) {
        feed_items(w);
        if ((abandon_queued(w->r) || segment_lost(w)) && (droppable(w) || w->feeding || delayed_droppable(w))) {
            /* Stop: nothing new goes out; in-flight writes finish, and so
             * do the writes that carry them on (must_finish). */
            task_queue keep = {0};
            task *t;
            while ((t = task_pop(&w->q)) != NULL) {
                if (t->must_finish)
                    task_push(&keep, t);
                else
                    task_release(&w->q, t); /* its items stay unfinished */
            }
            while ((t = task_pop(&keep)) != NULL)
                task_push(&w->q, t);
            if (w->batch) {
                task_release(&w->q, w->batch);
                w->batch = NULL;
            }
            if (w->stmts) {
                task_release(&w->q, w->stmts); /* with its updates, unfinished */
                w->stmts = NULL;
            }
            drop_delayed(w, false);
            w->feeding = false;
            continue;
        }
        if (!w->feeding && !w->q.head && w->in_flight == 0 && !w->delayed)
            return;
        pump(w);
    }
}

/* Starts lane l's Scan of its segment from start_key (NULL: the first). */
static void lane_scan(worker *w, lane *l, const char *start_key)
{
    run_state *r = w->r;
    ddb_call_reuse(&l->scan, "Scan", r->o->table);
    ddb_scan_params p = {.table = r->o->table, .segment = l->seg->index, .total_segments = r->n_segs,
                         .exclusive_start_key = start_key, .consistent_read = r->o->consistent_read,
                         .filter_expression = r->o->filter_expression, .names_json = r->o->names_json,
                         .values_json = r->o->values_json, .limit = r->o->page_size,
                         .return_consumed_capacity = true};
    ddb_scan_body(&p, &l->scan.body);
    l->reserved = w->scan_estimate;
    l->due_ms = dm_monotonic_ms();
    l->started = true;
    l->in_flight = false;
    start_due(w);
}

static bool lane_answered(const lane *l) { return l->seg && l->started && !l->in_flight && l->due_ms <= 0; }

/* The open lane whose answer came first, or NULL. */
static lane *oldest_answer(worker *w)
{
    lane *best = NULL;
    for (int i = 0; i < w->n_lanes; i++) {
        lane *l = &w->lanes[i];
        if (lane_answered(l) && (!best || l->answered_us < best->answered_us))
            best = l;
    }
    return best;
}

static bool lanes_open(const worker *w)
{
    for (int i = 0; i < w->n_lanes; i++)
        if (w->lanes[i].seg)
            return true;
    return false;
}

static void fill_lanes(worker *w, bool may_wait);

/* A worker idle this long with no page opens another lane. */
#define WIDEN_AFTER_MS 10

/* Waits for a page of any open lane; NULL when none is open. A worker
 * that waits WIDEN_AFTER_MS opens one more lane (another segment, its
 * Scan in flight), and another after as long again: bound by answer
 * times, it scans more segments at once, while a worker bound by its CPU
 * seldom waits that long, keeps one, and leaves the rest to others. The
 * time is counted for the pool's growth (engine_pool_tick), except a
 * worker's first wait: every worker starts waiting, whatever bounds the
 * run, and counted, a new pool would look starved and grow again on that
 * alone. */
static lane *wait_page(worker *w)
{
    lane *l = oldest_answer(w);
    if (l || !lanes_open(w))
        return l;
    bool counted = w->waited_before;
    w->waited_before = true;
    int64_t t0 = now_us(), widen_at = t0 + WIDEN_AFTER_MS * 1000;
    if (counted)
        engine_page_wait(w->r, t0, 0);
    while ((l = oldest_answer(w)) == NULL && lanes_open(w)) {
        if (w->n_lanes < LANES_MAX && !stopping(w->r)) {
            int64_t now = now_us();
            if (now >= widen_at) {
                w->n_lanes++;
                fill_lanes(w, false);
                widen_at = now + WIDEN_AFTER_MS * 1000;
                continue; /* the new lane's Scan may be all there is to wait for */
            }
            /* Without the timer (out of memory) the wait ends with an
             * answer instead: later, not wrong. */
            (void)dm_loop_timer_start(w->loop, &w->widen, (widen_at - now + 999) / 1000);
        }
        pump(w);
    }
    dm_loop_timer_stop(w->loop, &w->widen);
    if (counted)
        engine_page_wait(w->r, t0, now_us());
    return l;
}

/* The page's items left with a write in doubt go into the segment's
 * doubts, with what the write wrote (under r->mu). */
static void keep_doubts(worker *w, seg_state *s)
{
    page_work *pw = &w->pw;
    for (size_t i = pw->prefix; i < pw->fed; i++) {
        const char *rec = pw->items[i].wrote;
        if (!rec || page_finished(pw, i))
            continue;
        if (!s->doubt)
            s->doubt = doneset_new(RUN_KEY_SCHEMA(w->r));
        if (!s->doubt || doneset_add_item_with(s->doubt, &pw->pg.items[i], rec) != DM_OK)
            atomic_fetch_add(&w->r->c.in_doubt, 1);
    }
}

/* Under r->mu. A stop in the middle of a page: the items finished past
 * the prefix go into the segment's set, to be passed over by a resume, and
 * their counts into c; those left in doubt go into its doubts. An item
 * that finds no room (out of memory) stays out of both, and a resume runs
 * it again: the lesser harm. */
static void keep_past(worker *w, page_counts *c)
{
    page_work *pw = &w->pw;
    seg_state *s = w->seg;
    size_t lost = 0;
    if (!s->done)
        s->done = doneset_new(RUN_KEY_SCHEMA(w->r));
    for (size_t i = pw->prefix + 1; i < pw->fed; i++) {
        if (!page_finished(pw, i))
            continue;
        if (s->done && doneset_add_item(s->done, &pw->pg.items[i]) == DM_OK)
            page_tally(pw, i, c);
        else
            lost++;
    }
    keep_doubts(w, s);
    if (lost)
        fprintf(stderr, "ddbmig: segment %d: out of memory recording %zu items finished past its cursor; a resume "
                        "will run them again\n", s->index, lost);
}

/* Adds the finished prefix's counts to the segment and moves its start
 * key: past the page when it is complete, else past the prefix's last
 * item. Returns true when the segment has more pages to scan. */
static bool commit_page(worker *w)
{
    run_state *r = w->r;
    seg_state *s = w->seg;
    page_work *pw = &w->pw;
    page_advance(pw);
    page_counts c = page_prefix_counts(pw);
    bool complete = page_complete(pw);
    char *key = NULL;
    if (complete) {
        key = pw->next_key;
        pw->next_key = NULL;
    } else if (pw->prefix > 0) {
        dm_buf k;
        dm_buf_init(&k, 0);
        if (wr_key_json(&w->src, &pw->pg.items[pw->prefix - 1], &k) == DM_OK)
            key = dm_strdup(dm_buf_cstr(&k));
        dm_buf_cleanup(&k);
    }
    /* The keys done past the cursor, their counts and the cursor move
     * together: a checkpoint written meanwhile sees all or none. */
    pthread_mutex_lock(&r->mu);
    if (!complete)
        keep_past(w, &c);
    s->scanned += c.scanned;
    s->changed += c.changed;
    s->unchanged += c.unchanged;
    s->deleted += c.deleted;
    s->failed += c.failed;
    s->conflicts += c.conflicts;
    if (complete)
        s->pages++;
    if (complete || key) {
        free(s->last_key);
        s->last_key = key;
        key = NULL;
    }
    if (complete && !s->last_key) {
        doneset_free(s->done);
        doneset_free(s->doubt);
        s->done = s->doubt = NULL;
        s->status = SEG_DONE;
        s->elapsed_ms = dm_monotonic_ms() - s->started_ms;
        s->work_ms += s->elapsed_ms;
        r->segs_done++;
    }
    bool more = complete && s->last_key != NULL;
    pthread_mutex_unlock(&r->mu);
    free(key);
    return more;
}

/* One page: returns false when the segment is finished, the run stops,
 * or (checkpoint table) the segment may no longer be this process's. */
/* The next segment for this worker, or NULL. With a checkpoint table,
 * wait says whether to wait for segments that other processes hold. */
static seg_state *take_segment(worker *w, bool wait)
{
    run_state *r = w->r;
    seg_state *s = NULL;
    /* Past the point where work may start: nothing more is taken. */
    if (r->deadline_mono && dm_monotonic_ms() >= r->deadline_mono) {
        engine_request_stop(r, STOP_DEADLINE, NULL);
        return NULL;
    }
    if (r->ct) {
        dm_error err = {0};
        if (ctable_claim(r, w->client, wait, &s, &err) != DM_OK) {
            stop_reason why = err.code != DM_ERR_STOPPED ? STOP_FATAL : r->deadline_mono ? STOP_DEADLINE : STOP_INTERRUPT;
            engine_request_stop(r, why, why == STOP_FATAL ? &err : NULL);
            return NULL;
        }
        return s;
    }
    int n = r->seg_list ? r->n_seg_list : r->n_segs;
    pthread_mutex_lock(&r->mu);
    while (r->next_seg < n && !s) {
        int at = r->next_seg++;
        seg_state *c = &r->segs[r->seg_list ? r->seg_list[at] : at];
        if (c->status != SEG_DONE) {
            c->status = SEG_RUNNING;
            c->worked = true;
            c->started_ms = dm_monotonic_ms();
            s = c;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return s;
}

/* A segment this worker leaves: done, or back to the queue's state for a
 * resume (or, with a checkpoint table, for its lease's release). */
static void end_segment(worker *w, seg_state *s, ratelimit *rl)
{
    pthread_mutex_lock(&w->r->mu);
    if (s->status != SEG_DONE)
        s->status = SEG_PENDING;
    pthread_mutex_unlock(&w->r->mu);
    if (rl) {
        rl_destroy(rl);
        free(rl);
    }
}

/* Opens segments in the free lanes and starts their first Scans. With
 * may_wait, a worker with nothing else to work waits for segments other
 * processes hold (checkpoint table); never while it holds a page or a
 * segment: two processes could then wait on each other. */
static void fill_lanes(worker *w, bool may_wait)
{
    for (int i = 0; i < w->n_lanes && !stopping(w->r); i++) {
        lane *l = &w->lanes[i];
        if (l->seg)
            continue;
        ratelimit *rl = malloc(sizeof *rl);
        seg_state *s = rl ? take_segment(w, may_wait && !lanes_open(w)) : NULL;
        if (!s) {
            free(rl);
            return;
        }
        rl_init(rl, 0, NULL);
        rl->name = "segment";
        l->seg = s;
        l->rl = rl;
        pthread_mutex_lock(&w->r->mu);
        char *start = dm_strdup(s->last_key);
        pthread_mutex_unlock(&w->r->mu);
        lane_scan(w, l, start);
        free(start);
    }
}

/* Closes lane l: its Scan, if in flight, is waited for and dropped; one
 * still waiting on the limiters holds no units and is dropped at once. */
static void close_lane(worker *w, lane *l)
{
    while (l->started && l->in_flight)
        pump(w);
    l->started = false;
    l->due_ms = 0;
    end_segment(w, l->seg, l->rl);
    l->seg = NULL;
    l->rl = NULL;
}

/* The page lane l's Scan answered: decoded, the lane's next Scan started
 * (or, on the segment's last page, the lane given to the next segment),
 * worked, and committed. */
static void page_step(worker *w, lane *l)
{
    run_state *r = w->r;
    l->started = false;
    if (r->ct && !ctable_holds(r, l->seg)) {
        if (!r->o->quiet)
            fprintf(stderr, "ddbmig: segment %d: the lease could not be kept; leaving it to its next owner\n",
                    l->seg->index);
        close_lane(w, l);
        return;
    }
    if (l->scan.rc != DM_OK) {
        /* Given up for the deadline (or a stop): unfinished, not failed. */
        if (l->scan.rc == DM_ERR_STOPPED)
            engine_request_stop(r, r->deadline_mono ? STOP_DEADLINE : STOP_INTERRUPT, NULL);
        else
            engine_request_stop(r, STOP_FATAL, &l->scan.err);
        close_lane(w, l);
        return;
    }
    /* The page's text moves out of the call, so the next Scan can go. */
    dm_buf text = l->scan.response;
    dm_buf_init(&l->scan.response, 0);
    dm_arena_reset(w->arena);
    ddb_page pg;
    dm_error err = {0};
    if (ddb_page_decode(text.data, text.len, w->arena, &pg, &err) != DM_OK ||
        page_begin(&w->pw, &text, &pg) != DM_OK) {
        if (!err.message[0])
            dm_error_set(&err, DM_ERR_NOMEM, "out of memory");
        engine_request_stop(r, STOP_FATAL, &err);
        dm_buf_cleanup(&text);
        close_lane(w, l);
        return;
    }
    rl_settle(&r->rl_read, l->reserved, pg.consumed_units);
    rl_settle(l->rl, l->reserved, pg.consumed_units);
    atomic_fetch_add(&r->c.read_milli, (long long)(pg.consumed_units * 1000));
    w->scan_estimate = pg.consumed_units > 0 ? pg.consumed_units : w->scan_estimate;
    w->seg = l->seg;
    w->seg_rl = l->rl;
    pthread_mutex_lock(&r->mu);
    w->seg_done_keys = doneset_size(w->seg->done) > 0;
    w->seg_doubts = doneset_size(w->seg->doubt) > 0;
    pthread_mutex_unlock(&r->mu);
    w->seg_owned = false;
    if (w->pw.next_key && !stopping(r)) {
        lane_scan(w, l, w->pw.next_key);
    } else {
        /* The segment's last page (or a stop): the lane is free for the
         * next segment, whose first Scan goes while this page is worked. */
        l->seg = NULL;
        l->rl = NULL;
        w->seg_owned = true;
        fill_lanes(w, false);
    }
    w->feeding = true;
    work_page(w);
    bool more = commit_page(w);
    if (w->seg_owned)
        end_segment(w, w->seg, w->seg_rl);
    else if (!more)
        close_lane(w, l); /* stopped, or the segment was lost */
    w->seg = NULL;
    w->seg_rl = NULL;
}

static void worker_cleanup(worker *w)
{
    DM_DEBUG("worker done: writes in flight limit %d, best answer time %.2f ms", conc_limit(&w->conc),
             w->conc.best_ms);
    engine_unregister_loop(w->r, w->loop);
    if (w->batch)
        task_release(&w->q, w->batch);
    if (w->stmts)
        task_release(&w->q, w->stmts);
    dm_buf_cleanup(&w->stmt_entry);
    if (w->loop) {
        drop_delayed(w, true);
        dm_loop_timer_stop(w->loop, &w->kick);
        dm_loop_timer_stop(w->loop, &w->widen);
    }
    ddb_client_free(w->client); /* before the calls it may still hold */
    task_queue_cleanup(&w->q);
    for (int i = 0; i < LANES_MAX; i++)
        ddb_call_cleanup(&w->lanes[i].scan);
    page_cleanup(&w->pw);
    wr_scratch_cleanup(&w->scratch);
    lua_host_free(w->host);
    dm_arena_free(w->arena);
    dm_loop_free(w->loop);
}

void *worker_main(void *arg)
{
    worker w;
    memset(&w, 0, sizeof w);
    w.r = arg;
    this_worker = &w;
    run_state *r = w.r;
    dm_error err = {0};
    lua_host_options lo = r->lua;
    w.loop = dm_loop_new();
    w.client = w.loop ? ddb_client_new_on_loop(r->shared, w.loop) : NULL;
    dm_loop_timer_init(&w.kick, on_kick, &w);
    dm_loop_timer_init(&w.widen, on_kick, &w);
    engine_register_loop(r, w.loop);
    w.arena = dm_arena_new(256 * 1024);
    w.rng = (uint64_t)dm_now_ms() ^ (uint64_t)(uintptr_t)&w;
    int fixed = r->o->writes_in_flight;
    if (fixed > 0)
        conc_init(&w.conc, fixed, fixed, fixed);
    else
        conc_init(&w.conc, 32, 4, 512);
    for (int i = 0; i < LANES_MAX; i++)
        ddb_call_init(&w.lanes[i].scan, "Scan", r->o->table);
    w.n_lanes = 1;
    if (!w.client || !w.arena || lua_host_new(&lo, &w.host, &err) != DM_OK) {
        if (!err.message[0])
            dm_error_set(&err, DM_ERR_NOMEM, "out of memory starting a worker");
        engine_request_stop(r, err.code == DM_ERR_STOPPED ? STOP_INTERRUPT : STOP_FATAL, &err);
        worker_cleanup(&w);
        return NULL;
    }
    w.scan_estimate = r->scan_estimate;
    w.rules = r->rules;
    w.wr = (wr_ctx){.table = r->target, .keys = r->target_keys, .n_keys = r->n_target_keys,
                    .version_attr = r->o->version_attribute, .rules = &w.rules, .scratch = &w.scratch};
    w.src = (wr_ctx){.table = r->o->table, .keys = r->keys, .n_keys = r->n_keys};
    for (;;) {
        fill_lanes(&w, true);
        lane *l = stopping(r) ? NULL : wait_page(&w);
        if (!l)
            break;
        page_step(&w, l);
    }
    for (int i = 0; i < w.n_lanes; i++)
        if (w.lanes[i].seg)
            close_lane(&w, &w.lanes[i]);
    worker_cleanup(&w);
    this_worker = NULL;
    return NULL;
}
