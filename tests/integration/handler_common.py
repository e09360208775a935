"""Helpers shared by the handler's suites (tests/integration/test_handler_*.py).

Each suite runs in the private namespace (netns.py), starts one LocalStack, and resets
the target group and DNS before each case with reset(). Assertions here check the contract's
invariants that hold for every run: no secret in any log line, stdout is exactly one JSON document.
"""
import json
import os

import const
import tap

OLD, NEW = const.OLD_TARGET, const.NEW_TARGET
OUR_EVENTS = os.path.join(tap.root(), "tests", "fixtures", "events")
SECRETS = (const.SECRET_ACCESS_KEY, const.SESSION_TOKEN)

# Every registered state but healthy (CONTRACT.md section 5, rule 4), with a reason the API gives a
# registered target in it: a target failing its checks, draining its connections while unhealthy (a
# group with target_health_state.unhealthy.draining_interval_seconds), or in a zone the NLB does not
# serve. Only "draining" is a target on its way out.
REGISTERED_STATES = (("initial", "Elb.InitialHealthChecking"), ("unhealthy", "Target.FailedHealthChecks"),
                     ("unhealthy.draining", "Target.FailedHealthChecks"), ("unused", "Target.NotInUse"),
                     ("unavailable", "Target.HealthCheckDisabled"))


def our_event(name):
    with open(os.path.join(OUR_EVENTS, name), "rb") as f:
        return f.read()


def shared_event(name):
    d = tap.shared_dir()
    if not d:
        tap.skip("RNS_SHARED is not set (no ../shared)")
    with open(os.path.join(d, "fixtures", "events", name), "rb") as f:
        return f.read()


def reset(s, targets=(OLD,), records=None, cnames=None, arn=None, vpc=const.VPC_CIDR, **group):
    """The default target group holding `targets`, DNS serving `records` (default: the endpoint on
    the old primary), no faults, no recorded calls."""
    s.dns.serve()
    s.dns.set_records(records if records is not None else dict(const.DEFAULT_RECORDS),
                      cnames if cnames is not None else dict(const.DEFAULT_CNAMES), replace=True)
    s.elb.clear_faults()
    s.elb.add_target_group(arn or s.target_group_arn, list(targets), vpc_cidr=vpc, port=const.DB_PORT, **group)
    s.clear_calls(s.elb)  # its recorded signatures go to the stack's secret scan first


def actions(s):
    return [c["action"] for c in s.elb.calls]


def check_clean(r, extra_secrets=()):
    """Invariants of every --invoke run."""
    for secret in SECRETS + tuple(extra_secrets):
        tap.ok(secret not in r.stderr and secret not in r.stdout, "a secret reached the output")
    tap.ok(r.stdout.endswith("\n") and r.stdout.count("\n") == 1, "stdout is one line: %r" % r.stdout[:300])
    tap.ok(r.json is not None, "stdout is JSON: %r" % r.stdout[:300])


def check_deregistered_as_described(s, old):
    """Rule 3: one DeregisterTargets of the old target with the Id, Port and AvailabilityZone the
    group reported (`old`, a FakeElbv2.targets() dict)."""
    params = s.elb.calls_for("DeregisterTargets")[0]["params"]
    tap.eq(sorted(k for k in params if k.startswith("Targets.")),
           ["Targets.member.1.AvailabilityZone", "Targets.member.1.Id", "Targets.member.1.Port"])
    tap.eq((params["Targets.member.1.Id"], params["Targets.member.1.Port"],
            params["Targets.member.1.AvailabilityZone"]), (old["Id"], str(old["Port"]), old["AvailabilityZone"]))


def ok(r):
    """A successful --invoke: exit 0 and the result object."""
    check_clean(r)
    if r.code != 0:
        raise AssertionError("exit %d, stdout %s\nstderr:\n%s" % (r.code, r.stdout, r.stderr[-3000:]))
    for key in ("trigger", "eventId", "sourceId", "endpoint", "port", "targetGroupArn", "resolved", "rejected",
                "registered", "deregistered", "unchanged", "dryRun", "dnsChanged", "waitedMs", "converged"):
        tap.ok(key in r.json, "result has %s" % key)
    return r.json


def failed(r, error_type, code=1):
    """A handler error: the exit code and the error JSON with this errorType."""
    check_clean(r)
    if r.code != code or r.json.get("errorType") != error_type:
        raise AssertionError("want exit %d %s, got exit %d: %s\nstderr:\n%s"
                             % (code, error_type, r.code, r.stdout, r.stderr[-3000:]))
    tap.eq(sorted(r.json), ["errorMessage", "errorType"], "error JSON keys")
    return r.json["errorMessage"]


def log_lines(stderr):
    return [l for l in stderr.splitlines() if l.strip()]


def emf_lines(stderr):
    out = []
    for line in log_lines(stderr):
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if "_aws" in obj:
                out.append(obj)
    return out
