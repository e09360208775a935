/* The AWS Query protocol's client (query.h): form bodies, and the client that
 * signs, sends and retries one action. Its endpoint comes from
 * query_endpoint.c, the retry classes of its errors from query_error.c. */
#include "handler/aws/query.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/pct.h"
#include "common/retry.h"
#include "handler/aws/http.h"
#include "handler/aws/query_internal.h"

#define CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"
#define DEFAULT_ATTEMPT_TIMEOUT_MS 10000L
#define MAX_ATTEMPTS_LIMIT 100

/* ---- form body ---------------------------------------------------------- */

int query_form_add(rns_buf *body, const char *key, const char *value)
{
    int rc = body->len ? rns_buf_add(body, "&", 1) : RNS_BUF_OK;
    rc |= rns_buf_adds(body, key);
    rc |= rns_buf_add(body, "=", 1);
    rc |= rns_pct_encode_buf(body, value, strlen(value));
    return rc;
}

int query_form_addk(rns_buf *body, const char *value, const char *key_fmt, ...)
{
    char key[128];
    va_list ap;
    int n;
    va_start(ap, key_fmt);
    n = vsnprintf(key, sizeof key, key_fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof key)
        return RNS_BUF_TOOBIG;
    return query_form_add(body, key, value);
}

int query_form_init(rns_buf *body, const query_service *svc, const char *action)
{
    return query_form_add(body, "Action", action) | query_form_add(body, "Version", svc->api_version);
}

/* ---- the client ---------------------------------------------------------- */

struct query_client {
    const query_service *svc;
    char region[64];
    query_endpoint ep;
    sigv4_credentials creds; /* borrowed */
    int max_attempts;
    long attempt_timeout_ms;
    http_client *http;
    sigv4_signer *signer;
    logger *log;
    rns_retry_state retry; /* quota and jitter, kept across calls */
    query_pacer pacer;     /* NULL: none */
    void *pacer_ctx;
    long requests; /* attempts sent */
};

void query_client_set_pacer(query_client *c, query_pacer pacer, void *ctx)
{
    c->pacer = pacer;
    c->pacer_ctx = ctx;
}

long query_requests_sent(const query_client *c)
{
    return c ? c->requests : 0;
}

/* The outcome of one attempt, beside the error value. */
typedef struct attempt_info {
    int timed_out;
    long elapsed_ms;
} attempt_info;

static int check_config(const query_client_config *cfg, char *err, size_t errlen)
{
    const char *name = cfg->service->name;
    if (!cfg->region || !*cfg->region || strlen(cfg->region) >= 64) {
        snprintf(err, errlen, "%s client: region is missing or too long", name);
        return -1;
    }
    if (!cfg->creds.access_key_id || !*cfg->creds.access_key_id) {
        snprintf(err, errlen, "%s client: access key id is missing", name);
        return -1;
    }
    if (!cfg->creds.secret_access_key || !*cfg->creds.secret_access_key) {
        snprintf(err, errlen, "%s client: secret access key is missing", name);
        return -1;
    }
    if (cfg->max_attempts < 1 || cfg->max_attempts > MAX_ATTEMPTS_LIMIT) {
        snprintf(err, errlen, "%s client: max attempts %d is not in 1..%d", name, cfg->max_attempts,
                 MAX_ATTEMPTS_LIMIT);
        return -1;
    }
    return 0;
}

static int choose_endpoint(query_client *c, const query_client_config *cfg, char *err, size_t errlen)
{
    char url[512], why[160];
    const char *u = cfg->endpoint_url;
    if (!u || !*u) {
        if (query_default_endpoint(c->svc, cfg->region, url, sizeof url) != 0) {
            snprintf(err, errlen, "%s client: region \"%s\" is not a valid region name", c->svc->name, cfg->region);
            return -1;
        }
        u = url;
    }
    if (query_parse_endpoint(u, &c->ep, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s client: %s", c->svc->name, why);
        return -1;
    }
    return 0;
}

query_client *query_client_new(const query_client_config *cfg, char *err, size_t errlen)
{
    query_client *c;
    if (check_config(cfg, err, errlen) != 0)
        return NULL;
    if (!(c = calloc(1, sizeof *c))) {
        snprintf(err, errlen, "%s client: out of memory", cfg->service->name);
        return NULL;
    }
    c->svc = cfg->service;
    snprintf(c->region, sizeof c->region, "%s", cfg->region);
    c->creds = cfg->creds;
    c->max_attempts = cfg->max_attempts;
    c->attempt_timeout_ms = DEFAULT_ATTEMPT_TIMEOUT_MS;
    c->log = cfg->log;
    rns_retry_state_init(&c->retry);
    if (choose_endpoint(c, cfg, err, errlen) != 0) {
        free(c);
        return NULL;
    }
    if (!(c->http = http_client_new(cfg->ca_bundle, cfg->log))) {
        snprintf(err, errlen, "%s client: out of memory", c->svc->name);
        query_client_free(c);
        return NULL;
    }
    return c;
}

void query_client_free(query_client *c)
{
    if (!c)
        return;
    http_client_free(c->http);
    sigv4_signer_free(c->signer);
    free(c);
}

long query_connections_opened(const query_client *c)
{
    return c ? http_connections_opened(c->http) : 0;
}

void query_client_set_attempt_timeout(query_client *c, long timeout_ms)
{
    if (c && timeout_ms > 0)
        c->attempt_timeout_ms = timeout_ms;
}

int query_retry_tokens(const query_client *c)
{
    return c ? c->retry.tokens : 0;
}

/* ---- one attempt ---- */

typedef struct header_set {
    char *items[8];
    size_t count;
    int oom;
} header_set;

static void hs_add(header_set *h, const char *name, const char *value)
{
    char *line;
    if (h->oom || h->count + 1 >= sizeof h->items / sizeof h->items[0] || asprintf(&line, "%s: %s", name, value) < 0) {
        h->oom = 1;
        return;
    }
    h->items[h->count++] = line;
}

/* The lines hold the signature and the session token: wiped before freeing. */
static void hs_free(header_set *h)
{
    size_t i;
    for (i = 0; i < h->count; i++) {
        explicit_bzero(h->items[i], strlen(h->items[i]));
        free(h->items[i]);
    }
    h->count = 0;
}

/* The headers of one attempt: the signed ones, the signer's additions
 * (X-Amz-Date, X-Amz-Security-Token, Authorization) and the SDKs' unsigned
 * attempt counter. Each attempt gets the current date. */
static int sign_attempt(query_client *c, const char *body, int n, header_set *h, aws_error *e)
{
    char date[17], why[256], attempt[64];
    sigv4_header signed_hdrs[2] = {{"Host", c->ep.host}, {"Content-Type", CONTENT_TYPE}};
    sigv4_request req = {"POST", c->ep.path, signed_hdrs, 2, body, strlen(body)};
    sigv4_params params = {c->region, c->svc->signing_name, date};
    sigv4_signature sig;
    size_t i;
    sigv4_format_date(time(NULL), date);
    /* Created on the first request, like the TLS context: setting up
     * OpenSSL's digests is most of the work a cold start would do before
     * its first GET /next. */
    if (!c->signer && !(c->signer = sigv4_signer_new())) {
        aws_error_set(e, QUERY_CODE_SIGNING, "could not set up the signer (OpenSSL SHA-256/HMAC)");
        return -1;
    }
    if (sigv4_sign(c->signer, &req, &c->creds, &params, &sig, why, sizeof why) != 0) {
        aws_error_set(e, QUERY_CODE_SIGNING, "could not sign the request: %s", why);
        return -1;
    }
    hs_add(h, "Host", c->ep.host);
    hs_add(h, "Content-Type", CONTENT_TYPE);
    for (i = 0; i < sig.add_count; i++)
        hs_add(h, sig.add[i].name, sig.add[i].value);
    snprintf(attempt, sizeof attempt, "attempt=%d; max=%d", n, c->max_attempts);
    hs_add(h, "amz-sdk-request", attempt);
    sigv4_signature_free(&sig);
    if (h->oom) {
        hs_free(h);
        aws_error_set(e, QUERY_CODE_NO_MEMORY, "out of memory building the request headers");
        return -1;
    }
    return 0;
}

static void transport_error(aws_error *e, http_result hr, const char *why)
{
    static const char *const codes[] = {
        [HTTP_CONNECT_ERROR] = QUERY_CODE_CONNECTION,
        [HTTP_TIMEOUT] = QUERY_CODE_TIMEOUT,
        [HTTP_TLS_ERROR] = QUERY_CODE_TLS,
        [HTTP_OTHER_ERROR] = QUERY_CODE_HTTP_CLIENT,
    };
    const char *code = hr > HTTP_OK && hr <= HTTP_OTHER_ERROR ? codes[hr] : QUERY_CODE_HTTP_CLIENT;
    aws_error_set(e, code, "%s", why);
}

/* A non-2xx answer: the AWS error document, or a generic error named by the
 * status code (as botocore names it) when the body is not one. */
static void read_error(const http_response *r, aws_error *e)
{
    if (query_xml_parse(r->body, r->body_len, NULL, NULL, e) == 0 || strcmp(e->code, QUERY_CODE_MALFORMED) == 0) {
        memset(e, 0, sizeof *e);
        snprintf(e->code, sizeof e->code, "%ld", r->status);
        snprintf(e->message, sizeof e->message, "HTTP %ld with a body that is not an AWS error document", r->status);
    }
}

static int read_response(const char *action, const http_response *r, const query_xml_callbacks *cb, aws_error *e)
{
    char root[96];
    int rc = -1;
    if (r->status >= 200 && r->status < 300) {
        snprintf(root, sizeof root, "%sResponse", action);
        rc = query_xml_parse(r->body, r->body_len, root, cb, e);
    } else {
        read_error(r, e);
    }
    e->http_status = r->status;
    if (!e->request_id[0])
        memcpy(e->request_id, r->request_id, sizeof e->request_id);
    return rc;
}

/* Signs and sends one attempt: 0 with the answer read through cb, or -1 with *e. */
static int send_attempt(query_client *c, const char *action, const char *body, int n, long timeout_ms,
                        const query_xml_callbacks *cb, aws_error *e, attempt_info *info)
{
    header_set h = {0};
    http_response resp;
    http_result hr;
    char why[256];
    int64_t start = rns_wall_ms();
    int rc;
    memset(e, 0, sizeof *e);
    info->timed_out = 0;
    if (sign_attempt(c, body, n, &h, e) != 0)
        return -1;
    h.items[h.count] = NULL;
    hr = http_request(c->http, "POST", c->ep.url, (const char *const *)h.items, body, strlen(body), timeout_ms, &resp,
                      why, sizeof why);
    hs_free(&h);
    info->elapsed_ms = (long)(rns_wall_ms() - start);
    if (hr != HTTP_OK) {
        transport_error(e, hr, why);
        info->timed_out = hr == HTTP_TIMEOUT;
        return -1;
    }
    rc = read_response(action, &resp, cb, e);
    http_response_free(&resp);
    if (rc != 0)
        query_scrub_message(e, &c->creds);
    return rc;
}

/* ---- the retry loop ---- */

static void log_attempt(query_client *c, const char *action, int n, int rc, const aws_error *e,
                        const attempt_info *info)
{
    if (!c->log || !logger_enabled(c->log, LOG_DEBUG))
        return;
    log_msg(c->log, LOG_DEBUG, "%s %s attempt %d/%d: status %ld, code %s, request id %s, %ld ms", c->svc->log_name,
            action, n, c->max_attempts, e->http_status, rc == 0 ? "-" : e->code, e->request_id[0] ? e->request_id : "-",
            info->elapsed_ms);
}

/* Whether to make attempt n + 1, and after which wait (-1: no). */
static long next_wait(query_client *c, const char *action, int n, aws_error *e, const attempt_info *info,
                      int64_t deadline_ms, int *cost)
{
    rns_retry_failure f = {n, c->max_attempts, query_error_is_retryable(e), query_error_is_throttling(e),
                           info->timed_out};
    long wait;
    switch (rns_retry_next(&rns_retry_aws, &c->retry, &f, rns_wall_ms(), deadline_ms, &wait, cost)) {
    case RNS_RETRY_WAIT:
        if (c->log)
            log_msg(c->log, LOG_WARN, "%s %s attempt %d/%d failed with %s (HTTP %ld): retrying in %ld ms",
                    c->svc->log_name, action, n, c->max_attempts, e->code, e->http_status, wait);
        return wait;
    case RNS_RETRY_NO_TOKENS:
        if (c->log)
            log_msg(c->log, LOG_WARN, "%s %s: not retrying %s: retry quota exhausted", c->svc->log_name, action,
                    e->code);
        return -1;
    case RNS_RETRY_PAST_DEADLINE:
        if (c->log)
            log_msg(c->log, LOG_WARN, "%s %s: not retrying %s: the deadline comes before the next attempt",
                    c->svc->log_name, action, e->code);
        e->deadline_cut = 1;
        return -1;
    default: return -1;
    }
}

int query_call(query_client *c, const char *action, const char *body, int64_t deadline_ms,
               const query_xml_callbacks *cb, aws_error *err)
{
    aws_error e;
    attempt_info info = {0, 0};
    int n, cost = 0, last_cost = 0;
    for (n = 1;; n++) {
        long wait, left = (long)(deadline_ms - rns_wall_ms());
        if (left <= 0 && n == 1) {
            aws_error_set(err, QUERY_CODE_TIMEOUT, "deadline reached before %s could be sent", action);
            err->deadline_cut = 1;
            return -1;
        }
        if (left <= 0) { /* a wait overslept the deadline: keep the last error */
            n--;
            e.deadline_cut = 1;
            break;
        }
        if (c->pacer && c->pacer(c->pacer_ctx, action, deadline_ms) != 0) {
            aws_error_set(&e, QUERY_CODE_TIMEOUT, "no share of the %s rate left for %s before the deadline",
                          c->svc->name, action);
            e.deadline_cut = 1;
            n--; /* not sent */
            break;
        }
        c->requests++;
        if (send_attempt(c, action, body, n, left < c->attempt_timeout_ms ? left : c->attempt_timeout_ms, cb, &e,
                         &info) == 0) {
            log_attempt(c, action, n, 0, &e, &info);
            rns_retry_refund(&c->retry, last_cost);
            return 0;
        }
        log_attempt(c, action, n, -1, &e, &info);
        if ((wait = next_wait(c, action, n, &e, &info, deadline_ms, &cost)) < 0)
            break;
        last_cost = cost;
        rns_sleep_ms(wait);
    }
    *err = e;
    err->attempts = n;
    return -1;
}
