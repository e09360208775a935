/* HTTP calls to the Runtime API: one curl easy handle, so one kept-alive
 * connection, configured once the way aws-lambda-cpp does it; connection
 * failures (and only those) are retried a bounded number of times
 * (common/retry.h). */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/curl.h"
#include "common/retry.h"
#include "runtime/internal.h"

#ifndef RNS_VERSION
#define RNS_VERSION "dev"
#endif

/* Connecting to the local API either works at once or not at all. */
#define CONNECT_TIMEOUT_MS 1000L

static size_t on_body(char *p, size_t size, size_t n, void *userdata)
{
    lambda_runtime *rt = userdata;
    return rns_buf_add(&rt->body, p, size * n) == 0 ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *userdata)
{
    lambda_runtime *rt = userdata;
    if (rt->collect_headers && rt_headers_feed(&rt->headers, p, size * n) != 0)
        return 0; /* out of memory: curl fails the call */
    return size * n;
}

#define SETOPT(opt, value)                                 \
    do {                                                   \
        if (RNS_CURL_SET(c, opt, value, err, errlen) != 0) \
            return -1;                                     \
    } while (0)

int rt_api_setup(lambda_runtime *rt, char *err, size_t errlen)
{
    CURL *c = rt->curl;
    /* No SIGALRM for timeouts: handlers may run threads. */
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_TCP_NODELAY, 1L);
    /* Newer libcurl may try HTTP/2; the Runtime API speaks HTTP/1.1. */
    SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    /* An http_proxy variable must not divert calls to the local API. */
    SETOPT(CURLOPT_PROXY, "");
    SETOPT(CURLOPT_NOPROXY, "*");
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    /* Never a total timeout: /next blocks while the sandbox is frozen, for
     * seconds or hours, and must not be cut and retried (Nike-Inc/hal#54). */
    SETOPT(CURLOPT_TIMEOUT_MS, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT(CURLOPT_PROTOCOLS_STR, "http");
#endif
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_USERAGENT, "rds-nlb-sync/" RNS_VERSION);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, rt);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, rt);
    SETOPT(CURLOPT_ERRORBUFFER, rt->curl_error);
    return 0;
}

#undef SETOPT

int rt_api_retryable(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT: /* only the connect timeout is set */
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return 1;
    default:
        return 0;
    }
}

/* "Name: value" with control characters neutralised (no header injection
 * through a handler's content type or error type). */
static int add_header(struct curl_slist **list, const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 3;
    char *line = malloc(n);
    if (!line)
        return -1;
    snprintf(line, n, "%s: %s", name, value);
    rt_header_safe(line);
    struct curl_slist *l = curl_slist_append(*list, line);
    free(line);
    if (!l)
        return -1;
    *list = l;
    return 0;
}

static int post_headers(const rt_call *call, struct curl_slist **list)
{
    /* curl would send Expect: 100-continue for large bodies and wait. */
    struct curl_slist *l = curl_slist_append(NULL, "Expect:");
    if (!l)
        return -1;
    *list = l;
    if (add_header(list, "Content-Type", call->content_type ? call->content_type : "application/json") != 0)
        return -1;
    if (call->error_type && add_header(list, "Lambda-Runtime-Function-Error-Type", call->error_type) != 0)
        return -1;
    return 0;
}

static int configure(lambda_runtime *rt, const rt_call *call, struct curl_slist *headers)
{
    CURL *c = rt->curl;
    CURLcode rc = curl_easy_setopt(c, CURLOPT_URL, rt->url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (rc == CURLE_OK && !call->body)
        rc = curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    if (rc == CURLE_OK && call->body)
        rc = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
    if (rc == CURLE_OK && call->body)
        rc = curl_easy_setopt(c, CURLOPT_POSTFIELDS, call->body);
    if (rc != CURLE_OK)
        log_msg(rt->lg, LOG_ERROR, "cannot prepare the call to %s: %s", call->path, curl_easy_strerror(rc));
    return rc == CURLE_OK ? 0 : -1;
}

static int perform(lambda_runtime *rt, rt_call *call)
{
    const char *method = call->body ? "POST" : "GET";
    for (int attempt = 1;; attempt++) {
        rns_buf_reset(&rt->body);
        rt_headers_clear(&rt->headers);
        rt->curl_error[0] = '\0';
        CURLcode rc = curl_easy_perform(rt->curl);
        if (rc == CURLE_OK) {
            curl_easy_getinfo(rt->curl, CURLINFO_RESPONSE_CODE, &call->status);
            return 0;
        }
        const char *why = rt->curl_error[0] ? rt->curl_error : curl_easy_strerror(rc);
        rns_retry_failure f = {attempt, rt->attempts, rt_api_retryable(rc), 0, 0};
        long pause;
        int cost;
        if (rns_retry_next(&rns_retry_runtime_api, NULL, &f, 0, 0, &pause, &cost) != RNS_RETRY_WAIT) {
            log_msg(rt->lg, LOG_ERROR, "Runtime API call %s %s failed after %d attempt(s): %s",
                    method, call->path, attempt, why);
            return -1;
        }
        log_msg(rt->lg, LOG_WARN, "Runtime API call %s %s failed (%s); retrying in %ld ms (attempt %d of %d)",
                method, call->path, why, pause, attempt + 1, rt->attempts);
        rns_sleep_ms(pause);
    }
}

int rt_api_call(lambda_runtime *rt, rt_call *call)
{
    call->status = 0;
    int n = snprintf(rt->url, sizeof rt->url, "%s%s", rt->base, call->path);
    if (n < 0 || (size_t)n >= sizeof rt->url) {
        log_msg(rt->lg, LOG_ERROR, "Runtime API URL too long for %.64s...", call->path);
        return -1;
    }
    struct curl_slist *headers = NULL;
    int rc = -1;
    if (call->body && post_headers(call, &headers) != 0)
        log_msg(rt->lg, LOG_ERROR, "out of memory building the headers of %s", call->path);
    else if (configure(rt, call, headers) == 0)
        rc = perform(rt, call);
    curl_easy_setopt(rt->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    return rc;
}
