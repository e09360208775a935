#!/usr/bin/python3
"""Writes the seed corpus of every fuzz target into OUT/<target>/ (one file per input):
the small hand-written seeds of tests/fuzz/seeds/<target>/, the regressions of
tests/fuzz/regressions/<target>/, our own test fixtures (tests/fixtures/...), and,
when RNS_SHARED (or ../shared) is there, the shared fixtures and the SigV4 test suite.
Deterministic; files are named by the SHA-1 of their content, so reruns add nothing.

    tests/fuzz/make_seeds.py OUT
"""
import glob
import hashlib
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGETS = ("event", "elbv2_xml", "rds_xml", "sigv4", "runtime_headers", "runtime_reply", "config", "addr",
           "ca_store", "listener_xml")
# Targets seeded with fixture files: folder under fixtures/ and file pattern.
FIXTURES = {"event": ("events", "*.json"), "elbv2_xml": ("elbv2", "*.xml"), "rds_xml": ("rds", "*.xml")}


def shared_dir():
    d = os.environ.get("RNS_SHARED") or os.path.join(os.path.dirname(ROOT), "shared")
    return d if os.path.isdir(d) else None


def files(pattern):
    return sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def seeds_for(target):
    """Every seed input (bytes) of a target."""
    own = os.path.join(ROOT, "tests", "fuzz")
    for d in ("seeds", "regressions"):
        for p in files(os.path.join(own, d, target, "*")):
            yield read(p)
    shared = shared_dir()
    if target in FIXTURES:  # our fixtures, then the shared ones of the same kind
        folder, pattern = FIXTURES[target]
        for top in [os.path.join(ROOT, "tests")] + ([shared] if shared else []):
            for p in files(os.path.join(top, "fixtures", folder, pattern)):
                yield read(p)
    elif target == "sigv4":
        # The first byte selects the signer's options (fuzz_sigv4.c): try each.
        reqs = []
        if shared:
            reqs += files(os.path.join(shared, "sigv4-test-suite", "**", "*.req"))
            reqs += files(os.path.join(shared, "fixtures", "elbv2", "*.request.http"))
        for p in reqs:
            data = read(p)
            for option in b"\x00\x03":
                yield bytes([option]) + data


def write_corpus(out):
    counts = {}
    for target in TARGETS:
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        n = 0
        for data in seeds_for(target):
            name = os.path.join(d, hashlib.sha1(data).hexdigest())
            if not os.path.exists(name):
                with open(name, "wb") as f:
                    f.write(data)
            n += 1
        counts[target] = n
    return counts


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    for target, n in write_corpus(sys.argv[1]).items():
        print("seeds %-16s %d" % (target, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
