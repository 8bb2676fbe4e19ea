/* The monitor thread: a live progress line on a terminal (one log line
 * every 10 s otherwise), a checkpoint every 2 s, and the final summary. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddbmig/json_out.h"
#include "ctable.h"
#include "engine_impl.h"

static double elapsed_s(const run_state *r) { return (double)(dm_monotonic_ms() - r->start_ms) / 1000.0; }

static void fmt_duration(double s, char *out, size_t size)
{
    if (s < 0 || !isfinite(s)) {
        snprintf(out, size, "--:--");
        return;
    }
    long t = (long)s;
    if (t >= 3600)
        snprintf(out, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(out, size, "%ld:%02ld", t / 60, t % 60);
}

static void progress_line(run_state *r, bool tty)
{
    counters *c = &r->c;
    long long scanned = atomic_load(&c->scanned), changed = atomic_load(&c->changed);
    long long unchanged = atomic_load(&c->unchanged), failed = atomic_load(&c->failed);
    long long total = r->desc.item_count > 0 ? r->desc.item_count : 0;
    double secs = elapsed_s(r);
    double rate = secs > 0 ? (double)scanned / secs : 0;
    double rcu = atomic_load(&c->read_milli) / 1000.0 / (secs > 0 ? secs : 1);
    double wcu = atomic_load(&c->write_milli) / 1000.0 / (secs > 0 ? secs : 1);
    ddb_stats *st = ddb_shared_stats(r->shared);
    long long attempts = atomic_load(&st->attempts), throttled = atomic_load(&st->throttled);
    double thr = attempts ? 100.0 * (double)throttled / (double)attempts : 0;
    long long done = scanned + r->resumed_scanned;
    double frac = total > 0 ? fmin(1.0, (double)done / (double)total) : 0;
    char eta[32];
    fmt_duration(rate > 0 && total > done ? (double)(total - done) / rate : (total > 0 ? 0 : -1), eta, sizeof eta);
    pthread_mutex_lock(&r->mu);
    int segs_done = r->segs_done;
    pthread_mutex_unlock(&r->mu);
    if (tty) {
        char bar[21];
        int fill = (int)(frac * 20);
        for (int i = 0; i < 20; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[20] = '\0';
        fprintf(stderr,
                "\r\033[K[%s] %3.0f%% %lld/%lld | changed %lld unchanged %lld failed %lld | %.0f items/s | "
                "RCU %.0f/s WCU %.0f/s | throttled %.1f%% | segments %d/%d | ETA %s",
                bar, frac * 100, done, total, changed, unchanged, failed, rate, rcu, wcu, thr, segs_done, r->n_segs,
                eta);
    } else {
        fprintf(stderr,
                "ddbmig: %lld items scanned (about %.0f%% of %lld), %lld changed, %lld unchanged, %lld failed; "
                "%.0f items/s, %.0f RCU/s, %.0f WCU/s, %.1f%% throttled; segments %d/%d; ETA %s\n",
                done, frac * 100, total, changed, unchanged, failed, rate, rcu, wcu, thr, segs_done, r->n_segs, eta);
    }
    fflush(stderr);
}

void *monitor_main(void *arg)
{
    run_state *r = arg;
    bool tty = isatty(2) && !r->o->quiet;
    int64_t last_save = dm_monotonic_ms(), last_log = last_save, last_draw = 0;
    /* Woken often for the pool's first look; the rest keeps its own pace. */
    while (!engine_wait_finished(r, 50)) {
        int64_t now = dm_monotonic_ms();
        engine_pool_tick(r, now);
        if (r->deadline_mono && now >= r->deadline_mono)
            engine_request_stop(r, STOP_DEADLINE, NULL);
        /* The checkpoint table is written less often: many processes share it. */
        int64_t every = r->ct ? ctable_flush_every_ms(r) : 2000;
        if (!r->o->dry_run && r->o->job != ENGINE_VERIFY && now - last_save >= every) {
            dm_error err = {0};
            /* Progress that cannot be recorded is progress a resume would
             * redo: stop rather than go on blind. */
            int rc = r->ct ? ctable_flush(r, ctable_client(r), false, &err) : checkpoint_save(r, "running", &err);
            if (rc != DM_OK)
                engine_request_stop(r, STOP_FATAL, &err);
            last_save = now;
        }
        if (r->o->quiet)
            continue;
        if (tty && now - last_draw >= 250) {
            progress_line(r, true);
            last_draw = now;
        }
        else if (now - last_log >= 10000) {
            progress_line(r, false);
            last_log = now;
        }
    }
    if (tty)
        fprintf(stderr, "\r\033[K");
    return NULL;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* Slowest segment's work time over the median's: stragglers and hot
 * partitions show as a large figure. */
static double skew(run_state *r, long long *slowest_index)
{
    if (r->n_segs <= 0)
        return 0;
    long long *t = calloc((size_t)r->n_segs, sizeof *t);
    if (!t)
        return 0;
    long long max = -1;
    for (int i = 0; i < r->n_segs; i++) {
        t[i] = r->segs[i].work_ms;
        if (t[i] > max) {
            max = t[i];
            *slowest_index = i;
        }
    }
    qsort(t, (size_t)r->n_segs, sizeof *t, cmp_ll);
    long long med = t[r->n_segs / 2];
    free(t);
    return med > 0 ? (double)max / (double)med : 0;
}

/* A run that stopped at --limit with segments left did what was asked,
 * but is not complete: the next run goes on (exit status unchanged, 0). */
static const char *status_name(run_state *r, engine_status st)
{
    if (st == ENGINE_DONE && atomic_load(&r->stop) == STOP_LIMIT && r->segs_done < r->n_segs)
        return "limited";
    switch (st) {
    case ENGINE_DONE: return "complete";
    case ENGINE_ITEM_ERRORS: return "complete_with_errors";
    case ENGINE_STOPPED: return "stopped";
    case ENGINE_INTERRUPTED: return "interrupted";
    default: return "failed";
    }
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static bool seg_listed(const run_state *r, int i)
{
    return bsearch(&i, r->seg_list, (size_t)r->n_seg_list, sizeof i, cmp_int) != NULL;
}

static json_t *summary_json(run_state *r, engine_status st, double secs, double sk, long long slowest)
{
    counters *c = &r->c;
    ddb_stats *ds = ddb_shared_stats(r->shared);
    json_t *segs = json_array();
    for (int i = 0; i < r->n_segs; i++) {
        seg_state *s = &r->segs[i];
        /* With --segments or a shared checkpoint table, the segments this
         * process was given or looked at. */
        if ((r->seg_list && !seg_listed(r, i)) || (r->ct && !s->seen))
            continue;
        json_array_append_new(segs, json_pack("{s:i,s:b,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "segment", i, "done",
                                              s->status == SEG_DONE, "worked", s->worked, "scanned", (json_int_t)s->scanned, "changed",
                                              (json_int_t)s->changed, "unchanged", (json_int_t)s->unchanged,
                                              "failed", (json_int_t)s->failed, "conflicts",
                                              (json_int_t)s->conflicts, "pages", (json_int_t)s->pages, "seconds",
                                              dm_json_quantity((double)s->work_ms / 1000.0, DM_JSON_SECONDS)));
    }
    /* Done: every segment this process was given (--segments), or all. */
    int in_scope = 0, scope_done = 0;
    for (int i = 0; i < r->n_segs; i++)
        if (!r->seg_list || seg_listed(r, i)) {
            in_scope++;
            scope_done += r->segs[i].status == SEG_DONE;
        }
    long long scanned = atomic_load(&c->scanned);
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:b,s:i,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:I,s:I,s:o,s:o,s:o,s:I,s:o}",
        "table", r->o->table, "migration", r->migration, "status", status_name(r, st), "dry_run",
        r->o->dry_run || r->o->job == ENGINE_VERIFY, "segments", r->n_segs, "segments_done", r->segs_done, "scanned",
        (json_int_t)scanned, "changed", (json_int_t)atomic_load(&c->changed), "unchanged",
        (json_int_t)atomic_load(&c->unchanged), "deleted", (json_int_t)atomic_load(&c->deleted), "moved",
        (json_int_t)atomic_load(&c->moved), "extras", (json_int_t)atomic_load(&c->extras), "failed",
        (json_int_t)atomic_load(&c->failed), "conflicts", (json_int_t)atomic_load(&c->conflicts), "skipped_marked",
        (json_int_t)atomic_load(&c->skipped), "read_units",
        dm_json_quantity(atomic_load(&c->read_milli) / 1000.0, DM_JSON_UNITS), "write_units",
        dm_json_quantity(atomic_load(&c->write_milli) / 1000.0, DM_JSON_UNITS), "throttled",
        (json_int_t)atomic_load(&ds->throttled), "retries", (json_int_t)atomic_load(&ds->retried), "elapsed_s",
        dm_json_quantity(secs, DM_JSON_SECONDS), "items_per_s",
        dm_json_quantity(secs > 0 ? (double)scanned / secs : 0, DM_JSON_RATE), "skew",
        dm_json_quantity(sk, DM_JSON_RATIO), "slowest_segment", (json_int_t)slowest, "per_segment", segs);
    if (r->o->target_table)
        json_object_set_new(o, "target_table", json_string(r->o->target_table));
    json_object_set_new(o, "writes", json_integer(atomic_load(&c->writes)));
    json_object_set_new(o, "done", json_boolean(in_scope > 0 && in_scope == scope_done));
    json_object_set_new(o, "in_doubt", json_integer(atomic_load(&c->in_doubt)));
    if (r->fatal.message[0])
        json_object_set_new(o, "error", json_string(r->fatal.message));
    if (atomic_load(&c->failed) > 0)
        json_object_set_new(o, "errors_file", json_string(r->errors_path));
    if (st == ENGINE_STOPPED || st == ENGINE_INTERRUPTED)
        json_object_set_new(o, "checkpoint", json_string(r->checkpoint_path));
    return o;
}

void progress_final(run_state *r, engine_status st)
{
    double secs = elapsed_s(r);
    long long slowest = 0;
    double sk = skew(r, &slowest);
    if (r->o->json_output) {
        json_t *o = summary_json(r, st, secs, sk, slowest);
        if (r->o->job == ENGINE_VERIFY)
            json_object_set_new(o, "left", json_integer(atomic_load(&r->c.changed) + atomic_load(&r->c.deleted)));
        dm_json_print(o, stdout);
        json_decref(o);
        fflush(stdout);
        return;
    }
    counters *c = &r->c;
    long long scanned = atomic_load(&c->scanned);
    ddb_stats *ds = ddb_shared_stats(r->shared);
    bool dry = r->o->dry_run || r->o->job == ENGINE_VERIFY;
    printf("%s %s, migration %s: %s\n", r->o->job == ENGINE_VERIFY ? "Verified" : dry ? "Dry run of" : "Migrated",
           r->o->table, r->migration, status_name(r, st));
    printf("  scanned    %lld items in %.1f s (%.0f items/s), %d of %d segments\n", scanned, secs,
           secs > 0 ? (double)scanned / secs : 0, r->segs_done, r->n_segs);
    printf("  %-10s %lld\n", dry ? "to change" : "changed", atomic_load(&c->changed));
    printf("  unchanged  %lld%s\n", atomic_load(&c->unchanged),
           atomic_load(&c->skipped) ? " (including items already marked)" : "");
    printf("  %-10s %lld\n", dry ? "to delete" : "deleted", atomic_load(&c->deleted));
    if (atomic_load(&c->extras))
        printf("  extra puts %lld\n", atomic_load(&c->extras));
    printf("  failed     %lld%s%s\n", atomic_load(&c->failed), atomic_load(&c->failed) ? ", see " : "",
           atomic_load(&c->failed) ? r->errors_path : "");
    printf("  conflicts  %lld (concurrent writes by others, resolved by running the script again)\n",
           atomic_load(&c->conflicts));
    printf("  capacity   %.1f read units, %.1f write units; %lld throttled, %lld retries\n",
           atomic_load(&c->read_milli) / 1000.0, atomic_load(&c->write_milli) / 1000.0,
           (long long)atomic_load(&ds->throttled), (long long)atomic_load(&ds->retried));
    printf("  skew       slowest segment %lld took %.1fx the median\n", slowest, sk);
    if (r->o->job == ENGINE_VERIFY)
        printf("  left       %lld items still to migrate\n", atomic_load(&c->changed) + atomic_load(&c->deleted));
    fflush(stdout);
}

void progress_result(run_state *r, engine_result *out)
{
    memset(out, 0, sizeof *out);
    counters *c = &r->c;
    out->scanned = atomic_load(&c->scanned);
    out->changed = atomic_load(&c->changed);
    out->unchanged = atomic_load(&c->unchanged);
    out->deleted = atomic_load(&c->deleted);
    out->failed = atomic_load(&c->failed);
    out->conflicts = atomic_load(&c->conflicts);
    for (int i = 0; i < r->n_segs; i++)
        if (!r->seg_list || seg_listed(r, i)) {
            out->segments++;
            out->segments_done += r->segs[i].status == SEG_DONE;
        }
    out->done = out->segments > 0 && out->segments == out->segments_done;
}
