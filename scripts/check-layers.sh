#!/bin/sh
# check-layers.sh BUILD: the libraries link only downward (README.md,
# "Development"): no library uses a symbol that only a library above it, or
# beside it, defines; and no folder includes the headers of one above it.
# The runtime is a leaf beside the handler, as in aws-lambda-cpp (whose
# logging is its own module, below the runtime): only handler/main.c includes
# runtime/ headers, and common/ (the logger included) does not use libcurl.
set -eu
build=${1:-build}
status=0

# below LIB: the libraries LIB may use, itself included.
below() {
    case $1 in
    common) echo "common" ;;
    sigv4) echo "sigv4 common" ;;
    runtime) echo "runtime common" ;;
    aws) echo "aws sigv4 common" ;;
    sync) echo "sync aws sigv4 common" ;;
    esac
}

defined() { nm -g --defined-only "$build/lib$1.a" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u; }

for lib in common sigv4 runtime aws sync; do
    [ -f "$build/lib$lib.a" ] || { echo "check-layers: $build/lib$lib.a is missing (make $build/lib$lib.a)" >&2; exit 2; }
done
for lib in common sigv4 runtime aws sync; do
    allowed=$(below $lib)
    for other in common sigv4 runtime aws sync; do
        case " $allowed " in *" $other "*) continue ;; esac
        used=$(nm -u "$build/lib$lib.a" | awk '{ print $NF }' | sort -u | comm -12 - "$(defined $other > "$build/.layers.$other"; echo "$build/.layers.$other")")
        if [ -n "$used" ]; then
            echo "check-layers: lib$lib uses lib$other: $(echo $used)" >&2
            status=1
        fi
    done
done
rm -f "$build"/.layers.*

# Headers: a folder includes its own and those below it.
check_includes() { # folder allowed-prefixes...
    dir=$1
    shift
    pattern=$(printf '%s\\|' "$@")
    bad=$(grep -rn '#include "' "$dir" --include='*.[ch]' | grep -v "#include \"\(${pattern%\\|}\)" || true)
    if [ -n "$bad" ]; then
        echo "check-layers: $dir includes from above it:" >&2
        echo "$bad" >&2
        status=1
    fi
}
check_includes common common/
check_includes sigv4 sigv4/ common/
check_includes runtime runtime/ common/
check_includes handler/aws handler/aws/ sigv4/ common/
check_includes handler/sync handler/sync/ handler/aws/ sigv4/ common/

# The runtime's one user: handler/main.c, the entry point.
users=$(grep -rln '#include "runtime/' common sigv4 runtime handler --include='*.[ch]' | grep -v '^runtime/' | grep -vx 'handler/main.c' || true)
if [ -n "$users" ]; then
    echo "check-layers: only handler/main.c may include runtime/ headers, not:" $users >&2
    status=1
fi

# libcurl belongs to the AWS layer (handler/aws/curl.h): common/ neither
# includes its headers nor uses its symbols.
curl_users=$(grep -rln '#include <curl/' common --include='*.[ch]' || true)
curl_used=$(nm -u "$build/libcommon.a" | awk '$NF ~ /^curl_/ { print $NF }' | sort -u)
if [ -n "$curl_users$curl_used" ]; then
    echo "check-layers: common/ uses libcurl:" $curl_users $curl_used >&2
    status=1
fi
# Files call one way: no two source files (objects of the libraries) use
# each other's symbols, nor does any longer circle of them.
members() { for lib in common sigv4 runtime aws sync; do nm -A "$@" "$build/lib$lib.a" 2>/dev/null; done | sed "s|^$build/||"; }
members -g --defined-only | awk '{ split($1, f, ":"); print $NF, f[1] ":" f[2] }' | sort > "$build/.layers.defs"
members -u | awk '{ split($1, f, ":"); print $NF, f[1] ":" f[2] }' | sort > "$build/.layers.uses"
join "$build/.layers.uses" "$build/.layers.defs" | awk '$2 != $3 { print $2, $3 }' | sort -u > "$build/.layers.edges"
if ! loop=$(tsort "$build/.layers.edges" 2>&1 >/dev/null); then
    echo "check-layers: files that call each other:" >&2
    echo "$loop" | sed -n 's/^tsort: \([^ ]*\.o\)$/  \1/p' >&2
    status=1
fi
rm -f "$build"/.layers.*
[ $status -eq 0 ] && echo "layers: common <- sigv4 <- aws <- sync, common <- runtime; runtime/ only in handler/main.c; no libcurl in common/; no file calls back: ok"
exit $status
