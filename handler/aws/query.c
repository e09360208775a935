/* What the ELBv2 client puts on the wire and how it reads failures: form
 * bodies, endpoints, and the standard retry mode's classification. */
#include "handler/aws/elbv2_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ELB_API_VERSION "2015-12-01"
#define MAX_BACKOFF_MS 20000L
#define THROTTLING_BASE_MS 1000L
#define TRANSIENT_BASE_MS 50L

/* ---- form body ---------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_grow(sbuf *b, size_t more)
{
    size_t cap;
    char *p;
    if (b->oom || b->len + more + 1 <= b->cap)
        return;
    cap = b->cap ? b->cap : 512;
    while (cap < b->len + more + 1)
        cap *= 2;
    if (!(p = realloc(b->p, cap))) {
        b->oom = 1;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void sb_add(sbuf *b, const char *s, size_t n)
{
    sb_grow(b, n);
    if (b->oom)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static int unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_' || ch == '.' || ch == '~';
}

/* RFC 3986: everything but the unreserved set as %XX, upper-case hex. */
static void sb_encode(sbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        char enc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
        if (unreserved(ch))
            sb_add(b, (const char *)&ch, 1);
        else
            sb_add(b, enc, 3);
    }
}

static void sb_param(sbuf *b, const char *key, const char *value)
{
    if (b->len)
        sb_add(b, "&", 1);
    sb_add(b, key, strlen(key));
    sb_add(b, "=", 1);
    sb_encode(b, value);
}

char *elbv2_build_body(const char *action, const char *target_group_arn,
                       const elb_target *targets, size_t count)
{
    sbuf b = {0};
    char key[64], num[16];
    size_t i;
    sb_param(&b, "Action", action);
    sb_param(&b, "Version", ELB_API_VERSION);
    sb_param(&b, "TargetGroupArn", target_group_arn);
    for (i = 0; i < count; i++) {
        const elb_target *t = &targets[i];
        snprintf(key, sizeof key, "Targets.member.%zu.Id", i + 1);
        sb_param(&b, key, t->id);
        if (t->port > 0) {
            snprintf(key, sizeof key, "Targets.member.%zu.Port", i + 1);
            snprintf(num, sizeof num, "%d", t->port);
            sb_param(&b, key, num);
        }
        if (t->az[0]) {
            snprintf(key, sizeof key, "Targets.member.%zu.AvailabilityZone", i + 1);
            sb_param(&b, key, t->az);
        }
    }
    if (b.oom || !b.p) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ---- endpoints ---------------------------------------------------------- */

static int valid_region(const char *r)
{
    size_t n = 0;
    for (; r[n]; n++)
        if (!((r[n] >= 'a' && r[n] <= 'z') || (r[n] >= '0' && r[n] <= '9') || r[n] == '-'))
            return 0;
    return n > 0 && n < 64 && r[0] != '-' && r[n - 1] != '-';
}

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* DNS suffix of the partition a region belongs to (partitions.json). */
static const char *partition_suffix(const char *region)
{
    if (starts(region, "cn-"))
        return "amazonaws.com.cn";
    if (starts(region, "us-isob-"))
        return "sc2s.sgov.gov";
    if (starts(region, "us-isof-"))
        return "csp.hci.ic.gov";
    if (starts(region, "us-iso-"))
        return "c2s.ic.gov";
    if (starts(region, "eu-isoe-"))
        return "cloud.adc-e.uk";
    if (starts(region, "eusc-"))
        return "amazonaws.eu";
    return "amazonaws.com"; /* aws, and aws-us-gov which the rule set pins here */
}

int elb_default_endpoint(const char *region, char *out, size_t outlen)
{
    int n;
    if (!region || !valid_region(region))
        return -1;
    n = snprintf(out, outlen, "https://elasticloadbalancing.%s.%s", region, partition_suffix(region));
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

static int valid_port(const char *p, size_t n)
{
    long v = 0;
    size_t i;
    if (n == 0 || n > 5)
        return 0;
    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (p[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

/* Splits "host[:port]" or "[v6][:port]"; *port_at is NULL without a port. */
static int split_authority(const char *a, size_t n, const char **port_at, size_t *host_len)
{
    const char *end = a + n, *colon;
    *port_at = NULL;
    if (n && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close || close == a + 1)
            return -1;
        if (close + 1 < end && close[1] != ':')
            return -1;
        colon = close + 1 < end ? close + 1 : NULL;
    } else {
        colon = memchr(a, ':', n);
        if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
            return -1;
    }
    *host_len = colon ? (size_t)(colon - a) : n;
    if (*host_len == 0)
        return -1;
    if (colon) {
        *port_at = colon + 1;
        if (!valid_port(colon + 1, (size_t)(end - colon - 1)))
            return -1;
    }
    return 0;
}

static int fits(char *dst, size_t size, const char *src, size_t n)
{
    if (n >= size)
        return 0;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 1;
}

int elbv2_parse_endpoint(const char *url, elbv2_endpoint *out, char *err, size_t errlen)
{
    const char *a, *path, *port, *defport;
    size_t alen, hlen, i;
    int https;
    if (!url || !*url) {
        snprintf(err, errlen, "endpoint URL is empty");
        return -1;
    }
    https = strncasecmp(url, "https://", 8) == 0;
    if (!https && strncasecmp(url, "http://", 7) != 0) {
        snprintf(err, errlen, "endpoint URL must start with http:// or https://");
        return -1;
    }
    a = url + (https ? 8 : 7);
    alen = strcspn(a, "/?#");
    path = a + alen;
    if (strpbrk(path, "?#") || memchr(a, '@', alen) || strpbrk(a, " \t\r\n")) {
        snprintf(err, errlen, "endpoint URL must be scheme://host[:port][/path] without "
                              "credentials, query or fragment");
        return -1;
    }
    if (split_authority(a, alen, &port, &hlen) != 0) {
        snprintf(err, errlen, "endpoint URL has an invalid host or port");
        return -1;
    }
    /* The Host header omits the scheme's default port, as HTTP clients send it. */
    defport = https ? "443" : "80";
    if (port && (size_t)(a + alen - port) == strlen(defport) &&
        strncmp(port, defport, strlen(defport)) == 0)
        alen = hlen;
    if (!fits(out->host, sizeof out->host, a, alen) ||
        !fits(out->path, sizeof out->path, *path ? path : "/", *path ? strlen(path) : 1))
        goto too_long;
    for (i = 0; out->host[i]; i++)
        if (out->host[i] >= 'A' && out->host[i] <= 'Z')
            out->host[i] = (char)(out->host[i] - 'A' + 'a');
    if (snprintf(out->url, sizeof out->url, "%s://%s%s", https ? "https" : "http", out->host,
                 out->path) >= (int)sizeof out->url)
        goto too_long;
    return 0;
too_long:
    snprintf(err, errlen, "endpoint URL is too long");
    return -1;
}

/* ---- messages from the answer -------------------------------------------- */

#define SECRET_PIECE 16 /* this many bytes of a secret in a row count as the secret */

/* Whether text holds SECRET_PIECE consecutive bytes of secret (or all of a
 * shorter one). */
static int holds_piece(const char *text, const char *secret)
{
    size_t n = secret ? strlen(secret) : 0, piece = n < SECRET_PIECE ? n : SECRET_PIECE, i;
    if (piece == 0)
        return 0;
    for (i = 0; i + piece <= n; i++)
        if (memmem(text, strlen(text), secret + i, piece))
            return 1;
    return 0;
}

void elbv2_scrub_message(elb_error *err, const sigv4_credentials *creds)
{
    err->message[strcspn(err->message, "\r\n")] = '\0';
    if (creds && (holds_piece(err->message, creds->secret_access_key) ||
                  holds_piece(err->message, creds->session_token)))
        snprintf(err->message, sizeof err->message,
                 "(the answer's message quoted the request's credentials; withheld)");
}

/* ---- retry classification ----------------------------------------------- */

static const char *const throttling_codes[] = {
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException",
    "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
    "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
    "EC2ThrottledException",
};

static const char *const transient_codes[] = {
    "RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete",
    /* ours: no answer, or an answer that could not be read */
    "ConnectionError", "Timeout", "MalformedResponse",
};

static int listed(const char *code, const char *const *list, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (strcmp(code, list[i]) == 0)
            return 1;
    return 0;
}

int elbv2_is_throttling(const elb_error *err)
{
    return err->http_status == 429 ||
           listed(err->code, throttling_codes, sizeof throttling_codes / sizeof *throttling_codes);
}

int elb_error_is_retryable(const elb_error *err)
{
    long s;
    if (!err || !err->code[0])
        return 0;
    s = err->http_status;
    if (elbv2_is_throttling(err))
        return 1;
    if (s == 500 || s == 502 || s == 503 || s == 504)
        return 1;
    return listed(err->code, transient_codes, sizeof transient_codes / sizeof *transient_codes);
}

long elbv2_backoff_ms(int attempt, int throttling, double u)
{
    long base = throttling ? THROTTLING_BASE_MS : TRANSIENT_BASE_MS;
    long cap = base;
    int i;
    for (i = 1; i < attempt && cap < MAX_BACKOFF_MS; i++)
        cap *= 2;
    if (cap > MAX_BACKOFF_MS)
        cap = MAX_BACKOFF_MS;
    if (u < 0)
        u = 0;
    return (long)(u * (double)cap);
}
