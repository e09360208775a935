# rns: namespace
"""CloudFormation custom resource requests end to end: the real ./bootstrap answers every request
with a PUT to its ResponseURL (here the CloudFormation receiver of fake_cfn.py standing in for the
presigned S3 URL), on success and on failure; Delete changes nothing; only an undeliverable answer fails the
invocation (CloudFormationResponseError). The URL is a credential: it never reaches a log line.
"""
import json

import const
import fake_cfn
import stack
import tap
from handler_common import NEW, OLD, actions, check_clean, failed, ok, our_event, reset

SIGNATURE = "X-Amz-Signature=" + const.CFN_SIGNATURE
RESPONSE_PATH = "/cloudformation-custom-resource-response/arn%3Aaws%3A"


S = stack.LocalStack().start()
R = S.cfn  # the CloudFormation receiver (fake_cfn.py)
TG_NAME = "orders-db-tg"


def request(kind, physical=None, url=None):
    e = json.loads(our_event("cloudformation-%s.json" % kind.lower()))
    e["ResponseURL"] = url or R.url(RESPONSE_PATH)
    if physical is not None:
        e["PhysicalResourceId"] = physical
    return e


def run(event, **env):
    R.reset()
    r = S.invoke(event, env=S.env(**env))
    check_clean(r, extra_secrets=(SIGNATURE, const.CFN_SIGNATURE, "cloudformation-custom-resource-response"))
    return r


def the_put():
    tap.eq(len(R.responses), 1, "one PUT")
    put = R.responses[0]
    tap.ok(SIGNATURE in put["path"], "PUT to the ResponseURL itself")
    tap.ok("content-type" in put["headers"] and put["headers"]["content-type"] == "",
           "empty Content-Type, as the presigned URL expects: %r" % put["headers"].get("content-type"))
    return json.loads(put["body"])


def check_body(body, status, physical, request):
    tap.eq(body["Status"], status)
    tap.eq(body["PhysicalResourceId"], physical)
    tap.eq((body["StackId"], body["RequestId"], body["LogicalResourceId"]),
           (request["StackId"], request["RequestId"], request["LogicalResourceId"]), "echoed ids")
    tap.ok(isinstance(body["Reason"], str) and body["Reason"], "a reason")
    tap.ok(isinstance(body["Data"], dict), "Data is an object")


@tap.case
def create_registers_and_answers_success():
    reset(S, targets=[])
    req = request("Create")
    res = ok(run(req))
    tap.eq((res["trigger"], res["cloudformationStatus"], res["registered"]), ("cloudformation", "SUCCESS", [OLD]))
    tap.ok("error" not in res, "no error")
    body = the_put()
    check_body(body, "SUCCESS", "rds-nlb-sync-" + TG_NAME, req)
    tap.eq(body["Data"].get("Registered"), "1")
    tap.eq(S.registered(), [OLD])


@tap.case
def update_keeps_the_physical_id():
    reset(S, records=dict(const.FLIPPED_RECORDS))
    req = request("Update", physical="my-existing-id")
    res = ok(run(req))
    tap.eq((res["cloudformationStatus"], res["registered"], res["deregistered"]), ("SUCCESS", [NEW], [OLD]))
    check_body(the_put(), "SUCCESS", "my-existing-id", req)


@tap.case
def delete_changes_nothing():
    reset(S, records=dict(const.FLIPPED_RECORDS))
    req = request("Delete", physical="rds-nlb-sync-" + TG_NAME)
    res = ok(run(req))
    tap.eq(res["cloudformationStatus"], "SUCCESS")
    tap.eq(actions(S), [], "no ELBv2 call at all")
    tap.eq(S.registered(), [OLD])
    check_body(the_put(), "SUCCESS", "rds-nlb-sync-" + TG_NAME, req)


@tap.case
def delete_even_when_dns_is_gone():
    reset(S)
    S.dns.nxdomain(const.DB_ENDPOINT)
    res = ok(run(request("Delete", physical="p-1")))
    tap.eq(res["cloudformationStatus"], "SUCCESS")
    tap.eq(the_put()["Status"], "SUCCESS")


@tap.case
def create_failure_answers_failed():
    reset(S)
    S.dns.nxdomain(const.DB_ENDPOINT)
    req = request("Create")
    res = ok(run(req))
    tap.eq(res["cloudformationStatus"], "FAILED")
    tap.eq(res["error"]["errorType"], "ResolveError")
    tap.ok("NXDOMAIN" in res["error"]["errorMessage"], res["error"]["errorMessage"])
    body = the_put()
    check_body(body, "FAILED", "rds-nlb-sync-" + TG_NAME, req)
    tap.ok(body["Reason"].startswith("ResolveError: no usable address for"), body["Reason"])
    tap.eq(S.registered(), [OLD])


@tap.case
def register_failure_answers_failed_and_deregisters_nothing():
    reset(S, records=dict(const.FLIPPED_RECORDS))
    S.elb.inject("access_denied", action="RegisterTargets")
    res = ok(run(request("Update", physical="p-2")))
    tap.eq((res["cloudformationStatus"], res["error"]["errorType"]), ("FAILED", "ElbApiError"))
    body = the_put()
    tap.ok(body["Reason"].startswith("ElbApiError: RegisterTargets failed for %s: AccessDenied" % NEW), body["Reason"])
    tap.eq(body["PhysicalResourceId"], "p-2")
    tap.eq(S.elb.calls_for("DeregisterTargets"), [])
    tap.eq(S.registered(), [OLD])


@tap.case
def unknown_request_type_answers_failed():
    reset(S)
    req = request("Create")
    req["RequestType"] = "Rollback"
    res = ok(run(req))
    tap.eq(res["cloudformationStatus"], "FAILED")
    tap.eq(the_put()["Status"], "FAILED")
    tap.eq(actions(S), [])


@tap.case
def dry_run_create():
    reset(S, targets=[])
    res = ok(run(request("Create"), DRY_RUN="true"))
    tap.eq((res["cloudformationStatus"], res["dryRun"], res["registered"]), ("SUCCESS", True, [OLD]))
    tap.eq(actions(S), ["DescribeTargetHealth"])
    tap.eq(S.registered(), [])


@tap.case
def put_retried_after_server_errors():
    reset(S)
    R.reset()
    R.fail_next(503)
    R.fail_next(500)
    r = S.invoke(request("Create"))
    res = ok(r)
    tap.eq(res["cloudformationStatus"], "SUCCESS")
    tap.eq(len(R.responses), 3, "two retries")
    tap.eq(len({p["body"] for p in R.responses}), 1, "the same document each time")


@tap.case
def undeliverable_put_fails_the_invocation():
    reset(S)
    R.reset()
    R.fail_next(403, 5)
    r = S.invoke(request("Create"))
    msg = failed(r, "CloudFormationResponseError")
    tap.eq(msg, "could not deliver the CloudFormation response to 127.0.0.1:%d: HTTP 403 (1 attempt)" % R.port)
    tap.eq(len(R.responses), 1, "a 4xx is not retried")
    for secret in (SIGNATURE, "cloudformation-custom-resource-response"):
        tap.ok(secret not in r.stderr and secret not in r.stdout, "the URL is not shown")


@tap.case
def unreachable_response_url():
    reset(S)
    closed = fake_cfn.CfnReceiver()
    url = closed.url(RESPONSE_PATH)
    closed.stop()
    r = S.invoke(request("Delete", physical="p", url=url))
    msg = failed(r, "CloudFormationResponseError")
    tap.ok(msg.startswith("could not deliver the CloudFormation response to 127.0.0.1:"), msg)
    tap.ok("(4 attempts)" in msg, msg)
    tap.ok(SIGNATURE not in r.stderr, "the URL is not logged")


try:
    tap.main()
finally:
    S.close()
