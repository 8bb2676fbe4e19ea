/* Parser for the AWS shared config and credentials files (~/.aws/config,
 * ~/.aws/credentials): sections, key = value, comments, and indented
 * sub-properties (kept as "parent.child" keys). */
#ifndef DDBMIG_COMMON_INI_H
#define DDBMIG_COMMON_INI_H

#include "ddbmig/common.h"

typedef struct dm_ini dm_ini;

/* Parses text (not necessarily NUL-terminated). name is the file name used
 * in messages ("~/.aws/config, line 7: ..."). Returns NULL and fills err on
 * a syntax error. Caller frees with dm_ini_free. */
dm_ini *dm_ini_parse(const char *text, size_t len, const char *name, dm_error *err);
/* Reads and parses a file; *out is NULL (and DM_OK returned) when the file
 * does not exist, which is normal for the AWS files. */
int dm_ini_load(const char *path, dm_ini **out, dm_error *err);
void dm_ini_free(dm_ini *ini);
/* Value of key in section (exact section title after "[...]" stripping,
 * e.g. "default" or "profile dev"). Borrowed; NULL when absent. Later
 * duplicates override earlier ones, as the AWS CLI does. */
const char *dm_ini_get(const dm_ini *ini, const char *section, const char *key);
/* True when the section exists. */
int dm_ini_has_section(const dm_ini *ini, const char *section);

#endif
