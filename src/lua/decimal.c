/* Schoolbook arithmetic on decimal digit arrays. Operands have at most 38
 * digits and exponents within about ±170, so every intermediate fits in a
 * few hundred digits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"

#define WIDE 400

typedef struct wide {
    bool neg;
    int nd;             /* digits used */
    unsigned char d[WIDE]; /* least significant first */
    int exp;
} wide;

static void to_wide(const ddb_number *n, wide *w)
{
    memset(w, 0, sizeof *w);
    w->neg = n->negative;
    w->nd = n->n_digits;
    w->exp = n->exponent;
    for (int i = 0; i < n->n_digits; i++)
        w->d[i] = (unsigned char)(n->digits[n->n_digits - 1 - i] - '0');
}

/* Shifts w's digits so that its exponent becomes e (<= w->exp). */
static void align(wide *w, int e)
{
    int k = w->exp - e;
    if (k <= 0 || w->nd == 0) {
        w->exp = e;
        return;
    }
    memmove(w->d + k, w->d, (size_t)w->nd);
    memset(w->d, 0, (size_t)k);
    w->nd += k;
    w->exp = e;
}

static int cmp_mag(const wide *a, const wide *b)
{
    if (a->nd != b->nd)
        return a->nd < b->nd ? -1 : 1;
    for (int i = a->nd - 1; i >= 0; i--)
        if (a->d[i] != b->d[i])
            return a->d[i] < b->d[i] ? -1 : 1;
    return 0;
}

static void trim(wide *w)
{
    while (w->nd > 0 && w->d[w->nd - 1] == 0)
        w->nd--;
}

/* Rounds to 38 significant digits (half to even) and converts. */
static int finish(wide *w, ddb_number *out, const char **why)
{
    trim(w);
    memset(out, 0, sizeof *out);
    if (w->nd == 0)
        return DM_OK;
    int drop = w->nd > 38 ? w->nd - 38 : 0;
    if (drop) {
        int first = w->d[drop - 1];
        bool rest = false;
        for (int i = 0; i < drop - 1; i++)
            rest = rest || w->d[i];
        bool up = first > 5 || (first == 5 && (rest || (w->d[drop] & 1)));
        memmove(w->d, w->d + drop, (size_t)(w->nd - drop));
        w->nd -= drop;
        w->exp += drop;
        for (int i = 0; up && i <= w->nd; i++) {
            if (i == w->nd) {
                w->d[w->nd++] = 1;
                break;
            }
            if (++w->d[i] < 10)
                up = false;
            else
                w->d[i] = 0;
        }
    }
    int low = 0;
    while (low < w->nd && w->d[low] == 0)
        low++;
    char text[WIDE + 16];
    int o = 0;
    if (w->neg)
        text[o++] = '-';
    for (int i = w->nd - 1; i >= low; i--)
        text[o++] = (char)('0' + w->d[i]);
    o += snprintf(text + o, sizeof text - (size_t)o, "E%d", w->exp + low);
    return ddb_number_parse(text, (size_t)o, out, why);
}

static void add_mag(wide *a, const wide *b)
{
    int carry = 0, n = a->nd > b->nd ? a->nd : b->nd;
    for (int i = 0; i < n; i++) {
        int s = (i < a->nd ? a->d[i] : 0) + (i < b->nd ? b->d[i] : 0) + carry;
        a->d[i] = (unsigned char)(s % 10);
        carry = s / 10;
    }
    a->nd = n;
    if (carry)
        a->d[a->nd++] = (unsigned char)carry;
}

/* a -= b, with |a| >= |b|. */
static void sub_mag(wide *a, const wide *b)
{
    int borrow = 0;
    for (int i = 0; i < a->nd; i++) {
        int s = a->d[i] - (i < b->nd ? b->d[i] : 0) - borrow;
        borrow = s < 0;
        a->d[i] = (unsigned char)(s + (borrow ? 10 : 0));
    }
    trim(a);
}

static int addsub(const ddb_number *x, const ddb_number *y, bool negate_y, ddb_number *out, const char **why)
{
    wide a, b;
    to_wide(x, &a);
    to_wide(y, &b);
    if (negate_y)
        b.neg = !b.neg;
    if (b.nd == 0)
        return finish(&a, out, why);
    if (a.nd == 0)
        return finish(&b, out, why);
    int e = a.exp < b.exp ? a.exp : b.exp;
    align(&a, e);
    align(&b, e);
    if (a.neg == b.neg) {
        add_mag(&a, &b);
        return finish(&a, out, why);
    }
    if (cmp_mag(&a, &b) >= 0) {
        sub_mag(&a, &b);
        return finish(&a, out, why);
    }
    sub_mag(&b, &a);
    return finish(&b, out, why);
}

int dec_add(const ddb_number *a, const ddb_number *b, ddb_number *out, const char **why)
{
    return addsub(a, b, false, out, why);
}

int dec_sub(const ddb_number *a, const ddb_number *b, ddb_number *out, const char **why)
{
    return addsub(a, b, true, out, why);
}

int dec_mul(const ddb_number *x, const ddb_number *y, ddb_number *out, const char **why)
{
    wide a, b, r;
    to_wide(x, &a);
    to_wide(y, &b);
    memset(&r, 0, sizeof r);
    int acc[WIDE] = {0};
    for (int i = 0; i < a.nd; i++)
        for (int k = 0; k < b.nd; k++)
            acc[i + k] += a.d[i] * b.d[k];
    int carry = 0;
    r.nd = a.nd + b.nd;
    for (int i = 0; i < r.nd; i++) {
        int s = acc[i] + carry;
        r.d[i] = (unsigned char)(s % 10);
        carry = s / 10;
    }
    r.neg = a.neg != b.neg;
    r.exp = a.exp + b.exp;
    return finish(&r, out, why);
}

int dec_div(const ddb_number *x, const ddb_number *y, ddb_number *out, const char **why)
{
    if (y->n_digits == 0) {
        *why = "division by zero";
        return DM_ERR_INVALID;
    }
    wide a, b, q;
    to_wide(x, &a);
    to_wide(y, &b);
    memset(&q, 0, sizeof q);
    if (a.nd == 0)
        return finish(&a, out, why);
    /* Scale the dividend so the integer quotient has at least 40 digits. */
    int shift = 40 + b.nd - a.nd;
    if (shift < 0)
        shift = 0;
    align(&a, a.exp - shift);
    /* Long division, most significant digit first. */
    wide rem;
    memset(&rem, 0, sizeof rem);
    unsigned char qd[WIDE];
    for (int i = a.nd - 1; i >= 0; i--) {
        memmove(rem.d + 1, rem.d, (size_t)rem.nd);
        rem.d[0] = a.d[i];
        rem.nd++;
        trim(&rem);
        int digit = 0;
        while (cmp_mag(&rem, &b) >= 0) {
            sub_mag(&rem, &b);
            digit++;
        }
        qd[i] = (unsigned char)digit;
    }
    memcpy(q.d, qd, (size_t)a.nd);
    q.nd = a.nd;
    q.exp = a.exp - b.exp;
    q.neg = a.neg != b.neg;
    trim(&rem);
    /* A non-zero remainder must still round up a trailing 5: append a 1
     * below the last digit as a sticky bit. */
    if (rem.nd > 0) {
        memmove(q.d + 1, q.d, (size_t)q.nd);
        q.d[0] = 1;
        q.nd++;
        q.exp--;
    }
    return finish(&q, out, why);
}

/* q = |a| / |b| truncated and r = |a| - q|b|, as integers (exponents
 * ignored); b is not zero. */
static void divmod(const wide *a, const wide *b, wide *q, wide *r)
{
    memset(q, 0, sizeof *q);
    memset(r, 0, sizeof *r);
    for (int i = a->nd - 1; i >= 0; i--) {
        memmove(r->d + 1, r->d, (size_t)r->nd);
        r->d[0] = a->d[i];
        r->nd++;
        trim(r);
        int digit = 0;
        while (cmp_mag(r, b) >= 0) {
            sub_mag(r, b);
            digit++;
        }
        q->d[i] = (unsigned char)digit;
    }
    q->nd = a->nd;
    trim(q);
}

/* a and b on a common exponent, then divided as integers. */
static void divide_aligned(const ddb_number *x, const ddb_number *y, wide *a, wide *b, wide *q, wide *r)
{
    to_wide(x, a);
    to_wide(y, b);
    int e = a->exp < b->exp ? a->exp : b->exp;
    align(a, e);
    align(b, e);
    divmod(a, b, q, r);
    r->exp = e;
}

int dec_idiv(const ddb_number *x, const ddb_number *y, ddb_number *out, const char **why)
{
    if (y->n_digits == 0) {
        *why = "division by zero";
        return DM_ERR_INVALID;
    }
    wide a, b, q, r;
    divide_aligned(x, y, &a, &b, &q, &r);
    bool negative = a.neg != b.neg;
    if (negative && r.nd > 0) { /* floor, not truncation */
        wide one;
        memset(&one, 0, sizeof one);
        one.nd = 1;
        one.d[0] = 1;
        add_mag(&q, &one);
    }
    q.neg = negative;
    q.exp = 0;
    return finish(&q, out, why);
}

int dec_mod(const ddb_number *x, const ddb_number *y, ddb_number *out, const char **why)
{
    if (y->n_digits == 0) {
        *why = "division by zero";
        return DM_ERR_INVALID;
    }
    wide a, b, q, r;
    divide_aligned(x, y, &a, &b, &q, &r);
    if (r.nd > 0 && a.neg != b.neg) { /* |b| - |r|, with b's sign */
        int e = r.exp;
        sub_mag(&b, &r);
        r = b;
        r.exp = e;
    }
    r.neg = b.neg;
    return finish(&r, out, why);
}

long long dec_cost(const ddb_number *a, const ddb_number *b, char op)
{
    long long da = a->n_digits, db = b->n_digits;
    long long shift = a->exponent > b->exponent ? a->exponent - b->exponent : b->exponent - a->exponent;
    switch (op) {
    case '*': return da * db / 8 + 1;
    case '/': return (40 + db) * (db + 1) * 10 / 8 + 1;
    case '%': return (da + shift) * (db + 1) * 10 / 8 + 1;
    default: return ((da > db ? da : db) + shift) / 8 + 1;
    }
}

int dec_from_double(double d, ddb_number *out, char *text, size_t size, const char **why)
{
    if (isnan(d) || isinf(d)) {
        *why = isnan(d) ? "NaN cannot be stored in DynamoDB" : "infinity cannot be stored in DynamoDB";
        return DM_ERR_INVALID;
    }
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    int rc = ddb_number_parse(buf, strlen(buf), out, why);
    if (rc == DM_OK && text)
        ddb_number_format(out, text, size);
    return rc;
}

int dec_to_int64(const ddb_number *n, long long *out)
{
    if (n->n_digits == 0) {
        *out = 0;
        return 1;
    }
    if (n->exponent < 0 || n->n_digits + n->exponent > 19)
        return 0;
    unsigned long long v = 0, limit = n->negative ? 9223372036854775808ull : 9223372036854775807ull;
    for (int i = 0; i < n->n_digits + n->exponent; i++) {
        int dg = i < n->n_digits ? n->digits[i] - '0' : 0;
        if (v > (limit - (unsigned)dg) / 10)
            return 0;
        v = v * 10 + (unsigned)dg;
    }
    *out = n->negative ? (long long)(0 - v) : (long long)v;
    return 1;
}

double dec_to_double(const ddb_number *n)
{
    char t[80];
    ddb_number_format(n, t, sizeof t);
    return strtod(t, NULL);
}
