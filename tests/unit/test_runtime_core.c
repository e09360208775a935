/* Unit tests of runtime/ pieces that need no server: invocation headers,
 * deadlines, the error body, text safety and the public constructors. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "runtime/internal.h"
#include "tests/unit/check.h"

static void feed(rt_headers *h, const char *line)
{
    CHECK_INT(rt_headers_feed(h, line, strlen(line)), 0);
}

static void test_headers_case_insensitive(void)
{
    rt_headers h = {0};
    feed(&h, "HTTP/1.1 200 OK\r\n");
    feed(&h, "lambda-runtime-aws-request-id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n");
    feed(&h, "LAMBDA-RUNTIME-DEADLINE-MS:1542409706888\r\n");
    feed(&h, "Lambda-Runtime-Invoked-Function-Arn: \t arn:aws:lambda:us-east-2:1:function:f \t\r\n");
    feed(&h, "lambda-runtime-trace-id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419\r\n");
    feed(&h, "Lambda-Runtime-Client-Context: {\"a\":1}\r\n");
    feed(&h, "Lambda-Runtime-Cognito-Identity: {\"cognitoIdentityId\":\"x\"}\r\n");
    feed(&h, "Lambda-Runtime-Aws-Tenant-Id: tenant-7\r\n");
    feed(&h, "Content-Type: application/json\r\n");
    feed(&h, "\r\n");
    lambda_invocation inv;
    rt_headers_view(&h, &inv);
    CHECK_STR(inv.request_id, "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
    CHECK_INT(inv.deadline_ms, 1542409706888LL);
    CHECK_STR(inv.function_arn, "arn:aws:lambda:us-east-2:1:function:f");
    CHECK_STR(inv.xray_trace_id, "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419");
    CHECK_STR(inv.client_context, "{\"a\":1}");
    CHECK_STR(inv.cognito_identity, "{\"cognitoIdentityId\":\"x\"}");
    CHECK_STR(inv.tenant_id, "tenant-7");
    rt_headers_clear(&h);
}

static void test_headers_absent_are_empty(void)
{
    rt_headers h = {0};
    feed(&h, "Lambda-Runtime-Aws-Request-Id: r1\r\n");
    lambda_invocation inv;
    rt_headers_view(&h, &inv);
    CHECK_STR(inv.request_id, "r1");
    CHECK_STR(inv.function_arn, "");
    CHECK_STR(inv.xray_trace_id, "");
    CHECK_STR(inv.client_context, "");
    CHECK_STR(inv.cognito_identity, "");
    CHECK_STR(inv.tenant_id, "");
    CHECK_INT(inv.deadline_ms, 0);
    rt_headers_clear(&h);
}

static void test_headers_status_line_resets(void)
{
    rt_headers h = {0};
    feed(&h, "HTTP/1.1 100 Continue\r\n");
    feed(&h, "Lambda-Runtime-Aws-Request-Id: interim\r\n");
    feed(&h, "HTTP/1.1 200 OK\r\n");
    CHECK(h.value[RT_H_REQUEST_ID] == NULL);
    feed(&h, "Lambda-Runtime-Aws-Request-Id: first\r\n");
    feed(&h, "Lambda-Runtime-Aws-Request-Id: second\r\n");
    CHECK_STR(h.value[RT_H_REQUEST_ID], "second");
    rt_headers_clear(&h);
    CHECK(h.value[RT_H_REQUEST_ID] == NULL);
}

static void test_headers_near_misses_ignored(void)
{
    rt_headers h = {0};
    feed(&h, "Lambda-Runtime-Aws-Request-Idx: no\r\n");
    feed(&h, "X-Lambda-Runtime-Aws-Request-Id: no\r\n");
    feed(&h, "Lambda-Runtime-Aws-Request-Id no colon\r\n");
    feed(&h, "Lambda-Runtime-Aws-Request-I: no\r\n");
    CHECK(h.value[RT_H_REQUEST_ID] == NULL);
    /* not NUL-terminated input: only `len` bytes count */
    const char line[] = "Lambda-Runtime-Aws-Request-Id: abcXYZ";
    CHECK_INT(rt_headers_feed(&h, line, strlen(line) - 3), 0);
    CHECK_STR(h.value[RT_H_REQUEST_ID], "abc");
    feed(&h, "Lambda-Runtime-Aws-Request-Id:   \r\n");
    CHECK_STR(h.value[RT_H_REQUEST_ID], "");
    rt_headers_clear(&h);
}

/* fuzz_runtime_headers finding: a NUL inside a value left the CRs before it. */
static void test_headers_nul_ends_value(void)
{
    rt_headers h = {0};
    const char line[] = "Lambda-Runtime-Deadline-Ms: 1542409706888\r\r\0\0junk: x\r\n";
    CHECK_INT(rt_headers_feed(&h, line, sizeof line - 1), 0);
    CHECK_STR(h.value[RT_H_DEADLINE], "1542409706888");
    const char id[] = "Lambda-Runtime-Aws-Request-Id: \0\r\n";
    CHECK_INT(rt_headers_feed(&h, id, sizeof id - 1), 0);
    CHECK_STR(h.value[RT_H_REQUEST_ID], "");
    rt_headers_clear(&h);
}

static void test_deadline_parse(void)
{
    CHECK_INT(rt_parse_deadline("1542409706888"), 1542409706888LL);
    CHECK_INT(rt_parse_deadline("0"), 0);
    CHECK_INT(rt_parse_deadline(""), 0);
    CHECK_INT(rt_parse_deadline(NULL), 0);
    CHECK_INT(rt_parse_deadline("-5"), 0);
    CHECK_INT(rt_parse_deadline("12a"), 0);
    CHECK_INT(rt_parse_deadline("1.5"), 0);
    CHECK_INT(rt_parse_deadline("99999999999999999999999"), 0);
    CHECK_INT(rt_parse_deadline("9223372036854775799"), 9223372036854775799LL);
    /* The limits: values up to 9223372036854775799, with any leading zeros. */
    CHECK_INT(rt_parse_deadline("9223372036854775800"), 0);
    CHECK_INT(rt_parse_deadline("9223372036854775807"), 0);
    CHECK_INT(rt_parse_deadline("000000000000000000000000001542409706888"), 1542409706888LL);
    CHECK_INT(rt_parse_deadline("1542409706888 "), 0);
}

static void test_remaining_ms(void)
{
    lambda_invocation inv = {0};
    CHECK_INT(lambda_invocation_remaining_ms(&inv), RT_NO_DEADLINE_REMAINING_MS);
    inv.deadline_ms = rns_wall_ms() + 5000;
    int64_t left = lambda_invocation_remaining_ms(&inv);
    CHECK(left > 4000 && left <= 5000);
    inv.deadline_ms = rns_wall_ms() - 100;
    CHECK(lambda_invocation_remaining_ms(&inv) < 0);
    CHECK(rns_wall_ms() > 1700000000000LL); /* Unix ms, not seconds or monotonic */
}

static void test_error_body(void)
{
    char *b = rt_error_body("DB_PORT is not a number: \"x\"", "Runtime.ConfigError");
    CHECK_STR(b, "{\"errorMessage\":\"DB_PORT is not a number: \\\"x\\\"\",\"errorType\":\"Runtime.ConfigError\","
                 "\"stackTrace\":[]}");
    free(b);
    b = rt_error_body(NULL, NULL);
    CHECK_STR(b, "{\"errorMessage\":\"\",\"errorType\":\"\",\"stackTrace\":[]}");
    free(b);
    b = rt_error_body("bad \xff byte\nline", "T");
    CHECK_STR(b, "{\"errorMessage\":\"bad \xEF\xBF\xBD byte\\nline\",\"errorType\":\"T\",\"stackTrace\":[]}");
    free(b);
}

static void test_error_body_cut(void)
{
    size_t n = RT_MAX_ERROR_MESSAGE + 100;
    char *msg = malloc(n + 1);
    memset(msg, 'm', n);
    msg[n] = '\0';
    char *b = rt_error_body(msg, "Big");
    json_t *j = json_loads(b, 0, NULL);
    CHECK(j != NULL);
    CHECK_INT(strlen(json_string_value(json_object_get(j, "errorMessage"))), RT_MAX_ERROR_MESSAGE);
    json_decref(j);
    free(b);
    free(msg);
}

static void test_path_escape(void)
{
    char out[64];
    CHECK_INT(rt_path_escape("8476a536-e9f4-11e8-9739-2dfe598c3fcd", out, sizeof out), 0);
    CHECK_STR(out, "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
    CHECK_INT(rt_path_escape("a/b c?d%~_.", out, sizeof out), 0);
    CHECK_STR(out, "a%2Fb%20c%3Fd%25~_.");
    CHECK_INT(rt_path_escape("abcd", out, 4), -1);
    CHECK_INT(rt_path_escape("abc", out, 4), 0);
    CHECK_INT(rt_path_escape("ab/", out, 5), -1);
    CHECK_INT(rt_path_escape("", out, 0), -1);
}

static void test_header_safe(void)
{
    char s[] = "text/plain\r\nX-Evil: 1\x7f";
    rt_header_safe(s);
    CHECK_STR(s, "text/plain__X-Evil: 1_");
}

static void test_responses(void)
{
    lambda_response r = lambda_response_success(strdup("{}"), 2, NULL);
    CHECK_INT(r.success, 1);
    CHECK_STR(r.content_type, "application/json");
    CHECK_INT(r.payload_len, 2);
    lambda_response_free(&r);
    CHECK(r.payload == NULL && r.content_type == NULL);
    r = lambda_response_success(NULL, 10, "text/plain");
    CHECK_INT(r.payload_len, 0);
    CHECK_STR(r.content_type, "text/plain");
    lambda_response_free(&r);
    r = lambda_response_failure("it broke", "ResolveError");
    CHECK_INT(r.success, 0);
    CHECK_STR(r.error_message, "it broke");
    CHECK_STR(r.error_type, "ResolveError");
    CHECK(r.payload == NULL);
    lambda_response_free(&r);
    r = lambda_response_failure(NULL, NULL);
    CHECK_STR(r.error_message, "");
    CHECK_STR(r.error_type, "Unhandled");
    lambda_response_free(&r);
    lambda_response_free(NULL);
}

static void test_new_rejects_bad_api(void)
{
    char err[160];
    CHECK(lambda_runtime_new(NULL, NULL, err, sizeof err) == NULL);
    CHECK_STR(err, "AWS_LAMBDA_RUNTIME_API is not set");
    CHECK(lambda_runtime_new("", NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "AWS_LAMBDA_RUNTIME_API") != NULL);
    const char *bad[] = {
        "127.0.0.1:9001/x", "user@host:1", "h ost:1",         "a?b",      "127.0.0.1:9001#", "\n",    "127.0.0.1",
        "127.0.0.1:",       "127.0.0.1:0", "127.0.0.1:65536", "::1:9001", "[::1]9001",       ":9001", "[]:9001",
        "host:90x1",        "host:123456"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        CHECK(lambda_runtime_new(bad[i], NULL, err, sizeof err) == NULL);
        CHECK(strstr(err, "AWS_LAMBDA_RUNTIME_API is not a host:port") != NULL);
    }
}

static void test_new_and_free(void)
{
    char err[160] = "";
    struct {
        const char *api, *host, *port;
    } ok[] = {{"127.0.0.1:9001", "127.0.0.1", "9001"},
              {"localhost:1", "localhost", "1"},
              {"[::1]:65535", "::1", "65535"},
              {"runtime.internal:09001", "runtime.internal", "9001"}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        lambda_runtime *rt = lambda_runtime_new(ok[i].api, NULL, err, sizeof err);
        CHECK(rt != NULL);
        if (rt) {
            CHECK_STR(rt->api, ok[i].api); /* the Host header */
            CHECK_STR(rt->addr.host, ok[i].host);
            CHECK_STR(rt->addr.port, ok[i].port);
            CHECK_INT(rt->fd, -1); /* nothing connected before the first call */
        }
        lambda_runtime_free(rt);
    }
    lambda_runtime_free(NULL);
    CHECK_INT(lambda_runtime_run(NULL, NULL, NULL), 1);
    CHECK_INT(lambda_runtime_init_error(NULL, "T", "m"), -1);
}

int main(void)
{
    RUN(test_headers_case_insensitive);
    RUN(test_headers_absent_are_empty);
    RUN(test_headers_status_line_resets);
    RUN(test_headers_near_misses_ignored);
    RUN(test_headers_nul_ends_value);
    RUN(test_deadline_parse);
    RUN(test_remaining_ms);
    RUN(test_error_body);
    RUN(test_error_body_cut);
    RUN(test_path_escape);
    RUN(test_header_safe);
    RUN(test_responses);
    RUN(test_new_rejects_bad_api);
    RUN(test_new_and_free);
    return check_done();
}
