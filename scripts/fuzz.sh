#!/bin/sh
# The libFuzzer targets (tests/fuzz/fuzz_*.c), built with clang's
# AddressSanitizer and UndefinedBehaviorSanitizer against the library sources
# compiled with the same flags.
#
#   scripts/fuzz.sh [SECONDS]   build, then fuzz each target for SECONDS (default 60),
#                               one at a time, at the lowest CPU priority
#   scripts/fuzz.sh --build     only build
#   scripts/fuzz.sh --replay    build, then run each target once over its seeds and
#                               regressions plus a few thousand fixed-seed mutations
#                               (what `make check` runs, so the targets keep working)
#
# Environment: FUZZ_BUILD (default build/fuzz), FUZZ_TARGETS (default: every
# target, e.g. "event sigv4"), MAKE_JOBS (default 2).
# Corpora grow in $FUZZ_BUILD/corpus/<target> across runs (never committed);
# findings land in $FUZZ_BUILD/artifacts/<target>/; every run appends its
# seconds and exec count to $FUZZ_BUILD/stats.tsv (date, target, seconds,
# execs, ok|FINDING) and the totals are printed at the end.
# Exit status: 0, or 1 when a target found something (or did not build).
set -eu
cd "$(dirname "$0")/.."

FB=${FUZZ_BUILD:-build/fuzz}
JOBS=${MAKE_JOBS:-2}
ALL_TARGETS=$(for f in tests/fuzz/fuzz_*.c; do t=${f#tests/fuzz/fuzz_}; echo "${t%.c}"; done)
TARGETS=${FUZZ_TARGETS:-$ALL_TARGETS}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
CFLAGS_FUZZ="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $SAN"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:abort_on_error=1:symbolize=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}:halt_on_error=1"

mode=fuzz
seconds=60
case "${1:-}" in
--build) mode=build ;;
--replay) mode=replay ;;
'') ;;
*[!0-9]*)
    echo "usage: scripts/fuzz.sh [SECONDS | --build | --replay]" >&2
    exit 2 ;;
*) seconds=$1 ;;
esac

command -v clang >/dev/null || { echo "fuzz.sh: clang is missing (Debian packages clang, libclang-rt-14-dev): run make deps" >&2; exit 2; }

build() {
    objs=""
    for t in $TARGETS; do
        objs="$objs $FB/obj/tests/fuzz/fuzz_$t.o"
    done
    make -s -j"$JOBS" BUILD="$FB" CC=clang CFLAGS="$CFLAGS_FUZZ" \
        "$FB/libsync.a" "$FB/libaws.a" "$FB/libsigv4.a" "$FB/libruntime.a" "$FB/libcommon.a" $objs
    for t in $TARGETS; do
        clang -fsanitize=fuzzer $SAN -o "$FB/fuzz_$t" "$FB/obj/tests/fuzz/fuzz_$t.o" \
            "$FB/libsync.a" "$FB/libaws.a" "$FB/libsigv4.a" "$FB/libruntime.a" "$FB/libcommon.a" \
            -lcurl -ljansson -lexpat -lssl -lcrypto
    done
}

# Inputs of events and XML answers are bigger than libFuzzer's default 4 KB.
max_len() {
    case $1 in
    event | elbv2_xml | rds_xml | listener_xml) echo 65536 ;;
    *) echo 8192 ;;
    esac
}

regressions() {
    [ -d "tests/fuzz/regressions/$1" ] && echo "tests/fuzz/regressions/$1" || true
}

execs_of() {
    sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -n 1
}

fuzz_one() {
    t=$1
    mkdir -p "$FB/corpus/$t" "$FB/artifacts/$t" "$FB/logs"
    log="$FB/logs/$t.log"
    status=0
    start=$(date +%s)
    nice -n 19 "$FB/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 -timeout=90 \
        -rss_limit_mb=2048 -max_len="$(max_len "$t")" -dict="tests/fuzz/dict/$t.dict" \
        -artifact_prefix="$FB/artifacts/$t/" "$FB/corpus/$t" $(regressions "$t") >"$log" 2>&1 || status=$?
    took=$(($(date +%s) - start))
    execs=$(execs_of "$log")
    result=ok
    [ "$status" -eq 0 ] || result="FINDING(status $status)"
    printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$t" "$took" "${execs:-0}" "$result" \
        >>"$FB/stats.tsv"
    printf 'fuzz_%-16s %6ss %12s execs  %s\n' "$t" "$took" "${execs:-0}" "$result"
    if [ "$status" -ne 0 ]; then
        grep -E 'ERROR|invariant|runtime error|Test unit written' "$log" | head -n 20 | sed 's/^/    /'
        return 1
    fi
}

replay_one() {
    t=$1
    scratch=$(mktemp -d)
    log="$FB/logs/$t.replay.log"
    mkdir -p "$FB/logs" "$FB/artifacts/$t"
    status=0
    # Every seed and regression once (make_seeds.py puts both in seeds/), then
    # fixed-seed mutations of them.
    "$FB/fuzz_$t" -runs=0 -max_len="$(max_len "$t")" "$FB/seeds/$t" >"$log" 2>&1 || status=$?
    if [ "$status" -eq 0 ]; then
        cp "$FB/seeds/$t"/* "$scratch"/ 2>/dev/null || true
        "$FB/fuzz_$t" -runs=3000 -seed=1 -max_len="$(max_len "$t")" -dict="tests/fuzz/dict/$t.dict" \
            -artifact_prefix="$FB/artifacts/$t/replay-" "$scratch" >>"$log" 2>&1 || status=$?
    fi
    rm -rf "$scratch"
    inputs=$(find "$FB/seeds/$t" -type f | wc -l)
    if [ "$status" -ne 0 ]; then
        echo "not ok - fuzz_$t: status $status over $inputs inputs (log $log)"
        grep -E 'ERROR|invariant|runtime error|Test unit written' "$log" | head -n 20 | sed 's/^/    /' >&2
        return 1
    fi
    echo "ok - fuzz_$t: $inputs seeds and regressions, 3000 mutations"
}

build
[ "$mode" = build ] && exit 0

if [ "$mode" = replay ]; then
    rm -rf "$FB/seeds"
    /usr/bin/python3 tests/fuzz/make_seeds.py "$FB/seeds" >/dev/null
    failed=0
    for t in $TARGETS; do
        replay_one "$t" || failed=1
    done
    exit $failed
fi

/usr/bin/python3 tests/fuzz/make_seeds.py "$FB/corpus" >/dev/null
failed=0
for t in $TARGETS; do
    fuzz_one "$t" || failed=1
done
echo "totals over every run recorded in $FB/stats.tsv:"
awk -F '\t' '{ s[$2] += $3; e[$2] += $4; if ($5 != "ok") f[$2]++ }
    END { for (t in s) printf "  fuzz_%-16s %7d s %14d execs  %d finding run(s)\n", t, s[t], e[t], f[t] }' \
    "$FB/stats.tsv" | sort
exit $failed
