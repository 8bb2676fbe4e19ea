/* JSON written for people and their scripts (run and verify summaries,
 * export/import results, describe): each kind of quantity is rounded the
 * same way everywhere, and printed as rounded ("elapsed_s": 0.202, never
 * 0.20200000000000001). */
#ifndef DDBMIG_JSON_OUT_H
#define DDBMIG_JSON_OUT_H

#include <jansson.h>
#include <stdio.h>

#include "ddbmig/common.h"

typedef enum dm_json_qty {
    DM_JSON_SECONDS, /* durations: 3 decimals (milliseconds) */
    DM_JSON_RATE,    /* items or units per second: 1 decimal */
    DM_JSON_UNITS,   /* capacity units: 1 decimal (they come in halves) */
    DM_JSON_RATIO    /* ratios such as skew: 2 decimals */
} dm_json_qty;

/* A new JSON number for v rounded as its kind wants; JSON null when v is
 * not finite (JSON has no NaN or infinity). Owned by the caller, or to be
 * stolen by json_pack's "o" / json_object_set_new. */
DM_API json_t *dm_json_quantity(double v, dm_json_qty kind);

/* Writes doc to f, indented, keys in insertion order, numbers from
 * dm_json_quantity as rounded, and a final newline. */
DM_API int dm_json_print(const json_t *doc, FILE *f);

#endif
