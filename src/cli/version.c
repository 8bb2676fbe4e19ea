/* ddbmig --version. The commit comes from a header that the build writes
 * (packaging/buildinfo.cmake: "unknown" outside git); each library is
 * named twice, by its headers and by its own run-time call, because a
 * dynamically linked ddbmig runs with whatever the machine has. In the
 * static binary (DDBMIG_STATIC_GLIBC) both are the same, and libcurl is
 * left out (DDBMIG_NO_CURL). */
#include <stdio.h>
#include <string.h>

#include <gnu/libc-version.h>
#include <jansson.h>
#include <lua.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <zlib.h>
#ifndef DDBMIG_NO_CURL
#include <curl/curl.h>
#endif

#include "ddbmig_buildinfo.h"
#include "version.h"

#define STR2(x) #x
#define STR(x) STR2(x)

#if defined(__x86_64__)
#define ARCH "x86_64"
#elif defined(__aarch64__)
#define ARCH "arm64"
#elif defined(__i386__)
#define ARCH "i386"
#elif defined(__arm__)
#define ARCH "arm"
#else
#define ARCH "unknown"
#endif

#if defined(__clang__)
#define COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define COMPILER "gcc " __VERSION__
#else
#define COMPILER "an unknown compiler"
#endif

static void row(FILE *f, const char *name, const char *built, const char *runs)
{
    fprintf(f, "  %-8s %-15s %s\n", name, built, runs);
}

void cli_print_version(FILE *f)
{
    fprintf(f, "ddbmig %s\n", DDBMIG_VERSION);
    if (strcmp(DDBMIG_GIT_COMMIT, "unknown") == 0)
        fprintf(f, "commit:    unknown (built outside git)\n");
    else
        fprintf(f, "commit:    %s%s%s%s\n", DDBMIG_GIT_COMMIT, DDBMIG_GIT_DATE[0] ? " of " : "", DDBMIG_GIT_DATE,
                DDBMIG_GIT_MODIFIED ? ", with local changes" : "");
#ifdef DDBMIG_STATIC_GLIBC
    fprintf(f, "build:     linux-%s, statically linked, %s\n", ARCH, COMPILER);
#else
    fprintf(f, "build:     linux-%s, dynamically linked, %s\n", ARCH, COMPILER);
#endif
    char lua_runs[16];
    int lv = (int)lua_version(NULL);
    snprintf(lua_runs, sizeof lua_runs, "%d.%d", lv / 100, lv % 100);
    fprintf(f, "libraries: built with      running with\n");
    row(f, "glibc", STR(__GLIBC__) "." STR(__GLIBC_MINOR__), gnu_get_libc_version());
#ifdef DDBMIG_NO_CURL
    row(f, "libcurl", "-", "- (left out: proxies need the dynamically linked build)");
#else
    row(f, "libcurl", LIBCURL_VERSION, curl_version_info(CURLVERSION_NOW)->version);
#endif
    row(f, "OpenSSL", OPENSSL_VERSION_STR, OpenSSL_version(OPENSSL_VERSION_STRING));
    row(f, "jansson", JANSSON_VERSION, jansson_version_str());
    row(f, "Lua", LUA_VERSION_MAJOR "." LUA_VERSION_MINOR "." LUA_VERSION_RELEASE, lua_runs);
    row(f, "zlib", ZLIB_VERSION, zlibVersion());
}
