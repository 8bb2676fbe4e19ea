/* libFuzzer target for the parsers of typed numbers (dm_parse_int,
 * dm_parse_number): any input is refused or gives a value in range, and
 * an accepted one is made only of the characters a number may hold. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddbmig/common.h"

static void check_chars(const char *s, const char *allowed)
{
    if (strspn(s, allowed) != strlen(s))
        abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size > 256 || memchr(data, 0, size)) /* options are C strings */
        return 0;
    char s[257];
    memcpy(s, data, size);
    s[size] = '\0';
    long long min = -1000, max = 1000000, v = 0;
    int rc = dm_parse_int(s, min, max, &v);
    if (rc == DM_OK) {
        if (v < min || v > max)
            abort();
        check_chars(s, "+-0123456789");
        char again[32];
        snprintf(again, sizeof again, "%lld", v);
        long long w = 0;
        if (dm_parse_int(again, min, max, &w) != DM_OK || w != v)
            abort();
    } else if (rc != DM_ERR_INVALID && rc != DM_ERR_LIMIT) {
        abort();
    }
    double d = 0;
    rc = dm_parse_number(s, &d);
    if (rc == DM_OK) {
        if (!isfinite(d))
            abort();
        check_chars(s, "+-.0123456789eE");
    } else if (rc != DM_ERR_INVALID && rc != DM_ERR_LIMIT) {
        abort();
    }
    return 0;
}
