/* Helpers shared by tests: a fake environment, loopback fake servers. */
#ifndef DDBMIG_TESTUTIL_H
#define DDBMIG_TESTUTIL_H

#include <sys/types.h>

#include "ddbmig/common.h"

/* A fake environment: set pairs with test_env_set, pass &e->env. */
typedef struct test_env {
    dm_env env;
    const char *names[64];
    char *values[64];
    int n;
} test_env;

void test_env_init(test_env *e);
void test_env_set(test_env *e, const char *name, const char *value);
void test_env_cleanup(test_env *e);

/* Starts tests/fakes/fake_aws.py in MODE on a free loopback port. Returns
 * the pid (0 on failure) and writes "http://127.0.0.1:PORT" into url. The
 * fake writes each request it receives to LOG when given. */
pid_t test_fake_start(const char *mode, const char *log, char url[64]);
void test_fake_stop(pid_t pid);

/* Starts tests/fakes/http_edge.py in MODE (TLS with cert and key when
 * given); *port gets its port. Stop with test_fake_stop. */
pid_t test_edge_start(const char *mode, const char *cert, const char *key, int *port);

/* Writes text to a file under the test's tmpdir; returns the path (static). */
const char *test_write_file(const char *name, const char *text, int mode);

/* Endpoint of DynamoDB Local for integration tests, or NULL (then exit 77
 * so that ctest reports the test as skipped). */
const char *test_ddb_endpoint(void);

#endif
