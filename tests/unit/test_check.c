/* The item checker: each of DynamoDB's rules for an item to be written,
 * accepted at its limit and refused one past it, with the attribute path
 * in the message. The limits were confirmed against DynamoDB Local (see
 * src/ddb/check.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddbmig/ddb_ops.h"
#include "ddbmig/item.h"
#include "test.h"

/* pk (S) and sk (N) as the table's keys; g (S) and gs (B) as the keys of
 * a global index. */
static const ddb_key_schema *schema(void)
{
    static ddb_key_schema ks;
    memset(&ks, 0, sizeof ks);
    ks.hash = (ddb_key_def){"pk", DDB_S, false};
    ks.range = (ddb_key_def){"sk", DDB_N, true};
    ks.index[0] = (ddb_key_def){"g", DDB_S, false};
    ks.index[1] = (ddb_key_def){"gs", DDB_B, true};
    ks.n_index = 2;
    return &ks;
}

/* "ok" when the item passes, else the checker's message. */
static const char *verdict_with(const char *text, const ddb_key_schema *ks)
{
    static dm_error err;
    memset(&err, 0, sizeof err);
    dm_arena *a = dm_arena_new(0);
    ddb_item it;
    if (ddb_item_decode(text, strlen(text), a, &it, NULL, &err) != DM_OK) {
        fprintf(stderr, "decode: %s\n", err.message);
        snprintf(err.message, sizeof err.message, "undecodable");
    } else if (ddb_item_check(&it, ks, &err) == DM_OK) {
        snprintf(err.message, sizeof err.message, "ok");
    } else if (err.code != DM_ERR_INVALID) {
        snprintf(err.message, sizeof err.message, "wrong error code %d", err.code);
    }
    dm_arena_free(a);
    return err.message;
}

static const char *verdict(const char *text) { return verdict_with(text, schema()); }

/* An item with the keys and one more attribute x. */
static const char *with_x(const char *x_json)
{
    static char buf[8192];
    snprintf(buf, sizeof buf, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"x\":%s}", x_json);
    return buf;
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

TEST(accepts_a_plain_item)
{
    CHECK_STR(verdict(with_x("{\"S\":\"hello\"}")), "ok");
    CHECK_STR(verdict_with("{\"anything\":{\"NULL\":true}}", NULL), "ok");
}

TEST(table_keys_present_and_typed)
{
    CHECK_STR(verdict("{\"sk\":{\"N\":\"1\"}}"), "attribute pk: missing; it is the table's partition key (S)");
    CHECK_STR(verdict("{\"pk\":{\"S\":\"a\"}}"), "attribute sk: missing; it is the table's sort key (N)");
    CHECK_STR(verdict("{\"pk\":{\"N\":\"1\"},\"sk\":{\"N\":\"1\"}}"),
              "attribute pk: type N, but it is the table's partition key of type S");
    CHECK_STR(verdict("{\"pk\":{\"S\":\"a\"},\"sk\":{\"S\":\"1\"}}"),
              "attribute sk: type S, but it is the table's sort key of type N");
}

TEST(empty_keys_refused_empty_values_allowed)
{
    CHECK_CONTAINS(verdict("{\"pk\":{\"S\":\"\"},\"sk\":{\"N\":\"1\"}}"), "attribute pk: empty");
    ddb_key_schema ks = {.hash = {"id", DDB_B, false}};
    CHECK_CONTAINS(verdict_with("{\"id\":{\"B\":\"\"}}", &ks), "attribute id: empty");
    CHECK_STR(verdict_with("{\"id\":{\"B\":\"AA==\"}}", &ks), "ok"); /* one zero byte is a key */
    /* Outside keys, empty strings and binary are fine, in sets too. */
    CHECK_STR(verdict(with_x("{\"S\":\"\"}")), "ok");
    CHECK_STR(verdict(with_x("{\"B\":\"\"}")), "ok");
    CHECK_STR(verdict(with_x("{\"SS\":[\"\",\"a\"]}")), "ok");
    CHECK_STR(verdict(with_x("{\"BS\":[\"\",\"YQ==\"]}")), "ok");
    CHECK_STR(verdict(with_x("{\"M\":{\"e\":{\"S\":\"\"}}}")), "ok");
}

TEST(key_sizes_at_and_past_the_limit)
{
    char *s2048 = repeat('k', 2048), *s2049 = repeat('k', 2049), *buf = malloc(8192);
    ddb_key_schema hash_only = {.hash = {"pk", DDB_S, false}};
    snprintf(buf, 8192, "{\"pk\":{\"S\":\"%s\"}}", s2048);
    CHECK_STR(verdict_with(buf, &hash_only), "ok");
    snprintf(buf, 8192, "{\"pk\":{\"S\":\"%s\"}}", s2049);
    CHECK_STR(verdict_with(buf, &hash_only),
              "attribute pk: 2049 bytes; the table's partition key value has at most 2048 bytes");
    ddb_key_schema with_sort = {.hash = {"pk", DDB_S, false}, .range = {"sk", DDB_S, true}};
    snprintf(buf, 8192, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"S\":\"%.*s\"}}", 1024, s2048);
    CHECK_STR(verdict_with(buf, &with_sort), "ok");
    snprintf(buf, 8192, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"S\":\"%.*s\"}}", 1025, s2048);
    CHECK_STR(verdict_with(buf, &with_sort),
              "attribute sk: 1025 bytes; the table's sort key value has at most 1024 bytes");
    free(s2048);
    free(s2049);
    free(buf);
}

TEST(index_keys_optional_but_typed)
{
    CHECK_STR(verdict(with_x("{\"S\":\"no index keys\"}")), "ok");
    CHECK_STR(verdict("{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"g\":{\"S\":\"x\"},\"gs\":{\"B\":\"YQ==\"}}"), "ok");
    CHECK_STR(verdict("{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"g\":{\"N\":\"1\"}}"),
              "attribute g: type N, but it is a secondary index's partition key of type S");
    CHECK_CONTAINS(verdict("{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"g\":{\"S\":\"\"}}"),
                   "attribute g: empty, but it is a secondary index's partition key");
    char *s = repeat('g', 2049), *buf = malloc(4096);
    snprintf(buf, 4096, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"g\":{\"S\":\"%s\"}}", s);
    CHECK_CONTAINS(verdict(buf), "attribute g: 2049 bytes; a secondary index's partition key value has at most 2048");
    free(s);
    free(buf);
}

TEST(attribute_names)
{
    CHECK_STR(verdict(with_x("{\"M\":{\"\":{\"S\":\"v\"}}}")), "attribute x.\"\": empty attribute name");
    CHECK_STR(verdict("{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"\":{\"S\":\"v\"}}"),
              "attribute \"\": empty attribute name");
    size_t n = DDB_MAX_NAME_BYTES + 1;
    char *name = repeat('n', n), *buf = malloc(n + 200);
    snprintf(buf, n + 200, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"%s\":{\"S\":\"v\"}}", name + 1);
    CHECK_STR(verdict(buf), "ok"); /* 65,535 bytes */
    snprintf(buf, n + 200, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"m\":{\"M\":{\"%s\":{\"S\":\"v\"}}}}", name);
    const char *v = verdict(buf);
    CHECK_CONTAINS(v, "attribute m.nnnnnnnn");
    CHECK_CONTAINS(v, "...: a name of 65536 bytes; DynamoDB allows at most 65535");
    free(name);
    free(buf);
}

TEST(names_repeated_in_a_map)
{
    CHECK_STR(verdict(with_x("{\"M\":{\"y\":{\"S\":\"1\"},\"z\":{\"S\":\"2\"},\"y\":{\"S\":\"3\"}}}")),
              "attribute x.y: the name appears twice in the same map; DynamoDB would keep only one");
    CHECK_STR(verdict("{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"pk\":{\"S\":\"b\"}}"),
              "attribute pk: the name appears twice in the same item; DynamoDB would keep only one");
    /* Many names: the sorted path finds it too. */
    dm_buf b;
    dm_buf_init(&b, 0);
    dm_buf_puts(&b, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"x\":{\"M\":{");
    for (int i = 0; i < 100; i++)
        dm_buf_appendf(&b, "\"k%d\":{\"N\":\"%d\"},", i, i);
    dm_buf_puts(&b, "\"k57\":{\"N\":\"0\"}}}}");
    CHECK_STR(verdict(b.data), "attribute x.k57: the name appears twice in the same map; DynamoDB would keep only one");
    dm_buf_cleanup(&b);
}

TEST(sets_without_duplicates)
{
    CHECK_STR(verdict(with_x("{\"SS\":[\"a\",\"b\",\"a\"]}")),
              "attribute x: members [0] and [2] are the same; a set holds each value once");
    CHECK_STR(verdict(with_x("{\"NS\":[\"1\",\"1.0\"]}")),
              "attribute x: members [0] and [1] are the same number; a set holds each value once");
    CHECK_CONTAINS(verdict(with_x("{\"NS\":[\"2\",\"1E0\",\"3\",\"1\"]}")), "members [1] and [3] are the same number");
    CHECK_CONTAINS(verdict(with_x("{\"NS\":[\"-0.5\",\"-5E-1\"]}")), "members [0] and [1]");
    CHECK_CONTAINS(verdict(with_x("{\"BS\":[\"YQ==\",\"Yg==\",\"YQ==\"]}")), "members [0] and [2]");
    CHECK_STR(verdict(with_x("{\"NS\":[\"1\",\"-1\",\"10\",\"0.1\"]}")), "ok");
    CHECK_STR(verdict(with_x("{\"SS\":[\"a\",\"A\",\"a \"]}")), "ok");
}

TEST(large_sets_sorted)
{
    dm_buf b;
    dm_buf_init(&b, 0);
    dm_buf_puts(&b, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},"
                    "\"tags\":{\"L\":[{\"S\":\"0\"},{\"S\":\"1\"},{\"S\":\"2\"},"
                    "{\"M\":{\"colors\":{\"NS\":[");
    for (int i = 0; i < 5000; i++)
        dm_buf_appendf(&b, "\"%d\",", i * 7);
    dm_buf_puts(&b, "\"5\"]}}}]}}");
    CHECK_STR(verdict(b.data), "ok");
    /* 4900.00 is member 700 (4900 = 700 x 7), appended at the end. */
    b.len -= strlen("\"5\"]}}}]}}");
    dm_buf_puts(&b, "\"4900.00\"]}}}]}}");
    CHECK_STR(verdict(b.data),
              "attribute tags[3].colors: members [700] and [5000] are the same number; a set holds each value once");
    dm_buf_cleanup(&b);
}

static ddb_value scalar(ddb_type t, const char *s)
{
    return (ddb_value){.type = t, .data = s, .len = strlen(s)};
}

TEST(built_items)
{
    /* Items made in memory (by a script) get the rules the decoder cannot
     * see to: empty sets, mixed members, bad numbers and text. */
    dm_str names[2] = {{"pk", 2}, {"s", 1}};
    ddb_value vals[2] = {scalar(DDB_S, "a"), {.type = DDB_SS}};
    ddb_item it = {names, vals, 2};
    dm_error err = {0};
    ddb_key_schema ks = {.hash = {"pk", DDB_S, false}};
    CHECK_INT(ddb_item_check(&it, &ks, &err), DM_ERR_INVALID);
    CHECK_STR(err.message, "attribute s: empty set; DynamoDB stores no empty sets");
    ddb_value members[2] = {scalar(DDB_S, "x"), scalar(DDB_N, "1")};
    vals[1] = (ddb_value){.type = DDB_SS, .items = members, .n = 2};
    CHECK_INT(ddb_item_check(&it, &ks, &err), DM_ERR_INVALID);
    CHECK_STR(err.message, "attribute s: member [1] is N in a set of type SS");
    vals[1] = scalar(DDB_N, "1e");
    CHECK_INT(ddb_item_check(&it, &ks, &err), DM_ERR_INVALID);
    CHECK_STR(err.message, "attribute s: not a valid number: exponent without digits");
    vals[1] = scalar(DDB_N, "123456789012345678901234567890123456789");
    CHECK_INT(ddb_item_check(&it, &ks, &err), DM_ERR_INVALID);
    CHECK_STR(err.message, "attribute s: not a valid number: more than 38 significant digits");
    members[1] = scalar(DDB_N, "1E126");
    vals[1] = (ddb_value){.type = DDB_NS, .items = members + 1, .n = 1};
    CHECK_INT(ddb_item_check(&it, &ks, &err), DM_ERR_INVALID);
    CHECK_CONTAINS(err.message, "attribute s: member [0] is not a valid number: larger than");
    vals[1] = scalar(DDB_S, "\xc3\x28");
    CHECK_INT(ddb_item_check(&it, &ks, &err), DM_ERR_INVALID);
    CHECK_STR(err.message, "attribute s: the string is not valid UTF-8");
    names[1] = (dm_str){"bad\x01name\xff", 9};
    vals[1] = scalar(DDB_S, "ok");
    CHECK_INT(ddb_item_check(&it, &ks, &err), DM_ERR_INVALID);
    CHECK_STR(err.message, "attribute bad?name?: the name is not valid UTF-8");
}

/* d wrapped in `levels` maps, the innermost holding `inner`. */
static const char *nested(int levels, const char *inner)
{
    static dm_buf b;
    dm_buf_cleanup(&b);
    dm_buf_init(&b, 0);
    dm_buf_puts(&b, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"d\":");
    for (int i = 0; i < levels; i++)
        dm_buf_puts(&b, i % 2 ? "{\"L\":[" : "{\"M\":{\"x\":");
    dm_buf_puts(&b, inner);
    for (int i = levels - 1; i >= 0; i--)
        dm_buf_puts(&b, i % 2 ? "]}" : "}}");
    dm_buf_puts(&b, "}");
    return b.data;
}

TEST(nesting_as_dynamodb_counts)
{
    /* d is level 1; 31 maps and lists put a scalar or a set on level 32. */
    CHECK_STR(verdict(nested(31, "{\"S\":\"deep\"}")), "ok");
    CHECK_STR(verdict(nested(31, "{\"SS\":[\"deep\"]}")), "ok");
    /* A map or list on level 32 is refused, even empty (the decoder takes
     * it; DynamoDB Local does not). */
    CHECK_STR(verdict(nested(31, "{\"M\":{}}")),
              "attribute d.x[0].x[0].x[0].x[0].x[0].x[0].x[0].x[0].x[0].x[0].x[0].x[0].x[0].x[0].x[0].x: "
              "a map on level 32, counting the attribute as level 1; DynamoDB allows maps and lists down to level 31 "
              "only");
    CHECK_CONTAINS(verdict(nested(31, "{\"L\":[]}")), ": a list on level 32, counting");
}

TEST(item_size_at_and_past_400_kb)
{
    /* pk(2+1) sk(2+2: "1" is one digit) x(1 + n) */
    size_t n = DDB_MAX_ITEM_BYTES - 8;
    char *s = repeat('s', n + 1), *buf = malloc(n + 200);
    snprintf(buf, n + 200, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"x\":{\"S\":\"%.*s\"}}", (int)n, s);
    CHECK_STR(verdict(buf), "ok");
    snprintf(buf, n + 200, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"x\":{\"S\":\"%s\"}}", s);
    CHECK_STR(verdict(buf), "the item is 409601 bytes as DynamoDB counts them; the limit is 400 KB (409600 bytes)");
    free(s);
    free(buf);
}

TEST(long_paths_are_clipped_then_restored)
{
    /* A failure deep under long names shows a clipped path; a failure in
     * a later sibling shows its own path in full. */
    char *long_name = repeat('q', 60);
    dm_buf b;
    dm_buf_init(&b, 0);
    dm_buf_puts(&b, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"a\":");
    for (int i = 0; i < 12; i++)
        dm_buf_appendf(&b, "{\"M\":{\"%s\":", long_name);
    dm_buf_puts(&b, "{\"S\":\"fine\"}");
    for (int i = 0; i < 12; i++)
        dm_buf_puts(&b, "}}");
    dm_buf_puts(&b, ",\"b\":{\"L\":[{\"NS\":[\"1\",\"1\"]}]}}");
    CHECK_STR(verdict(b.data), "attribute b[0]: members [0] and [1] are the same number; a set holds each value once");
    dm_buf_reset(&b);
    dm_buf_puts(&b, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"a\":");
    for (int i = 0; i < 12; i++)
        dm_buf_appendf(&b, "{\"M\":{\"%s\":", long_name);
    dm_buf_puts(&b, "{\"SS\":[\"z\",\"z\"]}");
    for (int i = 0; i < 12; i++)
        dm_buf_puts(&b, "}}");
    dm_buf_puts(&b, "}");
    const char *v = verdict(b.data);
    CHECK_CONTAINS(v, "attribute a.qqqq");
    CHECK_CONTAINS(v, "...: members [0] and [1] are the same;");
    CHECK(strlen(v) < 400);
    dm_buf_cleanup(&b);
    free(long_name);
}

TEST(key_schema_from_describe_table)
{
    /* Table pk/sk; a global index on g/sk (sk is the table's already) and
     * one on g2 alone; a local index on pk/l. */
    const char *table =
        "{\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"},"
        "{\"AttributeName\":\"sk\",\"AttributeType\":\"N\"},{\"AttributeName\":\"g\",\"AttributeType\":\"B\"},"
        "{\"AttributeName\":\"g2\",\"AttributeType\":\"S\"},{\"AttributeName\":\"l\",\"AttributeType\":\"N\"}],"
        "\"LocalSecondaryIndexes\":[{\"IndexName\":\"li\",\"KeySchema\":["
        "{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"},{\"AttributeName\":\"l\",\"KeyType\":\"RANGE\"}]}]}";
    ddb_table_desc d;
    memset(&d, 0, sizeof d);
    d.raw = json_loads(table, 0, NULL);
    CHECK(d.raw != NULL);
    d.hash = (ddb_key_attr){"pk", "S"};
    d.range = (ddb_key_attr){"sk", "N"};
    d.has_range = true;
    ddb_index_desc gsis[2];
    memset(gsis, 0, sizeof gsis);
    gsis[0].hash = (ddb_key_attr){"g", "B"};
    gsis[0].range = (ddb_key_attr){"sk", "N"};
    gsis[0].has_range = true;
    gsis[1].hash = (ddb_key_attr){"g2", "S"};
    d.gsis = gsis;
    d.n_gsis = 2;
    ddb_key_schema ks;
    dm_error err = {0};
    CHECK_INT(ddb_table_key_schema(&d, &ks, &err), DM_OK);
    CHECK_STR(ks.hash.name, "pk");
    CHECK_INT(ks.hash.type, DDB_S);
    CHECK_STR(ks.range.name, "sk");
    CHECK_INT(ks.range.type, DDB_N);
    CHECK(ks.range.range);
    CHECK_INT(ks.n_index, 3);
    CHECK_STR(ks.index[0].name, "g");
    CHECK_INT(ks.index[0].type, DDB_B);
    CHECK(!ks.index[0].range);
    CHECK_STR(ks.index[1].name, "g2");
    CHECK_STR(ks.index[2].name, "l");
    CHECK_INT(ks.index[2].type, DDB_N);
    CHECK(ks.index[2].range);
    /* A table without a sort key has none in the schema. */
    d.has_range = false;
    d.n_gsis = 0;
    CHECK_INT(ddb_table_key_schema(&d, &ks, &err), DM_OK);
    CHECK(ks.range.name == NULL);
    CHECK_INT(ks.n_index, 1);
    /* A key type the checker does not know is an error, not a guess. */
    d.hash = (ddb_key_attr){"pk", "X"};
    CHECK_INT(ddb_table_key_schema(&d, &ks, &err), DM_ERR_PARSE);
    CHECK_CONTAINS(err.message, "the partition key 'pk' has no type S, N or B");
    json_decref(d.raw);
}
