#!/usr/bin/env bash
# bench_python.sh - what the Python hook adds to the start of a Python
# process that imports no framework (`/usr/bin/python3 -c pass`). Starts it
# N times per round with shim_spawn.c (vfork + execve), ROUNDS rounds, the
# variants alternating inside every round, the median round per variant:
#   bare    no preload, no hook
#   shim    the shim under `tunetrail run`, talking to the live agent, without
#           the hook on PYTHONPATH (what TUNETRAIL_PYTHON=0 gives)
#   hook    the same with the hook, as `tunetrail run` starts Python
# All three run in one harness process under `tunetrail run`, so they share
# one run. Prints ms per process bare, and ms added by the shim and by the
# hook over the shim (aim <= 5 ms). Where the time goes:
#   PYTHONPATH=build/lib/tunetrail/python /usr/bin/python3 -X importtime -c pass
#   env: TT_BIN (default build/bin), TT_SHIM (default $TT_BIN/../lib/libtunetrail.so),
#        PY (default /usr/bin/python3), N (default 40), ROUNDS (default 7), CC (default cc)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
TT_BIN=$(realpath "${TT_BIN:-$SRC/build/bin}")
TT_SHIM=${TT_SHIM:-$(cd "$TT_BIN/../lib" 2>/dev/null && pwd)/libtunetrail.so}
PY=${PY:-/usr/bin/python3}
N=${N:-40}
ROUNDS=${ROUNDS:-7}
CC=${CC:-cc}
[ -x "$TT_BIN/tunetrail" ] || { echo "bench_python: no $TT_BIN/tunetrail (set TT_BIN)" >&2; exit 1; }
[ -f "$TT_SHIM" ] || { echo "bench_python: no $TT_SHIM (set TT_SHIM)" >&2; exit 1; }
[ -f "$(dirname "$TT_SHIM")/tunetrail/python/sitecustomize.py" ] ||
    { echo "bench_python: no Python hook beside $TT_SHIM (build the tunetrail_python target)" >&2; exit 1; }
[ -x "$PY" ] || { echo "bench_python: no $PY" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
unset TUNETRAIL_COLLECTOR TUNETRAIL_STORE TUNETRAIL_PYTHON LD_PRELOAD PYTHONPATH
export TUNETRAIL_HOME=$T/home

"$CC" -O2 -o "$T/shim_spawn" "$SRC/bench/shim_spawn.c"
out=$(TUNETRAIL_SHIM="$TT_SHIM" timeout 1200 "$TT_BIN/tunetrail" run --study bench --store "$T/trail.db" -- \
    "$T/shim_spawn" "$N" "$ROUNDS" "$PY" -c pass -- \
    bare - \
    shim inherit,PYTHONPATH,TUNETRAIL_PYTHON \
    hook inherit)
# A figure a loaded machine disturbs less: what the hook adds to the
# sitecustomize step as python -X importtime reports it (its cumulative
# time with the hook, which then chains Debian's, minus without), medians
# of 21 alternating runs.
HOOK_DIR=$(dirname "$TT_SHIM")/tunetrail/python
sc() { "$@" -X importtime -c pass 2>&1 >/dev/null | awk -F'[:|]' '$4 ~ /^ *sitecustomize$/ { s = $3 } END { print s + 0 }'; }
for i in $(seq 21); do
    echo "$(sc "$PY") $(PYTHONPATH=$HOOK_DIR sc "$PY")"
done >"$T/importtime"
python3 - "$N" "$PY" "$out" "$T/importtime" <<'PY'
import statistics, sys
n, py = int(sys.argv[1]), sys.argv[2]
ms = {k: int(v) / 1e6 for k, v in (l.split() for l in sys.argv[3].splitlines())}
rows = [l.split() for l in open(sys.argv[4]) if l.strip()]
imp = (statistics.median(float(r[1]) for r in rows) - statistics.median(float(r[0]) for r in rows)) / 1000
print("bench_python: %s -c pass x%d: bare %.2f ms; shim without the hook %+.2f ms; shim with the hook "
      "%+.2f ms; the hook over the shim %+.2f ms (aim <= 5 ms); the hook's imports %.2f ms "
      "(-X importtime: its sitecustomize step over Debian's alone)"
      % (py, n, ms["bare"], ms["shim"] - ms["bare"], ms["hook"] - ms["bare"], ms["hook"] - ms["shim"], imp))
PY
