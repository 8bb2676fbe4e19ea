/* AWS Signature Version 4 for arbitrary HTTP requests.
 *
 * sigv4_sign() runs every stage; each stage is also public so that it can be
 * checked on its own against AWS's published test vectors. Nothing here logs
 * or keeps a secret: the signing key lives on the stack and is zeroed. */
#ifndef DDBMIG_SIGV4_H
#define DDBMIG_SIGV4_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "ddbmig/common.h"

typedef struct sigv4_header {
    const char *name;  /* any case; borrowed */
    const char *value; /* raw; trimmed and folded for signing; borrowed */
} sigv4_header;

typedef struct sigv4_request {
    const char *method;
    const char *path;  /* resource path, not yet percent-encoded ("/a b/") */
    const char *query; /* query string as sent, without '?'; may be NULL */
    const sigv4_header *headers; /* all headers to sign; must include host */
    size_t n_headers;
    const void *body;
    size_t body_len;
    const char *payload_hash; /* optional: hex hash or "UNSIGNED-PAYLOAD" */
} sigv4_request;

typedef struct sigv4_params {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL or "" when none */
    const char *region;
    const char *service;
    time_t time;            /* signing time, UTC seconds */
    bool keep_path;         /* true: no dot-segment or slash normalisation (S3) */
    bool double_encode;     /* true: encode the already-encoded path again */
    /* Optional cache of the signing key, which only changes with the day,
     * region, service and secret: when key_date equals the request's day
     * the key is used as it is; otherwise it is derived and stored here.
     * Owned by the caller, who zeroes it. NULL: derive every time. */
    uint8_t *key_cache;     /* 32 bytes */
    char *key_date;         /* 9 bytes, "yyyymmdd" */
} sigv4_params;

typedef struct sigv4_result {
    char amz_date[17];          /* "20150830T123600Z": send as X-Amz-Date */
    char scope[128];            /* "20150830/us-east-1/service/aws4_request" */
    char signature[65];
    dm_buf canonical_request;
    dm_buf string_to_sign;
    dm_buf signed_headers;      /* "host;x-amz-date" */
    dm_buf authorization;       /* value of the Authorization header */
} sigv4_result;

/* Signs req. The x-amz-date header (and x-amz-security-token when a session
 * token is given) are added to the signed set; the caller sends them along
 * with Authorization. out is initialised here; release with
 * sigv4_result_cleanup even on failure. */
DM_API int sigv4_sign(const sigv4_request *req, const sigv4_params *params, sigv4_result *out);
DM_API void sigv4_result_cleanup(sigv4_result *r);

/* Stage 1: canonical request and signed-header list. amz_date is the value
 * the x-amz-date header will carry. Appends to the two buffers. */
DM_API int sigv4_canonical_request(const sigv4_request *req, const sigv4_params *params,
                                   const char *amz_date, dm_buf *creq, dm_buf *signed_headers);
/* Stage 2: the string to sign for a canonical request. */
DM_API int sigv4_string_to_sign(const char *amz_date, const char *scope, const char *creq,
                                size_t creq_len, dm_buf *out);
/* Stage 3: the signing key for a day (yyyymmdd), region and service. */
DM_API void sigv4_signing_key(const char *secret_access_key, const char *date8, const char *region,
                              const char *service, uint8_t key[32]);
/* Stage 4: hex signature of the string to sign. */
DM_API void sigv4_signature(const uint8_t key[32], const char *sts, size_t sts_len, char out[65]);

/* RFC 3986 percent-encoding as SigV4 wants it: unreserved characters
 * (A-Z a-z 0-9 - . _ ~) stay, everything else is %XX with upper-case hex;
 * '/' stays only when keep_slash. Appends to out. */
DM_API int sigv4_uri_encode(const char *s, size_t n, bool keep_slash, dm_buf *out);

#endif
