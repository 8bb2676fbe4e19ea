/* Container credentials: ECS task roles (RELATIVE_URI on 169.254.170.2)
 * and EKS Pod Identity or custom agents (FULL_URI with an authorization
 * token). Plain HTTP is allowed only to loopback and the container agents'
 * link-local addresses, as in the AWS SDKs, so that a token is never sent
 * in the clear across a network. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "creds_impl.h"
#include "http/url.h"

typedef struct container_provider {
    creds_provider base;
    const dm_env *env;
} container_provider;

/* Plain HTTP may go to loopback (127.0.0.0/8, ::1, localhost) and to the
 * ECS and EKS agents' link-local addresses, compared as addresses rather
 * than as text, so that "127.example.com" is not taken for loopback. */
static bool plain_http_allowed(const http_url *u)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, u->host, a) == 1)
        return a[0] == 127 || (a[0] == 169 && a[1] == 254 && a[2] == 170 && (a[3] == 2 || a[3] == 23));
    if (inet_pton(AF_INET6, u->host, a) == 1) {
        static const unsigned char loopback[16] = {[15] = 1};
        static const unsigned char eks[16] = {0xfd, 0x00, 0x0e, 0xc2, [15] = 0x23};
        return memcmp(a, loopback, 16) == 0 || memcmp(a, eks, 16) == 0;
    }
    return strcasecmp(u->host, "localhost") == 0;
}

/* The endpoint must parse (the HTTP layer's parser: the message names the
 * variable and never shows user information) and, from FULL_URI, use
 * https or plain http to an allowed address. */
static int check_url(const char *url, const char *var, bool relative, dm_error *err)
{
    http_url u;
    if (http_url_parse(url, &u, err) != DM_OK) {
        dm_error_prefix(err, "%s", var);
        return err ? (err->code = DM_ERR_CREDENTIALS) : DM_ERR_CREDENTIALS;
    }
    if (relative || u.tls || plain_http_allowed(&u))
        return DM_OK;
    char shown[200];
    http_url_display(url, shown, sizeof shown);
    return dm_error_set(err, DM_ERR_CREDENTIALS,
                        "%s must use https, or http to a loopback or container-agent address, not '%s'", var, shown);
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
    int rc = check_url(url, rel ? "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" : "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                       rel != NULL, err);
    if (rc)
        return rc;
    char *auth = NULL;
    rc = auth_header(env, &auth, err);
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
