#!/usr/bin/env bash
# bench_selbias_attest.sh - what the selection-bias statistics (issue 13) cost
# attest and the record, same run:
#   1. a synthetic study of N trials (default 1000) whose CVs kept M examples'
#      out-of-fold predictions (default 10,000; 5 shared folds), against the
#      same study generated without predictions (the baseline): attest time
#      (best of ROUNDS), its two new phases, record bytes added per trial;
#   2. svm-grid on heart_scale (110 trials of 270 examples) and its refit,
#      recorded for real: attest time, the new phases, bytes per trial.
#   env: TT_BUILD (default build), N, M, ROUNDS
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
TT_BUILD=$(realpath "${TT_BUILD:-$SRC/build}")
TT=$TT_BUILD/bin/tunetrail GEN=$TT_BUILD/bench/bench_study
N=${N:-1000} M=${M:-10000} ROUNDS=${ROUNDS:-3}
for x in "$TT" "$GEN"; do [ -x "$x" ] || { echo "bench_selbias_attest: no $x (build first)" >&2; exit 1; }; done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export TUNETRAIL_HOME=$T/home
unset TUNETRAIL_COLLECTOR TUNETRAIL_STORE TUNETRAIL_STUDY LD_PRELOAD
cd "$T"
"$TT" keygen >/dev/null

ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }
best() { local b=999999999 i t; for ((i = 0; i < ROUNDS; i++)); do t=$(ms "$@"); ((t < b)) && b=$t; done; echo "$b"; }
phase() { TUNETRAIL_TIMING=1 "$TT" attest "$1" --store "$2" -o "$T/phase.rec" 2>&1 >/dev/null |
    awk -v p="$3" 'index($0, p) { printf "%d", $(NF - 1) * 1000 }'; }

"$GEN" -o p.db -m "$T/p.model" -n "$N" -p "$M" 2>/dev/null
"$GEN" -o b.db -m "$T/b.model" -n "$N" 2>/dev/null
with=$(best "$TT" attest p.model --store p.db -o p.rec)
base=$(best "$TT" attest b.model --store b.db -o b.rec)
rp=$(phase p.model p.db "out-of-fold predictions") sb=$(phase p.model p.db "compute: selection bias")
added=$(( ($(stat -c %s p.rec) - $(stat -c %s b.rec)) / N ))
echo "synthetic $N trials x $M examples, B = 1000: attest ${with} ms, baseline (same study without predictions) ${base} ms, ratio $(awk -v a="$with" -v b="$base" 'BEGIN { printf "%.2f", b ? a / b : 0 }'); reading the predictions ${rp} ms, the statistics ${sb} ms; record +${added} bytes per trial ($(( $(stat -c %s p.rec) / 1000 )) kB in all)"

if command -v svm-grid >/dev/null && command -v svm-train >/dev/null; then
    cp /usr/share/doc/liblinear-tools/examples/heart_scale .
    "$TT" run --study heart --store g.db -- svm-grid -svmtrain /usr/bin/svm-train -gnuplot null -out null heart_scale >grid.out 2>/dev/null
    read -r c g _ < <(tail -n 1 grid.out)
    "$TT" run --study heart --store g.db -- svm-train -c "$c" -g "$g" heart_scale heart.model >/dev/null 2>&1
    gw=$(best "$TT" attest heart.model --store g.db -o g.rec)
    grp=$(phase heart.model g.db "out-of-fold predictions") gsb=$(phase heart.model g.db "compute: selection bias")
    pbytes=$(/usr/bin/python3 -c '
import base64, json, sys
st = json.loads(base64.b64decode(json.load(open(sys.argv[1]))["payload"]))
p = st["predicate"]
print(len(json.dumps(p.get("predictions", []), separators=(",", ":"))) // max(1, len(p.get("predictions", []))),
      len(json.dumps(p["selection"]["selection_bias"], separators=(",", ":"))))' g.rec)
    read -r per sel <<<"$pbytes"
    echo "svm-grid heart_scale (110 trials x 270 examples): attest ${gw} ms, of which reading the predictions ${grp} ms and the statistics ${gsb} ms (share $(awk -v a=$((grp + gsb)) -v b="$gw" 'BEGIN { printf "%.2f", b ? a / b : 0 }')); record $(( $(stat -c %s g.rec) / 1000 )) kB, predictions ${per} bytes per trial, the statistics ${sel} bytes"
else
    echo "svm-grid: skipped (libsvm-tools not installed)"
fi
