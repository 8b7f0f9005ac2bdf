#!/usr/bin/env bash
# py_xgboost.sh - the Python hook on XGBoost (docs/ADAPTERS.md "XGBoost
# (Python)"), with Debian's /usr/bin/python3 and python3-xgboost, no
# --trial: xgboost.train with two eval sets and early stopping is one trial
# whose params are the booster params given, whose every eval metric point
# equals the line XGBoost printed for that round, with the best iteration
# and the saved model; XGBClassifier.fit (which calls train) is exactly one
# trial and `tunetrail attest` of its saved model names that trial; the
# program's output is the same with and without tunetrail; xgboost.cv is one
# trial with its result's columns per round.
source "$(dirname "$0")/lib/common.sh"
PY=/usr/bin/python3
need_exe "$PY" "$TT_BIN/tunetrail"
need_py xgboost numpy
cd "$T"

cat >train.py <<'EOF'
import json
import numpy as np
import xgboost as xgb
rng = np.random.RandomState(0)
X = rng.rand(400, 6)
y = (X[:, 0] + X[:, 1] * 0.5 + 0.4 * rng.rand(400) > 0.9).astype(int)
dtr = xgb.DMatrix(X[:300], label=y[:300])
dva = xgb.DMatrix(X[300:], label=y[300:])
params = {"max_depth": 3, "eta": 0.7, "subsample": 0.8, "objective": "binary:logistic",
          "eval_metric": ["error", "logloss"], "nthread": 1, "seed": 3}
json.dump(params, open("params.json", "w"))
res = {}
bst = xgb.train(params, dtr, num_boost_round=40, evals=[(dtr, "train"), (dva, "eval")],
                early_stopping_rounds=4, verbose_eval=True, evals_result=res)
print("best_iteration", bst.best_iteration)
json.dump(res, open("evals_result.json", "w"))
bst.save_model("booster.json")
EOF

say "xgboost.train with early stopping: one trial"
tt_rc rc run --study xgb --store "$DB" -- "$PY" train.py >train.out 2>train.err
expect_eq "$rc" 0 "train.py exit code"
expect_eq "$(tail -n 1 train.err)" "tunetrail: 1 trial (1 ok); adapters: xgboost 1" "summary line"
trials_json --study xgb
tt show "$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["id"])' "$T/trials.json")" \
    --store "$DB" --json >show.json || fail "tunetrail show failed"
pycheck '
import os, re
check(len(trials) == 1 and trials[0]["framework"] == "xgboost", "one xgboost trial")
t = trials[0]
given = json.load(open("params.json"))
def text(v):
    return v if isinstance(v, str) else "[" + ", ".join(v) + "]" if isinstance(v, list) else repr(v)
want = {"xgboost." + k: text(v) for k, v in given.items()}
want.update({"xgboost.num_boost_round": "40", "xgboost.early_stopping_rounds": "4",
             "xgboost.num_row": "300", "xgboost.num_col": "6"})
got = {k: v for k, v in t["params"].items() if k not in ("xgboost.best_iteration", "xgboost.model_file")}
check(got == want, "params: the booster params given, num_boost_round, early_stopping_rounds, data size (%s)" % got)
lines = open("train.out").read().splitlines()
best = [l.split()[1] for l in lines if l.startswith("best_iteration ")][0]
check(t["params"].get("xgboost.best_iteration") == best, "best_iteration %s as XGBoost says" % best)
check(t["params"].get("xgboost.model_file") == os.path.abspath("booster.json"), "model_file is booster.json")
printed = {}
for l in lines:
    m = re.match(r"\[(\d+)\]\t(.*)", l)
    for f in (m.group(2).split("\t") if m else []):
        name, v = f.split(":")
        printed.setdefault(name, []).append((int(m.group(1)), v))
show = json.load(open("show.json"))
pts = {}
for p in show["metric_points"]:
    pts.setdefault(p["name"], []).append((p["step"], "%.5f" % p["value"]))
check(sorted(pts) == sorted(printed), "one metric per eval set and metric, named as printed (%s)" % sorted(pts))
# XGBoost 1.7 calls its callbacks from a set and stops at the first that
# says stop: at the early stop its monitor may not print the last round.
rounds = int(best) + 4 + 1
for name in sorted(printed):
    check(pts[name][:len(printed[name])] == printed[name] and len(pts[name]) == rounds,
          "%s: every printed round equals its point (%d printed, %d recorded = best + 4 + 1; last printed %s; recorded %s)"
          % (name, len(printed[name]), len(pts[name]), printed[name][-1], pts[name] if pts[name][:len(printed[name])] != printed[name] else "the same"))
res = json.load(open("evals_result.json"))
exact = {"%s-%s" % (e, m): v for e, ms in res.items() for m, v in ms.items()}
got = {n: [p["value"] for p in show["metric_points"] if p["name"] == n] for n in exact}
def same(a, b):  # the CLI prints 15 significant digits
    return len(a) == len(b) and all(abs(x - y) <= 1e-13 * max(1.0, abs(y)) for x, y in zip(a, b))
check(all(same(got[n], exact[n]) for n in exact), "every point equals the evals_result XGBoost filled")
check(same([t["metrics"]["eval-logloss"]], exact["eval-logloss"][-1:]), "the trial shows the last round of eval-logloss")
kinds = {(p["name"], p["split"], p["direction"]) for p in show["metric_points"]}
check(kinds == {("train-error", "train", "min"), ("train-logloss", "train", "min"), ("eval-error", "valid", "min"), ("eval-logloss", "valid", "min")}, "splits and directions")
outs = {o["path"]: o["sha256"] for o in t["outputs"]}
check(outs.get(os.path.abspath("booster.json")) == args[0], "booster.json is an output with its sha256")
' "$(sha256 booster.json)"

cat >fit.py <<'EOF'
import pickle
import numpy as np
from xgboost import XGBClassifier
rng = np.random.RandomState(1)
X = rng.rand(300, 4)
y = (X[:, 2] + 0.3 * rng.rand(300) > 0.7).astype(int)
clf = XGBClassifier(n_estimators=6, max_depth=2, learning_rate=0.5, n_jobs=1, random_state=0)
clf.fit(X[:200], y[:200], eval_set=[(X[200:], y[200:])])
clf.save_model("clf.json")
pickle.dump(clf, open("clf.pkl", "wb"))
print("accuracy %.4f" % (clf.predict(X[200:]) == y[200:]).mean())
EOF

say "XGBClassifier.fit: exactly one trial; attest of its saved model names it"
"$PY" fit.py >bare.out 2>bare.err || fail "fit.py failed without tunetrail"
tt_rc rc run --study fit --store "$DB" -- "$PY" fit.py >fit.out 2>fit.err
expect_eq "$rc" 0 "fit.py exit code"
expect_eq "$(tail -n 1 fit.err)" "tunetrail: 1 trial (1 ok); adapters: xgboost 1" "summary line"
tt_strip_summary fit.err
cmp -s bare.out fit.out || fail "stdout differs with tunetrail: $(diff bare.out fit.out | head -5)"
cmp -s bare.err fit.err || fail "stderr differs with tunetrail: $(diff bare.err fit.err | head -5)"
echo "[$TT_NAME]   ok: stdout and stderr byte-identical with and without tunetrail"
trials_json --study fit
tt keygen -o keys >/dev/null || fail "keygen failed"
tt attest clf.json --store "$DB" --key keys/tunetrail.key -o rec.json >/dev/null || fail "attest clf.json failed"
pycheck '
import base64, os
check(len(trials) == 1, "exactly one trial for fit (got %d)" % len(trials))
t = trials[0]
p = t["params"]
check(p.get("xgboost.max_depth") == "2" and p.get("xgboost.learning_rate") == "0.5" and p.get("xgboost.num_boost_round") == "6",
      "params from the estimator: max_depth 2, learning_rate 0.5, n_estimators as num_boost_round 6")
check("xgboost.best_iteration" not in p, "no best_iteration without early stopping")
check(sorted(t["metrics"]) == ["validation_0-logloss"], "the eval set as validation_0-logloss")
check(p.get("xgboost.model_file") == os.path.abspath("clf.json"), "model_file is clf.json")
check(os.path.abspath("clf.pkl") in [o["path"] for o in t["outputs"]], "the pickle is an output")
rec = json.loads(base64.b64decode(json.load(open("rec.json"))["payload"]))
check(rec["predicate"]["producedBy"]["trial"] == t["uuid"], "attest: clf.json was produced by the fit trial")
'
cat >cv.py <<'EOF'
import json
import numpy as np
import xgboost as xgb
rng = np.random.RandomState(2)
X = rng.rand(240, 3)
d = xgb.DMatrix(X, label=(X[:, 1] > 0.4).astype(int))
r = xgb.cv({"max_depth": 2, "objective": "binary:logistic", "nthread": 1}, d, num_boost_round=5,
           nfold=4, seed=1, as_pandas=False)
json.dump(r, open("cv.json", "w"))
EOF
say "xgboost.cv: one trial, its mean and std per round"
tt_rc rc run --study cv --store "$DB" -- "$PY" cv.py >/dev/null 2>cv.err
expect_eq "$rc" 0 "cv.py exit code"
expect_eq "$(tail -n 1 cv.err)" "tunetrail: 1 trial (1 ok); adapters: xgboost 1" "summary line"
trials_json --study cv
tt show "$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["id"])' "$T/trials.json")" \
    --store "$DB" --json >show.json || fail "tunetrail show failed"
pycheck '
t = trials[0]
check(t["params"].get("xgboost.nfold") == "4" and t["params"].get("xgboost.num_boost_round") == "5", "nfold 4, num_boost_round 5")
want = json.load(open("cv.json"))
pts = {}
for p in json.load(open("show.json"))["metric_points"]:
    pts.setdefault(p["name"], []).append(p)
ok = sorted(pts) == sorted(want) and all(
    [q["step"] for q in pts[n]] == list(range(5)) and
    all(abs(q["value"] - v) <= 1e-13 * max(1.0, abs(v)) for q, v in zip(pts[n], want[n])) for n in want)
check(ok, "every column of the result, per round (%s)" % sorted(pts))
d = {n: (pts[n][0]["split"], pts[n][0]["direction"]) for n in pts}
check(d == {"train-logloss-mean": ("train", "min"), "train-logloss-std": ("train", None),
            "test-logloss-mean": ("test", "min"), "test-logloss-std": ("test", None)}, "splits and directions")
'
echo "[$TT_NAME] PASS"
