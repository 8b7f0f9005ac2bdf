#!/usr/bin/env bash
# non_utf8.sh - a real svm-train run from a directory whose name has a
# Latin-1 byte (0xE9, not UTF-8) is in every reader: `studies` counts it,
# `trials` (table, --json, --csv) lists it, `show` and `show --json` print it
# with exit 0 (U+FFFD in the text, the stored bytes in hex under "raw"), and
# `attest` / `verify` cover it (the leaves repair the byte to U+FFFD).
source "$(dirname "$0")/lib/common.sh"
tt_requires_adapter libsvm
need_exe "$TT_BIN/tunetrail" svm-train

D=$T/$'dir\xe9'
mkdir "$D"
cp /usr/share/doc/liblinear-tools/examples/heart_scale "$D/heart_scale"
cp "$(command -v svm-train)" "$D/svm-train"
cd "$D"
tt keygen >/dev/null
tt run --study u8 --store "$DB" -- ./svm-train -c 2 -v 3 heart_scale >/dev/null 2>"$T/run1.err" ||
    fail "tunetrail run (cross-validation) failed: $(cat "$T/run1.err")"
tt run --study u8 --store "$DB" -- ./svm-train -c 4 heart_scale m.model >/dev/null 2>"$T/run2.err" ||
    fail "tunetrail run (model) failed: $(cat "$T/run2.err")"
cd "$T"
EXE_HEX=$(printf '%s' "$D/svm-train" | od -An -tx1 -v | tr -d ' \n')

say "studies counts both trials"
tt studies --store "$DB" --json >"$T/studies.json" || fail "tunetrail studies failed"
n=$(python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if l.strip() and json.loads(l)["study"] == "u8"][0]["trials"])' "$T/studies.json")
expect_eq "$n" 2 "studies: trials of u8"

say "trials (table, --json, --csv) lists both"
tt trials --store "$DB" --study u8 >"$T/table.txt" || fail "tunetrail trials failed"
expect_eq "$(grep -c 'svm-train' "$T/table.txt")" 2 "trials table rows"
trials_json --study u8
tt trials --store "$DB" --study u8 --csv >"$T/t.csv" || fail "tunetrail trials --csv failed"
expect_eq "$(($(wc -l <"$T/t.csv") - 1))" 2 "trials --csv rows"
pycheck "
check(len(trials) == 2, 'trials --json: 2 trials (got %d)' % len(trials))
for t in trials:
    check(t['exe'].endswith('dir\ufffd/svm-train'), 'exe shown with U+FFFD (%r)' % t['exe'])
    check(t.get('raw', {}).get('/exe') == args[0], 'raw /exe is the stored bytes (%r)' % t.get('raw'))
" "$EXE_HEX"

say "show N and show N --json print it, exit 0"
for id in $(python3 -c 'import json,sys; [print(json.loads(l)["id"]) for l in open(sys.argv[1]) if l.strip()]' "$T/trials.json"); do
    tt show --store "$DB" "$id" >"$T/show.txt" || fail "tunetrail show $id failed"
    grep -q "not UTF-8" "$T/show.txt" || fail "show $id does not list the stored bytes"
    grep -q "$EXE_HEX" "$T/show.txt" || fail "show $id does not print the exe's bytes in hex"
    tt show --store "$DB" --json "$id" >"$T/show.json" || fail "tunetrail show --json $id failed"
    python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))
assert t["raw"]["/exe"] == sys.argv[2], t.get("raw")
assert t["raw"]["/processes/0/cwd"] == sys.argv[2][:-len("/svm-train".encode().hex())], t["raw"]
' "$T/show.json" "$EXE_HEX" || fail "show --json $id: raw bytes missing or wrong"
done
echo "[$TT_NAME]   ok: show and show --json of both trials"

say "processes --json lists both images with their bytes"
tt processes --store "$DB" --study u8 --json >"$T/procs.json" || fail "tunetrail processes failed"
expect_eq "$(grep -c "\"/exe\":\"$EXE_HEX\"" "$T/procs.json")" 2 "processes with raw /exe"

say "attest covers both trials and verify says OK"
tt attest --store "$DB" --study u8 --objective cv_accuracy:max "$D/m.model" -o "$T/r.json" \
    >"$T/attest.out" 2>&1 || fail "tunetrail attest failed: $(cat "$T/attest.out")"
grep -q "2 trials" "$T/attest.out" || fail "attest did not count 2 trials: $(cat "$T/attest.out")"
tt verify "$T/r.json" "$D/m.model" >"$T/verify.out" 2>&1 || fail "verify failed: $(cat "$T/verify.out")"
grep -q "^verify: OK" "$T/verify.out" || fail "verify: $(cat "$T/verify.out")"
echo "[$TT_NAME]   ok: attest 2 trials, verify OK"
