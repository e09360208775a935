/* Unit tests of the ELBv2 client's wire format: response parsing, form bodies
 * (against botocore's golden requests when ../shared is present), endpoints,
 * retry classification and backoff bounds, argument and deadline checks. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "common/retry.h"
#include "handler/aws/elbv2.h"
#include "handler/aws/elbv2_internal.h"

#define GOLDEN_ARN "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/pg-writer-tg/5d2c7e41a9b3f086"

static char *fixture(const char *name, size_t *len)
{
    return check_fixture("elbv2", name, len);
}

static int parse_fixture(const char *name, elb_target_list *out, elb_error *err)
{
    size_t len = 0;
    char *xml = fixture(name, &len);
    int rc;
    if (!xml) {
        fprintf(stderr, "  cannot read fixture %s\n", name);
        memset(err, 0, sizeof *err);
        return -2;
    }
    rc = elb_parse_response(xml, len, out, err);
    free(xml);
    return rc;
}

static void test_parse_describe(void)
{
    elb_target_list l;
    elb_error e;
    CHECK_INT(parse_fixture("describe-target-health.response.xml", &l, &e), 0);
    CHECK_INT(l.count, 4);
    if (l.count != 4)
        return;
    CHECK_STR(l.items[0].id, "172.31.4.20");
    CHECK_INT(l.items[0].port, 3306);
    CHECK_STR(l.items[0].az, "us-east-1a");
    CHECK_STR(l.items[0].state, "healthy");
    CHECK_STR(l.items[0].reason, "");
    /* children in another order, unknown siblings (AdministrativeOverride) */
    CHECK_STR(l.items[1].id, "172.31.17.9");
    CHECK_INT(l.items[1].port, 3306);
    CHECK_STR(l.items[1].az, "us-east-1b");
    CHECK_STR(l.items[1].state, "draining");
    CHECK_STR(l.items[1].reason, "Target.DeregistrationInProgress");
    CHECK_STR(l.items[2].az, "all");
    CHECK_STR(l.items[2].reason, "Elb.InitialHealthChecking");
    CHECK_STR(l.items[3].id, "2600:1f18:4a3:6900:8d1c:2b7e:aa01:5f3c");
    CHECK_STR(l.items[3].state, "unhealthy.draining");
    CHECK_STR(e.request_id, "6f1d0b2e-93a4-4c57-b8e2-0a7c5d19e4f3");
    elb_target_list_free(&l);
    CHECK(l.items == NULL && l.count == 0);
}

static void test_parse_empty_and_prefixed(void)
{
    elb_target_list l;
    elb_error e;
    CHECK_INT(parse_fixture("describe-target-health-empty.response.xml", &l, &e), 0);
    CHECK_INT(l.count, 0);
    CHECK_STR(e.request_id, "0e5b7a1c-2d48-4f96-a3c1-8b6e4f20d7a9");
    elb_target_list_free(&l);
    CHECK_INT(parse_fixture("describe-target-health-prefixed.response.xml", &l, &e), 0);
    CHECK_INT(l.count, 1);
    if (l.count == 1) {
        CHECK_STR(l.items[0].id, "10.1.2.3");
        CHECK_INT(l.items[0].port, 5432);
        CHECK_STR(l.items[0].az, "");
        CHECK_STR(l.items[0].state, "unused");
        CHECK_STR(l.items[0].reason, "Target.NotInUse");
    }
    CHECK_STR(e.request_id, "b3c1f0d2-5e7a-4a18-9d63-2f4e8c0a1b57");
    elb_target_list_free(&l);
}

static void test_parse_register_deregister(void)
{
    elb_error e;
    CHECK_INT(parse_fixture("register-targets.response.xml", NULL, &e), 0);
    CHECK_STR(e.request_id, "4a9e2c71-b0d3-4e58-86f2-1c7d3b5a09e6");
    CHECK_INT(parse_fixture("deregister-targets.response.xml", NULL, &e), 0);
    CHECK_STR(e.request_id, "e27b5d04-8c1f-4a3e-b96d-5f0a2c8e71d3");
}

static void test_parse_errors(void)
{
    elb_target_list l = {(elb_target *)1, 7};
    elb_error e;
    CHECK_INT(parse_fixture("error-throttling.response.xml", &l, &e), -1);
    CHECK_STR(e.code, "ThrottlingException");
    CHECK_STR(e.message, "Rate exceeded");
    CHECK_STR(e.request_id, "91d4e6b2-3f0a-4c87-a5e1-7b2d9c6f0a48");
    CHECK(l.items == NULL && l.count == 0);
    CHECK_INT(parse_fixture("error-target-group-not-found.response.xml", &l, &e), -1);
    CHECK_STR(e.code, "TargetGroupNotFound");
    CHECK(strstr(e.message, "targetgroup/mysql-writer/0f1e2d3c4b5a6978' not found") != NULL);
    CHECK_STR(e.request_id, "5c8a1e3f-7d29-4b06-9e4a-d1f6b2c8a037");
    CHECK_INT(parse_fixture("error-access-denied.response.xml", NULL, &e), -1);
    CHECK_STR(e.code, "AccessDenied");
    CHECK(strstr(e.message, "is not authorized to perform: elasticloadbalancing:RegisterTargets") != NULL);
    CHECK_INT(parse_fixture("error-internal-failure.response.xml", NULL, &e), -1);
    CHECK_STR(e.code, "InternalFailure");
    CHECK_STR(e.request_id, "d06f2b8e-4a1c-4e93-b7d5-9c3a0e8f6b12");
}

static int parse_str(const char *xml, elb_target_list *l, elb_error *e)
{
    return elb_parse_response(xml, strlen(xml), l, e);
}

#define NS "xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\""
#define DTH_OPEN "<DescribeTargetHealthResponse " NS "><DescribeTargetHealthResult><TargetHealthDescriptions>"
#define DTH_CLOSE "</TargetHealthDescriptions></DescribeTargetHealthResult></DescribeTargetHealthResponse>"

static void test_parse_malformed(void)
{
    static const char *const bad[] = {
        "",
        "not xml at all",
        DTH_OPEN "<member><Target><Id>10.0.0.1</Id", /* truncated */
        "<html><body>502 Bad Gateway</body></html>",
        "<ErrorResponse><Error><Message>no code</Message></Error></ErrorResponse>",
        DTH_OPEN "<member><Target><Port>5432</Port></Target></member>" DTH_CLOSE, /* no Id */
        DTH_OPEN "<member><Target><Id>10.0.0.1</Id><Port>54x2</Port></Target></member>" DTH_CLOSE,
        DTH_OPEN "<member><Target><Id>10.0.0.1</Id><Port>70000</Port></Target></member>" DTH_CLOSE,
        DTH_OPEN "<member><Target><Id>10.0.0.1</Id><Port></Port></Target></member>" DTH_CLOSE,
        "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><RegisterTargetsResponse>&a;</RegisterTargetsResponse>",
        "<RegisterTargetsResponse></RegisterTargetsResponse><extra/>",
    };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        elb_target_list l;
        elb_error e;
        int rc = parse_str(bad[i], &l, &e);
        if (rc != -1 || strcmp(e.code, "MalformedResponse") != 0)
            fprintf(stderr, "  case %zu: rc %d code %s\n", i, rc, e.code);
        CHECK_INT(rc, -1);
        CHECK_STR(e.code, "MalformedResponse");
        CHECK(e.message[0] != '\0');
        CHECK(l.items == NULL && l.count == 0);
    }
}

/* Target/Port: as many digits as 65535 has, then 1..65535; each failure
 * says which rule it broke. */
static void test_parse_port_limits(void)
{
    static const struct {
        const char *port;
        long want; /* 0: fails */
        const char *message;
    } cases[] = {
        {"65535", 65535, NULL},
        {"1", 1, NULL},
        {"05432", 5432, NULL},
        {"0", 0, "Target/Port 0 is out of range"},
        {"65536", 0, "Target/Port 65536 is out of range"},
        {"99999", 0, "Target/Port 99999 is out of range"},
        {"005432", 0, "Target/Port is not a port number"},
        {"", 0, "Target/Port is not a port number"},
        {"54x2", 0, "Target/Port \"54x2\" is not a port number"},
        {"-1", 0, "Target/Port \"-1\" is not a port number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char xml[512];
        elb_target_list l;
        elb_error e;
        snprintf(xml, sizeof xml,
                 DTH_OPEN "<member><Target><Id>10.0.0.1</Id><Port>%s</Port></Target></member>" DTH_CLOSE,
                 cases[i].port);
        int rc = parse_str(xml, &l, &e);
        if (cases[i].want) {
            CHECK_INT(rc, 0);
            CHECK_INT(l.count == 1 ? l.items[0].port : -1, cases[i].want);
            elb_target_list_free(&l);
        } else {
            CHECK_INT(rc, -1);
            CHECK_STR(e.code, "MalformedResponse");
            if (!strstr(e.message, cases[i].message))
                fprintf(stderr, "  port \"%s\": %s\n", cases[i].port, e.message);
            CHECK(strstr(e.message, cases[i].message) != NULL);
        }
    }
}

static void test_parse_too_long_rejected(void)
{
    char xml[4096], id[300];
    elb_target_list l;
    elb_error e;
    memset(id, '1', 255);
    id[255] = '\0';
    snprintf(xml, sizeof xml, DTH_OPEN "<member><Target><Id>%s</Id></Target></member>" DTH_CLOSE, id);
    CHECK_INT(parse_str(xml, &l, &e), 0); /* 255 bytes fit */
    CHECK_INT(l.count, 1);
    CHECK_INT(l.count ? strlen(l.items[0].id) : 0, 255);
    elb_target_list_free(&l);
    strcat(id, "2");
    snprintf(xml, sizeof xml, DTH_OPEN "<member><Target><Id>%s</Id></Target></member>" DTH_CLOSE, id);
    CHECK_INT(parse_str(xml, &l, &e), -1);
    CHECK_STR(e.code, "MalformedResponse");
    CHECK(strstr(e.message, "Target/Id") != NULL);
    snprintf(xml, sizeof xml,
             DTH_OPEN "<member><Target><Id>10.0.0.1</Id><AvailabilityZone>"
                      "%.64s</AvailabilityZone></Target></member>" DTH_CLOSE,
             id);
    CHECK_INT(parse_str(xml, &l, &e), -1);
    CHECK(strstr(e.message, "AvailabilityZone") != NULL);
    /* An error Message is human text: cut, keeping the code. */
    {
        char msg[1200];
        memset(msg, 'm', sizeof msg - 1);
        msg[sizeof msg - 1] = '\0';
        snprintf(xml, sizeof xml,
                 "<ErrorResponse><Error><Code>AccessDenied</Code><Message>%s"
                 "</Message></Error><RequestId>r1</RequestId></ErrorResponse>",
                 msg);
        CHECK_INT(parse_str(xml, NULL, &e), -1);
        CHECK_STR(e.code, "AccessDenied");
        CHECK_INT(strlen(e.message), sizeof e.message - 1);
        CHECK(strcmp(e.message + strlen(e.message) - 3, "...") == 0);
        CHECK_STR(e.request_id, "r1");
    }
}

static void test_parse_unknown_elements_and_entities(void)
{
    const char *xml =
        DTH_OPEN "<member><Extra><Target><Id>9.9.9.9</Id></Target></Extra>"
                 "<Target><Id>10.0.0.1</Id><Port>5432</Port><QuicServerId>0x1</QuicServerId></Target>"
                 "<TargetHealth><State>healthy</State><Unknown><State>bad</State></Unknown></TargetHealth>"
                 "</member>"
                 "<member><Target><Id>a&amp;b</Id></Target><TargetHealth><State>unused</State></TargetHealth></"
                 "member>" DTH_CLOSE;
    elb_target_list l;
    elb_error e;
    CHECK_INT(parse_str(xml, &l, &e), 0);
    CHECK_INT(l.count, 2);
    if (l.count == 2) {
        CHECK_STR(l.items[0].id, "10.0.0.1");
        CHECK_STR(l.items[0].state, "healthy");
        CHECK_STR(l.items[1].id, "a&b");
        CHECK_INT(l.items[1].port, 0);
    }
    elb_target_list_free(&l);
}

static void test_parse_expected_root(void)
{
    const char *xml = "<RegisterTargetsResponse " NS "><RegisterTargetsResult/></RegisterTargetsResponse>";
    elb_error e;
    CHECK_INT(elbv2_xml_parse(xml, strlen(xml), "RegisterTargetsResponse", NULL, &e), 0);
    CHECK_INT(elbv2_xml_parse(xml, strlen(xml), "DeregisterTargetsResponse", NULL, &e), -1);
    CHECK_STR(e.code, "MalformedResponse");
}

static void test_parse_many_members(void)
{
    size_t n = 1000, i, cap = n * 80 + 512, len;
    char *xml = malloc(cap);
    elb_target_list l;
    elb_error e;
    len = (size_t)snprintf(xml, cap, DTH_OPEN);
    for (i = 0; i < n; i++)
        len += (size_t)snprintf(xml + len, cap - len,
                                "<member><Target><Id>10.0.%zu.%zu</Id><Port>%zu"
                                "</Port></Target></member>",
                                i / 256, i % 256, 1 + i);
    snprintf(xml + len, cap - len, DTH_CLOSE);
    CHECK_INT(parse_str(xml, &l, &e), 0);
    CHECK_INT(l.count, n);
    if (l.count == n) {
        CHECK_STR(l.items[999].id, "10.0.3.231");
        CHECK_INT(l.items[999].port, 1000);
    }
    elb_target_list_free(&l);
    free(xml);
}

static elb_target tgt(const char *id, int port, const char *az)
{
    elb_target t;
    memset(&t, 0, sizeof t);
    snprintf(t.id, sizeof t.id, "%s", id);
    t.port = port;
    snprintf(t.az, sizeof t.az, "%s", az);
    return t;
}

static void test_body_encoding(void)
{
    elb_target ts[2];
    char *b;
    ts[0] = tgt("10.20.2.118", 5432, "all");
    ts[1] = tgt("fe80::1", 0, "");
    b = elbv2_build_body("RegisterTargets", "arn:aws:x/y z+~*!'()é", ts, 2);
    CHECK_STR(b, "Action=RegisterTargets&Version=2015-12-01&TargetGroupArn="
                 "arn%3Aaws%3Ax%2Fy%20z%2B~%2A%21%27%28%29%C3%A9"
                 "&Targets.member.1.Id=10.20.2.118&Targets.member.1.Port=5432"
                 "&Targets.member.1.AvailabilityZone=all&Targets.member.2.Id=fe80%3A%3A1");
    free(b);
    b = elbv2_build_body("DescribeTargetHealth", "a-b_c.d", NULL, 0);
    CHECK_STR(b, "Action=DescribeTargetHealth&Version=2015-12-01&TargetGroupArn=a-b_c.d");
    free(b);
}

/* The inputs of ../shared/fixtures/elbv2/<name>.request.json; its body is the expected output. */
typedef struct golden {
    const char *name, *action;
    elb_target targets[2];
    size_t count;
} golden;

static char *golden_body(const char *shared, const char *name)
{
    char path[512];
    json_error_t jerr;
    json_t *doc, *body;
    char *out = NULL;
    snprintf(path, sizeof path, "%s/fixtures/elbv2/%s.request.json", shared, name);
    if (!(doc = json_load_file(path, 0, &jerr)))
        return NULL;
    if ((body = json_object_get(doc, "body")) && json_is_string(body))
        out = strdup(json_string_value(body));
    json_decref(doc);
    return out;
}

static void test_body_matches_botocore_golden(void)
{
    const char *shared = getenv("RNS_SHARED");
    golden g[5];
    size_t i;
    memset(g, 0, sizeof g);
    g[0].name = "describe-target-health";
    g[0].action = "DescribeTargetHealth";
    g[1] = (golden){"describe-target-health-one", "DescribeTargetHealth", {tgt("10.20.1.37", 5432, "")}, 1};
    g[2] = (golden){"register-targets", "RegisterTargets", {tgt("10.20.2.118", 5432, "")}, 1};
    g[3] = (golden){"register-targets-az-session-token",
                    "RegisterTargets",
                    {tgt("10.20.2.118", 5432, "all"), tgt("10.20.3.204", 5432, "")},
                    2};
    g[4] = (golden){"deregister-targets", "DeregisterTargets", {tgt("10.20.1.37", 5432, "")}, 1};
    for (i = 0; i < sizeof g / sizeof g[0]; i++) {
        char *want = golden_body(shared, g[i].name);
        char *got = elbv2_build_body(g[i].action, GOLDEN_ARN, g[i].targets, g[i].count);
        CHECK(want != NULL);
        if (want)
            CHECK_STR(got, want);
        free(want);
        free(got);
    }
}

static void test_default_endpoints(void)
{
    static const char *const cases[][2] = {
        {"eu-west-1", "https://elasticloadbalancing.eu-west-1.amazonaws.com"},
        {"us-east-1", "https://elasticloadbalancing.us-east-1.amazonaws.com"},
        {"cn-north-1", "https://elasticloadbalancing.cn-north-1.amazonaws.com.cn"},
        {"cn-northwest-1", "https://elasticloadbalancing.cn-northwest-1.amazonaws.com.cn"},
        {"us-gov-west-1", "https://elasticloadbalancing.us-gov-west-1.amazonaws.com"},
        {"us-iso-east-1", "https://elasticloadbalancing.us-iso-east-1.c2s.ic.gov"},
        {"us-isob-east-1", "https://elasticloadbalancing.us-isob-east-1.sc2s.sgov.gov"},
        {"eusc-de-east-1", "https://elasticloadbalancing.eusc-de-east-1.amazonaws.eu"},
    };
    char out[256];
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_INT(elb_default_endpoint(cases[i][0], out, sizeof out), 0);
        CHECK_STR(out, cases[i][1]);
    }
    CHECK_INT(elb_default_endpoint("", out, sizeof out), -1);
    CHECK_INT(elb_default_endpoint("eu-west-1.evil.com/", out, sizeof out), -1);
    CHECK_INT(elb_default_endpoint("EU-WEST-1", out, sizeof out), -1);
    CHECK_INT(elb_default_endpoint("eu-west-1", out, 10), -1);
}

static void test_endpoint_urls(void)
{
    query_endpoint ep;
    char err[160];
    CHECK_INT(query_parse_endpoint("https://127.0.0.1:8443", &ep, err, sizeof err), 0);
    CHECK_STR(ep.host, "127.0.0.1:8443");
    CHECK_STR(ep.path, "/");
    CHECK_STR(ep.url, "https://127.0.0.1:8443/");
    CHECK_INT(query_parse_endpoint("HTTPS://ELB.Example.com:443/", &ep, err, sizeof err), 0);
    CHECK_STR(ep.host, "elb.example.com");
    CHECK_STR(ep.url, "https://elb.example.com/");
    CHECK_INT(query_parse_endpoint("http://localhost:80/elb", &ep, err, sizeof err), 0);
    CHECK_STR(ep.host, "localhost");
    CHECK_STR(ep.path, "/elb");
    CHECK_INT(query_parse_endpoint("http://[::1]:4566", &ep, err, sizeof err), 0);
    CHECK_STR(ep.host, "[::1]:4566");
    CHECK_STR(ep.url, "http://[::1]:4566/");
    CHECK_INT(query_parse_endpoint("ftp://x", &ep, err, sizeof err), -1);
    CHECK_INT(query_parse_endpoint("https://", &ep, err, sizeof err), -1);
    CHECK_INT(query_parse_endpoint("https://user:pw@host/", &ep, err, sizeof err), -1);
    CHECK(strstr(err, "pw") == NULL);
    CHECK_INT(query_parse_endpoint("https://host:99999", &ep, err, sizeof err), -1);
    CHECK_INT(query_parse_endpoint("https://host:", &ep, err, sizeof err), -1);
    CHECK_INT(query_parse_endpoint("https://host/?a=b", &ep, err, sizeof err), -1);
    CHECK_INT(query_parse_endpoint("https://[::1/", &ep, err, sizeof err), -1);
    CHECK_INT(query_parse_endpoint("https://a:b:c/", &ep, err, sizeof err), -1);
    /* The port's limits: 1 to 5 digits, 1..65535. */
    CHECK_INT(query_parse_endpoint("https://host:65535", &ep, err, sizeof err), 0);
    CHECK_INT(query_parse_endpoint("https://host:1", &ep, err, sizeof err), 0);
    CHECK_INT(query_parse_endpoint("https://host:08443", &ep, err, sizeof err), 0);
    CHECK_INT(query_parse_endpoint("https://host:65536", &ep, err, sizeof err), -1);
    CHECK_INT(query_parse_endpoint("https://host:0", &ep, err, sizeof err), -1);
    CHECK_INT(query_parse_endpoint("https://host:008443", &ep, err, sizeof err), -1);
    CHECK_INT(query_parse_endpoint("https://host:+443", &ep, err, sizeof err), -1);
    CHECK_INT(query_parse_endpoint("https://host:44x", &ep, err, sizeof err), -1);
}

static elb_error mkerr(long status, const char *code)
{
    elb_error e;
    memset(&e, 0, sizeof e);
    e.http_status = status;
    snprintf(e.code, sizeof e.code, "%s", code);
    return e;
}

/* Found by tests/robust/test_no_secrets_in_logs.py: a SignatureDoesNotMatch
 * message that quotes the canonical request carried the session token into
 * the error result and the logs. */
static void test_scrub_message(void)
{
    sigv4_credentials creds = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                               "IQoJb3JpZ2luX2VjETokenTokenToken0123456789=="};
    elb_error e;
    memset(&e, 0, sizeof e);
    snprintf(e.message, sizeof e.message,
             "The request signature we calculated does not match.\n\n"
             "The Canonical String for this request should have been\n'POST\n/\n\n"
             "x-amz-security-token:IQoJb3JpZ2luX2VjETokenTokenToken0123456789==\n'");
    query_scrub_message(&e, &creds);
    CHECK_STR(e.message, "The request signature we calculated does not match.");
    snprintf(e.message, sizeof e.message, "token ETokenTokenToken012 on one line");
    query_scrub_message(&e, &creds);
    CHECK(strstr(e.message, "Token") == NULL && strstr(e.message, "withheld") != NULL);
    snprintf(e.message, sizeof e.message, "key K7MDENG+bPxRfiCYEXAMPLEKEY\r");
    query_scrub_message(&e, &creds);
    CHECK(strstr(e.message, "withheld") != NULL);
    snprintf(e.message, sizeof e.message, "Rate exceeded");
    query_scrub_message(&e, &creds);
    CHECK_STR(e.message, "Rate exceeded");
    creds.session_token = NULL;
    snprintf(e.message, sizeof e.message, "One or more target groups not found");
    query_scrub_message(&e, &creds);
    CHECK_STR(e.message, "One or more target groups not found");
}

static void test_retryable_classification(void)
{
    static const struct {
        long status;
        const char *code;
        int retry, throttle;
    } cases[] = {
        {400, "Throttling", 1, 1},
        {400, "ThrottlingException", 1, 1},
        {400, "RequestLimitExceeded", 1, 1},
        {503, "SlowDown", 1, 1},
        {429, "429", 1, 1},
        {500, "InternalFailure", 1, 0},
        {500, "HealthUnavailable", 1, 0},
        {502, "502", 1, 0},
        {503, "ServiceUnavailable", 1, 0},
        {504, "504", 1, 0},
        {400, "RequestTimeout", 1, 0},
        {0, "ConnectionError", 1, 0},
        {0, "Timeout", 1, 0},
        {200, "MalformedResponse", 1, 0},
        {0, "TlsError", 0, 0},
        {0, "HttpClientError", 0, 0},
        {400, "TargetGroupNotFound", 0, 0},
        {400, "InvalidTarget", 0, 0},
        {403, "AccessDenied", 0, 0},
        {400, "AccessDeniedException", 0, 0},
        {403, "SignatureDoesNotMatch", 0, 0},
        {403, "InvalidClientTokenId", 0, 0},
        {400, "ExpiredToken", 0, 0},
        {400, "RequestExpired", 0, 0},
        {400, "ValidationError", 0, 0},
        {400, "TooManyTargets", 0, 0},
        {501, "501", 0, 0},
        {0, "", 0, 0},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        elb_error e = mkerr(cases[i].status, cases[i].code);
        if (query_error_is_retryable(&e) != cases[i].retry)
            fprintf(stderr, "  %s (%ld) retryable?\n", cases[i].code, cases[i].status);
        CHECK_INT(query_error_is_retryable(&e), cases[i].retry);
        CHECK_INT(query_error_is_throttling(&e), cases[i].throttle);
    }
    CHECK_INT(query_error_is_retryable(NULL), 0);
}

static void test_backoff_bounds(void)
{
    CHECK_INT(rns_retry_backoff_ms(&rns_retry_aws, 1, 1, 0.0), 0);
    CHECK_INT(rns_retry_backoff_ms(&rns_retry_aws, 1, 1, 0.999999), 999);
    CHECK_INT(rns_retry_backoff_ms(&rns_retry_aws, 2, 1, 0.5), 1000);
    CHECK_INT(rns_retry_backoff_ms(&rns_retry_aws, 3, 1, 0.999999), 3999);
    CHECK_INT(rns_retry_backoff_ms(&rns_retry_aws, 6, 1, 0.999999), 19999); /* 32 s capped at 20 s */
    CHECK_INT(rns_retry_backoff_ms(&rns_retry_aws, 1000, 1, 0.5), 10000);
    CHECK_INT(rns_retry_backoff_ms(&rns_retry_aws, 1, 0, 0.999999), 49);
    CHECK_INT(rns_retry_backoff_ms(&rns_retry_aws, 2, 0, 0.5), 50);
    CHECK_INT(rns_retry_backoff_ms(&rns_retry_aws, 30, 0, 0.5), 10000);
}

static elb_client *new_client(const char *region, const char *url, int attempts, char *err, size_t n)
{
    elb_client_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.region = region;
    cfg.endpoint_url = url;
    cfg.creds.access_key_id = "AKIDEXAMPLE";
    cfg.creds.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    cfg.max_attempts = attempts;
    return elb_client_new(&cfg, err, n);
}

static void test_client_config_errors(void)
{
    char err[256];
    elb_client *c;
    elb_client_config cfg;
    CHECK(new_client("", NULL, 3, err, sizeof err) == NULL);
    CHECK(strstr(err, "region") != NULL);
    CHECK(new_client("Not A Region", NULL, 3, err, sizeof err) == NULL);
    CHECK(strstr(err, "region") != NULL);
    CHECK(new_client("eu-west-1", NULL, 0, err, sizeof err) == NULL);
    CHECK(strstr(err, "attempts") != NULL);
    CHECK(new_client("eu-west-1", "gopher://x", 3, err, sizeof err) == NULL);
    CHECK(strstr(err, "http") != NULL);
    memset(&cfg, 0, sizeof cfg);
    cfg.region = "eu-west-1";
    cfg.creds.access_key_id = "AKID";
    cfg.max_attempts = 3;
    CHECK(elb_client_new(&cfg, err, sizeof err) == NULL);
    CHECK(strstr(err, "secret") != NULL);
    c = new_client("eu-west-1", NULL, 3, err, sizeof err);
    CHECK(c != NULL);
    CHECK_INT(elb_connections_opened(c), 0);
    CHECK_INT(elb_retry_tokens(c), 500);
    elb_client_free(c);
    elb_client_free(NULL);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_deadline_passed_sends_nothing(void)
{
    char err[256];
    /* Nothing listens on port 9 of the loopback: a request would fail fast
     * with ConnectionError, not Timeout. */
    elb_client *c = new_client("eu-west-1", "http://127.0.0.1:9", 3, err, sizeof err);
    elb_target_list l;
    elb_error e;
    elb_target t = tgt("10.0.0.1", 5432, "");
    if (!c)
        return;
    CHECK_INT(elb_describe_target_health(c, GOLDEN_ARN, now_ms() - 1, &l, &e), -1);
    CHECK_STR(e.code, "Timeout");
    CHECK_INT(e.attempts, 0);
    CHECK_INT(e.http_status, 0);
    CHECK(l.items == NULL && l.count == 0);
    CHECK_INT(elb_register_targets(c, GOLDEN_ARN, &t, 1, now_ms(), &e), -1);
    CHECK_STR(e.code, "Timeout");
    CHECK_INT(elb_connections_opened(c), 0);
    elb_client_free(c);
}

static void test_argument_checks(void)
{
    char err[256];
    elb_client *c = new_client("eu-west-1", "http://127.0.0.1:9", 3, err, sizeof err);
    elb_target bad[2];
    elb_error e;
    bad[0] = tgt("10.0.0.1", 5432, "");
    bad[1] = tgt("", 5432, "");
    if (!c)
        return;
    CHECK_INT(elb_register_targets(c, GOLDEN_ARN, bad, 2, now_ms() + 5000, &e), -1);
    CHECK_STR(e.code, "InvalidParameterValue");
    CHECK_INT(e.attempts, 0);
    bad[1] = tgt("10.0.0.2", 70000, "");
    CHECK_INT(elb_deregister_targets(c, GOLDEN_ARN, bad, 2, now_ms() + 5000, &e), -1);
    CHECK_STR(e.code, "InvalidParameterValue");
    CHECK_INT(elb_register_targets(c, "", bad, 1, now_ms() + 5000, &e), -1);
    CHECK_STR(e.code, "InvalidParameterValue");
    /* nothing to change: no call at all */
    CHECK_INT(elb_register_targets(c, GOLDEN_ARN, bad, 0, now_ms() + 5000, &e), 0);
    CHECK_INT(elb_connections_opened(c), 0);
    elb_client_free(c);
}

static void test_connection_refused_is_retried(void)
{
    char err[256];
    elb_client *c = new_client("eu-west-1", "http://127.0.0.1:9", 2, err, sizeof err);
    elb_target_list l;
    elb_error e;
    if (!c)
        return;
    CHECK_INT(elb_describe_target_health(c, GOLDEN_ARN, now_ms() + 5000, &l, &e), -1);
    CHECK_STR(e.code, "ConnectionError");
    CHECK_INT(e.attempts, 2);
    CHECK_INT(e.http_status, 0);
    CHECK_INT(elb_retry_tokens(c), 495);
    elb_client_free(c);
}

#define TG_NS "<DescribeTargetGroupsResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\">"

static void test_parse_target_groups(void)
{
    const char *xml =
        TG_NS "<DescribeTargetGroupsResult><TargetGroups>"
              "<member><Port>5432</Port><TargetGroupArn>arn:tg/a/1</TargetGroupArn><TargetGroupName>a</TargetGroupName>"
              "<LoadBalancerArns><member>arn:lb/x</member></LoadBalancerArns><Protocol>TCP</Protocol>"
              "<TargetType>ip</TargetType><Matcher><HttpCode>200</HttpCode></Matcher></member>"
              "<member><TargetGroupArn>arn:tg/b/2</TargetGroupArn><TargetType>lambda</TargetType></member>"
              "</TargetGroups><NextMarker>bWFy</NextMarker></DescribeTargetGroupsResult>"
              "<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></DescribeTargetGroupsResponse>";
    elb_target_group_list l;
    elb_error e;
    char marker[ELB_MARKER_MAX] = "stale";
    CHECK_INT(elbv2_parse_target_groups(xml, strlen(xml), &l, marker, sizeof marker, &e), 0);
    CHECK_INT(l.count, 2);
    if (l.count == 2) {
        CHECK_STR(l.items[0].arn, "arn:tg/a/1");
        CHECK_STR(l.items[0].name, "a");
        CHECK_INT(l.items[0].port, 5432);
        CHECK_STR(l.items[0].protocol, "TCP");
        CHECK_STR(l.items[0].target_type, "ip");
        CHECK_STR(l.items[1].target_type, "lambda");
        CHECK_INT(l.items[1].port, 0);
    }
    CHECK_STR(marker, "bWFy");
    CHECK_STR(e.request_id, "r-1");
    elb_target_group_list_free(&l);
    /* the last page has no NextMarker; a member without an ARN is malformed */
    xml =
        TG_NS "<DescribeTargetGroupsResult><TargetGroups/></DescribeTargetGroupsResult></DescribeTargetGroupsResponse>";
    CHECK_INT(elbv2_parse_target_groups(xml, strlen(xml), &l, marker, sizeof marker, &e), 0);
    CHECK_STR(marker, "");
    CHECK_INT(l.count, 0);
    xml = TG_NS "<DescribeTargetGroupsResult><TargetGroups><member><Port>1</Port></member></TargetGroups>"
                "</DescribeTargetGroupsResult></DescribeTargetGroupsResponse>";
    CHECK_INT(elbv2_parse_target_groups(xml, strlen(xml), &l, marker, sizeof marker, &e), -1);
    CHECK_STR(e.code, QUERY_CODE_MALFORMED);
    CHECK(l.items == NULL && l.count == 0);
    /* another action's answer is not taken for this one */
    xml = "<DescribeTagsResponse><DescribeTagsResult/></DescribeTagsResponse>";
    CHECK_INT(elbv2_parse_target_groups(xml, strlen(xml), &l, marker, sizeof marker, &e), -1);
}

static void test_parse_tags(void)
{
    const char *xml = "<DescribeTagsResponse><DescribeTagsResult><TagDescriptions>"
                      "<member><ResourceArn>arn:tg/a/1</ResourceArn><Tags>"
                      "<member><Value>dns:db.example</Value><Key>rds-nlb-sync:source</Key></member>"
                      "<member><Key>team</Key><Value>x</Value></member>"
                      "<member><Key>rds-nlb-sync:dry-run</Key><Value></Value></member>"
                      "</Tags></member>"
                      "<member><ResourceArn>arn:tg/b/2</ResourceArn><Tags/></member>"
                      "</TagDescriptions></DescribeTagsResult></DescribeTagsResponse>";
    elb_tag_set_list l;
    elb_error e;
    CHECK_INT(elbv2_parse_tags(xml, strlen(xml), "rds-nlb-sync:", &l, &e), 0);
    CHECK_INT(l.count, 2);
    if (l.count == 2) {
        CHECK_STR(l.items[0].arn, "arn:tg/a/1");
        CHECK_INT(l.items[0].count, 2);
        CHECK_STR(elb_tag_value(&l.items[0], "rds-nlb-sync:source"), "dns:db.example");
        CHECK_STR(elb_tag_value(&l.items[0], "rds-nlb-sync:dry-run"), "");
        CHECK(elb_tag_value(&l.items[0], "team") == NULL);
        CHECK_INT(l.items[1].count, 0);
    }
    elb_tag_set_list_free(&l);
    CHECK_INT(elbv2_parse_tags(xml, strlen(xml), NULL, &l, &e), 0);
    CHECK_INT(l.count ? l.items[0].count : 0, 3);
    elb_tag_set_list_free(&l);
    xml = "<DescribeTagsResponse><DescribeTagsResult><TagDescriptions><member><ResourceArn>a</ResourceArn>"
          "<Tags><member><Value>v</Value></member></Tags></member></TagDescriptions></DescribeTagsResult>"
          "</DescribeTagsResponse>";
    CHECK_INT(elbv2_parse_tags(xml, strlen(xml), NULL, &l, &e), -1);
    CHECK_STR(e.code, QUERY_CODE_MALFORMED);
    CHECK(l.items == NULL && l.count == 0);
}

static void test_discovery_bodies(void)
{
    const char *arns[] = {"arn:a", "arn:b"};
    elb_tag t = {"rds-nlb-sync:misses", "10.0.0.5=2"};
    char *b = elbv2_groups_body("arn:lb", NULL, 0, "m+/=", 400);
    CHECK_STR(b, "Action=DescribeTargetGroups&Version=2015-12-01&LoadBalancerArn=arn%3Alb&Marker=m%2B%2F%3D"
                 "&PageSize=400");
    free(b);
    b = elbv2_groups_body(NULL, arns, 2, NULL, 0);
    CHECK_STR(b, "Action=DescribeTargetGroups&Version=2015-12-01&TargetGroupArns.member.1=arn%3Aa"
                 "&TargetGroupArns.member.2=arn%3Ab");
    free(b);
    b = elbv2_tags_body(arns, 1);
    CHECK_STR(b, "Action=DescribeTags&Version=2015-12-01&ResourceArns.member.1=arn%3Aa");
    free(b);
    b = elbv2_add_tags_body("arn:a", &t, 1);
    CHECK_STR(b, "Action=AddTags&Version=2015-12-01&ResourceArns.member.1=arn%3Aa"
                 "&Tags.member.1.Key=rds-nlb-sync%3Amisses&Tags.member.1.Value=10.0.0.5%3D2");
    free(b);
    const char *keys[] = {"rds-nlb-sync:misses:2", "rds-nlb-sync:misses:3"};
    b = elbv2_remove_tags_body("arn:a", keys, 2);
    CHECK_STR(b, "Action=RemoveTags&Version=2015-12-01&ResourceArns.member.1=arn%3Aa"
                 "&TagKeys.member.1=rds-nlb-sync%3Amisses%3A2&TagKeys.member.2=rds-nlb-sync%3Amisses%3A3");
    free(b);
}

int main(void)
{
    RUN(test_parse_describe);
    RUN(test_parse_empty_and_prefixed);
    RUN(test_parse_register_deregister);
    RUN(test_parse_errors);
    RUN(test_parse_malformed);
    RUN(test_parse_port_limits);
    RUN(test_parse_too_long_rejected);
    RUN(test_parse_unknown_elements_and_entities);
    RUN(test_parse_expected_root);
    RUN(test_parse_many_members);
    RUN(test_body_encoding);
    if (getenv("RNS_SHARED") && *getenv("RNS_SHARED"))
        RUN(test_body_matches_botocore_golden);
    else
        check_skip("test_body_matches_botocore_golden", "RNS_SHARED not set");
    RUN(test_default_endpoints);
    RUN(test_endpoint_urls);
    RUN(test_scrub_message);
    RUN(test_retryable_classification);
    RUN(test_backoff_bounds);
    RUN(test_client_config_errors);
    RUN(test_deadline_passed_sends_nothing);
    RUN(test_argument_checks);
    RUN(test_connection_refused_is_retried);
    RUN(test_parse_target_groups);
    RUN(test_parse_tags);
    RUN(test_discovery_bodies);
    return check_done();
}
