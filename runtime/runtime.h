/* A client of the AWS Lambda Runtime API (2018-06-01), shaped like
 * aws-lambda-cpp: an invocation request, success and failure responses, and a
 * run loop that takes a handler and a user pointer.
 *
 *   lambda_runtime *rt = lambda_runtime_new(getenv("AWS_LAMBDA_RUNTIME_API"), &lg, err, sizeof err);
 *   return lambda_runtime_run(rt, my_handler, my_state);
 *
 * One HTTP/1.1 connection on a plain socket, kept alive across calls; nothing
 * slow (TLS, CA, DNS) before the first GET /next. */
#ifndef RNS_RUNTIME_H
#define RNS_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "common/log.h"

/* Largest response body the Runtime API accepts (6 MiB + 100 bytes). */
#define LAMBDA_MAX_RESPONSE_BYTES 6291556

/* One invocation; every pointer is owned by the runtime and valid during the
 * handler call. Absent headers are "" (never NULL); deadline_ms is 0 if absent.
 * The payload is also NUL-terminated (payload[payload_len] == '\0'). */
typedef struct lambda_invocation {
    const char *payload;
    size_t payload_len;
    const char *request_id;
    const char *function_arn;
    int64_t deadline_ms; /* Unix time in ms (Lambda-Runtime-Deadline-Ms), as rns_wall_ms */
    const char *xray_trace_id;
    const char *client_context;
    const char *cognito_identity;
    const char *tenant_id;
} lambda_invocation;

/* Milliseconds left before the deadline (negative once past it). Without a
 * deadline header (deadline_ms 0) it is 900000, Lambda's longest timeout. */
int64_t lambda_invocation_remaining_ms(const lambda_invocation *inv);

typedef struct lambda_response {
    int success;
    char *payload; /* success: body; failure: NULL */
    size_t payload_len;
    char *content_type;  /* success only */
    char *error_type;    /* failure only */
    char *error_message; /* failure only */
} lambda_response;

/* Takes ownership of payload (malloc'd, `len` bytes). */
lambda_response lambda_response_success(char *payload, size_t len, const char *content_type);
/* Copies both strings. */
lambda_response lambda_response_failure(const char *error_message, const char *error_type);
void lambda_response_free(lambda_response *resp);

typedef lambda_response (*lambda_handler_fn)(const lambda_invocation *inv, void *user);

typedef struct lambda_runtime lambda_runtime;

/* `api` is host:port from AWS_LAMBDA_RUNTIME_API. The logger is borrowed and
 * gets the request id of each invocation. NULL with a message on failure. */
lambda_runtime *lambda_runtime_new(const char *api, logger *lg, char *err, size_t errlen);
void lambda_runtime_free(lambda_runtime *rt);

/* Reports an initialisation failure once (POST /runtime/init/error). 0 if
 * the API accepted it. The caller then exits non-zero. */
int lambda_runtime_init_error(lambda_runtime *rt, const char *error_type, const char *message);

/* Polls /next and runs the handler until a fatal error. Returns the process
 * exit status to use (non-zero); it never returns on the happy path. */
int lambda_runtime_run(lambda_runtime *rt, lambda_handler_fn handler, void *user);

#endif
