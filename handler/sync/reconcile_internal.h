/* Private to reconcile.c, reconcile_slots.c (the fast switch's run) and
 * their tests. */
#ifndef RNS_SYNC_RECONCILE_INTERNAL_H
#define RNS_SYNC_RECONCILE_INTERNAL_H

#include <stddef.h>

#include <jansson.h>

#include "handler/aws/elbv2.h"
#include "handler/sync/reconcile.h"
#include "handler/sync/source.h"

/* One answer of the source, split by ALLOWED_CIDRS (reconcile.c: `answer`). */
struct reconcile_answer {
    int ok;             /* the source answered addresses */
    const char *status; /* !ok: the source's word for logs */
    addr_list resolved;
    addr_list allowed;
    addr_list rejected;
    int no_memory; /* splitting the answer ran out of memory */
    char error[SOURCE_ERROR_MAX];
    rns_error_type type; /* !ok: the source's type; ResolveError is named around `error` */
    json_t *detail;      /* the source's, for the result */
};

/* One run of reconcile_run (reconcile.c and reconcile_slots.c: `run`). */
struct reconcile_run {
    const reconcile_io *io;
    const reconcile_request *req;
    const binding *b;
    reconcile_report *rep;
    rns_error *err;
    logger *log;
    int64_t start;
    int64_t deadline;
    long margin;
    elb_target_list current;
    struct reconcile_answer used; /* the usable answer the plan is made from */
};

/* One structured log line; takes fields. */
void reconcile_log(struct reconcile_run *r, log_level level, const char *message, json_t *fields);
/* ["10.0.0.1:5432 (healthy)", ...] */
json_t *reconcile_target_array(const elb_target *t, size_t count, int with_state);
/* ElbApiError (Timeout when the deadline cut it short) into r->err; -1. */
int reconcile_elb_failed(struct reconcile_run *r, const char *action, const elb_target *t, size_t n, const elb_error *e,
                         const char *after);
/* DescribeTargetHealth of one group into *out, sorted and logged; each
 * "unused" target is warned about with that message (NULL: not). */
int reconcile_describe(struct reconcile_run *r, const char *arn, elb_target_list *out, const char *unused_warning);
/* The answer (and the failover wait) into r->used; baseline r->current. */
int reconcile_resolve(struct reconcile_run *r);
/* Register (deregister 0) or deregister the list in batches on the group;
 * successes go to `done`. */
int reconcile_apply(struct reconcile_run *r, const char *arn, int deregister, const elb_target_list *l,
                    elb_target_list *done, const char *after);
/* reconcile_run (reconcile_run.c) is begin, one of the two paths, end. */
void reconcile_begin(struct reconcile_run *r, const reconcile_io *io, const reconcile_request *req,
                     reconcile_report *rep, rns_error *err);
/* Section 5's single target group: describe, resolve, register, deregister. */
int reconcile_group(struct reconcile_run *r);
/* The answer into the report, the run's lists freed, the duration. */
void reconcile_end(struct reconcile_run *r);
/* The fast switch (reconcile_slots.c): read the listener and its slots,
 * resolve, fill, move the weight, release, refill. */
int reconcile_slots(struct reconcile_run *r);

/* The margin kept for registering and deregistering, for a budget in ms. */
long reconcile_margin_ms(long budget_ms);

/* "RegisterTargets failed for 10.0.0.1:5432: Throttling: Rate exceeded
 * (HTTP 400, request id ..., 3 attempts)" plus a hint for known codes. */
void reconcile_format_elb_error(const char *action, const elb_target *targets, size_t count, const elb_error *e,
                                char *out, size_t outlen);

#endif
