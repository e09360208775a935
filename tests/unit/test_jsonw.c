/* common/jsonw.c against jansson, which defined the log format: the writer's
 * strings and values, a whole JSON log line (log_format_line) and the EMF line
 * (metrics_line) and the result (result_dump) are compared byte for byte with what the jansson objects and
 * json_dumps of the previous implementation (kept below as the reference)
 * give, for tricky text: every ASCII control character, quotes, backslashes,
 * slashes, DEL, non-ASCII, invalid UTF-8, embedded NULs, cuts at a length. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "common/log_internal.h"
#include "handler/sync/metrics.h"
#include "handler/sync/metrics_internal.h"
#include "handler/sync/result.h"
#include "runtime/internal.h"
#include "tests/unit/check.h"

/* ---- the reference: the jansson implementation the writer replaced ---- */

static char *ref_log_line(const logger *lg, log_level level, const char *ts, const char *message, const json_t *fields)
{
    json_t *o = json_object();
    int rc = json_object_set_new(o, "timestamp", json_string(ts)) |
             json_object_set_new(o, "level", json_string(log_level_name(level))) |
             json_object_set_new(o, "message", rt_json_text(message, (size_t)-1));
    if (lg->request_id[0])
        rc |= json_object_set_new(o, "requestId", rt_json_text(lg->request_id, sizeof lg->request_id));
    if (json_is_object(fields))
        rc |= json_object_update_missing(o, (json_t *)fields);
    char *body = rc ? NULL : json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!body)
        return NULL;
    size_t n = strlen(body);
    char *line = malloc(n + 2);
    memcpy(line, body, n);
    memcpy(line + n, "\n", 2);
    free(body);
    return line;
}

static char *ref_metrics_line(const char *ns, const char *target_group, const metrics_values *v, int64_t now_ms)
{
    if (!ns || !*ns)
        return NULL;
    json_t *aws =
        json_pack("{s:[{s:s, s:[[s]], s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}]}]}", "CloudWatchMetrics",
                  "Namespace", ns, "Dimensions", "TargetGroup", "Metrics", "Name", "TargetsRegistered", "Unit", "Count",
                  "Name", "TargetsDeregistered", "Unit", "Count", "Name", "DnsWaitMs", "Unit", "Milliseconds", "Name",
                  "ReconcileMs", "Unit", "Milliseconds", "Name", "Errors", "Unit", "Count");
    if (!aws)
        return NULL;
    json_object_set_new(aws, "Timestamp", json_integer(now_ms));
    json_t *o = json_pack("{s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:s}", "_aws", aws, "TargetGroup",
                          target_group ? target_group : "", "TargetsRegistered", (json_int_t)v->registered,
                          "TargetsDeregistered", (json_int_t)v->deregistered, "DnsWaitMs", (json_int_t)v->dns_wait_ms,
                          "ReconcileMs", (json_int_t)v->reconcile_ms, "Errors", (json_int_t)v->errors, "trigger",
                          v->trigger ? v->trigger : "manual");
    if (!o)
        return NULL;
    if (v->event_id && *v->event_id)
        json_object_set_new(o, "eventId", json_string(v->event_id));
    if (v->error_type && *v->error_type)
        json_object_set_new(o, "errorType", json_string(v->error_type));
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return line;
}

/* ---- inputs ---- */

static const char *const tricky[] = {
    "",
    "plain text",
    "quote \" backslash \\ slash / end",
    "tab\there\nnewline\r\b\f",
    "\x01\x02\x1f\x7f",
    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e", /* é € 𝄞 */
    "lone \x80 continuation",
    "overlong \xc0\xaf",
    "surrogate \xed\xa0\x80",
    "above U+10FFFF \xf4\x90\x80\x80",
    "truncated \xe2\x82",
    "\xff\xfe",
    "</script>",
    "\\u0000 as text",
    "key=value \"quoted\"",
};
#define NTRICKY (sizeof tricky / sizeof tricky[0])

static char *writer_dump(const json_t *v)
{
    jw w = {0};
    jw_value(&w, v);
    return jw_finish(&w, NULL);
}

static void same_dump(const json_t *v, const char *what)
{
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY), *got = writer_dump(v);
    if (!want || !got || strcmp(want, got) != 0)
        fprintf(stderr, "  %s: writer %s, jansson %s\n", what, got ? got : "NULL", want ? want : "NULL");
    CHECK((want == NULL) == (got == NULL));
    CHECK(!want || !got || strcmp(want, got) == 0);
    free(want);
    free(got);
}

static void test_strings_as_jansson_dumps_them(void)
{
    char all[128];
    for (int i = 1; i < 128; i++)
        all[i - 1] = (char)i;
    all[127] = '\0';
    json_t *s = json_string(all);
    same_dump(s, "every ASCII character");
    json_decref(s);
    s = json_stringn("nul\0inside", 10);
    same_dump(s, "an embedded NUL");
    json_decref(s);
    for (size_t i = 0; i < NTRICKY; i++) {
        json_t *t = json_string(tricky[i]); /* NULL for invalid UTF-8: checked below */
        if (t)
            same_dump(t, tricky[i]);
        json_decref(t);
        jw w = {0};
        jw_string(&w, tricky[i], strlen(tricky[i]));
        char *got = jw_finish(&w, NULL);
        CHECK((got == NULL) == (t == NULL)); /* jw_string refuses what json_string refuses */
        free(got);
    }
}

static void test_text_as_clean_then_dump(void)
{
    size_t maxes[] = {(size_t)-1, 0, 1, 5, 11, 12, 13};
    for (size_t i = 0; i < NTRICKY; i++)
        for (size_t m = 0; m < sizeof maxes / sizeof maxes[0]; m++) {
            json_t *ref = rt_json_text(tricky[i], maxes[m]);
            char *want = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY);
            jw w = {0};
            jw_text(&w, tricky[i], maxes[m]);
            char *got = jw_finish(&w, NULL);
            if (!got || strcmp(want, got) != 0)
                fprintf(stderr, "  text %zu cut %zu: writer %s, jansson %s\n", i, maxes[m], got ? got : "NULL",
                        want ? want : "NULL");
            CHECK(got && strcmp(want, got) == 0);
            free(want);
            free(got);
            json_decref(ref);
        }
}

static void test_values_as_jansson_dumps_them(void)
{
    json_t *v =
        json_pack("{s:i, s:I, s:I, s:b, s:b, s:n, s:[], s:{}, s:[s, i, [s], {s:s}], s:o}", "zero", 0, "min",
                  (json_int_t)INT64_MIN, "max", (json_int_t)INT64_MAX, "t", 1, "f", 0, "null", "empty", "obj", "mixed",
                  "a\"b", -42, "c\n", "d/e", "\x01", "nested", json_pack("{s:{s:[i,i]}}", "x", "y", 1, 2));
    CHECK(v != NULL);
    same_dump(v, "nested values");
    json_t *r = json_real(0.1);
    same_dump(r, "a real");
    json_decref(r);
    json_decref(v);
}

static void test_log_line_as_before(void)
{
    static const char *const ids[] = {"", "8f5c0a5e-1c2d-4e1f-9a1b-0c3d5e7f9a1b", "odd \"id\"\\\x01"};
    char ts[LOG_TIMESTAMP_SIZE];
    logger lg;
    log_format_timestamp(1795674986123LL, ts);
    memset(&lg, 0, sizeof lg);
    lg.json = 1;
    for (size_t r = 0; r < sizeof ids / sizeof ids[0]; r++) {
        logger_set_request_id(&lg, ids[r]);
        for (size_t i = 0; i < NTRICKY; i++) {
            json_t *fields =
                json_pack("{s:s, s:s, s:s, s:i, s:[s], s:s}", "timestamp", "not this", "message", "nor this",
                          "requestId", "only without an id", "count", (int)i, "list", "x", "note", "last");
            json_t *field_sets[] = {NULL, fields, json_object()};
            for (size_t f = 0; f < 3; f++) {
                size_t len = 0;
                char *got = log_format_line(&lg, (log_level)(i % 6), 1795674986123LL, tricky[i], field_sets[f], &len);
                char *want = ref_log_line(&lg, (log_level)(i % 6), ts, tricky[i], field_sets[f]);
                if (!got || !want || strcmp(got, want) != 0)
                    fprintf(stderr, "  line:\n    %s    %s", got ? got : "NULL\n", want ? want : "NULL\n");
                CHECK(got && want && strcmp(got, want) == 0);
                CHECK(got && len == strlen(got));
                free(got);
                free(want);
            }
            json_decref(field_sets[2]);
            json_decref(fields);
        }
    }
    /* A request id of the longest kind, cut inside a character. */
    char id[200];
    memset(id, 'a', sizeof id);
    memcpy(id + 126, "\xc3\xa9\xc3\xa9", 4);
    id[199] = '\0';
    logger_set_request_id(&lg, id);
    char *got = log_format_line(&lg, LOG_INFO, 1795674986123LL, "m", NULL, NULL);
    char *want = ref_log_line(&lg, LOG_INFO, ts, "m", NULL);
    CHECK(got && want && strcmp(got, want) == 0);
    free(got);
    free(want);
}

/* Random bytes, mostly printable, some control and high bytes: 3,000 messages. */
static void test_random_messages_as_before(void)
{
    static const char alphabet[] = "abcAZ09 \"\\/\t\n\x01\x1f\x7f\x80\xbf\xc3\xa9\xe2\x82\xac\xed\xf0\xf4\xff";
    char ts[LOG_TIMESTAMP_SIZE];
    uint32_t seed = 12345;
    logger lg;
    memset(&lg, 0, sizeof lg);
    lg.json = 1;
    log_format_timestamp(1795674986123LL, ts);
    for (int n = 0; n < 3000; n++) {
        char msg[40];
        size_t len = (seed >> 8) % sizeof msg;
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            msg[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        msg[len] = '\0';
        seed = seed * 1103515245u + 12345u;
        char *got = log_format_line(&lg, LOG_WARN, 1795674986123LL, msg, NULL, NULL);
        char *want = ref_log_line(&lg, LOG_WARN, ts, msg, NULL);
        if (!got || !want || strcmp(got, want) != 0) {
            fprintf(stderr, "  message %d differs:\n    %s    %s", n, got ? got : "NULL\n", want ? want : "NULL\n");
            CHECK(0);
            n = 3000;
        }
        free(got);
        free(want);
    }
}

static void test_emf_line_as_before(void)
{
    metrics_values cases[] = {
        {1, 2, 4120, 180, 0, "rds-event", "RDS-EVENT-0049", ""},
        {0, 0, 0, 20, 1, "manual", NULL, "ResolveError"},
        {-1, 9223372036854775807L, 0, 0, 0, NULL, "id \"quoted\"\n", NULL},
        {3, 4, 5, 6, 7, "schedule", "caf\xc3\xa9", "bad \xc3 utf8"},
        {3, 4, 5, 6, 7, "schedule", "bad \xff", "Timeout"},
        {3, 4, 5, 6, 7, "bad \xc3", "RDS-EVENT-0049", NULL},
    };
    const char *names[][2] = {
        {"RdsNlbSync", "pg-writer-tg"}, {"Team/Db", NULL}, {"ns\\x", "t\x01g"}, {"N", "tg"}, {"N", "tg"}, {"N", "tg"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = metrics_line(names[i][0], names[i][1], &cases[i], 1717000000123LL + (int64_t)i);
        char *want = ref_metrics_line(names[i][0], names[i][1], &cases[i], 1717000000123LL + (int64_t)i);
        if ((got == NULL) != (want == NULL) || (got && strcmp(got, want) != 0))
            fprintf(stderr, "  EMF %zu:\n    %s\n    %s\n", i, got ? got : "NULL", want ? want : "NULL");
        CHECK((got == NULL) == (want == NULL));
        CHECK(!got || strcmp(got, want) == 0);
        free(got);
        free(want);
    }
    CHECK(metrics_line("", "tg", &cases[0], 1) == NULL);
}

static void test_result_dump_as_before(void)
{
    json_t *r =
        json_pack("{s:b, s:[s, s], s:[], s:n, s:s, s:I, s:{s:s}}", "converged", 1, "registered", "10.20.1.9:5432",
                  "caf\xc3\xa9 \"q\" \x01", "deregistered", "error", "dnsName",
                  "orders-db.abc123xyz.eu-west-1.rds.amazonaws.com", "waitedMs", (json_int_t)4120, "x", "y", "z\\/");
    size_t len = 0;
    char *got = result_dump(r, &len), *want = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
    CHECK(got && want && strcmp(got, want) == 0);
    CHECK(got && len == strlen(got));
    free(got);
    free(want);
    json_t *s = json_string("not an object");
    CHECK(result_dump(s, &len) == NULL && len == 0); /* as json_dumps without JSON_ENCODE_ANY */
    json_decref(s);
    json_decref(r);
}

int main(void)
{
    RUN(test_strings_as_jansson_dumps_them);
    RUN(test_text_as_clean_then_dump);
    RUN(test_values_as_jansson_dumps_them);
    RUN(test_log_line_as_before);
    RUN(test_random_messages_as_before);
    RUN(test_emf_line_as_before);
    RUN(test_result_dump_as_before);
    return check_done();
}
