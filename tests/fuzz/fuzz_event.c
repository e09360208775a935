/* libFuzzer target: event recognition (handler/sync/event.c) on any bytes, and
 * what the handler builds from a recognised event (result JSON, the
 * CloudFormation answer, the log fields), with the contract's invariants
 * checked on every input. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "handler/sync/cfn.h"
#include "handler/sync/cfn_internal.h"
#include "handler/sync/event.h"
#include "handler/sync/event_internal.h"
#include "handler/sync/result.h"
#include "tests/fuzz/fuzz.h"

#define DB_IDENTIFIER "orders-db"

static const char *const result_keys[] = {
    "trigger",    "eventId",      "sourceId",  "endpoint", "port",       "targetGroupArn", "resolved",  "rejected",
    "registered", "deregistered", "unchanged", "dryRun",   "dnsChanged", "waitedMs",       "converged",
};

static int valid_event_id(const char *id)
{
    if (!id[0])
        return 1;
    if (strlen(id) != 14 || strncmp(id, "RDS-EVENT-", 10) != 0)
        return 0;
    for (int i = 10; i < 14; i++)
        if (id[i] < '0' || id[i] > '9')
            return 0;
    return 1;
}

static void check_result(const event_info *ev)
{
    binding cfg;
    reconcile_report rep;
    memset(&cfg, 0, sizeof cfg);
    memset(&rep, 0, sizeof rep);
    cfg.endpoint = "orders-db.abc123xyz.eu-west-1.rds.amazonaws.com";
    cfg.port = 5432;
    cfg.target_group_arn = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/tg/0123";
    json_t *r = result_build(&cfg, ev, &rep);
    FUZZ_CHECK(r != NULL);
    for (size_t i = 0; i < sizeof result_keys / sizeof *result_keys; i++)
        FUZZ_CHECK(json_object_get(r, result_keys[i]) != NULL);
    char *text = result_dump(r, NULL);
    FUZZ_CHECK(text != NULL);
    free(text);
    json_decref(r);
}

static void check_cloudformation(const event_info *ev)
{
    const cfn_request *c = &ev->cfn;
    char physical[512], host[256];
    FUZZ_CHECK(c->response_url && c->stack_id && c->request_id && c->logical_resource_id);
    cfn_physical_id(c, "tg", physical, sizeof physical);
    cfn_url_host(c->response_url, host, sizeof host);
    FUZZ_CHECK(!strchr(host, '/') && !strchr(host, '?') && !strchr(host, '@'));
    json_t *data = json_object();
    char *body = cfn_response_body(c, "SUCCESS", "reason", physical, data);
    json_decref(data);
    /* The answer must always be sendable: the stack waits for it. */
    FUZZ_CHECK(body != NULL);
    json_t *parsed = json_loads(body, 0, NULL);
    FUZZ_CHECK(parsed != NULL);
    FUZZ_CHECK(json_is_string(json_object_get(parsed, "StackId")));
    FUZZ_CHECK(json_is_string(json_object_get(parsed, "PhysicalResourceId")));
    json_decref(parsed);
    free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    event_info ev;
    char err[512];
    if (event_parse((const char *)data, size, DB_IDENTIFIER, &ev, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0] != '\0');
        FUZZ_CHECK(strlen(err) < sizeof err);
        return 0;
    }
    FUZZ_CHECK(ev.kind != NULL);
    FUZZ_CHECK(valid_event_id(ev.event_id));
    FUZZ_CHECK(strlen(ev.source_id) < sizeof ev.source_id);
    if (ev.failover)
        FUZZ_CHECK(event_is_failover_id(ev.event_id) && strcasecmp(ev.source_id, DB_IDENTIFIER) == 0);
    if (ev.trigger == TRIGGER_RDS_EVENT)
        FUZZ_CHECK(ev.event_id[0] != '\0');
    if (ev.trigger == TRIGGER_CLOUDFORMATION)
        check_cloudformation(&ev);
    else
        FUZZ_CHECK(ev.cfn.response_url == NULL);
    if (ev.dry_run)
        FUZZ_CHECK(ev.trigger == TRIGGER_MANUAL);
    check_result(&ev);
    event_info_free(&ev);
    return 0;
}
