/* The invocation headers of a GET /next answer, matched case-insensitively
 * (HTTP header names are; proxies and emulators do change their case). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/digits.h"
#include "runtime/internal.h"

static const char *const header_names[RT_H_COUNT] = {
    [RT_H_REQUEST_ID] = "Lambda-Runtime-Aws-Request-Id",
    [RT_H_DEADLINE] = "Lambda-Runtime-Deadline-Ms",
    [RT_H_FUNCTION_ARN] = "Lambda-Runtime-Invoked-Function-Arn",
    [RT_H_TRACE_ID] = "Lambda-Runtime-Trace-Id",
    [RT_H_CLIENT_CONTEXT] = "Lambda-Runtime-Client-Context",
    [RT_H_COGNITO_IDENTITY] = "Lambda-Runtime-Cognito-Identity",
    [RT_H_TENANT_ID] = "Lambda-Runtime-Aws-Tenant-Id",
};

const char *rt_header_name(enum rt_header_id id)
{
    return (unsigned)id < RT_H_COUNT ? header_names[id] : "";
}

void rt_headers_clear(rt_headers *h)
{
    for (int i = 0; i < RT_H_COUNT; i++) {
        free(h->value[i]);
        h->value[i] = NULL;
    }
}

static int header_id(const char *name, size_t len)
{
    for (int i = 0; i < RT_H_COUNT; i++)
        if (strlen(header_names[i]) == len && strncasecmp(header_names[i], name, len) == 0)
            return i;
    return -1;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int rt_headers_feed(rt_headers *h, const char *line, size_t len)
{
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        rt_headers_clear(h);
        return 0;
    }
    const char *colon = memchr(line, ':', len);
    if (!colon)
        return 0; /* the empty line that ends the headers */
    int id = header_id(line, (size_t)(colon - line));
    if (id < 0)
        return 0;
    const char *v = colon + 1, *end = line + len;
    /* A NUL ends the value (the copy below would stop there anyway): trim
     * before it, not at the line's end, so no CR or LF is left in a value. */
    const char *nul = memchr(v, '\0', (size_t)(end - v));
    if (nul)
        end = nul;
    while (v < end && is_ows(*v))
        v++;
    while (end > v && is_ows(end[-1]))
        end--;
    char *copy = strndup(v, (size_t)(end - v));
    if (!copy)
        return -1;
    free(h->value[id]);
    h->value[id] = copy;
    return 0;
}

/* The largest value the header's former digit loop took (it stopped before a
 * digit once the value passed (INT64_MAX - 9) / 10); Lambda sends 13 digits. */
#define DEADLINE_MAX ((uint64_t)((INT64_MAX - 9) / 10) * 10 + 9)

int64_t rt_parse_deadline(const char *s)
{
    uint64_t v;
    if (!s || rns_parse_decimal(s, strlen(s), DEADLINE_MAX, &v) != 0)
        return 0;
    return (int64_t)v;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

void rt_headers_view(const rt_headers *h, lambda_invocation *inv)
{
    inv->request_id = or_empty(h->value[RT_H_REQUEST_ID]);
    inv->function_arn = or_empty(h->value[RT_H_FUNCTION_ARN]);
    inv->deadline_ms = rt_parse_deadline(h->value[RT_H_DEADLINE]);
    inv->xray_trace_id = or_empty(h->value[RT_H_TRACE_ID]);
    inv->client_context = or_empty(h->value[RT_H_CLIENT_CONTEXT]);
    inv->cognito_identity = or_empty(h->value[RT_H_COGNITO_IDENTITY]);
    inv->tenant_id = or_empty(h->value[RT_H_TENANT_ID]);
}
