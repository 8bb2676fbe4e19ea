/* TLS for the native HTTP backend, on OpenSSL. Verification is always on:
 * TLS 1.2 at least, the peer's chain checked against the system's CA
 * certificates or a PEM bundle (AWS_CA_BUNDLE, a profile's ca_bundle), and
 * the certificate checked against the host name (sent as SNI) or the IP
 * address of the URL. There is no way to turn any of it off. */
#ifndef DDBMIG_HTTP_TLS_H
#define DDBMIG_HTTP_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/* What a non-blocking TLS (or socket) operation came to. */
typedef enum http_io {
    HTTP_IO_DONE,       /* completed (bytes moved, handshake finished) */
    HTTP_IO_WANT_READ,  /* try again when the socket is readable */
    HTTP_IO_WANT_WRITE, /* try again when the socket is writable */
    HTTP_IO_EOF,        /* the peer closed the connection */
    HTTP_IO_FAILED
} http_io;

/* A client context trusting ca_file (PEM; NULL: the system's store).
 * Returns NULL with a message in msg. Free with SSL_CTX_free. */
SSL_CTX *http_tls_context(const char *ca_file, char *msg, size_t msg_size);

/* A client session on the connected socket fd for host (a name, or an IP
 * address without brackets). Returns NULL with a message in msg. */
SSL *http_tls_session(SSL_CTX *ctx, int fd, const char *host, char *msg, size_t msg_size);

/* One step of the handshake; on HTTP_IO_FAILED, http_tls_failure says why. */
http_io http_tls_handshake(SSL *ssl);
void http_tls_failure(SSL *ssl, const char *host, char *msg, size_t msg_size);

http_io http_tls_read(SSL *ssl, char *dst, size_t n, size_t *got);
http_io http_tls_write(SSL *ssl, const char *src, size_t n, size_t *put);

/* An idle connection became readable: takes in records without data
 * (session tickets, key updates), which leave it usable (true); false when
 * the peer closed it or sent data nobody asked for. */
bool http_tls_idle_usable(SSL *ssl);

#endif
