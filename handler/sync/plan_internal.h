/* Private to plan.c and its tests. */
#ifndef RNS_SYNC_PLAN_INTERNAL_H
#define RNS_SYNC_PLAN_INTERNAL_H

#include "handler/aws/elbv2.h"

/* Contract order, for qsort. */
int target_compare(const elb_target *a, const elb_target *b);

#endif
