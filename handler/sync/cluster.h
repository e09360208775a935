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
 * The pass is an address source's resolve (source.h), so the failover wait
 * repeats it every DNS_POLL_MS. No writer, several, or no usable reader is
 * a ResolveError; the answer's detail holds the members the pass saw, and
 * the source adds those of the answer the run used to the result. Within an
 * invocation a writer-mode pass
 * reads DescribeDBInstances again only when the one writer is not in the
 * list it already has (with an endpoint). Each decision is one log line
 * (members read, writer or readers chosen, each member left out and why),
 * written when it differs from the previous pass of the invocation, so a
 * wait polling every 100 ms does not repeat them. */
#ifndef RNS_SYNC_CLUSTER_H
#define RNS_SYNC_CLUSTER_H

#include <stddef.h>

#include "common/log.h"
#include "handler/aws/query.h"
#include "handler/sync/config.h"
#include "handler/sync/dns.h"
#include "handler/sync/source.h"

typedef struct cluster_discovery cluster_discovery;

/* What one cluster binding follows (DB_CLUSTER_IDENTIFIER and DB_ROLE, or a
 * fleet binding's tags). */
typedef struct cluster_settings {
    const char *cluster_id;
    db_role role;
    int family;           /* what a member's endpoint is looked up for, as dns_resolve */
    const char *endpoint; /* DB_ENDPOINT: the result's "endpoint"; NULL: the cluster's (Reader)Endpoint */
} cluster_settings;

/* The settings' strings, the RDS client (shared only by sources that are
 * never called at once), the resolver (serving this source only) and the
 * logger are borrowed. NULL when out of memory. */
cluster_discovery *cluster_discovery_new(const cluster_settings *set, query_client *rds, dns_resolver *dns,
                                         logger *log);
void cluster_discovery_free(cluster_discovery *d);

/* The discovery as an address source (borrows d). */
addr_source cluster_source(cluster_discovery *d);

/* Whether a reader in this DBInstanceStatus takes connections. */
int cluster_status_serves(const char *status);

#endif
