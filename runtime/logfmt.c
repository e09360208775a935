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

#include "runtime/internal.h"

static const char *const level_names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};

const char *log_level_name(log_level level)
{
    if ((unsigned)level > LOG_FATAL)
        return "INFO";
    return level_names[level];
}

int rt_parse_level(const char *s, log_level *out)
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
        dumped = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!dumped)
            return -1;
        s = dumped;
    }
    int rc = rns_buf_add(b, " ", 1) | rns_buf_add(b, key, strlen(key)) |
             rns_buf_add(b, "=", 1) | rns_buf_add(b, s, strlen(s));
    free(dumped);
    return rc ? -1 : 0;
}

static char *text_line(const logger *lg, log_level level, const char *ts,
                       const char *message, const json_t *fields, size_t *len)
{
    rns_buf b = {0};
    const char *lv = log_level_name(level);
    int rc = rns_buf_add(&b, ts, strlen(ts)) | rns_buf_add(&b, "\t", 1) |
             rns_buf_add(&b, lv, strlen(lv)) | rns_buf_add(&b, "\t", 1) |
             rns_buf_add(&b, lg->request_id, strnlen(lg->request_id, sizeof lg->request_id)) |
             rns_buf_add(&b, "\t", 1) | rns_buf_add(&b, message, strlen(message));
    const char *key;
    json_t *value;
    if (json_is_object(fields))
        json_object_foreach((json_t *)fields, key, value)
            rc |= append_field(&b, key, value);
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

static char *json_line(const logger *lg, log_level level, const char *ts,
                       const char *message, const json_t *fields, size_t *len)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int rc = json_object_set_new(o, "timestamp", json_string(ts)) |
             json_object_set_new(o, "level", json_string(log_level_name(level))) |
             json_object_set_new(o, "message", rt_json_text(message, (size_t)-1));
    if (lg->request_id[0])
        rc |= json_object_set_new(o, "requestId", rt_json_text(lg->request_id, sizeof lg->request_id));
    /* The fixed keys win over fields of the same name. */
    if (json_is_object(fields))
        rc |= json_object_update_missing(o, (json_t *)fields);
    char *body = rc ? NULL : json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!body)
        return NULL;
    size_t n = strlen(body);
    char *line = realloc(body, n + 2);
    if (!line) {
        free(body);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    *len = n + 1;
    return line;
}

char *rt_log_line(const logger *lg, log_level level, int64_t unix_ms,
                  const char *message, const json_t *fields, size_t *len)
{
    char ts[RT_TIMESTAMP_SIZE];
    rt_format_timestamp(unix_ms, ts);
    if (!message)
        message = "";
    if (lg->json)
        return json_line(lg, level, ts, message, fields, len);
    return text_line(lg, level, ts, message, fields, len);
}
