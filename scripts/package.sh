#!/usr/bin/env bash
# package.sh [x86_64|arm64]: builds the provided.al2023 deployment package
# (README.md, "Deploy"): build/function.zip for x86_64, build/function-arm64.zip
# for arm64. Each holds one file, `bootstrap`, at its root, mode 0755: the
# stripped handler ELF with libcurl, OpenSSL, jansson and expat linked in
# statically, needing only glibc (no symbol above GLIBC_2.34).
#
# libcurl and expat are built from Debian's source packages (see build-curl.sh
# and build-expat.sh) and cached under build/deps/<arch>/, keyed by their Debian
# version and the build script, so a second run only relinks. OpenSSL and
# jansson are Debian's static archives (for arm64: the arm64 -dev packages,
# installed through multiarch; as root this script installs what is missing).
#
# Environment: RNS_JOBS (make -j, default 2); PKG_CC (the native compiler, default gcc).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
arch=${1:-x86_64}
jobs=${RNS_JOBS:-2}
ZIP_MAX=$((3 * 1024 * 1024))

case "$arch" in
x86_64) triplet=x86_64-linux-gnu debarch=amd64 zip=build/function.zip ;;
arm64 | aarch64) arch=arm64 triplet=aarch64-linux-gnu debarch=arm64 zip=build/function-arm64.zip ;;
*) echo "usage: scripts/package.sh [x86_64|arm64]" >&2; exit 2 ;;
esac

# One build per architecture at a time (make check's arm64 suite and a developer's
# make package may meet on the same cache).
mkdir -p build
exec 9> "build/.package-$arch.lock"
flock 9
rm -f "$zip"   # a failed build leaves no package that no longer matches the sources

say() { printf 'package[%s]: %s\n' "$arch" "$*"; }
die() { printf 'package[%s]: %s\n' "$arch" "$*" >&2; exit 1; }

# --- toolchain and Debian's static libraries for the target ---------------
if [ "$(dpkg --print-architecture)" = "$debarch" ]; then
    cc=${PKG_CC:-gcc} tool_prefix=""
else
    cc=$triplet-gcc tool_prefix=$triplet-
fi
libdir=/usr/lib/$triplet
need=()
command -v "$cc" >/dev/null || need+=("gcc-${triplet//_/-}")
command -v "${tool_prefix}objdump" >/dev/null || need+=("binutils-${triplet//_/-}")
for lib in libssl.a libcrypto.a libjansson.a; do
    [ -f "$libdir/$lib" ] || { need+=("libssl-dev:$debarch" "libjansson-dev:$debarch"); break; }
done
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "package[$arch]: missing; run as root:" >&2
        echo "  dpkg --add-architecture $debarch && apt-get update && apt-get install -y ${need[*]}" >&2
        exit 1
    fi
    say "installing ${need[*]}"
    if ! dpkg --print-foreign-architectures | grep -qx "$debarch" && [ "$(dpkg --print-architecture)" != "$debarch" ]; then
        dpkg --add-architecture "$debarch"
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # The :arch -dev packages are Multi-Arch: same; they must match the
    # native ones' version, so both are upgraded together when needed.
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
ar=${tool_prefix}ar strip=${tool_prefix}strip objdump=${tool_prefix}objdump readelf=${tool_prefix}readelf

# --- libcurl and expat, from Debian's sources, cached ----------------------
deps=build/deps/$arch
src=build/deps/src
curl_src=$(scripts/apt-source.sh curl "$src")
expat_src=$(scripts/apt-source.sh expat "$src")
key() { # tree script: "<debian version>-<hash of the script and compiler>"
    local h
    h=$( { cat "$2"; "$cc" --version | sed -n 1p; } | sha256sum | cut -c1-12)
    echo "$(cat "$1/.rns-debian-version")-$h"
}
curl_dir=$deps/curl-$(key "$curl_src" scripts/build-curl.sh)
expat_dir=$deps/expat-$(key "$expat_src" scripts/build-expat.sh)
if [ ! -f "$curl_dir/.done" ]; then
    say "building libcurl $(cat "$curl_src/.rns-debian-version") (once, cached in $curl_dir)"
    start=$SECONDS
    CC=$cc AR=$ar RNS_JOBS=$jobs scripts/build-curl.sh "$curl_src" "$curl_dir" "$triplet"
    touch "$curl_dir/.done"
    say "libcurl built in $((SECONDS - start)) s"
fi
if [ ! -f "$expat_dir/.done" ]; then
    say "building expat $(cat "$expat_src/.rns-debian-version")"
    scripts/build-expat.sh "$expat_src" "$expat_dir" "$cc" "$ar"
    touch "$expat_dir/.done"
fi

# --- bootstrap, through the Makefile's own source lists --------------------
out=build/pkg-$arch
pkg_cflags="-O2 -fno-pie"
stamp="$curl_dir $expat_dir $("$cc" --version | sed -n 1p) $pkg_cflags"
if [ -f "$out/.deps" ] && [ "$(cat "$out/.deps")" != "$stamp" ]; then
    rm -rf "$out"   # objects compiled against other headers
fi
mkdir -p "$out"
echo "$stamp" > "$out/.deps"
pkg_cppflags="-I$root/$curl_dir/include -I$root/$expat_dir/include"
# -no-pie (objects built -fno-pie): a position-dependent executable carries no
# R_*_RELATIVE relocations (some 19,000 pointers on ~90 pages in a PIE), which the
# loader would otherwise apply, page fault by page fault, at every cold start.
pkg_ldflags="-static-libgcc -no-pie -Wl,--gc-sections -Wl,-O1 -Wl,--as-needed"
pkg_libs="$root/$curl_dir/lib/libcurl.a $root/$expat_dir/lib/libexpat.a $libdir/libjansson.a $libdir/libssl.a $libdir/libcrypto.a -ldl -lpthread"
make --no-print-directory -s -j"$jobs" BUILD="$out" CC="$cc" AR="$ar" CFLAGS="$pkg_cflags" \
    CPPFLAGS="$pkg_cppflags" LDFLAGS="$pkg_ldflags" LDLIBS="$pkg_libs" "$out/bootstrap"
# The probe: the same libraries linked the same way, for tests/package.
"$cc" -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wformat=2 \
    -Wno-format-nonliteral $pkg_cflags -D_GNU_SOURCE $pkg_cppflags $pkg_ldflags \
    -o "$out/probe" tests/package/probe.c $pkg_libs

# --- checks on the finished binaries, not on the intentions of the build ---
scripts/check-elf.sh "$arch" "$out/bootstrap" "$out/probe" || die "the package would not run on provided.al2023 (above)"

# --- stripped, fixed timestamp, mode 0755, zipped ---------------------------
stage=$out/zip
rm -rf "$stage"
mkdir -p "$stage"
"$strip" --strip-all -o "$stage/bootstrap" "$out/bootstrap"
"$strip" --strip-all "$out/probe"
chmod 0755 "$stage/bootstrap"
TZ=UTC touch -d '2020-01-01 00:00:00' "$stage/bootstrap"
rm -f "$zip.tmp"
(cd "$stage" && TZ=UTC zip -q -X -9 "$root/$zip.tmp" bootstrap)
size=$(stat -c %s "$zip.tmp")
[ "$size" -le "$ZIP_MAX" ] || die "$zip is $size bytes, above the 3 MiB budget"
mv "$zip.tmp" "$zip"
glibc=$("$objdump" -T "$stage/bootstrap" | grep -oE 'GLIBC_[0-9.]+' | sort -uV | tail -n 1)
say "$zip: $size bytes (bootstrap $(stat -c %s "$stage/bootstrap") bytes), needs $glibc, $(echo $("$readelf" -d "$stage/bootstrap" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'))"
