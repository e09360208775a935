"""Failovers end to end: the real ./bootstrap --invoke in a private namespace, dnsmasq whose answer
the test flips mid-run, and the fake ELBv2 (signatures checked by botocore).

The lag between the DNS flip (the moment dnsmasq served the new answer) and the RegisterTargets
call is measured with the fake's monotonic call timestamps; the bound is one DNS_POLL_MS plus a
generous margin for a loaded 2-core machine.
"""
import sys

import stack

stack.enter_namespace()

import tap  # noqa: E402
from handler_common import NEW, OLD, actions, failed, ok, our_event, reset  # noqa: E402

S = stack.LocalStack().start()
POLL_MS = 500
MARGIN_S = 1.5  # scheduling noise on a shared 2-core machine


def call_times(action):
    return [c["time"] for c in S.elb.calls_for(action)]


def invoke_with_flip(event, delay_s, records=None, cnames=None, **env):
    flip = S.dns.flip_at(delay_s, records or {stack.DB_ENDPOINT: [stack.NEW_PRIMARY]}, cnames)
    r = S.invoke(event, env=S.env(DNS_POLL_MS=POLL_MS, FAILOVER_WAIT_SECONDS=30, **env))
    return r, flip.wait(10)


def check_converged_after_flip(res, flip_time, registered, deregistered):
    tap.eq((res["registered"], res["deregistered"]), (registered, deregistered), "change")
    tap.eq((res["dnsChanged"], res["converged"]), (True, True), "dnsChanged, converged")
    describe, register = call_times("DescribeTargetHealth"), call_times("RegisterTargets")
    tap.ok(describe and describe[0] < flip_time, "the group was read before the flip")
    tap.eq(len(register), 1, "one RegisterTargets call")
    lag = register[0] - flip_time
    tap.ok(0 <= lag <= POLL_MS / 1000.0 + MARGIN_S,
           "registered %.3f s after the flip (poll %d ms)" % (lag, POLL_MS))
    sys.stderr.write("lag flip -> RegisterTargets: %.3f s (poll %d ms)\n" % (lag, POLL_MS))
    dereg = call_times("DeregisterTargets")
    tap.ok(len(dereg) == 1 and dereg[0] > register[0], "deregistered once, after registering")
    return lag


@tap.case
def event_before_dns_flips_sns():
    reset(S)
    r, t = invoke_with_flip(stack.rds_event("RDS-EVENT-0049"), 1.5)
    res = ok(r)
    check_converged_after_flip(res, t, [NEW], [OLD])
    tap.ok(1000 <= res["waitedMs"] <= 1500 + POLL_MS + MARGIN_S * 1000, "waitedMs %d" % res["waitedMs"])
    tap.eq(S.registered(), [NEW], "group afterwards")
    tap.ok("waiting for DNS to change" in r.stderr and "DNS changed" in r.stderr, "the wait is logged")


@tap.case
def event_before_dns_flips_eventbridge():
    reset(S)
    r, t = invoke_with_flip(our_event("eventbridge-rds-instance-failover-completed-0049.json"), 1.0)
    check_converged_after_flip(ok(r), t, [NEW], [OLD])


@tap.case
def event_before_dns_flips_with_fast_polling():
    reset(S)
    flip = S.dns.flip_at(0.8, {stack.DB_ENDPOINT: [stack.NEW_PRIMARY]})
    res = ok(S.invoke(stack.rds_event("RDS-EVENT-0015"), env=S.env(DNS_POLL_MS=100)))
    lag = call_times("RegisterTargets")[0] - flip.wait(10)
    sys.stderr.write("lag flip -> RegisterTargets: %.3f s (poll 100 ms)\n" % lag)
    tap.ok(0 <= lag <= 0.1 + MARGIN_S, "lag %.3f s at a 100 ms poll" % lag)
    tap.eq(res["registered"], [NEW])


@tap.case
def event_after_dns_flipped_no_waiting():
    reset(S, records=dict(stack.DEFAULT_RECORDS, **{stack.DB_ENDPOINT: [stack.NEW_PRIMARY]}))
    r = S.invoke(stack.rds_event("RDS-EVENT-0049"), env=S.env(FAILOVER_WAIT_SECONDS=30))
    res = ok(r)
    tap.eq((res["dnsChanged"], res["waitedMs"]), (True, 0))
    tap.ok(r.elapsed < 10, "no wait: %.1f s" % r.elapsed)


@tap.case
def wait_runs_out_without_a_change():
    reset(S)
    r = S.invoke(stack.rds_event("RDS-EVENT-0049"), env=S.env(FAILOVER_WAIT_SECONDS=2, DNS_POLL_MS=200))
    res = ok(r)
    tap.eq((res["dnsChanged"], res["converged"]), (False, True))
    tap.ok(1500 <= res["waitedMs"] <= 2100, "waitedMs %d" % res["waitedMs"])
    tap.eq((res["registered"], res["deregistered"], res["unchanged"]), ([], [], [OLD]))
    tap.eq(actions(S), ["DescribeTargetHealth"])
    polls = [l for l in S.dns.log().splitlines() if "query[A] " + stack.DB_ENDPOINT in l]
    tap.ok(len(polls) >= 8, "re-resolved every 200 ms (%d queries)" % len(polls))


@tap.case
def wait_limited_by_the_timeout_given():
    reset(S)
    r = S.invoke(stack.rds_event("RDS-EVENT-0049"), env=S.env(FAILOVER_WAIT_SECONDS=60, DNS_POLL_MS=200),
                 args=("--invoke", "-", "--timeout", "4"))
    res = ok(r)
    # 4 s budget: the margin is 4/3 s, so the wait stops before about 2.7 s
    tap.ok(res["waitedMs"] <= 2700, "waitedMs %d" % res["waitedMs"])
    tap.ok(r.elapsed < 4.0, "answered within the timeout (%.1f s)" % r.elapsed)


@tap.case
def aurora_cluster_cname_retargeted():
    cluster_targets = ["%s:%d" % (stack.AURORA_ADDRESS_1, stack.DB_PORT)]
    reset(S, targets=cluster_targets)
    env = dict(DB_ENDPOINT=stack.AURORA_CLUSTER)
    # the cluster name follows its CNAME to the instance
    res = ok(S.invoke(stack.schedule_event(), env=S.env(**env)))
    tap.eq((res["resolved"], res["unchanged"]), ([stack.AURORA_ADDRESS_1], cluster_targets))
    tap.eq(actions(S), ["DescribeTargetHealth"])
    # failover: the CNAME moves to instance 2 (dnsmasq restarts for it: a short gap of errors)
    S.elb.reset_calls()
    r, t = invoke_with_flip(our_event("eventbridge-rds-cluster-failover-completed-0071-prefixed.json"), 1.2,
                            records={}, cnames={stack.AURORA_CLUSTER: stack.AURORA_INSTANCE_2},
                            DB_IDENTIFIER="orders-cluster", **env)
    res = ok(r)
    new = "%s:%d" % (stack.AURORA_ADDRESS_2, stack.DB_PORT)
    check_converged_after_flip(res, t, [new], cluster_targets)
    tap.eq(res["sourceId"], "orders-cluster")
    tap.eq(S.registered(), [new])


@tap.case
def aurora_default_identifier_is_the_cluster_name():
    reset(S, targets=["%s:%d" % (stack.AURORA_ADDRESS_1, stack.DB_PORT)])
    event = stack.rds_event("RDS-EVENT-0071", source_id="aurora-orders", via="eventbridge")
    r, t = invoke_with_flip(event, 1.0, records={}, cnames={stack.AURORA_CLUSTER: stack.AURORA_INSTANCE_2},
                            DB_ENDPOINT=stack.AURORA_CLUSTER)
    tap.eq(ok(r)["dnsChanged"], True, "DB_IDENTIFIER defaults to aurora-orders")


@tap.case
def rds_proxy_three_addresses():
    reset(S, targets=[])
    env = S.env(DB_ENDPOINT=stack.PROXY_ENDPOINT)
    want = ["%s:%d" % (a, stack.DB_PORT) for a in stack.PROXY_ADDRESSES]
    res = ok(S.invoke(stack.schedule_event(), env=env))
    tap.eq(res["resolved"], stack.PROXY_ADDRESSES)
    tap.eq((res["registered"], res["deregistered"]), (want, []))
    tap.eq(len(S.elb.calls_for("RegisterTargets")), 1, "one call for the three")
    tap.eq(S.registered(), want)
    S.elb.reset_calls()
    res = ok(S.invoke(stack.schedule_event(), env=env))
    tap.eq((res["registered"], res["unchanged"]), ([], want), "second run changes nothing")
    tap.eq(actions(S), ["DescribeTargetHealth"])
    # one proxy address goes away
    S.dns.set_records({stack.PROXY_ENDPOINT: stack.PROXY_ADDRESSES[:2]})
    S.elb.reset_calls()
    res = ok(S.invoke(stack.schedule_event(), env=env))
    tap.eq((res["registered"], res["deregistered"]), ([], want[2:]))


@tap.case
def throttling_during_a_failover():
    reset(S)
    S.elb.inject("throttling", action="DescribeTargetHealth", count=1)
    S.elb.inject("throttling", action="RegisterTargets", count=2)
    S.elb.inject("throttling_exception", action="DeregisterTargets", count=1)
    r, t = invoke_with_flip(stack.rds_event("RDS-EVENT-0049"), 1.0)
    res = ok(r)
    tap.eq((res["registered"], res["deregistered"]), ([NEW], [OLD]))
    tap.eq(len(S.elb.calls_for("DescribeTargetHealth")), 2, "describe retried")
    tap.eq(len(S.elb.calls_for("RegisterTargets")), 3, "register retried twice")
    tap.eq(len(S.elb.calls_for("DeregisterTargets")), 2, "deregister retried")
    tap.ok(all(c["signature_ok"] for c in S.elb.calls), "every attempt correctly signed")
    tap.eq(S.registered(), [NEW])


@tap.case
def throttling_beyond_the_attempts():
    reset(S, records=dict(stack.DEFAULT_RECORDS, **{stack.DB_ENDPOINT: [stack.NEW_PRIMARY]}))
    S.elb.inject("throttling", action="RegisterTargets", count=3)
    r = S.invoke(stack.rds_event("RDS-EVENT-0049"), env=S.env(AWS_MAX_ATTEMPTS=3))
    msg = failed(r, "ElbApiError")
    request_id = S.elb.calls_for("RegisterTargets")[-1]["request_id"]
    tap.ok(msg.startswith("RegisterTargets failed for %s: Throttling: Rate exceeded (HTTP 400, request id %s, "
                          "3 attempts); nothing was deregistered" % (NEW, request_id)), msg)
    tap.eq(S.elb.calls_for("DeregisterTargets"), [], "nothing deregistered")
    tap.eq(S.registered(), [OLD])


try:
    tap.main()
finally:
    S.close()
