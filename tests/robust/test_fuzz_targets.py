# rns: no-asan (the fuzz targets are ASan+UBSan builds of their own)
"""The libFuzzer targets keep building and keep passing their inputs: scripts/fuzz.sh --replay
builds every tests/fuzz/fuzz_*.c with clang's AddressSanitizer and UndefinedBehaviorSanitizer
into $RNS_BUILD/fuzz, then runs each once over its seeds (tests/fuzz/seeds, our fixtures and,
when present, the shared fixtures and SigV4 suite) and its regressions (tests/fuzz/regressions:
the inputs of past findings), plus 3,000 fixed-seed mutations. One case per target."""
import glob
import os
import shutil
import subprocess
import sys

import tap

ROOT = tap.root()
TARGETS = sorted(os.path.basename(p)[5:-2] for p in glob.glob(os.path.join(ROOT, "tests", "fuzz", "fuzz_*.c")))


def main():
    if not shutil.which("clang"):
        for t in TARGETS:
            print("not ok - fuzz_%s: clang is missing (Debian package clang): run make deps" % t)
        return 1
    env = dict(os.environ, FUZZ_BUILD=os.path.join(tap.build_dir(), "fuzz"))
    proc = subprocess.run([os.path.join(ROOT, "scripts", "fuzz.sh"), "--replay"], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=1200)
    out = proc.stdout.decode(errors="replace")
    sys.stderr.write(proc.stderr.decode(errors="replace")[-6000:])
    sys.stdout.write(out)
    reported = [t for t in TARGETS if ("fuzz_%s:" % t) in out]
    for t in TARGETS:
        if t not in reported:  # the build failed before any replay
            print("not ok - fuzz_%s: not replayed (fuzz.sh exited %d)" % (t, proc.returncode))
    return 0 if proc.returncode == 0 and len(reported) == len(TARGETS) else 1


if __name__ == "__main__":
    sys.exit(main())
