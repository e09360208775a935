#!/usr/bin/python3
"""Our patches to libcurl (scripts/patches/curl-*.patch) change how it builds text, never
the text: tests/package/curl_printf_probe.c is built against Debian's libcurl and against
the patched static libcurl that build/function.zip links (named in build/pkg-x86_64/.deps), and
both must print the same bytes. (The other suites link Debian's libcurl, so only the
package suites run the patched one.)"""
import os
import subprocess
import tempfile

import tap

ROOT = tap.root()
PROBE = os.path.join(ROOT, "tests", "package", "curl_printf_probe.c")


def patched_curl():
    """The libcurl the current package links: package.sh writes its folder first in
    build/pkg-x86_64/.deps (older builds may be cached beside it)."""
    stamp = os.path.join(tap.root(), "build", "pkg-x86_64", ".deps")
    tap.ok(os.path.exists(stamp), "%s is missing: make check builds the package first (make package)" % stamp)
    with open(stamp) as f:
        prefix = os.path.join(tap.root(), f.read().split()[0])
    tap.ok(os.path.exists(os.path.join(prefix, "lib", "libcurl.a")), "no libcurl.a in %s" % prefix)
    return prefix


def build_and_run(tmp, name, cflags, libs):
    exe = os.path.join(tmp, name)
    subprocess.run([tap.need("gcc", "gcc"), "-std=c11", "-O1", "-o", exe, PROBE] + cflags + libs, check=True)
    proc = subprocess.run([exe], stdout=subprocess.PIPE, check=True)
    return proc.stdout


@tap.case
def patched_printf_prints_what_debians_prints():
    prefix = patched_curl()
    with tempfile.TemporaryDirectory() as tmp:
        debian = build_and_run(tmp, "debian", [], ["-lcurl"])
        ours = build_and_run(tmp, "ours", ["-I" + os.path.join(prefix, "include")],
                             [os.path.join(prefix, "lib", "libcurl.a"), "-lssl", "-lcrypto", "-lpthread", "-ldl"])
    tap.ok(len(debian.splitlines()) > 20, "the probe printed its cases: %r" % debian[:200])
    diff = [(a, b) for a, b in zip(debian.splitlines(), ours.splitlines()) if a != b]
    tap.eq(diff[:3], [], "lines that differ (Debian's, ours)")
    tap.eq(ours, debian, "the whole output")


tap.main()
