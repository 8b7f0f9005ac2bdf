#!/usr/bin/env bash
# sklearn_more.sh - the other scikit-learn entry points, each in its own
# run, each compared with what scikit-learn itself returned (the script
# writes it as JSON):
# - RandomizedSearchCV: a trial per sampled candidate, params as sampled;
# - HalvingGridSearchCV: a trial per cv_results_ row (candidate x resource
#   level), with sklearn.iter and sklearn.n_resources; the fitted search
#   dumped with joblib attests as the refit of its best_index_ row only;
# - a Pipeline in a GridSearchCV with two scorers: nested params
#   (svc__C, scaler__with_mean), a mean per scorer, refit on one of them;
# - a candidate whose fits fail (error_score nan): a failed trial with the
#   error, the others ok;
# - cross_val_score and cross_validate: one trial per call, a step per fold;
# - a plain fit: a RandomForestClassifier (n_jobs=2: its trees are no
#   trials) is a trial whose pickle.dump file is its model; a StandardScaler
#   fit (no predictor) is none.
source "$(dirname "$0")/lib/common.sh"
PY=/usr/bin/python3
need_exe "$PY" "$TT_BIN/tunetrail"
need_py sklearn
cd "$T"

cat >more.py <<'EOF'
import json, pickle, sys, warnings
import joblib
from scipy.stats import loguniform
from sklearn.datasets import load_iris, load_digits
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import (GridSearchCV, HalvingGridSearchCV, RandomizedSearchCV,
                                     cross_val_score, cross_validate)
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
X, y = load_iris(return_X_y=True)
text = lambda v: v if isinstance(v, str) else repr(v.item() if hasattr(v, "item") else v)
def rows(r, *cols):
    return [dict({k: text(v) for k, v in p.items()},
                 **{c: float(r[c][i]) for c in cols if c in r},
                 **{c: text(r[c][i]) for c in ("iter", "n_resources") if c in r})
            for i, p in enumerate(r["params"])]
what, out = sys.argv[1], {}
if what == "random":
    g = RandomizedSearchCV(SVC(), {"C": loguniform(1e-2, 1e2), "gamma": loguniform(1e-3, 1)},
                           n_iter=6, cv=3, random_state=0).fit(X, y)
    out = rows(g.cv_results_, "mean_test_score")
elif what == "halving":
    Xd, yd = load_digits(return_X_y=True)
    g = HalvingGridSearchCV(SVC(), {"C": [1, 10], "gamma": [1e-4, 1e-3, 1e-2]}, cv=3, factor=2,
                            random_state=0).fit(Xd, yd)
    out = rows(g.cv_results_, "mean_test_score")
    out[g.best_index_]["best"] = True
    joblib.dump(g, "halving.joblib")  # the fitted search: its refit's model
elif what == "pipe":
    p = Pipeline([("scaler", StandardScaler()), ("svc", SVC())])
    g = GridSearchCV(p, {"svc__C": [0.1, 1], "scaler__with_mean": [True, False]}, cv=3,
                     scoring={"acc": "accuracy", "bal": "balanced_accuracy"}, refit="acc").fit(X, y)
    out = rows(g.cv_results_, "mean_test_acc", "mean_test_bal")
elif what == "fail":
    warnings.simplefilter("ignore")
    g = GridSearchCV(LogisticRegression(), {"penalty": ["l2", "l1"]}, cv=3).fit(X, y)
    out = rows(g.cv_results_, "mean_test_score")
elif what == "cv":
    out["cvs"] = [float(v) for v in cross_val_score(LogisticRegression(max_iter=500), X, y, cv=4,
                                                    scoring="accuracy")]
    r = cross_validate(SVC(), X, y, cv=3, scoring=["accuracy", "f1_macro"], n_jobs=2)
    out["cv"] = {k: [float(v) for v in r[k]] for k in ("test_accuracy", "test_f1_macro")}
elif what == "fit":
    StandardScaler().fit(X)
    m = RandomForestClassifier(n_estimators=8, max_depth=3, random_state=1, n_jobs=2).fit(X, y)
    with open("rf.pkl", "wb") as f:
        pickle.dump(m, f)
json.dump(out, open(what + ".json", "w"))
EOF

# run WHAT SUMMARY - runs more.py WHAT in study WHAT, checks the summary line,
# leaves its trials in $T/trials.json.
run() {
    tt_rc rc run --study "$1" --store "$DB" -- "$PY" more.py "$1" >/dev/null 2>run.err
    expect_eq "$rc" 0 "more.py $1 exit code"
    expect_eq "$(tail -n 1 run.err)" "$2" "summary of $1"
    trials_json --study "$1"
}
CHECK='
import math
want = json.load(open(args[0]))
cands = [t for t in trials if any(m.startswith("mean_test_") for m in t["metrics"])]
refit = [t for t in trials if t not in cands]
def same(a, b):
    return abs(a - b) < 1e-12
'

say "RandomizedSearchCV: one trial per sampled candidate"
run random "tunetrail: 7 trials (7 ok); adapters: sklearn 7"
pycheck "$CHECK"'
got = sorted((t["params"]["C"], t["params"]["gamma"], t["metrics"]["mean_test_score"]) for t in cands)
exp = sorted((w["C"], w["gamma"], w["mean_test_score"]) for w in want)
check(len(got) == 6 and [g[:2] for g in got] == [e[:2] for e in exp], "6 candidates, C and gamma as sampled: %s" % [g[:2] for g in got])
check(all(same(g[2], e[2]) for g, e in zip(got, exp)), "mean_test_score == cv_results_")
check(len(refit) == 1, "one refit")
' random.json

say "HalvingGridSearchCV: one trial per (candidate, resource level)"
run halving "tunetrail: 12 trials (12 ok); adapters: sklearn 12"
pycheck "$CHECK"'
key = lambda d, m: (d["C"], d["gamma"], d["sklearn.iter" if "sklearn.iter" in d else "iter"],
                    d["sklearn.n_resources" if "sklearn.n_resources" in d else "n_resources"], m)
got = sorted(key(t["params"], t["metrics"]["mean_test_score"]) for t in cands)
exp = sorted(key(w, w["mean_test_score"]) for w in want)
check(len(got) == len(exp) == 11 and len(refit) == 1, "11 rows of cv_results_ (6 + 3 + 2 candidates), 11 trials and the refit")
check([g[:4] for g in got] == [e[:4] for e in exp], "C, gamma, sklearn.iter, sklearn.n_resources per row")
check(all(same(g[4], e[4]) for g, e in zip(got, exp)), "mean_test_score == cv_results_")
' halving.json
tt keygen -o "$T/keys" >/dev/null || fail "keygen failed"
tt attest halving.joblib --study halving --store "$DB" --key "$T/keys/tunetrail.key" -o rec.json >attest.out ||
    fail "attest failed: $(cat attest.out)"
python3 - rec.json halving.json "$T/trials.json" <<'PY' || fail "halving record"
import base64, json, sys
p = json.loads(base64.b64decode(json.load(open(sys.argv[1]))["payload"]))["predicate"]
want = json.load(open(sys.argv[2]))
trials = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
best = [i for i, w in enumerate(want) if w.get("best")][0]
row = [t["uuid"] for t in trials if t["params"].get("sklearn.candidate") == str(best) and "mean_test_score" in t["metrics"]]
r = p["selection"]["released"]
assert p["selection"]["n"] == 11 and r["from"] == "refit_of", (p["selection"]["n"], r)
assert p["producedBy"]["refit_of"]["trials"] == row, (p["producedBy"]["refit_of"]["trials"], row)
assert abs(r["value"] - want[best]["mean_test_score"]) < 1e-12, (r, want[best])
print("[sklearn_more]   ok: the dumped search attests as the refit of its best_index_ row only "
      "(N = 11, value = best_score_ %.6f, rank %d)" % (r["value"], r["rank"]))
PY

say "a Pipeline with two scorers: nested params, a mean per scorer"
run pipe "tunetrail: 5 trials (5 ok); adapters: sklearn 5"
pycheck "$CHECK"'
got = sorted((t["params"]["svc__C"], t["params"]["scaler__with_mean"], t["metrics"]["mean_test_acc"],
              t["metrics"]["mean_test_bal"]) for t in cands)
exp = sorted((w["svc__C"], w["scaler__with_mean"], w["mean_test_acc"], w["mean_test_bal"]) for w in want)
check([g[:2] for g in got] == [e[:2] for e in exp], "svc__C and scaler__with_mean: %s" % [g[:2] for g in got])
check(all(same(g[2], e[2]) and same(g[3], e[3]) for g, e in zip(got, exp)), "mean_test_acc and mean_test_bal == cv_results_")
check(all(t["params"]["steps"] == "[(\x27scaler\x27, StandardScaler), (\x27svc\x27, SVC)]" for t in trials),
      "steps named by class: %s" % trials[0]["params"]["steps"])
check(len(refit) == 1 and refit[0]["params"]["sklearn.estimator"] == "Pipeline", "one refit, a Pipeline")
' pipe.json

say "a candidate whose fits fail is a failed trial"
run fail "tunetrail: 3 trials (2 ok, 1 failed); adapters: sklearn 3"
pycheck "$CHECK"'
bad = [t for t in cands if t["params"]["penalty"] == "l1"]
ok = [t for t in cands if t["params"]["penalty"] == "l2"]
check(len(bad) == 1 and bad[0]["status"] == "failed", "penalty l1: failed")
check(len(ok) == 1 and ok[0]["status"] == "ok" and same(ok[0]["metrics"]["mean_test_score"],
      [w for w in want if w["penalty"] == "l2"][0]["mean_test_score"]), "penalty l2: ok, its mean")
check(math.isnan([w for w in want if w["penalty"] == "l1"][0]["mean_test_score"]), "(sklearn scored l1 nan)")
' fail.json
id=$(python3 -c 'import json,sys; print([t["id"] for t in map(json.loads, open(sys.argv[1])) if t["status"] == "failed"][0])' "$T/trials.json")
tt show --store "$DB" --json "$id" >show.json || fail "show $id failed"
python3 -c 'import json,sys; e = json.load(open(sys.argv[1]))["error"]; print(e); assert e.startswith("ValueError: ") and "l1" in e' show.json ||
    fail "the failed trial's error is the fit's exception"

say "cross_val_score and cross_validate: one trial per call"
run cv "tunetrail: 2 trials (2 ok); adapters: sklearn 2"
pycheck "$CHECK"'
cvs = [t for t in trials if "mean_test_accuracy" in t["metrics"] and t["params"]["sklearn.estimator"] == "LogisticRegression"]
cvd = [t for t in trials if t["params"]["sklearn.estimator"] == "SVC"]
check(len(cvs) == 1 and same(cvs[0]["metrics"]["mean_test_accuracy"], sum(want["cvs"]) / 4) and
      cvs[0]["params"]["max_iter"] == "500" and cvs[0]["params"]["sklearn.n_splits"] == "4",
      "cross_val_score: LogisticRegression(max_iter=500), mean_test_accuracy = mean of its scores")
check(len(cvd) == 1 and all(same(cvd[0]["metrics"]["mean_test_" + k], sum(v) / 3)
      for k, v in (("accuracy", want["cv"]["test_accuracy"]), ("f1_macro", want["cv"]["test_f1_macro"]))),
      "cross_validate with n_jobs=2: one trial, mean_test_accuracy and mean_test_f1_macro")
' cv.json
id=$(python3 -c 'import json,sys; print([t["id"] for t in map(json.loads, open(sys.argv[1])) if t["params"]["sklearn.estimator"] == "LogisticRegression"][0])' "$T/trials.json")
tt show --store "$DB" --json "$id" >show.json || fail "show $id failed"
python3 - show.json cv.json <<'PY' || fail "cross_val_score folds"
import json, sys
show, want = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
pts = sorted((p["step"], p["value"]) for p in show["metric_points"] if p["name"] == "split_test_accuracy")
assert [s for s, _ in pts] == [0, 1, 2, 3] and all(abs(v - w) < 1e-12 for (_, v), w in zip(pts, want["cvs"])), pts
print("[sklearn_more]   ok: split_test_accuracy steps 0..3 = cross_val_score's scores")
PY

say "a plain fit is a trial, its pickle its model; a transformer's fit is not"
run fit "tunetrail: 1 trial (1 ok); adapters: sklearn 1"
pycheck '
import os
t = trials[0]
check(t["params"]["sklearn.estimator"] == "RandomForestClassifier" and t["params"]["n_estimators"] == "8"
      and t["params"]["max_depth"] == "3" and t["params"]["random_state"] == "1", "the forest params (get_params)")
check(t["params"].get("sklearn.model_file") == os.path.abspath("rf.pkl"), "sklearn.model_file = rf.pkl")
check(any(o["path"] == os.path.abspath("rf.pkl") for o in t["outputs"]), "rf.pkl among its outputs")
'
echo "[$TT_NAME] PASS"
