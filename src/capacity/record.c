/* The capacity record on disk (see record.h). */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capacity/capplan.h"
#include "ddbmig/ddb.h"
#include "capacity/record.h"

static const char *const statuses[] = {"raising", "raised", "restoring", "pending", "restored"};

static bool known_status(const char *s)
{
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (strcmp(s, statuses[i]) == 0)
            return true;
    return false;
}

void cap_record_cleanup(cap_record *r)
{
    cap_state_cleanup(&r->original);
    memset(r, 0, sizeof *r);
}

static int get_time(json_t *o, const char *k, int64_t *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return DM_ERR_PARSE;
    *out = (int64_t)json_integer_value(v);
    return DM_OK;
}

static int parse_lists(json_t *doc, cap_record *r, dm_error *err)
{
    json_t *sw = json_object_get(doc, "switches_to_on_demand_ms"), *pe = json_object_get(doc, "pending");
    if (!json_is_array(sw) || json_array_size(sw) > CAP_MAX_SWITCHES)
        return dm_error_set(err, DM_ERR_PARSE, "switches_to_on_demand_ms is not a list of at most %d times",
                            CAP_MAX_SWITCHES);
    if (!json_is_array(pe) || json_array_size(pe) > CAP_MAX_PENDING)
        return dm_error_set(err, DM_ERR_PARSE, "pending is not a list of at most %d entries", CAP_MAX_PENDING);
    size_t i;
    json_t *v;
    json_array_foreach(sw, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return dm_error_set(err, DM_ERR_PARSE, "switches_to_on_demand_ms[%zu] is not a time", i);
        r->switches_ms[r->n_switches++] = (int64_t)json_integer_value(v);
    }
    json_array_foreach(pe, i, v) {
        cap_pending *p = &r->pending[r->n_pending];
        const char *what = json_string_value(json_object_get(v, "what"));
        const char *why = json_string_value(json_object_get(v, "reason"));
        if (!what || !why || get_time(v, "not_before_ms", &p->not_before_ms))
            return dm_error_set(err, DM_ERR_PARSE, "pending[%zu] is malformed", i);
        dm_strlcpy(p->what, what, sizeof p->what);
        dm_strlcpy(p->reason, why, sizeof p->reason);
        r->n_pending++;
    }
    return DM_OK;
}

int cap_record_parse(const char *text, size_t len, cap_record *out, dm_error *err)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return dm_error_set(err, DM_ERR_PARSE, "not JSON (line %d: %s)", je.line, je.text);
    int rc = DM_OK;
    const char *status = json_string_value(json_object_get(doc, "status"));
    const char *method = json_string_value(json_object_get(doc, "method"));
    json_t *ver = json_object_get(doc, "ddbmig_capacity_record");
    cap_method m;
    if (!json_is_integer(ver) || json_integer_value(ver) != 1)
        rc = dm_error_set(err, DM_ERR_PARSE, "not a capacity record of this version (ddbmig_capacity_record: 1)");
    else if (!status || !known_status(status))
        rc = dm_error_set(err, DM_ERR_PARSE, "status is missing or unknown");
    else if (!method || cap_method_parse(method, &m) != DM_OK)
        rc = dm_error_set(err, DM_ERR_PARSE, "method is missing or unknown");
    else if (get_time(doc, "created_ms", &out->created_ms) || get_time(doc, "updated_ms", &out->updated_ms))
        rc = dm_error_set(err, DM_ERR_PARSE, "created_ms or updated_ms is not a time");
    if (rc == DM_OK) {
        dm_strlcpy(out->status, status, sizeof out->status);
        dm_strlcpy(out->method, method, sizeof out->method);
        rc = parse_lists(doc, out, err);
    }
    if (rc == DM_OK && (rc = cap_state_from_json(json_object_get(doc, "original"), &out->original, err)) != DM_OK)
        dm_error_prefix(err, "original");
    json_decref(doc);
    if (rc)
        cap_record_cleanup(out);
    return rc;
}

json_t *cap_record_json(const cap_record *r)
{
    json_t *sw = json_array(), *pe = json_array();
    for (int i = 0; sw && i < r->n_switches; i++)
        json_array_append_new(sw, json_integer(r->switches_ms[i]));
    for (int i = 0; pe && i < r->n_pending; i++) {
        char iso[21];
        dm_format_iso8601(r->pending[i].not_before_ms, iso);
        json_array_append_new(pe, json_pack("{s:s,s:I,s:s,s:s}", "what", r->pending[i].what, "not_before_ms",
                                            (json_int_t)r->pending[i].not_before_ms, "not_before", iso, "reason",
                                            r->pending[i].reason));
    }
    return json_pack("{s:i,s:s,s:s,s:s,s:I,s:I,s:o,s:o,s:o}", "ddbmig_capacity_record", 1, "table",
                     r->original.table, "status", r->status, "method", r->method, "created_ms",
                     (json_int_t)r->created_ms, "updated_ms", (json_int_t)r->updated_ms, "original",
                     cap_state_json(&r->original), "switches_to_on_demand_ms", sw, "pending", pe);
}

void cap_where_name(const cap_where *w, char *out, size_t size)
{
    if (w->path)
        dm_strlcpy(out, w->path, size);
    else
        snprintf(out, size, "the checkpoint table %s (%s#capacity)", w->table, w->migration);
}

static json_t *table_key(const cap_where *w)
{
    char id[200];
    snprintf(id, sizeof id, "%s#capacity", w->migration);
    return json_pack("{s:{s:s}}", "id", "S", id);
}

/* The record in the checkpoint table: replaced only if nobody wrote it
 * since it was read (its version), or created if it was not there. */
static int save_table(const cap_where *w, cap_record *r, const char *text, dm_error *err)
{
    char v[32], next[32];
    snprintf(v, sizeof v, "%lld", r->store_version);
    snprintf(next, sizeof next, "%lld", r->store_version + 1);
    json_t *item = table_key(w);
    json_object_set_new(item, "record", json_pack("{s:s}", "S", text));
    json_object_set_new(item, "version", json_pack("{s:s}", "N", next));
    json_object_set_new(item, "kind", json_pack("{s:s}", "S", "capacity"));
    json_t *req = r->store_version ? json_pack("{s:s,s:o,s:s,s:{s:{s:s}}}", "TableName", w->table, "Item", item,
                                               "ConditionExpression", "version = :v", "ExpressionAttributeValues",
                                               ":v", "N", v)
                                   : json_pack("{s:s,s:o,s:s}", "TableName", w->table, "Item", item,
                                               "ConditionExpression", "attribute_not_exists(id)");
    dm_error e = {0};
    int rc = req ? ddb_request(w->ddb, "PutItem", w->table, req, NULL, &e) : DM_ERR_NOMEM;
    json_decref(req);
    if (rc == DM_OK) {
        r->store_version++;
        return DM_OK;
    }
    if (strcmp(e.type, "ConditionalCheckFailedException") == 0)
        return dm_error_set(err, DM_ERR_CONFIG, "another process changed the capacity record meanwhile");
    *err = e;
    return rc;
}

static int save(cap_record *r, const cap_where *w, dm_error *err)
{
    r->updated_ms = dm_now_ms();
    json_t *doc = cap_record_json(r);
    char *text = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (!text)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory writing the capacity record");
    size_t len = strlen(text);
    int rc;
    if (w->path) {
        text[len] = '\n';
        rc = dm_write_file_atomic(w->path, text, len + 1, err);
    } else {
        rc = save_table(w, r, text, err);
    }
    free(text);
    if (rc)
        dm_error_prefix(err, "the capacity record (the original settings, kept to restore them)");
    return rc;
}

int cap_record_lock(const cap_where *w, int *lock, dm_error *err)
{
    *lock = -1;
    if (!w->path)
        return DM_OK; /* the table's writes are conditional instead */
    const char *path = w->path;
    char lp[1100];
    snprintf(lp, sizeof lp, "%s.lock", path);
    int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return dm_error_set(err, DM_ERR_IO, "cannot open %s: %s", lp, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return dm_error_set(err, DM_ERR_CONFIG, "another ddbmig is changing capacity with the record %s", path);
    }
    *lock = fd;
    return DM_OK;
}

void cap_record_unlock(int lock)
{
    if (lock >= 0)
        close(lock);
}

/* The record in the checkpoint table; *found false when there is none. */
static int read_table(const cap_where *w, cap_record *out, bool *found, dm_error *err)
{
    *found = false;
    json_t *req = json_pack("{s:s,s:o,s:b}", "TableName", w->table, "Key", table_key(w), "ConsistentRead", 1);
    json_t *resp = NULL;
    int rc = req ? ddb_request(w->ddb, "GetItem", w->table, req, &resp, err) : DM_ERR_NOMEM;
    json_decref(req);
    json_t *item = json_object_get(resp, "Item");
    if (rc == DM_OK && item) {
        const char *text = json_string_value(json_object_get(json_object_get(item, "record"), "S"));
        const char *v = json_string_value(json_object_get(json_object_get(item, "version"), "N"));
        *found = true;
        if (!text || !v)
            rc = dm_error_set(err, DM_ERR_PARSE, "the capacity item of %s in %s is malformed", w->migration, w->table);
        else if ((rc = cap_record_parse(text, strlen(text), out, err)) != DM_OK)
            dm_error_prefix(err, "the capacity record of %s in %s is not usable", w->migration, w->table);
        else
            out->store_version = atoll(v);
    }
    json_decref(resp);
    return rc;
}

static int read_record(const char *path, cap_record *out, dm_error *err)
{
    dm_buf b;
    dm_buf_init(&b, 16 << 20);
    int rc = dm_read_file(path, &b, err);
    if (rc == DM_OK && (rc = cap_record_parse(b.data, b.len, out, err)) != DM_OK)
        dm_error_prefix(err, "the capacity record %s is not usable", path);
    dm_buf_cleanup(&b);
    return rc;
}

static int copy_state(const cap_state *s, cap_state *out, dm_error *err)
{
    json_t *j = cap_state_json(s);
    int rc = j ? cap_state_from_json(j, out, err) : dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    json_decref(j);
    return rc;
}

/* Another record of the same table, not restored, in dir: its path. */
static bool active_in(const char *dir, const char *self, const char *table, char *found, size_t size)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    struct dirent *e;
    bool hit = false;
    const char *suffix = ".capacity.json";
    while (!hit && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name), k = strlen(suffix);
        if (n <= k || strcmp(e->d_name + n - k, suffix) != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat a, b;
        if (stat(path, &a) == 0 && stat(self, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
            continue;
        cap_record r;
        dm_error ignored = {0};
        if (read_record(path, &r, &ignored) != DM_OK)
            continue;
        if (strcmp(r.original.table, table) == 0 && strcmp(r.status, "restored") != 0) {
            dm_strlcpy(found, path, size);
            hit = true;
        }
        cap_record_cleanup(&r);
    }
    closedir(d);
    return hit;
}

/* Where the record now raising a table is noted, whatever directory it
 * is in (a run's record sits beside its checkpoint). */
static bool registry_path(const char *table, char *out, size_t size)
{
    if (strlen(table) > 200 || strchr(table, '/'))
        return false;
    mkdir(".ddbmig", 0755);
    snprintf(out, size, ".ddbmig/%s.capacity-active", table);
    return true;
}

static void registry_note(const char *table, const char *self, bool active)
{
    char reg[300], real[PATH_MAX];
    if (!registry_path(table, reg, sizeof reg) || !realpath(self, real))
        return;
    if (active) {
        dm_error ignored = {0};
        dm_write_file_atomic(reg, real, strlen(real), &ignored);
        return;
    }
    dm_buf b;
    dm_buf_init(&b, 4096);
    if (dm_read_file(reg, &b, NULL) == DM_OK && strcmp(dm_buf_cstr(&b), real) == 0)
        unlink(reg);
    dm_buf_cleanup(&b);
}

static bool registry_other(const char *table, const char *self, char *found, size_t size)
{
    char reg[300], real[PATH_MAX] = "";
    dm_buf b;
    dm_buf_init(&b, 4096);
    bool hit = false;
    if (registry_path(table, reg, sizeof reg) && dm_read_file(reg, &b, NULL) == DM_OK && b.len > 0) {
        const char *other = dm_buf_cstr(&b);
        if (!realpath(self, real) || strcmp(other, real) != 0) {
            cap_record r;
            dm_error ignored = {0};
            if (read_record(other, &r, &ignored) == DM_OK) {
                hit = strcmp(r.original.table, table) == 0 && strcmp(r.status, "restored") != 0;
                cap_record_cleanup(&r);
            }
            if (hit)
                dm_strlcpy(found, other, size);
        }
    }
    dm_buf_cleanup(&b);
    return hit;
}

static bool other_active(const char *self, const char *table, char *found, size_t size)
{
    if (registry_other(table, self, found, size))
        return true;
    char dir[1100];
    dm_strlcpy(dir, self, sizeof dir);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    return active_in(dir, self, table, found, size) || active_in(".ddbmig", self, table, found, size);
}

/* Reads the record at w: *found false when there is none. */
static int read_where(const cap_where *w, cap_record *out, bool *found, dm_error *err)
{
    memset(out, 0, sizeof *out);
    if (!w->path)
        return read_table(w, out, found, err);
    *found = access(w->path, F_OK) == 0;
    return *found ? read_record(w->path, out, err) : DM_OK;
}

int cap_record_begin(const cap_where *w, const cap_state *s, cap_method m, cap_record *out, dm_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = DM_OK;
    int n_switches = 0;
    int64_t switches[CAP_MAX_SWITCHES];
    long long version = 0;
    char name[600];
    cap_where_name(w, name, sizeof name);
    bool found;
    /* Never overwritten unread: it may hold the only copy of the original
     * settings. */
    if ((rc = read_where(w, out, &found, err)) != DM_OK) {
        dm_error_prefix(err, "refusing to change capacity");
        return rc;
    }
    if (found) {
        if (strcmp(out->original.table, s->table) != 0) {
            rc = dm_error_set(err, DM_ERR_CONFIG, "the capacity record %s is of table %s, not %s", name,
                              out->original.table, s->table);
            cap_record_cleanup(out);
            return rc;
        }
        if (strcmp(out->status, "restored") != 0)
            return cap_record_set_status(out, w, "raising", err);
        n_switches = out->n_switches;
        memcpy(switches, out->switches_ms, sizeof switches);
        version = out->store_version;
        cap_record_cleanup(out);
    }
    const char *path = w->path;
    char other[2048];
    if (path && other_active(path, s->table, other, sizeof other))
        return dm_error_set(err, DM_ERR_CONFIG,
                            "table %s is still raised by the capacity record %s: its original settings are there, "
                            "not in the table as it is now; restore it first (ddbmig capacity restore --checkpoint "
                            "'%s')",
                            s->table, other, other);
    dm_strlcpy(out->method, cap_method_name(m), sizeof out->method);
    out->created_ms = dm_now_ms();
    out->n_switches = n_switches;
    out->store_version = version;
    memcpy(out->switches_ms, switches, sizeof switches);
    if ((rc = copy_state(s, &out->original, err)) == DM_OK)
        rc = cap_record_set_status(out, w, "raising", err);
    if (rc)
        cap_record_cleanup(out);
    else if (path)
        registry_note(s->table, path, true);
    return rc;
}

int cap_record_open(const cap_where *w, cap_record *out, dm_error *err)
{
    bool found;
    int rc = read_where(w, out, &found, err);
    if (rc == DM_OK && !found) {
        char name[600];
        cap_where_name(w, name, sizeof name);
        return dm_error_set(err, DM_ERR_IO, "no capacity record at %s: nothing was raised with it", name);
    }
    return rc;
}

int cap_record_set_status(cap_record *r, const cap_where *w, const char *status, dm_error *err)
{
    dm_strlcpy(r->status, status, sizeof r->status);
    int rc = save(r, w, err);
    if (rc == DM_OK && w->path && strcmp(status, "restored") == 0)
        registry_note(r->original.table, w->path, false);
    return rc;
}

void cap_record_add_switch(cap_record *r, int64_t at_ms)
{
    if (r->n_switches == CAP_MAX_SWITCHES) {
        memmove(r->switches_ms, r->switches_ms + 1, (CAP_MAX_SWITCHES - 1) * sizeof r->switches_ms[0]);
        r->n_switches--;
    }
    r->switches_ms[r->n_switches++] = at_ms;
}

void cap_record_clear_pending(cap_record *r) { r->n_pending = 0; }

int cap_record_add_pending(cap_record *r, const char *what, int64_t at, const char *reason, dm_error *err)
{
    if (r->n_pending == CAP_MAX_PENDING)
        return dm_error_set(err, DM_ERR_LIMIT, "more than %d pending restore steps", CAP_MAX_PENDING);
    cap_pending *p = &r->pending[r->n_pending++];
    dm_strlcpy(p->what, what, sizeof p->what);
    dm_strlcpy(p->reason, reason, sizeof p->reason);
    p->not_before_ms = at;
    return DM_OK;
}

void cap_record_print_pending(const cap_record *r, FILE *f)
{
    for (int i = 0; i < r->n_pending; i++) {
        char iso[21];
        dm_format_iso8601(r->pending[i].not_before_ms, iso);
        fprintf(f, "ddbmig: pending: %s: DynamoDB allows it from %s (%s)\n", r->pending[i].what, iso,
                r->pending[i].reason);
    }
}

int cap_record_info(const cap_where *w, char *table, size_t tsize, char *status, size_t ssize, dm_error *err)
{
    cap_record r;
    int rc = cap_record_open(w, &r, err);
    if (rc == DM_OK) {
        dm_strlcpy(table, r.original.table, tsize);
        dm_strlcpy(status, r.status, ssize);
        cap_record_cleanup(&r);
    }
    return rc;
}
