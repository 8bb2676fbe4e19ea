/* The engine's decisions without a server: write plans for every kind of
 * result and mode, the guards they carry (checked as the request bodies
 * DynamoDB would get), and what each kind of failed condition means. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/wplan.h"
#include "engine/writer.h"
#include "test.h"

static dm_arena *A;
static const char *const KEYS[] = {"pk"};

static ddb_item item(const char *json)
{
    ddb_item it;
    dm_error err = {0};
    char *copy = dm_arena_strndup(A, json, strlen(json));
    if (ddb_item_decode(copy, strlen(copy), A, &it, NULL, &err) != DM_OK) {
        fprintf(stderr, "bad test item %s: %s\n", json, err.message);
        abort();
    }
    return it;
}

static lua_result wrote(const char *json)
{
    lua_result r = {.outcome = LUA_WRITE, .item = item(json)};
    return r;
}

static wplan_rules rules(engine_write_mode mode)
{
    wplan_rules r = {.keys = KEYS, .n_keys = 1, .migration = "m-1", .mode = mode};
    return r;
}

static wplan decide(const wplan_rules *r, const ddb_item *read, const lua_result *res)
{
    wplan p;
    if (wplan_decide(r, read, res, A, &p) != DM_OK)
        abort();
    return p;
}

/* The request body of a plan, parsed. */
static json_t *body(const wplan_rules *r, const wplan *p, const ddb_item *read)
{
    wr_ctx w = {.table = "t1", .keys = KEYS, .n_keys = 1, .version_attr = r->version_attr, .rules = r};
    dm_buf b;
    dm_buf_init(&b, 0);
    if (wr_body(&w, p, read, &b) != DM_OK)
        abort();
    json_error_t je;
    json_t *doc = json_loads(dm_buf_cstr(&b), 0, &je);
    if (!doc)
        fprintf(stderr, "not JSON (%s): %s\n", je.text, dm_buf_cstr(&b));
    dm_buf_cleanup(&b);
    return doc;
}

/* The condition with its placeholders replaced by names and values. */
static char *spelled(json_t *req, const char *field)
{
    const char *expr = json_string_value(json_object_get(req, field));
    json_t *names = json_object_get(req, "ExpressionAttributeNames");
    json_t *values = json_object_get(req, "ExpressionAttributeValues");
    dm_buf out;
    dm_buf_init(&out, 0);
    for (const char *p = expr; p && *p;) {
        if (*p == '#' || *p == ':') {
            size_t n = 1;
            while (p[n] >= '0' && p[n] <= '9' ? 1 : (p[n] == 'n' || p[n] == 'v') && n == 1)
                n++;
            char ref[32];
            snprintf(ref, sizeof ref, "%.*s", (int)n, p);
            if (*p == '#') {
                dm_buf_puts(&out, json_string_value(json_object_get(names, ref)));
            } else {
                char *v = json_dumps(json_object_get(values, ref), JSON_COMPACT | JSON_SORT_KEYS);
                dm_buf_puts(&out, v);
                free(v);
            }
            p += n;
        } else {
            dm_buf_putc(&out, *p++);
        }
    }
    char *s = strdup(dm_buf_cstr(&out));
    dm_buf_cleanup(&out);
    return s;
}

static void setup(void)
{
    if (A)
        dm_arena_free(A);
    A = dm_arena_new(0);
}

TEST(unchanged_writes_nothing)
{
    setup();
    wplan_rules r = rules(ENGINE_WRITE_UPDATE);
    ddb_item read = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1.50\"}}");
    lua_result same = wrote("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1.5\"}}");
    CHECK_INT(decide(&r, &read, &same).kind, WPLAN_NOTHING);
    lua_result nil = {.outcome = LUA_UNCHANGED};
    CHECK_INT(decide(&r, &read, &nil).kind, WPLAN_NOTHING);
    r.marker = "_m"; /* no change: the marker alone is not written */
    CHECK_INT(decide(&r, &read, &same).kind, WPLAN_NOTHING);
}

TEST(update_guards_the_whole_image)
{
    setup();
    wplan_rules r = rules(ENGINE_WRITE_UPDATE);
    ddb_item read = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\"keep\":{\"S\":\"k\"},\"gone\":{\"BOOL\":true}}");
    lua_result res = wrote("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"2\"},\"keep\":{\"S\":\"k\"},\"new\":{\"S\":\"x\"}}");
    wplan p = decide(&r, &read, &res);
    CHECK_INT(p.kind, WPLAN_UPDATE);
    CHECK_INT(p.guard, WPLAN_GUARD_IMAGE);
    CHECK(!p.guard_partial && !p.read_first);
    json_t *req = body(&r, &p, &read);
    CHECK(req);
    char *ue = spelled(req, "UpdateExpression"), *ce = spelled(req, "ConditionExpression");
    CHECK_STR(ue, "SET n = {\"N\":\"2\"}, new = {\"S\":\"x\"} REMOVE gone");
    /* Every attribute read is named: a change to "keep" by another writer
     * fails the write too, and "new" must still be absent. */
    CHECK_STR(ce, "attribute_exists(pk) AND n = {\"N\":\"1\"} AND attribute_not_exists(new) AND gone = "
                  "{\"BOOL\":true} AND keep = {\"S\":\"k\"}");
    CHECK_STR(json_string_value(json_object_get(req, "ReturnValuesOnConditionCheckFailure")), "ALL_OLD");
    free(ue);
    free(ce);
    json_decref(req);
}

/* A script that read only some of the item: the update names what it
 * read, what it looked for and what the write touches; an attribute it
 * never looked at is left out, since the update leaves it as it is. */
TEST(update_guards_what_the_script_saw)
{
    setup();
    wplan_rules r = rules(ENGINE_WRITE_UPDATE);
    ddb_item read = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\"keep\":{\"S\":\"k\"},\"big\":{\"S\":\"b\"},"
                         "\"gone\":{\"BOOL\":true}}");
    lua_result res = wrote("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"2\"},\"keep\":{\"S\":\"k\"},\"big\":{\"S\":\"b\"},"
                           "\"new\":{\"S\":\"x\"}}");
    /* It read pk and keep, wrote n, deleted gone, never looked at big,
     * and looked for "flag" in vain. */
    unsigned char seen[] = {1, 1, 1, 0, 1};
    dm_str absent[] = {{"flag", 4}};
    res.seen = seen;
    res.absent = absent;
    res.n_absent = 1;
    wplan p = decide(&r, &read, &res);
    CHECK_INT(p.kind, WPLAN_UPDATE);
    json_t *req = body(&r, &p, &read);
    CHECK(req);
    char *ce = spelled(req, "ConditionExpression");
    CHECK_STR(ce, "attribute_exists(pk) AND n = {\"N\":\"1\"} AND attribute_not_exists(new) AND gone = "
                  "{\"BOOL\":true} AND attribute_not_exists(flag) AND keep = {\"S\":\"k\"}");
    free(ce);
    json_decref(req);

    /* The same script having gone through the item raw saw all of it. */
    res.saw_all = true;
    p = decide(&r, &read, &res);
    req = body(&r, &p, &read);
    ce = spelled(req, "ConditionExpression");
    CHECK_STR(ce, "attribute_exists(pk) AND n = {\"N\":\"1\"} AND attribute_not_exists(new) AND gone = "
                  "{\"BOOL\":true} AND attribute_not_exists(flag) AND keep = {\"S\":\"k\"} AND big = {\"S\":\"b\"}");
    free(ce);
    json_decref(req);
}

/* A delete removes what the script never saw too: it names everything. */
TEST(delete_guards_everything_whatever_the_script_saw)
{
    setup();
    wplan_rules r = rules(ENGINE_WRITE_UPDATE);
    ddb_item read = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\"big\":{\"S\":\"b\"}}");
    unsigned char seen[] = {1, 0, 0};
    lua_result del = {.outcome = LUA_DELETE, .seen = seen};
    wplan p = decide(&r, &read, &del);
    CHECK_INT(p.kind, WPLAN_DELETE);
    json_t *req = body(&r, &p, &read);
    char *ce = spelled(req, "ConditionExpression");
    CHECK_STR(ce, "attribute_exists(pk) AND n = {\"N\":\"1\"} AND big = {\"S\":\"b\"}");
    free(ce);
    json_decref(req);
}

/* The statement of a plan, with each ? replaced by its parameter. */
static char *statement(const wplan_rules *r, const wplan *p, const ddb_item *read, int *rc)
{
    wr_ctx w = {.table = "t1", .keys = KEYS, .n_keys = 1, .version_attr = r->version_attr, .rules = r};
    dm_buf b, out;
    dm_buf_init(&b, 0);
    dm_buf_init(&out, 0);
    *rc = wr_statement(&w, p, read, &b);
    char *text = NULL;
    if (*rc == DM_OK) {
        json_t *doc = json_loads(dm_buf_cstr(&b), 0, NULL);
        const char *st = json_string_value(json_object_get(doc, "Statement"));
        json_t *params = json_object_get(doc, "Parameters");
        size_t k = 0;
        for (const char *c = st; c && *c; c++) {
            if (*c != '?') {
                dm_buf_putc(&out, *c);
                continue;
            }
            char *v = json_dumps(json_array_get(params, k++), JSON_COMPACT | JSON_SORT_KEYS);
            dm_buf_puts(&out, v ? v : "MISSING-PARAMETER");
            free(v);
        }
        if (k != json_array_size(params))
            dm_buf_puts(&out, " EXTRA-PARAMETERS");
        text = strdup(dm_buf_cstr(&out));
        json_decref(doc);
    } else if (b.len) {
        *rc = -999; /* a refused plan appends nothing */
    }
    dm_buf_cleanup(&b);
    dm_buf_cleanup(&out);
    return text;
}

/* A guarded update as a PartiQL statement: the same write, the same
 * guard, for the names and values a statement spells safely. */
TEST(updates_spell_as_statements)
{
    setup();
    wplan_rules r = rules(ENGINE_WRITE_UPDATE);
    ddb_item read = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\"q\\\"x\":{\"S\":\"k\"},\"gone\":{\"BOOL\":true}}");
    lua_result res = wrote("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"2\"},\"q\\\"x\":{\"S\":\"k\"},"
                           "\"new\":{\"M\":{\"z\":{\"N\":\"12345678901234567890123456789012345678\"}}}}");
    wplan p = decide(&r, &read, &res);
    int rc;
    char *st = statement(&r, &p, &read, &rc);
    CHECK_INT(rc, DM_OK);
    CHECK_STR(st, "UPDATE \"t1\" SET \"n\" = {\"N\":\"2\"} SET \"new\" = {\"M\":{\"z\":{\"N\":"
                  "\"12345678901234567890123456789012345678\"}}} REMOVE \"gone\" WHERE \"pk\" = {\"S\":\"a\"} AND "
                  "\"n\" = {\"N\":\"1\"} AND \"new\" IS MISSING AND \"gone\" = {\"BOOL\":true} AND "
                  "\"q\"\"x\" = {\"S\":\"k\"}");
    free(st);

    /* A version attribute is the whole guard. */
    wplan_rules rv = rules(ENGINE_WRITE_UPDATE);
    rv.version_attr = "ver";
    ddb_item vread = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\"ver\":{\"N\":\"7\"}}");
    lua_result vres = wrote("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"2\"},\"ver\":{\"N\":\"7\"}}");
    p = decide(&rv, &vread, &vres);
    st = statement(&rv, &p, &vread, &rc);
    CHECK_INT(rc, DM_OK);
    CHECK_STR(st, "UPDATE \"t1\" SET \"n\" = {\"N\":\"2\"} SET \"ver\" = {\"N\":\"8\"} WHERE \"pk\" = "
                  "{\"S\":\"a\"} AND \"ver\" = {\"N\":\"7\"}");
    free(st);

    /* Left to UpdateItem: a map, list, set or null compared by the guard;
     * a name outside printable ASCII or with a backslash; a delete. */
    static const char *const reads[] = {
        "{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\"m\":{\"M\":{}}}",
        "{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\"m\":{\"L\":[]}}",
        "{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\"m\":{\"SS\":[\"x\"]}}",
        "{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\"m\":{\"NULL\":true}}",
        "{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\"h\u00e9\":{\"S\":\"x\"}}",
        "{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\"a\\\\b\":{\"S\":\"x\"}}",
        "{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\"a\\nb\":{\"S\":\"x\"}}",
        "{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\"#x\":{\"S\":\"x\"}}",
        "{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\":x\":{\"S\":\"x\"}}",
    };
    for (size_t i = 0; i < sizeof reads / sizeof *reads; i++) {
        ddb_item rd = item(reads[i]);
        lua_result rs = {.outcome = LUA_WRITE, .item = rd};
        rs.item.values = dm_arena_alloc(A, rd.n * sizeof *rs.item.values);
        memcpy(rs.item.values, rd.values, rd.n * sizeof *rd.values);
        rs.item.values[1] = (ddb_value){.type = DDB_N, .data = "2", .len = 1};
        p = decide(&r, &rd, &rs);
        CHECK_INT(p.kind, WPLAN_UPDATE);
        st = statement(&r, &p, &rd, &rc);
        if (rc != DM_ERR_LIMIT)
            fprintf(stderr, "  spelled as a statement: %s\n", reads[i]);
        CHECK_INT(rc, DM_ERR_LIMIT);
        free(st);
    }
    lua_result del = {.outcome = LUA_DELETE};
    p = decide(&r, &read, &del);
    st = statement(&r, &p, &read, &rc);
    CHECK_INT(rc, DM_ERR_LIMIT);
    free(st);
}

TEST(put_mode_writes_the_difference)
{
    setup();
    wplan_rules r = rules(ENGINE_WRITE_PUT);
    ddb_item read = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"}}");
    lua_result res = wrote("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"2\"}}");
    wplan p = decide(&r, &read, &res);
    /* Never PutItem's overwrite: what others added meanwhile stays. */
    CHECK_INT(p.kind, WPLAN_UPDATE);
    CHECK_STR(wr_op(&p), "UpdateItem");
}

TEST(delete_reads_first_and_guards_everything)
{
    setup();
    wplan_rules r = rules(ENGINE_WRITE_UPDATE);
    ddb_item read = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\"s\":{\"SS\":[\"x\",\"y\"]}}");
    lua_result del = {.outcome = LUA_DELETE};
    wplan p = decide(&r, &read, &del);
    CHECK_INT(p.kind, WPLAN_DELETE);
    CHECK_INT(p.counts_as, WPLAN_COUNT_DELETED);
    CHECK(p.read_first);
    json_t *req = body(&r, &p, &read);
    char *ce = spelled(req, "ConditionExpression");
    CHECK_STR(ce, "attribute_exists(pk) AND n = {\"N\":\"1\"} AND s = {\"SS\":[\"x\",\"y\"]}");
    free(ce);
    json_decref(req);
}

TEST(version_attribute_guards_and_bumps)
{
    setup();
    wplan_rules r = rules(ENGINE_WRITE_UPDATE);
    r.version_attr = "ver";
    ddb_item read = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\"ver\":{\"N\":\"7\"}}");
    lua_result res = wrote("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"2\"},\"ver\":{\"N\":\"7\"}}");
    wplan p = decide(&r, &read, &res);
    CHECK_INT(p.kind, WPLAN_UPDATE);
    CHECK_INT(p.guard, WPLAN_GUARD_VERSION);
    json_t *req = body(&r, &p, &read);
    char *ue = spelled(req, "UpdateExpression"), *ce = spelled(req, "ConditionExpression");
    CHECK_STR(ue, "SET n = {\"N\":\"2\"}, ver = {\"N\":\"8\"}");
    CHECK_STR(ce, "attribute_exists(pk) AND ver = {\"N\":\"7\"}");
    free(ue);
    free(ce);
    json_decref(req);
    /* Absent: the first version is 1, and it must still be absent. */
    ddb_item fresh = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"}}");
    lua_result res2 = wrote("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"3\"}}");
    p = decide(&r, &fresh, &res2);
    req = body(&r, &p, &fresh);
    ce = spelled(req, "ConditionExpression");
    CHECK_STR(ce, "attribute_exists(pk) AND attribute_not_exists(ver)");
    CHECK(ddb_item_get(&p.final, "ver", 3) && strcmp(ddb_item_get(&p.final, "ver", 3)->data, "1") == 0);
    free(ce);
    json_decref(req);
    /* A delete with a version needs no read first. */
    lua_result del = {.outcome = LUA_DELETE};
    p = decide(&r, &read, &del);
    CHECK(p.kind == WPLAN_DELETE && !p.read_first && p.guard == WPLAN_GUARD_VERSION);
    /* Not a whole number: an item error, nothing written. */
    ddb_item odd = item("{\"pk\":{\"S\":\"a\"},\"ver\":{\"S\":\"7\"}}");
    lua_result res3 = wrote("{\"pk\":{\"S\":\"a\"},\"ver\":{\"S\":\"7\"},\"x\":{\"N\":\"1\"}}");
    p = decide(&r, &odd, &res3);
    CHECK_INT(p.kind, WPLAN_FAIL);
    CHECK_CONTAINS(p.message, "'ver'");
    ddb_item top = item("{\"pk\":{\"S\":\"a\"},\"ver\":{\"N\":\"9223372036854775807\"}}");
    lua_result res4 = wrote("{\"pk\":{\"S\":\"a\"},\"ver\":{\"N\":\"9223372036854775807\"},\"x\":{\"N\":\"1\"}}");
    CHECK_INT(decide(&r, &top, &res4).kind, WPLAN_FAIL);
}

TEST(marker_reuse_sets_the_new_value_once)
{
    setup();
    wplan_rules r = rules(ENGINE_WRITE_UPDATE);
    r.marker = "_m";
    r.migration = "m-new";
    /* An item marked by an earlier migration, and a script that keeps
     * (or even rewrites) the marker attribute. */
    ddb_item read = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\"_m\":{\"S\":\"m-old\"}}");
    lua_result res = wrote("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"2\"},\"_m\":{\"S\":\"mine\"}}");
    wplan p = decide(&r, &read, &res);
    CHECK_INT(p.kind, WPLAN_UPDATE);
    json_t *req = body(&r, &p, &read);
    char *ue = spelled(req, "UpdateExpression"), *ce = spelled(req, "ConditionExpression");
    CHECK_STR(ue, "SET n = {\"N\":\"2\"}, _m = {\"S\":\"m-new\"}");
    CHECK_STR(ce, "attribute_exists(pk) AND n = {\"N\":\"1\"} AND _m = {\"S\":\"m-old\"}");
    free(ue);
    free(ce);
    json_decref(req);
    CHECK(!wplan_has_marker(&r, &read));
    CHECK(wplan_has_marker(&r, &p.final));
}

TEST(key_change_moves)
{
    setup();
    wplan_rules r = rules(ENGINE_WRITE_UPDATE);
    ddb_item read = item("{\"pk\":{\"S\":\"old\"},\"n\":{\"N\":\"1\"}}");
    lua_result res = wrote("{\"pk\":{\"S\":\"new\"},\"n\":{\"N\":\"1\"}}");
    wplan p = decide(&r, &read, &res);
    CHECK_INT(p.kind, WPLAN_MOVE);
    CHECK_INT(p.counts_as, WPLAN_COUNT_MOVED);
    CHECK(p.read_first);
    json_t *req = body(&r, &p, &read);
    json_t *items = json_object_get(req, "TransactItems");
    CHECK_INT(json_array_size(items), 2);
    json_t *put = json_object_get(json_array_get(items, 0), "Put");
    json_t *del = json_object_get(json_array_get(items, 1), "Delete");
    char *pc = spelled(put, "ConditionExpression"), *dc = spelled(del, "ConditionExpression");
    CHECK_STR(pc, "attribute_not_exists(pk)");
    CHECK_STR(dc, "attribute_exists(pk) AND n = {\"N\":\"1\"}");
    CHECK_STR(json_string_value(json_object_get(json_object_get(json_object_get(del, "Key"), "pk"), "S")), "old");
    free(pc);
    free(dc);
    json_decref(req);
    /* Batch mode: no guard on the old item, but the new key must be free. */
    r.mode = ENGINE_WRITE_BATCH;
    p = decide(&r, &read, &res);
    CHECK(p.kind == WPLAN_MOVE && !p.read_first && p.guard == WPLAN_GUARD_NONE);
    req = body(&r, &p, &read);
    put = json_object_get(json_array_get(json_object_get(req, "TransactItems"), 0), "Put");
    pc = spelled(put, "ConditionExpression");
    CHECK_STR(pc, "attribute_not_exists(pk)");
    free(pc);
    json_decref(req);
}

TEST(batch_and_copy_plans)
{
    setup();
    wplan_rules r = rules(ENGINE_WRITE_BATCH);
    ddb_item read = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"}}");
    lua_result res = wrote("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"2\"}}");
    lua_result del = {.outcome = LUA_DELETE}, nil = {.outcome = LUA_UNCHANGED};
    CHECK_INT(decide(&r, &read, &res).kind, WPLAN_BATCH_PUT);
    CHECK_INT(decide(&r, &read, &del).kind, WPLAN_BATCH_DELETE);
    r.copy = true;
    wplan p = decide(&r, &read, &nil);
    CHECK(p.kind == WPLAN_BATCH_PUT && p.counts_as == WPLAN_COUNT_UNCHANGED); /* copied as it is */
    p = decide(&r, &read, &del);
    CHECK(p.kind == WPLAN_NOTHING && p.counts_as == WPLAN_COUNT_DELETED);
    r.mode = ENGINE_WRITE_PUT;
    p = decide(&r, &read, &res);
    CHECK(p.kind == WPLAN_COPY && p.counts_as == WPLAN_COUNT_CHANGED);
}

TEST(bad_results_are_item_errors)
{
    setup();
    wplan_rules r = rules(ENGINE_WRITE_UPDATE);
    ddb_item read = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"}}");
    lua_result nokey = wrote("{\"n\":{\"N\":\"2\"}}");
    wplan p = decide(&r, &read, &nokey);
    CHECK_INT(p.kind, WPLAN_FAIL);
    CHECK_CONTAINS(p.message, "key attribute 'pk'");
    /* Over 400 KB. */
    size_t n = 420 * 1024;
    char *big = malloc(n + 64);
    int len = snprintf(big, 64, "{\"pk\":{\"S\":\"a\"},\"b\":{\"S\":\"");
    memset(big + len, 'x', n);
    strcpy(big + len + n, "\"}}");
    lua_result huge = wrote(big);
    free(big);
    p = decide(&r, &read, &huge);
    CHECK_INT(p.kind, WPLAN_FAIL);
    CHECK_CONTAINS(p.message, "400 KB");
}

/* An item of n attributes a0..a(n-1). */
static ddb_item wide(size_t n, int value)
{
    dm_buf b;
    dm_buf_init(&b, 0);
    dm_buf_puts(&b, "{\"pk\":{\"S\":\"a\"}");
    for (size_t i = 0; i < n; i++)
        dm_buf_appendf(&b, ",\"attribute_%zu\":{\"N\":\"%d\"}", i, value);
    dm_buf_putc(&b, '}');
    ddb_item it = item(dm_buf_cstr(&b));
    dm_buf_cleanup(&b);
    return it;
}

static size_t operators(const char *expr)
{
    size_t n = 0;
    for (const char *p = expr; (p = strstr(p, " AND ")) != NULL; p += 5)
        n++;
    for (const char *p = expr; (p = strchr(p, '=')) != NULL; p++)
        n++;
    for (const char *p = expr; (p = strstr(p, "attribute_")) != NULL; p++)
        n++;
    return n;
}

TEST(wide_items_stay_within_expression_limits)
{
    setup();
    wplan_rules r = rules(ENGINE_WRITE_UPDATE);
    ddb_item read = wide(500, 1);
    ddb_item next = read;
    /* Change one attribute of 500: guarded on it first, then on as many
     * others as DynamoDB's limits allow. */
    next.values = dm_arena_alloc(A, next.n * sizeof *next.values);
    memcpy(next.values, read.values, read.n * sizeof *read.values);
    next.values[300] = (ddb_value){.type = DDB_N, .data = "2", .len = 1};
    lua_result res = {.outcome = LUA_WRITE, .item = next};
    wplan p = decide(&r, &read, &res);
    CHECK_INT(p.kind, WPLAN_UPDATE);
    CHECK(p.guard_partial);
    CHECK(p.n_guard > 100);
    /* What the condition cannot name is checked by a fresh read first. */
    CHECK(p.read_first);
    json_t *req = body(&r, &p, &read);
    const char *ce = json_string_value(json_object_get(req, "ConditionExpression"));
    char *first = spelled(req, "ConditionExpression");
    const char *head = "attribute_exists(pk) AND attribute_299 = {\"N\":\"1\"} AND attribute_0 = ";
    CHECK(strncmp(first, head, strlen(head)) == 0);
    free(first);
    CHECK(strlen(ce) <= WPLAN_MAX_EXPR_BYTES);
    CHECK(operators(ce) <= WPLAN_MAX_OPERATORS);
    json_decref(req);
    /* Change all 500: too many for one guarded UpdateItem... */
    ddb_item all = wide(500, 2);
    lua_result res2 = {.outcome = LUA_WRITE, .item = all};
    p = decide(&r, &read, &res2);
    CHECK_INT(p.kind, WPLAN_FAIL);
    CHECK_CONTAINS(p.message, "--version-attribute");
    /* ...but a version attribute guards a whole-item put. */
    r.version_attr = "ver";
    p = decide(&r, &read, &res2);
    CHECK_INT(p.kind, WPLAN_PUT);
    req = body(&r, &p, &read);
    char *pce = spelled(req, "ConditionExpression");
    CHECK_STR(pce, "attribute_exists(pk) AND attribute_not_exists(ver)");
    free(pce);
    json_decref(req);
}

/* ---- verdicts ------------------------------------------------------------- */

static ddb_answer answer(const char *json)
{
    ddb_answer a;
    char *copy = dm_arena_strndup(A, json, strlen(json));
    dm_error err = {0};
    if (ddb_answer_decode(copy, strlen(copy), A, &a, &err) != DM_OK) {
        fprintf(stderr, "bad answer %s: %s\n", json, err.message);
        abort();
    }
    return a;
}

TEST(conflict_verdicts)
{
    setup();
    wplan_rules r = rules(ENGINE_WRITE_UPDATE);
    r.marker = "_m";
    ddb_item read = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"}}");
    lua_result res = wrote("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"2\"}}");
    wplan p = decide(&r, &read, &res);
    const ddb_item *cur = NULL;
    const char *ccf = "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\","
                      "\"message\":\"The conditional request failed\",\"Item\":";
    char buf[512];
    /* Our own write applied, its answer lost: the marker is there. */
    snprintf(buf, sizeof buf, "%s{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"2\"},\"_m\":{\"S\":\"m-1\"}}}", ccf);
    ddb_answer a = answer(buf);
    CHECK(ddb_answer_type_is(&a, "ConditionalCheckFailedException"));
    CHECK_INT(wplan_on_conflict(&r, &p, &a, 0, 5, &cur), WPLAN_DONE);
    /* Changed by another writer: run again on what is there now. */
    snprintf(buf, sizeof buf, "%s{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"5\"}}}", ccf);
    a = answer(buf);
    CHECK_INT(wplan_on_conflict(&r, &p, &a, 0, 5, &cur), WPLAN_RERUN);
    CHECK(cur && ddb_item_get(cur, "n", 1)->len == 1 && ddb_item_get(cur, "n", 1)->data[0] == '5');
    CHECK_INT(wplan_on_conflict(&r, &p, &a, 5, 5, &cur), WPLAN_GIVE_UP);
    /* No image in the answer: look. */
    a = answer("{\"__type\":\"x#ConditionalCheckFailedException\",\"message\":\"m\"}");
    CHECK_INT(wplan_on_conflict(&r, &p, &a, 0, 5, &cur), WPLAN_FETCH);
    CHECK_INT(wplan_on_fetch(&r, &p, NULL, 0, 5, &cur), WPLAN_GONE);
    /* Without a marker, a lost answer shows as the plan's result in place,
     * even with an attribute another writer added since. */
    r.marker = NULL;
    p = decide(&r, &read, &res);
    snprintf(buf, sizeof buf, "%s{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"2\"},\"other\":{\"S\":\"x\"}}}", ccf);
    a = answer(buf);
    CHECK_INT(wplan_on_conflict(&r, &p, &a, 0, 5, &cur), WPLAN_DONE);
}

TEST(move_verdicts)
{
    setup();
    wplan_rules r = rules(ENGINE_WRITE_UPDATE);
    ddb_item read = item("{\"pk\":{\"S\":\"old\"},\"n\":{\"N\":\"1\"}}");
    lua_result res = wrote("{\"pk\":{\"S\":\"new\"},\"n\":{\"N\":\"1\"}}");
    wplan p = decide(&r, &read, &res);
    const ddb_item *cur = NULL;
    const char *head = "{\"__type\":\"com.amazonaws.dynamodb.v20120810#TransactionCanceledException\","
                       "\"Message\":\"Transaction cancelled\",\"CancellationReasons\":";
    char buf[700];
    snprintf(buf, sizeof buf, "%s[{\"Code\":\"ConditionalCheckFailed\",\"Item\":{\"pk\":{\"S\":\"new\"},\"n\":"
                              "{\"N\":\"1\"}}},{\"Code\":\"ConditionalCheckFailed\"}]}", head);
    ddb_answer a = answer(buf);
    CHECK_INT(a.n_reasons, 2);
    CHECK_INT(wplan_on_conflict(&r, &p, &a, 0, 5, &cur), WPLAN_DONE); /* moved already */
    snprintf(buf, sizeof buf, "%s[{\"Code\":\"ConditionalCheckFailed\",\"Item\":{\"pk\":{\"S\":\"new\"},\"z\":"
                              "{\"N\":\"9\"}}},{\"Code\":\"None\"}]}", head);
    a = answer(buf);
    CHECK_INT(wplan_on_conflict(&r, &p, &a, 0, 5, &cur), WPLAN_TARGET_TAKEN);
    snprintf(buf, sizeof buf, "%s[{\"Code\":\"None\"},{\"Code\":\"ConditionalCheckFailed\",\"Item\":{\"pk\":"
                              "{\"S\":\"old\"},\"n\":{\"N\":\"4\"}}}]}", head);
    a = answer(buf);
    CHECK_INT(wplan_on_conflict(&r, &p, &a, 0, 5, &cur), WPLAN_RERUN);
    snprintf(buf, sizeof buf, "%s[{\"Code\":\"None\"},{\"Code\":\"ConditionalCheckFailed\"}]}", head);
    a = answer(buf);
    CHECK_INT(wplan_on_conflict(&r, &p, &a, 0, 5, &cur), WPLAN_GONE);
    snprintf(buf, sizeof buf, "%s[{\"Code\":\"TransactionConflict\"},{\"Code\":\"None\"}]}", head);
    a = answer(buf);
    CHECK_INT(wplan_on_conflict(&r, &p, &a, 0, 5, &cur), WPLAN_FETCH);
    snprintf(buf, sizeof buf, "%s[{\"Code\":\"ValidationError\",\"Message\":\"too big\"},{\"Code\":\"None\"}]}",
             head);
    a = answer(buf);
    CHECK_INT(wplan_on_conflict(&r, &p, &a, 0, 5, &cur), WPLAN_REFUSED);
}

TEST(fresh_read_verdicts)
{
    setup();
    wplan_rules r = rules(ENGINE_WRITE_UPDATE);
    ddb_item read = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1.0\"}}");
    ddb_item same = item("{\"n\":{\"N\":\"1\"},\"pk\":{\"S\":\"a\"}}");
    ddb_item added = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\"app\":{\"S\":\"new\"}}");
    const ddb_item *cur = NULL;
    CHECK_INT(wplan_on_fresh_read(&r, &read, &same, &cur), WPLAN_PROCEED);
    /* An attribute added since the scan: the delete would lose it. */
    CHECK_INT(wplan_on_fresh_read(&r, &read, &added, &cur), WPLAN_RERUN);
    CHECK(cur == &added);
    CHECK_INT(wplan_on_fresh_read(&r, &read, NULL, &cur), WPLAN_GONE);
}

TEST(answers_decode_by_field)
{
    setup();
    ddb_answer a = answer("{\"ConsumedCapacity\":[{\"TableName\":\"t\",\"CapacityUnits\":2.5},"
                          "{\"TableName\":\"u\",\"CapacityUnits\":1}],\"ItemCollectionMetrics\":{}}");
    CHECK(a.consumed_units == 3.5 && !a.has_item);
    /* A string that looks like a field is not one. */
    a = answer("{\"message\":\"\\\"Item\\\": {} CapacityUnits\",\"ConsumedCapacity\":{\"CapacityUnits\":1}}");
    CHECK(!a.has_item && a.consumed_units == 1);
    ddb_answer bad;
    dm_error err = {0};
    const char *junk[] = {"", "{", "{\"Item\":[]}", "{\"Item\":{}} x", "{\"CancellationReasons\":{}}", NULL};
    for (int i = 0; junk[i]; i++)
        CHECK(ddb_answer_decode(junk[i], strlen(junk[i]), A, &bad, &err) != DM_OK);
}

TEST(results_follow_dynamodbs_item_rules)
{
    setup();
    wplan_rules r = rules(ENGINE_WRITE_UPDATE);
    ddb_key_schema schema = {.hash = {.name = "pk", .type = DDB_S}};
    r.schema = &schema;
    ddb_item read = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"}}");
    lua_result dup = wrote("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\"s\":{\"NS\":[\"1\",\"1.0\"]}}");
    wplan p = decide(&r, &read, &dup);
    CHECK_INT(p.kind, WPLAN_FAIL);
    CHECK_CONTAINS(p.message, "s");
    lua_result badkey = wrote("{\"pk\":{\"N\":\"1\"},\"n\":{\"N\":\"1\"}}");
    p = decide(&r, &read, &badkey);
    CHECK_INT(p.kind, WPLAN_FAIL);
    CHECK_CONTAINS(p.message, "pk");
    lua_result fine = wrote("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"2\"},\"s\":{\"NS\":[\"1\",\"2\"]}}");
    CHECK_INT(decide(&r, &read, &fine).kind, WPLAN_UPDATE);
}

TEST(absent_reads_are_guarded_absent)
{
    setup();
    wplan_rules r = rules(ENGINE_WRITE_UPDATE);
    ddb_item read = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"}}");
    lua_result res = wrote("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\"noflag\":{\"BOOL\":true}}");
    /* The script looked for "flag" (absent) and for "noflag" (which it
     * then set): a writer adding "flag" meanwhile must fail the write. */
    dm_str absent[] = {{"flag", 4}, {"noflag", 6}, {"pk", 2}};
    res.absent = absent;
    res.n_absent = 3;
    wplan p = decide(&r, &read, &res);
    json_t *req = body(&r, &p, &read);
    char *ce = spelled(req, "ConditionExpression");
    CHECK_STR(ce, "attribute_exists(pk) AND attribute_not_exists(noflag) AND attribute_not_exists(flag) AND n = "
                  "{\"N\":\"1\"}");
    free(ce);
    json_decref(req);
    lua_result del = {.outcome = LUA_DELETE, .absent = absent, .n_absent = 1};
    p = decide(&r, &read, &del);
    req = body(&r, &p, &read);
    ce = spelled(req, "ConditionExpression");
    CHECK_STR(ce, "attribute_exists(pk) AND attribute_not_exists(flag) AND n = {\"N\":\"1\"}");
    free(ce);
    json_decref(req);
}

/* A write left in doubt at a stop: its record, checked against the item
 * the resume scans. In place (by value) means it applied. */
TEST(a_write_in_doubt_is_recognised_in_place)
{
    setup();
    wplan_rules r = rules(ENGINE_WRITE_UPDATE);
    ddb_item read = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\"old\":{\"S\":\"x\"},\"keep\":{\"L\":[]}}");
    lua_result res = wrote("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"2\"},\"keep\":{\"L\":[]},\"m\":{\"M\":{\"z\":{\"BOOL\":true}}}}");
    wplan p = decide(&r, &read, &res);
    CHECK_INT(p.kind, WPLAN_UPDATE);
    CHECK(wplan_doubtful(&p));
    dm_buf b;
    dm_buf_init(&b, 0);
    CHECK_INT(wplan_wrote_json(&p, &b), DM_OK);
    json_t *doc = json_loads(dm_buf_cstr(&b), 0, NULL);
    CHECK(doc);
    CHECK_INT(json_object_size(json_object_get(doc, "set")), 2); /* n and m: only what changed */
    CHECK_STR(json_string_value(json_array_get(json_object_get(doc, "remove"), 0)), "old");
    json_decref(doc);
    dm_error err = {0};
    CHECK_INT(wplan_wrote_check(b.data, b.len, &err), DM_OK);
    ddb_item applied = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"2.0\"},\"m\":{\"M\":{\"z\":{\"BOOL\":true}}},\"other\":{\"S\":\"app\"}}");
    ddb_item before = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},\"old\":{\"S\":\"x\"}}");
    ddb_item half = item("{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"2\"},\"m\":{\"M\":{\"z\":{\"BOOL\":true}}},\"old\":{\"S\":\"x\"}}");
    CHECK(wplan_wrote_in_place(b.data, b.len, &applied)); /* another writer's attribute does not matter */
    CHECK(!wplan_wrote_in_place(b.data, b.len, &before));
    CHECK(!wplan_wrote_in_place(b.data, b.len, &half)); /* a removed attribute is back */
    /* Records that are not records. */
    static const char *const bad[] = {"", "[]", "{\"set\":{}}", "{\"set\":[],\"remove\":[]}",
                                      "{\"set\":{},\"remove\":[1]}", "{\"set\":{\"a\":\"x\"},\"remove\":[]}",
                                      "{\"set\":{},\"remove\":[],\"x\":1}", "{\"set\":{},\"remove\":[]}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_INT(wplan_wrote_check(bad[i], strlen(bad[i]), &err), DM_ERR_PARSE);
        CHECK(!wplan_wrote_in_place(bad[i], strlen(bad[i]), &applied));
    }
    /* Deletes are not in doubt: done, they leave nothing to scan again. */
    lua_result del = {.outcome = LUA_DELETE};
    wplan d = decide(&r, &read, &del);
    CHECK(!wplan_doubtful(&d));
    dm_buf_cleanup(&b);
}
