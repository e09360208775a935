/* Answering a CloudFormation custom resource request: the response document
 * PUT to the request's ResponseURL (a presigned S3 URL: a credential, never
 * logged; only its host is). As cfn-response does, the PUT carries an empty
 * Content-Type, which the presigned signature expects. */
#ifndef RNS_CFN_H
#define RNS_CFN_H

#include <stddef.h>
#include <stdint.h>

#include "common/retry.h"
#include "handler/sync/error.h"
#include "handler/sync/event.h"
#include "handler/aws/http.h"
#include "runtime/log.h"

#define CFN_REASON_MAX 1024      /* the whole response must stay under 4096 bytes */
#define CFN_PUT_ATTEMPTS RNS_RETRY_CFN_PUT_ATTEMPTS

/* The PhysicalResourceId to answer with: Update and Delete keep the
 * request's; Create (or a request without one) gets
 * "rds-nlb-sync-<target group name>". */
void cfn_physical_id(const cfn_request *req, const char *target_group_name, char *out, size_t outlen);

/* The response document (malloc'd): Status, Reason, PhysicalResourceId,
 * StackId, RequestId, LogicalResourceId, NoEcho, Data (a jansson object,
 * borrowed, may be NULL). Reason is cut at CFN_REASON_MAX bytes. */
char *cfn_response_body(const cfn_request *req, const char *status, const char *reason,
                        const char *physical_id, const void *data);

/* PUTs body to req->response_url, retrying connection errors, timeouts and
 * 5xx answers (up to CFN_PUT_ATTEMPTS, never past deadline_ms). 0, or -1 with
 * a CloudFormationResponseError naming the host, never the URL. */
int cfn_send(http_client *http, const cfn_request *req, const char *body, int64_t deadline_ms,
             logger *lg, rns_error *err);

/* The host[:port] of a URL, for logs ("" when it has none). */
void cfn_url_host(const char *url, char *out, size_t outlen);

#endif
