/* handler/sync/result.c, metrics.c and cfn.c's documents: exact JSON text, key
 * order, nulls, sorting, formatting. */
#include <jansson.h>
#include <stdlib.h>

#include "check.h"
#include "handler/sync/cfn.h"
#include "handler/sync/cfn_internal.h"
#include "handler/sync/metrics.h"
#include "handler/sync/metrics_internal.h"
#include "handler/sync/plan.h"
#include "handler/sync/result.h"

#define ARN "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/pg-writer-tg/5d2c7e41a9b3f086"

static binding binding_for_tests(void)
{
    binding c;
    memset(&c, 0, sizeof c);
    c.target_group_arn = ARN;
    c.target_group_name = "pg-writer-tg";
    c.endpoint = "orders-db.abc123xyz.eu-west-1.rds.amazonaws.com";
    c.port = 5432;
    return c;
}

static void add_addr(addr_list *l, const char *text)
{
    ip_addr a;
    ip_addr_parse(text, &a);
    addr_list_add(l, &a);
}

static void add_target(elb_target_list *l, const char *id, int port)
{
    l->items = realloc(l->items, (l->count + 1) * sizeof *l->items);
    elb_target *t = &l->items[l->count++];
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", id);
    t->port = port;
}

static char *dump_and_free(json_t *j)
{
    char *s = result_dump(j, NULL);
    json_decref(j);
    return s;
}

static void test_contract_example(void)
{
    binding c = binding_for_tests();
    event_info ev;
    reconcile_report rep;
    memset(&ev, 0, sizeof ev);
    memset(&rep, 0, sizeof rep);
    ev.trigger = TRIGGER_RDS_EVENT;
    strcpy(ev.event_id, "RDS-EVENT-0049");
    strcpy(ev.source_id, "orders-db");
    add_addr(&rep.resolved, "10.20.2.118");
    add_target(&rep.registered, "10.20.2.118", 5432);
    add_target(&rep.deregistered, "10.20.1.9", 5432);
    rep.dns_changed = 1;
    rep.waited = 1;
    rep.waited_ms = 4120;
    rep.converged = 1;
    char *s = dump_and_free(result_build(&c, &ev, &rep));
    CHECK_STR(s, "{\"trigger\":\"rds-event\",\"eventId\":\"RDS-EVENT-0049\",\"sourceId\":\"orders-db\","
                 "\"endpoint\":\"orders-db.abc123xyz.eu-west-1.rds.amazonaws.com\",\"port\":5432,"
                 "\"targetGroupArn\":\"" ARN "\","
                 "\"resolved\":[\"10.20.2.118\"],\"rejected\":[],"
                 "\"registered\":[\"10.20.2.118:5432\"],\"deregistered\":[\"10.20.1.9:5432\"],\"unchanged\":[],"
                 "\"dryRun\":false,\"dnsChanged\":true,\"waitedMs\":4120,\"converged\":true,\"discovery\":\"dns\","
                 "\"routing\":\"targets\"}");
    free(s);
    reconcile_report_free(&rep);
}

static void test_nulls_sorting_ipv6(void)
{
    binding c = binding_for_tests();
    event_info ev;
    reconcile_report rep;
    memset(&ev, 0, sizeof ev);
    memset(&rep, 0, sizeof rep);
    ev.trigger = TRIGGER_SCHEDULE;
    add_addr(&rep.resolved, "fd00::5");
    add_addr(&rep.resolved, "54.1.2.3");
    add_addr(&rep.resolved, "10.0.0.10");
    add_addr(&rep.resolved, "10.0.0.9");
    add_addr(&rep.rejected, "54.1.2.3");
    add_target(&rep.registered, "fd00::5", 5432);
    add_target(&rep.registered, "10.0.0.10", 5432);
    add_target(&rep.registered, "10.0.0.9", 5432);
    add_target(&rep.deregistered, "10.0.0.9", 6000);
    add_target(&rep.deregistered, "10.0.0.9", 80);
    rep.dry_run = 1;
    rep.converged = 1;
    char *s = dump_and_free(result_build(&c, &ev, &rep));
    CHECK(strstr(s, "{\"trigger\":\"schedule\",\"eventId\":null,\"sourceId\":null,") == s);
    CHECK(strstr(s, "\"resolved\":[\"10.0.0.9\",\"10.0.0.10\",\"54.1.2.3\",\"fd00::5\"],"
                    "\"rejected\":[\"54.1.2.3\"],"
                    "\"registered\":[\"10.0.0.9:5432\",\"10.0.0.10:5432\",\"[fd00::5]:5432\"],"
                    "\"deregistered\":[\"10.0.0.9:80\",\"10.0.0.9:6000\"],\"unchanged\":[],"
                    "\"dryRun\":true,\"dnsChanged\":false,\"waitedMs\":0,\"converged\":true,\"discovery\":\"dns\","
                    "\"routing\":\"targets\"}") != NULL);
    free(s);
    reconcile_report_free(&rep);
}

static void test_triggers(void)
{
    CHECK_STR(event_trigger_name(TRIGGER_RDS_EVENT), "rds-event");
    CHECK_STR(event_trigger_name(TRIGGER_SCHEDULE), "schedule");
    CHECK_STR(event_trigger_name(TRIGGER_CLOUDFORMATION), "cloudformation");
    CHECK_STR(event_trigger_name(TRIGGER_MANUAL), "manual");
}

static void test_cloudformation_additions(void)
{
    binding c = binding_for_tests();
    event_info ev;
    reconcile_report rep;
    rns_error e;
    memset(&ev, 0, sizeof ev);
    memset(&rep, 0, sizeof rep);
    ev.trigger = TRIGGER_CLOUDFORMATION;
    rns_error_set(&e, RNS_ERR_RESOLVE, "no usable address for %s", "x");
    json_t *r = result_build(&c, &ev, &rep);
    result_add_cloudformation(r, "FAILED", &e);
    char *s = dump_and_free(r);
    CHECK(
        strstr(s,
               "\"converged\":false,\"discovery\":\"dns\",\"routing\":\"targets\",\"cloudformationStatus\":\"FAILED\","
               "\"error\":{\"errorType\":\"ResolveError\",\"errorMessage\":\"no usable address for x\"}}") != NULL);
    free(s);
    rns_error_clear(&e);
    r = result_build(&c, &ev, &rep);
    result_add_cloudformation(r, "SUCCESS", &e);
    s = dump_and_free(r);
    CHECK(strstr(s, "\"converged\":false,\"discovery\":\"dns\",\"routing\":\"targets\",\"cloudformationStatus\":"
                    "\"SUCCESS\"}") != NULL);
    CHECK(strstr(s, "\"error\"") == NULL);
    free(s);
}

static void test_error_json(void)
{
    rns_error e;
    rns_error_set(&e, RNS_ERR_ELB_API, "RegisterTargets failed: \"quoted\" %s", "text");
    char *s = dump_and_free(result_error(&e));
    CHECK_STR(s, "{\"errorType\":\"ElbApiError\",\"errorMessage\":\"RegisterTargets failed: \\\"quoted\\\" text\"}");
    free(s);
    /* not UTF-8 (a value from the environment): still valid JSON, each bad byte a U+FFFD */
    rns_error_set(&e, RNS_ERR_CONFIG, "DB_PORT=\xff\xfe: must be 1..65535");
    s = dump_and_free(result_error(&e));
    CHECK_STR(s, "{\"errorType\":\"Runtime.ConfigError\",\"errorMessage\":\"DB_PORT=\xEF\xBF\xBD\xEF\xBF\xBD: must be "
                 "1..65535\"}");
    free(s);
}

/* One name per type, each distinct; only "no error" has none. */
static void test_error_type_names(void)
{
    CHECK_STR(rns_error_type_name(RNS_ERR_NONE), "");
    CHECK_STR(rns_error_type_name(RNS_ERR_RDS_API), "RdsApiError");
    CHECK_STR(rns_error_type_name(RNS_ERR_CONFIG), "Runtime.ConfigError");
    for (int i = 1; i < RNS_ERR_TYPE_COUNT; i++) {
        CHECK(rns_error_type_name((rns_error_type)i)[0] != '\0');
        for (int j = 1; j < i; j++)
            CHECK(strcmp(rns_error_type_name((rns_error_type)i), rns_error_type_name((rns_error_type)j)) != 0);
    }
    rns_error e;
    rns_error_clear(&e);
    CHECK(!rns_error_failed(&e));
    rns_error_nomem(&e, "doing x");
    CHECK(rns_error_failed(&e));
    CHECK_STR(e.message, "out of memory doing x");
}

static void test_metrics_line(void)
{
    metrics_values v = {1, 2, 4120, 180, 0, "rds-event", "RDS-EVENT-0049", ""};
    char *line = metrics_line("RdsNlbSync", "pg-writer-tg", &v, 1717000000123LL);
    CHECK_STR(line,
              "{\"_aws\":{\"CloudWatchMetrics\":[{\"Namespace\":\"RdsNlbSync\",\"Dimensions\":[[\"TargetGroup\"]],"
              "\"Metrics\":[{\"Name\":\"TargetsRegistered\",\"Unit\":\"Count\"},"
              "{\"Name\":\"TargetsDeregistered\",\"Unit\":\"Count\"},"
              "{\"Name\":\"DnsWaitMs\",\"Unit\":\"Milliseconds\"},"
              "{\"Name\":\"ReconcileMs\",\"Unit\":\"Milliseconds\"},"
              "{\"Name\":\"Errors\",\"Unit\":\"Count\"}]}],\"Timestamp\":1717000000123},"
              "\"TargetGroup\":\"pg-writer-tg\",\"TargetsRegistered\":1,\"TargetsDeregistered\":2,"
              "\"DnsWaitMs\":4120,\"ReconcileMs\":180,\"Errors\":0,\"trigger\":\"rds-event\","
              "\"eventId\":\"RDS-EVENT-0049\"}");
    free(line);
    metrics_values err = {0, 0, 0, 20, 1, "manual", NULL, "ResolveError"};
    line = metrics_line("Team/Db", "tg", &err, 1);
    CHECK(strstr(line, "\"Errors\":1,\"trigger\":\"manual\",\"errorType\":\"ResolveError\"}") != NULL);
    free(line);
    CHECK(metrics_line("", "tg", &v, 1) == NULL);
    CHECK(metrics_line(NULL, "tg", &v, 1) == NULL);
}

static cfn_request cfn_req(cfn_request_type type, const char *physical)
{
    cfn_request r;
    memset(&r, 0, sizeof r);
    r.type = type;
    r.response_url =
        "https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/arn%3A?X-Amz-Signature=abc";
    r.stack_id = "arn:aws:cloudformation:eu-west-1:111122223333:stack/s/1";
    r.request_id = "req-1";
    r.logical_resource_id = "Sync";
    r.physical_resource_id = (char *)physical;
    return r;
}

static void test_cfn_physical_id(void)
{
    char out[256];
    cfn_request r = cfn_req(CFN_CREATE, NULL);
    cfn_physical_id(&r, "pg-writer-tg", out, sizeof out);
    CHECK_STR(out, "rds-nlb-sync-pg-writer-tg");
    r = cfn_req(CFN_UPDATE, "kept-id");
    cfn_physical_id(&r, "pg-writer-tg", out, sizeof out);
    CHECK_STR(out, "kept-id");
    r = cfn_req(CFN_DELETE, "kept-id");
    cfn_physical_id(&r, "pg-writer-tg", out, sizeof out);
    CHECK_STR(out, "kept-id");
    r = cfn_req(CFN_DELETE, NULL);
    cfn_physical_id(&r, "pg-writer-tg", out, sizeof out);
    CHECK_STR(out, "rds-nlb-sync-pg-writer-tg");
}

static void test_cfn_body(void)
{
    cfn_request r = cfn_req(CFN_CREATE, NULL);
    json_t *data = json_pack("{s:s}", "Registered", "1");
    char *body = cfn_response_body(&r, "SUCCESS", "Create: 1 registered", "rds-nlb-sync-tg", data);
    CHECK_STR(body,
              "{\"Status\":\"SUCCESS\",\"Reason\":\"Create: 1 registered\",\"PhysicalResourceId\":\"rds-nlb-sync-tg\","
              "\"StackId\":\"arn:aws:cloudformation:eu-west-1:111122223333:stack/s/1\",\"RequestId\":\"req-1\","
              "\"LogicalResourceId\":\"Sync\",\"NoEcho\":false,\"Data\":{\"Registered\":\"1\"}}");
    free(body);
    json_decref(data);
    char reason[5000];
    memset(reason, 'r', sizeof reason - 1);
    reason[sizeof reason - 1] = '\0';
    body = cfn_response_body(&r, "FAILED", reason, "p", NULL);
    CHECK(strlen(body) < 4096);
    CHECK(strstr(body, "\"Data\":{}") != NULL);
    free(body);
}

static void test_cfn_url_host(void)
{
    char host[256];
    cfn_url_host("https://bucket.s3.amazonaws.com/path/x?X-Amz-Signature=SECRET", host, sizeof host);
    CHECK_STR(host, "bucket.s3.amazonaws.com");
    cfn_url_host("http://127.0.0.1:8080/cfn?sig=1", host, sizeof host);
    CHECK_STR(host, "127.0.0.1:8080");
    cfn_url_host("https://user:pw@host.example/x", host, sizeof host);
    CHECK_STR(host, "host.example");
    /* fuzz_addr finding: an '@' left inside the userinfo showed its end. */
    cfn_url_host("https://user:p@ss@host.example/x", host, sizeof host);
    CHECK_STR(host, "host.example");
    cfn_url_host("https://elb.eu-we@t-0.amazonaws.com@", host, sizeof host);
    CHECK_STR(host, "");
    cfn_url_host("", host, sizeof host);
    CHECK_STR(host, "");
}

int main(void)
{
    RUN(test_contract_example);
    RUN(test_nulls_sorting_ipv6);
    RUN(test_triggers);
    RUN(test_cloudformation_additions);
    RUN(test_error_json);
    RUN(test_error_type_names);
    RUN(test_metrics_line);
    RUN(test_cfn_physical_id);
    RUN(test_cfn_body);
    RUN(test_cfn_url_host);
    return check_done();
}
