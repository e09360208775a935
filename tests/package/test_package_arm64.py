#!/usr/bin/python3
"""The arm64 deployment package, build/function-arm64.zip (make package ARCH=arm64), the
template's default architecture: the same checks as test_package.py, with the
binary run under qemu-user (qemu-aarch64-static, copied into the empty root).

The package is built here first (scripts/package.sh arm64: seconds when its
dependencies are cached under build/deps/arm64, a few minutes the first time;
as root it installs the cross toolchain's multiarch libraries it misses).
RNS_SKIP_ARM64=1 skips the suite."""
import os
import subprocess

import pkgsuite
import tap

pkgsuite.enter()

ROOT = tap.root()
BUILD = os.path.join(ROOT, "build")


def build():
    if os.environ.get("RNS_SKIP_ARM64") == "1":
        tap.skip("RNS_SKIP_ARM64=1")
    proc = subprocess.run([os.path.join(ROOT, "scripts", "package.sh"), "arm64"], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.decode(errors="replace")
    if proc.returncode != 0:
        if os.geteuid() != 0 and "run as root" in out:
            tap.skip("the arm64 toolchain is missing and installing it needs root")
        raise AssertionError("scripts/package.sh arm64 failed:\n" + out[-2000:])


pkgsuite.define("arm64", os.path.join(BUILD, "function-arm64.zip"), os.path.join(BUILD, "pkg-arm64", "probe"),
                prepare=build)
tap.main()
