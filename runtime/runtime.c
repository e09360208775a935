/* The runtime loop: GET /next, run the handler, POST its result, repeat. */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/retry.h"
#include "common/utf8.h"
#include "runtime/internal.h"

#define KEEP_BODY_BYTES (1L << 20) /* a bigger event buffer is not kept idle */
#define ID_ROOM 768                /* a request id, percent-encoded */
#define TRACE_ENV "_X_AMZN_TRACE_ID"

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* host:port as Lambda gives it: a name, an IPv4 or a bracketed IPv6 address.
 * Anything else could end up in the request line or the Host header. */
static int valid_api(const char *api)
{
    size_t n = strlen(api);
    if (n == 0 || n > 255)
        return 0;
    for (const char *p = api; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(".-_:[]", *p))
            return 0;
    return 1;
}

lambda_runtime *lambda_runtime_new(const char *api, logger *lg, char *err, size_t errlen)
{
    if (!api || !*api) {
        set_err(err, errlen, "AWS_LAMBDA_RUNTIME_API is not set");
        return NULL;
    }
    rt_addr addr;
    if (!valid_api(api) || rt_addr_parse(api, &addr) != 0) {
        set_err(err, errlen, "AWS_LAMBDA_RUNTIME_API is not a host:port (letters, digits and .-_:[] only)");
        return NULL;
    }
    /* Nothing is connected, read or looked up here: the first GET /next
     * connects, and an IP literal or "localhost" needs no lookup. */
    lambda_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    rt->lg = lg;
    rt->fd = -1;
    rt->addr = addr;
    snprintf(rt->api, sizeof rt->api, "%s", api);
    rt->attempts = RNS_RETRY_RUNTIME_API_ATTEMPTS;
    return rt;
}

void lambda_runtime_free(lambda_runtime *rt)
{
    if (!rt)
        return;
    rt_api_close(rt);
    rns_buf_free(&rt->request);
    rns_buf_free(&rt->in);
    rns_buf_free(&rt->body);
    rns_buf_free(&rt->trace_env); /* never in the environment between invocations */
    rt_headers_clear(&rt->headers);
    free(rt);
}

/* A short, single-line excerpt of an API answer for a log line. */
static char *answer_excerpt(const lambda_runtime *rt)
{
    size_t len;
    char *s = rns_utf8_clean(rt->body.data, rt->body.data ? strlen(rt->body.data) : 0, 200, &len);
    if (s)
        for (char *p = s; *p; p++)
            if ((unsigned char)*p < 0x20)
                *p = ' ';
    return s;
}

/* 0 to go on with the next invocation, else the exit status. */
static int check_answer(lambda_runtime *rt, const rt_call *call)
{
    long s = call->status;
    if (s >= 200 && s < 300)
        return 0;
    char *excerpt = answer_excerpt(rt);
    const char *ex = excerpt ? excerpt : "";
    if (s >= 500)
        log_msg(rt->lg, LOG_ERROR, "Runtime API answered %ld to POST %s (non-recoverable container error); exiting: %s",
                s, call->path, ex);
    else if (s == 413)
        log_msg(rt->lg, LOG_WARN,
                "Runtime API answered 413 to POST %s: the response is too large "
                "(the caller gets Function.ResponseSizeTooLarge); going on: %s",
                call->path, ex);
    else
        log_msg(rt->lg, LOG_WARN, "Runtime API answered %ld to POST %s; going on: %s", s, call->path, ex);
    free(excerpt);
    return s >= 500 ? EXIT_FAILURE : 0;
}

static int post(lambda_runtime *rt, rt_call *call)
{
    if (rt_api_call(rt, call) != 0)
        return EXIT_FAILURE;
    return check_answer(rt, call);
}

static int post_error(lambda_runtime *rt, const char *path, const char *message, const char *type)
{
    const char *t = type && *type ? type : "Unhandled";
    char *body = rt_error_body(message, t);
    if (!body) {
        log_msg(rt->lg, LOG_ERROR, "out of memory building the error body for %s", path);
        return EXIT_FAILURE;
    }
    rt_call call = {
        .path = path, .body = body, .body_len = strlen(body), .content_type = "application/json", .error_type = t};
    int status = post(rt, &call);
    free(body);
    return status;
}

int lambda_runtime_init_error(lambda_runtime *rt, const char *error_type, const char *message)
{
    if (!rt)
        return -1;
    if (rt->init_error_posted) {
        log_msg(rt->lg, LOG_WARN, "an initialisation error was already reported; not reporting %s",
                error_type ? error_type : "another");
        return -1;
    }
    rt->init_error_posted = 1;
    const char *t = error_type && *error_type ? error_type : "Runtime.Unknown";
    log_msg(rt->lg, LOG_ERROR, "initialisation failed (%s); reporting it to the Runtime API", t);
    char *body = rt_error_body(message, t);
    if (!body)
        return -1;
    rt_call call = {.path = "/runtime/init/error",
                    .body = body,
                    .body_len = strlen(body),
                    .content_type = "application/json",
                    .error_type = t};
    int rc = rt_api_call(rt, &call);
    free(body);
    if (rc != 0)
        return -1;
    if (call.status >= 200 && call.status < 300)
        return 0;
    log_msg(rt->lg, LOG_ERROR, "Runtime API answered %ld to POST /runtime/init/error", call.status);
    return -1;
}

/* 0 with an event in rt->body and its headers in rt->headers, else the
 * exit status. */
static int next_invocation(lambda_runtime *rt)
{
    rt_call call = {.path = "/runtime/invocation/next"};
    rt->collect_headers = 1;
    int rc = rt_api_call(rt, &call);
    rt->collect_headers = 0;
    if (rc != 0)
        return EXIT_FAILURE;
    if (call.status != 200) {
        log_msg(rt->lg, LOG_ERROR, "Runtime API answered %ld to GET %s%s; exiting", call.status, call.path,
                call.status >= 500 ? " (non-recoverable container error)" : "");
        return EXIT_FAILURE;
    }
    const char *id = rt->headers.value[RT_H_REQUEST_ID];
    if (!id || !*id) {
        log_msg(rt->lg, LOG_FATAL, "Runtime API answered GET %s without a %s header; exiting", call.path,
                rt_header_name(RT_H_REQUEST_ID));
        return EXIT_FAILURE;
    }
    return 0;
}

static int post_result(lambda_runtime *rt, const char *id, const lambda_response *r)
{
    char path[ID_ROOM + 40];
    if (r->success && r->payload_len > LAMBDA_MAX_RESPONSE_BYTES) {
        char msg[160];
        snprintf(msg, sizeof msg, "Response payload size (%zu bytes) exceeded maximum allowed payload size (%d bytes).",
                 r->payload_len, LAMBDA_MAX_RESPONSE_BYTES);
        log_msg(rt->lg, LOG_WARN, "%s", msg);
        snprintf(path, sizeof path, "/runtime/invocation/%s/error", id);
        return post_error(rt, path, msg, "Function.ResponseSizeTooLarge");
    }
    if (!r->success) {
        log_msg(rt->lg, LOG_DEBUG, "invocation failed (%s)", r->error_type ? r->error_type : "Unhandled");
        snprintf(path, sizeof path, "/runtime/invocation/%s/error", id);
        return post_error(rt, path, r->error_message, r->error_type);
    }
    snprintf(path, sizeof path, "/runtime/invocation/%s/response", id);
    rt_call call = {.path = path,
                    .body = r->payload ? r->payload : "",
                    .body_len = r->payload ? r->payload_len : 0,
                    .content_type = r->content_type};
    return post(rt, &call);
}

/* X-Ray instrumentation reads the trace header from _X_AMZN_TRACE_ID, for
 * this invocation only. Not setenv(): glibc keeps every value ever given to
 * setenv until exit, and trace ids are unique, so resident memory would grow
 * by one trace id per invocation. putenv() uses our buffer instead, which is
 * only changed while it is out of the environment. */
static void set_trace_env(lambda_runtime *rt, const char *trace)
{
    unsetenv(TRACE_ENV);
    if (!*trace)
        return;
    rns_buf_reset(&rt->trace_env);
    if (rns_buf_add(&rt->trace_env, TRACE_ENV "=", strlen(TRACE_ENV "=")) != 0 ||
        rns_buf_add(&rt->trace_env, trace, strlen(trace)) != 0 || putenv(rt->trace_env.data) != 0)
        log_msg(rt->lg, LOG_WARN, "cannot set %s (out of memory)", TRACE_ENV);
}

static lambda_response run_handler(lambda_runtime *rt, const lambda_invocation *inv, lambda_handler_fn handler,
                                   void *user)
{
    set_trace_env(rt, inv->xray_trace_id);
    log_msg(rt->lg, LOG_DEBUG, "invocation started (%zu bytes, %lld ms left)", inv->payload_len,
            (long long)lambda_invocation_remaining_ms(inv));
    lambda_response r = handler(inv, user);
    unsetenv(TRACE_ENV);
    return r;
}

static int invoke(lambda_runtime *rt, lambda_handler_fn handler, void *user)
{
    lambda_invocation inv;
    rt_headers_view(&rt->headers, &inv);
    inv.payload = rt->body.data ? rt->body.data : "";
    inv.payload_len = rt->body.len;
    char id[ID_ROOM];
    if (rt_path_escape(inv.request_id, id, sizeof id) != 0) {
        log_msg(rt->lg, LOG_FATAL, "the request id from the Runtime API is too long (%zu bytes); exiting",
                strlen(inv.request_id));
        return EXIT_FAILURE;
    }
    logger_set_request_id(rt->lg, inv.request_id);
    lambda_response r = run_handler(rt, &inv, handler, user);
    int status = post_result(rt, id, &r);
    lambda_response_free(&r);
    logger_set_request_id(rt->lg, NULL);
    if (rt->body.cap > KEEP_BODY_BYTES)
        rns_buf_free(&rt->body);
    return status;
}

int lambda_runtime_run(lambda_runtime *rt, lambda_handler_fn handler, void *user)
{
    if (!rt || !handler)
        return EXIT_FAILURE;
    for (;;) {
        int status = next_invocation(rt);
        if (status == 0)
            status = invoke(rt, handler, user);
        if (status != 0)
            return status;
    }
}
