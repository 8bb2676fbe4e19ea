/* Property tests over random items (seeded, so failures reproduce):
 * decode/encode/Lua/diff with the identity script changes nothing, and a
 * random edit shows up as exactly that edit. The Lua host's own pattern
 * matcher agrees with stock Lua's on random patterns and subjects, and
 * numbers near the limits stay exact (or fail) as documented. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddbmig/ddb_ops.h"
#include "ddb/diff.h"
#include "lua/lua_host.h"
#include "common/crypto.h"
#include "lua/budget.h"
#include "lua/pattern.h"
#include "test.h"

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return (uint32_t)(x >> 32) % n;
}

static void gen_string(dm_buf *raw)
{
    static const char *const pieces[] = {"a", "b", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\x01", "é", "日", "😀",
                                         "x"};
    int n = (int)rnd(12);
    for (int i = 0; i < n; i++)
        dm_buf_puts(raw, pieces[rnd(15)]);
}

static void put_json_string(dm_buf *out)
{
    dm_buf raw;
    dm_buf_init(&raw, 0);
    gen_string(&raw);
    ddb_json_string(out, dm_buf_cstr(&raw));
    dm_buf_cleanup(&raw);
}

static void gen_number(char *out, size_t size)
{
    for (;;) {
        int digits = 1 + (int)rnd(38), o = 0;
        char t[80];
        if (rnd(2))
            t[o++] = '-';
        t[o++] = (char)('1' + rnd(9));
        for (int i = 1; i < digits; i++)
            t[o++] = (char)('0' + rnd(10));
        if (rnd(2))
            o += snprintf(t + o, sizeof t - (size_t)o, "E%d", (int)rnd(200) - 110);
        t[o] = '\0';
        ddb_number n;
        if (ddb_number_parse(t, (size_t)o, &n, NULL) == DM_OK) {
            dm_strlcpy(out, t, size);
            return;
        }
    }
}

static void gen_binary(dm_buf *out)
{
    char bytes[16];
    int n = (int)rnd(16);
    for (int i = 0; i < n; i++)
        bytes[i] = (char)rnd(256);
    dm_buf_putc(out, '"');
    dm_base64_encode(bytes, (size_t)n, out);
    dm_buf_putc(out, '"');
}

static void gen_value(dm_buf *o, int depth);

static void gen_container(dm_buf *o, int depth, bool map)
{
    int n = (int)rnd(4);
    dm_buf_puts(o, map ? "{\"M\":{" : "{\"L\":[");
    for (int i = 0; i < n; i++) {
        if (i)
            dm_buf_putc(o, ',');
        if (map)
            dm_buf_appendf(o, "\"k%d\":", i);
        gen_value(o, depth + 1);
    }
    dm_buf_puts(o, map ? "}}" : "]}");
}

static void gen_set(dm_buf *o, int kind)
{
    int n = 1 + (int)rnd(4);
    dm_buf_puts(o, kind == 0 ? "{\"SS\":[" : kind == 1 ? "{\"NS\":[" : "{\"BS\":[");
    for (int i = 0; i < n; i++) {
        if (i)
            dm_buf_putc(o, ',');
        /* Distinct members: an index prefix keeps them apart. */
        if (kind == 0) {
            dm_buf_appendf(o, "\"m%d", i);
            dm_buf_puts(o, "\"");
        } else if (kind == 1) {
            dm_buf_appendf(o, "\"%d.%u\"", i, rnd(1000) * 10 + 1);
        } else {
            char b[3] = {(char)i, (char)rnd(256), 0};
            dm_buf_putc(o, '"');
            dm_base64_encode(b, 2, o);
            dm_buf_putc(o, '"');
        }
    }
    dm_buf_puts(o, "]}");
}

static void gen_value(dm_buf *o, int depth)
{
    char num[80];
    switch (rnd(depth >= 4 ? 5 : 10)) {
    case 0: dm_buf_puts(o, "{\"S\":"); put_json_string(o); dm_buf_putc(o, '}'); break;
    case 1: gen_number(num, sizeof num); dm_buf_appendf(o, "{\"N\":\"%s\"}", num); break;
    case 2: dm_buf_puts(o, "{\"B\":"); gen_binary(o); dm_buf_putc(o, '}'); break;
    case 3: dm_buf_puts(o, rnd(2) ? "{\"BOOL\":true}" : "{\"BOOL\":false}"); break;
    case 4: dm_buf_puts(o, "{\"NULL\":true}"); break;
    case 5: case 6: gen_container(o, depth, true); break;
    case 7: gen_container(o, depth, false); break;
    default: gen_set(o, (int)rnd(3));
    }
}

static int gen_item(dm_buf *o)
{
    int n = 1 + (int)rnd(8);
    dm_buf_puts(o, "{\"pk\":{\"S\":\"item\"}");
    for (int i = 0; i < n; i++) {
        dm_buf_appendf(o, ",\"a%d%s\":", i, rnd(3) == 0 ? "é" : "");
        gen_value(o, 1);
    }
    dm_buf_putc(o, '}');
    return n;
}

static const char *KEYS[] = {"pk"};

static lua_host *host(const char *code)
{
    lua_host_options opt = {.script = code, .script_len = strlen(code), .chunk_name = "-e", .one_liner = true,
                            .now = "2026-01-01T00:00:00Z", .migration = "p", .table = "t"};
    lua_host *h = NULL;
    dm_error err;
    if (lua_host_new(&opt, &h, &err))
        fprintf(stderr, "host: %s\n", err.message);
    return h;
}

TEST(identity_is_empty_diff)
{
    lua_host *h = host("return item");
    CHECK(h != NULL);
    for (int seed = 1; seed <= 400; seed++) {
        rng_state = 0x9E3779B97F4A7C15ull * (uint64_t)seed;
        dm_buf text, again;
        dm_buf_init(&text, 0);
        dm_buf_init(&again, 0);
        gen_item(&text);
        dm_arena *a = dm_arena_new(0);
        ddb_item it;
        dm_error err = {0};
        lua_result r;
        ddb_diff d;
        int rc = ddb_item_decode(text.data, text.len, a, &it, NULL, &err);
        if (rc)
            fprintf(stderr, "seed %d: %s\n%s\n", seed, err.message, text.data);
        CHECK_INT(rc, DM_OK);
        rc = lua_host_migrate(h, &it, 0, a, &r, &err);
        if (rc)
            fprintf(stderr, "seed %d: %s\n%s\n", seed, err.message, text.data);
        CHECK_INT(rc, DM_OK);
        CHECK_INT(ddb_diff_compute(&it, &r.item, KEYS, 1, a, &d), DM_OK);
        if (!ddb_diff_empty(&d))
            fprintf(stderr, "seed %d: identity changed attribute %zu of %s\n", seed, d.n_set ? d.set[0] : 999,
                    text.data);
        CHECK(ddb_diff_empty(&d));
        ddb_item_encode(&r.item, &again);
        CHECK_STR(dm_buf_cstr(&again), dm_buf_cstr(&text));
        dm_arena_free(a);
        dm_buf_cleanup(&text);
        dm_buf_cleanup(&again);
    }
    lua_host_free(h);
}

/* The original text of attribute i, for comparing what was kept. */
static void attr_text(const ddb_item *it, const char *name, size_t n, char *out, size_t size)
{
    const ddb_value *v = ddb_item_get(it, name, n);
    dm_buf b;
    dm_buf_init(&b, 0);
    if (v)
        ddb_value_encode(v, &b);
    dm_strlcpy(out, v ? dm_buf_cstr(&b) : "(absent)", size);
    dm_buf_cleanup(&b);
}

TEST(random_edit_is_exactly_that_edit)
{
    for (int seed = 1; seed <= 250; seed++) {
        rng_state = 0xD1B54A32D192ED03ull * (uint64_t)seed;
        dm_buf text;
        dm_buf_init(&text, 0);
        int n = gen_item(&text);
        dm_arena *a = dm_arena_new(0);
        ddb_item it;
        CHECK_INT(ddb_item_decode(text.data, text.len, a, &it, NULL, NULL), DM_OK);
        /* Pick an edit: change, remove, or add one attribute. */
        int kind = (int)rnd(3), target = 1 + (int)rnd((uint32_t)n);
        const dm_str *name = &it.names[target];
        char code[512], added[32];
        snprintf(added, sizeof added, "zz_new_%d", seed);
        if (kind == 0)
            snprintf(code, sizeof code, "item[\"%.*s\"] = 'edited-%d'; return item", (int)name->n, name->p, seed);
        else if (kind == 1)
            snprintf(code, sizeof code, "item[\"%.*s\"] = nil; return item", (int)name->n, name->p);
        else
            snprintf(code, sizeof code, "item.%s = %d; return item", added, seed);
        lua_host *h = host(code);
        CHECK(h != NULL);
        lua_result r;
        ddb_diff d;
        dm_error err = {0};
        CHECK_INT(lua_host_migrate(h, &it, 0, a, &r, &err), DM_OK);
        CHECK_INT(ddb_diff_compute(&it, &r.item, KEYS, 1, a, &d), DM_OK);
        CHECK(!d.key_changed);
        if (kind == 1) {
            CHECK_INT(d.n_set, 0);
            CHECK_INT(d.n_remove, 1);
            CHECK(d.remove[0].n == name->n && memcmp(d.remove[0].p, name->p, name->n) == 0);
        } else {
            CHECK_INT(d.n_set, 1);
            CHECK_INT(d.n_remove, 0);
            const dm_str *got = &r.item.names[d.set[0]];
            if (kind == 0)
                CHECK(got->n == name->n && memcmp(got->p, name->p, name->n) == 0);
            else
                CHECK(got->n == strlen(added) && memcmp(got->p, added, got->n) == 0);
        }
        /* Every other attribute is kept byte for byte. */
        for (size_t i = 0; i < it.n; i++) {
            if (kind != 2 && i == (size_t)target)
                continue;
            char before[4096], after[4096];
            attr_text(&it, it.names[i].p, it.names[i].n, before, sizeof before);
            attr_text(&r.item, it.names[i].p, it.names[i].n, after, sizeof after);
            CHECK_STR(after, before);
            const ddb_value *nv = ddb_item_get(&r.item, it.names[i].p, it.names[i].n);
            CHECK(nv && nv->wire.p == it.values[i].wire.p);
        }
        lua_host_free(h);
        dm_arena_free(a);
        dm_buf_cleanup(&text);
    }
}

/* ---- the pattern matcher against stock Lua's ---------------------------------- */

/* Runs one case through both libraries and returns what each gave, as
 * text: results with their types, or the error without its position. */
static const char pattern_harness[] =
    "local mine = ...\n"
    "local function ser(ok, ...)\n"
    "  local out = {ok and 'ok' or 'error'}\n"
    "  for i = 1, select('#', ...) do\n"
    "    local v = select(i, ...)\n"
    "    if type(v) == 'string' then\n"
    "      if not ok then v = v:gsub('^[^:]*:%d+: ', '') end\n"
    "      out[#out + 1] = (string.format('%q', v):gsub('\\n', 'n'))\n"
    "    else out[#out + 1] = math.type(v) or type(v) .. ':' .. tostring(v) end\n"
    "    if type(v) == 'number' then out[#out] = out[#out] .. ':' .. v end\n"
    "  end\n"
    "  return table.concat(out, ',')\n"
    "end\n"
    "local function all(lib, s, p, init, repl, n)\n"
    "  local r = {}\n"
    "  r[#r + 1] = ser(pcall(lib.find, s, p))\n"
    "  r[#r + 1] = ser(pcall(lib.find, s, p, init))\n"
    "  r[#r + 1] = ser(pcall(lib.find, s, p, init, true))\n"
    "  r[#r + 1] = ser(pcall(lib.match, s, p, init))\n"
    "  r[#r + 1] = ser(pcall(function()\n"
    "    local t = {}\n"
    "    for a, b in lib.gmatch(s, p, init) do\n"
    "      t[#t + 1] = tostring(a) .. '|' .. tostring(b)\n"
    "      if #t > 100 then break end\n"
    "    end\n"
    "    return table.concat(t, ';')\n"
    "  end))\n"
    "  r[#r + 1] = ser(pcall(lib.gsub, s, p, repl, n))\n"
    "  return table.concat(r, '\\n')\n"
    "end\n"
    "return function(s, p, init, repl, n)\n"
    "  return all(string, s, p, init, repl, n), all(mine, s, p, init, repl, n)\n"
    "end\n";

static void pat_char(dm_buf *b)
{
    static const char plain[] = "abc1 x-";
    static const char special[] = "^$*+?.([%-])";
    if (rnd(4) == 0) { /* a special character, escaped */
        dm_buf_putc(b, '%');
        dm_buf_putc(b, special[rnd(sizeof special - 1)]);
    } else {
        dm_buf_putc(b, plain[rnd(sizeof plain - 1)]);
    }
}

static void pat_set(dm_buf *b)
{
    static const char *const parts[] = {"a", "b", "a-c", "0-9", "%d", "%a", "%]", "%-", "-", " ", "x", "%%", "(", "%s"};
    dm_buf_putc(b, '[');
    if (rnd(3) == 0)
        dm_buf_putc(b, '^');
    int n = 1 + (int)rnd(3);
    for (int i = 0; i < n; i++)
        dm_buf_puts(b, parts[rnd(sizeof parts / sizeof parts[0])]);
    dm_buf_putc(b, ']');
}

/* A well-formed pattern: single classes with repetitions, captures,
 * position captures, %b, %f, back-references to closed captures. */
static void gen_pattern(dm_buf *b, int depth, int *caps, int *closed)
{
    static const char *const classes[] = {".", "%a", "%d", "%s", "%w", "%p", "%l", "%u", "%x", "%c", "%g", "%A",
                                          "%D", "%S", "%W", "%z"};
    int n = 1 + (int)rnd(4);
    for (int i = 0; i < n; i++) {
        switch (rnd(12)) {
        case 0: case 1: case 2: pat_char(b); break;
        case 3: dm_buf_puts(b, classes[rnd(sizeof classes / sizeof classes[0])]); break;
        case 4: pat_set(b); break;
        case 5:
            if (depth < 2 && *caps < 9) {
                int me = ++*caps;
                dm_buf_putc(b, '(');
                gen_pattern(b, depth + 1, caps, closed);
                dm_buf_putc(b, ')');
                closed[me] = 1;
            }
            continue;
        case 6:
            if (*caps < 9) {
                closed[++*caps] = 1;
                dm_buf_puts(b, "()");
            }
            continue;
        case 7: dm_buf_puts(b, rnd(2) ? "%b()" : "%bab"); continue;
        case 8: dm_buf_puts(b, rnd(2) ? "%f[%w]" : "%f[^a ]"); continue;
        case 9: {
            int k = 1 + (int)rnd(9);
            if (k <= *caps && closed[k]) {
                dm_buf_putc(b, '%');
                dm_buf_putc(b, (char)('0' + k));
            }
            continue;
        }
        default: pat_char(b); break;
        }
        static const char reps[] = "*+-?";
        if (rnd(3) == 0)
            dm_buf_putc(b, reps[rnd(4)]);
    }
}

static void gen_subject(dm_buf *b)
{
    static const char alphabet[] = "aabbc1 (x)-%.^$";
    int n = (int)rnd(16);
    for (int i = 0; i < n; i++)
        dm_buf_putc(b, rnd(40) == 0 ? '\0' : alphabet[rnd(sizeof alphabet - 1)]);
}

static bool malformed_line(const char *line, size_t n)
{
    static const char *const faults[] = {"malformed pattern", "invalid pattern capture", "unfinished capture",
                                         "invalid capture index", "missing '[' after '%f'", "too many captures"};
    if (n < 6 || memcmp(line, "error,", 6) != 0)
        return false;
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        size_t k = strlen(faults[i]);
        for (size_t j = 0; j + k <= n; j++)
            if (memcmp(line + j, faults[i], k) == 0)
                return true;
    }
    return false;
}

/* Line by line (a line per call), the same answer, or ours calling the
 * pattern malformed. */
static bool same_or_malformed(const char *ours, const char *stock)
{
    for (;;) {
        const char *oe = strchr(ours, '\n'), *se = strchr(stock, '\n');
        size_t on = oe ? (size_t)(oe - ours) : strlen(ours), sn = se ? (size_t)(se - stock) : strlen(stock);
        if ((on != sn || memcmp(ours, stock, on) != 0) && !malformed_line(ours, on))
            return false;
        if (!oe || !se)
            return !oe && !se;
        ours = oe + 1;
        stock = se + 1;
    }
}

/* Runs case (s, p) through both and compares. Returns 0 when they agree,
 * or when only ours calls a malformed pattern an error (it checks the
 * whole pattern up front; the stock matcher only what it reaches). */
static int compare_case(lua_State *L, int harness, const dm_buf *s, const dm_buf *p, int seed, int strict)
{
    static const char *const repls[] = {"<%0>", "%1", "[%1|%2]", "%%", "x"};
    lua_pushvalue(L, harness);
    lua_pushlstring(L, dm_buf_cstr(s), s->len);
    lua_pushlstring(L, dm_buf_cstr(p), p->len);
    lua_pushinteger(L, (lua_Integer)rnd(40) - 20);
    switch (rnd(4)) {
    case 0: lua_pushstring(L, repls[rnd(sizeof repls / sizeof repls[0])]); break;
    case 1:
        lua_createtable(L, 0, 3);
        lua_pushliteral(L, "A");
        lua_setfield(L, -2, "a");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "b");
        lua_pushinteger(L, 7);
        lua_setfield(L, -2, "1");
        break;
    case 2:
        luaL_dostring(L, "return function(a, b) if a == 'a' then return nil end return '[' .. tostring(a) .. "
                         "tostring(b) .. ']' end");
        break;
    default: lua_pushinteger(L, 42); break;
    }
    if (rnd(3) == 0)
        lua_pushinteger(L, (lua_Integer)rnd(4));
    else
        lua_pushnil(L);
    if (lua_pcall(L, 5, 2, 0) != LUA_OK) {
        fprintf(stderr, "seed %d: harness: %s\n", seed, lua_tostring(L, -1));
        lua_pop(L, 1);
        return 1;
    }
    const char *stock = lua_tostring(L, -2), *ours = lua_tostring(L, -1);
    int rc = 0;
    if (strcmp(stock, ours) != 0) {
        if (strict || !same_or_malformed(ours, stock)) {
            fprintf(stderr, "seed %d: subject %s pattern %s\nstock:\n%s\nours:\n%s\n", seed, s->data ? s->data : "",
                    p->data ? p->data : "", stock, ours);
            rc = 1;
        }
    }
    lua_pop(L, 2);
    return rc;
}

static lua_State *pattern_state(budget *b, int *harness)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    /* Charges do not trip here; the budget only makes them run. */
    budget_attach(L, b, (long long)1 << 60);
    luaL_loadstring(L, pattern_harness);
    lua_newtable(L);
    pattern_open(L, -1);
    lua_call(L, 1, 1);
    *harness = lua_gettop(L);
    return L;
}

TEST(pattern_matcher_agrees_with_stock_lua)
{
    budget b;
    int harness;
    lua_State *L = pattern_state(&b, &harness);
    int failures = 0;
    for (int seed = 1; seed <= 20000 && failures < 5; seed++) {
        rng_state = 0xA0761D6478BD642Full * (uint64_t)seed;
        dm_buf s, p;
        dm_buf_init(&s, 0);
        dm_buf_init(&p, 0);
        gen_subject(&s);
        int caps = 0, closed[16] = {0};
        if (rnd(4) == 0)
            dm_buf_putc(&p, '^');
        gen_pattern(&p, 0, &caps, closed);
        if (rnd(4) == 0)
            dm_buf_putc(&p, '$');
        failures += compare_case(L, harness, &s, &p, seed, 1);
        dm_buf_cleanup(&s);
        dm_buf_cleanup(&p);
    }
    lua_close(L);
    CHECK_INT(failures, 0);
}

/* Any bytes as a pattern: where the stock matcher answers, ours gives
 * the same answer or calls the pattern malformed; where it raises, ours
 * raises the same. */
TEST(pattern_matcher_agrees_on_random_bytes)
{
    static const char bytes[] = "()[]%^$*+-?.ab1fb ";
    budget b;
    int harness;
    lua_State *L = pattern_state(&b, &harness);
    int failures = 0;
    for (int seed = 1; seed <= 20000 && failures < 5; seed++) {
        rng_state = 0xE7037ED1A0B428DBull * (uint64_t)seed;
        dm_buf s, p;
        dm_buf_init(&s, 0);
        dm_buf_init(&p, 0);
        gen_subject(&s);
        int n = 1 + (int)rnd(8);
        for (int i = 0; i < n; i++)
            dm_buf_putc(&p, bytes[rnd(sizeof bytes - 1)]);
        failures += compare_case(L, harness, &s, &p, seed, 0);
        dm_buf_cleanup(&s);
        dm_buf_cleanup(&p);
    }
    lua_close(L);
    CHECK_INT(failures, 0);
}

/* ---- numbers near the limits ------------------------------------------------------ */

typedef __int128 i128;

static void i128_text(i128 v, char *out)
{
    char t[64];
    int n = 0;
    bool neg = v < 0;
    unsigned __int128 u = neg ? (unsigned __int128)0 - (unsigned __int128)v : (unsigned __int128)v;
    do {
        t[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    int o = 0;
    if (neg)
        out[o++] = '-';
    while (n)
        out[o++] = t[--n];
    out[o] = '\0';
}

/* An integer near a limit: ±2^53, ±2^63, 38 digits, or small. */
static i128 gen_edge_integer(void)
{
    i128 v;
    switch (rnd(5)) {
    case 0: v = ((i128)1 << 53) + (int)rnd(7) - 3; break;
    case 1: v = ((i128)1 << 63) + (int)rnd(7) - 3; break;
    case 2: { /* 38 digits, not all nines */
        v = 1 + (i128)rnd(8);
        for (int i = 1; i < 38; i++)
            v = v * 10 + (i128)rnd(10);
        break;
    }
    case 3: v = (i128)rnd(1000); break;
    default: v = ((i128)1 << (31 + rnd(64))) + (int)rnd(3) - 1; break;
    }
    return rnd(2) ? -v : v;
}

/* A non-integer or extreme number as text: tiny, huge, negative zero. */
static void gen_edge_candidate(char *out, size_t size)
{
    char digits[48];
    int nd = 1 + (int)rnd(38);
    digits[0] = (char)('1' + rnd(9));
    for (int i = 1; i < nd; i++)
        digits[i] = (char)('0' + rnd(10));
    digits[nd] = '\0';
    const char *sign = rnd(2) ? "-" : "";
    switch (rnd(5)) {
    case 0: snprintf(out, size, "%s%c.%sE-%d", sign, digits[0], digits + 1, 130 - (int)rnd(3)); break;
    case 1: snprintf(out, size, "%s%c.%sE+%d", sign, digits[0], digits + 1, 125 - (int)rnd(3)); break;
    case 2: snprintf(out, size, "%s0%s", sign, rnd(2) ? "" : ".0E+5"); break;
    case 3: snprintf(out, size, "%s%s.%d", sign, digits, (int)rnd(10)); break;
    default: snprintf(out, size, "%s0.%s", sign, digits); break;
    }
}

static void gen_edge_text(char *out, size_t size)
{
    ddb_number parsed;
    do
        gen_edge_candidate(out, size);
    while (ddb_number_parse(out, strlen(out), &parsed, NULL) != DM_OK);
}

/* Checks the script's view of n from the inside; the C side checks what
 * is written. */
static const char number_script[] =
    "local n, D = item.n, ddb.decimal\n"
    "local d = D(n)\n"
    "local small = math.type(n) == 'integer'\n"
    "assert(small == (d == D(math.tointeger(n) or 0.5) and d <= D(1 << 53) and d >= D(-(1 << 53))),\n"
    "       'integers within 2^53 are Lua integers, and only they')\n"
    "assert(-(-d) == d and d - d == D(0) and d + 0 == d and d * 1 == d and d / 1 == d)\n"
    "if d:tointeger() or small then\n"
    "  local q, r = n // 7, n % 7\n"
    "  assert(D(q) * 7 + r == d and r >= D(0) and r < D(7), 'floor division and modulo are exact')\n"
    "end\n"
    "item.plus = n + 1\n"
    "item.minus = n - 1\n"
    "item.back = n + 1 - 1\n"
    "return item\n";

static int written(const ddb_item *it, const char *name, ddb_number *out)
{
    const ddb_value *v = ddb_item_get(it, name, strlen(name));
    return v && v->type == DDB_N ? ddb_number_parse(v->data, v->len, out, NULL) : DM_ERR_INVALID;
}

TEST(integers_near_the_limits_stay_exact)
{
    lua_host *h = host(number_script);
    CHECK(h != NULL);
    int wrap_errors = 0, exact = 0;
    for (int seed = 1; seed <= 3000; seed++) {
        rng_state = 0x8EBC6AF09C88C6E3ull * (uint64_t)seed;
        i128 v = gen_edge_integer();
        char text[64], item_json[160];
        i128_text(v, text);
        snprintf(item_json, sizeof item_json, "{\"pk\":{\"S\":\"k\"},\"n\":{\"N\":\"%s\"}}", text);
        dm_arena *a = dm_arena_new(0);
        ddb_item it;
        CHECK_INT(ddb_item_decode(item_json, strlen(item_json), a, &it, NULL, NULL), DM_OK);
        lua_result r;
        dm_error err = {0};
        int rc = lua_host_migrate(h, &it, 0, a, &r, &err);
        const i128 safe = (i128)1 << 53;
        bool lua_int = v >= -safe && v <= safe;
        if (lua_int && (v + 1 > safe || v - 1 < -safe)) {
            /* A Lua integer result beyond 2^53 is refused, never written. */
            if (rc != DM_ERR_INVALID || !strstr(err.message, "a Lua integer beyond"))
                fprintf(stderr, "seed %d: n = %s: %s\n", seed, text, err.message);
            CHECK_INT(rc, DM_ERR_INVALID);
            CHECK_CONTAINS(err.message, "a Lua integer beyond");
            wrap_errors++;
        } else {
            if (rc)
                fprintf(stderr, "seed %d: n = %s: %s\n", seed, text, err.message);
            CHECK_INT(rc, DM_OK);
            const char *names[] = {"plus", "minus", "back"};
            i128 want[] = {v + 1, v - 1, v};
            for (int k = 0; k < 3; k++) {
                char want_text[64];
                ddb_number got, expect;
                i128_text(want[k], want_text);
                CHECK_INT(written(&r.item, names[k], &got), DM_OK);
                CHECK_INT(ddb_number_parse(want_text, strlen(want_text), &expect, NULL), DM_OK);
                if (ddb_number_cmp(&got, &expect) != 0)
                    fprintf(stderr, "seed %d: n = %s: %s is not %s\n", seed, text, names[k], want_text);
                CHECK(ddb_number_cmp(&got, &expect) == 0);
            }
            exact++;
        }
        dm_arena_free(a);
    }
    /* Both kinds of case came up. */
    CHECK(wrap_errors > 50 && exact > 1000);
    lua_host_free(h);
}

TEST(decimals_near_the_limits_stay_exact_or_fail)
{
    lua_host *h = host("local n, D = item.n, ddb.decimal\n"
                       "assert(getmetatable(n) == nil or getmetatable(n).__name == 'ddb.decimal')\n"
                       "local d = D(n)\n"
                       "assert(-(-d) == d and d - d == D(0) and d * 1 == d and d / 1 == d and d + 0 == d)\n"
                       "assert(tostring(D(tostring(d))) == tostring(d), 'text round trip')\n"
                       "item.same = n\n"
                       "local ok, big = pcall(function() return d * D('1E+10') end)\n"
                       "if ok then item.big = big / D('1E+10') end\n"
                       "local ok2, small = pcall(function() return d / D('1E+10') end)\n"
                       "if ok2 then item.small = small * D('1E+10') end\n"
                       "return item\n");
    CHECK(h != NULL);
    int overflow = 0, underflow = 0;
    for (int seed = 1; seed <= 3000; seed++) {
        rng_state = 0x2545F4914F6CDD1Dull * (uint64_t)seed;
        char text[80], item_json[200];
        gen_edge_text(text, sizeof text);
        snprintf(item_json, sizeof item_json, "{\"pk\":{\"S\":\"k\"},\"n\":{\"N\":\"%s\"}}", text);
        dm_arena *a = dm_arena_new(0);
        ddb_item it;
        CHECK_INT(ddb_item_decode(item_json, strlen(item_json), a, &it, NULL, NULL), DM_OK);
        lua_result r;
        dm_error err = {0};
        int rc = lua_host_migrate(h, &it, 0, a, &r, &err);
        if (rc)
            fprintf(stderr, "seed %d: n = %s: %s\n", seed, text, err.message);
        CHECK_INT(rc, DM_OK);
        ddb_number n, same, big, small;
        CHECK_INT(ddb_number_parse(text, strlen(text), &n, NULL), DM_OK);
        /* The value read is the value written, -0 included, and a value
         * equal to the original keeps its text. */
        CHECK_INT(written(&r.item, "same", &same), DM_OK);
        CHECK(ddb_number_cmp(&same, &n) == 0);
        const ddb_value *nv = ddb_item_get(&r.item, "n", 1);
        CHECK(nv->len == strlen(text) && memcmp(nv->data, text, nv->len) == 0);
        /* Scaling up and back down is exact, unless it leaves DynamoDB's
         * range, which is an error rather than a rounded result. */
        if (written(&r.item, "big", &big) == DM_OK)
            CHECK(ddb_number_cmp(&big, &n) == 0);
        else
            overflow++;
        if (written(&r.item, "small", &small) == DM_OK)
            CHECK(ddb_number_cmp(&small, &n) == 0);
        else
            underflow++;
        dm_arena_free(a);
    }
    CHECK(overflow > 100 && underflow > 100);
    lua_host_free(h);
}
