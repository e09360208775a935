/* The ELBv2 client: one signed POST per attempt, the standard retry mode
 * around it, batches of at most 100 targets.
 *
 * Retry policy (AWS SDKs' "standard" mode, with two choices of ours):
 * - attempts: cfg->max_attempts (AWS_MAX_ATTEMPTS), first try included;
 * - retried: throttling codes, HTTP 500/502/503/504 (and 429), the
 *   RequestTimeout codes, no answer (ConnectionError, Timeout) and a 2xx body
 *   that cannot be read (MalformedResponse: the three calls are idempotent);
 *   never TLS failures or other 4xx answers (TargetGroupNotFound,
 *   InvalidTarget, AccessDenied, signature errors);
 * - wait before retry n: full jitter, u * min(base * 2^(n-1), 20 s) with a
 *   base of 1 s for throttling (the service asks us to slow down) and 50 ms
 *   for other errors (the newer SDK behaviour: a Lambda's time is short);
 * - a client-wide quota of 500 tokens (5 per retry, 10 after a timeout,
 *   refunded on success) that outlives invocations, as the SDK's does;
 * - every attempt is signed again with the current time, and no attempt
 *   starts, no wait runs and no transfer lasts past the caller's deadline. */
#include "handler/aws/elbv2.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "handler/aws/elbv2_internal.h"
#include "handler/aws/http.h"
#include "runtime/runtime.h"

#define SERVICE "elasticloadbalancing"
#define CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"
#define DEFAULT_ATTEMPT_TIMEOUT_MS 10000L
#define QUOTA_MAX 500
#define RETRY_COST 5
#define TIMEOUT_RETRY_COST 10
#define SUCCESS_REFUND 1
#define MAX_ATTEMPTS_LIMIT 100

struct elb_client {
    char region[64];
    elbv2_endpoint ep;
    sigv4_credentials creds; /* borrowed */
    int max_attempts;
    long attempt_timeout_ms;
    http_client *http;
    sigv4_signer *signer;
    logger *log;
    uint64_t rng;
    int quota;
};

/* The outcome of one attempt, beside the error value. */
typedef struct attempt_info {
    int timed_out;
    long elapsed_ms;
} attempt_info;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rand01(elb_client *c)
{
    return (double)(splitmix64(&c->rng) >> 11) * (1.0 / 9007199254740992.0);
}

static void seed_rng(elb_client *c)
{
    if (getrandom(&c->rng, sizeof c->rng, GRND_NONBLOCK) != (ssize_t)sizeof c->rng) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        c->rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)getpid() ^
                 (uint64_t)(uintptr_t)c;
    }
}

static void set_error(elb_error *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(elb_error *e, const char *code, const char *fmt, ...)
{
    va_list ap;
    memset(e, 0, sizeof *e);
    snprintf(e->code, sizeof e->code, "%s", code);
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

static int check_config(const elb_client_config *cfg, char *err, size_t errlen)
{
    if (!cfg->region || !*cfg->region || strlen(cfg->region) >= 64) {
        snprintf(err, errlen, "ELBv2 client: region is missing or too long");
        return -1;
    }
    if (!cfg->creds.access_key_id || !*cfg->creds.access_key_id) {
        snprintf(err, errlen, "ELBv2 client: access key id is missing");
        return -1;
    }
    if (!cfg->creds.secret_access_key || !*cfg->creds.secret_access_key) {
        snprintf(err, errlen, "ELBv2 client: secret access key is missing");
        return -1;
    }
    if (cfg->max_attempts < 1 || cfg->max_attempts > MAX_ATTEMPTS_LIMIT) {
        snprintf(err, errlen, "ELBv2 client: max attempts %d is not in 1..%d", cfg->max_attempts,
                 MAX_ATTEMPTS_LIMIT);
        return -1;
    }
    return 0;
}

static int choose_endpoint(elb_client *c, const elb_client_config *cfg, char *err, size_t errlen)
{
    char url[512], why[160];
    const char *u = cfg->endpoint_url;
    if (!u || !*u) {
        if (elb_default_endpoint(cfg->region, url, sizeof url) != 0) {
            snprintf(err, errlen, "ELBv2 client: region \"%s\" is not a valid region name",
                     cfg->region);
            return -1;
        }
        u = url;
    }
    if (elbv2_parse_endpoint(u, &c->ep, why, sizeof why) != 0) {
        snprintf(err, errlen, "ELBv2 client: %s", why);
        return -1;
    }
    return 0;
}

elb_client *elb_client_new(const elb_client_config *cfg, char *err, size_t errlen)
{
    elb_client *c;
    if (check_config(cfg, err, errlen) != 0)
        return NULL;
    if (!(c = calloc(1, sizeof *c))) {
        snprintf(err, errlen, "ELBv2 client: out of memory");
        return NULL;
    }
    snprintf(c->region, sizeof c->region, "%s", cfg->region);
    c->creds = cfg->creds;
    c->max_attempts = cfg->max_attempts;
    c->attempt_timeout_ms = DEFAULT_ATTEMPT_TIMEOUT_MS;
    c->log = cfg->log;
    c->quota = QUOTA_MAX;
    seed_rng(c);
    if (choose_endpoint(c, cfg, err, errlen) != 0) {
        free(c);
        return NULL;
    }
    c->http = http_client_new(cfg->ca_bundle, cfg->log);
    if (!c->http) {
        snprintf(err, errlen, "ELBv2 client: out of memory");
        elb_client_free(c);
        return NULL;
    }
    return c;
}

void elb_client_free(elb_client *c)
{
    if (!c)
        return;
    http_client_free(c->http);
    sigv4_signer_free(c->signer);
    free(c);
}

long elb_connections_opened(const elb_client *c)
{
    return c ? http_connections_opened(c->http) : 0;
}

void elb_client_set_attempt_timeout(elb_client *c, long timeout_ms)
{
    if (c && timeout_ms > 0)
        c->attempt_timeout_ms = timeout_ms;
}

int elb_retry_tokens(const elb_client *c)
{
    return c ? c->quota : 0;
}

/* ---- one attempt -------------------------------------------------------- */

typedef struct header_set {
    char *items[8];
    size_t count;
    int oom;
} header_set;

static void hs_add(header_set *h, const char *name, const char *value)
{
    char *line;
    if (h->oom || h->count + 1 >= sizeof h->items / sizeof h->items[0] ||
        asprintf(&line, "%s: %s", name, value) < 0) {
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
static int sign_attempt(elb_client *c, const char *body, int n, header_set *h, elb_error *e)
{
    char date[17], why[256], attempt[64];
    sigv4_header signed_hdrs[2] = {{"Host", c->ep.host}, {"Content-Type", CONTENT_TYPE}};
    sigv4_request req = {"POST", c->ep.path, signed_hdrs, 2, body, strlen(body)};
    sigv4_params params = {c->region, SERVICE, date};
    sigv4_signature sig;
    size_t i;
    sigv4_format_date(time(NULL), date);
    /* Created on the first request, like the TLS context: setting up
     * OpenSSL's digests is most of the work a cold start would do before
     * its first GET /next. */
    if (!c->signer && !(c->signer = sigv4_signer_new())) {
        set_error(e, "SigningError", "could not set up the signer (OpenSSL SHA-256/HMAC)");
        return -1;
    }
    if (sigv4_sign(c->signer, &req, &c->creds, &params, &sig, why, sizeof why) != 0) {
        set_error(e, "SigningError", "could not sign the request: %s", why);
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
        set_error(e, "SigningError", "out of memory building the request headers");
        return -1;
    }
    return 0;
}

static void transport_error(elb_error *e, http_result hr, const char *why)
{
    static const char *const codes[] = {
        [HTTP_CONNECT_ERROR] = "ConnectionError",
        [HTTP_TIMEOUT] = "Timeout",
        [HTTP_TLS_ERROR] = "TlsError",
        [HTTP_OTHER_ERROR] = "HttpClientError",
    };
    const char *code = hr > HTTP_OK && hr <= HTTP_OTHER_ERROR ? codes[hr] : "HttpClientError";
    set_error(e, code, "%s", why);
}

/* A non-2xx answer: the AWS error document, or a generic error named by the
 * status code (as botocore names it) when the body is not one. */
static void read_error(const http_response *r, elb_error *e)
{
    if (elbv2_xml_parse(r->body, r->body_len, NULL, NULL, e) == 0 ||
        strcmp(e->code, "MalformedResponse") == 0) {
        memset(e, 0, sizeof *e);
        snprintf(e->code, sizeof e->code, "%ld", r->status);
        snprintf(e->message, sizeof e->message,
                 "HTTP %ld with a body that is not an AWS error document", r->status);
    }
}

static int read_response(const char *action, const http_response *r, elb_target_list *out,
                         elb_error *e)
{
    char root[64];
    int rc = -1;
    if (r->status >= 200 && r->status < 300) {
        snprintf(root, sizeof root, "%sResponse", action);
        rc = elbv2_xml_parse(r->body, r->body_len, root, out, e);
    } else {
        read_error(r, e);
    }
    e->http_status = r->status;
    if (!e->request_id[0])
        memcpy(e->request_id, r->request_id, sizeof e->request_id);
    return rc;
}

/* Signs and sends one attempt: 0 with *out filled (describe), or -1 with *e. */
static int send_attempt(elb_client *c, const char *action, const char *body, int n,
                        long timeout_ms, elb_target_list *out, elb_error *e, attempt_info *info)
{
    header_set h = {0};
    http_response resp;
    http_result hr;
    char why[256];
    int64_t start = lambda_now_ms();
    int rc;
    memset(e, 0, sizeof *e);
    info->timed_out = 0;
    if (sign_attempt(c, body, n, &h, e) != 0)
        return -1;
    h.items[h.count] = NULL;
    hr = http_request(c->http, "POST", c->ep.url, (const char *const *)h.items, body,
                      strlen(body), timeout_ms, &resp, why, sizeof why);
    hs_free(&h);
    info->elapsed_ms = (long)(lambda_now_ms() - start);
    if (hr != HTTP_OK) {
        transport_error(e, hr, why);
        info->timed_out = hr == HTTP_TIMEOUT;
        return -1;
    }
    rc = read_response(action, &resp, out, e);
    http_response_free(&resp);
    if (rc != 0)
        elbv2_scrub_message(e, &c->creds);
    return rc;
}

/* ---- the retry loop ----------------------------------------------------- */

static void log_attempt(elb_client *c, const char *action, int n, int rc, const elb_error *e,
                        const attempt_info *info)
{
    if (!c->log || !logger_enabled(c->log, LOG_DEBUG))
        return;
    log_msg(c->log, LOG_DEBUG,
            "elbv2 %s attempt %d/%d: status %ld, code %s, request id %s, %ld ms", action, n,
            c->max_attempts, e->http_status, rc == 0 ? "-" : e->code,
            e->request_id[0] ? e->request_id : "-", info->elapsed_ms);
}

static void log_retry(elb_client *c, const char *action, int n, const elb_error *e, long wait)
{
    if (c->log)
        log_msg(c->log, LOG_WARN, "elbv2 %s attempt %d/%d failed with %s (HTTP %ld): retrying in %ld ms",
                action, n, c->max_attempts, e->code, e->http_status, wait);
}

static void log_give_up(elb_client *c, const char *action, const elb_error *e, const char *why)
{
    if (c->log)
        log_msg(c->log, LOG_WARN, "elbv2 %s: not retrying %s: %s", action, e->code, why);
}

/* The wait before the next attempt, or -1 when there is none to make. Takes
 * the retry's cost from the quota. */
/* The wait before the next attempt; -1 when the error ends the call, or
 * RETRY_PAST_DEADLINE when only the deadline does. */
#define RETRY_PAST_DEADLINE (-2L)
static long plan_retry(elb_client *c, const char *action, int n, const elb_error *e,
                       const attempt_info *info, int64_t deadline_ms, int *cost)
{
    long wait;
    if (!elb_error_is_retryable(e) || n >= c->max_attempts)
        return -1;
    *cost = info->timed_out ? TIMEOUT_RETRY_COST : RETRY_COST;
    if (c->quota < *cost) {
        log_give_up(c, action, e, "retry quota exhausted");
        return -1;
    }
    wait = elbv2_backoff_ms(n, elbv2_is_throttling(e), rand01(c));
    if (lambda_now_ms() + wait >= deadline_ms) {
        log_give_up(c, action, e, "the deadline comes before the next attempt");
        return RETRY_PAST_DEADLINE;
    }
    c->quota -= *cost;
    return wait;
}

static void refund(elb_client *c, int last_cost)
{
    c->quota += last_cost ? last_cost : SUCCESS_REFUND;
    if (c->quota > QUOTA_MAX)
        c->quota = QUOTA_MAX;
}

static int call(elb_client *c, const char *action, const char *body, int64_t deadline_ms,
                elb_target_list *out, elb_error *err)
{
    elb_error e;
    attempt_info info = {0, 0};
    int n, cost = 0, last_cost = 0;
    for (n = 1;; n++) {
        long wait, left = (long)(deadline_ms - lambda_now_ms());
        if (left <= 0 && n == 1) {
            set_error(err, "Timeout", "deadline reached before %s could be sent", action);
            err->attempts = 0;
            err->deadline_cut = 1;
            return -1;
        }
        if (left <= 0) { /* a wait overslept the deadline: keep the last error */
            n--;
            e.deadline_cut = 1;
            break;
        }
        if (send_attempt(c, action, body, n, left < c->attempt_timeout_ms ? left : c->attempt_timeout_ms,
                         out, &e, &info) == 0) {
            log_attempt(c, action, n, 0, &e, &info);
            refund(c, last_cost);
            return 0;
        }
        log_attempt(c, action, n, -1, &e, &info);
        if ((wait = plan_retry(c, action, n, &e, &info, deadline_ms, &cost)) < 0) {
            e.deadline_cut = wait == RETRY_PAST_DEADLINE;
            break;
        }
        last_cost = cost;
        log_retry(c, action, n, &e, wait);
        sleep_ms(wait);
    }
    *err = e;
    err->attempts = n;
    return -1;
}

/* ---- the three operations ----------------------------------------------- */

static int check_args(const char *arn, const elb_target *targets, size_t count, elb_error *err)
{
    size_t i;
    if (!arn || !*arn) {
        set_error(err, "InvalidParameterValue", "target group ARN is empty");
        return -1;
    }
    for (i = 0; i < count; i++) {
        if (!targets[i].id[0] || targets[i].port < 0 || targets[i].port > 65535) {
            set_error(err, "InvalidParameterValue", "target %zu has no Id or an invalid port", i + 1);
            return -1;
        }
    }
    return 0;
}

static int call_with_targets(elb_client *c, const char *action, const char *arn,
                             const elb_target *targets, size_t count, int64_t deadline_ms,
                             elb_target_list *out, elb_error *err)
{
    char *body = elbv2_build_body(action, arn, targets, count);
    int rc;
    if (!body) {
        set_error(err, "InvalidParameterValue", "out of memory building the %s request", action);
        return -1;
    }
    rc = call(c, action, body, deadline_ms, out, err);
    free(body);
    return rc;
}

int elb_describe_target_health(elb_client *c, const char *target_group_arn, int64_t deadline_ms,
                               elb_target_list *out, elb_error *err)
{
    out->items = NULL;
    out->count = 0;
    memset(err, 0, sizeof *err);
    if (check_args(target_group_arn, NULL, 0, err) != 0)
        return -1;
    return call_with_targets(c, "DescribeTargetHealth", target_group_arn, NULL, 0, deadline_ms,
                             out, err);
}

/* Register and deregister send batches of ELB_MAX_TARGETS_PER_CALL; the first
 * batch that fails stops the rest. */
static int change_targets(elb_client *c, const char *action, const char *arn,
                          const elb_target *targets, size_t count, int64_t deadline_ms,
                          elb_error *err)
{
    size_t done, n;
    memset(err, 0, sizeof *err);
    if (check_args(arn, targets, count, err) != 0)
        return -1;
    for (done = 0; done < count; done += n) {
        n = count - done < ELB_MAX_TARGETS_PER_CALL ? count - done : ELB_MAX_TARGETS_PER_CALL;
        if (call_with_targets(c, action, arn, targets + done, n, deadline_ms, NULL, err) != 0) {
            if (done && c->log)
                log_msg(c->log, LOG_WARN, "elbv2 %s: %zu of %zu targets done before the failure",
                        action, done, count);
            return -1;
        }
    }
    return 0;
}

int elb_register_targets(elb_client *c, const char *target_group_arn, const elb_target *targets,
                         size_t count, int64_t deadline_ms, elb_error *err)
{
    return change_targets(c, "RegisterTargets", target_group_arn, targets, count, deadline_ms, err);
}

int elb_deregister_targets(elb_client *c, const char *target_group_arn, const elb_target *targets,
                           size_t count, int64_t deadline_ms, elb_error *err)
{
    return change_targets(c, "DeregisterTargets", target_group_arn, targets, count, deadline_ms,
                          err);
}
