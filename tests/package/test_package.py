#!/usr/bin/python3
# rns: namespace
"""The x86_64 deployment package, build/function.zip (README.md, "Deploy"; make package).

Checks the zip (one entry, bootstrap, mode 0755, at most 3 MiB), the ELF (x86-64,
glibc's shared libraries only, no symbol above GLIBC_2.34, stripped), and runs
the zipped bootstrap chrooted into an otherwise empty root (glibc's files, a CA
bundle only at the Amazon Linux path) through one real invocation over HTTPS
against the fake Runtime and ELBv2 APIs and dnsmasq. See pkgsuite.py."""
import os
import subprocess
import tempfile

import pkgcheck
import pkgsuite
import tap

BUILD = os.path.join(tap.root(), "build")
pkgsuite.define("x86_64", os.path.join(BUILD, "function.zip"), os.path.join(BUILD, "pkg-x86_64", "probe"))
CHECK_ELF = os.path.join(tap.root(), "scripts", "check-elf.sh")


def check_elf(path):
    proc = subprocess.run([CHECK_ELF, "x86_64", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return proc.returncode, proc.stdout.decode(errors="replace")


def compile_c(tmp, source, *libs):
    tap.need("gcc", "gcc")
    src, exe = os.path.join(tmp, "t.c"), os.path.join(tmp, "t")
    with open(src, "w") as f:
        f.write(source)
    subprocess.run(["gcc", "-o", exe, src] + list(libs), check=True)
    return exe


@tap.case
def build_check_rejects_symbols_above_glibc_2_34():
    # scripts/package.sh fails through scripts/check-elf.sh; it must name the symbol.
    with tempfile.TemporaryDirectory() as tmp:
        exe = compile_c(tmp, "#include <stdlib.h>\nint main(void) { unsigned char b[4];"
                             " arc4random_buf(b, sizeof b); return b[0] == 7; }\n")
        code, out = check_elf(exe)
    tap.eq(code, 1, "exit status")
    tap.ok("arc4random_buf@GLIBC_2.36" in out, "names the symbol: %s" % out.strip())


@tap.case
def build_check_rejects_shared_libraries_outside_glibc():
    with tempfile.TemporaryDirectory() as tmp:
        exe = compile_c(tmp, "#include <jansson.h>\nint main(void) { json_t *j = json_object();"
                             " json_decref(j); return 0; }\n", "-ljansson")
        code, out = check_elf(exe)
    tap.eq(code, 1, "exit status")
    tap.ok("libjansson.so.4" in out, "names the library: %s" % out.strip())


@tap.case
def build_check_accepts_the_package():
    zip_path = os.path.join(BUILD, "function.zip")
    tap.ok(os.path.exists(zip_path), "build/function.zip is missing: run make package")
    with tempfile.TemporaryDirectory() as tmp:
        code, out = check_elf(pkgcheck.write_exec(tmp, "bootstrap", pkgcheck.zip_bootstrap(zip_path)))
    tap.eq((code, out), (0, ""), "check-elf on the packaged bootstrap")


tap.main()
