/* An address source: where a binding's addresses come from (README.md,
 * "Development"). DNS (dns.h), the cluster discovery through the RDS API
 * (cluster.h), and the sources still to come (the slots behind a listener,
 * an RDS Proxy's misses) each fill one answer per call: the addresses, or a
 * typed error decided where the failure is known. reconcile.c calls a source
 * once per run, or every DNS_POLL_MS during a failover wait, and keeps the
 * answer it plans from.
 *
 * A source belongs to one binding (binding.h): its state between calls (a
 * cluster's instance list, the decisions last logged) is that binding's, and
 * calls on one source never overlap. Bindings that wait in parallel (fleet
 * mode) each call their own source, so a source shares nothing mutable with
 * another one (a dns_resolver serves one source).
 *
 * The query and the answer are structs so that a source that needs more in
 * or out (the slots' candidates, the targets a proxy's misses are counted
 * against) adds a field, and the sources that ignore it stay as they are. */
#ifndef RNS_SYNC_SOURCE_H
#define RNS_SYNC_SOURCE_H

#define SOURCE_ERROR_MAX 512 /* what a run keeps of a failure's message */

#include <jansson.h>

#include "handler/sync/addr.h"
#include "handler/sync/error.h"

struct elb_target_list; /* handler/aws/elbv2.h: a source that reads it includes it */

typedef struct source_query {
    long timeout_ms;                       /* the call returns within this */
    const struct elb_target_list *current; /* the target group as the run read it (sorted), before any change */
} source_query;

/* One answer. The source fills it from zero; source_answer_free frees it. */
typedef struct source_answer {
    addr_list addresses; /* success: at least one, sorted and deduplicated */
    /* Failure: ResolveError, its message "<what>: <why>" (reconcile.c
     * names the source around it), or the failure's own type (RdsApiError,
     * OutOfMemory: the message is the error). */
    rns_error error;
    const char *status; /* failure: a word for logs ("NXDOMAIN", "TEMPFAIL", "ERROR"); static */
    json_t *detail;     /* what this answer adds to the result (add_result), owned; may be NULL */
} source_answer;

typedef struct addr_source {
    void *ctx;
    const char *subject; /* what it answers for, in messages and logs: a host name, "cluster c (writer)" */
    /* A new invocation: forget what the previous one saw. Optional. */
    void (*begin)(void *ctx);
    /* One answer within q->timeout_ms: 0 with out->addresses, or -1 with out->error. */
    int (*resolve)(void *ctx, const source_query *q, source_answer *out);
    /* Adds the source's result fields from the detail of the answer the run
     * used (NULL when it used none). Optional: a source without it adds nothing. */
    void (*add_result)(void *ctx, json_t *result, const json_t *detail);
    /* The fast switch's standbys (CONTRACT.md section 13), after the answer
     * the run used: up to max addresses most likely to be the answer next,
     * best first, appended to *out within timeout_ms. Optional: a source
     * without it has no candidates of its own (DNS mode: the slots' memory
     * is all there is). 0: *out is the whole choice; -1: incomplete (*out
     * may hold some). */
    int (*candidates)(void *ctx, size_t max, long timeout_ms, addr_list *out);
    /* The name of what an address of its latest answers belongs to (an
     * instance id), or NULL. Optional: the result's slots then name none. */
    const char *(*member_of)(void *ctx, const ip_addr *a);
} addr_source;

/* Whether the answer is a success (no error set). */
int source_answer_ok(const source_answer *a);
void source_answer_free(source_answer *a);

#endif
