/* The handler's answer (CONTRACT.md section 5): the success result with its
 * keys in the contract's order, and the error object. Compact JSON. */
#ifndef RNS_RESULT_H
#define RNS_RESULT_H

#include <stddef.h>

#include "handler/sync/config.h"
#include "handler/sync/error.h"
#include "handler/sync/event.h"
#include "handler/sync/reconcile.h"

/* A new jansson object (json_t *, caller owns), NULL when out of memory:
 * trigger, eventId, sourceId, endpoint, port, targetGroupArn, resolved,
 * rejected, registered, deregistered, unchanged, dryRun, dnsChanged,
 * waitedMs, converged. */
void *result_build(const config *cfg, const event_info *ev, const reconcile_report *rep);

/* The RDS API mode's fields (CONTRACT.md section 11): discovery "rds", role,
 * clusterId, members (a jansson array, taken), and endpoint the cluster's
 * (Reader)Endpoint unless DB_ENDPOINT is set. result_build writes
 * discovery "dns". */
void result_add_cluster(void *result, const config *cfg, void *members, const char *endpoint);

/* The addresses as a jansson array of their text, in contract order (caller owns). */
void *result_addresses(const addr_list *l);

/* Adds "cloudformationStatus" and, when err has a type, "error". */
void result_add_cloudformation(void *result, const char *status, const rns_error *err);

/* {"errorType":...,"errorMessage":...} as a new jansson object. */
void *result_error(const rns_error *err);

/* json_decref for callers that do not include jansson. */
void result_free_json(void *json);

/* Compact text of a jansson value (malloc'd, NUL-terminated), and its length. */
char *result_dump(const void *json, size_t *len);

#endif
