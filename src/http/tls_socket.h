/* TLS on a socket without SIGPIPE (see tls_socket.c). */
#ifndef DDBMIG_HTTP_TLS_SOCKET_H
#define DDBMIG_HTTP_TLS_SOCKET_H

#include <openssl/ssl.h>

/* In place of SSL_set_fd: ssl reads from and writes to fd (borrowed: it
 * is neither closed nor owned), and a write to a connection the peer has
 * reset fails with EPIPE instead of raising SIGPIPE. Returns 1 on success
 * and 0 on failure, as SSL_set_fd does. */
int http_tls_set_socket(SSL *ssl, int fd);

#endif
