/* The failover handler: one invocation = recognise the event, reconcile the
 * target group (or answer CloudFormation), log each decision, emit metrics,
 * and produce the contract's result or error JSON.
 *
 *   handler *h = handler_new(&cfg, &lg, err, sizeof err);   // nothing slow here
 *   handler_output out;
 *   handler_invoke(h, payload, len, deadline_ms, &out);
 *   ... out.ok ? out.payload : out.error ...
 *   handler_output_free(&out);
 *
 * The ELBv2 client (one kept connection), the resolver and the HTTP client
 * for CloudFormation answers live in the handler across invocations. */
#ifndef RNS_HANDLER_H
#define RNS_HANDLER_H

#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "handler/sync/config.h"
#include "handler/sync/error.h"

/* Time kept after the work for posting the answer. */
#define HANDLER_POST_RESERVE_MAX_MS 250
/* Time kept for the CloudFormation PUT after a Create/Update reconcile. */
#define HANDLER_CFN_RESERVE_MAX_MS 5000

typedef struct handler handler;

/* cfg and lg are borrowed and must outlive the handler. */
handler *handler_new(const config *cfg, logger *lg, char *err, size_t errlen);
void handler_free(handler *h);

typedef struct handler_output {
    int ok;        /* 1: payload is the result; 0: payload is the error JSON */
    char *payload; /* malloc'd, compact JSON */
    size_t payload_len;
    rns_error error; /* when !ok */
} handler_output;

/* deadline_ms: Unix ms when the invocation ends. Always fills *out. */
void handler_invoke(handler *h, const char *payload, size_t len, int64_t deadline_ms, handler_output *out);
void handler_output_free(handler_output *out);

#endif
