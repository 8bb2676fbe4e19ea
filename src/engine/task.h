/* The requests of one worker: a pool of tasks (each a DynamoDB call with
 * what the engine must remember about it) and a first-in first-out queue
 * of those not started yet. A finished task goes back to the pool with its
 * buffers, so a steady run allocates nothing per item. One worker thread
 * owns its pool and queue. */
#ifndef DDBMIG_ENGINE_TASK_H
#define DDBMIG_ENGINE_TASK_H

#include "ddbmig/ddb.h"
#include "ddbmig/loop.h"
#include "wplan.h"

typedef enum task_kind {
    T_WRITE,   /* the plan's write */
    T_FRESH,   /* a consistent GetItem before a delete or move */
    T_FETCH,   /* a consistent GetItem after a conflict without ALL_OLD */
    T_EXTRA,   /* an unguarded put from ddb.put */
    T_BATCH,   /* BatchWriteItem; its body is built when queued */
    T_STMTS    /* BatchExecuteStatement of T_WRITE updates (subs); built as it fills */
} task_kind;

typedef struct task {
    task_kind kind;
    ddb_call call;
    int item;              /* index in the page of the item it serves; -1: none */
    const ddb_item *read;  /* the image the plan was made from (page arena) */
    const ddb_item *extra; /* T_EXTRA: the item to put (page arena) */
    wplan plan;
    int conflicts;         /* how many times the item changed under us */
    int round;             /* T_BATCH: resends of unprocessed entries */
    int entries;           /* T_BATCH: requests in the body */
    int *items;            /* T_BATCH: page indices of its entries; owned */
    struct task *subs;     /* T_STMTS: the updates it carries, in statement order, linked by next */
    size_t n_items, cap_items;
    dm_loop_timer due;     /* a resend's backoff (worker.c: delay) */
    void *owner;           /* the worker, while the timer runs */
    double reserved;       /* capacity units taken from the limiter */
    bool acquired;         /* from the table's limiter */
    bool seg_acquired;     /* from the segment's */
    /* It carries on a write already sent (the update of a failed
     * statement, the write after its fresh read): a stop lets it finish
     * as it lets requests in flight finish, or its item would stay
     * unfinished between finished ones, and a resume would write those
     * again. */
    bool must_finish;
    /* It carries on a write that may have been carried out though no
     * answer said so: given up, its item is in doubt (counted), and its
     * call may retry until the attempts' deadline to settle that. */
    bool in_doubt;
    int64_t sent_us;       /* when it was started (monotonic), for the concurrency controller */
    struct task *next;
} task;

typedef struct task_queue {
    task *head, *tail;
    size_t n;
    task *free;            /* the pool */
} task_queue;

/* A task from the pool (or new), reset, its call ready for op on table. */
task *task_take(task_queue *q, task_kind kind, const char *op, const char *table);
/* Back to the pool, with the updates a T_STMTS task still holds. */
void task_release(task_queue *q, task *t);
void task_push(task_queue *q, task *t);
/* Queues t ahead of every other task. */
void task_push_front(task_queue *q, task *t);
task *task_pop(task_queue *q);
/* Releases every queued task (a stop drops writes not yet sent). */
void task_drop_queued(task_queue *q);
/* Frees the pool. */
void task_queue_cleanup(task_queue *q);
/* Records a page index in a batch task. */
int task_add_item(task *t, int item);

#endif
