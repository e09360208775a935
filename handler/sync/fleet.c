/* Fleet mode (fleet.h): the fleet itself, and its workers' clients paced
 * under the account's buckets. Discovery and the index: fleet_discover.c;
 * the workers: fleet_run.c; one invocation (which bindings, the result):
 * fleet_invoke.c. */
#include "handler/sync/fleet.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler/sync/clients.h"
#include "handler/sync/fleet_internal.h"

/* The function's own calls stay under the account's buckets (README.md,
 * "Fleet mode"): the documented ELBv2 Describe* bucket (40, 10/s) and the
 * RDS bucket (300, 12/s, less a margin) at their burst and 90 % of their
 * rate; at the full rate the two clocks drift and the service throttles
 * now and then. Target changes (AWS's own load balancer controller's
 * defaults, 20, 4/s) are what a storm's clients wait for, so they take the
 * full rate and one token less than the burst: a call is never more than
 * that token (250 ms) ahead of the bucket, whatever the drift. Other
 * callers sharing the buckets make it throttle too, which the standard
 * retry mode absorbs. */
#define PACE_DESCRIBE_BURST 40
#define PACE_DESCRIBE_RATE 9
#define PACE_CHANGE_BURST 19
#define PACE_CHANGE_RATE 4
/* A DeregisterTargets can wait (the new target is registered): it leaves
 * half the burst to the registrations of a storm, for at most 10 s. */
#define PACE_DEREGISTER_RESERVE (PACE_CHANGE_BURST / 2)
#define PACE_DEREGISTER_DEFER_MS 10000
#define PACE_RDS_BURST 100
#define PACE_RDS_RATE 10
#define FLEET_MMAP_THRESHOLD (64 * 1024)

/* ---- clients and pacing ---- */

static int pace_elb(void *ctx, const char *action, int64_t deadline_ms)
{
    fleet *f = ctx;
    if (strncmp(action, "Describe", 8) == 0)
        return rns_bucket_take(&f->describe, deadline_ms);
    if (strcmp(action, "DeregisterTargets") == 0)
        return rns_bucket_take_deferred(&f->change, PACE_DEREGISTER_RESERVE, PACE_DEREGISTER_DEFER_MS, deadline_ms);
    return rns_bucket_take(&f->change, deadline_ms);
}

static int pace_rds(void *ctx, const char *action, int64_t deadline_ms)
{
    (void)action;
    return rns_bucket_take(&((fleet *)ctx)->rds, deadline_ms);
}

elb_client *fleet_new_elb(fleet *f, char *err, size_t errlen)
{
    elb_client *c = clients_new_elb(f->cfg, f->log, err, errlen);
    if (c)
        elb_client_set_pacer(c, pace_elb, f);
    return c;
}

query_client *fleet_new_rds(fleet *f, char *err, size_t errlen)
{
    query_client *c = clients_new_rds(f->cfg, f->log, err, errlen);
    if (c)
        query_client_set_pacer(c, pace_rds, f);
    return c;
}

/* Worker 0's clients, which serve discovery too, are made at once so that a
 * bad configuration fails at start; the other workers' when they first take
 * a binding (fleet_run.c, ready). */
fleet *fleet_new(const config *cfg, logger *log, char *err, size_t errlen)
{
    fleet *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->cfg = cfg;
    f->log = log;
    /* One malloc arena for every worker: glibc gives each thread its own
     * heap otherwise, and at 500 bindings the per-thread heaps cost more
     * than the bindings (README.md, "Performance", fleet mode's 16 MiB). */
    mallopt(M_ARENA_MAX, 1);
    /* Large blocks (answer pages, the job and binding lists, the result's
     * text) in their own mappings, given back when freed: glibc's moving
     * threshold keeps them in the heap once one was freed, where a copy
     * while growing or a freed hole stays resident. */
    mallopt(M_MMAP_THRESHOLD, FLEET_MMAP_THRESHOLD);
    rns_bucket_init(&f->describe, PACE_DESCRIBE_BURST, PACE_DESCRIBE_RATE);
    rns_bucket_init(&f->change, PACE_CHANGE_BURST, PACE_CHANGE_RATE);
    rns_bucket_init(&f->rds, PACE_RDS_BURST, PACE_RDS_RATE);
    if (!(f->workers[0].elb = fleet_new_elb(f, err, errlen)) || !(f->workers[0].rds = fleet_new_rds(f, err, errlen))) {
        fleet_free(f);
        return NULL;
    }
    return f;
}

void fleet_free(fleet *f)
{
    if (!f)
        return;
    fleet_bindings_free(&f->bl);
    free(f->idx.items);
    for (size_t i = 0; i < FLEET_MAX_WORKERS; i++) {
        elb_client_free(f->workers[i].elb);
        query_client_free(f->workers[i].rds);
        dns_resolver_free(f->workers[i].dns);
    }
    rns_bucket_destroy(&f->describe);
    rns_bucket_destroy(&f->change);
    rns_bucket_destroy(&f->rds);
    free(f);
}

/* Requests sent by every client so far (the result's apiCalls). */
void fleet_calls_sent(const fleet *f, long *elb, long *rds)
{
    *elb = *rds = 0;
    for (size_t i = 0; i < FLEET_MAX_WORKERS; i++) {
        *elb += elb_requests_sent(f->workers[i].elb);
        *rds += query_requests_sent(f->workers[i].rds);
    }
}
