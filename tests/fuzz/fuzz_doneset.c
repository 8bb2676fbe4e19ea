/* libFuzzer target for the keys a checkpoint records as done past its
 * cursor: the input is one key per line, for a table keyed by pk (S) and
 * sk (N). A key is added exactly when the check accepts it; what the set
 * writes reads back as the same set; and taking the item of every
 * accepted line empties it (keys equal by value are one key). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "engine/doneset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const NAMES[] = {"pk", "sk"};
static const char *const TYPES[] = {"S", "N"};

/* The set written and read back. */
static doneset *round_trip(const doneset *s, doneset_schema sc)
{
    dm_buf b;
    dm_buf_init(&b, 0);
    if (doneset_write(s, 0, &b, NULL) != DM_OK)
        abort();
    json_t *arr = json_loadb(b.data, b.len, JSON_ALLOW_NUL, NULL);
    if (!json_is_array(arr))
        abort();
    doneset *back = doneset_new(sc);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        char *one = json_dumps(json_array_get(arr, i), JSON_COMPACT);
        dm_error err = {0};
        if (!one || doneset_add_json(back, one, strlen(one), &err) != DM_OK)
            abort();
        free(one);
    }
    json_decref(arr);
    dm_buf_cleanup(&b);
    return back;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    doneset_schema sc = {NAMES, TYPES, 2};
    doneset *s = doneset_new(sc);
    dm_arena *a = dm_arena_new(0);
    ddb_item items[64];
    size_t n_items = 0;
    const char *p = (const char *)data, *end = p + size;
    while (p < end && n_items < 64) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        dm_error e1 = {0}, e2 = {0};
        size_t before = doneset_size(s);
        int checked = doneset_check_key(sc, p, n, &e1);
        int added = doneset_add_json(s, p, n, &e2);
        if ((checked == DM_OK) != (added == DM_OK) || doneset_size(s) > before + 1)
            abort();
        if (added == DM_OK) {
            char *copy = dm_arena_strndup(a, p, n);
            if (ddb_item_decode(copy, n, a, &items[n_items], NULL, &e1) != DM_OK)
                abort();
            n_items++;
        } else if (!e2.message[0]) {
            abort();
        }
        p += n + 1;
    }
    doneset *back = round_trip(s, sc);
    if (doneset_size(back) != doneset_size(s))
        abort();
    for (size_t i = 0; i < n_items; i++) {
        doneset_take(s, &items[i]);
        doneset_take(back, &items[i]);
    }
    if (doneset_size(s) != 0 || doneset_size(back) != 0)
        abort();
    doneset_free(back);
    doneset_free(s);
    dm_arena_free(a);
    return 0;
}
