#!/usr/bin/python3
"""Cluster mode's reaction (README.md, "Clusters (RDS API mode)"), for make bench: the function runs warm in the
Lambda runtime loop with DB_CLUSTER_IDENTIFIER and DNS_POLL_MS 100 on the local stack; a cluster
failover-completed event arrives while the fake RDS still names the old writer; the writer then
moves in the API, and the cluster endpoint's DNS record follows LEAD_S later.

Per run: the writer moving in the API -> RegisterTargets of the new writer's address (the goal: one
poll interval), and how far ahead of the cluster endpoint's DNS change the group followed. The
moves are spread evenly over one poll step, so the lag is the wait for the next poll (uniform over
DNS_POLL_MS) plus one discovery pass (DescribeDBClusters and one lookup: the instances were read by
the invocation's first pass) and one RegisterTargets call.

    measure(s, impl, runs, log) -> {"lag_ms": [...], "ahead_ms": [...], "poll_ms", "lead_s", ...}
    (bench.py calls it inside its LocalStack with the packaged bootstrap)
Standalone, with a build's ./bootstrap instead of the package:
    /usr/bin/python3 tests/lib/netns.py tests/bench/cluster_bench.py [--build DIR] [--runs 5] [--lead 4.0]
"""
import argparse
import os
import sys

import const
import events
import stack

POLL_MS = 100
LEAD_S = 4.0
FIRST_MOVE_S = 0.5  # after the event: the first discovery pass has named the old writer by then
OLD_ID, NEW_ID = const.AURORA_IDS[:2]
OLD = "%s:%d" % (const.AURORA_ADDRESSES[OLD_ID], const.DB_PORT)
NEW = "%s:%d" % (const.AURORA_ADDRESSES[NEW_ID], const.DB_PORT)


def cluster_env(env):
    out = dict(env, DB_CLUSTER_IDENTIFIER=const.CLUSTER_ID, DNS_POLL_MS=str(POLL_MS), FAILOVER_WAIT_SECONDS="20")
    out.pop("DB_ENDPOINT", None)
    return out


def cpu_ns(proc):
    """Time the process has run on a CPU, in ns (/proc/PID/schedstat: finer than clock ticks)."""
    total = 0
    for task in os.listdir("/proc/%d/task" % proc.pid):
        with open("/proc/%d/task/%s/schedstat" % (proc.pid, task)) as f:
            total += int(f.read().split()[0])
    return total


def run_once(s, fn, api_after_s, lead_s):
    from bench_procs import BenchError
    s.reset(targets=[OLD])
    fo = s.failover(NEW_ID, api_after_s=api_after_s, dns_lead_s=lead_s)
    cpu0 = cpu_ns(fn.proc)
    res, took = fn.invoke(events.cluster_event("RDS-EVENT-0071", new_writer=NEW_ID), timeout=60)
    cpu = (cpu_ns(fn.proc) - cpu0) / 1e9
    api, dns = fo.wait(api_after_s + lead_s + 30)
    regs = [c for c in s.elb.calls_for("RegisterTargets")
            if c["params"].get("Targets.member.1.Id") == const.AURORA_ADDRESSES[NEW_ID] and c["status"] == 200]
    j = res["json"] or {}
    if res["kind"] != "response" or j.get("registered") != [NEW] or j.get("discovery") != "rds" or not regs:
        raise BenchError("cluster mode did not follow the new writer: %s" % res["body"][:400])
    passes = len(s.rds.calls_for("DescribeDBClusters"))
    return {"lag_ms": (regs[0]["time"] - api) * 1000, "ahead_ms": (dns - regs[0]["time"]) * 1000,
            "invocation_ms": took, "discovery_passes": passes, "cpu_ms_per_pass": cpu * 1000 / passes}


def measure(s, impl, runs, log, lead_s=LEAD_S):
    from bench_procs import Function, Impl, Runtime
    ours = Impl(impl.name, impl.argv, cluster_env(impl.env), impl.cwd)
    fn = Function(ours, Runtime(function_arn=const.FUNCTION_ARN).start(), log)
    try:
        s.reset(targets=[OLD])
        fn.invoke(events.schedule_event(), timeout=60)  # warm: connections open
        out = [run_once(s, fn, FIRST_MOVE_S + POLL_MS / 1000.0 * (i + 0.5) / runs, lead_s) for i in range(runs)]
    finally:
        fn.stop()
    return {"lag_ms": [r["lag_ms"] for r in out], "ahead_ms": [r["ahead_ms"] for r in out], "runs": out,
            "cpu_ms_per_pass": [r["cpu_ms_per_pass"] for r in out],
            "poll_ms": POLL_MS, "lead_s": lead_s}


def summary(c):
    from bench_report import median
    lag, ahead = median(c["lag_ms"]), median(c["ahead_ms"])
    return ("cluster mode: writer moved in the RDS API -> RegisterTargets median %.0f ms (max %.0f ms, DNS_POLL_MS "
            "%d, %d runs); the group followed %.2f s (median) before the cluster endpoint's DNS changed (staged "
            "lead %.1f s); CPU %.2f ms per discovery pass (median; the waiting invocation's CPU over its passes: "
            "one DescribeDBClusters each, DescribeDBInstances once, a lookup)" % (lag, max(c["lag_ms"]), c["poll_ms"], len(c["lag_ms"]), ahead / 1000.0, c["lead_s"],
                           median(c["cpu_ms_per_pass"])))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", help="build folder holding bootstrap (default $RNS_BUILD or build)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--lead", type=float, default=LEAD_S)
    args = ap.parse_args()
    if args.build:
        os.environ["RNS_BUILD"] = os.path.abspath(args.build)
    from bench_procs import Impl
    with stack.LocalStack() as s, open(os.devnull, "wb") as log:
        impl = Impl("./bootstrap", [stack.bootstrap_path()], s.lambda_env(), s.task_root)
        c = measure(s, impl, args.runs, log, args.lead)
    print(summary(c))
    for r in c["runs"]:
        print("  lag %6.1f ms  ahead %7.1f ms  passes %d  invocation %.0f ms  CPU %.2f ms per pass"
              % (r["lag_ms"], r["ahead_ms"], r["discovery_passes"], r["invocation_ms"], r["cpu_ms_per_pass"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
