/* The restricted environment scripts run in. Internal to the Lua host. */
#ifndef DDBMIG_LUA_SANDBOX_H
#define DDBMIG_LUA_SANDBOX_H

#include <lua.h>

/* Opens base, string, table, math, utf8, coroutine and a safe part of os
 * in L, without loading code or files, and with the functions that could
 * outrun the instruction budget replaced (see sandbox.c). print is left
 * for the host to set. Raises on out of memory: call it protected. */
int sandbox_open(lua_State *L);

#endif
