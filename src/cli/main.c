/* ddbmig: safe, parallel migrations of DynamoDB tables. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>
#ifdef DDBMIG_STATIC_GLIBC
#include <nss.h>
#endif

#include "cli.h"
#include "version.h"

static const cli_command *const commands[] = {&cli_cmd_run, &cli_cmd_verify, &cli_cmd_export, &cli_cmd_import,
                                                     &cli_cmd_describe, &cli_cmd_capacity, &cli_cmd_lambda, &cli_cmd_aws, NULL};

static const cli_command *find_command(const char *name)
{
    for (int i = 0; commands[i]; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

static void print_usage(FILE *f)
{
    fprintf(f, "usage: ddbmig COMMAND [options]\n\n"
               "Massively parallel, safe migrations of Amazon DynamoDB tables.\n\nCommands:\n");
    for (int i = 0; commands[i]; i++)
        fprintf(f, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "  %-12s %s\n\n", "help", "show help for a command");
    fprintf(f, "Run 'ddbmig help COMMAND' for a command's options. --version prints the version.\n");
}

static void print_command_help(const cli_command *c)
{
    printf("usage: %s\n\n%s\n", c->usage, c->details);
    cli_print_options(c);
}

/* ddbmig __complete [COMMAND]: the words that may follow, for the man page
 * and the shell completions that packaging/ generates at build time. One
 * line each: WORD, TAB, placeholder, TAB, choices, TAB, help. Without a
 * command: the commands and the top-level options; with one: its
 * subcommands (the alternatives its usage line names, "show|prewarm"),
 * then its options. Hidden from help: people read 'ddbmig help'. */
static int complete(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "help") == 0) {
        for (int i = 0; commands[i]; i++)
            printf("%s\t\t\t%s\n", commands[i]->name, commands[i]->summary);
        if (argc < 1)
            printf("help\t\t\tshow help for a command\n--help\t\t\tshow the commands\n"
                   "--version\t\t\tprint the version, the commit and the libraries\n");
        return CLI_EXIT_OK;
    }
    const cli_command *c = find_command(argv[0]);
    if (!c) {
        fprintf(stderr, "ddbmig __complete: no command '%s'\n", argv[0]);
        return CLI_EXIT_USAGE;
    }
    /* "ddbmig capacity show|prewarm|restore ...": the third word, when it
     * is made of lower-case words and bars only. */
    const char *p = c->usage;
    for (int w = 0; w < 2 && p; w++)
        p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL;
    size_t n = p ? strcspn(p, " ") : 0;
    char subs[128] = "";
    if (n && n < sizeof subs && p[0] != '-' && strspn(p, "abcdefghijklmnopqrstuvwxyz-|") == n)
        memcpy(subs, p, n);
    char *save = NULL;
    for (char *sub = strtok_r(subs, "|", &save); sub; sub = strtok_r(NULL, "|", &save))
        printf("%s\t\t\t\n", sub);
    cli_list_options(c);
    return CLI_EXIT_OK;
}

static int help(int argc, char **argv)
{
    if (argc < 1) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    const cli_command *c = find_command(argv[0]);
    if (!c) {
        fprintf(stderr, "ddbmig help: no command '%s'\n", argv[0]);
        return CLI_EXIT_USAGE;
    }
    print_command_help(c);
    return CLI_EXIT_OK;
}

/* --debug must act before anything is logged, so it is found early. */
static void early_flags(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--debug") == 0)
            dm_log_set_level(DM_LOG_DEBUG);
}

/* Process-wide decisions belong to the program, not to the library. A
 * reader of ddbmig's output that goes away (| head) must not kill a run
 * between a write and its checkpoint: a write to the closed pipe fails
 * instead. Sockets never raise SIGPIPE (the library sends with
 * MSG_NOSIGNAL), so this is about stdout and stderr. */
static void ignore_sigpipe(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
}

/* The statically linked ddbmig (make release) carries Debian's glibc and
 * OpenSSL, and so their view of the machine, which other distributions
 * do not share:
 * - host names: glibc's own "files" and "dns" lookups are built in; the
 *   other NSS modules /etc/nsswitch.conf may name (systemd, mdns,
 *   myhostname) are shared objects built against the machine's glibc,
 *   which must not be loaded next to the copy inside this binary;
 * - CA certificates: OpenSSL looks in /usr/lib/ssl, Debian's place. Where
 *   that is missing and SSL_CERT_FILE / SSL_CERT_DIR are unset, the
 *   bundle is taken from where other distributions keep it. */
static void static_defaults(void)
{
#ifdef DDBMIG_STATIC_GLIBC
    __nss_configure_lookup("hosts", "files dns");
    if (getenv(X509_get_default_cert_file_env()) || getenv(X509_get_default_cert_dir_env()) ||
        access(X509_get_default_cert_file(), R_OK) == 0 || access(X509_get_default_cert_dir(), R_OK) == 0)
        return;
    /* clang-format off */
    static const char *const bundles[] = {
        "/etc/ssl/certs/ca-certificates.crt",                /* Debian, Ubuntu, Arch, Gentoo */
        "/etc/pki/tls/certs/ca-bundle.crt",                  /* Fedora, RHEL, Amazon Linux */
        "/etc/ssl/ca-bundle.pem",                            /* openSUSE */
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", /* CentOS, RHEL 7 */
        "/etc/ssl/cert.pem",                                 /* Alpine */
        NULL};
    /* clang-format on */
    for (int i = 0; bundles[i]; i++) {
        if (access(bundles[i], R_OK) == 0) {
            setenv(X509_get_default_cert_file_env(), bundles[i], 1);
            return;
        }
    }
#endif
}

int main(int argc, char **argv)
{
    ignore_sigpipe();
    /* Before anything is said: secrets in the environment are known from
     * the start (a bad argument may quote one); others as they are read. */
    dm_redact_stderr();
    dm_redact_add(getenv("AWS_SECRET_ACCESS_KEY"));
    dm_redact_add(getenv("AWS_SESSION_TOKEN"));
    static_defaults();
    early_flags(argc, argv);
    if (argc < 2) {
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        cli_print_version(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0)
        return help(argc - 2, argv + 2);
    if (strcmp(cmd, "__complete") == 0)
        return complete(argc - 2, argv + 2);
    const cli_command *c = find_command(cmd);
    if (!c) {
        fprintf(stderr, "ddbmig: unknown command '%s'\n\n", cmd);
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_command_help(c);
            return CLI_EXIT_OK;
        }
    }
    cli_globals g = {0};
    return c->run(&g, argc - 2, argv + 2);
}
