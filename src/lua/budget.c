/* The per-item instruction budget: the count hook, charges from C, and
 * the trip that keeps a script from running on once its budget is spent
 * or the run is interrupted (see budget.h for the whole story).
 *
 * Why raising from the hook is not enough on its own: pcall catches the
 * error, and an error raised inside a hook runs the message handler with
 * hooks off. So after a trip the hook fires before every instruction
 * (count 1), the host's message handlers return the trip's message
 * without calling script code, coroutines refuse to resume, and __gc
 * (which Lua runs with hooks off) is not available to scripts at all. */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "budget.h"

static void hook(lua_State *L, lua_Debug *ar);

static char K_ATTACHED;

void budget_attach(lua_State *L, budget *b, long long limit)
{
    budget_init(b, L, limit, NULL);
    lua_pushlightuserdata(L, b);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &K_ATTACHED);
}

budget *budget_attached(lua_State *L)
{
    if (!lua_checkstack(L, 1))
        return NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &K_ATTACHED);
    budget *b = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return b;
}

void budget_init(budget *b, lua_State *L, long long limit, volatile sig_atomic_t *stop)
{
    memset(b, 0, sizeof *b);
    b->limit = limit;
    b->stop = stop;
    b->main = L;
    b->running = L;
    lua_sethook(L, hook, LUA_MASKCOUNT, BUDGET_HOOK_EVERY);
}

void budget_start(budget *b)
{
    b->used = 0;
    b->byte_rest = 0;
    if (b->state != BUDGET_OK || b->forced)
        lua_sethook(b->main, hook, LUA_MASKCOUNT, BUDGET_HOOK_EVERY);
    b->state = BUDGET_OK;
    b->forced = false;
    b->running = b->main;
    b->message[0] = '\0';
}

void budget_bytes(budget *b, size_t n)
{
    if (!b->main)
        return; /* the state is being made */
    size_t total = b->byte_rest + n;
    b->used += (long long)(total >> 6);
    b->byte_rest = (unsigned)(total & 63);
    if (b->used > b->limit && !b->forced && b->state == BUDGET_OK) {
        /* lua_sethook only stores fields: safe inside an allocation. */
        b->forced = true;
        lua_sethook(b->running, hook, LUA_MASKCOUNT, 1);
    }
}

typedef struct tb_args {
    budget *b;
    int level;
} tb_args;

/* Appends a traceback to the trip's message; run under lua_pcall, as it
 * allocates. */
static int append_traceback(lua_State *L)
{
    tb_args *t = lua_touserdata(L, 1);
    luaL_traceback(L, L, NULL, t->level + 1);
    size_t used = strlen(t->b->message);
    snprintf(t->b->message + used, sizeof t->b->message - used, "\n%s", lua_tostring(L, -1));
    return 0;
}

/* Records the trip: its message names the innermost Lua function at or
 * above level (C functions have no line), then every thread that can run
 * next stops at its next instruction. */
static void trip(lua_State *L, budget *b, budget_state why, int level)
{
    b->state = why;
    char where[300] = "";
    lua_Debug ar;
    for (int lv = level; lua_getstack(L, lv, &ar); lv++) {
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
            snprintf(where, sizeof where, "%s:%d: ", ar.short_src, ar.currentline);
            break;
        }
    }
    if (why == BUDGET_INTERRUPTED)
        snprintf(b->message, sizeof b->message, "%sinterrupted", where);
    else
        snprintf(b->message, sizeof b->message, "%sthe script ran longer than %lld instructions %s", where, b->limit,
                 b->scope ? b->scope : "on one item");
    tb_args t = {.b = b, .level = level};
    if (lua_checkstack(L, 3)) {
        lua_pushcfunction(L, append_traceback);
        lua_pushlightuserdata(L, &t);
        if (lua_pcall(L, 1, 0, 0) != LUA_OK)
            lua_pop(L, 1); /* no memory left for a traceback: the message will do */
    }
    lua_sethook(b->main, hook, LUA_MASKCOUNT, 1);
    lua_sethook(L, hook, LUA_MASKCOUNT, 1);
}

static int raise_trip(lua_State *L, budget *b)
{
    lua_sethook(L, hook, LUA_MASKCOUNT, 1);
    lua_pushstring(L, b->message);
    return lua_error(L);
}

static void hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    budget *b = budget_of(L);
    if (!b)
        return;
    if (b->state == BUDGET_OK) {
        b->used += lua_gethookcount(L);
        if (b->stop && *b->stop)
            trip(L, b, BUDGET_INTERRUPTED, 0);
        else if (b->used > b->limit)
            trip(L, b, BUDGET_SPENT, 0);
        else
            return;
    }
    raise_trip(L, b);
}

void budget_charge(lua_State *L, long long units)
{
    budget *b = budget_of(L);
    if (!b)
        return;
    if (b->state == BUDGET_OK) {
        b->used += units;
        if (b->stop && *b->stop)
            trip(L, b, BUDGET_INTERRUPTED, 1);
        else if (b->used > b->limit)
            trip(L, b, BUDGET_SPENT, 1);
        else
            return;
    }
    raise_trip(L, b);
}

void budget_check(lua_State *L)
{
    budget *b = budget_of(L);
    if (b && b->state != BUDGET_OK)
        raise_trip(L, b);
}

bool budget_tripped(lua_State *L)
{
    budget *b = budget_of(L);
    return b && b->state != BUDGET_OK;
}

void budget_push_message(lua_State *L)
{
    budget *b = budget_of(L);
    lua_pushstring(L, b ? b->message : "");
}

lua_State *budget_enter(lua_State *L, lua_State *co)
{
    budget *b = budget_of(L);
    if (!b)
        return NULL;
    budget_charge(L, BUDGET_COROUTINE_HOOK_EVERY);
    /* Not on every resume: setting the hook restarts its count, and a
     * coroutine that yields often would never reach it. */
    if (lua_gethook(co) != hook || lua_gethookcount(co) != BUDGET_COROUTINE_HOOK_EVERY)
        lua_sethook(co, hook, LUA_MASKCOUNT, BUDGET_COROUTINE_HOOK_EVERY);
    lua_State *prev = b->running;
    b->running = co;
    return prev;
}

void budget_leave(lua_State *L, lua_State *prev)
{
    budget *b = budget_of(L);
    if (!b)
        return;
    b->running = prev ? prev : L;
    if (b->forced || b->state != BUDGET_OK)
        lua_sethook(L, hook, LUA_MASKCOUNT, 1);
}
