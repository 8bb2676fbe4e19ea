/* The migration engine: segments of a parallel scan, queued for a pool of
 * workers; per item the Lua transform, a diff, and a guarded write of only
 * what changed; rate limits, checkpoints, progress and a summary. */
#ifndef DDBMIG_ENGINE_H
#define DDBMIG_ENGINE_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "ddbmig/common.h"
#include "ddbmig/ddb.h"
#include "ddbmig/ddb_ops.h"

typedef enum engine_write_mode { ENGINE_WRITE_UPDATE, ENGINE_WRITE_PUT, ENGINE_WRITE_BATCH } engine_write_mode;

typedef enum engine_job { ENGINE_MIGRATE, ENGINE_VERIFY } engine_job;

typedef struct engine_options {
    engine_job job;
    const char *table;
    const char *target_table;       /* NULL: write back to table */
    const char *script_path;        /* or code */
    const char *code;
    const char *migration_id;       /* NULL: derived from the script */
    int total_segments;             /* 0: from the table's size */
    int workers;                    /* 0: from the machine */
    engine_write_mode write_mode;
    bool write_mode_set;
    double max_read_units;          /* per second; 0: default policy */
    double max_write_units;
    bool dry_run;
    int show_diffs;
    long long limit;                /* items; 0: all */
    const char *checkpoint_path;    /* NULL: .ddbmig/<table>-<id>.json */
    /* Cursors in a DynamoDB table shared by many processes instead of the
     * file: one item per migration and segment, each owned under a lease
     * by one process at a time (see docs/SCALE.md). Created when missing
     * (asking, or with yes). */
    const char *checkpoint_table;
    int lease_seconds;              /* 0: 60 */
    /* Only these segments ("0-99,200"); NULL: all. */
    const char *segments;
    /* Stop cleanly before this time (ms since the epoch; 0: none): no
     * Scan or write starts after deadline - margin, a backoff that would
     * end past the deadline gives up, the cursor is saved. */
    int64_t deadline_ms;
    int64_t deadline_margin_ms;     /* 0: 10% of the time left, 2 to 30 s */
    bool resume;
    const char *errors_path;        /* NULL: .ddbmig/<table>-<id>.errors.jsonl */
    long long max_errors;           /* 0: 100 */
    const char *marker;
    const char *version_attribute;  /* guard on this attribute, bumped by every writer */
    const char *filter_expression;
    const char *names_json;         /* ExpressionAttributeNames for the filter */
    const char *values_json;
    bool consistent_read;
    bool json_output;
    bool quiet;
    int page_size;                  /* Scan Limit; 0: DynamoDB's 1 MB pages */
    int conflict_retries;           /* 0: 5 */
    int writes_in_flight;           /* per worker; 0: adapts (engine/conc.h) */
    /* Set (by the caller's SIGINT/SIGTERM handler) to stop: during the
     * checks before the first write, the pending request is given up and
     * engine_run returns ENGINE_INTERRUPTED with nothing written and no
     * checkpoint; later, scanning stops, writes in flight finish and the
     * checkpoint is saved. Borrowed; NULL: never stopped. */
    volatile sig_atomic_t *stop;
    FILE *diff_out;                 /* where dry-run diffs go (stdout) */
    bool yes;                       /* --yes: no question before writing */
    /* Asked once, after the plan is printed and before the first write,
     * unless yes; the engine never reads stdin itself. Returns true to go
     * ahead. NULL: writing needs yes. Called on engine_run's thread. */
    bool (*confirm)(void *ud, const char *question);
    void *confirm_ud;               /* passed to confirm */
    bool no_pitr_check;             /* --no-pitr-check */
    bool no_partiql;                /* --no-partiql: no BatchExecuteStatement */
    double read_price;              /* USD per million read request units */
    double write_price;             /* USD per million write request units */
    const char *resume_command;     /* printed when stopped early */
    /* Work of the caller's around the first write (capacity pre-warm).
     * plan: called once the run's plan is made, before the question
     * (f: where the plan goes; NULL when it is not printed); an error
     * stops the run with nothing written. before_writes: called after
     * the go-ahead and the first checkpoint, before the first write; an
     * error stops the run with nothing written (resumable). Its ceilings
     * (units per second, 0: none) become the rate limits where
     * max_read_units / max_write_units are not given. */
    struct engine_result *result;   /* out, when not NULL: filled by engine_run */
    int (*plan_hook)(void *ud, FILE *f, dm_error *err);
    int (*before_writes)(void *ud, const char *checkpoint_path, double *read_ceiling, double *write_ceiling,
                         dm_error *err);
    void *hook_ud;
} engine_options;

/* What a run did, for callers that report it themselves (the Lambda
 * handler): this process's counts, and whether every segment it was given
 * (--segments, else all) is done. */
typedef struct engine_result {
    long long scanned, changed, unchanged, deleted, failed, conflicts;
    int segments, segments_done;
    bool done;
} engine_result;

typedef enum engine_status {
    ENGINE_DONE = 0,         /* every item migrated */
    ENGINE_ITEM_ERRORS = 1,  /* finished, some items failed (or, verify: some left) */
    ENGINE_CONFIG = 2,       /* nothing written */
    ENGINE_STOPPED = 3,      /* stopped early (errors, deadline); resumable */
    ENGINE_INTERRUPTED = 130
} engine_status;

/* What a run keeps back from its deadline for the writes in flight and
 * the final save: configured_ms when set, else a tenth of the time left,
 * from 2 to 30 seconds. */
DM_API int64_t engine_deadline_margin_ms(int64_t left_ms, int64_t configured_ms);

/* The default migration id of a script: "m-" and 12 hex digits of its
 * SHA-256 (what run uses without --migration-id). */
DM_API void engine_migration_id(const char *script, size_t len, char out[80]);

/* Runs the job on an open client (the engine makes one client per worker
 * over c's shared state). Prints progress to stderr and the summary to
 * stdout (JSON with json_output). Returns the status; err has the reason
 * for ENGINE_CONFIG and ENGINE_STOPPED. */
DM_API engine_status engine_run(const engine_options *o, ddb_shared *shared, ddb_client *c, dm_error *err);

/* A migration's progress as its checkpoint table holds it, for
 * `aws status`: segments by state and the counts of every process. */
typedef struct engine_progress {
    bool begun;                 /* the meta item exists */
    long long total_segments;   /* from the meta item */
    long long done, running, waiting; /* segments with an item: done, leased now, free or lease run out */
    long long scanned, changed, failed;
    int64_t started_ms;         /* the meta item's started_at; 0 when unknown */
    char table[256];
} engine_progress;

/* Reads it with a consistent Scan of the checkpoint table. */
DM_API int engine_progress_read(ddb_client *c, const char *checkpoint_table, const char *migration,
                                engine_progress *out, dm_error *err);

/* ---- export and import --------------------------------------------------- */

typedef struct transfer_options {
    const char *table;
    const char *path;          /* .jsonl, or .jsonl.gz (compressed) */
    int total_segments;        /* export; 0: 4 x workers */
    int workers;               /* 0: from the machine */
    int in_flight;             /* import: BatchWriteItem calls in flight; 0: 32 */
    bool dry_run;              /* import: check the file against the table, write nothing */
    bool quiet;
    bool json_output;
} transfer_options;

/* Bad lines an import check lists before it stops reading. */
#define TRANSFER_MAX_BAD_LINES 5

typedef struct transfer_result {
    long long items;           /* export: lines written; import: items written to the table */
    long long bytes;
    double units;
    double seconds;
    /* import */
    long long file_items;      /* items in the file, once checked */
    long long lines_read;      /* lines the check read */
    bool writing;              /* the check passed and writes began: after a failure,
                                  `items` of `file_items` are in the table */
    int n_bad;                 /* bad lines (and file errors) found */
    char bad[TRANSFER_MAX_BAD_LINES][512]; /* "FILE:LINE: what is wrong", the first n_bad */
} transfer_result;

/* Writes every item as one line of DynamoDB JSON, exactly as DynamoDB sent
 * it. Lines from different segments interleave. */
DM_API int engine_export(const transfer_options *o, ddb_shared *shared, transfer_result *out, dm_error *err);

/* Reads every line of the import file o->path and checks it: DynamoDB
 * JSON of one item, which ddb_item_check passes against keys (NULL: the
 * rules that need no table). Blank lines are skipped. Writes nothing.
 * out->file_items gets the items; each bad line goes to out->bad as
 * "FILE:LINE: attribute PATH: rule" and reading stops after
 * TRANSFER_MAX_BAD_LINES of them. A file that cannot be read, or gzip data
 * that is truncated, corrupt or followed by other bytes, is one more
 * entry. Returns DM_ERR_INVALID when anything was found, with a summary in
 * err; DM_ERR_NOMEM when out of memory. */
DM_API int engine_import_check(const transfer_options *o, const ddb_key_schema *keys, transfer_result *out,
                               dm_error *err);

/* Imports o->path into o->table: DescribeTable for the table's keys and
 * indexes, engine_import_check (nothing is written unless every line
 * passes), then BatchWriteItem calls, o->in_flight at a time, resending
 * UnprocessedItems. When a key repeats in the file the last line wins:
 * a line's put is sent only after every earlier put of the same key has
 * finished. On a failure after writes began, out->writing is true and
 * out->items says how many items were written; puts are idempotent, so
 * the same import can run again. */
DM_API int engine_import(const transfer_options *o, ddb_client *c, transfer_result *out, dm_error *err);

#endif
