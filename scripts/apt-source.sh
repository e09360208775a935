#!/usr/bin/env bash
# apt-source.sh NAME DESTDIR: unpacks Debian's source package NAME, with
# Debian's patches applied, into DESTDIR/NAME-VERSION and prints that path.
# A tree already unpacked there for the same Debian version is reused.
#
# Needs a deb-src entry: as root it adds one that mirrors the system's Debian
# entries and runs apt-get update; as anyone else it stops with what to do.
# The newest version in the index is taken; when its files cannot be fetched
# (a mirror that lacks them) the next older one is used, with a warning.
#
# apt-source.sh --print-deb-src prints the deb-src entries it would add (tests
# point RNS_APT_ETC at a folder of their own instead of /etc/apt).
set -euo pipefail
etc=${RNS_APT_ETC:-/etc/apt}
codename=${RNS_CODENAME:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}
src_list=$etc/sources.list.d/rds-nlb-sync-src.sources

have_deb_src() {
    grep -qsE '^[[:space:]]*(Types:.*deb-src|deb-src[[:space:]])' \
        "$etc/sources.list" "$etc"/sources.list.d/*.list "$etc"/sources.list.d/*.sources
}

# The binary entries of the Debian release in use, rewritten as deb-src.
mirror_entries() {
    local f
    for f in "$etc"/sources.list.d/*.sources; do
        [ -f "$f" ] && [ "$f" != "$src_list" ] || continue
        awk -v RS= -v ORS='\n\n' -v cn="$codename" '
            /(^|\n)Types:[ \t]*deb[ \t]*(\n|$)/ && $0 ~ ("Suites:[^\n]*" cn) {
                sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' "$f"
    done
    for f in "$etc/sources.list" "$etc"/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v cn="$codename" '$1 == "deb" && $0 ~ (" " cn) { $1 = "deb-src"; print }' "$f"
    done
}

versions() {
    { apt-cache showsrc --only-source "$name" 2>/dev/null || true; } |
        awk '/^Version:/ { print $2 }' | sort -rV | uniq
}

if [ "${1:-}" = --print-deb-src ]; then
    mirror_entries
    exit 0
fi
name=$1 dest=$2

as_root() {
    [ "$(id -u)" -eq 0 ] && return 0
    echo "apt-source: $1; as root, run scripts/apt-source.sh $name $dest once" >&2
    exit 1
}

if ! have_deb_src; then
    as_root "no deb-src entry in $etc"
    mirror_entries > "$src_list.tmp"
    [ -s "$src_list.tmp" ] || { rm -f "$src_list.tmp"; echo "apt-source: no Debian $codename entry to mirror" >&2; exit 1; }
    mv "$src_list.tmp" "$src_list"
    echo "apt-source: added $src_list" >&2
fi
if [ -z "$(versions)" ]; then
    as_root "the source package index is missing"
    apt-get update -qq >&2
    [ -n "$(versions)" ] || { echo "apt-source: no source package $name in the index" >&2; exit 1; }
fi

tree_for() {
    local upstream=${1#*:}
    echo "$dest/$name-${upstream%-*}"
}

newest=$(versions | sed -n 1p)
mkdir -p "$dest"
for version in $(versions); do
    tree=$(tree_for "$version")
    if [ -f "$tree/.rns-debian-version" ] && [ "$(cat "$tree/.rns-debian-version")" = "$version" ]; then
        echo "$tree"
        exit 0
    fi
    # A version this mirror did not serve before is not asked for again.
    [ -f "$dest/.unavailable-$name-$version" ] && continue
    dl=$(mktemp -d "$dest/.dl-$name.XXXXXX")
    chown _apt "$dl" 2>/dev/null || true   # apt's sandbox user downloads there
    if (cd "$dl" && apt-get source -qq --download-only "$name=$version" >&2); then
        rm -rf "$tree"
        # apt-get checked the files against the signed archive index.
        dpkg-source --no-check -x "$dl"/*.dsc "$tree" >/dev/null
        rm -rf "$dl"
        echo "$version" > "$tree/.rns-debian-version"
        [ "$version" = "$newest" ] ||
            echo "apt-source: WARNING: $name $newest could not be fetched; using $version" >&2
        echo "$tree"
        exit 0
    fi
    rm -rf "$dl"
    touch "$dest/.unavailable-$name-$version"
    echo "apt-source: $name $version could not be fetched, trying an older version" >&2
done
echo "apt-source: no version of $name could be fetched" >&2
exit 1
