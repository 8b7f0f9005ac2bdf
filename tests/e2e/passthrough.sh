#!/usr/bin/env bash
# passthrough.sh - the shim never changes the host program's behaviour:
# svm-train's stdout, stderr, exit code and model file are byte-identical
# bare, under `tunetrail run`, and under a bare LD_PRELOAD of the shim; also
# for a bad option (non-zero exit) and a failing data file.
source "$(dirname "$0")/lib/common.sh"

need_exe svm-train "$TT_BIN/tunetrail"
SHIM=$(find "$TT_BUILD" -name libtunetrail.so -print -quit)
[ -n "$SHIM" ] || fail "libtunetrail.so not found under $TT_BUILD"
cp /usr/share/doc/liblinear-tools/examples/heart_scale "$T/heart_scale"
cd "$T"

# run_case MODE NAME ARG... - runs svm-train ARG... in MODE (bare, run,
# preload) in its own directory; leaves out.txt, err.txt, rc (and the model).
run_case() {
    local mode=$1 name=$2
    shift 2
    local d=$T/$name.$mode
    mkdir -p "$d"
    cp "$T/heart_scale" "$d/"
    local rc=0
    case $mode in
    bare) (cd "$d" && timeout 120 svm-train "$@" >out.txt 2>err.txt) || rc=$? ;;
    run) (cd "$d" && timeout 120 "$TT_BIN/tunetrail" run --study pass --store "$DB" -- svm-train "$@" \
              >out.txt 2>err.txt) || rc=$?
         tt_strip_summary "$d/err.txt" ;;
    preload) (cd "$d" && LD_PRELOAD=$SHIM timeout 120 svm-train "$@" >out.txt 2>err.txt) || rc=$? ;;
    esac
    echo "$rc" >"$d/rc"
}

# same NAME FILE - FILE is byte-identical in the bare and wrapped runs.
same() {
    local name=$1 f=$2 mode
    for mode in run preload; do
        if ! cmp -s "$T/$name.bare/$f" "$T/$name.$mode/$f"; then
            diff "$T/$name.bare/$f" "$T/$name.$mode/$f" | head -20 >&2 || true
            fail "$name: $f differs between bare and $mode"
        fi
    done
    echo "[$TT_NAME]   ok: $name: $f identical (bare, run, preload)"
}

for mode in bare run preload; do
    run_case "$mode" train -c 2 -g 0.5 heart_scale heart.model
    run_case "$mode" cv -v 5 heart_scale
    run_case "$mode" badopt -z 3 heart_scale
    run_case "$mode" nodata heart_scale_missing
done

say "svm-train training: stdout, stderr, exit code, model file"
same train out.txt
same train err.txt
same train rc
same train heart.model
expect_eq "$(cat "$T/train.bare/rc")" 0 "svm-train exit code"
grep -q '^optimization finished' "$T/train.bare/out.txt" || fail "svm-train printed no 'optimization finished'"

say "svm-train -v 5: cross-validation output"
same cv out.txt
same cv rc
grep -q 'Cross Validation Accuracy' "$T/cv.bare/out.txt" || fail "no accuracy line in svm-train -v output"

say "svm-train with a bad option: usage text and non-zero exit"
same badopt out.txt
same badopt err.txt
same badopt rc
[ "$(cat "$T/badopt.bare/rc")" -ne 0 ] || fail "svm-train -z should fail"

say "svm-train with a missing data file"
same nodata out.txt
same nodata err.txt
same nodata rc
[ "$(cat "$T/nodata.bare/rc")" -ne 0 ] || fail "svm-train on a missing file should fail"

say "the wrapped runs were recorded"
trials_json --study pass
pycheck '
check(len(trials) == 4, "4 trials recorded, one root trial per tunetrail run (got %d)" % len(trials))
'
echo "[$TT_NAME] PASS"
