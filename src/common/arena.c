/* Bump allocator for items: a page of a scan is decoded into one arena and
 * released at once when its writes are done. */
#include <stdlib.h>
#include <string.h>

#include "ddbmig/item.h"

typedef struct chunk {
    struct chunk *next;
    size_t size, used;
    max_align_t data[]; /* aligned storage follows */
} chunk;

struct dm_arena {
    chunk *head;
    size_t chunk_bytes;
    size_t total;
};

dm_arena *dm_arena_new(size_t chunk_bytes)
{
    dm_arena *a = calloc(1, sizeof *a);
    if (a)
        a->chunk_bytes = chunk_bytes ? chunk_bytes : 64 * 1024;
    return a;
}

void dm_arena_free(dm_arena *a)
{
    if (!a)
        return;
    for (chunk *c = a->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(a);
}

void dm_arena_reset(dm_arena *a)
{
    chunk *keep = NULL;
    for (chunk *c = a->head, *n; c; c = n) {
        n = c->next;
        if (!n && c->size == a->chunk_bytes)
            keep = c; /* the oldest, regular-sized chunk */
        else
            free(c);
    }
    a->head = keep;
    if (keep) {
        keep->used = 0;
        keep->next = NULL;
    }
    a->total = 0;
}

void *dm_arena_alloc(dm_arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (n == 0)
        n = 8;
    chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = n > a->chunk_bytes ? n : a->chunk_bytes;
        chunk *nc = malloc(sizeof *nc + size);
        if (!nc)
            return NULL;
        nc->size = size;
        nc->used = 0;
        /* A big one-off allocation goes behind the current chunk, so the
         * current chunk's free space stays usable. */
        if (c && size > a->chunk_bytes) {
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            a->head = nc;
        }
        c = nc;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    a->total += n;
    return p;
}

char *dm_arena_strndup(dm_arena *a, const char *s, size_t n)
{
    char *p = dm_arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

size_t dm_arena_used(const dm_arena *a) { return a->total; }
