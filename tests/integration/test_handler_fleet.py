# rns: namespace
"""Fleet mode (CONTRACT.md section 14) end to end: the real ./bootstrap with FLEET_LOAD_BALANCER_ARNS
against the fake ELBv2 (discovery, tags), dnsmasq and the fake RDS: discovery across two load
balancers (untagged groups and other load balancers' groups never touched), invalid tags, events that
reach only their bindings, unknown sources, isolation (a deleted group, an NXDOMAIN), shards that
cover every binding once, dry-run tags, configuration errors, the race guard, capped sweeps that
resume across cold starts (the cursor tag: rounds, shards, a deleted start, strays, dry runs), and no
secret in any output (the stack's scan)."""
import json
import os
import subprocess
import tempfile
import threading

import const
import events
import fake_elbv2
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
    for lb in (LB_A, LB_B):
        S.elb.add_load_balancer(lb)
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
    for arn, why in ((tg("bad1"), "readers"), (tg("bad2"), "ftp:x")):
        line = [l for l in r.stderr.splitlines() if "binding failed" in l and arn in l]
        tap.ok(line and "ConfigError" in line[0] and why in line[0],
               "the failed binding's message is logged, the result holding only FleetError: %s" % line)


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
    answer is the old primary, also when A asks again before registering (its resolver stays on
    it). A registers the old primary but never deregisters B's registration: both stay until a
    later run (reconcile.h, "Races")."""
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


def write_hosts(path, hosts_lines):
    """Rewrites the file in place (the same inode: a bind mount of it sees the new lines)."""
    with open(path, "w") as h:
        h.write("127.0.0.1 localhost\n" + "".join("%s %s\n" % kv for kv in hosts_lines))


def stale_invoke(event, hosts_lines, env, hosts=None):
    """./bootstrap --invoke in its own mount namespace whose /etc/hosts answers hosts_lines first
    (getaddrinfo reads it before DNS, at every lookup): a run whose resolver still has the old
    answer. hosts: the file to use (the test may rewrite it while the run goes on)."""
    path = hosts or tempfile.mkstemp(suffix=".hosts", dir=S.dir)[1]
    write_hosts(path, hosts_lines)
    argv = ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$1" --invoke -', path,
            S.bootstrap_path]
    proc = spawn(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(json.dumps(event).encode(), timeout=60)
    S.scan.add("stale run", out.decode() + err.decode())
    if hosts is None:
        os.unlink(path)
    return proc.returncode, out.decode()


def race_group(name, old, new):
    """A fresh stack with one group holding `old` (health checks slow: a registration stays initial)
    while DNS answers `new`; the event naming it."""
    fresh()
    S.elb.add_target_group(tg(name), ["%s:5432" % old], load_balancers=[LB_A], healthy_after=60,
                           tags={"rds-nlb-sync:source": "dns:" + host(name)})
    S.dns.set_records({host(name): [new]})
    return {"targetGroupArn": tg(name)}


@tap.case
def two_runs_racing_on_one_group_never_deregister_the_new_primary():
    """Run B follows DNS (the new primary Y); run A's resolver still answers the old primary X. Run
    side by side (and A strictly after B, the worst order), A never deregisters Y: B registered it
    moments ago (initial) and A's guard re-reads the group before deregistering."""
    old, new = "10.20.1.9", "10.50.0.10"
    event = race_group("race2", old, new)
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
def stale_run_after_the_move_leaves_the_new_primary_alone():
    """Run B moves the group from the old primary O to the new one N. Run A's resolver still has
    the O it read before B moved the group (its /etc/hosts), and A reads the group after B's
    change: N is another run's recent registration (initial), so A asks again before registering
    (still O) and registers O. While A's RegisterTargets is in flight its resolver catches up (the
    hosts file no longer names the host: dnsmasq answers N). A's guard answers N and N is still
    registered: A deregisters its own stale O, and the group ends with N alone, never empty."""
    old, new = "10.20.1.9", "10.50.0.11"
    event = race_group("race3", old, new)
    r, out = run(event)  # B
    tap.eq(r.code, 0, r.stderr[-1500:])
    tap.eq(S.elb.registered(tg("race3")), ["%s:5432" % new])
    release = threading.Event()
    S.elb.inject("hang", action="RegisterTargets", release=release)
    hosts = tempfile.mkstemp(suffix=".hosts", dir=S.dir)[1]
    results = {}
    a = threading.Thread(target=lambda: results.setdefault(
        "a", stale_invoke(event, [(old, host("race3"))], fleet_env(), hosts=hosts)))
    a.start()
    try:
        tap.eventually(lambda: S.elb.calls_for("RegisterTargets")[-1]["fault"] == "hang",
                       "A's RegisterTargets of the old primary")
        write_hosts(hosts, [])
    finally:
        release.set()
        a.join()
        os.unlink(hosts)
    code, text = results["a"]
    tap.eq(code, 0, text[-800:])
    regs = S.elb.calls_for("RegisterTargets")[-1]["params"]
    tap.eq(regs.get("Targets.member.1.Id"), old, "A registered on its stale answer")
    tap.eq(S.elb.registered(tg("race3")), ["%s:5432" % new])
    b = json.loads(text)["bindings"][0]
    tap.eq((b["registered"], b["deregistered"], b["unchanged"]), (["%s:5432" % old], ["%s:5432" % old],
                                                                   ["%s:5432" % new]))
    tap.eq([c["params"].get("Targets.member.1.Id") for c in S.elb.calls_for("DeregisterTargets")], [old, old])


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


CURSOR = "rds-nlb-sync:sweep-next"


def cursors():
    """{group ARN: cursor tag value} over every group of the fake."""
    return {arn: S.elb.tags(arn)[CURSOR] for arn in sorted(S.elb._groups) if CURSOR in S.elb.tags(arn)}


def cursor_value(shards, at, nxt):
    return "shards=%d at=%d next=%s" % (shards, at, nxt)


def shard_of(arn, shards):
    """handler/sync/fleet_tags.c's fleet_shard_of: FNV-1a of the ARN, mod shards."""
    h = 2166136261
    for byte in arn.encode():
        h = ((h ^ byte) * 16777619) % 2**32
    return h % shards


def tag_calls():
    return [c for c in S.elb.calls if c["action"] in ("AddTags", "RemoveTags")]


def bound(prefix, n, **kw):
    """A fresh fake with n bindings, prefix00 and on; their ARNs in a sweep's order."""
    fresh()
    dbs = ["%s%02d" % (prefix, i) for i in range(n)]
    setup(dbs, **kw)
    return sorted(tg(d) for d in dbs)


# How many bindings a capped sweep starts depends on how fast they finish (fleet_run.c take_job: a
# binding starts while the calls used, the cursor's reserve and FLEET_CALLS_PER_BINDING for each
# running one fit under the cap), so on a busy machine more of them start. With the 3 discovery
# calls of fresh()'s two load balancers and the cursor's AddTags, the smallest cap (20) starts at
# least 4 and at most 13 bindings whatever the timing: a sweep of 14 or more is always capped.
CAP = "20"
CAPPED = 14


def cold_sweeps(order, count, event=None, cap=CAP, at=0, **env):
    """count sweeps, each a new ./bootstrap --invoke (a cold start), checking that each one handles
    the bindings that follow, in the cyclic ARN order `order`, the last one the previous sweep
    handled (the first: order[at]); returns the handled lists, each in its sweep's order."""
    handled = []
    for n in range(count):
        S.clear_calls(S.elb)
        r, out = run(event or events.schedule_event(), FLEET_MAX_API_CALLS=cap, **env)
        tap.eq(r.code, 0, r.stderr[-1500:])
        got = [b["targetGroupArn"] for b in out["bindings"]]
        want = [order[(at + k) % len(order)] for k in range(len(got))]
        tap.ok(got and sorted(got) == sorted(want), "sweep %d takes up where the last stopped: %s, want %s"
               % (n + 1, [a.split("/")[1] for a in got], [a.split("/")[1] for a in want]))
        tap.eq(out["summary"]["incomplete"], len(got) < len(order), "sweep %d incomplete" % (n + 1))
        tap.ok(out["summary"]["apiCalls"]["elbv2"] <= int(cap), "the cursor's calls fit under the cap: %s"
               % out["summary"]["apiCalls"])
        at += len(got)
        handled.append(want)
    return handled


@tap.case
def capped_sweep_resumes_after_a_cold_start():
    """Issue 23: the position lived in the warm container only; a cold start began again at the first
    binding, so the tail of a fleet larger than one capped sweep was never swept."""
    order = bound("cold", CAPPED)
    first, second = cold_sweeps(order, 2)
    tap.ok(len(first) < CAPPED, "the first sweep is capped")
    tap.eq(list(cursors()), [order[0]], "one cursor, on the first group")
    nxt = order[(len(first) + len(second)) % len(order)]
    tap.ok(cursors()[order[0]].startswith("shards=1 at=") and cursors()[order[0]].endswith(" next=" + nxt),
           cursors())
    tap.eq([c["action"] for c in tag_calls()], ["AddTags"], "one AddTags moves it")


@tap.case
def capped_sweeps_cover_every_binding_once_a_round():
    order = bound("round", CAPPED)
    flat = []
    while len(flat) < 2 * CAPPED:  # two rounds; a sweep starts 4 bindings at least (CAP)
        flat += cold_sweeps(order, 1, at=len(flat))[0]
    for n in range(len(flat) // CAPPED):
        tap.eq(sorted(flat[CAPPED * n:CAPPED * (n + 1)]), order, "round %d: every binding once" % (n + 1))
    tap.eq(sorted(S.elb.registered(a)[0] for a in order),
           sorted("10.30.%d.10:5432" % (i + 1) for i in range(CAPPED)))


@tap.case
def shards_keep_their_own_cursors():
    fresh()
    orders = [[], []]
    for i in range(100):  # CAPPED bindings in each of the two shards
        arn = tg("shc%02d" % i)
        if len(orders[shard_of(arn, 2)]) < CAPPED:
            orders[shard_of(arn, 2)].append(arn)
    orders = [sorted(o) for o in orders]
    setup([a.split("/")[1] for a in orders[0] + orders[1]])
    for k in range(2):
        r, out = run({"shard": k, "shards": 2})
        tap.eq(sorted(b["targetGroupArn"] for b in out["bindings"]), orders[k], "shard %d, as fleet_shard_of" % k)
    tap.eq(cursors(), {}, "complete sweeps leave no cursor")
    at = [0, 0]
    for n in range(6):  # the shards in turn, each from its own cursor
        k = n % 2
        at[k] += len(cold_sweeps(orders[k], 1, {"shard": k, "shards": 2}, at=at[k])[0])
    held = cursors()
    tap.eq(sorted(held), sorted(o[0] for o in orders), "one cursor a shard, on its first group")
    for k, o in enumerate(orders):
        tap.ok(held[o[0]].startswith("shards=2 ") and held[o[0]].endswith(" next=" + o[at[k] % len(o)]), held[o[0]])


@tap.case
def cursor_naming_a_deleted_group_starts_at_the_next():
    order = bound("del", 8)
    S.elb.set_tags(order[0], {CURSOR: cursor_value(1, 1000, order[3])})
    S.elb.remove_target_group(order[3])
    r, out = run(events.schedule_event(), FLEET_MAX_API_CALLS="20")
    tap.eq(r.code, 0, r.stderr[-1500:])
    got = sorted(b["targetGroupArn"] for b in out["bindings"])
    tap.ok(got and got == order[4:4 + len(got)], "from the next ARN: %s" % got)
    # an ARN past the last one wraps to the first
    S.elb.set_tags(order[0], {CURSOR: cursor_value(1, 1000, order[-1] + "z")})
    r, out = run(events.schedule_event(), FLEET_MAX_API_CALLS="20")
    got = sorted(b["targetGroupArn"] for b in out["bindings"])
    tap.ok(got and got == [a for a in order if a != order[3]][:len(got)], "from the first: %s" % got)


@tap.case
def stray_cursor_left_by_a_crash_loses_to_the_newest():
    """A crash (or a holder that changed) can leave two cursors of one shard: the newest wins and
    the sweep removes the other; cursors of another shard count and invalid ones are left alone."""
    order = bound("str", 8, extra_tags={"str07": {"rds-nlb-sync:source": "dns:"}})  # str07: invalid, never touched
    S.elb.set_tags(order[2], {CURSOR: cursor_value(1, 1000, order[1])})
    S.elb.set_tags(order[5], {CURSOR: cursor_value(1, 2000, order[4])})
    S.elb.set_tags(order[6], {CURSOR: cursor_value(3, 3000, order[0])})
    S.elb.set_tags(order[7], {CURSOR: cursor_value(1, 4000, order[0])})
    r, out = run(events.schedule_event(), FLEET_MAX_API_CALLS="20")
    tap.eq(r.code, 0, r.stderr[-1500:])
    got = [b["targetGroupArn"] for b in out["bindings"]]
    tap.ok(tg("str07") not in got, "the sweep stops before the invalid binding: %s" % got)
    tap.eq(sorted(got), order[4:4 + len(got)], "from the newest cursor of the shard")
    held = cursors()
    tap.eq(sorted(held), [order[0], order[6], order[7]], "the stray went; the other count's and the invalid "
           "group's stay")
    tap.ok(held[order[0]].endswith(" next=" + order[4 + len(got)]), held)
    removes = [c for c in tag_calls() if c["action"] == "RemoveTags"]
    tap.eq(sorted([v for k, v in c["params"].items() if k.startswith("ResourceArns.")] for c in removes),
           [[order[2]], [order[5]]], "a RemoveTags for each stray")
    tap.ok(out["summary"]["apiCalls"]["elbv2"] <= 20, out["summary"])


@tap.case
def cursor_that_cannot_be_saved_is_a_warning():
    """AddTags refused (an IAM policy without it, say): the sweep's bindings stand, the old cursors stay
    (no RemoveTags), and the log says why."""
    order = bound("ns", 8)
    S.elb.set_tags(order[1], {CURSOR: cursor_value(1, 1000, order[2])})
    S.elb.inject("access_denied", action="AddTags")
    r, out = run(events.schedule_event(), FLEET_MAX_API_CALLS="20")
    tap.eq(r.code, 0, r.stderr[-1500:])
    tap.eq((out["summary"]["incomplete"], out["summary"]["failed"]), (True, 0))
    tap.eq([c["action"] for c in tag_calls()], ["AddTags"], "one refused AddTags, no RemoveTags")
    tap.eq(cursors(), {order[1]: cursor_value(1, 1000, order[2])})
    tap.ok("sweep cursor not saved on %s: AccessDenied" % order[0] in r.stderr, r.stderr[-1500:])


@tap.case
def sweep_with_an_unread_load_balancer_leaves_every_cursor():
    """LB_B is deleted (a cold start: nothing to keep), and its group holds the newest cursor: the
    sweep starts from the newest it can read, and neither moves a cursor (the unread bindings may sort
    before where it stopped) nor removes one, capped or not. Once LB_B is read again, the sweep goes
    on from LB_B's cursor, writes the holder's and removes LB_B's."""
    order = bound("unr", 8)
    late = tg("unrz")  # sorts after every LB_A group
    held = {order[0]: cursor_value(1, 1000, order[3]), late: cursor_value(1, 2000, order[5])}
    S.elb.add_target_group(late, ["10.20.1.9:5432"], load_balancers=[LB_B],
                           tags={"rds-nlb-sync:source": "dns:" + host("unr00"), CURSOR: held[late]})
    S.elb.set_tags(order[0], {CURSOR: held[order[0]]})
    S.elb.remove_load_balancer(LB_B)
    try:
        r, out = run(events.schedule_event(), FLEET_MAX_API_CALLS="20")
        tap.eq((r.code, out.get("errorType")), (1, "FleetError"), r.stderr[-1500:])
        tap.eq([u["loadBalancerArn"] for u in unread_logged(r.stderr) or []], [LB_B])
        tap.eq((S.elb.registered(order[3]), S.elb.registered(order[0])), (["10.30.4.10:5432"], ["10.20.1.9:5432"]),
               "capped, from the cursor it read (%s's)" % order[0])
        tap.eq(tag_calls(), [], "capped: no AddTags, no RemoveTags")
        tap.eq(cursors(), held, "both cursors as they were")
        r, out = run(events.schedule_event())
        tap.eq((r.code, out.get("errorType")), (1, "FleetError"), r.stderr[-1500:])
        tap.eq(tag_calls(), [], "every binding it read swept: still none")
        tap.eq(cursors(), held)
    finally:
        S.elb.add_load_balancer(LB_B)
    S.elb.remove_target_group(late)
    S.elb.add_target_group(late, ["10.20.1.9:5432"], load_balancers=[LB_B],
                           tags={"rds-nlb-sync:source": "dns:" + host("unr00"), CURSOR: held[late]})
    r, out = run(events.schedule_event(), FLEET_MAX_API_CALLS="20")
    tap.eq(r.code, 0, r.stderr[-1500:])
    got = sorted(b["targetGroupArn"] for b in out["bindings"])
    every = sorted(order + [late])  # LB_B's group too: the sweep may reach it (3 or 4 bindings start)
    tap.ok(got and got == every[5:5 + len(got)], "from LB_B's newer cursor: %s" % got)
    tap.eq(sorted(cursors()), [order[0]], "the holder's cursor moved, LB_B's went")


@tap.case
def kept_bindings_cursor_is_neither_read_nor_removed():
    """A warm function's capped sweep could not remove the stray cursor of an LB_A group (RemoveTags
    denied). The next sweep cannot read LB_A: its bindings of the last discovery are kept and swept, the
    sweep goes on from where the last one stopped, and the stray, on a group this run did not read
    (its cursor may have changed since), is left; the next sweep that reads it removes it."""
    fresh()
    setup(["kpa%02d" % i for i in range(CAPPED - 1)], lb=LB_A)
    holder, stray = tg("kp0"), tg("kpa05")  # kp0, on LB_B, sorts first: it holds the cursor
    S.elb.add_target_group(holder, ["10.20.1.9:5432"], load_balancers=[LB_B],
                           tags={"rds-nlb-sync:source": "dns:" + host("kpa00")})
    order = sorted([holder] + [tg("kpa%02d" % i) for i in range(CAPPED - 1)])
    S.elb.set_tags(stray, {CURSOR: cursor_value(1, 5000, tg("kpa02"))})
    calls = []

    def before(*faults):
        def go():
            calls.append(tag_calls())
            S.clear_calls(S.elb)
            for action in faults:
                S.elb.inject("access_denied", action=action)
        return go

    sweep = events.schedule_event()
    res = warm(fleet_env(FLEET_MAX_API_CALLS=CAP), [(sweep, before("RemoveTags")),
                                                     (sweep, before("DescribeTargetGroups")), (sweep, before())])
    tap.eq([r["kind"] for r in res], ["response"] * 3, " / ".join(map(said, res)))
    at = order.index(tg("kpa02"))
    for n, r in enumerate(res[:2]):
        got = arns_of(r)
        want = [order[(at + k) % len(order)] for k in range(len(got))]
        tap.ok(got and sorted(got) == sorted(want), "sweep %d from where the last stopped: %s" % (n + 1, got))
        at += len(got)
    tap.eq([(c["action"], c["params"]["ResourceArns.member.1"]) for c in calls[2]], [("AddTags", holder)],
           "the second sweep moved the holder's cursor and removed nothing")
    tap.eq([(c["action"], c["params"]["ResourceArns.member.1"]) for c in tag_calls() if c["action"] == "RemoveTags"],
           [("RemoveTags", stray)], "the third, which read it, removed the stray")
    tap.ok(stray not in cursors(), cursors())


@tap.case
def dry_runs_named_and_event_runs_never_move_the_cursor():
    order = bound("dry", CAPPED)
    r, out = run({"dryRun": True}, FLEET_MAX_API_CALLS=CAP)
    tap.eq((r.code, out["summary"]["incomplete"]), (0, True))
    tap.eq((cursors(), tag_calls()), ({}, []), "a dry-run sweep writes no cursor")
    S.elb.set_tags(order[0], {CURSOR: cursor_value(1, 1000, order[5])})
    S.clear_calls(S.elb)
    r, out = run({"dryRun": True}, FLEET_MAX_API_CALLS=CAP)
    got = sorted(b["targetGroupArn"] for b in out["bindings"])
    tap.ok(got and got == order[5:5 + len(got)], "a dry run starts where the next sweep will: %s" % got)
    r, out = run(events.schedule_event(), FLEET_MAX_API_CALLS=CAP, DRY_RUN="true")
    tap.eq(r.code, 0, r.stderr[-800:])
    r, out = run({"targetGroupArn": order[1]}, FLEET_MAX_API_CALLS=CAP)
    tap.eq([b["targetGroupArn"] for b in out["bindings"]], [order[1]])
    r, out = run(events.rds_event("RDS-EVENT-0006", source_id="dry02"), FLEET_MAX_API_CALLS=CAP)
    tap.eq([b["targetGroupArn"] for b in out["bindings"]], [tg("dry02")])
    tap.eq(tag_calls(), [], "DRY_RUN, a named binding and an event write no cursor")
    tap.eq(cursors(), {order[0]: cursor_value(1, 1000, order[5])}, "the cursor is as it was")
    tap.eq(S.elb.registered(order[6]), ["10.20.1.9:5432"], "the dry runs changed nothing")


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


def unread_logged(stderr):
    """The "unread" field of the failed run's log line (the groups discovery could not read)."""
    for line in stderr.splitlines():
        at = line.find(" unread=[")
        if at >= 0:
            return json.JSONDecoder().raw_decode(line[at + len(" unread="):])[0]
    return None


def warm(env, invocations):
    """One warm container (the runtime loop) for the invocations: (event, before) pairs, before() run
    ahead of its event. Returns each invocation's result."""
    proc = S.start_bootstrap(env=env)
    out = []
    try:
        for event, before in invocations:
            if before:
                before()
            out.append(S.lambda_invoke(event))
    finally:
        S.stop_bootstrap(proc)
    return out


def said(res):
    return (res.get("body") or b"").decode(errors="replace")[-800:]


def arns_of(res):
    return [b["targetGroupArn"] for b in (res["json"] or {}).get("bindings", [])]


@tap.case
def failed_member_lookup_is_tried_again_by_the_next_event():
    """A member's event the index does not know: the lookup of the cluster's members fails once
    (AccessDenied); the next such event looks them up again and reaches the cluster binding."""
    fresh()
    S.reset_cluster()
    S.elb.add_target_group(tg("aur2"), ["10.20.1.9:5432"], load_balancers=[LB_A],
                           tags={"rds-nlb-sync:source": "cluster:" + const.CLUSTER_ID})
    event = events.rds_event("RDS-EVENT-0006", source_id=const.AURORA_IDS[1])
    res = warm(fleet_env(), [(event, lambda: S.rds.inject("access_denied", action="DescribeDBClusters")),
                             (event, None)])
    tap.eq([r["kind"] for r in res], ["response", "response"], " / ".join(map(said, res)))
    tap.eq(arns_of(res[0]), [], "the failed lookup found nothing")
    tap.eq(arns_of(res[1]), [tg("aur2")], "the second event looked the members up again")
    tap.eq(S.elb.registered(tg("aur2")), ["%s:5432" % const.AURORA_ADDRESSES[const.AURORA_IDS[0]]])
    S.reset_cluster()


@tap.case
def cluster_answering_no_members_stops_routing_its_former_members():
    """The cluster's members are learned (an event of a member), then the cluster answers with none:
    the member map follows that answer, and a former member's event concerns no binding."""
    fresh()
    S.reset_cluster()
    S.elb.add_target_group(tg("aur3"), ["10.20.1.9:5432"], load_balancers=[LB_A],
                           tags={"rds-nlb-sync:source": "cluster:" + const.CLUSTER_ID})
    event = events.rds_event("RDS-EVENT-0006", source_id=const.AURORA_IDS[1])

    def empty_the_cluster():
        for m in const.AURORA_IDS:
            S.rds.remove_member(const.CLUSTER_ID, m)

    res = warm(fleet_env(), [(event, None), ({"targetGroupArn": tg("aur3")}, empty_the_cluster), (event, None)])
    tap.eq(arns_of(res[0]), [tg("aur3")], said(res[0]))
    tap.eq(res[1]["kind"], "error", "no writer among no members: %s" % said(res[1]))
    tap.eq(res[2]["kind"], "response", said(res[2]))
    tap.eq(arns_of(res[2]), [], "a former member's event still reached the cluster")
    S.reset_cluster()


@tap.case
def one_load_balancer_not_read_leaves_the_others_bindings_handled():
    """LB_B is deleted (LoadBalancerNotFound), no index before it (a cold start): LB_A's bindings
    converge, on an event and on a sweep; the result names LB_B under "unread"; the invocation
    fails with FleetError after every binding was handled. A group on both load balancers is one
    binding."""
    fresh()
    setup(["lb1", "lb2"], lb=LB_A)
    S.elb.add_target_group(tg("both"), ["10.20.1.9:5432"], load_balancers=[LB_A, LB_B],
                           tags={"rds-nlb-sync:source": "dns:" + host("lb1")})
    S.elb.remove_load_balancer(LB_B)
    try:
        r, out = run(events.rds_event("RDS-EVENT-0006", source_id="lb2"))
        tap.eq(r.code, 1, r.stderr[-1500:])
        tap.eq(out["errorType"], "FleetError")
        tap.ok(LB_B in out["errorMessage"] and "(ElbApiError)" in out["errorMessage"], out["errorMessage"])
        tap.eq(S.elb.registered(tg("lb2")), ["10.30.2.10:5432"], "the event's binding converged")
        r, out = run(events.schedule_event())
        tap.eq(r.code, 1, r.stderr[-1500:])
        tap.eq(out["errorType"], "FleetError")
        tap.ok(out["errorMessage"].startswith("not read: %s (ElbApiError); 0 of 3 bindings failed" % LB_B),
               out["errorMessage"])
    finally:
        S.elb.add_load_balancer(LB_B)
    unread = unread_logged(r.stderr)
    tap.eq([(u["loadBalancerArn"], u["error"]["errorType"]) for u in unread or []], [(LB_B, "ElbApiError")], str(unread))
    tap.ok("LoadBalancerNotFound" in unread[0]["error"]["errorMessage"], unread)
    tap.eq(S.elb.registered(tg("lb1")), ["10.30.1.10:5432"])
    tap.eq(S.elb.registered(tg("both")), ["10.30.1.10:5432"])


@tap.case
def load_balancer_not_read_keeps_its_recent_bindings():
    """A warm function read both load balancers moments ago; now DescribeTargetGroups of LB_A is
    denied once, then DescribeTags once: the bindings of the last discovery are kept for each sweep
    (and act on a DNS change), and the sweeps succeed. A cold start has no such index: the same
    denial is reported."""
    fresh()
    setup(["kp1"], lb=LB_A)
    setup(["kp2"], lb=LB_B)
    S.dns.set_records({host("kp1"): ["10.30.1.10"], host("kp2"): ["10.30.1.11"]})

    def deny_and_move():
        S.elb.inject("access_denied", action="DescribeTargetGroups")
        S.dns.set_records({host("kp1"): ["10.30.7.10"], host("kp2"): ["10.30.1.11"]})

    def deny_tags_and_move():
        S.elb.inject("access_denied", action="DescribeTags")
        S.dns.set_records({host("kp1"): ["10.30.8.10"], host("kp2"): ["10.30.1.11"]})

    res = warm(fleet_env(), [(events.schedule_event(), None), (events.schedule_event(), deny_and_move),
                             (events.schedule_event(), deny_tags_and_move)])
    tap.eq([r["kind"] for r in res], ["response"] * 3, " / ".join(map(said, res)))
    for r in res[1:]:
        tap.eq(sorted(arns_of(r)), sorted([tg("kp1"), tg("kp2")]))
        tap.ok("unread" not in r["json"], str(r["json"]))
    tap.ok("10.30.8.10:5432" in S.elb.registered(tg("kp1")), "the kept binding followed DNS")
    S.elb.inject("access_denied", action="DescribeTargetGroups")
    r, out = run(events.schedule_event())
    tap.eq((r.code, out["errorType"]), (1, "FleetError"), r.stdout[-600:])
    tap.ok(out["errorMessage"].startswith("not read: %s (ElbApiError)" % LB_A), out["errorMessage"])


@tap.case
def tags_not_read_fail_their_groups_alone():
    """DescribeTags fails for the first 20 groups, in ARN order (a cold start: nothing to keep): those
    groups are untouched and named under "unread"; the 21st group's binding converges; FleetError."""
    fresh()
    setup(["tg1"], lb=LB_A)
    for i in range(20):  # tg1, tg1x00 .. tg1x18 | tg1x19, tg2
        S.elb.add_target_group(tg("tg1x%02d" % i), load_balancers=[LB_A])
    setup(["tg2"], lb=LB_B)
    S.dns.set_records({host("tg1"): ["10.30.1.10"], host("tg2"): ["10.30.2.10"]})
    S.elb.inject("access_denied", action="DescribeTags")
    r, out = run(events.schedule_event())
    tap.eq(r.code, 1, r.stderr[-1500:])
    tap.eq(out["errorType"], "FleetError")
    tap.ok(out["errorMessage"].startswith("not read: the tags of %s (ElbApiError); 0 of 1 bindings failed"
                                          % tg("tg1")), out["errorMessage"])
    unread = unread_logged(r.stderr) or [{}]
    tap.eq(len(unread), 1)
    tap.eq(len(unread[0].get("targetGroupArns", [])), 20, str(unread))
    tap.ok(tg("tg1") in unread[0].get("targetGroupArns", []), unread)
    tap.eq(unread[0]["error"]["errorType"], "ElbApiError")
    tap.eq(S.elb.registered(tg("tg1")), ["10.20.1.9:5432"], "a group whose tags were not read was touched")
    tap.eq(S.elb.registered(tg("tg2")), ["10.30.2.10:5432"])


LOOP_PAGE = ('<DescribeTargetGroupsResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">'
             "<DescribeTargetGroupsResult><TargetGroups/><NextMarker>bG9vcA==</NextMarker>"
             "</DescribeTargetGroupsResult><ResponseMetadata><RequestId>0</RequestId></ResponseMetadata>"
             "</DescribeTargetGroupsResponse>")


@tap.case
def marker_loop_ends_the_load_balancers_discovery():
    """DescribeTargetGroups of LB_A answers the Marker it was sent: LB_A's discovery stops after two
    pages and is reported; LB_B's binding converges."""
    fresh()
    setup(["ml1"], lb=LB_B)
    S.elb.inject("malformed", action="DescribeTargetGroups", count=2, body=LOOP_PAGE)
    r, out = run(events.schedule_event())
    tap.eq(r.code, 1, r.stderr[-1500:])
    pages = [c["params"] for c in S.elb.calls_for("DescribeTargetGroups")]
    tap.eq([(p["LoadBalancerArn"], p.get("Marker")) for p in pages],
           [(LB_A, None), (LB_A, "bG9vcA=="), (LB_B, None)])
    tap.ok(out["errorMessage"].startswith("not read: %s (ElbApiError); 0 of 1 bindings failed" % LB_A),
           out["errorMessage"])
    unread = unread_logged(r.stderr) or [{}]
    tap.ok("pages never end" in unread[0]["error"]["errorMessage"], unread)
    tap.eq(S.elb.registered(tg("ml1")), ["10.30.1.10:5432"])


@tap.case
def tags_answer_listing_a_group_twice_makes_one_binding():
    """A DescribeTags answer that lists one group twice (and a group on both load balancers): one
    binding each, reconciled once."""
    fresh()
    setup(["tw1"], lb=LB_A)
    S.elb.add_target_group(tg("tw2"), ["10.20.1.9:5432"], load_balancers=[LB_A, LB_B],
                           tags={"rds-nlb-sync:source": "dns:" + host("tw1")})
    source = {"rds-nlb-sync:source": "dns:" + host("tw1")}
    body = fake_elbv2.success_xml("DescribeTags", "0", [(tg("tw1"), source), (tg("tw1"), source),
                                                         (tg("tw2"), source)])
    S.elb.inject("malformed", action="DescribeTags", body=body)
    r, out = run(events.schedule_event())
    tap.eq(r.code, 0, r.stderr[-1500:])
    tap.eq([b["targetGroupArn"] for b in out["bindings"]], sorted([tg("tw1"), tg("tw2")]))
    health = [c["params"]["TargetGroupArn"] for c in S.elb.calls_for("DescribeTargetHealth")]
    tap.eq(sorted(set(health)), sorted([tg("tw1"), tg("tw2")]))
    tap.eq(len(S.elb.calls_for("RegisterTargets")), 2)


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
