/* Provider plumbing: the public calls, the chain, the refreshing cache, the
 * environment provider and helpers shared by the others. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds_impl.h"

void aws_creds_clear(aws_creds *c) { dm_memzero(c, sizeof *c); }

int creds_provider_get_raw(creds_provider *p, aws_creds *out, dm_error *err)
{
    aws_creds_clear(out);
    int rc = p->vt->get(p, out, err);
    if (rc != DM_OK) {
        aws_creds_clear(out);
        return rc;
    }
    /* Whatever a later message quotes, these never reach stderr. */
    dm_redact_add(out->secret_access_key);
    dm_redact_add(out->session_token);
    return rc;
}

int creds_get(creds_provider *p, aws_creds *out, dm_error *err)
{
    int rc = creds_provider_get_raw(p, out, err);
    if (rc == CREDS_ABSENT) {
        if (err && err->message[0])
            err->code = DM_ERR_CREDENTIALS;
        else
            dm_error_set(err, DM_ERR_CREDENTIALS, "no credentials from %s", p->vt->name);
        return DM_ERR_CREDENTIALS;
    }
    return rc;
}

void creds_invalidate(creds_provider *p)
{
    if (p && p->vt->invalidate)
        p->vt->invalidate(p);
}

void creds_provider_free(creds_provider *p)
{
    if (p)
        p->vt->free(p);
}

/* ---- helpers ----------------------------------------------------------- */

static int copy_field(char *dst, size_t size, const char *v, const char *field, const char *what, dm_error *err)
{
    if (strlen(v) >= size)
        return dm_error_set(err, DM_ERR_CREDENTIALS, "%s: %s is too long", what, field);
    dm_strlcpy(dst, v, size);
    return DM_OK;
}

int creds_from_json(json_t *obj, const char *token_key, const char *what, aws_creds *out, dm_error *err)
{
    if (!json_is_object(obj))
        return dm_error_set(err, DM_ERR_CREDENTIALS, "%s: the answer is not a JSON object", what);
    const char *ak = json_string_value(json_object_get(obj, "AccessKeyId"));
    const char *sk = json_string_value(json_object_get(obj, "SecretAccessKey"));
    const char *tok = json_string_value(json_object_get(obj, token_key));
    json_t *exp = json_object_get(obj, "Expiration");
    if (!ak || !*ak || !sk || !*sk)
        return dm_error_set(err, DM_ERR_CREDENTIALS, "%s: AccessKeyId or SecretAccessKey is missing", what);
    int rc = copy_field(out->access_key_id, sizeof out->access_key_id, ak, "AccessKeyId", what, err);
    if (!rc)
        rc = copy_field(out->secret_access_key, sizeof out->secret_access_key, sk, "SecretAccessKey", what, err);
    if (!rc && tok)
        rc = copy_field(out->session_token, sizeof out->session_token, tok, token_key, what, err);
    if (rc)
        return rc;
    if (exp && !json_is_null(exp)) {
        if (!json_is_string(exp) || dm_parse_iso8601(json_string_value(exp), &out->expiration_ms) != DM_OK)
            return dm_error_set(err, DM_ERR_CREDENTIALS, "%s: Expiration is not an ISO-8601 time", what);
    }
    dm_strlcpy(out->source, what, sizeof out->source);
    return DM_OK;
}

int creds_http(const char *method, const char *url, const char *const *headers, size_t n_headers,
               const char *body, long timeout_ms, const char *ca_file, long *status, dm_buf *resp,
               dm_error *err)
{
    http_options o = {.connect_timeout_ms = timeout_ms < 1000 ? timeout_ms : 1000, .timeout_ms = timeout_ms,
                      .max_connections = 1, .ca_file = ca_file && *ca_file ? ca_file : NULL};
    http_client *c = http_client_new(&o);
    dm_buf_init(resp, 1 << 20);
    if (!c)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    http_request req = {.method = method, .url = url, .headers = headers, .n_headers = n_headers,
                        .body = body, .body_len = body ? strlen(body) : 0};
    int rc = http_client_perform(c, &req);
    if (rc == DM_OK && req.net_error != HTTP_NET_OK)
        rc = dm_error_set(err, DM_ERR_NETWORK, "%s", req.net_message);
    if (rc == DM_OK) {
        *status = req.status;
        *resp = req.response;
        dm_buf_init(&req.response, 0);
    } else if (err && !err->message[0]) {
        dm_error_set(err, rc, "%s", dm_err_str(rc));
    }
    http_request_cleanup(&req);
    http_client_free(c);
    return rc;
}

int creds_read_token_file(const char *path, const char *what, char **out, dm_error *err)
{
    dm_buf b;
    dm_buf_init(&b, 1 << 20);
    int rc = dm_read_file(path, &b, err);
    if (rc != DM_OK) {
        dm_error_prefix(err, "%s", what);
        dm_buf_cleanup(&b);
        return DM_ERR_CREDENTIALS;
    }
    while (b.len > 0 && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' || b.data[b.len - 1] == ' '))
        b.data[--b.len] = '\0';
    if (b.len == 0) {
        dm_buf_cleanup(&b);
        return dm_error_set(err, DM_ERR_CREDENTIALS, "%s: %s is empty", what, path);
    }
    *out = b.data;
    return DM_OK;
}

/* ---- environment ------------------------------------------------------- */

typedef struct env_provider {
    creds_provider base;
    const dm_env *env;
} env_provider;

static int env_get(creds_provider *p, aws_creds *out, dm_error *err)
{
    const dm_env *env = ((env_provider *)p)->env;
    const char *ak = dm_env_get(env, "AWS_ACCESS_KEY_ID");
    const char *sk = dm_env_get(env, "AWS_SECRET_ACCESS_KEY");
    const char *tok = dm_env_get(env, "AWS_SESSION_TOKEN");
    const char *exp = dm_env_get(env, "AWS_CREDENTIAL_EXPIRATION");
    if (!ak && !sk)
        return CREDS_ABSENT;
    if (!ak || !sk)
        return dm_error_set(err, DM_ERR_CREDENTIALS, "%s is set but %s is not",
                            ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                            ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
    int rc = copy_field(out->access_key_id, sizeof out->access_key_id, ak, "AWS_ACCESS_KEY_ID", "environment", err);
    if (!rc)
        rc = copy_field(out->secret_access_key, sizeof out->secret_access_key, sk, "AWS_SECRET_ACCESS_KEY",
                        "environment", err);
    if (!rc && tok)
        rc = copy_field(out->session_token, sizeof out->session_token, tok, "AWS_SESSION_TOKEN", "environment", err);
    if (!rc && exp && dm_parse_iso8601(exp, &out->expiration_ms) != DM_OK)
        rc = dm_error_set(err, DM_ERR_CREDENTIALS, "AWS_CREDENTIAL_EXPIRATION is not an ISO-8601 time");
    dm_strlcpy(out->source, "environment", sizeof out->source);
    return rc;
}

static void plain_free(creds_provider *p) { free(p); }

static const creds_vtable env_vt = {"environment variables", env_get, NULL, plain_free};

creds_provider *creds_env_new(const dm_env *env)
{
    env_provider *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->base.vt = &env_vt;
    p->env = env ? env : dm_env_process();
    return &p->base;
}

/* ---- chain ------------------------------------------------------------- */

typedef struct chain_provider {
    creds_provider base;
    creds_provider **items;
    size_t n;
} chain_provider;

static int chain_get(creds_provider *p, aws_creds *out, dm_error *err)
{
    chain_provider *c = (chain_provider *)p;
    dm_buf tried;
    dm_buf_init(&tried, 4096);
    for (size_t i = 0; i < c->n; i++) {
        dm_error e = {0};
        int rc = creds_provider_get_raw(c->items[i], out, &e);
        if (rc != CREDS_ABSENT) {
            if (rc != DM_OK && err)
                *err = e;
            dm_buf_cleanup(&tried);
            return rc;
        }
        dm_buf_appendf(&tried, "%s%s", tried.len ? ", " : "", c->items[i]->vt->name);
    }
    dm_error_set(err, DM_ERR_CREDENTIALS,
                 "unable to locate credentials (tried %s); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                 "or use --profile",
                 dm_buf_cstr(&tried));
    dm_buf_cleanup(&tried);
    return CREDS_ABSENT;
}

static void chain_invalidate(creds_provider *p)
{
    chain_provider *c = (chain_provider *)p;
    for (size_t i = 0; i < c->n; i++)
        creds_invalidate(c->items[i]);
}

static void chain_free(creds_provider *p)
{
    chain_provider *c = (chain_provider *)p;
    for (size_t i = 0; i < c->n; i++)
        creds_provider_free(c->items[i]);
    free(c->items);
    free(c);
}

static const creds_vtable chain_vt = {"provider chain", chain_get, chain_invalidate, chain_free};

creds_provider *creds_chain_new(creds_provider **providers, size_t n)
{
    chain_provider *c = calloc(1, sizeof *c);
    creds_provider **items = calloc(n ? n : 1, sizeof *items);
    int ok = c && items;
    for (size_t i = 0; i < n; i++)
        ok = ok && providers[i];
    if (!ok) {
        for (size_t i = 0; i < n; i++)
            creds_provider_free(providers[i]);
        free(c);
        free(items);
        return NULL;
    }
    memcpy(items, providers, n * sizeof *items);
    c->base.vt = &chain_vt;
    c->items = items;
    c->n = n;
    return &c->base;
}

/* ---- refreshing cache --------------------------------------------------- */

/* One thread refreshes while others keep using credentials that are inside
 * the refresh window but not yet expired; only when none are valid do
 * callers wait for the refreshing thread. A refresh that fails while the
 * current credentials are still good is not tried again for 30 seconds
 * (botocore waits a minute), so that a source that cannot refresh (STS
 * down, a role that needs a new MFA code) is not asked on every request. */
#define CREDS_RETRY_MS 30000
typedef struct cached_provider {
    creds_provider base;
    creds_provider *inner;
    int64_t window_ms;
    creds_clock_fn now;
    void *now_ud;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    aws_creds cur;
    int64_t fetched_ms;
    int64_t retry_after_ms; /* no refresh before this while usable */
    bool have;
    bool refreshing;
} cached_provider;

static int64_t effective_window(const cached_provider *c)
{
    /* Short-lived credentials would otherwise be refreshed on every call. */
    int64_t life = c->cur.expiration_ms - c->fetched_ms;
    return life / 2 < c->window_ms ? life / 2 : c->window_ms;
}

static bool fresh(const cached_provider *c, int64_t now)
{
    return c->have && (c->cur.expiration_ms == 0 || now < c->cur.expiration_ms - effective_window(c));
}

static bool usable(const cached_provider *c, int64_t now)
{
    return c->have && (c->cur.expiration_ms == 0 || now < c->cur.expiration_ms - 10000);
}

static int cached_get(creds_provider *p, aws_creds *out, dm_error *err)
{
    cached_provider *c = (cached_provider *)p;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        int64_t now = c->now(c->now_ud);
        if (fresh(c, now) || ((c->refreshing || now < c->retry_after_ms) && usable(c, now))) {
            *out = c->cur;
            pthread_mutex_unlock(&c->mu);
            return DM_OK;
        }
        if (!c->refreshing)
            break;
        pthread_cond_wait(&c->cv, &c->mu);
    }
    c->refreshing = true;
    pthread_mutex_unlock(&c->mu);

    aws_creds next;
    int rc = creds_provider_get_raw(c->inner, &next, err);

    pthread_mutex_lock(&c->mu);
    c->refreshing = false;
    if (rc == DM_OK) {
        c->cur = next;
        c->fetched_ms = c->now(c->now_ud);
        c->have = true;
        DM_DEBUG("credentials from %s%s", next.source, next.expiration_ms ? " (temporary)" : "");
    } else if (usable(c, c->now(c->now_ud))) {
        dm_log(DM_LOG_WARN, "refreshing credentials failed (%s); using the current ones until they expire",
               err ? err->message : dm_err_str(rc));
        c->retry_after_ms = c->now(c->now_ud) + CREDS_RETRY_MS;
        rc = DM_OK;
    }
    if (rc == DM_OK)
        *out = c->cur;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    aws_creds_clear(&next);
    return rc;
}

static void cached_invalidate(creds_provider *p)
{
    cached_provider *c = (cached_provider *)p;
    pthread_mutex_lock(&c->mu);
    c->have = false;
    aws_creds_clear(&c->cur);
    pthread_mutex_unlock(&c->mu);
    creds_invalidate(c->inner);
}

static void cached_free(creds_provider *p)
{
    cached_provider *c = (cached_provider *)p;
    creds_provider_free(c->inner);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    aws_creds_clear(&c->cur);
    free(c);
}

static const creds_vtable cached_vt = {"cache", cached_get, cached_invalidate, cached_free};

static int64_t wall_clock(void *ud)
{
    (void)ud;
    return dm_now_ms();
}

creds_provider *creds_cached_new(creds_provider *inner, int64_t refresh_window_ms)
{
    return creds_cached_new_clock(inner, refresh_window_ms, wall_clock, NULL);
}

creds_provider *creds_cached_new_clock(creds_provider *inner, int64_t refresh_window_ms, creds_clock_fn now,
                                       void *now_ud)
{
    if (!inner)
        return NULL;
    cached_provider *c = calloc(1, sizeof *c);
    if (!c) {
        creds_provider_free(inner);
        return NULL;
    }
    c->base.vt = &cached_vt;
    c->inner = inner;
    c->window_ms = refresh_window_ms > 0 ? refresh_window_ms : 5 * 60 * 1000;
    c->now = now ? now : wall_clock;
    c->now_ud = now_ud;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    return &c->base;
}

/* ---- default chain ------------------------------------------------------ */

creds_provider *creds_default_new(const aws_settings *s)
{
    creds_provider *items[5];
    size_t n = 0;
    if (s->profile_from_arg) {
        items[n++] = creds_profile_new(s);
    } else {
        items[n++] = creds_env_new(s->env);
        items[n++] = creds_web_identity_env_new(s);
        items[n++] = creds_profile_new(s);
        items[n++] = creds_container_new(s->env);
        items[n++] = creds_imds_new(s->env);
    }
    return creds_cached_new(creds_chain_new(items, n), 0);
}
