/* The fast switch's plan (CONTRACT.md section 13): a pure function of the
 * listener's slots as read (their weights and targets), the desired primary
 * and the standby candidates. reconcile_slots.c reads, decides with it, and
 * applies; the rules live here so that unit tests check them one by one.
 *
 * - A slot holds its registered targets (every state but "draining", as
 *   plan.h counts them). A slot is the desired primary's when it holds
 *   exactly one target, the desired address at the port.
 * - The weight goes to that slot (weight 1, every other slot 0). Among
 *   several, the one already weighted, else the first.
 * - Without one, the desired target is registered first in a slot that is
 *   not weighted (weight 0) and where it is not draining: an empty one (in
 *   listener order), else the one whose target is least wanted (not a
 *   candidate, else the last candidate). The slot's other targets are
 *   deregistered after (it takes no traffic). No such slot: no plan.
 * - After the weight moved, the targets of the slots that were weighted and
 *   are not any more are deregistered (the demoted primary's sessions end as
 *   in section 5).
 * - Standby slots then empty (no registered target, after the release) are
 *   refilled with candidates no slot holds or drains, best first. When the
 *   candidates are the source's complete choice (cluster mode), a standby
 *   holding none of them is stale: it gets the next free candidate, and its
 *   targets are deregistered after (it takes no traffic).
 * Every weight vector the plan gives has exactly one slot at 1. */
#ifndef RNS_SYNC_SLOTS_H
#define RNS_SYNC_SLOTS_H

#include <stddef.h>

#include "handler/aws/elbv2.h"
#include "handler/sync/addr.h"

#define SLOTS_MAX ELB_LISTENER_MAX_GROUPS

/* The slots' memory, in tags of each slot's target group (DNS mode's recent
 * primaries): the address it was filled with, and when (Unix seconds) its
 * slot last took the weight ("0": never). */
#define SLOTS_TAG_PREFIX "rds-nlb-sync:"
#define SLOTS_TAG_ADDRESS SLOTS_TAG_PREFIX "address"
#define SLOTS_TAG_PRIMARY_AT SLOTS_TAG_PREFIX "primary-at"

/* One slot as the run read it. */
typedef struct slot {
    const char *arn;         /* borrowed */
    int weight;              /* -1: DescribeListeners gave none */
    elb_target_list targets; /* DescribeTargetHealth, sorted; borrowed */
} slot;

typedef struct slot_plan {
    int target;             /* the slot that gets the weight */
    int fill;               /* 1: the desired target is registered in `target` first */
    elb_target desired;     /* the desired primary's target */
    int weights[SLOTS_MAX]; /* after the move */
    int weights_change;     /* they differ from what was read */
    int release[SLOTS_MAX]; /* 1: deregister this slot's targets after the move */
    int clear[SLOTS_MAX];   /* 1: the fill slot's other targets, deregistered after the fill */
    int refill[SLOTS_MAX];  /* index + 1 into the candidates: registered in this standby slot; 0: none */
    int replace[SLOTS_MAX]; /* 1: the refilled slot's stale targets, deregistered after the refill */
} slot_plan;

/* 0, or -1 with why (no slot can take the desired primary). candidates may
 * be NULL; complete: they are all the addresses a standby should hold. */
int slots_plan(const slot *slots, size_t n, const ip_addr *desired, int port, const char *az,
               const addr_list *candidates, int complete, slot_plan *out, char *why, size_t whylen);

/* The slot's one target to show: its registered one, else a draining one,
 * else NULL. */
const elb_target *slot_shown_target(const slot *s);

#endif
