/* The errors file: one JSON line per item that failed (segment, key,
 * message, the item as read). It is opened before the first write, so a
 * path that cannot be written stops the run before it starts, and every
 * record is flushed: an item counts as done only once its failure is on
 * disk. Thread-safe. */
#ifndef DDBMIG_ENGINE_ERRLOG_H
#define DDBMIG_ENGINE_ERRLOG_H

#include <pthread.h>
#include <stdio.h>

#include "ddbmig/item.h"

typedef struct errlog {
    pthread_mutex_t mu;
    FILE *f;
    const char *path;  /* borrowed */
    bool broken;       /* a write failed: nothing more is recorded */
} errlog;

/* Opens path for appending (resume) or anew. DM_ERR_CONFIG naming the
 * path and the reason when it cannot be. */
int errlog_open(errlog *l, const char *path, bool append, dm_error *err);
void errlog_close(errlog *l);
/* Appends one record; key_json is the item's key as JSON or NULL, it the
 * item or NULL. DM_ERR_IO when the line could not be written and flushed. */
int errlog_record(errlog *l, int segment, const char *key_json, const char *message, const ddb_item *it);

#endif
