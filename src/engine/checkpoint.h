/* The checkpoint file's contents, parsed and checked (a pure function, so
 * that a corrupt or hostile file is refused with a reason, and fuzzed:
 * tests/fuzz/fuzz_checkpoint.c). Reading the file, comparing it with a run
 * and writing it are in checkpoint.c. */
#ifndef DDBMIG_ENGINE_CHECKPOINT_H
#define DDBMIG_ENGINE_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "ddbmig/common.h"

typedef struct checkpoint_seg {
    bool done;
    char *start_key;     /* compact JSON object, or NULL; owned */
    char **done_keys;    /* keys finished past start_key (doneset.h), compact JSON objects; owned */
    int n_done;
    char **doubt_keys;   /* keys of items left with a write in doubt, compact JSON objects; owned */
    char **doubt_wrote;  /* what each wrote (wplan_wrote_json), compact JSON objects; owned */
    int n_doubt;
    long long scanned, changed, unchanged, deleted, failed, conflicts;
    int64_t work_ms;
} checkpoint_seg;

typedef struct checkpoint_doc {
    /* All owned; NULL when absent (the optional ones). */
    char *status;        /* running, stopped, limited or complete */
    char *table, *target_table, *migration, *script_sha256, *started_at;
    char *write_mode, *marker, *version_attribute, *filter_expression, *names_json, *values_json;
    int n_segs;
    checkpoint_seg *segs; /* by segment index */
} checkpoint_doc;

/* Parses text[0..len). DM_ERR_PARSE with the reason (no file name) when it
 * is not a checkpoint this version wrote: bad JSON, a missing or mistyped
 * field, a segment missing, repeated or out of range, a negative count. */
int checkpoint_parse(const char *text, size_t len, checkpoint_doc *out, dm_error *err);
void checkpoint_doc_cleanup(checkpoint_doc *d);

#endif
