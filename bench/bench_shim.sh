#!/usr/bin/env bash
# bench_shim.sh - what the shim adds to a process that does not train:
# `/bin/true` 500 times in a bash loop, bare (`bash -c LOOP`) vs recorded
# (`tunetrail run -- bash -c LOOP`: the shim in bash and in every /bin/true,
# talking to a live agent that stores every process). Runs alternate, the
# median of RUNS (default 5) each is taken. Prints one summary line: added
# ms per process (budget <= 0.1 ms) and the wrapped/bare ratio.
#   env: TT_BIN (default build/bin), RUNS, N (default 500)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
TT_BIN=${TT_BIN:-$SRC/build/bin}
RUNS=${RUNS:-5}
N=${N:-500}
[ -x "$TT_BIN/tunetrail" ] || { echo "bench_shim: no $TT_BIN/tunetrail (set TT_BIN)" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export TUNETRAIL_HOME=$T/home
unset TUNETRAIL_COLLECTOR TUNETRAIL_STORE LD_PRELOAD
LOOP="for i in \$(seq $N); do /bin/true; done"

# now_ns - monotonic-enough wall clock in ns.
now_ns() { date +%s%N; }

# one MODE - prints the wall time of one run in ns.
one() {
    local t0 t1
    t0=$(now_ns)
    if [ "$1" = bare ]; then
        bash -c "$LOOP"
    else
        timeout 600 "$TT_BIN/tunetrail" run --study bench --store "$T/trail.db" -- bash -c "$LOOP"
    fi
    t1=$(now_ns)
    echo $((t1 - t0))
}

one bare >/dev/null # warm the page cache
one shim >/dev/null
bare=() shim=()
for _ in $(seq "$RUNS"); do
    bare+=("$(one bare)")
    shim+=("$(one shim)")
done
python3 - "$N" "${bare[*]}" "${shim[*]}" <<'PY'
import statistics, sys
n = int(sys.argv[1])
bare = statistics.median(map(int, sys.argv[2].split())) / 1e6
shim = statistics.median(map(int, sys.argv[3].split())) / 1e6
added = (shim - bare) / n
print("bench_shim: /bin/true x%d: bare %.1f ms, shim %.1f ms, added %.3f ms/process "
      "(budget 0.1), ratio %.3f" % (n, bare, shim, added, shim / bare))
PY
