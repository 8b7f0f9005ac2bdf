#!/usr/bin/env bash
# bench_load64.sh - 64 agents against one tunetraild (CURVE, SQLite), against
# a same-run baseline: the same 64 training loops (3 x svm-train -v 5 on
# heart_scale each), all at once, bare. The recorded run is
# tests/e2e/load64.sh, which also checks that every event was stored once.
# Prints wall time and CPU (every process of the 64 runs; the daemon's own
# beside) wrapped vs bare, and the daemon's peak RSS.
#   env: TT_BUILD (default build), STORE (default sqlite), AGENTS, LOOPS
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
export TT_BUILD=${TT_BUILD:-$SRC/build}
export TT_BIN=${TT_BIN:-$TT_BUILD/bin} TT_PROGS=${TT_PROGS:-$TT_BUILD/tests/progs} TT_SRC=$SRC
export AGENTS=${AGENTS:-64} LOOPS=${LOOPS:-3}
DATA=/usr/share/doc/liblinear-tools/examples/heart_scale
[ -s "$DATA" ] || { echo "bench_load64: $DATA missing (apt-get install liblinear-tools)" >&2; exit 1; }
LOOP="for c in $(seq -s " " "$LOOPS"); do svm-train -q -v 5 -c \$c $DATA; done"

# bare: the loops alone; prints "WALL_NS CPU_TICKS" (CPU of every waited child).
bare() {
    local t0 t1
    t0=$(date +%s%N)
    (
        for i in $(seq "$AGENTS"); do sh -c "$LOOP" >/dev/null & done
        wait
        read -r -a st </proc/self/stat
        echo $((st[15] + st[16])) >"$1"
    )
    t1=$(date +%s%N)
    echo "$((t1 - t0)) $(cat "$1")"
}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
bare "$tmp" >/dev/null # warm the page cache
read -r bwall bcpu < <(bare "$tmp")
line=$(bash "$SRC/tests/e2e/load64.sh" | grep '^load64: ') ||
    { echo "bench_load64: tests/e2e/load64.sh failed (run it alone to see why)" >&2; exit 1; }
echo "$line"
awk -v l="$line" -v bw="$bwall" -v bc="$bcpu" -v k="$(getconf CLK_TCK)" 'BEGIN {
    n = split(l, f, " "); for (i = 1; i <= n; i++) if (split(f[i], kv, "=") == 2) v[kv[1]] = kv[2]
    printf "bench_load64: %d agents x %d svm-train -v 5, store %s: wall %.2f s (bare %.2f s, ratio %.2f);" \
           " CPU of the runs %.2f s (bare %.2f s, ratio %.2f), tunetraild %.2f s CPU, peak RSS %.1f MiB;" \
           " %d events stored once\n", v["agents"], v["loops"], v["store"], v["wall"], bw / 1e9,
           v["wall"] / (bw / 1e9), v["agents_cpu"], bc / k, v["agents_cpu"] / (bc / k), v["daemon_cpu"],
           v["daemon_peak_rss"] / 1024, v["events"] }'
