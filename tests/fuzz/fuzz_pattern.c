/* libFuzzer target for the Lua host's pattern matcher, against stock
 * Lua's: the input is a pattern and a subject. Ours runs first, within a
 * step budget; when it finishes, stock Lua gets the same case (its work
 * is of the same order, so it finishes too) and the answers of find,
 * match, gmatch and gsub must agree. The one allowed difference: ours
 * calls a malformed pattern an error even where stock Lua never reaches
 * the fault. Such a case is not given to stock Lua at all: ours rejects
 * the pattern before matching, while stock Lua may backtrack for hours
 * before it would reach the fault ("a*a*a*a*a*a*a*a*a*a*b%" against 48
 * a's), so "the same order" does not hold there. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "lua/budget.h"
#include "lua/pattern.h"

static const char harness[] =
    "local lib = ...\n"
    "local function ser(ok, ...)\n"
    "  local out = {ok and 'ok' or 'error'}\n"
    "  for i = 1, select('#', ...) do\n"
    "    local v = select(i, ...)\n"
    "    if type(v) == 'string' and not ok then v = v:gsub('^[^:]*:%d+: ', '') end\n"
    "    out[#out + 1] = type(v) == 'string' and (string.format('%q', v):gsub('\\n', 'n')) or tostring(v)\n"
    "  end\n"
    "  return table.concat(out, ',')\n"
    "end\n"
    "return function(s, p, init)\n"
    "  local r = {}\n"
    "  r[#r + 1] = ser(pcall(lib.find, s, p, init))\n"
    "  r[#r + 1] = ser(pcall(lib.match, s, p, init))\n"
    "  r[#r + 1] = ser(pcall(function()\n"
    "    local t = {}\n"
    "    for a, b in lib.gmatch(s, p, init) do\n"
    "      t[#t + 1] = tostring(a) .. '|' .. tostring(b)\n"
    "      if #t > 100 then break end\n"
    "    end\n"
    "    return table.concat(t, ';')\n"
    "  end))\n"
    "  r[#r + 1] = ser(pcall(lib.gsub, s, p, '<%0>'))\n"
    "  r[#r + 1] = ser(pcall(lib.gsub, s, p, function(a) return a end))\n"
    "  return table.concat(r, '\\n')\n"
    "end\n";

static lua_State *L;
static budget b;
static int stock_fn, ours_fn;

static int make_runner(lua_State *S, int lib)
{
    if (luaL_loadstring(S, harness) != LUA_OK)
        abort();
    lua_pushvalue(S, lib);
    lua_call(S, 1, 1);
    return luaL_ref(S, LUA_REGISTRYINDEX);
}

static void setup(void)
{
    L = luaL_newstate();
    luaL_openlibs(L);
    budget_attach(L, &b, 200000);
    lua_getglobal(L, "string");
    stock_fn = make_runner(L, lua_gettop(L));
    lua_newtable(L);
    pattern_open(L, -1);
    ours_fn = make_runner(L, lua_gettop(L));
    lua_settop(L, 0);
}

/* Runs the runner on the case; returns its text (on the stack). */
static const char *run(int fn, const char *s, size_t ls, const char *p, size_t lp, lua_Integer init)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, fn);
    lua_pushlstring(L, s, ls);
    lua_pushlstring(L, p, lp);
    lua_pushinteger(L, init);
    if (lua_pcall(L, 3, 1, 0) != LUA_OK)
        return NULL;
    return lua_tostring(L, -1);
}

static bool malformed(const char *line, size_t n)
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

/* True if ours called the pattern malformed in any line. */
static bool any_malformed(const char *ours)
{
    for (;;) {
        const char *e = strchr(ours, '\n');
        size_t n = e ? (size_t)(e - ours) : strlen(ours);
        if (malformed(ours, n))
            return true;
        if (!e)
            return false;
        ours = e + 1;
    }
}

/* Line by line (one line per function), the same answer, or ours calling
 * the pattern malformed. */
static bool same_answers(const char *ours, const char *stock)
{
    for (;;) {
        const char *oe = strchr(ours, '\n'), *se = strchr(stock, '\n');
        size_t on = oe ? (size_t)(oe - ours) : strlen(ours), sn = se ? (size_t)(se - stock) : strlen(stock);
        if ((on != sn || memcmp(ours, stock, on) != 0) && !malformed(ours, on))
            return false;
        if (!oe || !se)
            return !oe && !se;
        ours = oe + 1;
        stock = se + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!L)
        setup();
    if (size < 2)
        return 0;
    size_t lp = data[0] % 24;
    lua_Integer init = (lua_Integer)(data[1] % 16) - 4;
    data += 2;
    size -= 2;
    if (lp > size)
        lp = size;
    const char *p = (const char *)data, *s = p + lp;
    size_t ls = size - lp > 48 ? 48 : size - lp;
    budget_start(&b);
    const char *ours = run(ours_fn, s, ls, p, lp, init);
    if (!ours || strstr(ours, "ran longer than") || any_malformed(ours)) { /* stock might run for hours */
        lua_settop(L, 0);
        lua_gc(L, LUA_GCCOLLECT, 0);
        return 0;
    }
    budget_start(&b);
    const char *stock = run(stock_fn, s, ls, p, lp, init);
    if (!stock)
        abort();
    if (!same_answers(ours, stock))
        abort();
    lua_settop(L, 0);
    /* Leave the heap as it was found: libFuzzer runs a (slow) leak check
     * after any input that allocates more than it frees. */
    lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
