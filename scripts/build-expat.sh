#!/usr/bin/env bash
# build-expat.sh SRC PREFIX CC AR: builds a static libexpat from Debian's expat
# source tree SRC (as `scripts/sources.sh unpack` gives it) into PREFIX/lib and
# PREFIX/include.
#
# Why from source: Debian's libexpat.a takes its hash salt from arc4random_buf,
# which glibc has only since 2.36; provided.al2023 has 2.34. This build uses
# getrandom (glibc 2.25) instead. The library is three C files; they are
# compiled directly with the configuration Debian uses (XML_DTD, XML_NS,
# context bytes 1024), so neither autotools nor CMake are needed.
set -euo pipefail
src=$(realpath "$1") prefix=$2 cc=$3 ar=$4
lib=$src/expat/lib
[ -f "$lib/xmlparse.c" ] || { echo "build-expat: no expat/lib/xmlparse.c in $src" >&2; exit 1; }
version=$(sed -n 's/^#define XML_\(MAJOR\|MINOR\|MICRO\)_VERSION \([0-9]*\)/\2/p' "$lib/expat.h" | paste -sd.)

rm -rf "$prefix"
mkdir -p "$prefix/lib" "$prefix/include" "$prefix/.build"
cfg=$prefix/.build/expat_config.h
cat > "$cfg" <<CFG
/* Written by scripts/build-expat.sh: Debian's configuration without arc4random. */
#ifndef EXPAT_CONFIG_H
#define EXPAT_CONFIG_H 1
#define BYTEORDER 1234
#define HAVE_GETRANDOM 1
#define HAVE_SYSCALL_GETRANDOM 1
#define HAVE_DLFCN_H 1
#define HAVE_FCNTL_H 1
#define HAVE_GETPAGESIZE 1
#define HAVE_INTTYPES_H 1
#define HAVE_MMAP 1
#define HAVE_STDINT_H 1
#define HAVE_STDLIB_H 1
#define HAVE_STRING_H 1
#define HAVE_SYS_PARAM_H 1
#define HAVE_SYS_STAT_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_UNISTD_H 1
#define PACKAGE_VERSION "$version"
#define XML_CONTEXT_BYTES 1024
#define XML_DEV_URANDOM 1
#define XML_DTD 1
#define XML_NS 1
#endif
CFG
objs=()
for f in xmlparse xmlrole xmltok; do
    "$cc" -O2 -fPIC -ffunction-sections -fdata-sections -fvisibility=default -ffile-prefix-map="$src"=expat \
        -DHAVE_EXPAT_CONFIG_H -I"$prefix/.build" -I"$lib" \
        -c "$lib/$f.c" -o "$prefix/.build/$f.o"
    objs+=("$prefix/.build/$f.o")
done
"$ar" rcsD "$prefix/lib/libexpat.a" "${objs[@]}"
cp "$lib/expat.h" "$lib/expat_external.h" "$prefix/include/"
echo "  expat $version: static, getrandom"
