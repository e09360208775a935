# rns: namespace
"""Fleet mode (CONTRACT.md section 14) end to end: the real ./bootstrap with FLEET_LOAD_BALANCER_ARNS
against the fake ELBv2 (discovery, tags), dnsmasq and the fake RDS: discovery across two load
balancers (untagged groups and other load balancers' groups never touched), invalid tags, events that
reach only their bindings, unknown sources, isolation (a deleted group, an NXDOMAIN), shards that
cover every binding once, dry-run tags, configuration errors, the race guard, and no secret in any
output (the stack's scan)."""
import json

import const
import events
import stack
import tap

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
                      ({"PROXY_MISSES": "0"}, "PROXY_MISSES")):
        r = S.invoke(events.schedule_event(), env=fleet_env(**env))
        tap.eq(r.code, 2, env)
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


tap.main()
