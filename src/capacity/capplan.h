/* Capacity decisions, as pure functions with unit tests
 * (tests/unit/test_capplan.c): reading DescribeTable and Application Auto
 * Scaling answers into a cap_state, planning a pre-warm or a restore as
 * steps, turning a step into the request that does it on the table as it
 * is now, DynamoDB's limits on decreases and switches, and the record's
 * JSON (fuzzed: tests/fuzz/fuzz_caprecord.c). capacity.c does the calls. */
#ifndef DDBMIG_CAPACITY_CAPPLAN_H
#define DDBMIG_CAPACITY_CAPPLAN_H

#include "ddbmig/capacity.h"

typedef enum cap_step_kind {
    CAP_STEP_PROVISIONED, /* UpdateTable: one resource's read/write units */
    CAP_STEP_BILLING,     /* UpdateTable: billing mode (units for every resource when to PROVISIONED) */
    CAP_STEP_WARM,        /* UpdateTable: raise one resource's warm throughput */
    CAP_STEP_OD_MAX,      /* UpdateTable: one resource's on-demand maximum */
    CAP_STEP_SCALING      /* RegisterScalableTarget: one dimension of one resource */
} cap_step_kind;

typedef struct cap_step {
    cap_step_kind kind;
    int res;              /* resource index; BILLING: -1 */
    bool write_dim;       /* SCALING: the write dimension */
    long long read, write; /* PROVISIONED, WARM, OD_MAX: wanted */
    cap_scaling scaling;  /* SCALING: wanted min, max, suspended state */
    bool on_demand;       /* BILLING: to PAY_PER_REQUEST (else PROVISIONED) */
    bool decrease;        /* lowers provisioned units: counted by DynamoDB */
} cap_step;

#define CAP_MAX_NOTES 8

struct cap_plan {
    cap_method method;
    long long read, write;         /* the goal */
    char table[256];
    int n_res;
    /* BILLING steps' units per resource: [2*i] read, [2*i+1] write; for
     * a switch to on-demand, od_units are the maximums to set (-1: none). */
    long long *units;              /* owned, 2 * n_res */
    long long *od_units;           /* on-demand maximums for a switch to on-demand; owned, 2 * n_res */
    char (*names)[256];            /* index names, n_res; owned */
    int n_steps;
    cap_step *steps;               /* owned */
    long long warm_read_added, warm_write_added; /* charged raise */
    double charge_usd;             /* 0 when prices are unknown */
    double ceiling_read, ceiling_write;
    int n_notes;
    char notes[CAP_MAX_NOTES][300];
};

/* Parses DescribeTable's Table object (borrowed) into out (cleaned up
 * first). Scaling fields are left empty. */
int cap_state_from_table(json_t *table, cap_state *out, dm_error *err);
/* Adds a DescribeScalableTargets / DescribeScalingPolicies answer. */
void cap_state_add_targets(cap_state *s, json_t *answer);
void cap_state_add_policies(cap_state *s, json_t *answer);
/* The ResourceId of resource i: "table/T" or "table/T/index/I". */
void cap_resource_id(const cap_state *s, int i, char *out, size_t size);

/* cap_state_json's inverse, for records. DM_ERR_PARSE with the reason. */
int cap_state_from_json(json_t *j, cap_state *out, dm_error *err);

/* What a restore must do to bring now back to orig. */
int cap_plan_restore(const cap_state *orig, const cap_state *now, cap_plan **out, dm_error *err);

/* The request for step st on the table as fresh says it is now: *op is
 * "UpdateTable" or "RegisterScalableTarget", *req the body (owned), or
 * NULL when the step is already in place. */
int cap_step_request(const cap_plan *p, const cap_step *st, const cap_state *fresh, const char **op, json_t **req,
                     dm_error *err);
/* One line saying what the step does. */
void cap_step_describe(const cap_plan *p, const cap_step *st, char *out, size_t size);

/* DynamoDB's rule for provisioned decreases: four at any time in a UTC
 * day, then one more whenever none was made in the past hour. The time
 * (ms since the epoch) from which the next decrease is allowed: now_ms
 * when it is allowed now. */
int64_t cap_next_decrease_ms(int decreases_today, int64_t last_decrease_ms, int64_t now_ms);
/* Switches to on-demand: at most four in a rolling 24 hours. times_ms
 * are the switches known (any order); the time the next one is allowed. */
int64_t cap_next_on_demand_ms(const int64_t *times_ms, int n, int64_t now_ms);

#endif
