/* The `ddb` library seen by scripts, and conversions between items and
 * Lua values. Internal to the Lua host. */
#ifndef DDBMIG_LUA_LUADDB_H
#define DDBMIG_LUA_LUADDB_H

#include <lua.h>

#include "ddbmig/item.h"

/* Registers ddb (decimal, binary, null, DELETE, set, list, map, put) as a
 * global. Returns 0, or -1 with a message on the stack. */
int luaddb_open(lua_State *L);

/* Pushes an item as a Lua table. */
void luaddb_push_item(lua_State *L, const ddb_item *it);

/* Converts the table at idx into an item in arena a. Values equal (by
 * DynamoDB's rules) to orig's attribute of the same name are replaced by
 * orig's, so that their wire text is kept. On failure, *why is a message
 * naming the attribute path (static or in the arena). */
int luaddb_to_item(lua_State *L, int idx, const ddb_item *orig, dm_arena *a, ddb_item *out, char *why,
                   size_t why_size);

/* Is the value at idx ddb.DELETE? */
int luaddb_is_delete(lua_State *L, int idx);
/* Converts whatever the call's item at idx has not yet taken from its
 * source (for code that reads tables raw: next, rawget, rawset). A no-op
 * for any other value. */
void luaddb_materialize(lua_State *L, int idx);

/* Items emitted by ddb.put during the current call. */
typedef struct luaddb_extras {
    ddb_item *items;
    size_t n, cap;
    size_t bytes, max_bytes; /* their DynamoDB size, and its cap per call */
    dm_arena *arena;   /* borrowed for the call */
    /* Top-level attributes migrate looked for and did not find: a guard
     * must know them, since a writer adding one changes what the script
     * would have done. In the arena; at most LUADDB_MAX_ABSENT. */
    dm_str *absent;
    size_t n_absent, cap_absent;
    bool absent_overflow;
    /* The item of the call, converted an attribute at a time as the
     * script reads it (luaddb_push_item): the table, its source, and
     * which of the source's attributes the table has taken over (read,
     * written or deleted). lazy_all: the script went through the table
     * raw (next, pairs, rawget...), so it may have seen every attribute
     * and which ones are absent. */
    const void *lazy_table;
    const ddb_item *lazy_src;
    unsigned char *lazy_seen;
    bool lazy_all;
} luaddb_extras;

#define LUADDB_MAX_ABSENT 64

/* The extras collector of this state (in the registry). */
luaddb_extras *luaddb_extras_of(lua_State *L);

#endif
