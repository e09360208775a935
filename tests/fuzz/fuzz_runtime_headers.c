/* libFuzzer target: what the runtime takes from a GET /next answer's headers
 * (runtime/headers.c: rt_headers_feed, line by line as libcurl hands them
 * over) and what it builds from them: the request id in a URL path and in
 * log lines, the deadline, the X-Ray trace variable, the error body. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log_internal.h"
#include "runtime/internal.h"
#include "tests/fuzz/fuzz.h"

#define ID_ROOM 768 /* as runtime.c sizes the escaped request id */

/* One log line: a single line, and in JSON mode one valid JSON object. */
static void check_log_line(logger *lg, const char *message)
{
    size_t len = 0;
    json_t *fields = json_pack("{s:s}", "k", "v");
    char *line = log_format_line(lg, LOG_INFO, 1764138986123LL, message, fields, &len);
    json_decref(fields);
    FUZZ_CHECK(line != NULL);
    FUZZ_CHECK(len > 0 && line[len - 1] == '\n' && strlen(line) == len);
    FUZZ_CHECK(memchr(line, '\n', len - 1) == NULL);
    if (lg->json) {
        json_t *j = json_loadb(line, len, 0, NULL);
        FUZZ_CHECK(j != NULL && json_is_string(json_object_get(j, "message")));
        json_decref(j);
    }
    free(line);
}

static void check_view(const rt_headers *h)
{
    lambda_invocation inv;
    char id[ID_ROOM];
    memset(&inv, 0, sizeof inv);
    rt_headers_view(h, &inv);
    FUZZ_CHECK(inv.request_id && inv.function_arn && inv.xray_trace_id && inv.client_context && inv.cognito_identity &&
               inv.tenant_id);
    FUZZ_CHECK(inv.deadline_ms >= 0);
    if (rt_path_escape(inv.request_id, id, sizeof id) == 0)
        FUZZ_CHECK(strcspn(id, "/?#% \r\n") == strlen(id) || strchr(id, '%'));
    (void)lambda_invocation_remaining_ms(&inv);

    logger lg;
    memset(&lg, 0, sizeof lg);
    logger_set_request_id(&lg, inv.request_id);
    FUZZ_CHECK(memchr(lg.request_id, '\0', sizeof lg.request_id));
    lg.json = 0;
    check_log_line(&lg, inv.xray_trace_id);
    lg.json = 1;
    check_log_line(&lg, inv.client_context);

    char *body = rt_error_body(inv.cognito_identity, inv.tenant_id);
    FUZZ_CHECK(body != NULL);
    json_t *j = json_loads(body, 0, NULL);
    FUZZ_CHECK(j != NULL);
    json_decref(j);
    free(body);

    char *safe = strdup(inv.function_arn);
    FUZZ_CHECK(safe != NULL);
    rt_header_safe(safe);
    for (const char *p = safe; *p; p++)
        FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7F);
    free(safe);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rt_headers h;
    const char *p = (const char *)data, *end = p + size;
    memset(&h, 0, sizeof h);
    /* libcurl calls the header callback once per line, the line end included. */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        FUZZ_CHECK(rt_headers_feed(&h, p, n) == 0);
        p += n;
    }
    for (int i = 0; i < RT_H_COUNT; i++) {
        const char *v = h.value[i];
        if (v && *v) {
            FUZZ_CHECK(v[0] != ' ' && v[0] != '\t');
            FUZZ_CHECK(v[strlen(v) - 1] != '\n' && v[strlen(v) - 1] != '\r');
        }
    }
    check_view(&h);
    rt_headers_clear(&h);
    return 0;
}
