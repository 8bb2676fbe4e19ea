/* string.find, string.match, string.gmatch and string.gsub on a matcher
 * of our own. Internal to the Lua host.
 *
 * The stock matcher runs in C, where the instruction hook never fires, and
 * backtracks without bound: ("a"):rep(1e5):find(".-.-.-.-b") runs for
 * hours. This one has Lua 5.4's pattern semantics (classes, sets,
 * * + - ?, anchors, captures and position captures, %b, %f,
 * back-references) and charges every step to the host's budget, so such a
 * call fails with the instruction limit's error instead.
 *
 * One difference: a pattern is checked whole before matching, so a
 * malformed one ("(a", "[a", "%1" before capture 1 closes) is an error
 * even where the stock matcher would fail before reaching the fault. */
#ifndef DDBMIG_LUA_PATTERN_H
#define DDBMIG_LUA_PATTERN_H

#include <lua.h>

/* Sets find, match, gmatch and gsub in the table at idx. */
void pattern_open(lua_State *L, int idx);

#endif
