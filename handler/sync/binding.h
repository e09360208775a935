/* A binding: one address source (source.h) and the one target group it
 * keeps, with their settings. It is the unit of reconcile: reconcile_run
 * (reconcile.h) takes one binding, and an invocation of the handler is a loop
 * over its bindings (one today; many in fleet mode, where each comes from a
 * target group's tags).
 *
 * Everything here is a value: the configuration is read once, in config.c,
 * and handler.c builds the binding from it (a fleet binding will come from
 * a target group's tags). Nothing that takes a binding
 * reads the environment. The strings and the CIDR list are borrowed from
 * whatever built the binding and outlive it. */
#ifndef RNS_SYNC_BINDING_H
#define RNS_SYNC_BINDING_H

#include "handler/sync/addr.h"
#include "handler/sync/event.h"
#include "handler/sync/source.h"

/* Which events start the failover wait. */
typedef enum binding_wait {
    BINDING_WAIT_FAILOVER,         /* a failover-completion event for the identifier */
    BINDING_WAIT_CLUSTER_FAILOVER, /* also the cluster's failover-started events (writer role) */
    BINDING_WAIT_NEVER             /* reconcile once on every event (readers) */
} binding_wait;

typedef struct binding {
    addr_source source;
    const char *target_group_arn;  /* NULL with listener_arn */
    const char *listener_arn;      /* the fast switch's listener (CONTRACT.md section 13); NULL: one group */
    const char *target_group_name; /* <name> of the ARN: metrics, CloudFormation's physical id */
    const char *endpoint;          /* the result's "endpoint" (DB_ENDPOINT), NULL when unset */
    const char *identifier;        /* the RDS source identifier whose events concern it */
    int port;                      /* registered for every target */
    const char *az;                /* AvailabilityZone sent with RegisterTargets, NULL: none */
    const cidr_list *allowed;      /* an address outside them is never registered */
    int failover_wait_seconds;
    int dns_poll_ms; /* between two answers of a failover wait */
    int dry_run;     /* change nothing (an event's dryRun adds to it) */
    binding_wait wait;
    /* Fleet mode, where runs on one group may overlap: before deregistering,
     * read the group and the source again (reconcile.h, "Races"). */
    int guard_races;
    /* Fleet mode, where one log holds many bindings' lines: every line of
     * the run names its target group. */
    int log_target_group;
} binding;

/* Whether this event starts the failover wait for the binding. */
int binding_waits(const binding *b, const event_info *ev);

#endif
