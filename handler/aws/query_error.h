/* Errors of the AWS layer: a failed call as a value (aws_error), our own
 * codes for failures without a readable AWS answer, and the classes callers
 * act on. The retry classes of the standard retry mode and message scrubbing
 * are private to handler/aws (query_error_internal.h). */
#ifndef RNS_AWS_QUERY_ERROR_H
#define RNS_AWS_QUERY_ERROR_H

/* Our own codes of an aws_error, for failures without a readable AWS answer
 * (an AWS layer code, not an errorType of the handler's answer). */
#define QUERY_CODE_CONNECTION "ConnectionError"
#define QUERY_CODE_TIMEOUT "Timeout"
#define QUERY_CODE_TLS "TlsError"
#define QUERY_CODE_HTTP_CLIENT "HttpClientError"
#define QUERY_CODE_MALFORMED "MalformedResponse"
#define QUERY_CODE_SIGNING "SigningError"
#define QUERY_CODE_INVALID_PARAMETER "InvalidParameterValue"
#define QUERY_CODE_NO_MEMORY "OutOfMemory"

/* An API failure, as a value. code is the AWS error code ("Throttling",
 * "TargetGroupNotFound", ...) or one of the QUERY_CODE_* above. */
typedef struct aws_error {
    long http_status; /* 0 when no response */
    char code[64];
    char message[512];
    char request_id[128];
    int attempts;     /* attempts made, including the last */
    int deadline_cut; /* the deadline, not the error, ended the attempts */
} aws_error;

void aws_error_set(aws_error *e, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Whether no answer came: ConnectionError or Timeout (the endpoint may be
 * unreachable). */
int query_error_is_unanswered(const aws_error *err);
/* Whether the call failed for want of memory (QUERY_CODE_NO_MEMORY). */
int query_error_is_no_memory(const aws_error *err);

#endif
