#!/usr/bin/env bash
# selbias_record.sh - issue 13: the selection-bias statistics of real
# recorded searches, recomputed by the independent Python reference
# (tests/ref/selbias_ref.py) from the record alone: the table rebuilt from
# predicate.predictions by docs/RECORD.md's pooling rule, its seed derived as
# documented, every value equal (BBC-CV exactly, the rest to 1e-9):
#   - svm-grid (5 x 4) and its refit (classification, 5 shared folds);
#   - liblinear-train -C and its refit (classification);
#   - svm-train -s 3 over 4 values of C (regression, squared loss);
#   - the report's first lines carry the headline;
#   - a scikit-learn GridSearchCV: Tibshirani from its fold scores, BBC-CV
#     and PBO omitted with the reason;
#   - a program that prints only a score: the record says every statistic is
#     omitted and why, the report says so, verify OK;
#   - a release that is none of the CVs (no refit match): the pool is the
#     largest group of like predictions (2 CVs on a 100-example slice), not
#     the first trial's (1 CV on all of heart_scale).
source "$(dirname "$0")/lib/common.sh"

need_exe svm-grid svm-train liblinear-train python "$TT_BIN/tunetrail"
tt_requires_adapter libsvm liblinear
need_py numpy sklearn joblib
cp /usr/share/doc/liblinear-tools/examples/heart_scale "$T/heart_scale"
cd "$T"
export TUNETRAIL_HOME=$T/home
tt keygen >/dev/null 2>&1 || fail "keygen failed"
REF="/usr/bin/python3 $TT_SRC/tests/ref/selbias_ref.py"

run() { tt run --store "$DB" "$@" 2>>"$T/run.err" || fail "tunetrail run $* failed (see $T/run.err)"; }
# check STUDY MODEL: attest, verify, and the reference's values equal the record's
check() {
    tt attest "$2" --store "$DB" -o "$1.rec" >/dev/null || fail "attest $2 failed"
    tt verify "$1.rec" "$2" >"$1.verify" || { cat "$1.verify"; fail "verify $1.rec failed"; }
    grep -q "predictions ([0-9]* trials' out-of-fold data match their leaves)" "$1.verify" ||
        fail "$1: verify did not check the predictions: $(cat "$1.verify")"
    $REF record "$1.rec" "$1.table" >"$1.ref-table" || fail "$1: the reference could not rebuild the table"
    /usr/bin/python3 - "$1.rec" "$1.c.json" "$1.ref-table" <<'PY' || fail "$1: record / reference mismatch"
import base64, json, sys
st = json.loads(base64.b64decode(json.load(open(sys.argv[1]))["payload"]))
sb = st["predicate"]["selection"]["selection_bias"]
ref = json.load(open(sys.argv[3]))
assert sb["table"]["configurations"] == ref["configurations"], (sb["table"], ref)
seed = sb["bbc_cv"].get("values", {}).get("seed")
assert seed in (None, ref["seed"]), (seed, ref["seed"])
json.dump({k: sb[k] for k in ("bbc_cv", "tibshirani", "pbo_cscv")}, open(sys.argv[2], "w"))
open(sys.argv[2] + ".seed", "w").write(ref["seed"])
PY
    $REF ref "$1.table" "$(cat "$1.c.json.seed")" 1000 16 >"$1.ref.json" || fail "$1: reference failed"
    $REF compare "$1.c.json" "$1.ref.json" || fail "$1: the record's statistics differ from the reference"
    echo "[$TT_NAME]   ok: $1: $(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print("table of %d configurations; the record equals the reference" % t["configurations"])' "$1.ref-table")"
}

say "svm-grid 5 x 4 and its refit"
run --study grid -- svm-grid -log2c -1,7,2 -log2g -7,-1,2 -svmtrain /usr/bin/svm-train -gnuplot null \
    -out null heart_scale >grid.out
read -r c g _ < <(tail -n 1 grid.out)
run --study grid -- svm-train -c "$c" -g "$g" heart_scale grid.model >/dev/null
check grid grid.model

say "liblinear-train -C and its refit"
run --study lin -- liblinear-train -C -v 5 heart_scale >lin.out
bc=$(sed -n 's/^Best C = \([^ ]*\) .*/\1/p' lin.out)
[ -n "$bc" ] || fail "liblinear-train -C printed no 'Best C'"
run --study lin -- liblinear-train -c "$bc" heart_scale lin.model >/dev/null
check lin lin.model

say "SVR over 4 values of C (regression)"
for C in 0.25 1 4 16; do run --study svr -- svm-train -s 3 -v 5 -c "$C" heart_scale >/dev/null; done
run --study svr -- svm-train -s 3 -c 1 heart_scale svr.model >/dev/null
check svr svr.model
/usr/bin/python3 - svr.c.json <<'PY' || fail "SVR: the statistics are not over squared losses"
import json, sys
v = json.load(open(sys.argv[1]))["bbc_cv"]["values"]
assert v["metric"] == "mean_squared_error" and v["inflation"] >= -1, v
PY

say "the report opens with the headline"
tt report --record grid.rec --format md -o grid.md || fail "report --format md failed"
sed -n 5p grid.md | grep -Eq '^\*\*[0-9.]+ % cross-validated, the best of 20; corrected for the selection: [0-9.]+ % \[[0-9.]+, [0-9.]+\]\.\*\*$' ||
    fail "the Markdown's first lines lack the headline: $(head -6 grid.md)"
tt report --record grid.rec -o grid.html || fail "report (HTML) failed"
grep -q 'class="headline"' grid.html && grep -q 'the raw best against the estimates corrected' grid.html &&
    grep -q 'out-of-sample logit of the in-sample best' grid.html ||
    fail "the HTML report lacks the headline, the corrected-estimate plot or the PBO histogram"

say "scikit-learn: Tibshirani from fold scores, the rest omitted with the reason"
cat >sk.py <<'PY'
import joblib
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV
from sklearn.svm import SVC
X, y = load_iris(return_X_y=True)
g = GridSearchCV(SVC(), {"C": [0.01, 0.1, 1, 10]}, cv=5).fit(X, y)
joblib.dump(g.best_estimator_, "sk.model")
PY
run --study sk -- /usr/bin/python3 sk.py
check sk sk.model
/usr/bin/python3 - sk.c.json <<'PY' || fail "scikit-learn: unexpected statistics"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["tibshirani"]["values"]["folds"] == 5, s["tibshirani"]
assert "out-of-fold" in s["bbc_cv"]["omitted"] and "omitted" in s["pbo_cscv"], s
PY
say "no reference trial: the largest group of like predictions is pooled"
head -n 100 heart_scale >slice
run --study mix -- svm-train -v 5 -c 1 heart_scale >/dev/null
run --study mix -- svm-train -v 5 -c 2 slice >/dev/null
run --study mix -- svm-train -v 5 -c 4 slice >/dev/null
run --study mix -- svm-train -c 8 slice mix.model >/dev/null
check mix mix.model
/usr/bin/python3 - mix.rec <<'PY' || fail "mix: the pool is not the largest group"
import base64, json, sys
st = json.loads(base64.b64decode(json.load(open(sys.argv[1]))["payload"]))
t = st["predicate"]["selection"]["selection_bias"]["table"]
assert t["configurations"] == 2 and t["examples"] == 100 and t["left_out"] == 1, t
PY
echo "[$TT_NAME]   ok: mix: 2 CVs of 100 examples pooled, the 270-example one left out"

say "a program that prints only its score: the statistics omitted, saying why"
printf '#!/bin/sh\necho "val_acc: $1"\necho "model $1" >"model-$1"\n' >train.sh
chmod +x train.sh
for a in 0.71 0.75 0.73; do
    run --study plain --trial train.sh --metric 'val_acc=val_acc: ([0-9.]+)' -- ./train.sh "$a" >/dev/null
done
tt attest model-0.75 --objective val_acc:max --store "$DB" -o plain.rec >/dev/null || fail "attest of the plain study failed"
tt verify plain.rec model-0.75 >/dev/null || fail "verify of the plain study failed"
/usr/bin/python3 - plain.rec <<'PY' || fail "plain: the record does not say why the statistics are omitted"
import base64, json, sys
st = json.loads(base64.b64decode(json.load(open(sys.argv[1]))["payload"]))
sb = st["predicate"]["selection"]["selection_bias"]
assert list(sb) == ["omitted"] and sb["omitted"].startswith("no out-of-fold predictions recorded"), sb
assert "predictions" not in st["predicate"], "no data to carry"
PY
tt report --record plain.rec --format md -o plain.md || fail "report of the plain study failed"
grep -q '^| Corrected for the selection (BBC-CV) | omitted: no out-of-fold predictions recorded' plain.md ||
    fail "the plain study's report does not say the correction is omitted: $(grep -i 'selection' plain.md)"
echo "[$TT_NAME]   ok: plain: selection_bias omitted with the reason, in the record and the report"
echo "[$TT_NAME] PASS"
