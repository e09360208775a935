/* Target planning (plan.h). */
#include "handler/sync/plan.h"
#include "handler/sync/plan_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* CONTRACT.md section 5, rule 4: only "draining" (DeregistrationInProgress)
 * is a target on its way out. "unhealthy.draining" is a registered target
 * that failed its checks: it keeps its connections for the group's interval
 * and turns healthy again if it recovers; it leaves only when deregistered. */
int target_is_draining(const elb_target *t)
{
    return strcmp(t->state, "draining") == 0;
}

/* Every state but "draining" is registered, "unused" with any reason too.
 * Target.NotRegistered is what DescribeTargetHealth answers for a target
 * named in its Targets list that the group does not hold; this code never
 * sends that list (elb_describe_target_health), so every target it is told
 * about is in the group. Were one reported "unused" anyway, counting it as
 * registered costs nothing: a stale one gets a DeregisterTargets, which is
 * idempotent, and a desired one is left as the group reports it, where the
 * warning of reconcile.c (warn_unused) names it. Counting it as absent would
 * end a failover wait at once on the old primary. */
int target_is_registered(const elb_target *t)
{
    return !target_is_draining(t);
}

int target_compare(const elb_target *a, const elb_target *b)
{
    ip_addr x, y;
    int xip = ip_addr_parse(a->id, &x) == 0;
    int yip = ip_addr_parse(b->id, &y) == 0;
    int c;
    if (xip != yip)
        return xip ? -1 : 1;
    c = xip ? ip_addr_compare(&x, &y) : strcmp(a->id, b->id);
    if (c != 0)
        return c;
    return (a->port > b->port) - (a->port < b->port);
}

static int compare_void(const void *a, const void *b)
{
    return target_compare(a, b);
}

void target_list_sort(elb_target_list *l)
{
    if (l->count > 1)
        qsort(l->items, l->count, sizeof *l->items, compare_void);
}

void target_format(const elb_target *t, char *out, size_t outlen)
{
    ip_addr a;
    char text[ADDR_TEXT_MAX];
    const char *id = t->id;
    int v6 = 0;
    if (ip_addr_parse(t->id, &a) == 0) {
        ip_addr_format(&a, text, sizeof text);
        id = text;
        v6 = a.family != AF_INET;
    }
    if (t->port <= 0)
        snprintf(out, outlen, "%s", id);
    else if (v6)
        snprintf(out, outlen, "[%s]:%d", id, t->port);
    else
        snprintf(out, outlen, "%s:%d", id, t->port);
}

int target_is_addr(const elb_target *t, const ip_addr *a, int port)
{
    ip_addr id;
    return t->port == port && ip_addr_parse(t->id, &id) == 0 && ip_addr_compare(&id, a) == 0;
}

/* Whether a registered target in `current` is this address at this port. */
static int held(const elb_target_list *current, const ip_addr *a, int port)
{
    for (size_t i = 0; i < current->count; i++)
        if (target_is_registered(&current->items[i]) && target_is_addr(&current->items[i], a, port))
            return 1;
    return 0;
}

static int desired_target(const elb_target *t, const addr_list *desired, int port)
{
    ip_addr id;
    return t->port == port && ip_addr_parse(t->id, &id) == 0 && addr_list_contains(desired, &id);
}

elb_target target_of(const ip_addr *a, int port, const char *az)
{
    elb_target t;
    memset(&t, 0, sizeof t);
    ip_addr_format(a, t.id, sizeof t.id);
    t.port = port;
    if (az)
        snprintf(t.az, sizeof t.az, "%s", az);
    return t;
}

static int plan_desired(const addr_list *desired, int port, const char *az, const elb_target_list *current,
                        target_plan *p)
{
    for (size_t i = 0; i < desired->count; i++) {
        elb_target t = target_of(&desired->items[i], port, az);
        int is_held = held(current, &desired->items[i], port);
        if (elb_target_list_append(is_held ? &p->unchanged : &p->to_register, &t, 1) != 0)
            return -1;
    }
    return 0;
}

static int plan_stale(const addr_list *desired, int port, const elb_target_list *current, target_plan *p)
{
    for (size_t i = 0; i < current->count; i++) {
        const elb_target *t = &current->items[i];
        if (!target_is_registered(t) || desired_target(t, desired, port))
            continue;
        if (elb_target_list_append(&p->to_deregister, t, 1) != 0)
            return -1;
    }
    return 0;
}

int plan_targets(const addr_list *desired, int port, const char *az, const elb_target_list *current, target_plan *out)
{
    target_plan p;
    memset(&p, 0, sizeof p);
    if (az && !*az)
        az = NULL;
    if (plan_desired(desired, port, az, current, &p) != 0 || plan_stale(desired, port, current, &p) != 0) {
        target_plan_free(&p);
        return -1;
    }
    target_list_sort(&p.to_register);
    target_list_sort(&p.to_deregister);
    target_list_sort(&p.unchanged);
    *out = p;
    return 0;
}

void target_plan_free(target_plan *p)
{
    elb_target_list_free(&p->to_register);
    elb_target_list_free(&p->to_deregister);
    elb_target_list_free(&p->unchanged);
}

int plan_has_changes(const target_plan *p)
{
    return p->to_register.count > 0 || p->to_deregister.count > 0;
}
