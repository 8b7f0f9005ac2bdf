#!/usr/bin/env bash
# adapter_fann.sh - the FANN adapter on training programs written against
# libfann (tests/progs/tt_fann_*.c), no --trial flag: one trial per trained
# network with the exact shape and settings (enums by name), per-epoch mse
# equal to what the program prints, test_mse, the saved model among the
# trial's outputs; output byte-identical with and without tunetrail.
source "$(dirname "$0")/lib/common.sh"
tt_requires_adapter fann

need_exe python3 "$TT_BIN/tunetrail" "$TT_PROGS/tt_fann_xor" "$TT_PROGS/tt_fann_two"
cd "$T"

# show_json ID - `tunetrail show ID --json` into $T/show-ID.json
show_json() { tt show "$1" --store "$DB" --json >"$T/show-$1.json" || fail "tunetrail show $1 failed"; }

PYFANN='
import math, os, re
def printed(path, pattern):
    return [float(m.group(1)) for m in (re.search(pattern, l) for l in open(path)) if m]
def same(a, b):   # the CLI prints reals with 15 significant digits
    return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-13, abs_tol=0)
def show(tid):
    return json.load(open(os.path.join(os.path.dirname(sys.argv[1]), "show-%d.json" % tid)))
def points(s, name):
    return [(p["step"], p["value"], p["split"], p["direction"]) for p in s["metric_points"] if p["name"] == name]
def rows(db, tid, key):   # every value key took, in order (db: unused, the store is read by show)
    return [p["value"] for p in show(tid)["param_points"] if p["key"] == key]
'

say "tt_fann_xor, fann_train_epoch loop: one trial, exact params, per-epoch mse == printed"
tt_rc rc run --study epochs --store "$DB" -- "$TT_PROGS/tt_fann_xor" --epochs 8 --hidden FANN_GAUSSIAN \
    --lr 0.4 --save "$T/xor.net" >"$T/epochs.out"
expect_eq "$rc" 0 "tt_fann_xor exit code"
trials_json --study epochs
id=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["id"])' "$T/trials.json")
show_json "$id"
pycheck "$PYFANN"'
check(len(trials) == 1, "one trial (got %d)" % len(trials))
t = trials[0]
check(t["framework"] == "fann" and t["status"] == "ok", "framework fann, ok (%s, %s)" % (t["framework"], t["status"]))
want = {"fann.network_type": "FANN_NETTYPE_LAYER", "fann.layers": "3", "fann.layer_sizes": "[2, 3, 1]",
        "fann.layer[0].neurons": "2", "fann.layer[1].neurons": "3", "fann.layer[2].neurons": "1",
        "fann.connection_rate": "1", "fann.num_input": "2", "fann.num_output": "1",
        "fann.layer[1].activation_function": "FANN_GAUSSIAN", "fann.activation_function_hidden": "FANN_GAUSSIAN",
        "fann.layer[2].activation_function": "FANN_SIGMOID_SYMMETRIC",
        "fann.activation_function_output": "FANN_SIGMOID_SYMMETRIC",
        "fann.activation_steepness_hidden": "0.75", "fann.activation_steepness_output": "0.5",
        "fann.learning_rate": "0.4", "fann.learning_momentum": "0.25",
        "fann.training_algorithm": "FANN_TRAIN_RPROP", "fann.train_error_function": "FANN_ERRORFUNC_TANH",
        "fann.train_stop_function": "FANN_STOPFUNC_BIT", "fann.bit_fail_limit": "0.35",
        "fann.rprop_increase_factor": "1.2", "fann.rprop_delta_max": "50", "fann.quickprop_mu": "1.75",
        "fann.model_file": args[1]}
p = t["params"]
for k, v in want.items():
    check(p.get(k) == v, "%s = %s (got %r)" % (k, v, p.get(k)))
s = show(t["id"])
mse = points(s, "mse")
pr = printed(args[0], r"^epoch \d+ mse (\S+)")
check(len(pr) == 8 and [m[0] for m in mse] == list(range(1, 9)), "8 mse points, steps 1..8 (%d)" % len(mse))
check(all(m[2] == "train" and m[3] == "min" for m in mse), "mse: split train, direction min")
check(all(same(m[1], v) for m, v in zip(mse, pr)), "every epoch mse == printed")
check(len(points(s, "bit_fail")) == 8, "bit_fail per epoch")
tm = points(s, "test_mse")
check(len(tm) == 1 and tm[0][0] == 8 and tm[0][1] > 0 and tm[0][2] == "test" and same(tm[0][1], printed(args[0], r"^test mse (\S+)")[0]),
      "test_mse == printed (> 0), step 8, split test (%r)" % (tm,))
outs = {o["path"]: o["sha256"] for o in t["outputs"]}
check(outs.get(args[1]) == args[2], "model %s among outputs with its sha256" % args[1])
# fopen(model, "w+") is O_RDWR|O_TRUNC: an output only, never an input
check(args[1] not in [i["path"] for i in t["inputs"]], "model %s not among inputs" % args[1])
' "$T/epochs.out" "$T/xor.net" "$(sha256 "$T/xor.net")"

say "tt_fann_xor, fann_train_on_data: epochs seen through its internal calls, its arguments as params"
tt_rc rc run --study ondata --store "$DB" -- "$TT_PROGS/tt_fann_xor" --mode ondata --epochs 15 \
    --algo FANN_TRAIN_BATCH --output FANN_LINEAR >"$T/ondata.out"
expect_eq "$rc" 0 "tt_fann_xor --mode ondata exit code"
trials_json --study ondata
id=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["id"])' "$T/trials.json")
show_json "$id"
pycheck "$PYFANN"'
check(len(trials) == 1, "one trial (got %d)" % len(trials))
t = trials[0]; p = t["params"]
for k, v in {"fann.training_algorithm": "FANN_TRAIN_BATCH", "fann.activation_function_output": "FANN_LINEAR",
             "fann.learning_rate": "0.7", "fann.max_epochs": "15", "fann.desired_error": "0",
             "fann.train.num_data": "4"}.items():
    check(p.get(k) == v, "%s = %s (got %r)" % (k, v, p.get(k)))
check("fann.model_file" not in p, "no model file (nothing saved)")
mse = points(show(t["id"]), "mse")
check(1 <= len(mse) <= 15 and [m[0] for m in mse] == list(range(1, len(mse) + 1)), "mse steps 1..%d" % len(mse))
check(same(mse[-1][1], printed(args[0], r"^final mse (\S+)")[0]), "last epoch mse == printed final fann_get_MSE")
' "$T/ondata.out"

say "tt_fann_two: two networks in one process = two trials (train_on_file, shortcut, 4 layers, per-neuron activation)"
mkdir -p "$T/two"
tt_rc rc run --study two --store "$DB" -- "$TT_PROGS/tt_fann_two" "$T/two" >"$T/two.out"
expect_eq "$rc" 0 "tt_fann_two exit code"
trials_json --study two
for id in $(python3 -c 'import json,sys; [print(json.loads(l)["id"]) for l in open(sys.argv[1]) if l.strip()]' "$T/trials.json"); do
    show_json "$id"
done
pycheck "$PYFANN"'
check(len(trials) == 2, "two trials (got %d)" % len(trials))
a, b = sorted(trials, key=lambda t: t["id"])
pa, pb = a["params"], b["params"]
for k, v in {"fann.network_type": "FANN_NETTYPE_SHORTCUT", "fann.layer_sizes": "[2, 2, 1]",
             "fann.training_algorithm": "FANN_TRAIN_QUICKPROP", "fann.train_error_function": "FANN_ERRORFUNC_LINEAR",
             "fann.quickprop_mu": "1.5", "fann.activation_function_output": "FANN_LINEAR_PIECE_SYMMETRIC",
             "fann.max_epochs": "30", "fann.train.num_data": "4"}.items():
    check(pa.get(k) == v, "A: %s = %s (got %r)" % (k, v, pa.get(k)))
check(args[1] + "/xor.data" in [i["path"] for i in a["inputs"]], "A: the data file is an input")
ma = points(show(a["id"]), "mse")
check(len(ma) == 30 and same(ma[-1][1], printed(args[0], r"^A final mse (\S+)")[0]), "A: 30 epochs, last mse == printed")
for k, v in {"fann.network_type": "FANN_NETTYPE_LAYER", "fann.layers": "4", "fann.layer_sizes": "[2, 4, 3, 1]", "fann.layer[2].neurons": "3",
             "fann.training_algorithm": "FANN_TRAIN_INCREMENTAL",
             "fann.layer[1].activation_function": "[FANN_ELLIOT_SYMMETRIC, FANN_ELLIOT_SYMMETRIC, FANN_LINEAR, FANN_ELLIOT_SYMMETRIC]",
             "fann.layer[2].activation_function": "FANN_ELLIOT_SYMMETRIC",
             "fann.activation_steepness_output": "0.9", "fann.layer[3].activation_steepness": "0.9", "fann.learning_rate": "0.25",
             "fann.model_file": args[1] + "/b.net"}.items():
    check(pb.get(k) == v, "B: %s = %s (got %r)" % (k, v, pb.get(k)))
check(rows(args[2], b["id"], "fann.learning_rate") == ["0.5", "0.25"], "B: learning rate change recorded: %r" % rows(args[2], b["id"], "fann.learning_rate"))
sb = show(b["id"])
mb = points(sb, "mse")
pr = printed(args[0], r"^B epoch \d+ mse (\S+)")
check(len(mb) == 10 and all(same(m[1], v) for m, v in zip(mb, pr)), "B: 10 epochs, each mse == printed")
tm = points(sb, "test_mse")
check(len(tm) == 1 and same(tm[0][1], printed(args[0], r"^B test mse (\S+)")[0]), "B: test_mse == printed")
check("fann.model_file" not in pa, "A: no model file")
' "$T/two.out" "$T/two" "$DB"

say "pass-through: output byte-identical with and without tunetrail"
"$TT_PROGS/tt_fann_xor" --epochs 8 --hidden FANN_GAUSSIAN --lr 0.4 --save "$T/xor2.net" >"$T/bare.out"
sed "s#$T/xor.net#$T/xor2.net#" "$T/epochs.out" >"$T/epochs2.out"
cmp "$T/bare.out" "$T/epochs2.out" || fail "tt_fann_xor output differs under tunetrail"
cmp "$T/xor.net" "$T/xor2.net" || fail "saved network differs under tunetrail"
mkdir -p "$T/bare"
"$TT_PROGS/tt_fann_two" "$T/bare" >"$T/two-bare.out"
cmp "$T/two-bare.out" "$T/two.out" || fail "tt_fann_two output differs under tunetrail"
echo "[$TT_NAME]   ok: outputs and saved model identical"
echo "[$TT_NAME] PASS"
