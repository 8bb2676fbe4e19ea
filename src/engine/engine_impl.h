/* Internals of the engine shared by its files. */
#ifndef DDBMIG_ENGINE_IMPL_H
#define DDBMIG_ENGINE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "ddbmig/engine.h"
#include "ddbmig/loop.h"
#include "lua/lua_host.h"
#include "errlog.h"
#include "ratelimit.h"
#include "wplan.h"
#include "writer.h"

typedef enum seg_status { SEG_PENDING, SEG_RUNNING, SEG_DONE } seg_status;

typedef struct seg_state {
    int index;
    seg_status status;
    char *last_key;          /* ExclusiveStartKey of the next page; owned */
    struct doneset *done;    /* keys of items past last_key already finished; owned; NULL: none */
    struct doneset *doubt;   /* keys of items past last_key whose write is in doubt, with what it wrote; owned */
    long long scanned, changed, unchanged, deleted, failed, conflicts, pages;
    int64_t started_ms, elapsed_ms, work_ms; /* work_ms: across runs */
    /* Checkpoint table only (ctable.c): this process owns the segment
     * under a lease; version is the item's; lost: taken over by another
     * process (the lease could not be renewed), so work on it stops. */
    bool owned, seen;
    bool worked;             /* this process worked on it */
    atomic_bool lost;
    long long version;
    int64_t renewed_ms;      /* monotonic, last lease renewal */
} seg_state;

typedef enum stop_reason {
    STOP_NONE, STOP_INTERRUPT, STOP_MAX_ERRORS, STOP_FATAL, STOP_LIMIT, STOP_DEADLINE
} stop_reason;

typedef struct counters {
    atomic_llong scanned, changed, unchanged, deleted, moved, failed, conflicts, extras, skipped, writes;
    atomic_llong read_milli, write_milli; /* capacity units x 1000 */
    atomic_llong limit_taken;
    atomic_llong in_doubt; /* items left unfinished with a write that may have been carried out */
} counters;

/* Workers idle on their next page (the pool grows on it): waits ended,
 * and those under way as how many and the sum of their starts, so that a
 * look at the pool counts a wait before it ends. One lock: read apart,
 * the three could be caught half-updated. */
typedef struct page_waits {
    pthread_mutex_t mu;
    int64_t ended_us, waiting, since_sum_us;
} page_waits;

/* The pool's last look (engine_pool_tick; the monitor's thread only). */
typedef struct pool_look {
    int64_t ms, wait_us, cpu_us, machine_us; /* machine_us: -1 unknown */
    long long throttled;
} pool_look;

typedef struct run_state {
    const engine_options *o;
    ddb_shared *shared;
    ddb_table_desc desc;          /* the source table */
    ddb_table_desc target_desc;   /* when copying */
    const char *target;           /* table written to */
    const char *keys[2];
    const char *key_types[2];     /* "S", "N" or "B", beside keys */
    size_t n_keys;
    const char *target_keys[2];
    size_t n_target_keys;
    engine_write_mode mode;
    char migration[80];
    dm_buf script;                /* the script's text, read once: hashed and run */
    lua_host_options lua;         /* for every worker's host; borrows script */
    char script_hash[65];
    char now[21];
    char checkpoint_path[1024];
    char errors_path[1024];
    int lock_fd;                  /* flock on <checkpoint>.lock; 0: none */
    int64_t start_ms;

    pthread_mutex_t mu;           /* segments, errors file, diff output, fatal */
    seg_state *segs;
    int n_segs;
    int next_seg;
    int segs_done;
    errlog errors;                /* opened before the first write */
    bool errors_open;
    wplan_rules rules;            /* what the workers decide by */
    ddb_key_schema schema;        /* of the table written, for rules.schema */
    int diffs_shown;
    dm_error fatal;
    atomic_int stop;              /* stop_reason */
    atomic_bool no_statements;    /* BatchExecuteStatement was refused: updates go one by one */
    atomic_bool statements_worked; /* a BatchExecuteStatement call was answered */
    counters c;
    ratelimit rl_read, rl_write;
    long long resumed_scanned;    /* counts carried over from a checkpoint */
    bool continued;               /* this run goes on from a checkpoint file (resumed, or after --limit) */
    bool saved_first;             /* the checks saved the checkpoint file: a stop leaves one */
    atomic_int finished;          /* workers are done; the monitor ends */
    bool workers_fixed;           /* --workers given: the pool does not grow */
    pthread_t *threads;           /* the workers; grows (under mu) while the run is latency-bound */
    int n_threads, cap_threads;
    bool pool_closed;             /* joining has begun: no worker is added (under mu) */
    pool_look pool;
    page_waits waits;
    pthread_mutex_t end_mu;       /* with end_cv: the monitor's sleeps end when the workers do */
    pthread_cond_t end_cv;
    dm_loop **loops;              /* the workers' loops, woken by a stop; under mu */
    int n_loops, cap_loops;
    double scan_estimate;         /* read units a page is expected to take */
    struct ctable *ct;            /* the checkpoint table, or NULL (file) */
    int *seg_list;                /* --segments, ascending; NULL: all */
    int n_seg_list;
    int64_t deadline_mono;        /* stop from here on (monotonic ms); 0: none */
    int64_t deadline_end;         /* the deadline itself (monotonic ms) */
} run_state;

/* The scanned table's key schema, for cursors and the keys done past
 * them (doneset.h). */
#define RUN_KEY_SCHEMA(r) ((doneset_schema){(r)->keys, (r)->key_types, (r)->n_keys})

/* Two per CPU, 2 to 64: writers mostly wait on the network. */
int engine_default_workers(void);

/* Worker threads: one lua_host and one ddb_client each. */
void *worker_main(void *arg);

/* Checkpoint file (checkpoint.c). */
int checkpoint_save(run_state *r, const char *status, dm_error *err);
/* Loads the checkpoint at r->checkpoint_path into r->segs, refusing one
 * of another table, script or options. *found is false when there is
 * none; a completed one counts as none. *limited: it ended at --limit. */
int checkpoint_load(run_state *r, bool *found, bool *limited, dm_error *err);
struct checkpoint_doc;
/* A run recorded in d (kept in `where`, for messages) against this one:
 * another table, script or bound option is refused, naming each. */
int checkpoint_refuse(run_state *r, const struct checkpoint_doc *d, const char *where, dm_error *err);
const char *checkpoint_mode_name(engine_write_mode m);

/* "0-99,200" into the ascending segment numbers it names, each below
 * total; repeats merge (seglist.c). */
int seglist_parse(const char *text, int total, int **out, int *n, dm_error *err);

/* Progress line and summary (progress.c). */
void progress_result(run_state *r, engine_result *out);
void *monitor_main(void *arg);
/* The pool (pool.c). Adds a worker while the run lasts; false when none
 * could be added. */
bool engine_add_worker(run_state *r);
/* The monitor's look at whether the workers spend their time waiting on
 * Scan pages with CPU to spare: then more of them. */
void engine_pool_tick(run_state *r, int64_t now_ms);
/* A worker's wait on a page (microseconds, CLOCK_MONOTONIC): its start
 * with end_us 0, then its end. */
void engine_page_wait(run_state *r, int64_t start_us, int64_t end_us);
/* Starts the pool's measures (at the run's start). */
void engine_pool_begin(run_state *r);
/* Waits up to ms or until the workers are done; true when they are. */
bool engine_wait_finished(run_state *r, int64_t ms);
void progress_final(run_state *r, engine_status st);

/* A throttled attempt (the client's hook, on the thread that saw it):
 * capacity throttles, and throttles without a reason, go to the table's
 * limiter; a hot key range slows only the segment of the worker that met
 * it. Returns how long the retry waits for its tokens. */
int64_t engine_throttled(run_state *r, const ddb_call *call, ddb_throttle t);

/* A worker's loop, to be woken when the run stops (NULL is ignored). */
void engine_register_loop(run_state *r, dm_loop *l);
void engine_unregister_loop(run_state *r, dm_loop *l);

/* Asks every thread to stop; the first reason (and its error) wins, and
 * every worker's loop is woken to see it. */
void engine_request_stop(run_state *r, stop_reason why, const dm_error *err);

/* Dry-run diffs (diffshow.c): prints the plan of one of the first
 * --show-diffs changes. */
void diffshow_print(run_state *r, const ddb_item *read, const wplan *p);

/* Planning before the first write (plan.c). */
int plan_and_confirm(run_state *r, ddb_client *c, dm_error *err);

#endif
