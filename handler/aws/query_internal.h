/* Private to handler/aws/ and its tests: knobs of the Query client. */
#ifndef RNS_AWS_QUERY_INTERNAL_H
#define RNS_AWS_QUERY_INTERNAL_H

#include "handler/aws/query.h"

/* Caps each attempt (connect + transfer) at timeout_ms (default 10000), so a
 * hung answer leaves time for a retry; the deadline still bounds it. */
void query_client_set_attempt_timeout(query_client *c, long timeout_ms);

/* Tokens left in the client's retry quota. */
int query_retry_tokens(const query_client *c);

/* Connections opened so far. */
long query_connections_opened(const query_client *c);

/* ---- retry classes and messages (query.c) ---- */

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
