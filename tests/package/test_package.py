#!/usr/bin/python3
"""The x86_64 deployment package, build/function.zip (CONTRACT.md section 7; make package).

Checks the zip (one entry, bootstrap, mode 0755, at most 3 MiB), the ELF (x86-64,
glibc's shared libraries only, no symbol above GLIBC_2.34, stripped), and runs
the zipped bootstrap chrooted into an otherwise empty root (glibc's files, a CA
bundle only at the Amazon Linux path) through one real invocation over HTTPS
against the fake Runtime and ELBv2 APIs and dnsmasq. See pkgsuite.py."""
import os

import pkgsuite
import tap

BUILD = os.path.join(tap.root(), "build")
pkgsuite.define("x86_64", os.path.join(BUILD, "function.zip"), os.path.join(BUILD, "pkg-x86_64", "probe"))
tap.main()
