/* Private to cfn.c and its tests: the steps of a CloudFormation answer. */
#ifndef RNS_SYNC_CFN_INTERNAL_H
#define RNS_SYNC_CFN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/log.h"
#include "handler/aws/http.h"
#include "handler/sync/cfn.h"
#include "handler/sync/error.h"
#include "handler/sync/event.h"

/* The PhysicalResourceId to answer with: Update and Delete keep the
 * request's; Create (or a request without one) gets
 * "rds-nlb-sync-<target group name>". */
void cfn_physical_id(const cfn_request *req, const char *target_group_name, char *out, size_t outlen);

/* The response document (malloc'd): Status, Reason, PhysicalResourceId,
 * StackId, RequestId, LogicalResourceId, NoEcho, Data (a jansson object,
 * borrowed, may be NULL). Reason is cut at CFN_REASON_MAX bytes. */
char *cfn_response_body(const cfn_request *req, const char *status, const char *reason, const char *physical_id,
                        const json_t *data);

/* PUTs body to req->response_url, retrying connection errors, timeouts and
 * 5xx answers (up to CFN_PUT_ATTEMPTS, never past deadline_ms). 0, or -1 with
 * a CloudFormationResponseError naming the host, never the URL. */
int cfn_send(http_client *http, const cfn_request *req, const char *body, int64_t deadline_ms, logger *lg,
             rns_error *err);

#endif
