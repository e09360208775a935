/* Cluster discovery through the RDS API (README.md, "Clusters (RDS API mode)"): one pass
 * reads the cluster's members (DescribeDBClusters) and their instance
 * endpoints and states (DescribeDBInstances, every page), chooses the members
 * of DB_ROLE and resolves their instance endpoints.
 *
 * - writer: the one member with IsClusterWriter. None (a failover in
 *   progress, a global-database secondary) or more than one, a writer
 *   without an endpoint, or a writer whose lookup fails: no answer
 *   (ResolveError outside a wait).
 * - readers: every other member that DescribeDBInstances lists with an
 *   endpoint and a serving status (not creating, deleting, failed, stopped,
 *   stopping, starting, insufficient-capacity,
 *   inaccessible-encryption-credentials*, incompatible-*). A reader whose
 *   lookup fails is left out; no usable reader is no answer.
 * - An RDS API failure is no answer of type RdsApiError (Runtime.OutOfMemory
 *   when memory ran out).
 *
 * The pass is reconcile_io's resolve (reconcile.h), so the failover wait
 * repeats it every DNS_POLL_MS. Within an invocation a writer-mode pass
 * reads DescribeDBInstances again only when the one writer is not in the
 * list it already has (with an endpoint). Each decision is one log line
 * (members read, writer or readers chosen, each member left out and why),
 * written when it differs from the previous pass of the invocation, so a
 * wait polling every 100 ms does not repeat them. The members of the pass the run used are
 * kept for the result. */
#ifndef RNS_SYNC_CLUSTER_H
#define RNS_SYNC_CLUSTER_H

#include <stddef.h>

#include <jansson.h>

#include "common/log.h"
#include "handler/aws/query.h"
#include "handler/sync/addr.h"
#include "handler/sync/config.h"
#include "handler/sync/dns.h"
#include "handler/sync/error.h"

typedef struct cluster_discovery cluster_discovery;

/* The RDS client (one kept connection) is made here; resolver, cfg and log
 * are borrowed. NULL with err on failure. */
cluster_discovery *cluster_discovery_new(const config *cfg, dns_resolver *dns, logger *log, char *err,
                                         size_t errlen);
void cluster_discovery_free(cluster_discovery *d);

/* Forgets the previous passes: called before each invocation's reconcile. */
void cluster_begin(cluster_discovery *d);

/* One pass within timeout_ms. DNS_OK with the chosen members' addresses in
 * *out (sorted, deduplicated), or a failure with err naming it. */
dns_status cluster_pass(cluster_discovery *d, long timeout_ms, addr_list *out, char *err, size_t errlen);

/* After a failed pass: RNS_ERR_RDS_API when the RDS API failed,
 * RNS_ERR_NO_MEMORY when memory ran out, else RNS_ERR_NONE (a ResolveError). */
rns_error_type cluster_failure_type(const cluster_discovery *d);

/* The last pass's members become those of the result. */
void cluster_keep(cluster_discovery *d);

/* The kept pass, for the result: the members array (caller owns) and the
 * cluster's Endpoint or ReaderEndpoint for the role (NULL when unknown). */
json_t *cluster_members_json(const cluster_discovery *d);
const char *cluster_endpoint(const cluster_discovery *d);

/* "cluster aurora-orders (writer)": what a pass answers for, in messages. */
const char *cluster_subject(const cluster_discovery *d);

/* Whether a reader in this DBInstanceStatus takes connections. */
int cluster_status_serves(const char *status);

#endif
