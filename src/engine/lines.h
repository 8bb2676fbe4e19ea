/* Lines of an import file, plain text or gzip, with their numbers.
 *
 * gzip is recognised by its first two bytes (1f 8b); a name ending in .gz
 * must be gzip. Concatenated gzip members are one stream, as gzip(1) reads
 * them. A gzip file that ends before its trailer, whose CRC or length does
 * not match, or that has other bytes after its last member is an error
 * naming the file, reported when the reader gets there (so a caller that
 * reads to the end has seen every such error before acting on any line).
 *
 * Lines end with "\n"; a "\r" before it is dropped, a last line without
 * "\n" counts, and a UTF-8 byte order mark at the start of the file is
 * skipped. A line longer than the reader's maximum is reported as such and
 * skipped without being held in memory; reading can go on after it. */
#ifndef DDBMIG_ENGINE_LINES_H
#define DDBMIG_ENGINE_LINES_H

#include <stdbool.h>
#include <stdio.h>

#include "ddbmig/common.h"

typedef struct line_reader line_reader;

/* Opens path. max_line_bytes bounds one line (0: 8 MiB). Errors name the
 * file (DM_ERR_IO: cannot open; DM_ERR_PARSE: a .gz name without gzip
 * data). The reader owns the file. */
int lines_open(const char *path, size_t max_line_bytes, line_reader **out, dm_error *err);
/* The same over an open stream, borrowed (the caller closes it after
 * lines_free); name is for messages and the .gz rule. */
int lines_open_stream(FILE *f, const char *name, size_t max_line_bytes, line_reader **out, dm_error *err);
void lines_free(line_reader *r);

/* The next line: DM_OK with *line (borrowed until the next call, without
 * its line end) and *end false; DM_OK with *end true after the last line.
 * DM_ERR_LIMIT when the line is longer than the maximum (the reader is
 * past it: call again for the next line). Other errors are final and
 * repeat on every later call: DM_ERR_PARSE for gzip data that is
 * truncated, corrupt or followed by other bytes, DM_ERR_IO for a read
 * error, DM_ERR_NOMEM. Messages start with "FILE:" or "FILE:LINE:". */
int lines_next(line_reader *r, dm_str *line, bool *end, dm_error *err);
/* Number of the line last returned (1 for the first). */
long lines_number(const line_reader *r);

#endif
