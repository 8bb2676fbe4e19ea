/* Logging to stderr. Messages are formatted by callers that never pass
 * secrets; the HTTP layer redacts Authorization and token headers before
 * anything reaches here. */
#include <pthread.h>
#include <stdio.h>

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
