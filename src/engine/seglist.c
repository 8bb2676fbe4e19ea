/* --segments: which scan segments a process runs. */
#include <stdlib.h>
#include <string.h>

#include "engine_impl.h"

static int number(const char **p, long long *out)
{
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return DM_ERR_INVALID;
    long long v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s - '0');
        if (v > 100000000)
            return DM_ERR_INVALID;
        s++;
    }
    *p = s;
    *out = v;
    return DM_OK;
}

int seglist_parse(const char *text, int total, int **out, int *n, dm_error *err)
{
    *out = NULL;
    *n = 0;
    unsigned char *want = calloc((size_t)total, 1);
    if (!want)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    const char *p = text;
    int rc = DM_OK;
    while (rc == DM_OK) {
        long long a, b;
        const char *at = p;
        if (number(&p, &a) != DM_OK) {
            rc = dm_error_set(err, DM_ERR_INVALID, "--segments '%.60s': a segment number is expected at '%.20s'",
                              text, at);
            break;
        }
        b = a;
        if (*p == '-') {
            p++;
            if (number(&p, &b) != DM_OK || b < a) {
                rc = dm_error_set(err, DM_ERR_INVALID, "--segments '%.60s': a range is FIRST-LAST with FIRST <= LAST",
                                  text);
                break;
            }
        }
        if (b >= total) {
            rc = dm_error_set(err, DM_ERR_INVALID, "--segments '%.60s': segment %lld is past the last one (%d)", text,
                              b, total - 1);
            break;
        }
        for (long long i = a; i <= b; i++)
            want[i] = 1;
        if (*p == '\0')
            break;
        if (*p != ',') {
            rc = dm_error_set(err, DM_ERR_INVALID, "--segments '%.60s': ',' or '-' expected at '%.20s'", text, p);
            break;
        }
        p++;
    }
    int count = 0;
    for (int i = 0; rc == DM_OK && i < total; i++)
        count += want[i];
    if (rc == DM_OK && (*out = malloc((size_t)count * sizeof **out)) == NULL)
        rc = dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    for (int i = 0, k = 0; rc == DM_OK && i < total; i++)
        if (want[i])
            (*out)[k++] = i;
    if (rc == DM_OK)
        *n = count;
    free(want);
    return rc;
}
