/* libFuzzer target for the answers of item calls (ddb_answer_decode) and
 * what the engine decides from them: any input either fails to decode or
 * gives items that re-encode and decode equal, and every verdict of
 * wplan_on_conflict is one the engine knows. The same input as a
 * BatchExecuteStatement answer (ddb_statements_answer) is refused or
 * gives each statement one of the three outcomes. */
#include <stdlib.h>
#include <string.h>

#include "ddbmig/ddb_ops.h"
#include "ddbmig/item.h"
#include "engine/wplan.h"

static void round_trip(const ddb_item *it, dm_arena *a)
{
    dm_buf out;
    dm_buf_init(&out, 0);
    ddb_item again;
    if (ddb_item_encode(it, &out) != DM_OK || ddb_item_decode(out.data, out.len, a, &again, NULL, NULL) != DM_OK ||
        !ddb_item_equal(it, &again))
        abort();
    dm_buf_cleanup(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void statements(const uint8_t *data, size_t size)
{
    dm_buf b = {.data = (char *)data, .len = size};
    for (size_t n = 1; n <= 3; n++) {
        unsigned char failed[3];
        double units;
        dm_error e = {0};
        memset(failed, 0xee, sizeof failed);
        int rc = ddb_statements_answer(&b, n, failed, &units, &e);
        if (rc != DM_OK && rc != DM_ERR_PARSE)
            abort();
        for (size_t i = 0; rc == DM_OK && i < n; i++)
            if (failed[i] != 0 && failed[i] != DDB_STATEMENT_FAILED && failed[i] != DDB_STATEMENT_THROTTLED)
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    statements(data, size);
    dm_arena *a = dm_arena_new(0);
    ddb_answer ans;
    if (ddb_answer_decode((const char *)data, size, a, &ans, NULL) == DM_OK) {
        if (ans.has_item)
            round_trip(&ans.item, a);
        if (ans.has_attributes)
            round_trip(&ans.attributes, a);
        for (size_t i = 0; i < ans.n_reasons; i++)
            if (ans.reasons[i].has_item)
                round_trip(&ans.reasons[i].item, a);
        /* The verdicts about a plan that wrote {"pk":"a","n":2}. */
        static const char *const keys[] = {"pk"};
        wplan_rules r = {.keys = keys, .n_keys = 1, .marker = "_m", .migration = "m-1"};
        ddb_item read, next;
        const char *rtext = "{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"}}";
        const char *ntext = "{\"pk\":{\"S\":\"b\"},\"n\":{\"N\":\"2\"}}";
        if (ddb_item_decode(rtext, strlen(rtext), a, &read, NULL, NULL) ||
            ddb_item_decode(ntext, strlen(ntext), a, &next, NULL, NULL))
            abort();
        lua_result res = {.outcome = LUA_WRITE, .item = next};
        for (int mode = 0; mode < 2; mode++) {
            wplan p;
            r.mode = mode ? ENGINE_WRITE_BATCH : ENGINE_WRITE_UPDATE;
            if (wplan_decide(&r, &read, &res, a, &p) != DM_OK)
                abort();
            const ddb_item *cur = NULL;
            wplan_verdict v = wplan_on_conflict(&r, &p, &ans, 0, 5, &cur);
            if (v > WPLAN_REFUSED || (v == WPLAN_RERUN) != (cur != NULL))
                abort();
        }
    }
    dm_arena_free(a);
    return 0;
}
