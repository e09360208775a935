/* What to change in the target group: a pure function of the desired
 * addresses and what DescribeTargetHealth reported (README.md, "Result").
 *
 * - A target counts as registered unless its state is "draining"
 *   (CONTRACT.md section 5, rule 4): "initial", "healthy", "unhealthy",
 *   "unhealthy.draining", "unused" (any reason) and "unavailable" are all
 *   registered targets (plan.c, target_is_registered, says why).
 * - Desired targets (each allowed address at DB_PORT) not registered are to
 *   register, with TARGET_AVAILABILITY_ZONE when set. A draining desired
 *   target is registered again.
 * - Every registered target that is not a desired address at DB_PORT is
 *   stale: another address, the wrong port, or an Id that is not an IP at
 *   all (the group must end up holding exactly the desired targets). Stale
 *   targets keep the exact Id, Port and AvailabilityZone DescribeTargetHealth
 *   returned. A draining stale target is already leaving and is left alone.
 * - AvailabilityZone never decides a match: ELB reports the zone of in-VPC
 *   targets that were registered without one.
 * Lists are in contract order: IPv4 before IPv6, byte order, then port; Ids
 * that are not IP addresses last, by text. */
#ifndef RNS_PLAN_H
#define RNS_PLAN_H

#include <stddef.h>

#include "handler/aws/elbv2.h"
#include "handler/sync/addr.h"

typedef struct target_plan {
    elb_target_list to_register;
    elb_target_list to_deregister;
    elb_target_list unchanged;
} target_plan;

/* `az` may be NULL. 0, or -1 on allocation failure (nothing to free then). */
int plan_targets(const addr_list *desired, int port, const char *az, const elb_target_list *current, target_plan *out);
void target_plan_free(target_plan *p);

/* Whether the plan changes anything (the answer differs from the group). */
int plan_has_changes(const target_plan *p);

/* "10.0.0.1:5432", "[fd00::1]:5432" (canonical text for IP Ids; the Id as
 * given otherwise; no ":port" when port is 0). */
void target_format(const elb_target *t, char *out, size_t outlen);

void target_list_sort(elb_target_list *l);

/* The target of an address at a port, with AvailabilityZone az (may be NULL). */
elb_target target_of(const ip_addr *a, int port, const char *az);

/* Whether the target is `a` at `port` (its Id read as an address). */
int target_is_addr(const elb_target *t, const ip_addr *a, int port);

/* CONTRACT.md section 5, rule 4, for every module that reads a state (the
 * plan, the slots, the race guard, the proxy's misses): only "draining" is a
 * target on its way out; every other state is a registered target. */
int target_is_draining(const elb_target *t);
int target_is_registered(const elb_target *t);

#endif
