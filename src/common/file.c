/* Whole-file writes that a crash cannot leave half done. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddbmig/common.h"

int dm_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The rename is durable only once the directory is synced too. */
static void sync_dir(const char *path)
{
    char dir[1024];
    dm_strlcpy(dir, path, sizeof dir);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    int fd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* path.tmp (0644), or for a private file a unique name from mkstemp
 * (0600, never a name another writer or a planted link could hold). */
static int write_atomic(const char *path, const char *text, size_t len, bool private_file, dm_error *err)
{
    char tmp[1100];
    if (snprintf(tmp, sizeof tmp, private_file ? "%s.XXXXXX" : "%s.tmp", path) >= (int)sizeof tmp)
        return dm_error_set(err, DM_ERR_IO, "the path '%s' is too long", path);
    int fd = private_file ? mkstemp(tmp) : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = DM_OK;
    if (fd < 0 || dm_write_all(fd, text, len) || fsync(fd))
        rc = dm_error_set(err, DM_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    if (fd >= 0)
        close(fd);
    if (rc == DM_OK && rename(tmp, path) != 0)
        rc = dm_error_set(err, DM_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (rc == DM_OK)
        sync_dir(path);
    else if (fd >= 0)
        unlink(tmp);
    return rc;
}

int dm_write_file_atomic(const char *path, const char *text, size_t len, dm_error *err)
{
    return write_atomic(path, text, len, false, err);
}

int dm_write_file_private(const char *path, const char *text, size_t len, dm_error *err)
{
    return write_atomic(path, text, len, true, err);
}
