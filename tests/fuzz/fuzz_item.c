/* libFuzzer target for the DynamoDB JSON decoder, the item checker, and
 * the import file reader that feeds them: any input either fails to
 * decode cleanly or decodes to an item that re-encodes (verbatim and
 * canonically) to text that decodes to an equal item; the checker gives
 * the same verdict on both, with a message naming what is wrong. Pages
 * too. The whole input is also read as an import file (plain or gzip,
 * with a small line limit) and each line decoded and checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddbmig/item.h"
#include "engine/lines.h"

static void strip(ddb_value *v)
{
    v->wire.p = NULL;
    v->wire.n = 0;
    for (size_t i = 0; i < v->n; i++)
        strip(&v->items[i]);
}

/* A table keyed on pk (S) and sk (N), with an index key g (B). */
static const ddb_key_schema *schema(void)
{
    static ddb_key_schema ks = {.hash = {"pk", DDB_S, false}, .range = {"sk", DDB_N, true},
                                .index = {{"g", DDB_B, true}}, .n_index = 1};
    return &ks;
}

/* The checker's verdict: DM_OK or DM_ERR_INVALID with a message that
 * names the attribute or the item. */
static int verdict(const ddb_item *it, const ddb_key_schema *ks)
{
    dm_error err = {0};
    int rc = ddb_item_check(it, ks, &err);
    if (rc == DM_OK)
        return rc;
    if (rc != DM_ERR_INVALID || (strncmp(err.message, "attribute ", 10) != 0 &&
                                 strncmp(err.message, "the item is ", 12) != 0))
        abort();
    return rc;
}

static void check_item(const ddb_item *it, dm_arena *a)
{
    dm_buf out;
    dm_buf_init(&out, 0);
    ddb_item copy = *it, again;
    ddb_value *vals = dm_arena_alloc(a, (it->n ? it->n : 1) * sizeof *vals);
    if (!vals)
        abort();
    memcpy(vals, it->values, it->n * sizeof *vals);
    copy.values = vals;
    for (size_t i = 0; i < copy.n; i++)
        strip(&copy.values[i]);
    if (ddb_item_encode(&copy, &out) != DM_OK)
        abort();
    if (ddb_item_decode(out.data, out.len, a, &again, NULL, NULL) != DM_OK)
        abort(); /* we wrote something we cannot read */
    if (!ddb_item_equal(it, &again))
        abort();
    if (verdict(it, NULL) != verdict(&again, NULL) || verdict(it, schema()) != verdict(&again, schema()))
        abort(); /* the same item, two verdicts */
    (void)ddb_item_size(it);
    dm_buf_cleanup(&out);
}

static void read_as_file(const uint8_t *data, size_t size, dm_arena *a)
{
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f)
        return;
    line_reader *r;
    if (lines_open_stream(f, "fuzz.jsonl", 512, &r, NULL) == DM_OK) {
        for (int guard = 0; guard < 100000; guard++) {
            dm_str line;
            bool end;
            int rc = lines_next(r, &line, &end, NULL);
            if (rc == DM_ERR_LIMIT)
                continue;
            if (rc != DM_OK || end)
                break;
            if (line.n > 512)
                abort();
            ddb_item it;
            dm_arena_reset(a);
            if (ddb_item_decode(line.p, line.n, a, &it, NULL, NULL) == DM_OK)
                (void)verdict(&it, schema());
        }
        lines_free(r);
    }
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dm_arena *a = dm_arena_new(0);
    ddb_item it;
    dm_error err;
    if (ddb_item_decode((const char *)data, size, a, &it, NULL, &err) == DM_OK)
        check_item(&it, a);
    ddb_page pg;
    if (ddb_page_decode((const char *)data, size, a, &pg, &err) == DM_OK)
        for (size_t i = 0; i < pg.n_items; i++)
            check_item(&pg.items[i], a);
    if (size > 0)
        read_as_file(data, size, a);
    dm_arena_free(a);
    return 0;
}
