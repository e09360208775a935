#!/usr/bin/env bash
# check-elf.sh ARCH FILE...: the promises of README.md, "Deploy" on finished
# binaries, read from the binaries themselves: the architecture, only glibc's
# shared libraries, and no symbol version above GLIBC_2.34 (provided.al2023).
# Exit 1 with a message naming what is wrong (the symbols, the libraries).
set -euo pipefail
GLIBC_MAX=${GLIBC_MAX:-2.34}
arch=$1
shift
case "$arch" in
x86_64) machine='X86-64' tools= ;;
arm64) machine='AArch64' tools=aarch64-linux-gnu- ;;
*) echo "usage: scripts/check-elf.sh x86_64|arm64 FILE..." >&2; exit 2 ;;
esac
[ "$(uname -m)" = aarch64 ] && [ "$arch" = arm64 ] && tools=
objdump=${tools}objdump
status=0
for f in "$@"; do
    if ! readelf -h "$f" 2>/dev/null | grep -q "Machine:.*$machine"; then
        echo "check-elf: $f is not an $machine ELF" >&2
        status=1
        continue
    fi
    bad=$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' |
        grep -vxE 'libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libresolv\.so\.2|ld-linux[-a-z0-9_.]*\.so\.[0-9]' || true)
    if [ -n "$bad" ]; then
        echo "check-elf: $f needs shared libraries outside glibc: $(echo $bad)" >&2
        status=1
    fi
    too_new=$("$objdump" -T "$f" | awk -v max="$GLIBC_MAX" '
        match($0, /GLIBC_[0-9]+\.[0-9]+(\.[0-9]+)?/) {
            v = substr($0, RSTART + 6, RLENGTH - 6); split(v, p, "."); split(max, m, ".")
            if (p[1] + 0 > m[1] + 0 || (p[1] + 0 == m[1] + 0 && p[2] + 0 > m[2] + 0)) print $NF "@GLIBC_" v }' | sort -u)
    if [ -n "$too_new" ]; then
        echo "check-elf: $f needs symbols newer than GLIBC_$GLIBC_MAX (provided.al2023 has glibc $GLIBC_MAX): $(echo $too_new)" >&2
        status=1
    fi
done
exit $status
