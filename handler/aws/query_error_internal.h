/* Private to handler/aws/ and its tests: the retry classes of an aws_error
 * and the scrubbing of its message (query_error.c). */
#ifndef RNS_AWS_QUERY_ERROR_INTERNAL_H
#define RNS_AWS_QUERY_ERROR_INTERNAL_H

#include "handler/aws/query_error.h"
#include "sigv4/sigv4.h"

/* One of the standard mode's throttling errors (or HTTP 429). */
int query_error_is_throttling(const aws_error *err);
/* Whether the standard retry mode retries this failure: throttling, HTTP
 * 500/502/503/504, the RequestTimeout codes, and our ConnectionError,
 * Timeout and MalformedResponse (the calls we make are idempotent). */
int query_error_is_retryable(const aws_error *err);

/* Makes an error message read from an answer safe to log and return: only
 * its first line is kept (Query APIs follow a SignatureDoesNotMatch message
 * with the canonical request and the string to sign, which quote the signed
 * headers, the session token among them), and a message that still holds a
 * piece of the secret key or of the session token is withheld. */
void query_scrub_message(aws_error *err, const sigv4_credentials *creds);

#endif
