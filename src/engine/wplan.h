/* The engine's decisions about one item, as pure functions: what to write
 * given the item as read and the script's result (the write plan), and
 * what a failed condition means. No I/O, no state: every safety rule of a
 * migration is here, with its unit tests in tests/unit/test_wplan.c.
 *
 * The rules:
 * - A write changes only what the script changed: UpdateItem SET/REMOVE of
 *   the difference, whatever the write mode says of whole items, so an
 *   attribute another writer added meanwhile is kept.
 * - A guarded update fails when anything the script's result depends on,
 *   or the write touches, changed since the item was read: its condition
 *   names (as "#a = :old", or attribute_not_exists for an absent one) the
 *   attributes the write sets or removes, the marker, the names the script
 *   looked for and did not find, and every attribute of the image the
 *   script read. One it never looked at cannot have changed its result,
 *   and the update leaves it as it is, so a writer's change to it is kept
 *   and needs no conflict: the update is as if it ran after that writer.
 *   A script that went through the item raw (pairs, next, rawget) saw all
 *   of it: the whole image is named. With a version attribute, only that
 *   one is named (which every writer bumps). DynamoDB caps an expression
 *   at 4 KB and 300 operators; an image too big for that is guarded on
 *   the attributes the write touches, the marker and the version first,
 *   then as many others as fit, and an update so guarded first reads the
 *   current item, as a delete does (below).
 * - A condition cannot see an attribute it does not name, so a delete or a
 *   key move without a version attribute first reads the current item
 *   (consistent GetItem) and goes on only when it is the item the script
 *   saw; the delete is then guarded by that whole image. The window left
 *   is one round trip.
 * - The marker (--marker) is set by every write of a marked run; an item
 *   carrying this migration's marker is done.
 * - A key change in batch mode is a transaction whose put must not find an
 *   item at the new key: batch mode never overwrites another item. */
#ifndef DDBMIG_ENGINE_WPLAN_H
#define DDBMIG_ENGINE_WPLAN_H

#include "ddb/diff.h"
#include "ddbmig/engine.h"
#include "ddbmig/item.h"
#include "lua/lua_host.h"

/* What DynamoDB allows in one expression. */
#define WPLAN_MAX_EXPR_BYTES 4096
#define WPLAN_MAX_OPERATORS 300

typedef struct wplan_rules {
    const char *const *keys;     /* key attribute names of the table written */
    size_t n_keys;
    const ddb_key_schema *schema; /* its keys and index keys, for ddb_item_check; NULL: none */
    const char *marker;          /* NULL: no marker */
    const char *migration;       /* the marker's value */
    const char *version_attr;    /* NULL: guard on the image (wplan_guard_next) */
    engine_write_mode mode;      /* update and put write the same way */
    bool copy;                   /* writing into another table: plain puts */
} wplan_rules;

typedef enum wplan_kind {
    WPLAN_NOTHING,   /* the script changed nothing */
    WPLAN_UPDATE,    /* UpdateItem: SET/REMOVE of diff, guarded */
    WPLAN_PUT,       /* PutItem of final, guarded by the version attribute */
    WPLAN_DELETE,    /* DeleteItem, guarded */
    WPLAN_MOVE,      /* TransactWriteItems: put final (its key must be free), delete read (guarded) */
    WPLAN_BATCH_PUT, /* unguarded put (batch mode, copies) */
    WPLAN_BATCH_DELETE,
    WPLAN_COPY,      /* unguarded PutItem of final into another table */
    WPLAN_FAIL       /* an item error: message */
} wplan_kind;

typedef enum wplan_guard { WPLAN_GUARD_NONE, WPLAN_GUARD_IMAGE, WPLAN_GUARD_VERSION } wplan_guard;

/* What the summary counts a finished plan as. */
typedef enum wplan_count { WPLAN_COUNT_UNCHANGED, WPLAN_COUNT_CHANGED, WPLAN_COUNT_DELETED, WPLAN_COUNT_MOVED } wplan_count;

typedef struct wplan {
    wplan_kind kind;
    wplan_count counts_as;
    ddb_item final;          /* the item after the write (marker and version set) */
    ddb_diff diff;           /* final against the image read; indices into final */
    wplan_guard guard;
    /* GUARD_IMAGE: how many attributes the condition names, in the order
     * of wplan_guard_next (those written first, then the rest of the image),
     * cut at what fits. */
    size_t n_guard;
    bool guard_partial;      /* the image had more than fits */
    const ddb_value *version_read; /* GUARD_VERSION: the value read, NULL when absent */
    bool read_first;         /* DELETE/MOVE: read the current item before writing */
    const dm_str *absent;    /* names the script found absent (lua_result) */
    size_t n_absent;
    /* What of the image read the script saw (lua_result.seen, by index
     * into read; NULL with saw_all): an update names only these of the
     * rest of the image. */
    const unsigned char *seen;
    bool saw_all;
    const char *message;     /* WPLAN_FAIL; in the arena (or static) */
    dm_arena *arena_;        /* private: where decide allocates */
} wplan;

/* Decides the write for an item read (a scanned page's, or the current one
 * after a conflict) and the script's result. Everything in *out lives in
 * arena a or borrows from read and res. DM_ERR_NOMEM is the only error;
 * a plan that cannot be written is WPLAN_FAIL with a message. */
int wplan_decide(const wplan_rules *r, const ddb_item *read, const lua_result *res, dm_arena *a, wplan *out);

/* The attributes a GUARD_IMAGE condition names, in order: the ones the
 * write sets (diff.set, index k into it), removes (diff.remove), the
 * marker, the ones the script looked for and did not find (they must
 * still be absent), then the rest of the image read (for an update whose
 * script did not see all of it, only what it read). Keys are never listed (the
 * condition checks the item exists instead). */
typedef enum wplan_guard_from {
    WPLAN_FROM_SET, WPLAN_FROM_REMOVE, WPLAN_FROM_MARKER, WPLAN_FROM_ABSENT, WPLAN_FROM_READ
} wplan_guard_from;

typedef struct wplan_guard_iter {
    const wplan_rules *r;
    const wplan *p;
    const ddb_item *read;
    wplan_guard_from from;
    size_t i;
} wplan_guard_iter;

typedef struct wplan_guard_attr {
    dm_str name;
    const ddb_value *old;    /* its value as read; NULL: it was absent */
    wplan_guard_from from;
    size_t k;                /* index in diff.set or diff.remove */
} wplan_guard_attr;

void wplan_guard_begin(wplan_guard_iter *it, const wplan_rules *r, const wplan *p, const ddb_item *read);
bool wplan_guard_next(wplan_guard_iter *it, wplan_guard_attr *out);

/* True when the item carries this migration's marker. */
bool wplan_has_marker(const wplan_rules *r, const ddb_item *it);

/* What a conditional failure means. */
typedef enum wplan_verdict {
    WPLAN_DONE,          /* the plan's result is in place (a lost answer, or the marker is set) */
    WPLAN_RERUN,         /* the item changed: run the script again on *current */
    WPLAN_FETCH,         /* the answer holds no image: read the current item */
    WPLAN_GONE,          /* the item no longer exists */
    WPLAN_TARGET_TAKEN,  /* a move's new key holds another item */
    WPLAN_GIVE_UP,       /* conflicts beyond the limit */
    WPLAN_PROCEED,       /* a fresh read found the item as the script saw it: write */
    WPLAN_REFUSED        /* a transaction was cancelled for a reason of the item's own: an item error */
} wplan_verdict;

/* A guarded write failed its condition. ans is the decoded answer of a
 * ConditionalCheckFailedException (with ALL_OLD) or, for a move, of the
 * TransactionCanceledException (reasons: 0 the put, 1 the delete).
 * *current gets the item to run the script on again (RERUN). */
wplan_verdict wplan_on_conflict(const wplan_rules *r, const wplan *p, const ddb_answer *ans, int conflicts,
                                int max_conflicts, const ddb_item **current);

/* After WPLAN_FETCH: the item read with a consistent GetItem (NULL when
 * there is none). */
wplan_verdict wplan_on_fetch(const wplan_rules *r, const wplan *p, const ddb_item *now, int conflicts,
                             int max_conflicts, const ddb_item **current);

/* The current item read before a delete or move (NULL: it is gone):
 * WPLAN_PROCEED means go on with the write, RERUN (with *current) that it
 * changed since the script saw it. */
wplan_verdict wplan_on_fresh_read(const wplan_rules *r, const ddb_item *read, const ddb_item *now,
                                  const ddb_item **current);

/* True when `now` holds everything the plan wrote: each attribute of
 * final with its value, none of the removed ones. */
bool wplan_in_place(const wplan *p, const ddb_item *now);

/* A write given up at a stop with no answer may have been carried out.
 * What it wrote is kept with the checkpoint as JSON text,
 * {"set": {attribute: value...}, "remove": [names]} (an UPDATE's or a
 * PUT's attributes set and removed; other kinds are not in doubt: a delete
 * or a move done leaves nothing for the resume to scan, an unguarded put
 * is the same put again), and the resume asks wplan_wrote_in_place of the
 * item it scans: in place means the write applied, and the item is done. */
bool wplan_doubtful(const wplan *p);
int wplan_wrote_json(const wplan *p, dm_buf *out);
/* Checks text[0..len) is such a record (DM_ERR_PARSE with the reason). */
int wplan_wrote_check(const char *text, size_t len, dm_error *err);
/* True when `now` holds every attribute the record set, with its value,
 * and none it removed; false for a record that does not parse. */
bool wplan_wrote_in_place(const char *text, size_t len, const ddb_item *now);

#endif
