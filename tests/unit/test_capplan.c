/* Capacity decisions against recorded answers in AWS's shapes
 * (tests/fixtures/capacity): parsing, the method, pre-warm and restore
 * plans, the request of each step on the table as it is, DynamoDB's
 * limits, and the record's JSON. */
#include <stdlib.h>
#include <string.h>

#include "capacity/capplan.h"
#include "capacity/record.h"
#include "test.h"

static json_t *load(const char *name)
{
    json_error_t je;
    json_t *j = json_load_file(test_fixture(name), 0, &je);
    if (!j)
        abort();
    return j;
}

/* The orders table (provisioned, two indexes) with its scalable targets
 * and policies, or the events table (on-demand). */
static void state_of(const char *name, bool scaling, cap_state *s)
{
    memset(s, 0, sizeof *s);
    json_t *d = load(name);
    if (cap_state_from_table(json_object_get(d, "Table"), s, NULL) != DM_OK)
        abort();
    json_decref(d);
    if (scaling) {
        json_t *t = load("capacity/scalable_targets.json"), *p = load("capacity/scaling_policies.json");
        cap_state_add_targets(s, t);
        cap_state_add_policies(s, p);
        s->scaling_known = true;
        json_decref(t);
        json_decref(p);
    }
}

static char *dump(json_t *j)
{
    char *t = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return t;
}

/* The request of step i on fresh, compact with sorted keys ("" when none). */
static char *request_of(const cap_plan *p, int i, const cap_state *fresh, const char **op)
{
    json_t *req = NULL;
    if (cap_step_request(p, &p->steps[i], fresh, op, &req, NULL) != DM_OK)
        abort();
    return req ? dump(req) : strdup("");
}

TEST(parses_a_provisioned_table)
{
    cap_state s;
    state_of("capacity/describe_provisioned.json", false, &s);
    CHECK_STR(s.table, "orders");
    CHECK_STR(s.billing_mode, "PROVISIONED"); /* no BillingModeSummary */
    CHECK_INT(s.n, 3);
    CHECK(s.warm_reported);
    CHECK_INT(s.res[0].read, 50);
    CHECK_INT(s.res[0].write, 25);
    CHECK_INT(s.res[0].decreases_today, 2);
    CHECK_INT(s.res[0].last_decrease_ms, 1764060000250LL);
    CHECK_INT(s.res[0].last_increase_ms, 1764000000500LL);
    CHECK_INT(s.res[0].od_max_read, -1);
    CHECK_STR(s.res[1].index, "byStatus");
    CHECK_INT(s.res[2].decreases_today, 4);
    CHECK_INT(s.res[2].warm_write, 25);
    CHECK_INT(s.item_count, 12000000);
    cap_state_cleanup(&s);
}

TEST(parses_an_on_demand_table)
{
    cap_state s;
    state_of("capacity/describe_on_demand.json", false, &s);
    CHECK_STR(s.billing_mode, "PAY_PER_REQUEST");
    CHECK_INT(s.last_to_on_demand_ms, 1764100000000LL);
    CHECK_INT(s.res[0].od_max_read, -1);
    CHECK_INT(s.res[0].od_max_write, 2000);
    CHECK_INT(s.res[1].od_max_read, 3000);
    CHECK_INT(s.res[1].warm_read, 12000);
    CHECK_STR(s.res[1].warm_status, "ACTIVE");
    cap_state_cleanup(&s);
}

TEST(reads_scalable_targets_and_policies_of_this_table_only)
{
    cap_state s;
    state_of("capacity/describe_provisioned.json", true, &s);
    CHECK(!s.res[0].read_scaling.present); /* table/other's target is not ours */
    CHECK(s.res[0].write_scaling.present);
    CHECK_INT(s.res[0].write_scaling.min, 25);
    CHECK_INT(s.res[0].write_scaling.max, 400);
    CHECK_INT(s.res[0].write_scaling.n_policies, 1);
    CHECK(s.res[1].write_scaling.present && s.res[1].write_scaling.in_suspended);
    CHECK(!s.res[2].write_scaling.present);
    cap_state_cleanup(&s);
}

TEST(chooses_the_method_from_the_table)
{
    cap_state prov, od;
    state_of("capacity/describe_provisioned.json", true, &prov);
    state_of("capacity/describe_on_demand.json", false, &od);
    cap_goal g = {.read = 100, .write = 100};
    cap_plan *p;
    dm_error err = {0};
    CHECK_INT(cap_plan_prewarm(&prov, &g, &p, &err), DM_OK);
    CHECK_INT(p->method, CAP_METHOD_PROVISIONED);
    cap_plan_free(p);
    CHECK_INT(cap_plan_prewarm(&od, &g, &p, &err), DM_OK);
    CHECK_INT(p->method, CAP_METHOD_WARM);
    cap_plan_free(p);
    od.warm_reported = false; /* DynamoDB Local */
    CHECK_INT(cap_plan_prewarm(&od, &g, &p, &err), DM_OK);
    CHECK_INT(p->method, CAP_METHOD_TOGGLE);
    cap_plan_free(p);
    g.method = CAP_METHOD_WARM;
    CHECK_INT(cap_plan_prewarm(&od, &g, &p, &err), DM_ERR_CONFIG);
    CHECK_CONTAINS(err.message, "reports no warm throughput");
    g.method = CAP_METHOD_TOGGLE;
    CHECK_INT(cap_plan_prewarm(&prov, &g, &p, &err), DM_ERR_CONFIG);
    CHECK_CONTAINS(err.message, "toggle is for on-demand tables");
    g = (cap_goal){.read = 0, .write = 10};
    CHECK_INT(cap_plan_prewarm(&prov, &g, &p, &err), DM_ERR_INVALID);
    cap_state_cleanup(&prov);
    cap_state_cleanup(&od);
}

TEST(raises_provisioned_capacity_through_scalable_targets)
{
    cap_state s;
    state_of("capacity/describe_provisioned.json", true, &s);
    cap_goal g = {.read = 500, .write = 300};
    cap_plan *p;
    CHECK_INT(cap_plan_prewarm(&s, &g, &p, NULL), DM_OK);
    /* table: write target, units; byStatus: write target, units; byOrder: units */
    CHECK_INT(p->n_steps, 5);
    CHECK_INT(p->steps[0].kind, CAP_STEP_SCALING);
    CHECK(p->steps[0].write_dim);
    CHECK_INT(p->steps[0].scaling.min, 300);
    CHECK_INT(p->steps[0].scaling.max, 400); /* above the goal already: kept */
    CHECK_INT(p->steps[1].kind, CAP_STEP_PROVISIONED);
    CHECK_INT(p->steps[1].read, 500);
    CHECK_INT(p->steps[1].write, 300);
    CHECK_INT(p->steps[3].read, 10); /* index reads are not raised */
    CHECK_INT(p->steps[3].write, 300);
    const char *op;
    char *req = request_of(p, 2, &s, &op);
    CHECK_STR(op, "RegisterScalableTarget");
    CHECK_STR(req, "{\"MaxCapacity\":300,\"MinCapacity\":300,\"ResourceId\":\"table/orders/index/byStatus\","
                   "\"ScalableDimension\":\"dynamodb:index:WriteCapacityUnits\",\"ServiceNamespace\":\"dynamodb\","
                   "\"SuspendedState\":{\"DynamicScalingInSuspended\":true,\"DynamicScalingOutSuspended\":false,"
                   "\"ScheduledScalingSuspended\":false}}");
    free(req);
    req = request_of(p, 4, &s, &op);
    CHECK_STR(op, "UpdateTable");
    CHECK_STR(req, "{\"GlobalSecondaryIndexUpdates\":[{\"Update\":{\"IndexName\":\"byOrder\",\"ProvisionedThroughput\":"
                   "{\"ReadCapacityUnits\":5,\"WriteCapacityUnits\":300}}}],\"TableName\":\"orders\"}");
    free(req);
    CHECK(p->ceiling_read == 400 && p->ceiling_write == 240);
    /* Done already (scaling raised it): nothing to send. */
    s.res[0].read = 500;
    s.res[0].write = 300;
    req = request_of(p, 1, &s, &op);
    CHECK_STR(req, "");
    free(req);
    cap_plan_free(p);
    cap_state_cleanup(&s);
}

TEST(raises_warm_throughput_only_upward_and_says_what_it_costs)
{
    cap_state s;
    state_of("capacity/describe_on_demand.json", false, &s);
    cap_goal g = {.method = CAP_METHOD_WARM, .read = 20000, .write = 9000, .warm_read_price = 0.001,
                  .warm_write_price = 0.002};
    cap_plan *p;
    CHECK_INT(cap_plan_prewarm(&s, &g, &p, NULL), DM_OK);
    CHECK_INT(p->warm_read_added, 8000);   /* the table's reads only */
    CHECK_INT(p->warm_write_added, 10000); /* table and index */
    CHECK(p->charge_usd > 27.99 && p->charge_usd < 28.01);
    CHECK(cap_plan_charged(p));
    CHECK_CONTAINS(p->notes[0], "can never be lowered");
    const char *op;
    char *req = NULL;
    for (int i = 0; i < p->n_steps; i++)
        if (p->steps[i].kind == CAP_STEP_WARM && p->steps[i].res == 1)
            req = request_of(p, i, &s, &op);
    CHECK(req != NULL);
    CHECK_STR(req, "{\"GlobalSecondaryIndexUpdates\":[{\"Update\":{\"IndexName\":\"gsi1\",\"WarmThroughput\":"
                   "{\"WriteUnitsPerSecond\":9000}}}],\"TableName\":\"events\"}");
    free(req);
    /* The on-demand maximums below the goal are lifted for the run. */
    int od_steps = 0;
    for (int i = 0; i < p->n_steps; i++)
        if (p->steps[i].kind == CAP_STEP_OD_MAX) {
            od_steps++;
            CHECK_INT(p->steps[i].write, 9000);
            CHECK_INT(p->steps[i].read, p->steps[i].res == 0 ? -1 : 3000);
        }
    CHECK_INT(od_steps, 2);
    CHECK(p->ceiling_write == 9000);
    cap_plan_free(p);
    cap_state_cleanup(&s);
}

TEST(toggles_through_provisioned_and_keeps_the_maximums)
{
    cap_state s;
    state_of("capacity/describe_on_demand.json", false, &s);
    s.warm_reported = false;
    /* Below what on-demand serves at once: nothing to do, never lower. */
    cap_goal g = {.read = 100, .write = 4000};
    cap_plan *p;
    CHECK_INT(cap_plan_prewarm(&s, &g, &p, NULL), DM_OK);
    CHECK_INT(p->method, CAP_METHOD_TOGGLE);
    CHECK_INT(p->n_steps, 0);
    cap_plan_free(p);
    g = (cap_goal){.read = 100, .write = 5000};
    CHECK_INT(cap_plan_prewarm(&s, &g, &p, NULL), DM_OK);
    CHECK_INT(p->n_steps, 2);
    CHECK(p->ceiling_write == 2000); /* within the table's on-demand maximum */
    const char *op;
    char *req = request_of(p, 0, &s, &op);
    CHECK_STR(req, "{\"BillingMode\":\"PROVISIONED\",\"GlobalSecondaryIndexUpdates\":[{\"Update\":{\"IndexName\":"
                   "\"gsi1\",\"ProvisionedThroughput\":{\"ReadCapacityUnits\":12000,\"WriteCapacityUnits\":5000}}}],"
                   "\"ProvisionedThroughput\":{\"ReadCapacityUnits\":12000,\"WriteCapacityUnits\":5000},"
                   "\"TableName\":\"events\"}");
    free(req);
    /* The way back, on the table as it is after the first switch. */
    strcpy(s.billing_mode, "PROVISIONED");
    req = request_of(p, 1, &s, &op);
    CHECK_STR(req, "{\"BillingMode\":\"PAY_PER_REQUEST\",\"GlobalSecondaryIndexUpdates\":[{\"Update\":{\"IndexName\":"
                   "\"gsi1\",\"OnDemandThroughput\":{\"MaxReadRequestUnits\":3000,\"MaxWriteRequestUnits\":1000}}}],"
                   "\"OnDemandThroughput\":{\"MaxReadRequestUnits\":-1,\"MaxWriteRequestUnits\":2000},"
                   "\"TableName\":\"events\"}");
    free(req);
    CHECK_CONTAINS(p->notes[0], "4 switches to on-demand");
    cap_plan_free(p);
    cap_state_cleanup(&s);
}

TEST(restores_targets_before_units_and_never_lowers_warm_throughput)
{
    cap_state orig, now;
    state_of("capacity/describe_provisioned.json", true, &orig);
    state_of("capacity/describe_provisioned.json", true, &now);
    now.res[0].read = 500;
    now.res[0].write = 300;
    now.res[0].write_scaling.min = now.res[0].write_scaling.max = 300;
    now.res[0].warm_write = 300;
    now.res[1].write = 300;
    now.res[1].write_scaling.min = 300;
    cap_plan *p;
    CHECK_INT(cap_plan_restore(&orig, &now, &p, NULL), DM_OK);
    CHECK_INT(p->n_steps, 4);
    CHECK_INT(p->steps[0].kind, CAP_STEP_SCALING);
    CHECK_INT(p->steps[0].scaling.min, 25);
    CHECK_INT(p->steps[0].scaling.max, 400);
    CHECK_INT(p->steps[1].kind, CAP_STEP_PROVISIONED);
    CHECK(p->steps[1].decrease);
    CHECK_INT(p->steps[1].read, 50);
    CHECK(p->steps[2].scaling.in_suspended); /* byStatus: as it was */
    CHECK_INT(p->steps[3].write, 20);
    CHECK_INT(p->n_notes, 1);
    CHECK_CONTAINS(p->notes[0], "never lowers it");
    cap_plan_free(p);
    /* Killed between the two switches of a toggle: back to on-demand. */
    cap_state od, mid;
    state_of("capacity/describe_on_demand.json", false, &od);
    state_of("capacity/describe_on_demand.json", false, &mid);
    strcpy(mid.billing_mode, "PROVISIONED");
    CHECK_INT(cap_plan_restore(&od, &mid, &p, NULL), DM_OK);
    CHECK_INT(p->n_steps, 1);
    CHECK(p->steps[0].kind == CAP_STEP_BILLING && p->steps[0].on_demand);
    CHECK_INT(p->od_units[1], 2000);
    cap_plan_free(p);
    /* Nothing changed: nothing to do. */
    CHECK_INT(cap_plan_restore(&od, &od, &p, NULL), DM_OK);
    CHECK_INT(p->n_steps, 0);
    cap_plan_free(p);
    CHECK_INT(cap_plan_restore(&od, &orig, &p, NULL), DM_ERR_INVALID); /* another table */
    /* On-demand maximums go back by index name, whatever the order. */
    cap_state od2;
    state_of("capacity/describe_on_demand.json", false, &od2);
    od2.res[1].od_max_write = 9000;
    cap_resource t = od2.res[0];
    od2.res[0] = od2.res[1];
    od2.res[1] = t; /* an index listed first cannot happen, but order must not matter */
    strcpy(od2.res[1].index, "");
    strcpy(od2.res[0].index, "gsi1");
    CHECK_INT(cap_plan_restore(&od, &od2, &p, NULL), DM_OK);
    CHECK_INT(p->n_steps, 1);
    CHECK(p->steps[0].kind == CAP_STEP_OD_MAX && p->steps[0].res == 1 && p->steps[0].write == 1000);
    cap_plan_free(p);
    cap_state_cleanup(&od2);
    /* Someone switched the raised table to on-demand: back to provisioned,
     * and the scalable targets too; an index made meanwhile gets units. */
    cap_state sw;
    state_of("capacity/describe_provisioned.json", true, &sw);
    strcpy(sw.billing_mode, "PAY_PER_REQUEST");
    sw.res[0].write_scaling.min = 300;
    CHECK_INT(cap_plan_restore(&orig, &sw, &p, NULL), DM_OK);
    CHECK(p->steps[0].kind == CAP_STEP_BILLING && !p->steps[0].on_demand);
    bool target = false;
    for (int i = 1; i < p->n_steps; i++)
        target = target || (p->steps[i].kind == CAP_STEP_SCALING && p->steps[i].scaling.min == 25);
    CHECK(target);
    cap_state grown;
    state_of("capacity/describe_provisioned.json", false, &grown);
    strcpy(grown.billing_mode, "PAY_PER_REQUEST");
    cap_resource *more = realloc(grown.res, (size_t)(grown.n + 1) * sizeof *more);
    CHECK(more != NULL);
    grown.res = more;
    memset(&grown.res[grown.n], 0, sizeof grown.res[0]);
    strcpy(grown.res[grown.n].index, "added");
    grown.n++;
    const char *op2;
    char *req2 = request_of(p, 0, &grown, &op2);
    CHECK_CONTAINS(req2, "\"IndexName\":\"added\",\"ProvisionedThroughput\":{\"ReadCapacityUnits\":50,");
    free(req2);
    cap_plan_free(p);
    cap_state_cleanup(&sw);
    cap_state_cleanup(&grown);
    cap_state_cleanup(&orig);
    cap_state_cleanup(&now);
    cap_state_cleanup(&od);
    cap_state_cleanup(&mid);
}

TEST(knows_when_a_decrease_or_a_switch_is_allowed)
{
    const int64_t h = 3600000, day = 24 * h, d0 = 20000 * day; /* a UTC midnight */
    CHECK_INT(cap_next_decrease_ms(0, 0, d0 + 5 * h), d0 + 5 * h);
    CHECK_INT(cap_next_decrease_ms(3, d0 + 5 * h - 1000, d0 + 5 * h), d0 + 5 * h);
    CHECK_INT(cap_next_decrease_ms(4, d0 + 5 * h - 600000, d0 + 5 * h), d0 + 6 * h - 600000);
    CHECK_INT(cap_next_decrease_ms(9, d0 + 3 * h, d0 + 5 * h), d0 + 5 * h);
    CHECK_INT(cap_next_decrease_ms(4, d0 - 1000, d0 + 1000), d0 + 1000);           /* yesterday's count */
    CHECK_INT(cap_next_decrease_ms(5, d0 + day - 1800000, d0 + day - 60000), d0 + day); /* midnight first */
    int64_t t = d0 + 12 * h;
    int64_t three[] = {t - 23 * h, t - 10 * h, t - h};
    CHECK_INT(cap_next_on_demand_ms(three, 3, t), t);
    int64_t four[] = {t - h, t - 23 * h, t - 5 * h, t - 10 * h, t - 30 * h};
    CHECK_INT(cap_next_on_demand_ms(four, 5, t), t + h);
}

TEST(record_round_trips_and_refuses_corruption)
{
    cap_record r;
    memset(&r, 0, sizeof r);
    state_of("capacity/describe_provisioned.json", true, &r.original);
    strcpy(r.status, "pending");
    strcpy(r.method, "provisioned");
    r.created_ms = 1764000000000LL;
    r.updated_ms = 1764000001000LL;
    cap_record_add_switch(&r, 1764000000500LL);
    CHECK_INT(cap_record_add_pending(&r, "table orders: provisioned 50 read, 25 write units", 1764003600000LL,
                                     "LimitExceededException: decreases", NULL),
              DM_OK);
    char *text = dump(cap_record_json(&r));
    cap_record back;
    dm_error err = {0};
    CHECK_INT(cap_record_parse(text, strlen(text), &back, &err), DM_OK);
    char *again = dump(cap_record_json(&back));
    CHECK_STR(again, text);
    CHECK_INT(back.original.res[1].write_scaling.min, 20);
    CHECK(back.original.res[1].write_scaling.in_suspended);
    CHECK_INT(back.pending[0].not_before_ms, 1764003600000LL);
    cap_record_cleanup(&back);
    static const char *const bad[][2] = {
        {"\"status\":\"pending\"", "\"status\":\"lost\""},
        {"\"ddbmig_capacity_record\":1", "\"ddbmig_capacity_record\":2"},
        {"\"min\":25", "\"min\":401"},
        {"\"index\":\"byOrder\"", "\"index\":\"byStatus\""},
        {"\"billing_mode\":\"PROVISIONED\"", "\"billing_mode\":\"FREE\""},
        {"\"not_before_ms\":1764003600000", "\"not_before_ms\":\"soon\""},
        {"\"read\":50", "\"read\":-5"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *p = strstr(text, bad[i][0]);
        CHECK(p != NULL);
        if (!p)
            continue;
        char edited[16384];
        snprintf(edited, sizeof edited, "%.*s%s%s", (int)(p - text), text, bad[i][1], p + strlen(bad[i][0]));
        cap_record x;
        CHECK_INT(cap_record_parse(edited, strlen(edited), &x, &err), DM_ERR_PARSE);
    }
    CHECK_INT(cap_record_parse("{", 1, &back, &err), DM_ERR_PARSE);
    free(text);
    free(again);
    cap_record_cleanup(&r);
}

TEST(default_goal_follows_the_table_and_the_caps)
{
    long long r, w;
    cap_default_goal(12000000, 3221225472LL, false, 0, 0, &r, &w);
    CHECK_INT(r, 1311);   /* 393,216 read units over five minutes */
    CHECK_INT(w, 40000);  /* 12M writes over five minutes, at the default quota */
    cap_default_goal(12000000, 3221225472LL, true, 0, 500, &r, &w);
    CHECK_INT(r, 2622);
    CHECK_INT(w, 500);
    cap_default_goal(0, 0, false, 0, 0, &r, &w);
    CHECK(r == 1 && w == 1);
}
