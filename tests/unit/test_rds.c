/* Unit tests of the RDS client's wire format (handler/aws/rds.c): our
 * fixtures (tests/fixtures/rds) parsed field by field, the by-name traps,
 * malformed answers, the form bodies, and, when ../shared is present,
 * botocore's signed golden requests signed again by our signer for service
 * rds; the default endpoints; which reader statuses serve. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "handler/aws/rds.h"
#include "handler/sync/cluster.h"
#include "sigv4/sigv4.h"

#define GOLDEN_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define DOMAIN ".abc123xyz.eu-west-1.rds.amazonaws.com"

static char *fixture(const char *name, size_t *len)
{
    return check_fixture("rds", name, len);
}

static int clusters_from(const char *name, rds_cluster *c, aws_error *e)
{
    size_t len = 0;
    char *xml = fixture(name, &len);
    int rc = xml ? rds_parse_clusters(xml, len, c, e) : -2;
    free(xml);
    return rc;
}

static int instances_from(const char *name, rds_instance_list *l, char *marker, aws_error *e)
{
    size_t len = 0;
    char *xml = fixture(name, &len);
    int rc = xml ? rds_parse_instances(xml, len, l, marker, e) : -2;
    free(xml);
    return rc;
}

static void test_cluster(void)
{
    rds_cluster c;
    aws_error e;
    CHECK_INT(clusters_from("describe-db-clusters.response.xml", &c, &e), 0);
    CHECK_STR(c.id, "aurora-orders");
    CHECK_STR(c.status, "available"); /* not VpcSecurityGroupMembership/Status */
    CHECK_STR(c.endpoint, "aurora-orders.cluster-abc123xyz.eu-west-1.rds.amazonaws.com");
    CHECK_STR(c.reader_endpoint, "aurora-orders.cluster-ro-abc123xyz.eu-west-1.rds.amazonaws.com");
    CHECK_INT(c.count, 3);
    if (c.count == 3) {
        /* answer order; IsClusterWriter before or after the id */
        CHECK_STR(c.items[0].id, "aurora-orders-instance-3");
        CHECK_INT(c.items[0].writer, 0);
        CHECK_STR(c.items[1].id, "aurora-orders-instance-1");
        CHECK_INT(c.items[1].writer, 1);
        CHECK_STR(c.items[2].id, "aurora-orders-instance-2");
        CHECK_INT(c.items[2].writer, 0);
    }
    rds_cluster_free(&c);
}

static void test_cluster_failover(void)
{
    rds_cluster c;
    aws_error e;
    CHECK_INT(clusters_from("describe-db-clusters-failover-no-writer.response.xml", &c, &e), 0);
    CHECK_STR(c.status, "failing-over");
    CHECK_INT(c.count, 3);
    for (size_t i = 0; i < c.count; i++)
        CHECK_INT(c.items[i].writer, 0);
    rds_cluster_free(&c);
    CHECK_INT(clusters_from("describe-db-clusters-after-failover.response.xml", &c, &e), 0);
    CHECK_INT(c.count, 3);
    if (c.count == 3) {
        CHECK_STR(c.items[2].id, "aurora-orders-instance-2");
        CHECK_INT(c.items[2].writer, 1);
        CHECK_INT(c.items[1].writer, 0);
    }
    rds_cluster_free(&c);
}

static void test_instance_pages(void)
{
    rds_instance_list l = {NULL, 0};
    char marker[RDS_MARKER_MAX];
    aws_error e;
    CHECK_INT(instances_from("describe-db-instances-page1.response.xml", &l, marker, &e), 0);
    CHECK_STR(marker, "AQICAHhbmKn+/zUyeEXAMPLEbWFya2VyLTI=");
    CHECK_INT(l.count, 2);
    CHECK_INT(instances_from("describe-db-instances-page2.response.xml", &l, marker, &e), 0);
    CHECK_STR(marker, "");
    CHECK_INT(instances_from("describe-db-instances-creating.response.xml", &l, marker, &e), 0);
    CHECK_INT(l.count, 4); /* appended page by page */
    if (l.count == 4) {
        CHECK_STR(l.items[0].id, "aurora-orders-instance-1");
        CHECK_STR(l.items[0].status, "available"); /* not OptionGroupMembership/Status */
        CHECK_STR(l.items[0].address, "aurora-orders-instance-1" DOMAIN);
        CHECK_STR(l.items[1].id, "aurora-orders-instance-2");
        CHECK_STR(l.items[2].address, "aurora-orders-instance-3" DOMAIN);
        CHECK_STR(l.items[3].id, "aurora-orders-instance-4");
        CHECK_STR(l.items[3].status, "creating");
        CHECK_STR(l.items[3].address, ""); /* no Endpoint while creating */
    }
    CHECK(rds_instance_find(&l, "AURORA-ORDERS-INSTANCE-2") == &l.items[1]);
    CHECK(rds_instance_find(&l, "aurora-orders-instance-9") == NULL);
    rds_instance_list_free(&l);
    CHECK_INT(l.count, 0);
}

static void test_errors(void)
{
    static const char *const cases[][3] = {
        {"error-db-cluster-not-found.response.xml", "DBClusterNotFoundFault", "DBCluster aurora-orders-old not found."},
        {"error-throttling.response.xml", "Throttling", "Rate exceeded"},
        {"error-access-denied.response.xml", "AccessDenied", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rds_cluster c;
        rds_instance_list l = {NULL, 0};
        char marker[RDS_MARKER_MAX];
        aws_error e;
        CHECK_INT(clusters_from(cases[i][0], &c, &e), -1);
        CHECK_STR(e.code, cases[i][1]);
        if (cases[i][2])
            CHECK_STR(e.message, cases[i][2]);
        CHECK(strlen(e.request_id) == 36);
        CHECK_INT(c.count, 0);
        CHECK_INT(instances_from(cases[i][0], &l, marker, &e), -1);
        CHECK_STR(e.code, cases[i][1]);
        CHECK_INT(l.count, 0);
    }
}

static int parse_clusters_text(const char *xml, aws_error *e)
{
    rds_cluster c;
    int rc = rds_parse_clusters(xml, strlen(xml), &c, e);
    if (rc == 0)
        rds_cluster_free(&c);
    else
        CHECK_INT(c.count, 0);
    return rc;
}

#define CLUSTERS(inner)                                                                       \
    "<DescribeDBClustersResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">"         \
    "<DescribeDBClustersResult><DBClusters>" inner "</DBClusters></DescribeDBClustersResult>" \
    "</DescribeDBClustersResponse>"
#define MEMBER(id, w)                                                      \
    "<DBClusterMember><DBInstanceIdentifier>" id "</DBInstanceIdentifier>" \
    "<IsClusterWriter>" w "</IsClusterWriter></DBClusterMember>"
#define CLUSTER(members)                                                                 \
    "<DBCluster><DBClusterIdentifier>c1</DBClusterIdentifier><Status>available</Status>" \
    "<DBClusterMembers>" members "</DBClusterMembers></DBCluster>"

static void test_malformed(void)
{
    aws_error e;
    char long_id[200];
    CHECK_INT(parse_clusters_text(CLUSTERS(CLUSTER(MEMBER("a", "true") MEMBER("b", "false"))), &e), 0);
    CHECK_INT(parse_clusters_text(CLUSTERS(""), &e), -1);
    CHECK_STR(e.code, "DBClusterNotFoundFault");
    CHECK_INT(parse_clusters_text(CLUSTERS(CLUSTER(MEMBER("a", "yes"))), &e), -1);
    CHECK_STR(e.code, "MalformedResponse");
    CHECK(strstr(e.message, "IsClusterWriter") != NULL);
    CHECK_INT(parse_clusters_text(CLUSTERS(CLUSTER(MEMBER("a", "true")) CLUSTER(MEMBER("b", "true"))), &e), -1);
    CHECK(strstr(e.message, "more than one DBCluster") != NULL);
    CHECK_INT(parse_clusters_text(CLUSTERS(CLUSTER("<DBClusterMember><IsClusterWriter>true</IsClusterWriter>"
                                                   "</DBClusterMember>")),
                                  &e),
              -1);
    CHECK(strstr(e.message, "no DBInstanceIdentifier") != NULL);
    memset(long_id, 'a', 100);
    snprintf(long_id + 100, sizeof long_id - 100, "%s", "");
    char doc[1024];
    snprintf(doc, sizeof doc,
             CLUSTERS(CLUSTER("<DBClusterMember><DBInstanceIdentifier>%s</DBInstanceIdentifier>"
                              "</DBClusterMember>")),
             long_id);
    CHECK_INT(parse_clusters_text(doc, &e), -1); /* a cut id would name another instance */
    CHECK_STR(e.code, "MalformedResponse");
    /* another action's answer, broken XML */
    CHECK_INT(parse_clusters_text("<DescribeDBInstancesResponse><DescribeDBInstancesResult/>"
                                  "</DescribeDBInstancesResponse>",
                                  &e),
              -1);
    CHECK_STR(e.code, "MalformedResponse");
    CHECK_INT(parse_clusters_text(CLUSTERS(CLUSTER(MEMBER("a", "true"))) "<x", &e), -1);
    CHECK_STR(e.code, "MalformedResponse");
    /* a member's fields nested deeper are not the member's */
    CHECK_INT(parse_clusters_text(CLUSTERS(CLUSTER("<DBClusterMember><DBInstanceIdentifier>m</DBInstanceIdentifier>"
                                                   "<X><IsClusterWriter>maybe</IsClusterWriter></X>"
                                                   "</DBClusterMember>")),
                                  &e),
              0);
}

static void test_instance_without_id(void)
{
    const char *xml = "<DescribeDBInstancesResponse><DescribeDBInstancesResult><DBInstances>"
                      "<DBInstance><DBInstanceStatus>available</DBInstanceStatus></DBInstance>"
                      "</DBInstances></DescribeDBInstancesResult></DescribeDBInstancesResponse>";
    rds_instance_list l = {NULL, 0};
    char marker[RDS_MARKER_MAX];
    aws_error e;
    CHECK_INT(rds_parse_instances(xml, strlen(xml), &l, marker, &e), -1);
    CHECK_STR(e.code, "MalformedResponse");
    CHECK_INT(l.count, 0);
}

static void test_bodies(void)
{
    char *b = rds_clusters_body("aurora-orders");
    CHECK_STR(b, "Action=DescribeDBClusters&Version=2014-10-31&DBClusterIdentifier=aurora-orders");
    free(b);
    b = rds_instances_body("aurora-orders", NULL);
    CHECK_STR(b, "Action=DescribeDBInstances&Version=2014-10-31&Filters.Filter.1.Name=db-cluster-id"
                 "&Filters.Filter.1.Values.Value.1=aurora-orders");
    free(b);
    b = rds_instances_body("aurora-orders", "AQICAHhbmKn+/zUyeEXAMPLEbWFya2VyLTI=");
    CHECK_STR(b, "Action=DescribeDBInstances&Version=2014-10-31&Filters.Filter.1.Name=db-cluster-id"
                 "&Filters.Filter.1.Values.Value.1=aurora-orders&Marker=AQICAHhbmKn%2B%2FzUyeEXAMPLEbWFya2VyLTI%3D");
    free(b);
}

/* botocore's signed requests (the shared fixtures' *.request.json): our
 * body, and our signature over it for service rds. */
static void check_golden(const char *shared, const char *name, char *body)
{
    char path[512];
    json_error_t jerr;
    json_t *doc, *h;
    size_t i;
    const char *authz = NULL, *token = NULL;
    snprintf(path, sizeof path, "%s/fixtures/rds/%s.request.json", shared, name);
    CHECK((doc = json_load_file(path, 0, &jerr)) != NULL);
    if (!doc) {
        free(body);
        return;
    }
    CHECK_STR(body, json_string_value(json_object_get(doc, "body")));
    json_array_foreach(json_object_get(doc, "headers"), i, h)
    {
        const char *k = json_string_value(json_array_get(h, 0)), *v = json_string_value(json_array_get(h, 1));
        if (strcmp(k, "Authorization") == 0)
            authz = v;
        else if (strcmp(k, "X-Amz-Security-Token") == 0)
            token = v;
    }
    sigv4_header headers[2] = {{"Host", json_string_value(json_object_get(doc, "host"))},
                               {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    sigv4_request req = {"POST", "/", headers, 2, body, strlen(body)};
    sigv4_credentials creds = {"AKIDEXAMPLE", GOLDEN_SECRET, token};
    sigv4_params params = {"eu-west-1", rds_service.signing_name, "20150830T123600Z"};
    sigv4_signature sig;
    sigv4_signer *s = sigv4_signer_new();
    char why[256];
    CHECK_INT(sigv4_sign(s, &req, &creds, &params, &sig, why, sizeof why), 0);
    CHECK_STR(sig.canonical_request, json_string_value(json_object_get(doc, "canonical_request")));
    CHECK_STR(sig.authorization, authz);
    sigv4_signature_free(&sig);
    sigv4_signer_free(s);
    json_decref(doc);
    free(body);
}

static void test_golden_requests(void)
{
    const char *shared = getenv("RNS_SHARED");
    check_golden(shared, "describe-db-clusters", rds_clusters_body("aurora-orders"));
    check_golden(shared, "describe-db-instances", rds_instances_body("aurora-orders", NULL));
    check_golden(shared, "describe-db-instances-marker-session-token",
                 rds_instances_body("aurora-orders", "AQICAHhbmKn+/zUyeEXAMPLEbWFya2VyLTI="));
}

static void test_default_endpoints(void)
{
    char url[256];
    CHECK_INT(rds_default_endpoint("eu-west-1", url, sizeof url), 0);
    CHECK_STR(url, "https://rds.eu-west-1.amazonaws.com");
    CHECK_INT(rds_default_endpoint("cn-northwest-1", url, sizeof url), 0);
    CHECK_STR(url, "https://rds.cn-northwest-1.amazonaws.com.cn");
    CHECK_INT(rds_default_endpoint("us-gov-west-1", url, sizeof url), 0);
    CHECK_STR(url, "https://rds.us-gov-west-1.amazonaws.com");
    CHECK_INT(rds_default_endpoint("not a region", url, sizeof url), -1);
    CHECK_STR(rds_service.signing_name, "rds");
    CHECK_STR(rds_service.api_version, "2014-10-31");
}

static void test_serving_statuses(void)
{
    static const char *const serve[] = {"available",
                                        "backing-up",
                                        "modifying",
                                        "rebooting",
                                        "upgrading",
                                        "storage-optimization",
                                        "configuring-log-exports",
                                        "maintenance"};
    static const char *const never[] = {"creating",
                                        "deleting",
                                        "failed",
                                        "stopped",
                                        "stopping",
                                        "starting",
                                        "insufficient-capacity",
                                        "inaccessible-encryption-credentials",
                                        "inaccessible-encryption-credentials-recoverable",
                                        "incompatible-network",
                                        "incompatible-parameters",
                                        "incompatible-restore"};
    for (size_t i = 0; i < sizeof serve / sizeof *serve; i++)
        CHECK(cluster_status_serves(serve[i]));
    for (size_t i = 0; i < sizeof never / sizeof *never; i++)
        CHECK(!cluster_status_serves(never[i]));
}

int main(void)
{
    RUN(test_cluster);
    RUN(test_cluster_failover);
    RUN(test_instance_pages);
    RUN(test_errors);
    RUN(test_malformed);
    RUN(test_instance_without_id);
    RUN(test_bodies);
    if (getenv("RNS_SHARED") && *getenv("RNS_SHARED"))
        RUN(test_golden_requests);
    else
        check_skip("test_golden_requests", "RNS_SHARED not set");
    RUN(test_default_endpoints);
    RUN(test_serving_statuses);
    return check_done();
}
