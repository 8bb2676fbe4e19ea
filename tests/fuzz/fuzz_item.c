/* libFuzzer target for the DynamoDB JSON decoder: any input either fails
 * to decode cleanly or decodes to an item that re-encodes (verbatim and
 * canonically) to text that decodes to an equal item. Pages too. */
#include <stdlib.h>
#include <string.h>

#include "ddbmig/item.h"

static void strip(ddb_value *v)
{
    v->wire.p = NULL;
    v->wire.n = 0;
    for (size_t i = 0; i < v->n; i++)
        strip(&v->items[i]);
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
    (void)ddb_item_size(it);
    dm_buf_cleanup(&out);
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
    dm_arena_free(a);
    return 0;
}
