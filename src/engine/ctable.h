/* The checkpoint table: a run's cursors in DynamoDB, shared by every
 * process that runs the same migration (ddbmig run --checkpoint-table,
 * the Lambda handler, the pods of a Kubernetes Job).
 *
 * One item per migration and segment, id "<migration>#<segment>":
 * status (running, free, done), owner and lease_until (ms since the
 * epoch), version, cursor (the ExclusiveStartKey after the last written
 * item, as compact JSON), counts. Every change of a segment's item is
 * conditional on its version (and, for progress, on the owner), so two
 * processes never own a segment at once and a cursor never moves back;
 * an owner that stops renewing its lease is replaced once it expires.
 * One more item, "<migration>#meta", holds the migration's table,
 * script hash, segment count and bound options, written once: a process
 * with another script or options is refused. */
#ifndef DDBMIG_ENGINE_CTABLE_H
#define DDBMIG_ENGINE_CTABLE_H

#include "engine_impl.h"

typedef struct ctable ctable;

/* Makes sure the table exists (creating it, asked or with --yes), checks
 * the meta item of a migration already begun, and sets up r->segs (all pending: segments are
 * claimed one by one). r->n_segs comes from the meta item when it exists. */
int ctable_open(run_state *r, ddb_client *c, dm_error *err);
/* Before the first write: the items of the segments this process may
 * work on are ones it can go on from (DM_ERR_CONFIG naming the first that
 * is not), so that a malformed one is refused before anything is written
 * rather than when its segment's turn comes. */
int ctable_check(run_state *r, ddb_client *c, dm_error *err);
void ctable_free(ctable *ct);
/* After the go-ahead, before the first write: writes the meta item of a
 * new migration (refusing, if another process began it meanwhile, other
 * options or another segment count). */
int ctable_commit(run_state *r, ddb_client *c, dm_error *err);

/* Claims a segment for this process (from r->seg_list or all): *out, or
 * NULL when every one is done or the run stops. With wait, when only
 * segments owned by others are left, waits for their leases to expire
 * (their owner may be gone); without, returns NULL then (the caller has
 * other segments to work, and holding them unworked while waiting could
 * leave two processes waiting on each other). */
int ctable_claim(run_state *r, ddb_client *c, bool wait, seg_state **out, dm_error *err);

/* Writes the progress of the segments this process owns and renews their
 * leases; final: also gives up those not done. A segment taken over
 * meanwhile is marked lost. */
int ctable_flush(run_state *r, ddb_client *c, bool final, dm_error *err);

/* Whether this process may go on working on s: not taken over, and its
 * lease renewed recently enough. */
bool ctable_holds(run_state *r, seg_state *s);

/* How often progress is written and leases renewed: well within a lease. */
int64_t ctable_flush_every_ms(const run_state *r);

/* A client for the flushes of the monitor thread. */
ddb_client *ctable_client(run_state *r);

#endif
