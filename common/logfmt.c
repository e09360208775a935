/* Formatting of one log line, separate from writing it so it can be tested.
 *
 * Text:  2026-11-26T06:36:26.123Z<TAB>INFO<TAB>request-id<TAB>message key=value ...
 *        (the request id column is empty outside an invocation; newlines in
 *        the message become carriage returns, as Lambda's managed runtimes do,
 *        so one message stays one CloudWatch event)
 * JSON:  {"timestamp":...,"level":...,"message":...,"requestId":...,fields...} */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/jsonw.h"
#include "common/log_internal.h"

static const char *const level_names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};

const char *log_level_name(log_level level)
{
    if ((unsigned)level > LOG_FATAL)
        return "INFO";
    return level_names[level];
}

int log_parse_level(const char *s, log_level *out)
{
    if (!s)
        return -1;
    for (int i = LOG_TRACE; i <= LOG_FATAL; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "WARNING") == 0) {
        *out = LOG_WARN;
        return 0;
    }
    return -1;
}

static int needs_quotes(const char *s)
{
    if (!*s)
        return 1;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == '"' || *s == '=' || *s == '\\' || *s == 0x7F)
            return 1;
    return 0;
}

/* key=value, the value bare when it can be, else as a JSON literal. */
static int append_field(rns_buf *b, const char *key, json_t *value)
{
    const char *s = json_is_string(value) ? json_string_value(value) : NULL;
    char *dumped = NULL;
    if (!s || needs_quotes(s)) {
        jw w = {0};
        jw_value(&w, value);
        if (!(dumped = jw_finish(&w, NULL)))
            return -1;
        s = dumped;
    }
    int rc = rns_buf_add(b, " ", 1) | rns_buf_add(b, key, strlen(key)) | rns_buf_add(b, "=", 1) |
             rns_buf_add(b, s, strlen(s));
    free(dumped);
    return rc ? -1 : 0;
}

static char *text_line(const logger *lg, log_level level, const char *ts, const char *message, const json_t *fields,
                       size_t *len)
{
    rns_buf b = {0};
    const char *lv = log_level_name(level);
    int rc = rns_buf_add(&b, ts, strlen(ts)) | rns_buf_add(&b, "\t", 1) | rns_buf_add(&b, lv, strlen(lv)) |
             rns_buf_add(&b, "\t", 1) |
             rns_buf_add(&b, lg->request_id, strnlen(lg->request_id, sizeof lg->request_id)) |
             rns_buf_add(&b, "\t", 1) | rns_buf_add(&b, message, strlen(message));
    const char *key;
    json_t *value;
    if (json_is_object(fields))
        json_object_foreach((json_t *)fields, key, value) rc |= append_field(&b, key, value);
    for (size_t i = 0; i < b.len; i++)
        if (b.data[i] == '\n')
            b.data[i] = '\r';
    rc |= rns_buf_add(&b, "\n", 1);
    if (rc) {
        rns_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.data;
}

/* The keys of the line itself: a field of the same name is left out. */
static int fixed_key(const logger *lg, const char *key)
{
    return strcmp(key, "timestamp") == 0 || strcmp(key, "level") == 0 || strcmp(key, "message") == 0 ||
           (lg->request_id[0] && strcmp(key, "requestId") == 0);
}

/* What json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) made of an object of the
 * fixed keys updated with the missing fields, written directly. */
static char *json_line(const logger *lg, log_level level, const char *ts, const char *message, const json_t *fields,
                       size_t *len)
{
    jw w = {0};
    const char *lv = log_level_name(level), *key;
    json_t *value;
    jw_lit(&w, "{\"timestamp\":");
    jw_string(&w, ts, strlen(ts));
    jw_lit(&w, ",\"level\":");
    jw_string(&w, lv, strlen(lv));
    jw_lit(&w, ",\"message\":");
    jw_text(&w, message, (size_t)-1);
    if (lg->request_id[0]) {
        jw_lit(&w, ",\"requestId\":");
        jw_text(&w, lg->request_id, sizeof lg->request_id);
    }
    if (json_is_object(fields))
        json_object_foreach((json_t *)fields, key, value)
        {
            if (fixed_key(lg, key))
                continue;
            jw_lit(&w, ",");
            jw_string(&w, key, strlen(key));
            jw_lit(&w, ":");
            jw_value(&w, value);
        }
    jw_lit(&w, "}\n");
    return jw_finish(&w, len);
}

/* value (0 <= value < 10^width, as the bounds below keep it) in width digits. */
static void digits(char *out, int value, int width)
{
    while (width-- > 0) {
        out[width] = (char)('0' + value % 10);
        value /= 10;
    }
}

void log_format_timestamp(int64_t unix_ms, char out[LOG_TIMESTAMP_SIZE])
{
    time_t secs = (time_t)(unix_ms / 1000);
    int ms = (int)(unix_ms % 1000);
    struct tm tm;
    if (unix_ms < 0 || !gmtime_r(&secs, &tm) || tm.tm_year + 1900 > 9999) {
        secs = 0;
        ms = 0;
        gmtime_r(&secs, &tm);
    }
    /* Digits written directly: snprintf cost more than the rest of a log line. */
    digits(out, tm.tm_year + 1900, 4);
    out[4] = '-';
    digits(out + 5, tm.tm_mon + 1, 2);
    out[7] = '-';
    digits(out + 8, tm.tm_mday, 2);
    out[10] = 'T';
    digits(out + 11, tm.tm_hour, 2);
    out[13] = ':';
    digits(out + 14, tm.tm_min, 2);
    out[16] = ':';
    digits(out + 17, tm.tm_sec, 2);
    out[19] = '.';
    digits(out + 20, ms, 3);
    out[23] = 'Z';
    out[LOG_TIMESTAMP_SIZE - 1] = '\0';
}

char *log_format_line(const logger *lg, log_level level, int64_t unix_ms, const char *message, const json_t *fields,
                      size_t *len)
{
    char ts[LOG_TIMESTAMP_SIZE];
    log_format_timestamp(unix_ms, ts);
    if (!message)
        message = "";
    if (lg->json)
        return json_line(lg, level, ts, message, fields, len);
    return text_line(lg, level, ts, message, fields, len);
}
