/* The DynamoDB call loop: sign, send, check, classify, back off, resend.
 * Every step runs from the client's event loop: an answer arrives through
 * the HTTP request's on_done, a backoff is a loop timer on the call, and a
 * call that fails before it could be sent is handed back from a zero-delay
 * timer, so that no completion runs inside ddb_client_start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ddbmig/ddb.h"
#include "http/retry.h"
#include "auth/sigv4.h"
#include "common/crypto.h"
#include "http/url.h"

struct ddb_shared {
    char endpoint[512];
    char host[300];       /* authority, for the signed Host header */
    char path[200];       /* endpoint path, usually "/" */
    char region[64];
    char signing_name[40], target_prefix[48], content_type[40];
    creds_provider *creds;
    int max_attempts, max_throttled;
    http_options http;
    char ca_file[1024];
    retry_budget *budget;
    ddb_stats stats;
    ddb_throttle_fn on_throttle;
    void *on_throttle_ud;
    _Atomic int64_t deadline_mono;
    _Atomic int64_t attempts_until;
};

struct ddb_client {
    ddb_shared *s;
    /* Credentials are taken from the shared provider once a minute (or
     * sooner near their expiry), not per request; the signing key is kept
     * for the day. Both are zeroed when replaced and on free. */
    aws_creds creds;
    int64_t creds_until_ms;
    uint8_t key[32];
    char key_date[9];
    dm_loop *loop;
    bool own_loop;
    http_client *http;
    int backoff_cap_ms;   /* 0: the policy's */
    ddb_call *waiting;    /* backing off, each on its timer (for freeing) */
    ddb_call *done_head;  /* finished without on_done, for ddb_client_wait */
    ddb_call *done_tail;
    ddb_call *early_head; /* failed before being sent, to hand back */
    ddb_call *early_tail;
    dm_loop_timer early_timer;
    size_t n_pending;     /* started, not yet handed back */
    uint64_t rng;
    volatile sig_atomic_t *stop; /* borrowed; see ddb_client_set_stop */
};

/* The signed Host header and path come from the one URL parser, the same
 * that the transport uses to connect. A query or fragment would be sent
 * but not signed the way DynamoDB checks, so they are refused. */
static int split_endpoint(ddb_shared *s, const char *endpoint, dm_error *err)
{
    http_url u;
    char shown[200];
    if (strlen(endpoint) >= sizeof s->endpoint) {
        http_url_display(endpoint, shown, sizeof shown);
        return dm_error_set(err, DM_ERR_CONFIG, "endpoint '%s' is longer than %zu characters", shown,
                            sizeof s->endpoint - 1);
    }
    if (http_url_parse(endpoint, &u, err) != DM_OK) {
        if (err)
            err->code = DM_ERR_CONFIG;
        return DM_ERR_CONFIG;
    }
    if (u.has_query || u.has_fragment) {
        http_url_display(endpoint, shown, sizeof shown);
        return dm_error_set(err, DM_ERR_CONFIG, "endpoint '%s' has a query or fragment, which an endpoint URL cannot have",
                            shown);
    }
    if (u.path_len >= sizeof s->path)
        return dm_error_set(err, DM_ERR_CONFIG, "endpoint path is longer than %zu characters", sizeof s->path - 1);
    dm_strlcpy(s->endpoint, endpoint, sizeof s->endpoint);
    dm_strlcpy(s->host, u.authority, sizeof s->host);
    if (u.path_len)
        dm_strlcpy(s->path, u.path, u.path_len + 1);
    else
        dm_strlcpy(s->path, "/", sizeof s->path);
    return DM_OK;
}

ddb_shared *ddb_shared_new(const ddb_options *o, dm_error *err)
{
    ddb_shared *s = calloc(1, sizeof *s);
    if (!s) {
        dm_error_set(err, DM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    dm_strlcpy(s->region, o->region ? o->region : "us-east-1", sizeof s->region);
    dm_strlcpy(s->signing_name, o->signing_name ? o->signing_name : "dynamodb", sizeof s->signing_name);
    dm_strlcpy(s->target_prefix, o->target_prefix ? o->target_prefix : "DynamoDB_20120810", sizeof s->target_prefix);
    dm_strlcpy(s->content_type, o->content_type ? o->content_type : "application/x-amz-json-1.0",
               sizeof s->content_type);
    s->creds = o->creds;
    s->max_attempts = o->max_attempts > 0 ? o->max_attempts : 10;
    s->max_throttled = o->max_throttled_attempts > 0 ? o->max_throttled_attempts : RETRY_MAX_THROTTLED;
    s->http.connect_timeout_ms = o->connect_timeout_ms;
    s->http.timeout_ms = o->timeout_ms;
    /* Each worker's writes in flight adapt up to 512 (engine/conc.h);
     * connections open only as needed. */
    s->http.max_connections = 600;
    if (o->ca_file && *o->ca_file) {
        dm_strlcpy(s->ca_file, o->ca_file, sizeof s->ca_file);
        s->http.ca_file = s->ca_file;
    }
    s->budget = retry_budget_new(RETRY_BUDGET_CAPACITY);
    if (!s->budget || split_endpoint(s, o->endpoint ? o->endpoint : "", err) != DM_OK) {
        if (!s->budget)
            dm_error_set(err, DM_ERR_NOMEM, "out of memory");
        ddb_shared_free(s);
        return NULL;
    }
    return s;
}

void ddb_shared_free(ddb_shared *s)
{
    if (!s)
        return;
    retry_budget_free(s->budget);
    free(s);
}

ddb_stats *ddb_shared_stats(ddb_shared *s) { return &s->stats; }
const char *ddb_shared_region(const ddb_shared *s) { return s->region; }
const char *ddb_shared_endpoint(const ddb_shared *s) { return s->endpoint; }

void ddb_client_set_backoff_cap(ddb_client *c, int ms) { c->backoff_cap_ms = ms; }

void ddb_shared_set_deadline(ddb_shared *s, int64_t retry_until, int64_t attempts_until)
{
    atomic_store(&s->deadline_mono, retry_until);
    atomic_store(&s->attempts_until, attempts_until > retry_until || !retry_until ? attempts_until : retry_until);
}

void ddb_shared_on_throttle(ddb_shared *s, ddb_throttle_fn fn, void *ud)
{
    s->on_throttle = fn;
    s->on_throttle_ud = ud;
}

static void hand_back_early(dm_loop_timer *t, void *ud);

ddb_client *ddb_client_new_on_loop(ddb_shared *s, dm_loop *loop)
{
    ddb_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->s = s;
    c->rng = (uint64_t)dm_now_ms() ^ (uint64_t)(uintptr_t)c;
    c->loop = loop;
    if (!c->loop) {
        if (!(c->loop = dm_loop_new())) {
            free(c);
            return NULL;
        }
        c->own_loop = true;
    }
    dm_loop_timer_init(&c->early_timer, hand_back_early, c);
    http_options o = s->http;
    o.loop = c->loop;
    if (!(c->http = http_client_new(&o))) {
        if (c->own_loop)
            dm_loop_free(c->loop);
        free(c);
        return NULL;
    }
    return c;
}

ddb_client *ddb_client_new(ddb_shared *s) { return ddb_client_new_on_loop(s, NULL); }

void ddb_client_free(ddb_client *c)
{
    if (!c)
        return;
    aws_creds_clear(&c->creds);
    dm_memzero(c->key, sizeof c->key);
    http_client_free(c->http);
    for (ddb_call *call = c->waiting; call; call = call->next_)
        dm_loop_timer_stop(c->loop, &call->retry_timer_);
    dm_loop_timer_stop(c->loop, &c->early_timer);
    if (c->own_loop)
        dm_loop_free(c->loop);
    free(c);
}

dm_loop *ddb_client_loop(ddb_client *c) { return c->loop; }

const char *ddb_client_region(const ddb_client *c) { return c->s->region; }

size_t ddb_client_pending(const ddb_client *c) { return c->n_pending; }

/* ---- calls ------------------------------------------------------------- */

void ddb_call_init(ddb_call *call, const char *op, const char *table)
{
    memset(call, 0, sizeof *call);
    call->op = op;
    call->table = table;
    dm_buf_init(&call->body, 0);
    dm_buf_init(&call->response, 0);
    dm_buf_init(&call->header_text_, 64u << 10);
}

/* Keeps a buffer's memory for the next use unless it grew large. */
static dm_buf recycled(dm_buf b)
{
    if (b.cap > (64u << 10))
        dm_buf_cleanup(&b); /* keeps its maximum */
    dm_buf_reset(&b);
    return b;
}

void ddb_call_reuse(ddb_call *call, const char *op, const char *table)
{
    /* Signed header lines: each use is wiped after it (below), so the text
     * written last is all there is to wipe. */
    if (call->header_text_.data)
        dm_memzero(call->header_text_.data, call->header_text_.len);
    dm_buf body = recycled(call->body), resp = recycled(call->response);
    dm_buf hdr = recycled(call->header_text_);
    dm_buf hresp = recycled(call->http_.response), hhdrs = recycled(call->http_.response_headers);
    memset(call, 0, sizeof *call);
    call->op = op;
    call->table = table;
    call->body = body;
    call->response = resp;
    call->header_text_ = hdr;
    call->http_.response = hresp;
    call->http_.response_headers = hhdrs;
}

static void free_headers(ddb_call *call)
{
    memset(call->headers_, 0, sizeof call->headers_);
    dm_buf_cleanup_secure(&call->header_text_);
}

void ddb_call_cleanup(ddb_call *call)
{
    free_headers(call);
    http_request_cleanup(&call->http_);
    dm_buf_cleanup(&call->body);
    dm_buf_cleanup(&call->response);
}

static void push(ddb_call **head, ddb_call **tail, ddb_call *call)
{
    call->next_ = NULL;
    if (*tail)
        (*tail)->next_ = call;
    else
        *head = call;
    *tail = call;
}

static ddb_call *pop(ddb_call **head, ddb_call **tail)
{
    ddb_call *call = *head;
    if (call) {
        *head = call->next_;
        if (!*head)
            *tail = NULL;
        call->next_ = NULL;
    }
    return call;
}

/* The call is finished: to its callback, or to ddb_client_wait. After a
 * callback the call is the caller's again, and is not touched. */
static void hand_back(ddb_client *c, ddb_call *call)
{
    if (call->on_done) {
        c->n_pending--;
        call->on_done(call, call->on_done_ud);
    } else {
        push(&c->done_head, &c->done_tail, call);
    }
}

static void hand_back_early(dm_loop_timer *t, void *ud)
{
    ddb_client *c = ud;
    ddb_call *call;
    (void)t;
    while ((call = pop(&c->early_head, &c->early_tail)) != NULL)
        hand_back(c, call);
}

static void waiting_add(ddb_client *c, ddb_call *call)
{
    call->prev_ = NULL;
    call->next_ = c->waiting;
    if (c->waiting)
        c->waiting->prev_ = call;
    c->waiting = call;
}

static void waiting_remove(ddb_client *c, ddb_call *call)
{
    if (call->prev_)
        call->prev_->next_ = call->next_;
    else
        c->waiting = call->next_;
    if (call->next_)
        call->next_->prev_ = call->prev_;
    call->next_ = call->prev_ = NULL;
}

/* Appends "name: value" and its NUL to the call's header text. */
static int add_header(dm_buf *text, size_t *offsets, int *n, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    int rc = dm_buf_reserve(text, nl + vl + 3);
    if (rc)
        return rc;
    offsets[(*n)++] = text->len;
    char *o = text->data + text->len;
    memcpy(o, name, nl);
    o[nl] = ':';
    o[nl + 1] = ' ';
    memcpy(o + nl + 2, value, vl + 1);
    text->len += nl + vl + 3;
    return DM_OK;
}

/* Signs the call with fresh credentials and fills its header lines. */
/* Fresh enough credentials in c->creds. */
static int client_creds(ddb_client *c, dm_error *err)
{
    int64_t now = dm_now_ms();
    if (now < c->creds_until_ms)
        return DM_OK;
    aws_creds fresh;
    int rc = creds_get(c->s->creds, &fresh, err);
    if (rc != DM_OK)
        return rc;
    bool same_secret = strcmp(fresh.secret_access_key, c->creds.secret_access_key) == 0;
    aws_creds_clear(&c->creds);
    c->creds = fresh;
    aws_creds_clear(&fresh);
    if (!same_secret) {
        dm_memzero(c->key, sizeof c->key);
        c->key_date[0] = '\0';
    }
    int64_t until = now + 60000;
    /* Temporary credentials: back to the provider well before expiry (it
     * refreshes five minutes ahead). */
    if (c->creds.expiration_ms && c->creds.expiration_ms - 6 * 60000 < until)
        until = c->creds.expiration_ms - 6 * 60000 > now ? c->creds.expiration_ms - 6 * 60000 : now;
    c->creds_until_ms = until;
    return DM_OK;
}

static int sign_call(ddb_client *c, ddb_call *call, dm_error *err)
{
    ddb_shared *s = c->s;
    int rc = client_creds(c, err);
    if (rc != DM_OK)
        return rc;
    const aws_creds *cr = &c->creds;
    char target[96];
    snprintf(target, sizeof target, "%s.%s", s->target_prefix, call->op);
    sigv4_header hs[] = {{"host", s->host},
                         {"content-type", s->content_type},
                         {"x-amz-target", target}};
    sigv4_request req = {.method = "POST", .path = s->path, .headers = hs, .n_headers = 3,
                         .body = call->body.data, .body_len = call->body.len};
    sigv4_params p = {.access_key_id = cr->access_key_id, .secret_access_key = cr->secret_access_key,
                      .session_token = cr->session_token, .region = s->region, .service = s->signing_name,
                      .time = time(NULL), .key_cache = c->key, .key_date = c->key_date};
    sigv4_result sr;
    rc = sigv4_sign(&req, &p, &sr);
    /* Every attempt is signed afresh; the text is wiped, not just reused. */
    if (call->header_text_.data)
        dm_memzero(call->header_text_.data, call->header_text_.len);
    dm_buf_reset(&call->header_text_);
    memset(call->headers_, 0, sizeof call->headers_);
    if (rc == DM_OK) {
        dm_buf *t = &call->header_text_;
        size_t off[8];
        int n = 0;
        rc = add_header(t, off, &n, "Host", s->host);
        rc = rc ? rc : add_header(t, off, &n, "Content-Type", s->content_type);
        rc = rc ? rc : add_header(t, off, &n, "X-Amz-Target", target);
        rc = rc ? rc : add_header(t, off, &n, "X-Amz-Date", sr.amz_date);
        rc = rc ? rc : add_header(t, off, &n, "Authorization", dm_buf_cstr(&sr.authorization));
        rc = rc ? rc : add_header(t, off, &n, "User-Agent", "ddbmig/" DDBMIG_VERSION);
        if (rc == DM_OK && cr->session_token[0])
            rc = add_header(t, off, &n, "X-Amz-Security-Token", cr->session_token);
        if (rc == DM_OK) {
            for (int k = 0; k < n; k++)
                call->headers_[k] = t->data + off[k];
        } else {
            dm_error_set(err, DM_ERR_NOMEM, "out of memory");
        }
    } else {
        dm_error_set(err, rc, "signing the request failed: %s", dm_err_str(rc));
    }
    sigv4_result_cleanup(&sr);
    return rc;
}

static void on_answer(http_request *h, void *ud);

static int send_attempt(ddb_client *c, ddb_call *call)
{
    int rc = sign_call(c, call, &call->err);
    if (rc == DM_OK) {
        http_request *h = &call->http_;
        h->method = "POST";
        h->url = c->s->endpoint;
        h->headers = (const char *const *)call->headers_;
        h->n_headers = 0;
        while (h->n_headers < 8 && call->headers_[h->n_headers])
            h->n_headers++;
        h->body = call->body.data ? call->body.data : "";
        h->body_len = call->body.len;
        h->user = call;
        h->timeout_ms = 0;
        int64_t dl = atomic_load(&c->s->attempts_until);
        if (dl) {
            long whole = c->s->http.timeout_ms > 0 ? c->s->http.timeout_ms : 30000;
            int64_t left = dl - dm_monotonic_ms();
            if (left < whole)
                h->timeout_ms = left > 100 ? (long)left : 100;
        }
        h->on_done = on_answer;
        h->on_done_ud = call;
        if (dm_log_enabled(DM_LOG_DEBUG)) {
            DM_DEBUG("%s %s attempt %d, %zu bytes", call->op, c->s->endpoint, call->attempts + 1, call->body.len);
            http_log_headers("  >", h->headers, h->n_headers);
        }
        rc = http_client_start(c->http, h);
        if (rc)
            dm_error_set(&call->err, rc, "starting the request failed: %s", dm_err_str(rc));
    }
    if (rc) {
        call->rc = rc;
        atomic_fetch_add(&c->s->stats.failed, 1);
        push(&c->early_head, &c->early_tail, call);
        if (!dm_loop_timer_active(&c->early_timer))
            dm_loop_timer_start(c->loop, &c->early_timer, 0);
    }
    return DM_OK;
}

static void retry_due(dm_loop_timer *t, void *ud)
{
    ddb_call *call = ud;
    (void)t;
    waiting_remove(call->client_, call);
    send_attempt(call->client_, call);
}

int ddb_client_start(ddb_client *c, ddb_call *call)
{
    call->client_ = c;
    call->next_ = call->prev_ = NULL;
    dm_loop_timer_init(&call->retry_timer_, retry_due, call);
    c->n_pending++;
    call->rc = DM_OK;
    call->attempts = call->throttles = 0;
    call->budget_cost_ = 0;
    dm_error_clear(&call->err);
    return send_attempt(c, call);
}

/* ---- evaluating an answer ---------------------------------------------- */

static bool crc_mismatch(const http_request *h)
{
    char v[32];
    if (!http_response_header(h, "x-amz-crc32", v, sizeof v))
        return false;
    char *end;
    unsigned long want = strtoul(v, &end, 10);
    return *end != '\0' || (uint32_t)want != dm_crc32(h->response.data ? h->response.data : "", h->response.len);
}

/* ---- throttling reasons ------------------------------------------------- */

static bool starts(const char *s, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0)
        return false;
    *rest = s + n;
    return true;
}

static bool is_read_op(const char *op)
{
    static const char *const reads[] = {"Scan", "Query", "GetItem", "BatchGetItem", "TransactGetItems", NULL};
    for (const char *const *r = reads; op && *r; r++)
        if (strcmp(op, *r) == 0)
            return true;
    return false;
}

ddb_throttle ddb_throttle_classify(const char *op, const char *const *reasons, size_t n)
{
    ddb_throttle t = {.cls = DDB_THROTTLE_UNKNOWN, .write = !is_read_op(op)};
    for (size_t i = 0; i < n; i++) {
        const char *p = reasons[i] ? reasons[i] : "";
        bool index = starts(p, "Index", &p);
        if (!index && !starts(p, "Table", &p))
            continue;
        bool write = starts(p, "Write", &p);
        if (!write && !starts(p, "Read", &p))
            continue;
        ddb_throttle_class cls;
        if (strcmp(p, "KeyRangeThroughputExceeded") == 0)
            cls = DDB_THROTTLE_KEY_RANGE;
        else if (strcmp(p, "ProvisionedThroughputExceeded") == 0 || strcmp(p, "AccountLimitExceeded") == 0 ||
                 strcmp(p, "MaxOnDemandThroughputExceeded") == 0)
            cls = DDB_THROTTLE_CAPACITY;
        else
            continue; /* a reason this version does not know: as if none */
        /* Capacity outranks a key range; the first reason of the winning
         * class says which units. */
        if (t.cls == DDB_THROTTLE_UNKNOWN || (cls == DDB_THROTTLE_CAPACITY && t.cls == DDB_THROTTLE_KEY_RANGE)) {
            t.cls = cls;
            t.write = write;
            t.index = index;
        } else if (cls == t.cls && index) {
            t.index = true;
        }
    }
    return t;
}

/* Keeps the reasons for the message (err->throttle_reasons) and classifies
 * them. */
static ddb_throttle throttle_reasons(json_t *doc, const char *op, dm_error *err)
{
    json_t *arr = json_object_get(doc, "ThrottlingReasons");
    const char *names[8];
    size_t n_names = 0, i, o = 0;
    json_t *r;
    json_array_foreach(arr, i, r) {
        const char *reason = json_string_value(json_object_get(r, "reason"));
        const char *res = json_string_value(json_object_get(r, "resource"));
        if (!reason)
            continue;
        if (n_names < sizeof names / sizeof names[0])
            names[n_names++] = reason;
        if (o >= sizeof err->throttle_reasons)
            continue;
        int n = snprintf(err->throttle_reasons + o, sizeof err->throttle_reasons - o, "%s%s%s%s%s",
                         o ? ", " : "", reason, res ? " (" : "", res ? res : "", res ? ")" : "");
        o = n < 0 ? sizeof err->throttle_reasons : o + (size_t)n;
    }
    return ddb_throttle_classify(op, names, n_names);
}

/* Fills err->type/message from an error answer, and *t from its
 * ThrottlingReasons. */
static void parse_error_body(const http_request *h, const char *op, dm_error *err, ddb_throttle *t)
{
    err->type[0] = err->message[0] = '\0';
    /* JSON_ALLOW_NUL: a failed condition's ALL_OLD item may hold U+0000. */
    json_t *doc = json_loadb(h->response.data ? h->response.data : "", h->response.len, JSON_ALLOW_NUL, NULL);
    const char *type = json_string_value(json_object_get(doc, "__type"));
    const char *msg = json_string_value(json_object_get(doc, "message"));
    if (!msg)
        msg = json_string_value(json_object_get(doc, "Message"));
    if (type) {
        const char *hash = strrchr(type, '#');
        dm_strlcpy(err->type, hash ? hash + 1 : type, sizeof err->type);
    } else {
        snprintf(err->type, sizeof err->type, "HTTP%ld", h->status);
    }
    dm_strlcpy(err->message, msg ? msg : "", sizeof err->message);
    *t = throttle_reasons(doc, op, err);
    json_decref(doc);
}

static void final_message(ddb_client *c, ddb_call *call, retry_class cls, bool crc_bad)
{
    dm_error *e = &call->err;
    const http_request *h = &call->http_;
    char where[400], tries[48] = "";
    if (call->table)
        snprintf(where, sizeof where, "table '%s', %s", call->table, c->s->region);
    else
        snprintf(where, sizeof where, "%s", c->s->region);
    if (call->attempts > 1)
        snprintf(tries, sizeof tries, ", after %d attempts", call->attempts);
    char text[2048]; /* room for every part; truncated into e->message */
    if (h->net_error != HTTP_NET_OK) {
        e->code = DM_ERR_NETWORK;
        snprintf(text, sizeof text, "cannot reach %s: %s (%s%s)", c->s->endpoint, h->net_message, where, tries);
    } else if (crc_bad) {
        e->code = DM_ERR_CHECKSUM;
        snprintf(text, sizeof text, "%s answer failed its x-amz-crc32 check (%s%s)", call->op, where, tries);
    } else {
        e->code = cls == RETRY_THROTTLE ? DM_ERR_THROTTLED : DM_ERR_SERVICE;
        snprintf(text, sizeof text, "%s: %s (%s%s)", e->type, e->message[0] ? e->message : "no message", where,
                 tries);
    }
    dm_strlcpy(e->message, text, sizeof e->message);
    e->http_status = h->status;
    e->attempts = call->attempts;
    call->rc = e->code;
}

/* Operations that change items: an attempt of one that got no answer, a
 * 5xx or a damaged one may have been carried out. */
static bool is_write(const char *op)
{
    static const char *const writes[] = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem",
                                         "BatchExecuteStatement", "ExecuteStatement", "TransactWriteItems"};
    for (size_t i = 0; op && i < sizeof writes / sizeof *writes; i++)
        if (strcmp(op, writes[i]) == 0)
            return true;
    return false;
}

/* Returns true when the call is finished (success or final failure). */
static bool evaluate(ddb_client *c, ddb_call *call)
{
    ddb_shared *s = c->s;
    http_request *h = &call->http_;
    call->attempts++;
    call->status = h->status;
    atomic_fetch_add(&s->stats.attempts, 1);
    bool crc_bad = h->net_error == HTTP_NET_OK && crc_mismatch(h);
    ddb_throttle throttle = ddb_throttle_classify(call->op, NULL, 0);
    call->err.throttle_reasons[0] = '\0';
    if (h->net_error == HTTP_NET_OK && h->status != 200)
        parse_error_body(h, call->op, &call->err, &throttle);
    else
        call->err.type[0] = '\0';
    http_response_header(h, "x-amzn-requestid", call->err.request_id, sizeof call->err.request_id);
    retry_class cls = retry_classify(h->status, h->net_error, call->err.type[0] ? call->err.type : NULL, crc_bad);
    if ((h->net_error != HTTP_NET_OK || h->status >= 500 || h->resent || crc_bad) && is_write(call->op))
        call->maybe_applied = true;
    DM_DEBUG("%s attempt %d: HTTP %ld %s%s", call->op, call->attempts, h->status, retry_class_name(cls),
             call->err.type[0] ? call->err.type : "");

    /* The answer body is kept for the caller, error bodies included:
     * CancellationReasons and ALL_OLD items live there. */
    dm_buf tmp = call->response;
    call->response = h->response;
    h->response = tmp;
    dm_buf_reset(&h->response);

    if (cls == RETRY_SUCCESS) {
        retry_budget_success(s->budget, call->budget_cost_);
        atomic_fetch_add(&s->stats.calls, 1);
        call->rc = DM_OK;
        return true;
    }
    int64_t hold_ms = 0;
    if (cls == RETRY_THROTTLE) {
        call->throttles++;
        atomic_fetch_add(&s->stats.throttled, 1);
        if (s->on_throttle)
            hold_ms = s->on_throttle(s->on_throttle_ud, call, throttle);
    }
    if (strcmp(call->err.type, "ExpiredTokenException") == 0 ||
        strcmp(call->err.type, "UnrecognizedClientException") == 0) {
        creds_invalidate(s->creds);
        c->creds_until_ms = 0;
    }
    retry_policy policy = retry_policy_default();
    policy.max_attempts = call->max_attempts > 0 ? call->max_attempts : s->max_attempts;
    policy.max_throttled = s->max_throttled;
    if (c->backoff_cap_ms > 0 && policy.cap_ms > c->backoff_cap_ms)
        policy.cap_ms = c->backoff_cap_ms;
    int cost = 0;
    int64_t delay_ms;
    bool again = retry_next(&policy, s->budget, cls, call->attempts, call->throttles, retry_random01(&c->rng),
                            &delay_ms, &cost);
    /* A call that may have been carried out has until the attempts'
     * deadline to learn whether it was: its retry (a guarded write fails
     * its guard if the first one applied) settles the doubt. */
    int64_t deadline = atomic_load(call->maybe_applied ? &s->attempts_until : &s->deadline_mono);
    if (again && deadline && dm_monotonic_ms() + (hold_ms > delay_ms ? hold_ms : delay_ms) >= deadline) {
        /* The caller must be done by then: no wait that ends past it. */
        dm_error_set(&call->err, DM_ERR_STOPPED, "%s: not retried, the deadline comes first", call->op);
        call->rc = DM_ERR_STOPPED;
        atomic_fetch_add(&s->stats.calls, 1);
        return true;
    }
    if (again) {
        call->budget_cost_ += cost;
        waiting_add(c, call);
        dm_loop_timer_start(c->loop, &call->retry_timer_, hold_ms > delay_ms ? hold_ms : delay_ms);
        atomic_fetch_add(&s->stats.retried, 1);
        return false;
    }
    final_message(c, call, cls, crc_bad);
    atomic_fetch_add(&s->stats.calls, 1);
    atomic_fetch_add(&s->stats.failed, 1);
    return true;
}

/* An attempt's answer (or failure) arrived. */
static void on_answer(http_request *h, void *ud)
{
    ddb_call *call = ud;
    (void)h;
    if (evaluate(call->client_, call))
        hand_back(call->client_, call);
}

int ddb_client_wait(ddb_client *c, int timeout_ms, ddb_call **done)
{
    *done = NULL;
    if (dm_loop_running(c->loop))
        return DM_ERR_INVALID;
    int64_t end = dm_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if ((*done = pop(&c->done_head, &c->done_tail)) != NULL) {
            c->n_pending--;
            return DM_OK;
        }
        if (c->n_pending == 0)
            return DM_OK;
        int64_t left = end - dm_monotonic_ms();
        int rc = dm_loop_run_once(c->loop, left > 0 ? (int)left : 0);
        if (rc)
            return rc;
        if (!c->done_head && dm_monotonic_ms() >= end)
            return DM_OK;
    }
}

volatile sig_atomic_t *ddb_client_set_stop(ddb_client *c, volatile sig_atomic_t *stop)
{
    volatile sig_atomic_t *old = c->stop;
    c->stop = stop;
    return old;
}

static bool unlink_from(ddb_call **head, ddb_call **tail, ddb_call *call)
{
    ddb_call *prev = NULL;
    for (ddb_call *p = *head; p; prev = p, p = p->next_) {
        if (p == call) {
            if (prev)
                prev->next_ = p->next_;
            else
                *head = p->next_;
            if (*tail == p)
                *tail = prev;
            p->next_ = NULL;
            return true;
        }
    }
    return false;
}

/* Takes back a call that ddb_client_run gives up. A backoff is a timer to
 * stop. The transport borrows a request on the wire until it completes and
 * has no way to cancel one, so such a call goes with the whole transport,
 * which is replaced by a fresh one on the same loop (the client runs
 * nothing else). Returns false, and the call goes on, when no fresh
 * transport can be had. */
static bool abandon(ddb_client *c, ddb_call *call)
{
    if (dm_loop_timer_active(&call->retry_timer_)) {
        dm_loop_timer_stop(c->loop, &call->retry_timer_);
        waiting_remove(c, call);
    } else if (!unlink_from(&c->early_head, &c->early_tail, call) &&
               !unlink_from(&c->done_head, &c->done_tail, call)) {
        http_options o = c->s->http;
        o.loop = c->loop;
        http_client *fresh = http_client_new(&o);
        if (!fresh)
            return false;
        http_client_free(c->http);
        c->http = fresh;
    }
    c->n_pending--;
    dm_error_set(&call->err, DM_ERR_STOPPED, "%s: stopped before DynamoDB answered", call->op);
    call->rc = DM_ERR_STOPPED;
    return true;
}

static void ran(ddb_call *call, void *ud)
{
    (void)call;
    *(bool *)ud = true;
}

int ddb_client_run(ddb_client *c, ddb_call *call)
{
    if (dm_loop_running(c->loop))
        return DM_ERR_INVALID;
    ddb_done_fn fn = call->on_done;
    void *ud = call->on_done_ud;
    bool fin = false;
    call->on_done = ran;
    call->on_done_ud = &fin;
    int rc = ddb_client_start(c, call);
    /* Attempts have deadlines and backoffs are bounded: this ends. A stop
     * flag is looked at every 100 ms. */
    while (rc == DM_OK && !fin) {
        if (c->stop && *c->stop && abandon(c, call))
            break;
        dm_loop_run_once(c->loop, c->stop ? 100 : -1);
    }
    call->on_done = fn;
    call->on_done_ud = ud;
    return rc ? rc : call->rc;
}

int ddb_request(ddb_client *c, const char *op, const char *table, json_t *req, json_t **out, dm_error *err)
{
    ddb_call call;
    ddb_call_init(&call, op, table);
    char *text = json_dumps(req, JSON_COMPACT);
    int rc = text ? dm_buf_puts(&call.body, text) : DM_ERR_NOMEM;
    free(text);
    if (rc == DM_OK)
        rc = ddb_client_run(c, &call);
    if (rc == DM_OK && out) {
        json_error_t je;
        *out = json_loadb(dm_buf_cstr(&call.response), call.response.len, 0, &je);
        if (!*out)
            rc = dm_error_set(err, DM_ERR_PARSE, "%s: the answer is not JSON (%s)", op, je.text);
    } else if (rc != DM_OK && err) {
        *err = call.err;
        if (!err->message[0])
            dm_error_set(err, rc, "%s failed: %s", op, dm_err_str(rc));
    }
    ddb_call_cleanup(&call);
    return rc;
}
