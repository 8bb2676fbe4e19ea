/* The Lua host: type mapping both ways, exact numbers, return values,
 * the errors a script can make, limits and the sandbox. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddbmig/diff.h"
#include "ddbmig/lua_host.h"
#include "test.h"
#include "testutil.h"

static const char *KEYS[] = {"pk"};

static lua_host *host_code(const char *code, dm_error *err)
{
    lua_host_options o = {.code = code, .now = "2026-11-24T10:00:00Z", .migration = "m1", .table = "orders"};
    lua_host *h = NULL;
    lua_host_new(&o, &h, err);
    return h;
}

static lua_host *host_file(const char *name, const char *text, dm_error *err)
{
    char path[1024];
    dm_strlcpy(path, test_write_file(name, text, 0600), sizeof path);
    lua_host_options o = {.script_path = path, .now = "2026-11-24T10:00:00Z", .migration = "m1", .table = "t"};
    lua_host *h = NULL;
    lua_host_new(&o, &h, err);
    return h;
}

typedef struct run_out {
    int rc;
    lua_result r;
    ddb_diff d;
    dm_error err;
    char encoded[4096];
} run_out;

/* Runs code on the item given as DynamoDB JSON. */
static void run_on(const char *code, const char *item_json, dm_arena *a, run_out *o)
{
    memset(o, 0, sizeof *o);
    lua_host *h = host_code(code, &o->err);
    if (!h) {
        o->rc = -100;
        return;
    }
    ddb_item *orig = dm_arena_alloc(a, sizeof *orig);
    if (ddb_item_decode(item_json, strlen(item_json), a, orig, NULL, &o->err)) {
        o->rc = -101;
        lua_host_free(h);
        return;
    }
    o->rc = lua_host_migrate(h, orig, 3, a, &o->r, &o->err);
    if (o->rc == DM_OK && o->r.outcome == LUA_WRITE) {
        ddb_diff_compute(orig, &o->r.item, KEYS, 1, a, &o->d);
        dm_buf b;
        dm_buf_init(&b, 0);
        ddb_item_encode(&o->r.item, &b);
        dm_strlcpy(o->encoded, dm_buf_cstr(&b), sizeof o->encoded);
        dm_buf_cleanup(&b);
    }
    lua_host_free(h);
}

static const char *ALL_TYPES =
    "{\"pk\":{\"S\":\"k1\"},\"s\":{\"S\":\"héllo\"},\"i\":{\"N\":\"42\"},\"f\":{\"N\":\"1.500\"},"
    "\"big\":{\"N\":\"12345678901234567890123456789012345678\"},\"b\":{\"B\":\"AAE=\"},\"t\":{\"BOOL\":true},"
    "\"z\":{\"NULL\":true},\"m\":{\"M\":{\"a\":{\"N\":\"1\"}}},\"em\":{\"M\":{}},\"l\":{\"L\":[{\"S\":\"x\"},{\"N\":\"2\"}]},"
    "\"el\":{\"L\":[]},\"ss\":{\"SS\":[\"a\",\"b\"]},\"ns\":{\"NS\":[\"1\",\"2.5\"]},\"bs\":{\"BS\":[\"AA==\"]}}";

TEST(types_reach_lua)
{
    dm_arena *a = dm_arena_new(0);
    run_out o;
    run_on("assert(item.s == 'héllo')\n"
           "assert(math.type(item.i) == 'integer' and item.i == 42)\n"
           "assert(getmetatable(item.f).__name == 'ddb.decimal' and tostring(item.f) == '1.5')\n"
           "assert(tostring(item.big) == '12345678901234567890123456789012345678')\n"
           "assert(item.b:bytes() == '\\0\\1' and #item.b == 2)\n"
           "assert(item.t == true and item.z == ddb.null)\n"
           "assert(item.m.a == 1 and next(item.em) == nil)\n"
           "assert(item.l[1] == 'x' and item.l[2] == 2 and #item.el == 0)\n"
           "assert(item.ss:has('a') and item.ss:has('b') and not item.ss:has('c') and #item.ss == 2)\n"
           "assert(item.ns:has(2.5) and item.ns:has(1) and item.ns:type() == 'NS')\n"
           "assert(item.bs:has(ddb.binary('\\0')))\n"
           "assert(ctx.now == '2026-11-24T10:00:00Z' and ctx.migration == 'm1' and ctx.table == 'orders')\n"
           "assert(ctx.segment == 3 and ctx.probe == false)\n"
           "return nil",
           ALL_TYPES, a, &o);
    CHECK_INT(o.rc, DM_OK);
    CHECK_INT(o.r.outcome, LUA_UNCHANGED);
    dm_arena_free(a);
}

TEST(identity_writes_nothing)
{
    dm_arena *a = dm_arena_new(0);
    run_out o;
    run_on("return item", ALL_TYPES, a, &o);
    CHECK_INT(o.rc, DM_OK);
    CHECK_INT(o.r.outcome, LUA_WRITE);
    CHECK(ddb_diff_empty(&o.d));
    /* Every attribute is the original's text, even "1.500". */
    CHECK_STR(o.encoded, ALL_TYPES);
    /* Rebuilding equal values (a new set, a new table) is no change either. */
    run_on("item.ss = ddb.set{'b', 'a'}; item.m = {a = 1}; item.f = ddb.decimal('1.50'); item.el = ddb.list{}; "
           "item.i = 42.0; return item",
           ALL_TYPES, a, &o);
    CHECK_INT(o.rc, DM_OK);
    CHECK(ddb_diff_empty(&o.d));
    CHECK_STR(o.encoded, ALL_TYPES);
    dm_arena_free(a);
}

TEST(add_one_attribute)
{
    dm_arena *a = dm_arena_new(0);
    run_out o;
    run_on("item.updatedAt = ctx.now; return item", ALL_TYPES, a, &o);
    CHECK_INT(o.rc, DM_OK);
    CHECK_INT(o.d.n_set, 1);
    CHECK_INT(o.d.n_remove, 0);
    CHECK(!o.d.key_changed);
    CHECK(o.r.item.names[o.d.set[0]].n == 9 && memcmp(o.r.item.names[o.d.set[0]].p, "updatedAt", 9) == 0);
    char want[4096];
    snprintf(want, sizeof want, "%.*s,\"updatedAt\":{\"S\":\"2026-11-24T10:00:00Z\"}}", (int)strlen(ALL_TYPES) - 1,
             ALL_TYPES);
    CHECK_STR(o.encoded, want);
    dm_arena_free(a);
}

TEST(remove_rename_and_key_change)
{
    dm_arena *a = dm_arena_new(0);
    run_out o;
    run_on("item.newname = item.s; item.s = nil; return item", ALL_TYPES, a, &o);
    CHECK_INT(o.rc, DM_OK);
    CHECK_INT(o.d.n_set, 1);
    CHECK_INT(o.d.n_remove, 1);
    CHECK(o.d.remove[0].n == 1 && o.d.remove[0].p[0] == 's');
    CHECK(!o.d.key_changed);
    run_on("item.pk = 'USER#' .. item.pk; return item", ALL_TYPES, a, &o);
    CHECK_INT(o.rc, DM_OK);
    CHECK(o.d.key_changed);
    run_on("return ddb.DELETE", ALL_TYPES, a, &o);
    CHECK_INT(o.r.outcome, LUA_DELETE);
    dm_arena_free(a);
}

TEST(exact_decimal_arithmetic)
{
    dm_arena *a = dm_arena_new(0);
    run_out o;
    run_on("local x = item.big + 1\n"
           "assert(tostring(x) == '12345678901234567890123456789012345679', tostring(x))\n"
           "assert(tostring(item.big - item.big) == '0')\n"
           "assert(tostring(ddb.decimal('0.1') + ddb.decimal('0.2')) == '0.3')\n"
           "assert(tostring(ddb.decimal(1) / 3) == '0.33333333333333333333333333333333333333')\n"
           "assert(tostring(ddb.decimal(2) / 3) == '0.66666666666666666666666666666666666667')\n"
           "assert(tostring(ddb.decimal('1E-130') * 10) == '1E-129')\n"
           "assert(tostring(item.f * 2) == '3')\n"
           "assert(item.big > 1e37 and item.f < 2 and item.f >= 1.5 and -item.f < 0)\n"
           "assert(item.f == ddb.decimal('1.50'))\n"
           "assert(ddb.decimal('12.0'):tointeger() == 12 and item.big:tointeger() == nil)\n"
           "assert(not pcall(function() return ddb.decimal(1) / 0 end))\n"
           "assert(not pcall(function() return ddb.decimal('9E+125') * 10 end))\n"
           "item.big = item.big + 1; item.third = 1/3; item.tenth = 0.1; item.whole = 3.0; item.neg = -0.0\n"
           "return item",
           ALL_TYPES, a, &o);
    CHECK_INT(o.rc, DM_OK);
    CHECK_CONTAINS(o.encoded, "\"big\":{\"N\":\"12345678901234567890123456789012345679\"}");
    CHECK_CONTAINS(o.encoded, "\"third\":{\"N\":\"0.3333333333333333\"}");
    CHECK_CONTAINS(o.encoded, "\"tenth\":{\"N\":\"0.1\"}");
    CHECK_CONTAINS(o.encoded, "\"whole\":{\"N\":\"3\"}");
    CHECK_CONTAINS(o.encoded, "\"neg\":{\"N\":\"0\"}");
    dm_arena_free(a);
}

static const char *err_of(const char *code)
{
    static char msg[1024];
    dm_arena *a = dm_arena_new(0);
    run_out o;
    run_on(code, "{\"pk\":{\"S\":\"k\"}}", a, &o);
    snprintf(msg, sizeof msg, "%s", o.rc == DM_OK ? "no error" : o.err.message);
    dm_arena_free(a);
    return msg;
}

TEST(values_dynamodb_cannot_store)
{
    CHECK_CONTAINS(err_of("item.x = {a = {b = 0/0}}; return item"), "attribute x.a.b: NaN cannot be stored");
    CHECK_CONTAINS(err_of("item.x = math.huge; return item"), "attribute x: infinity cannot be stored");
    CHECK_CONTAINS(err_of("item.x = 1e300; return item"), "attribute x: larger than");
    CHECK_CONTAINS(err_of("item.x = 1e-300; return item"), "attribute x: smaller than 1E-130");
    CHECK_CONTAINS(err_of("item.s = ddb.set{}; return item"), "attribute s: DynamoDB cannot store an empty set");
    CHECK_CONTAINS(err_of("item.l = {1, 2, {[1] = 'a', x = 2}}; return item"), "attribute l[2]: a table with both list and map keys");
    CHECK_CONTAINS(err_of("item.m = {[true] = 1}; return item"), "map keys must be strings");
    CHECK_CONTAINS(err_of("item.f = print; return item"), "attribute f: a function cannot be stored");
    CHECK_CONTAINS(err_of("item.c = coroutine.create(print); return item"), "attribute c: a thread cannot be stored");
    CHECK_CONTAINS(err_of("item.d = ddb.DELETE; return item"), "attribute d: ddb.DELETE is a return value");
    CHECK_CONTAINS(err_of("item.u = '\\xff'; return item"), "attribute u: the string is not valid UTF-8");
    CHECK_CONTAINS(err_of("local t = {}; t.self = t; item.t = t; return item"), "nested deeper than");
    CHECK_CONTAINS(err_of("return 42"), "migrate returned a number");
    /* A mixed set fails where it is built, with the script's line. */
    CHECK_CONTAINS(err_of("local s = ddb.set{'a', 1}; return item"), "-e:1: cannot add a N value to a set of S");
}

TEST(runtime_errors_carry_a_traceback)
{
    dm_error err = {0};
    lua_host *h = host_file("boom.lua",
                            "local function helper(x)\n"
                            "  return x.missing.field\n"
                            "end\n"
                            "function migrate(item, ctx)\n"
                            "  local r = helper(item)\n"
                            "  return r\n"
                            "end\n",
                            &err);
    CHECK(h != NULL);
    dm_arena *a = dm_arena_new(0);
    ddb_item it = {0};
    lua_result r;
    CHECK_INT(lua_host_migrate(h, &it, 0, a, &r, &err), DM_ERR_INVALID);
    CHECK_CONTAINS(err.message, "boom.lua:2: attempt to index a nil value (field 'missing')");
    CHECK_CONTAINS(err.message, "stack traceback:");
    CHECK_CONTAINS(err.message, "boom.lua:5:");
    /* The probe catches it before any write. */
    CHECK_INT(lua_host_probe(h, &err), DM_ERR_INVALID);
    CHECK_CONTAINS(err.message, "fails on an item without attributes");
    dm_arena_free(a);
    lua_host_free(h);
}

TEST(script_must_compile_and_define_migrate)
{
    dm_error err = {0};
    CHECK(host_file("syntax.lua", "function migrate(item, ctx)\n  return item +\nend\n", &err) == NULL);
    CHECK_INT(err.code, DM_ERR_CONFIG);
    CHECK_CONTAINS(err.message, "syntax.lua:3: unexpected symbol near 'end'");
    CHECK(host_file("nomigrate.lua", "function transform(item) return item end\n", &err) == NULL);
    CHECK_CONTAINS(err.message, "defines no function migrate(item, ctx)");
    CHECK(host_file("toplevel.lua", "error('setup failed')\n", &err) == NULL);
    CHECK_CONTAINS(err.message, "toplevel.lua:1: setup failed");
    CHECK(host_code("return item +", &err) == NULL);
    CHECK_CONTAINS(err.message, "-e:");
    lua_host_options o = {.script_path = "/nonexistent/x.lua"};
    lua_host *h;
    CHECK_INT(lua_host_new(&o, &h, &err), DM_ERR_CONFIG);
    CHECK_CONTAINS(err.message, "/nonexistent/x.lua");
}

TEST(limits_and_sandbox)
{
    CHECK_CONTAINS(err_of("while true do end"), "ran longer than");
    CHECK_CONTAINS(err_of("local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(1000) .. i end"), "not enough memory");
    CHECK_STR(err_of("assert(io == nil and load == nil and dofile == nil and require == nil)\n"
                     "assert(os.exit == nil and os.execute == nil and os.getenv == nil)\n"
                     "assert(os.time() > 0 and string.format and table.concat and math.floor and utf8.char)\n"
                     "return nil"),
              "no error");
}

TEST(put_emits_extra_items)
{
    dm_arena *a = dm_arena_new(0);
    run_out o;
    run_on("ddb.put{pk = item.pk .. '#copy', n = ddb.decimal('1E+100')}\n"
           "ddb.put{pk = item.pk .. '#2', tags = ddb.set{'x'}}\n"
           "return nil",
           "{\"pk\":{\"S\":\"k\"}}", a, &o);
    CHECK_INT(o.rc, DM_OK);
    CHECK_INT(o.r.outcome, LUA_UNCHANGED);
    CHECK_INT(o.r.n_extras, 2);
    dm_buf b;
    dm_buf_init(&b, 0);
    ddb_item_encode(&o.r.extras[0], &b);
    CHECK_STR(dm_buf_cstr(&b), "{\"n\":{\"N\":\"1E+100\"},\"pk\":{\"S\":\"k#copy\"}}");
    dm_buf_cleanup(&b);
    CHECK_CONTAINS(err_of("ddb.put{pk = 0/0}"), "ddb.put: attribute pk: NaN");
    dm_arena_free(a);
}

TEST(one_liner_and_probe)
{
    dm_error err = {0};
    lua_host *h = host_code("item.updatedAt = ctx.now; return item", &err);
    CHECK(h != NULL);
    CHECK_INT(lua_host_probe(h, &err), DM_OK);
    lua_host_free(h);
    h = host_code("if ctx.probe then return nil end; return item.x.y", &err);
    CHECK(h != NULL);
    CHECK_INT(lua_host_probe(h, &err), DM_OK);
    lua_host_free(h);
}
