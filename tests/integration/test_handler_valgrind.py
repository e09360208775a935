# rns: no-asan (valgrind runs the plain build; the asan/ pass runs the other handler suites)
# rns: namespace
"""The handler's main paths under valgrind: a failover with a DNS flip mid-wait, a silent resolver
(a lookup abandoned at its timeout), CloudFormation answers, invalid events and configuration
errors, cluster mode (the RDS API), through --invoke and through the runtime loop. Any memory error
or leak fails the case.
(The ASan/UBSan build runs every other handler suite in run.py's asan/ pass.)
"""
import contextlib
import glob
import json
import os
import time

import const
import events
import netns
import stack
import tap
from handler_common import NEW, our_event, reset

VALGRIND_ERROR = 99
S = stack.LocalStack().start()
NATIVE = S.bootstrap_path


def valgrind_wrapper(tag):
    vg = tap.need("valgrind", "valgrind")
    log = os.path.join(S.dir, "valgrind-%s-%%p.log" % tag)
    return [vg, "--quiet", "--leak-check=full", "--show-leak-kinds=definite,indirect,possible",
            "--errors-for-leak-kinds=definite,indirect,possible", "--error-exitcode=%d" % VALGRIND_ERROR,
            "--log-file=" + log], log


def use(tag):
    """Runs ./bootstrap under valgrind; returns the glob of its reports."""
    S.wrapper, log = valgrind_wrapper(tag)
    S.bootstrap_path = NATIVE
    return log.replace("%p", "*")


def check_logs(pattern):
    for path in glob.glob(pattern):
        with open(path) as f:
            text = f.read()
        tap.eq(text.strip(), "", "valgrind report %s" % path)


def env(**kw):
    return S.env(**kw)


@contextlib.contextmanager
def one_second_resolver():
    path = os.path.join(netns.namespace_dir(), "resolv.conf")
    with open(path) as f:
        saved = f.read()
    with open(path, "w") as f:  # in place: /etc/resolv.conf is a bind mount of this file
        f.write(netns.RESOLV_CONF.replace("attempts:2", "attempts:1"))
    try:
        yield
    finally:
        with open(path, "w") as f:
            f.write(saved)


def invoke_paths():
    pattern = use("invoke")
    try:
        reset(S)
        flip = S.dns.flip_at(1.5, {const.DB_ENDPOINT: [const.NEW_PRIMARY]})
        # Under valgrind on a busy machine the first HTTPS call alone can take 10 s: the wait
        # (it ends at the flip) is long enough never to run out before it.
        r = S.invoke(events.rds_event("RDS-EVENT-0049"), env=env(DNS_POLL_MS=300, FAILOVER_WAIT_SECONDS=60),
                     timeout=180)
        flip.wait(60)
        check_logs(pattern)
        tap.eq(r.code, 0, r.stderr[-3000:])
        tap.eq(r.json["registered"], [NEW])
        reset(S)
        # A silent resolver: each lookup's thread is left behind at the wait's end. With one
        # 1 s attempt per query (rewritten resolv.conf, the namespace's own), glibc gives up
        # on it within the second dns_resolver_free waits, so no thread outlives the process.
        with one_second_resolver():
            S.dns.pause()
            try:
                r = S.invoke(events.rds_event("RDS-EVENT-0049"), env=env(FAILOVER_WAIT_SECONDS=4, DNS_POLL_MS=300),
                             timeout=120)
            finally:
                S.dns.resume()
        check_logs(pattern)
        tap.ok(r.code == 1 and r.json and r.json.get("errorType") == "ResolveError", r.stderr[-3000:])
        for payload in (b"", b"[1]", b'{"a":', our_event("odd-sns-message-number.json")):
            r = S.invoke(payload, env=env(), timeout=120)
            tap.ok(r.code in (0, 1), "exit %d" % r.code)
            check_logs(pattern)
        cfn = json.loads(our_event("cloudformation-delete.json"))
        cfn["ResponseURL"] = "http://127.0.0.1:9/closed?sig=x"
        r = S.invoke(cfn, env=env(), timeout=120)
        tap.eq(r.json["errorType"], "CloudFormationResponseError")
        check_logs(pattern)
        r = S.invoke({}, env=env(DB_PORT="0", ALLOWED_CIDRS="10.0.0.1/8"), timeout=120)
        tap.eq(r.code, 2)
        check_logs(pattern)
    finally:
        S.wrapper, S.bootstrap_path = [], NATIVE


def runtime_paths():
    pattern = use("loop")
    try:
        reset(S, records=dict(const.FLIPPED_RECORDS))
        proc = S.start_bootstrap(env=env())
        try:
            for event in (events.schedule_event(), "not json", events.rds_event("RDS-EVENT-0049"), {"dryRun": True}):
                res = S.lambda_invoke(event, timeout=120)
                tap.ok(res["kind"] in ("response", "error"), res)
            S.elb.inject("throttling", action="DescribeTargetHealth", count=1)
            tap.eq(S.lambda_invoke({}, timeout=120)["kind"], "response")
        finally:
            code = S.stop_bootstrap(proc, timeout=60)
        out, err = proc.output()
        check_logs(pattern)
        tap.ok(code != VALGRIND_ERROR, "valgrind exit status")
        proc = S.start_bootstrap(env=env(DB_PORT="70000"))
        tap.ok(proc.finish(60) != 0, "config error exits non-zero")
        check_logs(pattern)
        S.runtime.init_errors.clear()
    finally:
        S.wrapper, S.bootstrap_path = [], NATIVE


def cluster_paths():
    """Cluster mode (the RDS API): discovery over pages, a failover wait through a pass without a
    writer and an RDS error, readers with one left out, and an RDS error outside a wait."""
    pattern = use("cluster")
    a1, a2 = ("%s:%d" % (const.AURORA_ADDRESSES[i], const.DB_PORT) for i in const.AURORA_IDS[:2])
    # Under valgrind on a busy machine a discovery pass can take seconds: the wait (it ends
    # when the writer moves) and the deadline are long enough never to cut it first.
    cluster = dict(const.CLUSTER_ENV, DNS_POLL_MS=100, FAILOVER_WAIT_SECONDS=60)
    try:
        reset(S, targets=[a1])
        S.reset_cluster()
        S.rds.page_size = 2

        def failing_over():
            S.rds.inject("no_writer", count=1)
            S.rds.inject("throttling", action="DescribeDBInstances", count=1)
            S.move_writer(const.AURORA_IDS[1])
        S.rds.on_call("DescribeDBClusters", 1, failing_over)
        proc = S.start_bootstrap(env=env(AWS_MAX_ATTEMPTS=1, **cluster))
        try:
            res = S.lambda_invoke(events.cluster_event("RDS-EVENT-0071"), deadline_ms=int(time.time() * 1000) + 110000,
                                  timeout=120)
            tap.eq((res["kind"], (res["json"] or {}).get("registered")), ("response", [a2]), res["body"][:300].decode(errors="replace"))
            S.rds.inject("access_denied", action="DescribeDBClusters")
            tap.eq(S.lambda_invoke(events.schedule_event(), timeout=120)["kind"], "error")
        finally:
            code = S.stop_bootstrap(proc, timeout=60)
        check_logs(pattern)
        tap.ok(code != VALGRIND_ERROR, "valgrind exit status")
        S.rds.set_member(const.CLUSTER_ID, "aurora-orders-instance-4", status="creating", address=None)
        r = S.invoke(events.schedule_event(), env=env(DB_ROLE="readers", **cluster), timeout=120)
        tap.eq(r.code, 0, r.stderr[-3000:])
        check_logs(pattern)
    finally:
        S.wrapper, S.bootstrap_path = [], NATIVE


FLEET_LB = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/fleet-vg/0a1b2c3d4e5f6071"


def fleet_paths():
    """Fleet mode in the runtime loop: a sweep whose tags cannot be read (the sweep cursor stays), a
    sweep of a DNS, a proxy, a cluster and an invalid binding (the workers' threads, the race guard,
    the miss tag, a sweep cursor read, followed and removed), a sweep that keeps them when their load
    balancer cannot be read, an event with a failover wait, a member's event, an unknown source."""
    pattern = use("fleet")
    groups = {"dns": "dns:" + const.DB_ENDPOINT, "prx": "proxy:" + const.PROXY_ENDPOINT,
              "aur": "cluster:" + const.CLUSTER_ID, "bad": "ftp:nothing"}
    arn = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/vg-%s/0123456789abcdef"
    try:
        reset(S)
        S.reset_cluster()
        for name, source in groups.items():
            S.elb.add_target_group(arn % name, ["10.20.1.9:5432"], load_balancers=[FLEET_LB],
                                   tags={"rds-nlb-sync:source": source})
        S.elb.set_tags(arn % "dns", {"rds-nlb-sync:sweep-next": "shards=1 at=1 next=" + arn % "prx"})
        S.dns.set_records({const.PROXY_ENDPOINT: const.PROXY_ADDRESSES[:2]})
        proc = S.start_bootstrap(env=env(TARGET_GROUP_ARN=None, DB_ENDPOINT=None, DB_PORT=None,
                                         FLEET_LOAD_BALANCER_ARNS=FLEET_LB, FAILOVER_WAIT_SECONDS=60))
        try:
            S.elb.inject("access_denied", action="DescribeTags")  # nothing kept yet: the groups are unread
            res = S.lambda_invoke(events.schedule_event(), timeout=120)
            tap.ok(((res["json"] or {}).get("errorMessage") or "").startswith("not read: "), res["body"][:300])
            tap.ok("rds-nlb-sync:sweep-next" in S.elb.tags(arn % "dns"), "an unread sweep left the cursor")
            res = S.lambda_invoke(events.schedule_event(), timeout=120)
            tap.eq((res["kind"], (res["json"] or {}).get("errorType")), ("error", "FleetError"), res["body"][:300])
            tap.ok("rds-nlb-sync:sweep-next" not in S.elb.tags(arn % "dns"), "the complete sweep removed the cursor")
            S.elb.inject("access_denied", action="DescribeTargetGroups")  # read moments ago: its bindings kept
            res = S.lambda_invoke(events.schedule_event(), timeout=120)
            tap.ok("not read" not in ((res["json"] or {}).get("errorMessage") or ""), res["body"][:300])
            S.dns.flip_at(1.0, dict(const.FLIPPED_RECORDS))
            res = S.lambda_invoke(events.rds_event("RDS-EVENT-0049"), timeout=120)
            tap.eq(res["kind"], "response", res["body"][:300])
            for event in (events.rds_event("RDS-EVENT-0006", source_id=const.AURORA_IDS[2]),
                          events.rds_event("RDS-EVENT-0006", source_id="nobody")):
                tap.eq(S.lambda_invoke(event, timeout=120)["kind"], "response")
        finally:
            code = S.stop_bootstrap(proc, timeout=60)
            for name in groups:
                S.elb.remove_target_group(arn % name)
        check_logs(pattern)
        tap.ok(code != VALGRIND_ERROR, "valgrind exit status")
    finally:
        S.wrapper, S.bootstrap_path = [], NATIVE
        S.dns.set_records(dict(const.DEFAULT_RECORDS))


@tap.case
def valgrind_fleet_mode():
    fleet_paths()


@tap.case
def valgrind_invoke_paths():
    invoke_paths()


@tap.case
def valgrind_runtime_loop():
    runtime_paths()


@tap.case
def valgrind_cluster_mode():
    cluster_paths()


try:
    tap.main()
finally:
    S.close()
