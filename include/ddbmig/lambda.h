/* AWS Lambda custom runtime: the Runtime API client (next invocation,
 * response, error, init error) and the handler's events and answers.
 *
 * An event is one item of a Step Functions Map: {"segment", "totalSegments",
 * "tableName"}, numbers or numeric strings (as the original stack's run
 * script sends them). The answer is {"segment", "scanned", "changed",
 * "failed", "done"}; the state machine invokes again while done is false.
 * Errors carry an errorType the state machine tells apart: retryable
 * (throttling, network, the runtime stopped) or not (configuration,
 * script, a bad event). */
#ifndef DDBMIG_LAMBDA_H
#define DDBMIG_LAMBDA_H

#include <stdint.h>

#include "ddbmig/common.h"
#include "ddbmig/engine.h"

typedef enum lambda_action {
    LAMBDA_SEGMENT = 0, /* {"segment", "totalSegments", "tableName"} */
    LAMBDA_PREWARM,     /* {"action": "prewarm", "tableName", "readUnits"?, "writeUnits"?, "method"?} */
    LAMBDA_RESTORE      /* {"action": "restore", "tableName"} */
} lambda_action;

typedef struct lambda_event {
    lambda_action action;
    int segment, total_segments;
    char table[256];
    long long read_units, write_units; /* prewarm; 0: from the table */
    char method[24];                   /* prewarm; "": chosen from the table */
} lambda_event;

/* DM_ERR_INVALID with the reason when text is not such an event. */
DM_API int lambda_event_parse(const char *text, size_t len, lambda_event *out, dm_error *err);
/* The answer for an event; owned by the caller (free). */
DM_API char *lambda_answer_json(const lambda_event *ev, const engine_result *res);

#define LAMBDA_ERR_RETRYABLE "Ddbmig.Retryable"      /* throttling, network, 5xx, stopped */
#define LAMBDA_ERR_CONFIG "Ddbmig.ConfigError"       /* options, table, credentials: never retried */
#define LAMBDA_ERR_ITEMS "Ddbmig.TooManyItemErrors"  /* --max-errors reached: look at the errors */
#define LAMBDA_ERR_EVENT "Ddbmig.BadEvent"

/* The errorType of a run that ended with st (and err, its reason). */
DM_API const char *lambda_error_type(engine_status st, const dm_error *err);
/* {"errorMessage","errorType"}; owned by the caller. */
DM_API char *lambda_error_json(const char *type, const char *message);

typedef struct lambda_rt lambda_rt;

typedef struct lambda_invocation {
    char request_id[128];
    int64_t deadline_ms;   /* ms since the epoch */
    char trace_id[512];
    char function_arn[512];
    dm_buf event;          /* the body; owned */
} lambda_invocation;

/* api: AWS_LAMBDA_RUNTIME_API, host:port. */
DM_API lambda_rt *lambda_rt_new(const char *api, dm_error *err);
DM_API void lambda_rt_free(lambda_rt *rt);
/* Waits for the next invocation (no time limit). */
DM_API int lambda_rt_next(lambda_rt *rt, lambda_invocation *inv, dm_error *err);
DM_API void lambda_invocation_cleanup(lambda_invocation *inv);
DM_API int lambda_rt_respond(lambda_rt *rt, const char *request_id, const char *json, dm_error *err);
/* request_id NULL: an initialisation error. */
DM_API int lambda_rt_error(lambda_rt *rt, const char *request_id, const char *type, const char *message,
                           dm_error *err);

#endif
