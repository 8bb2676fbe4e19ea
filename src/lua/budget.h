/* The per-item instruction budget of a Lua host, and stopping a busy
 * script on an interrupt. Internal to the Lua host.
 *
 * Work is charged in "instructions": a count hook charges the VM's
 * instructions, C functions whose work grows with their input (pattern
 * matching, moves, sorts) charge it themselves, and the allocator charges
 * one instruction per 64 bytes it hands out. When the budget is spent or
 * the run's stop flag is set, the budget trips: from then on the hook of
 * every thread that can run fires before each instruction and raises the
 * same error again, message handlers and coroutine resumes refuse to run
 * script code, and so a script that catches the error (pcall, xpcall, a
 * coroutine, a __close handler) cannot run on. The host reads the trip
 * after the call and fails the item with the trip's message. */
#ifndef DDBMIG_LUA_BUDGET_H
#define DDBMIG_LUA_BUDGET_H

#include <lua.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/* Instructions between two calls of the hook: in the main thread, and in
 * coroutines. A resume is charged COROUTINE_HOOK_EVERY up front, which
 * covers what a coroutine runs without reaching its hook. */
#define BUDGET_HOOK_EVERY 10000
#define BUDGET_COROUTINE_HOOK_EVERY 1000

typedef enum budget_state { BUDGET_OK, BUDGET_SPENT, BUDGET_INTERRUPTED } budget_state;

typedef struct budget {
    long long limit; /* instructions per item */
    long long used;
    unsigned byte_rest;          /* allocated bytes not yet charged */
    volatile sig_atomic_t *stop; /* borrowed; NULL: not interruptible */
    lua_State *main;             /* the host's state */
    lua_State *running;          /* the thread running script code */
    budget_state state;
    bool forced;        /* running's hook fires on every instruction */
    const char *scope;  /* "on one item", for the message; static */
    char message[1024]; /* the trip's error, with a traceback */
} budget;

/* The budget of the host that owns L; for another state, the budget
 * attached to it, or NULL. Defined by the host. */
budget *budget_of(lua_State *L);

/* Gives a plain state (not a host's) a budget, for tests and fuzzers that
 * run the sandbox's functions beside stock Lua: b must outlive L. */
void budget_attach(lua_State *L, budget *b, long long limit);
budget *budget_attached(lua_State *L);

/* Sets the hook on the host's state. */
void budget_init(budget *b, lua_State *L, long long limit, volatile sig_atomic_t *stop);
/* A fresh budget for the next item (or top-level run): clears a trip and
 * puts the hook back to its usual pace. */
void budget_start(budget *b);
/* From the allocator: charges n bytes. It cannot raise there, so once the
 * budget is spent it makes the running thread's hook fire at the next
 * instruction. Calls nothing that allocates. */
void budget_bytes(budget *b, size_t n);

/* For C functions: charges units and raises the trip's error when the
 * budget is spent or the run is interrupted (or already tripped). Does
 * nothing in a state that is not a host's. */
void budget_charge(lua_State *L, long long units);
/* Raises the trip's error if the budget has tripped. */
void budget_check(lua_State *L);
/* True once the budget has tripped in this item. */
bool budget_tripped(lua_State *L);
/* Pushes the trip's message (for message handlers, which must not run
 * script code after a trip). */
void budget_push_message(lua_State *L);

/* Coroutine switches, so that the allocator knows which thread to stop:
 * budget_enter charges a resume and makes co the running thread (raises
 * if tripped); budget_leave makes prev running again and, after a trip,
 * makes prev's hook fire on every instruction. */
lua_State *budget_enter(lua_State *L, lua_State *co);
void budget_leave(lua_State *L, lua_State *prev);

#endif
