/* Task pool and queue; see task.h. */
#include <stdlib.h>
#include <string.h>

#include "task.h"

task *task_take(task_queue *q, task_kind kind, const char *op, const char *table)
{
    task *t = q->free;
    if (t) {
        q->free = t->next;
        ddb_call call = t->call;
        int *items = t->items;
        size_t cap = t->cap_items;
        memset(t, 0, sizeof *t);
        t->call = call;
        t->items = items;
        t->cap_items = cap;
        ddb_call_reuse(&t->call, op, table);
    } else {
        if (!(t = calloc(1, sizeof *t)))
            return NULL;
        ddb_call_init(&t->call, op, table);
    }
    t->kind = kind;
    t->item = -1;
    t->call.user = t;
    return t;
}

void task_release(task_queue *q, task *t)
{
    /* A batch's updates not taken out of it go with it, unfinished. */
    while (t->subs) {
        task *c = t->subs;
        t->subs = c->next;
        c->next = q->free;
        q->free = c;
    }
    t->next = q->free;
    q->free = t;
}

void task_push(task_queue *q, task *t)
{
    t->next = NULL;
    if (q->tail)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
    q->n++;
}

void task_push_front(task_queue *q, task *t)
{
    t->next = q->head;
    q->head = t;
    if (!q->tail)
        q->tail = t;
    q->n++;
}

task *task_pop(task_queue *q)
{
    task *t = q->head;
    if (!t)
        return NULL;
    q->head = t->next;
    if (!q->head)
        q->tail = NULL;
    q->n--;
    return t;
}

void task_drop_queued(task_queue *q)
{
    task *t;
    while ((t = task_pop(q)) != NULL)
        task_release(q, t);
}

void task_queue_cleanup(task_queue *q)
{
    task_drop_queued(q);
    while (q->free) {
        task *t = q->free;
        q->free = t->next;
        ddb_call_cleanup(&t->call);
        free(t->items);
        free(t);
    }
}

int task_add_item(task *t, int item)
{
    if (t->n_items == t->cap_items) {
        size_t cap = t->cap_items ? t->cap_items * 2 : 32;
        int *p = realloc(t->items, cap * sizeof *p);
        if (!p)
            return DM_ERR_NOMEM;
        t->items = p;
        t->cap_items = cap;
    }
    t->items[t->n_items++] = item;
    return DM_OK;
}
