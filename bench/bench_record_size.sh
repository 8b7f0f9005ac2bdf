#!/usr/bin/env bash
# bench_record_size.sh - record size per trial of a Python script: the bytes
# of each trial's leaf (what the study log hashes and `tunetrail attest`
# copies into the record), for a scikit-learn script run N times (default 3)
# under `tunetrail run` with /usr/bin/python3.
# Baseline, from the same trials in the same run: the leaf each would have
# with every input listed (its leaf with "environment" replaced by the files
# it summarises, from `show --files all`, serialised the canonical way).
#   env: TT_BUILD (default build), N
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
TT_BUILD=$(realpath "${TT_BUILD:-$SRC/build}")
TT=$TT_BUILD/bin/tunetrail
PY=/usr/bin/python3
N=${N:-3}
[ -x "$TT" ] || { echo "bench_record_size: no $TT (build first)" >&2; exit 1; }
[ -x "$PY" ] || { echo "bench_record_size: no $PY" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export TUNETRAIL_HOME=$T/home
unset TUNETRAIL_COLLECTOR TUNETRAIL_STORE TUNETRAIL_STUDY LD_PRELOAD
cd "$T"
printf '1,0.1,0\n2,0.4,1\n3,0.2,0\n4,0.9,1\n5,0.3,0\n6,0.8,1\n' >data.csv
cat >train.py <<'EOF'
import argparse, csv
p = argparse.ArgumentParser()
p.add_argument("--C", type=float, default=1.0)
a = p.parse_args()
rows = [[float(v) for v in r] for r in csv.reader(open("data.csv"))]
X, y = [r[:2] for r in rows], [int(r[2]) for r in rows]
try:
    from sklearn.linear_model import LogisticRegression
    acc = LogisticRegression(C=a.C).fit(X, y).score(X, y)
except ImportError:
    acc = 0.5
print("accuracy: %.4f" % acc)
EOF
for ((i = 1; i <= N; i++)); do
    "$TT" run --study size --store s.db "$PY" train.py --C "$i" >/dev/null 2>&1
done
"$TT" log --study size --store s.db --json >log.json
: >show.json
for id in $("$TT" trials --study size --store s.db --json | python3 -c 'import json,sys; [print(json.loads(l)["id"]) for l in sys.stdin if l.strip()]'); do
    "$TT" show --store s.db --json --files all "$id" >>show.json
done
python3 - log.json show.json "$N" <<'EOF'
import json, sys
leaves = [json.loads(json.loads(l)["leaf"]) for l in open(sys.argv[1]) if l.strip()]
texts = [json.loads(l)["leaf"] for l in open(sys.argv[1]) if l.strip()]
shows = {s["uuid"]: s for s in (json.loads(l) for l in open(sys.argv[2]) if l.strip())}
now = base = files = 0
for leaf, text in zip(leaves, texts):
    s = shows[leaf["trial"]]
    full = dict(leaf)
    env = full.pop("environment", None) or {}
    files += env.get("files", 0)
    listed = [{k: f[k] for k in ("path", "sha256", "size") if f.get(k) is not None}
              for f in s.get("environment_files") or []]
    full["inputs"] = sorted(full.get("inputs", []) + listed, key=lambda f: f["path"].encode())
    now += len(text.encode())
    base += len(json.dumps(full, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
n = len(leaves)
if n != int(sys.argv[3]):
    sys.exit("bench_record_size: %d leaves for %s runs" % (n, sys.argv[3]))
print("trials: %d (python3 + scikit-learn), %d environment files per trial" % (n, files // n))
print("baseline: leaf with every input listed %d bytes per trial" % (base // n))
print("leaf with the environment summarised: %d bytes per trial, %.4fx the baseline" % (now // n, now / base))
EOF
