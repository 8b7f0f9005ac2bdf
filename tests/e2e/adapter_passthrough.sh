#!/usr/bin/env bash
# adapter_passthrough.sh - the pass-through rule: a program with its own
# functions named train / predict / cross_validation / save_model
# (tt_own_train) runs untouched under the shim (same output, no adapter
# trial, only the root fallback trial); svm-train's stdout is byte-identical
# with and without tunetrail.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_PROGS/tt_own_train" svm-train python3 "$TT_BIN/tunetrail"
cp /usr/share/doc/liblinear-tools/examples/heart_scale "$T/heart_scale"
cd "$T"

say "tt_own_train: identical output, no adapter trial"
"$TT_PROGS/tt_own_train" "$T/bare.model" >"$T/own.bare"
tt_rc rc run --study own --store "$DB" -- "$TT_PROGS/tt_own_train" "$T/tt.model" >"$T/own.tt"
expect_eq "$rc" 0 "tt_own_train exit code under tunetrail"
cmp "$T/own.bare" "$T/own.tt" || fail "tt_own_train output differs under tunetrail"
cmp "$T/bare.model" "$T/tt.model" || fail "tt_own_train model file differs under tunetrail"
grep -q "errno=0" "$T/own.tt" || fail "tt_own_train saw errno changed"
trials_json --study own
pycheck '
check(len(trials) == 1, "one trial: the root fallback (got %d)" % len(trials))
t = trials[0]
check(t.get("framework") not in ("liblinear", "libsvm"), "not an adapter trial (framework %r)" % t.get("framework"))
check(not any(k.startswith(("liblinear.", "libsvm.")) for k in t.get("params") or {}), "no adapter params")
check(not t.get("metrics"), "no metrics (%r)" % t.get("metrics"))
'

say "svm-train: stdout byte-identical with and without tunetrail"
svm-train -v 5 -c 8 -g 0.125 heart_scale >"$T/svm.bare"
tt_rc rc run --study svm --store "$DB" -- svm-train -v 5 -c 8 -g 0.125 heart_scale >"$T/svm.tt"
expect_eq "$rc" 0 "svm-train exit code under tunetrail"
cmp "$T/svm.bare" "$T/svm.tt" || fail "svm-train output differs under tunetrail"
echo "[$TT_NAME]   ok: svm-train stdout identical ($(wc -c <"$T/svm.tt") bytes)"
echo "[$TT_NAME] PASS"
