/* Capacity of a table around a migration: what it is (DescribeTable and
 * Application Auto Scaling), raising it before a run (pre-warm), and
 * putting back exactly what was there after it, within DynamoDB's limits
 * on decreases and billing-mode switches.
 *
 * Every change is preceded by a record of the original settings, saved
 * durably (cap_record_*): a crash between the raise and the restore leaves
 * the record, and cap_restore finishes the job later. A restore that
 * DynamoDB refuses for now (decrease or switch limits) is kept in the
 * record as pending, with the time it becomes possible.
 *
 * Planning is pure (capplan.h inside the library, with unit tests); this
 * header is what the command line and the Lambda handler call. */
#ifndef DDBMIG_CAPACITY_H
#define DDBMIG_CAPACITY_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ddbmig/common.h"
#include "ddbmig/ddb.h"

/* An Application Auto Scaling target of one dimension (read or write) of
 * the table or an index. */
typedef struct cap_scaling {
    bool present;
    long long min, max;
    bool in_suspended, out_suspended, scheduled_suspended;
    int n_policies;
} cap_scaling;

/* The table ([0]) or one global secondary index. */
typedef struct cap_resource {
    char index[256];            /* "" for the table */
    char status[24];            /* TableStatus / IndexStatus */
    long long read, write;      /* provisioned units; 0 when on-demand */
    long long od_max_read, od_max_write; /* OnDemandThroughput; -1: no maximum */
    long long warm_read, warm_write;     /* WarmThroughput; -1: not reported */
    char warm_status[24];
    int decreases_today;
    int64_t last_decrease_ms, last_increase_ms; /* 0: never / unknown */
    cap_scaling read_scaling, write_scaling;
} cap_resource;

typedef struct cap_state {
    char table[256];
    char billing_mode[24];      /* PROVISIONED or PAY_PER_REQUEST */
    int64_t last_to_on_demand_ms; /* BillingModeSummary.LastUpdateToPayPerRequestDateTime; 0: none */
    long long item_count, size_bytes;
    bool warm_reported;         /* the endpoint reports warm throughput */
    bool scaling_known;         /* Application Auto Scaling was asked */
    char scaling_note[200];     /* why not, when not */
    int n;                      /* resources; res[0] is the table */
    cap_resource *res;          /* owned */
} cap_state;

void cap_state_cleanup(cap_state *s);

typedef enum cap_method {
    CAP_METHOD_AUTO = 0,
    CAP_METHOD_WARM,        /* warm-throughput */
    CAP_METHOD_PROVISIONED, /* provisioned */
    CAP_METHOD_TOGGLE       /* toggle */
} cap_method;

/* "warm-throughput", "provisioned", "toggle" (and "auto"). */
const char *cap_method_name(cap_method m);
int cap_method_parse(const char *s, cap_method *out);

/* The clients capacity work uses: DynamoDB, and Application Auto Scaling
 * (NULL when not reachable: a custom DynamoDB endpoint without one). */
typedef struct cap_clients {
    ddb_client *ddb;
    ddb_client *scaling;
    const char *scaling_note;   /* why scaling is NULL */
    volatile sig_atomic_t *stop; /* borrowed; waits give up when set */
    int wait_timeout_s;          /* waiting for ACTIVE; 0: 1800 */
    FILE *progress;              /* what is done and waited for; NULL: none */
    FILE *notices;               /* what the user must know (pending steps,
                                  * warm throughput kept); NULL: progress */
} cap_clients;

/* DescribeTable plus the scalable targets and policies of the table and
 * its indexes. */
int cap_describe(const cap_clients *c, const char *table, cap_state *out, dm_error *err);

/* Text (for people) or JSON of a state. */
void cap_state_print(const cap_state *s, FILE *f);
json_t *cap_state_json(const cap_state *s);

/* What to pre-warm for. */
typedef struct cap_goal {
    cap_method method;          /* AUTO: chosen from the table */
    long long read, write;      /* units per second */
    double warm_read_price, warm_write_price; /* USD per unit per second raised; 0: unknown */
} cap_goal;

/* Pre-warm targets a run can use: every item read once and, if it
 * changes, written once, over no less than five minutes, within the
 * caps (0: none) and DynamoDB's default table quota of 40,000. */
void cap_default_goal(long long item_count, long long size_bytes, bool consistent, double max_read,
                      double max_write, long long *read, long long *write);

typedef struct cap_plan cap_plan; /* capplan.h */

/* Where a capacity record is kept: a file (a run's CHECKPOINT.capacity.json,
 * locked while in use), or the item "<migration>#capacity" of a checkpoint
 * table (for processes on many machines, Lambda: every write conditional
 * on the version read). */
typedef struct cap_where {
    const char *path;        /* a file; NULL: the checkpoint table */
    ddb_client *ddb;         /* the table's client */
    const char *table;       /* the checkpoint table */
    const char *migration;
} cap_where;

/* For messages: the file, or "TABLE (MIGRATION#capacity)". */
void cap_where_name(const cap_where *w, char *out, size_t size);

/* Plans a pre-warm of s toward goal: the method, the steps, the charge.
 * DM_ERR_CONFIG with the reason when the method cannot apply (warm
 * throughput on an endpoint without it, toggle on a provisioned table). */
int cap_plan_prewarm(const cap_state *s, const cap_goal *goal, cap_plan **out, dm_error *err);
void cap_plan_free(cap_plan *p);
/* The plan for people, one line each, indented by indent. */
void cap_plan_print(const cap_plan *p, const char *indent, FILE *f);
bool cap_plan_empty(const cap_plan *p);
bool cap_plan_charged(const cap_plan *p);
/* Rate ceilings for the run while raised (units per second; 0: none). */
void cap_plan_ceiling(const cap_plan *p, double *read, double *write);
cap_method cap_plan_method(const cap_plan *p);

typedef enum cap_outcome {
    CAP_DONE = 0,      /* everything applied / restored */
    CAP_PENDING = 1,   /* part of a restore must wait: see the record */
} cap_outcome;

/* Applies a pre-warm plan: under the record's lock, describes the table
 * again and records that as the original (or keeps the original of an
 * unfinished record, so that a second raise never takes raised values for
 * original ones), then changes the table and waits until it is ACTIVE
 * again. A switch back to on-demand that DynamoDB refuses for its limits
 * is left pending in the record (the table stays provisioned, raised).
 * *changed: whether the table or the record may have changed (then
 * cap_restore puts back what was changed, also after a failure). */
int cap_prewarm(const cap_clients *c, const cap_plan *p, const cap_where *w, bool *changed, dm_error *err);

/* Puts back the settings the record at record_path holds, as far as
 * DynamoDB allows now. *out: CAP_DONE (record marked restored) or
 * CAP_PENDING (what waits and until when is in the record and printed to
 * c->progress). A record already restored is CAP_DONE at once. */
int cap_restore(const cap_clients *c, const cap_where *w, cap_outcome *out, dm_error *err);

/* The record kept beside a run's checkpoint: CHECKPOINT.capacity.json. A
 * path that already names a record is kept. */
void cap_record_path(const char *checkpoint_or_record, char *out, size_t size);
/* The table and status ("raising", "raised", "restoring", "pending",
 * "restored") of the record at record_path; DM_ERR_IO when there is
 * none, DM_ERR_PARSE when it cannot be read. */
int cap_record_info(const cap_where *w, char *table, size_t tsize, char *status, size_t ssize, dm_error *err);

#endif
