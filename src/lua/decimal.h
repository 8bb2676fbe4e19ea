/* Decimal arithmetic for DynamoDB numbers in Lua: every result is the
 * exact result rounded to 38 significant digits (DynamoDB's precision),
 * half to even, so add, subtract, multiply, floor division and modulo are
 * exact whenever the exact result has at most 38 significant digits;
 * division rounds. A result outside DynamoDB's range is an error, never
 * rounded to zero or infinity. */
#ifndef DDBMIG_LUA_DECIMAL_H
#define DDBMIG_LUA_DECIMAL_H

#include "ddbmig/item.h"

/* Each returns DM_OK, or DM_ERR_INVALID with *why set when the result is
 * outside DynamoDB's range or a division by zero. */
int dec_add(const ddb_number *a, const ddb_number *b, ddb_number *out, const char **why);
int dec_sub(const ddb_number *a, const ddb_number *b, ddb_number *out, const char **why);
int dec_mul(const ddb_number *a, const ddb_number *b, ddb_number *out, const char **why);
int dec_div(const ddb_number *a, const ddb_number *b, ddb_number *out, const char **why);
/* Floor division and its modulo, as Lua's // and % (a % b has b's sign). */
int dec_idiv(const ddb_number *a, const ddb_number *b, ddb_number *out, const char **why);
int dec_mod(const ddb_number *a, const ddb_number *b, ddb_number *out, const char **why);
/* Digit operations an operation on a and b costs, about: for the budget. */
long long dec_cost(const ddb_number *a, const ddb_number *b, char op);

/* From a double: the shortest decimal text that reads back to the same
 * double. DM_ERR_INVALID for NaN, infinities and out-of-range values. */
int dec_from_double(double d, ddb_number *out, char *text, size_t size, const char **why);
/* Integral and within int64: *out gets it and 1 is returned; else 0. */
int dec_to_int64(const ddb_number *n, long long *out);
/* The largest magnitude up to which every integer is exact as a double
 * too, and up to which items' integers reach Lua as Lua integers. */
#define DEC_SAFE_INT 9007199254740992LL /* 2^53 */
double dec_to_double(const ddb_number *n);

#endif
