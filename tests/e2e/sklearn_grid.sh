#!/usr/bin/env bash
# sklearn_grid.sh - a scikit-learn GridSearchCV, unmodified, under
# `tunetrail run`: an SVC over C x gamma (3 x 4, 5-fold) on load_iris. Each
# of the 12 candidates is one trial (its sklearn params, one
# split_test_score point per fold, mean_test_score) equal to the cv_results_
# the script writes, and the refit of best_estimator_ is one more (no score).
# n_jobs=1 and n_jobs=2 (loky workers in other processes) give the same
# trials, each once, all in the script's process. Then the refit model,
# written with joblib.dump, attested: the record's N is the 12 candidates,
# the released model is the refit of the best candidate's trial.
source "$(dirname "$0")/lib/common.sh"
PY=/usr/bin/python3
need_exe "$PY" "$TT_BIN/tunetrail"
need_py sklearn
cd "$T"

cat >search.py <<'EOF'
import json, sys, joblib
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV
from sklearn.svm import SVC
X, y = load_iris(return_X_y=True)
g = GridSearchCV(SVC(), {"C": [0.1, 1, 10], "gamma": [0.01, 0.1, 1, "scale"]}, cv=5,
                 n_jobs=int(sys.argv[1])).fit(X, y)
r = g.cv_results_
text = lambda v: v if isinstance(v, str) else repr(v)
json.dump({"params": [{k: text(v) for k, v in p.items()} for p in r["params"]],
           "mean": [float(v) for v in r["mean_test_score"]],
           "folds": [[float(r["split%d_test_score" % k][i]) for k in range(5)] for i in range(len(r["params"]))],
           "best": int(g.best_index_)}, open(sys.argv[2], "w"))
joblib.dump(g.best_estimator_, "best.joblib")
EOF

for nj in 1 2; do
    say "GridSearchCV n_jobs=$nj: 12 candidate trials and the refit, equal to cv_results_"
    tt_rc rc run --study "grid$nj" --store "$DB" -- "$PY" search.py "$nj" "cv$nj.json" >/dev/null 2>run.err
    expect_eq "$rc" 0 "search.py n_jobs=$nj exit code"
    expect_eq "$(tail -n 1 run.err)" "tunetrail: 13 trials (13 ok); adapters: sklearn 13" "summary"
    trials_json --study "grid$nj"
    cp "$T/trials.json" "$T/trials$nj.json"
    pycheck "
import os
cv = json.load(open(args[0]))
cands = [t for t in trials if 'mean_test_score' in t['metrics']]
refit = [t for t in trials if 'mean_test_score' not in t['metrics']]
check(len(cands) == 12 and len(refit) == 1, '12 candidates and one refit (got %d, %d)' % (len(cands), len(refit)))
check(all(t['framework'] == 'sklearn' and t['argv'][1:3] == ['search.py', args[1]] for t in trials),
      'every trial is sklearn, in search.py itself (no loky worker)')
got = sorted((t['params']['C'], t['params']['gamma'], t['metrics']['mean_test_score']) for t in cands)
want = sorted((p['C'], p['gamma'], m) for p, m in zip(cv['params'], cv['mean']))
check([g[:2] for g in got] == [w[:2] for w in want], 'params C, gamma of each candidate, once: %s' % [g[:2] for g in got])
check(all(abs(g[2] - w[2]) < 1e-12 for g, w in zip(got, want)), 'mean_test_score == cv_results_ mean_test_score')
check(all(t['params']['sklearn.n_splits'] == '5' and t['params']['kernel'] == 'rbf' for t in cands),
      'sklearn.n_splits = 5 and the untuned params (kernel = rbf) on each candidate')
b = cv['params'][cv['best']]
check((refit[0]['params']['C'], refit[0]['params']['gamma']) == (b['C'], b['gamma']),
      'the refit has the best candidate params (%s)' % b)
check(refit[0]['params'].get('sklearn.model_file') == os.path.abspath('best.joblib'),
      'the joblib dump is the refit trial model_file')
" "cv$nj.json" "$nj"
done

say "n_jobs=1 and n_jobs=2 give the same trials"
pycheck "
def load(f):
    ts = [json.loads(l) for l in open(f) if l.strip()]
    return sorted((t['params']['C'], t['params']['gamma'], round(t['metrics'].get('mean_test_score', -1), 12)) for t in ts)
check(load(args[0]) == load(args[1]), 'same (C, gamma, mean) trials')
" "$T/trials1.json" "$T/trials2.json"

say "each fold is a step of split_test_score"
id=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    t = json.loads(l)
    if t["params"]["C"] == "10" and t["params"]["gamma"] == "1":
        print(t["id"])' "$T/trials2.json")
tt show --store "$DB" --json "$id" >show.json || fail "show $id failed"
python3 - show.json cv2.json <<'PY' || fail "fold steps"
import json, sys
show, cv = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
i = [n for n, p in enumerate(cv["params"]) if p["C"] == "10" and p["gamma"] == "1"][0]
pts = sorted((p["step"], p["value"]) for p in show["metric_points"] if p["name"] == "split_test_score")
assert [s for s, _ in pts] == [0, 1, 2, 3, 4], pts
assert all(abs(v - w) < 1e-12 for (_, v), w in zip(pts, cv["folds"][i])), (pts, cv["folds"][i])
mean = [p for p in show["metric_points"] if p["name"] == "mean_test_score"][0]
assert mean["split"] == "valid" and mean["direction"] == "max", mean
print("[sklearn_grid]   ok: folds 0..4 = cv_results_ split<k>_test_score; mean valid/max")
PY

say "attest the refit model: N = 12 candidates, released = refit of the best candidate"
tt keygen -o "$T/keys" >/dev/null || fail "keygen failed"
tt attest best.joblib --study grid2 --store "$DB" --key "$T/keys/tunetrail.key" -o rec.json >attest.out ||
    fail "attest failed: $(cat attest.out)"
cat attest.out
python3 - rec.json cv2.json "$T/trials2.json" <<'PY' || fail "record content"
import base64, json, sys
p = json.loads(base64.b64decode(json.load(open(sys.argv[1]))["payload"]))["predicate"]
cv = json.load(open(sys.argv[2]))
trials = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
def check(c, m):
    if not c:
        print("[sklearn_grid] FAIL: " + m, file=sys.stderr); sys.exit(1)
    print("[sklearn_grid]   ok: " + m)
sel = p["selection"]
check(sel["objective"]["name"] == "mean_test_score" and sel["objective"]["direction"] == "max",
      "objective mean_test_score (max) by default")
check(sel["n"] == 12, "N = 12 candidates (got %s)" % sel["n"])
check(p["search"]["trials"] == 13, "13 trials counted (12 candidates and the refit)")
r = sel["released"]
check(r["from"] == "refit_of" and r["rank"] == 1 and r["of"] == 12, "released: refit_of, rank 1 of 12 (%s)" % r)
check(abs(r["value"] - max(cv["mean"])) < 1e-12, "released value = best_score_")
b = cv["params"][cv["best"]]
best = [t["uuid"] for t in trials if "mean_test_score" in t["metrics"]
        and (t["params"]["C"], t["params"]["gamma"]) == (b["C"], b["gamma"])]
check(p["producedBy"]["refit_of"]["trials"] == best, "the refit's search trial is the best candidate's")
check(p["search"]["kind"]["kind"] == "grid", "the search is a grid (%s)" % p["search"]["kind"])
PY
echo "[$TT_NAME] PASS"
