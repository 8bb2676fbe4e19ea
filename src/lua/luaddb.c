/* The `ddb` library and item <-> Lua conversions.
 *
 * Type mapping: S string; N a Lua integer when integral and within ±2^53,
 * else a ddb.decimal (exact, see decimal.h); B ddb.binary; BOOL boolean; NULL ddb.null; M table; L
 * table marked as a list; SS/NS/BS ddb.set. Tables made by a script are
 * lists when their keys are exactly 1..n, maps otherwise (an empty table is
 * a map; ddb.list{} makes an empty list). */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "common/crypto.h"
#include "decimal.h"
#include "luaddb.h"

static char K_NULL, K_DELETE, K_KINDS, K_SETMT, K_SETNEW;

#define DECIMAL_MT "ddb.decimal"
#define BINARY_MT "ddb.binary"

typedef struct binary {
    size_t len;
    char data[];
} binary;

/* ---- decimal ------------------------------------------------------------ */

static void push_decimal(lua_State *L, const ddb_number *n)
{
    ddb_number *u = lua_newuserdatauv(L, sizeof *u, 0);
    *u = *n;
    luaL_setmetatable(L, DECIMAL_MT);
}

/* Any number-like value as a ddb_number; raises on anything else. */
static void to_number(lua_State *L, int idx, ddb_number *out)
{
    const char *why = NULL;
    ddb_number *u = luaL_testudata(L, idx, DECIMAL_MT);
    if (u) {
        *out = *u;
        return;
    }
    if (lua_isinteger(L, idx)) {
        char t[32];
        snprintf(t, sizeof t, "%lld", (long long)lua_tointeger(L, idx));
        ddb_number_parse(t, strlen(t), out, NULL);
        return;
    }
    if (lua_type(L, idx) == LUA_TNUMBER) {
        if (dec_from_double(lua_tonumber(L, idx), out, NULL, 0, &why))
            luaL_error(L, "%s", why);
        return;
    }
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        if (ddb_number_parse(s, n, out, &why)) /* not quoted: it may be an item's value */
            luaL_error(L, "the string is not a DynamoDB number (%s)", why);
        return;
    }
    luaL_error(L, "expected a number, got %s", luaL_typename(L, idx));
}

typedef int (*dec_op)(const ddb_number *, const ddb_number *, ddb_number *, const char **);

static int arith(lua_State *L, dec_op op, char kind)
{
    ddb_number a, b, r;
    const char *why = NULL;
    to_number(L, 1, &a);
    to_number(L, 2, &b);
    budget_charge(L, dec_cost(&a, &b, kind));
    if (op(&a, &b, &r, &why))
        return luaL_error(L, "decimal arithmetic: %s", why);
    push_decimal(L, &r);
    return 1;
}

static int dec_add_l(lua_State *L) { return arith(L, dec_add, '+'); }
static int dec_sub_l(lua_State *L) { return arith(L, dec_sub, '-'); }
static int dec_mul_l(lua_State *L) { return arith(L, dec_mul, '*'); }
static int dec_div_l(lua_State *L) { return arith(L, dec_div, '/'); }
static int dec_idiv_l(lua_State *L) { return arith(L, dec_idiv, '%'); }
static int dec_mod_l(lua_State *L) { return arith(L, dec_mod, '%'); }

/* d ^ x: a float, as ^ always is in Lua. */
static int dec_pow_l(lua_State *L)
{
    ddb_number a, b;
    to_number(L, 1, &a);
    to_number(L, 2, &b);
    lua_pushnumber(L, dec_to_double(&a));
    lua_pushnumber(L, dec_to_double(&b));
    lua_arith(L, LUA_OPPOW);
    return 1;
}

/* Bitwise operators work on the integer a decimal holds (within 64 bits),
 * as they do on Lua floats; the result is a Lua integer. */
static void to_bits(lua_State *L, int idx)
{
    ddb_number *u = luaL_testudata(L, idx, DECIMAL_MT);
    long long v;
    if (!u) {
        lua_pushvalue(L, idx);
        return;
    }
    if (!dec_to_int64(u, &v))
        luaL_error(L, "number has no integer representation");
    lua_pushinteger(L, (lua_Integer)v);
}

static int bitwise(lua_State *L, int op)
{
    to_bits(L, 1);
    if (op != LUA_OPBNOT) /* ~ takes one operand */
        to_bits(L, 2);
    lua_arith(L, op);
    return 1;
}

static int dec_band_l(lua_State *L) { return bitwise(L, LUA_OPBAND); }
static int dec_bor_l(lua_State *L) { return bitwise(L, LUA_OPBOR); }
static int dec_bxor_l(lua_State *L) { return bitwise(L, LUA_OPBXOR); }
static int dec_shl_l(lua_State *L) { return bitwise(L, LUA_OPSHL); }
static int dec_shr_l(lua_State *L) { return bitwise(L, LUA_OPSHR); }
static int dec_bnot_l(lua_State *L) { return bitwise(L, LUA_OPBNOT); }

static int dec_unm_l(lua_State *L)
{
    ddb_number a;
    to_number(L, 1, &a);
    if (a.n_digits)
        a.negative = !a.negative;
    push_decimal(L, &a);
    return 1;
}

static int dec_cmp(lua_State *L)
{
    ddb_number a, b;
    to_number(L, 1, &a);
    to_number(L, 2, &b);
    return ddb_number_cmp(&a, &b);
}

static int dec_eq_l(lua_State *L) { return lua_pushboolean(L, dec_cmp(L) == 0), 1; }
static int dec_lt_l(lua_State *L) { return lua_pushboolean(L, dec_cmp(L) < 0), 1; }
static int dec_le_l(lua_State *L) { return lua_pushboolean(L, dec_cmp(L) <= 0), 1; }

static int dec_tostring_l(lua_State *L)
{
    ddb_number a;
    char t[80];
    to_number(L, 1, &a);
    ddb_number_format(&a, t, sizeof t);
    lua_pushstring(L, t);
    return 1;
}

static int dec_concat_l(lua_State *L)
{
    luaL_tolstring(L, 1, NULL);
    luaL_tolstring(L, 2, NULL);
    lua_concat(L, 2);
    return 1;
}

static int dec_tointeger_l(lua_State *L)
{
    ddb_number a;
    long long v;
    to_number(L, 1, &a);
    if (dec_to_int64(&a, &v))
        lua_pushinteger(L, (lua_Integer)v);
    else
        lua_pushnil(L);
    return 1;
}

static int dec_tofloat_l(lua_State *L)
{
    ddb_number a;
    to_number(L, 1, &a);
    lua_pushnumber(L, dec_to_double(&a));
    return 1;
}

static int decimal_new_l(lua_State *L)
{
    ddb_number a;
    to_number(L, 1, &a);
    push_decimal(L, &a);
    return 1;
}

/* Canonical text of a number-like value: set membership keys. */
static int numkey_l(lua_State *L) { return dec_tostring_l(L); }

/* ---- binary ------------------------------------------------------------- */

static void push_binary(lua_State *L, const char *p, size_t n)
{
    binary *b = lua_newuserdatauv(L, sizeof *b + n, 0);
    b->len = n;
    if (n)
        memcpy(b->data, p, n);
    luaL_setmetatable(L, BINARY_MT);
}

static int binary_new_l(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    push_binary(L, s, n);
    return 1;
}

static int binary_from_base64_l(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    dm_buf b;
    dm_buf_init(&b, 0);
    if (dm_base64_decode(s, n, &b)) {
        dm_buf_cleanup(&b);
        return luaL_error(L, "ddb.frombase64: not valid base64");
    }
    push_binary(L, b.data ? b.data : "", b.len);
    dm_buf_cleanup(&b);
    return 1;
}

static int binary_len_l(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)((binary *)luaL_checkudata(L, 1, BINARY_MT))->len);
    return 1;
}

static int binary_bytes_l(lua_State *L)
{
    binary *b = luaL_checkudata(L, 1, BINARY_MT);
    lua_pushlstring(L, b->data, b->len);
    return 1;
}

static int binary_base64_l(lua_State *L)
{
    binary *b = luaL_checkudata(L, 1, BINARY_MT);
    dm_buf o;
    dm_buf_init(&o, 0);
    dm_base64_encode(b->data, b->len, &o);
    lua_pushlstring(L, o.data ? o.data : "", o.len);
    dm_buf_cleanup(&o);
    return 1;
}

static int binary_eq_l(lua_State *L)
{
    binary *a = luaL_testudata(L, 1, BINARY_MT), *b = luaL_testudata(L, 2, BINARY_MT);
    lua_pushboolean(L, a && b && a->len == b->len && memcmp(a->data, b->data, a->len) == 0);
    return 1;
}

static int is_binary_l(lua_State *L) { return lua_pushboolean(L, luaL_testudata(L, 1, BINARY_MT) != NULL), 1; }
static int is_decimal_l(lua_State *L) { return lua_pushboolean(L, luaL_testudata(L, 1, DECIMAL_MT) != NULL), 1; }

/* ---- lists, maps, sentinels -------------------------------------------- */

static void kinds(lua_State *L) { lua_rawgetp(L, LUA_REGISTRYINDEX, &K_KINDS); }

static int mark(lua_State *L, const char *kind)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    kinds(L);
    lua_pushvalue(L, 1);
    lua_pushstring(L, kind);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_settop(L, 1);
    return 1;
}

static int list_l(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    return mark(L, "L");
}

static int map_l(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    return mark(L, "M");
}

static int sentinel_tostring(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    return 1;
}

/* A unique, immutable value (ddb.null, ddb.DELETE), kept in the registry. */
static void push_sentinel(lua_State *L, const void *key, const char *name)
{
    lua_newuserdatauv(L, 1, 0);
    lua_newtable(L);
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
    lua_pushstring(L, name);
    lua_pushcclosure(L, sentinel_tostring, 1);
    lua_setfield(L, -2, "__tostring");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, key);
}

int luaddb_is_delete(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &K_DELETE);
    int r = lua_rawequal(L, idx, -1);
    lua_pop(L, 1);
    return r;
}

static int is_null(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &K_NULL);
    int r = lua_rawequal(L, idx, -1);
    lua_pop(L, 1);
    return r;
}

/* ---- sets (in Lua: simple, and iteration comes for free) ----------------- */

/* Errors name the script's line: `lvl` counts frames up to the caller of
 * the public function (add, remove, has, ddb.set). */
static const char set_prelude[] =
    "local C = ...\n"
    "local type, error, pairs, ipairs, next, tostring, setmetatable = type, error, pairs, ipairs, next, tostring, setmetatable\n"
    "local sort, concat = table.sort, table.concat\n"
    "local Set = {__name = 'ddb.set', __metatable = 'ddb.set'}\n"
    "Set.__index = Set\n"
    "local function key(v, lvl)\n"
    "  local t = type(v)\n"
    "  if t == 'string' then return 'S', 's' .. v end\n"
    "  if t == 'number' or C.is_decimal(v) then return 'N', 'n' .. C.numkey(v) end\n"
    "  if C.is_binary(v) then return 'B', 'b' .. v:bytes() end\n"
    "  error('a set holds strings, numbers or binary values, not ' .. t, lvl + 1)\n"
    "end\n"
    "local function add(self, v, lvl)\n"
    "  local k, kk = key(v, lvl + 1)\n"
    "  if self._kind and self._kind ~= k then\n"
    "    error('cannot add a ' .. k .. ' value to a set of ' .. self._kind, lvl + 1)\n"
    "  end\n"
    "  self._kind = k\n"
    "  if self._m[kk] == nil then self._n = self._n + 1 end\n"
    "  self._m[kk] = v\n"
    "end\n"
    "function Set:add(v) add(self, v, 2); return self end\n"
    "function Set:remove(v)\n"
    "  local _, kk = key(v, 2)\n"
    "  if self._m[kk] ~= nil then self._m[kk] = nil; self._n = self._n - 1 end\n"
    "  return self\n"
    "end\n"
    "function Set:has(v) local _, kk = key(v, 2); return self._m[kk] ~= nil end\n"
    "function Set:len() return self._n end\n"
    "Set.__len = Set.len\n"
    "function Set:items()\n"
    "  local t = {}\n"
    "  for _, v in pairs(self._m) do t[#t + 1] = v end\n"
    "  return t\n"
    "end\n"
    "function Set:iter()\n"
    "  local k, v\n"
    "  return function() k, v = next(self._m, k); return v end\n"
    "end\n"
    "function Set:type() return self._kind and (self._kind .. 'S') end\n"
    "Set.__tostring = function(s)\n"
    "  local t = {}\n"
    "  for _, v in pairs(s._m) do t[#t + 1] = tostring(v) end\n"
    "  sort(t)\n"
    "  return 'ddb.set{' .. concat(t, ', ') .. '}'\n"
    "end\n"
    "local function new(list)\n"
    "  local s = setmetatable({_m = {}, _n = 0}, Set)\n"
    "  if list ~= nil then\n"
    "    if type(list) ~= 'table' then error('ddb.set wants a list of values', 2) end\n"
    "    for _, v in ipairs(list) do add(s, v, 2) end\n"
    "  end\n"
    "  return s\n"
    "end\n"
    "return Set, new\n";

static int open_sets(lua_State *L)
{
    if (luaL_loadbuffer(L, set_prelude, sizeof set_prelude - 1, "=ddb.set"))
        return -1;
    lua_newtable(L);
    lua_pushcfunction(L, is_decimal_l);
    lua_setfield(L, -2, "is_decimal");
    lua_pushcfunction(L, is_binary_l);
    lua_setfield(L, -2, "is_binary");
    lua_pushcfunction(L, numkey_l);
    lua_setfield(L, -2, "numkey");
    if (lua_pcall(L, 1, 2, 0))
        return -1;
    lua_rawsetp(L, LUA_REGISTRYINDEX, &K_SETNEW);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &K_SETMT);
    return 0;
}

/* ---- item -> Lua -------------------------------------------------------- */

static void push_value(lua_State *L, const ddb_value *v);

static void push_number(lua_State *L, const char *s, size_t n)
{
    ddb_number num;
    long long i;
    if (ddb_number_parse(s, n, &num, NULL) != DM_OK) {
        lua_pushlstring(L, s, n); /* the decoder validated; cannot happen */
        return;
    }
    /* Beyond 2^53 a Lua integer would wrap on overflow without notice, so
     * the script gets an exact decimal there. */
    if (dec_to_int64(&num, &i) && i >= -DEC_SAFE_INT && i <= DEC_SAFE_INT)
        lua_pushinteger(L, (lua_Integer)i);
    else
        push_decimal(L, &num);
}

static void push_scalar(lua_State *L, const ddb_value *v)
{
    if (v->type == DDB_N)
        push_number(L, v->data, v->len);
    else if (v->type == DDB_B)
        push_binary(L, v->data, v->len);
    else
        lua_pushlstring(L, v->data, v->len);
}

static void push_value(lua_State *L, const ddb_value *v)
{
    luaL_checkstack(L, 8, "nested too deeply");
    switch (v->type) {
    case DDB_S: case DDB_N: case DDB_B: push_scalar(L, v); break;
    case DDB_BOOL: lua_pushboolean(L, v->boolean); break;
    case DDB_NULL: lua_rawgetp(L, LUA_REGISTRYINDEX, &K_NULL); break;
    case DDB_M:
        lua_createtable(L, 0, (int)v->n);
        for (size_t i = 0; i < v->n; i++) {
            lua_pushlstring(L, v->names[i].p, v->names[i].n);
            push_value(L, &v->items[i]);
            lua_rawset(L, -3);
        }
        if (v->n == 0) { /* keep an empty map a map */
            kinds(L);
            lua_pushvalue(L, -2);
            lua_pushliteral(L, "M");
            lua_rawset(L, -3);
            lua_pop(L, 1);
        }
        break;
    case DDB_L:
        lua_createtable(L, (int)v->n, 0);
        for (size_t i = 0; i < v->n; i++) {
            push_value(L, &v->items[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        kinds(L);
        lua_pushvalue(L, -2);
        lua_pushliteral(L, "L");
        lua_rawset(L, -3);
        lua_pop(L, 1);
        break;
    default: /* sets */
        lua_rawgetp(L, LUA_REGISTRYINDEX, &K_SETNEW);
        lua_createtable(L, (int)v->n, 0);
        for (size_t i = 0; i < v->n; i++) {
            push_scalar(L, &v->items[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_call(L, 1, 1);
    }
}

static char K_ITEMMT;

/* The call's item is pushed empty: an attribute is converted when the
 * script first reads it (__index), and one it never touches is never
 * converted, here or back (luaddb_to_item keeps its wire value). Most
 * scripts touch a few attributes of many. The seen flags say which
 * attributes the table holds for itself: read, written or deleted. */
void luaddb_push_item(lua_State *L, const ddb_item *it)
{
    luaddb_extras *x = luaddb_extras_of(L);
    unsigned char *seen = x && x->arena ? dm_arena_alloc(x->arena, it->n + 1) : NULL;
    bool lazy = seen != NULL;
    lua_createtable(L, 0, (int)it->n + 2);
    if (lazy) {
        memset(seen, 0, it->n + 1);
        x->lazy_table = lua_topointer(L, -1);
        x->lazy_src = it;
        x->lazy_seen = seen;
        x->lazy_all = false;
    } else {
        for (size_t i = 0; i < it->n; i++) {
            lua_pushlstring(L, it->names[i].p, it->names[i].n);
            push_value(L, &it->values[i]);
            lua_rawset(L, -3);
        }
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &K_ITEMMT);
    lua_setmetatable(L, -2);
}

/* The live lazy item's extras when idx is it, else NULL. */
static luaddb_extras *lazy_of(lua_State *L, int idx)
{
    luaddb_extras *x = luaddb_extras_of(L);
    return x && x->lazy_table && lua_type(L, idx) == LUA_TTABLE && lua_topointer(L, idx) == x->lazy_table ? x
                                                                                                           : NULL;
}

/* The index of name k in the live item's source, or -1. */
static long lazy_find(const luaddb_extras *x, const char *k, size_t n)
{
    const ddb_item *it = x->lazy_src;
    for (size_t i = 0; i < it->n; i++)
        if (it->names[i].n == n && memcmp(it->names[i].p, k, n) == 0)
            return (long)i;
    return -1;
}

void luaddb_materialize(lua_State *L, int idx)
{
    luaddb_extras *x = lazy_of(L, idx);
    if (!x)
        return;
    idx = lua_absindex(L, idx);
    x->lazy_all = true;
    const ddb_item *it = x->lazy_src;
    for (size_t i = 0; i < it->n; i++) {
        if (x->lazy_seen[i])
            continue;
        x->lazy_seen[i] = 1;
        lua_pushlstring(L, it->names[i].p, it->names[i].n);
        push_value(L, &it->values[i]);
        lua_rawset(L, idx);
    }
}

/* Notes an absent name (see luaddb_extras.absent); answers nil. */
static int item_absent(lua_State *L, luaddb_extras *x, const char *k, size_t n)
{
    for (size_t i = 0; i < x->n_absent; i++)
        if (x->absent[i].n == n && memcmp(x->absent[i].p, k, n) == 0)
            return 0;
    if (x->n_absent == LUADDB_MAX_ABSENT) {
        x->absent_overflow = true;
        return 0;
    }
    /* Most scripts look for one or two names: grow from 4. */
    if (x->n_absent == x->cap_absent) {
        size_t cap = x->cap_absent ? 2 * x->cap_absent : 4;
        dm_str *p = dm_arena_alloc(x->arena, cap * sizeof *p);
        if (!p)
            return luaL_error(L, "not enough memory");
        if (x->n_absent)
            memcpy(p, x->absent, x->n_absent * sizeof *p);
        x->absent = p;
        x->cap_absent = cap;
    }
    char *copy = dm_arena_strndup(x->arena, k, n);
    if (!copy)
        return luaL_error(L, "not enough memory");
    x->absent[x->n_absent++] = (dm_str){copy, n};
    return 0;
}

/* __index of the item table, called only for names the table lacks: the
 * source's attribute, converted now and kept in the table; nil for one
 * the script deleted; else nil, noting the name as absent. A table kept
 * from an earlier call answers nil. */
static int item_index_l(lua_State *L)
{
    luaddb_extras *x = lazy_of(L, 1);
    size_t n;
    const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &n) : NULL;
    if (!k || !x || !x->arena)
        return 0;
    long i = lazy_find(x, k, n);
    if (i < 0)
        return item_absent(L, x, k, n);
    if (x->lazy_seen[i])
        return 0;
    x->lazy_seen[i] = 1;
    push_value(L, &x->lazy_src->values[i]);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
    return 1;
}

/* __newindex, for names the table lacks: the script's value replaces
 * the source's (nil deletes it). */
static int item_newindex_l(lua_State *L)
{
    luaddb_extras *x = lazy_of(L, 1);
    size_t n;
    const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &n) : NULL;
    if (k && x) {
        long i = lazy_find(x, k, n);
        if (i >= 0)
            x->lazy_seen[i] = 1;
    }
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 0;
}

static int item_next_l(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_next(L, 1))
        return 2;
    lua_pushnil(L);
    return 1;
}

/* pairs(item): every attribute, converted first. */
static int item_pairs_l(lua_State *L)
{
    luaddb_materialize(L, 1);
    lua_pushcfunction(L, item_next_l);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static bool is_item_table(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        return false;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &K_ITEMMT);
    bool yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return yes;
}

/* ---- Lua -> item -------------------------------------------------------- */

typedef struct conv {
    lua_State *L;
    dm_arena *a;
    char *why;
    size_t why_size;
    char path[512];
    size_t path_len;
} conv;

static int bad(conv *c, const char *fmt, const char *detail)
{
    char msg[256];
    snprintf(msg, sizeof msg, fmt, detail ? detail : "");
    snprintf(c->why, c->why_size, "attribute %s: %s", c->path_len ? c->path : "(item)", msg);
    return DM_ERR_INVALID;
}

/* Appends to the path only if all of it fits: a path is for messages, and
 * a cut one would name another attribute. Runs per attribute converted,
 * so it copies rather than formats. */
static void path_put(conv *c, const char *s, size_t n)
{
    if (c->path_len + n < sizeof c->path) {
        memcpy(c->path + c->path_len, s, n);
        c->path_len += n;
        c->path[c->path_len] = '\0';
    }
}

static size_t path_push_name(conv *c, const char *name, size_t n)
{
    size_t old = c->path_len;
    if (old)
        path_put(c, ".", 1);
    path_put(c, name, n > 80 ? 80 : n);
    return old;
}

static size_t path_push_index(conv *c, size_t i)
{
    size_t old = c->path_len;
    char num[24];
    size_t k = sizeof num;
    num[--k] = ']';
    do
        num[--k] = (char)('0' + i % 10);
    while ((i /= 10) > 0);
    num[--k] = '[';
    path_put(c, num + k, sizeof num - k);
    return old;
}

static void path_pop(conv *c, size_t old)
{
    c->path_len = old;
    c->path[old] = '\0';
}

static int set_number_text(conv *c, const ddb_number *n, ddb_value *out)
{
    char t[80];
    ddb_number_format(n, t, sizeof t);
    out->type = DDB_N;
    out->len = strlen(t);
    out->data = dm_arena_strndup(c->a, t, out->len);
    return out->data ? DM_OK : bad(c, "out of memory", NULL);
}

/* A scalar for S, N, B (also set members). */
static int conv_scalar(conv *c, int idx, ddb_value *out)
{
    lua_State *L = c->L;
    const char *why = NULL;
    ddb_number n;
    memset(out, 0, sizeof *out);
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (!ddb_utf8_valid(s, len))
            return bad(c, "the string is not valid UTF-8 (use ddb.binary for bytes)", NULL);
        out->type = DDB_S;
        out->data = dm_arena_strndup(c->a, s, len);
        out->len = len;
        return out->data ? DM_OK : bad(c, "out of memory", NULL);
    }
    if (lua_isinteger(L, idx)) {
        lua_Integer v = lua_tointeger(L, idx);
        if (v < -DEC_SAFE_INT || v > DEC_SAFE_INT)
            return bad(c, "a Lua integer beyond ±2^53 cannot be written: Lua's 64-bit integer arithmetic wraps "
                          "around without notice there, so it may not be the intended number; compute large "
                          "numbers with ddb.decimal, which is exact%s", NULL);
        char t[32];
        snprintf(t, sizeof t, "%lld", (long long)v);
        out->type = DDB_N;
        out->len = strlen(t);
        out->data = dm_arena_strndup(c->a, t, out->len);
        return out->data ? DM_OK : bad(c, "out of memory", NULL);
    }
    if (lua_type(L, idx) == LUA_TNUMBER) {
        if (dec_from_double(lua_tonumber(L, idx), &n, NULL, 0, &why))
            return bad(c, "%s", why);
        return set_number_text(c, &n, out);
    }
    ddb_number *d = luaL_testudata(L, idx, DECIMAL_MT);
    if (d)
        return set_number_text(c, d, out);
    binary *b = luaL_testudata(L, idx, BINARY_MT);
    if (b) {
        out->type = DDB_B;
        out->data = dm_arena_strndup(c->a, b->data, b->len);
        out->len = b->len;
        return out->data ? DM_OK : bad(c, "out of memory", NULL);
    }
    return bad(c, "a %s cannot be stored in DynamoDB", luaL_typename(L, idx));
}

static int conv_value(conv *c, int idx, ddb_value *out, int depth);

static int conv_set(conv *c, int idx, ddb_value *out)
{
    lua_State *L = c->L;
    lua_getfield(L, idx, "_m");
    int m = lua_gettop(L);
    size_t n = 0, cap = 16;
    ddb_value *items = dm_arena_alloc(c->a, cap * sizeof *items);
    int rc = items ? DM_OK : bad(c, "out of memory", NULL);
    ddb_type member = DDB_NULL;
    lua_pushnil(L);
    while (rc == DM_OK && lua_next(L, m)) {
        if (n == cap) {
            ddb_value *bigger = dm_arena_alloc(c->a, cap * 2 * sizeof *items);
            if (!bigger) {
                lua_pop(L, 2);
                rc = bad(c, "out of memory", NULL);
                break;
            }
            memcpy(bigger, items, n * sizeof *items);
            items = bigger;
            cap *= 2;
        }
        size_t old = path_push_index(c, n);
        rc = conv_scalar(c, -1, &items[n]);
        if (rc == DM_OK && member != DDB_NULL && items[n].type != member)
            rc = bad(c, "a set cannot mix %s", "types");
        path_pop(c, old);
        member = items[n].type;
        n++;
        lua_pop(L, 1);
    }
    lua_settop(L, m - 1);
    if (rc)
        return rc;
    if (n == 0)
        return bad(c, "DynamoDB cannot store an empty set; remove the attribute instead", NULL);
    out->type = member == DDB_S ? DDB_SS : member == DDB_N ? DDB_NS : DDB_BS;
    out->items = items;
    out->n = n;
    return DM_OK;
}

/* Classifies a plain table: 'L' (keys 1..n, n > 0), 'M' (string keys or
 * empty), or 0 (mixed keys, reported). */
static char table_kind(conv *c, int idx, size_t *count)
{
    lua_State *L = c->L;
    kinds(L);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    const char *mk = lua_tostring(L, -1);
    char marked = mk ? mk[0] : 0;
    lua_pop(L, 2);
    size_t n = 0, strings = 0, ints = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        n++;
        if (lua_type(L, -2) == LUA_TSTRING)
            strings++;
        else if (lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1)
            ints++;
        lua_pop(L, 1);
    }
    *count = n;
    if (n == 0)
        return marked ? marked : 'M';
    if (strings == n && marked != 'L')
        return 'M';
    if (ints == n && lua_rawlen(L, idx) == n && marked != 'M')
        return 'L';
    return 0;
}

static int conv_list(conv *c, int idx, ddb_value *out, size_t n, int depth)
{
    out->type = DDB_L;
    out->n = n;
    out->items = dm_arena_alloc(c->a, (n ? n : 1) * sizeof *out->items);
    if (!out->items)
        return bad(c, "out of memory", NULL);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(c->L, idx, (lua_Integer)i + 1);
        size_t old = path_push_index(c, i);
        int rc = conv_value(c, lua_gettop(c->L), &out->items[i], depth + 1);
        path_pop(c, old);
        lua_pop(c->L, 1);
        if (rc)
            return rc;
    }
    return DM_OK;
}

static int conv_map(conv *c, int idx, ddb_value *out, size_t n, int depth)
{
    lua_State *L = c->L;
    out->type = DDB_M;
    out->items = dm_arena_alloc(c->a, (n ? n : 1) * sizeof *out->items);
    out->names = dm_arena_alloc(c->a, (n ? n : 1) * sizeof *out->names);
    if (!out->items || !out->names)
        return bad(c, "out of memory", NULL);
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            lua_pop(L, 2);
            return bad(c, "map keys must be strings (found a %s key)", luaL_typename(L, -1));
        }
        size_t kl;
        const char *k = lua_tolstring(L, -2, &kl);
        size_t old = path_push_name(c, k, kl);
        int rc = kl == 0 ? bad(c, "attribute names cannot be empty", NULL)
                 : !ddb_utf8_valid(k, kl) ? bad(c, "the name is not valid UTF-8", NULL)
                                          : conv_value(c, lua_gettop(L), &out->items[i], depth + 1);
        path_pop(c, old);
        if (rc) {
            lua_pop(L, 2);
            return rc;
        }
        out->names[i].p = dm_arena_strndup(c->a, k, kl);
        out->names[i].n = kl;
        i++;
        lua_pop(L, 1);
    }
    out->n = i;
    return DM_OK;
}

static int conv_table(conv *c, int idx, ddb_value *out, int depth)
{
    lua_State *L = c->L;
    if (depth > DDB_MAX_DEPTH || !lua_checkstack(L, 8))
        return bad(c, "nested deeper than DynamoDB's 32 levels (or a table contains itself)", NULL);
    luaddb_materialize(L, idx); /* the call's item inside another table */
    if (lua_getmetatable(L, idx)) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &K_SETMT);
        int is_set = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
        if (is_set)
            return conv_set(c, idx, out);
    }
    size_t n;
    char kind = table_kind(c, idx, &n);
    if (kind == 'L')
        return conv_list(c, idx, out, n, depth);
    if (kind == 'M')
        return conv_map(c, idx, out, n, depth);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int kt = lua_type(L, -2);
        if (kt != LUA_TSTRING && !(lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1)) {
            lua_pop(L, 2);
            return bad(c, "map keys must be strings (found a %s key)", lua_typename(L, kt));
        }
        lua_pop(L, 1);
    }
    return bad(c, "a table with both list and map keys (or holes) cannot be stored; use string keys "
                  "for a map or 1..n for a list", NULL);
}

static int conv_value(conv *c, int idx, ddb_value *out, int depth)
{
    lua_State *L = c->L;
    memset(out, 0, sizeof *out);
    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
        out->type = DDB_BOOL;
        out->boolean = lua_toboolean(L, idx);
        return DM_OK;
    case LUA_TTABLE: return conv_table(c, idx, out, depth);
    case LUA_TUSERDATA:
        if (is_null(L, idx)) {
            out->type = DDB_NULL;
            return DM_OK;
        }
        if (luaddb_is_delete(L, idx))
            return bad(c, "ddb.DELETE is a return value of migrate, not an attribute value", NULL);
        return conv_scalar(c, idx, out);
    case LUA_TNIL: return bad(c, "nil in a list cannot be stored", NULL);
    default: return conv_scalar(c, idx, out);
    }
}

static int cmp_names(const void *x, const void *y)
{
    const dm_str *a = x, *b = y;
    size_t n = a->n < b->n ? a->n : b->n;
    int r = memcmp(a->p, b->p, n);
    return r ? r : (a->n > b->n) - (a->n < b->n);
}

/* Orders attributes: the original's order first, then new ones by name,
 * so that what is written is stable from run to run. */
static void order_like(const ddb_item *orig, ddb_item *it)
{
    size_t k = 0;
    for (size_t i = 0; orig && i < orig->n; i++) {
        for (size_t j = k; j < it->n; j++) {
            if (it->names[j].n == orig->names[i].n && memcmp(it->names[j].p, orig->names[i].p, it->names[j].n) == 0) {
                dm_str tn = it->names[k];
                ddb_value tv = it->values[k];
                it->names[k] = it->names[j];
                it->values[k] = it->values[j];
                it->names[j] = tn;
                it->values[j] = tv;
                k++;
                break;
            }
        }
    }
    /* Sort the new names (a simple insertion sort: few new attributes). */
    for (size_t i = k + 1; i < it->n; i++) {
        for (size_t j = i; j > k && cmp_names(&it->names[j - 1], &it->names[j]) > 0; j--) {
            dm_str tn = it->names[j];
            ddb_value tv = it->values[j];
            it->names[j] = it->names[j - 1];
            it->values[j] = it->values[j - 1];
            it->names[j - 1] = tn;
            it->values[j - 1] = tv;
        }
    }
}

/* Appends the source's attributes the call's item never took over. */
static int add_untouched(conv *c, const luaddb_extras *x, ddb_value *m)
{
    const ddb_item *src = x->lazy_src;
    size_t extra = 0;
    for (size_t i = 0; i < src->n; i++)
        extra += !x->lazy_seen[i];
    if (!extra)
        return DM_OK;
    size_t n = m->n + extra;
    ddb_value *items = dm_arena_alloc(c->a, n * sizeof *items);
    dm_str *names = dm_arena_alloc(c->a, n * sizeof *names);
    if (!items || !names)
        return bad(c, "out of memory", NULL);
    if (m->n) {
        memcpy(items, m->items, m->n * sizeof *items);
        memcpy(names, m->names, m->n * sizeof *names);
    }
    size_t k = m->n;
    for (size_t i = 0; i < src->n; i++) {
        if (x->lazy_seen[i])
            continue;
        items[k] = src->values[i];
        names[k] = src->names[i];
        k++;
    }
    m->items = items;
    m->names = names;
    m->n = k;
    return DM_OK;
}

int luaddb_to_item(lua_State *L, int idx, const ddb_item *orig, dm_arena *a, ddb_item *out, char *why,
                   size_t why_size)
{
    conv c = {.L = L, .a = a, .why = why, .why_size = why_size};
    idx = lua_absindex(L, idx);
    memset(out, 0, sizeof *out);
    if (lua_type(L, idx) != LUA_TTABLE) {
        snprintf(why, why_size, "an item must be a table, not a %s", luaL_typename(L, idx));
        return DM_ERR_INVALID;
    }
    /* The call's own item, returned: what it holds converts back, what
     * the script never touched is the source's as it was. */
    luaddb_extras *x = lazy_of(L, idx);
    const ddb_item *keep = x && orig == x->lazy_src ? orig : NULL;
    if (!keep)
        luaddb_materialize(L, idx);
    size_t n;
    if (table_kind(&c, idx, &n) != 'M' || (!is_item_table(L, idx) && lua_getmetatable(L, idx) && (lua_pop(L, 1), 1))) {
        snprintf(why, why_size, "an item must be a table with attribute names as keys");
        return DM_ERR_INVALID;
    }
    ddb_value m;
    int rc = conv_map(&c, idx, &m, n, 1);
    if (rc)
        return rc;
    if (keep && (rc = add_untouched(&c, x, &m)) != DM_OK)
        return rc;
    for (size_t i = 0; orig && i < m.n; i++) {
        const ddb_value *ov = ddb_item_get(orig, m.names[i].p, m.names[i].n);
        if (ov && ddb_value_equal(ov, &m.items[i]))
            m.items[i] = *ov;
    }
    out->names = m.names;
    out->values = m.items;
    out->n = m.n;
    order_like(orig, out);
    return DM_OK;
}

/* ---- ddb.put --------------------------------------------------------------- */

static char K_EXTRAS_UD;

luaddb_extras *luaddb_extras_of(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &K_EXTRAS_UD);
    luaddb_extras *x = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return x;
}

static int put_l(lua_State *L)
{
    luaddb_extras *x = luaddb_extras_of(L);
    if (!x || !x->arena)
        return luaL_error(L, "ddb.put can only be called from migrate");
    char why[600];
    ddb_item it;
    if (luaddb_to_item(L, 1, NULL, x->arena, &it, why, sizeof why))
        return luaL_error(L, "ddb.put: %s", why);
    /* The items live in C memory until the call ends: cap them as the
     * Lua state is capped, and charge the copy. */
    size_t size = ddb_item_size(&it);
    budget_charge(L, (long long)(size / 64));
    x->bytes += size;
    if (x->max_bytes && x->bytes > x->max_bytes)
        return luaL_error(L, "ddb.put: the items put for one item exceed the memory limit");
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 4;
        ddb_item *items = dm_arena_alloc(x->arena, cap * sizeof *items);
        if (!items)
            return luaL_error(L, "ddb.put: out of memory");
        if (x->n)
            memcpy(items, x->items, x->n * sizeof *items);
        x->items = items;
        x->cap = cap;
    }
    x->items[x->n++] = it;
    return 0;
}

/* ---- registration ------------------------------------------------------ */

/* getmetatable gives scripts a stand-in holding only __name: the real
 * metatable stays out of reach, so no script can give it a __gc (which
 * Lua would run outside the instruction limit) or change how decimals
 * behave for the ddb library. */
static void new_metatable(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods)
{
    luaL_newmetatable(L, name);
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_createtable(L, 0, 1);
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}

int luaddb_open(lua_State *L)
{
    static const luaL_Reg dec_meta[] = {
        {"__add", dec_add_l}, {"__sub", dec_sub_l}, {"__mul", dec_mul_l}, {"__div", dec_div_l},
        {"__idiv", dec_idiv_l}, {"__mod", dec_mod_l}, {"__pow", dec_pow_l}, {"__unm", dec_unm_l},
        {"__band", dec_band_l}, {"__bor", dec_bor_l}, {"__bxor", dec_bxor_l}, {"__shl", dec_shl_l},
        {"__shr", dec_shr_l}, {"__bnot", dec_bnot_l}, {"__eq", dec_eq_l}, {"__lt", dec_lt_l}, {"__le", dec_le_l},
        {"__tostring", dec_tostring_l}, {"__concat", dec_concat_l}, {NULL, NULL}};
    static const luaL_Reg dec_methods[] = {
        {"tointeger", dec_tointeger_l}, {"tofloat", dec_tofloat_l}, {"tostring", dec_tostring_l}, {NULL, NULL}};
    static const luaL_Reg bin_meta[] = {
        {"__len", binary_len_l}, {"__eq", binary_eq_l}, {"__tostring", binary_base64_l}, {NULL, NULL}};
    static const luaL_Reg bin_methods[] = {{"bytes", binary_bytes_l}, {"base64", binary_base64_l}, {NULL, NULL}};
    new_metatable(L, DECIMAL_MT, dec_meta, dec_methods);
    new_metatable(L, BINARY_MT, bin_meta, bin_methods);

    lua_newtable(L); /* weak-keyed: which tables are lists or maps */
    lua_newtable(L);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &K_KINDS);

    luaddb_extras *x = lua_newuserdatauv(L, sizeof *x, 0);
    memset(x, 0, sizeof *x);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &K_EXTRAS_UD);

    /* The item's metatable: converts attributes as they are read, notes
     * absent names; scripts cannot see or replace it (a protected
     * metatable). */
    lua_createtable(L, 0, 4);
    lua_pushcfunction(L, item_index_l);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, item_newindex_l);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, item_pairs_l);
    lua_setfield(L, -2, "__pairs");
    lua_pushliteral(L, "ddb.item");
    lua_setfield(L, -2, "__metatable");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &K_ITEMMT);

    if (open_sets(L))
        return -1;

    static const luaL_Reg fns[] = {
        {"decimal", decimal_new_l}, {"binary", binary_new_l}, {"frombase64", binary_from_base64_l},
        {"list", list_l},           {"map", map_l},           {"put", put_l},
        {NULL, NULL}};
    lua_newtable(L);
    luaL_setfuncs(L, fns, 0);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &K_SETNEW);
    lua_setfield(L, -2, "set");
    push_sentinel(L, &K_NULL, "ddb.null");
    lua_setfield(L, -2, "null");
    push_sentinel(L, &K_DELETE, "ddb.DELETE");
    lua_setfield(L, -2, "DELETE");
    lua_setglobal(L, "ddb");
    return 0;
}
