/* Unit tests of the logger: line formats, levels, configuration, writing. */
#include <stdlib.h>
#include <string.h>

#include "common/log_internal.h"
#include "tests/unit/check.h"

#define T0 1795675866123LL /* 2026-11-26T06:51:06.123Z */

static logger make_logger(int json, const char *request_id)
{
    logger lg = {0};
    lg.json = json;
    lg.threshold = LOG_INFO;
    logger_set_request_id(&lg, request_id);
    return lg;
}

static void test_timestamp(void)
{
    char ts[LOG_TIMESTAMP_SIZE];
    log_format_timestamp(T0, ts);
    CHECK_STR(ts, "2026-11-26T06:51:06.123Z");
    log_format_timestamp(0, ts);
    CHECK_STR(ts, "1970-01-01T00:00:00.000Z");
    log_format_timestamp(1709251199007LL, ts); /* leap day, single-digit ms */
    CHECK_STR(ts, "2024-02-29T23:59:59.007Z");
    log_format_timestamp(-1, ts);
    CHECK_STR(ts, "1970-01-01T00:00:00.000Z");
}

static void check_line(const logger *lg, log_level level, const char *msg, const json_t *fields, const char *want)
{
    size_t len = 0;
    char *line = log_format_line(lg, level, T0, msg, fields, &len);
    CHECK_STR(line, want);
    CHECK_INT(len, strlen(want));
    free(line);
}

static void test_text_lines(void)
{
    logger lg = make_logger(0, NULL);
    check_line(&lg, LOG_INFO, "started", NULL, "2026-11-26T06:51:06.123Z\tINFO\t\tstarted\n");
    logger_set_request_id(&lg, "8476a536-e9f4");
    check_line(&lg, LOG_WARN, "two\nlines", NULL, "2026-11-26T06:51:06.123Z\tWARN\t8476a536-e9f4\ttwo\rlines\n");
    check_line(&lg, LOG_ERROR, NULL, NULL, "2026-11-26T06:51:06.123Z\tERROR\t8476a536-e9f4\t\n");
}

static void test_text_fields(void)
{
    logger lg = make_logger(0, "r1");
    json_t *f = json_pack("{s:s, s:i, s:s, s:s, s:b, s:n, s:[i,i], s:s}", "target", "10.0.0.1:5432", "port", 5432,
                          "msg", "two words", "empty", "", "dry", 0, "none", "list", 1, 2, "q", "a=\"b\"\n");
    check_line(&lg, LOG_INFO, "registered", f,
               "2026-11-26T06:51:06.123Z\tINFO\tr1\tregistered target=10.0.0.1:5432 port=5432 "
               "msg=\"two words\" empty=\"\" dry=false none=null list=[1,2] q=\"a=\\\"b\\\"\\n\"\n");
    json_decref(f);
}

static void test_json_lines(void)
{
    logger lg = make_logger(1, NULL);
    check_line(&lg, LOG_INFO, "started", NULL,
               "{\"timestamp\":\"2026-11-26T06:51:06.123Z\",\"level\":\"INFO\",\"message\":\"started\"}\n");
    logger_set_request_id(&lg, "r-2");
    json_t *f = json_pack("{s:s, s:i, s:s, s:s}", "level", "FAKE", "port", 5432, "requestId", "other", "x", "y");
    check_line(
        &lg, LOG_DEBUG, "a \"quoted\"\nmessage", f,
        "{\"timestamp\":\"2026-11-26T06:51:06.123Z\",\"level\":\"DEBUG\",\"message\":\"a \\\"quoted\\\"\\nmessage\","
        "\"requestId\":\"r-2\",\"port\":5432,\"x\":\"y\"}\n");
    json_decref(f);
    check_line(&lg, LOG_FATAL, "bad \xc3", NULL,
               "{\"timestamp\":\"2026-11-26T06:51:06.123Z\",\"level\":\"FATAL\",\"message\":\"bad \xEF\xBF\xBD\","
               "\"requestId\":\"r-2\"}\n");
}

static void test_levels(void)
{
    log_level lv = LOG_FATAL;
    const char *names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
    for (int i = 0; i < 6; i++) {
        CHECK_INT(log_parse_level(names[i], &lv), 0);
        CHECK_INT(lv, i);
        CHECK_STR(log_level_name((log_level)i), names[i]);
    }
    CHECK_INT(log_parse_level("debug", &lv), 0);
    CHECK_INT(lv, LOG_DEBUG);
    CHECK_INT(log_parse_level("Warning", &lv), 0);
    CHECK_INT(lv, LOG_WARN);
    CHECK_INT(log_parse_level("VERBOSE", &lv), -1);
    CHECK_INT(log_parse_level("", &lv), -1);
    CHECK_INT(log_parse_level(NULL, &lv), -1);
}

static void test_init_from_env(void)
{
    logger lg;
    unsetenv("AWS_LAMBDA_LOG_FORMAT");
    unsetenv("AWS_LAMBDA_LOG_LEVEL");
    logger_init(&lg, stderr);
    CHECK_INT(lg.json, 0);
    CHECK_INT(lg.threshold, LOG_INFO);
    CHECK_STR(lg.request_id, "");
    CHECK(lg.out == stderr);
    setenv("AWS_LAMBDA_LOG_FORMAT", "JSON", 1);
    setenv("AWS_LAMBDA_LOG_LEVEL", "ERROR", 1);
    logger_init(&lg, stdout);
    CHECK_INT(lg.json, 1);
    CHECK_INT(lg.threshold, LOG_ERROR);
    setenv("AWS_LAMBDA_LOG_FORMAT", "Text", 1);
    setenv("AWS_LAMBDA_LOG_LEVEL", "LOUD", 1);
    logger_init(&lg, stdout);
    CHECK_INT(lg.json, 0);
    CHECK_INT(lg.threshold, LOG_INFO);
    unsetenv("AWS_LAMBDA_LOG_FORMAT");
    unsetenv("AWS_LAMBDA_LOG_LEVEL");
}

static void test_threshold_and_writing(void)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&buf, &size);
    logger lg = make_logger(0, NULL);
    lg.out = mem;
    lg.threshold = LOG_WARN;
    CHECK(!logger_enabled(&lg, LOG_INFO));
    CHECK(logger_enabled(&lg, LOG_WARN));
    log_msg(&lg, LOG_INFO, "hidden %d", 1);
    log_msg(&lg, LOG_DEBUG, "hidden %d", 2);
    log_msg(&lg, LOG_WARN, "shown %d", 3);
    log_fields(&lg, LOG_TRACE, "hidden", NULL);
    log_fields(&lg, LOG_ERROR, "also shown", NULL);
    log_raw_line(&lg, "{\"_aws\":{}}");
    log_raw_line(&lg, "{\"_aws\":{\"n\":1}}\n");
    fclose(mem);
    CHECK(strstr(buf, "hidden") == NULL);
    CHECK(strstr(buf, "\tWARN\t\tshown 3\n") != NULL);
    CHECK(strstr(buf, "\tERROR\t\talso shown\n") != NULL);
    CHECK(strstr(buf, "\n{\"_aws\":{}}\n{\"_aws\":{\"n\":1}}\n") != NULL);
    int lines = 0;
    for (char *p = buf; *p; p++)
        lines += *p == '\n';
    CHECK_INT(lines, 4);
    free(buf);
}

static void test_long_message(void)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&buf, &size);
    logger lg = make_logger(1, "r");
    lg.out = mem;
    char big[3000];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    log_msg(&lg, LOG_INFO, "<%s>", big);
    fclose(mem);
    json_t *j = json_loads(buf, 0, NULL);
    CHECK(j != NULL);
    CHECK_INT(strlen(json_string_value(json_object_get(j, "message"))), sizeof big + 1);
    CHECK_STR(json_string_value(json_object_get(j, "requestId")), "r");
    json_decref(j);
    free(buf);
}

static void test_request_id(void)
{
    logger lg = make_logger(0, NULL);
    char id[300];
    memset(id, 'i', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    logger_set_request_id(&lg, id);
    CHECK_INT(strlen(lg.request_id), sizeof lg.request_id - 1);
    logger_set_request_id(&lg, NULL);
    CHECK_STR(lg.request_id, "");
    logger_set_request_id(NULL, "x");
    log_msg(NULL, LOG_FATAL, "no logger");
    CHECK(!logger_enabled(NULL, LOG_FATAL));
}

int main(void)
{
    RUN(test_timestamp);
    RUN(test_text_lines);
    RUN(test_text_fields);
    RUN(test_json_lines);
    RUN(test_levels);
    RUN(test_init_from_env);
    RUN(test_threshold_and_writing);
    RUN(test_long_message);
    RUN(test_request_id);
    return check_done();
}
