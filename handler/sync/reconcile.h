/* One reconcile of one binding (binding.h): read its target group, take an
 * answer from its address source (waiting for the answer to change after a
 * failover), then register the new targets and only then deregister the
 * stale ones (README.md, "Result" safety rules).
 *
 * The ELBv2 calls and the clock go through reconcile_io, and the answers
 * through the binding's addr_source (source.h), so the same code runs against
 * the real ELBv2 client and sources (handler.c) and against fakes in unit
 * tests. Everything it needs comes in the binding and the request: it reads
 * no configuration and no environment.
 *
 * Time budget. `deadline_ms` is when the work must be done (the handler
 * keeps its own reserve for posting the result). A margin for the changes,
 * min(3 s, a third of the budget), is kept free of DNS waiting: the failover
 * wait ends at min(start + FAILOVER_WAIT_SECONDS, deadline - margin). One
 * lookup never blocks longer than 5 s nor past that limit.
 *
 * The failover wait (req->failover and FAILOVER_WAIT_SECONDS > 0 and time
 * left): resolve every DNS_POLL_MS, measured from the start of each poll,
 * until the allowed answer, as ip:DB_PORT targets, differs from the targets
 * registered when the run began (every state but "draining" counts, also
 * "unhealthy.draining" and "unused": the old primary stays the baseline
 * while it fails its health checks); then change at once.
 * Resolution errors while waiting are logged (once per distinct error) and
 * polling goes on; the plan uses the last usable answer (at least one allowed
 * address); without one the run is a ResolveError and nothing changes.
 * - dns_changed: the answer differed within a wait, also on its very first
 *   resolution (then waited_ms is 0). Without a wait it is always false.
 * - waited_ms: from the first answer of the wait to the changed answer (or
 *   to the wait's end).
 * - The target group is read once, before resolving; it is not read again
 *   after a wait (every second before RegisterTargets counts, and reserved
 *   concurrency 1 leaves no other writer).
 * - converged: derived, not read back: every call of the plan succeeded (in
 *   a dry run: the plan could be made). A failed call is an error result, so
 *   a successful run is converged.
 * - ElbApiError, or Timeout when the deadline cut the call short (it is
 *   within RECONCILE_DEADLINE_SLACK_MS, or the client stopped retrying
 *   because the next attempt could not start in time:
 *   elb_error.deadline_cut). Attempts or the retry quota running out with
 *   time left is an ElbApiError.
 * - A source's failure is a ResolveError naming the source, or the type the
 *   source gave it (RdsApiError, OutOfMemory).
 *
 * Races (binding.guard_races, fleet mode: two runs may act on one group at
 * once, CONTRACT.md section 14). Without a lock, a run cannot know which of
 * two disagreeing answers is the newer; what it can see is the group, and a
 * target in state "initial" that its answer lacks is another run's recent
 * registration: the sign that some run answered differently moments ago.
 * - After registering and before deregistering, the run reads the group and
 *   asks the source once more, and keeps every stale target that the fresh
 *   answer holds (a fresher answer), that is "initial" (a registration not
 *   yet health-checked: this run's or another run's recent one) or that is
 *   no longer registered. So a run that read DNS before another run moved
 *   the group never deregisters the new primary: the other run registered
 *   it moments ago. Without a usable fresh answer nothing is deregistered.
 * - Before registering, when the group held such a sign, the run asks the
 *   source once more and plans from that answer when it is usable: a run
 *   whose resolver still had the old primary O, reading the group after
 *   another run moved it to the new primary N (O draining, N initial),
 *   registers nothing instead of registering O beside N.
 * - When its answer was still O then but the guard's fresh answer no longer
 *   holds O, and the group still holds the sign (N, which that fresh answer
 *   holds), the run deregisters what it registered and that fresh answer
 *   lacks: its own stale registration. N stays, so the group is never left
 *   empty; no address the fresh answer holds is touched.
 * Why the sign and not the fresh answer alone: the answers of one run can
 * disagree both ways (a stale resolver catching up, or DNS flapping back to
 * O during the failover), and a rule on answers alone is symmetric: the run
 * that moved the group to N would take N out again when its second answer
 * flaps back to O. The sign breaks the symmetry: the run that moves the
 * group first reads the old primary healthy, not another run's recent
 * registration, so it never deregisters its own; only the run that came
 * after does. With two runs, at most one of them may remove its own
 * registration, and only while the other's stays: the group is never
 * emptied. Ambiguous cases leave both O and N (DNS flapping at the guard, a
 * resolver stale on every answer, two runs that both read an empty group
 * before either registered); the next run takes out whichever its answer
 * lacks once the health checks are done. The kept targets are reported as
 * unchanged, the run as not converged. The extra answer before registering
 * is asked only on the sign; the guard runs only when something is to be
 * deregistered; so a steady sweep and a plain failover cost no more calls.
 * Outside fleet mode (reserved concurrency 1) runs never overlap and none of
 * this applies.
 *
 * With binding.listener_arn the run is the fast switch (CONTRACT.md section
 * 13; reconcile_slots.c, the plan in slots.h): the listener and every slot
 * are read, the wait's baseline is the weighted slot, and the answer must be
 * one allowed address. A malformed listener is a ListenerError; nothing is
 * changed then. */
#ifndef RNS_RECONCILE_H
#define RNS_RECONCILE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/log.h"
#include "handler/aws/elbv2.h"
#include "handler/sync/addr.h"
#include "handler/sync/binding.h"
#include "handler/sync/error.h"

#define RECONCILE_MARGIN_MAX_MS 3000
#define RECONCILE_LOOKUP_MAX_MS 5000   /* one answer never blocks longer */
#define RECONCILE_DEADLINE_SLACK_MS 50 /* a call failing this near the deadline was cut short */

/* The ELBv2 calls, on the binding's target group, and the clock. */
typedef struct reconcile_io {
    void *ctx;
    int (*describe)(void *ctx, const char *target_group_arn, int64_t deadline_ms, elb_target_list *out, elb_error *err);
    /* RegisterTargets (deregister == 0) or DeregisterTargets, count <= 100. */
    int (*change)(void *ctx, const char *target_group_arn, int deregister, const elb_target *targets, size_t count,
                  int64_t deadline_ms, elb_error *err);
    int64_t (*now_ms)(void *ctx); /* Unix ms, the deadline's clock */
    void (*sleep_ms)(void *ctx, long ms);
    /* The fast switch (binding.listener_arn): DescribeListeners and
     * ModifyListener of its weights (elbv2.h). */
    int (*describe_listener)(void *ctx, const char *listener_arn, int64_t deadline_ms, elb_listener *out,
                             elb_error *err);
    int (*modify_listener)(void *ctx, const elb_listener *l, const int *weights, int64_t deadline_ms, elb_error *err);
    /* One page of the load balancer's target groups (the slots' check), and
     * the slots' memory in their tags (elbv2.h). */
    int (*describe_groups_page)(void *ctx, const char *load_balancer_arn, const char *marker, int64_t deadline_ms,
                                elb_target_group_list *out, char *next_marker, size_t next_len, elb_error *err);
    int (*describe_tags)(void *ctx, const char *const *arns, size_t count, int64_t deadline_ms, elb_tag_set_list *out,
                         elb_error *err);
    int (*add_tags)(void *ctx, const char *arn, const elb_tag *tags, size_t count, int64_t deadline_ms, elb_error *err);
} reconcile_io;

typedef struct reconcile_request {
    const binding *binding;
    int failover; /* the event starts the failover wait (binding_waits) */
    int dry_run;  /* the binding's, or the event's */
    int64_t deadline_ms;
    logger *log;
} reconcile_request;

/* What happened (in a dry run: what would have). Filled as far as the run
 * got, also on failure. */
typedef struct reconcile_report {
    addr_list resolved; /* every address of the answer used */
    addr_list rejected; /* those outside ALLOWED_CIDRS */
    elb_target_list registered;
    elb_target_list deregistered;
    elb_target_list unchanged;
    int dry_run;
    int waited; /* a failover wait took place */
    int dns_changed;
    long waited_ms;
    int converged;
    long duration_ms;
    int api_calls;
    json_t *source_detail; /* the detail of the answer used (source.h), owned; NULL: none */
    int weights_changed;   /* the fast switch: ModifyListener moved the weight (dry run: would have) */
    json_t *slots;         /* the fast switch: the result's "slots", owned; NULL: one target group */
} reconcile_report;

/* The real I/O: the ELBv2 client's calls (borrowed) and the wall clock
 * (reconcile_io.c). */
reconcile_io reconcile_io_of_elb(elb_client *c);

/* 0, or -1 with *err set (ResolveError, ElbApiError, Timeout, or the type of
 * the source's failure). */
int reconcile_run(const reconcile_io *io, const reconcile_request *req, reconcile_report *rep, rns_error *err);
void reconcile_report_free(reconcile_report *rep);

/* "<action> failed for <what>: <code>: <message> (HTTP 404, request id ...,
 * 1 attempt); <hint>" for any AWS API; what and hint may be NULL. */
void reconcile_format_api_error(const char *action, const char *what, const aws_error *e, const char *hint, char *out,
                                size_t outlen);

#endif
