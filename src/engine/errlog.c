/* Per-item error records; see errlog.h. */
#include <errno.h>
#include <string.h>

#include "errlog.h"

int errlog_open(errlog *l, const char *path, bool append, dm_error *err)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    l->path = path;
    l->f = fopen(path, append ? "a" : "w");
    if (!l->f)
        return dm_error_set(err, DM_ERR_CONFIG, "cannot open the errors file %s: %s", path, strerror(errno));
    return DM_OK;
}

void errlog_close(errlog *l)
{
    if (l->f)
        fclose(l->f);
    l->f = NULL;
    pthread_mutex_destroy(&l->mu);
}

static int line(dm_buf *b, int segment, const char *key_json, const char *message, const ddb_item *it)
{
    int rc = dm_buf_puts(b, "{\"segment\":");
    rc = rc ? rc : dm_buf_put_int(b, segment);
    rc = rc ? rc : dm_buf_puts(b, ",\"key\":");
    rc = rc ? rc : dm_buf_puts(b, key_json ? key_json : "null");
    rc = rc ? rc : dm_buf_puts(b, ",\"error\":");
    rc = rc ? rc : ddb_json_put_string(b, message, strlen(message));
    rc = rc ? rc : dm_buf_puts(b, ",\"item\":");
    rc = rc ? rc : (it ? ddb_item_encode(it, b) : dm_buf_puts(b, "null"));
    return rc ? rc : dm_buf_puts(b, "}\n");
}

int errlog_record(errlog *l, int segment, const char *key_json, const char *message, const ddb_item *it)
{
    dm_buf b;
    dm_buf_init(&b, 0);
    int rc = line(&b, segment, key_json, message, it);
    pthread_mutex_lock(&l->mu);
    if (rc == DM_OK && (l->broken || !l->f || fwrite(b.data, 1, b.len, l->f) != b.len || fflush(l->f) != 0))
        rc = DM_ERR_IO;
    if (rc)
        l->broken = true;
    pthread_mutex_unlock(&l->mu);
    dm_buf_cleanup(&b);
    return rc;
}
