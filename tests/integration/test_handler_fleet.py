# rns: namespace
"""Fleet mode (CONTRACT.md section 14) end to end: the real ./bootstrap with FLEET_LOAD_BALANCER_ARNS
against the fake ELBv2 (discovery, tags), dnsmasq and the fake RDS: discovery across two load
balancers (untagged groups and other load balancers' groups never touched), invalid tags, events that
reach only their bindings, unknown sources, isolation (a deleted group, an NXDOMAIN), shards that
cover every binding once, dry-run tags, configuration errors, the race guard, and no secret in any
output (the stack's scan)."""
import json
import os
import subprocess
import tempfile
import threading

import const
import events
import stack
import tap
from stack_proc import spawn

S = stack.LocalStack().start()
LB_A = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/fleet-a/0a1b2c3d4e5f6071"
LB_B = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/fleet-b/1a1b2c3d4e5f6072"
LB_OTHER = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/other/2a1b2c3d4e5f6073"
DOMAIN = "abc123xyz.eu-west-1.rds.amazonaws.com"


def tg(name):
    return "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/%s/%016x" % (name, abs(hash(name)) % 2**63)


def host(db):
    return "%s.%s" % (db, DOMAIN)


def fleet_env(**kw):
    env = dict(TARGET_GROUP_ARN=None, DB_ENDPOINT=None, DB_PORT=None,
               FLEET_LOAD_BALANCER_ARNS="%s, %s" % (LB_A, LB_B))
    env.update(kw)
    return S.env(**env)


def setup(dbs, lb=LB_A, port=5432, extra_tags=None, old="10.20.1.9"):
    """One tagged group per db (dns:<host>), holding `old`; DNS answers 10.30.<i>.10."""
    records = {}
    for i, db in enumerate(dbs):
        tags = {"rds-nlb-sync:source": "dns:" + host(db)}
        tags.update((extra_tags or {}).get(db, {}))
        S.elb.add_target_group(tg(db), ["%s:%d" % (old, port)], port=port, load_balancers=[lb], tags=tags)
        records[host(db)] = ["10.30.%d.10" % (i + 1)]
    S.dns.set_records(records)
    return records


def fresh():
    for arn in list(S.elb._groups):
        S.elb.remove_target_group(arn)
    S.elb.clear_faults()
    S.clear_calls(S.elb)


def run(event, **env):
    r = S.invoke(event, env=fleet_env(**env))
    return r, r.json


def changed_groups():
    return sorted({c["params"]["TargetGroupArn"] for c in S.elb.calls
                   if c["action"] in ("RegisterTargets", "DeregisterTargets")})


@tap.case
def discovery_across_two_load_balancers_touches_only_tagged_groups():
    fresh()
    setup(["fa1", "fa2"], lb=LB_A)
    setup(["fb1"], lb=LB_B)
    S.elb.add_target_group(tg("untagged"), ["10.20.1.9:5432"], load_balancers=[LB_A], tags={"team": "x"})
    S.elb.add_target_group(tg("elsewhere"), ["10.20.1.9:5432"], load_balancers=[LB_OTHER],
                           tags={"rds-nlb-sync:source": "dns:" + host("fa1")})
    r, out = run(events.schedule_event())
    tap.eq(r.code, 0, r.stderr[-2000:])
    tap.eq(out["mode"], "fleet")
    tap.eq([b["targetGroupArn"] for b in out["bindings"]], sorted([tg("fa1"), tg("fa2"), tg("fb1")]))
    tap.eq(out["summary"]["bindings"], 3)
    tap.eq(out["summary"]["changed"], 3)
    tap.eq(out["summary"]["failed"], 0)
    tap.eq(out["summary"]["incomplete"], False)
    tap.ok(out["summary"]["apiCalls"]["elbv2"] >= 2 + 1 + 3 * 3, out["summary"])
    b = [x for x in out["bindings"] if x["targetGroupArn"] == tg("fa1")][0]
    tap.eq((b["source"], b["role"], b["registered"], b["deregistered"]),
           ("dns:" + host("fa1"), "writer", ["10.30.1.10:5432"], ["10.20.1.9:5432"]))
    tap.eq(S.elb.registered(tg("untagged")), ["10.20.1.9:5432"])
    tap.eq(S.elb.registered(tg("elsewhere")), ["10.20.1.9:5432"])
    read = {c["params"].get("TargetGroupArn") or c["params"].get("ResourceArns.member.1") for c in S.elb.calls}
    tap.ok(tg("elsewhere") not in read, "a group of another load balancer was read")
    tap.eq({c["params"].get("LoadBalancerArn") for c in S.elb.calls_for("DescribeTargetGroups")}, {LB_A, LB_B})
    tap.eq(changed_groups(), sorted([tg("fa1"), tg("fa2"), tg("fb1")]))
    tap.ok(all(c["signature_ok"] for c in S.elb.calls), "every signature checked by botocore")


@tap.case
def every_binding_log_line_names_its_target_group():
    """500 bindings share one log: a line about a binding that does not name its group is useless."""
    fresh()
    setup(["lg1", "lg2"])
    r, out = run(events.schedule_event(), AWS_LAMBDA_LOG_FORMAT="JSON")
    tap.eq(r.code, 0, r.stderr[-1500:])
    lines = [json.loads(l) for l in r.stderr.splitlines() if l.startswith("{")]
    lines = [o for o in lines if "_aws" not in o]
    per_binding = ("target group read", "resolved", "plan", "registering targets", "deregistering targets")
    seen = {}
    for o in lines:
        if o["message"] in per_binding:
            seen.setdefault(o.get("targetGroupArn"), set()).add(o["message"])
    tap.eq(sorted(seen, key=str), sorted([tg("lg1"), tg("lg2")]), "lines without a group: %s" % seen.get(None))
    for arn in (tg("lg1"), tg("lg2")):
        tap.eq(seen.get(arn), set(per_binding), arn)


@tap.case
def invalid_tags_fail_their_binding_alone():
    fresh()
    setup(["ok1"], extra_tags={})
    setup(["bad1"], extra_tags={"bad1": {"rds-nlb-sync:role": "readers"}})
    S.elb.add_target_group(tg("bad2"), ["10.20.1.9:5432"], load_balancers=[LB_A],
                           tags={"rds-nlb-sync:source": "ftp:x"})
    r, out = run(events.schedule_event())
    tap.eq(r.code, 1)
    tap.eq(out["errorType"], "FleetError")
    tap.ok(tg("bad1") in out["errorMessage"] and tg("bad2") in out["errorMessage"], out["errorMessage"])
    tap.ok("(ConfigError)" in out["errorMessage"], out["errorMessage"])
    tap.eq(changed_groups(), [tg("ok1")])
    tap.eq(S.elb.registered(tg("bad1")), ["10.20.1.9:5432"])


@tap.case
def event_reaches_only_its_binding_and_unknown_sources_change_nothing():
    fresh()
    setup(["ev1", "ev2", "ev3"])
    r, out = run(events.rds_event("RDS-EVENT-0006", source_id="ev2"))
    tap.eq(r.code, 0, r.stderr[-1500:])
    tap.eq([b["targetGroupArn"] for b in out["bindings"]], [tg("ev2")])
    tap.eq(changed_groups(), [tg("ev2")])
    tap.eq(out["sourceId"], "ev2")
    health = {c["params"]["TargetGroupArn"] for c in S.elb.calls_for("DescribeTargetHealth")}
    tap.eq(health, {tg("ev2")})
    S.clear_calls(S.elb)
    r, out = run(events.rds_event("RDS-EVENT-0049", source_id="nobody-db"))
    tap.eq(r.code, 0, r.stderr[-1500:])
    tap.eq((out["bindings"], out["summary"]["bindings"]), ([], 0))
    tap.eq(changed_groups(), [])


@tap.case
def isolation_deleted_group_and_nxdomain_beside_healthy_bindings():
    fresh()
    setup(["iso1", "iso2", "iso3"])
    S.dns.nxdomain(host("iso2"))
    real_remove = tg("iso3")
    # iso3 is deleted between discovery and its reconcile: DescribeTargetHealth says TargetGroupNotFound
    S.elb.inject("error", action="DescribeTargetHealth", count=1, status=400, code="TargetGroupNotFound",
                 message="One or more target groups not found")
    r, out = run({"targetGroupArn": real_remove})
    tap.eq(r.code, 1)
    tap.eq(out["errorType"], "FleetError")
    S.elb.clear_faults()
    r, out = run(events.schedule_event())
    tap.eq(r.code, 1, r.stdout)
    tap.ok(tg("iso2") in out["errorMessage"] and "ResolveError" in out["errorMessage"], out["errorMessage"])
    tap.eq(S.elb.registered(tg("iso2")), ["10.20.1.9:5432"], "NXDOMAIN: nothing changed")
    tap.eq(S.elb.registered(tg("iso1")), ["10.30.1.10:5432"])
    tap.eq(S.elb.registered(tg("iso3")), ["10.30.3.10:5432"])


@tap.case
def shards_cover_every_binding_exactly_once():
    fresh()
    dbs = ["sh%02d" % i for i in range(12)]
    setup(dbs)
    seen = []
    for k in range(3):
        r, out = run({"shard": k, "shards": 3})
        tap.eq(r.code, 0, r.stderr[-1500:])
        seen += [b["targetGroupArn"] for b in out["bindings"]]
    tap.eq(sorted(seen), sorted(tg(d) for d in dbs))


@tap.case
def dry_run_tag_changes_nothing_in_its_group():
    fresh()
    setup(["dr1", "dr2"], extra_tags={"dr1": {"rds-nlb-sync:dry-run": "true"}})
    r, out = run(events.schedule_event())
    tap.eq(r.code, 0, r.stderr[-1500:])
    b = {x["targetGroupArn"]: x for x in out["bindings"]}
    tap.eq(b[tg("dr1")]["dryRun"], True)
    tap.eq(b[tg("dr1")]["registered"], ["10.30.1.10:5432"])
    tap.eq(changed_groups(), [tg("dr2")])
    tap.eq(S.elb.registered(tg("dr1")), ["10.20.1.9:5432"])
    # DRY_RUN=true holds for every binding
    fresh()
    setup(["dr3", "dr4"])
    r, out = run(events.schedule_event(), DRY_RUN="true")
    tap.eq(r.code, 0, r.stderr[-1500:])
    tap.eq([b["dryRun"] for b in out["bindings"]], [True, True])
    tap.eq([c["action"] for c in S.elb.calls if c["action"] not in ("DescribeTargetGroups", "DescribeTags")],
           ["DescribeTargetHealth"] * 2)


@tap.case
def cloudformation_request_names_its_binding_and_gets_its_answer():
    fresh()
    setup(["cf1", "cf2"])
    S.cfn.reset()
    req = events.cloudformation_event("Create", S.cfn.url())
    req["ResourceProperties"] = {"TargetGroupArn": tg("cf2")}
    r, out = run(req)
    tap.eq(r.code, 0, r.stderr[-1500:])
    tap.eq([b["targetGroupArn"] for b in out["bindings"]], [tg("cf2")])
    tap.eq(out["cloudformationStatus"], "SUCCESS")
    body = json.loads(S.cfn.wait(1)[0]["body"])
    tap.eq(body["Status"], "SUCCESS")
    tap.eq(changed_groups(), [tg("cf2")])
    S.cfn.reset()
    r, out = run(events.cloudformation_event("Delete", S.cfn.url(), physical_id="fleet"))
    tap.eq((r.code, out["bindings"]), (0, []))
    tap.eq(json.loads(S.cfn.wait(1)[0]["body"])["Status"], "SUCCESS")


@tap.case
def capped_sweep_says_incomplete():
    fresh()
    dbs = ["cap%02d" % i for i in range(8)]
    setup(dbs)
    r, out = run(events.schedule_event(), FLEET_MAX_API_CALLS="20")
    tap.eq(r.code, 0, r.stderr[-1500:])
    tap.eq(out["summary"]["incomplete"], True)
    tap.ok(0 < out["summary"]["bindings"] < 8, out["summary"])


@tap.case
def configuration_errors_name_the_variable():
    for env, word in (({"FLEET_LOAD_BALANCER_ARNS": "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/x/1"},
                       "FLEET_LOAD_BALANCER_ARNS"),
                      ({"TARGET_GROUP_ARN": const.TARGET_GROUP_ARN}, "TARGET_GROUP_ARN must be unset"),
                      ({"DB_ENDPOINT": const.DB_ENDPOINT}, "DB_ENDPOINT must be unset"),
                      ({"LISTENER_ARN": "arn:aws:elasticloadbalancing:eu-west-1:%s:listener/net/orders-nlb/"
                                        "50dc6c495c0c9188/f2f7dc8efc522ab2" % const.ACCOUNT},
                       "LISTENER_ARN must be unset"),
                      ({"PROXY_MISSES": "0"}, "PROXY_MISSES")):
        r = S.invoke(events.schedule_event(), env=fleet_env(**env))
        tap.eq(r.code, 2, repr(env))
        tap.eq(r.json["errorType"], "Runtime.ConfigError")
        tap.ok(word in r.json["errorMessage"], r.json["errorMessage"])


@tap.case
def race_guard_keeps_another_runs_recent_registration():
    """Run A read DNS before run B moved the group: the group holds B's new primary (initial) and A's
    answer is the old primary. A registers nothing new but never deregisters B's registration."""
    fresh()
    S.elb.add_target_group(tg("race"), ["10.30.9.10:5432"], load_balancers=[LB_A], state="initial",
                           healthy_after=60, tags={"rds-nlb-sync:source": "dns:" + host("race")})
    S.dns.set_records({host("race"): ["10.20.1.9"]})  # the stale answer run A sees
    r, out = run({"targetGroupArn": tg("race")})
    tap.eq(r.code, 0, r.stderr[-1500:])
    tap.eq(S.elb.registered(tg("race")), ["10.20.1.9:5432", "10.30.9.10:5432"])
    tap.eq(S.elb.calls_for("DeregisterTargets"), [])
    b = out["bindings"][0]
    tap.eq((b["converged"], b["unchanged"]), (False, ["10.30.9.10:5432"]))


@tap.case
def storm_of_20_bindings_waits_in_parallel():
    """One event concerns 20 bindings (one identifier); their DNS names change 0.3 s apart, the last
    ARN's first. Each binding registers its own new primary; the one whose DNS changed first is
    registered before the one whose DNS changed last (5.7 s later), which a run that waited for the
    bindings one after another (in ARN order) could not do."""
    fresh()
    dbs = ["storm%02d" % i for i in range(20)]
    setup(dbs, extra_tags={d: {"rds-nlb-sync:identifier": "storm-db"} for d in dbs})
    S.dns.set_records({host(d): ["10.20.1.9"] for d in dbs})  # DNS still on the old primary
    order = sorted(dbs, key=lambda d: tg(d), reverse=True)  # the flip order: last ARN first
    flips = [S.dns.flip_at(0.3 * (k + 1), {host(d): ["10.40.%d.10" % (k + 1)]}) for k, d in enumerate(order)]
    r, out = run(events.rds_event("RDS-EVENT-0049", source_id="storm-db"), FAILOVER_WAIT_SECONDS="30")
    for f in flips:
        f.wait()
    tap.eq(r.code, 0, r.stderr[-1500:])
    tap.eq(out["summary"]["bindings"], 20)
    by_arn = {b["targetGroupArn"]: b for b in out["bindings"]}
    for k, d in enumerate(order):
        b = by_arn[tg(d)]
        tap.eq((b["dnsChanged"], b["registered"]), (True, ["10.40.%d.10:5432" % (k + 1)]), d)
    regs = [c["params"]["TargetGroupArn"] for c in S.elb.calls_for("RegisterTargets")]
    tap.ok(regs.index(tg(order[0])) < regs.index(tg(order[-1])),
           "the first change waited for the last: %s" % regs[:3])


def stale_invoke(event, hosts_lines, env):
    """./bootstrap --invoke in its own mount namespace whose /etc/hosts answers hosts_lines first
    (getaddrinfo reads it before DNS): a run whose resolver still has the old answer."""
    with tempfile.NamedTemporaryFile("w", suffix=".hosts", delete=False, dir=S.dir) as h:
        h.write("127.0.0.1 localhost\n" + "".join("%s %s\n" % kv for kv in hosts_lines))
    argv = ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$1" --invoke -', h.name,
            S.bootstrap_path]
    proc = spawn(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(json.dumps(event).encode(), timeout=60)
    S.scan.add("stale run", out.decode() + err.decode())
    os.unlink(h.name)
    return proc.returncode, out.decode()


@tap.case
def two_runs_racing_on_one_group_never_deregister_the_new_primary():
    """Run B follows DNS (the new primary Y); run A's resolver still answers the old primary X. Run
    side by side (and A strictly after B, the worst order), A never deregisters Y: B registered it
    moments ago (initial) and A's guard re-reads the group before deregistering."""
    fresh()
    old, new = "10.20.1.9", "10.50.0.10"
    S.elb.add_target_group(tg("race2"), ["%s:5432" % old], load_balancers=[LB_A], healthy_after=60,
                           tags={"rds-nlb-sync:source": "dns:" + host("race2")})
    S.dns.set_records({host("race2"): [new]})
    event = {"targetGroupArn": tg("race2")}
    for round_ in range(4):
        results = {}
        a = threading.Thread(target=lambda: results.setdefault("a", stale_invoke(event, [(old, host("race2"))],
                                                                                 fleet_env())))
        if round_ < 3:
            a.start()
        results["b"] = run(event)[0].code
        if round_ == 3:  # A strictly after B
            a.start()
        a.join()
        tap.eq(results["b"], 0, "run B, round %d" % round_)
        tap.eq(results["a"][0], 0, results["a"][1][-300:])
        deregistered = [c["params"].get("Targets.member.1.Id") for c in S.elb.calls_for("DeregisterTargets")]
        tap.ok(new not in deregistered, "round %d: the new primary was deregistered" % round_)
        tap.ok("%s:5432" % new in S.elb.registered(tg("race2")), "round %d" % round_)
    S.clear_calls(S.elb)


@tap.case
def throttling_under_small_buckets_still_converges():
    fresh()
    dbs = ["thr%02d" % i for i in range(12)]
    setup(dbs)
    S.elb.set_buckets(describe=(4, 4), targets=(2, 2))
    try:
        r, out = run(events.schedule_event(), AWS_MAX_ATTEMPTS="10")
    finally:
        S.elb.set_buckets(describe=None, targets=None)
    tap.eq(r.code, 0, r.stdout[-600:])
    tap.ok(S.elb.throttled > 0, "the fake's buckets never ran dry")
    tap.eq(out["summary"]["failed"], 0)
    tap.eq(sorted(S.elb.registered(tg(d))[0] for d in dbs), sorted("10.30.%d.10:5432" % (i + 1) for i in range(12)))
    tap.ok(all(c["signature_ok"] for c in S.elb.calls), "signatures")


@tap.case
def capped_sweep_resumes_where_it_stopped():
    fresh()
    dbs = ["res%02d" % i for i in range(8)]
    setup(dbs)
    proc = S.start_bootstrap(env=fleet_env(FLEET_MAX_API_CALLS="20"))
    try:
        seen, incomplete = [], []
        for _ in range(3):
            res = S.lambda_invoke(events.schedule_event())
            tap.eq(res["kind"], "response", res.get("body"))
            seen.append([b["targetGroupArn"] for b in res["json"]["bindings"]])
            incomplete.append(res["json"]["summary"]["incomplete"])
    finally:
        S.stop_bootstrap(proc)
    tap.eq(incomplete[0], True)
    tap.ok(seen[1] and seen[1][0] not in seen[0], "the second sweep started over: %s / %s" % (seen[0], seen[1]))
    covered = set()
    for s_ in seen:
        covered |= set(s_)
    tap.eq(sorted(covered), sorted(tg(d) for d in dbs))


@tap.case
def named_binding_tagged_after_the_last_sweep_is_found():
    """database.yml's custom resource names a group tagged moments ago: a warm function whose index
    is still fresh looks it up anyway and populates it."""
    fresh()
    setup(["old1"])
    proc = S.start_bootstrap(env=fleet_env())
    try:
        first = S.lambda_invoke(events.schedule_event())
        tap.eq(first["kind"], "response", first.get("body"))
        S.elb.add_target_group(tg("new1"), [], port=5432, load_balancers=[LB_A],
                               tags={"rds-nlb-sync:source": "dns:" + host("new1")})
        S.dns.set_records({host("old1"): ["10.30.1.10"], host("new1"): ["10.30.2.10"]})
        res = S.lambda_invoke({"targetGroupArn": tg("new1")})
    finally:
        S.stop_bootstrap(proc)
    tap.eq(res["kind"], "response", res.get("body"))
    tap.eq([b["targetGroupArn"] for b in res["json"]["bindings"]], [tg("new1")], "only the named binding")
    tap.eq(S.elb.registered(tg("new1")), ["10.30.2.10:5432"], "the new group is populated")


@tap.case
def paging_past_400_groups():
    fresh()
    for i in range(401):
        S.elb.add_target_group(tg("plain%03d" % i), load_balancers=[LB_A])
    setup(["pg1", "pg2"])
    r, out = run(events.schedule_event())
    tap.eq(r.code, 0, r.stderr[-800:])
    tap.eq(sorted(b["targetGroupArn"] for b in out["bindings"]), sorted([tg("pg1"), tg("pg2")]))
    pages = [c["params"] for c in S.elb.calls_for("DescribeTargetGroups")]
    tap.eq([(p["LoadBalancerArn"], "Marker" in p) for p in pages], [(LB_A, False), (LB_A, True), (LB_B, False)])
    tags = S.elb.calls_for("DescribeTags")
    tap.eq(len(tags), 21)  # 403 groups, 20 a call
    tap.ok(all(len([k for k in c["params"] if k.startswith("ResourceArns.")]) <= 20 for c in tags), "20 ARNs a call")
    # pages, tags, then per binding: DescribeTargetHealth, RegisterTargets, the guard's second read,
    # DeregisterTargets
    tap.eq(out["summary"]["apiCalls"]["elbv2"], 3 + 21 + 2 * 4)


@tap.case
def cluster_member_event_reaches_its_cluster_binding():
    fresh()
    S.reset_cluster()
    S.elb.add_target_group(tg("aur"), ["10.20.1.9:5432"], load_balancers=[LB_A],
                           tags={"rds-nlb-sync:source": "cluster:" + const.CLUSTER_ID})
    setup(["other1"])
    r, out = run(events.rds_event("RDS-EVENT-0006", source_id=const.AURORA_IDS[1]))
    tap.eq(r.code, 0, r.stderr[-1500:])
    tap.eq([b["targetGroupArn"] for b in out["bindings"]], [tg("aur")])
    tap.eq(out["bindings"][0]["registered"], ["%s:5432" % const.AURORA_ADDRESSES[const.AURORA_IDS[0]]])
    tap.eq(changed_groups(), [tg("aur")])


@tap.case
def proxy_hysteresis_across_cold_starts():
    fresh()
    held = ["%s:5432" % a for a in const.PROXY_ADDRESSES]
    S.elb.add_target_group(tg("prx"), held, load_balancers=[LB_A],
                           tags={"rds-nlb-sync:source": "proxy:" + const.PROXY_ENDPOINT})
    gone = const.PROXY_ADDRESSES[1]
    S.dns.set_records({const.PROXY_ENDPOINT: [const.PROXY_ADDRESSES[0], const.PROXY_ADDRESSES[2], "10.20.4.34"]})
    try:
        for n in (1, 2):
            r, out = run(events.schedule_event(), PROXY_MISSES="3")  # each --invoke is a cold start
            tap.eq(r.code, 0, r.stderr[-800:])
            tap.ok("%s:5432" % gone in S.elb.registered(tg("prx")), "run %d deregistered it" % n)
            tap.eq(S.elb.tags(tg("prx")).get("rds-nlb-sync:misses"), "%s=%d" % (gone, n))
        tap.ok("10.20.4.34:5432" in S.elb.registered(tg("prx")), "a new address is registered at once")
        r, out = run(events.schedule_event(), PROXY_MISSES="3")
        tap.eq(r.code, 0)
        tap.ok("%s:5432" % gone not in S.elb.registered(tg("prx")), "the third miss deregisters it")
        tap.eq(S.elb.tags(tg("prx")).get("rds-nlb-sync:misses"), "")
    finally:
        S.dns.set_records({const.PROXY_ENDPOINT: list(const.PROXY_ADDRESSES)})


tap.main()
