/* Logging to stderr. Messages are formatted by callers that never pass
 * secrets; the HTTP layer redacts Authorization and token headers before
 * anything reaches here. Whatever still quotes a secret (bad input a user
 * pasted one into, a script's own error) is caught by the filter in front
 * of stderr (dm_redact_stderr). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddbmig/common.h"

static dm_log_level current = DM_LOG_WARN;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void dm_log_set_level(dm_log_level level) { current = level; }

bool dm_log_enabled(dm_log_level level) { return level <= current; }

void dm_log(dm_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    if (!dm_log_enabled(level))
        return;
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&lock);
    fprintf(stderr, "ddbmig: %s: %s\n", names[level], line);
    pthread_mutex_unlock(&lock);
}

/* ---- redaction ---------------------------------------------------------------- */

#define REDACT_MAX 16
#define REDACT_MIN_LEN 8

static pthread_mutex_t redact_lock = PTHREAD_MUTEX_INITIALIZER;
static char *secrets[REDACT_MAX];
static size_t n_secrets;

void dm_redact_add(const char *secret)
{
    if (!secret || strlen(secret) < REDACT_MIN_LEN)
        return;
    pthread_mutex_lock(&redact_lock);
    bool known = false;
    for (size_t i = 0; i < n_secrets && !known; i++)
        known = strcmp(secrets[i], secret) == 0;
    if (!known) {
        /* Full: the oldest goes (rotated credentials replace earlier ones). */
        if (n_secrets == REDACT_MAX) {
            free(secrets[0]);
            memmove(secrets, secrets + 1, (REDACT_MAX - 1) * sizeof *secrets);
            n_secrets--;
        }
        char *copy = strdup(secret);
        if (copy)
            secrets[n_secrets++] = copy;
    }
    pthread_mutex_unlock(&redact_lock);
}

/* The first secret occurring in buf[0..n), or NULL; *at gets where. */
static const char *first_secret(const char *buf, size_t n, size_t *at, size_t *len)
{
    const char *best = NULL;
    for (size_t i = 0; i < n_secrets; i++) {
        size_t l = strlen(secrets[i]);
        const char *hit = memmem(buf, n, secrets[i], l);
        if (hit && (!best || hit < buf + *at)) {
            best = secrets[i];
            *at = (size_t)(hit - buf);
            *len = l;
        }
    }
    return best;
}

int dm_redact_write(int fd, const char *buf, size_t n)
{
    pthread_mutex_lock(&redact_lock);
    int rc = 0;
    size_t at = 0, len = 0;
    while (rc == 0 && first_secret(buf, n, &at, &len)) {
        rc = dm_write_all(fd, buf, at);
        rc = rc ? rc : dm_write_all(fd, "[redacted]", 10);
        buf += at + len;
        n -= at + len;
    }
    rc = rc ? rc : dm_write_all(fd, buf, n);
    pthread_mutex_unlock(&redact_lock);
    return rc;
}

static ssize_t redact_cookie_write(void *cookie, const char *buf, size_t n)
{
    (void)cookie;
    return dm_redact_write(STDERR_FILENO, buf, n) == 0 ? (ssize_t)n : -1;
}

int dm_redact_stderr(void)
{
    static bool done;
    if (done)
        return DM_OK;
    cookie_io_functions_t io = {.write = redact_cookie_write};
    FILE *f = fopencookie(NULL, "w", io);
    if (!f)
        return DM_ERR_NOMEM;
    /* Whole lines at a time, so that a secret is never cut in two by the
     * buffer: lines are flushed as they end, and the buffer holds any line
     * ddbmig writes. */
    setvbuf(f, NULL, _IOLBF, 1 << 16);
    fflush(stderr);
    stderr = f;
    done = true;
    return DM_OK;
}
