#!/usr/bin/env bash
# python_argparse.sh - under `tunetrail run`, a Python script's argparse
# namespace is its trial's params (the Python hook, part 5 of issue 11):
# a value given on the command line has source `argparse`, a default
# `argparse:default`; the agent's argv guesses are not added beside them.
#  1. a real training script run three times with different --lr, as the
#     command's own trial (no --trial) and with --trial train.py: the same
#     three trials' params both ways; the record's ledger calls a default
#     never given "an untested default" and a flag given once "set explicitly";
#  2. subparsers, a library's parse_known_args of the command line before
#     the script's, and a library's parse_args of a list of its own (not the
#     command line: not recorded);
#  3. trials a hook opens through the API (as the framework hooks do) get the
#     namespace too, one opened before the parse and one after.
source "$(dirname "$0")/lib/common.sh"
PY=/usr/bin/python3
need_exe "$PY" "$TT_BIN/tunetrail"
cd "$T"
tt keygen >/dev/null || fail "keygen failed"

# A least-squares fit by gradient descent (gradients clipped at --clip):
# the loss it prints and the model it writes depend on its flags.
cat >train.py <<'EOF'
import argparse
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, required=True)
p.add_argument("--epochs", type=int, default=50)
p.add_argument("--clip", type=float, default=100.0)
p.add_argument("--out", default="model.txt")
a = p.parse_args()
xs = [i / 10 for i in range(20)]
ys = [3 * x + 1 for x in xs]
w = b = 0.0
for _ in range(a.epochs):
    gw = sum((w * x + b - y) * x for x, y in zip(xs, ys)) / len(xs)
    gb = sum((w * x + b - y) for x, y in zip(xs, ys)) / len(xs)
    gw, gb = max(-a.clip, min(a.clip, gw)), max(-a.clip, min(a.clip, gb))
    w, b = w - a.lr * gw, b - a.lr * gb
loss = sum((w * x + b - y) ** 2 for x, y in zip(xs, ys)) / len(xs)
print("val_loss %.6f" % loss)
with open(a.out, "w") as f:
    f.write("%r %r\n" % (w, b))
EOF

runs=("--lr 0.01 --out m1.txt" "--lr=0.05 --out m2.txt --epochs 50" "--lr 0.1 --out m3.txt")
want="[
 {'lr': ('0.01', 'argparse'), 'epochs': ('50', 'argparse:default'), 'clip': ('100.0', 'argparse:default'), 'out': ('m1.txt', 'argparse')},
 {'lr': ('0.05', 'argparse'), 'epochs': ('50', 'argparse'), 'clip': ('100.0', 'argparse:default'), 'out': ('m2.txt', 'argparse')},
 {'lr': ('0.1', 'argparse'), 'epochs': ('50', 'argparse:default'), 'clip': ('100.0', 'argparse:default'), 'out': ('m3.txt', 'argparse')}]"
for how in root pattern; do
    say "train.py three times with different --lr ($how): given and default values, argparse's sources only"
    flags=()
    [ $how = pattern ] && flags=(--trial train.py)
    for args in "${runs[@]}"; do
        # shellcheck disable=SC2086 # the flags are meant to split
        tt_rc rc run --study $how --store "$DB" "${flags[@]}" --metric 'val_loss=^val_loss ([0-9.e-]+)' -- \
            "$PY" train.py $args >run.out 2>run.err
        expect_eq "$rc" 0 "exit code of train.py $args"
        expect_eq "$(tail -n 1 run.err)" "tunetrail: 1 trial (1 ok); no adapter opened a trial" "summary of $args"
    done
    trials_json --study $how
    pycheck "
got = [{k: (v, t['param_sources'].get(k)) for k, v in t['params'].items()} for t in trials]
check(got == $want, 'three trials: namespace values with their sources (got %s)' % got)
check(all('val_loss' in t['metrics'] for t in trials), 'each with its printed val_loss')
"
done

say "the record's ledger: a default never given is untested, a flag given once was set"
tt attest m3.txt --store "$DB" --study root --objective val_loss:min -o rec.json >/dev/null 2>attest.err ||
    fail "attest m3.txt failed: $(cat attest.err)"
python3 - rec.json <<'EOF' || fail "ledger check failed"
import base64, json, sys
pred = json.loads(base64.b64decode(json.load(open(sys.argv[1]))["payload"]))["predicate"]
ch = {c["key"]: c for c in pred["choices"]}
def check(cond, msg):
    if not cond:
        sys.exit("[python_argparse] FAIL: " + msg)
    print("[python_argparse]   ok: " + msg)
check(ch["lr"]["varied"] and ch["lr"]["role"] == "choice", "lr is a varied choice (%s)" % ch["lr"])
check("untested default" in ch["clip"].get("note", ""), "clip, never given: an untested default (%s)" % ch["clip"].get("note"))
check("set explicitly" in ch["epochs"].get("note", ""), "epochs, given once: set explicitly (%s)" % ch["epochs"].get("note"))
EOF

say "subparsers, a library's parse_known_args first, a library's own list not recorded"
cat >cli.py <<'EOF'
import argparse
lib = argparse.ArgumentParser(add_help=False)
lib.add_argument("--log-level", default="info")
_, rest = lib.parse_known_args()                     # the command line, read by a library first
argparse.ArgumentParser().parse_args([])             # a library's own (empty) list
own = argparse.ArgumentParser()
own.add_argument("--workers", type=int, default=8)
own.parse_args(["--workers", "2"])                   # a list that is not the command line
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.01)
sub = p.add_subparsers(dest="cmd")
t = sub.add_parser("train")
t.add_argument("--batch", type=int, default=32)
t.add_argument("data", nargs="?", default="train.csv")
t.set_defaults(func=print)
sub.add_parser("eval").add_argument("--split", default="test")
a = p.parse_args(rest)
print(a.cmd, a.batch, a.data)
EOF
tt_rc rc run --study cli --store "$DB" -- "$PY" cli.py --log-level debug train --batch 64 >run.out 2>run.err
expect_eq "$rc" 0 "exit code"
expect_eq "$(cat run.out)" "train 64 train.csv" "cli.py's output"
trials_json --study cli
pycheck "
got = {k: (v, trials[0]['param_sources'].get(k)) for k, v in trials[0]['params'].items()}
want = {'log_level': ('debug', 'argparse'), 'lr': ('0.01', 'argparse:default'), 'cmd': ('train', 'argparse'),
        'batch': ('64', 'argparse'), 'data': ('train.csv', 'argparse:default')}
check(len(trials) == 1 and got == want, 'the command line parsed by both parsers, nothing else (got %s)' % got)
"
say "trials a hook opens in the process carry its namespace: one open before the parse, one after"
cat >hooked.py <<'EOF'
import argparse
import tunetrail_hook  # the hook's API, as a framework hook uses it
api = tunetrail_hook.api()
first = api.open("demo")
p = argparse.ArgumentParser()
p.add_argument("--alpha", type=float, default=1.0)
p.add_argument("--n", type=int, default=2)
a = p.parse_args()
api.param(first, "demo.i", "0")
api.end(first)
second = api.open("demo")
api.param(second, "demo.i", "1")
api.end(second)
print("alpha", a.alpha)
EOF
tt_rc rc run --study hooked --store "$DB" -- "$PY" hooked.py --alpha 0.3 >run.out 2>run.err
expect_eq "$rc" 0 "exit code"
expect_eq "$(tail -n 1 run.err)" "tunetrail: 2 trials (2 ok); adapters: demo 2" "summary"
trials_json --study hooked
pycheck "
got = sorted(tuple(sorted((k, v, t['param_sources'].get(k)) for k, v in t['params'].items())) for t in trials)
want = sorted(tuple(sorted([('demo.i', i, 'adapter'), ('alpha', '0.3', 'argparse'), ('n', '2', 'argparse:default')]))
              for i in ('0', '1'))
check(got == want, 'both demo trials with the namespace, no argv params, no root trial (got %s)' % got)
"
echo "[$TT_NAME] PASS"
