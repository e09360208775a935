# rns: namespace
"""The hostile corpus (tests/robust/hostile/gen.py: deep nesting, huge strings, a 6 MB payload,
wrong types for every field the event parser reads, invalid UTF-8, NULs, SNS inside SNS,
CloudFormation requests answering to nowhere...) fed to the real ./bootstrap through --invoke and
through the Runtime API loop: never a crash (exit status as the contract says, no sanitizer
report in the asan/ pass), never an unsafe change (the target group keeps OLD or converges to the
DNS answer NEW, nothing else), the contract's error types, no secret in any output."""
import json

import events
import robust_common as rc
import stack
import tap
from hostile.gen import corpus

S = stack.LocalStack().start()
DEAD_URL = ("http://127.0.0.1:9/cfn-response?X-Amz-Algorithm=AWS4-HMAC-SHA256&"
            "X-Amz-Signature=hostileDeadResponseUrlSignature0123456789")
CORPUS = corpus(S.cfn.url(), DEAD_URL)
LEAKS = rc.Leaks(S)
LEAKS.response_url(S.cfn.url())
LEAKS.response_url(DEAD_URL)
RUNTIME = {}  # the runtime loop shared by the through_runtime cases


def reset():
    S.dns.serve()
    S.reset(records=rc.FLIPPED)


def expected_group(h):
    if h.expect in ("invalid", "dry"):
        return [rc.OLD]
    if h.expect in ("cfn", "cfn-unreachable"):
        return [rc.NEW] if rc.event_request_type(h.data) in ("Create", "Update") else [rc.OLD]
    return [rc.NEW]


def check(h, ok, result):
    """What the contract makes of event h, from its outcome (success flag and JSON)."""
    actions = [c["action"] for c in S.elb.calls]
    group = rc.check_group(S)
    tap.eq(group, expected_group(h), "target group after %s" % h.name)
    if h.expect == "invalid":
        tap.eq((ok, result.get("errorType")), (False, "InvalidEvent"), "outcome")
        tap.eq(actions, [], "no ELBv2 call")
    elif h.expect in ("reconcile", "dry"):
        tap.ok(ok, "a success: %s" % json.dumps(result)[:400])
        for key in ("trigger", "eventId", "sourceId", "endpoint", "port", "targetGroupArn", "resolved",
                    "rejected", "registered", "deregistered", "unchanged", "dryRun", "dnsChanged", "waitedMs",
                    "converged"):
            tap.ok(key in result, "the result has %s: %s" % (key, json.dumps(result)[:400]))
        tap.eq(result["dryRun"], h.expect == "dry", "dryRun")
        tap.eq((result["registered"], result["deregistered"]), ([rc.NEW], [rc.OLD]), "changes")
        if h.expect == "dry":
            tap.eq(actions, ["DescribeTargetHealth"], "a dry run only describes")
    elif h.expect == "cfn":
        tap.ok(ok, "a success once the answer is delivered: %s" % json.dumps(result)[:400])
        tap.ok(result.get("cloudformationStatus") in ("SUCCESS", "FAILED"), "cloudformationStatus")
        answers = S.cfn.wait(1, 60)
        body = answers[0]["json"]
        tap.ok(isinstance(body, dict), "the answer is JSON: %r" % answers[0]["body"][:200])
        for key in ("Status", "Reason", "PhysicalResourceId", "StackId", "RequestId", "LogicalResourceId"):
            tap.ok(isinstance(body.get(key), str), "answer field %s is a string" % key)
        tap.ok(len(answers[0]["body"]) < 4096, "answer under 4096 bytes (%d)" % len(answers[0]["body"]))
    elif h.expect == "cfn-unreachable":
        tap.eq((ok, result.get("errorType")), (False, "CloudFormationResponseError"), "outcome")


def invoke_case(h):
    def case():
        reset()
        r = S.invoke(h.data, timeout=120)
        LEAKS.add("--invoke %s" % h.name, r.stdout + r.stderr)
        ok, result = rc.check_invocation(r)
        check(h, ok, result)
    case.__name__ = "invoke_" + h.name.replace("-", "_")
    return case


def runtime_proc():
    proc = RUNTIME.get("proc")
    if proc is None or proc.poll() is not None:
        if proc is not None:
            LEAKS.add("runtime loop (exited %s)" % proc.returncode, "".join(proc.output()))
        proc = RUNTIME["proc"] = S.start_bootstrap()
    return proc


def runtime_case(h):
    def case():
        reset()
        proc = runtime_proc()
        res = S.lambda_invoke(h.data, timeout=120)
        ok, result = rc.check_result(res)
        check(h, ok, result)
        tap.ok(proc.poll() is None, "the runtime loop is alive after %s (exit %s)" % (h.name, proc.poll()))
    case.__name__ = "runtime_" + h.name.replace("-", "_")
    return case


@tap.case
def corpus_has_at_least_50_events():
    tap.ok(len(CORPUS) >= 50, "%d hostile events" % len(CORPUS))
    tap.ok(any(len(h.data) >= 6000000 for h in CORPUS), "a 6 MB payload")
    tap.ok(any(b"\x00" in h.data for h in CORPUS) and any(b"\\u0000" in h.data for h in CORPUS), "NULs")


for _h in CORPUS:
    tap.case(invoke_case(_h))
for _h in CORPUS:
    tap.case(runtime_case(_h))


# Hostile invocation headers from the Runtime API: (name, headers, expected outcome, group after).
HEADER_CASES = [
    ("request-id-path-traversal", {"Lambda-Runtime-Aws-Request-Id": "r/../../runtime/init/error?x=1#f"},
     "response", [rc.NEW]),
    ("request-id-escapes", {"Lambda-Runtime-Aws-Request-Id": "r%00 x+y&z=1;"}, "response", [rc.NEW]),
    ("deadline-in-the-past", {"Lambda-Runtime-Deadline-Ms": "1"}, "Timeout", [rc.OLD]),
    ("deadline-overflow", {"Lambda-Runtime-Deadline-Ms": "9" * 30}, "response", [rc.NEW]),
    ("deadline-negative", {"Lambda-Runtime-Deadline-Ms": "-5"}, "response", [rc.NEW]),
    ("deadline-not-a-number", {"Lambda-Runtime-Deadline-Ms": "soon"}, "response", [rc.NEW]),
    ("no-function-arn-lower-case", {"Lambda-Runtime-Invoked-Function-Arn": None}, "response", [rc.NEW]),
    ("huge-trace-id", {"Lambda-Runtime-Trace-Id": "Root=1-" + "f" * 8000}, "response", [rc.NEW]),
]


def header_case(name, headers, want, group):
    def case():
        reset()
        proc = runtime_proc()
        rid = headers.get("Lambda-Runtime-Aws-Request-Id") or None
        enq = dict(headers)
        enq.pop("Lambda-Runtime-Aws-Request-Id", None)
        rid = S.runtime.enqueue(events.schedule_event(), request_id=rid, headers=enq,
                                header_case="lower" if "lower" in name else None)
        res = S.runtime.wait_result(rid, 60)
        ok, result = rc.check_result(res)
        tap.eq("response" if ok else result["errorType"], want, "outcome")
        tap.eq(rc.check_group(S), group, "target group")
        tap.ok(proc.poll() is None, "the runtime loop is alive (exit %s)" % proc.poll())
    case.__name__ = "runtime_headers_" + name.replace("-", "_")
    return case


for _c in HEADER_CASES:
    tap.case(header_case(*_c))


@tap.case
def runtime_headers_request_id_not_utf8():
    """Bytes that are not UTF-8 in the request id: percent-encoded as they are in the result's path
    (the fake decodes paths as UTF-8, so it cannot match them: it answers 400 and the loop goes on)."""
    reset()
    proc = runtime_proc()
    n = len(S.runtime.requests)
    S.runtime.enqueue(events.schedule_event(), request_id="r\u00e9\u00ff x")
    # Answered: the loop's next GET /next (recorded after the answer) wakes the wait.
    S.runtime.wait_for(lambda rt: any(r["method"] == "POST" and r["status"] for r in rt.requests[n:]), 60)
    post = [r for r in S.runtime.requests[n:] if r["method"] == "POST"][0]
    tap.eq(post["raw_path"], "/2018-06-01/runtime/invocation/r%E9%FF%20x/response", "path")
    tap.eq(post["status"], 400, "the fake's answer")
    tap.eq(rc.check_group(S), [rc.NEW], "target group")
    res = S.lambda_invoke(events.schedule_event(), timeout=60)
    tap.eq(res["kind"], "response", "the loop goes on")
    tap.ok(proc.poll() is None, "the runtime loop is alive")


@tap.case
def runtime_request_id_too_long_exits_cleanly():
    """A request id that cannot be a URL path segment: the loop cannot answer it and exits."""
    reset()
    proc = runtime_proc()
    S.runtime.enqueue(events.schedule_event(), request_id="\u00e9" * 400)
    code = proc.finish(20)
    out, err = proc.output()
    LEAKS.add("runtime loop (long request id)", out + err)
    rc.check_exit(code, "runtime loop")
    tap.eq(code, 1, "exit status")
    tap.ok("request id from the Runtime API is too long" in err, err[-500:])
    tap.eq(S.registered(), [rc.OLD], "nothing changed for an invocation that cannot be answered")


@tap.case
def runtime_loop_exits_cleanly_at_the_end():
    proc = runtime_proc()
    code = S.stop_bootstrap(proc)
    out, err = proc.output()
    LEAKS.add("runtime loop", out + err)
    rc.check_exit(code, "runtime loop")
    tap.eq(code, 1, "exit status when GET /next answers 500")


@tap.case
def no_secret_in_any_output():
    lines = LEAKS.check()
    tap.ok(lines > len(CORPUS), "%d lines scanned" % lines)


tap.main()
