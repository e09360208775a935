"""The test harness's shared vocabulary (tests/lib/const.py) against its sources: ERROR_TYPES is
exactly the set of errorType names in the binary's one table of them (the `[RNS_ERR_...] = "Name"`
initialisers of the C sources), and every one of them is an errorType of the contract (CONTRACT.md,
read from ../shared when present)."""
import glob
import os
import re

import const
import tap

ENTRY = re.compile(r'\[RNS_ERR_[A-Z_]+\]\s*=\s*"([^"]*)"')


def binary_error_types():
    """{name: [files]} of every errorType name the C sources initialise a table entry with."""
    found = {}
    for path in sorted(glob.glob(os.path.join(tap.root(), "**", "*.c"), recursive=True)):
        rel = os.path.relpath(path, tap.root())
        if rel.startswith(("tests/", "build/", ".cache/")):
            continue
        with open(path, errors="replace") as f:
            for name in ENTRY.findall(f.read()):
                if name:
                    found.setdefault(name, []).append(rel)
    return found


@tap.case
def error_types_are_the_binarys():
    found = binary_error_types()
    tap.ok(found, "no `[RNS_ERR_...] = \"Name\"` table found in the C sources")
    tap.eq(sorted(found), sorted(const.ERROR_TYPES), "const.ERROR_TYPES against %s"
           % sorted({f for files in found.values() for f in files}))


@tap.case
def error_types_are_the_contracts():
    shared = tap.shared_dir()
    if not shared:
        tap.skip("RNS_SHARED is not set (no ../shared)")
    with open(os.path.join(shared, "CONTRACT.md")) as f:
        contract = f.read()
    tap.eq(sorted(t for t in const.ERROR_TYPES if "`%s`" % t not in contract), [], "not named in CONTRACT.md")


tap.main()
