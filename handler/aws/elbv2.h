/* Elastic Load Balancing v2 Query API client: DescribeTargetHealth,
 * RegisterTargets, DeregisterTargets, signed with our SigV4, with the AWS SDKs'
 * standard retry mode (AWS_MAX_ATTEMPTS, full-jitter exponential backoff,
 * retries on throttling, 5xx and connection errors only), every wait bounded
 * by the caller's deadline. One connection is kept across calls. */
#ifndef RNS_ELBV2_H
#define RNS_ELBV2_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/log.h"
#include "sigv4/sigv4.h"

#define ELB_MAX_TARGETS_PER_CALL 100

/* One target as DescribeTargetHealth reports it, or as we send it.
 * port 0 means "no port"; az "" means "no AvailabilityZone". */
typedef struct elb_target {
    char id[256];
    int port;
    char az[64];
    char state[32];  /* initial|healthy|unhealthy|unused|draining|unavailable|... ("" when sending) */
    char reason[64];
} elb_target;

typedef struct elb_target_list {
    elb_target *items;
    size_t count;
} elb_target_list;

/* An API failure, as a value. code is the AWS error code ("Throttling",
 * "TargetGroupNotFound", ...) or one of our own for failures without an AWS
 * answer: "ConnectionError", "Timeout", "TlsError", "MalformedResponse". */
typedef struct elb_error {
    long http_status;      /* 0 when no response */
    char code[64];
    char message[512];
    char request_id[128];
    int attempts;          /* attempts made, including the last */
    int deadline_cut;      /* the deadline, not the error, ended the attempts */
} elb_error;

typedef struct elb_client_config {
    const char *region;
    const char *endpoint_url;     /* NULL: https://elasticloadbalancing.<region>.amazonaws.com[.cn] */
    sigv4_credentials creds;      /* borrowed for the client's lifetime */
    int max_attempts;             /* >= 1 */
    const char *ca_bundle;        /* NULL: the search order of http.h */
    logger *log;                  /* borrowed */
} elb_client_config;

typedef struct elb_client elb_client;

elb_client *elb_client_new(const elb_client_config *cfg, char *err, size_t errlen);
void elb_client_free(elb_client *c);

/* Each returns 0, or -1 with *err filled. deadline_ms is Unix time in ms: no
 * attempt starts, and no wait or transfer runs, past it. */
int elb_describe_target_health(elb_client *c, const char *target_group_arn, int64_t deadline_ms,
                               elb_target_list *out, elb_error *err);
int elb_register_targets(elb_client *c, const char *target_group_arn,
                         const elb_target *targets, size_t count, int64_t deadline_ms,
                         elb_error *err);
int elb_deregister_targets(elb_client *c, const char *target_group_arn,
                           const elb_target *targets, size_t count, int64_t deadline_ms,
                           elb_error *err);

void elb_target_list_free(elb_target_list *list);

/* The default endpoint URL for a region (aws, aws-cn, aws-us-gov, ...). */
int elb_default_endpoint(const char *region, char *out, size_t outlen);

/* Connections the client has opened so far. */
long elb_connections_opened(const elb_client *c);

/* Caps each attempt (connect + transfer) at timeout_ms (default 10000), so a
 * hung answer leaves time for a retry; the deadline still bounds it. */
void elb_client_set_attempt_timeout(elb_client *c, long timeout_ms);

/* Tokens left in the client's retry quota (standard mode: 500 at start, a
 * retry costs 5, or 10 after a timeout; successes give them back). */
int elb_retry_tokens(const elb_client *c);

/* Parses an ELBv2 Query API response body. For a DescribeTargetHealth
 * success, `out` (may be NULL for other actions) receives the targets. An
 * <ErrorResponse> fills *err (code, message, request id) and returns -1, as
 * does malformed XML (code "MalformedResponse"). */
int elb_parse_response(const char *xml, size_t len, elb_target_list *out, elb_error *err);

/* Whether the standard retry mode retries this failure. */
int elb_error_is_retryable(const elb_error *err);

#endif
