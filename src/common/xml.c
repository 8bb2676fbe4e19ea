/* The XML reader (ddbmig/xml.h): one pass over the text with an explicit stack
 * of open elements, so that hostile nesting cannot exhaust the C stack. */
#include <stdlib.h>
#include <string.h>

#include "ddbmig/xml.h"

#define XML_MAX_DEPTH 64
#define XML_MAX_NODES 1000000

typedef struct open_el {
    xml_node *node;
    xml_node *last; /* last child so far */
    dm_buf text;
} open_el;

typedef struct xml_parser {
    const char *s, *end;
    open_el stack[XML_MAX_DEPTH];
    int depth;
    long nodes;
    xml_node *root;
    dm_error *err;
    const char *base;
} xml_parser;

static int fail(xml_parser *x, const char *at, const char *what)
{
    return dm_error_set(x->err, DM_ERR_PARSE, "malformed XML at byte %ld: %s", (long)(at - x->base), what);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_name_char(char c)
{
    return !is_space(c) && c != '/' && c != '>' && c != '<' && c != '=' && c != '"' && c != '\'' && c != '&' &&
           c != '\0';
}

static bool starts(const xml_parser *x, const char *p, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(x->end - p) >= n && memcmp(p, lit, n) == 0;
}

/* The position just past the first occurrence of lit from p, or NULL. */
static const char *past(const xml_parser *x, const char *p, const char *lit)
{
    size_t n = strlen(lit);
    for (; (size_t)(x->end - p) >= n; p++)
        if (memcmp(p, lit, n) == 0)
            return p + n;
    return NULL;
}

static void free_node(xml_node *n)
{
    /* Siblings iteratively; children by recursion, bounded by the depth. */
    while (n) {
        xml_node *next = n->next;
        free_node(n->children);
        free(n->name);
        free(n->text);
        free(n);
        n = next;
    }
}

void xml_free(xml_node *root)
{
    free_node(root);
}

static int put_utf8(dm_buf *b, unsigned long cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return dm_buf_append(b, u, n);
}

/* An entity or character reference at p ('&'); *p moves past it. */
static int entity(xml_parser *x, const char **pp, dm_buf *out)
{
    const char *p = *pp + 1, *semi = p;
    while (semi < x->end && semi - p < 12 && *semi != ';')
        semi++;
    if (semi >= x->end || *semi != ';')
        return fail(x, *pp, "'&' without a reference");
    size_t n = (size_t)(semi - p);
    static const struct {
        const char *name;
        char c;
    } named[] = {{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        if (strlen(named[i].name) == n && memcmp(p, named[i].name, n) == 0) {
            *pp = semi + 1;
            return dm_buf_putc(out, named[i].c);
        }
    }
    if (n < 2 || *p != '#')
        return fail(x, *pp, "unknown entity");
    bool hex = p[1] == 'x';
    const char *d = p + (hex ? 2 : 1);
    if (d == semi)
        return fail(x, *pp, "empty character reference");
    unsigned long cp = 0;
    for (; d < semi; d++) {
        int v = *d >= '0' && *d <= '9' ? *d - '0'
                : hex && *d >= 'a' && *d <= 'f' ? *d - 'a' + 10
                : hex && *d >= 'A' && *d <= 'F' ? *d - 'A' + 10
                                                 : -1;
        if (v < 0)
            return fail(x, *pp, "bad character reference");
        cp = cp * (hex ? 16 : 10) + (unsigned long)v;
        if (cp > 0x10FFFF)
            return fail(x, *pp, "character reference out of range");
    }
    if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
        return fail(x, *pp, "character reference not allowed");
    *pp = semi + 1;
    return put_utf8(out, cp);
}

static int text_run(xml_parser *x, const char **pp)
{
    const char *p = *pp;
    dm_buf *t = x->depth ? &x->stack[x->depth - 1].text : NULL;
    while (p < x->end && *p != '<') {
        if (!t) {
            if (!is_space(*p))
                return fail(x, p, "text outside the root element");
            p++;
            continue;
        }
        if (*p == '&') {
            int rc = entity(x, &p, t);
            if (rc)
                return rc;
            continue;
        }
        if (*p == '\0')
            return fail(x, p, "NUL byte");
        const char *q = p;
        while (q < x->end && *q != '<' && *q != '&' && *q != '\0')
            q++;
        if (dm_buf_append(t, p, (size_t)(q - p)))
            return dm_error_set(x->err, DM_ERR_NOMEM, "out of memory reading XML");
        p = q;
    }
    *pp = p;
    return DM_OK;
}

static const char *read_name(const xml_parser *x, const char *p, const char **name_end)
{
    const char *q = p;
    while (q < x->end && is_name_char(*q))
        q++;
    *name_end = q;
    return q > p ? p : NULL;
}

static char *local_name(const char *p, const char *e)
{
    for (const char *c = e; c > p; c--)
        if (c[-1] == ':') {
            p = c;
            break;
        }
    return dm_strndup(p, (size_t)(e - p));
}

static int skip_attributes(xml_parser *x, const char **pp, bool *self_closing)
{
    const char *p = *pp;
    for (;;) {
        while (p < x->end && is_space(*p))
            p++;
        if (p >= x->end)
            return fail(x, p, "unterminated tag");
        if (*p == '>' || (*p == '/' && p + 1 < x->end && p[1] == '>')) {
            *self_closing = *p == '/';
            *pp = p + (*p == '/' ? 2 : 1);
            return DM_OK;
        }
        const char *ne;
        if (!read_name(x, p, &ne))
            return fail(x, p, "bad attribute");
        p = ne;
        while (p < x->end && is_space(*p))
            p++;
        if (p >= x->end || *p != '=')
            return fail(x, p, "attribute without a value");
        p++;
        while (p < x->end && is_space(*p))
            p++;
        if (p >= x->end || (*p != '"' && *p != '\''))
            return fail(x, p, "attribute value not quoted");
        char q = *p++;
        while (p < x->end && *p != q && *p != '<')
            p++;
        if (p >= x->end || *p != q)
            return fail(x, p, "unterminated attribute value");
        p++;
    }
}

static int open_tag(xml_parser *x, const char **pp)
{
    const char *p = *pp + 1, *ne;
    const char *name = read_name(x, p, &ne);
    if (!name || ne[-1] == ':')
        return fail(x, p, "bad element name");
    if (!x->depth && x->root)
        return fail(x, *pp, "a second root element");
    if (x->depth == XML_MAX_DEPTH)
        return fail(x, *pp, "nested too deeply");
    if (++x->nodes > XML_MAX_NODES)
        return fail(x, *pp, "too many elements");
    bool self_closing = false;
    const char *after = ne;
    int rc = skip_attributes(x, &after, &self_closing);
    if (rc)
        return rc;
    xml_node *n = calloc(1, sizeof *n);
    if (!n || !(n->name = local_name(name, ne))) {
        free(n);
        return dm_error_set(x->err, DM_ERR_NOMEM, "out of memory reading XML");
    }
    if (x->depth) {
        open_el *parent = &x->stack[x->depth - 1];
        if (parent->last)
            parent->last->next = n;
        else
            parent->node->children = n;
        parent->last = n;
    } else {
        x->root = n;
    }
    open_el *e = &x->stack[x->depth++];
    e->node = n;
    e->last = NULL;
    dm_buf_init(&e->text, 0);
    *pp = after;
    if (self_closing) {
        x->depth--;
        dm_buf_cleanup(&e->text);
        n->text = dm_strdup("");
        if (!n->text)
            return dm_error_set(x->err, DM_ERR_NOMEM, "out of memory reading XML");
    }
    return DM_OK;
}

static int close_tag(xml_parser *x, const char **pp)
{
    const char *p = *pp + 2, *ne;
    const char *name = read_name(x, p, &ne);
    if (!name || !x->depth)
        return fail(x, *pp, "unexpected end tag");
    open_el *e = &x->stack[x->depth - 1];
    char *local = local_name(name, ne);
    bool same = local && strcmp(local, e->node->name) == 0;
    free(local);
    if (!same)
        return fail(x, *pp, "end tag does not match its start tag");
    p = ne;
    while (p < x->end && is_space(*p))
        p++;
    if (p >= x->end || *p != '>')
        return fail(x, p, "unterminated end tag");
    e->node->text_len = e->text.len;
    e->node->text = dm_strdup(dm_buf_cstr(&e->text));
    dm_buf_cleanup(&e->text);
    x->depth--;
    if (!e->node->text)
        return dm_error_set(x->err, DM_ERR_NOMEM, "out of memory reading XML");
    *pp = p + 1;
    return DM_OK;
}

static int markup(xml_parser *x, const char **pp)
{
    const char *p = *pp, *q;
    if (starts(x, p, "<?")) {
        if (!(q = past(x, p + 2, "?>")))
            return fail(x, p, "unterminated processing instruction");
    } else if (starts(x, p, "<!--")) {
        if (!(q = past(x, p + 4, "-->")))
            return fail(x, p, "unterminated comment");
    } else if (starts(x, p, "<![CDATA[")) {
        if (!x->depth)
            return fail(x, p, "CDATA outside the root element");
        if (!(q = past(x, p + 9, "]]>")))
            return fail(x, p, "unterminated CDATA section");
        const char *data = p + 9;
        if (memchr(data, '\0', (size_t)(q - 3 - data)))
            return fail(x, p, "NUL byte");
        if (dm_buf_append(&x->stack[x->depth - 1].text, data, (size_t)(q - 3 - data)))
            return dm_error_set(x->err, DM_ERR_NOMEM, "out of memory reading XML");
    } else if (starts(x, p, "<!")) {
        return fail(x, p, "DOCTYPE and declarations are not accepted");
    } else if (starts(x, p, "</")) {
        return close_tag(x, pp);
    } else {
        return open_tag(x, pp);
    }
    *pp = q;
    return DM_OK;
}

int xml_parse(const char *text, size_t len, xml_node **out, dm_error *err)
{
    *out = NULL;
    xml_parser x = {.s = text, .end = text + len, .err = err, .base = text};
    const char *p = text;
    /* A UTF-8 byte order mark. */
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    int rc = DM_OK;
    while (rc == DM_OK && p < x.end)
        rc = *p == '<' ? markup(&x, &p) : text_run(&x, &p);
    if (rc == DM_OK && x.depth)
        rc = fail(&x, p, "unclosed element");
    if (rc == DM_OK && !x.root)
        rc = fail(&x, p, "no root element");
    for (int i = 0; i < x.depth; i++)
        dm_buf_cleanup(&x.stack[i].text);
    if (rc) {
        xml_free(x.root);
        return rc;
    }
    *out = x.root;
    return DM_OK;
}

const xml_node *xml_child(const xml_node *n, const char *name)
{
    for (const xml_node *c = n ? n->children : NULL; c; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

const xml_node *xml_path(const xml_node *n, const char *path)
{
    char part[128];
    while (n && *path) {
        size_t k = strcspn(path, "/");
        if (k >= sizeof part)
            return NULL;
        memcpy(part, path, k);
        part[k] = '\0';
        n = xml_child(n, part);
        path += k + (path[k] == '/');
    }
    return n;
}

const char *xml_path_text(const xml_node *n, const char *path)
{
    const xml_node *e = xml_path(n, path);
    return e ? e->text : NULL;
}

const xml_node *xml_next_same(const xml_node *n)
{
    for (const xml_node *c = n ? n->next : NULL; c; c = c->next)
        if (strcmp(c->name, n->name) == 0)
            return c;
    return NULL;
}
