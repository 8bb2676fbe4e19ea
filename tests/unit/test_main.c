/* Runner for the TEST() harness. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#define MAX_TESTS 512

static struct {
    const char *name;
    test_fn fn;
} tests[MAX_TESTS];
static int ntests;
int test_failures;

void test_register(const char *name, test_fn fn)
{
    if (ntests < MAX_TESTS) {
        tests[ntests].name = name;
        tests[ntests].fn = fn;
        ntests++;
    }
}

const char *test_fixture(const char *rel)
{
    static char path[4096];
    const char *dir = getenv("DDBMIG_FIXTURES");
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : DDBMIG_FIXTURES_DIR, rel);
    return path;
}

static char tmpdir_path[256];

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

const char *test_tmpdir(void)
{
    char *dir = tmpdir_path;
    if (!dir[0]) {
        snprintf(dir, sizeof tmpdir_path, "%s/ddbmig-test.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return dir;
}

int main(int argc, char **argv)
{
    int ran = 0;
    for (int i = 0; i < ntests; i++) {
        if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
            continue;
        int before = test_failures;
        tests[i].fn();
        printf("%s %s\n", test_failures == before ? "ok  " : "FAIL", tests[i].name);
        ran++;
    }
    if (argc > 1 && ran == 0) {
        fprintf(stderr, "no test named %s\n", argv[1]);
        return 2;
    }
    /* A passing case leaves nothing behind; a failing one keeps its files
     * to look at. */
    if (tmpdir_path[0] && !test_failures)
        nftw(tmpdir_path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    else if (tmpdir_path[0])
        fprintf(stderr, "files of the failed case: %s\n", tmpdir_path);
    return test_failures ? 1 : 0;
}
