/* Lua patterns with a step budget (see pattern.h).
 *
 * A pattern is first compiled into a list of nodes: a single-character
 * class (one byte, any byte, or a 256-bit set, with its repetition), a
 * capture's open or close, a position capture, %b, %f, a back-reference,
 * or the end anchor. Classes such as %a become sets once per process, so
 * matching a character is one bit test whatever the class.
 *
 * Matching backtracks over the nodes. Only repetitions that can give
 * back characters (* + - ?) recurse; captures, plain characters and the
 * rest move along the list. A capture needs no undo on backtracking:
 * every node of the successful path runs after any failed attempt of the
 * same node, so the captures read at the end are the successful path's.
 *
 * Every node visited, byte compared or character skipped is a step; steps
 * go to the budget every few thousand, so the instruction limit and the
 * stop flag reach into a long match. */
#include <ctype.h>
#include <lauxlib.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "budget.h"
#include "pattern.h"

#define MAX_CAPTURES 32 /* as Lua's LUA_MAXCAPTURES */
#define MAX_DEPTH 200   /* nested repetitions; past it, "pattern too complex" */
#define CHARGE_EVERY 4096
#define SMALL_PATTERN 48 /* compiled on the C stack up to this length */

#define CAP_OPEN (-1)
#define CAP_POSITION (-2)

enum { N_END, N_CHAR, N_ANY, N_SET, N_OPEN, N_POSITION, N_CLOSE, N_BALANCE, N_FRONTIER, N_BACKREF, N_AT_END };

typedef struct node {
    unsigned char op;
    unsigned char rep;        /* 0, '*', '+', '-' or '?' (single classes) */
    unsigned char a, b;       /* N_CHAR: a; N_BALANCE: a, b; captures: index */
    const unsigned char *set; /* N_SET, N_FRONTIER: 32-byte bitmap */
} node;

typedef unsigned char bitset[32];

typedef struct compiled {
    node *nodes;
    int n_captures;
    bool anchored;
} compiled;

typedef struct matcher {
    lua_State *L;
    const char *src, *end; /* the subject */
    const compiled *pc;
    int depth;
    long long steps; /* not yet charged */
    struct {
        const char *init;
        ptrdiff_t len; /* CAP_OPEN, CAP_POSITION or a length */
    } cap[MAX_CAPTURES];
} matcher;

/* ---- classes ------------------------------------------------------------------ */

static const char CLASS_LETTERS[] = "acdglpsuwxz";
static bitset class_sets[sizeof CLASS_LETTERS - 1][2]; /* [letter][0: %a, 1: %A] */
static pthread_once_t class_once = PTHREAD_ONCE_INIT;

static bool in_class(int c, char letter)
{
    switch (letter) {
    case 'a': return isalpha(c);
    case 'c': return iscntrl(c);
    case 'd': return isdigit(c);
    case 'g': return isgraph(c);
    case 'l': return islower(c);
    case 'p': return ispunct(c);
    case 's': return isspace(c);
    case 'u': return isupper(c);
    case 'w': return isalnum(c);
    case 'x': return isxdigit(c);
    default: return c == 0; /* 'z', kept by Lua 5.4 though deprecated */
    }
}

static void make_class_sets(void)
{
    for (int k = 0; CLASS_LETTERS[k]; k++)
        for (int c = 0; c < 256; c++) {
            int which = in_class(c, CLASS_LETTERS[k]) ? 0 : 1;
            class_sets[k][which][c >> 3] |= (unsigned char)(1u << (c & 7));
        }
}

/* The set of %<letter>, or NULL when letter is no class (then "%x" is
 * the character x). */
static const unsigned char *class_set(unsigned char letter)
{
    bool upper = letter >= 'A' && letter <= 'Z';
    if (!upper && !(letter >= 'a' && letter <= 'z'))
        return NULL;
    const char *k = strchr(CLASS_LETTERS, upper ? letter + ('a' - 'A') : letter);
    if (!k)
        return NULL;
    pthread_once(&class_once, make_class_sets);
    return class_sets[k - CLASS_LETTERS][upper ? 1 : 0];
}

static inline bool has(const unsigned char *set, unsigned char c)
{
    return set[c >> 3] & (1u << (c & 7));
}
static inline void put(unsigned char *set, unsigned char c)
{
    set[c >> 3] |= (unsigned char)(1u << (c & 7));
}

/* ---- compiling ---------------------------------------------------------------- */

/* Index of the ']' closing the set that opens at p[i] == '['. The first
 * character of the set (after an optional '^') is never the closing one,
 * and %x escapes x. */
static size_t set_end(lua_State *L, const char *p, size_t lp, size_t i)
{
    size_t q = i + 1;
    if (q < lp && p[q] == '^')
        q++;
    for (;;) {
        if (q >= lp)
            luaL_error(L, "malformed pattern (missing ']')");
        if (p[q++] == '%' && q < lp)
            q++;
        if (q < lp && p[q] == ']')
            return q;
    }
}

/* The bitmap of the set p[i] == '[' .. p[close] == ']'. */
static void build_set(const char *p, size_t i, size_t close, unsigned char *set)
{
    memset(set, 0, sizeof(bitset));
    size_t q = i + 1;
    bool negate = p[q] == '^';
    if (negate)
        q++;
    while (q < close) {
        unsigned char c = (unsigned char)p[q];
        if (c == '%') {
            unsigned char x = (unsigned char)p[q + 1];
            const unsigned char *cls = class_set(x);
            if (cls)
                for (int k = 0; k < 32; k++)
                    set[k] |= cls[k];
            else
                put(set, x);
            q += 2;
        } else if (q + 2 < close && p[q + 1] == '-') {
            for (int x = c; x <= (unsigned char)p[q + 2]; x++)
                put(set, (unsigned char)x);
            q += 3;
        } else {
            put(set, c);
            q++;
        }
    }
    if (negate)
        for (int k = 0; k < 32; k++)
            set[k] = (unsigned char)~set[k];
}

static size_t max_nodes(size_t lp)
{
    return lp + 1;
}
static size_t max_sets(size_t lp)
{
    return lp / 3 + 1;
}

/* Compiles p into nodes[max_nodes(lp)] and sets[max_sets(lp)]. A '^' at
 * the start anchors when anchor_ok (not in gmatch, where it is a plain
 * character). Raises on a malformed pattern. */
static void compile(lua_State *L, const char *p, size_t lp, bool anchor_ok, node *nodes, bitset *sets, compiled *out)
{
    size_t i = 0, nn = 0, ns = 0;
    int open[MAX_CAPTURES], n_open = 0, n_caps = 0;
    bool closed[MAX_CAPTURES] = {false};
    out->nodes = nodes;
    out->anchored = anchor_ok && lp > 0 && p[0] == '^';
    if (out->anchored)
        i = 1;
    while (i < lp) {
        node *n = &nodes[nn++];
        memset(n, 0, sizeof *n);
        char c = p[i];
        if (c == '(') {
            if (n_caps >= MAX_CAPTURES)
                luaL_error(L, "too many captures");
            n->a = (unsigned char)n_caps;
            if (i + 1 < lp && p[i + 1] == ')') {
                n->op = N_POSITION;
                closed[n_caps++] = true;
                i += 2;
            } else {
                n->op = N_OPEN;
                open[n_open++] = n_caps++;
                i++;
            }
            continue;
        }
        if (c == ')') {
            if (n_open == 0)
                luaL_error(L, "invalid pattern capture");
            n->op = N_CLOSE;
            n->a = (unsigned char)open[--n_open];
            closed[n->a] = true;
            i++;
            continue;
        }
        if (c == '$' && i + 1 == lp) {
            n->op = N_AT_END;
            i++;
            continue;
        }
        if (c == '%' && i + 1 < lp) {
            char d = p[i + 1];
            if (d == 'b') {
                if (i + 3 >= lp)
                    luaL_error(L, "malformed pattern (missing arguments to '%%b')");
                n->op = N_BALANCE;
                n->a = (unsigned char)p[i + 2];
                n->b = (unsigned char)p[i + 3];
                i += 4;
                continue;
            }
            if (d == 'f') {
                i += 2;
                if (i >= lp || p[i] != '[')
                    luaL_error(L, "missing '[' after '%%f' in pattern");
                size_t close = set_end(L, p, lp, i);
                build_set(p, i, close, sets[ns]);
                n->op = N_FRONTIER;
                n->set = sets[ns++];
                i = close + 1;
                continue;
            }
            if (d >= '0' && d <= '9') {
                int k = d - '1';
                if (k < 0 || k >= n_caps || !closed[k])
                    luaL_error(L, "invalid capture index %%%d", k + 1);
                n->op = N_BACKREF;
                n->a = (unsigned char)k;
                i += 2;
                continue;
            }
        }
        /* A single-character class and its repetition. */
        size_t next = i + 1;
        if (c == '.') {
            n->op = N_ANY;
        } else if (c == '%') {
            if (i + 1 >= lp)
                luaL_error(L, "malformed pattern (ends with '%%')");
            unsigned char x = (unsigned char)p[i + 1];
            n->set = class_set(x);
            n->op = n->set ? N_SET : N_CHAR;
            n->a = x;
            next = i + 2;
        } else if (c == '[') {
            size_t close = set_end(L, p, lp, i);
            build_set(p, i, close, sets[ns]);
            n->op = N_SET;
            n->set = sets[ns++];
            next = close + 1;
        } else {
            n->op = N_CHAR;
            n->a = (unsigned char)c;
        }
        if (next < lp && (p[next] == '*' || p[next] == '+' || p[next] == '-' || p[next] == '?'))
            n->rep = (unsigned char)p[next++];
        i = next;
    }
    if (n_open > 0)
        luaL_error(L, "unfinished capture");
    nodes[nn].op = N_END;
    out->n_captures = n_caps;
}

/* ---- matching ----------------------------------------------------------------- */

static void charge(matcher *m)
{
    long long steps = m->steps;
    m->steps = 0;
    budget_charge(m->L, steps);
}

static inline bool single(const node *n, unsigned char c)
{
    switch (n->op) {
    case N_CHAR: return c == n->a;
    case N_ANY: return true;
    default: return has(n->set, c);
    }
}

static const char *balance(matcher *m, const char *s, const node *n)
{
    if (s >= m->end || (unsigned char)*s != n->a)
        return NULL;
    int depth = 1;
    for (const char *t = s + 1; t < m->end; t++) {
        m->steps++;
        if ((unsigned char)*t == n->b) {
            if (--depth == 0)
                return t + 1;
        } else if ((unsigned char)*t == n->a) {
            depth++;
        }
    }
    return NULL;
}

/* The end of a match of nodes n... at s, or NULL. */
static const char *match(matcher *m, const char *s, const node *n)
{
    if (++m->depth > MAX_DEPTH)
        luaL_error(m->L, "pattern too complex");
    if (m->steps >= CHARGE_EVERY)
        charge(m);
    const char *r = NULL;
    for (;; n++) {
        m->steps++;
        switch (n->op) {
        case N_END: r = s; goto out;
        case N_OPEN:
            m->cap[n->a].init = s;
            m->cap[n->a].len = CAP_OPEN;
            continue;
        case N_POSITION:
            m->cap[n->a].init = s;
            m->cap[n->a].len = CAP_POSITION;
            continue;
        case N_CLOSE: m->cap[n->a].len = s - m->cap[n->a].init; continue;
        case N_AT_END:
            if (s != m->end)
                goto out;
            continue;
        case N_BALANCE:
            if (!(s = balance(m, s, n)))
                goto out;
            continue;
        case N_FRONTIER: {
            unsigned char before = s == m->src ? 0 : (unsigned char)s[-1];
            unsigned char here = s < m->end ? (unsigned char)*s : 0;
            if (has(n->set, before) || !has(n->set, here))
                goto out;
            continue;
        }
        case N_BACKREF: {
            ptrdiff_t len = m->cap[n->a].len;
            if (len == CAP_POSITION || m->end - s < len || memcmp(m->cap[n->a].init, s, (size_t)len) != 0)
                goto out;
            m->steps += len / 16;
            s += len;
            continue;
        }
        default: break;
        }
        /* A single-character class. */
        bool once = s < m->end && single(n, (unsigned char)*s);
        switch (n->rep) {
        case 0:
            if (!once)
                goto out;
            s++;
            continue;
        case '?':
            if (once && (r = match(m, s + 1, n + 1)) != NULL)
                goto out;
            continue;
        case '-':
            if (!once)
                continue;
            for (;;) {
                if ((r = match(m, s, n + 1)) != NULL)
                    goto out;
                if (!(s < m->end && single(n, (unsigned char)*s)))
                    goto out;
                s++;
                m->steps++;
            }
        default: { /* '*' or '+': as many as match, then give back */
            if (!once) {
                if (n->rep == '+')
                    goto out;
                continue;
            }
            ptrdiff_t k = 1, least = n->rep == '+' ? 1 : 0;
            while (s + k < m->end && single(n, (unsigned char)s[k]))
                k++;
            m->steps += k;
            for (; k >= least; k--)
                if ((r = match(m, s + k, n + 1)) != NULL)
                    goto out;
            goto out;
        }
        }
    }
out:
    m->depth--;
    return r;
}

/* ---- captures ------------------------------------------------------------------ */

static void push_capture(matcher *m, int i, const char *s, const char *e)
{
    if (i >= m->pc->n_captures) {
        if (i != 0)
            luaL_error(m->L, "invalid capture index %%%d", i + 1);
        lua_pushlstring(m->L, s, (size_t)(e - s));
    } else if (m->cap[i].len == CAP_POSITION) {
        lua_pushinteger(m->L, (lua_Integer)(m->cap[i].init - m->src) + 1);
    } else {
        lua_pushlstring(m->L, m->cap[i].init, (size_t)m->cap[i].len);
    }
}

/* The captures, or the whole match s..e when there are none and whole. */
static int push_captures(matcher *m, const char *s, const char *e, bool whole)
{
    int n = m->pc->n_captures == 0 && whole ? 1 : m->pc->n_captures;
    luaL_checkstack(m->L, n, "too many captures");
    for (int i = 0; i < n; i++)
        push_capture(m, i, s, e);
    return n;
}

/* ---- the library ----------------------------------------------------------------- */

/* Position argument to offset, as string.find's init: 1-based, negative
 * from the end, clipped to 1. */
static size_t start_at(lua_Integer pos, size_t len)
{
    if (pos > 0)
        return (size_t)pos;
    if (pos == 0 || pos < -(lua_Integer)len)
        return 1;
    return len + (size_t)pos + 1;
}

static bool has_specials(const char *p, size_t lp)
{
    for (size_t i = 0; i < lp; i++)
        if (memchr("^$*+?.([%-", p[i], 10))
            return true;
    return false;
}

/* Compiles into the caller's small buffers, or into a userdata left on
 * the stack for long patterns. */
typedef struct small_buffers {
    node nodes[SMALL_PATTERN + 1];
    bitset sets[SMALL_PATTERN / 3 + 1];
} small_buffers;

static void prepare(lua_State *L, const char *p, size_t lp, bool anchor_ok, small_buffers *sb, compiled *c)
{
    if (lp <= SMALL_PATTERN) {
        compile(L, p, lp, anchor_ok, sb->nodes, sb->sets, c);
        return;
    }
    size_t nodes_bytes = max_nodes(lp) * sizeof(node);
    char *mem = lua_newuserdatauv(L, nodes_bytes + max_sets(lp) * sizeof(bitset), 0);
    compile(L, p, lp, anchor_ok, (node *)(void *)mem, (bitset *)(void *)(mem + nodes_bytes), c);
}

static const char *plain_find(lua_State *L, const char *h, size_t hl, const char *nd, size_t nl)
{
    if (nl == 0)
        return h;
    if (nl > hl)
        return NULL;
    const char *last = h + (hl - nl), *found = NULL;
    long long steps = (long long)(hl / 64);
    for (const char *q = h; q <= last;) {
        const char *hit = memchr(q, nd[0], (size_t)(last - q) + 1);
        if (!hit)
            break;
        steps += 1 + (long long)(nl / 16);
        if (memcmp(hit + 1, nd + 1, nl - 1) == 0) {
            found = hit;
            break;
        }
        q = hit + 1;
        if (steps >= CHARGE_EVERY) {
            budget_charge(L, steps);
            steps = 0;
        }
    }
    budget_charge(L, steps);
    return found;
}

static int find_or_match(lua_State *L, bool find)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_at(luaL_optinteger(L, 3, 1), ls) - 1;
    if (init > ls) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) {
        const char *at = plain_find(L, s + init, ls - init, p, lp);
        if (!at) {
            luaL_pushfail(L);
            return 1;
        }
        lua_pushinteger(L, (lua_Integer)(at - s) + 1);
        lua_pushinteger(L, (lua_Integer)(at - s + (ptrdiff_t)lp));
        return 2;
    }
    small_buffers sb;
    compiled c;
    prepare(L, p, lp, true, &sb, &c);
    matcher m = {.L = L, .src = s, .end = s + ls, .pc = &c};
    for (const char *from = s + init;; from++) {
        m.depth = 0;
        const char *e = match(&m, from, c.nodes);
        if (e) {
            charge(&m);
            if (!find)
                return push_captures(&m, from, e, true);
            lua_pushinteger(L, (lua_Integer)(from - s) + 1);
            lua_pushinteger(L, (lua_Integer)(e - s));
            return push_captures(&m, NULL, NULL, false) + 2;
        }
        if (c.anchored || from >= m.end)
            break;
    }
    charge(&m);
    luaL_pushfail(L);
    return 1;
}

static int find_l(lua_State *L)
{
    return find_or_match(L, true);
}
static int match_l(lua_State *L)
{
    return find_or_match(L, false);
}

/* gmatch's state: a userdata, upvalue of the iterator with the subject
 * and the pattern (which keeps them alive, and their bytes in place). */
typedef struct gmatch_state {
    size_t pos;     /* where the next search starts */
    ptrdiff_t last; /* end of the last match, or -1 */
    compiled c;
} gmatch_state;

static int gmatch_next(lua_State *L)
{
    size_t ls;
    const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
    gmatch_state *g = lua_touserdata(L, lua_upvalueindex(3));
    matcher m = {.L = L, .src = s, .end = s + ls, .pc = &g->c};
    for (size_t pos = g->pos; pos <= ls; pos++) {
        m.depth = 0;
        const char *e = match(&m, s + pos, g->c.nodes);
        /* An empty match right where the last one ended does not count. */
        if (e && (g->last < 0 || e - s != g->last)) {
            g->pos = (size_t)(e - s);
            g->last = e - s;
            charge(&m);
            return push_captures(&m, s + pos, e, true);
        }
    }
    g->pos = ls + 1;
    charge(&m);
    return 0;
}

static int gmatch_l(lua_State *L)
{
    size_t ls, lp;
    luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_at(luaL_optinteger(L, 3, 1), ls) - 1;
    lua_settop(L, 2);
    size_t head = (sizeof(gmatch_state) + sizeof(node) - 1) / sizeof(node) * sizeof(node);
    size_t nodes_bytes = max_nodes(lp) * sizeof(node);
    char *mem = lua_newuserdatauv(L, head + nodes_bytes + max_sets(lp) * sizeof(bitset), 0);
    gmatch_state *g = (gmatch_state *)(void *)mem;
    compile(L, p, lp, false, (node *)(void *)(mem + head), (bitset *)(void *)(mem + head + nodes_bytes), &g->c);
    g->pos = init > ls ? ls + 1 : init;
    g->last = -1;
    lua_pushcclosure(L, gmatch_next, 3);
    return 1;
}

/* Appends the replacement string (argument 3) for a match s..e: %0 is the
 * match, %1-%9 captures, %% a percent sign. */
static void add_replacement(matcher *m, luaL_Buffer *b, const char *s, const char *e)
{
    lua_State *L = m->L;
    size_t l;
    const char *r = lua_tolstring(L, 3, &l), *end = r + l;
    while (r < end) {
        const char *pct = memchr(r, '%', (size_t)(end - r));
        if (!pct) {
            luaL_addlstring(b, r, (size_t)(end - r));
            return;
        }
        luaL_addlstring(b, r, (size_t)(pct - r));
        char d = pct + 1 < end ? pct[1] : '\0';
        if (d == '%') {
            luaL_addchar(b, '%');
        } else if (d == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else if (d >= '1' && d <= '9') {
            int i = d - '1';
            if (i < m->pc->n_captures && m->cap[i].len != CAP_POSITION) {
                luaL_addlstring(b, m->cap[i].init, (size_t)m->cap[i].len);
            } else {
                push_capture(m, i, s, e);
                luaL_addvalue(b); /* a position: the number's text */
            }
        } else {
            luaL_error(L, "invalid use of '%c' in replacement string", '%');
        }
        r = pct + 2;
    }
}

/* Appends what replaces the match s..e. Returns whether that differs from
 * the match (a function or table giving false or nil keeps it). */
static bool add_value(matcher *m, luaL_Buffer *b, const char *s, const char *e, int repl_type)
{
    lua_State *L = m->L;
    if (repl_type == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int n = push_captures(m, s, e, true);
        lua_call(L, n, 1);
    } else if (repl_type == LUA_TTABLE) {
        push_capture(m, 0, s, e);
        lua_gettable(L, 3);
    } else {
        add_replacement(m, b, s, e);
        return true;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
        return false;
    }
    if (!lua_isstring(L, -1))
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    luaL_addvalue(b);
    return true;
}

static int gsub_l(lua_State *L)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    int repl_type = lua_type(L, 3);
    lua_Integer max_n = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    luaL_argexpected(L,
                     repl_type == LUA_TNUMBER || repl_type == LUA_TSTRING || repl_type == LUA_TFUNCTION ||
                         repl_type == LUA_TTABLE,
                     3, "string/function/table");
    lua_settop(L, 4);
    small_buffers sb;
    compiled c;
    prepare(L, p, lp, true, &sb, &c);
    matcher m = {.L = L, .src = s, .end = s + ls, .pc = &c};
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    const char *at = s, *last = NULL;
    lua_Integer n = 0;
    bool changed = false;
    while (n < max_n) {
        m.depth = 0;
        const char *e = match(&m, at, c.nodes);
        if (e && e != last) {
            n++;
            changed = add_value(&m, &b, at, e, repl_type) || changed;
            at = last = e;
        } else if (at < m.end) {
            luaL_addchar(&b, *at++);
        } else {
            break;
        }
        if (c.anchored)
            break;
    }
    charge(&m);
    if (!changed) {
        lua_pushvalue(L, 1);
    } else {
        luaL_addlstring(&b, at, (size_t)(m.end - at));
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, n);
    return 2;
}

void pattern_open(lua_State *L, int idx)
{
    static const luaL_Reg fns[] = {
        {"find", find_l}, {"match", match_l}, {"gmatch", gmatch_l}, {"gsub", gsub_l}, {NULL, NULL}};
    idx = lua_absindex(L, idx);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, idx, f->name);
    }
}
