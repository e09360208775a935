#!/usr/bin/python3
"""Two package builds from nothing give byte-identical zips, for x86_64 and arm64.

The checkout's files are copied to a folder of another name and scripts/package.sh
runs there with an empty build folder: libcurl and expat are built again from the
pinned sources (the source cache of `make deps` is only read), then bootstrap and
the zip. The result must equal build/function.zip and build/function-arm64.zip,
which `make check` built in the checkout itself. Both architectures build at once."""
import os
import shutil
import subprocess
import tempfile

import tap

ROOT = tap.root()
ZIPS = {"x86_64": "function.zip", "arm64": "function-arm64.zip"}
_builds = {}
_tmp = []


def tracked_files():
    """The files of the checkout as git sees them (committed or not, never ignored)."""
    proc = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if proc.returncode == 0:
        return [f for f in proc.stdout.decode().split("\0") if f and os.path.isfile(os.path.join(ROOT, f))]
    skip = {".git", "build", ".cache"}
    found = []
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not (top == ROOT and d in skip)]
        found += [os.path.relpath(os.path.join(top, f), ROOT) for f in files]
    return found


def copy_checkout(dest):
    for rel in tracked_files():
        os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, rel), os.path.join(dest, rel))


def build_both():
    """Starts both clean builds once; returns {arch: (status, output, zip path)}."""
    if _builds:
        return _builds
    tmp = tempfile.mkdtemp(prefix="rns-repro-")
    _tmp.append(tmp)
    tree = os.path.join(tmp, "another-checkout")
    copy_checkout(tree)
    env = dict(os.environ, RNS_SOURCE_CACHE=os.environ.get("RNS_SOURCE_CACHE", os.path.join(ROOT, ".cache", "sources")),
               RNS_JOBS="1")
    procs = {arch: subprocess.Popen([os.path.join(tree, "scripts", "package.sh"), arch], cwd=tree, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for arch in ZIPS}
    for arch, proc in procs.items():
        out = proc.communicate()[0].decode(errors="replace")
        _builds[arch] = (proc.returncode, out, os.path.join(tree, "build", ZIPS[arch]))
    return _builds


def same_zip(arch):
    mine = os.path.join(ROOT, "build", ZIPS[arch])
    tap.ok(os.path.exists(mine), "%s is missing: make check builds it first (make package%s)"
           % (mine, " ARCH=arm64" if arch == "arm64" else ""))
    code, out, other = build_both()[arch]
    tap.eq(code, 0, "the second build of %s failed:\n%s" % (arch, out[-1500:]))
    with open(mine, "rb") as a, open(other, "rb") as b:
        tap.ok(a.read() == b.read(), "%s differs from the second clean build in another folder" % ZIPS[arch])


@tap.case
def x86_64_zip_is_reproducible():
    same_zip("x86_64")


@tap.case
def arm64_zip_is_reproducible():
    same_zip("arm64")


try:
    tap.main()
finally:
    for path in _tmp:
        shutil.rmtree(path, ignore_errors=True)
