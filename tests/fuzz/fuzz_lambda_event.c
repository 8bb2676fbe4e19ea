/* libFuzzer target for Lambda events: any input is refused or gives a
 * segment within its count and a table name DynamoDB could have; the
 * answer for it is JSON. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ddbmig/lambda.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lambda_event ev;
    if (lambda_event_parse((const char *)data, size, &ev, NULL) != DM_OK)
        return 0;
    size_t n = strlen(ev.table);
    if (ev.action != LAMBDA_SEGMENT) {
        if (n < 3 || n > 255 || ev.read_units < 0 || ev.write_units < 0 || ev.read_units > 40000000 ||
            ev.write_units > 40000000)
            abort();
        return 0;
    }
    if (ev.total_segments < 1 || ev.total_segments > 1000000 || ev.segment < 0 || ev.segment >= ev.total_segments ||
        n < 3 || n > 255)
        abort();
    engine_result r = {.scanned = 1, .done = true};
    char *answer = lambda_answer_json(&ev, &r);
    json_t *j = answer ? json_loads(answer, 0, NULL) : NULL;
    if (!json_is_object(j) || json_integer_value(json_object_get(j, "segment")) != ev.segment)
        abort();
    json_decref(j);
    free(answer);
    return 0;
}
