/* credential_process: runs the configured command through the shell and
 * reads the JSON document (Version 1) it prints on stdout. Its stderr goes
 * to ours so that the user sees the command's own complaints. Messages
 * about its stdout say what is wrong and where, and never quote it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "creds_impl.h"

typedef struct process_provider {
    creds_provider base;
    char *command;
    char profile[128];
} process_provider;

static int run_command(const char *command, dm_buf *out, int *status, dm_error *err)
{
    fflush(NULL);
    FILE *f = popen(command, "r");
    if (!f)
        return dm_error_set(err, DM_ERR_IO, "cannot start it: %s", strerror(errno));
    char chunk[4096];
    size_t n;
    int rc = DM_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (rc == DM_OK && dm_buf_append(out, chunk, n) != DM_OK)
            rc = dm_error_set(err, DM_ERR_LIMIT, "its output is larger than 1 MiB");
    }
    dm_memzero(chunk, sizeof chunk);
    *status = pclose(f);
    return rc;
}

static int process_get(creds_provider *p, aws_creds *out, dm_error *err)
{
    process_provider *pp = (process_provider *)p;
    char what[192];
    snprintf(what, sizeof what, "credential_process of profile %s", pp->profile);
    dm_buf text;
    dm_buf_init(&text, 1 << 20);
    int status = 0;
    int rc = run_command(pp->command, &text, &status, err);
    if (rc == DM_OK && status != 0) {
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        rc = dm_error_set(err, DM_ERR_CREDENTIALS, "the command exited with status %d", code);
    }
    json_t *doc = NULL;
    if (rc == DM_OK) {
        json_error_t je;
        doc = json_loadb(text.data ? text.data : "", text.len, 0, &je);
        /* Only the place: jansson's own text quotes the output near the
         * fault, and the output may hold a secret key however malformed. */
        if (!doc)
            rc = dm_error_set(err, DM_ERR_CREDENTIALS, "its output is not valid JSON (line %d, column %d)", je.line,
                              je.column);
    }
    if (rc == DM_OK) {
        json_t *v = json_object_get(doc, "Version");
        if (!json_is_integer(v) || json_integer_value(v) != 1)
            rc = dm_error_set(err, DM_ERR_CREDENTIALS, "its output must have \"Version\": 1");
    }
    if (rc == DM_OK)
        rc = creds_from_json(doc, "SessionToken", what, out, err);
    else
        dm_error_prefix(err, "%s", what);
    if (rc != DM_OK && err)
        err->code = DM_ERR_CREDENTIALS;
    json_decref(doc);
    dm_buf_cleanup_secure(&text);
    return rc == DM_OK ? DM_OK : DM_ERR_CREDENTIALS;
}

static void process_free(creds_provider *p)
{
    process_provider *pp = (process_provider *)p;
    free(pp->command);
    free(pp);
}

static const creds_vtable process_vt = {"credential_process", process_get, NULL, process_free};

creds_provider *creds_process_new(const char *command, const char *profile)
{
    process_provider *p = calloc(1, sizeof *p);
    if (!p || !(p->command = dm_strdup(command))) {
        free(p);
        return NULL;
    }
    p->base.vt = &process_vt;
    dm_strlcpy(p->profile, profile ? profile : "default", sizeof p->profile);
    return &p->base;
}
