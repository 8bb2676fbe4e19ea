/* ddbmig aws: the stack that runs a migration on Lambda under a Step
 * Functions Distributed Map. `template` writes its CloudFormation
 * template (docs/SCALE.md). */
#define _GNU_SOURCE 1
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_cli.h"
#include "ddbmig/engine.h"
#include "ddbmig/stack.h"

aws_cli_options aws_opt;
#define opt aws_opt

static const cli_opt *aws_options(void)
{
    enum { A = CLI_CMD_AWS };
    /* clang-format off */
    static const cli_opt o[] = {
        {.name = "table-name", .kind = CLI_STRING, .dest = &opt.table, .arg = "NAME", .commands = A,
         .help = "the table to migrate (template: required)"},
        {.name = "script", .kind = CLI_STRING, .dest = &opt.script, .arg = "FILE", .commands = A,
         .help = "Lua file defining migrate(item, ctx) (packaged as script.lua)"},
        {.short_name = 'e', .kind = CLI_STRING, .dest = &opt.code, .arg = "CODE", .commands = A,
         .help = "the body of migrate(item, ctx), instead of --script"},
        {.name = "target-table-name", .kind = CLI_STRING, .dest = &opt.target, .arg = "NAME", .commands = A,
         .help = "write the results into another table"},
        {.name = "migration-id", .kind = CLI_STRING, .dest = &opt.migration_id, .arg = "ID", .commands = A,
         .help = "the migration's id (default: from the script's hash)"},
        {.name = "write-mode", .kind = CLI_CHOICE, .dest = &opt.write_mode, .arg = "update|put|batch",
         .choices = "update|put|batch", .commands = A, .help = "how changes are written"},
        {.name = "marker", .kind = CLI_STRING, .dest = &opt.marker, .arg = "ATTR", .commands = A,
         .help = "mark migrated items; skip marked ones (exactly once)"},
        {.name = "version-attribute", .kind = CLI_STRING, .dest = &opt.version_attr, .arg = "ATTR", .commands = A,
         .help = "guard writes on this whole-number attribute"},
        {.name = "filter-expression", .kind = CLI_STRING, .dest = &opt.filter, .arg = "EXPR", .commands = A,
         .help = "only items matching this Scan filter"},
        {.name = "expression-attribute-names", .kind = CLI_STRING, .dest = &opt.names, .arg = "JSON", .commands = A,
         .help = "names for the filter"},
        {.name = "expression-attribute-values", .kind = CLI_STRING, .dest = &opt.values, .arg = "JSON",
         .commands = A, .help = "values for the filter"},
        {.name = "total-segments", .kind = CLI_INT, .dest = &opt.segments, .arg = "N", .imin = 1, .imax = 1000000,
         .commands = A, .help = "scan segments, one Map item each (default 1000)"},
        {.name = "max-concurrency", .kind = CLI_INT, .dest = &opt.concurrency, .arg = "N", .imin = 1,
         .imax = 10000, .commands = A, .help = "children at once (default: segments, at most 1000)"},
        {.name = "tolerated-failure-percentage", .kind = CLI_NUMBER, .dest = &opt.tolerated, .arg = "P",
         .dmin = 0, .dmax = 100, .commands = A, .help = "segments that may fail before the Map does (default 0)"},
        {.name = "max-read-units", .kind = CLI_NUMBER, .dest = &opt.max_read, .arg = "R", .dmin = 0,
         .dmin_open = true, .dmax = 1e9, .commands = A, .help = "read units a second for the whole run"},
        {.name = "max-write-units", .kind = CLI_NUMBER, .dest = &opt.max_write, .arg = "U", .dmin = 0,
         .dmin_open = true, .dmax = 1e9, .commands = A, .help = "write units a second for the whole run"},
        {.name = "max-errors", .kind = CLI_INT, .dest = &opt.max_errors, .arg = "N", .imin = 1, .imax = 1000000000,
         .commands = A, .help = "per child: stop after N per-item errors"},
        {.name = "lease-seconds", .kind = CLI_INT, .dest = &opt.lease, .arg = "S", .imin = 5, .imax = 3600,
         .commands = A, .help = "a segment's lease: how long a crashed invocation holds it (default 20)"},
        {.name = "prewarm", .kind = CLI_FLAG, .dest = &opt.prewarm, .commands = A,
         .help = "pre-warm before the Map, restore after it (on success and on failure)"},
        CLI_PREWARM_OPTIONS(A),
        {.name = "output", .kind = CLI_STRING, .dest = &opt.output, .arg = "FILE", .commands = A,
         .help = "template: write it here (default: standard output); package: the zip (required); "
                 "deploy, start, status, redrive: text or json"},
        {.name = "stack-name", .kind = CLI_STRING, .dest = &opt.stack, .arg = "NAME", .commands = A,
         .help = "deploy, start, status, redrive: the CloudFormation stack"},
        {.name = "code-bucket", .kind = CLI_STRING, .dest = &opt.code_bucket, .arg = "BUCKET", .commands = A,
         .help = "deploy: upload the function's zip here (default: ddbmig-code-ACCOUNT-REGION, made if missing)"},
        {.name = "architecture", .kind = CLI_CHOICE, .dest = &opt.architecture, .arg = "x86_64|arm64",
         .choices = "x86_64|arm64", .commands = A, .help = "deploy: the function's (default: this binary's)"},
        {.name = "memory-size", .kind = CLI_INT, .dest = &opt.memory, .arg = "MB", .imin = 128, .imax = 10240,
         .commands = A, .help = "deploy: the function's memory (default 1024)"},
        {.name = "name", .kind = CLI_STRING, .dest = &opt.name, .arg = "NAME", .commands = A,
         .help = "start: the execution's name (default ddbmig-DATE-TIME-RANDOM); status, redrive: which one"},
        {.name = "execution-arn", .kind = CLI_STRING, .dest = &opt.execution_arn, .arg = "ARN", .commands = A,
         .help = "status, redrive: the execution (default: --name, else the newest)"},
        {.name = "watch", .kind = CLI_FLAG, .dest = &opt.watch, .commands = A,
         .help = "status: again every --interval seconds until the execution ends"},
        {.name = "interval", .kind = CLI_INT, .dest = &opt.interval, .arg = "S", .imin = 1, .imax = 3600,
         .commands = A, .help = "status --watch: seconds between looks (default 10)"},
        {0}};
    /* clang-format on */
    return o;
}

static int write_out(const char *text)
{
    if (!opt.output) {
        fputs(text, stdout);
        return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    dm_error err = {0};
    int rc = dm_write_file_atomic(opt.output, text, strlen(text), &err);
    return rc ? cli_fail(&err, rc) : CLI_EXIT_OK;
}

int aws_template_text(char **out)
{
    *out = NULL;
    if (!!opt.script == !!opt.code) {
        fprintf(stderr, "ddbmig aws: give the transform as --script FILE or as -e CODE (one of them)\n");
        return CLI_EXIT_USAGE;
    }
    if (!opt.table) {
        fprintf(stderr, "ddbmig aws: --table-name is required\n");
        return CLI_EXIT_USAGE;
    }
    char id[80];
    if (!opt.migration_id) {
        /* The same id a run of the same script gets. */
        dm_buf b;
        dm_buf_init(&b, 16 << 20);
        dm_error err = {0};
        int rc = opt.script ? dm_read_file(opt.script, &b, &err) : dm_buf_puts(&b, opt.code);
        if (rc) {
            dm_buf_cleanup(&b);
            return cli_fail(&err, DM_ERR_CONFIG);
        }
        engine_migration_id(dm_buf_cstr(&b), b.len, id);
        dm_buf_cleanup(&b);
    }
    stack_options so = {.table = opt.table, .target_table = opt.target, .script_file = opt.script != NULL,
                        .code = opt.code, .migration_id = opt.migration_id ? opt.migration_id : id,
                        .write_mode = opt.write_mode, .marker = opt.marker, .version_attribute = opt.version_attr,
                        .filter_expression = opt.filter, .names_json = opt.names, .values_json = opt.values,
                        .total_segments = opt.segments ? (int)opt.segments : 1000,
                        .max_concurrency = (int)opt.concurrency, .tolerated_failure_percentage = opt.tolerated,
                        .max_read_units = opt.max_read, .max_write_units = opt.max_write,
                        .max_errors = (int)opt.max_errors, .lease_seconds = (int)opt.lease, .prewarm = opt.prewarm,
                        .prewarm_read = cli_prewarm_opt.read, .prewarm_write = cli_prewarm_opt.write,
                        .prewarm_method = cli_prewarm_opt.method};
    json_t *t = NULL;
    dm_error err = {0};
    int rc = stack_template(&so, &t, &err);
    if (rc)
        return cli_fail(&err, rc);
    char *text = json_dumps(t, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(t);
    size_t n = text ? strlen(text) : 0;
    char *with_nl = text ? realloc(text, n + 2) : NULL;
    if (!with_nl) {
        free(text);
        return cli_fail(NULL, DM_ERR_NOMEM);
    }
    with_nl[n] = '\n';
    with_nl[n + 1] = '\0';
    *out = with_nl;
    return CLI_EXIT_OK;
}

static int template_main(void)
{
    char *text;
    int rc = aws_template_text(&text);
    if (rc)
        return rc;
    rc = write_out(text);
    free(text);
    return rc;
}

/* ---- package ---- */

/* The C library's own objects come from the system Lambda runs on (glibc
 * 2.34 on provided.al2023); every other shared library travels in lib/. */
static bool from_libc(const char *base)
{
    static const char *const libc[] = {"libc.so", "libm.so", "libpthread.so", "libdl.so", "librt.so", "ld-linux",
                                       "libresolv.so", "libutil.so", "libanl.so", "libnss_", "libBrokenLocale.so",
                                       "linux-vdso", "linux-gate", "libmvec.so"};
    for (size_t i = 0; i < sizeof libc / sizeof libc[0]; i++)
        if (strncmp(base, libc[i], strlen(libc[i])) == 0)
            return true;
    return false;
}

typedef struct pkg {
    stack_zip *zip;
    int rc;
    dm_error err;
    int libs;
} pkg;

static int add_file(pkg *p, const char *path, const char *name, unsigned mode)
{
    dm_buf b;
    dm_buf_init(&b, (size_t)200 << 20);
    int rc = dm_read_file(path, &b, &p->err);
    if (rc == DM_OK)
        rc = stack_zip_add(p->zip, name, b.data ? b.data : "", b.len, mode, &p->err);
    dm_buf_cleanup(&b);
    return rc;
}

static int each_library(struct dl_phdr_info *info, size_t size, void *ud)
{
    (void)size;
    pkg *p = ud;
    const char *path = info->dlpi_name;
    if (p->rc || !path || !*path)
        return 0;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (from_libc(base))
        return 0;
    char name[300];
    snprintf(name, sizeof name, "lib/%s", base);
    p->rc = add_file(p, path, name, 0644);
    p->libs++;
    return 0;
}

/* Lambda runs bootstrap with an environment of its own: no PATH is
 * assumed, and the system's CA bundle is named for OpenSSL and libcurl. */
static const char bootstrap[] =
    "#!/bin/sh\n"
    "# ddbmig on AWS Lambda (provided.al2023): the shared libraries it was built\n"
    "# with are in lib/, the C library is the system's. Without arguments it\n"
    "# serves invocations (ddbmig lambda, options in DDBMIG_LAMBDA_ARGS).\n"
    "case \"$0\" in */*) here=${0%/*} ;; *) here=. ;; esac\n"
    "LD_LIBRARY_PATH=\"$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}\"\n"
    "export LD_LIBRARY_PATH\n"
    "for ca in /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/certs/ca-certificates.crt; do\n"
    "  if [ -z \"${SSL_CERT_FILE:-}\" ] && [ -f \"$ca\" ]; then SSL_CERT_FILE=$ca; export SSL_CERT_FILE; fi\n"
    "done\n"
    "if [ -n \"${SSL_CERT_FILE:-}\" ] && [ -z \"${CURL_CA_BUNDLE:-}\" ]; then CURL_CA_BUNDLE=$SSL_CERT_FILE; export CURL_CA_BUNDLE; fi\n"
    "if [ $# -eq 0 ]; then set -- lambda; fi\n"
    "exec \"$here/ddbmig\" \"$@\"\n";

int aws_package_zip(dm_buf *zip, int *libs, dm_error *err)
{
    pkg p = {.zip = stack_zip_new()};
    dm_buf_init(zip, 0);
    if (!p.zip)
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    p.rc = stack_zip_add(p.zip, "bootstrap", bootstrap, sizeof bootstrap - 1, 0755, &p.err);
    if (p.rc == DM_OK)
        p.rc = add_file(&p, "/proc/self/exe", "ddbmig", 0755);
    if (p.rc == DM_OK && opt.script)
        p.rc = add_file(&p, opt.script, "script.lua", 0644);
    if (p.rc == DM_OK)
        dl_iterate_phdr(each_library, &p);
    if (p.rc == DM_OK)
        p.rc = stack_zip_finish(p.zip, zip, &p.err);
    stack_zip_free(p.zip);
    *libs = p.libs;
    if (p.rc) {
        dm_buf_cleanup(zip);
        if (err)
            *err = p.err;
    }
    return p.rc;
}

static int package_main(void)
{
    if (!opt.output) {
        fprintf(stderr, "ddbmig aws package: --output FILE.zip is required\n");
        return CLI_EXIT_USAGE;
    }
    dm_buf zip;
    int libs = 0;
    dm_error err = {0};
    int rc = aws_package_zip(&zip, &libs, &err);
    if (rc == DM_OK)
        rc = dm_write_file_atomic(opt.output, zip.data, zip.len, &err);
    size_t size = zip.len;
    dm_buf_cleanup(&zip);
    if (rc)
        return cli_fail(&err, rc);
    fprintf(stderr, "ddbmig: wrote %s (%zu bytes): bootstrap, ddbmig, %d shared libraries%s\n", opt.output, size,
            libs, opt.script ? ", script.lua" : "");
    return CLI_EXIT_OK;
}

static int aws_main(cli_globals *g, int argc, char **argv)
{
    static const struct {
        const char *name;
        bool stack; /* talks to a deployed stack: --output is a format */
    } subs[] = {{"template", false}, {"package", false}, {"deploy", true},
                {"start", true},     {"status", true},   {"redrive", true}};
    const char *sub = argc > 0 ? argv[0] : "";
    size_t k = 0;
    while (k < sizeof subs / sizeof subs[0] && strcmp(sub, subs[k].name) != 0)
        k++;
    if (k == sizeof subs / sizeof subs[0]) {
        fprintf(stderr, "usage: %s\n", cli_cmd_aws.usage);
        return CLI_EXIT_USAGE;
    }
    int rc = cli_parse(&cli_cmd_aws, argc - 1, argv + 1, g);
    if (rc)
        return rc;
    if (subs[k].stack) {
        if (opt.output && strcmp(opt.output, "text") != 0 && strcmp(opt.output, "json") != 0) {
            fprintf(stderr, "ddbmig aws %s: --output is text or json\n", sub);
            return CLI_EXIT_USAGE;
        }
        if (opt.output)
            g->output = opt.output;
        if (!opt.stack) {
            fprintf(stderr, "ddbmig aws %s: --stack-name is required\n", sub);
            return CLI_EXIT_USAGE;
        }
    }
    switch (k) {
    case 0: return template_main();
    case 1: return package_main();
    case 2: return aws_deploy_main(g);
    case 3: return aws_start_main(g);
    case 4: return aws_status_main(g);
    default: return aws_redrive_main(g);
    }
}

const cli_command cli_cmd_aws = {
    "aws", CLI_CMD_AWS, "the Lambda and Step Functions stack that runs a migration",
    "ddbmig aws template|package|deploy|start|status|redrive [options]", aws_options, aws_main,
    "template  the CloudFormation template (JSON): the function (provided.al2023, ddbmig\n"
    "          lambda, 900 s), the checkpoint table, a bucket for the segment list and\n"
    "          results, least-privilege roles, and the state machine: a Distributed Map\n"
    "          of STANDARD children over the segment list in S3, each invoking the\n"
    "          function until its segment is done, retrying only retryable errors.\n"
    "          Rate caps are totals: each child gets its share. See docs/SCALE.md.\n"
    "package   the function's zip: bootstrap, this ddbmig, the shared libraries it\n"
    "          uses (the C library excepted: provided.al2023 has glibc 2.34, which is\n"
    "          all ddbmig needs), and --script FILE as script.lua.\n"
    "deploy    packages, uploads the zip to S3 (--code-bucket), creates or updates\n"
    "          the stack --stack-name from the template options, waits, prints\n"
    "          its events and outputs.\n"
    "start     writes the segment list to the stack's bucket and starts an\n"
    "          execution (--name); prints its ARN and console URL.\n"
    "status    the execution (--name, --execution-arn, else the newest), its Map\n"
    "          Run's counts and the migration's progress from the checkpoint\n"
    "          table: segments done, items, items/s, ETA. --watch repeats it.\n"
    "          Exit 0 running or finished well, 1 finished with failed items or\n"
    "          segments left, 3 failed, timed out or aborted (redrive it).\n"
    "redrive   redrives a failed execution: its children resume from their\n"
    "          cursors. (A new start resumes them too.)\n\n"
    "Examples:\n"
    "  ddbmig aws template --table-name orders --script fix.lua --marker _mig \\\n"
    "      --total-segments 4000 --max-concurrency 400 --max-write-units 40000 --output stack.json\n"
    "  ddbmig aws package --script fix.lua --output ddbmig-lambda.zip\n"
    "  ddbmig aws deploy --stack-name orders-fix --table-name orders --script fix.lua --marker _mig \\\n"
    "      --total-segments 4000 --max-concurrency 400 --max-write-units 40000\n"
    "  ddbmig aws start --stack-name orders-fix\n"
    "  ddbmig aws status --stack-name orders-fix --watch\n"};
