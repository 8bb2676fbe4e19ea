/* TLS sessions for the native backend (see tls.h). */
#include <arpa/inet.h>
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "http/tls.h"
#include "http/tls_socket.h"

SSL_CTX *http_tls_context(const char *ca_file, char *msg, size_t msg_size)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(msg, msg_size, "TLS setup failed");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* Servers that close without close_notify end an answer framed by
     * Content-Length just as well. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        snprintf(msg, msg_size, "could not load CA certificates%s%.200s", ca_file ? " from " : "",
                 ca_file ? ca_file : "");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL *http_tls_session(SSL_CTX *ctx, int fd, const char *host, char *msg, size_t msg_size)
{
    SSL *ssl = SSL_new(ctx);
    /* Records go out with MSG_NOSIGNAL (tls_socket.c): a peer that resets
     * the connection must not raise SIGPIPE in the caller's process. */
    if (!ssl || http_tls_set_socket(ssl, fd) != 1) {
        SSL_free(ssl);
        snprintf(msg, msg_size, "TLS setup failed");
        return NULL;
    }
    SSL_set_connect_state(ssl);
    unsigned char ip[16];
    bool literal = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    int ok;
    if (literal) {
        /* No SNI for an address; the certificate must name the IP. */
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
    } else {
        ok = SSL_set_tlsext_host_name(ssl, host) == 1 && SSL_set1_host(ssl, host) == 1;
    }
    if (ok != 1) {
        SSL_free(ssl);
        snprintf(msg, msg_size, "TLS setup for %.120s failed", host);
        return NULL;
    }
    return ssl;
}

static http_io want(SSL *ssl, int r)
{
    switch (SSL_get_error(ssl, r)) {
    case SSL_ERROR_WANT_READ: return HTTP_IO_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return HTTP_IO_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: return HTTP_IO_EOF;
    default: return HTTP_IO_FAILED;
    }
}

http_io http_tls_handshake(SSL *ssl)
{
    ERR_clear_error();
    int r = SSL_do_handshake(ssl);
    return r == 1 ? HTTP_IO_DONE : want(ssl, r);
}

void http_tls_failure(SSL *ssl, const char *host, char *msg, size_t msg_size)
{
    long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (v != X509_V_OK) {
        snprintf(msg, msg_size, "TLS certificate of %.120s not trusted: %.100s", host,
                 X509_verify_cert_error_string(v));
        return;
    }
    unsigned long e = ERR_get_error();
    char detail[160] = "connection closed during the handshake";
    if (e)
        ERR_error_string_n(e, detail, sizeof detail);
    snprintf(msg, msg_size, "TLS handshake with %.120s failed: %.100s", host, detail);
}

http_io http_tls_read(SSL *ssl, char *dst, size_t n, size_t *got)
{
    ERR_clear_error();
    *got = 0;
    if (SSL_read_ex(ssl, dst, n, got) == 1)
        return HTTP_IO_DONE;
    return want(ssl, 0);
}

http_io http_tls_write(SSL *ssl, const char *src, size_t n, size_t *put)
{
    ERR_clear_error();
    *put = 0;
    if (SSL_write_ex(ssl, src, n, put) == 1)
        return HTTP_IO_DONE;
    return want(ssl, 0);
}

bool http_tls_idle_usable(SSL *ssl)
{
    char scratch[256];
    size_t n = 0;
    ERR_clear_error();
    return SSL_read_ex(ssl, scratch, sizeof scratch, &n) != 1 && SSL_get_error(ssl, 0) == SSL_ERROR_WANT_READ;
}
