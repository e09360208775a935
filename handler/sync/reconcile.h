/* One reconcile: read the target group, resolve the endpoint (waiting for
 * DNS to change after a failover), then register the new targets and only
 * then deregister the stale ones (README.md, "Result" safety rules).
 *
 * The I/O goes through reconcile_io so the same code runs against the real
 * ELBv2 client and resolver (handler.c) and against fakes in unit tests.
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
 *   within 50 ms, or the client stopped retrying because the next attempt
 *   could not start in time: elb_error.deadline_cut). Attempts or the retry
 *   quota running out with time left is an ElbApiError. */
#ifndef RNS_RECONCILE_H
#define RNS_RECONCILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "handler/aws/elbv2.h"
#include "handler/sync/addr.h"
#include "handler/sync/config.h"
#include "handler/sync/dns.h"
#include "handler/sync/error.h"

#define RECONCILE_MARGIN_MAX_MS 3000
#define RECONCILE_LOOKUP_MAX_MS 5000 /* one lookup never blocks longer */

typedef struct reconcile_io {
    void *ctx;
    int (*describe)(void *ctx, int64_t deadline_ms, elb_target_list *out, elb_error *err);
    /* RegisterTargets (deregister == 0) or DeregisterTargets, count <= 100. */
    int (*change)(void *ctx, int deregister, const elb_target *targets, size_t count,
                  int64_t deadline_ms, elb_error *err);
    dns_status (*resolve)(void *ctx, long timeout_ms, addr_list *out, char *err, size_t errlen);
    int64_t (*now_ms)(void *ctx); /* Unix ms, the deadline's clock */
    void (*sleep_ms)(void *ctx, long ms);
    /* Optional (cluster discovery, cluster.h): the type of the last failed
     * resolve, RNS_ERR_NONE for a ResolveError (RNS_ERR_RDS_API: its
     * message is the error); and a call each time the run takes the last
     * resolve's answer as the one it uses. */
    rns_error_type (*failure_type)(void *ctx);
    void (*kept)(void *ctx);
} reconcile_io;

typedef struct reconcile_request {
    const config *cfg;
    int failover; /* a failover-completion event for DB_IDENTIFIER: wait for DNS */
    int dry_run;
    int64_t deadline_ms;
    logger *log;
    const char *subject; /* what resolve answers for, in messages and logs; NULL: DB_ENDPOINT */
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
} reconcile_report;

/* 0, or -1 with *err set (ResolveError, ElbApiError, Timeout, or the
 * io's failure_type). */
int reconcile_run(const reconcile_io *io, const reconcile_request *req, reconcile_report *rep,
                  rns_error *err);
void reconcile_report_free(reconcile_report *rep);

/* "<action> failed for <what>: <code>: <message> (HTTP 404, request id ...,
 * 1 attempt); <hint>" for any AWS API; what and hint may be NULL. */
void reconcile_format_api_error(const char *action, const char *what, const aws_error *e, const char *hint,
                                char *out, size_t outlen);

#endif
