/* EC2 instance metadata, IMDSv2: a session token first (PUT), then the
 * role name and the role's credentials. Timeouts are short because off EC2
 * nothing answers, and this is the last provider of the chain. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "creds_impl.h"
#include "http/url.h"

typedef struct imds_provider {
    creds_provider base;
    const dm_env *env;
} imds_provider;

#define IMDS_TIMEOUT_MS 2000

static int get_token(const char *base, char *out, size_t size, dm_error *err)
{
    char url[600];
    snprintf(url, sizeof url, "%s/latest/api/token", base);
    static const char *const h[] = {"X-aws-ec2-metadata-token-ttl-seconds: 21600"};
    long status = 0;
    dm_buf resp;
    int rc = creds_http("PUT", url, h, 1, "", IMDS_TIMEOUT_MS, NULL, &status, &resp, err);
    if (rc == DM_OK && status != 200)
        rc = dm_error_set(err, DM_ERR_CREDENTIALS, "instance metadata token request answered HTTP %ld", status);
    if (rc == DM_OK && (resp.len == 0 || resp.len >= size))
        rc = dm_error_set(err, DM_ERR_CREDENTIALS, "instance metadata returned an unusable token");
    if (rc == DM_OK)
        memcpy(out, resp.data, resp.len + 1);
    dm_buf_cleanup_secure(&resp);
    return rc;
}

static int get_path(const char *base, const char *path, const char *token, long *status, dm_buf *resp,
                    dm_error *err)
{
    char url[700], hdr[200];
    snprintf(url, sizeof url, "%s%s", base, path);
    snprintf(hdr, sizeof hdr, "X-aws-ec2-metadata-token: %s", token);
    const char *h[] = {hdr};
    int rc = creds_http("GET", url, h, 1, NULL, IMDS_TIMEOUT_MS, NULL, status, resp, err);
    dm_memzero(hdr, sizeof hdr);
    return rc;
}

static int imds_fetch(const char *base, aws_creds *out, dm_error *err)
{
    char token[128], role[256], path[400];
    long status = 0;
    dm_buf resp;
    int rc = get_token(base, token, sizeof token, err);
    if (rc != DM_OK) {
        /* Not on EC2, metadata unreachable, or IMDS refusing tokens (403:
         * disabled for this instance): nothing to be had here. */
        DM_DEBUG("instance metadata: %s", err ? err->message : dm_err_str(rc));
        return CREDS_ABSENT;
    }
    rc = get_path(base, "/latest/meta-data/iam/security-credentials/", token, &status, &resp, err);
    if (rc == DM_OK && status == 404)
        rc = dm_error_set(err, DM_ERR_CREDENTIALS, "this instance has no IAM role (instance profile)");
    else if (rc == DM_OK && status != 200)
        rc = dm_error_set(err, DM_ERR_CREDENTIALS, "instance metadata role list answered HTTP %ld", status);
    if (rc == DM_OK) {
        size_t n = strcspn(dm_buf_cstr(&resp), "\r\n");
        if (n == 0 || n >= sizeof role)
            rc = dm_error_set(err, DM_ERR_CREDENTIALS, "instance metadata returned no role name");
        else
            dm_strlcpy(role, resp.data, n + 1);
    }
    dm_buf_cleanup(&resp);
    if (rc == DM_OK) {
        snprintf(path, sizeof path, "/latest/meta-data/iam/security-credentials/%s", role);
        rc = get_path(base, path, token, &status, &resp, err);
        if (rc == DM_OK && status != 200)
            rc = dm_error_set(err, DM_ERR_CREDENTIALS, "instance metadata credentials answered HTTP %ld", status);
        json_t *doc = rc == DM_OK ? json_loadb(dm_buf_cstr(&resp), resp.len, 0, NULL) : NULL;
        const char *code = json_string_value(json_object_get(doc, "Code"));
        /* The Code is not quoted: this answer carries the secret key, and a
         * malformed one could carry it anywhere. */
        if (rc == DM_OK && code && strcmp(code, "Success") != 0)
            rc = dm_error_set(err, DM_ERR_CREDENTIALS, "instance metadata credentials: the answer's Code is not "
                                                       "Success");
        if (rc == DM_OK)
            rc = creds_from_json(doc, "Token", "instance metadata", out, err);
        json_decref(doc);
        dm_buf_cleanup_secure(&resp);
    }
    dm_memzero(token, sizeof token);
    if (rc != DM_OK && rc != CREDS_ABSENT && err)
        err->code = rc = DM_ERR_CREDENTIALS;
    return rc;
}

static int imds_get(creds_provider *p, aws_creds *out, dm_error *err)
{
    const dm_env *env = ((imds_provider *)p)->env;
    const char *off = dm_env_get(env, "AWS_EC2_METADATA_DISABLED");
    if (off && strcasecmp(off, "true") == 0)
        return CREDS_ABSENT;
    const char *ep = dm_env_get(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    char base[512];
    http_url u;
    if (ep && http_url_parse(ep, &u, err) != DM_OK) {
        dm_error_prefix(err, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
        return err ? (err->code = DM_ERR_CREDENTIALS) : DM_ERR_CREDENTIALS;
    }
    if (ep && strlen(ep) >= sizeof base)
        return dm_error_set(err, DM_ERR_CREDENTIALS, "AWS_EC2_METADATA_SERVICE_ENDPOINT is longer than %zu characters",
                            sizeof base - 1);
    dm_strlcpy(base, ep ? ep : "http://169.254.169.254", sizeof base);
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        base[--n] = '\0';
    return imds_fetch(base, out, err);
}

static void imds_free(creds_provider *p) { free(p); }

static const creds_vtable imds_vt = {"EC2 instance metadata", imds_get, NULL, imds_free};

creds_provider *creds_imds_new(const dm_env *env)
{
    imds_provider *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->base.vt = &imds_vt;
    p->env = env ? env : dm_env_process();
    return &p->base;
}
