/* CloudWatch Embedded Metric Format: one JSON line per invocation in the
 * namespace METRICS_NAMESPACE (none when it is empty), with the dimension
 * TargetGroup = the target group's name. Metrics: TargetsRegistered,
 * TargetsDeregistered, Errors (Count), DnsWaitMs, ReconcileMs (Milliseconds). */
#ifndef RNS_METRICS_H
#define RNS_METRICS_H

#include <stdint.h>

#include "common/log.h"

typedef struct metrics_values {
    long registered;
    long deregistered;
    long dns_wait_ms;
    long reconcile_ms;
    long errors;
    const char *trigger;    /* properties, not dimensions */
    const char *event_id;   /* may be NULL or "" */
    const char *error_type; /* may be NULL or "" */
} metrics_values;

/* Writes the line through log_raw_line (not filtered by the log level). */
void metrics_emit(logger *lg, const char *ns, const char *target_group, const metrics_values *v, int64_t now_ms);

#endif
