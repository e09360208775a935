/* Private to the logger (common/log.c, common/logfmt.c) and its tests
 * (tests/unit/test_log.c, test_jsonw.c): a line is formatted apart from
 * writing it, so it can be tested without a clock or a stream. */
#ifndef RNS_COMMON_LOG_INTERNAL_H
#define RNS_COMMON_LOG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/log.h"

/* "2026-11-26T06:36:26.123Z" (24 characters and a NUL). */
#define LOG_TIMESTAMP_SIZE 25
void log_format_timestamp(int64_t unix_ms, char out[LOG_TIMESTAMP_SIZE]);

/* One finished log line, newline included, malloc'd; NULL out of memory.
 * `fields` is a jansson object or NULL. */
char *log_format_line(const logger *lg, log_level level, int64_t unix_ms, const char *message, const json_t *fields,
                      size_t *len);
/* "TRACE".."FATAL" (any case, also "WARNING"): 0 and *out set, else -1. */
int log_parse_level(const char *s, log_level *out);

#endif
