/* Dry-run diffs: the first --show-diffs changes, as the plan would write
 * them, printed under the run's lock so that lines of different workers do
 * not interleave. */
#include <stdio.h>
#include <string.h>

#include "engine_impl.h"

static void print_value(FILE *f, const ddb_value *v)
{
    dm_buf b;
    dm_buf_init(&b, 0);
    ddb_value_encode(v, &b);
    if (b.len > 160)
        fprintf(f, "%.150s... (%zu bytes)", b.data, b.len);
    else
        fputs(dm_buf_cstr(&b), f);
    dm_buf_cleanup(&b);
}

static const char *what(const wplan *p)
{
    switch (p->kind) {
    case WPLAN_DELETE: case WPLAN_BATCH_DELETE: return "DELETE";
    case WPLAN_MOVE: return "KEY CHANGE (new item put, old item deleted)";
    default: return NULL;
    }
}

static void print_plan(FILE *f, const ddb_item *read, const wplan *p)
{
    const ddb_diff *d = &p->diff;
    for (size_t i = 0; i < d->n_set; i++) {
        const dm_str *n = &p->final.names[d->set[i]];
        const ddb_value *old = ddb_item_get(read, n->p, n->n);
        fprintf(f, "  SET %.*s: ", (int)n->n, n->p);
        if (old)
            print_value(f, old);
        else
            fputs("(absent)", f);
        fputs(" -> ", f);
        print_value(f, &p->final.values[d->set[i]]);
        fputc('\n', f);
    }
    for (size_t i = 0; i < d->n_remove; i++) {
        fprintf(f, "  REMOVE %.*s: ", (int)d->remove[i].n, d->remove[i].p);
        print_value(f, ddb_item_get(read, d->remove[i].p, d->remove[i].n));
        fputc('\n', f);
    }
}

void diffshow_print(run_state *r, const ddb_item *read, const wplan *p)
{
    if (r->o->show_diffs <= 0 || !r->o->diff_out)
        return;
    pthread_mutex_lock(&r->mu);
    if (r->diffs_shown < r->o->show_diffs) {
        r->diffs_shown++;
        FILE *f = r->o->diff_out;
        dm_buf key;
        dm_buf_init(&key, 0);
        wr_ctx kw = {.table = r->o->table, .keys = r->keys, .n_keys = r->n_keys};
        wr_key_json(&kw, read, &key);
        fprintf(f, "--- %s %s\n", r->o->table, dm_buf_cstr(&key));
        dm_buf_cleanup(&key);
        if (what(p))
            fprintf(f, "  %s\n", what(p));
        print_plan(f, read, p);
        fflush(f);
    }
    pthread_mutex_unlock(&r->mu);
}
