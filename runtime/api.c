/* HTTP/1.1 calls to the Runtime API over one kept-alive connection, as
 * aws-lambda-cpp makes them (GET /next, POST of a result), on a plain socket
 * (runtime/conn.c, runtime/reply.c): a local server that speaks one small
 * part of HTTP does not need libcurl, and each call through it cost about
 * 65 k instructions of URL parsing and formatting. Connection failures (and
 * only those) are retried a bounded number of times (common/retry.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/retry.h"
#include "runtime/internal.h"

#ifndef RNS_VERSION
#define RNS_VERSION "dev"
#endif

/* Connecting to the local API either works at once or not at all. */
#define CONNECT_TIMEOUT_MS 1000
#define API_BASE "/2018-06-01"

void rt_api_close(lambda_runtime *rt)
{
    if (rt->fd >= 0)
        close(rt->fd);
    rt->fd = -1;
}

/* "Name: value\r\n" with control characters neutralised (no header
 * injection through a handler's content type or error type). */
static int add_header(rns_buf *b, const char *name, const char *value)
{
    size_t at = b->len;
    if (rns_buf_adds(b, name) != 0 || rns_buf_add(b, ": ", 2) != 0 || rns_buf_adds(b, value) != 0)
        return -1;
    rt_header_safe(b->data + at);
    return rns_buf_add(b, "\r\n", 2);
}

static int build_request(lambda_runtime *rt, const rt_call *call)
{
    rns_buf *b = &rt->request;
    rns_buf_reset(b);
    if (rns_buf_adds(b, call->body ? "POST " API_BASE : "GET " API_BASE) != 0 || rns_buf_adds(b, call->path) != 0 ||
        rns_buf_adds(b, " HTTP/1.1\r\nHost: ") != 0 || rns_buf_adds(b, rt->api) != 0 ||
        rns_buf_adds(b, "\r\nUser-Agent: rds-nlb-sync/" RNS_VERSION "\r\nAccept: */*\r\n") != 0)
        return -1;
    if (call->body) {
        if (add_header(b, "Content-Type", call->content_type ? call->content_type : "application/json") != 0 ||
            rns_buf_addf(b, "Content-Length: %zu\r\n", call->body_len) != 0)
            return -1;
        if (call->error_type && add_header(b, "Lambda-Runtime-Function-Error-Type", call->error_type) != 0)
            return -1;
    }
    return rns_buf_add(b, "\r\n", 2);
}

typedef enum outcome {
    CALL_DONE,
    CALL_STALE,     /* a kept-alive connection had gone: resend at once */
    CALL_RETRYABLE, /* the request may not have reached the API */
    CALL_FINAL
} outcome;

/* A kept-alive connection with something to read before a request has
 * been closed by the server (or holds bytes nothing asked for): not
 * reused, as curl checks before reusing one. */
static void drop_if_dead(lambda_runtime *rt)
{
    struct pollfd pfd = {.fd = rt->fd, .events = POLLIN};
    if (rt->fd >= 0 && poll(&pfd, 1, 0) != 0)
        rt_api_close(rt);
}

/* One attempt: connect if needed, send, read the answer. */
static outcome attempt(lambda_runtime *rt, rt_call *call, char *why, size_t whylen)
{
    drop_if_dead(rt);
    int reused = rt->fd >= 0;
    if (!reused && (rt->fd = rt_conn_open(&rt->addr, CONNECT_TIMEOUT_MS, why, whylen)) < 0)
        return CALL_RETRYABLE;
    if (rt_conn_send(rt->fd, rt->request.data, rt->request.len, call->body, call->body ? call->body_len : 0) != 0) {
        snprintf(why, whylen, "cannot send the request: %s", strerror(errno));
        rt_api_close(rt);
        return reused ? CALL_STALE : CALL_RETRYABLE;
    }
    rt_source src = rt_conn_source(&rt->fd);
    rt_reply reply = {.body = &rt->body, .headers = rt->collect_headers ? &rt->headers : NULL};
    rt_reply_status st = rt_reply_read(&src, &rt->in, &reply);
    if (st == RT_REPLY_OK) {
        call->status = reply.status;
        if (!reply.keep_alive)
            rt_api_close(rt);
        return CALL_DONE;
    }
    snprintf(why, whylen, "%s", reply.err);
    rt_api_close(rt);
    if (st == RT_REPLY_NOTHING && reused)
        return CALL_STALE;
    return st == RT_REPLY_NOTHING || st == RT_REPLY_PARTIAL ? CALL_RETRYABLE : CALL_FINAL;
}

static int perform(lambda_runtime *rt, rt_call *call)
{
    const char *method = call->body ? "POST" : "GET";
    int stale_retried = 0;
    for (int n = 1;;) {
        char why[256] = "";
        outcome o = attempt(rt, call, why, sizeof why);
        if (o == CALL_DONE)
            return 0;
        /* A server may close an idle kept-alive connection; as curl does,
         * that is retried once on a new one, not counted as a failure. */
        if (o == CALL_STALE && !stale_retried) {
            stale_retried = 1;
            continue;
        }
        rns_retry_failure f = {n, rt->attempts, o != CALL_FINAL, 0, 0};
        long pause;
        int cost;
        if (rns_retry_next(&rns_retry_runtime_api, NULL, &f, 0, 0, &pause, &cost) != RNS_RETRY_WAIT) {
            log_msg(rt->lg, LOG_ERROR, "Runtime API call %s %s failed after %d attempt(s): %s", method, call->path, n,
                    why);
            return -1;
        }
        log_msg(rt->lg, LOG_WARN, "Runtime API call %s %s failed (%s); retrying in %ld ms (attempt %d of %d)", method,
                call->path, why, pause, n + 1, rt->attempts);
        rns_sleep_ms(pause);
        n++;
    }
}

int rt_api_call(lambda_runtime *rt, rt_call *call)
{
    call->status = 0;
    if (build_request(rt, call) != 0) {
        log_msg(rt->lg, LOG_ERROR, "out of memory building the request %s", call->path);
        return -1;
    }
    return perform(rt, call);
}
