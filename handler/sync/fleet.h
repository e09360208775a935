/* Fleet mode (CONTRACT.md section 14, README.md "Fleet mode"): one function
 * keeps every tagged target group of the load balancers it is given.
 *
 * - Discovery: DescribeTargetGroups per load balancer (400 a page) and
 *   DescribeTags (20 ARNs a call, the rds-nlb-sync: tags kept). Every tagged
 *   group is a binding (binding.h); a group with invalid tags is a failed
 *   binding (ConfigError) that is never touched. The bindings are kept
 *   between invocations for at most FLEET_INDEX_MAX_AGE_MS and rebuilt by
 *   every sweep. A load balancer or a DescribeTags call that cannot be read
 *   stops nothing else: what the last discovery read of it within that age
 *   is kept for the run, the rest is reported ("unread", FleetError).
 * - The index: source identifier -> bindings, cluster members included (a
 *   cluster binding's members come from its last reconcile, or from one
 *   DescribeDBClusters when an event names an id the index does not know).
 * - A run: an RDS event reconciles the bindings it concerns (a failover
 *   event waits per binding); a schedule, a console event or a
 *   CloudFormation request sweeps every binding (or one shard, or the one
 *   named by "targetGroupArn").
 * - The bindings of a run are reconciled by up to FLEET_MAX_WORKERS threads,
 *   each with its own resolver and API clients (source.h: a source shares
 *   nothing mutable), so no binding's wait delays another's. Their calls
 *   are paced by token buckets shared by the workers (common/bucket.h) and
 *   capped per invocation (FLEET_MAX_API_CALLS); a capped sweep says
 *   "incomplete" and the next one starts where it stopped, also in a new
 *   container: the position is a tag on a bound group (fleet_cursor.c),
 *   which a sweep that left groups unread leaves as it was.
 * - Races with other runs: reconcile.h, "Races" (binding.guard_races).
 * - proxy: bindings keep an address until it has missed PROXY_MISSES
 *   consecutive answers; the counts live in the group's tag
 *   rds-nlb-sync:misses, so they survive a cold start. */
#ifndef RNS_SYNC_FLEET_H
#define RNS_SYNC_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/log.h"
#include "handler/sync/config.h"
#include "handler/sync/error.h"

#define FLEET_TAG_PREFIX "rds-nlb-sync:"
#define FLEET_INDEX_MAX_AGE_MS (5 * 60 * 1000)
#define FLEET_MAX_WORKERS 128

typedef struct fleet fleet;

/* cfg and log are borrowed. NULL with err when a client cannot be made. */
fleet *fleet_new(const config *cfg, logger *log, char *err, size_t errlen);
void fleet_free(fleet *f);

/* One invocation: *result (owned) is the fleet result whenever the event was
 * read, also when bindings failed; returns 0, or -1 with *err: InvalidEvent,
 * out of memory, or FleetError (bindings failed, or groups could not be
 * read and no kept index covers them: every other binding handled). */
int fleet_invoke(fleet *f, const char *payload, size_t len, int64_t deadline_ms, json_t **result, rns_error *err);

#endif
