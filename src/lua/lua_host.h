/* The Lua 5.4 host: one per worker thread, never shared. It loads the
 * user's script (a file's text or a one-liner) into a restricted
 * environment, checks it before any write, and runs migrate(item, ctx)
 * per item within an instruction budget and a memory cap.
 *
 * What migrate returns:
 *   a table  - the item to write (attributes absent from it are removed)
 *   nil      - no change
 *   ddb.DELETE - delete the item
 * and ddb.put(t) emits an extra item to write as well. */
#ifndef DDBMIG_LUA_HOST_H
#define DDBMIG_LUA_HOST_H

#include <signal.h>

#include "ddbmig/common.h"
#include "ddbmig/item.h"

typedef struct lua_host lua_host;

typedef struct lua_host_options {
    /* The script's text, read by lua_host_new only: the caller reads the
     * file once, so every worker runs (and the checkpoint hashes) the
     * same bytes. */
    const char *script;
    size_t script_len;
    const char *chunk_name;   /* names the script in errors: its path, or "-e" */
    /* -e: the text is the body of migrate(item, ctx) (a text that defines
     * function migrate itself is taken as a whole script). */
    bool one_liner;
    const char *now;          /* ctx.now: ISO-8601 UTC of the run's start */
    const char *migration;    /* ctx.migration */
    const char *table;        /* ctx.table */
    size_t memory_limit_bytes;     /* 0: 256 MiB */
    long long instruction_limit;   /* per item; 0: 200 million */
    /* The run's stop flag (set by the first SIGINT/SIGTERM), or NULL.
     * When set, a busy script stops within 10,000 instructions (or pattern
     * steps) and the call fails with DM_ERR_STOPPED. Borrowed. */
    volatile sig_atomic_t *stop;
    /* Where ctx.log and print write; NULL: stderr. */
    void (*log)(void *ud, const char *line);
    void *log_ud;
} lua_host_options;

/* Compiles the script, runs its top level and checks that it defines
 * migrate. Errors (DM_ERR_CONFIG) carry the chunk name and line;
 * DM_ERR_STOPPED when the stop flag is set meanwhile. */
DM_API int lua_host_new(const lua_host_options *o, lua_host **out, dm_error *err);
DM_API void lua_host_free(lua_host *h);

typedef enum lua_outcome { LUA_UNCHANGED, LUA_WRITE, LUA_DELETE } lua_outcome;

typedef struct lua_result {
    lua_outcome outcome;
    ddb_item item;        /* LUA_WRITE: the new item; values equal to the
                             original's are the original's (wire text kept) */
    ddb_item *extras;     /* from ddb.put, in order */
    size_t n_extras;
    /* Top-level attributes migrate read and found absent (item.x == nil),
     * at most 64 of them; absent_overflow: there were more. */
    const dm_str *absent;
    size_t n_absent;
    bool absent_overflow;
    /* Which of orig's attributes the script's item took over: read,
     * written or deleted (seen[i] for orig's attribute i; in the arena).
     * saw_all: the script may have seen the whole item (it went through
     * it raw, with next, pairs or rawget, or looked for more absent names
     * than are kept); seen is then NULL or not to be relied on. */
    const unsigned char *seen;
    bool saw_all;
} lua_result;

/* Runs migrate on one item. Everything in *out lives in arena a (and
 * borrows from orig). Per-item errors: DM_ERR_INVALID (a Lua error with
 * its traceback, or a value DynamoDB cannot store, named by its attribute
 * path) and DM_ERR_LIMIT (the instruction or memory limit); messages name
 * the script and line, and quote nothing of the item but what the script
 * itself puts in its errors. DM_ERR_STOPPED when the stop flag was
 * set: not the item's fault, it has not been migrated. The state stays
 * usable after any of them. */
DM_API int lua_host_migrate(lua_host *h, const ddb_item *orig, int segment, dm_arena *a, lua_result *out,
                            dm_error *err);

/* Runs migrate on an item without attributes (ctx.probe is true), as a
 * check before the run; nothing is written. DM_ERR_INVALID or
 * DM_ERR_LIMIT when it fails, DM_ERR_STOPPED when stopped. */
DM_API int lua_host_probe(lua_host *h, dm_error *err);

/* Converts a Lua-built item for tests and tools: runs `return <expr>` and
 * converts the result. */
DM_API int lua_host_eval_item(lua_host *h, const char *expr, dm_arena *a, ddb_item *out, dm_error *err);

#endif
