"""The benchmark's output (bench.py): one table of rows (metric, ours, reference,
ratio, goal, met), printed for a terminal and written as Markdown with the
machine it ran on, plus the raw figures as JSON.

    rows(results) -> [Row]          text_table(rows) / markdown(results, rows)
    machine() -> dict               write(out_dir, results, rows) -> (md path, json path)
"""
import datetime
import json
import os
import platform
import statistics
from collections import namedtuple

Row = namedtuple("Row", "key metric ours reference ratio goal met")
# Every row bench.py prints, in order (the smoke test checks them by key).
ROW_KEYS = ("init", "init_floor", "init_dev", "first_invocation", "cold_total", "warm", "warm_floor", "warm_elb", "warm_cpu",
            "cpu_init", "cpu_first", "cpu_warm", "peak_rss",
            "package", "reaction", "cluster_reaction", "cluster_ahead", "sigv4", "connections", "runtime_overhead",
            "runtime_first_next")
RERUN = ("make bench                                   # builds, packages, runs (a few minutes)\n"
         "/usr/bin/python3 tests/bench/bench.py --quick  # tiny counts, to check the harness")


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ms(v):
    if v is None:
        return "—"
    return "%.0f ms" % v if v >= 100 else "%.1f ms" % v if v >= 10 else "%.2f ms" % v


def mib(kib):
    return "%.1f MiB" % (kib / 1024.0)


def size(n):
    return "%.0f KiB" % (n / 1024.0) if n < 1 << 20 else "%.1f MiB" % (n / 1048576.0)


def times(r):
    if r is None:
        return "—"
    return "%.0f×" % r if r >= 100 else "%.1f×" % r if r >= 10 else "%.2f×" % r


def count(n):
    if n is None:
        return "—"
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            v = n / div
            return ("%.0f %s" if v >= 100 else "%.1f %s" if v >= 10 else "%.2f %s") % (v, unit)
    return "%.0f" % n


# Lambda allots CPU in proportion to memory: 1,769 MB buys one vCPU.
FULL_VCPU_MB = 1769
SMALL_MB = 128


def cpu_rows(res):
    """Rows of callgrind's instruction counts, each with the CPU time of the same phase measured
    here (cpu_bench.py, native runs) and that time at 128 MB (x 1769/128)."""
    ins = res.get("instructions") or {}
    slow = FULL_VCPU_MB / float(SMALL_MB)
    goals = {"init": 300e3, "first": 25e6, "warm": 450e3}
    names = {"init": "exec → first GET /next", "first": "first invocation after a cold start",
             "warm": "warm no-change invocation (mean of %s)" % (ins.get("ours", {}).get("warm_count", "—"))}

    def cell(k, phase):
        if k not in ins:
            return "—"
        n, cpu = ins[k][phase], ins[k].get("cpu_ns", {}).get(phase)
        if cpu is None:
            return count(n)
        t = max(cpu, 0) / 1e6
        return "%s (%s; %s at 128 MB)" % (count(n), ms(t), ms(t * slow))

    out = []
    for phase in ("init", "first", "warm"):
        o = ins.get("ours", {}).get(phase)
        r = ins.get("ref", {}).get(phase)
        out.append(Row("cpu_" + phase, "instructions (callgrind): %s; CPU time here; at 128 MB" % names[phase],
                       cell("ours", phase), cell("ref", phase), times(r / o) if o and r else "—",
                       "≤ %s" % count(goals[phase]), _met(None if o is None else o <= goals[phase])))
    return out


def _met(ok):
    return "n/a" if ok is None else "yes" if ok else "NO"


def rows(res):
    """The table, from the raw figures bench.py collected."""
    out = []
    add = lambda *a: out.append(Row(*a))
    i = {k: median(v) for k, v in res["init"].items()}
    n = len(res["init"]["ours"])
    r = i["ref"] / i["ours"]
    add("init", "init: process start → first GET /next (median of %d cold starts)" % n,
        ms(i["ours"]), ms(i["ref"]), times(r), "≥ 50× faster", _met(r >= 50))
    f = i["ours"] / i["floor"]
    add("init_floor", "init against the floor: a static C program that only connects and sends GET /next",
        ms(i["ours"]), "floor " + ms(i["floor"]), "%s the floor" % times(f), "≤ 2× the floor", _met(f <= 2))
    add("init_dev", "init of the dynamic dev build ./bootstrap (not what users deploy)",
        ms(i["dev"]), "—", "—", "—", "n/a")
    c = {k: {m: median([x[m] for x in v]) for m in ("init_ms", "first_ms", "total_ms")}
         for k, v in res["cold"].items()}
    add("first_invocation", "first invocation after a cold start: event handed out → result posted",
        ms(c["ours"]["first_ms"]), ms(c["ref"]["first_ms"]), times(c["ref"]["first_ms"] / c["ours"]["first_ms"]),
        "—", "n/a")
    add("cold_total", "cold start to first result: process start → result posted",
        ms(c["ours"]["total_ms"]), ms(c["ref"]["total_ms"]), times(c["ref"]["total_ms"] / c["ours"]["total_ms"]),
        "—", "n/a")
    w = {k: median(v) for k, v in res["warm"].items()}
    r = w["ref"] / w["ours"]
    add("warm", "warm invocation, no-change reconcile (median of %d): event handed out → result posted"
        % len(res["warm"]["ours"]), ms(w["ours"]), ms(w["ref"]), times(r), "≥ 10× faster", _met(r >= 10))
    add("warm_floor", "of the warm invocation: the fake Runtime API's share (runtime_echo, no handler work)",
        ms(w["echo"]), "—", "—", "—", "n/a")
    pw = res["warm_per_invocation"]
    add("warm_elb", "of the warm invocation: the fake ELBv2's own time (Python, checks SigV4), paid by both",
        ms(pw["ours"]["elb_ms"]), ms(pw["ref"]["elb_ms"]), "—", "—", "n/a")
    add("warm_cpu", "CPU time of the function's process per warm invocation (user + system, mean)",
        ms(pw["ours"]["cpu_ms"]), ms(pw["ref"]["cpu_ms"]),
        times(pw["ref"]["cpu_ms"] / pw["ours"]["cpu_ms"]) if pw["ours"]["cpu_ms"] else "—", "—", "n/a")
    out += cpu_rows(res)
    m = res["rss_kib"]
    r = m["ref"] / m["ours"]
    add("peak_rss", "peak resident memory (VmHWM) after the warm invocations", mib(m["ours"]), mib(m["ref"]),
        times(r), "≤ 10 MiB and ≥ 5× less", _met(m["ours"] <= 10 * 1024 and r >= 5))
    p = res["package"]
    add("package", "package size (zip); reference: its code, + boto3/botocore installed (the Python runtime's)",
        size(p["ours_zip"]), "%s + %s" % (size(p["ref_zip"]), size(p["ref_sdk"])),
        times((p["ref_zip"] + p["ref_sdk"]) / p["ours_zip"]), "—", "n/a")
    rx = res["reaction"]
    lag = median(rx["ours"])
    worst = max([v for v in rx["ours"] if v is not None], default=None)
    never = all(v is None for v in rx["ref"])
    add("reaction", "reaction: DNS flips %.0f s into a failover event → RegisterTargets of the new address "
        "(DNS_POLL_MS %d; median of %d, max)" % (rx["flip_after_s"], rx["poll_ms"], len(rx["ours"])),
        "%s (%s)" % (ms(lag), ms(worst)), "never (within the invocation)" if never else ms(median(rx["ref"])),
        "∞" if never and lag is not None else "—", "≤ %d ms (median); reference never" % rx["poll_ms"],
        _met(lag is not None and lag <= rx["poll_ms"] and never))
    cl = res["cluster"]
    lag, ahead = median(cl["lag_ms"]), median(cl["ahead_ms"])
    add("cluster_reaction", "cluster mode: the writer moves in the RDS API → RegisterTargets of its address "
        "(DNS_POLL_MS %d; median of %d, max)" % (cl["poll_ms"], len(cl["lag_ms"])),
        "%s (%s)" % (ms(lag), ms(max(cl["lag_ms"]))), "— (DNS only)", "—", "≤ %d ms (median)" % cl["poll_ms"],
        _met(lag <= cl["poll_ms"]))
    add("cluster_ahead", "cluster mode: the group followed this long before the cluster endpoint's DNS changed "
        "(staged lead %.0f s; median)" % cl["lead_s"], "%.2f s" % (ahead / 1000.0), "—", "—", "> 0",
        _met(min(cl["ahead_ms"]) > 0))
    s = res["sigv4"]
    add("sigv4", "SigV4 signatures per second (C signer vs botocore, same request)",
        "%.0f/s" % s["c_per_s"], "%.0f/s" % s["botocore_per_s"], times(s["ratio"]), "≥ 20×", _met(s["ratio"] >= 20))
    k = res["connections"]
    add("connections", "ELBv2 connections used per 100 warm invocations (opened during them)",
        "%d (%d)" % (k["ours"]["used"], k["ours"]["opened"]), "%d (%d)" % (k["ref"]["used"], k["ref"]["opened"]),
        times(k["ref"]["used"] / k["ours"]["used"]) if k["ours"]["used"] else "—", "1",
        _met(k["ours"]["used"] == 1))
    rt = res["runtime"]
    add("runtime_overhead", "runtime overhead per invocation, trivial handler: turnaround (runtime CPU)",
        "%.0f µs (%.0f µs)" % (rt["turnaround_us_median"], rt["cpu_us_per_invocation"]), "—", "—",
        "< 100 µs", _met(rt["turnaround_us_median"] < 100))
    add("runtime_first_next", "exec → first GET /next of the packaged bootstrap (a static hello: exec → main %s)"
        % ms(rt.get("exec_static_hello_ms")), ms(i["ours"]), "—", "—", "≤ 2 ms", _met(i["ours"] <= 2.0))
    return out


def text_table(table):
    head = Row("", "metric", "rds-nlb-sync", "reference", "ratio", "goal", "met?")
    cols = list(zip(*[r[1:] for r in [head] + table]))
    width = [min(max(len(x) for x in col), 72 if n == 0 else 40) for n, col in enumerate(cols)]
    lines = []
    for r in [head] + table:
        cells = [_clip(x, w).ljust(w) for x, w in zip(r[1:], width)]
        lines.append("  ".join(cells).rstrip())
        if r is head:
            lines.append("  ".join("-" * w for w in width))
    return "\n".join(lines)


def _clip(text, width):
    return text if len(text) <= width else text[:width - 1] + "…"


def machine():
    cpu, cores = None, 0
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and cpu is None:
                    cpu = line.split(":", 1)[1].strip()
                if line.startswith("processor"):
                    cores += 1
    except OSError:
        pass
    debian = None
    try:
        with open("/etc/debian_version") as f:
            debian = f.read().strip()
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {"cpu": cpu or platform.processor() or "unknown", "cores": cores or os.cpu_count(),
            "kernel": platform.release(), "debian": debian, "python": platform.python_version(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "loadavg": load}


def _machine_line(m, load_end):
    load = lambda l: "%.1f" % l[0] if l else "?"
    return ("%s, %s cores, Linux %s, Debian %s, Python %s (boto3 %s, botocore %s); %s; "
            "load average %s at the start, %s at the end"
            % (m["cpu"], m["cores"], m["kernel"], m["debian"], m["python"], m.get("boto3"), m.get("botocore"),
               m["date"], load(m["loadavg"]), load(load_end)))


def markdown(res, table):
    lines = ["## Performance", "",
             "Measured by `make bench` against the Python/boto3 port of the AWS sample in tests/bench/reference/, "
             "both run as Lambda runs them on the local stack (fake Runtime API, dnsmasq, fake ELBv2 over HTTPS "
             "that checks every signature), interleaved (ours, reference, ours, ...), medians; ratios come from "
             "this one run.", "",
             "| metric | rds-nlb-sync | reference | ratio | goal | met? |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in table:
        lines.append("| %s |" % " | ".join(x.replace("|", "\\|") for x in r[1:]))
    lines += ["", "Machine: " + _machine_line(res["machine"], res.get("loadavg_end")) + ".", ""]
    lines += ["Notes:", ""] + ["- " + n for n in res.get("notes", [])]
    lines += ["", "Rerun:", "", "```", RERUN, "```", ""]
    return "\n".join(lines)


def write(out_dir, res, table):
    os.makedirs(out_dir, exist_ok=True)
    md = os.path.join(out_dir, "results.md")
    js = os.path.join(out_dir, "results.json")
    with open(md, "w") as f:
        f.write(markdown(res, table))
    data = dict(res, table=[r._asdict() for r in table])
    data["cold"] = {k: [{m: v for m, v in x.items() if m != "result"} for x in runs]
                    for k, runs in res.get("cold", {}).items()}
    with open(js, "w") as f:
        json.dump(data, f, indent=1, default=str)
        f.write("\n")
    return md, js
