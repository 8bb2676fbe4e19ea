#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "testutil.h"

static const char *env_get(void *ud, const char *name)
{
    test_env *e = ud;
    for (int i = e->n; i-- > 0;)
        if (strcmp(e->names[i], name) == 0)
            return e->values[i];
    return NULL;
}

void test_env_init(test_env *e)
{
    memset(e, 0, sizeof(*e));
    e->env.get = env_get;
    e->env.ud = e;
}

void test_env_set(test_env *e, const char *name, const char *value)
{
    if (e->n < 64) {
        e->names[e->n] = name;
        e->values[e->n] = strdup(value);
        e->n++;
    }
}

void test_env_cleanup(test_env *e)
{
    for (int i = 0; i < e->n; i++)
        free(e->values[i]);
    e->n = 0;
}

/* Runs python3 tests/fakes/SCRIPT with args; returns the pid and the port
 * the fake prints first. */
static pid_t start_script(const char *script, const char *a1, const char *a2, const char *a3, int *port)
{
    int fds[2];
    if (pipe(fds) != 0)
        return 0;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 1);
        char path[1024];
        snprintf(path, sizeof(path), "%s/fakes/%s", DDBMIG_TESTS_DIR, script);
        execlp("python3", "python3", path, a1, a2, a3, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[64] = {0};
    ssize_t n = 0, r;
    while (n < (ssize_t)sizeof(line) - 1 && (r = read(fds[0], line + n, 1)) == 1 && line[n] != '\n')
        n++;
    close(fds[0]);
    line[n] = '\0';
    *port = atoi(line);
    if (*port <= 0) {
        test_fake_stop(pid);
        return 0;
    }
    return pid;
}

pid_t test_fake_start(const char *mode, const char *log, char url[64])
{
    int port = 0;
    pid_t pid = start_script("fake_aws.py", mode, log ? log : "", NULL, &port);
    if (pid)
        snprintf(url, 64, "http://127.0.0.1:%d", port);
    return pid;
}

pid_t test_edge_start(const char *mode, const char *cert, const char *key, int *port)
{
    return start_script("http_edge.py", mode, cert, cert ? key : NULL, port);
}

void test_fake_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

const char *test_write_file(const char *name, const char *text, int mode)
{
    static char path[1024];
    snprintf(path, sizeof(path), "%s/%s", test_tmpdir(), name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
        chmod(path, (mode_t)mode);
    }
    return path;
}

const char *test_ddb_endpoint(void)
{
    const char *e = getenv("DDBMIG_TEST_ENDPOINT");
    return (e && *e) ? e : NULL;
}
