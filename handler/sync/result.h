/* The handler's answer (README.md, "Result"): the success result with its
 * keys in the contract's order, and the error object. Compact JSON. */
#ifndef RNS_RESULT_H
#define RNS_RESULT_H

#include <stddef.h>

#include <jansson.h>

#include "handler/sync/binding.h"
#include "handler/sync/error.h"
#include "handler/sync/event.h"
#include "handler/sync/reconcile.h"

/* A binding's result, a new object (caller owns), NULL when out of memory:
 * trigger, eventId, sourceId, endpoint, port, targetGroupArn, resolved,
 * rejected, registered, deregistered, unchanged, dryRun, dnsChanged,
 * waitedMs, converged, discovery "dns"; then the fields of the binding's
 * source (source.h, add_result: the RDS API mode's, cluster.h). */
json_t *result_build(const binding *b, const event_info *ev, const reconcile_report *rep);

/* The addresses as an array of their text, in contract order (caller owns). */
json_t *result_addresses(const addr_list *l);

/* Adds "cloudformationStatus" and, when err has a type, "error". */
void result_add_cloudformation(json_t *result, const char *status, const rns_error *err);

/* {"errorType":...,"errorMessage":...} as a new object; text that is not
 * UTF-8 (a value from the environment) is cleaned (common/utf8.h). */
json_t *result_error(const rns_error *err);

/* Compact text of a value (malloc'd, NUL-terminated), and its length. */
char *result_dump(const json_t *json, size_t *len);

#endif
