/* Internals shared by the credential providers. */
#ifndef DDBMIG_AUTH_CREDS_IMPL_H
#define DDBMIG_AUTH_CREDS_IMPL_H

#include <jansson.h>

#include "ddbmig/creds.h"
#include "ddbmig/http.h"

/* A provider's get answers this when nothing is configured for it, so that
 * a chain moves on; creds_get turns it into DM_ERR_CREDENTIALS. */
#define CREDS_ABSENT 1

typedef struct creds_vtable {
    const char *name; /* for "tried: ..." messages */
    int (*get)(creds_provider *p, aws_creds *out, dm_error *err);
    void (*invalidate)(creds_provider *p); /* may be NULL */
    void (*free)(creds_provider *p);
} creds_vtable;

struct creds_provider {
    const creds_vtable *vt;
};

/* Raw call of a provider, CREDS_ABSENT included. */
int creds_provider_get_raw(creds_provider *p, aws_creds *out, dm_error *err);

/* Fills out from a JSON object with AccessKeyId, SecretAccessKey, the
 * session token under token_key, and an optional ISO-8601 Expiration.
 * `what` names the source in messages; values never appear in them. */
int creds_from_json(json_t *obj, const char *token_key, const char *what, aws_creds *out, dm_error *err);

/* One blocking HTTP exchange for a credential endpoint, on its own short-
 * lived client. Network failures give DM_ERR_NETWORK; any HTTP status is
 * returned in *status with the body in resp (initialised here). ca_file:
 * a PEM bundle for TLS instead of the system's, or NULL/"". */
int creds_http(const char *method, const char *url, const char *const *headers, size_t n_headers,
               const char *body, long timeout_ms, const char *ca_file, long *status, dm_buf *resp,
               dm_error *err);

/* Messages never quote an answer that carries credentials (a 200 answer
 * of a credential endpoint, a credential_process's output), even a
 * malformed one: it may hold the secret key anywhere. Error answers
 * (another status) hold no credentials, and their service message is
 * quoted for the person who has to fix the cause. */

/* Reads a small file (a token), trimming trailing whitespace. Owned. */
int creds_read_token_file(const char *path, const char *what, char **out, dm_error *err);

#endif
