/* A Lambda function for testing runtime/: its behaviour is chosen by the
 * event, a JSON object with an "op" (anything else is echoed back):
 *
 *   {"op":"echo", ...}                      the payload back, application/json
 *   {"op":"fail","type":T,"message":M}      an error of that type
 *   {"op":"big","size":N}                   N bytes of 'x' as text/plain
 *   {"op":"body","contentType":C,"body":B}  B with content type C
 *   {"op":"sleep","ms":N}                   sleeps, then {"slept":N}
 *   {"op":"env"}                            what the handler saw: invocation
 *                                           fields and _X_AMZN_TRACE_ID
 *   {"op":"log","level":L,"message":M}      logs M at L, answers {"logged":true}
 *   {"op":"null"}                           a success without payload
 *
 * Usage: runtime_echo                      (AWS_LAMBDA_RUNTIME_API must be set)
 *        runtime_echo --init-error TYPE MSG
 * Logs go to stderr; the exit status is lambda_runtime_run()'s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "runtime/runtime.h"

static lambda_response json_answer(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return lambda_response_failure("out of memory", "Test.OutOfMemory");
    return lambda_response_success(s, strlen(s), "application/json");
}

static json_t *text_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static lambda_response env_op(const lambda_invocation *inv)
{
    json_t *o = json_object();
    json_object_set_new(o, "traceEnv", text_or_null(getenv("_X_AMZN_TRACE_ID")));
    json_object_set_new(o, "requestId", json_string(inv->request_id));
    json_object_set_new(o, "functionArn", json_string(inv->function_arn));
    json_object_set_new(o, "deadlineMs", json_integer(inv->deadline_ms));
    json_object_set_new(o, "remainingMs", json_integer(lambda_invocation_remaining_ms(inv)));
    json_object_set_new(o, "traceId", json_string(inv->xray_trace_id));
    json_object_set_new(o, "clientContext", json_string(inv->client_context));
    json_object_set_new(o, "cognitoIdentity", json_string(inv->cognito_identity));
    json_object_set_new(o, "tenantId", json_string(inv->tenant_id));
    json_object_set_new(o, "payloadLen", json_integer((json_int_t)inv->payload_len));
    return json_answer(o);
}

static lambda_response big_op(json_t *ev)
{
    size_t n = (size_t)json_integer_value(json_object_get(ev, "size"));
    char *p = malloc(n ? n : 1);
    if (!p)
        return lambda_response_failure("out of memory", "Test.OutOfMemory");
    memset(p, 'x', n);
    return lambda_response_success(p, n, "text/plain");
}

static lambda_response log_op(json_t *ev, logger *lg)
{
    const char *level = json_string_value(json_object_get(ev, "level"));
    const char *message = json_string_value(json_object_get(ev, "message"));
    static const char *const names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
    for (int i = 0; i < 6; i++)
        if (level && strcmp(level, names[i]) == 0)
            log_fields(lg, (log_level)i, message ? message : "", json_object_get(ev, "fields"));
    json_t *o = json_object();
    json_object_set_new(o, "logged", json_true());
    return json_answer(o);
}

static lambda_response sleep_op(json_t *ev)
{
    json_int_t ms = json_integer_value(json_object_get(ev, "ms"));
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    json_t *o = json_object();
    json_object_set_new(o, "slept", json_integer(ms));
    return json_answer(o);
}

static lambda_response echo(const lambda_invocation *inv)
{
    char *copy = malloc(inv->payload_len + 1);
    if (!copy)
        return lambda_response_failure("out of memory", "Test.OutOfMemory");
    memcpy(copy, inv->payload, inv->payload_len);
    return lambda_response_success(copy, inv->payload_len, "application/json");
}

static lambda_response dispatch(const lambda_invocation *inv, json_t *ev, logger *lg)
{
    const char *op = json_string_value(json_object_get(ev, "op"));
    if (!op || strcmp(op, "echo") == 0)
        return echo(inv);
    if (strcmp(op, "fail") == 0)
        return lambda_response_failure(json_string_value(json_object_get(ev, "message")),
                                       json_string_value(json_object_get(ev, "type")));
    if (strcmp(op, "big") == 0)
        return big_op(ev);
    if (strcmp(op, "body") == 0) {
        const char *b = json_string_value(json_object_get(ev, "body"));
        return lambda_response_success(strdup(b ? b : ""), b ? strlen(b) : 0,
                                       json_string_value(json_object_get(ev, "contentType")));
    }
    if (strcmp(op, "sleep") == 0)
        return sleep_op(ev);
    if (strcmp(op, "env") == 0)
        return env_op(inv);
    if (strcmp(op, "log") == 0)
        return log_op(ev, lg);
    if (strcmp(op, "null") == 0)
        return lambda_response_success(NULL, 0, NULL);
    return lambda_response_failure("unknown op", "Test.UnknownOp");
}

static lambda_response handler(const lambda_invocation *inv, void *user)
{
    json_t *ev = json_loadb(inv->payload, inv->payload_len, 0, NULL);
    lambda_response r = json_is_object(ev) ? dispatch(inv, ev, user) : echo(inv);
    json_decref(ev);
    return r;
}

int main(int argc, char **argv)
{
    logger lg;
    logger_init(&lg, stderr);
    char err[256];
    lambda_runtime *rt = lambda_runtime_new(getenv("AWS_LAMBDA_RUNTIME_API"), &lg, err, sizeof err);
    if (!rt) {
        log_msg(&lg, LOG_FATAL, "%s", err);
        return 2;
    }
    int status;
    if (argc == 4 && strcmp(argv[1], "--init-error") == 0) {
        lambda_runtime_init_error(rt, argv[2], argv[3]);
        status = 1;
    } else {
        status = lambda_runtime_run(rt, handler, &lg);
    }
    lambda_runtime_free(rt);
    return status;
}
