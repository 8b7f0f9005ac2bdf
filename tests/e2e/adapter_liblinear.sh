#!/usr/bin/env bash
# adapter_liblinear.sh - the liblinear adapter on Debian's liblinear-train,
# no --trial flag: `-C` (a search over C in one process) gives one trial per
# C tried, each with the CV accuracy liblinear-train prints for it; `-v 5`
# is one trial; plain training is one trial linked to its model file.
source "$(dirname "$0")/lib/common.sh"
tt_requires_adapter liblinear

need_exe liblinear-train python3 "$TT_BIN/tunetrail"
cp /usr/share/doc/liblinear-tools/examples/heart_scale "$T/heart_scale"
cd "$T"

say "liblinear-train -C: one trial per C, cv_accuracy == its printed rate"
tt_rc rc run --study search --store "$DB" -- liblinear-train -C heart_scale >"$T/c.out"
expect_eq "$rc" 0 "liblinear-train -C exit code"
trials_json --study search
pycheck '
import math, re
rates = {}
for line in open(args[0]):
    m = re.match(r"log2c=\s*(\S+)\s+rate=(\S+)", line)
    if m:
        rates[m.group(1)] = m.group(2)
check(len(rates) >= 5, "liblinear-train printed per-C lines (%d)" % len(rates))
check(len(trials) == len(rates), "one trial per C tried: %d trials, %d C values" % (len(trials), len(rates)))
check(all(t.get("framework") == "liblinear" and t.get("status") == "ok" for t in trials), "all liblinear, ok")
p0 = trials[0]["params"]
for k in ("solver_type", "eps", "C", "nr_weight", "weight_label", "weight", "p", "l", "n", "bias", "nr_fold"):
    check("liblinear." + k in p0, "param liblinear.%s present" % k)
check(p0["liblinear.solver_type"] == "L2R_L2LOSS_SVC", "solver by name (%s)" % p0["liblinear.solver_type"])
for t in trials:
    c = "%.2f" % math.log2(float(t["params"]["liblinear.C"]))
    acc = (t.get("metrics") or {}).get("cv_accuracy")
    if c not in rates or acc is None or float("%g" % acc) != float(rates[c]):
        check(False, "trial %s log2c=%s cv_accuracy %r == printed rate %r" % (t["id"], c, acc, rates.get(c)))
check(True, "every trial: cv_accuracy == the rate printed for its C")
' "$T/c.out"

say "liblinear-train -v 5: one trial with the printed CV accuracy"
tt_rc rc run --study cv --store "$DB" -- liblinear-train -v 5 -c 2 heart_scale >"$T/cv.out"
expect_eq "$rc" 0 "liblinear-train -v 5 exit code"
trials_json --study cv
pycheck '
want = open(args[0]).read().split("Cross Validation Accuracy = ")[1].split("%")[0]
check(len(trials) == 1, "one trial (got %d)" % len(trials))
t = trials[0]
check(t["params"]["liblinear.C"] == "2" and t["params"]["liblinear.nr_fold"] == "5", "C=2, nr_fold=5")
check(float("%g" % t["metrics"]["cv_accuracy"]) == float(want), "cv_accuracy %r == printed %s" % (t["metrics"]["cv_accuracy"], want))
' "$T/cv.out"

say "liblinear-train (plain): one trial linked to its model"
tt_rc rc run --study model --store "$DB" -- liblinear-train -s 0 heart_scale "$T/h.model" >/dev/null
expect_eq "$rc" 0 "liblinear-train exit code"
trials_json --study model
pycheck '
check(len(trials) == 1, "one trial (got %d)" % len(trials))
p = trials[0]["params"]
check(p.get("liblinear.solver_type") == "L2R_LR", "solver L2R_LR")
check(p.get("liblinear.model_file") == args[0], "liblinear.model_file = %s (%r)" % (args[0], p.get("liblinear.model_file")))
' "$T/h.model"
echo "[$TT_NAME] PASS"
