/* The Lua host: type mapping both ways, exact numbers, return values,
 * the errors a script can make, limits and the sandbox; an instruction
 * limit no script can escape, bounded pattern matching, interrupts, -e
 * compiled as the user wrote it, large integers, and what messages say. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb/diff.h"
#include "lua/lua_host.h"
#include "test.h"
#include "testutil.h"

static const char *KEYS[] = {"pk"};

static lua_host *host_code(const char *code, dm_error *err)
{
    lua_host_options o = {.script = code, .script_len = strlen(code), .chunk_name = "-e", .one_liner = true,
                          .now = "2026-11-24T10:00:00Z", .migration = "m1", .table = "orders"};
    lua_host *h = NULL;
    lua_host_new(&o, &h, err);
    return h;
}

static lua_host *host_file(const char *name, const char *text, dm_error *err)
{
    lua_host_options o = {.script = text, .script_len = strlen(text), .chunk_name = name,
                          .now = "2026-11-24T10:00:00Z", .migration = "m1", .table = "t"};
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
    lua_host_options o = {.chunk_name = "x.lua"};
    lua_host *h;
    CHECK_INT(lua_host_new(&o, &h, &err), DM_ERR_CONFIG);
    CHECK_CONTAINS(err.message, "give a script");
}

/* ---- running with limits and a stop flag --------------------------------------- */

static volatile sig_atomic_t stop_flag;

/* print() in a script sets the stop flag: a way to interrupt a script
 * while it runs, without threads or timing. */
static void stop_on_log(void *ud, const char *line)
{
    (void)ud;
    (void)line;
    stop_flag = 1;
}

typedef struct limited {
    int rc;
    dm_error err;
    lua_result r;
} limited;

/* Runs code (a -e body) on {"pk": "k"} with an instruction limit and a
 * memory limit (0: the default). */
static void run_with(const char *code, long long limit, size_t memory, limited *out)
{
    memset(out, 0, sizeof *out);
    stop_flag = 0;
    lua_host_options o = {.script = code, .script_len = strlen(code), .chunk_name = "-e", .one_liner = true,
                          .instruction_limit = limit, .memory_limit_bytes = memory, .stop = &stop_flag,
                          .log = stop_on_log};
    lua_host *h = NULL;
    if ((out->rc = lua_host_new(&o, &h, &out->err)) != DM_OK)
        return;
    dm_arena *a = dm_arena_new(0);
    ddb_item it;
    const char *json = "{\"pk\":{\"S\":\"k\"}}";
    ddb_item_decode(json, strlen(json), a, &it, NULL, NULL);
    out->rc = lua_host_migrate(h, &it, 0, a, &out->r, &out->err);
    lua_host_free(h);
    dm_arena_free(a);
}

static void run_limited(const char *code, long long limit, limited *out) { run_with(code, limit, 0, out); }

TEST(limits_and_sandbox)
{
    CHECK_CONTAINS(err_of("while true do end"), "-e:1: the script ran longer than 200000000 instructions on one item");
    limited l;
    run_with("local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(1000) .. i end", 0, 16 << 20, &l);
    CHECK_INT(l.rc, DM_ERR_LIMIT);
    CHECK_CONTAINS(l.err.message, "-e:1: not enough memory: migrate needs more than the Lua state's limit of 16.0 MiB");
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

/* ---- the instruction limit cannot be escaped ------------------------------------ */

#define CHECK_LIMIT(code)                                                                  \
    do {                                                                                   \
        limited l_;                                                                        \
        run_limited((code), 1000000, &l_);                                                 \
        CHECK_INT(l_.rc, DM_ERR_LIMIT);                                                    \
        CHECK_CONTAINS(l_.err.message, "the script ran longer than 1000000 instructions"); \
    } while (0)

TEST(limit_survives_pcall)
{
    CHECK_LIMIT("while true do pcall(function() while true do end end) end");
    CHECK_LIMIT("while true do pcall(pcall, pcall, function() while true do end end) end");
    /* Catching the error and returning at once is too late as well. */
    CHECK_LIMIT("pcall(function() while true do end end); return item");
    CHECK_LIMIT("return pcall(function() while true do end end)");
}

TEST(limit_survives_xpcall_and_its_handler)
{
    CHECK_LIMIT("while true do xpcall(function() while true do end end, function(m) return m end) end");
    /* Lua runs a handler with hooks off when the error comes from a hook. */
    CHECK_LIMIT("xpcall(function() while true do end end, function(m) while true do end end)");
    CHECK_LIMIT("while true do xpcall(function() while true do end end, function(m) "
                "  while true do pcall(error) end end) end");
    /* Yields across xpcall still work. */
    limited l;
    run_limited("local co = coroutine.wrap(function() xpcall(function() coroutine.yield(1) end, print) return 2 end)\n"
                "assert(co() == 1 and co() == 2)",
                1000000, &l);
    CHECK_INT(l.rc, DM_OK);
}

TEST(limit_survives_error_objects_with_tostring)
{
    CHECK_LIMIT("error(setmetatable({}, {__tostring = function() while true do end end}))");
    CHECK_LIMIT("while true do pcall(error, setmetatable({}, {__tostring = function() while true do end end})) end");
    CHECK_LIMIT("local e = setmetatable({}, {__tostring = function() while true do end end})\n"
                "while true do pcall(function() error(e) end) end");
}

TEST(limit_survives_coroutine_resume)
{
    CHECK_LIMIT("while true do coroutine.resume(coroutine.create(function() while true do end end)) end");
    CHECK_LIMIT("local co = coroutine.create(function() while true do pcall(function() while true do end end) end end)\n"
                "while true do coroutine.resume(co) end");
    /* Many short coroutines, each finishing before its hook fires, are
     * charged for each resume. */
    CHECK_LIMIT("while true do coroutine.resume(coroutine.create(function() for i = 1, 500 do end end)) end");
    CHECK_LIMIT("local co = coroutine.wrap(function() while true do for i = 1, 500 do end coroutine.yield() end end)\n"
                "while true do co() end");
}

TEST(limit_survives_coroutine_wrap)
{
    CHECK_LIMIT("while true do pcall(coroutine.wrap(function() while true do end end)) end");
    CHECK_LIMIT("local f = coroutine.wrap(function() local x <close> = setmetatable({}, {__close = function() "
                "while true do end end}) while true do end end)\n"
                "while true do pcall(f) end");
}

TEST(limit_survives_coroutine_close)
{
    CHECK_LIMIT("local co = coroutine.create(function()\n"
                "  local x <close> = setmetatable({}, {__close = function() while true do end end})\n"
                "  coroutine.yield()\n"
                "end)\n"
                "coroutine.resume(co)\n"
                "while true do pcall(coroutine.close, co) end");
}

TEST(limit_survives_metamethods)
{
    CHECK_LIMIT("local t = setmetatable({}, {__index = function() while true do end end})\n"
                "while true do pcall(function() return t.x end) end");
    CHECK_LIMIT("local mt = {__eq = function() while true do end end}\n"
                "local a, b = setmetatable({}, mt), setmetatable({}, mt)\n"
                "while true do pcall(function() return a == b end) end");
    CHECK_LIMIT("while true do pcall(function()\n"
                "  local x <close> = setmetatable({}, {__close = function() while true do end end})\n"
                "  while true do end\n"
                "end) end");
    CHECK_LIMIT("local t = setmetatable({}, {__len = function() while true do end end})\n"
                "while true do pcall(function() return #t end) end");
}

TEST(limit_survives_sort_gsub_and_tostring)
{
    CHECK_LIMIT("local t = {3, 2, 1}\n"
                "while true do pcall(table.sort, t, function(a, b) while true do end end) end");
    CHECK_LIMIT("while true do pcall(string.gsub, 'abc', '%w', function(c) while true do end end) end");
    CHECK_LIMIT("local t = setmetatable({}, {__tostring = function() while true do end end})\n"
                "while true do pcall(tostring, t) end");
}

TEST(gc_metamethods_are_refused)
{
    limited l;
    run_limited("setmetatable({}, {__gc = function() end})", 1000000, &l);
    CHECK_INT(l.rc, DM_ERR_INVALID);
    CHECK_CONTAINS(l.err.message, "-e:1: __gc metamethods are not available to scripts");
    run_limited("setmetatable({}, {__gc = true})", 1000000, &l);
    CHECK_CONTAINS(l.err.message, "__gc metamethods are not available");
    /* The library's metatables are out of reach, so none can get one. */
    run_limited("assert(getmetatable(ddb.decimal(1)).__name == 'ddb.decimal')\n"
                "getmetatable(ddb.decimal(1)).__gc = function() while true do end end\n"
                "local d = ddb.decimal(2) + 1; d = nil; collectgarbage()\n"
                "assert(getmetatable(ddb.set{'a'}) == 'ddb.set' and getmetatable(ddb.binary('x')).__name == 'ddb.binary')\n"
                "assert(not pcall(setmetatable, ddb.set{'a'}, {}))\n"
                "assert(not pcall(collectgarbage, 'stop'))",
                1000000, &l);
    CHECK_INT(l.rc, DM_OK);
}

TEST(state_is_reused_after_the_limit)
{
    const char *code = "if item.pk == 'loop' then\n"
                       "  keep = coroutine.create(function() while true do coroutine.yield() end end)\n"
                       "  while true do pcall(function() while true do end end) end\n"
                       "end\n"
                       "for i = 1, 100000 do end\n"
                       "if keep then coroutine.resume(keep) end\n"
                       "item.n = (n or 0) + 1; n = item.n\n"
                       "return item";
    lua_host_options o = {.script = code, .script_len = strlen(code), .chunk_name = "-e", .one_liner = true,
                          .instruction_limit = 1000000};
    dm_error err;
    lua_host *h = NULL;
    CHECK_INT(lua_host_new(&o, &h, &err), DM_OK);
    dm_arena *a = dm_arena_new(0);
    ddb_item loop, plain;
    const char *loop_json = "{\"pk\":{\"S\":\"loop\"}}", *plain_json = "{\"pk\":{\"S\":\"ok\"}}";
    ddb_item_decode(loop_json, strlen(loop_json), a, &loop, NULL, NULL);
    ddb_item_decode(plain_json, strlen(plain_json), a, &plain, NULL, NULL);
    lua_result r;
    for (int round = 0; round < 3; round++) {
        CHECK_INT(lua_host_migrate(h, &loop, 0, a, &r, &err), DM_ERR_LIMIT);
        CHECK_CONTAINS(err.message, "-e:3: the script ran longer than 1000000 instructions on one item");
        CHECK_CONTAINS(err.message, "stack traceback:");
        /* The next item runs in the same state, the coroutine made before
         * the trip included, and gets its whole budget. */
        CHECK_INT(lua_host_migrate(h, &plain, 0, a, &r, &err), DM_OK);
        CHECK_INT(r.outcome, LUA_WRITE);
    }
    dm_arena_free(a);
    lua_host_free(h);
}

TEST(instruction_count_is_close)
{
    limited l;
    /* Two instructions per iteration (ADD, FORLOOP): 300,000 of them fit
     * in a million, 700,000 do not. */
    run_limited("local x = 0 for i = 1, 300000 do x = x + i end", 1000000, &l);
    CHECK_INT(l.rc, DM_OK);
    run_limited("local x = 0 for i = 1, 700000 do x = x + i end", 1000000, &l);
    CHECK_INT(l.rc, DM_ERR_LIMIT);
    /* Big allocations count too: 64 bytes an instruction. */
    run_limited("local s = ('x'):rep(1000) for i = 1, 1000 do local t = s .. i end", 1000000, &l);
    CHECK_INT(l.rc, DM_OK);
    run_limited("local s = ('x'):rep(100000) for i = 1, 1000 do local t = s .. i end", 1000000, &l);
    CHECK_INT(l.rc, DM_ERR_LIMIT);
}

TEST(sandbox_replacements_keep_lua_semantics)
{
    limited l;
    run_limited("local co = coroutine.create(function(a, b) local c = coroutine.yield(a + b) return c * 2 end)\n"
                "local ok, v = coroutine.resume(co, 1, 2) assert(ok and v == 3 and coroutine.status(co) == 'suspended')\n"
                "ok, v = coroutine.resume(co, 5) assert(ok and v == 10 and coroutine.status(co) == 'dead')\n"
                "ok, v = coroutine.resume(co) assert(not ok and v == 'cannot resume dead coroutine')\n"
                "local f = coroutine.wrap(function() error('oops') end)\n"
                "ok, v = pcall(f) assert(not ok and v:find('-e:5: oops'), v)\n"
                "local g = coroutine.wrap(function() error({}) end)\n"
                "ok, v = pcall(g) assert(not ok and type(v) == 'table')\n"
                "local closed = false\n"
                "co = coroutine.create(function() local x <close> = setmetatable({}, {__close = function() closed = true end}) "
                "coroutine.yield() end)\n"
                "coroutine.resume(co) assert(coroutine.close(co) and closed and coroutine.status(co) == 'dead')\n"
                "assert(not pcall(coroutine.close, coroutine.running()))\n"
                "local r = {xpcall(function(a) return a, 2 end, print, 1)} assert(r[1] and r[2] == 1 and r[3] == 2)\n"
                "r = {xpcall(error, function(m) return 'handled ' .. m end, 'x', 0)} assert(not r[1] and r[2] == 'handled x')\n"
                "assert(select('#', xpcall(function() end, print)) == 1)\n"
                "assert(collectgarbage('count') > 0 and collectgarbage() == 0)\n"
                "local t = {3, 1, 2} table.sort(t) assert(t[1] == 1 and t[3] == 3)\n"
                "table.insert(t, 1, 0) table.insert(t, 9) assert(table.concat(t, ',') == '0,1,2,3,9')\n"
                "assert(table.remove(t, 1) == 0 and table.remove(t) == 9 and #t == 3)\n"
                "assert(table.concat(table.move({1, 2, 3}, 1, 3, 2), ',') == '1,1,2,3' and select('#', table.unpack(t)) == 3)\n"
                "assert(('ab'):rep(3, '-') == 'ab-ab-ab' and ('x'):rep(-1) == '')\n"
                "ok, v = pcall(string.rep) assert(not ok and v:find(\"bad argument #1 to 'string.rep'\"), v)\n"
                "ok, v = pcall(table.insert, {}, 1, 2, 3) assert(not ok and v:find(\"wrong number of arguments to 'insert'\"), v)\n"
                "ok, v = pcall(function() return ('x'):rep() end) assert(not ok and v:find(\"bad argument #1 to 'rep'\"), v)",
                10000000, &l);
    CHECK_STR(l.err.message, "");
    CHECK_INT(l.rc, DM_OK);
}

TEST(top_level_is_limited_too)
{
    const char *code = "local n = 0\nwhile true do pcall(function() while true do n = n + 1 end end) end\n";
    lua_host_options o = {.script = code, .script_len = strlen(code), .chunk_name = "top.lua",
                          .instruction_limit = 1000000};
    dm_error err;
    lua_host *h = NULL;
    CHECK_INT(lua_host_new(&o, &h, &err), DM_ERR_CONFIG);
    CHECK(h == NULL);
    CHECK_CONTAINS(err.message, "top.lua:2: the script ran longer than 1000000 instructions in its top level");
}

/* ---- pattern matching is bounded ----------------------------------------------- */

TEST(pattern_backtracking_is_bounded)
{
    /* With the default limit too: 200 million steps take a second or so. */
    CHECK_CONTAINS(err_of("return string.rep('a', 100000):find('.-.-.-.-.-b')"),
                   "-e:1: the script ran longer than 200000000 instructions on one item");
    CHECK_LIMIT("return string.rep('a', 100000):find('.-.-.-.-.-b')");
    CHECK_LIMIT("while true do pcall(string.match, string.rep('a', 5000), '(.-)(.-)(.-)(.-)b') end");
    CHECK_LIMIT("for w in string.rep('a', 5000):gmatch('a*a*a*a*b') do end");
    CHECK_LIMIT("string.rep('(', 100000):gsub('%b()', '')");
    CHECK_LIMIT("local s = string.rep('a', 1000000) while true do s:find(string.rep('a', 1000) .. 'b', 1, true) end");
}

TEST(pattern_semantics)
{
    limited l;
    run_limited(
        "local function all(...) return table.concat(table.pack(...), ',', 1, select('#', ...)) end\n"
        "local function fails(f, ...) local ok, e = pcall(f, ...) assert(not ok) return e end\n"
        "assert(all(('hello world'):find('o w')) == '5,7')\n"
        "assert(all(('hello'):find('(l)(l)')) == '3,4,l,l')\n"
        "assert(('hello'):find('xyz') == nil and all(('a.b'):find('.', 1, true)) == '2,2')\n"
        "assert(all(('abc'):find('', 4)) == '4,3' and ('abc'):find('', 5) == nil and all(('abc'):find('c', -1)) == '3,3')\n"
        "assert(all(('  key = val '):match('^%s*(%w+)%s*=%s*(%w+)%s*$')) == 'key,val')\n"
        "assert(('THE (quick) fox'):match('%((%a+)%)') == 'quick' and ('f(a(b)c)d'):match('%b()') == '(a(b)c)')\n"
        "assert(('THE (quick) fox'):find('%f[%a]%a+%f[%A]', 5) == 6)\n"
        "assert(all(('hello'):match('()ll()')) == '3,5' and ('abcabc'):match('(abc)%1') == 'abc')\n"
        "assert(('aaa'):match('a-b') == nil and ('aaab'):match('a-b') == 'aaab' and ('aaab'):match('^(a-)') == '')\n"
        "assert(('x[]'):match('[]]') == ']' and ('a-b'):match('[a%-b]+') == 'a-b' and ('a-b'):match('[a%-]+') == 'a-' and ('z9'):match('[^%a]') == '9')\n"
        "assert(('^x'):match('^^x') == '^x' and ('a$b'):match('$b') == '$b' and ('ab'):match('b$') == 'b')\n"
        "assert(('AbC'):match('%u%l%u') == 'AbC' and ('a1_'):match('[%w_]+') == 'a1_' and ('\\0x'):match('%z') == '\\0')\n"
        "local t = {} for k, v in ('a=1, b=2'):gmatch('(%w+)=(%w+)') do t[#t + 1] = k .. v end\n"
        "assert(table.concat(t, ',') == 'a1,b2')\n"
        "t = {} for w in ('one two'):gmatch('%a*') do t[#t + 1] = '[' .. w .. ']' end\n"
        "assert(table.concat(t) == '[one][two]')\n" /* 5.4: no empty match where one ended */
        "t = {} for w in ('^a^a'):gmatch('^a') do t[#t + 1] = w end assert(#t == 2)\n"
        "t = {} for w in ('abc'):gmatch('.', 2) do t[#t + 1] = w end assert(table.concat(t) == 'bc')\n"
        "assert(all(('hello world'):gsub('o', '0')) == 'hell0 w0rld,2')\n"
        "assert(('hello world'):gsub('(%w+)', '<%1>') == '<hello> <world>')\n"
        "assert(('hello world'):gsub('%w+', '%0 %0', 1) == 'hello hello world')\n"
        "assert(('abc'):gsub('', '-') == '-a-b-c-' and ('abc'):gsub('()', '%1') == '1a2b3c4')\n"
        "assert(('hello world'):gsub('%w+', {hello = 'HI'}) == 'HI world')\n"
        "assert(('hello world'):gsub('%w+', function(w) if w == 'world' then return 'there' end end) == 'hello there')\n"
        "assert(('x'):gsub('x', '%%') == '%' and ('$1'):gsub('%$', 'USD ') == 'USD 1' and ('x'):gsub('x', 2) == '2')\n"
        "assert(all(('aaa'):gsub('^a', 'b')) == 'baa,1')\n"
        "assert(fails(string.match, 'a', '(a'):find('unfinished capture'))\n"
        "assert(fails(string.match, 'a', 'a)'):find('invalid pattern capture'))\n"
        "assert(fails(string.match, 'a', '[a'):find('malformed pattern (missing \\']\\')', 1, true))\n"
        "assert(fails(string.match, 'a', 'a%'):find('malformed pattern (ends with \\'%\\')', 1, true))\n"
        "assert(fails(string.match, 'a', '%b'):find('missing arguments to \\'%b\\'', 1, true))\n"
        "assert(fails(string.match, 'a', '%fa'):find('missing \\'[\\' after \\'%f\\' in pattern', 1, true))\n"
        "assert(fails(string.match, 'a', '%1'):find('invalid capture index %1', 1, true))\n"
        "assert(fails(string.gsub, 'a', 'a', '%2'):find('invalid capture index %2', 1, true))\n"
        "assert(fails(string.gsub, 'a', 'a', '%x'):find('invalid use of \\'%\\' in replacement string', 1, true))\n"
        "assert(fails(string.gsub, 'a', 'a', {a = true}):find('invalid replacement value (a boolean)', 1, true))\n"
        "assert(fails(string.match, ('a'):rep(300), ('a?'):rep(300)):find('pattern too complex'))\n"
        "assert(fails(string.match, 'a', ('()'):rep(33)):find('too many captures'))",
        10000000, &l);
    CHECK_STR(l.err.message, "");
    CHECK_INT(l.rc, DM_OK);
}

TEST(copying_functions_are_bounded)
{
    limited l;
    run_limited("assert(string.rep('', 1 << 60) == '' and string.rep('', 1 << 60, '') == '')", 1000000, &l);
    CHECK_INT(l.rc, DM_OK);
    /* Appending and popping are not charged for the whole table. */
    run_limited("local t = {} for i = 1, 100000 do table.insert(t, i) end for i = 1, 100000 do table.remove(t) end",
                10000000, &l);
    CHECK_INT(l.rc, DM_OK);
    CHECK_LIMIT("table.move({}, 1, math.maxinteger - 1, 2)");
    CHECK_LIMIT("table.insert(setmetatable({}, {__len = function() return 1 << 62 end}), 1, 'x')");
    CHECK_LIMIT("table.remove(setmetatable({}, {__len = function() return 1 << 62 end}), 1)");
    CHECK_LIMIT("table.sort(setmetatable({}, {__index = tostring, __len = function() return 1 << 30 end}), rawequal)");
    CHECK_LIMIT("table.concat(setmetatable({}, {__index = tostring, __len = function() return 1 << 40 end}))");
    CHECK_LIMIT("local s = ('x'):rep(1 << 20) while true do local t = s .. s end");
    CHECK_LIMIT("while true do collectgarbage() end");
}

TEST(put_is_bounded)
{
    limited l;
    run_with("for i = 1, 1e9 do ddb.put{pk = 'x' .. i, v = ('y'):rep(1000)} end", 0, 1 << 20, &l);
    CHECK_INT(l.rc, DM_ERR_INVALID);
    CHECK_CONTAINS(l.err.message, "-e:1: ddb.put: the items put for one item exceed the memory limit");
}

/* ---- interrupts ---------------------------------------------------------------- */

TEST(interrupt_stops_a_busy_script)
{
    limited l;
    run_limited("print('stop') while true do end", 0, &l);
    CHECK_INT(l.rc, DM_ERR_STOPPED);
    CHECK_CONTAINS(l.err.message, "-e:1: interrupted");
    run_limited("print('stop') while true do pcall(function() while true do end end) end", 0, &l);
    CHECK_INT(l.rc, DM_ERR_STOPPED);
    run_limited("print('stop') return ('a'):rep(100000):find('.-.-.-.-.-b')", 0, &l);
    CHECK_INT(l.rc, DM_ERR_STOPPED);
    CHECK_CONTAINS(l.err.message, "-e:1: interrupted");
    run_limited("print('stop') while true do coroutine.wrap(function() for i = 1, 10 do end end)() end", 0, &l);
    CHECK_INT(l.rc, DM_ERR_STOPPED);
}

TEST(interrupt_before_an_item_and_in_the_probe)
{
    const char *code = "if ctx.probe then print('stop') while true do end end return item";
    lua_host_options o = {.script = code, .script_len = strlen(code), .chunk_name = "-e", .one_liner = true,
                          .stop = &stop_flag, .log = stop_on_log};
    stop_flag = 0;
    dm_error err;
    lua_host *h = NULL;
    CHECK_INT(lua_host_new(&o, &h, &err), DM_OK);
    CHECK_INT(lua_host_probe(h, &err), DM_ERR_STOPPED);
    CHECK_CONTAINS(err.message, "-e:1: interrupted");
    /* Once the flag is up, no item starts. */
    dm_arena *a = dm_arena_new(0);
    ddb_item it = {0};
    lua_result r;
    CHECK_INT(lua_host_migrate(h, &it, 0, a, &r, &err), DM_ERR_STOPPED);
    dm_arena_free(a);
    lua_host_free(h);
}

TEST(interrupt_while_loading)
{
    const char *top = "print('stop')\nwhile true do end\nfunction migrate(item) return item end\n";
    lua_host_options o = {.script = top, .script_len = strlen(top), .chunk_name = "top.lua", .stop = &stop_flag,
                          .log = stop_on_log};
    stop_flag = 0;
    dm_error err;
    lua_host *h = NULL;
    CHECK_INT(lua_host_new(&o, &h, &err), DM_ERR_STOPPED);
    CHECK(h == NULL);
    CHECK_CONTAINS(err.message, "top.lua:2: interrupted");
    /* Compiling looks at the flag between pieces of the text. */
    dm_buf big;
    dm_buf_init(&big, 0);
    for (int i = 0; i < 20000; i++)
        dm_buf_puts(&big, "local x = 1 + 2 + 3 + 4 + 5 -- some padding to make the script long\n");
    dm_buf_puts(&big, "function migrate(item) return item end\n");
    o = (lua_host_options){.script = big.data, .script_len = big.len, .chunk_name = "big.lua", .stop = &stop_flag};
    stop_flag = 1;
    CHECK_INT(lua_host_new(&o, &h, &err), DM_ERR_STOPPED);
    CHECK_STR(err.message, "big.lua: interrupted while compiling the script");
    stop_flag = 0;
    CHECK_INT(lua_host_new(&o, &h, &err), DM_ERR_CONFIG); /* 20,000 locals are too many for Lua, which proves it read on */
    CHECK_CONTAINS(err.message, "big.lua:");
    dm_buf_cleanup(&big);
}

/* ---- -e ------------------------------------------------------------------------------- */

TEST(one_liner_errors_name_the_users_line_and_token)
{
    dm_error err;
    CHECK(host_code("item.x = = 1", &err) == NULL);
    CHECK_STR(err.message, "-e:1: unexpected symbol near '='");
    CHECK(host_code("local a = 1\nitem.x = = 1", &err) == NULL);
    CHECK_STR(err.message, "-e:2: unexpected symbol near '='");
    CHECK(host_code("return item +", &err) == NULL);
    CHECK_STR(err.message, "-e:1: unexpected symbol near <eof>");
    CHECK(host_code("if item.x then\nitem.y = 1", &err) == NULL);
    CHECK_STR(err.message, "-e:2: 'end' expected (to close 'if' at line 1) near <eof>");
    const char *e = err_of("local t\nreturn t.x");
    CHECK_CONTAINS(e, "-e:2: attempt to index a nil value (local 't')");
    CHECK_CONTAINS(e, "-e:2: in function 'migrate'");
}

TEST(one_liner_may_define_migrate)
{
    dm_arena *a = dm_arena_new(0);
    run_out o;
    run_on("function migrate(item, ctx) item.x = 1; return item end", "{\"pk\":{\"S\":\"k\"}}", a, &o);
    CHECK_INT(o.rc, DM_OK);
    CHECK_STR(o.encoded, "{\"pk\":{\"S\":\"k\"},\"x\":{\"N\":\"1\"}}");
    run_on("-- helper first\nlocal function f(v) return v + 1 end\nfunction migrate (item) item.n = f(1) return item end",
           "{\"pk\":{\"S\":\"k\"}}", a, &o);
    CHECK_STR(o.encoded, "{\"pk\":{\"S\":\"k\"},\"n\":{\"N\":\"2\"}}");
    /* The words in a string or a comment do not count. */
    run_on("item.s = 'function migrate(' --[[ function migrate( ]] return item", "{\"pk\":{\"S\":\"k\"}}", a, &o);
    CHECK_STR(o.encoded, "{\"pk\":{\"S\":\"k\"},\"s\":{\"S\":\"function migrate(\"}}");
    dm_arena_free(a);
}

/* ---- numbers ------------------------------------------------------------------------- */

TEST(integers_beyond_2_53_reach_lua_as_decimals)
{
    dm_arena *a = dm_arena_new(0);
    run_out o;
    run_on("assert(math.type(item.a) == 'integer' and math.type(item.b) == 'integer')\n"
           "assert(getmetatable(item.c).__name == 'ddb.decimal' and getmetatable(item.d).__name == 'ddb.decimal')\n"
           "item.c = item.c + 1; item.d = item.d + 1; item.e = item.e - 1; item.a = item.a - 1\n"
           "return item",
           "{\"pk\":{\"S\":\"k\"},\"a\":{\"N\":\"9007199254740992\"},\"b\":{\"N\":\"-9007199254740992\"},"
           "\"c\":{\"N\":\"9007199254740993\"},\"d\":{\"N\":\"9223372036854775807\"},"
           "\"e\":{\"N\":\"-9223372036854775808\"}}",
           a, &o);
    CHECK_INT(o.rc, DM_OK);
    CHECK_STR(o.encoded, "{\"pk\":{\"S\":\"k\"},\"a\":{\"N\":\"9007199254740991\"},\"b\":{\"N\":\"-9007199254740992\"},"
                         "\"c\":{\"N\":\"9007199254740994\"},\"d\":{\"N\":\"9223372036854775808\"},"
                         "\"e\":{\"N\":\"-9223372036854775809\"}}");
    dm_arena_free(a);
}

TEST(integers_that_may_have_wrapped_are_not_written)
{
    const char *item = "{\"pk\":{\"S\":\"k\"},\"i\":{\"N\":\"3037000500\"}}";
    const char *cases[][2] = {
        {"item.w = item.i * item.i; return item", "attribute w: a Lua integer beyond ±2^53 cannot be written"},
        {"item.w = math.maxinteger + 1; return item", "attribute w: a Lua integer beyond"},
        {"item.s = ddb.set{1, 1 << 60}; return item", "attribute s["},
        {"item.m = {x = {1, 1 << 55}}; return item", "attribute m.x[1]: a Lua integer beyond"},
        {"ddb.put{pk = 'p', n = -(1 << 60)}", "-e:1: ddb.put: attribute n: a Lua integer beyond"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dm_arena *a = dm_arena_new(0);
        run_out o;
        run_on(cases[i][0], item, a, &o);
        CHECK_INT(o.rc, DM_ERR_INVALID);
        CHECK_CONTAINS(o.err.message, cases[i][1]);
        CHECK_CONTAINS(o.err.message, "ddb.decimal");
        dm_arena_free(a);
    }
    dm_arena *a = dm_arena_new(0);
    run_out o;
    run_on("item.w = 1 << 53; item.v = -(1 << 53); item.d = ddb.decimal(1 << 60) * 8; return item", item, a, &o);
    CHECK_INT(o.rc, DM_OK);
    CHECK_CONTAINS(o.encoded, "\"w\":{\"N\":\"9007199254740992\"}");
    CHECK_CONTAINS(o.encoded, "\"v\":{\"N\":\"-9007199254740992\"}");
    CHECK_CONTAINS(o.encoded, "\"d\":{\"N\":\"9223372036854775808\"}");
    dm_arena_free(a);
}

TEST(decimal_floor_division_modulo_and_bits)
{
    limited l;
    run_limited("local D = ddb.decimal\n"
                "for _, a in ipairs{7, -7, 0, 9007199254740991, -123456789} do\n"
                "  for _, b in ipairs{2, -2, 3, -3, 1000} do\n"
                "    assert(D(a) // b == D(a // b), a .. ' // ' .. b)\n"
                "    assert(D(a) % b == D(a % b), a .. ' % ' .. b)\n"
                "    assert(a // D(b) == D(a // b) and a % D(b) == D(a % b))\n"
                "  end\n"
                "end\n"
                "assert(tostring(D('9223372036854775807') // 10) == '922337203685477580')\n"
                "assert(tostring(D('9223372036854775807') % 10) == '7')\n"
                "assert(tostring(D('7.5') % 2) == '1.5' and tostring(D('-7.5') % 2) == '0.5')\n"
                "assert(tostring(D('7.5') // -2) == '-4' and tostring(D('1E+100') % 7) == '4')\n"
                "assert(tostring(D('12345678901234567890123456789012345678') % D('1E-30')) == '0')\n"
                "assert(not pcall(function() return D(1) // 0 end) and not pcall(function() return D(1) % 0 end))\n"
                "assert(D(5) & 3 == 1 and D(4) | 1 == 5 and D(1) << 4 == 16 and ~D(0) == -1 and D(6) ~ 3 == 5)\n"
                "assert(not pcall(function() return D('1.5') & 1 end))\n"
                "assert(math.type(D(2) ^ 2) == 'float' and D(2) ^ 2 == 4.0)",
                10000000, &l);
    CHECK_STR(l.err.message, "");
    CHECK_INT(l.rc, DM_OK);
}

TEST(number_range_ends_are_errors)
{
    limited l;
    run_limited("local max = ddb.decimal('9.9999999999999999999999999999999999999E+125')\n"
                "local tiny = ddb.decimal('1E-130')\n"
                "assert(not pcall(function() return max + max end) and not pcall(function() return max * 10 end))\n"
                "assert(not pcall(function() return tiny / 10 end) and not pcall(function() return tiny * tiny end))\n"
                "assert(tostring(tiny * 10) == '1E-129' and tostring(-max) == '-9.9999999999999999999999999999999999999E+125')\n"
                "assert(tostring(max - max) == '0' and tostring(tiny - tiny) == '0')",
                10000000, &l);
    CHECK_STR(l.err.message, "");
    CHECK_CONTAINS(err_of("local x = 1\nlocal y = ddb.decimal('1E+125') * 100"), "-e:2: decimal arithmetic:");
}

/* ---- what error messages say --------------------------------------------------------------- */

TEST(errors_name_the_script_and_line)
{
    const char *cases[][3] = {
        {"conv.lua", "local x = 1\nfunction migrate(item, ctx)\n  item.x = 0/0\n  return item\nend\n",
         "conv.lua:2: migrate returned an item DynamoDB cannot store: attribute x: NaN"},
        {"returns.lua", "function migrate(item, ctx)\n  return 42\nend\n", "returns.lua:1: migrate returned a number"},
        {"loop.lua", "function migrate(item, ctx)\n  local n = 0\n  while true do n = n + 1 end\nend\n",
         "loop.lua:3: the script ran longer than 10000000 instructions on one item"},
        {"memory.lua", "function migrate(item, ctx)\n  local t = {}\n  while true do t[#t + 1] = {} end\nend\n",
         "memory.lua:1: not enough memory"},
        {"decimal.lua", "function migrate(item, ctx)\n  return ddb.decimal('x')\nend\n",
         "decimal.lua:2: the string is not a DynamoDB number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dm_error err;
        lua_host_options o = {.script = cases[i][1], .script_len = strlen(cases[i][1]), .chunk_name = cases[i][0],
                              .memory_limit_bytes = 8 << 20, .instruction_limit = 10000000};
        lua_host *h = NULL;
        CHECK_INT(lua_host_new(&o, &h, &err), DM_OK);
        dm_arena *a = dm_arena_new(0);
        ddb_item it = {0};
        lua_result r;
        CHECK(lua_host_migrate(h, &it, 0, a, &r, &err) != DM_OK);
        CHECK_CONTAINS(err.message, cases[i][2]);
        dm_arena_free(a);
        lua_host_free(h);
    }
    dm_error err;
    CHECK(host_file("nomigrate.lua", "local x = 1\n", &err) == NULL);
    CHECK_STR(err.message, "nomigrate.lua: the script defines no function migrate(item, ctx)");
}

TEST(errors_quote_no_item_values)
{
    const char *item = "{\"pk\":{\"S\":\"k\"},\"secret\":{\"S\":\"hunter2-value\"},\"n\":{\"N\":\"5\"}}";
    const char *scripts[] = {
        "return ddb.decimal(item.secret)",
        "item.x = ddb.frombase64(item.secret); return item",
        "item.x = ddb.set{item.secret, item.n}; return item",
        "item.x = item.n + item.secret; return item",
        "item.x = {item.secret, 0/0}; return item",
    };
    for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
        dm_arena *a = dm_arena_new(0);
        run_out o;
        run_on(scripts[i], item, a, &o);
        CHECK(o.rc != DM_OK);
        CHECK_CONTAINS(o.err.message, "-e:1:");
        CHECK(strstr(o.err.message, "hunter2") == NULL);
        dm_arena_free(a);
    }
}

TEST(absent_reads_are_noted)
{
    lua_host *h = NULL;
    dm_error err = {0};
    const char *code = "if item.flag == nil and item.other == nil and item.flag == nil then item.x = 1 end\n"
                       "local y = item.n\nreturn item";
    lua_host_options o = {.script = code, .script_len = strlen(code), .chunk_name = "-e", .one_liner = true,
                          .now = "2026-01-01T00:00:00Z", .migration = "m", .table = "t"};
    CHECK_INT(lua_host_new(&o, &h, &err), DM_OK);
    dm_arena *a = dm_arena_new(0);
    ddb_item it;
    const char *text = "{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"}}";
    CHECK_INT(ddb_item_decode(text, strlen(text), a, &it, NULL, NULL), DM_OK);
    lua_result res;
    CHECK_INT(lua_host_migrate(h, &it, 0, a, &res, &err), DM_OK);
    CHECK_INT(res.outcome, LUA_WRITE); /* the item table with its metatable converts */
    CHECK_INT(res.n_absent, 2);
    CHECK(res.absent[0].n == 4 && memcmp(res.absent[0].p, "flag", 4) == 0);
    CHECK(res.absent[1].n == 5 && memcmp(res.absent[1].p, "other", 5) == 0);
    /* A script cannot take the metatable away or see it. */
    lua_host_free(h);
    const char *code2 = "local ok = pcall(setmetatable, item, nil)\n"
                        "item.ok = ok; item.mt = tostring(getmetatable(item)); return item";
    o.script = code2;
    o.script_len = strlen(code2);
    CHECK_INT(lua_host_new(&o, &h, &err), DM_OK);
    CHECK_INT(lua_host_migrate(h, &it, 0, a, &res, &err), DM_OK);
    CHECK(ddb_item_get(&res.item, "ok", 2)->boolean == false);
    lua_host_free(h);
    dm_arena_free(a);
}

/* The item's attributes are converted as the script reads them; what it
 * never touches goes back as it came. Every way a script can reach the
 * table sees the same item: reads, writes, deletes of attributes read or
 * not, pairs, next, rawget, rawset, the item inside another table, and
 * ddb.put. */
TEST(attributes_convert_as_they_are_read)
{
    dm_arena *a = dm_arena_new(0);
    run_out o;
    /* Untouched attributes keep their text ("1.500", the 38 digits). */
    run_on("item.i = item.i + 1; return item", ALL_TYPES, a, &o);
    CHECK_INT(o.rc, DM_OK);
    CHECK_INT(o.d.n_set, 1);
    CHECK_INT(o.d.n_remove, 0);
    CHECK_CONTAINS(o.encoded, "\"f\":{\"N\":\"1.500\"}");
    CHECK_CONTAINS(o.encoded, "\"big\":{\"N\":\"12345678901234567890123456789012345678\"}");
    CHECK_CONTAINS(o.encoded, "\"i\":{\"N\":\"43\"}");
    /* Deleting an attribute never read, and one read first. */
    run_on("item.s = nil; local v = item.i; item.i = nil; assert(item.i == nil and item.s == nil); return item",
           ALL_TYPES, a, &o);
    CHECK_INT(o.rc, DM_OK);
    CHECK_INT(o.d.n_remove, 2);
    CHECK(strstr(o.encoded, "\"s\":") == NULL && strstr(o.encoded, "\"i\":") == NULL);
    /* Deleted, then set again. */
    run_on("item.s = nil; item.s = 'again'; return item", ALL_TYPES, a, &o);
    CHECK_CONTAINS(o.encoded, "\"s\":{\"S\":\"again\"}");
    /* pairs and next see every attribute; rawget reads, rawset deletes. */
    run_on("local n = 0; for k, v in pairs(item) do n = n + 1 end; assert(n == 15, n)\n"
           "local m = 0; local k = next(item); while k do m = m + 1; k = next(item, k) end; assert(m == 15, m)\n"
           "assert(rawget(item, 'i') == 42); rawset(item, 'b', nil); return item",
           ALL_TYPES, a, &o);
    CHECK_INT(o.rc, DM_OK);
    CHECK_INT(o.d.n_remove, 1);
    CHECK(strstr(o.encoded, "\"b\":") == NULL);
    run_on("rawset(item, 't', nil); return item", ALL_TYPES, a, &o);
    CHECK_INT(o.d.n_remove, 1);
    /* A new table with the item inside, a copy, ddb.put of the item. */
    run_on("return {pk = 'k2', copy = item}", ALL_TYPES, a, &o);
    CHECK_INT(o.rc, DM_OK);
    CHECK_CONTAINS(o.encoded, "\"big\":{\"N\":\"12345678901234567890123456789012345678\"}");
    run_on("local c = {}; for k, v in pairs(item) do c[k] = v end; c.pk = 'k3'; ddb.put(item); return c", ALL_TYPES,
           a, &o);
    CHECK_INT(o.rc, DM_OK);
    CHECK_INT(o.r.n_extras, 1);
    CHECK_INT((long long)o.r.extras[0].n, 15);
    CHECK_INT((long long)o.r.item.n, 15);
    dm_arena_free(a);
}

/* What the script saw of the item, for the guard of its update
 * (wplan.h): the attributes it read, wrote or deleted, or all of it once
 * it went through the item raw. */
static int n_seen(const run_out *o)
{
    int n = 0;
    for (size_t i = 0; i < 15; i++)
        n += o->r.seen[i] != 0;
    return n;
}

TEST(what_the_script_saw_is_known)
{
    dm_arena *a = dm_arena_new(0);
    run_out o;
    run_on("item.i = item.i + 1; return item", ALL_TYPES, a, &o);
    CHECK_INT(o.rc, DM_OK);
    CHECK(!o.r.saw_all && o.r.seen);
    CHECK_INT(n_seen(&o), 1);
    CHECK(o.r.seen[2]); /* i */
    /* Written unread, deleted unread, read inside a coroutine, compared. */
    run_on("item.s = 'x'; item.t = nil\n"
           "coroutine.wrap(function() return item.f end)(); if item.big == 1 then error() end; return item",
           ALL_TYPES, a, &o);
    CHECK(!o.r.saw_all);
    CHECK_INT(n_seen(&o), 4);
    CHECK(o.r.seen[1] && o.r.seen[3] && o.r.seen[4] && o.r.seen[6]);
    run_on("return item", ALL_TYPES, a, &o);
    CHECK(!o.r.saw_all);
    CHECK_INT(n_seen(&o), 0);
    run_on("return nil", ALL_TYPES, a, &o);
    CHECK(!o.r.saw_all);
    CHECK_INT(n_seen(&o), 0);
    /* Every raw way through the table sees it all. */
    static const char *const raw[] = {
        "for k in pairs(item) do end; return item",
        "local k = next(item); return item",
        "local v = rawget(item, 'nothing'); return item",
        "rawset(item, 'n', 1); return item",
        "return {pk = 'k2', copy = item}",
        "local c = {}; for k, v in pairs(item) do c[k] = v end; return c",
        "ddb.put(item); return nil",
    };
    for (size_t i = 0; i < sizeof raw / sizeof *raw; i++) {
        run_on(raw[i], ALL_TYPES, a, &o);
        CHECK_INT(o.rc, DM_OK);
        if (!o.r.saw_all)
            fprintf(stderr, "  not all seen by: %s\n", raw[i]);
        CHECK(o.r.saw_all);
    }
    dm_arena_free(a);
}

TEST(an_item_kept_past_its_call_reads_what_it_took)
{
    const char *code = "function migrate(item)\n"
                       "  if kept then item.seen = kept.s; item.other = kept.i end\n"
                       "  kept = item; local x = item.s; return item\n"
                       "end\n";
    dm_error err = {0};
    lua_host *h = host_file("keep.lua", code, &err);
    CHECK(h != NULL);
    dm_arena *a = dm_arena_new(0);
    ddb_item it;
    const char *text = "{\"pk\":{\"S\":\"a\"},\"s\":{\"S\":\"first\"},\"i\":{\"N\":\"1\"}}";
    CHECK_INT(ddb_item_decode(text, strlen(text), a, &it, NULL, NULL), DM_OK);
    lua_result res;
    CHECK_INT(lua_host_migrate(h, &it, 0, a, &res, &err), DM_OK);
    CHECK_INT(lua_host_migrate(h, &it, 0, a, &res, &err), DM_OK);
    /* s was read in its call; i never was: a kept item answers nil. */
    const ddb_value *seen = ddb_item_get(&res.item, "seen", 4);
    CHECK(seen && seen->len == 5 && memcmp(seen->data, "first", 5) == 0);
    CHECK(ddb_item_get(&res.item, "other", 5) == NULL);
    CHECK_INT(res.n_absent, 0);
    lua_host_free(h);
    dm_arena_free(a);
}
