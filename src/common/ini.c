/* AWS shared-file INI parsing. Kept strict enough to report the file and line
 * of a mistake, lax where the AWS CLI is lax (comments, blank lines,
 * whitespace around '='). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ini.h"

typedef struct ini_entry {
    char *section;
    char *key;
    char *value;
} ini_entry;

struct dm_ini {
    ini_entry *v;
    size_t n, cap;
    char **sections;
    size_t nsec;
};

static char *trimdup(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    return dm_strndup(s, n);
}

static int add_entry(dm_ini *ini, const char *section, char *key, char *value)
{
    if (ini->n == ini->cap) {
        size_t cap = ini->cap ? ini->cap * 2 : 16;
        ini_entry *v = realloc(ini->v, cap * sizeof(*v));
        if (!v)
            return DM_ERR_NOMEM;
        ini->v = v;
        ini->cap = cap;
    }
    ini->v[ini->n].section = dm_strdup(section);
    ini->v[ini->n].key = key;
    ini->v[ini->n].value = value;
    if (!ini->v[ini->n].section)
        return DM_ERR_NOMEM;
    ini->n++;
    return DM_OK;
}

static int add_section(dm_ini *ini, char *name)
{
    char **s = realloc(ini->sections, (ini->nsec + 1) * sizeof(*s));
    if (!s) {
        free(name);
        return DM_ERR_NOMEM;
    }
    ini->sections = s;
    ini->sections[ini->nsec++] = name;
    return DM_OK;
}

/* One line; section/parent carry state between lines. */
static int parse_line(dm_ini *ini, const char *line, size_t n, char **section, char **parent,
                      const char *name, int lineno, dm_error *err)
{
    size_t i = 0;
    while (i < n && (line[i] == ' ' || line[i] == '\t'))
        i++;
    int indented = i > 0;
    if (i == n || line[i] == '#' || line[i] == ';' || line[i] == '\r')
        return DM_OK;
    if (line[i] == '[') {
        const char *end = memchr(line + i, ']', n - i);
        if (!end)
            return dm_error_set(err, DM_ERR_PARSE, "%s, line %d: section header without ']'", name, lineno);
        free(*section);
        free(*parent);
        *parent = NULL;
        *section = trimdup(line + i + 1, (size_t)(end - line - i - 1));
        if (!*section)
            return DM_ERR_NOMEM;
        /* "[profile  dev]" is the same profile as "[profile dev]". */
        char *s = *section, *w = s;
        for (char *r = s; *r; r++)
            if (!(*r == ' ' && (r[1] == ' ' || w == s)))
                *w++ = *r;
        *w = '\0';
        return add_section(ini, dm_strdup(*section));
    }
    const char *eq = memchr(line + i, '=', n - i);
    if (!eq)
        return dm_error_set(err, DM_ERR_PARSE, "%s, line %d: expected 'key = value'", name, lineno);
    if (!*section)
        return dm_error_set(err, DM_ERR_PARSE, "%s, line %d: setting outside of any [section]", name, lineno);
    char *key = trimdup(line + i, (size_t)(eq - line - i));
    char *value = trimdup(eq + 1, (size_t)(line + n - eq - 1));
    if (!key || !value) {
        free(key);
        free(value);
        return DM_ERR_NOMEM;
    }
    if (indented && *parent) {
        /* Sub-property of the last key with an empty value ("s3 =\n  x = y"). */
        size_t kl = strlen(*parent) + 1 + strlen(key) + 1;
        char *full = malloc(kl);
        if (!full) {
            free(key);
            free(value);
            return DM_ERR_NOMEM;
        }
        snprintf(full, kl, "%s.%s", *parent, key);
        free(key);
        key = full;
    } else {
        free(*parent);
        *parent = value[0] == '\0' ? dm_strdup(key) : NULL;
    }
    /* Inline comments need whitespace before the '#' or ';'. */
    for (char *c = value; *c; c++)
        if ((*c == '#' || *c == ';') && c > value && (c[-1] == ' ' || c[-1] == '\t')) {
            *c = '\0';
            size_t vl = strlen(value);
            while (vl && (value[vl - 1] == ' ' || value[vl - 1] == '\t'))
                value[--vl] = '\0';
            break;
        }
    int rc = add_entry(ini, *section, key, value);
    if (rc) {
        free(key);
        free(value);
    }
    return rc;
}

dm_ini *dm_ini_parse(const char *text, size_t len, const char *name, dm_error *err)
{
    dm_ini *ini = calloc(1, sizeof(*ini));
    char *section = NULL, *parent = NULL;
    if (!ini) {
        dm_error_set(err, DM_ERR_NOMEM, "out of memory parsing %s", name);
        return NULL;
    }
    int lineno = 0, rc = DM_OK;
    size_t pos = 0;
    while (pos < len && rc == DM_OK) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - text - pos) : len - pos;
        lineno++;
        rc = parse_line(ini, text + pos, n, &section, &parent, name, lineno, err);
        pos += n + 1;
    }
    free(section);
    free(parent);
    if (rc) {
        if (rc == DM_ERR_NOMEM)
            dm_error_set(err, rc, "out of memory parsing %s", name);
        dm_ini_free(ini);
        return NULL;
    }
    return ini;
}

int dm_ini_load(const char *path, dm_ini **out, dm_error *err)
{
    *out = NULL;
    dm_buf b;
    dm_buf_init(&b, 16u << 20);
    dm_error ferr;
    int rc = dm_read_file(path, &b, &ferr);
    if (rc == DM_ERR_IO && errno == ENOENT) {
        dm_buf_cleanup(&b);
        return DM_OK;
    }
    if (rc) {
        if (err)
            *err = ferr;
        dm_buf_cleanup_secure(&b);
        return rc;
    }
    *out = dm_ini_parse(b.data, b.len, path, err);
    dm_buf_cleanup_secure(&b);
    return *out ? DM_OK : (err ? err->code : DM_ERR_PARSE);
}

void dm_ini_free(dm_ini *ini)
{
    if (!ini)
        return;
    for (size_t i = 0; i < ini->n; i++) {
        free(ini->v[i].section);
        free(ini->v[i].key);
        dm_free_secret(ini->v[i].value);
    }
    for (size_t i = 0; i < ini->nsec; i++)
        free(ini->sections[i]);
    free(ini->sections);
    free(ini->v);
    free(ini);
}

const char *dm_ini_get(const dm_ini *ini, const char *section, const char *key)
{
    if (!ini)
        return NULL;
    for (size_t i = ini->n; i-- > 0;)
        if (strcmp(ini->v[i].section, section) == 0 && strcmp(ini->v[i].key, key) == 0)
            return ini->v[i].value;
    return NULL;
}

int dm_ini_has_section(const dm_ini *ini, const char *section)
{
    if (!ini)
        return 0;
    for (size_t i = 0; i < ini->nsec; i++)
        if (strcmp(ini->sections[i], section) == 0)
            return 1;
    return 0;
}
