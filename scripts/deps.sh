#!/usr/bin/env bash
# deps.sh: `make deps`, the one install step. Installs the Debian packages of
# scripts/deps.txt that are missing (as root; the arm64 ones through multiarch),
# then fetches the pinned curl and expat sources (scripts/sources.sh fetch).
# Silent, and quick, when nothing is missing. As any other user it installs
# nothing: it prints the exact apt-get line to run and fails.
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
        echo "make deps: missing Debian packages; as root, run:" >&2
        echo "  $line" >&2
        exit 1
    fi
    echo "make deps: installing ${missing[*]}"
    for a in ${arches[@]+"${arches[@]}"}; do dpkg --add-architecture "$a"; done
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

"$here/sources.sh" fetch
