/* The few S3 and STS calls deploy and start make: the account of the
 * credentials, the code bucket, and objects (the function's zip, the
 * template, segment lists). Paths are in S3's path style, which works on
 * AWS for every bucket name ddbmig accepts and on local servers alike. */
#include <stdio.h>
#include <string.h>

#include "ddbmig/awsapi.h"
#include "ddbmig/xml.h"

int sts_parse_account(const char *xml, size_t len, char account[16], dm_error *err)
{
    xml_node *root = NULL;
    int rc = xml_parse(xml, len, &root, err);
    if (rc)
        return rc;
    const char *a = xml_path_text(root, "GetCallerIdentityResult/Account");
    size_t n = a ? strlen(a) : 0;
    bool ok = n == 12 && strspn(a, "0123456789") == 12;
    if (ok)
        memcpy(account, a, 13);
    xml_free(root);
    return ok ? DM_OK : dm_error_set(err, DM_ERR_PARSE, "STS GetCallerIdentity: the answer holds no 12-digit Account");
}

int sts_account(const awsreq_service *sts, char account[16], dm_error *err)
{
    const char *form = "Action=GetCallerIdentity&Version=2011-06-15";
    awsreq r = {.method = "POST", .path = "/", .content_type = "application/x-www-form-urlencoded; charset=utf-8",
                .body = form, .body_len = strlen(form)};
    awsreq_answer a;
    int rc = awsreq_perform(sts, &r, "STS GetCallerIdentity", &a, err);
    if (rc == DM_OK)
        rc = sts_parse_account(a.body.data ? a.body.data : "", a.body.len, account, err);
    awsreq_answer_cleanup(&a);
    return rc;
}

bool s3_valid_bucket(const char *b)
{
    size_t n = b ? strlen(b) : 0;
    if (n < 3 || n > 63 || strspn(b, "abcdefghijklmnopqrstuvwxyz0123456789.-") != n)
        return false;
    bool alnum_ends = b[0] != '.' && b[0] != '-' && b[n - 1] != '.' && b[n - 1] != '-';
    return alnum_ends && !strstr(b, "..");
}

int s3_bucket_exists(const awsreq_service *s3, const char *bucket, const char *owner, dm_error *err)
{
    char path[80];
    snprintf(path, sizeof path, "/%s", bucket);
    awsreq r = {.method = "HEAD", .path = path, .s3 = true, .expected_owner = owner};
    awsreq_answer a;
    dm_error e = {0};
    int rc = awsreq_perform(s3, &r, "S3 HeadBucket", &a, &e);
    awsreq_answer_cleanup(&a);
    if (rc == DM_OK)
        return 1;
    if (rc == DM_ERR_SERVICE && e.http_status == 404)
        return 0;
    if (rc == DM_ERR_SERVICE && e.http_status == 403)
        dm_error_set(&e, DM_ERR_SERVICE,
                     "S3 bucket %s exists but is not yours (or you may not use it): name another with "
                     "--code-bucket",
                     bucket);
    if (err)
        *err = e;
    return rc;
}

int s3_create_bucket(const awsreq_service *s3, const char *bucket, dm_error *err)
{
    char path[80], body[300] = "";
    snprintf(path, sizeof path, "/%s", bucket);
    /* us-east-1 takes no location; every other region needs its own. */
    if (strcmp(s3->region, "us-east-1") != 0)
        snprintf(body, sizeof body,
                 "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                 "<LocationConstraint>%.64s</LocationConstraint></CreateBucketConfiguration>",
                 s3->region);
    awsreq r = {.method = "PUT", .path = path, .s3 = true, .body = body, .body_len = strlen(body),
                .content_type = body[0] ? "application/xml" : NULL};
    awsreq_answer a;
    int rc = awsreq_perform(s3, &r, "S3 CreateBucket", &a, err);
    awsreq_answer_cleanup(&a);
    return rc;
}

int s3_put_object(const awsreq_service *s3, const char *bucket, const char *key, const void *data, size_t len,
                  const char *content_type, const char *owner, dm_error *err)
{
    dm_buf path;
    dm_buf_init(&path, 0);
    if (dm_buf_appendf(&path, "/%s/%s", bucket, key))
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    awsreq r = {.method = "PUT", .path = dm_buf_cstr(&path), .s3 = true, .body = data, .body_len = len,
                .content_type = content_type, .expected_owner = owner};
    awsreq_answer a;
    char what[300];
    snprintf(what, sizeof what, "S3 PutObject s3://%.64s/%.200s", bucket, key);
    int rc = awsreq_perform(s3, &r, what, &a, err);
    awsreq_answer_cleanup(&a);
    dm_buf_cleanup(&path);
    return rc;
}
