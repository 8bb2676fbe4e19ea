/* A page's item bookkeeping; see page.h. */
#include <stdlib.h>
#include <string.h>

#include "page.h"

int page_begin(page_work *w, dm_buf *text, const ddb_page *pg)
{
    if (pg->n_items > w->cap) {
        page_item *p = realloc(w->items, pg->n_items * sizeof *p);
        if (!p)
            return DM_ERR_NOMEM;
        w->items = p;
        w->cap = pg->n_items;
    }
    if (pg->n_items)
        memset(w->items, 0, pg->n_items * sizeof *w->items);
    dm_buf_cleanup(&w->text);
    w->text = *text;
    dm_buf_init(text, 0);
    w->pg = *pg;
    w->fed = w->prefix = 0;
    free(w->next_key);
    w->next_key = pg->last_key.p ? dm_strndup(pg->last_key.p, pg->last_key.n) : NULL;
    return DM_OK;
}

void page_cleanup(page_work *w)
{
    dm_buf_cleanup(&w->text);
    free(w->items);
    free(w->next_key);
    memset(w, 0, sizeof *w);
}

void page_hold(page_work *w, int i) { w->items[i].pending++; }

bool page_release(page_work *w, int i)
{
    return --w->items[i].pending == 0;
}

void page_set_outcome(page_work *w, int i, item_outcome o) { w->items[i].outcome = (uint8_t)o; }

void page_add_conflict(page_work *w, int i)
{
    if (w->items[i].conflicts < UINT16_MAX)
        w->items[i].conflicts++;
}

void page_stick(page_work *w, int i) { w->items[i].stuck = true; }

static bool finished(const page_item *it) { return it->pending == 0 && it->outcome != OUT_NONE && !it->stuck; }

bool page_finished(const page_work *w, size_t i) { return i < w->fed && finished(&w->items[i]); }

size_t page_advance(page_work *w)
{
    size_t from = w->prefix;
    while (w->prefix < w->fed && finished(&w->items[w->prefix]))
        w->prefix++;
    return w->prefix - from;
}

bool page_complete(const page_work *w) { return w->prefix == w->pg.n_items; }

/* An item finished in an earlier run counts nothing: its counts were
 * saved with the checkpoint it came from. */
static void tally(page_counts *c, const page_item *it)
{
    if (it->outcome == OUT_DONE_BEFORE)
        return;
    c->scanned++;
    c->conflicts += it->conflicts;
    switch (it->outcome) {
    case OUT_CHANGED: case OUT_MOVED: c->changed++; break;
    case OUT_DELETED: c->deleted++; break;
    case OUT_FAILED: c->failed++; break;
    default: c->unchanged++; break;
    }
}

page_counts page_prefix_counts(const page_work *w)
{
    page_counts c = {0};
    for (size_t i = 0; i < w->prefix; i++)
        tally(&c, &w->items[i]);
    return c;
}

void page_tally(const page_work *w, size_t i, page_counts *c) { tally(c, &w->items[i]); }
