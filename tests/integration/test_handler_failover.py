# rns: namespace
"""Failovers end to end: the real ./bootstrap --invoke in a private namespace, dnsmasq whose answer
the test flips mid-run, and the fake ELBv2 (signatures checked by botocore).

The lag between the DNS flip (the moment dnsmasq served the new answer) and the RegisterTargets
call is measured with the fake's monotonic call timestamps and reported; how short it is is a goal
of `make bench`, not of a test. The cases check the order of events instead: the group read and the
wait begun before the flip, the registration after it, and the first answer with the new address
ending the wait (dnsmasq's query log: no poll after it). Wall-clock bounds are the program's own
values (waitedMs, limitMs) or sit far below what the bug would take.
"""
import sys

import const
import events
import stack
import stack_dns
import tap
from handler_common import (NEW, OLD, REGISTERED_STATES, actions, check_deregistered_as_described, failed, ok,
                            our_event, reset)

S = stack.LocalStack().start()
POLL_MS = 500


def call_times(action):
    return [c["time"] for c in S.elb.calls_for(action)]


def invoke_with_flip(event, delay_s, records=None, cnames=None, **env):
    flip = S.dns.flip_at(delay_s, records or {const.DB_ENDPOINT: [const.NEW_PRIMARY]}, cnames)
    mark = S.dns.log_mark()
    r = S.invoke(event, env=S.env(DNS_POLL_MS=POLL_MS, FAILOVER_WAIT_SECONDS=30, **env))
    flip.wait(60)
    return r, flip, S.dns.log(since=mark)


def logged(r, message):
    rec = stack.log_record(r.stderr, message)
    tap.ok(rec, "no log line %r" % message)
    return rec


def check_wait_ended_by_the_flip(r, flip, dns_log, host, address):
    """The wait began before the flip and its first answer with the new address ended it."""
    fields = logged(r, "waiting for DNS to change")[1]
    changed, done = logged(r, "DNS changed")
    # log times are whole milliseconds, cut down
    tap.ok(changed + 0.001 >= flip.began_wall, "DNS changed logged %.3f s before the flip began"
           % (flip.began_wall - changed))
    tap.ok(int(done["waitedMs"]) < int(fields["limitMs"]), "the change, not the limit, ended the wait")
    tap.eq(stack_dns.queries_after_answer(dns_log, host, address), 0, "polls after the first new answer")


def check_converged_after_flip(res, r, flip, dns_log, registered, deregistered, host=const.DB_ENDPOINT):
    tap.eq((res["registered"], res["deregistered"]), (registered, deregistered), "change")
    tap.eq((res["dnsChanged"], res["converged"]), (True, True), "dnsChanged, converged")
    describe, register = call_times("DescribeTargetHealth"), call_times("RegisterTargets")
    tap.ok(describe and describe[0] < flip.time, "the group was read before the flip")
    tap.eq(len(register), 1, "one RegisterTargets call")
    lag = register[0] - flip.time
    # After the flip, and (check_wait_ended_by_the_flip) at the first poll that saw it; how fast is
    # make bench's measure, not a bound here.
    tap.ok(register[0] >= flip.began, "registered %.3f s before the flip began" % (flip.began - register[0]))
    sys.stderr.write("lag flip -> RegisterTargets: %.3f s (poll %d ms)\n" % (lag, POLL_MS))
    check_wait_ended_by_the_flip(r, flip, dns_log, host, registered[0].rsplit(":", 1)[0])
    dereg = call_times("DeregisterTargets")
    tap.ok(len(dereg) == 1 and dereg[0] > register[0], "deregistered once, after registering")
    return lag


@tap.case
def event_before_dns_flips_sns():
    reset(S)
    r, flip, dns_log = invoke_with_flip(events.rds_event("RDS-EVENT-0049"), 1.5)
    res = ok(r)
    check_converged_after_flip(res, r, flip, dns_log, [NEW], [OLD])
    # waited at least from its start to the flip (both on the wall clock), and ended by the change
    # well before its 30 s limit
    began = logged(r, "waiting for DNS to change")[0]
    tap.ok(res["waitedMs"] >= (flip.began_wall - began) * 1000 - 2, "waitedMs %d, flip %.0f ms after the wait"
           " began" % (res["waitedMs"], (flip.began_wall - began) * 1000))
    tap.ok(res["waitedMs"] < 30000, "waitedMs %d" % res["waitedMs"])
    tap.eq(S.registered(), [NEW], "group afterwards")
    tap.ok("waiting for DNS to change" in r.stderr and "DNS changed" in r.stderr, "the wait is logged")


def old_primary_in_state(state, reason):
    """The default group with the old primary in this state: its description (Id, Port, zone)."""
    reset(S)
    S.elb.set_health(S.target_group_arn, const.OLD_PRIMARY, const.DB_PORT, state, reason)
    old = S.elb.targets(S.target_group_arn)
    tap.eq([(t["Id"], t["State"], t["Reason"]) for t in old], [(const.OLD_PRIMARY, state, reason)])
    tap.ok(old[0]["AvailabilityZone"], "the fake gives the old target a zone")
    return old[0]


def event_before_dns_flips_from(state, reason):
    def case():
        old = old_primary_in_state(state, reason)
        r, flip, dns_log = invoke_with_flip(events.rds_event("RDS-EVENT-0049"), 1.0)
        res = ok(r)
        # the old primary is the wait's baseline: its address is no change, the flip is
        check_converged_after_flip(res, r, flip, dns_log, [NEW], [OLD])
        tap.eq(res["unchanged"], [])
        check_deregistered_as_described(S, old)
        tap.ok("%s (%s)" % (OLD, state) in logged(r, "target group read")[1]["targets"], "the state is logged")
        tap.eq(S.registered(), [NEW], "group afterwards")
    case.__name__ = "event_before_dns_flips_old_primary_" + state.replace(".", "_")
    return tap.case(case)


for _state, _reason in REGISTERED_STATES:
    event_before_dns_flips_from(_state, _reason)


@tap.case
def unused_target_warned_with_its_zone():
    old = old_primary_in_state("unused", "Target.NotInUse")
    r = S.invoke(events.schedule_event())
    res = ok(r)
    # registered (rule 4): the answer is no change, and a warning names the target and its zone
    tap.eq((res["registered"], res["deregistered"], res["unchanged"]), ([], [], [OLD]))
    fields = logged(r, "registered target unused by the load balancer")[1]
    tap.eq((fields["target"], fields["availabilityZone"], fields["reason"]),
           (OLD, old["AvailabilityZone"], "Target.NotInUse"))
    line = [l for l in r.stderr.splitlines() if "\tregistered target unused" in l][0]
    tap.eq(line.split("\t")[1], "WARN", "the line's level")


@tap.case
def event_before_dns_flips_eventbridge():
    reset(S)
    r, flip, dns_log = invoke_with_flip(our_event("eventbridge-rds-instance-failover-completed-0049.json"), 1.0)
    check_converged_after_flip(ok(r), r, flip, dns_log, [NEW], [OLD])


@tap.case
def event_before_dns_flips_with_fast_polling():
    reset(S)
    flip = S.dns.flip_at(0.8, {const.DB_ENDPOINT: [const.NEW_PRIMARY]})
    mark = S.dns.log_mark()
    r = S.invoke(events.rds_event("RDS-EVENT-0015"), env=S.env(DNS_POLL_MS=100))
    res = ok(r)
    lag = call_times("RegisterTargets")[0] - flip.wait(60)
    sys.stderr.write("lag flip -> RegisterTargets: %.3f s (poll 100 ms)\n" % lag)
    # the 100 ms reaction is make bench's goal; here: after the flip, at the first poll that saw it
    tap.ok(call_times("RegisterTargets")[0] >= flip.began, "lag %.3f s at a 100 ms poll" % lag)
    check_wait_ended_by_the_flip(r, flip, S.dns.log(since=mark), const.DB_ENDPOINT, const.NEW_PRIMARY)
    tap.eq(logged(r, "waiting for DNS to change")[1]["pollMs"], "100")
    tap.eq(res["registered"], [NEW])


@tap.case
def event_after_dns_flipped_no_waiting():
    reset(S, records=dict(const.FLIPPED_RECORDS))
    r = S.invoke(events.rds_event("RDS-EVENT-0049"), env=S.env(FAILOVER_WAIT_SECONDS=30))
    res = ok(r)
    tap.eq((res["dnsChanged"], res["waitedMs"]), (True, 0))
    tap.ok(stack.log_record(r.stderr, "waiting for DNS to change") is None, "a wait was logged")
    # a wait would last FAILOVER_WAIT_SECONDS (30 s): far above any start-up delay
    tap.ok(r.elapsed < 20, "no wait: %.1f s" % r.elapsed)


@tap.case
def wait_runs_out_without_a_change():
    reset(S)
    mark = S.dns.log_mark()
    r = S.invoke(events.rds_event("RDS-EVENT-0049"), env=S.env(FAILOVER_WAIT_SECONDS=2, DNS_POLL_MS=200))
    res = ok(r)
    tap.eq((res["dnsChanged"], res["converged"]), (False, True))
    # The program's own limit: FAILOVER_WAIT_SECONDS from the run's start (a busy start only makes it
    # shorter). The wait lasts to within one poll of it; the last poll may start late on a busy
    # machine (1.5 s of slack), while a wait not held to FAILOVER_WAIT_SECONDS would run to the
    # default deadline (900 s).
    limit = int(logged(r, "waiting for DNS to change")[1]["limitMs"])
    tap.ok(limit <= 2000, "limitMs %d for a 2 s wait" % limit)
    tap.ok(limit - 200 - 2 <= res["waitedMs"] <= limit + 1500, "waitedMs %d, limitMs %d" % (res["waitedMs"], limit))
    tap.ok("DNS wait over without a change" in r.stderr, "the end of the wait is logged")
    tap.eq((res["registered"], res["deregistered"], res["unchanged"]), ([], [], [OLD]))
    tap.eq(actions(S), ["DescribeTargetHealth"])
    polls = [l for l in S.dns.log(since=mark).splitlines() if "query[A] " + const.DB_ENDPOINT in l]
    # about 10 polls in 2 s at 200 ms; the default 1000 ms poll makes 3, a wait without polls 1
    tap.ok(len(polls) >= 5, "re-resolved every 200 ms (%d queries)" % len(polls))


@tap.case
def wait_limited_by_the_timeout_given():
    reset(S)
    r = S.invoke(events.rds_event("RDS-EVENT-0049"), env=S.env(FAILOVER_WAIT_SECONDS=60, DNS_POLL_MS=200),
                 args=("--invoke", "-", "--timeout", "4"))
    res = ok(r)
    # 4 s budget: the margin is 4/3 s, so the program's own wait limit is at most about 2.7 s (a
    # busy start only makes it shorter); without the cap it would be FAILOVER_WAIT_SECONDS (60 s)
    limit = int(logged(r, "waiting for DNS to change")[1]["limitMs"])
    tap.ok(limit <= 2700, "limitMs %d with a 4 s timeout" % limit)
    # the wait keeps to that limit (one late poll of slack); the uncapped wait would last 60 s
    tap.ok(res["waitedMs"] <= limit + 1500, "waitedMs %d, limitMs %d" % (res["waitedMs"], limit))
    # the process as a whole (its start included): far below the uncapped 60 s wait
    tap.ok(r.elapsed < 20, "answered after %.1f s" % r.elapsed)


@tap.case
def aurora_cluster_cname_retargeted():
    cluster_targets = ["%s:%d" % (const.AURORA_ADDRESS_1, const.DB_PORT)]
    reset(S, targets=cluster_targets)
    env = dict(DB_ENDPOINT=const.AURORA_CLUSTER)
    # the cluster name follows its CNAME to the instance
    res = ok(S.invoke(events.schedule_event(), env=S.env(**env)))
    tap.eq((res["resolved"], res["unchanged"]), ([const.AURORA_ADDRESS_1], cluster_targets))
    tap.eq(actions(S), ["DescribeTargetHealth"])
    # failover: the CNAME moves to instance 2 (dnsmasq restarts for it: a short gap of errors)
    S.clear_calls(S.elb)
    r, flip, dns_log = invoke_with_flip(our_event("eventbridge-rds-cluster-failover-completed-0071-prefixed.json"),
                                        1.2, records={}, cnames={const.AURORA_CLUSTER: const.AURORA_INSTANCE_2},
                                        DB_IDENTIFIER="orders-cluster", **env)
    res = ok(r)
    new = "%s:%d" % (const.AURORA_ADDRESS_2, const.DB_PORT)
    check_converged_after_flip(res, r, flip, dns_log, [new], cluster_targets, host=const.AURORA_CLUSTER)
    tap.eq(res["sourceId"], "orders-cluster")
    tap.eq(S.registered(), [new])


@tap.case
def aurora_default_identifier_is_the_cluster_name():
    reset(S, targets=["%s:%d" % (const.AURORA_ADDRESS_1, const.DB_PORT)])
    event = events.rds_event("RDS-EVENT-0071", source_id="aurora-orders", via="eventbridge")
    r, _, _ = invoke_with_flip(event, 1.0, records={}, cnames={const.AURORA_CLUSTER: const.AURORA_INSTANCE_2},
                               DB_ENDPOINT=const.AURORA_CLUSTER)
    tap.eq(ok(r)["dnsChanged"], True, "DB_IDENTIFIER defaults to aurora-orders")


@tap.case
def rds_proxy_three_addresses():
    reset(S, targets=[])
    env = S.env(DB_ENDPOINT=const.PROXY_ENDPOINT)
    want = ["%s:%d" % (a, const.DB_PORT) for a in const.PROXY_ADDRESSES]
    res = ok(S.invoke(events.schedule_event(), env=env))
    tap.eq(res["resolved"], const.PROXY_ADDRESSES)
    tap.eq((res["registered"], res["deregistered"]), (want, []))
    tap.eq(len(S.elb.calls_for("RegisterTargets")), 1, "one call for the three")
    tap.eq(S.registered(), want)
    S.clear_calls(S.elb)
    res = ok(S.invoke(events.schedule_event(), env=env))
    tap.eq((res["registered"], res["unchanged"]), ([], want), "second run changes nothing")
    tap.eq(actions(S), ["DescribeTags", "DescribeTargetHealth"], "the miss counts, then the group")
    # one proxy address goes away: it leaves after PROXY_MISSES (3) consecutive misses, each run a
    # cold start that reads the counts from the group's tag
    S.dns.set_records({const.PROXY_ENDPOINT: const.PROXY_ADDRESSES[:2]})
    try:
        for n in (1, 2):
            S.clear_calls(S.elb)
            res = ok(S.invoke(events.schedule_event(), env=env))
            tap.eq((res["registered"], res["deregistered"]), ([], []), "miss %d" % n)
            tap.eq(S.elb.tags(S.target_group_arn)["rds-nlb-sync:misses"], "%s=%d" % (const.PROXY_ADDRESSES[2], n))
        res = ok(S.invoke(events.schedule_event(), env=env))
        tap.eq((res["registered"], res["deregistered"]), ([], want[2:]))
        tap.eq(S.elb.tags(S.target_group_arn)["rds-nlb-sync:misses"], "")
    finally:
        S.dns.set_records({const.PROXY_ENDPOINT: list(const.PROXY_ADDRESSES)})


@tap.case
def throttling_during_a_failover():
    reset(S)
    S.elb.inject("throttling", action="DescribeTargetHealth", count=1)
    S.elb.inject("throttling", action="RegisterTargets", count=2)
    S.elb.inject("throttling_exception", action="DeregisterTargets", count=1)
    r, _, _ = invoke_with_flip(events.rds_event("RDS-EVENT-0049"), 1.0)
    res = ok(r)
    tap.eq((res["registered"], res["deregistered"]), ([NEW], [OLD]))
    tap.eq(len(S.elb.calls_for("DescribeTargetHealth")), 2, "describe retried")
    tap.eq(len(S.elb.calls_for("RegisterTargets")), 3, "register retried twice")
    tap.eq(len(S.elb.calls_for("DeregisterTargets")), 2, "deregister retried")
    tap.ok(all(c["signature_ok"] for c in S.elb.calls), "every attempt correctly signed")
    tap.eq(S.registered(), [NEW])


@tap.case
def throttling_beyond_the_attempts():
    reset(S, records=dict(const.FLIPPED_RECORDS))
    S.elb.inject("throttling", action="RegisterTargets", count=3)
    r = S.invoke(events.rds_event("RDS-EVENT-0049"), env=S.env(AWS_MAX_ATTEMPTS=3))
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
