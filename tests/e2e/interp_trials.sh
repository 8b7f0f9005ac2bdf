#!/usr/bin/env bash
# interp_trials.sh - `--trial` on interpreted programs. `--trial train.py`
# matches `/usr/bin/python3 train.py` by its script: one trial per run, its
# argparse namespace as params (not the interpreter's own -u -B), a run that
# fails on a bad flag value a failed trial with its argv flags. A scikit-learn search with
# n_jobs=2 (loky workers, joblib's and multiprocessing's resource trackers)
# under `--trial 'python3*'` or `--trial search.py` gives the Python hook's
# trials (3 candidates and the refit), all in search.py's process: no helper
# process is a trial. A pattern that matched nothing is said in the summary line.
source "$(dirname "$0")/lib/common.sh"
PY=/usr/bin/python3
need_exe "$PY" "$TT_BIN/tunetrail"
"$PY" -c 'import sklearn' 2>/dev/null || fail "$PY has no sklearn (install python3-sklearn)"
cd "$T"

cat >train.py <<'EOF'
import argparse
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, required=True)
p.add_argument("--depth", type=int, default=3)
a = p.parse_args()
print("val_loss %.4f" % (1.0 / (1 + a.lr * a.depth)))
EOF

say "--trial train.py: three runs, one failing on a bad --lr"
for args in "--lr 0.1 --depth 4" "--lr=0.5" "--lr notanumber"; do
    # shellcheck disable=SC2086 # the flags are meant to split
    tt_rc rc run --study argp --store "$DB" --trial train.py -- "$PY" -u -B train.py $args >/dev/null 2>run.err
    last=$(tail -n 1 run.err)
    case $args in
    *notanumber) expect_eq "$rc" 2 "exit code of train.py $args (argparse's)"
                 expect_eq "$last" "tunetrail: 1 trial (1 failed); no adapter opened a trial" "summary of $args" ;;
    *) expect_eq "$rc" 0 "exit code of train.py $args"
       expect_eq "$last" "tunetrail: 1 trial (1 ok); no adapter opened a trial" "summary of $args" ;;
    esac
done
trials_json --study argp
pycheck "
got = sorted((t['status'], tuple(sorted(t['params'].items()))) for t in trials)
# argparse's namespace (the Python hook) where the parse succeeded, defaults
# included; argv's flags where argparse refused them
want = sorted([('ok', (('depth', '4'), ('lr', '0.1'))), ('ok', (('depth', '3'), ('lr', '0.5'))),
               ('failed', (('lr', 'notanumber'),))])
check(got == want, 'three trials, the script flags as params, no -u/-B (got %s)' % got)
"

cat >search.py <<'EOF'
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV
from sklearn.svm import SVC
X, y = load_iris(return_X_y=True)
g = GridSearchCV(SVC(), {"C": [0.1, 1, 10]}, cv=3, n_jobs=2).fit(X, y)
print("best_score %.4f" % g.best_score_)
EOF

for pat in 'python3*' search.py; do
    say "scikit-learn with n_jobs=2 under --trial '$pat': the hook's trials, no helper"
    study=sk-${pat//[^a-z0-9]/}
    tt_rc rc run --study "$study" --store "$DB" --trial "$pat" -- "$PY" search.py >/dev/null 2>run.err
    expect_eq "$rc" 0 "search.py exit code"
    expect_eq "$(tail -n 1 run.err)" "tunetrail: 4 trials (4 ok); adapters: sklearn 4" "summary"
    trials_json --study "$study"
    tt processes --study "$study" --store "$DB" --json >procs.all || fail "tunetrail processes failed"
    pycheck "
argvs = [' '.join(json.loads(l).get('argv') or [])[:90] for l in open('procs.all') if l.strip()]
check(any('loky' in a for a in argvs), 'loky workers ran (%s)' % argvs)
check(any('resource_tracker' in a for a in argvs), 'a resource tracker ran')
check(len(trials) == 4, 'four trials (got %s)' % [t['argv'] for t in trials])
check(all(t['argv'][1:] == ['search.py'] for t in trials), 'each in search.py (%s)' % [t['argv'] for t in trials])
"
done

say "a pattern that matched nothing is said"
tt_rc rc run --study none --store "$DB" --trial xgb.py --trial search.py -- "$PY" search.py >/dev/null 2>run.err
expect_eq "$rc" 0 "search.py exit code"
expect_eq "$(tail -n 1 run.err)" \
    "tunetrail: 4 trials (4 ok); adapters: sklearn 4; --trial 'xgb.py' matched nothing" "summary"
echo "[$TT_NAME] PASS"
