/* Private to handler/aws/ and its tests: knobs of the Query client. */
#ifndef RNS_AWS_QUERY_INTERNAL_H
#define RNS_AWS_QUERY_INTERNAL_H

#include "handler/aws/query.h"
#include "handler/aws/query_error_internal.h"

/* Caps each attempt (connect + transfer) at timeout_ms (default 10000), so a
 * hung answer leaves time for a retry; the deadline still bounds it. */
void query_client_set_attempt_timeout(query_client *c, long timeout_ms);

/* Tokens left in the client's retry quota. */
int query_retry_tokens(const query_client *c);

/* Connections opened so far. */
long query_connections_opened(const query_client *c);

#endif
