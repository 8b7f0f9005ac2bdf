#!/usr/bin/env bash
# bench_outscan.sh - cost of the stdio hooks (plugin/hook_stdio.c): 1M
# printf calls of a short line to /dev/null, bare vs under the shim with
# scanning inactive (one branch per call), active with a user pattern that
# matches no line (format copy + line assembly + regexec), and active with a
# pattern matching every line (a Metric recorded per call, spooled: no
# agent), and svm-train's kind of built-in matcher on darknet's training
# lines (two metrics a line, no regex). Median of 5 alternating rounds; ns per call and ratio to bare.
set -euo pipefail
TT_SRC=${TT_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
TT_BUILD=${TT_BUILD:-$TT_SRC/build}
N=${N:-1000000}
ROUNDS=${ROUNDS:-5}
PROG=$TT_BUILD/bench/bench_outscan
SHIM=$(find "$TT_BUILD" -name libtunetrail.so -print -quit)
[ -x "$PROG" ] && [ -n "$SHIM" ] || { echo "build bench_outscan and the shim first" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

one() { # MODE -> ns per call
    local mode=$1
    case $mode in
    bare) "$PROG" "$N" 2>&1 >/dev/null ;;
    inactive) env -u TUNETRAIL_METRICS TUNETRAIL_HOME="$T/home" LD_PRELOAD="$SHIM" "$PROG" "$N" 2>&1 >/dev/null ;;
    nomatch) TUNETRAIL_HOME="$T/home" TUNETRAIL_METRICS='acc=^accuracy ([0-9.]+)' LD_PRELOAD="$SHIM" \
                 "$PROG" "$N" 2>&1 >/dev/null ;;
    metric) TUNETRAIL_HOME="$T/home" TUNETRAIL_METRICS='loss=loss ([0-9.]+)' LD_PRELOAD="$SHIM" \
                "$PROG" "$N" 2>&1 >/dev/null ;;
    # the built-in darknet matcher (hand-written, no regex): 2 metrics a line;
    # its baseline is the same binary bare (darknet-bare)
    darknet-bare) "$T/bin/darknet" "$N" darknet 2>&1 >/dev/null ;;
    darknet) TUNETRAIL_HOME="$T/home" LD_PRELOAD="$SHIM" "$T/bin/darknet" "$N" darknet 2>&1 >/dev/null ;;
    esac | sed -n 's/^ns_per_call //p'
    rm -rf "$T/home"
}

mkdir -p "$T/bin"
cp "$PROG" "$T/bin/darknet" # built-ins go by the exe's basename
modes="bare inactive nomatch metric darknet-bare darknet"
declare -A res
for r in $(seq "$ROUNDS"); do
    for m in $modes; do
        res[$m]="${res[$m]:-} $(one "$m")"
    done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "bench_outscan: %d printf calls of a short line to /dev/null, median of %d rounds\n" "$N" "$ROUNDS"
for m in $modes; do
    case $m in darknet*) base=$(echo "${res[darknet-bare]}" | median) ;; *) base=$(echo "${res[bare]}" | median) ;; esac
    v=$(echo "${res[$m]}" | median)
    awk -v m="$m" -v v="$v" -v b="$base" \
        'BEGIN { printf "  %-9s %8.1f ns/call  ratio %.2f  added %+.1f ns/call\n", m, v, v / b, v - b }'
done
echo "  (inactive: budget <= 50 ns added per passed-through call; metric: budget <= 200 ns per recorded metric)"
