/* Private to the ELBv2 client (handler/elbv2*.c) and its unit tests. */
#ifndef RNS_ELBV2_INTERNAL_H
#define RNS_ELBV2_INTERNAL_H

#include <stddef.h>

#include "handler/aws/elbv2.h"

/* Like elb_parse_response(); when expect_root is not NULL a success document
 * must have that root element (e.g. "RegisterTargetsResponse"), so that an
 * endpoint answering for another API is not taken for a success. */
int elbv2_xml_parse(const char *xml, size_t len, const char *expect_root,
                    elb_target_list *out, elb_error *err);

/* The form body of a call, as botocore serializes it: Action, Version,
 * TargetGroupArn, then Targets.member.N.Id/Port/AvailabilityZone (port 0 and
 * az "" are left out), every value percent-encoded per RFC 3986. Owned by the
 * caller; NULL when out of memory. */
char *elbv2_build_body(const char *action, const char *target_group_arn,
                       const elb_target *targets, size_t count);

/* An endpoint URL split for sending and signing. */
typedef struct elbv2_endpoint {
    char url[1024];  /* scheme://authority/path, what libcurl is given */
    char host[300];  /* the Host header: authority without a default port */
    char path[512];  /* the request target that is signed, "/" at least */
} elbv2_endpoint;

/* 0, or -1 with err naming what is wrong with the URL. */
int elbv2_parse_endpoint(const char *url, elbv2_endpoint *out, char *err, size_t errlen);

/* Full-jitter backoff in ms before the retry that follows failed attempt
 * `attempt` (1-based): u * min(base * 2^(attempt-1), 20 s), u in [0,1). */
long elbv2_backoff_ms(int attempt, int throttling, double u);

/* Whether the error is one of the standard mode's throttling errors. */
int elbv2_is_throttling(const elb_error *err);

/* Makes an error message read from an answer safe to log and return: only
 * its first line is kept (AWS Query APIs follow a SignatureDoesNotMatch
 * message with the canonical request and the string to sign, which quote the
 * signed headers, the session token among them), and a message that still
 * holds a piece of the secret key or of the session token is withheld. */
void elbv2_scrub_message(elb_error *err, const sigv4_credentials *creds);

#endif
