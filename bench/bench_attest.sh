#!/usr/bin/env bash
# bench_attest.sh - attest and report on a synthetic study of N trials
# (default 100,000) generated straight into a store (bench_study, through the
# collector's own ingest and sealing). Budget (DESIGN.md): <= 1 s each.
# Baseline, measured on the same store in the same run: reading every leaf out
# of SQLite - the floor of any record that lists the whole log. Prints the best
# of ROUNDS (default 3) and, with TUNETRAIL_TIMING, attest's phases once.
#   env: TT_BUILD (default build), N, ROUNDS
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
TT_BUILD=$(realpath "${TT_BUILD:-$SRC/build}")
TT=$TT_BUILD/bin/tunetrail GEN=$TT_BUILD/bench/bench_study
N=${N:-100000}
ROUNDS=${ROUNDS:-3}
for x in "$TT" "$GEN"; do [ -x "$x" ] || { echo "bench_attest: no $x (build first)" >&2; exit 1; }; done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export TUNETRAIL_HOME=$T/home
unset TUNETRAIL_COLLECTOR TUNETRAIL_STORE TUNETRAIL_STUDY LD_PRELOAD
cd "$T"
"$GEN" -o s.db -m "$T/model.bin" -n "$N" -s bench
"$TT" keygen >/dev/null

secs() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N); echo "$(( (t1 - t0) / 1000000 ))"; }
best() { local b=999999999 i t; for ((i = 0; i < ROUNDS; i++)); do t=$(secs "$@"); ((t < b)) && b=$t; done; echo "$b"; }

read -r read_s parse_s leaves bytes < <("$GEN" -r s.db -s bench)
base_ms=$(awk -v r="$read_s" 'BEGIN { printf "%d", r * 1000 }')
attest_ms=$(best "$TT" attest model.bin --store s.db -o rec.json)
report_ms=$(best "$TT" report --study bench --store s.db -o r.html)
verify_ms=$(secs "$TT" verify rec.json model.bin)
rec_mb=$(( $(stat -c %s rec.json) / 1000000 ))
echo "phases of one attest (TUNETRAIL_TIMING=1):"
TUNETRAIL_TIMING=1 "$TT" attest model.bin --store s.db -o rec.json 2>&1 >/dev/null | sed 's/^/  /'
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
echo "study: $leaves leaves, $((bytes / 1000000)) MB of leaf text; record $rec_mb MB"
echo "baseline: read every leaf from SQLite ${base_ms} ms (jansson parse of them: ${parse_s} s)"
echo "attest:           ${attest_ms} ms (budget 1000), $(ratio "$attest_ms" "$base_ms")x the baseline"
echo "report --study:   ${report_ms} ms (budget 1000), $(ratio "$report_ms" "$base_ms")x the baseline"
echo "verify (no budget): ${verify_ms} ms"
