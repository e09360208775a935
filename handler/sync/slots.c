/* The fast switch's plan (slots.h). */
#include "handler/sync/slots.h"

#include <stdio.h>
#include <string.h>

#include "handler/sync/plan.h"

static size_t registered_count(const slot *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->targets.count; i++)
        n += target_is_registered(&s->targets.items[i]);
    return n;
}

static const elb_target *first_registered(const slot *s)
{
    for (size_t i = 0; i < s->targets.count; i++)
        if (target_is_registered(&s->targets.items[i]))
            return &s->targets.items[i];
    return NULL;
}

const elb_target *slot_shown_target(const slot *s)
{
    const elb_target *t = first_registered(s);
    return t ? t : s->targets.count ? &s->targets.items[0] : NULL;
}

/* Whether the slot holds exactly this one target. */
static int holds_exactly(const slot *s, const ip_addr *a, int port)
{
    const elb_target *t = first_registered(s);
    return registered_count(s) == 1 && target_is_addr(t, a, port);
}

/* Whether the slot has this address at the port, in the state asked. */
static int has(const slot *s, const ip_addr *a, int port, int draining)
{
    for (size_t i = 0; i < s->targets.count; i++)
        if (target_is_draining(&s->targets.items[i]) == draining && target_is_addr(&s->targets.items[i], a, port))
            return 1;
    return 0;
}

/* A slot that may take traffic: a weight above 0, or none read (the
 * reference: a missing Weight's meaning is unknown), so that it is never
 * filled or cleared before the move, and is released after it. */
static int weighted(const slot *s)
{
    return s->weight != 0;
}

/* The slot holding exactly the desired target: the weighted one, else the first; -1. */
static int find_target(const slot *slots, size_t n, const ip_addr *desired, int port)
{
    int found = -1;
    for (size_t i = 0; i < n; i++)
        if (holds_exactly(&slots[i], desired, port)) {
            if (weighted(&slots[i]))
                return (int)i;
            if (found < 0)
                found = (int)i;
        }
    return found;
}

/* How much the slot's target is wanted: the candidate's rank (0 best), or
 * n for one that is not a candidate (least wanted). */
static size_t wanted_rank(const slot *s, int port, const addr_list *candidates)
{
    const elb_target *t = first_registered(s);
    size_t n = candidates ? candidates->count : 0;
    for (size_t i = 0; t && i < n; i++)
        if (target_is_addr(t, &candidates->items[i], port))
            return i;
    return n;
}

/* The standby slot the desired target is registered in: not weighted, not
 * draining it; empty first, else the least wanted target; -1. */
static int find_fill(const slot *slots, size_t n, const ip_addr *desired, int port, const addr_list *candidates)
{
    int best = -1;
    size_t best_rank = 0;
    for (size_t i = 0; i < n; i++) {
        const slot *s = &slots[i];
        if (weighted(s) || has(s, desired, port, 1))
            continue;
        if (registered_count(s) == 0)
            return (int)i;
        size_t rank = wanted_rank(s, port, candidates);
        if (best < 0 || rank >= best_rank) {
            best = (int)i;
            best_rank = rank;
        }
    }
    return best;
}

/* Whether any slot holds or drains the address (after the plan's changes,
 * for the slots it fills). */
static int anywhere(const slot *slots, size_t n, const ip_addr *a, int port, const slot_plan *p,
                    const addr_list *candidates)
{
    for (size_t i = 0; i < n; i++) {
        if (has(&slots[i], a, port, 0) || has(&slots[i], a, port, 1))
            return 1;
        if (p->refill[i] && ip_addr_compare(&candidates->items[p->refill[i] - 1], a) == 0)
            return 1;
    }
    return target_is_addr(&p->desired, a, port);
}

/* A standby whose targets are no candidate at all, when the candidates are
 * the source's whole choice (cluster mode: a member gone or no longer among
 * the next to be promoted). */
static int stale(const slot *s, int port, const addr_list *candidates, int complete)
{
    if (!complete || registered_count(s) == 0)
        return 0;
    for (size_t i = 0; i < s->targets.count; i++)
        for (size_t j = 0; j < candidates->count; j++)
            if (target_is_registered(&s->targets.items[i]) &&
                target_is_addr(&s->targets.items[i], &candidates->items[j], port))
                return 0;
    return 1;
}

/* Standby slots left without a registered target, or holding a stale one,
 * get the best candidates no slot holds or drains. */
static void plan_refill(const slot *slots, size_t n, int port, const addr_list *candidates, int complete, slot_plan *p)
{
    size_t next = 0;
    for (size_t i = 0; candidates && i < n; i++) {
        int is_stale = !p->release[i] && !p->clear[i] && stale(&slots[i], port, candidates, complete);
        int empty = p->release[i] || p->clear[i] || registered_count(&slots[i]) == 0 || is_stale;
        if ((int)i == p->target || !empty)
            continue;
        while (next < candidates->count && anywhere(slots, n, &candidates->items[next], port, p, candidates))
            next++;
        if (next == candidates->count)
            return;
        p->refill[i] = (int)++next;
        p->replace[i] = is_stale;
    }
}

int slots_plan(const slot *slots, size_t n, const ip_addr *desired, int port, const char *az,
               const addr_list *candidates, int complete, slot_plan *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    if (n < 2 || n > SLOTS_MAX) {
        snprintf(why, whylen, "%zu slots: the fast switch needs 2 to %d", n, SLOTS_MAX);
        return -1;
    }
    out->desired = target_of(desired, port, az);
    out->target = find_target(slots, n, desired, port);
    if (out->target < 0) {
        out->target = find_fill(slots, n, desired, port, candidates);
        if (out->target < 0) {
            snprintf(why, whylen, "no slot can take the new primary: every slot has a weight or drains it");
            return -1;
        }
        out->fill = 1;
        out->clear[out->target] = registered_count(&slots[out->target]) > 0;
    }
    for (size_t i = 0; i < n; i++) {
        out->weights[i] = (int)i == out->target ? 1 : 0;
        out->weights_change |= slots[i].weight != out->weights[i];
        out->release[i] = (int)i != out->target && weighted(&slots[i]) && registered_count(&slots[i]) > 0;
    }
    plan_refill(slots, n, port, candidates, complete, out);
    return 0;
}
