/* The difference between an item as scanned and as the script left it. */
#include <string.h>

#include "ddb/diff.h"

static bool is_key(const dm_str *name, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(keys[i]) == name->n && memcmp(keys[i], name->p, name->n) == 0)
            return true;
    return false;
}

int ddb_diff_compute(const ddb_item *orig, const ddb_item *next, const char *const *keys, size_t n_keys,
                     dm_arena *a, ddb_diff *d)
{
    memset(d, 0, sizeof *d);
    d->set = dm_arena_alloc(a, (next->n ? next->n : 1) * sizeof *d->set);
    d->remove = dm_arena_alloc(a, (orig->n ? orig->n : 1) * sizeof *d->remove);
    if (!d->set || !d->remove)
        return DM_ERR_NOMEM;
    for (size_t i = 0; i < next->n; i++) {
        const ddb_value *ov = ddb_item_get(orig, next->names[i].p, next->names[i].n);
        /* The Lua host hands back the original value itself when equal. */
        if (ov && (ov == &next->values[i] || (ov->wire.p && ov->wire.p == next->values[i].wire.p) ||
                   ddb_value_equal(ov, &next->values[i])))
            continue;
        d->set[d->n_set++] = i;
        if (is_key(&next->names[i], keys, n_keys))
            d->key_changed = true;
    }
    for (size_t i = 0; i < orig->n; i++) {
        if (ddb_item_get(next, orig->names[i].p, orig->names[i].n))
            continue;
        d->remove[d->n_remove++] = orig->names[i];
        if (is_key(&orig->names[i], keys, n_keys))
            d->key_changed = true;
    }
    return DM_OK;
}

bool ddb_diff_empty(const ddb_diff *d) { return d->n_set == 0 && d->n_remove == 0; }
