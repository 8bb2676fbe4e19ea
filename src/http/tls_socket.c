/* OpenSSL's socket BIO writes with write(2), which raises SIGPIPE when
 * the peer has reset the connection, and the only ways around that are
 * the caller's: ignoring the signal process-wide, or blocking it per
 * thread. A library must leave both to its caller, so TLS records go out
 * through this small BIO, which sends with MSG_NOSIGNAL as the plain-text
 * path does. Reading stays with OpenSSL's own socket BIO. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

#include "http/tls_socket.h"

static BIO_METHOD *method; /* made once, kept for the process's life */
static pthread_once_t method_once = PTHREAD_ONCE_INIT;

static int fd_of(BIO *b) { return (int)(intptr_t)BIO_get_data(b); }

static int nosig_write(BIO *b, const char *data, int len)
{
    BIO_clear_retry_flags(b);
    if (len <= 0)
        return 0;
    ssize_t n;
    do
        n = send(fd_of(b), data, (size_t)len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_write(b);
        return -1;
    }
    return (int)n;
}

static long nosig_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1; /* nothing is buffered here */
    case BIO_C_GET_FD:
        if (ptr)
            *(int *)ptr = fd_of(b);
        return fd_of(b);
    default: return 0;
    }
}

static int nosig_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void make_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "ddbmig socket writer");
    if (m && BIO_meth_set_write(m, nosig_write) == 1 && BIO_meth_set_ctrl(m, nosig_ctrl) == 1 &&
        BIO_meth_set_create(m, nosig_create) == 1) {
        method = m;
        return;
    }
    BIO_meth_free(m);
}

int http_tls_set_socket(SSL *ssl, int fd)
{
    pthread_once(&method_once, make_method);
    if (!method)
        return 0;
    BIO *rbio = BIO_new_socket(fd, BIO_NOCLOSE);
    BIO *wbio = BIO_new(method);
    if (!rbio || !wbio) {
        BIO_free(rbio);
        BIO_free(wbio);
        return 0;
    }
    BIO_set_data(wbio, (void *)(intptr_t)fd);
    SSL_set_bio(ssl, rbio, wbio); /* ssl owns both from here */
    return 1;
}
