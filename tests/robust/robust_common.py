"""Helpers of the robustness suites (tests/robust/test_*.py): what every run must respect whatever it
was fed, and the scan of outputs for secrets.

    import robust_common as rc
    rc.check_group(S)                  # never empty because of a fault, only allowed addresses
    rc.check_invocation(r)             # --invoke: exit status, one JSON line, contract error type
    leaks = rc.Leaks(S); leaks.add("case", text); leaks.check()   # a SecretScan of the stack
"""
import ipaddress
import json
import os
import subprocess
import sys

import const
import netns
import tap
from secret_scan import SecretScan

SHARD_VAR = "RNS_ROBUST_SHARD"


def sharded(script, shards):
    """Runs a suite as `shards` copies of itself at once, each in a namespace (and local stack) of
    its own (started through netns.py), when called outside any namespace: the copies' case lines
    are passed on and the process exits with the worst status. Inside a copy it returns (shard
    index, shards); inside a namespace already (netns.py SUITE, by hand) it returns (0, 1). A
    suite calls it before it starts anything."""
    if os.environ.get(SHARD_VAR):
        i, _, n = os.environ[SHARD_VAR].partition("/")
        return int(i), int(n)
    if netns.inside_namespace():
        return 0, 1
    launcher = os.path.join(os.path.dirname(os.path.abspath(netns.__file__)), "netns.py")
    procs = []
    for i in range(max(1, shards)):
        env = dict(os.environ, **{SHARD_VAR: "%d/%d" % (i, max(1, shards))})
        procs.append(subprocess.Popen([sys.executable, launcher, os.path.abspath(script)], env=env,
                                      stdout=subprocess.PIPE))
    status = 0
    for p in procs:
        out, _ = p.communicate()
        sys.stdout.write(out.decode(errors="replace"))
        status = max(status, p.returncode if p.returncode >= 0 else 1)
    sys.stdout.flush()
    sys.exit(status)

OLD, NEW = const.OLD_TARGET, const.NEW_TARGET
FLIPPED = const.FLIPPED_RECORDS
DEFAULT_ALLOWED = [ipaddress.ip_network(c) for c in
                   ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")]
SANITIZER_EXIT = 86


def allowed(ip, networks=DEFAULT_ALLOWED):
    a = ipaddress.ip_address(ip)
    return any(a in n for n in networks if n.version == a.version)


def check_group(s, before=(OLD,), networks=DEFAULT_ALLOWED):
    """The target group after a run: not empty when it was not, and every target registered (also
    draining ones: they were registered by someone) in ALLOWED_CIDRS. Returns the registered list."""
    now = s.registered()
    if before:
        tap.ok(now, "the target group is empty after the run (it held %s)" % list(before))
    for t in s.elb.targets(s.target_group_arn):
        tap.ok(allowed(t["Id"], networks), "target %s outside ALLOWED_CIDRS" % t["Id"])
    return now


def check_exit(code, what):
    tap.ok(code is not None and code >= 0, "%s: killed by signal %s" % (what, -code if code else code))
    tap.ok(code != SANITIZER_EXIT, "%s: a sanitizer report (exit %d)" % (what, code))


def check_invocation(r):
    """A finished --invoke: exit 0 with a result or 1 with a contract error, and stdout exactly one
    JSON object. Returns (ok, json)."""
    check_exit(r.code, "bootstrap --invoke")
    tap.ok(r.code in (0, 1), "exit status %d (stderr: %s)" % (r.code, r.stderr[-1500:]))
    tap.ok(r.stdout.endswith("\n") and r.stdout.count("\n") == 1, "stdout is one line: %r" % r.stdout[:200])
    tap.ok(isinstance(r.json, dict), "stdout is a JSON object: %r" % r.stdout[:200])
    if r.code == 1:
        tap.eq(sorted(r.json), ["errorMessage", "errorType"], "error JSON keys")
        tap.ok(r.json["errorType"] in const.ERROR_TYPES, "errorType %r is not the contract's" % r.json["errorType"])
    return r.code == 0, r.json


def check_result(res):
    """A result posted to the fake Runtime API: (ok, json)."""
    tap.ok(isinstance(res["json"], dict), "posted body is a JSON object: %r" % res["body"][:200])
    if res["kind"] == "error":
        et = res["json"].get("errorType")
        tap.ok(et in const.ERROR_TYPES, "errorType %r is not the contract's" % et)
        tap.eq(res["headers"].get("Lambda-Runtime-Function-Error-Type"), et, "error type header")
    return res["kind"] == "response", res["json"]


# ----------------------------------------------------------------- secrets ---

class Leaks(SecretScan):
    """A SecretScan (tests/lib/secret_scan.py) of the stack's credentials and the signatures its
    fake ELBv2 received."""

    def __init__(self, s):
        super().__init__({const.SECRET_ACCESS_KEY: "the secret access key",
                          const.SESSION_TOKEN: "the session token"})
        self.s = s
        self.secret(const.CFN_SIGNATURE, "the signature of the stack's ResponseURL")

    def harvest(self, calls=None):
        super().harvest(self.s.elb.calls if calls is None else calls)

    def found(self):
        self.harvest()
        return super().found()

    def check(self):
        bad = self.found()
        tap.ok(not bad, "secrets in outputs: %s" % self.report())
        return self.lines()


def event_request_type(data):
    """The RequestType of a CloudFormation-looking event, or None."""
    try:
        ev = json.loads(data)
    except ValueError:
        return None
    return ev.get("RequestType") if isinstance(ev, dict) and isinstance(ev.get("RequestType"), str) else None
