/* What a migration changes in one item: the attributes to SET and to
 * REMOVE, and whether a key attribute changed (then the item must move:
 * put the new one, delete the old one, in one transaction). */
#ifndef DDBMIG_DIFF_H
#define DDBMIG_DIFF_H

#include "ddbmig/item.h"

typedef struct ddb_diff {
    size_t *set;          /* indices into the new item; in the arena */
    size_t n_set;
    dm_str *remove;       /* names of the original's attributes now absent */
    size_t n_remove;
    bool key_changed;
} ddb_diff;

/* Compares by DynamoDB's equality. key_names are the table's key
 * attributes (1 or 2). Arrays live in arena a. */
DM_API int ddb_diff_compute(const ddb_item *orig, const ddb_item *next, const char *const *key_names, size_t n_keys,
                            dm_arena *a, ddb_diff *out);
DM_API bool ddb_diff_empty(const ddb_diff *d);

#endif
