"""CloudFormation custom resource requests end to end: the real ./bootstrap answers every request
with a PUT to its ResponseURL (here a small recording HTTP server standing in for the presigned S3
URL), on success and on failure; Delete changes nothing; only an undeliverable answer fails the
invocation (CloudFormationResponseError). The URL is a credential: it never reaches a log line.
"""
import http.server
import json
import threading

import stack

stack.enter_namespace()

import tap  # noqa: E402
from handler_common import NEW, OLD, actions, check_clean, failed, ok, our_event, reset  # noqa: E402

SIGNATURE = "X-Amz-Signature=5ecre7a11ce0fcfnresponseurl0000"


class ResponseServer:
    """Records PUTs; answers with the statuses queued in .answers (then 200)."""

    def __init__(self):
        self.puts, self.answers = [], []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_PUT(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.puts.append({"path": self.path, "headers": self.headers, "body": body})
                status = outer.answers.pop(0) if outer.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self):
        return "http://127.0.0.1:%d/cloudformation-custom-resource-response/arn%%3Aaws%%3A?%s" % (self.port, SIGNATURE)

    def reset(self):
        self.puts, self.answers = [], []

    def close(self):
        self.server.shutdown()
        self.server.server_close()


S = stack.LocalStack().start()
R = ResponseServer()
TG_NAME = "orders-db-tg"


def request(kind, physical=None, url=None):
    e = json.loads(our_event("cloudformation-%s.json" % kind.lower()))
    e["ResponseURL"] = url or R.url()
    if physical is not None:
        e["PhysicalResourceId"] = physical
    return e


def run(event, **env):
    R.reset()
    r = S.invoke(event, env=S.env(**env))
    check_clean(r, extra_secrets=(SIGNATURE, "5ecre7a11ce0fcfnresponseurl", "cloudformation-custom-resource-response"))
    return r


def the_put():
    tap.eq(len(R.puts), 1, "one PUT")
    put = R.puts[0]
    tap.ok(SIGNATURE in put["path"], "PUT to the ResponseURL itself")
    tap.ok("Content-Type" in put["headers"] and put["headers"]["Content-Type"] == "",
           "empty Content-Type, as the presigned URL expects: %r" % put["headers"].get("Content-Type"))
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
    reset(S, records=dict(stack.DEFAULT_RECORDS, **{stack.DB_ENDPOINT: [stack.NEW_PRIMARY]}))
    req = request("Update", physical="my-existing-id")
    res = ok(run(req))
    tap.eq((res["cloudformationStatus"], res["registered"], res["deregistered"]), ("SUCCESS", [NEW], [OLD]))
    check_body(the_put(), "SUCCESS", "my-existing-id", req)


@tap.case
def delete_changes_nothing():
    reset(S, records=dict(stack.DEFAULT_RECORDS, **{stack.DB_ENDPOINT: [stack.NEW_PRIMARY]}))
    req = request("Delete", physical="rds-nlb-sync-" + TG_NAME)
    res = ok(run(req))
    tap.eq(res["cloudformationStatus"], "SUCCESS")
    tap.eq(actions(S), [], "no ELBv2 call at all")
    tap.eq(S.registered(), [OLD])
    check_body(the_put(), "SUCCESS", "rds-nlb-sync-" + TG_NAME, req)


@tap.case
def delete_even_when_dns_is_gone():
    reset(S)
    S.dns.nxdomain(stack.DB_ENDPOINT)
    res = ok(run(request("Delete", physical="p-1")))
    tap.eq(res["cloudformationStatus"], "SUCCESS")
    tap.eq(the_put()["Status"], "SUCCESS")


@tap.case
def create_failure_answers_failed():
    reset(S)
    S.dns.nxdomain(stack.DB_ENDPOINT)
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
    reset(S, records=dict(stack.DEFAULT_RECORDS, **{stack.DB_ENDPOINT: [stack.NEW_PRIMARY]}))
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
    R.answers = [503, 500]
    r = S.invoke(request("Create"))
    res = ok(r)
    tap.eq(res["cloudformationStatus"], "SUCCESS")
    tap.eq(len(R.puts), 3, "two retries")
    tap.eq(len({p["body"] for p in R.puts}), 1, "the same document each time")


@tap.case
def undeliverable_put_fails_the_invocation():
    reset(S)
    R.reset()
    R.answers = [403] * 5
    r = S.invoke(request("Create"))
    msg = failed(r, "CloudFormationResponseError")
    tap.eq(msg, "could not deliver the CloudFormation response to 127.0.0.1:%d: HTTP 403 (1 attempt)" % R.port)
    tap.eq(len(R.puts), 1, "a 4xx is not retried")
    for secret in (SIGNATURE, "cloudformation-custom-resource-response"):
        tap.ok(secret not in r.stderr and secret not in r.stdout, "the URL is not shown")


@tap.case
def unreachable_response_url():
    reset(S)
    closed = ResponseServer()
    url = closed.url()
    closed.close()
    r = S.invoke(request("Delete", physical="p", url=url))
    msg = failed(r, "CloudFormationResponseError")
    tap.ok(msg.startswith("could not deliver the CloudFormation response to 127.0.0.1:"), msg)
    tap.ok("(4 attempts)" in msg, msg)
    tap.ok(SIGNATURE not in r.stderr, "the URL is not logged")


try:
    tap.main()
finally:
    R.close()
    S.close()
