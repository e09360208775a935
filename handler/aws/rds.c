/* The RDS client (rds.h): two actions on the Query layer and the few
 * elements of their answers that discovery reads.
 *
 * DescribeDBClusters: DescribeDBClustersResult/DBClusters/DBCluster/
 *   {DBClusterIdentifier, Status, Endpoint, ReaderEndpoint,
 *    DBClusterMembers/DBClusterMember/{DBInstanceIdentifier, IsClusterWriter, PromotionTier}}
 *   (Endpoint is a string here; Status also appears deeper, e.g. in
 *   VpcSecurityGroupMembership, and is only read at its place).
 * DescribeDBInstances: DescribeDBInstancesResult/{Marker,
 *   DBInstances/DBInstance/{DBInstanceIdentifier, DBInstanceStatus,
 *   Endpoint/Address}} (Endpoint is absent while an instance is created). */
#include "handler/aws/rds.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/grow.h"

const query_service rds_service = {
    .name = "RDS",
    .log_name = "rds",
    .signing_name = "rds",
    .endpoint_prefix = "rds",
    .api_version = "2014-10-31",
};

int rds_default_endpoint(const char *region, char *out, size_t outlen)
{
    return query_default_endpoint(&rds_service, region, out, outlen);
}

/* ---- requests ---- */

char *rds_clusters_body(const char *cluster_id)
{
    rns_buf b;
    int rc;
    rns_buf_init(&b, 0);
    rc = query_form_init(&b, &rds_service, "DescribeDBClusters");
    rc |= query_form_add(&b, "DBClusterIdentifier", cluster_id);
    if (rc != RNS_BUF_OK) {
        rns_buf_free(&b);
        return NULL;
    }
    return rns_buf_take(&b, NULL);
}

char *rds_instances_body(const char *cluster_id, const char *marker)
{
    rns_buf b;
    int rc;
    rns_buf_init(&b, 0);
    rc = query_form_init(&b, &rds_service, "DescribeDBInstances");
    rc |= query_form_add(&b, "Filters.Filter.1.Name", "db-cluster-id");
    rc |= query_form_add(&b, "Filters.Filter.1.Values.Value.1", cluster_id);
    if (marker && *marker)
        rc |= query_form_add(&b, "Marker", marker);
    if (rc != RNS_BUF_OK) {
        rns_buf_free(&b);
        return NULL;
    }
    return rns_buf_take(&b, NULL);
}

/* ---- DescribeDBClusters ---- */

typedef struct cluster_reader {
    rds_cluster *out;
    int clusters;      /* DBCluster elements seen */
    int cluster_depth; /* depth of the open DBCluster, 0 if none */
    int member_depth;  /* depth of the open DBClusterMember, 0 if none */
} cluster_reader;

static void cluster_reset(void *ctx)
{
    cluster_reader *r = ctx;
    rds_cluster_free(r->out);
    r->clusters = r->cluster_depth = r->member_depth = 0;
}

static void cluster_start(query_xml *x, void *ctx)
{
    cluster_reader *r = ctx;
    int depth = query_xml_depth(x);
    if (!r->cluster_depth && query_xml_is(x, 0, "DBCluster") && query_xml_is(x, 1, "DBClusters") &&
        query_xml_is(x, 2, "DescribeDBClustersResult")) {
        if (++r->clusters > 1)
            query_xml_fail(x, "the answer holds more than one DBCluster");
        r->cluster_depth = depth;
    } else if (r->cluster_depth && depth == r->cluster_depth + 2 && query_xml_is(x, 0, "DBClusterMember") &&
               query_xml_is(x, 1, "DBClusterMembers")) {
        if (RNS_GROW_LIST(r->out, 1) != 0) {
            query_xml_fail(x, "out of memory reading cluster members");
            return;
        }
        memset(&r->out->items[r->out->count], 0, sizeof(rds_member));
        r->out->items[r->out->count++].tier = 1;
        r->member_depth = depth;
    }
}

static void take_bool(query_xml *x, int *out, const char *what)
{
    char v[8];
    if (query_xml_take(x, v, sizeof v, what) != 0)
        return;
    if (strcmp(v, "true") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0)
        *out = 0;
    else
        query_xml_fail(x, "%s is not true or false", what);
}

/* PromotionTier: 0..15 (the fast switch's order of candidates). */
static void take_tier(query_xml *x, rds_member *m)
{
    long tier;
    if (query_xml_take_long(x, 0, 15, &tier, "DBClusterMember/PromotionTier", "a promotion tier") == 0)
        m->tier = (int)tier;
}

static void cluster_field(query_xml *x, rds_cluster *c)
{
    if (query_xml_is(x, 0, "DBClusterIdentifier"))
        query_xml_take(x, c->id, sizeof c->id, "DBCluster/DBClusterIdentifier");
    else if (query_xml_is(x, 0, "Status"))
        query_xml_take(x, c->status, sizeof c->status, "DBCluster/Status");
    else if (query_xml_is(x, 0, "Endpoint"))
        query_xml_take(x, c->endpoint, sizeof c->endpoint, "DBCluster/Endpoint");
    else if (query_xml_is(x, 0, "ReaderEndpoint"))
        query_xml_take(x, c->reader_endpoint, sizeof c->reader_endpoint, "DBCluster/ReaderEndpoint");
}

static void cluster_end(query_xml *x, void *ctx)
{
    cluster_reader *r = ctx;
    int depth = query_xml_depth(x);
    if (r->member_depth) {
        rds_member *m = &r->out->items[r->out->count - 1];
        if (depth == r->member_depth + 1 && query_xml_is(x, 0, "DBInstanceIdentifier"))
            query_xml_take(x, m->id, sizeof m->id, "DBClusterMember/DBInstanceIdentifier");
        else if (depth == r->member_depth + 1 && query_xml_is(x, 0, "IsClusterWriter"))
            take_bool(x, &m->writer, "DBClusterMember/IsClusterWriter");
        else if (depth == r->member_depth + 1 && query_xml_is(x, 0, "PromotionTier"))
            take_tier(x, m);
        else if (depth == r->member_depth) {
            if (!m->id[0])
                query_xml_fail(x, "a DBClusterMember has no DBInstanceIdentifier");
            r->member_depth = 0;
        }
    } else if (r->cluster_depth && depth == r->cluster_depth + 1) {
        cluster_field(x, r->out);
    } else if (r->cluster_depth && depth == r->cluster_depth) {
        if (!r->out->id[0])
            query_xml_fail(x, "a DBCluster has no DBClusterIdentifier");
        r->cluster_depth = 0;
    }
}

static query_xml_callbacks cluster_callbacks(cluster_reader *r, rds_cluster *out)
{
    query_xml_callbacks cb = {r, cluster_start, cluster_end, cluster_reset};
    memset(r, 0, sizeof *r);
    memset(out, 0, sizeof *out);
    r->out = out;
    return cb;
}

/* A success that names no cluster is as good as not found. */
static int no_cluster(const cluster_reader *r, rds_cluster *out, aws_error *err)
{
    if (r->clusters)
        return 0;
    aws_error_set(err, "DBClusterNotFoundFault", "the answer lists no DB cluster");
    rds_cluster_free(out);
    return -1;
}

int rds_parse_clusters(const char *xml, size_t len, rds_cluster *out, aws_error *err)
{
    cluster_reader r;
    query_xml_callbacks cb = cluster_callbacks(&r, out);
    if (query_xml_parse(xml, len, "DescribeDBClustersResponse", &cb, err) != 0)
        return -1;
    return no_cluster(&r, out, err);
}

/* ---- DescribeDBInstances ---- */

typedef struct instance_reader {
    rds_instance_list *out;
    char *marker;
    int instance_depth; /* depth of the open DBInstance, 0 if none */
} instance_reader;

static void instance_reset(void *ctx)
{
    instance_reader *r = ctx;
    rds_instance_list_free(r->out);
    r->marker[0] = '\0';
    r->instance_depth = 0;
}

static void instance_start(query_xml *x, void *ctx)
{
    instance_reader *r = ctx;
    if (r->instance_depth || !query_xml_is(x, 0, "DBInstance") || !query_xml_is(x, 1, "DBInstances") ||
        !query_xml_is(x, 2, "DescribeDBInstancesResult"))
        return;
    if (RNS_GROW_LIST(r->out, 1) != 0) {
        query_xml_fail(x, "out of memory reading DB instances");
        return;
    }
    memset(&r->out->items[r->out->count++], 0, sizeof(rds_instance));
    r->instance_depth = query_xml_depth(x);
}

static void instance_end(query_xml *x, void *ctx)
{
    instance_reader *r = ctx;
    int rel = query_xml_depth(x) - r->instance_depth;
    if (!r->instance_depth) {
        if (query_xml_is(x, 0, "Marker") && query_xml_is(x, 1, "DescribeDBInstancesResult"))
            query_xml_take(x, r->marker, RDS_MARKER_MAX, "DescribeDBInstancesResult/Marker");
        return;
    }
    rds_instance *in = &r->out->items[r->out->count - 1];
    if (rel == 1 && query_xml_is(x, 0, "DBInstanceIdentifier"))
        query_xml_take(x, in->id, sizeof in->id, "DBInstance/DBInstanceIdentifier");
    else if (rel == 1 && query_xml_is(x, 0, "DBInstanceStatus"))
        query_xml_take(x, in->status, sizeof in->status, "DBInstance/DBInstanceStatus");
    else if (rel == 2 && query_xml_is(x, 0, "Address") && query_xml_is(x, 1, "Endpoint"))
        query_xml_take(x, in->address, sizeof in->address, "DBInstance/Endpoint/Address");
    else if (rel == 0) {
        if (!in->id[0])
            query_xml_fail(x, "a DBInstance has no DBInstanceIdentifier");
        r->instance_depth = 0;
    }
}

static query_xml_callbacks instance_callbacks(instance_reader *r, rds_instance_list *page, char marker[RDS_MARKER_MAX])
{
    query_xml_callbacks cb = {r, instance_start, instance_end, instance_reset};
    r->out = page;
    r->marker = marker;
    r->instance_depth = 0;
    marker[0] = '\0';
    return cb;
}

/* Moves a parsed page to the end of *out. */
static int append_page(rds_instance_list *out, rds_instance_list *page, aws_error *err)
{
    int rc = 0;
    if (page->count && RNS_GROW_LIST(out, page->count) != 0) {
        aws_error_set(err, "MalformedResponse", "out of memory reading DB instances");
        rc = -1;
    } else if (page->count) {
        memcpy(out->items + out->count, page->items, page->count * sizeof *page->items);
        out->count += page->count;
    }
    rds_instance_list_free(page);
    return rc;
}

int rds_parse_instances(const char *xml, size_t len, rds_instance_list *out, char marker[RDS_MARKER_MAX],
                        aws_error *err)
{
    rds_instance_list page = {NULL, 0};
    instance_reader r;
    query_xml_callbacks cb = instance_callbacks(&r, &page, marker);
    if (query_xml_parse(xml, len, "DescribeDBInstancesResponse", &cb, err) != 0) {
        rds_instance_list_free(&page);
        return -1;
    }
    return append_page(out, &page, err);
}

/* ---- the calls ---- */

int rds_describe_cluster(query_client *q, const char *cluster_id, int64_t deadline_ms, rds_cluster *out, aws_error *err)
{
    cluster_reader r;
    query_xml_callbacks cb = cluster_callbacks(&r, out);
    char *body = rds_clusters_body(cluster_id);
    int rc;
    memset(err, 0, sizeof *err);
    if (!body) {
        aws_error_set(err, "InvalidParameterValue", "out of memory building the DescribeDBClusters request");
        return -1;
    }
    rc = query_call(q, "DescribeDBClusters", body, deadline_ms, &cb, err);
    free(body);
    if (rc != 0) {
        rds_cluster_free(out);
        return -1;
    }
    return no_cluster(&r, out, err);
}

static int instances_page(query_client *q, const char *cluster_id, const char *marker, int64_t deadline_ms,
                          rds_instance_list *page, char next[RDS_MARKER_MAX], aws_error *err)
{
    instance_reader r;
    query_xml_callbacks cb = instance_callbacks(&r, page, next);
    char *body = rds_instances_body(cluster_id, marker);
    int rc;
    if (!body) {
        aws_error_set(err, "InvalidParameterValue", "out of memory building the DescribeDBInstances request");
        return -1;
    }
    rc = query_call(q, "DescribeDBInstances", body, deadline_ms, &cb, err);
    free(body);
    return rc;
}

int rds_describe_cluster_instances(query_client *q, const char *cluster_id, int64_t deadline_ms, rds_instance_list *out,
                                   int *pages, aws_error *err)
{
    char marker[RDS_MARKER_MAX] = "", next[RDS_MARKER_MAX];
    int n, rc = 0;
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    for (n = 1; rc == 0; n++) {
        rds_instance_list page = {NULL, 0};
        if (n > RDS_MAX_PAGES) {
            aws_error_set(err, "MalformedResponse", "more than %d DescribeDBInstances pages", RDS_MAX_PAGES);
            rc = -1;
            break;
        }
        rc = instances_page(q, cluster_id, marker, deadline_ms, &page, next, err);
        if (rc == 0)
            rc = append_page(out, &page, err);
        rds_instance_list_free(&page);
        if (rc != 0 || !next[0])
            break;
        if (strcmp(next, marker) == 0) {
            aws_error_set(err, "MalformedResponse", "DescribeDBInstances answered the Marker it was sent");
            rc = -1;
            break;
        }
        memcpy(marker, next, sizeof marker);
    }
    if (pages)
        *pages = n > RDS_MAX_PAGES ? RDS_MAX_PAGES : n;
    if (rc != 0)
        rds_instance_list_free(out);
    return rc;
}

/* ---- lists ---- */

const rds_instance *rds_instance_find(const rds_instance_list *l, const char *id)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcasecmp(l->items[i].id, id) == 0)
            return &l->items[i];
    return NULL;
}

void rds_cluster_free(rds_cluster *c)
{
    if (!c)
        return;
    free(c->items);
    memset(c, 0, sizeof *c);
}

void rds_instance_list_free(rds_instance_list *l)
{
    if (!l)
        return;
    free(l->items);
    memset(l, 0, sizeof *l);
}
