/* Lambda events, answers and error types. */
#include <stdlib.h>
#include <string.h>

#include "ddbmig/lambda.h"
#include "test.h"

static int parse(const char *text, lambda_event *ev)
{
    dm_error err = {0};
    return lambda_event_parse(text, strlen(text), ev, &err);
}

TEST(segment_events_take_numbers_or_numeric_strings)
{
    lambda_event ev;
    CHECK_INT(parse("{\"segment\": 3, \"totalSegments\": 64, \"tableName\": \"orders\"}", &ev), DM_OK);
    CHECK(ev.action == LAMBDA_SEGMENT && ev.segment == 3 && ev.total_segments == 64);
    CHECK_STR(ev.table, "orders");
    CHECK_INT(parse("{\"segment\": \"63\", \"totalSegments\": \"64\", \"tableName\": \"my.table-1\"}", &ev), DM_OK);
    CHECK_INT(ev.segment, 63);
    static const char *const bad[] = {
        "{\"segment\": 64, \"totalSegments\": 64, \"tableName\": \"orders\"}",
        "{\"segment\": -1, \"totalSegments\": 64, \"tableName\": \"orders\"}",
        "{\"segment\": \" 1\", \"totalSegments\": 64, \"tableName\": \"orders\"}",
        "{\"segment\": \"+1\", \"totalSegments\": 64, \"tableName\": \"orders\"}",
        "{\"segment\": 1.5, \"totalSegments\": 64, \"tableName\": \"orders\"}",
        "{\"segment\": 1, \"totalSegments\": 1000001, \"tableName\": \"orders\"}",
        "{\"segment\": 1, \"totalSegments\": \"99999999999999999999\", \"tableName\": \"orders\"}",
        "{\"segment\": 1, \"totalSegments\": 64, \"tableName\": \"a/b\"}",
        "{\"segment\": 1, \"totalSegments\": 64, \"tableName\": \"ab\"}",
        "{\"segment\": 1, \"segment\": 2, \"totalSegments\": 64, \"tableName\": \"orders\"}",
        "[1, 64, \"orders\"]",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_INT(parse(bad[i], &ev), DM_ERR_INVALID);
}

TEST(capacity_events)
{
    lambda_event ev;
    CHECK_INT(parse("{\"action\": \"prewarm\", \"tableName\": \"orders\", \"writeUnits\": \"4000\", "
                    "\"method\": \"toggle\"}",
                    &ev),
              DM_OK);
    CHECK(ev.action == LAMBDA_PREWARM && ev.write_units == 4000 && ev.read_units == 0);
    CHECK_STR(ev.method, "toggle");
    CHECK_INT(parse("{\"action\": \"restore\", \"tableName\": \"orders\"}", &ev), DM_OK);
    CHECK(ev.action == LAMBDA_RESTORE);
    CHECK_INT(parse("{\"action\": \"drop\", \"tableName\": \"orders\"}", &ev), DM_ERR_INVALID);
    CHECK_INT(parse("{\"action\": \"prewarm\", \"tableName\": \"orders\", \"method\": \"fast\"}", &ev), DM_ERR_INVALID);
    CHECK_INT(parse("{\"action\": \"prewarm\", \"tableName\": \"orders\", \"readUnits\": 0}", &ev), DM_ERR_INVALID);
}

TEST(answers_and_error_types)
{
    lambda_event ev = {.segment = 7};
    engine_result r = {.scanned = 10, .changed = 4, .failed = 1, .done = false};
    char *a = lambda_answer_json(&ev, &r);
    CHECK_STR(a, "{\"segment\":7,\"scanned\":10,\"changed\":4,\"failed\":1,\"done\":false}");
    free(a);
    dm_error e = {.code = DM_ERR_THROTTLED};
    CHECK_STR(lambda_error_type(ENGINE_STOPPED, &e), LAMBDA_ERR_RETRYABLE);
    e = (dm_error){.code = DM_ERR_SERVICE, .http_status = 503};
    CHECK_STR(lambda_error_type(ENGINE_STOPPED, &e), LAMBDA_ERR_RETRYABLE);
    e = (dm_error){.code = DM_ERR_SERVICE, .http_status = 400};
    CHECK_STR(lambda_error_type(ENGINE_STOPPED, &e), LAMBDA_ERR_CONFIG);
    e = (dm_error){.code = DM_ERR_LIMIT};
    CHECK_STR(lambda_error_type(ENGINE_STOPPED, &e), LAMBDA_ERR_ITEMS);
    CHECK_STR(lambda_error_type(ENGINE_CONFIG, NULL), LAMBDA_ERR_CONFIG);
    CHECK_STR(lambda_error_type(ENGINE_INTERRUPTED, NULL), LAMBDA_ERR_RETRYABLE);
    char *j = lambda_error_json(LAMBDA_ERR_EVENT, "bad \"quote\"");
    CHECK_STR(j, "{\"errorMessage\":\"bad \\\"quote\\\"\",\"errorType\":\"Ddbmig.BadEvent\"}");
    free(j);
}
