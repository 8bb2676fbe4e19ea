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

/* Commands as bits: an option lists the commands that accept it. */
enum {
    CLI_CMD_RUN = 1 << 0,
    CLI_CMD_VERIFY = 1 << 1,
    CLI_CMD_EXPORT = 1 << 2,
    CLI_CMD_IMPORT = 1 << 3,
    CLI_CMD_DESCRIBE = 1 << 4,
    CLI_CMD_ALL = (1 << 5) - 1
};

typedef enum cli_opt_kind {
    CLI_FLAG,   /* bool */
    CLI_STRING, /* const char *, never empty */
    CLI_CHOICE, /* const char *, one of the words of `choices` */
    CLI_INT,    /* long long, from imin to imax */
    CLI_NUMBER, /* double, finite, from dmin (excluded when dmin_open) to dmax */
    CLI_LIST    /* cli_list, repeatable */
} cli_opt_kind;

typedef struct cli_list {
    const char *items[32];
    int n;
} cli_list;

/* One entry of an option table. The table is the only place that says
 * which commands take an option, which values it accepts and what help
 * shows for it. A table ends with an entry without name and short_name. */
typedef struct cli_opt {
    const char *name;       /* without "--"; NULL for a short-only option */
    char short_name;        /* 0: none */
    cli_opt_kind kind;
    void *dest;             /* where the value goes; see cli_opt_kind */
    const char *arg;        /* placeholder in help ("N", "FILE") */
    const char *help;
    unsigned commands;      /* CLI_CMD_* bits of the commands that take it */
    unsigned required;      /* CLI_CMD_* bits of the commands that need it */
    const char *choices;    /* CLI_CHOICE: "update|put|batch" */
    long long imin, imax;   /* CLI_INT */
    double dmin, dmax;      /* CLI_NUMBER */
    bool dmin_open;
} cli_opt;

typedef struct cli_globals {
    const char *region;
    const char *profile;
    const char *endpoint_url;
    const char *output;     /* "text" or "json" */
    long long max_attempts; /* 0: not given */
    bool debug;
    bool help;
} cli_globals;

/* Commands. */
typedef struct cli_command {
    const char *name;
    unsigned id;            /* its CLI_CMD_* bit */
    const char *summary;
    const char *usage;
    const cli_opt *(*options)(void);
    int (*run)(cli_globals *g, int argc, char **argv);
    const char *details;
} cli_command;

/* Parses argv (after the command name) against the command's options and
 * the global ones: values are checked against their entry (kind, range,
 * choices, not empty), options of other commands and missing required
 * ones are refused. Writes the message and returns CLI_EXIT_USAGE on bad
 * input; positional arguments are refused. */
int cli_parse(const cli_command *cmd, int argc, char **argv, cli_globals *g);
/* Prints the options of cmd's table that cmd takes, then the global ones. */
void cli_print_options(const cli_command *cmd);

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

extern const cli_command cli_cmd_describe;
extern const cli_command cli_cmd_run;
extern const cli_command cli_cmd_verify;
extern const cli_command cli_cmd_export;
extern const cli_command cli_cmd_import;

#endif
