/* The HTTPS client of every AWS call and of the CloudFormation answer: one
 * reused libcurl handle (keep-alive), the only curl wrapper outside the
 * Runtime API's.
 *
 * TLS verification is always on. The CA bundle is chosen on the first HTTPS
 * request, not before: the configured file (AWS_CA_BUNDLE, else
 * SSL_CERT_FILE: http_ca_bundle_from_env), else the first that exists of
 * /etc/pki/tls/certs/ca-bundle.crt (Amazon Linux) and
 * /etc/ssl/certs/ca-certificates.crt (Debian), else libcurl's default. The
 * bundle is indexed then, and a certificate of it decoded only when a chain
 * needs it (ca_store.h); a bundle that cannot be read or parsed is an
 * HTTP_TLS_ERROR naming the file. */
#ifndef RNS_HTTP_H
#define RNS_HTTP_H

#include <stddef.h>

#include "common/log.h"

typedef struct http_client http_client;

typedef struct http_response {
    long status; /* 0 when no response arrived */
    char *body;  /* owned, NUL-terminated */
    size_t body_len;
    char request_id[128]; /* x-amzn-RequestId header, "" if absent */
} http_response;

/* Result of http_request(). */
typedef enum http_result {
    HTTP_OK = 0,        /* a response arrived (any status) */
    HTTP_CONNECT_ERROR, /* could not connect / resolve / connection dropped */
    HTTP_TIMEOUT,       /* timeout_ms elapsed */
    HTTP_TLS_ERROR,     /* certificate or handshake failure: not retryable */
    HTTP_OTHER_ERROR
} http_result;

/* Reads a variable of the environment (NULL when unset); ctx is the caller's. */
typedef const char *(*http_env_lookup)(const char *name, void *ctx);

/* The configured CA bundle: AWS_CA_BUNDLE, else SSL_CERT_FILE (empty
 * counts as unset), read through lookup; NULL when neither is set. */
const char *http_ca_bundle_from_env(http_env_lookup lookup, void *ctx);

/* `ca_bundle` may be NULL (the system bundles, as above); the string is copied. */
http_client *http_client_new(const char *ca_bundle, logger *lg);
void http_client_free(http_client *c);

/* headers: "Name: value" strings, NULL-terminated array (may be NULL).
 * On HTTP_OK, *resp is filled and must be freed; otherwise err says why. */
http_result http_request(http_client *c, const char *method, const char *url, const char *const *headers,
                         const char *body, size_t body_len, long timeout_ms, http_response *resp, char *err,
                         size_t errlen);
void http_response_free(http_response *resp);

/* Connections opened by this client so far (for tests and benchmarks). */
long http_connections_opened(const http_client *c);

#endif
