/* The stack's template and state machine: least privilege, rate caps
 * shared among children, sizes within Step Functions' and
 * CloudFormation's limits for 10,000 segments, user text never read as a
 * CloudFormation reference. (cfn-lint and asl-validator check the whole
 * documents: tests/unit/cli_aws_template.sh.) */
#include <stdlib.h>
#include <string.h>

#include "ddbmig/stack.h"
#include "test.h"

static stack_options base(void)
{
    return (stack_options){.table = "orders", .code = "item.x = 1; return item", .migration_id = "m-1",
                           .total_segments = 10000, .max_concurrency = 3, .max_write_units = 1000,
                           .max_read_units = 500, .marker = "_mig"};
}

static char *dump(json_t *j)
{
    char *t = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return t;
}

TEST(rate_caps_are_shared_and_never_exceeded)
{
    stack_options o = base();
    json_t *a = stack_lambda_args(&o, "ckpt");
    const char *w = NULL, *r = NULL;
    for (size_t i = 0; i + 1 < json_array_size(a); i++) {
        const char *k = json_string_value(json_array_get(a, i));
        if (strcmp(k, "--max-write-units") == 0)
            w = json_string_value(json_array_get(a, i + 1));
        if (strcmp(k, "--max-read-units") == 0)
            r = json_string_value(json_array_get(a, i + 1));
    }
    CHECK(w && r);
    CHECK(atof(w) * 3 <= 1000 && atof(w) * 3 > 999);
    CHECK(atof(r) * 3 <= 500 && atof(r) * 3 > 499);
    json_decref(a);
}

TEST(ten_thousand_segments_stay_within_payload_limits)
{
    stack_options o = base();
    o.max_concurrency = 10000;
    json_t *list = stack_segment_list(&o);
    CHECK_INT(json_array_size(list), 10000);
    /* Every Map item is a child's whole input. */
    size_t biggest = 0;
    for (size_t i = 0; i < json_array_size(list); i++) {
        char *item = json_dumps(json_array_get(list, i), JSON_COMPACT);
        size_t n = strlen(item) + strlen("{\"event\":}") + 200; /* plus the last answer beside it */
        biggest = n > biggest ? n : biggest;
        free(item);
    }
    CHECK(biggest < 262144);
    json_decref(list);
    char *input = dump(stack_start_input("ddbmig-code-123456789012-ap-southeast-2",
                                         "segments/ddbmig-20261126-101010-abcd.json",
                                         "results/ddbmig-20261126-101010-abcd"));
    CHECK(strlen(input) < 1024);
    free(input);
    json_t *t = NULL;
    CHECK_INT(stack_template(&o, &t, NULL), DM_OK);
    char *tpl = dump(t);
    CHECK(strlen(tpl) < 51200); /* CreateStack's TemplateBody limit */
    free(tpl);
}

TEST(roles_name_only_what_they_need)
{
    stack_options o = base();
    json_t *t = NULL;
    CHECK_INT(stack_template(&o, &t, NULL), DM_OK);
    json_t *res = json_object_get(t, "Resources");
    char *fr = dump(json_incref(json_object_get(res, "FunctionRole")));
    char *sr = dump(json_incref(json_object_get(res, "StateMachineRole")));
    CHECK(strstr(fr, "\"Resource\":\"*\"") == NULL && strstr(sr, "\"Resource\":\"*\"") == NULL);
    CHECK_CONTAINS(fr, "table/orders\"");
    CHECK_CONTAINS(fr, "CheckpointTable");
    /* Before its first write a run reads its segments' items in one
     * BatchGetItem (a Scan for more than 100). */
    CHECK_CONTAINS(fr, "dynamodb:BatchGetItem");
    CHECK(strstr(fr, "dynamodb:DeleteTable") == NULL && strstr(fr, "dynamodb:UpdateTable") == NULL);
    CHECK_CONTAINS(sr, "lambda:InvokeFunction");
    CHECK_CONTAINS(sr, "/segments/*");
    free(fr);
    free(sr);
    json_t *fn = json_object_get(json_object_get(res, "Function"), "Properties");
    CHECK_INT(json_integer_value(json_object_get(fn, "Timeout")), 900);
    CHECK_STR(json_string_value(json_object_get(fn, "Runtime")), "provided.al2023");
    json_decref(t);
}

TEST(the_map_retries_only_retryable_errors)
{
    stack_options o = base();
    char *d = dump(stack_definition(&o));
    CHECK_CONTAINS(d, "\"Mode\":\"DISTRIBUTED\",\"ExecutionType\":\"STANDARD\"");
    CHECK_CONTAINS(d, "\"ErrorEquals\":[\"Ddbmig.Retryable\"");
    CHECK(strstr(d, "Ddbmig.ConfigError") == NULL && strstr(d, "States.ALL\"],\"IntervalSeconds") == NULL);
    CHECK_CONTAINS(d, "\"MaxConcurrency\":3");
    CHECK_CONTAINS(d, "\"InputType\":\"JSON\"");
    CHECK_CONTAINS(d, "\"Default\":\"Run segment\""); /* invoked again while not done */
    free(d);
}

TEST(user_text_is_never_a_reference)
{
    stack_options o = base();
    o.filter_expression = "#a = :v AND ${AWS::AccountId} <> :w";
    json_t *t = NULL;
    CHECK_INT(stack_template(&o, &t, NULL), DM_OK);
    char *tpl = dump(t);
    CHECK_CONTAINS(tpl, "${!AWS::AccountId}");
    CHECK_CONTAINS(tpl, "${CheckpointTable}");
    free(tpl);
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    o.code = big;
    dm_error err = {0};
    CHECK_INT(stack_template(&o, &t, &err), DM_ERR_INVALID);
    CHECK_CONTAINS(err.message, "put it in a file");
    o = base();
    o.max_concurrency = 10001;
    CHECK_INT(stack_template(&o, &t, &err), DM_ERR_INVALID);
}
