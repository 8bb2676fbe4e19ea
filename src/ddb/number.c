/* DynamoDB numbers: decimal text with up to 38 significant digits and an
 * exponent range of about ±130. Parsed into a canonical form so that
 * numbers compare by value and validate as DynamoDB would. */
#include <stdio.h>
#include <string.h>

#include "ddbmig/item.h"

int ddb_number_parse(const char *s, size_t len, ddb_number *out, const char **why)
{
    static const char *dummy;
    why = why ? why : &dummy;
    memset(out, 0, sizeof *out);
    size_t i = 0;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        out->negative = s[i++] == '-';
    char digits[512];
    size_t nd = 0, int_digits = 0, frac_digits = 0;
    bool seen_point = false;
    for (; i < len; i++) {
        char ch = s[i];
        if (ch >= '0' && ch <= '9') {
            if (nd == sizeof digits) {
                *why = "too many digits";
                return DM_ERR_INVALID;
            }
            digits[nd++] = ch;
            if (seen_point)
                frac_digits++;
            else
                int_digits++;
        } else if (ch == '.' && !seen_point) {
            seen_point = true;
        } else {
            break;
        }
    }
    if (int_digits + frac_digits == 0) {
        *why = "not a number";
        return DM_ERR_INVALID;
    }
    long exp = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (s[i] == '-' || s[i] == '+'))
            eneg = s[i++] == '-';
        size_t start = i;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            if (exp < 100000)
                exp = exp * 10 + (s[i] - '0');
        if (i == start) {
            *why = "exponent without digits";
            return DM_ERR_INVALID;
        }
        if (eneg)
            exp = -exp;
    }
    if (i != len) {
        *why = "not a number";
        return DM_ERR_INVALID;
    }
    /* Strip leading and trailing zeros of the digit string. */
    size_t a = 0, b = nd;
    while (a < b && digits[a] == '0')
        a++;
    while (b > a && digits[b - 1] == '0')
        b--;
    if (a == b) { /* zero, whatever its sign or exponent */
        out->negative = false;
        return DM_OK;
    }
    long e = exp - (long)frac_digits + (long)(nd - b);
    if (b - a > 38) {
        *why = "more than 38 significant digits";
        return DM_ERR_INVALID;
    }
    /* Magnitude: the leading digit's power of ten. */
    long lead = e + (long)(b - a) - 1;
    if (lead > 125) {
        *why = "larger than 9.9999999999999999999999999999999999999E+125";
        return DM_ERR_INVALID;
    }
    if (lead < -130) {
        *why = "smaller than 1E-130";
        return DM_ERR_INVALID;
    }
    out->n_digits = (uint8_t)(b - a);
    memcpy(out->digits, digits + a, b - a);
    out->exponent = (int)e;
    return DM_OK;
}

void ddb_number_format(const ddb_number *n, char *out, size_t size)
{
    if (n->n_digits == 0) {
        snprintf(out, size, "0");
        return;
    }
    int nd = n->n_digits, e = n->exponent;
    int point = nd + e; /* digits before the decimal point */
    char buf[200];
    size_t o = 0;
    if (n->negative)
        buf[o++] = '-';
    if (e >= 0 && point <= 40) {
        memcpy(buf + o, n->digits, (size_t)nd);
        o += (size_t)nd;
        memset(buf + o, '0', (size_t)e);
        o += (size_t)e;
    } else if (e < 0 && point > 0) {
        memcpy(buf + o, n->digits, (size_t)point);
        o += (size_t)point;
        buf[o++] = '.';
        memcpy(buf + o, n->digits + point, (size_t)(nd - point));
        o += (size_t)(nd - point);
    } else if (e < 0 && point > -6) {
        buf[o++] = '0';
        buf[o++] = '.';
        memset(buf + o, '0', (size_t)-point);
        o += (size_t)-point;
        memcpy(buf + o, n->digits, (size_t)nd);
        o += (size_t)nd;
    } else {
        buf[o++] = n->digits[0];
        if (nd > 1) {
            buf[o++] = '.';
            memcpy(buf + o, n->digits + 1, (size_t)nd - 1);
            o += (size_t)nd - 1;
        }
        o += (size_t)snprintf(buf + o, sizeof buf - o, "E%+d", point - 1);
    }
    buf[o] = '\0';
    snprintf(out, size, "%s", buf);
}

static int cmp_magnitude(const ddb_number *a, const ddb_number *b)
{
    if (a->n_digits == 0 || b->n_digits == 0)
        return (a->n_digits != 0) - (b->n_digits != 0);
    int la = a->exponent + a->n_digits, lb = b->exponent + b->n_digits;
    if (la != lb)
        return la < lb ? -1 : 1;
    int n = a->n_digits > b->n_digits ? a->n_digits : b->n_digits;
    for (int i = 0; i < n; i++) {
        char da = i < a->n_digits ? a->digits[i] : '0';
        char db = i < b->n_digits ? b->digits[i] : '0';
        if (da != db)
            return da < db ? -1 : 1;
    }
    return 0;
}

int ddb_number_cmp(const ddb_number *a, const ddb_number *b)
{
    int sa = a->n_digits == 0 ? 0 : (a->negative ? -1 : 1);
    int sb = b->n_digits == 0 ? 0 : (b->negative ? -1 : 1);
    if (sa != sb)
        return sa < sb ? -1 : 1;
    int m = cmp_magnitude(a, b);
    return sa < 0 ? -m : m;
}
