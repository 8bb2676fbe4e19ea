/* A very small test harness: TEST(name) registers a case; the binary runs
 * the case named on its command line (each case is one ctest test) or all
 * of them. CHECK failures print file:line and fail the case. */
#ifndef DDBMIG_TEST_H
#define DDBMIG_TEST_H

#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
extern int test_failures;

#define TEST(name)                                                              \
    static void test_##name(void);                                              \
    __attribute__((constructor)) static void reg_##name(void) { test_register(#name, test_##name); } \
    static void test_##name(void)

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            test_failures++;                                                    \
            return;                                                             \
        }                                                                       \
    } while (0)

#define CHECK_INT(a, b)                                                         \
    do {                                                                        \
        long long va_ = (long long)(a), vb_ = (long long)(b);                   \
        if (va_ != vb_) {                                                       \
            fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, va_, vb_); \
            test_failures++;                                                    \
            return;                                                             \
        }                                                                       \
    } while (0)

#define CHECK_STR(a, b)                                                         \
    do {                                                                        \
        const char *sa_ = (a), *sb_ = (b);                                      \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                            \
            fprintf(stderr, "%s:%d: %s\n  got:      [%s]\n  expected: [%s]\n", __FILE__, __LINE__, #a, \
                    sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                \
            test_failures++;                                                    \
            return;                                                             \
        }                                                                       \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                             \
    do {                                                                        \
        const char *h_ = (hay), *n_ = (needle);                                 \
        if (!h_ || !strstr(h_, n_)) {                                           \
            fprintf(stderr, "%s:%d: [%s] does not contain [%s]\n", __FILE__, __LINE__, h_ ? h_ : "(null)", n_); \
            test_failures++;                                                    \
            return;                                                             \
        }                                                                       \
    } while (0)

/* Path of a fixture under tests/fixtures (static buffer). */
const char *test_fixture(const char *rel);
/* A fresh temporary directory for this test (static buffer). */
const char *test_tmpdir(void);

#endif
