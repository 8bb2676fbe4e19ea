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
    bool resume;
    const char *errors_path;        /* NULL: .ddbmig/<table>-<id>.errors.jsonl */
    long long max_errors;           /* 0: 100 */
    const char *marker;
    const char *filter_expression;
    const char *names_json;         /* ExpressionAttributeNames for the filter */
    const char *values_json;
    bool consistent_read;
    bool json_output;
    bool quiet;
    int page_size;                  /* Scan Limit; 0: DynamoDB's 1 MB pages */
    int conflict_retries;           /* 0: 5 */
    int writes_in_flight;           /* per worker; 0: 32 */
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
    double read_price;              /* USD per million read request units */
    double write_price;             /* USD per million write request units */
    const char *resume_command;     /* printed when stopped early */
} engine_options;

typedef enum engine_status {
    ENGINE_DONE = 0,         /* every item migrated */
    ENGINE_ITEM_ERRORS = 1,  /* finished, some items failed (or, verify: some left) */
    ENGINE_CONFIG = 2,       /* nothing written */
    ENGINE_STOPPED = 3,      /* stopped early; resumable */
    ENGINE_INTERRUPTED = 130
} engine_status;

/* Runs the job on an open client (the engine makes one client per worker
 * over c's shared state). Prints progress to stderr and the summary to
 * stdout (JSON with json_output). Returns the status; err has the reason
 * for ENGINE_CONFIG and ENGINE_STOPPED. */
DM_API engine_status engine_run(const engine_options *o, ddb_shared *shared, ddb_client *c, dm_error *err);

/* ---- export and import --------------------------------------------------- */

typedef struct transfer_options {
    const char *table;
    const char *path;          /* .jsonl, or .jsonl.gz (compressed) */
    int total_segments;        /* export; 0: 4 x workers */
    int workers;               /* 0: from the machine */
    int in_flight;             /* import: BatchWriteItem calls in flight; 0: 32 */
    bool quiet;
    bool json_output;
} transfer_options;

typedef struct transfer_result {
    long long items;
    long long bytes;
    double units;
    double seconds;
} transfer_result;

/* Writes every item as one line of DynamoDB JSON, exactly as DynamoDB sent
 * it. Lines from different segments interleave. */
DM_API int engine_export(const transfer_options *o, ddb_shared *shared, transfer_result *out, dm_error *err);
/* Reads DynamoDB JSON lines (checking every line before writing any) and
 * writes them with BatchWriteItem. Errors name the file and line. */
DM_API int engine_import(const transfer_options *o, ddb_client *c, transfer_result *out, dm_error *err);

#endif
