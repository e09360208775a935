# rns: namespace
"""The handler in the Lambda runtime loop: the real ./bootstrap started as Lambda starts it
(environment only, AWS_LAMBDA_RUNTIME_API) against the fake Runtime API, dnsmasq and the fake
ELBv2. Results and errors through the Runtime API, the configuration error at init, the
invocation deadline bounding the failover wait, connection reuse, JSON logs, EMF metrics, and no
secret in any line at any log level.
"""
import json
import time

import const
import events
import stack
import stack_dns
import tap
from handler_common import NEW, OLD, check_deregistered_as_described, emf_lines, log_lines, our_event, reset

S = stack.LocalStack().start()
FLIPPED = const.FLIPPED_RECORDS


def start(**env):
    proc = S.start_bootstrap(**env)
    return proc


def stop(proc):
    code = S.stop_bootstrap(proc)
    out, err = proc.output()
    for secret in (const.SECRET_ACCESS_KEY, const.SESSION_TOKEN):
        tap.ok(secret not in out and secret not in err, "a secret reached the logs")
    return code, out, err


@tap.case
def results_and_errors_through_the_runtime_api():
    reset(S, records=FLIPPED)
    proc = start()
    try:
        res = S.lambda_invoke(events.schedule_event())
        tap.eq(res["kind"], "response", "first invocation: %s" % res.get("body"))
        tap.eq((res["json"]["trigger"], res["json"]["registered"], res["json"]["deregistered"]),
               ("schedule", [NEW], [OLD]))
        res = S.lambda_invoke("this is not JSON")
        tap.eq(res["kind"], "error")
        tap.eq(res["headers"]["Lambda-Runtime-Function-Error-Type"], "InvalidEvent")
        tap.eq((res["json"]["errorType"], res["json"]["errorMessage"][:19]), ("InvalidEvent", "the event is not va"))
        S.dns.nxdomain(const.DB_ENDPOINT)
        res = S.lambda_invoke(events.schedule_event())
        tap.eq(res["headers"]["Lambda-Runtime-Function-Error-Type"], "ResolveError")
        tap.ok("NXDOMAIN" in res["json"]["errorMessage"], res["json"]["errorMessage"])
        S.dns.set_records(FLIPPED)
        res = S.lambda_invoke({})
        tap.eq((res["kind"], res["json"]["unchanged"]), ("response", [NEW]))
    finally:
        stop(proc)
    tap.eq(S.elb.connections_opened, 1, "one ELBv2 connection across invocations")
    tap.eq(S.registered(), [NEW])


def failover_in_the_runtime(old_state=None):
    """A failover event before DNS flips, through the runtime loop, the old primary's target in
    old_state ((state, reason); None: healthy). Returns the invocation's response, the logs and the
    old target as the group described it."""
    reset(S)
    if old_state:
        S.elb.set_health(S.target_group_arn, const.OLD_PRIMARY, const.DB_PORT, *old_state)
    old = S.elb.targets(S.target_group_arn)[0]
    S.elb.connections_opened = 0
    proc = start(DNS_POLL_MS=200, FAILOVER_WAIT_SECONDS=30)
    try:
        flip = S.dns.flip_at(1.0, {const.DB_ENDPOINT: [const.NEW_PRIMARY]})
        mark = S.dns.log_mark()
        res = S.lambda_invoke(events.rds_event("RDS-EVENT-0049"))
        flip.wait(60)
        tap.eq(res["kind"], "response", res.get("body"))
        tap.eq((res["json"]["dnsChanged"], res["json"]["registered"]), (True, [NEW]))
        # After the flip, at the first poll that saw it (no poll after that answer); how soon is
        # make bench's measure, not a bound here.
        tap.ok(S.elb.calls_for("RegisterTargets")[0]["time"] >= flip.began, "registered before the flip")
        tap.eq(stack_dns.queries_after_answer(S.dns.log(since=mark), const.DB_ENDPOINT, const.NEW_PRIMARY), 0,
               "polls after the first new answer")
    finally:
        code, out, err = stop(proc)
    return res["json"], out + err, old


@tap.case
def failover_through_the_runtime():
    failover_in_the_runtime()


@tap.case
def failover_through_the_runtime_old_primary_unhealthy_draining():
    # an NLB group that drains unhealthy targets: the dead primary is unhealthy.draining, still
    # registered (CONTRACT.md section 5, rule 4), so the wait runs to the flip and it leaves then
    res, logs, old = failover_in_the_runtime(("unhealthy.draining", "Target.FailedHealthChecks"))
    tap.eq(old["State"], "unhealthy.draining")
    tap.eq((res["deregistered"], res["unchanged"]), ([OLD], []))
    tap.ok(res["waitedMs"] > 0, "waitedMs %d: the wait ran until the flip" % res["waitedMs"])
    check_deregistered_as_described(S, old)
    emf = emf_lines(logs)
    tap.eq((emf[-1]["TargetsRegistered"], emf[-1]["TargetsDeregistered"]), (1, 1), "the metrics")
    tap.eq(S.registered(), [NEW])


@tap.case
def deadline_bounds_the_failover_wait():
    reset(S)
    proc = start(DNS_POLL_MS=200, FAILOVER_WAIT_SECONDS=60)
    try:
        deadline = int(time.time() * 1000) + 4000
        res = S.lambda_invoke(events.rds_event("RDS-EVENT-0049"), deadline_ms=deadline)
        tap.eq(res["kind"], "response", res.get("body"))
        tap.eq(res["json"]["dnsChanged"], False)
        # The program's own wait limit: the deadline minus its margin (a third of 4 s), at most about
        # 2.7 s however late the loop took the event; FAILOVER_WAIT_SECONDS=60 if the deadline were
        # ignored. The wait keeps to it, with one late poll of slack on a busy machine.
        err = proc.wait_output("DNS wait over without a change", timeout=60, stream="stderr")
        limit = int(stack.log_record(err, "waiting for DNS to change")[1]["limitMs"])
        tap.ok(limit <= 2700, "limitMs %d with a 4 s deadline" % limit)
        tap.ok(res["json"]["waitedMs"] <= limit + 1500, "waitedMs %d, limitMs %d" % (res["json"]["waitedMs"], limit))
        # The last POST: the loop's next GET /next may already be recorded after it.
        posted = [r for r in S.runtime.requests if r["method"] == "POST"][-1]
        tap.ok(posted["path"].endswith("/response"), posted["path"])
    finally:
        stop(proc)


@tap.case
def deadline_cuts_a_hanging_call_short():
    reset(S, records=FLIPPED)
    proc = start()
    try:
        S.elb.inject("hang", action="RegisterTargets")
        deadline = int(time.time() * 1000) + 3000
        res = S.lambda_invoke(events.schedule_event(), deadline_ms=deadline)
        answered = time.time() * 1000
        tap.eq(res["kind"], "error", res.get("body"))
        tap.eq(res["headers"]["Lambda-Runtime-Function-Error-Type"], "Timeout")
        msg = res["json"]["errorMessage"]
        tap.ok(msg.startswith("deadline reached before the target group converged: RegisterTargets failed for %s"
                              % NEW) and "nothing was deregistered" in msg, msg)
        # The Timeout and its message show the deadline cut the hang; without that cut the attempt
        # would end at its own 10 s timeout (the deadline + 7 s). 3 s leaves room for a busy machine.
        tap.ok(answered < deadline + 3000, "answered %.0f ms after the deadline" % (answered - deadline))
        tap.eq(S.elb.calls_for("DeregisterTargets"), [])
        tap.eq(S.registered(), [OLD])
        S.elb.clear_faults()
        res = S.lambda_invoke(events.schedule_event())
        tap.eq((res["kind"], res["json"]["registered"]), ("response", [NEW]), "the next invocation recovers")
    finally:
        stop(proc)


@tap.case
def config_error_reported_at_init():
    reset(S)
    proc = start(DB_PORT="70000", IP_FAMILY="ipv5", AWS_SECRET_ACCESS_KEY="has a space")
    code = proc.finish(60)
    tap.ok(code != 0, "exits non-zero (%d)" % code)
    tap.eq(len(S.runtime.init_errors), 1, "one /runtime/init/error")
    err = S.runtime.init_errors[0]
    tap.eq(err["headers"]["Lambda-Runtime-Function-Error-Type"], "Runtime.ConfigError")
    tap.eq(err["json"]["errorType"], "Runtime.ConfigError")
    tap.eq(err["json"]["errorMessage"], "DB_PORT=70000: must be 1..65535; IP_FAMILY=ipv5: must be ipv4, ipv6 "
                                        "or dual; AWS_SECRET_ACCESS_KEY contains blanks or control characters")
    out, errtext = proc.output()
    tap.ok("has a space" not in out + errtext, "the secret value is not shown")
    tap.eq(S.elb.calls, [], "no API call")
    S.runtime.init_errors.clear()


@tap.case
def json_logs_with_request_ids():
    reset(S, records=FLIPPED)
    proc = start(AWS_LAMBDA_LOG_FORMAT="JSON")
    try:
        res = S.lambda_invoke(events.rds_event("RDS-EVENT-0049"))
        tap.eq(res["kind"], "response")
    finally:
        code, out, err = stop(proc)
    rid = res["request_id"]
    messages = []
    for line in log_lines(out) + log_lines(err):
        obj = json.loads(line)  # every line is one JSON object
        if "_aws" in obj:
            continue
        for key in ("timestamp", "level", "message"):
            tap.ok(key in obj, "%s in %s" % (key, line))
        if obj.get("requestId") == rid:
            messages.append(obj["message"])
    for m in ("event recognised", "target group read", "resolved", "DNS changed", "plan", "registering targets",
              "deregistering targets", "done"):
        tap.ok(m in messages, "decision line %r with the request id (got %s)" % (m, messages))
    recognised = [json.loads(l) for l in log_lines(err) if '"event recognised"' in l][0]
    tap.eq((recognised["trigger"], recognised["eventId"], recognised["failover"]),
           ("rds-event", "RDS-EVENT-0049", True))


@tap.case
def emf_metrics_per_invocation():
    reset(S, records=FLIPPED)
    proc = start()
    try:
        S.lambda_invoke(events.rds_event("RDS-EVENT-0049"))
        S.dns.nxdomain(const.DB_ENDPOINT)
        S.lambda_invoke(events.schedule_event())
    finally:
        code, out, err = stop(proc)
    emf = emf_lines(out + err)
    tap.eq(len(emf), 2, "one EMF line per invocation")
    spec = emf[0]["_aws"]["CloudWatchMetrics"][0]
    tap.eq(spec["Namespace"], "RdsNlbSync")
    tap.eq(spec["Dimensions"], [["TargetGroup"]])
    tap.eq(sorted(m["Name"] for m in spec["Metrics"]),
           ["DnsWaitMs", "Errors", "ReconcileMs", "TargetsDeregistered", "TargetsRegistered"])
    tap.ok(isinstance(emf[0]["_aws"]["Timestamp"], int), "timestamp")
    tap.eq((emf[0]["TargetGroup"], emf[0]["TargetsRegistered"], emf[0]["TargetsDeregistered"], emf[0]["Errors"]),
           ("orders-db-tg", 1, 1, 0))
    tap.eq((emf[1]["Errors"], emf[1]["errorType"]), (1, "ResolveError"))


@tap.case
def metrics_disabled_and_custom_namespace():
    reset(S)
    proc = start(METRICS_NAMESPACE="")
    try:
        S.lambda_invoke({})
    finally:
        code, out, err = stop(proc)
    tap.eq(emf_lines(out + err), [], "no EMF line")
    proc = start(METRICS_NAMESPACE="Team/Databases")
    try:
        S.lambda_invoke({})
    finally:
        code, out, err = stop(proc)
    tap.eq([e["_aws"]["CloudWatchMetrics"][0]["Namespace"] for e in emf_lines(out + err)], ["Team/Databases"])


@tap.case
def nothing_secret_logged_at_trace():
    reset(S, records=FLIPPED)
    url_secret = "X-Amz-Signature=0ddba11cfn5ecret"
    proc = start(AWS_LAMBDA_LOG_LEVEL="TRACE")
    try:
        S.lambda_invoke(events.rds_event("RDS-EVENT-0049"))
        cfn = json.loads(our_event("cloudformation-delete.json"))
        cfn["ResponseURL"] = "http://127.0.0.1:9/cfn-response-path?" + url_secret
        S.lambda_invoke(cfn)
        S.elb.inject("signature", action="DescribeTargetHealth")
        S.lambda_invoke({})
    finally:
        code, out, err = stop(proc)
    text = out + err
    for secret in (const.SECRET_ACCESS_KEY, const.SESSION_TOKEN, url_secret, "cfn-response-path", "Signature="):
        tap.ok(secret not in text, "%r is not logged" % secret)
    tap.ok("DEBUG" in text or "TRACE" in text, "debug lines were written")


@tap.case
def emptied_retry_quota_is_not_a_timeout():
    # A long ELBv2 outage drains the client-wide retry quota (500 tokens, 5 per retry: 20
    # invocations of 5 retries). The errors that follow are still ElbApiError: `Timeout` is only
    # for a reconcile the deadline cut short (README.md, "Result"), and each deadline here is
    # 30 s away.
    reset(S)
    proc = start(AWS_MAX_ATTEMPTS=6)
    try:
        S.elb.inject("500", action="DescribeTargetHealth", count=None)
        types = []
        for _ in range(23):
            res = S.lambda_invoke({})
            types.append(res["headers"].get("Lambda-Runtime-Function-Error-Type"))
            tap.eq(res["kind"], "error")
            tap.eq(res["json"]["errorType"], types[-1], "errorType and header agree")
        S.elb.clear_faults()
    finally:
        stop(proc)
    tap.eq(sorted(set(types)), ["ElbApiError"], "error types of a 23-invocation outage: %s" % types)


try:
    tap.main()
finally:
    S.close()
