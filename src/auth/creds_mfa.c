/* ddbmig's own MFA prompt for role profiles with mfa_serial: the code is
 * read from the controlling terminal (/dev/tty) without echo, as the AWS
 * CLI reads it with getpass, so that standard input stays the caller's.
 * Without a terminal (cron, CI, a pod) it says so instead of waiting. A
 * library user can put its own prompt in aws_settings.mfa_prompt. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "creds_impl.h"

static pthread_mutex_t tty_mu = PTHREAD_MUTEX_INITIALIZER;

static void put(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* One line from fd into code; false when none came (end of input, an
 * interrupt, an error). */
static bool read_line(int fd, char *code, size_t size)
{
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r <= 0)
            return false; /* EINTR too: Ctrl-C gives up the question */
        if (c == '\n' || c == '\r')
            break;
        if (n + 1 < size)
            code[n++] = c;
    }
    code[n] = '\0';
    while (n > 0 && code[n - 1] == ' ')
        code[--n] = '\0';
    return true;
}

int creds_mfa_tty_prompt(void *ud, const char *profile, const char *serial, char *code, size_t size, dm_error *err)
{
    (void)ud;
    code[0] = '\0';
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return dm_error_set(err, DM_ERR_CREDENTIALS,
                            "profile %s needs a code from the MFA device %s (mfa_serial), and there is no terminal to "
                            "ask for it on; run ddbmig from a terminal, or use a profile without mfa_serial",
                            profile, serial);
    pthread_mutex_lock(&tty_mu);
    /* Echo off before the prompt, as getpass does: whatever is typed
     * after the prompt appears is neither shown nor flushed away. */
    struct termios old;
    bool restore = tcgetattr(fd, &old) == 0;
    if (restore) {
        struct termios quiet = old;
        quiet.c_lflag &= (tcflag_t)~ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    char prompt[600];
    snprintf(prompt, sizeof prompt, "Enter MFA code for %s: ", serial);
    put(fd, prompt);
    bool got = read_line(fd, code, size);
    if (restore) {
        tcsetattr(fd, TCSAFLUSH, &old);
        put(fd, "\n");
    }
    pthread_mutex_unlock(&tty_mu);
    close(fd);
    if (!got || !code[0]) {
        dm_memzero(code, size);
        return dm_error_set(err, DM_ERR_CREDENTIALS, "profile %s: no MFA code was entered", profile);
    }
    return DM_OK;
}
