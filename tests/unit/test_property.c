/* Property tests over random items (seeded, so failures reproduce):
 * decode/encode/Lua/diff with the identity script changes nothing, and a
 * random edit shows up as exactly that edit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddbmig/ddb_ops.h"
#include "ddbmig/diff.h"
#include "ddbmig/lua_host.h"
#include "common/crypto.h"
#include "test.h"

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return (uint32_t)(x >> 32) % n;
}

static void gen_string(dm_buf *raw)
{
    static const char *const pieces[] = {"a", "b", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\x01", "é", "日", "😀",
                                         "x"};
    int n = (int)rnd(12);
    for (int i = 0; i < n; i++)
        dm_buf_puts(raw, pieces[rnd(15)]);
}

static void put_json_string(dm_buf *out)
{
    dm_buf raw;
    dm_buf_init(&raw, 0);
    gen_string(&raw);
    ddb_json_string(out, dm_buf_cstr(&raw));
    dm_buf_cleanup(&raw);
}

static void gen_number(char *out, size_t size)
{
    for (;;) {
        int digits = 1 + (int)rnd(38), o = 0;
        char t[80];
        if (rnd(2))
            t[o++] = '-';
        t[o++] = (char)('1' + rnd(9));
        for (int i = 1; i < digits; i++)
            t[o++] = (char)('0' + rnd(10));
        if (rnd(2))
            o += snprintf(t + o, sizeof t - (size_t)o, "E%d", (int)rnd(200) - 110);
        t[o] = '\0';
        ddb_number n;
        if (ddb_number_parse(t, (size_t)o, &n, NULL) == DM_OK) {
            dm_strlcpy(out, t, size);
            return;
        }
    }
}

static void gen_binary(dm_buf *out)
{
    char bytes[16];
    int n = (int)rnd(16);
    for (int i = 0; i < n; i++)
        bytes[i] = (char)rnd(256);
    dm_buf_putc(out, '"');
    dm_base64_encode(bytes, (size_t)n, out);
    dm_buf_putc(out, '"');
}

static void gen_value(dm_buf *o, int depth);

static void gen_container(dm_buf *o, int depth, bool map)
{
    int n = (int)rnd(4);
    dm_buf_puts(o, map ? "{\"M\":{" : "{\"L\":[");
    for (int i = 0; i < n; i++) {
        if (i)
            dm_buf_putc(o, ',');
        if (map)
            dm_buf_appendf(o, "\"k%d\":", i);
        gen_value(o, depth + 1);
    }
    dm_buf_puts(o, map ? "}}" : "]}");
}

static void gen_set(dm_buf *o, int kind)
{
    int n = 1 + (int)rnd(4);
    dm_buf_puts(o, kind == 0 ? "{\"SS\":[" : kind == 1 ? "{\"NS\":[" : "{\"BS\":[");
    for (int i = 0; i < n; i++) {
        if (i)
            dm_buf_putc(o, ',');
        /* Distinct members: an index prefix keeps them apart. */
        if (kind == 0) {
            dm_buf_appendf(o, "\"m%d", i);
            dm_buf_puts(o, "\"");
        } else if (kind == 1) {
            dm_buf_appendf(o, "\"%d.%u\"", i, rnd(1000) * 10 + 1);
        } else {
            char b[3] = {(char)i, (char)rnd(256), 0};
            dm_buf_putc(o, '"');
            dm_base64_encode(b, 2, o);
            dm_buf_putc(o, '"');
        }
    }
    dm_buf_puts(o, "]}");
}

static void gen_value(dm_buf *o, int depth)
{
    char num[80];
    switch (rnd(depth >= 4 ? 5 : 10)) {
    case 0: dm_buf_puts(o, "{\"S\":"); put_json_string(o); dm_buf_putc(o, '}'); break;
    case 1: gen_number(num, sizeof num); dm_buf_appendf(o, "{\"N\":\"%s\"}", num); break;
    case 2: dm_buf_puts(o, "{\"B\":"); gen_binary(o); dm_buf_putc(o, '}'); break;
    case 3: dm_buf_puts(o, rnd(2) ? "{\"BOOL\":true}" : "{\"BOOL\":false}"); break;
    case 4: dm_buf_puts(o, "{\"NULL\":true}"); break;
    case 5: case 6: gen_container(o, depth, true); break;
    case 7: gen_container(o, depth, false); break;
    default: gen_set(o, (int)rnd(3));
    }
}

static int gen_item(dm_buf *o)
{
    int n = 1 + (int)rnd(8);
    dm_buf_puts(o, "{\"pk\":{\"S\":\"item\"}");
    for (int i = 0; i < n; i++) {
        dm_buf_appendf(o, ",\"a%d%s\":", i, rnd(3) == 0 ? "é" : "");
        gen_value(o, 1);
    }
    dm_buf_putc(o, '}');
    return n;
}

static const char *KEYS[] = {"pk"};

static lua_host *host(const char *code)
{
    lua_host_options opt = {.script = code, .script_len = strlen(code), .chunk_name = "-e", .one_liner = true,
                            .now = "2026-01-01T00:00:00Z", .migration = "p", .table = "t"};
    lua_host *h = NULL;
    dm_error err;
    if (lua_host_new(&opt, &h, &err))
        fprintf(stderr, "host: %s\n", err.message);
    return h;
}

TEST(identity_is_empty_diff)
{
    lua_host *h = host("return item");
    CHECK(h != NULL);
    for (int seed = 1; seed <= 400; seed++) {
        rng_state = 0x9E3779B97F4A7C15ull * (uint64_t)seed;
        dm_buf text, again;
        dm_buf_init(&text, 0);
        dm_buf_init(&again, 0);
        gen_item(&text);
        dm_arena *a = dm_arena_new(0);
        ddb_item it;
        dm_error err = {0};
        lua_result r;
        ddb_diff d;
        int rc = ddb_item_decode(text.data, text.len, a, &it, NULL, &err);
        if (rc)
            fprintf(stderr, "seed %d: %s\n%s\n", seed, err.message, text.data);
        CHECK_INT(rc, DM_OK);
        rc = lua_host_migrate(h, &it, 0, a, &r, &err);
        if (rc)
            fprintf(stderr, "seed %d: %s\n%s\n", seed, err.message, text.data);
        CHECK_INT(rc, DM_OK);
        CHECK_INT(ddb_diff_compute(&it, &r.item, KEYS, 1, a, &d), DM_OK);
        if (!ddb_diff_empty(&d))
            fprintf(stderr, "seed %d: identity changed attribute %zu of %s\n", seed, d.n_set ? d.set[0] : 999,
                    text.data);
        CHECK(ddb_diff_empty(&d));
        ddb_item_encode(&r.item, &again);
        CHECK_STR(dm_buf_cstr(&again), dm_buf_cstr(&text));
        dm_arena_free(a);
        dm_buf_cleanup(&text);
        dm_buf_cleanup(&again);
    }
    lua_host_free(h);
}

/* The original text of attribute i, for comparing what was kept. */
static void attr_text(const ddb_item *it, const char *name, size_t n, char *out, size_t size)
{
    const ddb_value *v = ddb_item_get(it, name, n);
    dm_buf b;
    dm_buf_init(&b, 0);
    if (v)
        ddb_value_encode(v, &b);
    dm_strlcpy(out, v ? dm_buf_cstr(&b) : "(absent)", size);
    dm_buf_cleanup(&b);
}

TEST(random_edit_is_exactly_that_edit)
{
    for (int seed = 1; seed <= 250; seed++) {
        rng_state = 0xD1B54A32D192ED03ull * (uint64_t)seed;
        dm_buf text;
        dm_buf_init(&text, 0);
        int n = gen_item(&text);
        dm_arena *a = dm_arena_new(0);
        ddb_item it;
        CHECK_INT(ddb_item_decode(text.data, text.len, a, &it, NULL, NULL), DM_OK);
        /* Pick an edit: change, remove, or add one attribute. */
        int kind = (int)rnd(3), target = 1 + (int)rnd((uint32_t)n);
        const dm_str *name = &it.names[target];
        char code[512], added[32];
        snprintf(added, sizeof added, "zz_new_%d", seed);
        if (kind == 0)
            snprintf(code, sizeof code, "item[\"%.*s\"] = 'edited-%d'; return item", (int)name->n, name->p, seed);
        else if (kind == 1)
            snprintf(code, sizeof code, "item[\"%.*s\"] = nil; return item", (int)name->n, name->p);
        else
            snprintf(code, sizeof code, "item.%s = %d; return item", added, seed);
        lua_host *h = host(code);
        CHECK(h != NULL);
        lua_result r;
        ddb_diff d;
        dm_error err = {0};
        CHECK_INT(lua_host_migrate(h, &it, 0, a, &r, &err), DM_OK);
        CHECK_INT(ddb_diff_compute(&it, &r.item, KEYS, 1, a, &d), DM_OK);
        CHECK(!d.key_changed);
        if (kind == 1) {
            CHECK_INT(d.n_set, 0);
            CHECK_INT(d.n_remove, 1);
            CHECK(d.remove[0].n == name->n && memcmp(d.remove[0].p, name->p, name->n) == 0);
        } else {
            CHECK_INT(d.n_set, 1);
            CHECK_INT(d.n_remove, 0);
            const dm_str *got = &r.item.names[d.set[0]];
            if (kind == 0)
                CHECK(got->n == name->n && memcmp(got->p, name->p, name->n) == 0);
            else
                CHECK(got->n == strlen(added) && memcmp(got->p, added, got->n) == 0);
        }
        /* Every other attribute is kept byte for byte. */
        for (size_t i = 0; i < it.n; i++) {
            if (kind != 2 && i == (size_t)target)
                continue;
            char before[4096], after[4096];
            attr_text(&it, it.names[i].p, it.names[i].n, before, sizeof before);
            attr_text(&r.item, it.names[i].p, it.names[i].n, after, sizeof after);
            CHECK_STR(after, before);
            const ddb_value *nv = ddb_item_get(&r.item, it.names[i].p, it.names[i].n);
            CHECK(nv && nv->wire.p == it.values[i].wire.p);
        }
        lua_host_free(h);
        dm_arena_free(a);
        dm_buf_cleanup(&text);
    }
}
