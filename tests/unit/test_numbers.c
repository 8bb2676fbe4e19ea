/* Numbers people type: all of the text or nothing, ranges kept. */
#include <limits.h>
#include <math.h>

#include "ddbmig/common.h"
#include "test.h"

TEST(whole_numbers)
{
    long long v = -1;
    CHECK_INT(dm_parse_int("0", 0, 10, &v), DM_OK);
    CHECK_INT(v, 0);
    CHECK_INT(dm_parse_int("+7", 0, 10, &v), DM_OK);
    CHECK_INT(v, 7);
    CHECK_INT(dm_parse_int("-3", -5, 10, &v), DM_OK);
    CHECK_INT(v, -3);
    CHECK_INT(dm_parse_int("9223372036854775807", 1, LLONG_MAX, &v), DM_OK);
    CHECK(v == LLONG_MAX);
    CHECK_INT(dm_parse_int("-9223372036854775808", LLONG_MIN, 0, &v), DM_OK);
    CHECK(v == LLONG_MIN);
}

TEST(whole_numbers_refused)
{
    static const char *const not_numbers[] = {"", " 1", "1 ", "10x", "x", "-", "+", "1.5", "1e3", "0x10",
                                              "--1", "1,000", "\t2", "٣"};
    long long v = 42;
    for (size_t i = 0; i < sizeof not_numbers / sizeof not_numbers[0]; i++) {
        if (dm_parse_int(not_numbers[i], LLONG_MIN, LLONG_MAX, &v) != DM_ERR_INVALID)
            fprintf(stderr, "  accepted [%s]\n", not_numbers[i]);
        CHECK_INT(dm_parse_int(not_numbers[i], LLONG_MIN, LLONG_MAX, &v), DM_ERR_INVALID);
    }
    CHECK_INT(dm_parse_int(NULL, 0, 1, &v), DM_ERR_INVALID);
    CHECK_INT(dm_parse_int("0", 1, 10, &v), DM_ERR_LIMIT);
    CHECK_INT(dm_parse_int("11", 1, 10, &v), DM_ERR_LIMIT);
    CHECK_INT(dm_parse_int("-1", 0, 10, &v), DM_ERR_LIMIT);
    CHECK_INT(dm_parse_int("9223372036854775808", 1, LLONG_MAX, &v), DM_ERR_LIMIT);
    CHECK_INT(dm_parse_int("99999999999999999999", 1, LLONG_MAX, &v), DM_ERR_LIMIT);
    CHECK_INT(dm_parse_int("-99999999999999999999", LLONG_MIN, 0, &v), DM_ERR_LIMIT);
    CHECK_INT(v, 42); /* untouched on failure */
}

TEST(decimal_numbers)
{
    static const struct {
        const char *text;
        double value;
    } ok[] = {{"0", 0},       {"12", 12},     {"-0.5", -0.5},  {"+.25", 0.25}, {"3.", 3},
              {"2.5e3", 2500}, {"1E-2", 0.01}, {"1e+2", 100},  {"1e-400", 0}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double d = -1;
        CHECK_INT(dm_parse_number(ok[i].text, &d), DM_OK);
        CHECK(d == ok[i].value);
    }
}

TEST(decimal_numbers_refused)
{
    static const char *const not_numbers[] = {"", ".", "-", "e3", "1e", "1e+", "10x", " 1", "1 ", "nan", "NaN",
                                              "inf", "-inf", "infinity", "0x1p3", "1..2", "1.2.3", "1,5"};
    double d = 42;
    for (size_t i = 0; i < sizeof not_numbers / sizeof not_numbers[0]; i++) {
        if (dm_parse_number(not_numbers[i], &d) != DM_ERR_INVALID)
            fprintf(stderr, "  accepted [%s]\n", not_numbers[i]);
        CHECK_INT(dm_parse_number(not_numbers[i], &d), DM_ERR_INVALID);
    }
    CHECK_INT(dm_parse_number(NULL, &d), DM_ERR_INVALID);
    CHECK_INT(dm_parse_number("1e400", &d), DM_ERR_LIMIT);
    CHECK_INT(dm_parse_number("-1e400", &d), DM_ERR_LIMIT);
    CHECK(d == 42);
}
