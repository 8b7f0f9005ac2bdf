#!/usr/bin/env bash
# oof_predictions.sh - issue 13 part 1: every cross-validation's out-of-fold
# predictions are kept with its trial and committed to by its leaf.
#   - svm-train -v 5 (classification): 270 rows, 5 folds, and the rows
#     predicted right are exactly the cv_accuracy svm-train printed;
#   - svm-train -s 3 -v 4 (SVR): the values and labels, 4 folds;
#   - liblinear-train -C -v 5: each C tried is a trial with its own rows,
#     right == its cv_accuracy, all over the same labels;
#   - svm-grid (a 3 x 2 grid): every trial pools with the others (same n,
#     same labels) and right == cv_accuracy;
#   - scikit-learn (GridSearchCV, cross_val_score): each candidate's fold
#     scores, exactly the doubles of cv_results_ (the leaf's sha256 is
#     recomputed from what the script printed);
#   - a program that prints only a score has no predictions.
source "$(dirname "$0")/lib/common.sh"

need_exe svm-train liblinear-train svm-grid python "$TT_BIN/tunetrail"
tt_requires_adapter libsvm liblinear
need_py sklearn
cp /usr/share/doc/liblinear-tools/examples/heart_scale "$T/heart_scale"
cd "$T"

run() { tt run --store "$DB" "$@" >>"$T/run.out" 2>&1 || fail "tunetrail run $* failed (see $T/run.out)"; }
run --study cls -- svm-train -v 5 heart_scale
run --study svr -- svm-train -s 3 -v 4 heart_scale
run --study lin -- liblinear-train -C -v 5 heart_scale
run --study grid --trial svm-train -- svm-grid -log2c 1,5,2 -log2g -3,-1,2 -svmtrain /usr/bin/svm-train \
    -gnuplot null -out null heart_scale
run --study plain -- /bin/sh -c 'echo "accuracy = 0.8"'
cat >"$T/sk.py" <<'PY'
import json
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.svm import SVC
X, y = load_iris(return_X_y=True)
r = GridSearchCV(SVC(), {"C": [0.1, 1, 10]}, cv=5).fit(X, y).cv_results_
grid = [[float(r["split%d_test_score" % k][i]) for k in range(5)] for i in range(3)]
cvs = [float(v) for v in cross_val_score(SVC(C=2), X, y, cv=4)]
json.dump({"grid": grid, "cvs": cvs}, open("sk.json", "w"))
PY
run --study sk -- /usr/bin/python3 "$T/sk.py"
tt log --store "$DB" --json >"$T/log.json" || fail "tunetrail log --json failed"

say "the leaves carry each CV's predictions"
timeout 60 /usr/bin/python3 - "$T/log.json" <<'PY' || fail "python check failed (see above)"
import json, sys
def check(cond, msg):
    if not cond:
        print("[oof_predictions] FAIL: " + msg, file=sys.stderr)
        sys.exit(1)
    print("[oof_predictions]   ok: " + msg)
by = {}
for line in open(sys.argv[1]):
    o = json.loads(line)
    by.setdefault(o["study"], []).append(json.loads(o["leaf"]))

def right_is_accuracy(leaf):
    p, m = leaf.get("predictions") or {}, (leaf.get("metrics") or {}).get("cv_accuracy")
    return m is not None and p.get("kind") == "correct" and abs(100.0 * p["right"] / p["n"] - m["value"]) < 1e-9

(c,) = by["cls"]
p = c.get("predictions") or {}
check(p.get("kind") == "correct" and p.get("n") == 270 and p.get("nr_fold") == 5 and p.get("folds") is True,
      "svm-train -v 5: 270 rows right/wrong, 5 folds known (%s)" % p)
check(right_is_accuracy(c), "svm-train -v 5: %s rows right = cv_accuracy %s %%" %
      (p.get("right"), c["metrics"]["cv_accuracy"]["value"]))
check(len(p.get("sha256", "")) == 64, "the leaf commits to the data by its sha256")

(r,) = by["svr"]
p = r.get("predictions") or {}
check(p.get("kind") == "value" and p.get("n") == 270 and p.get("nr_fold") == 4 and p.get("folds") is True
      and "right" not in p, "svm-train -s 3 -v 4: 270 values with their labels, 4 folds (%s)" % p)

lin = by["lin"]
check(len(lin) >= 10 and all(right_is_accuracy(l) for l in lin),
      "liblinear-train -C: each of the %d C values is a trial whose right rows = its cv_accuracy" % len(lin))
check(len({l["predictions"]["labels_fnv"] for l in lin}) == 1 and
      len({l["predictions"]["labels_fnv"] for l in lin + [c, r]}) == 1,
      "liblinear's and libsvm's trials share one label digest (same data, same order)")
check(len({l["predictions"]["sha256"] for l in lin}) > 1, "the C values' predictions differ")

grid = by["grid"]
check(len(grid) == 6, "svm-grid 3 x 2: 6 trials (got %d)" % len(grid))
check(all(right_is_accuracy(g) and g["predictions"]["folds"] for g in grid),
      "svm-grid: every trial's right rows = its cv_accuracy, folds known")
check(len({(g["predictions"]["n"], g["predictions"]["labels_fnv"]) for g in grid}) == 1,
      "svm-grid: all 6 trials pool (same n, same labels)")

check(all("predictions" not in l for l in by["plain"]), "a program that prints only a score has none")

import hashlib, struct
def fold_sha(scores):
    n = len(scores)
    return hashlib.sha256(bytes([3]) + struct.pack("<I", n) + struct.pack("<%dd" % n, *scores) +
                          bytes(range(n))).hexdigest()
sk = json.load(open("sk.json"))
want = sorted(fold_sha(s) for s in sk["grid"] + [sk["cvs"]])
got = sorted(l["predictions"]["sha256"] for l in by["sk"] if "predictions" in l)
check(all(l["predictions"]["kind"] == "fold_scores" for l in by["sk"] if "predictions" in l),
      "scikit-learn trials carry fold scores")
check(got == want, "GridSearchCV's 3 candidates and cross_val_score: fold scores are cv_results_'s doubles "
      "(sha256 recomputed: %d of %d)" % (len(set(got) & set(want)), len(want)))
PY
echo "[$TT_NAME] PASS"
