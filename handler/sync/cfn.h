/* Answering a CloudFormation custom resource request, all of it: the
 * status, reason, PhysicalResourceId and Data of the response document, and
 * its PUT to the request's ResponseURL (a presigned S3 URL: a credential,
 * never logged; only its host is). As cfn-response does, the PUT carries an
 * empty Content-Type, which the presigned signature expects. */
#ifndef RNS_CFN_H
#define RNS_CFN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/log.h"
#include "common/retry.h"
#include "handler/aws/http.h"
#include "handler/sync/error.h"
#include "handler/sync/event.h"
#include "handler/sync/reconcile.h"

#define CFN_REASON_MAX 1024 /* the whole response must stay under 4096 bytes */
#define CFN_PUT_ATTEMPTS RNS_RETRY_CFN_PUT_ATTEMPTS

/* "SUCCESS", or "FAILED" when the work failed (work_err holds an error). */
const char *cfn_status(const rns_error *work_err);

/* The answer to a request whose work (a reconcile for Create and Update,
 * nothing for Delete) is done: status and Reason from work_err and rep,
 * Data {"Registered","Deregistered"}, sent with cfn_send. 0, or -1 with
 * *put_err. */
int cfn_answer(http_client *http, const cfn_request *req, const char *target_group_name, const reconcile_report *rep,
               const rns_error *work_err, int64_t deadline_ms, logger *lg, rns_error *put_err);

/* The host[:port] of a URL, for logs ("" when it has none). */
void cfn_url_host(const char *url, char *out, size_t outlen);

#endif
