/* The ddbmig command line: exit codes, option parsing, the connection
 * every command makes, and the commands themselves. */
#ifndef DDBMIG_CLI_H
#define DDBMIG_CLI_H

#include <signal.h>
#include <stdbool.h>

#include "ddbmig/capacity.h"
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
    CLI_EXIT_CAPACITY = 5,    /* run --prewarm: the work is done, the capacity not (all) restored */
    CLI_EXIT_INTERRUPTED = 130
};

/* Commands as bits: an option lists the commands that accept it. */
enum {
    CLI_CMD_RUN = 1 << 0,
    CLI_CMD_VERIFY = 1 << 1,
    CLI_CMD_EXPORT = 1 << 2,
    CLI_CMD_IMPORT = 1 << 3,
    CLI_CMD_DESCRIBE = 1 << 4,
    CLI_CMD_CAPACITY = 1 << 5,
    CLI_CMD_LAMBDA = 1 << 6,
    CLI_CMD_AWS = 1 << 7,
    CLI_CMD_ALL = (1 << 8) - 1
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
/* The same entries for machines (ddbmig __complete COMMAND, which the man
 * page and shell completion generators read): see args.c for the format. */
void cli_list_options(const cli_command *cmd);

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
/* A yes/no question on stderr, the answer from stdin; false when stop
 * (a signal handler's flag, may be NULL) was set meanwhile. */
bool cli_ask(const char *question, volatile sig_atomic_t *stop);

/* Capacity pre-warm options, taken by run and capacity (capacity.c). */
typedef struct cli_prewarm {
    const char *method;
    long long read, write, timeout_s;
    double warm_read_price, warm_write_price;
} cli_prewarm;
extern cli_prewarm cli_prewarm_opt;

/* The option table entries of pre-warming, for the commands cmds. */
#define CLI_PREWARM_OPTIONS(cmds)                                                                                  \
    {.name = "prewarm-read-units", .kind = CLI_INT, .dest = &cli_prewarm_opt.read, .arg = "R", .imin = 1,        \
     .imax = 40000000, .commands = (cmds),                                                                       \
     .help = "pre-warm for R read units a second (default: PREWARM_RCU, else from the table's size)"},            \
    {.name = "prewarm-write-units", .kind = CLI_INT, .dest = &cli_prewarm_opt.write, .arg = "W", .imin = 1,      \
     .imax = 40000000, .commands = (cmds),                                                                       \
     .help = "pre-warm for W write units a second (default: PREWARM_WCU, else from the table's size)"},           \
    {.name = "prewarm-method", .kind = CLI_CHOICE, .dest = &cli_prewarm_opt.method,                               \
     .arg = "warm-throughput|provisioned|toggle", .choices = "warm-throughput|provisioned|toggle",                \
     .commands = (cmds), .help = "how to pre-warm (default: from the table; see docs/CLI.md)"},                   \
    {.name = "prewarm-timeout", .kind = CLI_INT, .dest = &cli_prewarm_opt.timeout_s, .arg = "S", .imin = 1,      \
     .imax = 86400, .commands = (cmds), .help = "wait at most S seconds for the table to be ACTIVE (default 1800)"}, \
    {.name = "warm-read-price", .kind = CLI_NUMBER, .dest = &cli_prewarm_opt.warm_read_price, .arg = "USD",      \
     .dmin = 0, .dmax = 1e6, .commands = (cmds), .help = "USD per read unit a second of warm throughput raised"},  \
    {.name = "warm-write-price", .kind = CLI_NUMBER, .dest = &cli_prewarm_opt.warm_write_price, .arg = "USD",    \
     .dmin = 0, .dmax = 1e6, .commands = (cmds), .help = "USD per write unit a second of warm throughput raised"}

/* What capacity work needs: the DynamoDB client of conn, and one for
 * Application Auto Scaling. */
typedef struct cli_cap {
    cap_clients c;
    ddb_shared *shared;
    ddb_client *client;
    char endpoint[512];
    char note[300];
} cli_cap;
int cli_cap_open(const cli_globals *g, cli_conn *conn, volatile sig_atomic_t *stop, cli_cap *out);
void cli_cap_close(cli_cap *c);
/* The pre-warm goal: options, then PREWARM_RCU / PREWARM_WCU, then
 * cap_default_goal. */
int cli_cap_goal(const cap_state *s, bool consistent, double max_read, double max_write, cap_goal *out,
                 dm_error *err);
/* PREWARM: 1 when it asks for a pre-warm, 0 when not or unset, -1 (with
 * the message printed) when it is neither. */
int cli_prewarm_env(void);
/* Restores from record, telling stderr how it went; the exit code. */
int cli_cap_restore(cli_cap *c, const cap_where *w, bool quiet);

/* run, verify and lambda share one option table (run.c). */
struct engine_options;
const cli_opt *cli_job_options(void);
/* The engine's options from what cli_parse found for command. */
int cli_job_engine_options(const char *command, cli_globals *g, struct engine_options *e);

extern const cli_command cli_cmd_capacity;
extern const cli_command cli_cmd_lambda;
extern const cli_command cli_cmd_aws;
extern const cli_command cli_cmd_describe;
extern const cli_command cli_cmd_run;
extern const cli_command cli_cmd_verify;
extern const cli_command cli_cmd_export;
extern const cli_command cli_cmd_import;

#endif
