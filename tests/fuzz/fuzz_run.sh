#!/usr/bin/env bash
# fuzz_run.sh TARGET - a short libFuzzer run of build/fuzz/fuzz_TARGET
# (ingest or frame) on seeds from a real run (seeds.sh): TT_FUZZ_RUNS
# executions or TT_FUZZ_TIME seconds, whichever comes first. Fails on any
# crash, leak, ASan or UBSan report; the input that caused it is kept in
# $TT_BUILD/fuzz/artifacts/ (reproduce: build/fuzz/fuzz_TARGET FILE).
source "$(dirname "$0")/../e2e/lib/common.sh"
TARGET=$1
F=$TT_BUILD/fuzz/fuzz_$TARGET
need_exe "$F" "$TT_BUILD/fuzz/fuzz_seeds" "$TT_BIN/tunetrail"

say "seed corpus from a real svm-train / svm-predict run's spool"
bash "$TT_SRC/tests/fuzz/seeds.sh" "$TT_BIN/tunetrail" "$TT_BUILD/fuzz/fuzz_seeds" "$T/seeds"
echo "[$TT_NAME] $(ls "$T/seeds/$TARGET" | wc -l) seeds"

say "fuzz_$TARGET: ${TT_FUZZ_RUNS:-20000} runs (at most ${TT_FUZZ_TIME:-60} s), no crash, leak or UB"
mkdir -p "$T/art"
rc=0
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    timeout -k 5 $((${TT_FUZZ_TIME:-60} + 120)) "$F" -seed=1 -runs="${TT_FUZZ_RUNS:-20000}" \
    -max_total_time="${TT_FUZZ_TIME:-60}" -artifact_prefix="$T/art/" -print_final_stats=1 \
    "$T/seeds/$TARGET" >"$T/fuzz.log" 2>&1 || rc=$?
grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::average_exec_per_sec)' "$T/fuzz.log" || true
if [ "$rc" -ne 0 ] || grep -q -E 'runtime error:|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)' "$T/fuzz.log"; then
    tail -n 60 "$T/fuzz.log"
    mkdir -p "$TT_BUILD/fuzz/artifacts"
    cp "$T"/art/* "$TT_BUILD/fuzz/artifacts/" 2>/dev/null || true
    fail "fuzz_$TARGET found a bug (exit $rc); input kept in $TT_BUILD/fuzz/artifacts/: $(ls "$T/art")"
fi
