/* Errors of the AWS layer (query_error.h): the error value, the retry
 * classes of the standard retry mode, and messages made safe to log. */
#include "handler/aws/query_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "handler/aws/query_error_internal.h"

void aws_error_set(aws_error *e, const char *code, const char *fmt, ...)
{
    va_list ap;
    memset(e, 0, sizeof *e);
    snprintf(e->code, sizeof e->code, "%s", code);
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

/* ---- retry classes ------------------------------------------------------- */

static const char *const throttling_codes[] = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
};

static const char *const transient_codes[] = {
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
    /* ours: no answer, or an answer that could not be read */
    QUERY_CODE_CONNECTION,
    QUERY_CODE_TIMEOUT,
    QUERY_CODE_MALFORMED,
};

static int listed(const char *code, const char *const *list, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (strcmp(code, list[i]) == 0)
            return 1;
    return 0;
}

int query_error_is_throttling(const aws_error *err)
{
    return err->http_status == 429 ||
           listed(err->code, throttling_codes, sizeof throttling_codes / sizeof *throttling_codes);
}

int query_error_is_unanswered(const aws_error *err)
{
    return strcmp(err->code, QUERY_CODE_CONNECTION) == 0 || strcmp(err->code, QUERY_CODE_TIMEOUT) == 0;
}

int query_error_is_no_memory(const aws_error *err)
{
    return strcmp(err->code, QUERY_CODE_NO_MEMORY) == 0;
}

int query_error_is_retryable(const aws_error *err)
{
    long s;
    if (!err || !err->code[0])
        return 0;
    s = err->http_status;
    if (query_error_is_throttling(err))
        return 1;
    if (s == 500 || s == 502 || s == 503 || s == 504)
        return 1;
    return listed(err->code, transient_codes, sizeof transient_codes / sizeof *transient_codes);
}

/* ---- messages from the answer -------------------------------------------- */

#define SECRET_PIECE 16 /* this many bytes of a secret in a row count as the secret */

/* Whether text holds SECRET_PIECE consecutive bytes of secret (or all of a
 * shorter one). */
static int holds_piece(const char *text, const char *secret)
{
    size_t n = secret ? strlen(secret) : 0, piece = n < SECRET_PIECE ? n : SECRET_PIECE, i;
    if (piece == 0)
        return 0;
    for (i = 0; i + piece <= n; i++)
        if (memmem(text, strlen(text), secret + i, piece))
            return 1;
    return 0;
}

void query_scrub_message(aws_error *err, const sigv4_credentials *creds)
{
    err->message[strcspn(err->message, "\r\n")] = '\0';
    if (creds &&
        (holds_piece(err->message, creds->secret_access_key) || holds_piece(err->message, creds->session_token)))
        snprintf(err->message, sizeof err->message,
                 "(the answer's message quoted the request's credentials; withheld)");
}
