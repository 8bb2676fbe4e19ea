/* CloudFormation over its query protocol: describe, create or update a
 * stack, and its events for the progress deploy prints. */
#include <stdio.h>
#include <string.h>

#include "ddbmig/awsapi.h"
#include "ddbmig/xml.h"

#define CFN_FORM "application/x-www-form-urlencoded; charset=utf-8"

static void copy(char *dst, size_t size, const xml_node *n, const char *path)
{
    const char *t = xml_path_text(n, path);
    dm_strlcpy(dst, t ? t : "", size);
}

static const xml_node *result_of(const xml_node *root, const char *result)
{
    return strcmp(root->name, result) == 0 ? root : xml_child(root, result);
}

int cfn_parse_stack(const char *xml, size_t len, cfn_stack *out, bool *found, dm_error *err)
{
    memset(out, 0, sizeof *out);
    *found = false;
    xml_node *root = NULL;
    int rc = xml_parse(xml, len, &root, err);
    if (rc) {
        dm_error_prefix(err, "CloudFormation DescribeStacks: ");
        return rc;
    }
    const xml_node *m = xml_path(result_of(root, "DescribeStacksResult"), "Stacks/member");
    if (m) {
        *found = true;
        copy(out->id, sizeof out->id, m, "StackId");
        copy(out->name, sizeof out->name, m, "StackName");
        copy(out->status, sizeof out->status, m, "StackStatus");
        copy(out->reason, sizeof out->reason, m, "StackStatusReason");
        for (const xml_node *o = xml_path(m, "Outputs/member"); o && out->n_outputs < CFN_MAX_OUTPUTS;
             o = xml_next_same(o)) {
            copy(out->outputs[out->n_outputs].key, sizeof out->outputs[0].key, o, "OutputKey");
            copy(out->outputs[out->n_outputs].value, sizeof out->outputs[0].value, o, "OutputValue");
            out->n_outputs++;
        }
        if (!out->status[0])
            rc = dm_error_set(err, DM_ERR_PARSE, "CloudFormation DescribeStacks: a stack without StackStatus");
    } else if (!xml_path(result_of(root, "DescribeStacksResult"), "Stacks")) {
        rc = dm_error_set(err, DM_ERR_PARSE, "CloudFormation DescribeStacks: the answer holds no Stacks");
    }
    xml_free(root);
    return rc;
}

int cfn_parse_events(const char *xml, size_t len, cfn_event *out, int max, int *n, dm_error *err)
{
    *n = 0;
    xml_node *root = NULL;
    int rc = xml_parse(xml, len, &root, err);
    if (rc) {
        dm_error_prefix(err, "CloudFormation DescribeStackEvents: ");
        return rc;
    }
    const xml_node *list = xml_path(result_of(root, "DescribeStackEventsResult"), "StackEvents");
    if (!list)
        rc = dm_error_set(err, DM_ERR_PARSE, "CloudFormation DescribeStackEvents: the answer holds no StackEvents");
    for (const xml_node *m = xml_child(list, "member"); m && *n < max; m = xml_next_same(m)) {
        cfn_event *e = &out[(*n)++];
        copy(e->id, sizeof e->id, m, "EventId");
        copy(e->timestamp, sizeof e->timestamp, m, "Timestamp");
        copy(e->logical_id, sizeof e->logical_id, m, "LogicalResourceId");
        copy(e->type, sizeof e->type, m, "ResourceType");
        copy(e->status, sizeof e->status, m, "ResourceStatus");
        copy(e->reason, sizeof e->reason, m, "ResourceStatusReason");
    }
    xml_free(root);
    return rc;
}

static int call(const awsreq_service *cfn, const dm_buf *form, const char *what, awsreq_answer *a, dm_error *err)
{
    awsreq r = {.method = "POST", .path = "/", .content_type = CFN_FORM, .body = form->data,
                .body_len = form->len};
    return awsreq_perform(cfn, &r, what, a, err);
}

int cfn_describe_stack(const awsreq_service *cfn, const char *name, cfn_stack *out, bool *found, dm_error *err)
{
    dm_buf f;
    dm_buf_init(&f, 0);
    int rc = awsreq_form_add(&f, "Action", "DescribeStacks");
    rc = rc ? rc : awsreq_form_add(&f, "Version", "2010-05-15");
    rc = rc ? rc : awsreq_form_add(&f, "StackName", name);
    awsreq_answer a = {0};
    dm_error e = {0};
    if (rc == DM_OK)
        rc = call(cfn, &f, "CloudFormation DescribeStacks", &a, &e);
    dm_buf_cleanup(&f);
    *found = false;
    if (rc == DM_OK) {
        rc = cfn_parse_stack(a.body.data ? a.body.data : "", a.body.len, out, found, err);
    } else if (rc == DM_ERR_SERVICE && strcmp(e.type, "ValidationError") == 0 && strstr(e.message, "does not exist")) {
        /* The only way CloudFormation says a stack is absent. */
        rc = DM_OK;
    } else if (err) {
        *err = e;
    }
    awsreq_answer_cleanup(&a);
    return rc;
}

int cfn_create_or_update(const awsreq_service *cfn, bool update, const char *name, const char *body,
                         const char *template_url, const cfn_param *params, int n_params, bool *no_change,
                         dm_error *err)
{
    const char *action = update ? "UpdateStack" : "CreateStack";
    dm_buf f;
    dm_buf_init(&f, 0);
    int rc = awsreq_form_add(&f, "Action", action);
    rc = rc ? rc : awsreq_form_add(&f, "Version", "2010-05-15");
    rc = rc ? rc : awsreq_form_add(&f, "StackName", name);
    rc = rc ? rc : awsreq_form_add(&f, template_url ? "TemplateURL" : "TemplateBody", template_url ? template_url : body);
    /* The stack makes IAM roles (without fixed names: CAPABILITY_IAM;
     * both are given so that a template naming them deploys too). */
    rc = rc ? rc : awsreq_form_add(&f, "Capabilities.member.1", "CAPABILITY_IAM");
    rc = rc ? rc : awsreq_form_add(&f, "Capabilities.member.2", "CAPABILITY_NAMED_IAM");
    for (int i = 0; rc == DM_OK && i < n_params; i++) {
        char k[64];
        snprintf(k, sizeof k, "Parameters.member.%d.ParameterKey", i + 1);
        rc = awsreq_form_add(&f, k, params[i].key);
        snprintf(k, sizeof k, "Parameters.member.%d.ParameterValue", i + 1);
        rc = rc ? rc : awsreq_form_add(&f, k, params[i].value);
    }
    if (rc) {
        dm_buf_cleanup(&f);
        return dm_error_set(err, DM_ERR_NOMEM, "out of memory");
    }
    char what[64];
    snprintf(what, sizeof what, "CloudFormation %s", action);
    awsreq_answer a = {0};
    dm_error e = {0};
    rc = call(cfn, &f, what, &a, &e);
    dm_buf_cleanup(&f);
    awsreq_answer_cleanup(&a);
    *no_change = false;
    if (update && rc == DM_ERR_SERVICE && strcmp(e.type, "ValidationError") == 0 &&
        strstr(e.message, "No updates are to be performed")) {
        *no_change = true;
        return DM_OK;
    }
    if (rc && err)
        *err = e;
    return rc;
}

int cfn_stack_events(const awsreq_service *cfn, const char *name, cfn_event *out, int max, int *n, dm_error *err)
{
    dm_buf f;
    dm_buf_init(&f, 0);
    int rc = awsreq_form_add(&f, "Action", "DescribeStackEvents");
    rc = rc ? rc : awsreq_form_add(&f, "Version", "2010-05-15");
    rc = rc ? rc : awsreq_form_add(&f, "StackName", name);
    awsreq_answer a = {0};
    if (rc == DM_OK)
        rc = call(cfn, &f, "CloudFormation DescribeStackEvents", &a, err);
    dm_buf_cleanup(&f);
    *n = 0;
    if (rc == DM_OK)
        rc = cfn_parse_events(a.body.data ? a.body.data : "", a.body.len, out, max, n, err);
    awsreq_answer_cleanup(&a);
    return rc;
}

const char *cfn_output(const cfn_stack *s, const char *key)
{
    for (int i = 0; i < s->n_outputs; i++)
        if (strcmp(s->outputs[i].key, key) == 0)
            return s->outputs[i].value;
    return NULL;
}

bool cfn_status_in_progress(const char *status)
{
    size_t n = strlen(status), k = strlen("_IN_PROGRESS");
    return n > k && strcmp(status + n - k, "_IN_PROGRESS") == 0;
}

bool cfn_status_ok(const char *status)
{
    return strcmp(status, "CREATE_COMPLETE") == 0 || strcmp(status, "UPDATE_COMPLETE") == 0 ||
           strcmp(status, "IMPORT_COMPLETE") == 0;
}
