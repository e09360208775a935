/* Private to reconcile.c and its tests. */
#ifndef RNS_SYNC_RECONCILE_INTERNAL_H
#define RNS_SYNC_RECONCILE_INTERNAL_H

#include <stddef.h>

#include "handler/aws/elbv2.h"

/* The margin kept for registering and deregistering, for a budget in ms. */
long reconcile_margin_ms(long budget_ms);

/* "RegisterTargets failed for 10.0.0.1:5432: Throttling: Rate exceeded
 * (HTTP 400, request id ..., 3 attempts)" plus a hint for known codes. */
void reconcile_format_elb_error(const char *action, const elb_target *targets, size_t count,
                                const elb_error *e, char *out, size_t outlen);

#endif
