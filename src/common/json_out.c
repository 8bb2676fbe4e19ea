/* Rounded numbers for JSON output, and the one way it is printed. The
 * rounding is decimal (round(v * 10^d) / 10^d), which leaves the nearest
 * double to a short decimal; printing with 15 significant digits, which a
 * double always holds exactly, then shows that short decimal and nothing
 * of the binary tail that the default 17 digits would. */
#include <math.h>

#include "ddbmig/json_out.h"

static int decimals(dm_json_qty kind)
{
    switch (kind) {
    case DM_JSON_SECONDS: return 3;
    case DM_JSON_RATE: return 1;
    case DM_JSON_UNITS: return 1;
    case DM_JSON_RATIO: return 2;
    }
    return 3;
}

json_t *dm_json_quantity(double v, dm_json_qty kind)
{
    if (!isfinite(v))
        return json_null();
    double scale = pow(10, decimals(kind));
    double r = round(v * scale) / scale;
    if (!isfinite(r)) /* v * scale overflowed: v needs no rounding */
        r = v;
    return json_real(r == 0 ? 0.0 : r); /* no "-0.0" */
}

int dm_json_print(const json_t *doc, FILE *f)
{
    if (!doc ||
        json_dumpf(doc, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15) | JSON_ENCODE_ANY) != 0)
        return DM_ERR_IO;
    return fputc('\n', f) == EOF ? DM_ERR_IO : DM_OK;
}
