/* Numbers that people type (command-line options, settings): all of the
 * text or nothing. strtoll and strtod alone skip leading blanks, stop at
 * the first stray character, and take "inf", "nan" and hex, so "10x" or
 * "" would quietly become a number. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "ddbmig/common.h"

static bool digit(char c) { return c >= '0' && c <= '9'; }

static const char *digits(const char *p)
{
    while (digit(*p))
        p++;
    return p;
}

int dm_parse_int(const char *s, long long min, long long max, long long *out)
{
    if (!s)
        return DM_ERR_INVALID;
    const char *p = s + (*s == '-' || *s == '+');
    if (!digit(*p) || *digits(p))
        return DM_ERR_INVALID;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE || v < min || v > max)
        return DM_ERR_LIMIT;
    *out = v;
    return DM_OK;
}

int dm_parse_number(const char *s, double *out)
{
    if (!s)
        return DM_ERR_INVALID;
    const char *p = s + (*s == '-' || *s == '+');
    const char *int_end = digits(p);
    bool any = int_end > p;
    p = int_end;
    if (*p == '.') {
        const char *frac_end = digits(p + 1);
        any = any || frac_end > p + 1;
        p = frac_end;
    }
    if (!any)
        return DM_ERR_INVALID;
    if (*p == 'e' || *p == 'E') {
        const char *e = p + 1 + (p[1] == '-' || p[1] == '+');
        if (!digit(*e))
            return DM_ERR_INVALID;
        p = digits(e);
    }
    if (*p)
        return DM_ERR_INVALID;
    double v = strtod(s, NULL);
    /* Underflow to a tiny or zero value is harmless; overflow is not. */
    if (!isfinite(v))
        return DM_ERR_LIMIT;
    *out = v;
    return DM_OK;
}
