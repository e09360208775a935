#!/usr/bin/python3
"""scripts/sources.sh: the deb-src entries it adds to reach Debian's curl and expat
sources mirror the system's binary entries of the running release, and nothing else
(run on a folder of sample files through RNS_APT_ETC, never on /etc/apt)."""
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


def run(files, *args, as_nobody=False):
    with tempfile.TemporaryDirectory() as etc:
        os.chmod(etc, 0o755)
        os.makedirs(os.path.join(etc, "sources.list.d"))
        for name, text in files.items():
            with open(os.path.join(etc, name), "w") as f:
                f.write(text)
        env = dict(os.environ, RNS_APT_ETC=etc, RNS_CODENAME="bookworm", RNS_SOURCE_CACHE=os.path.join(etc, "cache"))
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if as_nobody else []
        proc = subprocess.run(prefix + [SCRIPT] + list(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
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


tap.main()
