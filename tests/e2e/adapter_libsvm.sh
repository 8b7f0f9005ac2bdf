#!/usr/bin/env bash
# adapter_libsvm.sh - the libsvm adapter on Debian's own programs, with no
# --trial flag: svm-grid (python driving 110 svm-train -v 5) gives exactly
# 110 trials, framework libsvm, each with every svm_parameter field (enums by
# name) and a cv_accuracy equal to the rate svm-grid itself reports for its
# (log2c, log2g); svm-train -v 5 is one trial (folds are not trials); plain
# svm-train is one trial linked to the model file it saved.
source "$(dirname "$0")/lib/common.sh"
tt_requires_adapter libsvm

need_exe svm-grid svm-train python3 "$TT_BIN/tunetrail"
cp /usr/share/doc/liblinear-tools/examples/heart_scale "$T/heart_scale"
cd "$T"

FIELDS='["svm_type","kernel_type","degree","gamma","coef0","cache_size","eps","C","nr_weight",
         "weight_label","weight","nu","p","shrinking","probability","l","n_features"]'

say "svm-grid, no --trial: 110 libsvm trials, cv_accuracy == svm-grid's rate"
tt_rc rc run --study grid --store "$DB" -- \
    svm-grid -svmtrain /usr/bin/svm-train -gnuplot null -out grid.out heart_scale >"$T/grid.stdout"
expect_eq "$rc" 0 "tunetrail run svm-grid exit code"
trials_json --study grid
pycheck '
import math, re
fields = '"$FIELDS"'
rates = {}
for line in open(args[0]):
    m = re.match(r"log2c=(\S+) log2g=(\S+) rate=(\S+)", line)
    if m:
        rates[(float(m.group(1)), float(m.group(2)))] = m.group(3)
check(len(rates) == 110, "svm-grid reported 110 (c, g) rates (got %d)" % len(rates))
check(len(trials) == 110, "exactly 110 trials: no python / sh / root trial (got %d)" % len(trials))
check(all(t.get("framework") == "libsvm" for t in trials), "every trial has framework libsvm")
check(all(t.get("status") == "ok" for t in trials), "every trial is ok")
missing = [(t["id"], f) for t in trials for f in fields if "libsvm." + f not in (t.get("params") or {})]
check(not missing, "every trial has every libsvm.<field> param (missing: %s)" % missing[:5])
p0 = trials[0]["params"]
check(p0["libsvm.svm_type"] == "C_SVC" and p0["libsvm.kernel_type"] == "RBF",
      "enums by name: svm_type C_SVC, kernel_type RBF (%s, %s)" % (p0["libsvm.svm_type"], p0["libsvm.kernel_type"]))
check(p0["libsvm.l"] == "270" and p0["libsvm.n_features"] == "13", "problem size l=270, n_features=13")
check(p0["libsvm.weight"] == "[]" and p0["libsvm.nr_fold"] == "5", "weights as an (empty) list, nr_fold 5")
seen = set()
for t in trials:
    p = t["params"]
    key = (math.log2(float(p["libsvm.C"])), math.log2(float(p["libsvm.gamma"])))
    acc = (t.get("metrics") or {}).get("cv_accuracy")
    if key not in rates or acc is None or float("%g" % acc) != float(rates[key]):
        check(False, "trial %s C=%s gamma=%s cv_accuracy %r == svm-grid rate %r" %
              (t["id"], p["libsvm.C"], p["libsvm.gamma"], acc, rates.get(key)))
    seen.add(key)
check(len(seen) == 110, "110 distinct (C, gamma) settings")
check(True, "every trial: cv_accuracy == the rate svm-grid printed for its (log2c, log2g)")
' "$T/grid.out"
# Every metric point of every trial (show's metric_points).
trials_json
for id in $(python3 -c 'import json,sys; [print(json.loads(l)["id"]) for l in open(sys.argv[1]) if l.strip()]' "$T/trials.json"); do
    tt show "$id" --store "$DB" --json || fail "tunetrail show $id --json failed"
done >"$T/shows.json"
python3 - "$T/shows.json" <<'PY' || fail "metric split/direction"
import json, sys
shows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = set((p["split"], p["direction"]) for s in shows for p in s["metric_points"] if p["name"] == "cv_accuracy")
assert ("valid", "max") in rows, rows
print("[adapter_libsvm]   ok: cv_accuracy has split valid, direction max")
PY

say "svm-train -v 5: one trial, the folds are not trials"
tt_rc rc run --study cv --store "$DB" -- svm-train -v 5 -c 4 -g 0.25 heart_scale >"$T/cv.out"
expect_eq "$rc" 0 "svm-train -v 5 exit code"
trials_json --study cv
pycheck '
want = open(args[0]).read().split("Cross Validation Accuracy = ")[1].split("%")[0]
check(len(trials) == 1, "one trial (got %d)" % len(trials))
t = trials[0]
check(t["framework"] == "libsvm" and t["params"]["libsvm.C"] == "4" and t["params"]["libsvm.gamma"] == "0.25",
      "libsvm trial with C=4, gamma=0.25")
check(float("%g" % t["metrics"]["cv_accuracy"]) == float(want), "cv_accuracy %r == printed %s" % (t["metrics"]["cv_accuracy"], want))
' "$T/cv.out"

say "svm-train -s 3 -v 5 (regression): cv_mse and cv_scc as svm-train prints them"
tt_rc rc run --study svr --store "$DB" -- svm-train -s 3 -v 5 heart_scale >"$T/svr.out"
expect_eq "$rc" 0 "svm-train -s 3 -v 5 exit code"
trials_json --study svr
pycheck '
import re
out = open(args[0]).read()
mse = re.search(r"Mean squared error = (\S+)", out).group(1)
scc = re.search(r"Squared correlation coefficient = (\S+)", out).group(1)
check(len(trials) == 1, "one trial")
m = trials[0]["metrics"]
check(trials[0]["params"]["libsvm.svm_type"] == "EPSILON_SVR", "svm_type EPSILON_SVR")
check(float("%g" % m.get("cv_mse", -1)) == float(mse) and float("%g" % m.get("cv_scc", -1)) == float(scc),
      "cv_mse %r / cv_scc %r == printed %s / %s" % (m.get("cv_mse"), m.get("cv_scc"), mse, scc))
' "$T/svr.out"

say "svm-train (no -v): one trial linked to its model file"
tt_rc rc run --study model --store "$DB" -- svm-train -c 2 heart_scale "$T/heart.model" >/dev/null
expect_eq "$rc" 0 "svm-train exit code"
trials_json --study model
pycheck '
import os
check(len(trials) == 1, "one trial (got %d)" % len(trials))
t = trials[0]
check(t["params"].get("libsvm.model_file") == args[0], "libsvm.model_file = %s (%r)" % (args[0], t["params"].get("libsvm.model_file")))
outs = [o for o in t.get("outputs") or [] if o.get("path") == args[0]]
check(outs and outs[-1].get("sha256") == args[1], "the model is an output of the trial with its sha256")
' "$T/heart.model" "$(sha256 "$T/heart.model")"
echo "[$TT_NAME] PASS"
