"""Facts about a deployment package read from the zip and the ELF itself (readelf,
which reads every architecture), for tests/package/test_package*.py.
scripts/package.sh checks the same promises with objdump; these checks are a
second, independent reading."""
import os
import re
import stat
import subprocess
import zipfile

MAX_ZIP_BYTES = 3 * 1024 * 1024
GLIBC_MAX = (2, 34)
# glibc's own libraries: the only shared objects the package may need.
GLIBC_LIBS = re.compile(r"^(libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|"
                        r"libresolv\.so\.2|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1)$")


def zip_entries(path):
    with zipfile.ZipFile(path) as z:
        return [(i, z.read(i)) for i in z.infolist()]


def zip_mode(info):
    """The Unix mode stored in the entry (0 when the zip has none)."""
    return (info.external_attr >> 16) & 0xFFFF if info.create_system == 3 else 0


def readelf(path, *args):
    return subprocess.run(["readelf", "-W"] + list(args) + [path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=True).stdout.decode(errors="replace")


def machine(path):
    m = re.search(r"Machine:\s+(.*)", readelf(path, "-h"))
    return m.group(1).strip() if m else None


def interpreter(path):
    m = re.search(r"Requesting program interpreter: ([^\]]+)\]", readelf(path, "-l"))
    return m.group(1) if m else None


def needed(path):
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", readelf(path, "-d"))


def glibc_versions(path):
    """Every GLIBC_x.y the binary's version-needs section asks for, as tuples."""
    out = readelf(path, "-V")
    needs = out[out.find("Version needs section"):] if "Version needs section" in out else ""
    return sorted({tuple(int(x) for x in v.split(".")) for v in re.findall(r"Name: GLIBC_([0-9.]+)", needs)})


def symbols_above(path, limit=GLIBC_MAX):
    """Dynamic symbols bound to a GLIBC version above limit: ["name@GLIBC_x.y"]."""
    bad = set()
    for name, ver in re.findall(r"\s(\S+)@GLIBC_([0-9.]+)", readelf(path, "--dyn-syms")):
        if tuple(int(x) for x in ver.split(".")[:2]) > limit:
            bad.add("%s@GLIBC_%s" % (name, ver))
    return sorted(bad)


def sections(path):
    return re.findall(r"^\s*\[\s*\d+\]\s+(\S+)", readelf(path, "-S"), re.M)


def write_exec(directory, name, data):
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o755)
    return path


def check_zip(tap, path):
    """The promises of README.md, "Deploy" on the zip at path; returns the bootstrap bytes."""
    size = os.path.getsize(path)
    tap.ok(size <= MAX_ZIP_BYTES, "%s is %d bytes, above 3 MiB" % (path, size))
    entries = zip_entries(path)
    tap.eq([i.filename for i, _ in entries], ["bootstrap"], "zip entries")
    info, data = entries[0]
    mode = zip_mode(info)
    tap.ok(stat.S_ISREG(mode), "bootstrap is stored as a regular file with a Unix mode (mode %o)" % mode)
    tap.eq(oct(stat.S_IMODE(mode)), oct(0o755), "bootstrap mode")
    tap.ok(data[:4] == b"\x7fELF", "bootstrap is an ELF, not a script")
    return data


def check_elf(tap, path, machine_name, loader):
    tap.eq(machine(path), machine_name, "ELF machine")
    tap.eq(interpreter(path), loader, "program interpreter")
    libs = needed(path)
    tap.ok("libc.so.6" in libs, "needs libc.so.6 (dynamically linked glibc): %r" % libs)
    others = [n for n in libs if not GLIBC_LIBS.match(n)]
    tap.eq(others, [], "shared libraries outside glibc")
    versions = glibc_versions(path)
    tap.ok(versions, "version needs section lists GLIBC versions")
    tap.ok(max(versions) <= GLIBC_MAX, "needs GLIBC_%s > 2.34: %s" % (
        ".".join(map(str, max(versions))), ", ".join(symbols_above(path))))
    secs = sections(path)
    tap.ok(".symtab" not in secs, "stripped: no .symtab")
    tap.eq([s for s in secs if s.startswith(".debug")], [], "debug sections")


def zip_bootstrap(path):
    with zipfile.ZipFile(path) as z:
        return z.read("bootstrap")
