# rns: namespace
"""No secret in any output (README.md, "Logs and metrics"): representative runs of the real ./bootstrap, at
TRACE and INFO, in Text and JSON log format, through --invoke and through the runtime loop: a
success, every error type (InvalidEvent, ResolveError, ElbApiError, Timeout,
CloudFormationResponseError, Runtime.ConfigError at init), ELBv2 faults that are retried, signature
errors (injected, a real mismatch from a wrong secret key, and an answer that quotes the canonical
request, session token included, as AWS Query APIs do), an expired token, and CloudFormation
requests answering to a presigned-looking ResponseURL.

Every stdout and stderr line, every posted result and error, and every init error body is searched
for the secret key and the session token (whole or any 20-character piece), every SigV4 signature
the fake ELBv2 received (read from the Authorization headers it recorded), "Signature=" and
"Credential=", and each ResponseURL, its query string and its values."""
import time

import const
import events
import robust_common as rc
import stack
import tap
from fake_elbv2 import SIGNATURE_MESSAGE

S = stack.LocalStack().start()
LEAKS = rc.Leaks(S)
LEAKS.response_url(S.cfn.url())
WRONG_SECRET = "wrongSecretKeyForTheMismatchCase/0123456789"
LEAKS.secret(WRONG_SECRET, "a (wrong) secret access key", pieces=True)
SEEN = {}  # scenario -> outcome, for the coverage case


def quoting_message():
    """A SignatureDoesNotMatch message as AWS Query APIs write it: the canonical request and the
    string to sign, with the session token among the signed headers."""
    return (SIGNATURE_MESSAGE + "\n\nThe Canonical String for this request should have been\n'POST\n/\n\n"
            "content-type:application/x-www-form-urlencoded; charset=utf-8\nhost:127.0.0.1\n"
            "x-amz-date:20261126T063626Z\nx-amz-security-token:" + const.SESSION_TOKEN + "\n\n"
            "content-type;host;x-amz-date;x-amz-security-token\n"
            "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e'\n\n"
            "The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n20261126T063626Z\n"
            "20261126/eu-west-1/elasticloadbalancing/aws4_request\n"
            "42a0d3c4b6f24f3ac2d6d79a8b9bc4f2d1e7a8b7c6d5e4f3a2b1c0d9e8f7a6b5'")


# (name, prepare(), event, env overrides, expected outcome); every run has a 3 s deadline, 1 s
# for "timeout" (a hang that meets it)
def scenarios():
    def flip():
        S.dns.set_records(rc.FLIPPED)

    return [
        ("success", flip, events.schedule_event(), {}, "response"),
        ("failover-wait", flip, events.rds_event("RDS-EVENT-0049"), {}, "response"),
        ("invalid-event", None, "not JSON at all {", {}, "InvalidEvent"),
        ("resolve-error", lambda: S.dns.nxdomain(const.DB_ENDPOINT), {}, {}, "ResolveError"),
        ("elb-not-found", lambda: S.elb.inject("tg_not_found"), {}, {}, "ElbApiError"),
        ("elb-throttled-for-good", lambda: S.elb.inject("throttling", count=None), {}, {"AWS_MAX_ATTEMPTS": "2"},
         "ElbApiError|Timeout"),
        ("elb-retried-faults", lambda: (flip(), S.elb.inject("500"), S.elb.inject("drop"),
                                        S.elb.inject("malformed", action="RegisterTargets"),
                                        S.elb.inject("503", action="DeregisterTargets")),
         {}, {"AWS_MAX_ATTEMPTS": "5"}, "response"),
        ("signature-injected", lambda: S.elb.inject("signature"), {}, {}, "ElbApiError"),
        ("signature-quoting-the-request",
         lambda: S.elb.inject("error", status=403, code="SignatureDoesNotMatch", message=quoting_message()),
         {}, {}, "ElbApiError"),
        ("signature-real-mismatch", None, {}, {"AWS_SECRET_ACCESS_KEY": WRONG_SECRET}, "ElbApiError"),
        ("expired-token", lambda: S.elb.inject("expired_token"), {}, {}, "ElbApiError"),
        ("timeout", lambda: S.elb.inject("hang", count=None), {}, {}, "Timeout"),
        ("cloudformation-create", flip, events.cloudformation_event("Create", S.cfn.url()), {}, "response"),
        ("cloudformation-undeliverable", lambda: S.cfn.fail_next(403),
         events.cloudformation_event("Update", S.cfn.url(), physical_id="p-1"), {}, "CloudFormationResponseError"),
        ("dry-run", flip, {"dryRun": True}, {}, "response"),
    ]


def reset():
    LEAKS.harvest()
    S.dns.resume()
    S.dns.serve()
    S.reset()


def outcome(ok, result):
    return "response" if ok else result.get("errorType")


def deadline_s(name):
    return 1 if name == "timeout" else 3


def run_invoke(name, prepare, event, env, want, fmt, level):
    reset()
    if prepare:
        prepare()
    r = S.invoke(event, env=S.env(AWS_LAMBDA_LOG_FORMAT=fmt, AWS_LAMBDA_LOG_LEVEL=level, **env),
                 args=("--invoke", "-", "--timeout", str(deadline_s(name))), timeout=60)
    LEAKS.add("--invoke %s %s %s" % (name, fmt, level), r.stdout + r.stderr)
    ok, result = rc.check_invocation(r)
    got = outcome(ok, result)
    tap.ok(got in want.split("|"), "%s: %s, want %s: %s" % (name, got, want, r.stdout[:300]))
    SEEN[name] = got


def run_runtime(fmt, level):
    reset()
    loops = {}
    for name, prepare, event, env, want in scenarios():
        reset()
        if prepare:
            prepare()
        key = tuple(sorted(env.items()))
        for other, proc in loops.items():  # only one loop may wait on GET /next at a time
            if other != key and proc.poll() is None:
                S.stop_bootstrap(proc)
        if key not in loops or loops[key].poll() is not None:  # one loop per environment
            if key in loops:
                LEAKS.add_proc("runtime loop %s %s" % (fmt, level), loops[key])
            loops[key] = S.start_bootstrap(AWS_LAMBDA_LOG_FORMAT=fmt, AWS_LAMBDA_LOG_LEVEL=level, **env)
        res = S.lambda_invoke(event, deadline_ms=int(time.time() * 1000 + 1000 * deadline_s(name)), timeout=60)
        LEAKS.add("runtime %s %s %s: posted body" % (name, fmt, level), res["body"].decode(errors="replace")
                  if isinstance(res["body"], bytes) else str(res["body"]))
        ok, result = rc.check_result(res)
        got = outcome(ok, result)
        tap.ok(got in want.split("|"), "runtime %s: %s, want %s" % (name, got, want))
    for proc in loops.values():
        if proc.poll() is None:
            S.stop_bootstrap(proc)
        out, err = proc.output()
        LEAKS.add("runtime loop %s %s" % (fmt, level), out + err)


def invoke_case(fmt, level):
    def case():
        for sc in scenarios():
            run_invoke(*sc, fmt=fmt, level=level)
    case.__name__ = "invoke_every_scenario_%s_%s" % (fmt.lower(), level.lower())
    return case


def runtime_case(fmt, level):
    def case():
        run_runtime(fmt, level)
    case.__name__ = "runtime_every_scenario_%s_%s" % (fmt.lower(), level.lower())
    return case


for _fmt, _level in (("Text", "TRACE"), ("JSON", "TRACE")):
    tap.case(invoke_case(_fmt, _level))
for _fmt, _level in (("JSON", "TRACE"), ("Text", "INFO")):
    tap.case(runtime_case(_fmt, _level))


@tap.case
def config_error_at_init_names_no_secret():
    for fmt in ("Text", "JSON"):
        reset()
        bad = dict(AWS_SECRET_ACCESS_KEY=const.SECRET_ACCESS_KEY + " x", AWS_SESSION_TOKEN=const.SESSION_TOKEN + "\t",
                   AWS_LAMBDA_LOG_FORMAT=fmt, AWS_LAMBDA_LOG_LEVEL="TRACE")
        r = S.invoke(events.schedule_event(), env=S.env(**bad))
        LEAKS.add("--invoke config error %s" % fmt, r.stdout + r.stderr)
        tap.eq((r.code, (r.json or {}).get("errorType")), (2, "Runtime.ConfigError"), "config error")
        tap.ok("AWS_SECRET_ACCESS_KEY" in r.json["errorMessage"], "the message names the variable")
        n = len(S.runtime.init_errors)
        proc = S.start_bootstrap(**bad)
        tap.ok(proc.finish(60) != 0, "exits non-zero")
        out, err = proc.output()
        LEAKS.add("runtime config error %s" % fmt, out + err)
        tap.eq(len(S.runtime.init_errors), n + 1, "one /runtime/init/error")
        LEAKS.add("init error body %s" % fmt, S.runtime.init_errors[-1]["body"].decode(errors="replace"))
    SEEN["config-error"] = "Runtime.ConfigError"


@tap.case
def the_scan_finds_what_it_looks_for():
    """The search itself can fail: each kind of leak is found, clean text is not."""
    import contextlib
    import io
    import types
    from secret_scan import SecretScan
    scan = SecretScan({const.SECRET_ACCESS_KEY: "key", const.SESSION_TOKEN: "token"})
    scan.harvest([{"headers": {"authorization": "AWS4-HMAC-SHA256 Credential=A/x, SignedHeaders=host, "
                                                "Signature=" + "ab" * 32}}])
    scan.response_url("https://b.s3.amazonaws.com/x?X-Amz-Credential=AKID%2F1&X-Amz-Signature=" + "cd" * 32)
    leaks = {"piece of the token": "x" + const.SESSION_TOKEN[10:31] + "y",
             "whole key": const.SECRET_ACCESS_KEY, "signature": "sig " + "ab" * 32 + ".",
             "marker": "Authorization: ... Signature=1", "url value": "cd" * 32}
    for what, text in leaks.items():
        one = SecretScan(dict(scan.secrets))
        one.signatures = set(scan.signatures)
        one.add(what, text)
        tap.ok(one.found(), "not found: %s" % what)
    clean = SecretScan(dict(scan.secrets))
    clean.add("clean", "2026-11-26T06:36:26.123Z INFO done registered=1 requestId=" + "ab" * 16)
    tap.eq(clean.found(), [], "clean text")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        stack.LocalStack._report_leaks(types.SimpleNamespace(elb=None, rds=None, scan=one))
    tap.ok(out.getvalue().startswith("not ok - stack_outputs_hold_no_secret: "), "the harness reports it")


@tap.case
def every_error_type_was_produced():
    got = set(SEEN.values())
    # DNS mode with one target group, and every allocation succeeds: no RdsApiError, no ListenerError
    # (the fast switch's suite, tests/integration/test_handler_fastswitch.py, scans its own), no fleet
    # mode's ConfigError or FleetError (tests/integration/test_handler_fleet.py scans its own), no
    # Runtime.OutOfMemory.
    want = (const.ERROR_TYPES - {"RdsApiError", "ListenerError", "ConfigError", "FleetError",
                                 "Runtime.OutOfMemory"}) | {"response"}
    tap.eq(sorted(want - got), [], "outcomes never seen")


@tap.case
def no_secret_signature_or_response_url_in_any_output():
    lines = LEAKS.check()
    tap.ok(len(LEAKS.signatures) > 20, "signatures collected: %d" % len(LEAKS.signatures))
    tap.ok(lines > 300, "lines scanned: %d" % lines)
    print("# %d lines of %d outputs scanned for %d secrets and %d signatures" % (
        lines, len(LEAKS.outputs), len(LEAKS.secrets), len(LEAKS.signatures)), flush=True)


tap.main()
