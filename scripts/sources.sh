#!/usr/bin/env bash
# sources.sh: Debian's curl and expat sources, which the static bootstrap is
# built from, pinned in scripts/sources.lock by Debian version and the sha256 of
# each source file. Any other version is refused.
#
#   sources.sh fetch          downloads what the cache lacks (make deps, as root:
#                             it may add a deb-src entry and run apt-get update)
#   sources.sh unpack NAME DEST
#                             checks the cached files against the lock, unpacks
#                             them (Debian's patches applied) into DEST/NAME-VERSION
#                             and prints that path; never touches the network
#   sources.sh --print-deb-src
#                             the deb-src entries fetch would add (tests point
#                             RNS_APT_ETC at a folder of their own instead of /etc/apt)
#
# The cache is RNS_SOURCE_CACHE (default .cache/sources in the checkout, which
# `make clean` keeps).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lock=${RNS_SOURCES_LOCK:-$here/sources.lock}
cache=${RNS_SOURCE_CACHE:-$here/../.cache/sources}
etc=${RNS_APT_ETC:-/etc/apt}
codename=${RNS_CODENAME:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}
# The deb-src entries fetch adds: deb822 stanzas in a .sources file, one-line entries (a
# debootstrap root has only /etc/apt/sources.list) in a .list file; apt reads each format
# only from files of its own suffix.
src_list=$etc/sources.list.d/rds-nlb-sync-src.sources
src_lines=$etc/sources.list.d/rds-nlb-sync-src.list

die() { echo "sources: $*" >&2; exit 1; }

have_deb_src() {
    grep -qsE '^[[:space:]]*(Types:.*deb-src|deb-src[[:space:]])' \
        "$etc/sources.list" "$etc"/sources.list.d/*.list "$etc"/sources.list.d/*.sources
}

# The binary entries of the Debian release in use, rewritten as deb-src: the deb822
# stanzas, then the one-line entries.
mirror_stanzas() {
    local f
    for f in "$etc"/sources.list.d/*.sources; do
        [ -f "$f" ] && [ "$f" != "$src_list" ] || continue
        awk -v RS= -v ORS='\n\n' -v cn="$codename" '
            /(^|\n)Types:[ \t]*deb[ \t]*(\n|$)/ && $0 ~ ("Suites:[^\n]*" cn) {
                sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' "$f"
    done
}
mirror_lines() {
    local f
    for f in "$etc/sources.list" "$etc"/sources.list.d/*.list; do
        [ -f "$f" ] && [ "$f" != "$src_lines" ] || continue
        awk -v cn="$codename" '$1 == "deb" && $0 ~ (" " cn) { $1 = "deb-src"; print }' "$f"
    done
}
mirror_entries() {
    mirror_stanzas
    mirror_lines
}

# write_entries FILE LISTER: FILE holds what LISTER prints, when it prints anything.
write_entries() {
    "$2" > "$1.tmp"
    if [ -s "$1.tmp" ]; then
        mv "$1.tmp" "$1"
        echo "sources: added $1" >&2
    else
        rm -f "$1.tmp"
    fi
}

add_deb_src() {
    write_entries "$src_list" mirror_stanzas
    write_entries "$src_lines" mirror_lines
    [ -f "$src_list" ] || [ -f "$src_lines" ] || die "no Debian $codename entry in $etc to mirror as deb-src"
}

# lock_field NAME: the pinned version of NAME; lock_files NAME: "file sha256" lines.
pinned_version() {
    awk -v n="$1" '$1 == n { print $2; exit }' "$lock"
}
pinned_files() {
    awk -v n="$1" '$1 == n { print $3, $4 }' "$lock"
}
names() {
    awk '$1 !~ /^#/ && NF == 4 { print $1 }' "$lock" | uniq
}

# verified NAME: every pinned file of NAME is in the cache with its sha256.
verified() {
    local file sum
    while read -r file sum; do
        [ -f "$cache/$file" ] || return 1
        [ "$(sha256sum < "$cache/$file" | cut -d' ' -f1)" = "$sum" ] || {
            echo "sources: $cache/$file does not match its sha256 in $lock" >&2; return 1; }
    done < <(pinned_files "$1")
}

offered() {
    { apt-cache showsrc --only-source "$1" 2>/dev/null || true; } |
        awk '/^Version:/ { print $2 }' | sort -rV | uniq | paste -sd' '
}

fetch_one() {
    local name=$1 version dl
    version=$(pinned_version "$name")
    verified "$name" && return 0
    [ "$(id -u)" -eq 0 ] || die "$name $version is not in $cache; as root, run: make deps"
    if ! have_deb_src; then
        add_deb_src
        apt-get update -qq >&2
    fi
    [[ " $(offered "$name") " == *" $version "* ]] || apt-get update -qq >&2
    local found
    found=$(offered "$name")
    [[ " $found " == *" $version "* ]] ||
        die "$name: version $version wanted (scripts/sources.lock), the mirror offers ${found:-none}; see README, 'Rebuilding for a security fix'"
    echo "sources: fetching $name $version" >&2
    mkdir -p "$cache"
    dl=$(mktemp -d "$cache/.dl-$name.XXXXXX")
    chown _apt "$dl" 2>/dev/null || true   # apt's sandbox user downloads there
    (cd "$dl" && apt-get source -qq --download-only "$name=$version" >&2) || { rm -rf "$dl"; die "$name $version could not be downloaded"; }
    while read -r file _; do
        [ -f "$dl/$file" ] || { rm -rf "$dl"; die "$name $version: the download has no $file (scripts/sources.lock lists it)"; }
        mv "$dl/$file" "$cache/$file"
    done < <(pinned_files "$name")
    rm -rf "$dl"
    verified "$name" || die "$name $version: the downloaded files do not match scripts/sources.lock"
}

unpack() {
    local name=$1 dest=$2 version tree upstream dsc
    version=$(pinned_version "$name")
    [ -n "$version" ] || die "$name is not pinned in $lock"
    verified "$name" || die "$name $version is not in $cache (or does not match $lock); run: make deps"
    upstream=${version#*:}
    tree=$dest/$name-${upstream%-*}
    if [ -f "$tree/.rns-debian-version" ] && [ "$(cat "$tree/.rns-debian-version")" = "$version" ]; then
        echo "$tree"; return 0
    fi
    dsc=$(pinned_files "$name" | awk '$1 ~ /\.dsc$/ { print $1 }')
    rm -rf "$tree"
    mkdir -p "$dest"
    # The files were checked against the lock above, so no signature check here.
    dpkg-source --no-check -x "$cache/$dsc" "$tree" >/dev/null
    echo "$version" > "$tree/.rns-debian-version"
    echo "$tree"
}

case "${1:-}" in
--print-deb-src) mirror_entries ;;
fetch) for n in $(names); do fetch_one "$n"; done ;;
unpack) [ $# -eq 3 ] || die "usage: sources.sh unpack NAME DEST"; unpack "$2" "$3" ;;
*) echo "usage: sources.sh fetch | unpack NAME DEST | --print-deb-src" >&2; exit 2 ;;
esac
