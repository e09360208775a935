# rns: namespace
"""Clusters through the RDS API (README.md, "Clusters (RDS API mode)"), end to end: the real ./bootstrap against
the fake RDS (every signature checked by botocore, service rds), dnsmasq serving each instance
endpoint and the cluster and reader endpoints, and the fake ELBv2.

The stack's cluster: aurora-orders, instance-1 the writer (10.20.1.21), instance-2 (10.20.2.22)
and instance-3 (10.20.3.23) readers; the cluster endpoint a CNAME to instance-1, the reader
endpoint to instance-2. A failover is staged by moving the writer in the fake RDS and, separately,
the cluster endpoint's CNAME. Orderings are read from the fakes' logs (monotonic times of the
answers and of dnsmasq serving a change), never from timers.
"""
import re

import const
import events
import stack
import stack_dns
import tap
from handler_common import OLD, failed, ok, reset
from secret_scan import SecretScan

S = stack.LocalStack().start()
ID1, ID2, ID3 = const.AURORA_IDS
A1, A2, A3 = (const.AURORA_ADDRESSES[i] for i in const.AURORA_IDS)
T1, T2, T3 = ("%s:%d" % (a, const.DB_PORT) for a in (A1, A2, A3))
ID4 = "aurora-orders-instance-4"
INSTANCE_4 = "aurora-orders-instance-4.abc123xyz.eu-west-1.rds.amazonaws.com"
A4, T4 = "10.20.1.24", "10.20.1.24:%d" % const.DB_PORT
MEMBER_KEYS = ["addresses", "chosen", "endpoint", "id", "status", "writer"]
POLL_MS = 100


def env(**extra):
    return S.env(**dict(const.CLUSTER_ENV, DNS_POLL_MS=POLL_MS, **extra))


def readers_env(**extra):
    return env(DB_ROLE="readers", **extra)


def start(targets=(OLD,), members=None, **cluster):
    """The target group holding targets, DNS at its defaults, the fake RDS at the stack's cluster."""
    reset(S, targets=targets)
    S.reset_cluster(members, **cluster)


def elb_actions():
    return [c["action"] for c in S.elb.calls]


def rds_actions():
    return [c["action"] for c in S.rds.calls]


def changes():
    return [c for c in S.elb.calls if c["action"] in ("RegisterTargets", "DeregisterTargets")]


def nothing_changed(targets):
    tap.eq(changes(), [], "no RegisterTargets or DeregisterTargets call")
    tap.eq(S.registered(), sorted(targets), "target group unchanged")


def all_signed():
    for fake in (S.rds, S.elb):
        tap.ok(all(c["signature_ok"] for c in fake.calls),
               "%s: every request verified: %s" % (fake.name, [c["signature_error"] for c in fake.calls]))


def check_cluster_fields(res, role, chosen, endpoint=None):
    """The section 11 fields: discovery, role, clusterId, members (sorted by id, exact keys),
    resolved/rejected from the chosen members, the endpoint shown."""
    tap.eq((res["discovery"], res["role"], res["clusterId"]), ("rds", role, const.CLUSTER_ID))
    tap.eq(res["endpoint"], endpoint or (const.AURORA_CLUSTER if role == "writer" else const.AURORA_READER))
    ids = [m["id"] for m in res["members"]]
    tap.eq(ids, sorted(ids), "members sorted by id")
    for m in res["members"]:
        tap.eq(sorted(m), MEMBER_KEYS, "member keys")
        if not m["chosen"]:
            tap.eq(m["addresses"], [], "%s: addresses only for chosen members" % m["id"])
    tap.eq([m["id"] for m in res["members"] if m["chosen"]], sorted(chosen), "chosen members")
    addresses = sorted({a for m in res["members"] if m["chosen"] for a in m["addresses"]},
                       key=lambda a: [int(x) for x in a.split(".")])
    tap.eq(res["resolved"], addresses, "resolved: the chosen members' addresses")
    if role == "readers":
        writer = [m for m in res["members"] if m["writer"]]
        tap.ok(not any(m["chosen"] for m in writer), "the writer is never a reader target")


def member(res, member_id):
    return next(m for m in res["members"] if m["id"] == member_id)


def log_has(stderr, *words):
    """A log line holding every word."""
    for line in stderr.splitlines():
        if all(w in line for w in words):
            return line
    raise AssertionError("no log line with %s in:\n%s" % (words, stderr[-3000:]))


# ------------------------------------------------------------- discovery ---

@tap.case
def writer_discovered():
    start()
    r = S.invoke(events.schedule_event(), env=env())
    res = ok(r)
    check_cluster_fields(res, "writer", [ID1])
    tap.eq((res["registered"], res["deregistered"], res["unchanged"]), ([T1], [OLD], []))
    tap.eq((res["dnsChanged"], res["waitedMs"], res["converged"]), (False, 0, True))
    tap.eq(res["members"], [
        {"id": ID1, "writer": True, "status": "available", "endpoint": const.AURORA_INSTANCE_1, "addresses": [A1],
         "chosen": True},
        {"id": ID2, "writer": False, "status": "available", "endpoint": const.AURORA_INSTANCE_2, "addresses": [],
         "chosen": False},
        {"id": ID3, "writer": False, "status": "available", "endpoint": const.AURORA_INSTANCE_3, "addresses": [],
         "chosen": False}])
    tap.eq(S.registered(), [T1])
    tap.eq(rds_actions(), ["DescribeDBClusters", "DescribeDBInstances"])
    tap.eq(S.rds.calls[0]["params"], {"Action": "DescribeDBClusters", "Version": "2014-10-31",
                                      "DBClusterIdentifier": const.CLUSTER_ID})
    tap.eq(S.rds.calls[1]["params"], {"Action": "DescribeDBInstances", "Version": "2014-10-31",
                                      "Filters.Filter.1.Name": "db-cluster-id",
                                      "Filters.Filter.1.Values.Value.1": const.CLUSTER_ID})
    all_signed()
    log_has(r.stderr, "members read", const.CLUSTER_ID)
    log_has(r.stderr, "writer chosen", ID1)
    queried = [l for l in S.dns.log().splitlines() if "query[" in l]
    tap.ok(not any(const.AURORA_CLUSTER + " " in l for l in queried),
           "the cluster endpoint is not looked up in RDS API mode")
    # a second run changes nothing
    S.clear_calls(S.elb)
    res = ok(S.invoke(events.schedule_event(), env=env()))
    tap.eq((res["registered"], res["deregistered"], res["unchanged"]), ([], [], [T1]))


@tap.case
def dns_mode_says_dns():
    start()
    res = ok(S.invoke(events.schedule_event()))
    tap.eq(res["discovery"], "dns")
    tap.ok(not {"role", "clusterId", "members"} & set(res), "no cluster fields in DNS mode: %s" % sorted(res))
    tap.eq(S.rds.calls, [], "no RDS call in DNS mode")


@tap.case
def db_endpoint_shown_when_set():
    start(targets=[T1])
    res = ok(S.invoke(events.schedule_event(), env=env(DB_ENDPOINT="orders.example.internal")))
    check_cluster_fields(res, "writer", [ID1], endpoint="orders.example.internal")
    res = ok(S.invoke(events.schedule_event(), env=readers_env(DB_ENDPOINT="orders-ro.example.internal")))
    check_cluster_fields(res, "readers", [ID2, ID3], endpoint="orders-ro.example.internal")


@tap.case
def generic_endpoint_override():
    start()
    e = env(AWS_ENDPOINT_URL=S.rds.url, AWS_ENDPOINT_URL_RDS=None)
    res = ok(S.invoke(events.schedule_event(), env=e))
    tap.eq(res["registered"], [T1], "AWS_ENDPOINT_URL reaches the RDS API")
    tap.eq(rds_actions(), ["DescribeDBClusters", "DescribeDBInstances"])


@tap.case
def dry_run_in_cluster_mode():
    start()
    res = ok(S.invoke({"dryRun": True}, env=env()))
    tap.eq((res["dryRun"], res["registered"], res["deregistered"]), (True, [T1], [OLD]))
    tap.eq(elb_actions(), ["DescribeTargetHealth"])
    tap.eq(S.registered(), [OLD])


# ------------------------------------------------------------- failovers ---

def failover_invoke(event, **stage):
    """Invokes with event while a failover to instance-2 is staged: the writer moves in the API
    after the first DescribeDBClusters answer; the cluster endpoint's DNS record 4 s later, and
    not before RegisterTargets of the new writer reached the fake ELBv2 (at most 30 s after the
    API move: a function that followed DNS would only register after that)."""
    registered = S.elb.when(lambda c: c["action"] == "RegisterTargets" and
                            c["params"].get("Targets.member.1.Id") == A2)
    fo = S.failover(ID2, after_describes=1, dns_lead_s=stage.get("dns_lead_s", 4.0), dns_not_before=registered,
                    dns_cap_s=30)
    r = S.invoke(event, env=env(FAILOVER_WAIT_SECONDS=60))
    if fo.api_time is None:
        S.rds.clear_hooks()
        raise AssertionError("the writer never moved (no DescribeDBClusters answered); exit %d: %s"
                             % (r.code, r.stdout[:300]))
    api, dns = fo.wait(60)
    return r, fo, api, dns


def check_followed_the_api(r, fo, api, dns):
    res = ok(r)
    check_cluster_fields(res, "writer", [ID2])
    tap.eq((res["registered"], res["deregistered"]), ([T2], [T1]))
    tap.eq((res["dnsChanged"], res["converged"]), (True, True))
    tap.eq(S.registered(), [T2])
    reg = S.elb.calls_for("RegisterTargets")
    dereg = S.elb.calls_for("DeregisterTargets")
    tap.eq((len(reg), len(dereg)), (1, 1), "one RegisterTargets and one DeregisterTargets")
    tap.ok(api < reg[0]["time"], "registered after the writer moved in the API")
    tap.eq(fo.dns_capped, False, "the cluster DNS record moved after the registration, not at the cap")
    tap.ok(reg[0]["time"] < dns, "registered while the cluster endpoint's DNS still named the old writer")
    tap.ok(reg[0]["time"] < dereg[0]["time"], "registered before deregistering")
    tap.ok(len(S.rds.calls_for("DescribeDBClusters")) >= 2, "discovery repeated while waiting")
    tap.eq(len(S.rds.calls_for("DescribeDBInstances")), 1, "the instances read once: the new writer was listed")
    all_signed()
    return res


@tap.case
def failover_api_moves_4s_before_dns():
    start(targets=[T1])
    r, fo, api, dns = failover_invoke(events.cluster_event("RDS-EVENT-0071"))
    res = check_followed_the_api(r, fo, api, dns)
    tap.eq((res["eventId"], res["sourceId"]), ("RDS-EVENT-0071", const.CLUSTER_ID))
    tap.ok(dns - api >= 4.0, "the stack staged a 4 s lead (%.2f s)" % (dns - api))
    log_has(r.stderr, "writer chosen", ID2)
    # after the failover the cluster endpoint names the new writer too, and a schedule changes nothing
    tap.eq(stack_dns.resolve(const.AURORA_CLUSTER), [A2])
    S.clear_calls(S.elb)
    res = ok(S.invoke(events.schedule_event(), env=env()))
    tap.eq((res["registered"], res["deregistered"], res["unchanged"]), ([], [], [T2]))


@tap.case
def failover_started_events_start_the_wait():
    for event_id, via in (("RDS-EVENT-0072", "sns"), ("RDS-EVENT-0073", "eventbridge")):
        start(targets=[T1])
        S.move_cluster_dns(ID1)
        r, fo, api, dns = failover_invoke(events.cluster_event(event_id, via=via), dns_lead_s=0.5)
        res = check_followed_the_api(r, fo, api, dns)
        tap.eq(res["eventId"], event_id)


@tap.case
def failover_completed_through_eventbridge_prefixed():
    start(targets=[T1])
    S.move_cluster_dns(ID1)
    event = events.cluster_event("RDS-EVENT-0071", via="eventbridge")
    event["detail"]["SourceIdentifier"] = "rds:" + const.CLUSTER_ID
    r, fo, api, dns = failover_invoke(event, dns_lead_s=0.5)
    check_followed_the_api(r, fo, api, dns)


@tap.case
def event_for_another_source_does_not_wait():
    start(targets=[T1])
    r = S.invoke(events.cluster_event("RDS-EVENT-0071", cluster_id="other-cluster"), env=env(FAILOVER_WAIT_SECONDS=30))
    res = ok(r)
    tap.eq((res["dnsChanged"], res["waitedMs"], res["unchanged"]), (False, 0, [T1]))
    tap.eq(rds_actions(), ["DescribeDBClusters", "DescribeDBInstances"], "one discovery pass")


@tap.case
def db_identifier_overrides_the_cluster_id():
    start(targets=[T1])
    r = S.invoke(events.cluster_event("RDS-EVENT-0071"), env=env(DB_IDENTIFIER="something-else", FAILOVER_WAIT_SECONDS=30))
    tap.eq(ok(r)["waitedMs"], 0, "an event for aurora-orders is not ours when DB_IDENTIFIER names another source")


@tap.case
def no_writer_mid_failover_then_the_new_one():
    start(targets=[T1])

    def failing_over():
        S.rds.inject("no_writer", count=3)
        S.move_writer(ID2)
    S.rds.on_call("DescribeDBClusters", 1, failing_over)
    r = S.invoke(events.cluster_event("RDS-EVENT-0073"), env=env(FAILOVER_WAIT_SECONDS=60))
    res = ok(r)
    tap.eq((res["registered"], res["deregistered"], res["dnsChanged"]), ([T2], [T1], True))
    clusters = S.rds.calls_for("DescribeDBClusters")
    tap.ok(len(clusters) >= 5, "the first pass, 3 without a writer, then the new writer (%d)" % len(clusters))
    tap.eq([c["fault"] for c in clusters[1:4]], ["no_writer"] * 3)
    reg = S.elb.calls_for("RegisterTargets")
    tap.ok(reg and reg[0]["time"] > clusters[4]["time"], "nothing registered before a writer was back")
    log_has(r.stderr, "no writer")
    tap.eq(len(S.rds.calls_for("DescribeDBInstances")), 1, "passes without a writer read no instances")


@tap.case
def no_writer_outside_a_wait_changes_nothing():
    start(targets=[T1])
    S.move_writer(None)
    r = S.invoke(events.schedule_event(), env=env())
    msg = failed(r, "ResolveError")
    tap.ok("no writer" in msg and const.CLUSTER_ID in msg, msg)
    nothing_changed([T1])


@tap.case
def two_writers_change_nothing():
    start(targets=[T1])
    S.rds.set_member(const.CLUSTER_ID, ID2, writer=True)
    msg = failed(S.invoke(events.schedule_event(), env=env()), "ResolveError")
    tap.ok("2 writers" in msg or "more than one writer" in msg, msg)
    nothing_changed([T1])


@tap.case
def writer_without_endpoint_or_lookup_changes_nothing():
    start(targets=[T1])
    S.rds.set_member(const.CLUSTER_ID, ID1, address=None)
    msg = failed(S.invoke(events.schedule_event(), env=env()), "ResolveError")
    tap.ok(ID1 in msg, msg)
    nothing_changed([T1])
    start(targets=[T1])
    S.dns.nxdomain(const.AURORA_INSTANCE_1)
    msg = failed(S.invoke(events.schedule_event(), env=env()), "ResolveError")
    tap.ok("NXDOMAIN" in msg, msg)
    nothing_changed([T1])


@tap.case
def writer_outside_allowed_cidrs_changes_nothing():
    start(targets=[T1])
    msg = failed(S.invoke(events.schedule_event(), env=env(ALLOWED_CIDRS="10.20.2.0/24")), "ResolveError")
    tap.ok(A1 in msg, msg)
    nothing_changed([T1])


@tap.case
def rds_errors_inside_the_wait_are_no_answer_yet():
    start(targets=[T1])

    def outage():
        S.rds.inject("access_denied", action="DescribeDBInstances", count=2)
        S.rds.inject("500", action="DescribeDBClusters", count=3)
        S.move_writer(ID2)
    S.rds.on_call("DescribeDBClusters", 1, outage)
    r = S.invoke(events.cluster_event("RDS-EVENT-0071"), env=env(FAILOVER_WAIT_SECONDS=60, AWS_MAX_ATTEMPTS=1))
    res = ok(r)
    tap.eq((res["registered"], res["deregistered"], res["dnsChanged"]), ([T2], [T1], True))
    log_has(r.stderr, "AccessDenied")
    codes = sorted(c.get("error_code") for c in S.rds.calls if c["status"] != 200)
    tap.eq(codes, ["AccessDenied"] * 2 + ["InternalFailure"] * 3, "every injected error was answered and polled past")
    reg = S.elb.calls_for("RegisterTargets")[0]["time"]
    errors = [c["time"] for c in S.rds.calls if c["status"] != 200]
    tap.ok(errors and max(errors) < reg, "nothing changed until an answer came")


@tap.case
def new_writer_not_yet_listed_reads_the_instances_again():
    start(targets=[T1])
    S.dns.set_records({INSTANCE_4: [A4]})

    def promote_a_new_member():
        S.rds.set_member(const.CLUSTER_ID, ID4, address=INSTANCE_4)
        S.move_writer(ID4)
    S.rds.on_call("DescribeDBClusters", 2, promote_a_new_member)
    res = ok(S.invoke(events.cluster_event("RDS-EVENT-0071"), env=env(FAILOVER_WAIT_SECONDS=60)))
    tap.eq((res["registered"], res["deregistered"]), ([T4], [T1]))
    tap.eq(len(S.rds.calls_for("DescribeDBInstances")), 2, "read again for the writer it did not list")
    tap.eq(member(res, ID4)["endpoint"], INSTANCE_4)


@tap.case
def wait_runs_out_without_a_change():
    start(targets=[T1])
    r = S.invoke(events.cluster_event("RDS-EVENT-0071"), env=env(FAILOVER_WAIT_SECONDS=1))
    res = ok(r)
    tap.eq((res["dnsChanged"], res["converged"], res["unchanged"]), (False, True, [T1]))
    tap.eq(changes(), [])
    tap.ok(len(S.rds.calls_for("DescribeDBClusters")) >= 3, "the discovery was repeated while waiting")


# ------------------------------------------------------------- readers ---

@tap.case
def readers_discovered():
    start(targets=[T1])
    r = S.invoke(events.schedule_event(), env=readers_env())
    res = ok(r)
    check_cluster_fields(res, "readers", [ID2, ID3])
    tap.eq((res["registered"], res["deregistered"]), ([T2, T3], [T1]), "the writer is not a reader target")
    tap.eq(member(res, ID2)["addresses"], [A2])
    tap.eq(S.registered(), [T2, T3])
    log_has(r.stderr, "readers chosen", ID2, ID3)
    tap.ok(not any(const.AURORA_READER + " " in l for l in S.dns.log().splitlines() if "query[" in l),
           "the reader endpoint is not looked up")


@tap.case
def readers_added_removed_and_creating():
    start(targets=[T2, T3])
    S.rds.set_member(const.CLUSTER_ID, ID4, status="creating", address=None)
    r = S.invoke(events.schedule_event(), env=readers_env())
    res = ok(r)
    tap.eq((res["registered"], res["deregistered"], res["unchanged"]), ([], [], [T2, T3]))
    tap.eq(member(res, ID4), {"id": ID4, "writer": False, "status": "creating", "endpoint": None,
                              "addresses": [], "chosen": False})
    log_has(r.stderr, ID4, "left out", "creating")
    # it comes up: an endpoint and an address
    S.dns.set_records({INSTANCE_4: [A4]})
    S.rds.set_member(const.CLUSTER_ID, ID4, status="available", address=INSTANCE_4)
    S.clear_calls(S.elb)
    res = ok(S.invoke(events.schedule_event(), env=readers_env()))
    tap.eq((res["registered"], res["deregistered"]), ([T4], []))
    check_cluster_fields(res, "readers", [ID2, ID3, ID4])
    # one goes away
    S.rds.remove_member(const.CLUSTER_ID, ID3)
    S.clear_calls(S.elb)
    res = ok(S.invoke(events.schedule_event(), env=readers_env()))
    tap.eq((res["registered"], res["deregistered"]), ([], [T3]))
    tap.eq(S.registered(), sorted([T2, T4]))


@tap.case
def readers_not_serving_are_left_out():
    start(targets=[T2, T3])
    for status in ("stopped", "failed", "deleting", "incompatible-parameters", "insufficient-capacity",
                   "inaccessible-encryption-credentials-recoverable", "stopping", "starting"):
        S.rds.set_member(const.CLUSTER_ID, ID3, status=status)
        S.clear_calls(S.elb)
        r = S.invoke(events.schedule_event(), env=readers_env(DRY_RUN="true"))
        res = ok(r)
        tap.eq((res["registered"], res["deregistered"]), ([], [T3]), status)
        tap.eq(member(res, ID3)["chosen"], False, status)
        log_has(r.stderr, ID3, "left out", status)
    for status in ("modifying", "backing-up", "rebooting", "storage-optimization"):
        S.rds.set_member(const.CLUSTER_ID, ID3, status=status)
        res = ok(S.invoke(events.schedule_event(), env=readers_env(DRY_RUN="true")))
        tap.eq((res["registered"], res["deregistered"]), ([], []), "%s still serves" % status)


@tap.case
def reader_not_listed_by_describe_instances():
    start(targets=[T2, T3])
    S.rds.set_member(const.CLUSTER_ID, ID3, listed=False)
    r = S.invoke(events.schedule_event(), env=readers_env())
    res = ok(r)
    tap.eq(member(res, ID3), {"id": ID3, "writer": False, "status": None, "endpoint": None, "addresses": [],
                              "chosen": False})
    tap.eq(res["deregistered"], [T3])
    log_has(r.stderr, ID3, "left out")


@tap.case
def reader_lookup_failure_leaves_it_out():
    start(targets=[T2, T3])
    S.dns.nxdomain(const.AURORA_INSTANCE_3)
    r = S.invoke(events.schedule_event(), env=readers_env())
    res = ok(r)
    tap.eq(member(res, ID3)["chosen"], False)
    tap.eq((res["registered"], res["deregistered"], res["unchanged"]), ([], [T3], [T2]))
    log_has(r.stderr, ID3, "left out", "NXDOMAIN")


@tap.case
def reader_outside_allowed_cidrs_is_rejected():
    start(targets=[T2])
    res = ok(S.invoke(events.schedule_event(), env=readers_env(ALLOWED_CIDRS="10.20.2.0/24")))
    tap.eq((res["resolved"], res["rejected"]), ([A2, A3], [A3]))
    tap.eq(member(res, ID3)["addresses"], [A3])
    tap.eq((res["registered"], res["deregistered"], res["unchanged"]), ([], [], [T2]))


@tap.case
def no_usable_reader_changes_nothing():
    start(targets=[T2, T3])
    S.rds.set_member(const.CLUSTER_ID, ID2, status="stopped")
    S.rds.set_member(const.CLUSTER_ID, ID3, status="creating", address=None)
    msg = failed(S.invoke(events.schedule_event(), env=readers_env()), "ResolveError")
    tap.ok("reader" in msg and const.CLUSTER_ID in msg, msg)
    nothing_changed([T2, T3])
    start(targets=[T2, T3])
    S.dns.nxdomain(const.AURORA_INSTANCE_2)
    S.dns.nxdomain(const.AURORA_INSTANCE_3)
    failed(S.invoke(events.schedule_event(), env=readers_env()), "ResolveError")
    nothing_changed([T2, T3])


@tap.case
def readers_follow_a_failover_without_waiting():
    start(targets=[T2, T3])
    S.move_writer(ID2)
    r = S.invoke(events.cluster_event("RDS-EVENT-0071"), env=readers_env(FAILOVER_WAIT_SECONDS=30))
    res = ok(r)
    tap.eq(res["waitedMs"], 0, "readers mode reconciles once")
    tap.eq((res["registered"], res["deregistered"]), ([T1], [T2]), "old writer in, new writer out")
    check_cluster_fields(res, "readers", [ID1, ID3])
    tap.eq(rds_actions(), ["DescribeDBClusters", "DescribeDBInstances"])


# ------------------------------------------------------------- paging ---

@tap.case
def instances_read_over_pages():
    members = list(const.AURORA_MEMBERS)
    records = {}
    for n in range(4, 8):
        name = "aurora-orders-instance-%d.abc123xyz.eu-west-1.rds.amazonaws.com" % n
        members.append(("aurora-orders-instance-%d" % n, False, "available", name))
        records[name] = ["10.20.%d.%d" % (n % 3 + 1, 20 + n)]
    start(targets=[], members=members)
    S.dns.set_records(records)
    S.rds.page_size = 3
    res = ok(S.invoke(events.schedule_event(), env=readers_env()))
    tap.eq(len(res["registered"]), 6, "every reader over three pages: %s" % res["registered"])
    calls = S.rds.calls_for("DescribeDBInstances")
    tap.eq(len(calls), 3, "three pages")
    tap.eq([c["params"].get("Marker") for c in calls], [None, calls[0]["marker_out"], calls[1]["marker_out"]],
           "each Marker sent back unchanged")
    tap.ok("%2B" in calls[1]["body"] and "%2F" in calls[1]["body"], "the marker percent-encoded: " + calls[1]["body"])
    tap.ok(all(c["params"].get("Filters.Filter.1.Values.Value.1") == const.CLUSTER_ID for c in calls), "same filter")
    tap.eq(len({c["connection"] for c in S.rds.calls}), 1, "one connection for every RDS call")
    all_signed()


# ------------------------------------------------------------- errors ---

@tap.case
def throttling_is_retried():
    start()
    S.rds.inject("throttling", action="DescribeDBClusters", count=2)
    S.rds.inject("throttling", action="DescribeDBInstances", count=1)
    S.rds.inject("503", action="DescribeDBInstances", count=1)
    r = S.invoke(events.schedule_event(), env=env(AWS_MAX_ATTEMPTS=3))
    res = ok(r)
    tap.eq(res["registered"], [T1])
    tap.eq([c["status"] for c in S.rds.calls_for("DescribeDBClusters")], [400, 400, 200])
    tap.eq([c["status"] for c in S.rds.calls_for("DescribeDBInstances")], [400, 503, 200])
    all_signed()


@tap.case
def throttling_beyond_the_attempts():
    start(targets=[T1])
    S.move_writer(ID2)
    S.rds.inject("throttling", action="DescribeDBInstances", count=None)
    r = S.invoke(events.schedule_event(), env=env(AWS_MAX_ATTEMPTS=2))
    msg = failed(r, "RdsApiError")
    last = S.rds.calls_for("DescribeDBInstances")[-1]
    tap.ok(msg.startswith("DescribeDBInstances failed"), msg)
    for word in ("Throttling", "HTTP 400", last["request_id"], "2 attempts"):
        tap.ok(word in msg, "%r in %r" % (word, msg))
    tap.eq(len(S.rds.calls_for("DescribeDBInstances")), 2)
    nothing_changed([T1])


@tap.case
def cluster_not_found():
    start(targets=[T1])
    r = S.invoke(events.schedule_event(), env=env(DB_CLUSTER_IDENTIFIER="aurora-orders-old"))
    msg = failed(r, "RdsApiError")
    call = S.rds.calls[-1]
    for word in ("DescribeDBClusters", "DBClusterNotFoundFault", "HTTP 404", call["request_id"], "aurora-orders-old"):
        tap.ok(word in msg, "%r in %r" % (word, msg))
    tap.eq(len(S.rds.calls), 1, "not retried")
    nothing_changed([T1])


@tap.case
def access_denied():
    start(targets=[T1])
    S.move_writer(ID2)
    S.rds.inject("access_denied", action="DescribeDBInstances")
    msg = failed(S.invoke(events.schedule_event(), env=env()), "RdsApiError")
    for word in ("DescribeDBInstances", "AccessDenied", "HTTP 403", S.rds.calls[-1]["request_id"]):
        tap.ok(word in msg, "%r in %r" % (word, msg))
    nothing_changed([T1])
    # readers mode alike
    S.rds.inject("access_denied", action="DescribeDBClusters")
    msg = failed(S.invoke(events.schedule_event(), env=readers_env()), "RdsApiError")
    tap.ok("AccessDenied" in msg or "DescribeDB" in msg, msg)


@tap.case
def rds_error_never_deregisters():
    for kind in ("malformed", "drop", "signature", "expired_token", "cluster_not_found"):
        start(targets=[T1, T2])
        S.rds.inject(kind, count=None)
        r = S.invoke(events.schedule_event(), env=readers_env(AWS_MAX_ATTEMPTS=2))
        failed(r, "RdsApiError")
        nothing_changed([T1, T2])


@tap.case
def rds_hang_cut_by_the_deadline():
    start(targets=[T1])
    S.rds.inject("hang", count=None)
    r = S.invoke(events.schedule_event(), env=env(), args=("--invoke", "-", "--timeout", "3"))
    tap.ok(r.code == 1 and r.json["errorType"] in ("Timeout", "RdsApiError"), r.stdout)
    nothing_changed([T1])


# ------------------------------------------------------------- configuration ---

def config_error(r, *words):
    tap.eq((r.code, r.json and r.json.get("errorType")), (2, "Runtime.ConfigError"), r.stdout + r.stderr[-500:])
    for w in words:
        tap.ok(w in r.json["errorMessage"], "%r in %r" % (w, r.json["errorMessage"]))
    return r.json["errorMessage"]


@tap.case
def configuration_errors():
    start()
    cases = [
        (dict(DB_ROLE="primary"), ("DB_ROLE", "primary", "writer", "readers")),
        (dict(DB_ROLE="reader"), ("DB_ROLE", "reader")),
        (dict(DB_CLUSTER_IDENTIFIER=None, DB_ROLE="readers", DB_ENDPOINT=const.AURORA_READER),
         ("DB_ROLE", "DB_CLUSTER_IDENTIFIER")),
        (dict(DB_CLUSTER_IDENTIFIER="bad_cluster!"), ("DB_CLUSTER_IDENTIFIER",)),
        (dict(DB_CLUSTER_IDENTIFIER="-starts-with-hyphen"), ("DB_CLUSTER_IDENTIFIER",)),
        (dict(DB_CLUSTER_IDENTIFIER="a" * 64), ("DB_CLUSTER_IDENTIFIER",)),
        (dict(DB_CLUSTER_IDENTIFIER=None, DB_ENDPOINT=None), ("DB_ENDPOINT",)),
        (dict(AWS_ENDPOINT_URL_RDS="ftp://rds.example"), ("AWS_ENDPOINT_URL_RDS",)),
        (dict(AWS_ENDPOINT_URL_RDS="https://user:pw@rds.example:99999/"), ("AWS_ENDPOINT_URL_RDS",)),
    ]
    for overrides, words in cases:
        e = env()
        for k, v in overrides.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        msg = config_error(S.invoke(events.schedule_event(), env=e), *words)
        tap.ok("pw@" not in msg, "no userinfo quoted")
    tap.eq(S.rds.calls, [], "no RDS call with a bad configuration")
    tap.eq(S.elb.calls, [], "no ELBv2 call with a bad configuration")


@tap.case
def db_role_writer_explicit_and_default():
    start(targets=[T1])
    for role in ("writer", None):
        res = ok(S.invoke(events.schedule_event(), env=env(DB_ROLE=role)))
        tap.eq(res["role"], "writer")


# ------------------------------------------------------------- runtime loop ---

@tap.case
def runtime_loop_reuses_the_rds_connection():
    start()
    opened = S.rds.connections_opened
    proc = S.start_bootstrap(env=env())
    try:
        for _ in range(3):
            res = S.lambda_invoke(events.schedule_event())
            tap.eq(res["kind"], "response", res["body"][:300])
            tap.eq(res["json"]["discovery"], "rds")
    finally:
        S.stop_bootstrap(proc)
    tap.eq(len(S.rds.calls), 6)
    tap.eq(S.rds.connections_opened - opened, 1, "one RDS connection across invocations")


@tap.case
def secrets_never_logged():
    start(targets=[T1])
    scan = SecretScan({const.SECRET_ACCESS_KEY: "the secret key", const.SESSION_TOKEN: "the session token"})
    runs = []
    S.rds.inject("signature")
    runs.append(S.invoke(events.schedule_event(), env=env(AWS_LAMBDA_LOG_LEVEL="TRACE")))
    # an answer that quotes the canonical request, session token included, as Query APIs do
    S.rds.inject("error", status=403, code="SignatureDoesNotMatch", message="The request signature we calculated "
                 "does not match.\n\nThe Canonical String for this request should have been\n'POST\n/\n\n"
                 "x-amz-security-token:" + const.SESSION_TOKEN + "\n'")
    runs.append(S.invoke(events.schedule_event(), env=env(AWS_LAMBDA_LOG_LEVEL="TRACE")))
    S.rds.inject("access_denied", count=None)
    runs.append(S.invoke(events.schedule_event(), env=env(AWS_LAMBDA_LOG_LEVEL="TRACE", AWS_LAMBDA_LOG_FORMAT="JSON")))
    S.rds.clear_faults()
    S.rds.inject("throttling", count=2)
    S.rds.on_call("DescribeDBClusters", 1, lambda: S.move_writer(ID2))
    runs.append(S.invoke(events.cluster_event("RDS-EVENT-0071"), env=env(AWS_LAMBDA_LOG_LEVEL="TRACE")))
    runs.append(S.invoke(events.schedule_event(), env=env(AWS_LAMBDA_LOG_LEVEL="TRACE",
                                                         AWS_SECRET_ACCESS_KEY="wrongSecretForTheRdsCase/0123456789")))
    scan.secret("wrongSecretForTheRdsCase/0123456789", "a wrong secret key", pieces=True)
    scan.harvest(S.rds.calls)
    scan.harvest(S.elb.calls)
    for i, r in enumerate(runs):
        scan.add("run %d" % i, r.stdout + r.stderr)
    tap.ok(scan.lines() > 20, "TRACE logs were scanned (%d lines)" % scan.lines())
    tap.eq(scan.found(), [], "secrets in the output")
    tap.ok(re.search(r"SignatureDoesNotMatch", runs[0].stdout + runs[0].stderr), "the signature error is reported")
    tap.eq(runs[1].json.get("errorType"), "RdsApiError", runs[1].stdout)
    tap.ok("SignatureDoesNotMatch" in runs[1].json["errorMessage"], runs[1].json["errorMessage"])


try:
    tap.main()
finally:
    S.close()
