/* CloudFormation responses (cfn.h). */
#include "handler/sync/cfn.h"
#include "handler/sync/cfn_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "common/retry.h"
#include "common/utf8.h"

#define ATTEMPT_TIMEOUT_MS 10000

void cfn_physical_id(const cfn_request *req, const char *target_group_name, char *out, size_t outlen)
{
    if (req->type != CFN_CREATE && req->physical_resource_id && *req->physical_resource_id)
        snprintf(out, outlen, "%s", req->physical_resource_id);
    else
        snprintf(out, outlen, "rds-nlb-sync-%s", target_group_name ? target_group_name : "target-group");
}

char *cfn_response_body(const cfn_request *req, const char *status, const char *reason, const char *physical_id,
                        const json_t *data)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "Status", json_string(status));
    json_object_set_new(o, "Reason", rns_json_text(reason, reason ? strlen(reason) : 0, CFN_REASON_MAX));
    json_object_set_new(o, "PhysicalResourceId", json_string(physical_id));
    json_object_set_new(o, "StackId", json_string(req->stack_id));
    json_object_set_new(o, "RequestId", json_string(req->request_id));
    json_object_set_new(o, "LogicalResourceId", json_string(req->logical_resource_id));
    json_object_set_new(o, "NoEcho", json_false());
    json_object_set_new(o, "Data", data ? json_deep_copy(data) : json_object());
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

void cfn_url_host(const char *url, char *out, size_t outlen)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    /* Never show userinfo; it ends at the authority's last '@' (one left
     * unencoded inside it must not expose the rest). */
    const char *at = memrchr(p, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    snprintf(out, outlen, "%.*s", (int)n, p);
}

static int retryable(http_result hr, long status)
{
    if (hr == HTTP_CONNECT_ERROR || hr == HTTP_TIMEOUT)
        return 1;
    return hr == HTTP_OK && (status >= 500 || status == 429);
}

static int url_ok(const char *url)
{
    return url && (strncasecmp(url, "https://", 8) == 0 || strncasecmp(url, "http://", 7) == 0);
}

int cfn_send(http_client *http, const cfn_request *req, const char *body, int64_t deadline_ms, logger *lg,
             rns_error *err)
{
    static const char *const headers[] = {"Content-Type;", NULL};
    char host[256], why[256] = "";
    cfn_url_host(req->response_url ? req->response_url : "", host, sizeof host);
    if (!url_ok(req->response_url)) {
        rns_error_set(err, RNS_ERR_CFN_RESPONSE, "the request's ResponseURL is not an http(s) URL");
        return -1;
    }
    int attempt, made = 0;
    for (attempt = 1; attempt <= CFN_PUT_ATTEMPTS; attempt++) {
        long left = (long)(deadline_ms - rns_wall_ms());
        http_response resp;
        if (left <= 0) {
            snprintf(why, sizeof why, "deadline reached");
            break;
        }
        made++;
        http_result hr = http_request(http, "PUT", req->response_url, headers, body, strlen(body),
                                      left < ATTEMPT_TIMEOUT_MS ? left : ATTEMPT_TIMEOUT_MS, &resp, why, sizeof why);
        long status = hr == HTTP_OK ? resp.status : 0;
        if (hr == HTTP_OK)
            http_response_free(&resp); /* the body may quote the presigned signature: never shown */
        if (hr == HTTP_OK && status >= 200 && status < 300) {
            log_msg(lg, LOG_INFO, "CloudFormation response delivered to %s (HTTP %ld, attempt %d)", host, status,
                    attempt);
            return 0;
        }
        if (hr == HTTP_OK)
            snprintf(why, sizeof why, "HTTP %ld", status);
        log_msg(lg, LOG_WARN, "CloudFormation response to %s, attempt %d: %s", host, attempt, why);
        rns_retry_failure f = {attempt, CFN_PUT_ATTEMPTS, retryable(hr, status), 0, 0};
        long wait;
        int cost;
        if (rns_retry_next(&rns_retry_cfn_put, NULL, &f, rns_wall_ms(), deadline_ms, &wait, &cost) != RNS_RETRY_WAIT)
            break;
        rns_sleep_ms(wait);
    }
    rns_error_set(err, RNS_ERR_CFN_RESPONSE, "could not deliver the CloudFormation response to %s: %s (%d attempt%s)",
                  host, why, made, made == 1 ? "" : "s");
    return -1;
}

const char *cfn_status(const rns_error *work_err)
{
    return rns_error_failed(work_err) ? "FAILED" : "SUCCESS";
}

static json_t *answer_data(const reconcile_report *rep)
{
    json_t *d = json_object();
    char n[32];
    snprintf(n, sizeof n, "%zu", rep->registered.count);
    json_object_set_new(d, "Registered", json_string(n));
    snprintf(n, sizeof n, "%zu", rep->deregistered.count);
    json_object_set_new(d, "Deregistered", json_string(n));
    return d;
}

static void answer_reason(const cfn_request *req, const reconcile_report *rep, const rns_error *e, char *out,
                          size_t outlen)
{
    if (rns_error_failed(e))
        snprintf(out, outlen, "%s: %s", rns_error_name(e), e->message);
    else if (req->type == CFN_DELETE)
        snprintf(out, outlen, "Delete: the target group is left as it is");
    else
        snprintf(out, outlen, "%s: %zu registered, %zu deregistered, %zu unchanged%s", req->request_type,
                 rep->registered.count, rep->deregistered.count, rep->unchanged.count,
                 rep->dry_run ? " (dry run)" : "");
}

int cfn_answer(http_client *http, const cfn_request *req, const char *target_group_name, const reconcile_report *rep,
               const rns_error *work_err, int64_t deadline_ms, logger *lg, rns_error *put_err)
{
    char physical[512], reason[1200];
    cfn_physical_id(req, target_group_name, physical, sizeof physical);
    answer_reason(req, rep, work_err, reason, sizeof reason);
    json_t *data = answer_data(rep);
    char *body = cfn_response_body(req, cfn_status(work_err), reason, physical, data);
    json_decref(data);
    if (!body) {
        rns_error_nomem(put_err, "building the CloudFormation response");
        return -1;
    }
    int rc = cfn_send(http, req, body, deadline_ms, lg, put_err);
    free(body);
    return rc;
}
