/* Shared foundations of libddbmig: error codes and details, growable buffers,
 * string views, logging with secret redaction, the environment vtable, time.
 *
 * Every function that can fail returns an int: 0 (DM_OK) or a negative
 * dm_err code. Where a person needs to know more, the function also fills an
 * optional dm_error with the service's __type, message and context. */
#ifndef DDBMIG_COMMON_H
#define DDBMIG_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DM_API __attribute__((visibility("default")))

typedef enum dm_err {
    DM_OK = 0,
    DM_ERR_NOMEM = -1,
    DM_ERR_INVALID = -2,     /* bad argument or malformed input */
    DM_ERR_IO = -3,          /* file or process I/O */
    DM_ERR_PARSE = -4,       /* unparseable document (JSON, INI, XML) */
    DM_ERR_CONFIG = -5,      /* configuration missing or inconsistent */
    DM_ERR_CREDENTIALS = -6, /* no credentials could be resolved */
    DM_ERR_NETWORK = -7,     /* connection failed, reset or timed out */
    DM_ERR_SERVICE = -8,     /* the service answered with an error */
    DM_ERR_THROTTLED = -9,   /* still throttled after every attempt */
    DM_ERR_CHECKSUM = -10,   /* x-amz-crc32 mismatch after every attempt */
    DM_ERR_LIMIT = -11,      /* a size or count limit was exceeded */
    DM_ERR_UNSUPPORTED = -12, /* the endpoint lacks the operation */
    DM_ERR_STOPPED = -13     /* given up because the caller asked to stop */
} dm_err;

/* Human-readable name of an error code ("network error", ...). Static. */
DM_API const char *dm_err_str(int code);

/* Details of a failure. Fixed-size so it can live on the stack and be
 * copied freely; strings are always NUL-terminated, possibly truncated. */
typedef struct dm_error {
    int code;                   /* dm_err */
    long http_status;           /* 0 when no HTTP answer */
    int attempts;               /* attempts made, for retried calls */
    char type[128];             /* service __type without namespace */
    char message[1024];         /* what a person reads */
    char request_id[96];
    char throttle_reasons[256]; /* ThrottlingReasons, comma-separated */
} dm_error;

/* Sets code and a formatted message; other fields are cleared. Returns code
 * so that callers can write `return dm_error_set(err, ...)`. err may be NULL. */
DM_API int dm_error_set(dm_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes the existing message with formatted context ("reading x: ..."). */
DM_API void dm_error_prefix(dm_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
DM_API void dm_error_clear(dm_error *err);

/* ---- string views and buffers ---------------------------------------- */

/* A borrowed, not necessarily NUL-terminated string. */
typedef struct dm_str {
    const char *p;
    size_t n;
} dm_str;

/* An owned growable byte buffer with a hard maximum size. data is always
 * NUL-terminated when non-NULL (the terminator is not counted in len). */
typedef struct dm_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* appends past this fail with DM_ERR_LIMIT; 0 = 1 GiB */
} dm_buf;

DM_API void dm_buf_init(dm_buf *b, size_t max);
DM_API int dm_buf_reserve(dm_buf *b, size_t extra);
DM_API int dm_buf_append(dm_buf *b, const void *p, size_t n);
DM_API int dm_buf_puts(dm_buf *b, const char *s);
DM_API int dm_buf_putc(dm_buf *b, char c);
/* Decimal text of v, without going through printf. */
DM_API int dm_buf_put_int(dm_buf *b, long long v);
DM_API int dm_buf_appendf(dm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
DM_API void dm_buf_reset(dm_buf *b);
/* Frees the storage. The _secure variant zeroes it first (secrets). */
DM_API void dm_buf_cleanup(dm_buf *b);
DM_API void dm_buf_cleanup_secure(dm_buf *b);
/* Returns the NUL-terminated contents; "" for an empty buffer. Borrowed. */
DM_API const char *dm_buf_cstr(const dm_buf *b);

/* strdup that returns NULL for NULL. Caller owns the result. */
DM_API char *dm_strdup(const char *s);
DM_API char *dm_strndup(const char *s, size_t n);
/* Zero then free a heap string holding a secret. */
DM_API void dm_free_secret(char *s);
/* Explicit zeroing the compiler will not remove. */
DM_API void dm_memzero(void *p, size_t n);
/* Copies with truncation; always NUL-terminates when size > 0. */
DM_API void dm_strlcpy(char *dst, const char *src, size_t size);

/* ---- environment ------------------------------------------------------ */

/* Where configuration reads environment variables from. Tests pass a fake
 * so that providers can be exercised without touching the process env. */
typedef struct dm_env {
    const char *(*get)(void *ud, const char *name);
    void *ud;
} dm_env;

/* The process environment (getenv). Static storage. */
DM_API const dm_env *dm_env_process(void);
/* Value of name, or NULL when unset or empty. */
DM_API const char *dm_env_get(const dm_env *env, const char *name);

/* ---- time ------------------------------------------------------------- */

DM_API int64_t dm_now_ms(void);       /* wall clock, ms since the epoch */
DM_API int64_t dm_monotonic_ms(void); /* for intervals */
DM_API void dm_sleep_ms(int64_t ms);
/* Parses RFC 3339 / ISO-8601 UTC ("2026-11-24T10:00:00Z", fractional seconds
 * and +00:00 accepted) into ms since the epoch. */
DM_API int dm_parse_iso8601(const char *s, int64_t *out_ms);
/* Formats ms since the epoch as "YYYY-MM-DDTHH:MM:SSZ" into out[21]. */
DM_API void dm_format_iso8601(int64_t ms, char out[21]);

/* ---- formatting -------------------------------------------------------- */

/* Bytes for people: "866 B", "15.3 MiB". */
DM_API void dm_format_bytes(int64_t bytes, char *out, size_t size);

/* ---- numbers typed by people -------------------------------------------- */

/* Parses all of s as a decimal integer (optional sign, digits only: no
 * blanks, no trailing text) within [min, max]. DM_ERR_INVALID when it is
 * not such a number (empty included), DM_ERR_LIMIT when it is outside the
 * range or beyond long long. *out is set only on success. */
DM_API int dm_parse_int(const char *s, long long min, long long max, long long *out);
/* Parses all of s as a finite decimal number ("12", "-0.5", "2.5e3"; not
 * "inf", "nan", hex, blanks or trailing text). DM_ERR_INVALID when it is
 * not one, DM_ERR_LIMIT when it overflows a double. */
DM_API int dm_parse_number(const char *s, double *out);

/* ---- files ------------------------------------------------------------ */

/* Reads a whole file into buf (initialised by the caller). */
DM_API int dm_read_file(const char *path, dm_buf *buf, dm_error *err);
/* Writes text to path.tmp, syncs it, renames it over path and syncs the
 * directory: a crash leaves the old file or the new one, whole. */
DM_API int dm_write_file_atomic(const char *path, const char *text, size_t len, dm_error *err);
/* Writes all of p[0..n) to fd, again after EINTR; -1 on failure. */
DM_API int dm_write_all(int fd, const char *p, size_t n);
/* The same for a file holding secrets: mode 0600, through a temporary
 * file of a unique name. */
DM_API int dm_write_file_private(const char *path, const char *text, size_t len, dm_error *err);

/* ---- logging ---------------------------------------------------------- */

typedef enum dm_log_level { DM_LOG_ERROR, DM_LOG_WARN, DM_LOG_INFO, DM_LOG_DEBUG } dm_log_level;

DM_API void dm_log_set_level(dm_log_level level);
DM_API bool dm_log_enabled(dm_log_level level);
/* Writes one line to stderr. Never pass secrets: callers redact first. */
DM_API void dm_log(dm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Secrets never reach stderr, whatever quotes them (a bad endpoint URL, a
 * script's error, an item value): dm_redact_stderr puts a filter in front
 * of stderr that writes "[redacted]" for every secret made known with
 * dm_redact_add (a copy is kept; strings under 8 bytes are not taken, so
 * that common words are never hidden). Both are thread-safe. */
DM_API void dm_redact_add(const char *secret);
DM_API int dm_redact_stderr(void);
/* The filter itself, for tests: writes buf to fd with secrets replaced. */
DM_API int dm_redact_write(int fd, const char *buf, size_t n);

#define DM_DEBUG(...) do { if (dm_log_enabled(DM_LOG_DEBUG)) dm_log(DM_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
