/* The capacity record: the original settings of a table, saved before the
 * first change, and what a restore still has to do. One JSON file per
 * run (CHECKPOINT.capacity.json), replaced atomically at every change of
 * status, and locked (RECORD.lock) while capacity is being changed.
 * cap_record_parse is pure and fuzzed (tests/fuzz/fuzz_caprecord.c). */
#ifndef DDBMIG_CAPACITY_RECORD_H
#define DDBMIG_CAPACITY_RECORD_H

#include "ddbmig/capacity.h"

#define CAP_MAX_SWITCHES 64
#define CAP_MAX_PENDING 32

typedef struct cap_pending {
    char what[400];
    int64_t not_before_ms;
    char reason[400];
} cap_pending;

typedef struct cap_record {
    char status[16];         /* raising, raised, restoring, pending, restored */
    char method[24];
    int64_t created_ms, updated_ms;
    cap_state original;      /* owned */
    int n_switches;          /* switches to on-demand made by ddbmig */
    int64_t switches_ms[CAP_MAX_SWITCHES];
    int n_pending;
    cap_pending pending[CAP_MAX_PENDING];
    long long store_version;  /* checkpoint table: the item's version read; 0: none */
} cap_record;

int cap_record_parse(const char *text, size_t len, cap_record *out, dm_error *err);
json_t *cap_record_json(const cap_record *r);
void cap_record_cleanup(cap_record *r);

/* Locks path (RECORD.lock) against other ddbmig processes. */
int cap_record_lock(const cap_where *w, int *lock, dm_error *err);
void cap_record_unlock(int lock);
/* With the lock held: a record still to restore keeps its original
 * settings (a second raise must not take raised values for the original
 * ones); otherwise a new one is made from s, the table as it is now,
 * keeping the switches to on-demand an earlier record counted. Refused
 * while another record of the same table (beside path or in .ddbmig/) is
 * not restored. Saved as "raising" before returning. */
int cap_record_begin(const cap_where *w, const cap_state *s, cap_method m, cap_record *out, dm_error *err);
/* With the lock held: reads an existing record. */
int cap_record_open(const cap_where *w, cap_record *out, dm_error *err);

int cap_record_set_status(cap_record *r, const cap_where *w, const char *status, dm_error *err);
void cap_record_add_switch(cap_record *r, int64_t at_ms);
void cap_record_clear_pending(cap_record *r);
int cap_record_add_pending(cap_record *r, const char *what, int64_t not_before_ms, const char *reason,
                           dm_error *err);
void cap_record_print_pending(const cap_record *r, FILE *f);

#endif
