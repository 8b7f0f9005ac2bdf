#!/usr/bin/env bash
# bench_sklearn.sh - what the scikit-learn hook adds to a search: a
# GridSearchCV of an SVC over C x gamma (3 x 4, 5-fold, n_jobs=1) on
# load_breast_cancer (~1 s of fits), three variants alternating in each round:
#   bare    /usr/bin/python3, no tunetrail
#   shim    under `tunetrail run` with TUNETRAIL_PYTHON=0 (the shim alone)
#   hook    under `tunetrail run` with the Python hook (12 candidate trials,
#           the refit's, every fit wrapped)
# The script times its own GridSearchCV.fit in CPU seconds (process_time:
# what the hook adds; wall time on a shared 2-core machine moves by 10-40 %
# with the agents and other users) and in wall seconds, and its sklearn
# import's CPU; the median of ROUNDS (default 5, minimum 3) per variant is
# taken, and for the fit's CPU also the least (the least disturbed run).
# Prints hook / bare (budget <= 1.05) and hook / shim (the hook's own share),
# then the fit wrapper's own costs (micro.py, one hooked process).
#   env: TT_BIN (default build/bin), ROUNDS, PY (default /usr/bin/python3)
set -euo pipefail
shopt -s inherit_errexit
SRC=$(cd "$(dirname "$0")/.." && pwd)
TT_BIN=$(realpath "${TT_BIN:-$SRC/build/bin}")
ROUNDS=${ROUNDS:-5}
[ "$ROUNDS" -ge 3 ] || ROUNDS=3
PY=${PY:-/usr/bin/python3}
[ -x "$TT_BIN/tunetrail" ] || { echo "bench_sklearn: no $TT_BIN/tunetrail (set TT_BIN)" >&2; exit 1; }
"$PY" -c 'import sklearn' 2>/dev/null || { echo "bench_sklearn: $PY has no sklearn (apt-get install python3-sklearn)" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export TUNETRAIL_HOME=$T/home
unset TUNETRAIL_COLLECTOR TUNETRAIL_STORE TUNETRAIL_PYTHON LD_PRELOAD
cd "$T"
cat >search.py <<'EOF'
import time
t0 = time.process_time()
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV
from sklearn.svm import SVC
imp = time.process_time() - t0
X, y = load_breast_cancer(return_X_y=True)
g = GridSearchCV(SVC(), {"C": [0.1, 1, 10], "gamma": [1e-4, 1e-3, 1e-2, "scale"]}, cv=5, n_jobs=1)
c0, t0 = time.process_time(), time.perf_counter()
g.fit(X, y)
print("%.6f %.6f %.6f" % (time.perf_counter() - t0, time.process_time() - c0, imp))
EOF
# The wrapper's own costs, in one hooked process: a fit nested in another
# wrapped fit (the common case: folds, pipeline steps, ensemble members), a
# top-level fit of a transformer (no trial) and of a predictor (a trial).
cat >micro.py <<'EOF'
import time
from sklearn.base import BaseEstimator, ClassifierMixin
class Nop(BaseEstimator):
    def fit(self, X=None, y=None):
        return self
class Outer(BaseEstimator):
    def fit(self, X=None, y=None, n=0):
        f = Nop().fit
        for _ in range(n):
            f()
        return self
class NopClf(ClassifierMixin, BaseEstimator):
    def __init__(self, a=1, b="x"):
        self.a, self.b = a, b
    def fit(self, X=None, y=None):
        return self
def per_call(fn, n):
    t0 = time.perf_counter()
    fn(n)
    return (time.perf_counter() - t0) / n * 1e9
def loop(f):
    def run(n):
        for _ in range(n):
            f()
    return run
N = 200000
nop = Nop()
raw = Nop.fit.__wrapped__
base = min(per_call(loop(lambda: raw(nop)), N) for _ in range(3))
nested = min(per_call(lambda n: Outer().fit(n=n), N) for _ in range(3))
top = min(per_call(loop(nop.fit), N // 10) for _ in range(3))
trial = per_call(loop(lambda: NopClf().fit()), 200)
print("%.0f %.0f %.0f %.0f" % (nested - base, top - base, trial - base, base))
EOF

# one VARIANT I - prints "<fit wall s> <fit cpu s> <import s> <process wall ns>" of one run.
one() {
    local t0 t1 out
    t0=$(date +%s%N)
    case $1 in
    bare) out=$(timeout 600 "$PY" search.py) ;;
    shim) out=$(TUNETRAIL_PYTHON=0 timeout 600 "$TT_BIN/tunetrail" run --study b --store "$T/s$2.db" \
                -- "$PY" search.py 2>"$T/err") || { cat "$T/err" >&2; exit 1; } ;;
    hook) out=$(timeout 600 "$TT_BIN/tunetrail" run --study b --store "$T/h$2.db" \
                -- "$PY" search.py 2>"$T/err") || { cat "$T/err" >&2; exit 1; }
          tail -n 1 "$T/err" | grep -q "13 trials (13 ok); adapters: sklearn 13" ||
              { echo "bench_sklearn: the hooked run did not record 13 trials: $(tail -n 1 "$T/err")" >&2; exit 1; } ;;
    esac
    t1=$(date +%s%N)
    echo "$out $((t1 - t0))"
}

for ((i = 0; i < ROUNDS; i++)); do
    for v in bare shim hook; do
        echo "$v $(one "$v" "$i")" >>"$T/times"
    done
done
micro=$(timeout 600 "$TT_BIN/tunetrail" run --study m --store "$T/m.db" -- "$PY" micro.py 2>"$T/err") ||
    { cat "$T/err" >&2; exit 1; }
"$PY" - "$T/times" "$ROUNDS" "$micro" <<'PY'
import statistics, sys
cols = {}
for line in open(sys.argv[1]):
    v, *xs = line.split()
    for name, x in zip(("fit", "cpu", "imp", "wall"), xs):
        cols.setdefault(name, {}).setdefault(v, []).append(float(x) / (1e9 if name == "wall" else 1))
m = {c: {v: statistics.median(x) for v, x in d.items()} for c, d in cols.items()}
r = lambda c, a, b: m[c][a] / m[c][b]
print("bench_sklearn: GridSearchCV(SVC, 3x4, cv=5) on breast_cancer, medians of %s rounds (bare / shim / hook):"
      % sys.argv[2])
lo = {v: min(x) for v, x in cols["cpu"].items()}
print("  fit CPU %.3f / %.3f / %.3f s: hook/bare %.3f (budget 1.05), hook/shim %.3f; least of each: "
      "hook/bare %.3f, hook/shim %.3f"
      % (m["cpu"]["bare"], m["cpu"]["shim"], m["cpu"]["hook"], r("cpu", "hook", "bare"), r("cpu", "hook", "shim"),
         lo["hook"] / lo["bare"], lo["hook"] / lo["shim"]))
print("  fit wall %.3f / %.3f / %.3f s: hook/bare %.3f, hook/shim %.3f"
      % (m["fit"]["bare"], m["fit"]["shim"], m["fit"]["hook"], r("fit", "hook", "bare"), r("fit", "hook", "shim")))
print("  sklearn import CPU %.0f / %.0f / %.0f ms; process wall %.2f / %.2f / %.2f s (the agent storing the "
      "trials included)" % (1e3 * m["imp"]["bare"], 1e3 * m["imp"]["shim"], 1e3 * m["imp"]["hook"],
                            m["wall"]["bare"], m["wall"]["shim"], m["wall"]["hook"]))
nested, top, trial, base = (float(x) for x in sys.argv[3].split())
print("  fit wrapper: %+.0f ns a nested fit, %+.0f ns a top-level fit without a trial, %+.1f us a fit "
      "that is a trial (a bare fit call: %.0f ns)" % (nested, top, trial / 1e3, base))
PY
