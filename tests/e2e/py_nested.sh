#!/usr/bin/env bash
# py_nested.sh - one configuration, one trial, when frameworks nest: an
# XGBClassifier searched by scikit-learn's GridSearchCV (2 candidates, 3-fold)
# is 2 candidate trials and the refit, all scikit-learn's, with n_jobs=1 and
# with n_jobs=2 (loky workers): no XGBoost trial per fold fit, in the script's
# process or in a worker. The same XGBClassifier fitted on its own is one
# XGBoost trial (py_xgboost.sh checks its content).
source "$(dirname "$0")/lib/common.sh"
PY=/usr/bin/python3
need_exe "$PY" "$TT_BIN/tunetrail"
need_py sklearn xgboost
cd "$T"
cat >search.py <<'PYEOF'
import sys
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV
from xgboost import XGBClassifier
X, y = load_breast_cancer(return_X_y=True)
est = XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1, verbosity=0)
if sys.argv[1] == "plain":
    est.fit(X, y)
else:
    GridSearchCV(est, {"learning_rate": [0.1, 0.3]}, cv=3, n_jobs=int(sys.argv[1])).fit(X, y)
PYEOF
for nj in 1 2; do
    say "GridSearchCV(XGBClassifier) n_jobs=$nj: 2 candidates and the refit, nothing per fold"
    tt_rc rc run --study "nest$nj" --store "$DB" -- "$PY" search.py "$nj" 2>run.err
    expect_eq "$rc" 0 "search.py n_jobs=$nj exit code"
    expect_eq "$(tail -n 1 run.err)" "tunetrail: 3 trials (3 ok); adapters: sklearn 3" "summary line (n_jobs=$nj)"
    trials_json --study "nest$nj"
    pycheck '
fw = sorted(t["framework"] for t in trials)
check(fw == ["sklearn"] * 3, "three sklearn trials, no xgboost one (got %s)" % fw)
' 
done
say "the same XGBClassifier fitted on its own: one XGBoost trial"
tt_rc rc run --study plain --store "$DB" -- "$PY" search.py plain 2>run.err
expect_eq "$rc" 0 "search.py plain exit code"
expect_eq "$(tail -n 1 run.err)" "tunetrail: 1 trial (1 ok); adapters: xgboost 1" "summary line (plain fit)"
echo "[$TT_NAME] PASS"
