/* Private to handler/sync/ and its tests: the pieces of the sync modules
 * that tests call one by one. Users include the modules' own headers. */
#ifndef RNS_SYNC_INTERNAL_H
#define RNS_SYNC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/log.h"
#include "handler/aws/http.h"
#include "handler/sync/cfn.h"
#include "handler/sync/dns.h"
#include "handler/sync/error.h"
#include "handler/sync/event.h"
#include "handler/sync/metrics.h"
#include "handler/sync/plan.h"
#include "handler/sync/reconcile.h"

/* ---- cfn.c */
/* The PhysicalResourceId to answer with: Update and Delete keep the
 * request's; Create (or a request without one) gets
 * "rds-nlb-sync-<target group name>". */
void cfn_physical_id(const cfn_request *req, const char *target_group_name, char *out, size_t outlen);

/* The response document (malloc'd): Status, Reason, PhysicalResourceId,
 * StackId, RequestId, LogicalResourceId, NoEcho, Data (a jansson object,
 * borrowed, may be NULL). Reason is cut at CFN_REASON_MAX bytes. */
char *cfn_response_body(const cfn_request *req, const char *status, const char *reason,
                        const char *physical_id, const json_t *data);

/* PUTs body to req->response_url, retrying connection errors, timeouts and
 * 5xx answers (up to CFN_PUT_ATTEMPTS, never past deadline_ms). 0, or -1 with
 * a CloudFormationResponseError naming the host, never the URL. */
int cfn_send(http_client *http, const cfn_request *req, const char *body, int64_t deadline_ms,
             logger *lg, rns_error *err);

/* ---- dns.c */
/* Worker threads this resolver has started: 1 while every lookup is answered
 * in time, one more for each lookup after a timeout. */
unsigned long dns_resolver_threads_started(const dns_resolver *r);

/* ---- event.c */
/* Whether this ID is one of the failover-completion IDs (README.md, "Events"). */
int event_is_failover_id(const char *event_id);

/* Finds RDS-EVENT-NNNN (exactly four digits) anywhere in text, e.g. at the
 * end of an "Event ID" URL of either documentation host. 0, or -1. */
int event_find_id(const char *text, char out[16]);

/* ---- metrics.c */
/* The EMF line (malloc'd), or NULL when namespace is empty or out of memory. */
char *metrics_line(const char *ns, const char *target_group, const metrics_values *v, int64_t now_ms);

/* ---- plan.c */
/* A target DescribeTargetHealth reports as draining; one that counts as registered. */
int target_is_draining(const elb_target *t);
int target_is_registered(const elb_target *t);

/* Contract order, for qsort. */
int target_compare(const elb_target *a, const elb_target *b);

/* ---- reconcile.c */
/* The margin kept for registering and deregistering, for a budget in ms. */
long reconcile_margin_ms(long budget_ms);

/* "RegisterTargets failed for 10.0.0.1:5432: Throttling: Rate exceeded
 * (HTTP 400, request id ..., 3 attempts)" plus a hint for known codes. */
void reconcile_format_elb_error(const char *action, const elb_target *targets, size_t count,
                                const elb_error *e, char *out, size_t outlen);

#endif
