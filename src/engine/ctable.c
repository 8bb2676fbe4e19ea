/* The checkpoint table (see ctable.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "checkpoint.h"
#include "ctable.h"
#include "doneset.h"
#include "ddbmig/ddb_ops.h"

struct ctable {
    char owner[128];          /* host:pid:random, this process */
    int64_t lease_ms;
    bool meta_pending;        /* a new migration: its meta item is written at commit */
    pthread_mutex_t claim_mu; /* one claim at a time in this process */
    int next;                 /* where the next claim looks first */
    int64_t quiet_until;      /* monotonic ms: a claim that may not wait looks no sooner (under claim_mu) */
    ddb_client *flush_client; /* the monitor thread's */
};

static const char *table_name(const run_state *r) { return r->o->checkpoint_table; }

static json_t *str(const char *s) { return json_pack("{s:s}", "S", s ? s : ""); }

static json_t *num(long long v)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", v);
    return json_pack("{s:s}", "N", b);
}

static json_t *key_of(const run_state *r, int seg)
{
    char id[128];
    if (seg < 0)
        snprintf(id, sizeof id, "%s#meta", r->migration);
    else
        snprintf(id, sizeof id, "%s#%d", r->migration, seg);
    return json_pack("{s:o}", "id", str(id));
}

static const char *get_s(json_t *item, const char *k)
{
    return json_string_value(json_object_get(json_object_get(item, k), "S"));
}

static long long get_n(json_t *item, const char *k, long long dflt)
{
    const char *v = json_string_value(json_object_get(json_object_get(item, k), "N"));
    if (!v)
        return dflt;
    char *end;
    long long n = strtoll(v, &end, 10);
    return *end ? dflt : n;
}

static bool conditional_failed(const dm_error *e) { return strcmp(e->type, "ConditionalCheckFailedException") == 0; }

/* ---- opening: the table and the meta item ---- */

static int create_table(run_state *r, ddb_client *c, dm_error *err)
{
    const engine_options *o = r->o;
    if (!o->yes) {
        char q[400];
        snprintf(q, sizeof q, "Create the checkpoint table %s (on-demand, key id)?", table_name(r));
        if (!o->confirm)
            return dm_error_set(err, DM_ERR_CONFIG,
                                "the checkpoint table %s does not exist; creating it needs --yes when it cannot be "
                                "confirmed interactively",
                                table_name(r));
        if (!o->confirm(o->confirm_ud, q))
            return dm_error_set(err, DM_ERR_CONFIG, "the checkpoint table %s was not created", table_name(r));
    }
    json_t *req = json_pack("{s:s,s:[{s:s,s:s}],s:[{s:s,s:s}],s:s}", "TableName", table_name(r), "AttributeDefinitions",
                            "AttributeName", "id", "AttributeType", "S", "KeySchema", "AttributeName", "id", "KeyType",
                            "HASH", "BillingMode", "PAY_PER_REQUEST");
    if (!req)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    dm_error e = {0};
    int rc = ddb_create_table(c, req, &e);
    json_decref(req);
    /* Another process created it first: wait for it instead. */
    if (rc && strcmp(e.type, "ResourceInUseException") == 0)
        rc = ddb_wait_table(c, table_name(r), false, 300, &e);
    if (rc) {
        *err = e;
        dm_error_prefix(err, "creating the checkpoint table %s", table_name(r));
    } else if (!o->quiet) {
        fprintf(stderr, "ddbmig: created the checkpoint table %s\n", table_name(r));
    }
    return rc;
}

static int ensure_table(run_state *r, ddb_client *c, dm_error *err)
{
    ddb_table_desc d;
    dm_error e = {0};
    int rc = ddb_describe_table(c, table_name(r), &d, &e);
    if (rc == DM_OK) {
        bool ok = strcmp(d.hash.name, "id") == 0 && strcmp(d.hash.type, "S") == 0 && !d.has_range;
        ddb_table_desc_cleanup(&d);
        if (!ok)
            return dm_error_set(err, DM_ERR_CONFIG,
                                "%s is not a checkpoint table: its key must be the string attribute id alone",
                                table_name(r));
        return DM_OK;
    }
    if (strcmp(e.type, "ResourceNotFoundException") != 0) {
        *err = e;
        return rc;
    }
    return create_table(r, c, err);
}

static void put_opt(json_t *item, const char *k, const char *v)
{
    if (v)
        json_object_set_new(item, k, str(v));
}

static json_t *meta_item(run_state *r)
{
    const engine_options *o = r->o;
    json_t *item = key_of(r, -1);
    if (!item)
        return NULL;
    json_object_set_new(item, "kind", str("meta"));
    json_object_set_new(item, "table", str(o->table));
    json_object_set_new(item, "migration", str(r->migration));
    json_object_set_new(item, "script_sha256", str(r->script_hash));
    json_object_set_new(item, "started_at", str(r->now));
    json_object_set_new(item, "total_segments", num(r->n_segs));
    json_object_set_new(item, "write_mode", str(checkpoint_mode_name(r->mode)));
    put_opt(item, "target_table", o->target_table);
    put_opt(item, "marker", o->marker);
    put_opt(item, "version_attribute", o->version_attribute);
    put_opt(item, "filter_expression", o->filter_expression);
    put_opt(item, "expression_attribute_names", o->names_json);
    put_opt(item, "expression_attribute_values", o->values_json);
    return item;
}

static char *dup_opt(json_t *item, const char *k)
{
    const char *v = get_s(item, k);
    return v ? dm_strdup(v) : NULL;
}

/* The meta item as a checkpoint document, for checkpoint_refuse. */
static int meta_doc(json_t *item, checkpoint_doc *d)
{
    memset(d, 0, sizeof *d);
    d->table = dup_opt(item, "table");
    d->migration = dup_opt(item, "migration");
    d->script_sha256 = dup_opt(item, "script_sha256");
    d->started_at = dup_opt(item, "started_at");
    d->write_mode = dup_opt(item, "write_mode");
    d->target_table = dup_opt(item, "target_table");
    d->marker = dup_opt(item, "marker");
    d->version_attribute = dup_opt(item, "version_attribute");
    d->filter_expression = dup_opt(item, "filter_expression");
    d->names_json = dup_opt(item, "expression_attribute_names");
    d->values_json = dup_opt(item, "expression_attribute_values");
    long long n = get_n(item, "total_segments", 0);
    d->n_segs = n >= 1 && n <= 1000000 ? (int)n : 0;
    return d->table && d->migration && d->script_sha256 && d->started_at && d->write_mode && d->n_segs ? DM_OK
                                                                                                      : DM_ERR_PARSE;
}

static int get_item(run_state *r, ddb_client *c, json_t *key, json_t **item, dm_error *err)
{
    *item = NULL;
    json_t *req = json_pack("{s:s,s:o,s:b}", "TableName", table_name(r), "Key", key, "ConsistentRead", 1), *resp = NULL;
    if (!req)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    int rc = ddb_request(c, "GetItem", table_name(r), req, &resp, err);
    json_decref(req);
    if (rc == DM_OK) {
        *item = json_incref(json_object_get(resp, "Item"));
        json_decref(resp);
    }
    return rc;
}

static int adopt_meta(run_state *r, json_t *item, dm_error *err)
{
    checkpoint_doc d;
    char where[400];
    snprintf(where, sizeof where, "the migration %s in checkpoint table %s", r->migration, table_name(r));
    int rc = meta_doc(item, &d);
    if (rc)
        rc = dm_error_set(err, DM_ERR_CONFIG, "%s: its meta item is malformed", where);
    else if ((rc = checkpoint_refuse(r, &d, where, err)) == DM_OK) {
        r->n_segs = d.n_segs;
        dm_strlcpy(r->now, d.started_at, sizeof r->now);
    }
    checkpoint_doc_cleanup(&d);
    return rc;
}

/* Reads the meta item: a migration already begun is adopted (or refused
 * for other options); a new one is written by ctable_commit, after the
 * go-ahead, so that a refused or unconfirmed run binds nothing. */
static int meta(run_state *r, ddb_client *c, dm_error *err)
{
    json_t *item;
    int rc = get_item(r, c, key_of(r, -1), &item, err);
    if (rc)
        return rc;
    r->ct->meta_pending = item == NULL;
    if (item) {
        rc = adopt_meta(r, item, err);
        json_decref(item);
    }
    return rc;
}

int ctable_commit(run_state *r, ddb_client *c, dm_error *err)
{
    if (!r->ct->meta_pending)
        return DM_OK;
    json_t *req = json_pack("{s:s,s:o,s:s}", "TableName", table_name(r), "Item", meta_item(r), "ConditionExpression",
                            "attribute_not_exists(id)");
    dm_error e = {0};
    int rc = req ? ddb_request(c, "PutItem", table_name(r), req, NULL, &e) : DM_ERR_NOMEM;
    json_decref(req);
    if (rc == DM_OK) {
        r->ct->meta_pending = false;
        return DM_OK;
    }
    if (!conditional_failed(&e)) {
        *err = e;
        return rc;
    }
    /* Another process began the same migration meanwhile: its options
     * must be these, its segment count too. */
    int n = r->n_segs;
    json_t *item = NULL;
    if ((rc = get_item(r, c, key_of(r, -1), &item, err)) != DM_OK)
        return rc;
    rc = item ? adopt_meta(r, item, err) : dm_error_set(err, DM_ERR_SERVICE, "the meta item vanished");
    json_decref(item);
    if (rc == DM_OK && r->n_segs != n)
        rc = dm_error_set(err, DM_ERR_CONFIG,
                          "another process began migration %s meanwhile with %d segments, not %d: run again (or "
                          "give --total-segments %d)",
                          r->migration, r->n_segs, n, r->n_segs);
    r->ct->meta_pending = false;
    return rc;
}

int ctable_open(run_state *r, ddb_client *c, dm_error *err)
{
    ctable *ct = calloc(1, sizeof *ct);
    if (!ct)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    r->ct = ct;
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    uint8_t rnd[6] = {0};
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        int64_t t = dm_now_ms();
        memcpy(rnd, &t, sizeof rnd);
    }
    snprintf(ct->owner, sizeof ct->owner, "%.60s:%ld:%02x%02x%02x%02x%02x%02x", host, (long)getpid(), rnd[0], rnd[1],
             rnd[2], rnd[3], rnd[4], rnd[5]);
    ct->lease_ms = (int64_t)(r->o->lease_seconds > 0 ? r->o->lease_seconds : 60) * 1000;
    ct->next = (int)(((unsigned)rnd[0] << 8 | rnd[1]) % 65536);
    pthread_mutex_init(&ct->claim_mu, NULL);
    int rc = ensure_table(r, c, err);
    if (rc == DM_OK)
        rc = meta(r, c, err);
    if (rc)
        return rc;
    r->segs = calloc((size_t)r->n_segs, sizeof *r->segs);
    if (!r->segs)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < r->n_segs; i++)
        r->segs[i].index = i;
    return DM_OK;
}

void ctable_free(ctable *ct)
{
    if (!ct)
        return;
    ddb_client_free(ct->flush_client);
    pthread_mutex_destroy(&ct->claim_mu);
    free(ct);
}

ddb_client *ctable_client(run_state *r)
{
    if (!r->ct->flush_client)
        r->ct->flush_client = ddb_client_new(r->shared);
    return r->ct->flush_client;
}

/* ---- claiming ---- */

/* The segment's item as it is (consistent), or NULL. */
static int read_segment(run_state *r, ddb_client *c, int seg, json_t **item, dm_error *err)
{
    return get_item(r, c, key_of(r, seg), item, err);
}

/* A conditional write whose first answer was lost is retried by the
 * client, and the retry fails its condition because the first one
 * applied. The item tells: owned by this process at the version the
 * write made means it did. *item gets the item when so. */
static bool applied(run_state *r, ddb_client *c, int seg, long long version, bool owner_gone, json_t **item)
{
    json_t *it = NULL;
    dm_error ignored = {0};
    if (read_segment(r, c, seg, &it, &ignored) != DM_OK || !it)
        return false;
    const char *owner = get_s(it, "owner");
    /* Versions only grow through writes conditional on them: the version
     * this write made, with the owner it left, is this write. */
    bool mine = get_n(it, "version", -1) == version &&
                (owner_gone ? !owner || !*owner : owner && strcmp(owner, r->ct->owner) == 0);
    if (mine && item)
        *item = it;
    else
        json_decref(it);
    return mine;
}

/* Makes the item of a segment nobody has touched: owned by this process. */
static int create_segment(run_state *r, ddb_client *c, int seg, bool *won, dm_error *err)
{
    json_t *item = key_of(r, seg);
    json_object_set_new(item, "migration", str(r->migration));
    json_object_set_new(item, "segment", num(seg));
    json_object_set_new(item, "status", str("running"));
    json_object_set_new(item, "owner", str(r->ct->owner));
    json_object_set_new(item, "lease_until", num(dm_now_ms() + r->ct->lease_ms));
    json_object_set_new(item, "version", num(1));
    json_t *req = json_pack("{s:s,s:o,s:s}", "TableName", table_name(r), "Item", item, "ConditionExpression",
                            "attribute_not_exists(id)");
    dm_error e = {0};
    int rc = req ? ddb_request(c, "PutItem", table_name(r), req, NULL, &e) : DM_ERR_NOMEM;
    json_decref(req);
    *won = rc == DM_OK;
    if (rc && conditional_failed(&e)) {
        *won = applied(r, c, seg, 1, false, NULL);
        return DM_OK;
    }
    if (rc)
        *err = e;
    return rc;
}

/* Takes over a segment that is free or whose owner's lease has expired:
 * *item gets the item as it is now (owned by us) when won. */
static int take_segment_item(run_state *r, ddb_client *c, int seg, long long version, json_t **item, dm_error *err)
{
    *item = NULL;
    json_t *vals = json_pack("{s:o,s:o,s:o,s:o,s:o}", ":me", str(r->ct->owner), ":lease",
                             num(dm_now_ms() + r->ct->lease_ms), ":v", num(version), ":one", num(1), ":running",
                             str("running"));
    json_t *req = json_pack("{s:s,s:o,s:s,s:s,s:{s:s,s:s},s:o,s:s}", "TableName", table_name(r), "Key",
                            key_of(r, seg), "UpdateExpression",
                            "SET #o = :me, lease_until = :lease, version = version + :one, #s = :running",
                            "ConditionExpression", "version = :v", "ExpressionAttributeNames", "#o", "owner", "#s",
                            "status", "ExpressionAttributeValues", vals, "ReturnValues", "ALL_NEW");
    json_t *resp = NULL;
    dm_error e = {0};
    int rc = req ? ddb_request(c, "UpdateItem", table_name(r), req, &resp, &e) : DM_ERR_NOMEM;
    json_decref(req);
    if (rc == DM_OK)
        *item = json_incref(json_object_get(resp, "Attributes"));
    json_decref(resp);
    if (rc && conditional_failed(&e)) {
        applied(r, c, seg, version + 1, false, item);
        return DM_OK;
    }
    if (rc)
        *err = e;
    return rc;
}

/* One of a segment item's key sets into *out (NULL when empty): attr
 * done_keys, a JSON list of keys; or in_doubt, a JSON list of
 * {"key": KEY, "wrote": RECORD} (with_wrote). */
static int parse_set(run_state *r, json_t *item, const char *attr, bool with_wrote, doneset **out, dm_error *err)
{
    *out = NULL;
    const char *text = get_s(item, attr);
    if (!text || !*text)
        return DM_OK;
    json_t *keys = json_loads(text, JSON_ALLOW_NUL, NULL);
    int rc = json_is_array(keys) ? DM_OK : dm_error_set(err, DM_ERR_PARSE, "not a JSON list");
    if (rc == DM_OK && json_array_size(keys) && !(*out = doneset_new(RUN_KEY_SCHEMA(r))))
        rc = dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == DM_OK && i < json_array_size(keys); i++) {
        json_t *one = json_array_get(keys, i);
        json_t *key = with_wrote ? json_object_get(one, "key") : one, *wrote = json_object_get(one, "wrote");
        char *k = json_dumps(key, JSON_COMPACT | JSON_ENCODE_ANY);
        char *w = with_wrote && wrote ? json_dumps(wrote, JSON_COMPACT) : NULL;
        if (!k || (with_wrote && !w))
            rc = dm_error_set(err, DM_ERR_PARSE, "entry %zu is not a key%s", i, with_wrote ? " and a record" : "");
        else if (with_wrote && wplan_wrote_check(w, strlen(w), err) != DM_OK)
            rc = DM_ERR_PARSE;
        else
            rc = doneset_add_json_with(*out, k, strlen(k), w, err);
        free(k);
        free(w);
    }
    json_decref(keys);
    if (rc) {
        doneset_free(*out);
        *out = NULL;
        if (rc != DM_ERR_NOMEM)
            dm_error_prefix(err, "its %s", attr);
    }
    return rc;
}

/* Each attribute of a segment item this version reads, when present, is
 * of its type (a count stored as a string would read as 0, a cursor
 * stored as a map as none: the segment would start over). */
static int segment_types(json_t *item, dm_error *err)
{
    static const char *const strings[] = {"owner", "status", "cursor", "done_keys", "in_doubt"};
    static const char *const numbers[] = {"version", "lease_until", "scanned", "changed", "unchanged",
                                          "deleted", "failed", "conflicts", "work_ms"};
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
        json_t *v = json_object_get(item, strings[i]);
        if (v && !json_is_string(json_object_get(v, "S")))
            return dm_error_set(err, DM_ERR_PARSE, "its %s is not a string (S)", strings[i]);
    }
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++) {
        json_t *v = json_object_get(item, numbers[i]);
        if (v && (get_n(item, numbers[i], -1) < 0 || get_n(item, numbers[i], -2) < 0))
            return dm_error_set(err, DM_ERR_PARSE, "its %s is not a whole number from 0 up (N)", numbers[i]);
    }
    if (get_n(item, "version", 0) < 1)
        return dm_error_set(err, DM_ERR_PARSE, "its version is not a number from 1 up");
    return DM_OK;
}

/* A segment item as this version wrote it: attributes of their types, a
 * cursor that is an ExclusiveStartKey of the table (or none), and keys
 * done past it that are keys of the table. */
static int segment_ok(run_state *r, json_t *item, dm_error *err)
{
    if (segment_types(item, err) != DM_OK)
        return DM_ERR_PARSE;
    const char *cursor = get_s(item, "cursor");
    if (cursor && *cursor && doneset_check_key(RUN_KEY_SCHEMA(r), cursor, strlen(cursor), err) != DM_OK) {
        dm_error_prefix(err, "its cursor");
        return DM_ERR_PARSE;
    }
    doneset *d = NULL;
    int rc = parse_set(r, item, "done_keys", false, &d, err);
    doneset_free(d);
    d = NULL;
    rc = rc ? rc : parse_set(r, item, "in_doubt", true, &d, err);
    doneset_free(d);
    return rc;
}

/* err (the reason) becomes the message for segment seg's item. */
static int malformed(run_state *r, int seg, dm_error *err)
{
    char why[sizeof err->message];
    dm_strlcpy(why, err->message, sizeof why);
    return dm_error_set(err, DM_ERR_CONFIG,
                        "segment %d's item in the checkpoint table %s is malformed (%s); fix or delete the item "
                        "%s#%d (deleted, the segment starts over: the script runs again on its items)",
                        seg, table_name(r), why, r->migration, seg);
}

/* Loads a won segment's cursor and counts. */
static void load_segment(run_state *r, seg_state *s, json_t *item)
{
    const char *cursor = get_s(item, "cursor");
    pthread_mutex_lock(&r->mu);
    free(s->last_key);
    s->last_key = cursor && *cursor ? dm_strdup(cursor) : NULL;
    s->scanned = get_n(item, "scanned", 0);
    s->changed = get_n(item, "changed", 0);
    s->unchanged = get_n(item, "unchanged", 0);
    s->deleted = get_n(item, "deleted", 0);
    s->failed = get_n(item, "failed", 0);
    s->conflicts = get_n(item, "conflicts", 0);
    s->work_ms = get_n(item, "work_ms", 0);
    s->version = get_n(item, "version", 1);
    doneset_free(s->done);
    doneset_free(s->doubt);
    s->done = s->doubt = NULL;
    dm_error e = {0};
    /* Checked before the take: out of memory. */
    if (parse_set(r, item, "done_keys", false, &s->done, &e) != DM_OK ||
        parse_set(r, item, "in_doubt", true, &s->doubt, &e) != DM_OK)
        fprintf(stderr, "ddbmig: segment %d: %s; items finished past its cursor may run again\n", s->index,
                e.message);
    s->owned = true;
    s->worked = true;
    atomic_store(&s->lost, false);
    s->renewed_ms = dm_monotonic_ms();
    s->status = SEG_RUNNING;
    s->started_ms = dm_monotonic_ms();
    pthread_mutex_unlock(&r->mu);
}

static void mark_done(run_state *r, seg_state *s)
{
    pthread_mutex_lock(&r->mu);
    if (s->status != SEG_DONE) {
        s->status = SEG_DONE;
        r->segs_done++;
    }
    pthread_mutex_unlock(&r->mu);
}

/* One look at segment seg: won (*out set), done, or busy until *busy_until. */
static int try_segment(run_state *r, ddb_client *c, seg_state *s, seg_state **out, int64_t *busy_until,
                       dm_error *err)
{
    json_t *item;
    int rc = read_segment(r, c, s->index, &item, err);
    if (rc)
        return rc;
    s->seen = true;
    if (!item) {
        bool won;
        if ((rc = create_segment(r, c, s->index, &won, err)) != DM_OK || !won)
            return rc;
        json_t *fresh = json_pack("{s:{s:s}}", "version", "N", "1");
        load_segment(r, s, fresh);
        json_decref(fresh);
        *out = s;
        return DM_OK;
    }
    const char *status = get_s(item, "status"), *owner = get_s(item, "owner");
    long long lease = get_n(item, "lease_until", 0), version = get_n(item, "version", 0);
    if (status && strcmp(status, "done") == 0) {
        mark_done(r, s);
    } else if (owner && *owner && strcmp(owner, r->ct->owner) != 0 && lease > dm_now_ms()) {
        if (!*busy_until || lease < *busy_until)
            *busy_until = lease;
    } else {
        json_t *won = NULL;
        if (segment_ok(r, item, err) != DM_OK)
            rc = malformed(r, s->index, err);
        else if ((rc = take_segment_item(r, c, s->index, version, &won, err)) == DM_OK && won) {
            if (owner && *owner && strcmp(owner, r->ct->owner) != 0 && !r->o->quiet)
                fprintf(stderr, "ddbmig: segment %d: taking over from %s, whose lease expired\n", s->index, owner);
            load_segment(r, s, won);
            *out = s;
        }
        json_decref(won);
    }
    json_decref(item);
    return rc;
}

static bool stopping(run_state *r) { return atomic_load(&r->stop) != STOP_NONE; }

int ctable_claim(run_state *r, ddb_client *c, bool wait, seg_state **out, dm_error *err)
{
    *out = NULL;
    ctable *ct = r->ct;
    int n = r->seg_list ? r->n_seg_list : r->n_segs, rc = DM_OK;
    while (rc == DM_OK && !*out && !stopping(r)) {
        int64_t busy_until = 0;
        pthread_mutex_lock(&ct->claim_mu);
        /* A claim that may not wait comes with every page a worker with a
         * free lane takes: after a pass that found only others' segments,
         * such claims skip a while rather than read every segment again. */
        if (!wait && dm_monotonic_ms() < ct->quiet_until) {
            pthread_mutex_unlock(&ct->claim_mu);
            break;
        }
        for (int k = 0; k < n && rc == DM_OK && !*out && !stopping(r); k++) {
            int pos = (ct->next + k) % n;
            seg_state *s = &r->segs[r->seg_list ? r->seg_list[pos] : pos];
            pthread_mutex_lock(&r->mu);
            bool skip = s->status != SEG_PENDING;
            pthread_mutex_unlock(&r->mu);
            if (!skip)
                rc = try_segment(r, c, s, out, &busy_until, err);
            if (*out)
                ct->next = pos + 1;
        }
        if (rc == DM_OK && !*out && busy_until && !wait)
            ct->quiet_until = dm_monotonic_ms() + 2000;
        pthread_mutex_unlock(&ct->claim_mu);
        if (rc || *out || !busy_until || !wait)
            break;
        /* Only segments others hold are left: wait for their leases,
         * without the lock, so that this process's other workers claim
         * and release meanwhile. Looked at again every few seconds: an
         * owner may finish its segments long before its lease would end. */
        int64_t pause = busy_until - dm_now_ms() + 200;
        pause = pause > 5000 ? 5000 : pause;
        int64_t end = dm_monotonic_ms() + (pause > 0 ? pause : 200);
        if (r->deadline_mono && end > r->deadline_mono)
            end = r->deadline_mono; /* the deadline comes first */
        while (dm_monotonic_ms() < end && !stopping(r))
            dm_sleep_ms(100);
        if (r->deadline_mono && dm_monotonic_ms() >= r->deadline_mono)
            break;
    }
    return rc;
}

/* ---- progress ---- */

typedef struct snapshot {
    int index;
    char *cursor;
    char *done_keys;    /* JSON list, or NULL */
    char *doubts;       /* JSON list, or NULL */
    size_t keys_left;   /* keys that did not fit the item */
    long long version, scanned, changed, unchanged, deleted, failed, conflicts, work_ms;
    bool done;
} snapshot;

static int write_progress(run_state *r, ddb_client *c, const snapshot *p, bool release, bool *lost, dm_error *err)
{
    const char *status = p->done ? "done" : release ? "free" : "running";
    json_t *vals = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", ":me", str(r->ct->owner), ":v",
                             num(p->version), ":one", num(1), ":st", str(status), ":lease",
                             num(p->done || release ? 0 : dm_now_ms() + r->ct->lease_ms), ":sc", num(p->scanned),
                             ":ch", num(p->changed), ":un", num(p->unchanged), ":de", num(p->deleted), ":fa",
                             num(p->failed), ":co", num(p->conflicts), ":wm", num(p->work_ms));
    dm_buf ue;
    dm_buf_init(&ue, 0);
    dm_buf_puts(&ue, "SET #s = :st, lease_until = :lease, version = version + :one, scanned = :sc, changed = :ch, "
                     "unchanged = :un, deleted = :de, failed = :fa, conflicts = :co, work_ms = :wm");
    if (p->cursor) {
        json_object_set_new(vals, ":cur", str(p->cursor));
        dm_buf_puts(&ue, ", #c = :cur");
    }
    if (p->done_keys) {
        json_object_set_new(vals, ":dk", str(p->done_keys));
        dm_buf_puts(&ue, ", #d = :dk");
    }
    if (p->doubts) {
        json_object_set_new(vals, ":db", str(p->doubts));
        dm_buf_puts(&ue, ", #b = :db");
    }
    /* What is not set is removed: no cursor (the segment's start), no keys
     * done past it or in doubt, and no owner once released. */
    const char *gone[4];
    int n_gone = 0;
    if (!p->cursor)
        gone[n_gone++] = "#c";
    if (!p->done_keys)
        gone[n_gone++] = "#d";
    if (!p->doubts)
        gone[n_gone++] = "#b";
    if (p->done || release)
        gone[n_gone++] = "#o";
    for (int i = 0; i < n_gone; i++) {
        dm_buf_puts(&ue, i ? ", " : " REMOVE ");
        dm_buf_puts(&ue, gone[i]);
    }
    json_t *req = json_pack("{s:s,s:o,s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s},s:o}", "TableName", table_name(r), "Key",
                            key_of(r, p->index), "UpdateExpression", dm_buf_cstr(&ue), "ConditionExpression",
                            "#o = :me AND version = :v", "ExpressionAttributeNames", "#o", "owner", "#s", "status", "#c",
                            "cursor", "#d", "done_keys", "#b", "in_doubt", "ExpressionAttributeValues", vals);
    dm_buf_cleanup(&ue);
    dm_error e = {0};
    int rc = req ? ddb_request(c, "UpdateItem", table_name(r), req, NULL, &e) : DM_ERR_NOMEM;
    json_decref(req);
    /* Lost only when the item is not as this write would have left it. */
    *lost = rc && conditional_failed(&e) && !applied(r, c, p->index, p->version + 1, p->done || release, NULL);
    if (rc && conditional_failed(&e))
        return DM_OK;
    if (rc)
        *err = e;
    return rc;
}

/* A segment item holds at most 400 KB; its other attributes take a few
 * hundred bytes and the cursor at most a key's 2 KB + 1 KB. */
#define DONE_KEYS_MAX (380 * 1024)

/* A key set as JSON text (owned), as many keys as fit in max bytes;
 * *left += those left out. */
static char *set_text(const doneset *d, size_t max, size_t *left)
{
    dm_buf b;
    dm_buf_init(&b, 0);
    size_t out = 0;
    if (doneset_write(d, max, &b, &out) != DM_OK) {
        *left += doneset_size(d);
        dm_buf_cleanup(&b);
        return NULL;
    }
    *left += out;
    return b.data;
}

int ctable_flush(run_state *r, ddb_client *c, bool final, dm_error *err)
{
    int rc = DM_OK;
    for (int i = 0; i < r->n_segs && rc == DM_OK; i++) {
        seg_state *s = &r->segs[i];
        pthread_mutex_lock(&r->mu);
        bool mine = s->owned && !atomic_load(&s->lost);
        snapshot p = {.index = i, .cursor = mine && s->last_key ? dm_strdup(s->last_key) : NULL,
                      .version = s->version, .scanned = s->scanned, .changed = s->changed,
                      .unchanged = s->unchanged, .deleted = s->deleted, .failed = s->failed,
                      .conflicts = s->conflicts, .done = s->status == SEG_DONE,
                      .work_ms = s->work_ms + (s->status == SEG_RUNNING ? dm_monotonic_ms() - s->started_ms : 0)};
        if (mine && doneset_size(s->done))
            p.done_keys = set_text(s->done, DONE_KEYS_MAX, &p.keys_left);
        size_t used = p.done_keys ? strlen(p.done_keys) : 0;
        if (mine && doneset_size(s->doubt) && used + 2 < DONE_KEYS_MAX)
            p.doubts = set_text(s->doubt, DONE_KEYS_MAX - used, &p.keys_left);
        else if (mine)
            p.keys_left += doneset_size(s->doubt);
        bool running = s->status == SEG_RUNNING;
        pthread_mutex_unlock(&r->mu);
        if (!mine) {
            free(p.cursor);
            continue;
        }
        if (final && p.keys_left && !r->o->quiet)
            fprintf(stderr,
                    "ddbmig: segment %d: %zu items finished past its cursor (or with a write in doubt) do not fit "
                    "its item in the checkpoint table; a resume runs the script on them again (--marker makes "
                    "every item exactly once)\n",
                    i, p.keys_left);
        bool release = final && !p.done, lost = false;
        int64_t sent = dm_monotonic_ms(); /* the lease runs from here, not from the answer */
        /* A segment still being worked on is not released, only renewed. */
        if (release && running)
            release = false;
        rc = write_progress(r, c, &p, release, &lost, err);
        free(p.cursor);
        free(p.done_keys);
        free(p.doubts);
        pthread_mutex_lock(&r->mu);
        if (rc == DM_OK && lost) {
            atomic_store(&s->lost, true);
            s->owned = false;
            if (!r->o->quiet)
                fprintf(stderr, "ddbmig: segment %d was taken over by another process; leaving it\n", i);
        } else if (rc == DM_OK) {
            s->version = p.version + 1;
            s->renewed_ms = sent;
            if (p.done || release)
                s->owned = false;
        }
        pthread_mutex_unlock(&r->mu);
    }
    return rc;
}

bool ctable_holds(run_state *r, seg_state *s)
{
    if (atomic_load(&s->lost))
        return false;
    pthread_mutex_lock(&r->mu);
    int64_t renewed = s->renewed_ms;
    pthread_mutex_unlock(&r->mu);
    /* A lease not renewed for three quarters of its length may be taken
     * over soon: stop before that can happen. */
    return dm_monotonic_ms() - renewed < r->ct->lease_ms * 3 / 4;
}

int64_t ctable_flush_every_ms(const run_state *r)
{
    int64_t third = r->ct->lease_ms / 3;
    return third < 5000 ? third : 5000;
}

/* ---- progress, for aws status ---- */

static void progress_add(engine_progress *p, json_t *item, const char *migration, int64_t now)
{
    const char *id = get_s(item, "id");
    size_t n = strlen(migration);
    if (!id || strncmp(id, migration, n) != 0 || id[n] != '#')
        return;
    const char *kind = get_s(item, "kind");
    if (kind && strcmp(kind, "meta") == 0) {
        p->begun = true;
        p->total_segments = get_n(item, "total_segments", 0);
        const char *t = get_s(item, "table"), *at = get_s(item, "started_at");
        dm_strlcpy(p->table, t ? t : "", sizeof p->table);
        if (!at || dm_parse_iso8601(at, &p->started_ms) != DM_OK)
            p->started_ms = 0;
        return;
    }
    if (get_n(item, "segment", -1) < 0)
        return; /* the capacity record and anything else */
    const char *status = get_s(item, "status");
    if (status && strcmp(status, "done") == 0)
        p->done++;
    else if (status && strcmp(status, "running") == 0 && get_n(item, "lease_until", 0) > now)
        p->running++;
    else
        p->waiting++;
    p->scanned += get_n(item, "scanned", 0);
    p->changed += get_n(item, "changed", 0);
    p->failed += get_n(item, "failed", 0);
}

/* Hands each item of a migration (ids MIGRATION#...) to fn, page by page
 * of a consistent Scan; a non-zero return of fn stops it with that code. */
typedef int (*item_fn)(json_t *item, void *ud, dm_error *err);

static int scan_migration(ddb_client *c, const char *table, const char *migration, item_fn fn, void *ud,
                          dm_error *err)
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s#", migration);
    json_t *start = NULL;
    int rc = DM_OK;
    do {
        json_t *req = json_pack("{s:s,s:b,s:s,s:{s:s},s:{s:{s:s}}}", "TableName", table, "ConsistentRead", 1,
                                "FilterExpression", "begins_with(#i, :p)", "ExpressionAttributeNames", "#i", "id",
                                "ExpressionAttributeValues", ":p", "S", prefix);
        if (req && start)
            json_object_set_new(req, "ExclusiveStartKey", start);
        else
            json_decref(start);
        start = NULL;
        json_t *a = NULL;
        rc = req ? ddb_request(c, "Scan", table, req, &a, err) : DM_ERR_NOMEM;
        json_decref(req);
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(a, "Items"), i, item)
        {
            if (rc == DM_OK)
                rc = fn(item, ud, err);
        }
        json_t *last = json_object_get(a, "LastEvaluatedKey");
        if (rc == DM_OK && last)
            start = json_incref(last);
        json_decref(a);
    } while (rc == DM_OK && start);
    return rc;
}

typedef struct progress_scan {
    engine_progress *out;
    const char *migration;
    int64_t now;
} progress_scan;

static int progress_item(json_t *item, void *ud, dm_error *err)
{
    (void)err;
    progress_scan *p = ud;
    progress_add(p->out, item, p->migration, p->now);
    return DM_OK;
}

int engine_progress_read(ddb_client *c, const char *checkpoint_table, const char *migration, engine_progress *out,
                         dm_error *err)
{
    memset(out, 0, sizeof *out);
    progress_scan p = {out, migration, dm_now_ms()};
    return scan_migration(c, checkpoint_table, migration, progress_item, &p, err);
}

/* ---- checked before the first write ---- */

/* Segment seg's item, if any, is one this version can go on from. */
static int check_segment(run_state *r, ddb_client *c, int seg, json_t *item, dm_error *err)
{
    json_t *own = NULL;
    int rc = item ? DM_OK : read_segment(r, c, seg, &own, err);
    json_t *it = item ? item : own;
    if (rc == DM_OK && it && segment_ok(r, it, err) != DM_OK)
        rc = malformed(r, seg, err);
    json_decref(own);
    return rc;
}

/* The items of a few segments in one BatchGetItem (up to 100 keys); of
 * many, in one Scan. */
#define CHECK_BY_KEY 100

static int check_by_key(run_state *r, ddb_client *c, int n, dm_error *err)
{
    json_t *keys = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(keys, key_of(r, r->seg_list ? r->seg_list[i] : i));
    int rc = DM_OK;
    /* Keys DynamoDB leaves unprocessed go again, a bounded number of times. */
    for (int round = 0; rc == DM_OK && json_array_size(keys) > 0; round++) {
        if (round == 20) {
            rc = dm_error_set(err, DM_ERR_SERVICE, "the checkpoint table %s left keys unread 20 times", table_name(r));
            break;
        }
        json_t *req = json_pack("{s:{s:{s:O,s:b}}}", "RequestItems", table_name(r), "Keys", keys, "ConsistentRead", 1);
        json_t *a = NULL;
        rc = req ? ddb_request(c, "BatchGetItem", table_name(r), req, &a, err) : DM_ERR_NOMEM;
        json_decref(req);
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(json_object_get(a, "Responses"), table_name(r)), i, item)
        {
            long long seg = get_n(item, "segment", -1);
            if (rc == DM_OK && seg >= 0 && seg < r->n_segs)
                rc = check_segment(r, c, (int)seg, item, err);
        }
        json_t *left = json_object_get(json_object_get(json_object_get(a, "UnprocessedKeys"), table_name(r)), "Keys");
        json_decref(keys);
        keys = json_is_array(left) ? json_incref(left) : json_array();
        json_decref(a);
        if (json_array_size(keys) > 0)
            dm_sleep_ms(50 << (round < 5 ? round : 5));
    }
    json_decref(keys);
    return rc;
}

typedef struct check_scan {
    run_state *r;
    ddb_client *c;
} check_scan;

static int check_item(json_t *item, void *ud, dm_error *err)
{
    check_scan *k = ud;
    long long seg = get_n(item, "segment", -1);
    const char *kind = get_s(item, "kind");
    if (kind && strcmp(kind, "meta") == 0)
        return DM_OK;
    return seg >= 0 && seg < k->r->n_segs ? check_segment(k->r, k->c, (int)seg, item, err) : DM_OK;
}

int ctable_check(run_state *r, ddb_client *c, dm_error *err)
{
    int n = r->seg_list ? r->n_seg_list : r->n_segs;
    if (n <= CHECK_BY_KEY)
        return check_by_key(r, c, n, err);
    check_scan k = {r, c};
    return scan_migration(c, table_name(r), r->migration, check_item, &k, err);
}
