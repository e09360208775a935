# rns: namespace
"""RDS Proxy miss counts (CONTRACT.md section 14, "RDS Proxy"; handler/sync/proxy.c) end to end: the
real ./bootstrap against the fake ELBv2 and dnsmasq. The counts the group's tags hold are the ones a
run uses, also on a warm fleet index that another container's run has overtaken; counts longer than
one tag value spread over numbered tags, and the numbered tags no longer needed are removed; counts
that cannot be read, stored or written fail the binding, naming the group, and no address leaves the
group on a count; an unreadable tag is warned about and rewritten."""
import const
import events
import stack
import tap
from handler_common import failed, ok, reset

S = stack.LocalStack().start()
LB = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/fleet-p/3a1b2c3d4e5f6074"
GROUP = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/prx/0123456789abcdef"
MISSES = "rds-nlb-sync:misses"
KEPT, GONE = const.PROXY_ADDRESSES[0], const.PROXY_ADDRESSES[1]


def fleet(**kw):
    return S.env(TARGET_GROUP_ARN=None, DB_ENDPOINT=None, DB_PORT=None, FLEET_LOAD_BALANCER_ARNS=LB, **kw)


def proxy_group(held, tags=None):
    """The proxy binding's group holding `held` (addresses), DNS answering KEPT only."""
    for arn in list(S.elb._groups):
        S.elb.remove_target_group(arn)
    S.elb.clear_faults()
    S.elb.add_target_group(GROUP, ["%s:5432" % a for a in held], load_balancers=[LB], vpc_cidr="10.0.0.0/8",
                           tags=dict({"rds-nlb-sync:source": "proxy:" + const.PROXY_ENDPOINT}, **(tags or {})))
    S.dns.set_records({const.PROXY_ENDPOINT: [KEPT]})
    S.clear_calls(S.elb)


def counts():
    """The group's counts, all tags together: {address: misses}."""
    tags = S.elb.tags(GROUP)
    out = {}
    for key, value in tags.items():
        if key == MISSES or key.startswith(MISSES + ":"):
            for item in value.split():
                a, n = item.rsplit("=", 1)
                out[a] = int(n)
    return out


def miss_keys():
    return sorted(k for k in S.elb.tags(GROUP) if k.startswith(MISSES))


def binding(out):
    tap.eq(len(out["bindings"]), 1)
    return out["bindings"][0]


@tap.case
def warm_index_reads_the_counts_another_container_wrote():
    """A warm function's index keeps the tags its discovery read; an event run within 5 minutes
    reads the group's counts again (one DescribeTags of one ARN), so the count another container
    wrote meanwhile is the one that goes on: here the third miss, which deregisters."""
    proxy_group([KEPT, GONE])
    proc = S.start_bootstrap(env=fleet(PROXY_MISSES="3"))
    try:
        first = S.lambda_invoke(events.schedule_event())
        tap.eq(first["kind"], "response", first.get("body"))
        tap.eq(counts(), {GONE: 1})
        S.elb.set_tags(GROUP, {MISSES: "%s=2" % GONE})  # another container's run since
        S.clear_calls(S.elb)
        res = S.lambda_invoke(events.rds_event("RDS-EVENT-0006", source_id="orders-proxy"))
    finally:
        S.stop_bootstrap(proc)
    tap.eq(res["kind"], "response", res.get("body"))
    tap.eq(binding(res["json"])["deregistered"], ["%s:5432" % GONE], "the third miss")
    tap.eq(S.elb.registered(GROUP), ["%s:5432" % KEPT])
    tap.eq(S.elb.tags(GROUP)[MISSES], "")
    reads = S.elb.calls_for("DescribeTags")
    tap.eq([[v for k, v in c["params"].items() if k.startswith("ResourceArns.")] for c in reads], [[GROUP]])
    tap.eq(S.elb.calls_for("DescribeTargetGroups"), [], "no discovery: the index was warm")
    tap.eq(res["json"]["summary"]["apiCalls"]["elbv2"], len(S.elb.calls), "every call counted")


@tap.case
def warm_index_forgets_counts_another_container_cleared():
    """The other way round: another container saw the address again and cleared its count; the warm
    run starts it over instead of going on from the count its last discovery read (or wrote)."""
    proxy_group([KEPT, GONE])
    proc = S.start_bootstrap(env=fleet(PROXY_MISSES="3"))
    try:
        for n in (1, 2):  # the second sweep's discovery reads GONE=1
            S.lambda_invoke(events.schedule_event())
            tap.eq(counts(), {GONE: n})
        S.elb.set_tags(GROUP, {MISSES: ""})
        res = S.lambda_invoke(events.rds_event("RDS-EVENT-0006", source_id="orders-proxy"))
    finally:
        S.stop_bootstrap(proc)
    tap.eq(binding(res["json"])["deregistered"], [], "one miss of 3 since the count was cleared")
    tap.eq(counts(), {GONE: 1})


@tap.case
def binding_kept_from_an_earlier_discovery_reads_its_counts_again():
    """The load balancer cannot be read, so its bindings of the last discovery are kept for this run
    (README, Fleet mode): their counts were read then, so the run reads them again, and goes on
    from the count another container wrote meanwhile (the third miss deregisters)."""
    proxy_group([KEPT, GONE])
    proc = S.start_bootstrap(env=fleet(PROXY_MISSES="3"))
    try:
        first = S.lambda_invoke(events.schedule_event())
        tap.eq((first["kind"], counts()), ("response", {GONE: 1}), first.get("body"))
        S.elb.set_tags(GROUP, {MISSES: "%s=2" % GONE})
        S.elb.inject("error", action="DescribeTargetGroups", count=1, status=403, code="AccessDenied",
                     message="not authorized to describe this load balancer")
        S.clear_calls(S.elb)
        res = S.lambda_invoke(events.schedule_event())
    finally:
        S.stop_bootstrap(proc)
    tap.eq(S.elb.registered(GROUP), ["%s:5432" % KEPT], "the third miss deregistered %s" % GONE)
    reads = S.elb.calls_for("DescribeTags")
    tap.eq([[v for k, v in c["params"].items() if k.startswith("ResourceArns.")] for c in reads], [[GROUP]],
           "one read of the kept group's counts")
    tap.eq(res["kind"], "response", "the recent bindings kept cover the load balancer not read")


def addresses(n):
    """n addresses of 13 characters: "10.21.1xx.1xx=1 " takes 16, 16 a tag."""
    return ["10.21.%d.%d" % (100 + i // 100, 100 + i % 100) for i in range(n)]


@tap.case
def counts_spread_over_numbered_tags_and_shrink():
    many = addresses(40)
    proxy_group([KEPT] + many)
    r = S.invoke(events.schedule_event(), env=fleet(PROXY_MISSES="5"))
    tap.eq(r.code, 0, r.stderr[-1500:])
    tap.eq(miss_keys(), [MISSES, MISSES + ":2", MISSES + ":3"])
    tap.ok(all(len(v) <= 256 for v in S.elb.tags(GROUP).values()), "each value within 256 characters")
    tap.eq(counts(), {a: 1 for a in many})
    S.dns.set_records({const.PROXY_ENDPOINT: [KEPT] + many[:30]})  # most are back
    S.clear_calls(S.elb)
    r = S.invoke(events.schedule_event(), env=fleet(PROXY_MISSES="5"))
    tap.eq(r.code, 0, r.stderr[-1500:])
    tap.eq(counts(), {a: 2 for a in many[30:]})
    tap.eq(miss_keys(), [MISSES], "the numbered tags no longer needed are gone")
    removed = S.elb.calls_for("RemoveTags")
    tap.eq(len(removed), 1)
    tap.eq(sorted(v for k, v in removed[0]["params"].items() if k.startswith("TagKeys.")),
           [MISSES + ":2", MISSES + ":3"])
    tap.ok(removed[0]["time"] < S.elb.calls_for("AddTags")[0]["time"], "removed before the new counts")
    tap.eq(r.json["summary"]["apiCalls"]["elbv2"], len(S.elb.calls), "every call counted")


def fleet_failure(r):
    """A fleet run whose one binding failed: the binding's error, from the result in the log."""
    tap.eq((r.code, r.json.get("errorType")), (1, "FleetError"), r.stdout[-600:])
    tap.ok(GROUP in r.json["errorMessage"], r.json["errorMessage"])
    return r.stderr


@tap.case
def counts_that_do_not_fit_fail_the_binding():
    """More missing addresses than 16 tags hold: the binding fails naming its group, nothing leaves
    on a count (PROXY_MISSES=2 would have deregistered the one missed before), the new address is
    registered, the tags are left as they were."""
    many = addresses(300)
    proxy_group(many, tags={MISSES: "%s=1" % many[0]})
    log = fleet_failure(S.invoke(events.schedule_event(), env=fleet(PROXY_MISSES="2")))
    tap.ok("299 missing addresses do not fit in 16 tags" in log, log[-1500:])
    tap.eq(S.elb.calls_for("DeregisterTargets"), [], "nothing deregistered")
    tap.ok("%s:5432" % KEPT in S.elb.registered(GROUP), "the answer's address is registered")
    tap.eq(S.elb.tags(GROUP)[MISSES], "%s=1" % many[0])
    tap.eq(S.elb.calls_for("AddTags"), [])


@tap.case
def counts_not_saved_fail_the_binding():
    """AddTags refused (a policy without it; no room left for the tag): the binding fails, naming the
    group and the call, and the next run counts from the tags as they are."""
    proxy_group([KEPT, GONE])
    S.elb.inject("access_denied", action="AddTags")
    log = fleet_failure(S.invoke(events.schedule_event(), env=fleet(PROXY_MISSES="3")))
    tap.ok("miss counts not saved: AddTags failed" in log and "AccessDenied" in log, log[-1500:])
    tap.eq(counts(), {})
    S.elb.set_tags(GROUP, {"team-%02d" % i: "x" for i in range(49)})  # with the source tag: 50 of 50
    log = fleet_failure(S.invoke(events.schedule_event(), env=fleet(PROXY_MISSES="3")))
    tap.ok("TooManyTags" in log, log[-1500:])
    tap.eq(counts(), {})
    S.elb.remove_tags(GROUP, ["team-00"])
    r = S.invoke(events.schedule_event(), env=fleet(PROXY_MISSES="3"))
    tap.eq(r.code, 0, r.stdout[-600:])
    tap.eq(counts(), {GONE: 1}, "the first miss, as the tags said none")
    tap.ok("%s:5432" % GONE in S.elb.registered(GROUP), "one miss of 3: it stays")


@tap.case
def single_mode_counts_not_read_keep_every_address():
    """Outside fleet mode: DescribeTags of the counts fails; with PROXY_MISSES=1 the missing address
    would leave at once, but the counts are unknown: it stays, and the run fails naming the group.
    The next run reads them and it leaves."""
    reset(S, targets=["%s:%d" % (a, const.DB_PORT) for a in (KEPT, GONE)],
          records={const.PROXY_ENDPOINT: [KEPT]})
    env = S.env(DB_ENDPOINT=const.PROXY_ENDPOINT, PROXY_MISSES="1", AWS_MAX_ATTEMPTS="1")
    S.elb.inject("500", action="DescribeTags")
    message = failed(S.invoke(events.schedule_event(), env=env), "ElbApiError")
    tap.ok(S.target_group_arn in message and "not read" in message and "InternalFailure" in message, message)
    tap.eq(S.elb.calls_for("DeregisterTargets"), [])
    tap.eq(S.registered(), ["%s:%d" % (a, const.DB_PORT) for a in (KEPT, GONE)])
    res = ok(S.invoke(events.schedule_event(), env=env))
    tap.eq(res["deregistered"], ["%s:%d" % (GONE, const.DB_PORT)])


@tap.case
def single_mode_unreadable_tag_is_warned_and_rewritten():
    reset(S, targets=["%s:%d" % (a, const.DB_PORT) for a in (KEPT, GONE)],
          records={const.PROXY_ENDPOINT: [KEPT]})
    S.elb.set_tags(S.target_group_arn, {MISSES: "junk %s=x 10.9.9.9=1" % GONE, MISSES + ":2": "10.9.9.8=1"})
    env = S.env(DB_ENDPOINT=const.PROXY_ENDPOINT, PROXY_MISSES="3")
    r = S.invoke(events.schedule_event(), env=env)
    res = ok(r)
    tap.eq(res["deregistered"], [])
    tap.ok("unreadable items" in r.stderr and S.target_group_arn in r.stderr, r.stderr[-1500:])
    tags = S.elb.tags(S.target_group_arn)
    tap.eq({k: v for k, v in tags.items() if k.startswith(MISSES)}, {MISSES: "%s=1" % GONE},
           "rewritten: the count starts over, the stale tag and addresses not held are gone")


tap.main()
