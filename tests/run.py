#!/usr/bin/python3
"""Runs every test suite and counts the results; the last line is `N passed, N failed`.

A suite is a program that prints one line per case:
    ok - NAME   |   not ok - NAME: WHY   |   ok - NAME # SKIP WHY
Suites: the C unit test binaries (plain and sanitizer builds) and every
tests/*/test_*.py, run with Debian's /usr/bin/python3 and the environment
RNS_ROOT (the checkout), RNS_BUILD (the build folder: $RNS_BUILD/bootstrap,
$RNS_BUILD/sigv4, $RNS_BUILD/asan/...), RNS_SHARED (../shared, when present). A suite that exits
non-zero without reporting a failed case counts as one failed case.

Namespace: a suite that says `# rns: namespace` in its first lines runs in a private network and
mount namespace of its own (the local stack's: tests/lib/netns.py), started through
`/usr/bin/python3 tests/lib/netns.py SUITE`, which is also how to run one by hand.

Sanitizer pass: the integration, end-to-end and robustness suites run a second
time against the ASan+UBSan build (`make asan`: RNS_BUILD=$RNS_BUILD/asan),
named asan/<suite>, unless the suite says `# rns: no-asan (why)` in its first
lines (valgrind suites: valgrind and ASan do not mix). Every process of an
asan/ suite, unit binaries included, writes sanitizer reports to files of its
own folder (ASAN_OPTIONS/UBSAN_OPTIONS log_path) and exits with status 86 on a
report; a report file counts as a failed case whatever the harness saw.

Suites run in parallel (-j, default: the number of cores plus one; most suites
wait on subprocesses more than they compute), longest first by the times of the
previous run (kept in $RNS_BUILD/.suite-times.json). Each suite's lines are
printed whole when it ends. The run closes with the five slowest suites.

--quick runs the edit-compile-test loop of `make test`: the plain unit tests
and the suites named in QUICK (no sanitizer pass, no valgrind, no package).
"""
import argparse
import concurrent.futures
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINE = re.compile(r"^(ok|not ok) - (.*)$")
SUITE_TIMEOUT = 1800


# make test: the unit binaries and the core integration suites.
QUICK = ("unit/", "integration/test_elbv2", "integration/test_handler_cli", "integration/test_handler_events",
         "integration/test_handler_failover", "integration/test_handler_safety", "integration/test_handler_cfn",
         "integration/test_runtime", "integration/test_sigv4_cli", "integration/test_sigv4_suite",
         "integration/test_handler_cluster", "template/")
# Seconds the slowest suites take on a quiet 2-core machine: the order of a first run,
# before $RNS_BUILD/.suite-times.json exists (a fresh clone, as CI runs), so that they
# start first; any other suite counts as 10 s.
SLOW = {"package/test_reproducible": 240, "robust/test_leaks": 160, "integration/test_handler_valgrind": 120,
        "integration/test_sigv4_valgrind": 75, "bench/test_bench_smoke": 45, "integration/test_runtime_valgrind": 40,
        "asan/robust/test_fault_matrix": 36, "robust/test_fault_matrix": 35, "asan/integration/test_handler_cluster": 30}
NO_ASAN = "# rns: no-asan"
NAMESPACE = "# rns: namespace"
NETNS = os.path.join(ROOT, "tests", "lib", "netns.py")
ASAN_AREAS = ("integration", "e2e", "robust")
SANITIZER_EXIT = 86


def suites(build):
    """(name, argv, sanitized) of every suite, in run order."""
    # Only the binaries of today's sources: a build folder keeps the binary of
    # a test that was renamed or removed, which would otherwise run again.
    units = sorted(os.path.basename(c)[:-2] for c in glob.glob(os.path.join(ROOT, "tests/unit/test_*.c")))
    for folder, prefix, sanitized in (("tests", "unit/", False), ("asan/tests", "asan/", True)):
        for name in units:
            binary = os.path.join(build, folder, name)
            if os.access(binary, os.X_OK):
                yield prefix + name, [binary], sanitized
    scripts = sorted(glob.glob(os.path.join(ROOT, "tests/*/test_*.py")))
    for script in scripts:
        yield python_name(script), python_argv(script), False
    if not os.access(os.path.join(build, "asan", "bootstrap"), os.X_OK):
        return
    for script in scripts:
        if python_name(script).split("/")[0] in ASAN_AREAS and not says(script, NO_ASAN):
            yield "asan/" + python_name(script), python_argv(script), True


def quick(name):
    """Whether a suite belongs to make test: QUICK names folders (ending in /) or suites."""
    return any(name.startswith(q) if q.endswith("/") else name == q for q in QUICK)


def python_name(script):
    return os.path.relpath(script, os.path.join(ROOT, "tests"))[:-3]


def says(script, marker):
    """Whether one of the script's first lines starts with marker (`# rns: ...`)."""
    with open(script, errors="replace") as f:
        head = [next(f, "") for _ in range(30)]
    return any(line.startswith(marker) for line in head)


def python_argv(script):
    return ["/usr/bin/python3"] + ([NETNS] if says(script, NAMESPACE) else []) + [script]


def environment(build):
    env = dict(os.environ)
    env["RNS_ROOT"] = ROOT
    env["RNS_BUILD"] = build
    env["PYTHONPATH"] = os.path.join(ROOT, "tests", "lib")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    shared = os.path.join(os.path.dirname(ROOT), "shared")
    if "RNS_SHARED" not in env and os.path.isdir(shared):
        env["RNS_SHARED"] = shared
    return env


def sanitized_env(env, build, report_dir):
    """The environment of an asan/ suite: the sanitizer build, and reports to files."""
    env = dict(env)
    env["RNS_BUILD"] = os.path.join(build, "asan")
    env["RNS_SANITIZED"] = "1"  # for the odd case that cannot apply (valgrind on an ASan binary)
    common = "log_path=%s:exitcode=%d" % (os.path.join(report_dir, "report"), SANITIZER_EXIT)
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:" + common
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:" + common
    return env


def sanitizer_reports(report_dir):
    """Lines of the sanitizer reports written into report_dir."""
    found = []
    for path in sorted(glob.glob(os.path.join(report_dir, "report*"))):
        with open(path, errors="replace") as f:
            text = f.read()
        if text.strip():
            found.append("%s: %s" % (os.path.basename(path), " | ".join(text.strip().splitlines()[:12])))
    return found


def run_suite(name, argv, env, verbose, build=None, sanitized=False):
    start = time.monotonic()
    report_dir = None
    if sanitized:
        report_dir = tempfile.mkdtemp(prefix="rns-sanitizer-")
        env = sanitized_env(env, build, report_dir)
    try:
        proc = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=SUITE_TIMEOUT)
        out, err, code = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"), proc.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        err = (e.stderr or b"").decode(errors="replace") + "\nsuite timed out after %ds" % SUITE_TIMEOUT
        code = -1
    passed = failed = skipped = 0
    failures = []
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        if m.group(1) == "not ok":
            failed += 1
            failures.append(line)
        elif "# SKIP" in m.group(2):
            skipped += 1
        else:
            passed += 1
    if report_dir:
        for report in sanitizer_reports(report_dir):
            failed += 1
            failures.append("not ok - %s: sanitizer report %s" % (name, report[:1500]))
        shutil.rmtree(report_dir, ignore_errors=True)
    if code != 0 and failed == 0:
        failed += 1
        failures.append("not ok - %s: exited with status %d" % (name, code))
    took = time.monotonic() - start
    lines = ["%-44s %4d passed, %d failed, %d skipped (%.1fs)" % (name, passed, failed, skipped, took)]
    lines += ["    " + line for line in failures]
    if failures or verbose:
        lines += ["      | " + line for line in err.strip().splitlines()[-40:]]
    return (passed, failed, skipped), took, "\n".join(lines)


def load_times(build):
    try:
        with open(os.path.join(build, ".suite-times.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def save_times(build, times):
    path = os.path.join(build, ".suite-times.json")
    try:
        with open(path + ".tmp", "w") as f:
            json.dump(times, f, indent=0, sort_keys=True)
        os.replace(path + ".tmp", path)
    except OSError:
        pass


def run_all(chosen, env, args, build):
    """Runs the suites on args.j workers, longest first; returns totals and {name: seconds}."""
    before = load_times(build)
    order = sorted(chosen, key=lambda s: -before.get(s[0], SLOW.get(s[0], 10.0)))
    totals, took = [0, 0, 0], {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.j)) as pool:
        running = {pool.submit(run_suite, name, argv, env, args.v, build, sanitized): name
                   for name, argv, sanitized in order}
        for done in concurrent.futures.as_completed(running):
            counts, seconds, text = done.result()
            print(text, flush=True)
            took[running[done]] = seconds
            for i, n in enumerate(counts):
                totals[i] += n
    return totals, took


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-k", default="", help="run only suites whose name contains this")
    parser.add_argument("-v", action="store_true", help="show stderr of every suite")
    parser.add_argument("--build", default="build", help="the build folder (make BUILD=...)")
    parser.add_argument("-j", type=int, default=(os.cpu_count() or 2) + 1, help="suites run at once")
    parser.add_argument("--quick", action="store_true", help="only the suites of make test")
    args = parser.parse_args()
    build = os.path.join(ROOT, args.build)
    env = environment(build)
    if "RNS_SHARED" not in env:
        print("note: ../shared is absent; cases that read it are reported as skipped")
    chosen = [s for s in suites(build) if (not args.k or args.k in s[0]) and (not args.quick or quick(s[0]))]
    start = time.monotonic()
    totals, took = run_all(chosen, env, args, build)
    save_times(build, dict(load_times(build), **took))
    print("slowest suites: " + ", ".join("%s %.0fs" % (n, t) for n, t in
                                         sorted(took.items(), key=lambda kv: -kv[1])[:5]))
    print("%d suites in %.0f s on %d workers" % (len(took), time.monotonic() - start, args.j))
    print("%d skipped" % totals[2])
    print("%d passed, %d failed" % (totals[0], totals[1]))
    return 1 if totals[1] else 0


if __name__ == "__main__":
    sys.exit(main())
