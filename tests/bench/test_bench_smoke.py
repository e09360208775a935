"""Keeps `make bench` from rotting: runs tests/bench/bench.py --quick (tiny counts,
about 20 s) and checks that it prints the table and writes results.md and
results.json with every row. The figures themselves are not checked: speed goals
belong to `make bench`, never to `make check`."""
import atexit
import json
import os
import shutil
import subprocess
import tempfile

import tap
from bench_report import ROW_KEYS  # tests/bench: the suite's own folder is on sys.path

RUN = {}
NETNS = os.path.join(tap.root(), "tests", "lib", "netns.py")


def run():
    """bench.py --quick once for all cases: (status, stdout, stderr, out folder)."""
    if not RUN:
        build = tap.build_dir()
        needs = [os.path.join(tap.root(), "build", "function.zip"), os.path.join(build, "bootstrap"),
                 os.path.join(build, "tools", "runtime_launch"), os.path.join(build, "tools", "runtime_echo"),
                 os.path.join(build, "tools", "sigv4_bench")]
        missing = [p for p in needs if not os.path.exists(p)]
        if missing:
            RUN["skip"] = "not built: %s" % ", ".join(os.path.relpath(p, tap.root()) for p in missing)
        else:
            out = tempfile.mkdtemp(prefix="bench-smoke-")
            atexit.register(shutil.rmtree, out, True)
            p = subprocess.run(["/usr/bin/python3", NETNS, os.path.join(tap.root(), "tests", "bench", "bench.py"),
                                "--quick", "--build", build, "--out", out],
                               capture_output=True, text=True, timeout=600)
            RUN.update(code=p.returncode, stdout=p.stdout, stderr=p.stderr, out=out)
    if "skip" in RUN:
        tap.skip(RUN["skip"])
    return RUN


def results():
    r = run()
    with open(os.path.join(r["out"], "results.json")) as f:
        return json.load(f)


@tap.case
def quick_run_succeeds():
    r = run()
    tap.ok(r["code"] == 0, "bench.py --quick exited %d:\n%s" % (r["code"], r["stderr"][-2000:]))


@tap.case
def table_has_every_row():
    table = results()["table"]
    tap.eq([row["key"] for row in table], list(ROW_KEYS), "rows of results.json")
    for row in table:
        for col in ("metric", "ours", "reference", "ratio", "goal", "met"):
            tap.ok(isinstance(row[col], str) and row[col], "row %s has no %s" % (row["key"], col))
        tap.ok(row["met"] in ("yes", "NO", "n/a"), "row %s: met is %r" % (row["key"], row["met"]))


@tap.case
def printed_table_matches_json():
    r = run()
    lines = r["stdout"].splitlines()
    tap.ok(lines and lines[0].startswith("metric"), "no table header on stdout: %r" % r["stdout"][:200])
    for row in results()["table"]:
        tap.ok(any(line.startswith(row["metric"][:40]) for line in lines),
               "row %r is not on stdout" % row["metric"][:40])
    tap.ok(any(line.startswith("machine: ") for line in lines), "no machine line on stdout")


@tap.case
def markdown_section():
    r = run()
    with open(os.path.join(r["out"], "results.md")) as f:
        md = f.read()
    tap.ok(md.startswith("## Performance\n"), "results.md does not start with the README section heading")
    md, failover = md.split("\n### What a database client sees across a failover\n", 1)
    failover, fast = failover.split("\n### Fast switch: one target group against standby slots\n", 1)
    tap.ok("| cluster mode (writer moved in the RDS API) | " in fast and "Time scale:" in fast,
           "results.md has no fast switch table: %r" % fast[:500])
    table = [line for line in md.splitlines() if line.startswith("| ")]
    tap.eq(len(table), 2 + len(ROW_KEYS), "Markdown table lines (header, rule and rows)")
    tap.ok("| write window: rds-nlb-sync | " in failover and "Time scale:" in failover,
           "results.md has no client-visible failover table: %r" % failover[:500])
    tap.ok("\nMachine: " in md and "cores" in md and "Debian" in md, "results.md does not name the machine")
    tap.ok("make bench" in md, "results.md does not say how to rerun")


@tap.case
def measured_both_implementations():
    res = results()
    n = res["counts"]["starts"]
    for k in ("ours", "ref", "floor", "dev"):
        tap.eq(len(res["init"][k]), n, "init starts of %s" % k)
    for k in ("ours", "ref"):
        tap.eq(len(res["cold"][k]), n, "cold invocations of %s" % k)
        tap.eq(len(res["warm"][k]), res["counts"]["warm"], "warm invocations of %s" % k)
        tap.ok(res["rss_kib"][k] > 0, "no peak RSS for %s" % k)
    tap.ok(all(v is not None for v in res["reaction"]["ours"]), "rds-nlb-sync never registered the new address")
    tap.ok(all(v is None for v in res["reaction"]["ref"]),
           "the reference registered the new address within its invocation: the timeline is not the intended one")



@tap.case
def client_visible_failover():
    run_ = results()["failover"]["runs"]["rds-nlb-sync"]["event-first"]
    tap.ok(run_["acknowledged"] > 0, "no acknowledged write: %s" % run_)
    tap.eq(run_["lost"], 0, "acknowledged writes lost")
    tap.ok(run_["window"].endswith(" s"), "window %r" % run_["window"])
    tap.ok(any(line.startswith("| write window: rds-nlb-sync | ") for line in run()["stdout"].splitlines()),
           "no failover row on stdout")


@tap.case
def fast_switch_rows():
    """The quick run's row: both windows measured, no acknowledged write lost; whether the goal was met
    is make bench's to say."""
    rows = results()["fastswitch"]["rows"]
    tap.eq([(r["mode"], r["aws_delay_s"]) for r in rows], [("cluster", 30.0)], "the quick run's rows")
    for r in rows:
        for k in ("classic", "fast"):
            tap.ok(r[k]["acknowledged"] > 0, "%s: no acknowledged write" % k)
            tap.eq(r[k]["lost"], 0, "%s: acknowledged writes lost" % k)
            tap.ok(r[k]["window"].endswith(" s"), "%s window %r" % (k, r[k]["window"]))
        tap.ok(any(w.startswith("ModifyListener") for _, w in r["fast"]["timeline"]), "the fast run moved a weight")
        tap.ok(not any(w.startswith("RegisterTargets") for _, w in r["fast"]["timeline"]), "and registered nothing")
        tap.ok(isinstance(r["met"], bool) and r["why"], "goal verdict %r" % r)
    tap.ok(any(line.startswith("| cluster mode (writer moved in the RDS API) | ") for line in run()["stdout"].splitlines()),
           "no fast switch row on stdout")


@tap.case
def fleet_scale_figures():
    fleet = results()["fleet"]
    tap.eq([r["n"] for r in fleet["scale"]], [1, 10])
    for r in fleet["scale"]:
        tap.eq(r["sweep_calls"], r["goal"], "a steady sweep of %d bindings costs T + ceil(T/20) + pages" % r["n"])
        tap.eq((r["failed"], r["event_bindings"], r["event_calls"]), (0, 1, 1), "N = %d" % r["n"])
    tap.eq([(st["converged"], st["n"]) for st in fleet["storms"]], [(10, 10)])
    tap.ok(any(line.startswith("| 10 | 12 | 12 |") for line in run()["stdout"].splitlines()), "no fleet row on stdout")


@tap.case
def fleet_storm_figures():
    """Each storm's lag taken apart from the function's log (every binding seen), the log kept."""
    r = run()
    fleet = results()["fleet"]
    for st in fleet["storms"] + [fleet["az_storm"]]:
        for k in ("max_s", "median_s", "detect_max_s", "detect_median_s", "queue_max_s", "queue_median_s",
                  "overhead_max_s", "overhead_median_s", "polls_max_s", "floor_max_s", "excess_max_s", "excess_median_s"):
            tap.ok(isinstance(st[k], float), "storm of %d: %s is %r" % (st["n"], k, st[k]))
        tap.eq(st["seen"], st["converged"], "storm of %d: a \"DNS changed\" line for every registered binding" % st["n"])
        tap.ok(st["excess_max_s"] <= st["max_s"], "the floor is never before the change: %r" % st)
        tap.ok(st["detect_max_s"] <= st["max_s"], "a binding registers after it saw its change: %r" % st)
        tap.ok(st["queue_max_s"] >= 0, "the bucket never lets a call go before it is asked: %r" % st)
    az = fleet["az_storm"]
    tap.eq((az["n"], az["converged"], az["failed"], az["loops"]), (6, 6, 0, 3), "the quick AZ storm")
    for name in ("fleet-storm-10", "fleet-az-storm-6"):
        path = os.path.join(r["out"], "logs", name + ".log")
        tap.ok(os.path.exists(path), "%s kept" % path)
        with open(path) as f:
            tap.ok('"message":"DNS changed"' in f.read(), "%s: no DNS changed line" % path)
    out = r["stdout"]
    tap.ok("the function's overhead (RegisterTargets - that) max" in out and
           "Storm of an Availability Zone's loss: 6 databases" in out, "no storm lines on stdout")


@tap.case
def bucket_floor_simulates_the_bucket():
    import fleet_bench
    # 25 changes at once through (20, 4/s): 20 at once, then one every 250 ms
    tap.eq(fleet_bench.bucket_floors([1.0] * 25), [1.0] * 20 + [1.25, 1.5, 1.75, 2.0, 2.25])
    # changes slower than the rate are never delayed; the order of the list is kept
    tap.eq(fleet_bench.bucket_floors([3.0, 1.0, 2.0], burst=1, rate=4), [3.0, 1.0, 2.0])
    # a burst spent, a pause refills it only as far as the rate allows
    floors = fleet_bench.bucket_floors([0.0, 0.0, 0.1], burst=2, rate=1)
    tap.eq([round(f, 3) for f in floors], [0.0, 0.0, 1.0])
    # served in the order given: of two at once, the one named first goes first
    tap.eq(fleet_bench.bucket_floors([0.0, 0.0, 0.0], burst=1, rate=1, order=[2, 0, 1]), [1.0, 2.0, 0.0])


def log_line(ms, message, arn=None):
    rec = {"timestamp": "2026-12-07T19:00:00.%03dZ" % ms, "level": "INFO", "message": message}
    if arn:
        rec["targetGroupArn"] = arn
    return json.dumps(rec)


@tap.case
def logged_at_reads_the_dns_changed_lines():
    import fleet_bench
    a = [log_line(5, "DNS changed", fleet_bench.tg(1)), "not JSON", log_line(5, "DNS changed", fleet_bench.tg(0)),
         log_line(1, "DNS changed"), log_line(2, "registering targets", fleet_bench.tg(2))]
    b = [log_line(3, "DNS changed", fleet_bench.tg(2)), log_line(9, "DNS changed", fleet_bench.tg(2))]
    seen = fleet_bench.logged_at(["\n".join(a), "\n".join(b)])
    tap.eq(sorted(seen), sorted(fleet_bench.tg(i) for i in range(3)), "one entry per group with a DNS changed line")
    other = fleet_bench.logged_at(["\n".join(a)], "registering targets")
    tap.eq([(arn, round((t - seen[arn][0]) * 1000), rank) for arn, (t, rank) in other.items()],
           [(fleet_bench.tg(2), -1, 0)], "another message")
    base = seen[fleet_bench.tg(2)][0]
    tap.eq(round((seen[fleet_bench.tg(1)][0] - base) * 1000), 2, "timestamps to the millisecond")
    # ranks by time, then by the place in the log: group 1's line came before group 0's
    tap.eq([seen[fleet_bench.tg(i)][1] for i in (2, 1, 0)], [0, 1, 2])
    tap.eq(round((seen[fleet_bench.tg(2)][0] - base) * 1000), 0, "a group's first line")


@tap.case
def decompose_sums_to_the_lag():
    import fleet_bench
    changes = [0.0, 0.1, 0.2]
    # seen out of their true order; group 0 never seen; burst 20, so no queue
    seen = {fleet_bench.tg(1): (1.0, 1), fleet_bench.tg(2): (0.5, 0)}
    regs = {fleet_bench.tg(i): 1.5 + i for i in range(3)}
    first = {fleet_bench.tg(1): (0.05, 0), fleet_bench.tg(2): (0.5, 1)}
    parts = fleet_bench.decompose(changes, seen, regs, first)
    tap.eq([p["i"] for p in parts], [1, 2], "the bindings seen and registered")
    tap.eq([(round(p["late"], 9), round(p["polls"], 9)) for p in parts], [(0.0, 0.9), (0.3, 0.0)],
           "a first lookup before the change leaves the detection to the polls; one after it, its share")
    for p in parts:
        i = p["i"]
        tap.eq(round(p["detect"] + p["queue"] + p["overhead"], 9), round(regs[fleet_bench.tg(i)] - changes[i], 9))
        tap.eq(round(p["detect"], 9), round(seen[fleet_bench.tg(i)][0] - changes[i], 9))
        tap.eq(p["queue"], 0.0, "the burst holds both")
    # 21 seen at once, in the reverse order of their indexes: the last seen (index 0) waits a token
    changes = [0.0] * 21
    seen = {fleet_bench.tg(i): (1.0, 20 - i) for i in range(21)}
    parts = fleet_bench.decompose(changes, seen, {fleet_bench.tg(i): 2.0 for i in range(21)})
    tap.eq([p["queue"] for p in parts], [0.25] + [0.0] * 20, "the bucket's queue in the order seen")
    tap.eq(round(parts[0]["overhead"], 9), 0.75)


tap.main()
