/* A set of item keys; see doneset.h. Entries keep insertion order (for
 * the checkpoint) and are found by a hash of the key's canonical bytes
 * (ddb_key_value_bytes of each key attribute), equal for equal keys
 * whatever their spelling. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doneset.h"

typedef struct entry {
    char *canon; /* owned */
    size_t canon_len;
    uint64_t hash;
    char *json;  /* owned: the key as DynamoDB JSON */
    char *payload; /* owned, or NULL */
    bool live;   /* false once taken */
} entry;

struct doneset {
    doneset_schema schema;
    entry *e;
    size_t n, cap, live;
    int32_t *slots; /* indices into e, -1 empty; n_slots a power of two */
    size_t n_slots;
    dm_arena *scratch;
};

doneset *doneset_new(doneset_schema schema)
{
    doneset *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->schema = schema;
    if (!(s->scratch = dm_arena_new(4096))) {
        free(s);
        return NULL;
    }
    return s;
}

void doneset_free(doneset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->e[i].canon);
        free(s->e[i].json);
        free(s->e[i].payload);
    }
    free(s->e);
    free(s->slots);
    dm_arena_free(s->scratch);
    free(s);
}

size_t doneset_size(const doneset *s) { return s ? s->live : 0; }

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
    return h;
}

/* The item's key: canonical bytes, and as DynamoDB JSON when json. */
static int key_of(const doneset *s, const ddb_item *it, dm_buf *canon, dm_buf *json)
{
    int rc = json ? dm_buf_putc(json, '{') : DM_OK;
    const char *const *keys = s->schema.names;
    for (size_t k = 0; !rc && k < s->schema.n; k++) {
        const ddb_value *v = ddb_item_get(it, keys[k], strlen(keys[k]));
        if (!v)
            return DM_ERR_INVALID;
        rc = ddb_key_value_bytes(v, canon);
        if (!rc && json) {
            rc = k ? dm_buf_putc(json, ',') : DM_OK;
            rc = rc ? rc : ddb_json_put_string(json, keys[k], strlen(keys[k]));
            rc = rc ? rc : dm_buf_putc(json, ':');
            rc = rc ? rc : ddb_value_encode(v, json);
        }
    }
    return rc ? rc : json ? dm_buf_putc(json, '}') : DM_OK;
}

/* The entry equal to canon, or -1. */
static int32_t find(const doneset *s, const char *canon, size_t len, uint64_t h)
{
    if (!s->n_slots)
        return -1;
    for (size_t i = h & (s->n_slots - 1);; i = (i + 1) & (s->n_slots - 1)) {
        int32_t at = s->slots[i];
        if (at < 0)
            return -1;
        const entry *e = &s->e[at];
        if (e->hash == h && e->canon_len == len && memcmp(e->canon, canon, len) == 0)
            return at;
    }
}

static void place(doneset *s, int32_t at)
{
    size_t i = s->e[at].hash & (s->n_slots - 1);
    while (s->slots[i] >= 0)
        i = (i + 1) & (s->n_slots - 1);
    s->slots[i] = at;
}

/* Room for one more entry: the table at most half full. */
static int grow(doneset *s)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        if (cap > INT32_MAX / 4)
            return DM_ERR_NOMEM;
        entry *e = realloc(s->e, cap * sizeof *e);
        if (!e)
            return DM_ERR_NOMEM;
        s->e = e;
        s->cap = cap;
    }
    if (2 * (s->n + 1) <= s->n_slots)
        return DM_OK;
    size_t n_slots = s->n_slots ? 2 * s->n_slots : 32;
    int32_t *slots = malloc(n_slots * sizeof *slots);
    if (!slots)
        return DM_ERR_NOMEM;
    memset(slots, 0xff, n_slots * sizeof *slots);
    free(s->slots);
    s->slots = slots;
    s->n_slots = n_slots;
    for (size_t i = 0; i < s->n; i++)
        place(s, (int32_t)i);
    return DM_OK;
}

static int add(doneset *s, const ddb_item *it, const char *payload)
{
    char *own = payload ? dm_strdup(payload) : NULL;
    if (payload && !own)
        return DM_ERR_NOMEM;
    dm_buf canon, json;
    dm_buf_init(&canon, 0);
    dm_buf_init(&json, 0);
    int rc = key_of(s, it, &canon, &json);
    uint64_t h = rc ? 0 : hash_bytes(canon.data, canon.len);
    int32_t at = rc ? -1 : find(s, canon.data, canon.len, h);
    if (rc == DM_OK && at >= 0) {
        s->live += !s->e[at].live;
        s->e[at].live = true;
        free(s->e[at].payload);
        s->e[at].payload = own;
        own = NULL;
    } else if (rc == DM_OK && (rc = grow(s)) == DM_OK) {
        entry *e = &s->e[s->n];
        *e = (entry){.canon_len = canon.len, .hash = h, .live = true, .payload = own};
        own = NULL;
        e->canon = canon.data;
        e->json = json.data;
        dm_buf_init(&canon, 0);
        dm_buf_init(&json, 0);
        if (!e->canon || !e->json) {
            free(e->canon);
            free(e->json);
            free(e->payload);
            rc = DM_ERR_NOMEM;
        } else {
            place(s, (int32_t)s->n++);
            s->live++;
        }
    }
    free(own);
    dm_buf_cleanup(&canon);
    dm_buf_cleanup(&json);
    return rc;
}

int doneset_add_item(doneset *s, const ddb_item *it) { return add(s, it, NULL); }

int doneset_add_item_with(doneset *s, const ddb_item *it, const char *payload) { return add(s, it, payload); }

static int checked(doneset_schema sc, const ddb_item *it, dm_error *err)
{
    for (size_t i = 0; i < it->n; i++) {
        bool named = false;
        for (size_t k = 0; k < sc.n; k++)
            named = named || (strlen(sc.names[k]) == it->names[i].n &&
                              memcmp(sc.names[k], it->names[i].p, it->names[i].n) == 0);
        if (!named)
            return dm_error_set(err, DM_ERR_PARSE, "a key names '%.*s', which is not a key attribute of the table",
                                (int)(it->names[i].n > 255 ? 255 : it->names[i].n), it->names[i].p);
    }
    for (size_t k = 0; k < sc.n; k++) {
        const ddb_value *v = ddb_item_get(it, sc.names[k], strlen(sc.names[k]));
        ddb_number x;
        if (!v)
            return dm_error_set(err, DM_ERR_PARSE, "a key lacks the key attribute '%s'", sc.names[k]);
        const char *t = ddb_type_name(v->type);
        if (v->type != DDB_S && v->type != DDB_N && v->type != DDB_B)
            return dm_error_set(err, DM_ERR_PARSE, "a key's '%s' is of type %s, not S, N or B", sc.names[k], t);
        if (sc.types && sc.types[k] && strcmp(sc.types[k], t) != 0)
            return dm_error_set(err, DM_ERR_PARSE, "a key's '%s' is of type %s; the table's is %s", sc.names[k], t,
                                sc.types[k]);
        if (v->type == DDB_N && ddb_number_parse(v->data, v->len, &x, NULL) != DM_OK)
            return dm_error_set(err, DM_ERR_PARSE, "a key's '%s' is not a number DynamoDB holds", sc.names[k]);
    }
    return DM_OK;
}

/* Decodes and checks text into a (whose contents the caller drops). */
static int decode_key(doneset_schema sc, dm_arena *a, const char *text, size_t len, ddb_item *it, dm_error *err)
{
    size_t used = 0;
    dm_error e = {0};
    if (ddb_item_decode(text, len, a, it, &used, &e) != DM_OK)
        return dm_error_set(err, DM_ERR_PARSE, "a key that is not DynamoDB JSON (%s)", e.message);
    while (used < len && (text[used] == ' ' || text[used] == '\n' || text[used] == '\t' || text[used] == '\r'))
        used++;
    if (used != len)
        return dm_error_set(err, DM_ERR_PARSE, "a key followed by other text");
    return checked(sc, it, err);
}

int doneset_check_key(doneset_schema sc, const char *text, size_t len, dm_error *err)
{
    dm_arena *a = dm_arena_new(4096);
    if (!a)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    ddb_item it;
    int rc = decode_key(sc, a, text, len, &it, err);
    dm_arena_free(a);
    return rc;
}

int doneset_add_json_with(doneset *s, const char *text, size_t len, const char *payload, dm_error *err)
{
    ddb_item it;
    dm_arena_reset(s->scratch);
    int rc = decode_key(s->schema, s->scratch, text, len, &it, err);
    if (rc == DM_OK && (rc = add(s, &it, payload)) != DM_OK)
        dm_error_set(err, rc, "out of memory");
    return rc;
}

int doneset_add_json(doneset *s, const char *text, size_t len, dm_error *err)
{
    return doneset_add_json_with(s, text, len, NULL, err);
}

bool doneset_take(doneset *s, const ddb_item *it) { return doneset_take_with(s, it, NULL); }

bool doneset_take_with(doneset *s, const ddb_item *it, const char **payload)
{
    if (payload)
        *payload = NULL;
    if (!s || !s->live)
        return false;
    dm_buf canon;
    dm_buf_init(&canon, 0);
    int32_t at = -1;
    if (key_of(s, it, &canon, NULL) == DM_OK)
        at = find(s, canon.data, canon.len, hash_bytes(canon.data, canon.len));
    dm_buf_cleanup(&canon);
    if (at < 0 || !s->e[at].live)
        return false;
    s->e[at].live = false;
    s->live--;
    if (payload)
        *payload = s->e[at].payload;
    return true;
}

int doneset_write(const doneset *s, size_t max, dm_buf *out, size_t *left)
{
    size_t start = out->len, out_n = 0;
    int rc = dm_buf_putc(out, '[');
    bool first = true;
    for (size_t i = 0; s && !rc && i < s->n; i++) {
        if (!s->e[i].live)
            continue;
        const entry *e = &s->e[i];
        size_t n = strlen(e->json) + (e->payload ? strlen(e->payload) + 20 : 0);
        if (max && out->len - start + n + 2 > max) {
            out_n++;
            continue;
        }
        rc = first ? DM_OK : dm_buf_putc(out, ',');
        if (!rc && e->payload) {
            rc = dm_buf_puts(out, "{\"key\":");
            rc = rc ? rc : dm_buf_puts(out, e->json);
            rc = rc ? rc : dm_buf_puts(out, ",\"wrote\":");
            rc = rc ? rc : dm_buf_puts(out, e->payload);
            rc = rc ? rc : dm_buf_putc(out, '}');
        } else if (!rc) {
            rc = dm_buf_append(out, e->json, strlen(e->json));
        }
        first = false;
    }
    if (left)
        *left = out_n;
    return rc ? rc : dm_buf_putc(out, ']');
}
