/* One Lua state per worker: a restricted environment, a memory cap via
 * the allocator, an instruction budget per item via a count hook, and
 * errors with tracebacks. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddbmig/lua_host.h"
#include "luaddb.h"

#define HOOK_EVERY 10000

struct lua_host {
    lua_State *L;
    size_t mem_used, mem_limit;
    long long instr_limit, instr_used;
    int ctx_ref, migrate_ref, traceback_ref;
    char chunk_name[300];
    void (*log)(void *ud, const char *line);
    void *log_ud;
};

static void *host_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    lua_host *h = ud;
    if (!ptr)
        osize = 0;
    if (nsize == 0) {
        free(ptr);
        h->mem_used -= osize;
        return NULL;
    }
    if (nsize > osize && h->mem_used + (nsize - osize) > h->mem_limit)
        return NULL; /* Lua raises "not enough memory" */
    void *p = realloc(ptr, nsize);
    if (p)
        h->mem_used = h->mem_used - osize + nsize;
    return p;
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_host *h;
    lua_getallocf(L, (void **)&h);
    h->instr_used += HOOK_EVERY;
    if (h->instr_used > h->instr_limit)
        luaL_error(L, "the script ran longer than %I instructions on one item", (lua_Integer)h->instr_limit);
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = luaL_tolstring(L, 1, NULL);
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static void default_log(void *ud, const char *line)
{
    (void)ud;
    fprintf(stderr, "script: %s\n", line);
}

/* ctx.log(...) and print(...): arguments joined by spaces. */
static int log_l(lua_State *L)
{
    lua_host *h;
    lua_getallocf(L, (void **)&h);
    luaL_Buffer b;
    int n = lua_gettop(L);
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, ' ');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    h->log(h->log_ud, lua_tostring(L, -1));
    return 0;
}

/* Base, coroutine, string, table, math and utf8, plus a safe part of os. No io, no
 * loading of files or modules, no os.exit or os.execute. */
static void open_sandbox(lua_State *L)
{
    static const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base}, {LUA_TABLIBNAME, luaopen_table},
                                    {LUA_STRLIBNAME, luaopen_string}, {LUA_MATHLIBNAME, luaopen_math},
                                    {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_OSLIBNAME, luaopen_os},
                                    {LUA_COLIBNAME, luaopen_coroutine},
                                    {NULL, NULL}};
    for (const luaL_Reg *l = libs; l->func; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    static const char *const drop[] = {"dofile", "loadfile", "load", "require", NULL};
    for (int i = 0; drop[i]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, drop[i]);
    }
    lua_getglobal(L, "os");
    static const char *const os_drop[] = {"exit", "execute", "remove", "rename", "tmpname", "getenv",
                                          "setlocale", NULL};
    for (int i = 0; os_drop[i]; i++) {
        lua_pushnil(L);
        lua_setfield(L, -2, os_drop[i]);
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, log_l);
    lua_setglobal(L, "print");
}

static void make_ctx(lua_host *h, const lua_host_options *o)
{
    lua_State *L = h->L;
    lua_newtable(L);
    lua_pushstring(L, o->now ? o->now : "");
    lua_setfield(L, -2, "now");
    lua_pushstring(L, o->migration ? o->migration : "");
    lua_setfield(L, -2, "migration");
    lua_pushstring(L, o->table ? o->table : "");
    lua_setfield(L, -2, "table");
    lua_pushinteger(L, 0);
    lua_setfield(L, -2, "segment");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "probe");
    lua_pushcfunction(L, log_l);
    lua_setfield(L, -2, "log");
    h->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Loads and runs the script's top level; leaves nothing on the stack. */
static int load_script(lua_host *h, const lua_host_options *o, dm_error *err)
{
    lua_State *L = h->L;
    dm_buf text;
    dm_buf_init(&text, 16 << 20);
    int rc;
    if (o->script_path) {
        if ((rc = dm_read_file(o->script_path, &text, err)) != DM_OK) {
            dm_buf_cleanup(&text);
            return err ? (err->code = DM_ERR_CONFIG) : DM_ERR_CONFIG;
        }
        snprintf(h->chunk_name, sizeof h->chunk_name, "@%s", o->script_path);
    } else {
        /* A one-liner is the body of migrate(item, ctx). */
        dm_buf_appendf(&text, "function migrate(item, ctx) %s\nend", o->code ? o->code : "");
        snprintf(h->chunk_name, sizeof h->chunk_name, "=-e");
    }
    h->instr_used = 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->traceback_ref);
    rc = luaL_loadbufferx(L, dm_buf_cstr(&text), text.len, h->chunk_name, "t");
    dm_buf_cleanup(&text);
    if (rc == LUA_OK)
        rc = lua_pcall(L, 0, 0, -2);
    if (rc != LUA_OK) {
        dm_error_set(err, DM_ERR_CONFIG, "%s", lua_tostring(L, -1));
        lua_settop(L, 0);
        return DM_ERR_CONFIG;
    }
    lua_settop(L, 0);
    lua_getglobal(L, "migrate");
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        return dm_error_set(err, DM_ERR_CONFIG, "%s defines no function migrate(item, ctx)",
                            o->script_path ? o->script_path : "-e");
    }
    h->migrate_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return DM_OK;
}

int lua_host_new(const lua_host_options *o, lua_host **out, dm_error *err)
{
    *out = NULL;
    if (!o->script_path && !o->code)
        return dm_error_set(err, DM_ERR_CONFIG, "give a script with --script FILE or -e CODE");
    lua_host *h = calloc(1, sizeof *h);
    if (!h)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    h->mem_limit = o->memory_limit_bytes ? o->memory_limit_bytes : (size_t)256 << 20;
    h->instr_limit = o->instruction_limit > 0 ? o->instruction_limit : 200000000LL;
    h->log = o->log ? o->log : default_log;
    h->log_ud = o->log_ud;
    h->L = lua_newstate(host_alloc, h);
    if (!h->L) {
        free(h);
        return dm_error_set(err, DM_ERR_NOMEM, "cannot create a Lua state");
    }
    open_sandbox(h->L);
    if (luaddb_open(h->L)) {
        dm_error_set(err, DM_ERR_CONFIG, "ddb library: %s", lua_tostring(h->L, -1));
        lua_host_free(h);
        return DM_ERR_CONFIG;
    }
    lua_pushcfunction(h->L, traceback);
    h->traceback_ref = luaL_ref(h->L, LUA_REGISTRYINDEX);
    make_ctx(h, o);
    lua_sethook(h->L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
    /* Per item, everything the script touches is garbage a moment later:
     * the generational collector suits that and keeps the heap small. */
    lua_gc(h->L, LUA_GCGEN, 0, 0);
    int rc = load_script(h, o, err);
    if (rc) {
        lua_host_free(h);
        return rc;
    }
    *out = h;
    return DM_OK;
}

void lua_host_free(lua_host *h)
{
    if (!h)
        return;
    lua_close(h->L);
    free(h);
}

typedef struct conv_args {
    const ddb_item *orig;
    dm_arena *a;
    ddb_item *out;
    char why[700];
    int rc;
} conv_args;

static int conv_entry(lua_State *L)
{
    conv_args *ca = lua_touserdata(L, 1);
    ca->rc = luaddb_to_item(L, 2, ca->orig, ca->a, ca->out, ca->why, sizeof ca->why);
    return 0;
}

/* Converts the value at the top of the stack under lua_pcall: reading
 * tables can raise (out of memory), and must not panic. */
static int convert_result(lua_State *L, const ddb_item *orig, dm_arena *a, ddb_item *out, dm_error *err)
{
    conv_args ca = {.orig = orig, .a = a, .out = out, .rc = DM_OK};
    int top = lua_gettop(L);
    lua_pushcfunction(L, conv_entry);
    lua_pushlightuserdata(L, &ca);
    lua_pushvalue(L, top);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK)
        return dm_error_set(err, DM_ERR_INVALID, "converting the item: %s", lua_tostring(L, -1));
    if (ca.rc)
        return dm_error_set(err, DM_ERR_INVALID, "migrate returned an item DynamoDB cannot store: %s", ca.why);
    return DM_OK;
}

static int run(lua_host *h, const ddb_item *orig, int segment, bool probe, dm_arena *a, lua_result *out,
               dm_error *err)
{
    lua_State *L = h->L;
    memset(out, 0, sizeof *out);
    luaddb_extras *x = luaddb_extras_of(L);
    memset(x, 0, sizeof *x);
    x->arena = a;
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->traceback_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->migrate_ref);
    luaddb_push_item(L, orig);
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->ctx_ref);
    lua_pushinteger(L, segment);
    lua_setfield(L, -2, "segment");
    lua_pushboolean(L, probe);
    lua_setfield(L, -2, "probe");
    h->instr_used = 0;
    int rc = DM_OK;
    if (lua_pcall(L, 2, 1, 1) != LUA_OK) {
        rc = dm_error_set(err, DM_ERR_INVALID, "%s", lua_tostring(L, -1));
    } else if (lua_isnil(L, -1)) {
        out->outcome = LUA_UNCHANGED;
    } else if (luaddb_is_delete(L, -1)) {
        out->outcome = LUA_DELETE;
    } else if (lua_type(L, -1) == LUA_TTABLE) {
        out->outcome = LUA_WRITE;
        rc = convert_result(L, orig, a, &out->item, err);
    } else {
        rc = dm_error_set(err, DM_ERR_INVALID, "migrate returned a %s; return the item, nil, or ddb.DELETE",
                          luaL_typename(L, -1));
    }
    out->extras = x->items;
    out->n_extras = x->n;
    memset(x, 0, sizeof *x);
    lua_settop(L, 0);
    return rc;
}

int lua_host_migrate(lua_host *h, const ddb_item *orig, int segment, dm_arena *a, lua_result *out, dm_error *err)
{
    return run(h, orig, segment, false, a, out, err);
}

int lua_host_probe(lua_host *h, dm_error *err)
{
    ddb_item empty = {0};
    lua_result r;
    dm_arena *a = dm_arena_new(0);
    if (!a)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    int rc = run(h, &empty, -1, true, a, &r, err);
    dm_arena_free(a);
    if (rc) {
        char msg[sizeof err->message];
        dm_strlcpy(msg, err->message, sizeof msg);
        dm_error_set(err, DM_ERR_INVALID,
                     "migrate fails on an item without attributes (ctx.probe is true); items lacking an "
                     "attribute it uses will be per-item errors: %s",
                     msg);
        return DM_ERR_INVALID;
    }
    return DM_OK;
}

int lua_host_eval_item(lua_host *h, const char *expr, dm_arena *a, ddb_item *out, dm_error *err)
{
    lua_State *L = h->L;
    dm_buf code;
    dm_buf_init(&code, 0);
    dm_buf_appendf(&code, "return %s", expr);
    int rc = luaL_loadbufferx(L, dm_buf_cstr(&code), code.len, "=eval", "t");
    dm_buf_cleanup(&code);
    h->instr_used = 0;
    if (rc == LUA_OK)
        rc = lua_pcall(L, 0, 1, 0);
    if (rc != LUA_OK) {
        dm_error_set(err, DM_ERR_INVALID, "%s", lua_tostring(L, -1));
        lua_settop(L, 0);
        return DM_ERR_INVALID;
    }
    rc = convert_result(L, NULL, a, out, err);
    lua_settop(L, 0);
    return rc;
}
