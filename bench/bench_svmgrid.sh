#!/usr/bin/env bash
# bench_svmgrid.sh - a whole search driver, bare vs recorded: Debian's
# svm-grid (110 svm-train runs through python and sh) on heart_scale, bare vs
# under `tunetrail run --trial svm-train` (embedded store, fresh per run).
# Runs alternate; the median of RUNS (default 3, minimum 3) each is taken.
# Prints one summary line with both times and the ratio (budget <= 1.01),
# and the same for CPU time.
# Then the record of that search: the README's refit (svm-train -c 2048
# -g 0.0001220703125) is recorded into the last wrapped run's store and
# attested; attest's time (median of RUNS) is printed against `tunetrail
# trials --json` on the same store (the CLI's start plus reading the same 111
# trials: the floor of any command that reads the study).
#   env: TT_BIN (default build/bin), RUNS
set -euo pipefail
shopt -s inherit_errexit # a failed run inside $(one ...) must stop the benchmark
SRC=$(cd "$(dirname "$0")/.." && pwd)
TT_BIN=$(realpath "${TT_BIN:-$SRC/build/bin}")
RUNS=${RUNS:-3}
[ "$RUNS" -ge 3 ] || RUNS=3
[ -x "$TT_BIN/tunetrail" ] || { echo "bench_svmgrid: no $TT_BIN/tunetrail (set TT_BIN)" >&2; exit 1; }
DATA=/usr/share/doc/liblinear-tools/examples/heart_scale
[ -s "$DATA" ] || { echo "bench_svmgrid: $DATA missing (apt-get install liblinear-tools)" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export TUNETRAIL_HOME=$T/home
unset TUNETRAIL_COLLECTOR TUNETRAIL_STORE LD_PRELOAD
cp "$DATA" "$T/heart_scale"
cd "$T"
GRID=(svm-grid -svmtrain /usr/bin/svm-train -gnuplot null -out null heart_scale)

# one MODE I - prints the wall time of one run in ns, then the CPU time of
# everything it ran (user and system, as bash's `times` gives them for the
# children it waited for: svm-grid and its processes; tunetrail, its agent
# and store, and the same processes). On a loaded machine wall time varies
# by more than the difference measured; CPU time does not.
one() {
    local t0 t1 cpu
    t0=$(date +%s%N)
    cpu=$(
        if [ "$1" = bare ]; then
            timeout 600 "${GRID[@]}" >/dev/null
        else
            timeout 600 "$TT_BIN/tunetrail" run --study bench --trial svm-train --store "$T/run$2.db" \
                -- "${GRID[@]}" >/dev/null 2>"$T/wrapped.err" || { cat "$T/wrapped.err" >&2; exit 1; }
        fi
        times # not in a pipe: a pipe's subshell has no children
    )
    t1=$(date +%s%N)
    cpu=${cpu##*$'\n'} # the second line: the children's
    echo "$((t1 - t0)):${cpu// /:}"
}

one bare 0 >/dev/null # warm the page cache
bare=() wrapped=()
for i in $(seq "$RUNS"); do
    bare+=("$(one bare "$i")")
    wrapped+=("$(one wrapped "$i")")
done
# A wrapped run that recorded nothing would time nothing: check the last one.
n=$("$TT_BIN/tunetrail" trials --study bench --store "$T/run$RUNS.db" --json | wc -l)
[ "$n" -eq 110 ] || { echo "bench_svmgrid: the wrapped run recorded $n trials, not 110" >&2; exit 1; }
python3 - "${bare[*]}" "${wrapped[*]}" <<'PY'
import re, statistics, sys
def secs(t):  # bash's times: 1m2.345s
    m = re.fullmatch(r"(\d+)m([\d.]+)s", t)
    return int(m.group(1)) * 60 + float(m.group(2))
def runs(arg):
    rows = [r.split(":") for r in arg.split()]
    return ([int(r[0]) / 1e9 for r in rows], [secs(r[1]) + secs(r[2]) for r in rows])
(bw, bc), (ww, wc) = runs(sys.argv[1]), runs(sys.argv[2])
bare, wrapped = statistics.median(bw), statistics.median(ww)
r = wrapped / bare
bcpu, wcpu = statistics.median(bc), statistics.median(wc)
print("bench_svmgrid: svm-grid heart_scale (110 trials): bare %.3f s, wrapped %.3f s, ratio %.3f "
      "(budget 1.01: %s); CPU time bare %.3f s, wrapped %.3f s, ratio %.3f"
      % (bare, wrapped, r, "ok" if r <= 1.01 else "OVER", bcpu, wcpu, wcpu / bcpu))
PY

DB=$T/run$RUNS.db
"$TT_BIN/tunetrail" run --study bench --store "$DB" -- \
    svm-train -c 2048 -g 0.0001220703125 heart_scale heart.model >/dev/null 2>&1
"$TT_BIN/tunetrail" keygen >/dev/null
# ms MODE - wall time in ms of one attest (MODE a) or one trials --json (MODE t).
ms() {
    local t0 t1
    t0=$(date +%s%N)
    if [ "$1" = a ]; then
        "$TT_BIN/tunetrail" attest heart.model --store "$DB" -o rec.json >/dev/null
    else
        "$TT_BIN/tunetrail" trials --study bench --store "$DB" --json >/dev/null
    fi
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000))
}
att=() base=()
for i in $(seq "$RUNS"); do
    base+=("$(ms t)")
    att+=("$(ms a)")
done
"$TT_BIN/tunetrail" verify rec.json heart.model >/dev/null ||
    { echo "bench_svmgrid: the record does not verify" >&2; exit 1; }
python3 - "${base[*]}" "${att[*]}" "$(stat -c %s rec.json)" <<'PY'
import statistics, sys
base = statistics.median(map(int, sys.argv[1].split())) / 1e3
att = statistics.median(map(int, sys.argv[2].split())) / 1e3
print("bench_svmgrid: attest of the 111-trial study: %.1f ms, %.2fx `trials --json` (%.1f ms); "
      "record %d bytes" % (att, att / base, base, int(sys.argv[3])))
PY
