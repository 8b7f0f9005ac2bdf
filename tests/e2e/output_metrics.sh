#!/usr/bin/env bash
# output_metrics.sh - metrics printed by a program are recorded, and its
# output stays byte-identical: svm-train -v 5's "Cross Validation Accuracy",
# svm-predict's and liblinear-predict's "Accuracy = ..." (on that process's trial), user
# patterns (`tunetrail run --metric NAME=REGEX`) on lines written by a shell
# (write) and by Python, stdout and stderr; a bad regex exits 2; lines that
# look like svm-train's in another program are not taken.
source "$(dirname "$0")/lib/common.sh"

need_exe svm-train svm-predict liblinear-train liblinear-predict python3 "$TT_BIN/tunetrail"
cp /usr/share/doc/liblinear-tools/examples/heart_scale "$T/heart_scale"
cd "$T"

# wrap STUDY NAME [RUN-OPTION...] -- CMD... - CMD bare (into NAME.bare.{out,err})
# and under `tunetrail run --study STUDY RUN-OPTION...` (NAME.run.*); both
# must exit 0 with identical stdout and stderr.
wrap() {
    local study=$1 name=$2
    shift 2
    local opts=()
    while [ "$1" != "--" ]; do
        opts+=("$1")
        shift
    done
    shift
    timeout 120 "$@" >"$name.bare.out" 2>"$name.bare.err" || fail "$name: bare run failed"
    tt run --study "$study" --store "$DB" "${opts[@]}" -- "$@" >"$name.run.out" 2>"$name.run.err" ||
        fail "$name: tunetrail run failed (see $name.run.err)"
    tt_strip_summary "$name.run.err"
    local f
    for f in out err; do
        if ! cmp -s "$name.bare.$f" "$name.run.$f"; then
            diff "$name.bare.$f" "$name.run.$f" | head -20 >&2 || true
            fail "$name: std$f differs between bare and tunetrail run"
        fi
    done
    echo "[$TT_NAME]   ok: $name: stdout and stderr identical"
}

say "svm-train -v 5: cv_accuracy = the printed Cross Validation Accuracy"
wrap cv cv -- svm-train -v 5 heart_scale
printed=$(sed -n 's/^Cross Validation Accuracy = \([0-9.]*\)%$/\1/p' cv.bare.out)
[ -n "$printed" ] || fail "svm-train printed no Cross Validation Accuracy"
trials_json --study cv
pycheck '
check(len(trials) == 1, "one trial in study cv (got %d)" % len(trials))
m = trials[0]["metrics"]
check("cv_accuracy" in m, "cv_accuracy recorded: %r" % m)
want = float(args[0])
check(abs(m["cv_accuracy"] - want) <= 1e-5 * want, "cv_accuracy %r equals the printed %r" % (m["cv_accuracy"], want))
' "$printed"
id=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["id"])' "$T/trials.json")
tt show "$id" --store "$DB" --json >show.json || fail "tunetrail show $id failed"
python3 - "$printed" <<'PY' || fail "printed cv_accuracy point missing"
import json, sys
pts = [p for p in json.load(open("show.json"))["metric_points"] if p["name"] == "cv_accuracy"]
# One point: the adapter's exact value (the printed line is its rounded copy,
# which the scanner skips when the libsvm adapter opened a trial).
want = float(sys.argv[1])
assert len(pts) == 1, pts
assert all(abs(p["value"] - want) <= 1e-5 * want and p["split"] == "valid" and p["direction"] == "max"
           for p in pts), pts
PY

# predicted STUDY PROG MODEL - PROG (svm-predict, liblinear-predict) run on
# heart_scale with MODEL, bare and wrapped: its printed Accuracy is the
# accuracy metric of its own (only) trial, with no --metric.
predicted() {
    local study=$1 prog=$2 model=$3 printed
    wrap "$study" "$study" -- "$prog" heart_scale "$model" "$study.predictions"
    printed=$(sed -n 's/^Accuracy = \([0-9.]*\)% .*/\1/p' "$study.bare.out")
    [ -n "$printed" ] || fail "$prog printed no Accuracy"
    trials_json --study "$study"
    pycheck '
import os
check(len(trials) == 1, "one trial in study %s (got %d)" % (args[1], len(trials)))
t = trials[0]
check(os.path.basename(t["exe"]) == args[2], "the trial is %s: %r" % (args[2], t["exe"]))
check(t["metrics"].get("accuracy") == float(args[0]), "accuracy %r equals the printed %r" % (t["metrics"].get("accuracy"), args[0]))
' "$printed" "$study" "$prog"
}

say "svm-predict: accuracy on the svm-predict process's trial"
svm-train -c 2 heart_scale heart.model >/dev/null
predicted predict svm-predict heart.model

say "liblinear-predict: accuracy on its process's trial, with no --metric"
liblinear-train heart_scale lin.model >/dev/null
predicted lpredict liblinear-predict lin.model

say "--metric: a shell printing loss lines (write), stdout and stderr"
wrap user shloss --metric 'loss=loss=([0-9.]+)' --metric 'acc=^acc ([0-9.]+)$' -- \
    sh -c 'for i in 1 2 3 4; do echo "epoch $i loss=0.$((10 - i))"; done; echo "acc 0.75" >&2; echo "loss=nan?"'
trials_json --study user
pycheck '
check(len(trials) == 1, "one trial in study user (got %d)" % len(trials))
check(trials[0]["metrics"] == {"loss": 0.6, "acc": 0.75}, "last values loss 0.6, acc 0.75: %r" % trials[0]["metrics"])
'
id=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["id"])' "$T/trials.json")
tt show "$id" --store "$DB" --json >show.json || fail "tunetrail show $id failed"
python3 <<'PY' || fail "loss steps wrong"
import json
pts = [(p["step"], p["value"]) for p in json.load(open("show.json"))["metric_points"] if p["name"] == "loss"]
assert sorted(pts) == [(0, 0.9), (1, 0.8), (2, 0.7), (3, 0.6)], pts
PY
echo "[$TT_NAME]   ok: loss steps 0..3 = 0.9 0.8 0.7 0.6"

say "--metric: a value printed as nan is nan in every reader (not 0)"
wrap nan nanloss --metric 'loss=loss ([a-z0-9.]+)' -- sh -c 'echo loss 0.5; echo loss nan'
trials_json --study nan
pycheck '
check(trials[0]["metrics"] == {"loss": "nan"}, "last loss is \"nan\": %r" % trials[0]["metrics"])
'
tt trials --study nan --store "$DB" --csv | grep -q ',nan,' || fail "trials --csv does not show nan"
tt show "$(tt trials --study nan --store "$DB" --json | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["id"])')" \
    --store "$DB" | grep -Eq 'loss += nan' || fail "show does not print loss = nan"
echo "[$TT_NAME]   ok: nan in trials --json, --csv and show"

say "--metric: Python print (block-buffered writes, many lines per write), big output"
wrap py pyloss --metric 'loss=step [0-9]+ loss ([0-9.]+)' -- \
    python3 -c 'import sys
for i in range(5000):
    print("step %d loss %.4f" % (i, 1.0 / (i + 1)))
sys.stderr.write("done\n")'
trials_json --study py
pycheck '
check(len(trials) == 1, "one trial in study py")
check(abs(trials[0]["metrics"].get("loss", -1) - 1.0 / 5000) < 1e-4, "last loss = 1/5000: %r" % trials[0]["metrics"])
'
id=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["id"])' "$T/trials.json")
tt show "$id" --store "$DB" --json >show.json || fail "tunetrail show $id failed"
n=$(python3 -c 'import json; print(sum(p["name"] == "loss" for p in json.load(open("show.json"))["metric_points"]))')
if [ "$n" != 5000 ]; then # a loss seen once in CI (docs/STATUS.md): say what the store refused
    sqlite3 "$DB" "SELECT count(*), group_concat(DISTINCT why) FROM refusals" >&2 || true
    cat pyloss.run.err >&2
fi
expect_eq "$n" 5000 "loss points from 5000 printed lines"

say "lines like svm-train's in another program are not metrics (no --metric)"
wrap other other -- sh -c 'echo "Cross Validation Accuracy = 50%"'
trials_json --study other
pycheck 'check(len(trials) == 1 and trials[0]["metrics"] == {}, "no metrics: %r" % [t["metrics"] for t in trials])'

say "bad --metric values exit 2 naming the flag and the error"
tt_rc rc run --store "$DB" --metric 'loss=(' -- true 2>bad.err
expect_eq "$rc" 2 "exit status for a bad regex"
grep -q -- "--metric 'loss=('" bad.err || fail "message does not name the flag: $(cat bad.err)"
grep -qi "paren\|(" bad.err || fail "message does not give the regex error: $(cat bad.err)"
tt_rc rc run --store "$DB" --metric 'noequals' -- true 2>bad.err
expect_eq "$rc" 2 "exit status for a value without NAME="
echo "[$TT_NAME] PASS"
