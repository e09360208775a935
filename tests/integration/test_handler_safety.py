# rns: namespace
"""The safety rules of README.md, "Result" end to end (real ./bootstrap, dnsmasq, fake ELBv2):

1. no usable address (NXDOMAIN, REFUSED, SERVFAIL, resolver stopped or silent, public-only answer)
   deregisters nothing;
2. registering comes first, and a failed registration deregisters nothing;
3. stale targets are deregistered with the exact Id, Port and AvailabilityZone described;
4. draining targets count as not registered, and only those.
Plus dry runs (only DescribeTargetHealth), ALLOWED_CIDRS, IP_FAMILY and TARGET_AVAILABILITY_ZONE.
"""
import re

import const
import events
import stack
import tap
from handler_common import NEW, OLD, REGISTERED_STATES, actions, failed, ok, reset

S = stack.LocalStack().start()
FLIPPED = const.FLIPPED_RECORDS


def unchanged_after_resolve_error(r, *words):
    msg = failed(r, "ResolveError")
    tap.ok(msg.startswith("no usable address for %s" % const.DB_ENDPOINT), msg)
    for w in words:
        tap.ok(w in msg, "%r in %r" % (w, msg))
    tap.eq(actions(S), ["DescribeTargetHealth"], "API calls")
    tap.eq(S.registered(), [OLD], "target group unchanged")
    return msg


# ---- rule 1 ----

@tap.case
def nxdomain_changes_nothing():
    reset(S)
    S.dns.nxdomain(const.DB_ENDPOINT)
    unchanged_after_resolve_error(S.invoke(events.schedule_event()), "NXDOMAIN")


@tap.case
def refused_changes_nothing():
    reset(S)
    S.dns.refuse()
    unchanged_after_resolve_error(S.invoke(events.schedule_event()), "temporary DNS failure")


@tap.case
def servfail_changes_nothing():
    reset(S)
    S.dns.servfail()
    unchanged_after_resolve_error(S.invoke(events.schedule_event()), "temporary DNS failure")


@tap.case
def dnsmasq_stopped_changes_nothing():
    reset(S)
    S.dns.stop()
    try:
        unchanged_after_resolve_error(S.invoke(events.schedule_event()), "temporary DNS failure")
    finally:
        S.dns.start()


@tap.case
def dnsmasq_silent_changes_nothing():
    reset(S)
    S.dns.pause()
    try:
        r = S.invoke(events.schedule_event())
        unchanged_after_resolve_error(r)
        # glibc gives up after about 2 s (timeout:1 attempts:2); a lookup left stuck until the
        # resume would outlast the invocation (60 s): 30 s is far from both
        tap.ok(r.elapsed < 30, "bounded: %.1f s" % r.elapsed)
    finally:
        S.dns.resume()


@tap.case
def silent_resolver_bounded_by_a_short_timeout():
    reset(S)
    S.dns.pause()
    try:
        r = S.invoke(events.schedule_event(), args=("--invoke", "-", "--timeout", "2"))
        msg = failed(r, "ResolveError")
        # Our lookup timeout cut it, set from the 2 s budget (a busy start only shortens it): glibc's
        # own answer, EAI_AGAIN after about 2 s, would read "temporary DNS failure".
        within = re.search(r"no answer within (\d+) ms", msg)
        tap.ok(within and int(within.group(1)) < 2000, msg)
        # The process as a whole, its start included (a busy machine adds seconds): it did not hang
        # on the paused server (that would run into invoke()'s 60 s limit).
        tap.ok(r.elapsed < 20, "answered after %.2f s" % r.elapsed)
        tap.eq(S.registered(), [OLD])
    finally:
        S.dns.resume()


@tap.case
def public_only_answer_changes_nothing():
    reset(S, records={const.DB_ENDPOINT: ["54.239.28.85", "3.5.140.2"]})
    r = S.invoke(events.schedule_event())
    unchanged_after_resolve_error(r, "every address is outside ALLOWED_CIDRS (3.5.140.2, ...)")
    tap.ok("addresses rejected" in r.stderr, "the rejection is logged")


@tap.case
def empty_answer_for_the_family_changes_nothing():
    reset(S)
    unchanged_after_resolve_error(S.invoke(events.schedule_event(), env=S.env(IP_FAMILY="ipv6")),
                                  "no IPv6 (AAAA) address")


@tap.case
def failover_wait_with_no_answer_changes_nothing():
    reset(S)
    S.dns.nxdomain(const.DB_ENDPOINT)
    r = S.invoke(events.rds_event("RDS-EVENT-0049"), env=S.env(FAILOVER_WAIT_SECONDS=2, DNS_POLL_MS=200))
    unchanged_after_resolve_error(r, "during the failover wait", "NXDOMAIN")
    tap.ok(r.elapsed >= 1.5, "it waited for an answer (%.1f s)" % r.elapsed)


@tap.case
def allowed_cidrs_filter_the_answer():
    reset(S, records={const.DB_ENDPOINT: [const.NEW_PRIMARY, "10.20.1.77", "192.0.2.10"]})
    res = ok(S.invoke(events.schedule_event(), env=S.env(ALLOWED_CIDRS=" 10.20.2.0/24 , 10.99.0.0/16")))
    tap.eq(res["resolved"], ["10.20.1.77", const.NEW_PRIMARY, "192.0.2.10"], "resolved, in address order")
    tap.eq(res["rejected"], ["10.20.1.77", "192.0.2.10"])
    tap.eq((res["registered"], res["deregistered"]), ([NEW], [OLD]))
    tap.eq(S.registered(), [NEW])


# ---- rules 2 and 3 ----

@tap.case
def register_before_deregister_exact_target():
    reset(S, targets=[{"Id": const.OLD_PRIMARY, "Port": const.DB_PORT, "AvailabilityZone": "eu-west-1a"}],
          records=FLIPPED)
    ok(S.invoke(events.schedule_event()))
    tap.eq(actions(S), ["DescribeTargetHealth", "RegisterTargets", "DeregisterTargets"])
    params = S.elb.calls_for("DeregisterTargets")[0]["params"]
    tap.eq((params.get("Targets.member.1.Id"), params.get("Targets.member.1.Port"),
            params.get("Targets.member.1.AvailabilityZone")), (const.OLD_PRIMARY, "5432", "eu-west-1a"))
    reg = S.elb.calls_for("RegisterTargets")[0]["params"]
    tap.eq((reg.get("Targets.member.1.Id"), reg.get("Targets.member.1.Port")), (const.NEW_PRIMARY, "5432"))
    tap.ok("Targets.member.1.AvailabilityZone" not in reg, "no AZ unless TARGET_AVAILABILITY_ZONE is set")


@tap.case
def register_failure_deregisters_nothing():
    reset(S, records=FLIPPED)
    S.elb.inject("invalid_target", action="RegisterTargets")
    r = S.invoke(events.rds_event("RDS-EVENT-0049"))
    msg = failed(r, "ElbApiError")
    rid = S.elb.calls_for("RegisterTargets")[0]["request_id"]
    tap.ok(("RegisterTargets failed for %s: InvalidTarget:" % NEW) in msg and ("request id %s" % rid) in msg
           and "1 attempt)" in msg and "nothing was deregistered" in msg, msg)
    tap.eq(actions(S), ["DescribeTargetHealth", "RegisterTargets"])
    tap.eq(S.registered(), [OLD])


@tap.case
def deregister_failure_is_an_error():
    reset(S, records=FLIPPED)
    S.elb.inject("access_denied", action="DeregisterTargets")
    msg = failed(S.invoke(events.schedule_event()), "ElbApiError")
    tap.ok(msg.startswith("DeregisterTargets failed for %s: AccessDenied:" % OLD), msg)
    tap.ok("the new targets are registered" in msg, msg)
    tap.eq(S.registered(), [OLD, NEW])


@tap.case
def describe_failure_changes_nothing():
    reset(S, records=FLIPPED)
    S.elb.inject("tg_not_found", action="DescribeTargetHealth")
    msg = failed(S.invoke(events.schedule_event()), "ElbApiError")
    tap.ok(msg.startswith("DescribeTargetHealth failed: TargetGroupNotFound: One or more target groups not found"),
           msg)
    tap.ok("check TARGET_GROUP_ARN" in msg, msg)
    tap.eq(actions(S), ["DescribeTargetHealth"])


@tap.case
def target_on_the_wrong_port():
    reset(S, targets=["%s:3306" % const.OLD_PRIMARY])
    res = ok(S.invoke(events.schedule_event()))
    tap.eq((res["registered"], res["deregistered"], res["unchanged"]), ([OLD], ["%s:3306" % const.OLD_PRIMARY], []))
    params = S.elb.calls_for("DeregisterTargets")[0]["params"]
    tap.eq(params.get("Targets.member.1.Port"), "3306", "deregistered on its own port")
    tap.eq(S.registered(), [OLD])


# ---- rule 4 ----

@tap.case
def draining_targets_count_as_absent():
    reset(S, targets=[OLD, NEW], deregistration_delay=60)
    # the old primary is the answer: the new one is deregistered and drains for a minute
    res = ok(S.invoke(events.schedule_event()))
    tap.eq((res["deregistered"], res["unchanged"]), ([NEW], [OLD]))
    states = {"%s:%d" % (t["Id"], t["Port"]): t["State"] for t in S.elb.targets(S.target_group_arn)}
    tap.eq(states[NEW], "draining")
    # failback to the draining address: it is registered again, the other deregistered
    S.dns.set_records({const.DB_ENDPOINT: [const.NEW_PRIMARY]})
    S.clear_calls(S.elb)
    res = ok(S.invoke(events.schedule_event()))
    tap.eq((res["registered"], res["deregistered"], res["unchanged"]), ([NEW], [OLD], []))
    # once more: the now-draining old target is not deregistered again
    S.clear_calls(S.elb)
    res = ok(S.invoke(events.schedule_event()))
    tap.eq((res["registered"], res["deregistered"], res["unchanged"]), ([], [], [NEW]))
    tap.eq(actions(S), ["DescribeTargetHealth"])


@tap.case
def every_other_state_is_registered():
    # the answer's target in any other state is held (not registered again), a stale one is
    # deregistered (not left behind as if it were leaving)
    for state, reason in REGISTERED_STATES:
        reset(S, targets=[OLD, NEW])
        for ip in (const.OLD_PRIMARY, const.NEW_PRIMARY):
            S.elb.set_health(S.target_group_arn, ip, const.DB_PORT, state, reason)
        res = ok(S.invoke(events.schedule_event()))
        tap.eq((res["registered"], res["deregistered"], res["unchanged"]), ([], [NEW], [OLD]), state)
        tap.eq(actions(S), ["DescribeTargetHealth", "DeregisterTargets"], state)


# ---- dry runs ----

@tap.case
def dry_run_from_the_environment():
    reset(S, records=FLIPPED)
    r = S.invoke(events.rds_event("RDS-EVENT-0049"), env=S.env(DRY_RUN="true"))
    res = ok(r)
    tap.eq((res["dryRun"], res["registered"], res["deregistered"], res["converged"]), (True, [NEW], [OLD], True))
    tap.eq(actions(S), ["DescribeTargetHealth"])
    tap.eq(S.registered(), [OLD])
    tap.ok("dry run" in r.stderr, "logged as a dry run")


@tap.case
def dry_run_from_the_event():
    reset(S, records=FLIPPED)
    res = ok(S.invoke({"dryRun": True}))
    tap.eq((res["trigger"], res["dryRun"], res["registered"]), ("manual", True, [NEW]))
    tap.eq(actions(S), ["DescribeTargetHealth"])
    tap.eq(S.registered(), [OLD])


@tap.case
def dry_run_with_a_failover_wait():
    reset(S)
    flip = S.dns.flip_at(0.8, {const.DB_ENDPOINT: [const.NEW_PRIMARY]})
    res = ok(S.invoke(events.rds_event("RDS-EVENT-0049"), env=S.env(DRY_RUN="yes")))
    flip.wait(60)
    tap.eq((res["dryRun"], res["dnsChanged"], res["registered"]), (True, True, [NEW]))
    tap.eq(actions(S), ["DescribeTargetHealth"])


# ---- families and zones ----

V6_NEW = "fd00:20::118"
V6_ARN = const.TARGET_GROUP_ARN.replace("orders-db-tg", "orders-db-v6-tg")


@tap.case
def ipv6_and_dual_stack():
    reset(S, targets=[], arn=V6_ARN, vpc=[const.VPC_CIDR, "fd00:20::/56"],
          records={const.DB_ENDPOINT: [const.NEW_PRIMARY, V6_NEW]})
    env = dict(TARGET_GROUP_ARN=V6_ARN, ALLOWED_CIDRS="10.0.0.0/8,fd00::/8")
    res = ok(S.invoke(events.schedule_event(), env=S.env(IP_FAMILY="ipv6", **env)))
    tap.eq((res["resolved"], res["registered"]), ([V6_NEW], ["[%s]:5432" % V6_NEW]))
    S.clear_calls(S.elb)
    res = ok(S.invoke(events.schedule_event(), env=S.env(IP_FAMILY="dual", **env)))
    tap.eq(res["resolved"], [const.NEW_PRIMARY, V6_NEW], "IPv4 before IPv6")
    tap.eq((res["registered"], res["unchanged"]), ([NEW], ["[%s]:5432" % V6_NEW]))
    S.clear_calls(S.elb)
    res = ok(S.invoke(events.schedule_event(), env=S.env(IP_FAMILY="ipv4", **env)))
    tap.eq((res["deregistered"], res["unchanged"]), (["[%s]:5432" % V6_NEW], [NEW]))
    tap.eq(S.elb.registered(V6_ARN), [NEW])


@tap.case
def address_outside_the_vpc_needs_a_zone():
    outside = "172.31.5.5"
    reset(S, records={const.DB_ENDPOINT: [outside]})
    msg = failed(S.invoke(events.schedule_event()), "ElbApiError")
    tap.ok("InvalidTarget" in msg and "TARGET_AVAILABILITY_ZONE=all" in msg, msg)
    tap.eq(S.registered(), [OLD])
    S.clear_calls(S.elb)
    res = ok(S.invoke(events.schedule_event(), env=S.env(TARGET_AVAILABILITY_ZONE="all")))
    tap.eq((res["registered"], res["deregistered"]), (["%s:5432" % outside], [OLD]))
    params = S.elb.calls_for("RegisterTargets")[0]["params"]
    tap.eq(params.get("Targets.member.1.AvailabilityZone"), "all")


try:
    tap.main()
finally:
    S.close()
