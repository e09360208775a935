#!/usr/bin/python3
"""Runs every test suite and counts the results; the last line is `N passed, N failed`.

A suite is a program that prints one line per case:
    ok - NAME   |   not ok - NAME: WHY   |   ok - NAME # SKIP WHY
Suites: the C unit test binaries (plain and sanitizer builds) and every
tests/*/test_*.py, run with Debian's /usr/bin/python3 and the environment
RNS_ROOT (the checkout), RNS_BUILD (the build folder: $RNS_BUILD/bootstrap,
$RNS_BUILD/sigv4, $RNS_BUILD/asan/...), RNS_SHARED (../shared, when present). A suite that exits
non-zero without reporting a failed case counts as one failed case.
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINE = re.compile(r"^(ok|not ok) - (.*)$")
SUITE_TIMEOUT = 1800


def suites(build):
    for binary in sorted(glob.glob(os.path.join(build, "tests/test_*"))):
        yield "unit/" + os.path.basename(binary), [binary]
    for binary in sorted(glob.glob(os.path.join(build, "asan/tests/test_*"))):
        yield "asan/" + os.path.basename(binary), [binary]
    for script in sorted(glob.glob(os.path.join(ROOT, "tests/*/test_*.py"))):
        rel = os.path.relpath(script, os.path.join(ROOT, "tests"))
        yield rel[:-3], ["/usr/bin/python3", script]


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


def run_suite(name, argv, env, verbose):
    start = time.monotonic()
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
    if code != 0 and failed == 0:
        failed += 1
        failures.append("not ok - %s: exited with status %d" % (name, code))
    took = time.monotonic() - start
    print("%-44s %4d passed, %d failed, %d skipped (%.1fs)" % (name, passed, failed, skipped, took))
    for line in failures:
        print("    " + line)
    if failures or verbose:
        tail = err.strip().splitlines()[-40:]
        for line in tail:
            print("      | " + line)
    sys.stdout.flush()
    return passed, failed, skipped


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-k", default="", help="run only suites whose name contains this")
    parser.add_argument("-v", action="store_true", help="show stderr of every suite")
    parser.add_argument("--build", default="build", help="the build folder (make BUILD=...)")
    args = parser.parse_args()
    build = os.path.join(ROOT, args.build)
    env = environment(build)
    if "RNS_SHARED" not in env:
        print("note: ../shared is absent; cases that read it are reported as skipped")
    totals = [0, 0, 0]
    for name, argv in suites(build):
        if args.k and args.k not in name:
            continue
        for i, n in enumerate(run_suite(name, argv, env, args.v)):
            totals[i] += n
    print("%d skipped" % totals[2])
    print("%d passed, %d failed" % (totals[0], totals[1]))
    return 1 if totals[1] else 0


if __name__ == "__main__":
    sys.exit(main())
