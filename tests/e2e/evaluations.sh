#!/usr/bin/env bash
# evaluations.sh - svm-train in one `tunetrail run`, svm-predict on a held-out
# file in a later one: the prediction is an evaluation of the training trial
# (its test accuracy, with the test file's sha256, shows on that trial), not
# a trial of its own. A copied model is the same model (matched by sha256).
source "$(dirname "$0")/lib/common.sh"
tt_requires_adapter libsvm
need_exe svm-train svm-predict

cd "$T"
cp /usr/share/doc/liblinear-tools/examples/heart_scale heart_scale
head -n 200 heart_scale >train
tail -n 70 heart_scale >test

say "svm-train, then svm-predict in a second run: still exactly one trial"
tt run --store "$DB" --study s -- svm-train train model >/dev/null || fail "svm-train run failed"
tt run --store "$DB" --study s -- svm-predict test model out >predict1.out || fail "svm-predict run failed"
printed=$(sed -n 's/^Accuracy = \([0-9.]*\)% .*/\1/p' predict1.out)
[ -n "$printed" ] || fail "svm-predict printed no Accuracy"
trials_json --study s
pycheck '
check(len(trials) == 1, "one trial in study s (got %d: %r)" % (len(trials), [t["exe"] for t in trials]))
t = trials[0]
check(t["exe"].endswith("svm-train"), "the trial is svm-train")
ev = t["evaluations"]
check(len(ev) == 1, "one evaluation (got %r)" % ev)
e = ev[0]
check(e["metric"] == "accuracy" and e["split"] == "test", "metric accuracy, split test: %r" % e)
check(e["value"] == float(args[0]), "test accuracy %r == printed %s" % (e["value"], args[0]))
check([d["path"] for d in e["data"]] == [args[1]], "data file is the test file: %r" % e["data"])
check(e["data"][0]["sha256"] == args[2], "data sha256 is the test file sha256")
check(e["session"] and e["session"] != t["session"], "evaluation from the later session")
check("accuracy" not in t["metrics"], "training metrics unchanged: %r" % t["metrics"])
' "$printed" "$T/test" "$(sha256 test)"

say "studies counts only the training trial"
tt studies --store "$DB" --json | python3 -c '
import json, sys
s = [json.loads(l) for l in sys.stdin if json.loads(l)["study"] == "s"][0]
assert s["trials"] == 1, s
' || fail "studies counts the evaluation as a trial"

say "show: the trial lists its evaluation; the evaluation says whose it is"
id=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["id"])' "$T/trials.json")
tt show "$id" --store "$DB" >show.txt || fail "show $id failed"
grep -q "^evaluations (1):" show.txt || fail "show lists no evaluation: $(cat show.txt)"
grep -q "$(sha256 test)  $T/test" show.txt || fail "show lists no evaluation data file"
# The evaluation's own trial (not listed by `trials`): its id is on the
# evaluation the evaluated trial shows.
tt show "$id" --store "$DB" --json >evaluated.json || fail "show $id --json failed"
eid=$(python3 -c 'import json; print(json.load(open("evaluated.json"))["evaluations"][0]["trial"])')
tt show "$eid" --store "$DB" --json >eval.json || fail "show $eid failed"
python3 - "$id" <<'PY' || fail "show of the evaluation trial lacks evaluation_of"
import json, sys
assert json.load(open("eval.json"))["evaluation_of"] == int(sys.argv[1])
PY
echo "[$TT_NAME]   ok: show $eid: evaluation_of = $id"

say "a copied model adds a second evaluation to the same trial"
cp model model2
tt run --store "$DB" --study s -- svm-predict test model2 out2 >predict2.out || fail "second svm-predict failed"
trials_json --study s
pycheck '
check(len(trials) == 1, "still one trial (got %d)" % len(trials))
ev = trials[0]["evaluations"]
check(len(ev) == 2, "two evaluations (got %d)" % len(ev))
check(len(set(e["process"] for e in ev)) == 2, "from two processes")
check(all(e["value"] == ev[0]["value"] and e["split"] == "test" for e in ev), "same test accuracy")
'

say "the same model evaluated from another study is no evaluation there"
tt run --store "$DB" --study other -- svm-predict test model out3 >/dev/null || fail "svm-predict (other) failed"
trials_json --study other
pycheck '
check(len(trials) == 1 and trials[0]["exe"].endswith("svm-predict"), "svm-predict is a trial of study other")
check(trials[0]["evaluations"] == [], "with no evaluations")
check("accuracy" in trials[0]["metrics"], "and its accuracy as its own metric")
'
