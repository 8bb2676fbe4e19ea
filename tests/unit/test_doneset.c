/* The set of keys finished past a cursor: keys by value, taking, writing
 * back, and the keys a checkpoint may hold. */
#include <stdlib.h>
#include <string.h>

#include "engine/doneset.h"
#include "test.h"

static const char *const NAMES1[] = {"pk"};
static const char *const NAMES2[] = {"pk", "sk"};
static const char *const TYPES2[] = {"S", "N"};
static const doneset_schema KEY1 = {NAMES1, NULL, 1};
static const doneset_schema KEY2 = {NAMES2, NULL, 2};
static const doneset_schema TYPED2 = {NAMES2, TYPES2, 2};

static ddb_item item(dm_arena *a, const char *json)
{
    ddb_item it;
    dm_error err = {0};
    char *copy = dm_arena_strndup(a, json, strlen(json));
    if (ddb_item_decode(copy, strlen(copy), a, &it, NULL, &err) != DM_OK) {
        fprintf(stderr, "bad test item %s: %s\n", json, err.message);
        abort();
    }
    return it;
}

static int add(doneset *s, const char *json)
{
    dm_error err = {0};
    return doneset_add_json(s, json, strlen(json), &err);
}

TEST(keys_match_by_value_and_are_taken_once)
{
    dm_arena *a = dm_arena_new(0);
    doneset *s = doneset_new(KEY2);
    CHECK(s);
    CHECK_INT(add(s, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1.50\"}}"), DM_OK);
    CHECK_INT(add(s, "{\"sk\":{\"N\":\"2\"},\"pk\":{\"S\":\"\\u0061\"}}"), DM_OK); /* any order, any spelling */
    CHECK_INT(add(s, "{\"pk\":{\"S\":\"b\"},\"sk\":{\"N\":\"1.5\"}}"), DM_OK);
    CHECK_INT(add(s, "{\"pk\":{\"S\":\"b\"},\"sk\":{\"N\":\"15E-1\"}}"), DM_OK); /* the same key again */
    CHECK_INT(doneset_size(s), 3);
    ddb_item x = item(a, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1.5\"},\"v\":{\"L\":[]}}");
    ddb_item y = item(a, "{\"sk\":{\"N\":\"2.0\"},\"pk\":{\"S\":\"a\"}}");
    ddb_item other = item(a, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"3\"}}");
    ddb_item typed = item(a, "{\"pk\":{\"B\":\"YQ==\"},\"sk\":{\"N\":\"1.5\"}}"); /* bytes "a", not the string */
    ddb_item keyless = item(a, "{\"pk\":{\"S\":\"a\"}}");
    CHECK(doneset_take(s, &x));
    CHECK(!doneset_take(s, &x)); /* once */
    CHECK(!doneset_take(s, &other));
    CHECK(!doneset_take(s, &typed));
    CHECK(!doneset_take(s, &keyless));
    CHECK(doneset_take(s, &y));
    CHECK_INT(doneset_size(s), 1);
    dm_buf out;
    dm_buf_init(&out, 0);
    CHECK_INT(doneset_write(s, 0, &out, NULL), DM_OK);
    CHECK_STR(dm_buf_cstr(&out), "[{\"pk\":{\"S\":\"b\"},\"sk\":{\"N\":\"1.5\"}}]");
    /* A key taken and then added again (a resume stopping again) is back. */
    CHECK_INT(doneset_add_item(s, &x), DM_OK);
    CHECK_INT(doneset_size(s), 2);
    dm_buf_reset(&out);
    CHECK_INT(doneset_write(s, 0, &out, NULL), DM_OK);
    CHECK_STR(dm_buf_cstr(&out), "[{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1.50\"}},{\"pk\":{\"S\":\"b\"},\"sk\":{\"N\":\"1.5\"}}]");
    CHECK_INT(doneset_add_item(s, &keyless), DM_ERR_INVALID);
    /* Bounded: whole keys only, and how many were left out. */
    size_t left = 0;
    dm_buf_reset(&out);
    CHECK_INT(doneset_write(s, 40, &out, &left), DM_OK);
    CHECK_STR(dm_buf_cstr(&out), "[{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1.50\"}}]");
    CHECK_INT(left, 1);
    dm_buf_reset(&out);
    CHECK_INT(doneset_write(s, 10, &out, &left), DM_OK);
    CHECK_STR(dm_buf_cstr(&out), "[]");
    CHECK_INT(left, 2);
    dm_buf_cleanup(&out);
    doneset_free(s);
    dm_arena_free(a);
}

TEST(many_keys_grow_the_table)
{
    dm_arena *a = dm_arena_new(0);
    doneset *s = doneset_new(KEY1);
    char json[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(json, sizeof json, "{\"pk\":{\"N\":\"%d\"}}", i);
        CHECK_INT(add(s, json), DM_OK);
    }
    CHECK_INT(doneset_size(s), 5000);
    for (int i = 4999; i >= 0; i -= 2) {
        snprintf(json, sizeof json, "{\"pk\":{\"N\":\"%d.0\"}}", i);
        ddb_item it = item(a, json);
        CHECK(doneset_take(s, &it));
    }
    CHECK_INT(doneset_size(s), 2500);
    ddb_item absent = item(a, "{\"pk\":{\"N\":\"5000\"}}");
    CHECK(!doneset_take(s, &absent));
    doneset_free(s);
    dm_arena_free(a);
}

TEST(refuses_what_is_not_a_key)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"pk\":{\"S\":\"a\"}}",                                  /* sk missing */
        "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"x\":{\"S\":\"1\"}}", /* not a key attribute */
        "{\"pk\":{\"M\":{}},\"sk\":{\"N\":\"1\"}}",                /* not a scalar */
        "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1e999\"}}",         /* not a number DynamoDB holds */
        "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}} x",           /* trailing text */
        "{\"pk\":\"a\",\"sk\":{\"N\":\"1\"}}",                     /* not DynamoDB JSON */
        "{\"pk\":{\"S\":\"a\"},\"sk\":{\"S\":\"1\"}}",              /* not the table's type */
    };
    doneset *s = doneset_new(TYPED2);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        dm_error err = {0};
        CHECK_INT(doneset_check_key(TYPED2, bad[i], strlen(bad[i]), &err), DM_ERR_PARSE);
        CHECK(err.message[0]);
        CHECK_INT(doneset_add_json(s, bad[i], strlen(bad[i]), &err), DM_ERR_PARSE);
    }
    CHECK_INT(doneset_size(s), 0);
    dm_error err = {0};
    const char *good = " {\"sk\":{\"N\":\"-1E-3\"},\"pk\":{\"S\":\"a\"}}\n";
    CHECK_INT(doneset_check_key(TYPED2, good, strlen(good), &err), DM_OK);
    const char *untyped = "{\"sk\":{\"B\":\"AA==\"},\"pk\":{\"S\":\"a\"}}";
    CHECK_INT(doneset_check_key(KEY2, untyped, strlen(untyped), &err), DM_OK);
    CHECK_INT(doneset_check_key(TYPED2, untyped, strlen(untyped), &err), DM_ERR_PARSE);
    CHECK_CONTAINS(err.message, "the table's is N");
    dm_buf out;
    dm_buf_init(&out, 0);
    CHECK_INT(doneset_write(s, 0, &out, NULL), DM_OK);
    CHECK_STR(dm_buf_cstr(&out), "[]");
    dm_buf_cleanup(&out);
    doneset_free(s);
}

TEST(keys_carry_a_payload)
{
    dm_arena *a = dm_arena_new(0);
    doneset *s = doneset_new(KEY1);
    dm_error err = {0};
    const char *k = "{\"pk\":{\"N\":\"7\"}}";
    CHECK_INT(doneset_add_json_with(s, k, strlen(k), "{\"set\":{},\"remove\":[\"a\"]}", &err), DM_OK);
    CHECK_INT(doneset_add_json(s, "{\"pk\":{\"N\":\"8\"}}", 16, &err), DM_OK);
    dm_buf out;
    dm_buf_init(&out, 0);
    CHECK_INT(doneset_write(s, 0, &out, NULL), DM_OK);
    CHECK_STR(dm_buf_cstr(&out),
              "[{\"key\":{\"pk\":{\"N\":\"7\"}},\"wrote\":{\"set\":{},\"remove\":[\"a\"]}},{\"pk\":{\"N\":\"8\"}}]");
    ddb_item seven = item(a, "{\"pk\":{\"N\":\"7.0\"},\"x\":{\"S\":\"y\"}}");
    const char *payload = NULL;
    CHECK(doneset_take_with(s, &seven, &payload));
    CHECK_STR(payload, "{\"set\":{},\"remove\":[\"a\"]}");
    CHECK(!doneset_take_with(s, &seven, &payload));
    CHECK(payload == NULL);
    /* Added again: the new payload. */
    CHECK_INT(doneset_add_item_with(s, &seven, "{\"set\":{},\"remove\":[]}"), DM_OK);
    CHECK(doneset_take_with(s, &seven, &payload));
    CHECK_STR(payload, "{\"set\":{},\"remove\":[]}");
    dm_buf_cleanup(&out);
    doneset_free(s);
    dm_arena_free(a);
}
