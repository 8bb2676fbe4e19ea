/* Error codes and the dm_error detail record. */
#include <stdio.h>
#include <string.h>

#include "ddbmig/common.h"

const char *dm_err_str(int code)
{
    switch (code) {
    case DM_OK: return "ok";
    case DM_ERR_NOMEM: return "out of memory";
    case DM_ERR_INVALID: return "invalid input";
    case DM_ERR_IO: return "I/O error";
    case DM_ERR_PARSE: return "parse error";
    case DM_ERR_CONFIG: return "configuration error";
    case DM_ERR_CREDENTIALS: return "no credentials";
    case DM_ERR_NETWORK: return "network error";
    case DM_ERR_SERVICE: return "service error";
    case DM_ERR_THROTTLED: return "throttled";
    case DM_ERR_CHECKSUM: return "checksum mismatch";
    case DM_ERR_LIMIT: return "limit exceeded";
    case DM_ERR_UNSUPPORTED: return "unsupported by endpoint";
    case DM_ERR_STOPPED: return "stopped on request";
    default: return "unknown error";
    }
}

void dm_error_clear(dm_error *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}

int dm_error_set(dm_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    dm_error_clear(err);
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return code;
}

void dm_error_prefix(dm_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[512], old[sizeof(err->message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof(old));
    size_t pl = strlen(prefix);
    if (pl + 2 >= sizeof(err->message))
        pl = sizeof(err->message) - 3;
    memcpy(err->message, prefix, pl);
    memcpy(err->message + pl, ": ", 2);
    dm_strlcpy(err->message + pl + 2, old, sizeof(err->message) - pl - 2);
}
