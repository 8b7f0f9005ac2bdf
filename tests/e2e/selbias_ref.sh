#!/usr/bin/env bash
# selbias_ref.sh - the selection-bias engine (collector/record/selbias.c)
# against the independent Python reference tests/ref/selbias_ref.py on
# synthetic tables: classification and regression, n and m varied (svm-grid's
# 110 x 270 among them), edge cases (every configuration identical: ties;
# one configuration; m = 9, 25, 65; only per-fold scores). BBC-CV must agree
# exactly (the documented generator and sums), the rest to 1e-9; the same
# bytes with 1 and 2 threads; omissions say why.
source "$(dirname "$0")/lib/common.sh"

need_py numpy
D=$TT_PROGS/tt_selbias
R=$TT_SRC/tests/ref/selbias_ref.py
need_exe "$D" /usr/bin/python3

# check CASE DATA_SEED GEN_SEED_HEX [S]: C and reference agree on one table.
check() {
    local case=$1 seed=$2 hex=$3 S=${4:-16} f=$T/t.txt
    /usr/bin/python3 "$R" gen "$f" "$case" "$seed"
    timeout 120 "$D" "$f" "$hex" 1000 "$S" 2 >"$T/c.json" || fail "tt_selbias failed on $case"
    timeout 120 /usr/bin/python3 "$R" ref "$f" "$hex" 1000 "$S" >"$T/r.json" || fail "reference failed on $case"
    /usr/bin/python3 "$R" compare "$T/c.json" "$T/r.json" || fail "C and reference differ on $case (seed $hex)"
    echo "[$TT_NAME]   ok: $case: C = reference"
}

say "classification tables: C equals the reference (BBC-CV exactly)"
check cls:110:270:5:0.1 1 00000000deadbeef       # svm-grid on heart_scale
check cls:40:1000:10:0.2 2 ffffffffffffffff      # counts >= 8 occur: > 3 bit planes
check cls:7:65:3:0.3 3 0000000000000001           # m not a multiple of 64; 6 blocks
check cls:3:25:2:0.1 4 8000000000000000           # 2 blocks, 1 split pair
check cls:30:300:5:0 5 0123456789abcdef 8         # pure noise, S = 8

say "regression tables (squared and absolute loss): C equals the reference"
check reg:squared:203:150:5 6 00000000deadbeef    # register tiles, edge columns, 2 row blocks
check reg:absolute:3:64:0 7 0000000000000042      # no folds: Tibshirani omitted
check reg:squared:9:40:4:inf 13 0000000000000042  # an overflowing loss: omitted

say "edge cases: identical configurations, one configuration, too few examples, folds only"
check same:5:100 8 00000000deadbeef
check cls:1:100:3:0 9 00000000deadbeef
check cls:3:9:2:0.1 10 00000000deadbeef
check foldsonly:4:10 11 00000000deadbeef

# omitted STAT REASON: the last table's C output omits STAT saying REASON.
omitted() {
    local got
    got=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]].get("omitted", "(present)"))' "$T/c.json" "$1")
    expect_eq "$got" "$2" "$1 omitted on this table"
}
say "omissions say why"
/usr/bin/python3 "$R" gen "$T/t.txt" reg:squared:9:40:4:inf 13
"$D" "$T/t.txt" 1 1000 16 1 >"$T/c.json"
omitted tibshirani "(present)"
omitted bbc_cv "a loss is not finite"
omitted pbo_cscv "a loss is not finite"
/usr/bin/python3 "$R" gen "$T/t.txt" foldsonly:4:10 11
"$D" "$T/t.txt" 1 1000 16 1 >"$T/c.json"
omitted bbc_cv "no out-of-fold predictions recorded"
omitted pbo_cscv "no out-of-fold predictions recorded"
omitted tibshirani "(present)"
/usr/bin/python3 "$R" gen "$T/t.txt" cls:3:9:2:0.1 10
"$D" "$T/t.txt" 1 1000 16 1 >"$T/c.json"
omitted bbc_cv "fewer than 10 examples"
omitted pbo_cscv "too few examples for 2 blocks of 10"
/usr/bin/python3 "$R" gen "$T/t.txt" cls:1:100:3:0 9
"$D" "$T/t.txt" 1 1000 16 1 >"$T/c.json"
omitted bbc_cv "one configuration: nothing was selected"

say "ties break to the lowest configuration: identical configurations select configuration 0"
/usr/bin/python3 "$R" gen "$T/t.txt" same:5:100 8
"$D" "$T/t.txt" 1 1000 16 1 >"$T/c.json"
got=$(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["bbc_cv"]["values"]["best_configuration"], d["tibshirani"]["values"]["chosen_configuration"], d["pbo_cscv"]["values"]["pbo"])' "$T/c.json")
expect_eq "$got" "0 0 1.0" "best, chosen, PBO (every split at the median: logit 0)"

say "1 and 2 threads give the same bytes"
/usr/bin/python3 "$R" gen "$T/t.txt" reg:squared:50:300:5 12
"$D" "$T/t.txt" abc 1000 16 1 >"$T/one.json"
"$D" "$T/t.txt" abc 1000 16 2 >"$T/two.json"
cmp -s "$T/one.json" "$T/two.json" || fail "1 and 2 threads differ"
echo "[$TT_NAME]   ok: identical"

say "a malformed table names its file, line and what was expected"
printf 'tunetrail-selbias-table 1\nkind classification\nconfigurations 2\nexamples 3\nrow 0 011\nrow 1 01x\n' >"$T/bad.txt"
rc=0
"$D" "$T/bad.txt" 1 1000 16 1 >/dev/null 2>"$T/err" || rc=$?
expect_eq "$rc" 1 "exit code on a malformed table"
expect_eq "$(cat "$T/err")" "tt_selbias: $T/bad.txt:6: expected 'row 1' and 3 values" "error message"
