#!/usr/bin/env bash
# deps.sh: the one install step, `bash scripts/deps.sh` (also `make deps`, once
# make is there). Needs only what a minimal Debian 12 has (a debian:12 container,
# a debootstrap minbase root): bash, dpkg and apt. Installs the Debian packages of
# scripts/deps.txt that are missing, make and the compilers included (as root;
# the arm64 ones through multiarch), then fetches the pinned curl and expat
# sources (scripts/sources.sh fetch). Silent, and quick, when nothing is missing.
# As any other user it installs nothing: it prints the exact apt-get line to run
# and fails.
#
# Nothing else in the project calls apt-get: the build scripts and the tests
# only check, and name this command when something is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
native=$(dpkg --print-architecture)

installed() {
    local status
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null || true)
    [ "${status:0:2}" = "ii" ]
}

missing=() arches=()
while read -r pkg _; do
    case "$pkg" in '' | '#'*) continue ;; esac
    installed "$pkg" && continue
    missing+=("$pkg")
    case "$pkg" in
    *:*) arch=${pkg#*:}
         # A Multi-Arch: same package must match its native twin's version,
         # so the twin is named too (apt then upgrades both together).
         installed "${pkg%%:*}" && missing+=("${pkg%%:*}")
         [ "$arch" = "$native" ] || dpkg --print-foreign-architectures | grep -qx "$arch" ||
             [[ " ${arches[*]-} " == *" $arch "* ]] || arches+=("$arch") ;;
    esac
done < "${RNS_DEPS_LIST:-$here/deps.txt}"

if [ ${#missing[@]} -gt 0 ]; then
    line="apt-get install -y --no-install-recommends ${missing[*]}"
    for a in ${arches[@]+"${arches[@]}"}; do line="dpkg --add-architecture $a && apt-get update && $line"; done
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: missing Debian packages; as root, run:" >&2
        echo "  $line" >&2
        exit 1
    fi
    echo "deps: installing ${missing[*]}"
    for a in ${arches[@]+"${arches[@]}"}; do dpkg --add-architecture "$a"; done
    # No questions, and no debconf note that apt-utils is missing (a minimal root lacks it).
    export DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A debootstrap root has no /etc/hosts. The local stack's namespace covers it with a
# private one (tests/lib/netns.py), and a bind mount needs a file to cover.
if [ ! -e /etc/hosts ] && [ "$(id -u)" -eq 0 ]; then
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > /etc/hosts
    echo "deps: wrote /etc/hosts (localhost only)"
fi

"$here/sources.sh" fetch
