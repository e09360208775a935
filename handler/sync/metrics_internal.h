/* Private to metrics.c and its tests. */
#ifndef RNS_SYNC_METRICS_INTERNAL_H
#define RNS_SYNC_METRICS_INTERNAL_H

#include <stdint.h>

#include "handler/sync/metrics.h"

/* The EMF line (malloc'd), or NULL when namespace is empty or out of memory. */
char *metrics_line(const char *ns, const char *target_group, const metrics_values *v, int64_t now_ms);

#endif
