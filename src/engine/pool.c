/* The worker pool: adding workers while the run lasts, and the monitor's
 * look at whether more would help (the decision itself is conc_pool_add,
 * pure). The measures: the workers' time waiting on pages, the process's
 * and the machine's CPU, throttling. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "conc.h"
#include "engine_impl.h"

bool engine_add_worker(run_state *r)
{
    pthread_mutex_lock(&r->mu);
    bool ok = !r->pool_closed;
    if (ok && r->n_threads == r->cap_threads) {
        int cap = r->cap_threads ? 2 * r->cap_threads : 16;
        pthread_t *p = realloc(r->threads, (size_t)cap * sizeof *p);
        ok = p != NULL;
        if (ok) {
            r->threads = p;
            r->cap_threads = cap;
        }
    }
    ok = ok && pthread_create(&r->threads[r->n_threads], NULL, worker_main, r) == 0;
    if (ok)
        r->n_threads++;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

static int64_t process_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec + (int64_t)ru.ru_stime.tv_sec * 1000000 +
           ru.ru_stime.tv_usec;
}

void engine_page_wait(run_state *r, int64_t start_us, int64_t end_us)
{
    page_waits *pw = &r->waits;
    pthread_mutex_lock(&pw->mu);
    if (end_us) {
        pw->ended_us += end_us - start_us;
        pw->waiting--;
        pw->since_sum_us -= start_us;
    } else {
        pw->waiting++;
        pw->since_sum_us += start_us;
    }
    pthread_mutex_unlock(&pw->mu);
}

/* The workers' time waiting on pages so far, the waits under way included. */
static int64_t scan_wait_so_far_us(page_waits *pw)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    pthread_mutex_lock(&pw->mu);
    int64_t ongoing = pw->waiting * now_us - pw->since_sum_us, total = pw->ended_us + (ongoing > 0 ? ongoing : 0);
    pthread_mutex_unlock(&pw->mu);
    return total;
}

/* The machine's busy CPU time (all processes) from /proc/stat, in
 * microseconds; -1 where it cannot be read. */
static int64_t machine_cpu_us(void)
{
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
        return -1;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6], &v[7]);
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    if (n < 8 || hz <= 0)
        return -1;
    /* user nice system (idle iowait) irq softirq steal */
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    return (int64_t)(busy * 1000000ULL / (unsigned long long)hz);
}

/* Whether a segment is left for a new worker to take (with a checkpoint
 * table: one not held here; another process may hold it). */
static bool segments_left(run_state *r)
{
    pthread_mutex_lock(&r->mu);
    bool left = false;
    if (r->ct) {
        for (int i = 0; i < r->n_segs && !left; i++)
            left = r->segs[i].status == SEG_PENDING;
    } else {
        left = r->next_seg < (r->seg_list ? r->n_seg_list : r->n_segs);
    }
    pthread_mutex_unlock(&r->mu);
    return left;
}

static void pool_look_now(run_state *r, pool_look *l, int64_t now_ms)
{
    l->ms = now_ms;
    l->wait_us = scan_wait_so_far_us(&r->waits);
    l->cpu_us = process_cpu_us();
    l->machine_us = machine_cpu_us();
    l->throttled = atomic_load(&ddb_shared_stats(r->shared)->throttled);
}

/* Every quarter second (a tenth in the first second), the pool grows
 * while the workers wait on Scan pages a quarter of their time or more,
 * the machine's CPU has room, nothing is throttled, no read cap holds the
 * scans back and segments are left: the run is bound by answer times,
 * which more segments at once overcome (conc_pool_add says how many). At
 * most 8 per CPU, 256, and one per segment. */
void engine_pool_tick(run_state *r, int64_t now_ms)
{
    /* In the first second, looks come often, so that a run of slow Scans
     * does not spend it on the starting pool; later ones see more. */
    int64_t span_ms = now_ms - r->pool.ms;
    if (span_ms < (now_ms - r->start_ms < 1000 ? 100 : 250))
        return;
    pool_look was = r->pool;
    pool_look_now(r, &r->pool, now_ms);
    if (r->workers_fixed || r->o->max_read_units > 0 || r->pool.throttled > was.throttled)
        return;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cpus = cpus > 0 ? cpus : 1;
    pthread_mutex_lock(&r->mu);
    int n = r->n_threads;
    pthread_mutex_unlock(&r->mu);
    int cap = (int)(cpus * 8 < 256 ? cpus * 8 : 256);
    cap = cap < r->n_segs ? cap : r->n_segs;
    double starved = (double)(r->pool.wait_us - was.wait_us) / ((double)span_ms * 1000.0 * n);
    /* The machine's CPU, when it can be read: the room other processes
     * (the service on the same host, a neighbour) leave counts too. */
    bool machine = r->pool.machine_us >= 0 && was.machine_us >= 0;
    int64_t used = machine ? r->pool.machine_us - was.machine_us : r->pool.cpu_us - was.cpu_us;
    used = used > 0 ? used : 0;
    double busy = (double)used / ((double)span_ms * 1000.0 * (double)cpus);
    int add = conc_pool_add(n, cap, starved, busy);
    if (add <= 0 || !segments_left(r))
        return;
    DM_DEBUG("at %.1f s, %d workers wait on pages %.0f%% of the time, CPU %.0f%% busy: %d more",
             (double)(now_ms - r->start_ms) / 1000.0, n, starved * 100, busy * 100, add);
    for (int i = 0; i < add; i++)
        if (!engine_add_worker(r))
            break;
}

void engine_pool_begin(run_state *r) { pool_look_now(r, &r->pool, r->start_ms); }
