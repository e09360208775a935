#!/usr/bin/python3
# rns: namespace
"""The arm64 deployment package, build/function-arm64.zip (make package ARCH=arm64), the
template's default architecture: the same checks as test_package.py, with the
binary run under qemu-user (qemu-aarch64-static, copied into the empty root).

`make check` builds the package before any suite runs; a missing zip, cross
toolchain or emulator is a failure that names `make deps`, never a skip."""
import os

import pkgsuite
import tap

BUILD = os.path.join(tap.root(), "build")
pkgsuite.define("arm64", os.path.join(BUILD, "function-arm64.zip"), os.path.join(BUILD, "pkg-arm64", "probe"))
tap.main()
