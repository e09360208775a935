/* handler/sync/event.c: every row of the event table of README.md ("Events"), with
 * our fixtures (tests/fixtures/events) and, when RNS_SHARED is set, the
 * shared ones; wrong types, invalid payloads and the failover ID list. */
#include <stdlib.h>

#include "check.h"
#include "handler/sync/event.h"
#include "handler/sync/event_internal.h"

typedef struct expect {
    const char *file;
    const char *db; /* DB_IDENTIFIER */
    const char *trigger;
    const char *event_id;  /* "" = absent */
    const char *source_id; /* "" = absent */
    int failover;
    int dry_run;
    const char *kind;
} expect;

static const expect ours[] = {
    {"sns-rds-instance-failover-completed-0049.json", "orders-db", "rds-event", "RDS-EVENT-0049", "orders-db", 1, 0,
     "sns-rds"},
    {"sns-rds-instance-failover-completed-0049.json", "ORDERS-DB", "rds-event", "RDS-EVENT-0049", "orders-db", 1, 0,
     "sns-rds"},
    {"sns-rds-instance-failover-complete-legacy-0015.json", "orders-db", "rds-event", "RDS-EVENT-0015", "orders-db", 1,
     0, "sns-rds"},
    {"sns-rds-instance-activation-completed-0051.json", "orders-db", "rds-event", "RDS-EVENT-0051", "orders-db", 1, 0,
     "sns-rds"},
    {"sns-rds-instance-partial-failover-recovered-0065.json", "orders-db", "rds-event", "RDS-EVENT-0065", "orders-db",
     1, 0, "sns-rds"},
    {"sns-rds-instance-failover-started-0013.json", "orders-db", "rds-event", "RDS-EVENT-0013", "orders-db", 0, 0,
     "sns-rds"},
    {"sns-rds-cluster-failover-completed-0071.json", "orders-cluster", "rds-event", "RDS-EVENT-0071", "orders-cluster",
     1, 0, "sns-rds"},
    {"sns-rds-cluster-failover-completed-0071.json", "orders-db", "rds-event", "RDS-EVENT-0071", "orders-cluster", 0, 0,
     "sns-rds"},
    {"sns-rds-global-failover-finished-0185.json", "orders-cluster", "rds-event", "RDS-EVENT-0185", "orders-cluster", 1,
     0, "sns-rds"},
    {"sns-rds-other-db-failover-completed-0049.json", "orders-db", "rds-event", "RDS-EVENT-0049", "billing-db", 0, 0,
     "sns-rds"},
    {"sns-rds-backup-finished-0002.json", "orders-db", "rds-event", "RDS-EVENT-0002", "orders-db", 0, 0, "sns-rds"},
    {"sns-subscription-notice-plain-text.json", "orders-db", "manual", "", "", 0, 0, "sns-text"},
    {"sns-not-rds-json.json", "orders-db", "manual", "", "", 0, 0, "sns-other"},
    {"sns-eventbridge-rds-instance-failover-completed-0049.json", "orders-db", "rds-event", "RDS-EVENT-0049",
     "orders-db", 1, 0, "sns-eventbridge-rds"},
    {"sns-eventbridge-scheduled.json", "orders-db", "manual", "", "", 0, 0, "sns-other"},
    {"sns-two-records-backup-then-failover.json", "orders-db", "rds-event", "RDS-EVENT-0049", "orders-db", 1, 0,
     "sns-rds"},
    {"eventbridge-rds-instance-failover-completed-0049.json", "orders-db", "rds-event", "RDS-EVENT-0049", "orders-db",
     1, 0, "eventbridge-rds"},
    {"eventbridge-rds-cluster-failover-completed-0071-prefixed.json", "orders-cluster", "rds-event", "RDS-EVENT-0071",
     "orders-cluster", 1, 0, "eventbridge-rds"},
    {"eventbridge-rds-cluster-failover-started-0073.json", "orders-cluster", "rds-event", "RDS-EVENT-0073",
     "orders-cluster", 0, 0, "eventbridge-rds"},
    {"eventbridge-rds-blue-green-switchover-0248.json", "orders-db", "rds-event", "RDS-EVENT-0248", "orders-db", 1, 0,
     "eventbridge-rds"},
    {"eventbridge-rds-blue-green-switchover-0248.json", "other-db", "rds-event", "RDS-EVENT-0248", "orders-db", 0, 0,
     "eventbridge-rds"},
    {"eventbridge-rds-snapshot-0042.json", "orders-db", "rds-event", "RDS-EVENT-0042", "orders-db-snap", 0, 0,
     "eventbridge-rds"},
    {"eventbridge-ec2-state-change.json", "orders-db", "manual", "", "", 0, 0, "manual"},
    {"eventbridge-scheduled.json", "orders-db", "schedule", "", "", 0, 0, "schedule"},
    {"cloudformation-create.json", "orders-db", "cloudformation", "", "", 0, 0, "cloudformation"},
    {"cloudformation-update.json", "orders-db", "cloudformation", "", "", 0, 0, "cloudformation"},
    {"cloudformation-delete.json", "orders-db", "cloudformation", "", "", 0, 0, "cloudformation"},
    {"manual-empty.json", "orders-db", "manual", "", "", 0, 0, "manual"},
    {"manual-dry-run.json", "orders-db", "manual", "", "", 0, 1, "manual"},
    {"manual-dry-run-string.json", "orders-db", "manual", "", "", 0, 0, "manual"},
    {"odd-records-not-array.json", "orders-db", "manual", "", "", 0, 0, "manual"},
    {"odd-sns-message-number.json", "orders-db", "manual", "", "", 0, 0, "sns-other"},
    {"odd-eventbridge-detail-array.json", "orders-db", "manual", "", "", 0, 0, "eventbridge-rds"},
    {"odd-eventbridge-ids-wrong-types.json", "orders-db", "manual", "", "", 0, 0, "eventbridge-rds"},
    {"odd-cloudformation-missing-stack.json", "orders-db", "manual", "", "", 0, 0, "manual"},
};

static const expect shared[] = {
    {"sns-rds-instance-failover-completed-0049.json", "pg-orders-prod", "rds-event", "RDS-EVENT-0049", "pg-orders-prod",
     1, 0, "sns-rds"},
    {"sns-rds-instance-failover-legacy-0015.json", "pg-orders-prod", "rds-event", "RDS-EVENT-0015", "pg-orders-prod", 1,
     0, "sns-rds"},
    {"sns-rds-instance-failover-started-0013.json", "pg-orders-prod", "rds-event", "RDS-EVENT-0013", "pg-orders-prod",
     0, 0, "sns-rds"},
    {"sns-rds-cluster-failover-completed-0071.json", "aurora-orders", "rds-event", "RDS-EVENT-0071", "aurora-orders", 1,
     0, "sns-rds"},
    {"sns-rds-cluster-failover-started-0073.json", "aurora-orders", "rds-event", "RDS-EVENT-0073", "aurora-orders", 0,
     0, "sns-rds"},
    {"sns-rds-non-failover-backup-0002.json", "pg-orders-prod", "rds-event", "RDS-EVENT-0002", "pg-orders-prod", 0, 0,
     "sns-rds"},
    {"sns-rds-subscription-notice-text.json", "pg-orders-prod", "manual", "", "", 0, 0, "sns-text"},
    {"eventbridge-rds-instance-failover-completed-0049.json", "pg-orders-prod", "rds-event", "RDS-EVENT-0049",
     "pg-orders-prod", 1, 0, "eventbridge-rds"},
    {"eventbridge-rds-cluster-failover-completed-0071.json", "aurora-orders", "rds-event", "RDS-EVENT-0071",
     "aurora-orders", 1, 0, "eventbridge-rds"},
    {"eventbridge-rds-cluster-failover-started-0072-prefixed-id.json", "aurora-orders", "rds-event", "RDS-EVENT-0072",
     "aurora-orders", 0, 0, "eventbridge-rds"},
    {"eventbridge-scheduled.json", "pg-orders-prod", "schedule", "", "", 0, 0, "schedule"},
};

static void check_one(const char *dir, const expect *x)
{
    char path[1024];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s", dir, x->file);
    char *payload = check_read_file(path, &len);
    if (!payload) {
        fprintf(stderr, "  cannot read %s\n", path);
        CHECK(payload != NULL);
        return;
    }
    event_info ev;
    char err[256] = "";
    int rc = event_parse(payload, len, x->db, &ev, err, sizeof err);
    int ok = rc == 0 && strcmp(event_trigger_name(ev.trigger), x->trigger) == 0 &&
             strcmp(ev.event_id, x->event_id) == 0 && strcmp(ev.source_id, x->source_id) == 0 &&
             ev.failover == x->failover && ev.dry_run == x->dry_run && strcmp(ev.kind, x->kind) == 0;
    if (!ok)
        fprintf(stderr, "  %s (db %s): rc %d, trigger %s, id \"%s\", source \"%s\", failover %d, dry %d, kind %s\n",
                x->file, x->db, rc, event_trigger_name(ev.trigger), ev.event_id, ev.source_id, ev.failover, ev.dry_run,
                ev.kind);
    CHECK(ok);
    event_info_free(&ev);
    free(payload);
}

static const char *fixtures_dir(char *buf, size_t len)
{
    const char *root = getenv("RNS_ROOT");
    snprintf(buf, len, "%s/tests/fixtures/events", root && *root ? root : ".");
    return buf;
}

static void test_our_fixtures(void)
{
    char dir[900];
    fixtures_dir(dir, sizeof dir);
    for (size_t i = 0; i < sizeof ours / sizeof *ours; i++)
        check_one(dir, &ours[i]);
}

static void test_shared_fixtures(void)
{
    const char *sh = getenv("RNS_SHARED");
    char dir[900];
    if (!sh || !*sh) {
        check_skip("test_shared_fixtures", "RNS_SHARED is not set");
        return;
    }
    snprintf(dir, sizeof dir, "%s/fixtures/events", sh);
    for (size_t i = 0; i < sizeof shared / sizeof *shared; i++)
        check_one(dir, &shared[i]);
}

static void test_cloudformation_fields(void)
{
    char dir[900], path[1024];
    size_t len;
    event_info ev;
    char err[256];
    fixtures_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/cloudformation-create.json", dir);
    char *p = check_read_file(path, &len);
    CHECK(p != NULL);
    CHECK_INT(event_parse(p, len, "orders-db", &ev, err, sizeof err), 0);
    CHECK_INT(ev.cfn.type, CFN_CREATE);
    CHECK_STR(ev.cfn.request_type, "Create");
    CHECK_STR(ev.cfn.response_url, "http://127.0.0.1:1/cfn-response?X-Amz-Signature=SECRETSIGNATURE");
    CHECK_STR(ev.cfn.request_id, "req-create-0001");
    CHECK_STR(ev.cfn.logical_resource_id, "InitialTargets");
    CHECK(ev.cfn.physical_resource_id == NULL);
    CHECK(strstr(ev.cfn.stack_id, "stack/orders-privatelink/") != NULL);
    event_info_free(&ev);
    free(p);
    snprintf(path, sizeof path, "%s/cloudformation-delete.json", dir);
    p = check_read_file(path, &len);
    CHECK_INT(event_parse(p, len, "orders-db", &ev, err, sizeof err), 0);
    CHECK_INT(ev.cfn.type, CFN_DELETE);
    CHECK_STR(ev.cfn.physical_resource_id, "rds-nlb-sync-orders-tg");
    event_info_free(&ev);
    free(p);
    const char *other = "{\"RequestType\":\"Rollback\",\"ResponseURL\":\"https://x\",\"StackId\":\"s\"}";
    CHECK_INT(event_parse(other, strlen(other), "orders-db", &ev, err, sizeof err), 0);
    CHECK_INT(ev.trigger, TRIGGER_CLOUDFORMATION);
    CHECK_INT(ev.cfn.type, CFN_OTHER);
    CHECK_STR(ev.cfn.request_id, "");
    event_info_free(&ev);
}

static void expect_invalid(const char *payload, size_t len, const char *want)
{
    event_info ev;
    char err[256] = "";
    CHECK_INT(event_parse(payload, len, "orders-db", &ev, err, sizeof err), -1);
    if (strncmp(err, want, strlen(want)) != 0)
        fprintf(stderr, "  message \"%s\", want it to start with \"%s\"\n", err, want);
    CHECK(strncmp(err, want, strlen(want)) == 0);
    event_info_free(&ev);
}

static void test_invalid_events(void)
{
    expect_invalid("", 0, "the event is empty");
    expect_invalid(NULL, 0, "the event is empty");
    expect_invalid(" \n\t", 3, "the event is empty");
    expect_invalid("[1,2]", 5, "the event is JSON but not an object (it is an array)");
    expect_invalid("null", 4, "the event is JSON but not an object (it is null)");
    expect_invalid("\"s\"", 3, "the event is JSON but not an object (it is a string)");
    expect_invalid("42", 2, "the event is JSON but not an object (it is a number)");
    expect_invalid("true", 4, "the event is JSON but not an object (it is a boolean)");
    expect_invalid("{\"a\":1} {}", 10, "the event is not valid JSON (line 1, column");
    expect_invalid("{\"a\":1", 6, "the event is not valid JSON (line 1, column");
    /* the message never quotes the payload */
    const char *secret = "{\"ResponseURL\": https://bucket.s3/SIGNATURE123}";
    event_info ev;
    char err[256];
    CHECK_INT(event_parse(secret, strlen(secret), "x", &ev, err, sizeof err), -1);
    CHECK(strstr(err, "SIGNATURE123") == NULL);
    CHECK(strstr(err, "bucket") == NULL);
    /* a NUL inside the payload is not JSON */
    expect_invalid("{\"a\":\"b\0c\"}", 11, "the event is not valid JSON");
}

static void test_invalid_fixture_files(void)
{
    static const char *const files[] = {"invalid-not-json.txt", "invalid-array.json", "invalid-truncated.json"};
    char dir[900], path[1024];
    fixtures_dir(dir, sizeof dir);
    for (size_t i = 0; i < 3; i++) {
        size_t len;
        event_info ev;
        char err[256] = "";
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        char *p = check_read_file(path, &len);
        CHECK(p != NULL);
        CHECK_INT(event_parse(p, len, "orders-db", &ev, err, sizeof err), -1);
        CHECK(strncmp(err, "the event is", 12) == 0);
        CHECK(strstr(err, "RDS-EVENT") == NULL && strstr(err, "orders-db") == NULL);
        free(p);
    }
}

static void test_deep_nesting(void)
{
    size_t n = 200000;
    char *p = malloc(2 * n + 1);
    memset(p, '[', n);
    memset(p + n, ']', n);
    p[2 * n] = '\0';
    event_info ev;
    char err[256];
    CHECK_INT(event_parse(p, 2 * n, "orders-db", &ev, err, sizeof err), -1);
    p[0] = '{'; /* still not valid, and still no crash */
    CHECK_INT(event_parse(p, 2 * n, "orders-db", &ev, err, sizeof err), -1);
    free(p);
    /* deep inside an SNS Message string */
    const char *head = "{\"Records\":[{\"EventSource\":\"aws:sns\",\"Sns\":{\"Message\":\"";
    size_t hl = strlen(head);
    char *q = malloc(hl + n + 8);
    memcpy(q, head, hl);
    memset(q + hl, '[', n);
    memcpy(q + hl + n, "\"}}]}", 6);
    CHECK_INT(event_parse(q, strlen(q), "orders-db", &ev, err, sizeof err), 0);
    CHECK_INT(ev.trigger, TRIGGER_MANUAL);
    event_info_free(&ev);
    free(q);
}

static void test_find_id(void)
{
    char id[16];
    CHECK_INT(
        event_find_id("http://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Events.html#RDS-EVENT-0049", id), 0);
    CHECK_STR(id, "RDS-EVENT-0049");
    CHECK_INT(event_find_id(
                  "http://docs.amazonwebservices.com/AmazonRDS/latest/UserGuide/USER_Events.html#RDS-EVENT-0015", id),
              0);
    CHECK_STR(id, "RDS-EVENT-0015");
    CHECK_INT(event_find_id("RDS-EVENT-0071", id), 0);
    CHECK_STR(id, "RDS-EVENT-0071");
    CHECK_INT(event_find_id("RDS-EVENT-00710 then RDS-EVENT-0185", id), 0);
    CHECK_STR(id, "RDS-EVENT-0185");
    CHECK_INT(event_find_id("RDS-EVENT-049", id), -1);
    CHECK_INT(event_find_id("rds-event-0049", id), -1);
    CHECK_INT(event_find_id("", id), -1);
    CHECK_INT(event_find_id(NULL, id), -1);
}

static void test_failover_ids(void)
{
    static const char *const yes[] = {"RDS-EVENT-0015", "RDS-EVENT-0049", "RDS-EVENT-0051",
                                      "RDS-EVENT-0065", "RDS-EVENT-0071", "RDS-EVENT-0185",
                                      "RDS-EVENT-0248", "RDS-EVENT-0251", "RDS-EVENT-0260"};
    static const char *const no[] = {
        "RDS-EVENT-0013", "RDS-EVENT-0034", "RDS-EVENT-0050", "RDS-EVENT-0069", "RDS-EVENT-0070",
        "RDS-EVENT-0072", "RDS-EVENT-0073", "RDS-EVENT-0186", "RDS-EVENT-0002", "",
        "RDS-EVENT-00490"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        CHECK(event_is_failover_id(yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        CHECK(!event_is_failover_id(no[i]));
}

static void test_inline_shapes(void)
{
    event_info ev;
    char err[256];
    /* SourceIdentifier absent: the last field of SourceArn */
    const char *a = "{\"source\":\"aws.rds\",\"detail\":{\"EventID\":\"RDS-EVENT-0049\","
                    "\"SourceArn\":\"arn:aws:rds:eu-west-1:1:db:orders-db\"}}";
    CHECK_INT(event_parse(a, strlen(a), "orders-db", &ev, err, sizeof err), 0);
    CHECK_STR(ev.source_id, "orders-db");
    CHECK_INT(ev.failover, 1);
    /* SNS RDS message without Event ID: the EventID message attribute */
    const char *b = "{\"Records\":[{\"EventSource\":\"aws:sns\",\"Sns\":{\"Message\":"
                    "\"{\\\"Source ID\\\":\\\"orders-db\\\"}\",\"MessageAttributes\":{\"EventID\":"
                    "{\"Type\":\"String\",\"Value\":\"RDS-EVENT-0049\"}}}}]}";
    CHECK_INT(event_parse(b, strlen(b), "orders-db", &ev, err, sizeof err), 0);
    CHECK_STR(ev.event_id, "RDS-EVENT-0049");
    CHECK_INT(ev.failover, 1);
    CHECK_INT(ev.trigger, TRIGGER_RDS_EVENT);
    /* an RDS event without an ID is not an rds-event, and never a failover */
    const char *c = "{\"source\":\"aws.rds\",\"detail\":{\"SourceIdentifier\":\"orders-db\"}}";
    CHECK_INT(event_parse(c, strlen(c), "orders-db", &ev, err, sizeof err), 0);
    CHECK_INT(ev.trigger, TRIGGER_MANUAL);
    CHECK_INT(ev.failover, 0);
    CHECK_STR(ev.source_id, "orders-db");
    /* a failover ID without a source cannot be for us */
    const char *d = "{\"source\":\"aws.rds\",\"detail\":{\"EventID\":\"RDS-EVENT-0049\"}}";
    CHECK_INT(event_parse(d, strlen(d), "orders-db", &ev, err, sizeof err), 0);
    CHECK_INT(ev.trigger, TRIGGER_RDS_EVENT);
    CHECK_INT(ev.failover, 0);
    /* dryRun only counts in a manual event */
    const char *e = "{\"source\":\"aws.events\",\"detail-type\":\"Scheduled Event\",\"dryRun\":true}";
    CHECK_INT(event_parse(e, strlen(e), "orders-db", &ev, err, sizeof err), 0);
    CHECK_INT(ev.trigger, TRIGGER_SCHEDULE);
    CHECK_INT(ev.dry_run, 0);
    const char *f = "{\"dryRun\":1}";
    CHECK_INT(event_parse(f, strlen(f), "orders-db", &ev, err, sizeof err), 0);
    CHECK_INT(ev.dry_run, 0);
    /* aws.events that is not a schedule is manual */
    const char *g = "{\"source\":\"aws.events\",\"detail-type\":\"Other\"}";
    CHECK_INT(event_parse(g, strlen(g), "orders-db", &ev, err, sizeof err), 0);
    CHECK_INT(ev.trigger, TRIGGER_MANUAL);
}

/* Found by the hostile corpus (tests/robust): \u0000 is valid JSON, and text
 * cut to its field must stay valid UTF-8 (the result and the logs are JSON). */
static int valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
        if (!n)
            return 0;
        for (int i = 1; i < n; i++)
            if ((p[i] & 0xC0) != 0x80)
                return 0;
        p += n;
    }
    return 1;
}

static void test_escaped_nul_and_cut_text(void)
{
    event_info ev;
    char err[256];
    /* an object holding \u0000 is still an event: reconciled, not InvalidEvent */
    const char *a = "{\"note\":\"a\\u0000b\"}";
    CHECK_INT(event_parse(a, strlen(a), "orders-db", &ev, err, sizeof err), 0);
    CHECK_INT(ev.trigger, TRIGGER_MANUAL);
    /* a field holding \u0000 counts as absent, never as its text up to the NUL */
    const char *b = "{\"source\":\"aws.rds\",\"detail\":{\"EventID\":\"RDS-EVENT-0049\","
                    "\"SourceIdentifier\":\"orders-db\\u0000x\"}}";
    CHECK_INT(event_parse(b, strlen(b), "orders-db", &ev, err, sizeof err), 0);
    CHECK_STR(ev.source_id, "");
    CHECK_INT(ev.failover, 0);
    const char *c = "{\"RequestType\":\"Create\\u0000\",\"ResponseURL\":\"https://x\",\"StackId\":\"s\"}";
    CHECK_INT(event_parse(c, strlen(c), "orders-db", &ev, err, sizeof err), 0);
    CHECK_INT(ev.trigger, TRIGGER_MANUAL);
    event_info_free(&ev);
    /* a source id of 300 two-byte characters is cut between two of them */
    char d[1024] = "{\"source\":\"aws.rds\",\"detail\":{\"EventID\":\"RDS-EVENT-0049\",\"SourceIdentifier\":\"";
    for (int i = 0; i < 300; i++)
        strcat(d, "\xc3\xa9");
    strcat(d, "\"}}");
    CHECK_INT(event_parse(d, strlen(d), "orders-db", &ev, err, sizeof err), 0);
    CHECK_INT((int)strlen(ev.source_id), 254);
    CHECK(valid_utf8(ev.source_id));
    /* and so is a CloudFormation RequestType */
    char e[512] = "{\"ResponseURL\":\"https://x\",\"StackId\":\"s\",\"RequestType\":\"C";
    for (int i = 0; i < 40; i++)
        strcat(e, "\xe2\x82\xac");
    strcat(e, "\"}");
    CHECK_INT(event_parse(e, strlen(e), "orders-db", &ev, err, sizeof err), 0);
    CHECK_INT(ev.cfn.type, CFN_OTHER);
    CHECK_INT((int)strlen(ev.cfn.request_type), 31);
    CHECK(valid_utf8(ev.cfn.request_type));
    event_info_free(&ev);
}

int main(void)
{
    RUN(test_our_fixtures);
    if (getenv("RNS_SHARED") && *getenv("RNS_SHARED"))
        RUN(test_shared_fixtures);
    else
        test_shared_fixtures();
    RUN(test_cloudformation_fields);
    RUN(test_invalid_events);
    RUN(test_invalid_fixture_files);
    RUN(test_deep_nesting);
    RUN(test_find_id);
    RUN(test_failover_ids);
    RUN(test_inline_shapes);
    RUN(test_escaped_nul_and_cut_text);
    return check_done();
}
