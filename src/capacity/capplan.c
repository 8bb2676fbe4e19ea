/* Capacity decisions: pure functions over parsed answers (see capplan.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capacity/capplan.h"

static const char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static long long jll(json_t *o, const char *k, long long dflt)
{
    json_t *v = json_object_get(o, k);
    if (json_is_integer(v))
        return (long long)json_integer_value(v);
    if (json_is_real(v) && isfinite(json_real_value(v)) && fabs(json_real_value(v)) < 9e15)
        return (long long)json_real_value(v);
    return dflt;
}

/* DynamoDB's DateTime fields are epoch seconds, with a fraction. */
static int64_t jtime_ms(json_t *o, const char *k)
{
    double v = json_number_value(json_object_get(o, k));
    return isfinite(v) && v > 0 && v < 1e11 ? (int64_t)(v * 1000.0) : 0;
}

void cap_state_cleanup(cap_state *s)
{
    free(s->res);
    memset(s, 0, sizeof *s);
}

const char *cap_method_name(cap_method m)
{
    switch (m) {
    case CAP_METHOD_WARM: return "warm-throughput";
    case CAP_METHOD_PROVISIONED: return "provisioned";
    case CAP_METHOD_TOGGLE: return "toggle";
    default: return "auto";
    }
}

int cap_method_parse(const char *s, cap_method *out)
{
    for (int m = CAP_METHOD_AUTO; m <= CAP_METHOD_TOGGLE; m++)
        if (strcmp(s, cap_method_name((cap_method)m)) == 0) {
            *out = (cap_method)m;
            return DM_OK;
        }
    return DM_ERR_INVALID;
}

static void fill_resource(json_t *o, cap_resource *r, bool *warm)
{
    json_t *pt = json_object_get(o, "ProvisionedThroughput");
    r->read = jll(pt, "ReadCapacityUnits", 0);
    r->write = jll(pt, "WriteCapacityUnits", 0);
    r->decreases_today = (int)jll(pt, "NumberOfDecreasesToday", 0);
    r->last_decrease_ms = jtime_ms(pt, "LastDecreaseDateTime");
    r->last_increase_ms = jtime_ms(pt, "LastIncreaseDateTime");
    json_t *od = json_object_get(o, "OnDemandThroughput");
    r->od_max_read = jll(od, "MaxReadRequestUnits", -1);
    r->od_max_write = jll(od, "MaxWriteRequestUnits", -1);
    json_t *wt = json_object_get(o, "WarmThroughput");
    r->warm_read = jll(wt, "ReadUnitsPerSecond", -1);
    r->warm_write = jll(wt, "WriteUnitsPerSecond", -1);
    dm_strlcpy(r->warm_status, jstr(wt, "Status"), sizeof r->warm_status);
    if (json_is_object(wt))
        *warm = true;
}

int cap_state_from_table(json_t *t, cap_state *out, dm_error *err)
{
    cap_state_cleanup(out);
    if (!json_is_object(t) || !*jstr(t, "TableName"))
        return dm_error_set(err, DM_ERR_PARSE, "DescribeTable: the answer has no table");
    dm_strlcpy(out->table, jstr(t, "TableName"), sizeof out->table);
    json_t *bm = json_object_get(t, "BillingModeSummary");
    /* Tables older than billing modes report no summary: provisioned. */
    dm_strlcpy(out->billing_mode, *jstr(bm, "BillingMode") ? jstr(bm, "BillingMode") : "PROVISIONED",
               sizeof out->billing_mode);
    out->last_to_on_demand_ms = jtime_ms(bm, "LastUpdateToPayPerRequestDateTime");
    out->item_count = jll(t, "ItemCount", 0);
    out->size_bytes = jll(t, "TableSizeBytes", 0);
    json_t *gsis = json_object_get(t, "GlobalSecondaryIndexes");
    size_t n = 1 + (json_is_array(gsis) ? json_array_size(gsis) : 0);
    if (n > 1000)
        return dm_error_set(err, DM_ERR_PARSE, "DescribeTable: %zu indexes", n - 1);
    out->res = calloc(n, sizeof *out->res);
    if (!out->res)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    out->n = (int)n;
    dm_strlcpy(out->res[0].status, jstr(t, "TableStatus"), sizeof out->res[0].status);
    fill_resource(t, &out->res[0], &out->warm_reported);
    for (size_t i = 1; i < n; i++) {
        json_t *g = json_array_get(gsis, i - 1);
        cap_resource *r = &out->res[i];
        if (!*jstr(g, "IndexName")) {
            cap_state_cleanup(out);
            return dm_error_set(err, DM_ERR_PARSE, "DescribeTable: an index has no name");
        }
        dm_strlcpy(r->index, jstr(g, "IndexName"), sizeof r->index);
        dm_strlcpy(r->status, jstr(g, "IndexStatus"), sizeof r->status);
        fill_resource(g, r, &out->warm_reported);
        for (size_t k = 1; k < i; k++)
            if (strcmp(out->res[k].index, r->index) == 0) {
                cap_state_cleanup(out);
                return dm_error_set(err, DM_ERR_PARSE, "DescribeTable: the index %s appears twice",
                                    json_string_value(json_object_get(g, "IndexName")));
            }
    }
    return DM_OK;
}

void cap_resource_id(const cap_state *s, int i, char *out, size_t size)
{
    if (i == 0)
        snprintf(out, size, "table/%s", s->table);
    else
        snprintf(out, size, "table/%s/index/%s", s->table, s->res[i].index);
}

/* The resource and dimension an Application Auto Scaling entry is about. */
static cap_scaling *scaling_of(cap_state *s, json_t *e)
{
    const char *id = jstr(e, "ResourceId"), *dim = jstr(e, "ScalableDimension");
    char want[600];
    for (int i = 0; i < s->n; i++) {
        cap_resource_id(s, i, want, sizeof want);
        if (strcmp(id, want) != 0)
            continue;
        const char *kind = i == 0 ? "dynamodb:table:" : "dynamodb:index:";
        size_t kl = strlen(kind);
        if (strncmp(dim, kind, kl) != 0)
            return NULL;
        if (strcmp(dim + kl, "ReadCapacityUnits") == 0)
            return &s->res[i].read_scaling;
        if (strcmp(dim + kl, "WriteCapacityUnits") == 0)
            return &s->res[i].write_scaling;
        return NULL;
    }
    return NULL;
}

void cap_state_add_targets(cap_state *s, json_t *answer)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(answer, "ScalableTargets"), i, e) {
        cap_scaling *sc = scaling_of(s, e);
        if (!sc)
            continue;
        sc->present = true;
        sc->min = jll(e, "MinCapacity", 0);
        sc->max = jll(e, "MaxCapacity", 0);
        json_t *ss = json_object_get(e, "SuspendedState");
        sc->in_suspended = json_is_true(json_object_get(ss, "DynamicScalingInSuspended"));
        sc->out_suspended = json_is_true(json_object_get(ss, "DynamicScalingOutSuspended"));
        sc->scheduled_suspended = json_is_true(json_object_get(ss, "ScheduledScalingSuspended"));
    }
}

void cap_state_add_policies(cap_state *s, json_t *answer)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(answer, "ScalingPolicies"), i, e) {
        cap_scaling *sc = scaling_of(s, e);
        if (sc)
            sc->n_policies++;
    }
}

/* ---- state <-> JSON (the record's schema, and show --output json) ---- */

static json_t *opt_time(int64_t ms) { return ms ? json_integer(ms) : json_null(); }

static json_t *scaling_json(const cap_scaling *sc)
{
    if (!sc->present)
        return json_null();
    return json_pack("{s:I,s:I,s:{s:b,s:b,s:b},s:i}", "min", (json_int_t)sc->min, "max", (json_int_t)sc->max,
                     "suspended", "in", sc->in_suspended, "out", sc->out_suspended, "scheduled",
                     sc->scheduled_suspended, "policies", sc->n_policies);
}

static json_t *resource_json(const cap_resource *r, bool warm)
{
    json_t *o = json_pack("{s:o,s:s,s:{s:I,s:I},s:{s:I,s:I},s:i,s:o,s:o,s:{s:o,s:o}}", "index",
                          r->index[0] ? json_string(r->index) : json_null(), "status", r->status, "provisioned",
                          "read", (json_int_t)r->read, "write", (json_int_t)r->write, "on_demand_max", "read",
                          (json_int_t)r->od_max_read, "write", (json_int_t)r->od_max_write, "decreases_today",
                          r->decreases_today, "last_decrease_ms", opt_time(r->last_decrease_ms), "last_increase_ms",
                          opt_time(r->last_increase_ms), "auto_scaling", "read", scaling_json(&r->read_scaling),
                          "write", scaling_json(&r->write_scaling));
    if (o && warm)
        json_object_set_new(o, "warm", json_pack("{s:I,s:I,s:s}", "read", (json_int_t)r->warm_read, "write",
                                                 (json_int_t)r->warm_write, "status", r->warm_status));
    return o;
}

json_t *cap_state_json(const cap_state *s)
{
    json_t *res = json_array();
    for (int i = 0; res && i < s->n; i++)
        json_array_append_new(res, resource_json(&s->res[i], s->warm_reported));
    return json_pack("{s:s,s:s,s:o,s:I,s:I,s:b,s:{s:b,s:s},s:o}", "table", s->table, "billing_mode",
                     s->billing_mode, "last_to_on_demand_ms", opt_time(s->last_to_on_demand_ms), "item_count",
                     (json_int_t)s->item_count, "size_bytes", (json_int_t)s->size_bytes, "warm_reported",
                     s->warm_reported, "auto_scaling", "checked", s->scaling_known, "note", s->scaling_note,
                     "resources", res);
}

static int bad(dm_error *err, const char *what) { return dm_error_set(err, DM_ERR_PARSE, "%s", what); }

static int need_int(json_t *o, const char *k, long long lo, long long *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v) || json_integer_value(v) < lo)
        return DM_ERR_PARSE;
    *out = (long long)json_integer_value(v);
    return DM_OK;
}

static int opt_time_from(json_t *o, const char *k, int64_t *out)
{
    json_t *v = json_object_get(o, k);
    *out = 0;
    if (!v || json_is_null(v))
        return DM_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return DM_ERR_PARSE;
    *out = (int64_t)json_integer_value(v);
    return DM_OK;
}

static int scaling_from(json_t *j, cap_scaling *sc)
{
    memset(sc, 0, sizeof *sc);
    if (!j || json_is_null(j))
        return DM_OK;
    long long pol = 0;
    json_t *ss = json_object_get(j, "suspended");
    if (!json_is_object(j) || need_int(j, "min", 0, &sc->min) || need_int(j, "max", 0, &sc->max) ||
        sc->min > sc->max || !json_is_object(ss) || need_int(j, "policies", 0, &pol) || pol > 1000000)
        return DM_ERR_PARSE;
    sc->present = true;
    sc->in_suspended = json_is_true(json_object_get(ss, "in"));
    sc->out_suspended = json_is_true(json_object_get(ss, "out"));
    sc->scheduled_suspended = json_is_true(json_object_get(ss, "scheduled"));
    sc->n_policies = (int)pol;
    return DM_OK;
}

static int resource_from(json_t *j, bool warm, bool first, cap_resource *r)
{
    json_t *idx = json_object_get(j, "index"), *pt = json_object_get(j, "provisioned"),
           *od = json_object_get(j, "on_demand_max"), *as = json_object_get(j, "auto_scaling");
    long long dec = 0;
    if (!json_is_object(j) || (first ? !json_is_null(idx) : !json_is_string(idx)))
        return DM_ERR_PARSE;
    if (json_is_string(idx) && (!*json_string_value(idx) || strlen(json_string_value(idx)) >= sizeof r->index))
        return DM_ERR_PARSE;
    if (json_is_string(idx))
        dm_strlcpy(r->index, json_string_value(idx), sizeof r->index);
    if (!json_is_string(json_object_get(j, "status")) || need_int(pt, "read", 0, &r->read) ||
        need_int(pt, "write", 0, &r->write) || need_int(od, "read", -1, &r->od_max_read) ||
        need_int(od, "write", -1, &r->od_max_write) || need_int(j, "decreases_today", 0, &dec) || dec > 1000 ||
        opt_time_from(j, "last_decrease_ms", &r->last_decrease_ms) ||
        opt_time_from(j, "last_increase_ms", &r->last_increase_ms) || !json_is_object(as) ||
        scaling_from(json_object_get(as, "read"), &r->read_scaling) ||
        scaling_from(json_object_get(as, "write"), &r->write_scaling))
        return DM_ERR_PARSE;
    dm_strlcpy(r->status, jstr(j, "status"), sizeof r->status);
    r->decreases_today = (int)dec;
    r->warm_read = r->warm_write = -1;
    json_t *w = json_object_get(j, "warm");
    if (warm && json_is_object(w)) {
        if (need_int(w, "read", -1, &r->warm_read) || need_int(w, "write", -1, &r->warm_write))
            return DM_ERR_PARSE;
        dm_strlcpy(r->warm_status, jstr(w, "status"), sizeof r->warm_status);
    }
    return DM_OK;
}

int cap_state_from_json(json_t *j, cap_state *out, dm_error *err)
{
    cap_state_cleanup(out);
    json_t *res = json_object_get(j, "resources");
    const char *table = jstr(j, "table"), *bm = jstr(j, "billing_mode");
    if (!json_is_object(j) || !*table || strlen(table) >= sizeof out->table)
        return bad(err, "no table name");
    if (strcmp(bm, "PROVISIONED") != 0 && strcmp(bm, "PAY_PER_REQUEST") != 0)
        return bad(err, "billing_mode is neither PROVISIONED nor PAY_PER_REQUEST");
    if (!json_is_array(res) || json_array_size(res) == 0 || json_array_size(res) > 1000)
        return bad(err, "resources is not a list of 1 to 1000 entries");
    dm_strlcpy(out->table, table, sizeof out->table);
    dm_strlcpy(out->billing_mode, bm, sizeof out->billing_mode);
    out->warm_reported = json_is_true(json_object_get(j, "warm_reported"));
    out->scaling_known = json_is_true(json_object_get(json_object_get(j, "auto_scaling"), "checked"));
    long long v;
    if (opt_time_from(j, "last_to_on_demand_ms", &out->last_to_on_demand_ms) ||
        need_int(j, "item_count", 0, &v) || (out->item_count = v, need_int(j, "size_bytes", 0, &v)))
        return bad(err, "a count or time is missing or negative");
    out->size_bytes = v;
    out->n = (int)json_array_size(res);
    if (!(out->res = calloc((size_t)out->n, sizeof *out->res)))
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < out->n; i++)
        if (resource_from(json_array_get(res, (size_t)i), out->warm_reported, i == 0, &out->res[i])) {
            cap_state_cleanup(out);
            return dm_error_set(err, DM_ERR_PARSE, "resource %d is malformed", i);
        }
    for (int i = 1; i < out->n; i++)
        for (int k = 1; k < i; k++)
            if (strcmp(out->res[i].index, out->res[k].index) == 0) {
                cap_state_cleanup(out);
                return bad(err, "an index appears twice");
            }
    return DM_OK;
}

/* ---- limits ---- */

int64_t cap_next_decrease_ms(int decreases_today, int64_t last_decrease_ms, int64_t now_ms)
{
    const int64_t hour = 3600000, day = 24 * hour;
    int64_t day_start = now_ms - now_ms % day;
    /* A count from an earlier UTC day does not apply today. */
    if (last_decrease_ms < day_start)
        decreases_today = 0;
    if (decreases_today < 4 || last_decrease_ms + hour <= now_ms)
        return now_ms;
    int64_t next = last_decrease_ms + hour;
    return next < day_start + day ? next : day_start + day;
}

int64_t cap_next_on_demand_ms(const int64_t *times_ms, int n, int64_t now_ms)
{
    const int64_t window = 24 * 3600000LL;
    int in_window = 0;
    int64_t oldest = 0;
    for (int i = 0; i < n; i++)
        if (times_ms[i] > now_ms - window) {
            if (!in_window || times_ms[i] < oldest)
                oldest = times_ms[i];
            in_window++;
        }
    if (in_window < 4)
        return now_ms;
    /* The oldest of the last four must leave the window: with more than
     * four known (switches made elsewhere too), wait for enough to leave. */
    int64_t *sorted = malloc((size_t)n * sizeof *sorted);
    if (!sorted)
        return oldest + window;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (times_ms[i] > now_ms - window)
            sorted[k++] = times_ms[i];
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            int64_t t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    int64_t next = sorted[k - 4] + window;
    free(sorted);
    return next;
}

/* ---- plans ---- */

static cap_plan *plan_new(const cap_state *s, cap_method m, long long read, long long write)
{
    cap_plan *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->method = m;
    p->read = read;
    p->write = write;
    p->n_res = s->n;
    dm_strlcpy(p->table, s->table, sizeof p->table);
    p->units = calloc((size_t)(2 * s->n), sizeof *p->units);
    p->od_units = calloc((size_t)(2 * s->n), sizeof *p->od_units);
    p->names = calloc((size_t)s->n, sizeof *p->names);
    /* Every resource can need a scaling step for each dimension, a
     * provisioned, warm and maximum step, plus two billing switches. */
    p->steps = calloc((size_t)(6 * s->n + 2), sizeof *p->steps);
    if (!p->units || !p->od_units || !p->names || !p->steps) {
        cap_plan_free(p);
        return NULL;
    }
    for (int i = 0; i < s->n; i++) {
        dm_strlcpy(p->names[i], s->res[i].index, sizeof p->names[i]);
        /* Switching back to on-demand keeps the maximums there were. */
        p->od_units[2 * i] = s->res[i].od_max_read;
        p->od_units[2 * i + 1] = s->res[i].od_max_write;
    }
    return p;
}

void cap_plan_free(cap_plan *p)
{
    if (!p)
        return;
    free(p->units);
    free(p->od_units);
    free(p->names);
    free(p->steps);
    free(p);
}

static cap_step *add_step(cap_plan *p, cap_step_kind k, int res)
{
    cap_step *st = &p->steps[p->n_steps++];
    memset(st, 0, sizeof *st);
    st->kind = k;
    st->res = res;
    return st;
}

static void note(cap_plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(cap_plan *p, const char *fmt, ...)
{
    if (p->n_notes >= CAP_MAX_NOTES)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->notes[p->n_notes++], sizeof p->notes[0], fmt, ap);
    va_end(ap);
}

static long long max_ll(long long a, long long b) { return a > b ? a : b; }

static bool on_demand(const cap_state *s) { return strcmp(s->billing_mode, "PAY_PER_REQUEST") == 0; }

/* Raising provisioned units: through the scalable targets where auto
 * scaling manages a dimension (a manual raise above MaxCapacity would be
 * scaled back), and on the table itself, which scaling then keeps. Index
 * reads are not raised: the run scans the table, and index writes follow
 * the table's. */
static void plan_provisioned(cap_plan *p, const cap_state *s)
{
    for (int i = 0; i < s->n; i++) {
        const cap_resource *r = &s->res[i];
        long long want_r = i == 0 ? max_ll(r->read, p->read) : r->read, want_w = max_ll(r->write, p->write);
        const cap_scaling *dims[2] = {&r->read_scaling, &r->write_scaling};
        long long wants[2] = {want_r, want_w};
        for (int d = 0; d < 2; d++) {
            if (!dims[d]->present || (dims[d]->min >= wants[d] && dims[d]->max >= wants[d]))
                continue;
            cap_step *st = add_step(p, CAP_STEP_SCALING, i);
            st->write_dim = d == 1;
            st->scaling = *dims[d];
            st->scaling.min = max_ll(dims[d]->min, wants[d]);
            st->scaling.max = max_ll(dims[d]->max, wants[d]);
        }
        if (want_r != r->read || want_w != r->write) {
            cap_step *st = add_step(p, CAP_STEP_PROVISIONED, i);
            st->read = want_r;
            st->write = want_w;
        }
    }
    double hours_usd = (double)(p->read - s->res[0].read > 0 ? p->read - s->res[0].read : 0) * 0.00013;
    for (int i = 0; i < s->n; i++)
        hours_usd += (double)(p->write - s->res[i].write > 0 ? p->write - s->res[i].write : 0) * 0.00065;
    note(p, "provisioned capacity is billed by the hour while raised: about $%.2f an hour more at us-east-1 list "
            "prices ($0.00013 per read unit-hour, $0.00065 per write unit-hour)",
         hours_usd);
    note(p, "lowering it again counts against DynamoDB's decreases per UTC day (4, then 1 an hour), for the "
            "table and each index apart");
    p->ceiling_read = 0.8 * (double)max_ll(s->res[0].read, p->read);
    p->ceiling_write = 0.8 * (double)max_ll(s->res[0].write, p->write);
}

/* What an on-demand resource serves at once: its warm throughput where
 * the endpoint reports it, else what DynamoDB gives a new on-demand table
 * (12,000 reads, 4,000 writes a second). Switching to provisioned below
 * that would lower the table, not warm it. */
static long long od_floor(const cap_resource *r, bool warm_reported, bool write)
{
    long long w = write ? r->warm_write : r->warm_read;
    return warm_reported && w > 0 ? w : write ? 4000 : 12000;
}

/* Units of a switch to provisioned: the goal, never below the floor. */
static void plan_switch_units(cap_plan *p, const cap_state *s)
{
    for (int i = 0; i < s->n; i++) {
        long long fr = od_floor(&s->res[i], s->warm_reported, false), fw = od_floor(&s->res[i], s->warm_reported, true);
        p->units[2 * i] = p->read > fr ? p->read : fr;
        p->units[2 * i + 1] = p->write > fw ? p->write : fw;
    }
}

/* An on-demand table that already serves the goal needs no switch. */
static bool od_enough(const cap_plan *p, const cap_state *s)
{
    return p->read <= od_floor(&s->res[0], s->warm_reported, false) &&
           p->write <= od_floor(&s->res[0], s->warm_reported, true);
}

/* The run's ceiling on an on-demand table: the goal, within its maximums. */
static void od_ceiling(cap_plan *p, const cap_state *s)
{
    const cap_resource *t = &s->res[0];
    p->ceiling_read = (double)(t->od_max_read >= 0 && t->od_max_read < p->read ? t->od_max_read : p->read);
    p->ceiling_write = (double)(t->od_max_write >= 0 && t->od_max_write < p->write ? t->od_max_write : p->write);
}

static void plan_warm(cap_plan *p, const cap_state *s, const cap_goal *g)
{
    for (int i = 0; i < s->n; i++) {
        const cap_resource *r = &s->res[i];
        long long want_r = i == 0 ? max_ll(r->warm_read, p->read) : r->warm_read;
        long long want_w = max_ll(r->warm_write, p->write);
        if (want_r > r->warm_read || want_w > r->warm_write) {
            cap_step *st = add_step(p, CAP_STEP_WARM, i);
            st->read = want_r;
            st->write = want_w;
            p->warm_read_added += want_r - r->warm_read;
            p->warm_write_added += want_w - r->warm_write;
        }
        if (on_demand(s)) {
            /* A maximum below the goal would throttle the run: lifted for it. */
            long long mr = r->od_max_read, mw = r->od_max_write;
            long long nr = (i == 0 && mr >= 0 && mr < p->read) ? p->read : mr;
            long long nw = (mw >= 0 && mw < p->write) ? p->write : mw;
            if (nr != mr || nw != mw) {
                cap_step *st = add_step(p, CAP_STEP_OD_MAX, i);
                st->read = nr;
                st->write = nw;
            }
        }
    }
    p->charge_usd = (double)p->warm_read_added * g->warm_read_price + (double)p->warm_write_added * g->warm_write_price;
    if (p->warm_read_added || p->warm_write_added) {
        if (g->warm_read_price > 0 || g->warm_write_price > 0)
            note(p, "CHARGED: raising warm throughput by %lld read and %lld write units per second costs about "
                    "$%.2f, once; it can never be lowered again",
                 p->warm_read_added, p->warm_write_added, p->charge_usd);
        else
            note(p, "CHARGED: raising warm throughput by %lld read and %lld write units per second is billed once "
                    "at DynamoDB's warm throughput price (give --warm-read-price and --warm-write-price to see "
                    "the amount); it can never be lowered again",
                 p->warm_read_added, p->warm_write_added);
    }
    if (on_demand(s)) {
        od_ceiling(p, s);
        /* The maximums were lifted to the goal above where lower. */
        p->ceiling_read = (double)p->read;
        p->ceiling_write = (double)p->write;
    } else {
        note(p, "the table stays provisioned at %lld read and %lld write units: those still cap the run",
             s->res[0].read, s->res[0].write);
        p->ceiling_read = 0.8 * (double)s->res[0].read;
        p->ceiling_write = 0.8 * (double)s->res[0].write;
    }
}

static void plan_toggle(cap_plan *p, const cap_state *s)
{
    od_ceiling(p, s);
    if (od_enough(p, s)) {
        note(p, "on-demand already serves %lld read and %lld write units a second at once: nothing to warm",
             od_floor(&s->res[0], s->warm_reported, false), od_floor(&s->res[0], s->warm_reported, true));
        return;
    }
    plan_switch_units(p, s);
    add_step(p, CAP_STEP_BILLING, -1); /* to provisioned at the goal */
    cap_step *back = add_step(p, CAP_STEP_BILLING, -1);
    back->on_demand = true;
    note(p, "switches to provisioned at the goal and straight back to on-demand: uses one of the 4 switches to "
            "on-demand DynamoDB allows in 24 hours; provisioned capacity is billed for the minutes in between");
    if (s->last_to_on_demand_ms) {
        char iso[21];
        dm_format_iso8601(s->last_to_on_demand_ms, iso);
        note(p, "the table last switched to on-demand at %s; if that was one of 4 in the past 24 hours, the switch "
                "back must wait (the table stays provisioned at the units above meanwhile) and is recorded as pending",
             iso);
    }
}

int cap_plan_prewarm(const cap_state *s, const cap_goal *g, cap_plan **out, dm_error *err)
{
    *out = NULL;
    if (g->read < 1 || g->write < 1 || g->read > 40000000 || g->write > 40000000)
        return dm_error_set(err, DM_ERR_INVALID, "pre-warm units must be 1 to 40,000,000 a second (got %lld read, "
                                                 "%lld write)",
                            g->read, g->write);
    cap_method m = g->method;
    if (m == CAP_METHOD_AUTO)
        m = !on_demand(s) ? CAP_METHOD_PROVISIONED : s->warm_reported ? CAP_METHOD_WARM : CAP_METHOD_TOGGLE;
    if (m == CAP_METHOD_WARM && !s->warm_reported)
        return dm_error_set(err, DM_ERR_CONFIG,
                            "table %s: the endpoint reports no warm throughput (DynamoDB Local does not have it); "
                            "use --prewarm-method toggle or provisioned",
                            s->table);
    if (m == CAP_METHOD_TOGGLE && !on_demand(s))
        return dm_error_set(err, DM_ERR_CONFIG,
                            "table %s is provisioned: toggle is for on-demand tables; use --prewarm-method "
                            "provisioned",
                            s->table);
    cap_plan *p = plan_new(s, m, g->read, g->write);
    if (!p)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    if (m == CAP_METHOD_WARM) {
        plan_warm(p, s, g);
    } else if (m == CAP_METHOD_TOGGLE) {
        plan_toggle(p, s);
    } else if (on_demand(s) && od_enough(p, s)) {
        od_ceiling(p, s);
        note(p, "on-demand already serves the goal at once: not switched to provisioned");
    } else if (on_demand(s)) {
        /* Provisioned for the run, on-demand again after it. */
        plan_switch_units(p, s);
        add_step(p, CAP_STEP_BILLING, -1);
        note(p, "the table is provisioned for the run and switched back to on-demand after it (one of the 4 "
                "switches to on-demand allowed in 24 hours)");
        p->ceiling_read = 0.8 * (double)p->units[0];
        p->ceiling_write = 0.8 * (double)p->units[1];
    } else {
        plan_provisioned(p, s);
    }
    *out = p;
    return DM_OK;
}

/* Restore: provisioned units per resource (after its scalable targets, so
 * that scaling does not hold them up), billing mode, on-demand maximums.
 * Warm throughput is never lowered: DynamoDB does not allow it. */
static const cap_resource *find_res(const cap_state *s, const char *index)
{
    for (int k = 0; k < s->n; k++)
        if (strcmp(s->res[k].index, index) == 0)
            return &s->res[k];
    return NULL;
}

static void restore_provisioned(cap_plan *p, const cap_state *o, const cap_state *now)
{
    for (int i = 0; i < o->n; i++) {
        const cap_resource *a = &o->res[i];
        int k = 0;
        while (k < now->n && strcmp(now->res[k].index, a->index) != 0)
            k++;
        if (k == now->n) {
            note(p, "index %s is gone: nothing to restore there", a->index);
            continue;
        }
        const cap_resource *b = &now->res[k];
        const cap_scaling *was[2] = {&a->read_scaling, &a->write_scaling}, *is[2] = {&b->read_scaling,
                                                                                       &b->write_scaling};
        for (int d = 0; d < 2; d++) {
            if (!was[d]->present)
                continue;
            if (is[d]->present && is[d]->min == was[d]->min && is[d]->max == was[d]->max &&
                is[d]->in_suspended == was[d]->in_suspended && is[d]->out_suspended == was[d]->out_suspended &&
                is[d]->scheduled_suspended == was[d]->scheduled_suspended)
                continue;
            cap_step *st = add_step(p, CAP_STEP_SCALING, i);
            st->write_dim = d == 1;
            st->scaling = *was[d];
        }
        if (a->read != b->read || a->write != b->write) {
            cap_step *st = add_step(p, CAP_STEP_PROVISIONED, i);
            st->read = a->read;
            st->write = a->write;
            st->decrease = a->read < b->read || a->write < b->write;
        }
    }
}

int cap_plan_restore(const cap_state *o, const cap_state *now, cap_plan **out, dm_error *err)
{
    *out = NULL;
    if (strcmp(o->table, now->table) != 0)
        return dm_error_set(err, DM_ERR_INVALID, "the record is of table %s, not %s", o->table, now->table);
    cap_plan *p = plan_new(o, CAP_METHOD_AUTO, 0, 0);
    if (!p)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    if (on_demand(o) && !on_demand(now)) {
        add_step(p, CAP_STEP_BILLING, -1)->on_demand = true; /* od_units: the original maximums */
    } else if (on_demand(o)) {
        for (int i = 0; i < o->n; i++) {
            const cap_resource *a = &o->res[i], *b = find_res(now, a->index);
            if (!b) {
                note(p, "index %s is gone: nothing to restore there", a->index);
                continue;
            }
            if (a->od_max_read != b->od_max_read || a->od_max_write != b->od_max_write) {
                cap_step *st = add_step(p, CAP_STEP_OD_MAX, i);
                st->read = a->od_max_read;
                st->write = a->od_max_write;
            }
        }
    } else if (on_demand(now)) {
        /* Back to provisioned at the original units, then the scalable
         * targets (the units' steps find them in place). */
        for (int i = 0; i < o->n; i++) {
            p->units[2 * i] = o->res[i].read;
            p->units[2 * i + 1] = o->res[i].write;
        }
        add_step(p, CAP_STEP_BILLING, -1);
        restore_provisioned(p, o, now);
    } else {
        restore_provisioned(p, o, now);
    }
    for (int i = 0; i < now->n && now->warm_reported; i++) {
        const cap_resource *b = &now->res[i];
        int k = 0;
        while (k < o->n && strcmp(o->res[k].index, b->index) != 0)
            k++;
        if (k < o->n && o->warm_reported && (b->warm_read > o->res[k].warm_read || b->warm_write > o->res[k].warm_write))
            note(p, "%s%s: warm throughput stays at %lld read / %lld write units per second (was %lld / %lld): "
                    "DynamoDB never lowers it",
                 b->index[0] ? "index " : "table", b->index, b->warm_read, b->warm_write, o->res[k].warm_read,
                 o->res[k].warm_write);
    }
    *out = p;
    return DM_OK;
}

/* ---- requests ---- */

static const char *dim_name(int res, bool write)
{
    if (res == 0)
        return write ? "dynamodb:table:WriteCapacityUnits" : "dynamodb:table:ReadCapacityUnits";
    return write ? "dynamodb:index:WriteCapacityUnits" : "dynamodb:index:ReadCapacityUnits";
}

/* The resource of fresh that step st's resource names (by index name). */
static const cap_resource *fresh_res(const cap_plan *p, int res, const cap_state *fresh, int *at)
{
    for (int k = 0; k < fresh->n; k++)
        if (strcmp(fresh->res[k].index, p->names[res]) == 0) {
            if (at)
                *at = k;
            return &fresh->res[k];
        }
    return NULL;
}

/* {"TableName": T} with either the table's member or an index update. */
static json_t *update_for(const cap_plan *p, int res, const char *member, json_t *value)
{
    json_t *req = json_pack("{s:s}", "TableName", p->table);
    if (!req || !value) {
        json_decref(value);
        json_decref(req);
        return NULL;
    }
    if (res == 0) {
        json_object_set_new(req, member, value);
        return req;
    }
    json_t *upd = json_pack("[{s:{s:s,s:o}}]", "Update", "IndexName", p->names[res], member, value);
    if (!upd) {
        json_decref(req);
        return NULL;
    }
    json_object_set_new(req, "GlobalSecondaryIndexUpdates", upd);
    return req;
}

static json_t *billing_request(const cap_plan *p, const cap_step *st, const cap_state *fresh)
{
    json_t *req = json_pack("{s:s,s:s}", "TableName", p->table, "BillingMode",
                            st->on_demand ? "PAY_PER_REQUEST" : "PROVISIONED");
    json_t *upd = json_array();
    if (!req || !upd) {
        json_decref(req);
        json_decref(upd);
        return NULL;
    }
    for (int i = 0; i < p->n_res; i++) {
        long long r = st->on_demand ? p->od_units[2 * i] : p->units[2 * i];
        long long w = st->on_demand ? p->od_units[2 * i + 1] : p->units[2 * i + 1];
        if (i > 0 && !fresh_res(p, i, fresh, NULL))
            continue;
        json_t *v;
        const char *member;
        if (st->on_demand) {
            if (r < 0 && w < 0)
                continue;
            member = "OnDemandThroughput";
            v = json_pack("{s:I,s:I}", "MaxReadRequestUnits", (json_int_t)r, "MaxWriteRequestUnits", (json_int_t)w);
        } else {
            member = "ProvisionedThroughput";
            v = json_pack("{s:I,s:I}", "ReadCapacityUnits", (json_int_t)(r > 0 ? r : 1), "WriteCapacityUnits",
                          (json_int_t)(w > 0 ? w : 1));
        }
        if (i == 0)
            json_object_set_new(req, member, v);
        else
            json_array_append_new(upd, json_pack("{s:{s:s,s:o}}", "Update", "IndexName", p->names[i], member, v));
    }
    /* An index made since the plan needs units too, or the switch is refused. */
    for (int k = 1; !st->on_demand && k < fresh->n; k++) {
        bool known = false;
        for (int i = 1; i < p->n_res && !known; i++)
            known = strcmp(p->names[i], fresh->res[k].index) == 0;
        if (!known)
            json_array_append_new(upd, json_pack("{s:{s:s,s:{s:I,s:I}}}", "Update", "IndexName", fresh->res[k].index,
                                                 "ProvisionedThroughput", "ReadCapacityUnits",
                                                 (json_int_t)(p->units[0] > 0 ? p->units[0] : 1), "WriteCapacityUnits",
                                                 (json_int_t)(p->units[1] > 0 ? p->units[1] : 1)));
    }
    if (json_array_size(upd))
        json_object_set_new(req, "GlobalSecondaryIndexUpdates", upd);
    else
        json_decref(upd);
    return req;
}

static json_t *scaling_request(const cap_plan *p, const cap_step *st)
{
    char id[600];
    if (st->res == 0)
        snprintf(id, sizeof id, "table/%s", p->table);
    else
        snprintf(id, sizeof id, "table/%s/index/%s", p->table, p->names[st->res]);
    const cap_scaling *sc = &st->scaling;
    return json_pack("{s:s,s:s,s:s,s:I,s:I,s:{s:b,s:b,s:b}}", "ServiceNamespace", "dynamodb", "ResourceId", id,
                     "ScalableDimension", dim_name(st->res, st->write_dim), "MinCapacity", (json_int_t)sc->min,
                     "MaxCapacity", (json_int_t)sc->max, "SuspendedState", "DynamicScalingInSuspended",
                     sc->in_suspended, "DynamicScalingOutSuspended", sc->out_suspended, "ScheduledScalingSuspended",
                     sc->scheduled_suspended);
}

int cap_step_request(const cap_plan *p, const cap_step *st, const cap_state *fresh, const char **op, json_t **req,
                     dm_error *err)
{
    *req = NULL;
    *op = st->kind == CAP_STEP_SCALING ? "RegisterScalableTarget" : "UpdateTable";
    const cap_resource *r = st->res >= 0 ? fresh_res(p, st->res, fresh, NULL) : NULL;
    if (st->res >= 0 && !r)
        return DM_OK; /* the index is gone */
    bool od = strcmp(fresh->billing_mode, "PAY_PER_REQUEST") == 0;
    switch (st->kind) {
    case CAP_STEP_BILLING:
        if (od == st->on_demand)
            return DM_OK;
        *req = billing_request(p, st, fresh);
        break;
    case CAP_STEP_PROVISIONED:
        if (od || (r->read == st->read && r->write == st->write))
            return DM_OK;
        *req = update_for(p, st->res, "ProvisionedThroughput",
                          json_pack("{s:I,s:I}", "ReadCapacityUnits", (json_int_t)st->read, "WriteCapacityUnits",
                                    (json_int_t)st->write));
        break;
    case CAP_STEP_WARM: {
        /* Only what rises: a lower value than the current one is refused. */
        json_t *v = json_object();
        if (v && st->read > r->warm_read)
            json_object_set_new(v, "ReadUnitsPerSecond", json_integer(st->read));
        if (v && st->write > r->warm_write)
            json_object_set_new(v, "WriteUnitsPerSecond", json_integer(st->write));
        if (v && json_object_size(v) == 0) {
            json_decref(v);
            return DM_OK;
        }
        *req = update_for(p, st->res, "WarmThroughput", v);
        break;
    }
    case CAP_STEP_OD_MAX:
        if (!od || (r->od_max_read == st->read && r->od_max_write == st->write))
            return DM_OK;
        *req = update_for(p, st->res, "OnDemandThroughput",
                          json_pack("{s:I,s:I}", "MaxReadRequestUnits", (json_int_t)st->read, "MaxWriteRequestUnits",
                                    (json_int_t)st->write));
        break;
    case CAP_STEP_SCALING: {
        const cap_scaling *now = st->write_dim ? &r->write_scaling : &r->read_scaling, *w = &st->scaling;
        if (now->present && now->min == w->min && now->max == w->max && now->in_suspended == w->in_suspended &&
            now->out_suspended == w->out_suspended && now->scheduled_suspended == w->scheduled_suspended)
            return DM_OK;
        *req = scaling_request(p, st);
        break;
    }
    }
    return *req ? DM_OK : dm_error_set(err, DM_ERR_NOMEM, "out of memory");
}

void cap_step_describe(const cap_plan *p, const cap_step *st, char *out, size_t size)
{
    char who[300];
    if (st->res > 0)
        snprintf(who, sizeof who, "index %s", p->names[st->res]);
    else
        snprintf(who, sizeof who, "table %s", p->table);
    switch (st->kind) {
    case CAP_STEP_PROVISIONED:
        snprintf(out, size, "%s: provisioned %lld read, %lld write units", who, st->read, st->write);
        break;
    case CAP_STEP_BILLING:
        if (st->on_demand)
            snprintf(out, size, "%s: billing mode on-demand (PAY_PER_REQUEST)", who);
        else
            snprintf(out, size, "%s: billing mode provisioned at %lld read, %lld write units (indexes too)", who,
                     p->units[0], p->units[1]);
        break;
    case CAP_STEP_WARM:
        snprintf(out, size, "%s: warm throughput %lld read, %lld write units per second", who, st->read, st->write);
        break;
    case CAP_STEP_OD_MAX:
        snprintf(out, size, "%s: on-demand maximum %lld read, %lld write request units (-1: none)", who, st->read,
                 st->write);
        break;
    case CAP_STEP_SCALING:
        snprintf(out, size, "%s: auto scaling of %s capacity within %lld..%lld%s", who,
                 st->write_dim ? "write" : "read", st->scaling.min, st->scaling.max,
                 st->scaling.in_suspended || st->scaling.out_suspended || st->scaling.scheduled_suspended
                     ? " (partly suspended, as it was)"
                     : "");
        break;
    }
}

/* ---- goal ---- */

void cap_default_goal(long long item_count, long long size_bytes, bool consistent, double max_read, double max_write,
                      long long *read, long long *write)
{
    const double seconds = 300, quota = 40000;
    double avg = item_count > 0 ? (double)size_bytes / (double)item_count : 1024;
    double reads = ceil((double)size_bytes / 4096.0) * (consistent ? 1.0 : 0.5);
    double writes = (double)item_count * ceil(avg / 1024.0 > 0 ? avg / 1024.0 : 1);
    double r = ceil(reads / seconds), w = ceil(writes / seconds);
    if (max_read > 0 && r > max_read)
        r = ceil(max_read);
    if (max_write > 0 && w > max_write)
        w = ceil(max_write);
    *read = (long long)(r < 1 ? 1 : r > quota ? quota : r);
    *write = (long long)(w < 1 ? 1 : w > quota ? quota : w);
}
