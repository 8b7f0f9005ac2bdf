#!/usr/bin/env bash
# Fuzzing throughput: each libFuzzer target (tests/fuzz/) for a fixed number
# of executions on seeds from a real run, printing execs/s and the crashes
# found (0 expected; libFuzzer stops at the first and keeps the input).
# A build made with -DTT_FUZZ=ON has the targets; otherwise they are built
# with clang in $TT_BUILD/fuzz-clang. Skips, with a line, without clang's
# libFuzzer (Debian: clang libclang-rt-14-dev, scripts/install-deps.sh --fuzz).
set -eu
SRC=${TT_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
B=${TT_BUILD:-$SRC/build}
TT=${TT_BIN:-$B/bin}/tunetrail
RUNS=${TT_BENCH_FUZZ_RUNS:-50000}
F=$B/fuzz
if [ ! -x "$F/fuzz_ingest" ]; then
    cc=$(command -v clang || true)
    if [ -z "$cc" ] || ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
            "$cc" -x c -fsanitize=fuzzer,address,undefined -o /dev/null - 2>/dev/null; then
        echo "fuzz: skipped (no clang with libFuzzer: install clang libclang-rt-14-dev)"
        exit 0
    fi
    CC=$cc cmake -S "$SRC" -B "$B/fuzz-clang" -DTT_FUZZ=ON -DBUILD_TESTING=OFF -DTT_BENCH=OFF >/dev/null
    cmake --build "$B/fuzz-clang" -j 2 --target fuzz_ingest fuzz_frame fuzz_seeds >/dev/null
    F=$B/fuzz-clang/fuzz
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/tt-bench-fuzz.XXXXXX")
trap 'rm -rf "$W"' EXIT
bash "$SRC/tests/fuzz/seeds.sh" "$TT" "$F/fuzz_seeds" "$W/seeds"
for t in ingest frame; do
    mkdir -p "$W/art-$t"
    rc=0
    t0=$EPOCHREALTIME
    "$F/fuzz_$t" -seed=1 -runs="$RUNS" -artifact_prefix="$W/art-$t/" -print_final_stats=1 \
        "$W/seeds/$t" >"$W/$t.log" 2>&1 || rc=$?
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$W/$t.log")
    # libFuzzer's own average counts whole seconds; this one the run's wall time
    s=$(awk -v n="${n:-0}" -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", n / (b - a) }')
    crashes=$(find "$W/art-$t" -type f | wc -l)
    printf 'fuzz_%s: %s execs, %s execs/s, crashes %s (0 expected)%s\n' "$t" "${n:-?}" "${s:-?}" \
        "$crashes" "$([ "$rc" -ne 0 ] && echo "; libFuzzer exit $rc, log tail:" || true)"
    [ "$rc" -eq 0 ] || tail -n 30 "$W/$t.log"
done
