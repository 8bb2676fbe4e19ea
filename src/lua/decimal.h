/* Exact decimal arithmetic for DynamoDB numbers in Lua: add, subtract and
 * multiply are exact before rounding to 38 significant digits (DynamoDB's
 * precision); division rounds to 38 digits, half to even. */
#ifndef DDBMIG_LUA_DECIMAL_H
#define DDBMIG_LUA_DECIMAL_H

#include "ddbmig/item.h"

/* Each returns DM_OK, or DM_ERR_INVALID with *why set when the result is
 * outside DynamoDB's range or a division by zero. */
int dec_add(const ddb_number *a, const ddb_number *b, ddb_number *out, const char **why);
int dec_sub(const ddb_number *a, const ddb_number *b, ddb_number *out, const char **why);
int dec_mul(const ddb_number *a, const ddb_number *b, ddb_number *out, const char **why);
int dec_div(const ddb_number *a, const ddb_number *b, ddb_number *out, const char **why);

/* From a double: the shortest decimal text that reads back to the same
 * double. DM_ERR_INVALID for NaN, infinities and out-of-range values. */
int dec_from_double(double d, ddb_number *out, char *text, size_t size, const char **why);
/* Integral and within int64: *out gets it and 1 is returned; else 0. */
int dec_to_int64(const ddb_number *n, long long *out);
double dec_to_double(const ddb_number *n);

#endif
