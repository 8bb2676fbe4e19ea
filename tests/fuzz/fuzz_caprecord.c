/* libFuzzer target for the capacity record and the answers capacity
 * decisions read. Any input is either refused or parsed into a record
 * that writes back to the same record; read as a DescribeTable answer
 * (with itself as scalable targets), it plans a pre-warm and a restore
 * whose every step yields a request or nothing, without a crash. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "capacity/capplan.h"
#include "capacity/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void record_round_trip(const char *text, size_t size)
{
    cap_record r;
    if (cap_record_parse(text, size, &r, NULL) != DM_OK)
        return;
    if (r.original.n < 1 || !r.original.res || r.n_pending > CAP_MAX_PENDING || r.n_switches > CAP_MAX_SWITCHES)
        abort();
    json_t *j = cap_record_json(&r);
    char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    cap_record back;
    if (!out || cap_record_parse(out, strlen(out), &back, NULL) != DM_OK)
        abort();
    j = cap_record_json(&back);
    char *again = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!again || strcmp(out, again) != 0)
        abort();
    free(out);
    free(again);
    cap_record_cleanup(&back);
    cap_record_cleanup(&r);
}

static void steps(const cap_plan *p, const cap_state *s)
{
    for (int i = 0; i < p->n_steps; i++) {
        const char *op = NULL;
        json_t *req = NULL;
        char what[400];
        if (cap_step_request(p, &p->steps[i], s, &op, &req, NULL) == DM_OK && req && !json_is_object(req))
            abort();
        json_decref(req);
        cap_step_describe(p, &p->steps[i], what, sizeof what);
    }
}

static void plans(const char *text, size_t size)
{
    json_t *doc = json_loadb(text, size, 0, NULL);
    cap_state s = {0};
    if (!doc || cap_state_from_table(json_object_get(doc, "Table"), &s, NULL) != DM_OK) {
        json_decref(doc);
        return;
    }
    cap_state_add_targets(&s, doc);
    cap_state_add_policies(&s, doc);
    cap_goal g = {.read = 1 + (long long)(size % 50000), .write = 1 + (long long)(size % 7000)};
    for (int m = CAP_METHOD_AUTO; m <= CAP_METHOD_TOGGLE; m++) {
        g.method = (cap_method)m;
        cap_plan *p = NULL;
        if (cap_plan_prewarm(&s, &g, &p, NULL) == DM_OK) {
            steps(p, &s);
            cap_plan_free(p);
        }
    }
    cap_plan *p = NULL;
    if (cap_plan_restore(&s, &s, &p, NULL) != DM_OK || p->n_steps != 0)
        abort(); /* nothing to restore on the table as it was */
    cap_plan_free(p);
    json_decref(doc);
    cap_state_cleanup(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    record_round_trip((const char *)data, size);
    plans((const char *)data, size);
    return 0;
}
