/* The ddbmig command line: exit codes, option parsing, the connection
 * every command makes, and the commands themselves. */
#ifndef DDBMIG_CLI_H
#define DDBMIG_CLI_H

#include <stdbool.h>

#include "ddbmig/common.h"
#include "ddbmig/config.h"
#include "ddbmig/creds.h"
#include "ddbmig/ddb.h"

/* Exit codes, the same for every command (docs/CLI.md). */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_ITEMS = 1,       /* finished, with per-item errors or items left */
    CLI_EXIT_USAGE = 2,       /* usage, configuration, credentials, missing table: nothing written */
    CLI_EXIT_RESUMABLE = 3,   /* stopped early; the checkpoint resumes it */
    CLI_EXIT_AWS = 4,         /* AWS or network failure after retries */
    CLI_EXIT_INTERRUPTED = 130
};

typedef enum cli_opt_kind { CLI_FLAG, CLI_STRING, CLI_INT, CLI_LIST } cli_opt_kind;

typedef struct cli_list {
    const char *items[32];
    int n;
} cli_list;

typedef struct cli_opt {
    const char *name;       /* without "--" */
    char short_name;        /* 0: none */
    cli_opt_kind kind;
    void *dest;             /* bool*, const char**, long*, cli_list* */
    const char *arg;        /* placeholder in help ("N", "FILE") */
    const char *help;
} cli_opt;

typedef struct cli_globals {
    const char *region;
    const char *profile;
    const char *endpoint_url;
    const char *output;     /* "text" or "json" */
    long max_attempts;
    bool debug;
    bool help;
} cli_globals;

/* Parses argv (after the command name) against the command's options and
 * the global ones. Writes the message and returns CLI_EXIT_USAGE on bad
 * input; positional arguments are refused. */
int cli_parse(const char *command, int argc, char **argv, const cli_opt *opts, cli_globals *g);
/* Prints "usage" and the option table of a command. */
void cli_print_options(const cli_opt *opts);
void cli_print_global_options(void);

/* Everything a command needs to talk to DynamoDB. */
typedef struct cli_conn {
    aws_settings settings;
    creds_provider *creds;
    ddb_shared *shared;
    ddb_client *client;
    char endpoint[512];
} cli_conn;

/* Resolves settings, credentials and endpoint. On failure prints the
 * message and returns the exit code to use. */
int cli_connect(const cli_globals *g, cli_conn *c);
void cli_disconnect(cli_conn *c);

/* Prints "ddbmig: error: <message>" and returns the exit code for rc. */
int cli_fail(const dm_error *err, int rc);
/* The exit code for an error from DynamoDB or the client. */
int cli_exit_code(const dm_error *err, int rc);
bool cli_json_output(const cli_globals *g);

/* Commands. */
typedef struct cli_command {
    const char *name;
    const char *summary;
    const char *usage;
    const cli_opt *(*options)(void);
    int (*run)(cli_globals *g, int argc, char **argv);
    const char *details;
} cli_command;

extern const cli_command cli_cmd_describe;
extern const cli_command cli_cmd_run;
extern const cli_command cli_cmd_verify;
extern const cli_command cli_cmd_export;
extern const cli_command cli_cmd_import;

#endif
