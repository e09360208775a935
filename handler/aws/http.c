/* One libcurl easy handle, kept for the life of the client so that its
 * connection cache keeps the TCP/TLS connection open across calls and across
 * warm Lambda invocations. Every option set is checked.
 *
 * Nothing is loaded at creation: the handle (and with it libcurl's TLS
 * library) and the CA bundle come on the first request, so a cold start that
 * never calls out pays nothing. The CA bundle choice is all in this file
 * (http.h). No URL is ever logged or put into an error message: a
 * CloudFormation response URL carries a signature. */
#include "handler/aws/http.h"

#include "handler/aws/ca_store.h"

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/buf.h"
#include "handler/aws/curl.h"

#ifndef RNS_VERSION
#define RNS_VERSION "dev"
#endif

#define HTTP_MAX_BODY (8u << 20) /* far above any ELBv2 answer; a bound on memory */

static const char *const system_bundles[] = {
    "/etc/pki/tls/certs/ca-bundle.crt",   /* Amazon Linux */
    "/etc/ssl/certs/ca-certificates.crt", /* Debian */
};

struct http_client {
    CURL *curl;      /* NULL until the first request */
    int global_init; /* curl_global_init succeeded, to be paired on free */
    int tls_ready;   /* the CA bundle has been chosen */
    char *ca_config; /* from the caller, may be NULL */
    char *ca_bundle; /* chosen on the first request; NULL: libcurl's default */
    ca_store *cas;   /* the indexed ca_bundle, set with it */
    logger *log;
    long connections;
    char curl_err[CURL_ERROR_SIZE];
    /* The response being received. */
    rns_buf body;
    int body_too_large;
    char request_id[128];
};

http_client *http_client_new(const char *ca_bundle, logger *lg)
{
    http_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (ca_bundle && *ca_bundle && !(c->ca_config = strdup(ca_bundle))) {
        free(c);
        return NULL;
    }
    c->log = lg;
    rns_buf_init(&c->body, HTTP_MAX_BODY);
    return c;
}

void http_client_free(http_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    if (c->global_init)
        curl_global_cleanup();
    ca_store_free(c->cas); /* after the handle, whose TLS contexts use it */
    free(c->ca_config);
    free(c->ca_bundle);
    rns_buf_free(&c->body);
    free(c);
}

long http_connections_opened(const http_client *c)
{
    return c ? c->connections : 0;
}

void http_response_free(http_response *resp)
{
    if (!resp)
        return;
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}

static const char *nonempty(http_env_lookup lookup, void *ctx, const char *name)
{
    const char *v = lookup(name, ctx);
    return v && *v ? v : NULL;
}

const char *http_ca_bundle_from_env(http_env_lookup lookup, void *ctx)
{
    const char *v = nonempty(lookup, ctx, "AWS_CA_BUNDLE");
    return v ? v : nonempty(lookup, ctx, "SSL_CERT_FILE");
}

/* The configured bundle, else the first system one; NULL when nothing is
 * found (libcurl's default). */
static const char *find_ca_bundle(const http_client *c)
{
    size_t i;
    if (c->ca_config)
        return c->ca_config;
    for (i = 0; i < sizeof system_bundles / sizeof system_bundles[0]; i++)
        if (access(system_bundles[i], R_OK) == 0)
            return system_bundles[i];
    return NULL;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    http_client *c = ud;
    int rc = rns_buf_add(&c->body, data, size * n);
    if (rc == RNS_BUF_TOOBIG)
        c->body_too_large = 1;
    return rc == RNS_BUF_OK ? size * n : 0; /* 0 aborts the transfer with CURLE_WRITE_ERROR */
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    static const char name[] = "x-amzn-RequestId:";
    http_client *c = ud;
    size_t len = size * n, k = sizeof name - 1;
    if (len > k && strncasecmp(data, name, k) == 0) {
        const char *v = data + k, *end = data + len;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
            end--;
        if ((size_t)(end - v) < sizeof c->request_id) {
            memcpy(c->request_id, v, (size_t)(end - v));
            c->request_id[end - v] = '\0';
        }
    }
    return len;
}

/* Options that stay the same for every request of the handle. */
static int set_fixed_options(http_client *c, CURL *h, char *err, size_t errlen)
{
    return AWS_CURL_SET(h, CURLOPT_NOSIGNAL, 1L, err, errlen) ||
                   AWS_CURL_SET(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1, err, errlen) ||
                   AWS_CURL_SET(h, CURLOPT_TCP_NODELAY, 1L, err, errlen) ||
                   AWS_CURL_SET(h, CURLOPT_TCP_KEEPALIVE, 1L, err, errlen) ||
                   AWS_CURL_SET(h, CURLOPT_PROTOCOLS_STR, "http,https", err, errlen) ||
                   AWS_CURL_SET(h, CURLOPT_SSL_VERIFYPEER, 1L, err, errlen) ||
                   AWS_CURL_SET(h, CURLOPT_SSL_VERIFYHOST, 2L, err, errlen) ||
                   AWS_CURL_SET(h, CURLOPT_USERAGENT, "rds-nlb-sync/" RNS_VERSION, err, errlen) ||
                   AWS_CURL_SET(h, CURLOPT_ERRORBUFFER, c->curl_err, err, errlen) ||
                   AWS_CURL_SET(h, CURLOPT_WRITEFUNCTION, on_body, err, errlen) ||
                   AWS_CURL_SET(h, CURLOPT_WRITEDATA, c, err, errlen) ||
                   AWS_CURL_SET(h, CURLOPT_HEADERFUNCTION, on_header, err, errlen) ||
                   AWS_CURL_SET(h, CURLOPT_HEADERDATA, c, err, errlen)
               ? -1
               : 0;
}

static int setup_handle(http_client *c, char *err, size_t errlen)
{
    CURL *h;
    if (!c->global_init) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(err, errlen, "libcurl initialisation failed");
            return -1;
        }
        c->global_init = 1;
    }
    if (!(h = curl_easy_init())) {
        snprintf(err, errlen, "libcurl handle creation failed");
        return -1;
    }
    if (set_fixed_options(c, h, err, errlen) != 0) {
        curl_easy_cleanup(h);
        return -1;
    }
    c->curl = h;
    return 0;
}

/* Chosen once, on the first HTTPS request; HTTP_OK or why not. */
static http_result setup_tls(http_client *c, char *err, size_t errlen)
{
    const char *ca = find_ca_bundle(c);
    c->tls_ready = 1;
    /* OpenSSL is set up here, on first use, not by curl_global_init at start
     * (our libcurl is built so: scripts/build-curl.sh), and never from the
     * host's openssl.cnf, which Lambda does not have. */
    OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
    if (!ca) {
        if (c->log)
            log_msg(c->log, LOG_WARN, "no CA bundle found; using libcurl's default trust store");
        return HTTP_OK;
    }
    if (!(c->ca_bundle = strdup(ca))) {
        c->tls_ready = 0;
        snprintf(err, errlen, "out of memory");
        return HTTP_OTHER_ERROR;
    }
    /* Indexed, not loaded: a certificate is decoded only when a chain needs
     * it (ca_store.h). Only the chosen bundle is trusted, not also the
     * distribution's folder. A bundle that cannot be read fails this request
     * and is tried again on the next. */
    if (!(c->cas = ca_store_open(ca, err, errlen)) || ca_store_attach(c->cas, c->curl, err, errlen) != 0) {
        ca_store_free(c->cas);
        c->cas = NULL;
        free(c->ca_bundle);
        c->ca_bundle = NULL;
        c->tls_ready = 0;
        return HTTP_TLS_ERROR;
    }
    if (c->log && logger_enabled(c->log, LOG_DEBUG))
        log_msg(c->log, LOG_DEBUG, "CA bundle: %s (%zu certificates)", c->ca_bundle, ca_store_count(c->cas));
    return HTTP_OK;
}

static int has_header(const char *const *headers, const char *name)
{
    size_t n = strlen(name);
    for (; headers && *headers; headers++)
        if (strncasecmp(*headers, name, n) == 0 && ((*headers)[n] == ':' || (*headers)[n] == ';'))
            return 1;
    return 0;
}

/* Header lines may carry an Authorization or a session token. */
static void free_headers(struct curl_slist *list)
{
    struct curl_slist *p;
    for (p = list; p; p = p->next)
        explicit_bzero(p->data, strlen(p->data));
    curl_slist_free_all(list);
}

/* The caller's headers plus two that switch libcurl defaults off: no
 * "Expect: 100-continue" round trip, and no form Content-Type unless given.
 * ("Name;" is libcurl's way to send a header with an empty value.) */
static struct curl_slist *build_headers(const char *const *headers)
{
    struct curl_slist *list = NULL, *next;
    const char *extra[2] = {NULL, NULL};
    size_t i, n = 0;
    if (!has_header(headers, "Expect"))
        extra[n++] = "Expect:";
    if (!has_header(headers, "Content-Type"))
        extra[n++] = "Content-Type:";
    for (i = 0; i < n; i++) {
        if (!(next = curl_slist_append(list, extra[i])))
            goto fail;
        list = next;
    }
    for (i = 0; headers && headers[i]; i++) {
        if (!(next = curl_slist_append(list, headers[i])))
            goto fail;
        list = next;
    }
    return list;
fail:
    free_headers(list);
    return NULL;
}

static http_result classify(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK: return HTTP_OK;
    case CURLE_OPERATION_TIMEDOUT: return HTTP_TIMEOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    /* A handshake cut short (reset, closed) is a connection problem;
     * certificate failures have their own codes below. */
    case CURLE_SSL_CONNECT_ERROR: return HTTP_CONNECT_ERROR;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED: return HTTP_TLS_ERROR;
    default: return HTTP_OTHER_ERROR;
    }
}

static int set_method(CURL *h, const char *method, const char *body, size_t body_len, char *err, size_t errlen)
{
    if (AWS_CURL_SET(h, CURLOPT_CUSTOMREQUEST, NULL, err, errlen) || AWS_CURL_SET(h, CURLOPT_NOBODY, 0L, err, errlen))
        return -1;
    if (strcmp(method, "GET") == 0 && !body)
        return AWS_CURL_SET(h, CURLOPT_HTTPGET, 1L, err, errlen);
    if (strcmp(method, "HEAD") == 0)
        return AWS_CURL_SET(h, CURLOPT_NOBODY, 1L, err, errlen);
    /* Every other method sends its body (possibly empty) with a Content-Length. */
    if (AWS_CURL_SET(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len, err, errlen) ||
        AWS_CURL_SET(h, CURLOPT_POSTFIELDS, body ? body : "", err, errlen))
        return -1;
    return strcmp(method, "POST") != 0 ? AWS_CURL_SET(h, CURLOPT_CUSTOMREQUEST, method, err, errlen) : 0;
}

/* The options of one request. */
static int set_request(http_client *c, const char *method, const char *url, struct curl_slist *list, const char *body,
                       size_t body_len, long timeout_ms, char *err, size_t errlen)
{
    return AWS_CURL_SET(c->curl, CURLOPT_URL, url, err, errlen) ||
                   AWS_CURL_SET(c->curl, CURLOPT_HTTPHEADER, list, err, errlen) ||
                   AWS_CURL_SET(c->curl, CURLOPT_TIMEOUT_MS, timeout_ms, err, errlen) ||
                   AWS_CURL_SET(c->curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms, err, errlen) ||
                   set_method(c->curl, method, body, body_len, err, errlen)
               ? -1
               : 0;
}

static void reset_response(http_client *c)
{
    rns_buf_reset(&c->body);
    c->body_too_large = 0;
    c->request_id[0] = '\0';
    c->curl_err[0] = '\0';
}

/* Hands the received body to the caller, leaving the client an empty buffer. */
static int take_response(http_client *c, http_response *resp, char *err, size_t errlen)
{
    memset(resp, 0, sizeof *resp);
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
    if (!(resp->body = rns_buf_take(&c->body, &resp->body_len))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(resp->request_id, c->request_id, sizeof resp->request_id);
    return 0;
}

static void describe_error(http_client *c, CURLcode rc, long timeout_ms, char *err, size_t errlen)
{
    if (rc == CURLE_OPERATION_TIMEDOUT)
        snprintf(err, errlen, "no response within %ld ms", timeout_ms);
    else if (c->body_too_large)
        snprintf(err, errlen, "response body larger than %u bytes", HTTP_MAX_BODY);
    else
        snprintf(err, errlen, "%s%s%s", curl_easy_strerror(rc), c->curl_err[0] ? ": " : "", c->curl_err);
}

http_result http_request(http_client *c, const char *method, const char *url, const char *const *headers,
                         const char *body, size_t body_len, long timeout_ms, http_response *resp, char *err,
                         size_t errlen)
{
    struct curl_slist *list;
    CURLcode rc;
    long conns = 0;
    http_result res;
    memset(resp, 0, sizeof *resp);
    if (timeout_ms <= 0) {
        snprintf(err, errlen, "no time left for the request");
        return HTTP_TIMEOUT;
    }
    if (!c->curl && setup_handle(c, err, errlen) != 0)
        return HTTP_OTHER_ERROR;
    if (!c->tls_ready && strncasecmp(url, "https:", 6) == 0 && (res = setup_tls(c, err, errlen)) != HTTP_OK)
        return res;
    if (!(list = build_headers(headers))) {
        snprintf(err, errlen, "out of memory building headers");
        return HTTP_OTHER_ERROR;
    }
    reset_response(c);
    if (set_request(c, method, url, list, body, body_len, timeout_ms, err, errlen) != 0) {
        (void)curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
        free_headers(list);
        return HTTP_OTHER_ERROR;
    }
    rc = curl_easy_perform(c->curl);
    if (curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK)
        c->connections += conns;
    (void)curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL); /* clearing a list cannot fail */
    free_headers(list);
    res = classify(rc);
    if (c->body_too_large)
        res = HTTP_OTHER_ERROR;
    if (res != HTTP_OK) {
        describe_error(c, rc, timeout_ms, err, errlen);
        rns_buf_free(&c->body); /* may have grown large; the next answer starts afresh */
        return res;
    }
    if (take_response(c, resp, err, errlen) != 0)
        return HTTP_OTHER_ERROR;
    return HTTP_OK;
}
