#!/usr/bin/python3
"""scripts/sources.sh: the deb-src entries it adds to reach Debian's curl and expat
sources mirror the system's binary entries of the running release, and nothing else
(run on a folder of sample files through RNS_APT_ETC, never on /etc/apt); only the
pinned version, with the pinned sha256 of each file, is fetched or unpacked
(a lock and a cache of the test's own; apt-get and apt-cache are stand-ins on PATH
that answer like a mirror serving another version, so nothing reaches the network).
scripts/deps.sh as another user installs nothing and prints the one line to run; as root on a
minimal root (no make, no compiler, no foreign architecture) it adds the architecture, updates
and installs what is missing in one apt-get call, and calls nothing else (stand-ins again)."""
import os
import subprocess
import tempfile

import tap

SCRIPT = os.path.join(tap.root(), "scripts", "sources.sh")

DEB822 = """Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main contrib
"""
ONE_LINE = """# a comment
deb http://deb.debian.org/debian bookworm main
deb [signed-by=/usr/share/keyrings/x.gpg] http://mirror.example/debian bookworm-updates main
deb http://deb.debian.org/debian sid main
"""


DEPS = os.path.join(tap.root(), "scripts", "deps.sh")
# Stands in for apt-get where deps.sh must not install anything: it says it was called.
REFUSING_APT_GET = """#!/bin/sh
echo "apt-get was called: $*" >&2
exit 97
"""
# apt-cache showsrc as a mirror that serves curl 7.88.1-10+deb12u99 only; apt-get does nothing.
FAKE_APT_CACHE = """#!/bin/sh
printf 'Package: curl\\nVersion: 7.88.1-10+deb12u99\\n\\n'
"""


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def run(files, *args, as_nobody=False, script=SCRIPT, extra_env=None, keep=()):
    """Runs script with files (relative to a temporary folder, bin/ ones on PATH first); the
    files named in keep are left readable in run.kept."""
    with tempfile.TemporaryDirectory() as etc:
        os.chmod(etc, 0o755)
        os.makedirs(os.path.join(etc, "sources.list.d"))
        for name, text in files.items():
            write(os.path.join(etc, name), text, 0o755 if name.startswith("bin/") else 0o644)
        env = dict(os.environ, RNS_APT_ETC=etc, RNS_CODENAME="bookworm", RNS_SOURCE_CACHE=os.path.join(etc, "cache"))
        if any(name.startswith("bin/") for name in files):
            env["PATH"] = os.path.join(etc, "bin") + ":" + env["PATH"]
        if "sources.lock" in files:
            env["RNS_SOURCES_LOCK"] = os.path.join(etc, "sources.lock")
        env.update({k: v.replace("{etc}", etc) for k, v in (extra_env or {}).items()})
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if as_nobody else []
        if as_nobody:
            env["HOME"] = etc  # dpkg reads ~/.dpkg.cfg
        proc = subprocess.run(prefix + [script] + list(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        run.kept = {}
        for name in keep:
            path = os.path.join(etc, name)
            run.kept[name] = open(path).read() if os.path.exists(path) else None
        return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def stanzas(text):
    return [s.strip() for s in text.split("\n\n") if s.strip()]


@tap.case
def deb822_entries_of_the_release_become_deb_src():
    code, out, err = run({"sources.list.d/debian.sources": DEB822}, "--print-deb-src")
    tap.eq(code, 0, "exit status (%s)" % err.strip())
    got = stanzas(out)
    tap.eq(len(got), 2, "two bookworm stanzas, the trixie one left out: %r" % got)
    tap.ok(all(s.startswith("Types: deb-src\n") for s in got), "Types rewritten")
    tap.ok("Suites: bookworm bookworm-updates" in got[0] and "Signed-By:" in got[0], "stanza kept whole")
    tap.ok("Suites: bookworm-security" in got[1] and "Components: main contrib" in got[1], "security stanza")


@tap.case
def one_line_entries_become_deb_src():
    code, out, _ = run({"sources.list": ONE_LINE}, "--print-deb-src")
    tap.eq(code, 0, "exit status")
    tap.eq(out.splitlines(), ["deb-src http://deb.debian.org/debian bookworm main",
                              "deb-src [signed-by=/usr/share/keyrings/x.gpg] http://mirror.example/debian "
                              "bookworm-updates main"], "deb-src lines")


@tap.case
def own_file_and_disabled_files_are_not_mirrored():
    own = DEB822.replace("Types: deb\n", "Types: deb-src\n")
    code, out, _ = run({"sources.list.d/rds-nlb-sync-src.sources": own,
                        "sources.list.d/other.sources.disabled": DEB822}, "--print-deb-src")
    tap.eq((code, out.strip()), (0, ""), "nothing to mirror")


@tap.case
def without_root_it_names_what_to_do():
    # As root the script would add the entry; run it as nobody (setpriv) when we are root.
    code, _, err = run({"sources.list.d/debian.sources": DEB822}, "fetch", as_nobody=os.geteuid() == 0)
    tap.eq(code, 1, "exit status")
    tap.ok("as root, run: make deps" in err, "says what to run: %r" % err)


@tap.case
def one_line_entries_are_added_in_a_list_file():
    # A debootstrap root has only /etc/apt/sources.list: apt reads one-line entries from .list
    # files only (in a .sources file they make every apt command fail).
    if os.geteuid() != 0:
        tap.skip("fetch adds entries only as root")
    files = {"sources.list": ONE_LINE, "bin/apt-cache": FAKE_APT_CACHE, "bin/apt-get": "#!/bin/sh\nexit 0\n",
             "sources.lock": "curl 7.88.1-10+deb12u99 curl_7.88.1-10+deb12u99.dsc %s\n" % ("0" * 64)}
    own = "sources.list.d/rds-nlb-sync-src."
    code, _, err = run(files, "fetch", keep=[own + "list", own + "sources"])
    tap.eq(code, 1, "exit status: the stand-in apt-get downloads nothing (%s)" % err.strip())
    tap.eq(run.kept[own + "list"], "deb-src http://deb.debian.org/debian bookworm main\n"
           "deb-src [signed-by=/usr/share/keyrings/x.gpg] http://mirror.example/debian bookworm-updates main\n",
           "the .list file")
    tap.eq(run.kept[own + "sources"], None, "no .sources file")


def sha256(text):
    import hashlib
    return hashlib.sha256(text.encode()).hexdigest()


@tap.case
def another_version_on_the_mirror_is_refused_naming_both():
    if os.geteuid() != 0:
        tap.skip("fetch downloads only as root")
    files = {"sources.list.d/src.list": "deb-src http://deb.debian.org/debian bookworm main\n",
             "sources.lock": "curl 7.88.1-10+deb12u15 curl_7.88.1-10+deb12u15.dsc %s\n" % ("0" * 64),
             "bin/apt-cache": FAKE_APT_CACHE, "bin/apt-get": "#!/bin/sh\nexit 0\n"}
    code, _, err = run(files, "fetch")
    tap.eq(code, 1, "exit status (%s)" % err.strip())
    tap.ok("version 7.88.1-10+deb12u15 wanted" in err and "offers 7.88.1-10+deb12u99" in err,
           "names the version wanted and the one found: %r" % err)


@tap.case
def a_cached_file_that_differs_from_its_pin_is_not_unpacked():
    dsc = "Format: 3.0 (quilt)\nSource: curl\n"
    files = {"sources.lock": "curl 7.88.1-10+deb12u15 curl_7.88.1-10+deb12u15.dsc %s\n" % sha256(dsc),
             "cache/curl_7.88.1-10+deb12u15.dsc": dsc + "tampered\n"}
    code, out, err = run(files, "unpack", "curl", tempfile.gettempdir())
    tap.eq((code, out), (1, ""), "exit status and no tree printed (%s)" % err.strip())
    tap.ok("does not match its sha256" in err and "run: make deps" in err, "says what is wrong and what to run: %r" % err)


@tap.case
def a_package_that_is_not_pinned_is_refused():
    code, _, err = run({"sources.lock": "expat 2.5.0-1+deb12u2 expat_2.5.0-1+deb12u2.dsc %s\n" % ("0" * 64)},
                       "unpack", "curl", tempfile.gettempdir())
    tap.eq(code, 1)
    tap.ok("curl is not pinned" in err, err)


@tap.case
def deps_as_another_user_prints_the_one_line_to_run():
    # A list naming one package that is surely not installed, and one that is.
    files = {"deps.txt": "# test list\nbash\nrds-nlb-sync-no-such-package\n", "bin/apt-get": REFUSING_APT_GET}
    code, out, err = run(files, script=DEPS, as_nobody=os.geteuid() == 0,
                         extra_env={"RNS_DEPS_LIST": "{etc}/deps.txt"})
    tap.eq(code, 1, "exit status (%s)" % err.strip())
    tap.ok("apt-get was called" not in err, "deps.sh ran apt-get as another user: %r" % err)
    tap.ok("apt-get install -y --no-install-recommends rds-nlb-sync-no-such-package\n" in err,
           "the exact line, naming only what is missing: %r" % err)


# Stand-ins that record their arguments (and apt-get its DEBIAN_FRONTEND) in $RNS_TEST_CALLS.
RECORDING = """#!/bin/sh
echo "$(basename "$0") $* ${DEBIAN_FRONTEND:+[$DEBIAN_FRONTEND]}" >> "$RNS_TEST_CALLS"
"""
# dpkg as on a minimal amd64 root: no foreign architecture yet.
MINIMAL_DPKG = """#!/bin/sh
case "$1" in
--print-architecture) echo amd64 ;;
--print-foreign-architectures) ;;
*) echo "dpkg $*" >> "$RNS_TEST_CALLS" ;;
esac
"""


@tap.case
def deps_on_a_minimal_root_installs_everything_with_apt_alone():
    if os.geteuid() != 0:
        tap.skip("deps.sh installs only as root")
    files = {"deps.txt": "bash\nrds-nlb-sync-no-such-package\nlibrds-nlb-sync-none-dev:arm64\n",
             "sources.lock": "# nothing pinned\n", "bin/apt-get": RECORDING, "bin/dpkg": MINIMAL_DPKG}
    files.update({"bin/" + tool: REFUSING_APT_GET.replace("apt-get", tool) for tool in ("make", "cc", "gcc")})
    code, out, err = run(files, script=DEPS, extra_env={"RNS_DEPS_LIST": "{etc}/deps.txt",
                                                          "RNS_TEST_CALLS": "{etc}/calls", "DEBIAN_FRONTEND": ""},
                         keep=["calls"])
    tap.eq((code, err), (0, ""), "exit status and stderr")
    tap.eq(out, "deps: installing rds-nlb-sync-no-such-package librds-nlb-sync-none-dev:arm64\n", "stdout")
    tap.eq(run.kept["calls"].splitlines(), [
        "dpkg --add-architecture arm64",
        "apt-get update -qq [noninteractive]",
        "apt-get install -y -qq --no-install-recommends rds-nlb-sync-no-such-package "
        "librds-nlb-sync-none-dev:arm64 [noninteractive]"], "the calls, in order")


@tap.case
def deps_is_silent_when_nothing_is_missing():
    files = {"deps.txt": "bash\ncoreutils\n", "sources.lock": "# nothing pinned\n", "bin/apt-get": REFUSING_APT_GET}
    code, out, err = run(files, script=DEPS, as_nobody=os.geteuid() == 0,
                         extra_env={"RNS_DEPS_LIST": "{etc}/deps.txt"})
    tap.eq((code, out, err), (0, "", ""), "exit status and output")


tap.main()
