/* ddbmig: safe, parallel migrations of DynamoDB tables. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

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

int main(int argc, char **argv)
{
    ignore_sigpipe();
    early_flags(argc, argv);
    if (argc < 2) {
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("ddbmig %s\n", DDBMIG_VERSION);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0)
        return help(argc - 2, argv + 2);
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
