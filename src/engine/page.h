/* One scanned page as a worker works through it: per item, the writes
 * still outstanding and the outcome. Items finish out of order (writes
 * complete when they complete); the page's progress is the longest prefix
 * of finished items, so a stop in the middle of a page resumes after the
 * last item of that prefix (its key is a valid ExclusiveStartKey) rather
 * than at the page's start, and no item before it is done twice. */
#ifndef DDBMIG_ENGINE_PAGE_H
#define DDBMIG_ENGINE_PAGE_H

#include <stdint.h>

#include "ddbmig/item.h"

typedef enum item_outcome {
    OUT_NONE,       /* not known yet */
    OUT_UNCHANGED,
    OUT_SKIPPED,    /* carried this migration's marker already */
    OUT_CHANGED,
    OUT_MOVED,      /* changed, to a new key */
    OUT_DELETED,
    OUT_FAILED,     /* recorded in the errors file */
    OUT_DONE_BEFORE /* finished by the run a resume continues (doneset.h): not counted again */
} item_outcome;

typedef struct page_item {
    int pending;        /* work outstanding: the item's own handling and its tasks */
    uint8_t outcome;    /* item_outcome */
    uint16_t conflicts;
    bool stuck;         /* a request of its failed for good: never finished */
    const char *wrote;  /* stuck with a write in doubt: what it wrote (wplan_wrote_json), in the page's arena */
} page_item;

typedef struct page_counts {
    long long scanned, changed, unchanged, deleted, failed, conflicts;
} page_counts;

typedef struct page_work {
    ddb_page pg;        /* decoded into the worker's arena */
    dm_buf text;        /* the Scan answer the items borrow from; owned */
    page_item *items;   /* owned */
    size_t cap;
    size_t fed;         /* items taken so far */
    size_t prefix;      /* items[0..prefix) are finished */
    char *next_key;     /* LastEvaluatedKey; owned; NULL on a segment's last page */
} page_work;

/* Takes a decoded page (text moves in). */
int page_begin(page_work *w, dm_buf *text, const ddb_page *pg);
void page_cleanup(page_work *w);

void page_hold(page_work *w, int i);
/* Drops one hold; returns true when that finished the item. */
bool page_release(page_work *w, int i);
void page_set_outcome(page_work *w, int i, item_outcome o);
void page_add_conflict(page_work *w, int i);
/* The run stops with this item's work undone: it must not count as
 * finished, whatever else completes. */
void page_stick(page_work *w, int i);
/* Moves the prefix over finished items; returns how many it passed. */
size_t page_advance(page_work *w);
bool page_complete(const page_work *w);
bool page_finished(const page_work *w, size_t i);
/* Counts of items[0..prefix). */
page_counts page_prefix_counts(const page_work *w);
/* Adds item i's counts to c (an item finished before counts nothing). */
void page_tally(const page_work *w, size_t i, page_counts *c);

#endif
