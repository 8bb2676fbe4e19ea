/* The item model: DynamoDB JSON round trips over a corpus of hard items,
 * number rules, equality, size accounting, and decoder errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddbmig/item.h"
#include "test.h"

static void strip_wire(ddb_value *v)
{
    v->wire.p = NULL;
    v->wire.n = 0;
    for (size_t i = 0; i < v->n; i++)
        strip_wire(&v->items[i]);
}

static void strip_item(ddb_item *it)
{
    for (size_t i = 0; i < it->n; i++)
        strip_wire(&it->values[i]);
}

/* decode → encode gives the same text, both verbatim and re-encoded. */
static int round_trip(const char *line, size_t len)
{
    dm_arena *a = dm_arena_new(0);
    ddb_item it, again;
    dm_error err = {0};
    size_t used;
    dm_buf out;
    dm_buf_init(&out, 0);
    int bad = 0;
    if (ddb_item_decode(line, len, a, &it, &used, &err) != DM_OK || used != len) {
        fprintf(stderr, "decode: %s\n", err.message);
        bad = 1;
    }
    if (!bad && (ddb_item_encode(&it, &out) || out.len != len || memcmp(out.data, line, len))) {
        fprintf(stderr, "verbatim:\n %.*s\n %s\n", (int)len, line, dm_buf_cstr(&out));
        bad = 1;
    }
    dm_buf_reset(&out);
    if (!bad) {
        strip_item(&it);
        if (ddb_item_encode(&it, &out) || out.len != len || memcmp(out.data, line, len)) {
            fprintf(stderr, "re-encoded:\n %.*s\n %s\n", (int)len, line, dm_buf_cstr(&out));
            bad = 1;
        }
    }
    if (!bad && (ddb_item_decode(out.data, out.len, a, &again, NULL, &err) || !ddb_item_equal(&it, &again))) {
        fprintf(stderr, "not equal after a round trip: %s\n", line);
        bad = 1;
    }
    dm_buf_cleanup(&out);
    dm_arena_free(a);
    return bad;
}

TEST(corpus_round_trip)
{
    dm_buf text;
    dm_buf_init(&text, 0);
    CHECK_INT(dm_read_file(test_fixture("items/hard.jsonl"), &text, NULL), DM_OK);
    int lines = 0;
    for (char *p = text.data, *nl; p && *p; p = nl + 1) {
        nl = strchr(p, '\n');
        CHECK(nl != NULL);
        CHECK_INT(round_trip(p, (size_t)(nl - p)), 0);
        lines++;
    }
    CHECK(lines >= 9);
    dm_buf_cleanup(&text);
}

TEST(nesting_32_deep_and_no_deeper)
{
    dm_buf b;
    dm_buf_init(&b, 0);
    /* The item's own attribute is level 1; 31 maps inside it make 32. */
    dm_buf_puts(&b, "{\"pk\":{\"S\":\"deep\"},\"d\":");
    for (int i = 0; i < 31; i++)
        dm_buf_puts(&b, "{\"M\":{\"x\":");
    dm_buf_puts(&b, "{\"L\":[]}");
    for (int i = 0; i < 31; i++)
        dm_buf_puts(&b, "}}");
    dm_buf_puts(&b, "}");
    CHECK_INT(round_trip(b.data, b.len), 0);
    dm_buf_reset(&b);
    dm_buf_puts(&b, "{\"d\":");
    for (int i = 0; i < 33; i++)
        dm_buf_puts(&b, "{\"M\":{\"x\":");
    dm_buf_puts(&b, "{\"L\":[]}");
    for (int i = 0; i < 33; i++)
        dm_buf_puts(&b, "}}");
    dm_buf_puts(&b, "}");
    dm_arena *a = dm_arena_new(0);
    ddb_item it;
    dm_error err = {0};
    CHECK_INT(ddb_item_decode(b.data, b.len, a, &it, NULL, &err), DM_ERR_PARSE);
    CHECK_CONTAINS(err.message, "nested deeper than 32 levels");
    CHECK_CONTAINS(err.message, "attribute d.x.x.x");
    dm_arena_free(a);
    dm_buf_cleanup(&b);
}

TEST(item_of_400_kb)
{
    size_t n = DDB_MAX_ITEM_BYTES - 20;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    dm_buf b;
    dm_buf_init(&b, 0);
    dm_buf_appendf(&b, "{\"pk\":{\"S\":\"big\"},\"blob\":{\"S\":\"%s\"}}", big);
    CHECK_INT(round_trip(b.data, b.len), 0);
    dm_arena *a = dm_arena_new(0);
    ddb_item it;
    CHECK_INT(ddb_item_decode(b.data, b.len, a, &it, NULL, NULL), DM_OK);
    CHECK_INT(ddb_item_size(&it), 2 + 3 + 4 + n);
    CHECK(ddb_item_size(&it) <= DDB_MAX_ITEM_BYTES);
    dm_arena_free(a);
    dm_buf_cleanup(&b);
    free(big);
}

static int num_ok(const char *s)
{
    ddb_number n;
    return ddb_number_parse(s, strlen(s), &n, NULL) == DM_OK;
}

static int num_cmp(const char *x, const char *y)
{
    ddb_number a, b;
    ddb_number_parse(x, strlen(x), &a, NULL);
    ddb_number_parse(y, strlen(y), &b, NULL);
    return ddb_number_cmp(&a, &b);
}

static const char *num_fmt(const char *s)
{
    static char out[80];
    ddb_number n;
    if (ddb_number_parse(s, strlen(s), &n, NULL))
        return "invalid";
    ddb_number_format(&n, out, sizeof out);
    return out;
}

TEST(number_rules)
{
    CHECK(num_ok("12345678901234567890123456789012345678"));
    CHECK(!num_ok("123456789012345678901234567890123456789"));
    CHECK(num_ok("1234567890123456789012345678901234567800000")); /* trailing zeros are not significant */
    CHECK(num_ok("1E-130"));
    CHECK(!num_ok("1E-131"));
    CHECK(num_ok("9.9999999999999999999999999999999999999E+125"));
    CHECK(!num_ok("1E+126"));
    CHECK(num_ok("0E+999"));
    CHECK(!num_ok(""));
    CHECK(!num_ok("1e"));
    CHECK(!num_ok("0x10"));
    CHECK(!num_ok("NaN"));
    CHECK(!num_ok("Infinity"));
    CHECK(!num_ok("1.2.3"));
    CHECK(!num_ok(" 1"));
    CHECK_INT(num_cmp("1.50", "1.5"), 0);
    CHECK_INT(num_cmp("-0", "0"), 0);
    CHECK_INT(num_cmp("100", "1E2"), 0);
    CHECK_INT(num_cmp("0.001", "1e-3"), 0);
    CHECK_INT(num_cmp("2", "10"), -1);
    CHECK_INT(num_cmp("-2", "-10"), 1);
    CHECK_INT(num_cmp("-1", "0"), -1);
    CHECK_INT(num_cmp("12345678901234567890123456789012345678", "12345678901234567890123456789012345677"), 1);
    CHECK_STR(num_fmt("000.0100"), "0.01");
    CHECK_STR(num_fmt("-0"), "0");
    CHECK_STR(num_fmt("1.5e3"), "1500");
    CHECK_STR(num_fmt("1E-130"), "1E-130");
    CHECK_STR(num_fmt("-1.25E-7"), "-1.25E-7");
    CHECK_STR(num_fmt("9.9999999999999999999999999999999999999E+125"),
              "9.9999999999999999999999999999999999999E+125");
}

static int decode_value(const char *text, dm_arena *a, ddb_value *v)
{
    return ddb_value_decode(text, strlen(text), a, v, NULL, NULL);
}

static int eq(const char *x, const char *y)
{
    dm_arena *a = dm_arena_new(0);
    ddb_value vx, vy;
    int r = -1;
    if (decode_value(x, a, &vx) == DM_OK && decode_value(y, a, &vy) == DM_OK)
        r = ddb_value_equal(&vx, &vy);
    dm_arena_free(a);
    return r;
}

TEST(equality_follows_dynamodb)
{
    CHECK_INT(eq("{\"N\":\"1.50\"}", "{\"N\":\"1.5\"}"), 1);
    CHECK_INT(eq("{\"N\":\"1\"}", "{\"S\":\"1\"}"), 0);
    CHECK_INT(eq("{\"SS\":[\"a\",\"b\"]}", "{\"SS\":[\"b\",\"a\"]}"), 1);
    CHECK_INT(eq("{\"NS\":[\"1.0\",\"2\"]}", "{\"NS\":[\"2\",\"1\"]}"), 1);
    CHECK_INT(eq("{\"SS\":[\"a\",\"b\"]}", "{\"SS\":[\"a\",\"c\"]}"), 0);
    CHECK_INT(eq("{\"L\":[{\"S\":\"a\"},{\"S\":\"b\"}]}", "{\"L\":[{\"S\":\"b\"},{\"S\":\"a\"}]}"), 0);
    CHECK_INT(eq("{\"M\":{\"a\":{\"N\":\"1\"},\"b\":{\"N\":\"2\"}}}", "{\"M\":{\"b\":{\"N\":\"2.0\"},\"a\":{\"N\":\"1\"}}}"), 1);
    CHECK_INT(eq("{\"M\":{\"a\":{\"N\":\"1\"}}}", "{\"M\":{\"a\":{\"N\":\"1\"},\"b\":{\"NULL\":true}}}"), 0);
    CHECK_INT(eq("{\"B\":\"AAE=\"}", "{\"B\":\"AAE=\"}"), 1);
    CHECK_INT(eq("{\"B\":\"AAE=\"}", "{\"B\":\"AAI=\"}"), 0);
    CHECK_INT(eq("{\"BOOL\":true}", "{\"BOOL\":false}"), 0);
    CHECK_INT(eq("{\"NULL\":true}", "{\"NULL\":true}"), 1);
    CHECK_INT(eq("{\"S\":\"\\u00e9\"}", "{\"S\":\"é\"}"), 1);
}

static size_t size_of(const char *item)
{
    dm_arena *a = dm_arena_new(0);
    ddb_item it;
    size_t s = 0;
    if (ddb_item_decode(item, strlen(item), a, &it, NULL, NULL) == DM_OK)
        s = ddb_item_size(&it);
    dm_arena_free(a);
    return s;
}

TEST(size_as_dynamodb_counts)
{
    CHECK_INT(size_of("{\"pk\":{\"S\":\"abc\"}}"), 5);
    CHECK_INT(size_of("{\"n\":{\"N\":\"123\"}}"), 1 + 3);             /* 3 digits: 2 bytes + 1 */
    CHECK_INT(size_of("{\"n\":{\"N\":\"1200.00\"}}"), 1 + 2);         /* zeros trimmed: "12" */
    CHECK_INT(size_of("{\"b\":{\"B\":\"AAEC\"}}"), 1 + 3);            /* decoded bytes */
    CHECK_INT(size_of("{\"t\":{\"BOOL\":true},\"z\":{\"NULL\":true}}"), 2 + 2);
    CHECK_INT(size_of("{\"m\":{\"M\":{\"ab\":{\"S\":\"xy\"}}}}"), 1 + 3 + 1 + 2 + 2);
    CHECK_INT(size_of("{\"l\":{\"L\":[{\"S\":\"x\"},{\"BOOL\":true}]}}"), 1 + 3 + 2 + 1 + 1);
    CHECK_INT(size_of("{\"s\":{\"SS\":[\"ab\",\"c\"]}}"), 1 + 3);
    CHECK_INT(size_of("{\"名\":{\"S\":\"é\"}}"), 3 + 2);                 /* UTF-8 bytes */
}

static const char *decode_error(const char *text)
{
    static dm_error err;
    dm_arena *a = dm_arena_new(0);
    ddb_item it;
    memset(&err, 0, sizeof err);
    if (ddb_item_decode(text, strlen(text), a, &it, NULL, &err) == DM_OK)
        strcpy(err.message, "decoded");
    dm_arena_free(a);
    return err.message;
}

TEST(decoder_errors_name_the_attribute)
{
    CHECK_CONTAINS(decode_error("{\"a\":{\"M\":{\"b\":{\"N\":\"x\"}}}}"), "attribute a.b: not a number");
    CHECK_CONTAINS(decode_error("{\"a\":{\"L\":[{\"S\":\"ok\"},{\"Q\":\"1\"}]}}"), "attribute a[1]: unknown attribute type");
    CHECK_CONTAINS(decode_error("{\"a\":{\"SS\":[]}}"), "attribute a: empty set");
    CHECK_CONTAINS(decode_error("{\"a\":{\"S\":\"x\",\"N\":\"1\"}}"), "exactly one type");
    CHECK_CONTAINS(decode_error("{\"a\":{\"B\":\"***\"}}"), "bad base64");
    CHECK_CONTAINS(decode_error("{\"a\":{\"S\":\"\xff\"}}"), "invalid UTF-8");
    CHECK_CONTAINS(decode_error("{\"a\":{\"S\":\"\\ud800\"}}"), "unpaired surrogate");
    CHECK_CONTAINS(decode_error("{\"a\":{\"N\":\"1E+200\"}}"), "larger than");
    CHECK_CONTAINS(decode_error("{\"a\":{\"S\":\"x\"}"), "at byte");
    CHECK_STR(decode_error("{\"a\":{\"S\":\"\\ud83d\\ude00 \\/\"}}"), "decoded");
}

/* A field repeated in an answer replaces the earlier one (and must not
 * append past the earlier array's end). */
TEST(repeated_array_fields_in_answers)
{
    dm_arena *a = dm_arena_new(0);
    dm_error err = {0};
    static char page[4096];
    size_t n = (size_t)snprintf(page, sizeof page, "{\"Items\":[");
    for (int i = 0; i < 9; i++)
        n += (size_t)snprintf(page + n, sizeof page - n, "%s{\"pk\":{\"S\":\"a%d\"}}", i ? "," : "", i);
    snprintf(page + n, sizeof page - n, "],\"Items\":[{\"pk\":{\"S\":\"x\"}},{\"pk\":{\"S\":\"y\"}}]}");
    ddb_page pg;
    CHECK_INT(ddb_page_decode(page, strlen(page), a, &pg, &err), DM_OK);
    CHECK_INT(pg.n_items, 2);
    static char answer[4096];
    n = (size_t)snprintf(answer, sizeof answer, "{\"CancellationReasons\":[");
    for (int i = 0; i < 9; i++)
        n += (size_t)snprintf(answer + n, sizeof answer - n, "%s{\"Code\":\"None\"}", i ? "," : "");
    snprintf(answer + n, sizeof answer - n, "],\"CancellationReasons\":[{\"Code\":\"ConditionalCheckFailed\"}]}");
    ddb_answer ans;
    CHECK_INT(ddb_answer_decode(answer, strlen(answer), a, &ans, &err), DM_OK);
    CHECK_INT(ans.n_reasons, 1);
    dm_arena_free(a);
}

TEST(page_decode)
{
    const char *page = "{\"Items\":[{\"pk\":{\"S\":\"a\"}},{\"pk\":{\"S\":\"b\"},\"n\":{\"N\":\"2\"}}],\"Count\":2,"
                       "\"ScannedCount\":5,\"LastEvaluatedKey\":{\"pk\":{\"S\":\"b\"}},"
                       "\"ConsumedCapacity\":{\"TableName\":\"t\",\"CapacityUnits\":0.5}}";
    dm_arena *a = dm_arena_new(0);
    ddb_page pg;
    dm_error err = {0};
    CHECK_INT(ddb_page_decode(page, strlen(page), a, &pg, &err), DM_OK);
    CHECK_INT(pg.n_items, 2);
    CHECK_INT(pg.scanned_count, 5);
    CHECK(pg.consumed_units > 0.49 && pg.consumed_units < 0.51);
    CHECK_INT(pg.last_key.n, strlen("{\"pk\":{\"S\":\"b\"}}"));
    CHECK(memcmp(pg.last_key.p, "{\"pk\":{\"S\":\"b\"}}", pg.last_key.n) == 0);
    const ddb_value *n = ddb_item_get(&pg.items[1], "n", 1);
    CHECK(n && n->type == DDB_N && n->len == 1 && n->data[0] == '2');
    const char *last = "{\"Items\":[],\"Count\":0,\"ScannedCount\":0}";
    CHECK_INT(ddb_page_decode(last, strlen(last), a, &pg, &err), DM_OK);
    CHECK(pg.last_key.p == NULL);
    dm_arena_free(a);
}
