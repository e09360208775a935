# rns: namespace
"""The fast switch (CONTRACT.md section 13), end to end: the real ./bootstrap with LISTENER_ARN
against the fake ELBv2's listener (DescribeListeners, ModifyListener: signatures checked by botocore,
weights 0..999, the group count, groups of the listener's load balancer only) and its slots, the fake
RDS for cluster mode and dnsmasq for DNS mode.

The listener forwards to three slots (const.SLOT_ARNS). Orderings are read from the fake's log of
calls (their monotonic times), never from timers. Every output is scanned for secrets by the stack.
"""
import threading

import const
import events
import stack
import tap
from handler_common import failed, log_lines, ok

S = stack.LocalStack().start()
L, LB, SLOTS = const.LISTENER_ARN, const.LOAD_BALANCER_ARN, const.SLOT_ARNS
ID1, ID2, ID3 = const.AURORA_IDS
A1, A2, A3 = (const.AURORA_ADDRESSES[i] for i in const.AURORA_IDS)
T1, T2, T3 = ("%s:%d" % (a, const.DB_PORT) for a in (A1, A2, A3))
OLD, NEW = const.OLD_TARGET, const.NEW_TARGET
SLOT_KEYS = ["targetGroupArn", "target", "state", "weight"]


def env(cluster=False, **extra):
    base = dict(const.CLUSTER_ENV) if cluster else {}
    return S.env(**dict(base, LISTENER_ARN=L, TARGET_GROUP_ARN=None, DNS_POLL_MS=100, **extra))


def start(slots, weights=(1, 0, 0), records=None, **group):
    """The slots holding `slots` (a list of target lists), the listener forwarding to them with
    `weights`, DNS and the cluster at the stack's defaults, no faults, no calls."""
    S.reset(records=records)
    for arn, targets in zip(SLOTS, slots):
        S.elb.add_target_group(arn, list(targets), vpc_cidr=const.VPC_CIDR, port=const.DB_PORT, **group)
    S.elb.add_listener(L, LB, list(zip(SLOTS, weights)))
    S.elb.max_groups_per_action, S.elb.all_zero_weights = 5, False
    S.clear_calls()


def held(i):
    return S.elb.registered(SLOTS[i])


def weights():
    return [w for _, w in S.elb.weights(L)]


def calls(*names):
    return [c for c in S.elb.calls if c["action"] in names]


def changes():
    return [(c["action"], SLOTS.index(c["params"].get("TargetGroupArn")) if c["action"] != "ModifyListener" else None)
            for c in calls("RegisterTargets", "DeregisterTargets", "ModifyListener")]


def nothing_changed(slots, w):
    tap.eq(changes(), [], "no RegisterTargets, DeregisterTargets or ModifyListener")
    tap.eq([held(i) for i in range(3)], [sorted(s) for s in slots], "slots unchanged")
    tap.eq(weights(), list(w), "weights unchanged")


def all_signed():
    for fake in (S.elb, S.rds):
        tap.ok(all(c["signature_ok"] for c in fake.calls),
               "%s: every request verified: %s" % (fake.name, [c["signature_error"] for c in fake.calls]))


def log_has(stderr, *words):
    for line in log_lines(stderr):
        if all(w in line for w in words):
            return line
    raise AssertionError("no log line with %s in:\n%s" % (words, stderr[-3000:]))


def check_routing_fields(res, weights_changed):
    tap.eq((res["routing"], res["listenerArn"], res["weightsChanged"]), ("weights", L, weights_changed))
    tap.eq(res["targetGroupArn"], None, "TARGET_GROUP_ARN unset and unused")
    tap.eq([s["targetGroupArn"] for s in res["slots"]], SLOTS, "slots in the listener's order")
    tap.eq(sorted(w for s in res["slots"] for w in [s["weight"]]), [0, 0, 1], "one slot weighted")


# ------------------------------------------------------------ cluster mode ---

@tap.case
def cluster_standbys_filled_by_promotion_tier():
    start([[T1], [], []])
    S.rds.set_member(const.CLUSTER_ID, ID3, tier=0)  # instance-3 before instance-2
    res = ok(S.invoke(events.schedule_event(), env=env(cluster=True)))
    check_routing_fields(res, False)
    tap.eq([(s["target"], s["member"], s["weight"]) for s in res["slots"]],
           [(T1, ID1, 1), (T3, ID3, 0), (T2, ID2, 0)])
    tap.eq([sorted(s) for s in res["slots"]], [sorted(SLOT_KEYS + ["member"])] * 3, "slot keys")
    tap.eq((res["registered"], res["deregistered"], res["unchanged"]), ([T2, T3], [], [T1]))
    tap.eq(changes(), [("RegisterTargets", 1), ("RegisterTargets", 2)], "standbys registered, no weight move")
    tap.eq([held(i) for i in range(3)], [[T1], [T3], [T2]])
    all_signed()
    log_has(S.invoke(events.schedule_event(), env=env(cluster=True)).stderr, "listener read", L)


@tap.case
def standby_candidates_outside_allowed_cidrs_never_registered():
    start([[T1], [], []])
    r = S.invoke(events.schedule_event(), env=env(cluster=True, ALLOWED_CIDRS="%s/32,%s/32" % (A1, A2)))
    res = ok(r)
    tap.eq([held(i) for i in range(3)], [[T1], [T2], []], "instance-3 is outside ALLOWED_CIDRS: its standby stays empty")
    tap.eq(changes(), [("RegisterTargets", 1)])
    tap.eq(res["registered"], [T2])
    log_has(r.stderr, "standby candidate %s is outside ALLOWED_CIDRS" % A3)


@tap.case
def cluster_stale_standby_replaced():
    """A standby holding an address that is no member any more gets the next candidate, registered
    before the stale target leaves; the weighted slot is left alone."""
    gone = "10.20.3.99:%d" % const.DB_PORT
    start([[T1], [T2], [gone]])
    r = S.invoke(events.schedule_event(), env=env(cluster=True))
    res = ok(r)
    tap.eq(changes(), [("RegisterTargets", 2), ("DeregisterTargets", 2)], "register the candidate, then release")
    tap.eq([held(i) for i in range(3)], [[T1], [T2], [T3]])
    tap.eq((res["registered"], res["deregistered"], res["unchanged"], res["weightsChanged"]),
           ([T3], [gone], [T1, T2], False))
    log_has(r.stderr, "stale standby released", gone)


@tap.case
def cluster_failover_is_one_modify_listener():
    start([[T1], [T2], [T3]])
    S.failover(ID2, after_describes=1, dns_lead_s=4.0, dns_cap_s=30)
    r = S.invoke(events.cluster_event("RDS-EVENT-0071"), env=env(cluster=True, FAILOVER_WAIT_SECONDS=30))
    res = ok(r)
    check_routing_fields(res, True)
    tap.eq(changes(), [("ModifyListener", None), ("DeregisterTargets", 0)],
           "the weight moved first, then the demoted primary was released; nothing registered")
    tap.eq(weights(), [0, 1, 0])
    tap.eq((res["registered"], res["deregistered"], res["unchanged"]), ([], [T1], [T2, T3]))
    tap.eq([(s["target"], s["state"], s["member"]) for s in res["slots"]][:2],
           [(T1, "draining", ID1), (T2, "healthy", ID2)])
    modify = calls("ModifyListener")[0]["params"]
    tap.eq({k: v for k, v in modify.items() if k not in ("Action", "Version")}, {
        "ListenerArn": L, "DefaultActions.member.1.Type": "forward",
        "DefaultActions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn": SLOTS[0],
        "DefaultActions.member.1.ForwardConfig.TargetGroups.member.1.Weight": "0",
        "DefaultActions.member.1.ForwardConfig.TargetGroups.member.2.TargetGroupArn": SLOTS[1],
        "DefaultActions.member.1.ForwardConfig.TargetGroups.member.2.Weight": "1",
        "DefaultActions.member.1.ForwardConfig.TargetGroups.member.3.TargetGroupArn": SLOTS[2],
        "DefaultActions.member.1.ForwardConfig.TargetGroups.member.3.Weight": "0"}, "every slot sent")
    log_has(r.stderr, "weight moved", SLOTS[1])
    log_has(r.stderr, "demoted target released", T1)
    all_signed()
    # once the demoted primary has left draining, a later run puts it back in its slot, as a standby
    tap.eventually(lambda: S.elb.targets(SLOTS[0]) == [], "the demoted target leaves draining")
    S.clear_calls()
    res = ok(S.invoke(events.schedule_event(), env=env(cluster=True)))
    tap.eq(changes(), [("RegisterTargets", 0)], "the old primary's slot refilled")
    tap.eq([held(i) for i in range(3)], [[T1], [T2], [T3]])
    tap.eq(res["weightsChanged"], False)


# ---------------------------------------------------------------- DNS mode ---

@tap.case
def dns_new_primary_registered_in_an_empty_slot_then_weighted():
    start([[OLD], [], []], records=const.FLIPPED_RECORDS)
    r = S.invoke(events.schedule_event(), env=env())
    res = ok(r)
    check_routing_fields(res, True)
    tap.eq(changes(), [("RegisterTargets", 1), ("ModifyListener", None), ("DeregisterTargets", 0)],
           "registered in an empty slot, the weight moved at once, then the old primary released")
    tap.eq(weights(), [0, 1, 0])
    tap.eq((res["registered"], res["deregistered"]), ([NEW], [OLD]))
    tap.ok("member" not in res["slots"][0], "no member outside cluster mode")
    log_has(r.stderr, "slot filled", NEW)


@tap.case
def dns_failback_finds_the_old_primary_remembered():
    """The demoted primary's slot is emptied; its tag remembers the address, so a later run (here a cold
    start: a new process) puts it back once it has left draining, and failing back is one ModifyListener."""
    start([[OLD], [], []], records=const.FLIPPED_RECORDS)
    ok(S.invoke(events.schedule_event(), env=env()))
    tap.eq(S.elb.tags(SLOTS[0]).get("rds-nlb-sync:address"), const.OLD_PRIMARY, "slot 1 remembers its address")
    tap.eq(S.elb.tags(SLOTS[1]).get("rds-nlb-sync:address"), const.NEW_PRIMARY)
    tap.eventually(lambda: S.elb.targets(SLOTS[0]) == [], "the demoted target leaves draining")
    S.clear_calls()
    r = S.invoke(events.schedule_event(), env=env())
    ok(r)
    tap.eq(changes(), [("RegisterTargets", 0)], "the old primary back in a standby slot")
    log_has(r.stderr, "slots' memory read", const.OLD_PRIMARY)
    S.dns.set_records(const.DEFAULT_RECORDS, replace=True)
    S.clear_calls()
    res = ok(S.invoke(events.schedule_event(), env=env()))
    tap.eq(changes(), [("ModifyListener", None), ("DeregisterTargets", 1)], "failback: no registration")
    tap.eq((weights(), res["registered"]), ([1, 0, 0], []))


@tap.case
def failed_release_keeps_the_memory_of_the_move():
    """The weight moved, then releasing the demoted primary failed: the slots' memory still records the
    move (who is primary from when, who was until now), or a later failback could not find it."""
    start([[OLD], [], []], records=const.FLIPPED_RECORDS)
    S.elb.inject("error", action="DeregisterTargets", count=None, status=400, code="ValidationError",
                 message="injected")
    msg = failed(S.invoke(events.schedule_event(), env=env()), "ElbApiError")
    tap.ok("DeregisterTargets" in msg and "the weight has moved" in msg, msg)
    tap.eq(weights(), [0, 1, 0])
    tap.eq(S.elb.tags(SLOTS[1]).get("rds-nlb-sync:address"), const.NEW_PRIMARY, "the new primary's slot")
    tap.eq(S.elb.tags(SLOTS[0]).get("rds-nlb-sync:address"), const.OLD_PRIMARY, "the demoted primary's slot")
    tap.ok(int(S.elb.tags(SLOTS[0]).get("rds-nlb-sync:primary-at", "0")) > 0, S.elb.tags(SLOTS[0]))
    S.elb.clear_faults()


@tap.case
def dns_failback_to_a_warm_slot():
    start([[NEW], [OLD], []], weights=(1, 0, 0))
    res = ok(S.invoke(events.schedule_event(), env=env()))
    tap.eq(changes(), [("ModifyListener", None), ("DeregisterTargets", 0)], "no registration: the slot was warm")
    order = [c["action"] for c in S.elb.calls]
    tap.ok(order.index("ModifyListener") < order.index("DescribeTags"),
           "the weight moved before the slots' memory was read: %s" % order)
    tap.eq(weights(), [0, 1, 0])
    tap.eq(res["registered"], [])


@tap.case
def failover_wait_baseline_is_the_weighted_slot():
    start([[OLD], [NEW], []])
    # the answer flips to the warm slot's address a little later
    t = threading.Timer(0.5, lambda: S.dns.set_records(const.FLIPPED_RECORDS, replace=True))
    t.start()
    try:
        res = ok(S.invoke(events.rds_event(), env=env(FAILOVER_WAIT_SECONDS=20)))
    finally:
        t.cancel()
    tap.eq((res["dnsChanged"], res["weightsChanged"]), (True, True))
    tap.eq(weights(), [0, 1, 0])
    tap.ok(res["waitedMs"] > 0, "waited for the answer to leave the weighted slot's address")


@tap.case
def weights_already_right_change_nothing():
    start([[OLD], [NEW], []])
    res = ok(S.invoke(events.schedule_event(), env=env()))
    nothing_changed([[OLD], [NEW], []], [1, 0, 0])
    tap.eq((res["weightsChanged"], res["unchanged"]), (False, [OLD, NEW]))


@tap.case
def dry_run_changes_nothing():
    start([[OLD], [], []], records=const.FLIPPED_RECORDS)
    res = ok(S.invoke(events.schedule_event(), env=env(DRY_RUN="true")))
    nothing_changed([[OLD], [], []], [1, 0, 0])
    tap.eq((res["dryRun"], res["weightsChanged"], res["registered"]), (True, True, [NEW]))
    tap.eq([(sl["target"], sl["weight"]) for sl in res["slots"]], [(OLD, 0), (NEW, 1), (None, 0)],
           "the slots as the run would leave them: targets and weights alike")


# ------------------------------------------------------------------ safety ---

@tap.case
def no_usable_answer_never_moves_the_weight():
    for records in ({const.DB_ENDPOINT: []}, {const.DB_ENDPOINT: ["192.0.2.7"]}):
        start([[OLD], [NEW], []], records=dict(const.DEFAULT_RECORDS, **records))
        failed(S.invoke(events.schedule_event(), env=env()), "ResolveError")
        nothing_changed([[OLD], [NEW], []], [1, 0, 0])


@tap.case
def several_addresses_are_a_resolve_error():
    start([[OLD], [], []], records=dict(const.DEFAULT_RECORDS, **{const.DB_ENDPOINT: [const.OLD_PRIMARY,
                                                                                          const.NEW_PRIMARY]}))
    msg = failed(S.invoke(events.schedule_event(), env=env()), "ResolveError")
    tap.ok("2 allowed addresses" in msg and "nothing was changed" in msg, msg)
    nothing_changed([[OLD], [], []], [1, 0, 0])


@tap.case
def fill_slot_already_holding_the_primary_keeps_it():
    # a standby holding the new primary and another target (a fill whose clear failed last time):
    # the other target leaves, the new primary stays, then the weight moves to it
    other = "10.20.3.33:%d" % const.DB_PORT
    start([[OLD], [NEW, other]], weights=(1, 0), records=const.FLIPPED_RECORDS)
    res = ok(S.invoke(events.schedule_event(), env=env()))
    tap.eq(changes(), [("RegisterTargets", 1), ("DeregisterTargets", 1), ("ModifyListener", None),
                       ("DeregisterTargets", 0)])
    dereg = [c["params"] for c in calls("DeregisterTargets")]
    tap.ok(all(NEW.split(":")[0] not in str(p) for p in dereg), "the new primary never deregistered: %s" % dereg)
    tap.eq((held(1), weights()), ([NEW], [0, 1]), "the weighted slot holds the new primary")
    tap.eq(res["deregistered"], sorted([OLD, other]))


@tap.case
def never_weights_a_draining_slot():
    # the new primary's slot is draining it: the failback goes to another, empty slot
    start([[OLD], [NEW], []], records=const.FLIPPED_RECORDS)
    S.elb.set_health(SLOTS[1], const.NEW_PRIMARY, const.DB_PORT, "draining")
    res = ok(S.invoke(events.schedule_event(), env=env()))
    tap.eq(changes(), [("RegisterTargets", 2), ("ModifyListener", None), ("DeregisterTargets", 0)])
    tap.eq(weights(), [0, 0, 1], "the weight went to the fresh slot, not the draining one")
    tap.eq((res["slots"][1]["state"], res["slots"][2]["target"]), ("draining", NEW))


@tap.case
def modify_listener_failure_keeps_the_demoted_primary():
    start([[OLD], [NEW], []], records=const.FLIPPED_RECORDS)
    S.elb.inject("error", action="ModifyListener", count=None, status=400, code="ValidationError",
                 message="You cannot specify multiple target groups in a single action with a load balancer "
                         "of type 'network'")
    msg = failed(S.invoke(events.schedule_event(), env=env()), "ElbApiError")
    tap.ok("ModifyListener" in msg and "the weight did not move" in msg, msg)
    tap.eq([a for a, _ in changes()], ["ModifyListener"], "no DeregisterTargets after a failed move")
    tap.eq([held(0), weights()], [[OLD], [1, 0, 0]])


@tap.case
def weight_zero_slot_unused_is_warned():
    start([[OLD], [NEW], []])
    S.elb.set_health(SLOTS[1], const.NEW_PRIMARY, const.DB_PORT, "unused", "Target.NotInUse")
    r = S.invoke(events.schedule_event(), env=env())
    ok(r)
    line = log_has(r.stderr, "standby slot not warm", NEW)
    tap.ok("WARN" in line, line)


# ------------------------------------------------------- malformed listener ---

def malformed(action, words):
    start([[OLD], [], []], records=const.FLIPPED_RECORDS)
    S.elb.set_default_action(L, action)
    msg = failed(S.invoke(events.schedule_event(), env=env()), "ListenerError")
    for w in words:
        tap.ok(w in msg, "%r in %r" % (w, msg))
    tap.ok(msg.endswith("nothing was changed"), msg)
    tap.eq(calls("RegisterTargets", "DeregisterTargets", "ModifyListener", "DescribeTargetHealth"), [],
           "nothing read beyond the listener, nothing changed")


@tap.case
def listener_with_one_group_is_a_listener_error():
    malformed({"Type": "forward", "groups": [[SLOTS[0], 1]], "stickiness": None}, ["1 target group", "2 or more"])


@tap.case
def listener_not_forwarding_is_a_listener_error():
    malformed({"Type": "fixed-response", "groups": None}, ['"fixed-response"', "not forward"])


@tap.case
def listener_with_two_actions_is_a_listener_error():
    a = {"Type": "forward", "groups": [[SLOTS[0], 1], [SLOTS[1], 0]], "stickiness": None}
    malformed([a, dict(a)], ["2 default actions"])


@tap.case
def slot_of_another_load_balancer_is_a_listener_error():
    start([[OLD], [], []], records=const.FLIPPED_RECORDS)
    other = const.LOAD_BALANCER_ARN.replace("orders-nlb", "other-nlb")
    S.elb.add_target_group(SLOTS[2], [], vpc_cidr=const.VPC_CIDR, port=const.DB_PORT, load_balancers=[other])
    msg = failed(S.invoke(events.schedule_event(), env=env()), "ListenerError")
    tap.ok("slot 3" in msg and "not a target group of the listener's load balancer" in msg, msg)
    tap.eq(calls("RegisterTargets", "DeregisterTargets", "ModifyListener"), [], "nothing changed")


@tap.case
def slot_not_of_type_ip_is_a_listener_error():
    start([[OLD], [], []], records=const.FLIPPED_RECORDS)
    S.elb.add_target_group(SLOTS[1], [], vpc_cidr=const.VPC_CIDR, port=const.DB_PORT, load_balancers=[LB],
                           target_type="instance")
    msg = failed(S.invoke(events.schedule_event(), env=env()), "ListenerError")
    tap.ok("slot 2" in msg and "target type instance" in msg, msg)
    tap.eq(calls("RegisterTargets", "DeregisterTargets", "ModifyListener"), [], "nothing changed")


@tap.case
def unknown_listener_is_an_elb_api_error():
    start([[OLD], [], []])
    S.elb.remove_listener(L)
    msg = failed(S.invoke(events.schedule_event(), env=env()), "ElbApiError")
    tap.ok("DescribeListeners" in msg and "ListenerNotFound" in msg and "check LISTENER_ARN" in msg, msg)
    tap.ok(msg.endswith("nothing was changed"), msg)


@tap.case
def stickiness_block_is_repeated_unchanged():
    start([[OLD], [NEW], []], records=const.FLIPPED_RECORDS)
    S.elb.set_default_action(L, {"Type": "forward", "groups": [[SLOTS[0], 1], [SLOTS[1], 0], [SLOTS[2], 0]],
                                 "stickiness": (False, None)})
    ok(S.invoke(events.schedule_event(), env=env()))
    p = calls("ModifyListener")[0]["params"]
    tap.eq(p.get("DefaultActions.member.1.ForwardConfig.TargetGroupStickinessConfig.Enabled"), "false")


# ------------------------------------------------- the fake's listener API ---

@tap.case
def fake_listener_validates_as_the_api():
    """botocore (an independent client) against the fake: what it reads, and the API's validation the
    function can meet: weights 0..999, the group count, groups of the listener's load balancer only,
    not every weight 0 (an open question of the reference; configurable)."""
    import boto3
    from botocore.exceptions import ClientError
    start([[OLD], [], []])
    c = boto3.client("elbv2", region_name=const.REGION, endpoint_url=S.elb.url, verify=S.elb.ca_file,
                     aws_access_key_id=S.elb.access_key, aws_secret_access_key=S.elb.secret_key,
                     aws_session_token=S.elb.session_token)
    got = c.describe_listeners(ListenerArns=[L])["Listeners"][0]
    tap.eq((got["LoadBalancerArn"], got["Port"], got["Protocol"]), (LB, const.DB_PORT, "TCP"))
    tap.eq(got["DefaultActions"][0]["ForwardConfig"]["TargetGroups"],
           [{"TargetGroupArn": a, "Weight": w} for a, w in zip(SLOTS, (1, 0, 0))])

    def modify(groups):
        try:
            c.modify_listener(ListenerArn=L, DefaultActions=[{"Type": "forward", "ForwardConfig": {
                "TargetGroups": [{"TargetGroupArn": a, "Weight": w} for a, w in groups]}}])
            return "ok"
        except ClientError as e:
            return e.response["Error"]["Code"]

    extra = ["arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/extra-%d/0%d" % (i, i) for i in range(4)]
    for a in extra[:2] + extra[3:]:
        S.elb.add_target_group(a, [], vpc_cidr=const.VPC_CIDR)
    S.elb.add_target_group(extra[2], [], vpc_cidr=const.VPC_CIDR, load_balancers=[LB.replace("orders", "other")])
    tap.eq(modify([(SLOTS[0], 1000), (SLOTS[1], 0)]), "ValidationError", "weight 1000")
    tap.eq(modify([(SLOTS[0], 0), (SLOTS[1], 0)]), "ValidationError", "every weight 0")
    tap.eq(modify([(a, 1) for a in SLOTS + extra[:2] + extra[3:]]), "ValidationError", "6 groups")
    tap.eq(modify([(SLOTS[0], 1), (extra[2], 0)]), "TargetGroupAssociationLimit", "a group of another LB")
    tap.eq(modify([(SLOTS[0], 1), (SLOTS[0] + "x", 0)]), "TargetGroupNotFound")
    tap.eq(weights(), [1, 0, 0], "no failed call changed the listener")
    tap.eq(modify([(SLOTS[0], 0), (SLOTS[1], 999), (SLOTS[2], 0)]), "ok")
    tap.eq(weights(), [0, 999, 0])
    S.elb.all_zero_weights = True
    tap.eq(modify([(SLOTS[0], 0), (SLOTS[1], 0)]), "ok", "all zero when configured to accept it")
    all_signed()


# ----------------------------------------------------------- configuration ---

@tap.case
def listener_with_readers_or_dual_is_a_config_error():
    for extra, word in ((dict(cluster=True, DB_ROLE="readers"), "DB_ROLE=readers"), (dict(IP_FAMILY="dual"), "IP_FAMILY=dual")):
        r = S.invoke(events.schedule_event(), env=env(**extra))
        tap.ok(r.code != 0 and "LISTENER_ARN" in r.stderr + r.stdout and word in r.stderr + r.stdout,
               "%s: %s %s" % (word, r.stdout, r.stderr[-500:]))


try:
    tap.main()
finally:
    S.close()
