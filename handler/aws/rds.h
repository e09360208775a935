/* Amazon RDS client: the two calls of cluster discovery (docs/aws.md, "RDS"),
 * DescribeDBClusters for one cluster and DescribeDBInstances filtered by
 * db-cluster-id over every Marker page, on the Query layer (query.h: SigV4
 * for service rds, the standard retry mode, one kept connection, every wait
 * bounded by the caller's deadline). The caller owns the query_client, made
 * with rds_service. Of the API's large answers only what discovery needs is
 * read; everything else is skipped. */
#ifndef RNS_AWS_RDS_H
#define RNS_AWS_RDS_H

#include <stddef.h>
#include <stdint.h>

#include "handler/aws/query.h"

#define RDS_ID_MAX 64    /* DB identifiers: 1..63 characters */
#define RDS_HOST_MAX 256 /* a DNS name */
#define RDS_STATUS_MAX 64
#define RDS_MARKER_MAX 1024
#define RDS_MAX_PAGES 50 /* DescribeDBInstances pages of one discovery */

extern const query_service rds_service;

/* https://rds.<region>.amazonaws.com (.amazonaws.com.cn in China, ...). 0, or -1. */
int rds_default_endpoint(const char *region, char *out, size_t outlen);

typedef struct rds_member {
    char id[RDS_ID_MAX];
    int writer; /* IsClusterWriter */
    int tier;   /* PromotionTier (0..15; 1 when absent, the API's default) */
} rds_member;

/* One DBCluster: its members in answer order. */
typedef struct rds_cluster {
    char id[RDS_ID_MAX];
    char status[RDS_STATUS_MAX];
    char endpoint[RDS_HOST_MAX];        /* "" when absent */
    char reader_endpoint[RDS_HOST_MAX]; /* "" when absent */
    rds_member *items;
    size_t count;
} rds_cluster;

typedef struct rds_instance {
    char id[RDS_ID_MAX];
    char status[RDS_STATUS_MAX]; /* DBInstanceStatus */
    char address[RDS_HOST_MAX];  /* Endpoint/Address; "" without an Endpoint (creating) */
} rds_instance;

typedef struct rds_instance_list {
    rds_instance *items;
    size_t count;
} rds_instance_list;

/* 0, or -1 with *err (an AWS error such as DBClusterNotFoundFault, or one of
 * query.h's codes). The answer must name exactly one cluster. */
int rds_describe_cluster(query_client *q, const char *cluster_id, int64_t deadline_ms, rds_cluster *out,
                         aws_error *err);

/* Every instance of the cluster, over all Marker pages (at most
 * RDS_MAX_PAGES; a Marker sent back must not come back). *pages (may be
 * NULL) counts the calls made. 0, or -1 with *err and *out empty. */
int rds_describe_cluster_instances(query_client *q, const char *cluster_id, int64_t deadline_ms, rds_instance_list *out,
                                   int *pages, aws_error *err);

/* The instance of that id in the list, or NULL. */
const rds_instance *rds_instance_find(const rds_instance_list *l, const char *id);

void rds_cluster_free(rds_cluster *c);
void rds_instance_list_free(rds_instance_list *l);

/* Parsers of the two success documents, for the client, its tests and the
 * fuzz target. An <ErrorResponse> or anything else that is not the action's
 * answer fills *err and gives -1 (query_xml_parse). Instances are appended
 * to *out only when the whole page parsed; *marker gets the page's Marker,
 * "" on the last page. */
int rds_parse_clusters(const char *xml, size_t len, rds_cluster *out, aws_error *err);
int rds_parse_instances(const char *xml, size_t len, rds_instance_list *out, char marker[RDS_MARKER_MAX],
                        aws_error *err);

/* The body of one call, as botocore serialises it; owned by the caller,
 * NULL when out of memory. marker may be NULL (first page). */
char *rds_clusters_body(const char *cluster_id);
char *rds_instances_body(const char *cluster_id, const char *marker);

#endif
