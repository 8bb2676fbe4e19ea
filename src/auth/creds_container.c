/* Container credentials: ECS task roles (RELATIVE_URI on 169.254.170.2)
 * and EKS Pod Identity or custom agents (FULL_URI with an authorization
 * token). Plain HTTP is allowed only to loopback and the container agents'
 * link-local addresses, as in the AWS SDKs, so that a token is never sent
 * in the clear across a network. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds_impl.h"

typedef struct container_provider {
    creds_provider base;
    const dm_env *env;
} container_provider;

static void url_host(const char *url, char *out, size_t size)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    size_t n;
    if (*h == '[') {
        const char *e = strchr(h, ']');
        h++;
        n = e ? (size_t)(e - h) : strlen(h);
    } else {
        n = strcspn(h, ":/?#");
    }
    if (n >= size)
        n = size - 1;
    memcpy(out, h, n);
    out[n] = '\0';
}

static bool http_host_allowed(const char *url)
{
    char host[256];
    if (strncmp(url, "https://", 8) == 0)
        return true;
    if (strncmp(url, "http://", 7) != 0)
        return false;
    url_host(url, host, sizeof host);
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "169.254.170.2") == 0 || strcmp(host, "169.254.170.23") == 0 ||
           strcmp(host, "fd00:ec2::23") == 0;
}

/* The Authorization header line, from the token file (re-read on each call:
 * agents rotate it) or the variable. Owned; NULL when none is configured. */
static int auth_header(const dm_env *env, char **out, dm_error *err)
{
    const char *file = dm_env_get(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *tok = dm_env_get(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    char *from_file = NULL;
    *out = NULL;
    if (file) {
        int rc = creds_read_token_file(file, "container authorization token", &from_file, err);
        if (rc)
            return rc;
        tok = from_file;
    }
    if (!tok)
        return DM_OK;
    if (strchr(tok, '\r') || strchr(tok, '\n')) {
        dm_free_secret(from_file);
        return dm_error_set(err, DM_ERR_CREDENTIALS, "the container authorization token contains a line break");
    }
    dm_buf b;
    dm_buf_init(&b, 0);
    int rc = dm_buf_appendf(&b, "Authorization: %s", tok);
    dm_free_secret(from_file);
    if (rc) {
        dm_buf_cleanup_secure(&b);
        return dm_error_set(err, rc, "out of memory");
    }
    *out = b.data;
    return DM_OK;
}

static int fetch(const char *url, const char *auth, aws_creds *out, dm_error *err)
{
    const char *headers[2] = {"Accept: application/json", auth};
    long status = 0;
    dm_buf resp;
    int rc = creds_http("GET", url, headers, auth ? 2 : 1, NULL, 5000, NULL, &status, &resp, err);
    if (rc != DM_OK) {
        dm_error_prefix(err, "container credentials endpoint %s", url);
        dm_buf_cleanup(&resp);
        return err ? (err->code = DM_ERR_CREDENTIALS) : DM_ERR_CREDENTIALS;
    }
    json_t *doc = json_loadb(dm_buf_cstr(&resp), resp.len, 0, NULL);
    if (status != 200) {
        const char *m = json_string_value(json_object_get(doc, "message"));
        if (!m)
            m = json_string_value(json_object_get(doc, "Message"));
        rc = dm_error_set(err, DM_ERR_CREDENTIALS, "container credentials endpoint %s answered HTTP %ld%s%s", url,
                          status, m ? ": " : "", m ? m : "");
    } else {
        rc = creds_from_json(doc, "Token", "container credentials", out, err);
    }
    json_decref(doc);
    dm_buf_cleanup_secure(&resp);
    return rc;
}

static int container_get(creds_provider *p, aws_creds *out, dm_error *err)
{
    const dm_env *env = ((container_provider *)p)->env;
    const char *rel = dm_env_get(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = dm_env_get(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    char url[1024];
    if (rel)
        snprintf(url, sizeof url, "http://169.254.170.2%s%s", rel[0] == '/' ? "" : "/", rel);
    else if (full)
        dm_strlcpy(url, full, sizeof url);
    else
        return CREDS_ABSENT;
    if (!rel && !http_host_allowed(url))
        return dm_error_set(err, DM_ERR_CREDENTIALS,
                            "AWS_CONTAINER_CREDENTIALS_FULL_URI must use https, or http to a loopback or "
                            "container-agent address, not '%s'",
                            url);
    char *auth = NULL;
    int rc = auth_header(env, &auth, err);
    if (rc == DM_OK)
        rc = fetch(url, auth, out, err);
    dm_free_secret(auth);
    return rc;
}

static void container_free(creds_provider *p) { free(p); }

static const creds_vtable container_vt = {"container credentials", container_get, NULL, container_free};

creds_provider *creds_container_new(const dm_env *env)
{
    container_provider *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->base.vt = &container_vt;
    p->env = env ? env : dm_env_process();
    return &p->base;
}
