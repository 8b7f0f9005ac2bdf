#!/usr/bin/env bash
# py_optuna.sh - the Python hook on Optuna (docs/ADAPTERS.md "Optuna
# (Python)"), with Debian's /usr/bin/python3 and python3-optuna, no --trial:
# a study of 20 trials with a median pruner and one objective raising
# ValueError (caught by optimize's catch=) is 20 tunetrail trials, each with
# the params Optuna suggested, its state (complete and pruned: ok, with
# optuna.state; fail: failed, with the objective's error), its value with the
# study's direction and its trial.report values as steps; an attested file
# written after the study counts all 20 with `value` as the objective.
# XGBoost trained inside an objective, with n_jobs=2 (threads), is part of
# its Optuna trial: one trial per Optuna trial, not two. An exception that
# optimize does not catch stops the study as without tunetrail, its trial
# failed.
source "$(dirname "$0")/lib/common.sh"
PY=/usr/bin/python3
need_exe "$PY" "$TT_BIN/tunetrail"
need_py optuna
cd "$T"

cat >study.py <<'EOF'
import json
import optuna

def objective(trial):
    x = trial.suggest_float("x", -4.0, 4.0)
    kind = trial.suggest_categorical("kind", ["lin", "sq"])
    width = trial.suggest_int("width", 1, 8)
    if trial.number == 7:
        raise ValueError("width %d is not supported" % width)
    v = 0.0
    for step in range(6):
        v = (x - 1) ** 2 + (abs(x) if kind == "lin" else 0.5) + (6 - step) / width
        trial.report(v, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return v

optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(direction="minimize", sampler=optuna.samplers.RandomSampler(seed=4),
                            pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1))
study.optimize(objective, n_trials=20, catch=(ValueError,))
json.dump([{"number": t.number, "state": t.state.name, "params": t.params, "value": t.value,
            "intermediate": {str(k): v for k, v in t.intermediate_values.items()}}
           for t in study.trials], open("truth.json", "w"))
json.dump(study.best_params, open("best.json", "w"))
EOF

say "an Optuna study of 20 trials, some pruned, one failing"
tt_rc rc run --study opt --store "$DB" -- "$PY" study.py >study.out 2>study.err
expect_eq "$rc" 0 "study.py exit code"
trials_json --study opt
for id in $(python3 -c 'import json,sys; print(" ".join(str(json.loads(l)["id"]) for l in open(sys.argv[1])))' trials.json); do
    tt show "$id" --store "$DB" --json >"show.$id.json" || fail "tunetrail show $id failed"
done
pycheck '
truth = {t["number"]: t for t in json.load(open("truth.json"))}
states = sorted(t["state"] for t in truth.values())
check(states.count("PRUNED") >= 2 and states.count("FAIL") == 1 and states.count("COMPLETE") >= 2,
      "the study pruned some trials and failed one (%s)" % {s: states.count(s) for s in set(states)})
check(len(trials) == 20 and all(t["framework"] == "optuna" for t in trials), "20 optuna trials (got %d)" % len(trials))
by_num = {int(t["params"]["optuna.number"]): t for t in trials}
check(sorted(by_num) == list(range(20)), "each Optuna trial number once")
def close(a, b):
    return abs(a - b) <= 1e-12 * max(1.0, abs(b))
bad = []
for n, want in truth.items():
    t = by_num[n]
    show = json.load(open("show.%d.json" % t["id"]))
    p = dict(t["params"])
    status = {"COMPLETE": "ok", "PRUNED": "ok", "FAIL": "failed"}[want["state"]]
    st = p.pop("optuna.state", None)
    if t["status"] != status or st != want["state"]:
        bad.append((n, "state", t["status"], st, want["state"]))
    p.pop("optuna.number")
    got = {"x": float(p.pop("x")), "kind": p.pop("kind"), "width": int(p.pop("width"))}
    if got != want["params"] or p:
        bad.append((n, "params", got, want["params"], p))
    if want["state"] != "COMPLETE":  # a pruned trial has Optuna value = its last report
        if "value" in t["metrics"]:
            bad.append((n, "a value", t["metrics"]))
    elif not close(t["metrics"].get("value", float("nan")), want["value"]):
        bad.append((n, "value", t["metrics"].get("value"), want["value"]))
    inter = [(q["step"], q["value"]) for q in show["metric_points"] if q["name"] == "intermediate_value"]
    wi = sorted((int(k), v) for k, v in want["intermediate"].items())
    if len(inter) != len(wi) or not all(a[0] == b[0] and close(a[1], b[1]) for a, b in zip(inter, wi)):
        bad.append((n, "intermediate", inter, wi))
    dirs = {q["name"]: (q["split"], q["direction"]) for q in show["metric_points"]}
    if dirs.get("value", (None, "min")) != (None, "min") or dirs.get("intermediate_value", (None, None)) != (None, None):
        bad.append((n, "directions", dirs))
    if want["state"] == "FAIL" and show["error"] != "ValueError: width %d is not supported" % want["params"]["width"]:
        bad.append((n, "error", show["error"]))
check(not bad, "every trial: status, optuna.state, params, value, intermediate values, error as Optuna has them (%s)" % bad[:3])
'

say "attest a file written after the study: all 20 counted, N the completed ones"
tt keygen -o keys >/dev/null || fail "keygen failed"
tt attest best.json --store "$DB" --key keys/tunetrail.key -o rec.json >/dev/null || fail "attest best.json failed"
pycheck '
import base64
truth = json.load(open("truth.json"))
p = json.loads(base64.b64decode(json.load(open("rec.json"))["payload"]))["predicate"]
s, sel = p["search"], p["selection"]
check(s["trials"] == 20 and s["by_status"] == {"ok": 19, "failed": 1}, "20 trials: 19 ok, 1 failed (%s)" % s["by_status"])
check(sel["objective"]["name"] == "value" and sel["objective"]["direction"] == "min", "objective: value (min) by default (%s)" % sel["objective"])
check(sel["n"] == sum(t["state"] == "COMPLETE" for t in truth), "N = the completed trials (%d)" % sel["n"])
'
cat >raises.py <<'EOF'
import optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
def objective(trial):
    x = trial.suggest_float("x", 0, 1)
    if trial.number == 2:
        raise RuntimeError("no luck at %.3f" % x)
    return x
optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1)).optimize(objective, n_trials=5)
EOF
say "an exception optimize does not catch: the study stops, its trial failed, output unchanged"
rc=0
"$PY" raises.py >bare.out 2>bare.err || rc=$?
expect_eq "$rc" 1 "raises.py exit code without tunetrail"
tt_rc rc run --study raises --store "$DB" -- "$PY" raises.py >raises.out 2>raises.err
expect_eq "$rc" 1 "raises.py exit code"
expect_eq "$(tail -n 1 raises.err)" "tunetrail: 3 trials (2 ok, 1 failed); adapters: optuna 3" "summary line"
tt_strip_summary raises.err
stamp='s/^\(.*\[W \)[0-9 :,-]*\]/\1]/'
cmp -s bare.out raises.out && diff <(sed "$stamp" bare.err) <(sed "$stamp" raises.err) >/dev/null ||
    fail "output differs with tunetrail (timestamps aside): $(diff <(sed "$stamp" bare.err) <(sed "$stamp" raises.err) | head -5)"
echo "[$TT_NAME]   ok: stdout and stderr (Optuna's timestamps aside) the same with and without tunetrail"
trials_json --study raises
pycheck '
f = [t for t in trials if t["status"] == "failed"]
check(len(f) == 1 and f[0]["params"]["optuna.number"] == "2" and f[0]["params"]["optuna.state"] == "FAIL", "trial 2 failed")
'

if ! "$PY" -c 'import xgboost' 2>/dev/null; then
    echo "[$TT_NAME] (XGBoost inside an objective not checked: $PY cannot import xgboost)"
    echo "[$TT_NAME] PASS"
    exit 0
fi
cat >nested.py <<'EOF'
import threading
import numpy as np, optuna, xgboost as xgb
optuna.logging.set_verbosity(optuna.logging.WARNING)
lock = threading.Lock()  # XGBoost 1.7 training on two threads at once crashes now and then (also bare)
rng = np.random.RandomState(0)
X = rng.rand(200, 4)
y = (X[:, 0] > 0.5).astype(int)
d, v = xgb.DMatrix(X[:150], label=y[:150]), xgb.DMatrix(X[150:], label=y[150:])
def objective(t):
    p = {"max_depth": t.suggest_int("max_depth", 1, 4), "eta": t.suggest_float("eta", 0.1, 0.5),
         "objective": "binary:logistic", "nthread": 1}
    r = {}
    with lock:
        xgb.train(p, d, 5, evals=[(v, "valid")], evals_result=r, verbose_eval=False)
    return r["valid"]["logloss"][-1]
optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).optimize(objective, n_trials=6, n_jobs=2)
EOF
say "XGBoost inside an Optuna objective, n_jobs=2: one trial per Optuna trial"
tt_rc rc run --study nested --store "$DB" -- "$PY" nested.py >/dev/null 2>nested.err
expect_eq "$rc" 0 "nested.py exit code"
expect_eq "$(tail -n 1 nested.err)" "tunetrail: 6 trials (6 ok); adapters: optuna 6" "summary line"
trials_json --study nested
pycheck '
check(len(trials) == 6 and all(t["framework"] == "optuna" for t in trials), "6 optuna trials, no xgboost trial")
ok = all(t["params"]["xgboost.max_depth"] == t["params"]["max_depth"] and t["params"]["xgboost.eta"] == t["params"]["eta"]
         and t["metrics"]["valid-logloss"] == t["metrics"]["value"] for t in trials)
check(ok, "each trial holds its own XGBoost training: xgboost.max_depth/eta = the suggested ones, valid-logloss = value")
'
echo "[$TT_NAME] PASS"
