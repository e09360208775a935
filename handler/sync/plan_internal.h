/* Private to plan.c, slots.c (the same rules per slot) and their tests. */
#ifndef RNS_SYNC_PLAN_INTERNAL_H
#define RNS_SYNC_PLAN_INTERNAL_H

#include "handler/aws/elbv2.h"

/* A target DescribeTargetHealth reports as draining; one that counts as registered. */
int target_is_draining(const elb_target *t);
int target_is_registered(const elb_target *t);

/* Contract order, for qsort. */
int target_compare(const elb_target *a, const elb_target *b);

#endif
