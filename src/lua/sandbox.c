/* The sandbox: Lua's standard libraries minus everything that reaches
 * outside the state (files, processes, the environment, loading code),
 * and with replacements where a stock function would let a script escape
 * the per-item budget (budget.h):
 *
 * - string.find/match/gmatch/gsub run on our own matcher, which charges
 *   its steps (pattern.c): the stock one can backtrack for hours inside a
 *   single call, where no hook fires;
 * - xpcall calls the script's message handler only while the budget is
 *   not spent (Lua runs a handler with hooks off when the error comes
 *   from a hook);
 * - coroutine.resume/wrap/close charge each resume, refuse to run script
 *   code after a trip, and never close a coroutine that died of one (its
 *   hooks may be off for good);
 * - setmetatable refuses __gc: finalizers run with hooks off;
 * - collectgarbage only collects, steps and counts, charged by the heap;
 * - next, rawget and rawset first convert what the call's item has not
 *   yet converted (its attributes are converted as they are read);
 * - table.move/insert/remove/sort/concat/unpack charge the elements they
 *   go through before they start, and string.rep of an empty string
 *   answers at once: a lying __len, a range of 2^62 or "" repeated 2^60
 *   times would otherwise loop in C for ever.
 *
 * Other C functions do work bounded by the size of their arguments,
 * which the memory cap bounds; what they allocate is charged by the
 * allocator.
 *
 * The replacements call the stock function's C code in their own call
 * frame, so its argument errors still name the function the script
 * called. */
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "budget.h"
#include "luaddb.h"
#include "pattern.h"
#include "sandbox.h"

static char K_DEAD_BY_TRIP;

static lua_CFunction stock(lua_State *L)
{
    return lua_tocfunction(L, lua_upvalueindex(1));
}

/* Replaces t[name] (t at idx) with f, which gets the stock function as
 * its first upvalue. */
static void wrap_field(lua_State *L, int idx, const char *name, lua_CFunction f)
{
    idx = lua_absindex(L, idx);
    lua_getfield(L, idx, name);
    lua_pushcclosure(L, f, 1);
    lua_setfield(L, idx, name);
}

static void drop_fields(lua_State *L, int idx, const char *const *names)
{
    idx = lua_absindex(L, idx);
    for (int i = 0; names[i]; i++) {
        lua_pushnil(L);
        lua_setfield(L, idx, names[i]);
    }
}

/* ---- charges before stock functions ------------------------------------ */

static long long table_len(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TTABLE ? (long long)luaL_len(L, idx) : 0;
}

static long long span(lua_Integer from, lua_Integer to)
{
    if (to < from)
        return 0;
    lua_Unsigned n = (lua_Unsigned)to - (lua_Unsigned)from;
    return n >= (lua_Unsigned)1 << 62 ? (long long)1 << 62 : (long long)n + 1;
}

/* table.move(a1, f, e, t [,a2]) goes through e - f + 1 elements. */
static int move_l(lua_State *L)
{
    budget_charge(L, span(luaL_checkinteger(L, 2), luaL_checkinteger(L, 3)));
    return stock(L)(L);
}

/* table.insert(t, pos, v) shifts #t - pos + 1 elements; table.insert(t, v)
 * none. */
static int insert_l(lua_State *L)
{
    if (lua_gettop(L) == 3) {
        lua_Integer pos = luaL_checkinteger(L, 2);
        budget_charge(L, span(pos, (lua_Integer)table_len(L, 1)));
    }
    return stock(L)(L);
}

/* table.remove(t, pos) shifts #t - pos elements. */
static int remove_l(lua_State *L)
{
    lua_Integer size = (lua_Integer)table_len(L, 1);
    lua_Integer pos = luaL_optinteger(L, 2, size);
    budget_charge(L, span(pos, size) - 1 > 0 ? span(pos, size) - 1 : 0);
    return stock(L)(L);
}

static int sort_l(lua_State *L)
{
    long long n = table_len(L, 1), log2 = 1;
    while (log2 < 62 && ((long long)1 << log2) < n)
        log2++;
    budget_charge(L, n > ((long long)1 << 62) / log2 ? (long long)1 << 62 : n * log2);
    return stock(L)(L);
}

/* table.concat(t, sep, i, j) and table.unpack(t, i, j): j - i + 1. */
static int concat_l(lua_State *L)
{
    lua_Integer i = luaL_optinteger(L, 3, 1);
    lua_Integer j = lua_isnoneornil(L, 4) ? (lua_Integer)table_len(L, 1) : luaL_checkinteger(L, 4);
    budget_charge(L, span(i, j));
    return stock(L)(L);
}

static int unpack_l(lua_State *L)
{
    lua_Integer i = luaL_optinteger(L, 2, 1);
    lua_Integer j = lua_isnoneornil(L, 3) ? (lua_Integer)table_len(L, 1) : luaL_checkinteger(L, 3);
    long long n = span(i, j);
    /* Beyond the stack's million slots the stock function refuses. */
    budget_charge(L, n > 1000000 ? 1000000 : n);
    return stock(L)(L);
}

/* string.rep("", n) copies nothing n times: answer at once. */
static int rep_l(lua_State *L)
{
    size_t l, lsep = 0;
    luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    if (n <= 0 || l + lsep == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    return stock(L)(L);
}

/* ---- base library ---------------------------------------------------------- */

static int setmetatable_l(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        int t = lua_rawget(L, 2);
        lua_pop(L, 1);
        if (t != LUA_TNIL)
            return luaL_error(L, "__gc metamethods are not available to scripts (Lua runs finalizers outside "
                                 "the instruction limit)");
    }
    return stock(L)(L);
}

/* next, rawget and rawset read and write the table as it is stored: the
 * call's item converts its attributes first (luaddb.h). */
static int raw_access_l(lua_State *L)
{
    luaddb_materialize(L, 1);
    return stock(L)(L);
}

static int collectgarbage_l(lua_State *L)
{
    static const char *const allowed[] = {"collect", "count", "step", "isrunning", NULL};
    int opt = luaL_checkoption(L, 1, "collect", allowed);
    if (opt == 0 || opt == 2) /* a collection goes through the heap */
        budget_charge(L, (long long)lua_gc(L, LUA_GCCOUNT, 0) * 16);
    return stock(L)(L);
}

/* The message handler of xpcall: the script's, unless the budget is
 * spent (then Lua may be running it with hooks off). */
static int guarded_handler(lua_State *L)
{
    if (budget_tripped(L)) {
        budget_push_message(L);
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* Results of xpcall; also its continuation after a yield. */
static int xpcall_done(lua_State *L, int status, lua_KContext first)
{
    if (status != LUA_OK && status != LUA_YIELD) {
        lua_pushboolean(L, 0);
        lua_pushvalue(L, -2);
        return 2;
    }
    return lua_gettop(L) - (int)first + 1;
}

/* xpcall(f, msgh, ...): the stack becomes f, msgh, handler, true, f, ...
 * and the call's results follow the true. */
static int xpcall_l(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, guarded_handler, 1);
    lua_pushboolean(L, 1);
    lua_pushvalue(L, 1);
    lua_rotate(L, 3, 3);
    int status = lua_pcallk(L, n - 2, LUA_MULTRET, 3, 4, xpcall_done);
    return xpcall_done(L, status, 4);
}

/* ---- coroutines ------------------------------------------------------------- */

static lua_State *coroutine_arg(lua_State *L)
{
    lua_State *co = lua_tothread(L, 1);
    luaL_argexpected(L, co != NULL, 1, "coroutine");
    return co;
}

static bool dead_by_trip(lua_State *L, lua_State *co)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &K_DEAD_BY_TRIP);
    lua_pushthread(co);
    lua_xmove(co, L, 1);
    bool dead = lua_rawget(L, -2) != LUA_TNIL;
    lua_pop(L, 2);
    return dead;
}

/* After a trip, raises its error in L; a coroutine that died meanwhile is
 * remembered, as it may have died with its hooks off. */
static void after_trip(lua_State *L, lua_State *co, int status)
{
    if (!budget_tripped(L))
        return;
    if (status != LUA_OK && status != LUA_YIELD && lua_checkstack(L, 3)) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &K_DEAD_BY_TRIP);
        lua_pushthread(co);
        lua_xmove(co, L, 1);
        lua_pushboolean(L, 1);
        lua_rawset(L, -3);
        lua_pop(L, 1);
    }
    budget_check(L);
}

/* Resumes co with the narg values at the top of L. Returns how many
 * values it moved back to L, or -1 with the error value on L's top. */
static int resume(lua_State *L, lua_State *co, int narg)
{
    if (!lua_checkstack(co, narg)) {
        lua_pushliteral(L, "too many arguments to resume");
        return -1;
    }
    budget_charge(L, narg);
    lua_State *prev = budget_enter(L, co);
    lua_xmove(L, co, narg);
    int nres;
    int status = lua_resume(co, L, narg, &nres);
    budget_leave(L, prev);
    after_trip(L, co, status);
    if (status == LUA_OK || status == LUA_YIELD) {
        if (!lua_checkstack(L, nres + 1)) {
            lua_pop(co, nres);
            lua_pushliteral(L, "too many results to resume");
            return -1;
        }
        budget_charge(L, nres);
        lua_xmove(co, L, nres);
        return nres;
    }
    lua_xmove(co, L, 1);
    return -1;
}

/* Runs co's pending __close handlers. Returns the status, the error (if
 * any) on co's top. */
static int close_pending(lua_State *L, lua_State *co)
{
    lua_State *prev = budget_enter(L, co);
#if LUA_VERSION_RELEASE_NUM >= 50406
    int status = lua_closethread(co, L);
#else
    int status = lua_resetthread(co);
#endif
    budget_leave(L, prev);
    budget_check(L);
    return status;
}

static int resume_l(lua_State *L)
{
    lua_State *co = coroutine_arg(L);
    int r = resume(L, co, lua_gettop(L) - 1);
    lua_pushboolean(L, r >= 0);
    if (r < 0) {
        lua_insert(L, -2);
        return 2;
    }
    lua_insert(L, -(r + 1));
    return r + 1;
}

static int wrapped_l(lua_State *L)
{
    lua_State *co = lua_tothread(L, lua_upvalueindex(1));
    int r = resume(L, co, lua_gettop(L));
    if (r >= 0)
        return r;
    int status = lua_status(co);
    if (status != LUA_OK && status != LUA_YIELD) { /* died: close what it left open */
        status = close_pending(L, co);
        lua_xmove(co, L, 1);
    }
    if (status != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
    }
    return lua_error(L);
}

static int wrap_l(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_State *co = lua_newthread(L);
    lua_pushvalue(L, 1);
    lua_xmove(L, co, 1);
    lua_pushcclosure(L, wrapped_l, 1);
    return 1;
}

static const char *status_of(lua_State *L, lua_State *co)
{
    if (L == co)
        return "running";
    lua_Debug ar;
    switch (lua_status(co)) {
    case LUA_YIELD: return "suspended";
    case LUA_OK:
        if (lua_getstack(co, 0, &ar))
            return "normal";
        return lua_gettop(co) == 0 ? "dead" : "suspended";
    default: return "dead";
    }
}

static int close_l(lua_State *L)
{
    lua_State *co = coroutine_arg(L);
    const char *st = status_of(L, co);
    if (strcmp(st, "dead") != 0 && strcmp(st, "suspended") != 0)
        return luaL_error(L, "cannot close a %s coroutine", st);
    budget_check(L);
    if (dead_by_trip(L, co)) {
        lua_pushboolean(L, 0);
        lua_pushliteral(L, "the coroutine was stopped by the instruction limit or an interrupt");
        return 2;
    }
    if (close_pending(L, co) == LUA_OK) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    lua_xmove(co, L, 1);
    return 2;
}

/* ---- opening ------------------------------------------------------------------ */

int sandbox_open(lua_State *L)
{
    static const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base},          {LUA_TABLIBNAME, luaopen_table},
                                    {LUA_STRLIBNAME, luaopen_string},   {LUA_MATHLIBNAME, luaopen_math},
                                    {LUA_UTF8LIBNAME, luaopen_utf8},    {LUA_OSLIBNAME, luaopen_os},
                                    {LUA_COLIBNAME, luaopen_coroutine}, {NULL, NULL}};
    for (const luaL_Reg *l = libs; l->func; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    lua_newtable(L); /* weak-keyed: coroutines that died of a trip */
    lua_newtable(L);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &K_DEAD_BY_TRIP);

    lua_pushglobaltable(L);
    static const char *const base_drop[] = {"dofile", "loadfile", "load", "require", NULL};
    drop_fields(L, -1, base_drop);
    wrap_field(L, -1, "setmetatable", setmetatable_l);
    wrap_field(L, -1, "collectgarbage", collectgarbage_l);
    wrap_field(L, -1, "next", raw_access_l);
    wrap_field(L, -1, "rawget", raw_access_l);
    wrap_field(L, -1, "rawset", raw_access_l);
    lua_pushcfunction(L, xpcall_l);
    lua_setfield(L, -2, "xpcall");
    lua_pop(L, 1);

    lua_getglobal(L, LUA_OSLIBNAME);
    static const char *const os_drop[] = {"exit",    "execute", "remove",    "rename",
                                          "tmpname", "getenv",  "setlocale", NULL};
    drop_fields(L, -1, os_drop);
    lua_pop(L, 1);

    lua_getglobal(L, LUA_STRLIBNAME);
    static const char *const string_drop[] = {"dump", NULL};
    drop_fields(L, -1, string_drop);
    wrap_field(L, -1, "rep", rep_l);
    pattern_open(L, -1);
    lua_pop(L, 1);

    lua_getglobal(L, LUA_TABLIBNAME);
    wrap_field(L, -1, "move", move_l);
    wrap_field(L, -1, "insert", insert_l);
    wrap_field(L, -1, "remove", remove_l);
    wrap_field(L, -1, "sort", sort_l);
    wrap_field(L, -1, "concat", concat_l);
    wrap_field(L, -1, "unpack", unpack_l);
    lua_pop(L, 1);

    lua_getglobal(L, LUA_COLIBNAME);
    static const luaL_Reg co[] = {{"resume", resume_l}, {"wrap", wrap_l}, {"close", close_l}, {NULL, NULL}};
    luaL_setfuncs(L, co, 0);
    lua_pop(L, 1);
    return 0;
}
