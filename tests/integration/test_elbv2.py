"""The ELBv2 client (through $RNS_BUILD/tools/elb_client) against FakeElbv2 over
HTTPS with a test CA: success paths, every injected fault with its attempts,
waits and final state, deadlines, connection reuse, CA selection, batching,
logs free of secrets, and a valgrind run."""
import datetime
import json
import os
import re
import subprocess
import tempfile
import time

import tap
from fake_elbv2 import DESCRIPTIONS, STATE_REASONS, FakeElbv2, make_test_pki

ARN = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/pg-writer-tg/5d2c7e41a9b3f086"
SECRET = "s3cr3t/Key+ForTests0123456789abcdefghij"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCWV1LXdlc3QtMSJHMEUCIQ+/="
# RNS_ELB_CLIENT runs the suite with another build of the driver (e.g. the ASan one).
TOOL = os.environ.get("RNS_ELB_CLIENT") or os.path.join(tap.build_dir(), "tools", "elb_client")
ASAN_TOOL = os.path.join(tap.build_dir(), "asan", "tools", "elb_client")
PLAIN_TOOL = os.path.join(tap.build_dir(), "tools", "elb_client")
PARSE = os.path.join(tap.build_dir(), "tools", "elb_parse")
WAIT = re.compile(r"attempt (\d+)/\d+ failed with (\S+) .*retrying in (\d+) ms")


def need_tool():
    if not os.access(TOOL, os.X_OK):
        tap.skip("%s is not built" % TOOL)


def fake(**kw):
    kw.setdefault("access_key", "AKIDTEST")
    kw.setdefault("secret_key", SECRET)
    kw.setdefault("session_token", TOKEN)
    f = FakeElbv2(**kw).start()
    f.add_target_group(ARN, ["10.20.1.37:5432"])
    return f


def base_env(f, **extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    env.update(AWS_REGION=f.region, AWS_ACCESS_KEY_ID=f.access_key, AWS_SECRET_ACCESS_KEY=f.secret_key,
               AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2=f.url, AWS_LAMBDA_LOG_LEVEL="DEBUG")
    if f.session_token:
        env["AWS_SESSION_TOKEN"] = f.session_token
    if f.ca_file:
        env["AWS_CA_BUNDLE"] = f.ca_file
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


class Run:
    def __init__(self, proc, took):
        self.rc, self.took, self.stderr = proc.returncode, took, proc.stderr
        self.lines = [json.loads(l) for l in proc.stdout.splitlines() if l.strip()]
        self.ops = [l for l in self.lines if "op" in l]
        self.summary = self.lines[-1] if self.lines and self.lines[-1].get("summary") else {}
        self.waits = [(int(a), code, int(ms)) for a, code, ms in WAIT.findall(proc.stderr)]
        for secret in (SECRET, TOKEN, "Signature="):
            tap.ok(secret not in proc.stderr and secret not in proc.stdout,
                   "a secret (%s...) reached the output" % secret[:6])


def run(f, *ops, args=(), prefix=(), timeout=60, tool=None, **env):
    need_tool()
    argv = list(prefix) + [tool or TOOL] + list(args)
    for i, op in enumerate(ops):
        argv += (["--"] if i else []) + list(op)
    start = time.monotonic()
    proc = subprocess.run(argv, env=base_env(f, **env), capture_output=True, text=True, timeout=timeout)
    r = Run(proc, time.monotonic() - start)
    if not r.summary:
        raise AssertionError("no summary line; rc %d; stderr: %s" % (r.rc, proc.stderr[-800:]))
    return r


def describe():
    return ("describe", ARN)


def check_waits(f, r, bounds_ms):
    """Logged waits lie within full-jitter bounds and really separate the attempts."""
    tap.eq([w[0] for w in r.waits], list(range(1, len(bounds_ms) + 1)), "retry numbers")
    times = [c["time"] for c in f.calls]
    for (attempt, _code, ms), bound in zip(r.waits, bounds_ms):
        tap.ok(0 <= ms < bound, "wait %d ms after attempt %d not in [0, %d)" % (ms, attempt, bound))
        gap = (times[attempt] - times[attempt - 1]) * 1000
        tap.ok(gap >= ms - 2, "attempts %d and %d are %.1f ms apart, less than the %d ms wait"
               % (attempt, attempt + 1, gap, ms))


def all_signed(f):
    tap.ok(f.calls, "no request reached the fake")
    for c in f.calls:
        tap.ok(c["signature_ok"], "bad signature: %s" % c["signature_error"])


@tap.case
def success_paths_and_final_state():
    # states held for a minute: the last describe reads them however slow a busy machine makes the run
    with fake(healthy_after=60, deregistration_delay=60) as f:
        r = run(f, describe(), ("register", ARN, "10.20.2.118,5432", "192.0.2.10,5432,all"),
                ("deregister", ARN, "10.20.1.37,5432"), describe())
        tap.eq(r.rc, 0)
        tap.eq([o["ok"] for o in r.ops], [True] * 4)
        tap.eq(r.ops[0]["targets"], [{"id": "10.20.1.37", "port": 5432, "az": "eu-west-1b",
                                      "state": "healthy", "reason": ""}])
        last = {t["id"]: t for t in r.ops[3]["targets"]}
        tap.eq(sorted(last), ["10.20.1.37", "10.20.2.118", "192.0.2.10"])
        tap.eq(last["10.20.1.37"]["state"], "draining")
        tap.eq(last["10.20.1.37"]["reason"], "Target.DeregistrationInProgress")
        tap.eq(last["192.0.2.10"]["az"], "all")
        tap.eq(last["10.20.2.118"]["state"], "initial")
        all_signed(f)
        tap.eq([c["action"] for c in f.calls],
               ["DescribeTargetHealth", "RegisterTargets", "DeregisterTargets", "DescribeTargetHealth"])
        reg = f.calls[1]
        tap.eq(reg["body"], "Action=RegisterTargets&Version=2015-12-01&TargetGroupArn="
               "arn%3Aaws%3Aelasticloadbalancing%3Aeu-west-1%3A111122223333%3Atargetgroup%2Fpg-writer-tg"
               "%2F5d2c7e41a9b3f086&Targets.member.1.Id=10.20.2.118&Targets.member.1.Port=5432"
               "&Targets.member.2.Id=192.0.2.10&Targets.member.2.Port=5432"
               "&Targets.member.2.AvailabilityZone=all")
        h = reg["headers"]
        tap.eq(h["content-type"], "application/x-www-form-urlencoded; charset=utf-8")
        tap.eq(h["x-amz-security-token"], TOKEN)
        tap.ok("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token," in h["authorization"],
               h["authorization"][:120])
        tap.eq(h["amz-sdk-request"], "attempt=1; max=3")
        tap.ok("expect" not in h, "Expect header sent")
        # the fake turns new targets healthy and drops draining ones after its delays, now ended
        f.set_delays(ARN, 0, 0)
        tap.eventually(lambda: [t["State"] for t in f.targets(ARN)] == ["healthy", "healthy"], "both healthy")
        tap.eq(f.registered(ARN), ["10.20.2.118:5432", "192.0.2.10:5432"])


@tap.case
def reregister_and_deregister_wrong_port_are_no_ops():
    with fake() as f:
        r = run(f, ("register", ARN, "10.20.1.37,5432"), ("deregister", ARN, "10.20.1.37,6543"))
        tap.eq(r.rc, 0)
        tap.eq(f.targets(ARN)[0]["State"], "healthy")


@tap.case
def ten_calls_share_one_connection():
    with fake() as f:
        r = run(f, describe(), args=["--repeat", "10"])
        tap.eq(r.rc, 0)
        tap.eq(len(f.calls), 10)
        tap.eq(f.connections_opened, 1)
        tap.eq({c["connection"] for c in f.calls}, {1})
        tap.eq(r.summary["connections"], 1)
        tap.eq(r.summary["retryTokens"], 500)


@tap.case
def session_token_absent_is_not_sent():
    with fake(session_token=None) as f:
        r = run(f, describe())
        tap.eq(r.rc, 0)
        all_signed(f)
        tap.ok("x-amz-security-token" not in f.calls[0]["headers"], "token header sent")
        tap.ok("SignedHeaders=content-type;host;x-amz-date," in f.calls[0]["headers"]["authorization"], "signed headers")


def retried_to_success(kind, count, bounds):
    with fake() as f:
        f.inject(kind, count=count)
        r = run(f, ("register", ARN, "10.20.2.118,5432"))
        tap.eq(r.rc, 0)
        tap.eq(len(f.calls), count + 1)
        tap.eq([c["fault"] for c in f.calls], [kind] * count + [None])
        tap.eq([c["headers"]["amz-sdk-request"] for c in f.calls],
               ["attempt=%d; max=3" % (i + 1) for i in range(count + 1)])
        all_signed(f)
        check_waits(f, r, bounds)
        tap.ok("10.20.2.118:5432" in f.registered(ARN), "target not registered")
        return f, r


@tap.case
def throttling_is_retried_with_backoff():
    f, r = retried_to_success("throttling", 2, [1000, 2000])
    tap.eq([w[1] for w in r.waits], ["Throttling", "Throttling"])
    tap.eq(r.summary["retryTokens"], 495)  # 2 retries cost 10, the success refunds the last 5


@tap.case
def throttling_exception_is_retried():
    f, r = retried_to_success("throttling_exception", 1, [1000])
    tap.eq(r.waits[0][1], "ThrottlingException")


@tap.case
def internal_failure_500_is_retried():
    f, r = retried_to_success("500", 2, [50, 100])
    tap.eq([w[1] for w in r.waits], ["InternalFailure", "InternalFailure"])


@tap.case
def service_unavailable_503_exhausts_attempts():
    with fake() as f:
        f.inject("503", count=None)
        r = run(f, ("register", ARN, "10.20.2.118,5432"))
        tap.eq(r.rc, 1)
        tap.eq(f.registered(ARN), ["10.20.1.37:5432"])
        e = r.ops[0]["error"]
        tap.eq((e["code"], e["status"], e["attempts"]), ("ServiceUnavailable", 503, 3))
        tap.eq(e["requestId"], f.calls[-1]["request_id"])
        tap.ok("temporary failure" in e["message"], e["message"])
        tap.eq(len(f.calls), 3)
        check_waits(f, r, [50, 100])


@tap.case
def max_attempts_is_honoured():
    for attempts in (1, 5):
        with fake() as f:
            f.inject("500", count=None)
            r = run(f, describe(), AWS_MAX_ATTEMPTS=str(attempts))
            tap.eq(r.ops[0]["error"]["attempts"], attempts)
            tap.eq(len(f.calls), attempts)
            tap.eq(f.calls[-1]["headers"]["amz-sdk-request"], "attempt=%d; max=%d" % (attempts, attempts))


@tap.case
def hung_response_times_out_then_retries():
    with fake() as f:
        f.inject("hang", count=1)
        r = run(f, ("register", ARN, "10.20.2.118,5432"), args=["--attempt-timeout-ms", "500"])
        tap.eq(r.rc, 0)
        tap.eq(len(f.calls), 2)
        tap.eq(r.waits[0][1], "Timeout")
        took = re.search(r"attempt 1/3: status 0, code Timeout, request id -, (\d+) ms", r.stderr)
        # its 500 ms, not the default 10 s attempt timeout: 5 s leaves room for a busy machine
        tap.ok(took and 495 <= int(took.group(1)) < 5000, "the first attempt did not last its 500 ms")
        tap.ok(f.calls[1]["connection"] != f.calls[0]["connection"], "a timed-out connection was reused")
        tap.eq(r.summary["retryTokens"], 500)  # 10 for the timeout, refunded on success
        tap.ok("10.20.2.118:5432" in f.registered(ARN), "not registered")


@tap.case
def hang_with_near_deadline_returns_in_time():
    with fake() as f:
        f.inject("hang", count=None)
        r = run(f, describe(), args=["--deadline-ms", "800"])
        tap.eq(r.rc, 1)
        e = r.ops[0]["error"]
        tap.eq((e["code"], e["status"], e["attempts"]), ("Timeout", 0, 1))
        # cut at the 800 ms deadline, not at the 10 s attempt timeout
        tap.ok(700 <= r.ops[0]["ms"] <= 5000, "returned after %d ms" % r.ops[0]["ms"])
        tap.eq(len(f.calls), 1)


@tap.case
def late_answer_within_the_attempt_timeout_is_taken():
    with fake() as f:
        f.inject("hang", count=1, seconds=0.3)
        r = run(f, describe())
        tap.eq(r.rc, 0)
        tap.eq(len(f.calls), 1)


@tap.case
def throttling_stops_before_a_wait_past_the_deadline():
    with fake() as f:
        f.inject("throttling", count=None)
        # The deadline must outlast the first attempt, which a busy machine (TLS set-up under ASan)
        # can make slower than 150 ms: then the deadline cuts that attempt (Timeout, status 0), the
        # scenario did not happen, and it is staged again with a longer deadline. A client that made
        # up a Timeout would do so every time and fail below.
        for deadline in (150, 600, 2000):
            f.reset_calls()
            r = run(f, describe(), args=["--deadline-ms", str(deadline)], AWS_MAX_ATTEMPTS="10")
            e = r.ops[0]["error"]
            if (e["code"], e["status"]) != ("Timeout", 0):
                break
        tap.eq(e["code"], "Throttling")  # the last error, not a made-up Timeout
        # the client's own word that the deadline stopped it before a wait (not after oversleeping it)
        tap.ok(re.search(r"not retrying Throttling: the deadline comes before the next attempt", r.stderr),
               r.stderr[-800:])
        # throttling waits are up to 1 s, 2 s, 4 s, ...: ten attempts would take many seconds
        tap.ok(r.ops[0]["ms"] < deadline + 3000, "took %d ms, deadline %d ms" % (r.ops[0]["ms"], deadline))
        tap.eq(e["attempts"], len(f.calls))
        tap.ok(len(f.calls) < 10, "all attempts were made")


@tap.case
def deadline_already_past_sends_nothing():
    with fake() as f:
        r = run(f, describe(), args=["--deadline-ms", "0"])
        e = r.ops[0]["error"]
        tap.eq((e["code"], e["attempts"]), ("Timeout", 0))
        tap.eq(f.calls, [])
        tap.eq(f.connections_opened, 0)


@tap.case
def dropped_connection_is_retried():
    with fake() as f:
        f.inject("drop", count=1)
        r = run(f, ("register", ARN, "10.20.2.118,5432"))
        tap.eq(r.rc, 0)
        tap.eq([c["fault"] for c in f.calls], ["drop", None])
        tap.eq(r.waits[0][1], "ConnectionError")
        check_waits(f, r, [50])
        tap.eq(f.connections_opened, 2)
        tap.ok("10.20.2.118:5432" in f.registered(ARN), "not registered")


@tap.case
def dropped_keepalive_connection_is_resent_once():
    # A kept connection closed with no answer is what an idle timeout looks
    # like: libcurl resends once on a fresh connection, within the attempt.
    with fake() as f:
        f.inject("drop", action="RegisterTargets", count=1)
        r = run(f, describe(), ("register", ARN, "10.20.2.118,5432"))
        tap.eq(r.rc, 0)
        tap.eq([c["fault"] for c in f.calls], [None, "drop", None])
        tap.eq([c["connection"] for c in f.calls], [1, 1, 2])
        tap.eq(r.waits, [])
        tap.eq(f.calls[2]["headers"]["amz-sdk-request"], "attempt=1; max=3")


@tap.case
def connection_dropped_always_fails_after_attempts():
    with fake() as f:
        f.inject("drop", count=None)
        r = run(f, describe())
        e = r.ops[0]["error"]
        tap.eq((e["code"], e["status"], e["attempts"]), ("ConnectionError", 0, 3))
        tap.eq(len(f.calls), 3)


@tap.case
def connection_closed_before_tls_is_retried():
    with fake() as f:
        f.inject("drop", stage="accept", count=1)
        r = run(f, describe())
        tap.eq(r.rc, 0)
        tap.eq(r.waits[0][1], "ConnectionError")
        tap.eq(len(f.calls), 1)
        tap.eq(f.connections_opened, 2)


@tap.case
def malformed_xml_is_retried_then_reported():
    with fake(deregistration_delay=60) as f:  # still draining when read, on a busy machine too
        f.inject("malformed", count=1)
        r = run(f, ("deregister", ARN, "10.20.1.37,5432"))
        tap.eq(r.rc, 0)
        tap.eq(len(f.calls), 2)
        tap.eq(f.targets(ARN)[0]["State"], "draining")
        tap.eq(r.waits[0][1], "MalformedResponse")
    with fake() as f:
        f.inject("malformed", count=None)
        r = run(f, describe())
        e = r.ops[0]["error"]
        tap.eq((e["code"], e["status"], e["attempts"]), ("MalformedResponse", 200, 3))
        tap.ok("well-formed" in e["message"], e["message"])
        tap.eq(e["requestId"], f.calls[-1]["request_id"])  # from the x-amzn-RequestId header


def not_retried(f, r, code, status):
    tap.eq(r.rc, 1)
    e = r.ops[0]["error"]
    tap.eq((e["code"], e["status"], e["attempts"]), (code, status, 1))
    tap.eq(len(f.calls), 1)
    tap.eq(e["requestId"], f.calls[0]["request_id"])
    tap.eq(r.waits, [])
    tap.eq(r.summary["retryTokens"], 500)
    return e


@tap.case
def target_group_not_found_is_not_retried():
    with fake() as f:
        r = run(f, ("describe", ARN.replace("5d2c", "0000")))
        e = not_retried(f, r, "TargetGroupNotFound", 400)
        tap.eq(e["message"], "One or more target groups not found")
    with fake() as f:
        f.inject("tg_not_found")
        not_retried(f, run(f, ("deregister", ARN, "10.20.1.37,5432")), "TargetGroupNotFound", 400)
        tap.eq(f.registered(ARN), ["10.20.1.37:5432"])


@tap.case
def wrong_secret_gets_signature_does_not_match():
    with fake() as f:
        r = run(f, ("register", ARN, "10.20.2.118,5432"), AWS_SECRET_ACCESS_KEY="not-the-secret")
        not_retried(f, r, "SignatureDoesNotMatch", 403)
        tap.eq(f.calls[0]["signature_ok"], False)
        tap.eq(f.registered(ARN), ["10.20.1.37:5432"])
    with fake() as f:
        f.inject("signature")
        not_retried(f, run(f, describe()), "SignatureDoesNotMatch", 403)


@tap.case
def access_denied_and_invalid_target_are_not_retried():
    with fake() as f:
        f.inject("access_denied", action="RegisterTargets")
        e = not_retried(f, run(f, ("register", ARN, "10.20.2.118,5432")), "AccessDenied", 403)
        tap.ok("elasticloadbalancing:RegisterTargets" in e["message"], e["message"])
    with fake() as f:
        r = run(f, ("register", ARN, "192.0.2.10,5432"))
        e = not_retried(f, r, "InvalidTarget", 400)
        tap.ok("outside the VPC" in e["message"], e["message"])
        tap.eq(f.registered(ARN), ["10.20.1.37:5432"])


@tap.case
def every_attempt_is_signed_with_a_fresh_date():
    with fake() as f:
        f.inject("hang", count=1)
        r = run(f, describe(), args=["--attempt-timeout-ms", "1200"])
        tap.eq(r.rc, 0)
        all_signed(f)
        dates = [c["amz_date"] for c in f.calls]
        tap.ok(dates[0] != dates[1], "both attempts carry %s" % dates[0])
        for c in f.calls:
            when = datetime.datetime.strptime(c["amz_date"], "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
            # The date is whole seconds, cut down, and the fake stamps the arrival: a busy machine
            # only makes the difference larger. Reuse of the first date shows as dates[0] == dates[1].
            tap.ok(-1.5 <= c["wall"] - when <= 5, "X-Amz-Date %s is not the time of sending" % c["amz_date"])


@tap.case
def ca_bundle_selection_order():
    with fake() as f, tempfile.TemporaryDirectory() as tmp:
        other = make_test_pki(tmp, name="some other CA")["ca"]
        ok = run(f, describe(), AWS_CA_BUNDLE=f.ca_file, SSL_CERT_FILE=other)
        tap.eq(ok.rc, 0)
        ok = run(f, describe(), AWS_CA_BUNDLE=None, SSL_CERT_FILE=f.ca_file)
        tap.eq(ok.rc, 0)
        ok = run(f, describe(), args=["--ca-bundle", f.ca_file], AWS_CA_BUNDLE=other)
        tap.eq(ok.rc, 0)  # the configured bundle comes before the environment
        calls = len(f.calls)
        for env in ({"AWS_CA_BUNDLE": other, "SSL_CERT_FILE": f.ca_file},
                    {"AWS_CA_BUNDLE": None, "SSL_CERT_FILE": None}):  # the system bundle
            bad = run(f, describe(), **env)
            e = bad.ops[0]["error"]
            tap.eq((e["code"], e["status"], e["attempts"]), ("TlsError", 0, 1))
            tap.eq(bad.waits, [])
        tap.eq(len(f.calls), calls)  # no request was sent without a verified server
        # the fake counts a failed handshake in its own thread, possibly after the client has exited
        tap.eventually(lambda: f.tls_failures >= 2, "the fake seeing both TLS failures")


@tap.case
def missing_ca_bundle_file_is_a_tls_error():
    with fake() as f:
        r = run(f, describe(), AWS_CA_BUNDLE="/nonexistent/ca.pem")
        e = r.ops[0]["error"]
        tap.eq((e["code"], e["attempts"]), ("TlsError", 1))


@tap.case
def endpoint_override_order():
    with fake(tls=False) as f:
        r = run(f, describe(), AWS_ENDPOINT_URL="http://127.0.0.1:9")
        tap.eq(r.rc, 0)  # the service-specific variable wins
        all_signed(f)
        tap.eq(f.calls[0]["headers"]["host"], "127.0.0.1:%d" % f.port)
        r = run(f, describe(), AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2=None, AWS_ENDPOINT_URL=f.url)
        tap.eq(r.rc, 0)
        r = run(f, describe(), AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2="http://127.0.0.1:9")
        tap.eq(r.ops[0]["error"]["code"], "ConnectionError")


@tap.case
def more_than_100_targets_go_in_batches():
    with fake() as f:
        ips = ["10.30.%d.%d,5432" % (i // 200, 1 + i % 200) for i in range(250)]
        r = run(f, ("register", ARN) + tuple(ips))
        tap.eq(r.rc, 0)
        sizes = [len([k for k in c["params"] if k.endswith(".Id")]) for c in f.calls]
        tap.eq(sizes, [100, 100, 50])
        tap.eq(f.calls[2]["params"]["Targets.member.50.Id"], "10.30.1.50")
        tap.eq(len(f.registered(ARN)), 251)
        f.reset_calls()
        r = run(f, ("deregister", ARN) + tuple(ips))
        tap.eq(r.rc, 0)
        tap.eq(len(f.calls), 3)
        tap.eventually(lambda: f.registered(ARN) == ["10.20.1.37:5432"], "the 250 deregistered targets drained")


@tap.case
def retry_quota_runs_out_and_persists_across_calls():
    with fake() as f:
        f.inject("500", count=None)
        r = run(f, describe(), args=["--repeat", "101"], AWS_MAX_ATTEMPTS="2", AWS_LAMBDA_LOG_LEVEL="WARN")
        tap.eq(len(r.ops), 101)
        tap.eq([o["error"]["attempts"] for o in r.ops], [2] * 100 + [1])
        tap.eq(len(f.calls), 201)
        tap.eq(r.summary["retryTokens"], 0)
        tap.ok("retry quota exhausted" in r.stderr, "no log line for the empty quota")


@tap.case
def valgrind_clean():
    tap.need("valgrind", "valgrind")
    if os.environ.get("RNS_SANITIZED"):
        tap.skip("the sanitizer pass: valgrind does not run ASan binaries")
    if not os.access(PLAIN_TOOL, os.X_OK):
        tap.skip("%s is not built" % PLAIN_TOOL)
    with fake() as f:
        f.inject("throttling", count=1)
        f.inject("malformed", count=1)
        # Under valgrind on a busy machine one attempt can take seconds: the run's deadline and the
        # attempt timeout (30 s and 10 s by default) are set far out, below run()'s 300 s.
        r = run(f, describe(), ("register", ARN, "10.20.2.118,5432"), ("describe", ARN.replace("5d2c", "0000")),
                args=["--deadline-ms", "240000", "--attempt-timeout-ms", "60000"],
                prefix=["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                        "--show-leak-kinds=definite,indirect", "--errors-for-leak-kinds=definite,indirect"],
                timeout=300, tool=PLAIN_TOOL)
        tap.eq(r.rc, 1, "exit status (99: valgrind found errors)")
        tap.eq([o["ok"] for o in r.ops], [True, True, False], "errors %s, calls %s" % (
            [o.get("error") for o in r.ops], [(c["action"], c["status"], c["fault"]) for c in f.calls]))
        tap.ok("==" not in r.stderr, "valgrind: " + r.stderr[-1500:])


@tap.case
def asan_build_clean_through_faults():
    if not os.access(ASAN_TOOL, os.X_OK):
        tap.skip("%s is not built (make asan)" % ASAN_TOOL)
    with fake() as f:
        for kind in ("throttling", "500", "drop", "malformed"):
            f.inject(kind, count=1)
        f.inject("hang", count=1, action="DeregisterTargets")
        r = run(f, describe(), ("register", ARN, "10.20.2.118,5432"), ("deregister", ARN, "10.20.1.37,5432"),
                ("describe", ARN.replace("5d2c", "0000")), args=["--attempt-timeout-ms", "300"],
                tool=ASAN_TOOL, AWS_MAX_ATTEMPTS="5", ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
                UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
        tap.eq([o["ok"] for o in r.ops], [True, True, True, False])
        tap.eq(r.rc, 1)
        tap.ok("Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr[-1500:])


@tap.case
def fake_is_understood_by_botocore():
    import boto3
    with fake() as f:
        c = boto3.client("elbv2", region_name=f.region, endpoint_url=f.url, verify=f.ca_file,
                         aws_access_key_id=f.access_key, aws_secret_access_key=f.secret_key,
                         aws_session_token=f.session_token)
        got = c.describe_target_health(TargetGroupArn=ARN)["TargetHealthDescriptions"]
        tap.eq(got[0]["Target"], {"Id": "10.20.1.37", "Port": 5432, "AvailabilityZone": "eu-west-1b"})
        tap.eq(got[0]["TargetHealth"], {"State": "healthy"})
        all_signed(f)


@tap.case
def fake_reports_every_state_with_its_reasons():
    """Every state of TargetHealthStateEnum with each reason the API gives, as botocore and our
    client read them; Target.NotRegistered only for an unregistered target asked about by name."""
    import boto3
    with fake() as f:
        c = boto3.client("elbv2", region_name=f.region, endpoint_url=f.url, verify=f.ca_file,
                         aws_access_key_id=f.access_key, aws_secret_access_key=f.secret_key,
                         aws_session_token=f.session_token)
        tap.eq(sorted(STATE_REASONS), ["draining", "healthy", "initial", "unavailable", "unhealthy",
                                       "unhealthy.draining", "unused"])
        seen = []
        for state, reasons in sorted(STATE_REASONS.items()):
            for reason in reasons + (None,):
                f.set_health(ARN, "10.20.1.37", 5432, state, reason)
                got = c.describe_target_health(TargetGroupArn=ARN)["TargetHealthDescriptions"][0]["TargetHealth"]
                want = reason or reasons[0]
                tap.eq((got["State"], got.get("Reason"), got.get("Description")),
                       (state, want, DESCRIPTIONS.get(want)), "%s %s" % (state, reason))
                ours = run(f, describe()).ops[0]["targets"][0]
                tap.eq((ours["state"], ours["reason"]), (state, want or ""), "our client: %s %s" % (state, reason))
                seen.append(got["State"])
        tap.eq(len(set(seen)), 7, "every state reported")
        named = c.describe_target_health(TargetGroupArn=ARN, Targets=[{"Id": "10.20.3.204", "Port": 5432}])
        tap.eq(named["TargetHealthDescriptions"][0]["TargetHealth"],
               {"State": "unused", "Reason": "Target.NotRegistered",
                "Description": "Target is not registered to the target group"})
        for state, reason in (("leaving", None), ("unused", "Target.NotRegistered"), ("healthy", "Target.Timeout"),
                              ("draining", "Target.FailedHealthChecks")):
            try:
                f.set_health(ARN, "10.20.1.37", 5432, state, reason)
                tap.ok(False, "set_health accepted %s %s" % (state, reason))
            except ValueError:
                pass


def botocore_body(action, params):
    import botocore.session
    from botocore.serialize import create_serializer
    from botocore.utils import percent_encode_sequence
    model = botocore.session.get_session().get_service_model("elbv2")
    body = create_serializer("query").serialize_to_request(params, model.operation_model(action))["body"]
    return percent_encode_sequence(body)  # as botocore's AWSRequest prepares it


@tap.case
def body_equals_botocore_serialization():
    if not os.access(PARSE, os.X_OK):
        tap.skip("%s is not built" % PARSE)
    arn = "arn:aws:elasticloadbalancing:cn-north-1:111122223333:targetgroup/a b+c~d*e/0123456789abcdef"
    targets = [{"Id": "10.0.0.1", "Port": 5432}, {"Id": "fe80::1%eth0", "Port": 1, "AvailabilityZone": "all"},
               {"Id": "i-0123456789abcdef0"}]
    for action, tg in (("RegisterTargets", targets), ("DeregisterTargets", targets[:1]),
                       ("DescribeTargetHealth", None)):
        params = {"TargetGroupArn": arn}
        if tg:
            params["Targets"] = tg
        want = botocore_body(action, params)
        specs = [",".join(str(t[k]) for k in ("Id", "Port", "AvailabilityZone") if k in t) for t in tg or []]
        got = subprocess.run([PARSE, "--body", action, arn] + specs, capture_output=True, text=True).stdout
        tap.eq(got, want, action)


@tap.case
def parse_matches_botocore_on_shared_fixtures():
    shared = tap.shared_dir()
    if not shared:
        tap.skip("RNS_SHARED is not set")
    if not os.access(PARSE, os.X_OK):
        tap.skip("%s is not built" % PARSE)
    folder = os.path.join(shared, "fixtures", "elbv2")
    with open(os.path.join(folder, "expected-parse.json")) as fh:
        expected = json.load(fh)
    for name, want in sorted(expected.items()):
        out = subprocess.run([PARSE, os.path.join(folder, name)], capture_output=True, text=True).stdout
        got = json.loads(out)
        if "error" in want:
            tap.eq(got["ok"], False, name)
            tap.eq((got["error"]["code"], got["error"]["message"], got["error"]["requestId"]),
                   (want["error"]["Code"], want["error"]["Message"], want["RequestId"]), name)
            continue
        tap.eq(got["ok"], True, name)
        descs = want["result"].get("TargetHealthDescriptions", [])
        tap.eq([(t["id"], t["port"], t["az"], t["state"], t["reason"]) for t in got["targets"]],
               [(d["Target"]["Id"], d["Target"].get("Port", 0), d["Target"].get("AvailabilityZone", ""),
                 d["TargetHealth"].get("State", ""), d["TargetHealth"].get("Reason", "")) for d in descs], name)


# ---- fleet discovery: DescribeTargetGroups, DescribeTags, AddTags ----

LB1 = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/fleet-a/0a1b2c3d4e5f6071"
LB2 = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/fleet-b/1a1b2c3d4e5f6072"


def group_arn(i):
    return "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/db-%04d/%016x" % (i, i)


def boto_client(f):
    import boto3
    return boto3.client("elbv2", region_name=f.region, endpoint_url=f.url, verify=f.ca_file,
                        aws_access_key_id=f.access_key, aws_secret_access_key=f.secret_key,
                        aws_session_token=f.session_token)


@tap.case
def describe_target_groups_follows_pages_past_400():
    with fake() as f:
        for i in range(405):
            f.add_target_group(group_arn(i), port=5000 + i, load_balancers=[LB1])
        f.add_target_group(group_arn(9000), load_balancers=[LB2])
        r = run(f, ("groups", LB1, "400"), ("groups", LB2, "0"))
        tap.eq(r.rc, 0)
        first, second = r.ops
        tap.eq(first["pages"], 2)
        tap.eq([g["arn"] for g in first["groups"]], [group_arn(i) for i in range(405)])
        tap.eq(first["groups"][7], {"arn": group_arn(7), "name": "db-0007", "port": 5007, "protocol": "TCP",
                                    "type": "ip"})
        tap.eq([g["arn"] for g in second["groups"]], [group_arn(9000)])
        calls = f.calls_for("DescribeTargetGroups")
        tap.eq([(c["params"].get("LoadBalancerArn"), c["params"].get("PageSize"), "Marker" in c["params"])
                for c in calls], [(LB1, "400", False), (LB1, "400", True), (LB2, None, False)])
        all_signed(f)
        got = boto_client(f).get_paginator("describe_target_groups").paginate(
            LoadBalancerArn=LB1, PaginationConfig={"PageSize": 400})
        tap.eq(sum(len(p["TargetGroups"]) for p in got), 405, "botocore pages the fake too")


@tap.case
def describe_target_groups_by_arn_and_its_limits():
    with fake() as f:
        for i in range(21):
            f.add_target_group(group_arn(i), load_balancers=[LB1])
        r = run(f, ("groups-arn",) + tuple(group_arn(i) for i in range(20)))
        tap.eq(len(r.ops[0]["groups"]), 20)
        tap.eq(f.calls[-1]["params"]["TargetGroupArns.member.20"], group_arn(19))
        r = run(f, ("groups-arn",) + tuple(group_arn(i) for i in range(21)))
        tap.eq(r.ops[0]["error"]["code"], "InvalidParameterValue", "21 ARNs refused before any call")
        tap.eq(len(f.calls_for("DescribeTargetGroups")), 1)
        c = boto_client(f)
        for kw, code in (({"TargetGroupArns": [group_arn(i) for i in range(21)]}, "ValidationError"),
                         ({"LoadBalancerArn": LB2}, "LoadBalancerNotFound"),
                         ({"TargetGroupArns": [group_arn(77)]}, "TargetGroupNotFound"),
                         ({"LoadBalancerArn": LB1, "PageSize": 401}, "ValidationError")):
            try:
                c.describe_target_groups(**kw)
                tap.ok(False, "%s accepted" % kw)
            except c.exceptions.ClientError as e:
                tap.eq(e.response["Error"]["Code"], code, str(kw)[:60])
        r = run(f, ("groups", LB2, "10"))
        tap.eq((r.rc, r.ops[0]["error"]["code"], r.ops[0]["error"]["attempts"]), (1, "LoadBalancerNotFound", 1))


@tap.case
def describe_tags_keeps_the_prefix_and_twenty_arns():
    with fake() as f:
        tags = {"rds-nlb-sync:source": "dns:orders.example.internal", "rds-nlb-sync:role": "writer",
                "team": "payments", "rds-nlb-sync:dry-run": ""}
        for i in range(21):
            f.add_target_group(group_arn(i), load_balancers=[LB1], tags=tags if i % 2 == 0 else {})
        arns = tuple(group_arn(i) for i in range(20))
        r = run(f, ("tags", "rds-nlb-sync:") + arns, ("tags", "-", group_arn(0)))
        tap.eq(r.rc, 0)
        got = r.ops[0]["tags"]
        tap.eq(sorted(got), sorted(arns))
        tap.eq(got[group_arn(0)], {k: v for k, v in tags.items() if k.startswith("rds-nlb-sync:")})
        tap.eq(got[group_arn(1)], {})
        tap.eq(r.ops[1]["tags"][group_arn(0)], tags)
        r = run(f, ("tags", "-") + tuple(group_arn(i) for i in range(21)))
        tap.eq(r.ops[0]["error"]["code"], "InvalidParameterValue")
        c = boto_client(f)
        got = c.describe_tags(ResourceArns=[group_arn(0), group_arn(1)])["TagDescriptions"]
        tap.eq({d["ResourceArn"]: {t["Key"]: t["Value"] for t in d["Tags"]} for d in got},
               {group_arn(0): tags, group_arn(1): {}})
        try:
            c.describe_tags(ResourceArns=[group_arn(i) for i in range(21)])
            tap.ok(False, "21 ARNs accepted")
        except c.exceptions.ClientError as e:
            tap.eq(e.response["Error"]["Code"], "ValidationError")
        r = run(f, ("add-tags", group_arn(1), "rds-nlb-sync:misses=10.0.0.5=2", "k="))
        tap.eq(r.rc, 0)
        tap.eq(f.tags(group_arn(1)), {"rds-nlb-sync:misses": "10.0.0.5=2", "k": ""})
        c.remove_tags(ResourceArns=[group_arn(1)], TagKeys=["k"])
        tap.eq(f.tags(group_arn(1)), {"rds-nlb-sync:misses": "10.0.0.5=2"})
        r = run(f, ("add-tags", group_arn(1), "rds-nlb-sync:misses:2=fd00::1=1 10.0.0.6=3", "x=1"),
                ("remove-tags", group_arn(1), "rds-nlb-sync:misses", "x", "absent"))
        tap.eq([o["ok"] for o in r.ops], [True, True])
        tap.eq(f.tags(group_arn(1)), {"rds-nlb-sync:misses:2": "fd00::1=1 10.0.0.6=3"})
        tap.eq(f.calls_for("RemoveTags")[-1]["params"]["TagKeys.member.3"], "absent")
        all_signed(f)


@tap.case
def add_tags_checked_as_the_service_checks_them():
    """botocore's model of TagKey and TagValue (lengths, characters: no comma) and the 50 tags of a
    resource, aws: keys aside: the fake refuses what the service refuses, for boto3 and our client."""
    with fake() as f:
        f.add_target_group(group_arn(1), load_balancers=[LB1], tags={"aws:cloudformation:stack-name": "s"})
        c = boto_client(f)
        for tags, code in (([{"Key": "k", "Value": "v" * 257}], "ValidationError"),
                           ([{"Key": "k" * 129, "Value": ""}], "ValidationError"),
                           ([{"Key": "rds-nlb-sync:misses", "Value": "10.0.0.5=2,10.0.0.6=1"}], "ValidationError"),
                           ([{"Key": "k%02d" % i, "Value": ""} for i in range(51)], "TooManyTags")):
            try:
                c.add_tags(ResourceArns=[group_arn(1)], Tags=tags)
                tap.ok(False, "accepted: %s" % str(tags)[:60])
            except c.exceptions.ClientError as e:
                tap.eq(e.response["Error"]["Code"], code, str(tags)[:60])
        c.add_tags(ResourceArns=[group_arn(1)], Tags=[{"Key": "k%02d" % i, "Value": "v" * 256} for i in range(50)])
        tap.eq(len(f.tags(group_arn(1))), 51, "50 and the aws: one")
        r = run(f, ("add-tags", group_arn(1), "one-more=x"))
        tap.eq(r.ops[0]["error"]["code"], "TooManyTags")
        r = run(f, ("add-tags", group_arn(1), "k00=a,b"), ("remove-tags", group_arn(1), "k00", "bad,key"))
        tap.eq([o["error"]["code"] for o in r.ops], ["ValidationError"] * 2, "RemoveTags' keys are checked too")
        tap.eq(f.tags(group_arn(1))["k00"], "v" * 256, "a refused RemoveTags removes nothing")
        # the sweep's cursor (handler/sync/fleet_cursor.c) is a value the service accepts
        cursor = "shards=3 at=1765134211123 next=" + group_arn(5)
        r = run(f, ("remove-tags", group_arn(1), "k00"),
                ("add-tags", group_arn(1), "rds-nlb-sync:sweep-next=" + cursor))
        tap.eq([o["ok"] for o in r.ops], [True, True])
        tap.eq(f.tags(group_arn(1))["rds-nlb-sync:sweep-next"], cursor)
        all_signed(f)


@tap.case
def token_buckets_throttle_like_the_service():
    """A Describe* bucket of 3 tokens at 2 per second: the 4th call at once is throttled (400
    Throttling) and retried by our client until a token is back; Register has its own bucket."""
    with fake() as f:
        f.set_buckets(describe=(3, 2), targets=(1, 0.001))
        r = run(f, describe(), describe(), describe(), describe(), ("register", ARN, "10.20.2.118,5432"),
                ("register", ARN, "10.20.2.119,5432"), AWS_MAX_ATTEMPTS="5")
        tap.eq([o["ok"] for o in r.ops], [True] * 5 + [False])
        tap.eq(r.ops[5]["error"]["code"], "Throttling")
        throttled = [c for c in f.calls if c.get("throttled")]
        tap.ok(throttled and all(c["status"] == 400 for c in throttled), "throttled calls answered 400")
        tap.eq(f.throttled, len(throttled))
        tap.ok(any(c["action"] == "DescribeTargetHealth" for c in throttled), "the describe bucket ran dry")
        f.set_buckets(describe=None, targets=None)
        tap.eq(run(f, describe()).rc, 0)


@tap.case
def discovery_bodies_equal_botocore_serialization():
    if not os.access(PARSE, os.X_OK):
        tap.skip("%s is not built" % PARSE)
    arns = [group_arn(1), "arn:aws:elasticloadbalancing:cn-north-1:1:targetgroup/a b+c/0"]
    for args, action, params in (
            (["--groups-body", LB1, "-", "400"], "DescribeTargetGroups", {"LoadBalancerArn": LB1, "PageSize": 400}),
            (["--groups-body", LB1, "bWFy/a2Vy+=", "0"], "DescribeTargetGroups",
             {"LoadBalancerArn": LB1, "Marker": "bWFy/a2Vy+="}),
            (["--groups-body", "-", "-", "0"] + arns, "DescribeTargetGroups", {"TargetGroupArns": arns}),
            (["--tags-body"] + arns, "DescribeTags", {"ResourceArns": arns})):
        got = subprocess.run([PARSE] + args, capture_output=True, text=True).stdout
        tap.eq(got, botocore_body(action, params), " ".join(args[:2]))


tap.main()
