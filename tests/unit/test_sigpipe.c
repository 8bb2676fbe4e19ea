/* The library leaves SIGPIPE to its caller: making a client does not
 * touch the signal's disposition, and a TLS connection whose peer has gone
 * fails with an error instead of raising the signal (plain-text sends pass
 * MSG_NOSIGNAL; TLS records go through http_tls_set_socket). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "ddbmig/http.h"
#include "http/tls_socket.h"
#include "test.h"

static void default_sigpipe(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
}

static bool sigpipe_is_default(void)
{
    struct sigaction now;
    return sigaction(SIGPIPE, NULL, &now) == 0 && now.sa_handler == SIG_DFL;
}

TEST(making_a_client_leaves_sigpipe_alone)
{
    static const char *const backends[] = {"native", "curl"};
    for (size_t i = 0; i < 2; i++) {
        default_sigpipe();
        setenv("DDBMIG_HTTP", backends[i], 1);
        http_client *c = http_client_new(NULL);
        CHECK(c != NULL);
        http_client_free(c);
        CHECK(sigpipe_is_default());
    }
}

/* In a child with SIGPIPE at its default: a TLS handshake (it starts by
 * sending) over a socket whose peer is closed. Exits 0 when the handshake
 * failed with EPIPE, 1 on any other outcome; SIGPIPE kills it. */
static void handshake_with_closed_peer(bool nosignal_bio)
{
    default_sigpipe();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        _exit(1);
    close(sv[1]);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    if (!ssl || (nosignal_bio ? http_tls_set_socket(ssl, sv[0]) : SSL_set_fd(ssl, sv[0])) != 1)
        _exit(1);
    SSL_set_connect_state(ssl);
    errno = 0;
    int r = SSL_do_handshake(ssl);
    int e = SSL_get_error(ssl, r);
    _exit(r <= 0 && e == SSL_ERROR_SYSCALL && errno == EPIPE ? 0 : 1);
}

static int child_status(bool nosignal_bio)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        handshake_with_closed_peer(nosignal_bio);
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

TEST(tls_to_a_closed_peer_fails_without_sigpipe)
{
    /* The premise: OpenSSL's own socket BIO is killed by the signal. */
    int plain = child_status(false);
    CHECK(WIFSIGNALED(plain) && WTERMSIG(plain) == SIGPIPE);
    int ours = child_status(true);
    if (WIFSIGNALED(ours))
        fprintf(stderr, "  killed by signal %d\n", WTERMSIG(ours));
    CHECK(WIFEXITED(ours));
    CHECK_INT(WEXITSTATUS(ours), 0);
}
