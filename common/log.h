/* Lambda-style logging: plain text lines by default, one JSON object per line
 * with AWS_LAMBDA_LOG_FORMAT=JSON ({"timestamp","level","message","requestId",
 * plus any fields given}); lines below AWS_LAMBDA_LOG_LEVEL are dropped. Each
 * line is written with one write and flushed: stdout/stderr are pipes in Lambda.
 *
 * Callers never pass the event payload, credentials, signatures or a
 * CloudFormation response URL to these functions at INFO and above. */
#ifndef RNS_COMMON_LOG_H
#define RNS_COMMON_LOG_H

#include <stdio.h>

#include <jansson.h>

typedef enum log_level { LOG_TRACE, LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_FATAL } log_level;

typedef struct logger {
    FILE *out;
    int json;             /* AWS_LAMBDA_LOG_FORMAT=JSON */
    log_level threshold;  /* AWS_LAMBDA_LOG_LEVEL, default INFO */
    char request_id[128]; /* "" outside an invocation */
} logger;

/* Reads AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL; unknown values fall
 * back to Text and INFO. */
void logger_init(logger *lg, FILE *out);
void logger_set_request_id(logger *lg, const char *request_id); /* NULL clears */
int logger_enabled(const logger *lg, log_level level);

/* printf-style message. */
void log_msg(logger *lg, log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A message with structured fields: `fields` is an object (borrowed; may be
 * NULL). In JSON mode the fields become keys of the line; in
 * text mode they are appended as key=value. */
void log_fields(logger *lg, log_level level, const char *message, const json_t *fields);

/* Writes one pre-built JSON line as it is (CloudWatch Embedded Metric Format). */
void log_raw_line(logger *lg, const char *line);

const char *log_level_name(log_level level);

#endif
