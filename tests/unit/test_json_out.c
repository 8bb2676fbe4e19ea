/* JSON for people: quantities rounded per kind and printed as rounded. */
#include <math.h>
#include <stdlib.h>

#include "ddbmig/json_out.h"
#include "test.h"

/* doc printed by dm_json_print, without the final newline; owned. */
static char *printed(json_t *doc)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    int rc = dm_json_print(doc, f);
    fclose(f);
    if (rc != DM_OK) {
        free(text);
        return NULL;
    }
    if (len > 0 && text[len - 1] == '\n')
        text[len - 1] = '\0';
    return text;
}

static int same(json_t *v, const char *want)
{
    char *got = printed(v);
    json_decref(v);
    int ok = got && strcmp(got, want) == 0;
    if (!ok)
        fprintf(stderr, "  printed [%s], expected [%s]\n", got ? got : "(null)", want);
    free(got);
    return ok;
}

TEST(quantities_print_as_rounded)
{
    CHECK(same(dm_json_quantity(0.202, DM_JSON_SECONDS), "0.202"));
    CHECK(same(dm_json_quantity(202 / 1000.0, DM_JSON_SECONDS), "0.202"));
    CHECK(same(dm_json_quantity(0.1 + 0.2, DM_JSON_SECONDS), "0.3"));
    CHECK(same(dm_json_quantity(1.23456, DM_JSON_SECONDS), "1.235"));
    CHECK(same(dm_json_quantity(86400.0004, DM_JSON_SECONDS), "86400.0"));
    CHECK(same(dm_json_quantity(1234 / 0.202, DM_JSON_RATE), "6108.9"));
    CHECK(same(dm_json_quantity(12.25, DM_JSON_UNITS), "12.3"));
    CHECK(same(dm_json_quantity(0.1, DM_JSON_UNITS), "0.1"));
    CHECK(same(dm_json_quantity(3.14159, DM_JSON_RATIO), "3.14"));
    CHECK(same(dm_json_quantity(0, DM_JSON_RATE), "0.0"));
    CHECK(same(dm_json_quantity(-0.0001, DM_JSON_SECONDS), "0.0"));
    CHECK(same(dm_json_quantity(1e300, DM_JSON_SECONDS), "1e300"));
}

TEST(non_finite_quantities_are_null)
{
    CHECK(same(dm_json_quantity(NAN, DM_JSON_RATE), "null"));
    CHECK(same(dm_json_quantity(INFINITY, DM_JSON_SECONDS), "null"));
}

/* Every rounded value prints as a JSON number that reads back as itself,
 * with no more decimals than its kind allows. */
TEST(rounded_values_read_back)
{
    unsigned seed = 12345;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 1103515245u + 12345u;
        double v = (double)(seed % 100000000u) / (double)(1u << (seed % 23u));
        dm_json_qty kind = (dm_json_qty)(seed % 4u);
        int decimals = kind == DM_JSON_SECONDS ? 3 : kind == DM_JSON_RATIO ? 2 : 1;
        json_t *q = dm_json_quantity(v, kind);
        char *text = printed(q);
        CHECK(text != NULL);
        json_t *back = json_loads(text, JSON_DECODE_ANY, NULL);
        const char *dot = strchr(text, '.');
        size_t places = dot ? strspn(dot + 1, "0123456789") : 0;
        int ok = back && json_is_real(back) && json_real_value(back) == json_real_value(q) &&
                 places <= (size_t)decimals && fabs(json_real_value(back) - v) <= 0.5 * pow(10, -decimals) + 1e-9;
        if (!ok)
            fprintf(stderr, "  %.17g as kind %d printed [%s]\n", v, (int)kind, text);
        json_decref(back);
        json_decref(q);
        free(text);
        CHECK(ok);
    }
}

TEST(documents_print_indented_in_order)
{
    json_t *o = json_pack("{s:s,s:o,s:i}", "table", "t\"1", "elapsed_s", dm_json_quantity(0.5, DM_JSON_SECONDS),
                          "n", 3);
    char *text = printed(o);
    json_decref(o);
    CHECK_STR(text, "{\n  \"table\": \"t\\\"1\",\n  \"elapsed_s\": 0.5,\n  \"n\": 3\n}");
    free(text);
}
