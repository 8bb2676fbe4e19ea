/* The one URL parser: every endpoint (DynamoDB, STS, container and
 * instance-metadata credentials) and every request URL of both HTTP
 * backends goes through http_url_parse, so they all accept and refuse the
 * same text with the same words.
 *
 * Accepted: http or https (any case), "://", a host name, IPv4 address or
 * bracketed IPv6 address, an optional port 1-65535, then an optional path,
 * query and fragment made of characters a URL may hold unencoded or as
 * %XX. Refused, with a reason: anything else, including spaces, control
 * characters and non-ASCII bytes anywhere, and user information
 * ("user:password@"), which no AWS endpoint takes and which would otherwise
 * end up in messages and logs. */
#ifndef DDBMIG_HTTP_URL_H
#define DDBMIG_HTTP_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "ddbmig/common.h"

#define HTTP_URL_MAX_LEN 4096

typedef struct http_url {
    bool tls;               /* https */
    bool ipv6;              /* host is a bracketed IPv6 address */
    char host[254];         /* without brackets, as written */
    char port[6];           /* digits; "443" or "80" when none is written */
    char authority[270];    /* host[:port] as written, brackets kept: the
                             * Host header */
    const char *path;       /* borrowed from the parsed text: path and
                             * query, without the fragment; may be empty
                             * or start with '?' (see http_url_target) */
    size_t path_len;
    bool has_query;
    bool has_fragment;
} http_url;

/* Parses text (NUL-terminated, borrowed: u->path points into it). Returns
 * DM_OK, or DM_ERR_INVALID with err (optional) saying what is wrong, the
 * URL quoted as http_url_display shows it. */
int http_url_parse(const char *text, http_url *u, dm_error *err);

/* The request target of a parsed URL is "/" followed by path when this is
 * true (an empty path, or a query without a path), else path itself. */
static inline bool http_url_needs_slash(const http_url *u)
{
    return u->path_len == 0 || u->path[0] == '?';
}

/* Text of a URL fit to show a person, into out (always terminated):
 * anything that could be user information (from after "://", or the
 * start, up to the last '@') becomes "[redacted]", and control characters
 * and non-ASCII bytes are written as \xNN. Works on
 * text that does not parse; long text is cut with "...". */
void http_url_display(const char *text, char *out, size_t size);

#endif
