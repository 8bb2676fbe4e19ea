/* One Lua state per worker: the sandbox (sandbox.c), a memory cap via the
 * allocator, an instruction budget per item (budget.c), the script loaded
 * once from text the caller read, and migrate run per item with errors
 * that name the script, its line and the attribute at fault.
 *
 * A failed item (a Lua error, the instruction or memory limit, a value
 * DynamoDB cannot store) leaves the state in use for the next item rather
 * than rebuilding it: the stack is reset, a trip is cleared with the
 * hooks put back, and whatever the script left in its globals is its own
 * business, as after any caught error. Rebuilding would rerun the
 * script's top level per failure and lose nothing a failure can break. */
#include <ctype.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "lua/lua_host.h"
#include "luaddb.h"
#include "sandbox.h"

#define READ_PIECE_BYTES 65536

struct lua_host {
    lua_State *L;
    budget budget;
    size_t mem_used, mem_limit;
    char mem_text[32];    /* the limit, for people */
    int ctx_ref, migrate_ref, traceback_ref;
    char chunk[300];      /* "@path" or "=-e": Lua's chunk name */
    char name[260];       /* the path, or "-e", as errors show it */
    int migrate_line;     /* where migrate is defined */
    void (*log)(void *ud, const char *line);
    void *log_ud;
};

static void *host_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    lua_host *h = ud;
    if (!ptr)
        osize = 0; /* then osize tells the object's type */
    if (nsize == 0) {
        free(ptr);
        h->mem_used -= osize;
        return NULL;
    }
    if (nsize > osize) {
        if (h->mem_used + (nsize - osize) > h->mem_limit)
            return NULL; /* Lua collects and retries, then raises "not enough memory" */
        budget_bytes(&h->budget, nsize - osize);
    }
    void *p = realloc(ptr, nsize);
    if (p)
        h->mem_used = h->mem_used - osize + nsize;
    return p;
}

budget *budget_of(lua_State *L)
{
    void *ud;
    if (lua_getallocf(L, &ud) != host_alloc)
        return budget_attached(L);
    return &((lua_host *)ud)->budget;
}

static lua_host *host_of(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

/* Message handler of the host's calls: the error with a traceback; after
 * a trip, the trip's message, without running script code (__tostring)
 * that Lua may be running with hooks off. */
static int traceback(lua_State *L)
{
    if (budget_tripped(L)) {
        budget_push_message(L);
        return 1;
    }
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
    lua_host *h = host_of(L);
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

/* ---- setting up ---------------------------------------------------------------- */

typedef struct setup_args {
    lua_host *h;
    const lua_host_options *o;
} setup_args;

static void set_string(lua_State *L, const char *key, const char *value)
{
    lua_pushstring(L, key);
    lua_pushstring(L, value ? value : "");
    lua_rawset(L, -3);
}

/* The libraries, ddb and ctx; run protected, as any of it can run out of
 * memory. */
static int setup_entry(lua_State *L)
{
    setup_args *sa = lua_touserdata(L, 1);
    lua_host *h = sa->h;
    sandbox_open(L);
    lua_pushcfunction(L, log_l);
    lua_setglobal(L, "print");
    if (luaddb_open(L))
        return lua_error(L);
    lua_pushcfunction(L, traceback);
    h->traceback_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    set_string(L, "now", sa->o->now);
    set_string(L, "migration", sa->o->migration);
    set_string(L, "table", sa->o->table);
    lua_pushcfunction(L, log_l);
    lua_setfield(L, -2, "log");
    h->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* ---- loading the script -------------------------------------------------------- */

/* Feeds the parser: an optional prefix, then the text in pieces, looking
 * at the stop flag between pieces so that compiling a long script can be
 * interrupted. */
typedef struct reader {
    const char *prefix;
    size_t prefix_len;
    const char *text;
    size_t len, pos;
    volatile sig_atomic_t *stop;
    bool stopped;
} reader;

static const char *read_piece(lua_State *L, void *ud, size_t *size)
{
    (void)L;
    reader *r = ud;
    *size = 0;
    if (r->prefix_len) {
        *size = r->prefix_len;
        r->prefix_len = 0;
        return r->prefix;
    }
    if (r->stop && *r->stop) {
        r->stopped = true;
        return NULL;
    }
    size_t n = r->len - r->pos;
    if (n > READ_PIECE_BYTES)
        n = READ_PIECE_BYTES;
    const char *p = r->text + r->pos;
    r->pos += n;
    *size = n;
    return n ? p : NULL;
}

/* Index just past the long bracket ([[, [==[) opening at s[i], or 0. */
static size_t long_open(const char *s, size_t n, size_t i, size_t *level)
{
    size_t j = i + 1;
    while (j < n && s[j] == '=')
        j++;
    if (s[i] != '[' || j >= n || s[j] != '[')
        return 0;
    *level = j - i - 1;
    return j + 1;
}

/* Index just past the long bracket of this level closing after s[i]. */
static size_t long_close(const char *s, size_t n, size_t i, size_t level)
{
    for (; i < n; i++) {
        if (s[i] != ']')
            continue;
        size_t j = i + 1;
        while (j < n && s[j] == '=')
            j++;
        if (j < n && s[j] == ']' && j - i - 1 == level)
            return j + 1;
    }
    return n;
}

static bool is_name_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* Does a -e text define `function migrate (` itself (outside comments and
 * strings)? Then it is a whole script rather than migrate's body. */
static bool defines_migrate(const char *s, size_t n)
{
    bool after_function = false;
    size_t i = 0, level, past;
    while (i < n) {
        char c = s[i];
        if (c == '-' && i + 1 < n && s[i + 1] == '-') {
            i += 2;
            if ((past = long_open(s, n, i, &level)) != 0)
                i = long_close(s, n, past, level);
            else
                while (i < n && s[i] != '\n')
                    i++;
        } else if (c == '[' && (past = long_open(s, n, i, &level)) != 0) {
            i = long_close(s, n, past, level);
            after_function = false;
        } else if (c == '"' || c == '\'') {
            for (i++; i < n && s[i] != c; i++)
                if (s[i] == '\\')
                    i++;
            i++;
            after_function = false;
        } else if (is_name_char(c)) {
            size_t start = i;
            while (i < n && is_name_char(s[i]))
                i++;
            if (after_function && i - start == 7 && memcmp(s + start, "migrate", 7) == 0) {
                size_t j = i;
                while (j < n && isspace((unsigned char)s[j]))
                    j++;
                if (j < n && s[j] == '(')
                    return true;
            }
            after_function = i - start == 8 && memcmp(s + start, "function", 8) == 0;
        } else {
            if (!isspace((unsigned char)c))
                after_function = false;
            i++;
        }
    }
    return false;
}

typedef struct load_args {
    lua_host *h;
    reader r;
    bool body;
    int status;       /* of lua_load */
    char message[1024];
} load_args;

/* Compiles the script; a body becomes migrate itself, a whole script has
 * its top level run. Leaves what migrate is on the stack. */
static int load_entry(lua_State *L)
{
    load_args *la = lua_touserdata(L, 1);
    la->status = lua_load(L, read_piece, &la->r, la->h->chunk, "t");
    if (la->status != LUA_OK) {
        snprintf(la->message, sizeof la->message, "%s", lua_tostring(L, -1));
        return 0;
    }
    if (la->body) {
        /* A global, so tracebacks say "in function 'migrate'". */
        lua_pushvalue(L, -1);
        lua_setglobal(L, "migrate");
        return 1;
    }
    lua_call(L, 0, 0);
    lua_getglobal(L, "migrate");
    return 1;
}

static int load_script(lua_host *h, const lua_host_options *o, dm_error *err)
{
    lua_State *L = h->L;
    /* The body is compiled as a chunk of its own, with item and ctx as
     * its arguments on its first line: errors name the user's lines and
     * tokens, and there is no closing `end` to blame. */
    static const char prefix[] = "local item, ctx = ...; ";
    load_args la = {.h = h, .body = o->one_liner && !defines_migrate(o->script, o->script_len)};
    la.r = (reader){.text = o->script, .len = o->script_len, .stop = o->stop};
    if (la.body) {
        la.r.prefix = prefix;
        la.r.prefix_len = sizeof prefix - 1;
    }
    budget_start(&h->budget);
    h->budget.scope = "in its top level";
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->traceback_ref);
    lua_pushcfunction(L, load_entry);
    lua_pushlightuserdata(L, &la);
    int status = lua_pcall(L, 1, 1, 1);
    h->budget.scope = "on one item";
    int rc = DM_OK;
    if (h->budget.state == BUDGET_INTERRUPTED)
        rc = dm_error_set(err, DM_ERR_STOPPED, "%s", h->budget.message);
    else if (la.r.stopped)
        rc = dm_error_set(err, DM_ERR_STOPPED, "%s: interrupted while compiling the script", h->name);
    else if (h->budget.state == BUDGET_SPENT)
        rc = dm_error_set(err, DM_ERR_CONFIG, "%s", h->budget.message);
    else if (la.status == LUA_ERRMEM || status == LUA_ERRMEM)
        rc = dm_error_set(err, DM_ERR_CONFIG, "%s: loading the script needs more memory than the Lua state's limit "
                                              "of %s", h->name, h->mem_text);
    else if (la.status != LUA_OK)
        rc = dm_error_set(err, DM_ERR_CONFIG, "%s", la.message);
    else if (status != LUA_OK)
        rc = dm_error_set(err, DM_ERR_CONFIG, "%s", lua_tostring(L, -1));
    else if (!lua_isfunction(L, -1))
        rc = dm_error_set(err, DM_ERR_CONFIG, "%s: the script defines no function migrate(item, ctx)", h->name);
    if (rc == DM_OK) {
        lua_Debug ar;
        lua_pushvalue(L, -1);
        lua_getinfo(L, ">S", &ar);
        h->migrate_line = ar.linedefined > 0 ? ar.linedefined : 1;
        h->migrate_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_settop(L, 0);
    return rc;
}

int lua_host_new(const lua_host_options *o, lua_host **out, dm_error *err)
{
    *out = NULL;
    if (!o->script)
        return dm_error_set(err, DM_ERR_CONFIG, "give a script with --script FILE or -e CODE");
    lua_host *h = calloc(1, sizeof *h);
    if (!h)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    h->mem_limit = o->memory_limit_bytes ? o->memory_limit_bytes : (size_t)256 << 20;
    dm_format_bytes((int64_t)h->mem_limit, h->mem_text, sizeof h->mem_text);
    h->log = o->log ? o->log : default_log;
    h->log_ud = o->log_ud;
    const char *name = o->chunk_name && *o->chunk_name ? o->chunk_name : o->one_liner ? "-e" : "script";
    dm_strlcpy(h->name, name, sizeof h->name);
    snprintf(h->chunk, sizeof h->chunk, "%c%s", o->one_liner ? '=' : '@', h->name);
    h->L = lua_newstate(host_alloc, h);
    if (!h->L) {
        free(h);
        return dm_error_set(err, DM_ERR_NOMEM, "cannot create a Lua state");
    }
    budget_init(&h->budget, h->L, o->instruction_limit > 0 ? o->instruction_limit : 200000000LL, o->stop);
    /* Per item, everything the script touches is garbage a moment later:
     * the generational collector suits that and keeps the heap small. */
    lua_gc(h->L, LUA_GCGEN, 0, 0);
    setup_args sa = {.h = h, .o = o};
    lua_pushcfunction(h->L, setup_entry);
    lua_pushlightuserdata(h->L, &sa);
    if (lua_pcall(h->L, 1, 0, 0) != LUA_OK) {
        dm_error_set(err, DM_ERR_CONFIG, "setting up Lua: %s", lua_tostring(h->L, -1));
        lua_host_free(h);
        return DM_ERR_CONFIG;
    }
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

/* ---- running ------------------------------------------------------------------- */

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
static int convert_result(lua_host *h, const ddb_item *orig, dm_arena *a, ddb_item *out, dm_error *err)
{
    lua_State *L = h->L;
    conv_args ca = {.orig = orig, .a = a, .out = out, .rc = DM_OK};
    int top = lua_gettop(L);
    lua_pushcfunction(L, conv_entry);
    lua_pushlightuserdata(L, &ca);
    lua_pushvalue(L, top);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK)
        return dm_error_set(err, DM_ERR_LIMIT, "%s:%d: converting what migrate returned: %s", h->name,
                            h->migrate_line, lua_tostring(L, -1));
    if (ca.rc)
        return dm_error_set(err, DM_ERR_INVALID, "%s:%d: migrate returned an item DynamoDB cannot store: %s",
                            h->name, h->migrate_line, ca.why);
    return DM_OK;
}

typedef struct call_args {
    lua_host *h;
    const ddb_item *orig;
    int segment;
    bool probe;
} call_args;

/* Pushes migrate's arguments: the item as a table, and ctx. */
static int args_entry(lua_State *L)
{
    call_args *aa = lua_touserdata(L, 1);
    luaddb_push_item(L, aa->orig);
    lua_rawgeti(L, LUA_REGISTRYINDEX, aa->h->ctx_ref);
    lua_pushliteral(L, "segment");
    lua_pushinteger(L, aa->segment);
    lua_rawset(L, -3);
    lua_pushliteral(L, "probe");
    lua_pushboolean(L, aa->probe);
    lua_rawset(L, -3);
    return 2;
}

/* The outcome of a protected call of script code: DM_OK, or the error for
 * an interrupt, a spent budget, a lack of memory or a Lua error. */
static int call_outcome(lua_host *h, int status, dm_error *err)
{
    budget *b = &h->budget;
    if (b->state == BUDGET_INTERRUPTED)
        return dm_error_set(err, DM_ERR_STOPPED, "%s", b->message);
    if (b->state == BUDGET_SPENT)
        return dm_error_set(err, DM_ERR_LIMIT, "%s", b->message);
    if (b->used > b->limit) /* spent by allocations after the last instruction */
        return dm_error_set(err, DM_ERR_LIMIT, "%s:%d: the script ran longer than %lld instructions on one item",
                            h->name, h->migrate_line, b->limit);
    if (status == LUA_ERRMEM)
        return dm_error_set(err, DM_ERR_LIMIT, "%s:%d: not enough memory: migrate needs more than the Lua state's "
                                               "limit of %s", h->name, h->migrate_line, h->mem_text);
    if (status == LUA_ERRERR) /* the error's own handling failed, e.g. its __tostring */
        return dm_error_set(err, DM_ERR_INVALID, "%s:%d: migrate failed, and so did turning its error into a message",
                            h->name, h->migrate_line);
    if (status != LUA_OK)
        return dm_error_set(err, DM_ERR_INVALID, "%s", lua_tostring(h->L, -1));
    return DM_OK;
}

/* What migrate's result (at the top of the stack) asks for. */
static int outcome_of(lua_host *h, const ddb_item *orig, dm_arena *a, lua_result *out, dm_error *err)
{
    lua_State *L = h->L;
    int rc = DM_OK;
    if (lua_isnil(L, -1)) {
        out->outcome = LUA_UNCHANGED;
    } else if (luaddb_is_delete(L, -1)) {
        out->outcome = LUA_DELETE;
    } else if (lua_type(L, -1) == LUA_TTABLE) {
        out->outcome = LUA_WRITE;
        rc = convert_result(h, orig, a, &out->item, err);
    } else {
        rc = dm_error_set(err, DM_ERR_INVALID, "%s:%d: migrate returned a %s; return the item, nil, or ddb.DELETE",
                          h->name, h->migrate_line, luaL_typename(L, -1));
    }
    return rc;
}

static int run(lua_host *h, const ddb_item *orig, int segment, bool probe, dm_arena *a, lua_result *out,
               dm_error *err)
{
    lua_State *L = h->L;
    memset(out, 0, sizeof *out);
    if (h->budget.stop && *h->budget.stop)
        return dm_error_set(err, DM_ERR_STOPPED, "%s: interrupted", h->name);
    luaddb_extras *x = luaddb_extras_of(L);
    memset(x, 0, sizeof *x);
    x->arena = a;
    x->max_bytes = h->mem_limit;
    budget_start(&h->budget);
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->traceback_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->migrate_ref);
    call_args aa = {.h = h, .orig = orig, .segment = segment, .probe = probe};
    lua_pushcfunction(L, args_entry);
    lua_pushlightuserdata(L, &aa);
    int status = lua_pcall(L, 1, 2, 0);
    if (status == LUA_OK)
        status = lua_pcall(L, 2, 1, 1);
    int rc = call_outcome(h, status, err);
    if (rc == DM_OK)
        rc = outcome_of(h, orig, a, out, err);
    out->extras = x->items;
    out->n_extras = x->n;
    out->absent = x->absent;
    out->n_absent = x->n_absent;
    out->absent_overflow = x->absent_overflow;
    /* What the script saw of orig: only a lazy item of orig's own knows. */
    bool lazy = x->lazy_seen && x->lazy_src == orig;
    out->seen = lazy ? x->lazy_seen : NULL;
    out->saw_all = !lazy || x->lazy_all || x->absent_overflow;
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
    if (rc && rc != DM_ERR_STOPPED) {
        char msg[sizeof err->message];
        dm_strlcpy(msg, err->message, sizeof msg);
        dm_error_set(err, rc,
                     "migrate fails on an item without attributes (ctx.probe is true); items lacking an "
                     "attribute it uses will be per-item errors: %s",
                     msg);
    }
    return rc;
}

int lua_host_eval_item(lua_host *h, const char *expr, dm_arena *a, ddb_item *out, dm_error *err)
{
    lua_State *L = h->L;
    dm_buf code;
    dm_buf_init(&code, 0);
    dm_buf_appendf(&code, "return %s", expr);
    budget_start(&h->budget);
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->traceback_ref);
    int status = luaL_loadbufferx(L, dm_buf_cstr(&code), code.len, "=eval", "t");
    dm_buf_cleanup(&code);
    if (status == LUA_OK)
        status = lua_pcall(L, 0, 1, 1);
    int rc = call_outcome(h, status, err);
    if (rc == DM_OK)
        rc = convert_result(h, NULL, a, out, err);
    lua_settop(L, 0);
    return rc;
}
