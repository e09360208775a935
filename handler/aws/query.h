/* The AWS Query protocol (ELBv2, RDS, ...): what a Query API client needs
 * beyond its own actions and response elements.
 *
 * - form bodies: Action, Version, then the parameters, each value
 *   percent-encoded per RFC 3986 (botocore's serialisation);
 * - endpoints: https://<prefix>.<region>.<partition's DNS suffix>, or an
 *   override URL; the region rule (query_endpoint.h);
 * - one signed POST per attempt (SigV4, signed again each attempt), over one
 *   kept connection, with the standard retry mode (common/retry.h) and the
 *   retry classes of its errors (query_error.h); no attempt, wait or
 *   transfer past the caller's deadline;
 * - response XML: <ActionResponse> checked, <ErrorResponse> read into an
 *   aws_error, the success elements handed to the client's callbacks.
 *
 * A client of one more service is a query_service, a request builder on
 * query_form_* and a query_xml_callbacks table (handler/aws/elbv2.c). */
#ifndef RNS_AWS_QUERY_H
#define RNS_AWS_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/log.h"
#include "handler/aws/query_endpoint.h"
#include "handler/aws/query_error.h"
#include "sigv4/sigv4.h"

/* One Query service. */
typedef struct query_service {
    const char *name;            /* in messages: "ELBv2" */
    const char *log_name;        /* in log lines: "elbv2" */
    const char *signing_name;    /* SigV4 service: "elasticloadbalancing" */
    const char *endpoint_prefix; /* first label of the default host */
    const char *api_version;     /* Version=, e.g. "2015-12-01" */
} query_service;

/* ---- form bodies ---- */

/* Starts a body: "Action=<action>&Version=<api_version>". An rns_buf code. */
int query_form_init(rns_buf *body, const query_service *svc, const char *action);
/* Appends "&key=<value percent-encoded>". An rns_buf code (codes of a
 * series of calls may be OR'ed: any failure leaves a non-zero result). */
int query_form_add(rns_buf *body, const char *key, const char *value);
/* The same with the key made by printf: "Targets.member.%zu.Id". */
int query_form_addk(rns_buf *body, const char *value, const char *key_fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- response XML ---- */

/* A parse in progress, as the callbacks see it. */
typedef struct query_xml query_xml;

/* The client's part of reading a success document. Elements are matched by
 * local name (any namespace or prefix) and place, so child order does not
 * matter and unknown elements are skipped. */
typedef struct query_xml_callbacks {
    void *ctx;
    void (*on_start)(query_xml *x, void *ctx); /* an element opened */
    void (*on_end)(query_xml *x, void *ctx);   /* it closes; its text is whole */
    void (*reset)(void *ctx);                  /* drop what was collected: before a parse, after a failed one */
} query_xml_callbacks;

/* Depth of the current element (the root is 1). */
int query_xml_depth(const query_xml *x);
/* Whether the element `up` levels above the current one (0: itself) has
 * this local name. */
int query_xml_is(const query_xml *x, int up, const char *name);
/* Copies the text into a field of `size` bytes; a value that does not fit
 * fails the parse (a cut Id would later name the wrong thing). 0, or -1. */
int query_xml_take(query_xml *x, char *field, size_t size, const char *what);
/* The text as a decimal integer in [min, max] (max >= 0); else the parse
 * fails with "<what> is not <kind>" ("Target/Port", "a port number") or
 * "<what> <text> is out of range". */
int query_xml_take_long(query_xml *x, long min, long max, long *out, const char *what, const char *kind);
/* Fails the parse: the error becomes MalformedResponse with this reason. */
void query_xml_fail(query_xml *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses a response body. A success document (root ending in "Response",
 * equal to expect_root unless NULL) goes through cb (may be NULL) and gives
 * 0. An <ErrorResponse> fills *err (code, message, request id) and gives
 * -1, as does anything else (code "MalformedResponse"). */
int query_xml_parse(const char *xml, size_t len, const char *expect_root, const query_xml_callbacks *cb,
                    aws_error *err);

/* ---- the client ---- */

typedef struct query_client_config {
    const query_service *service; /* borrowed, static */
    const char *region;
    const char *endpoint_url; /* NULL: query_default_endpoint */
    sigv4_credentials creds;  /* borrowed for the client's lifetime */
    int max_attempts;         /* 1..100 (AWS_MAX_ATTEMPTS) */
    const char *ca_bundle;    /* NULL: the search of handler/aws/http.c */
    logger *log;              /* borrowed, may be NULL */
} query_client_config;

typedef struct query_client query_client;

query_client *query_client_new(const query_client_config *cfg, char *err, size_t errlen);
void query_client_free(query_client *c);

/* Called before every attempt (retries too): waits for the caller's share
 * of the API's rate (a token bucket, common/bucket.h) and returns 0, or -1
 * when none comes before the deadline. */
typedef int (*query_pacer)(void *ctx, const char *action, int64_t deadline_ms);
/* pacer NULL: none (the default). ctx is borrowed. */
void query_client_set_pacer(query_client *c, query_pacer pacer, void *ctx);
/* Requests sent so far (every attempt counts: each takes a token of the
 * service's bucket). */
long query_requests_sent(const query_client *c);

/* One action: body from query_form_*, deadline_ms in Unix ms. Retries as
 * the standard mode says; 0 when a success document of <action>Response was
 * read through cb, else -1 with *err (attempts and deadline_cut set). */
int query_call(query_client *c, const char *action, const char *body, int64_t deadline_ms,
               const query_xml_callbacks *cb, aws_error *err);

#endif
