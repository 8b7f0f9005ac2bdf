#!/usr/bin/env bash
# py_torch.sh - the Python hook on PyTorch (docs/ADAPTERS.md "PyTorch
# (Python)"), with Debian's /usr/bin/python3 and python3-torch, no --trial:
# a tiny MLP trained on CPU with argparse flags, run three times with
# different --lr, is three trials whose torch.optimizer.lr is the flag, with
# the optimizer's other settings, the scheduler, torch.manual_seed (a seed in
# the record), the printed per-epoch metric and the torch.save file as the
# output; DataLoader workers (forks) add no seed and no trial; with --trial
# the process is still one trial, and its argv --lr equals the optimizer's.
# Two models trained one after the other in one process are two trials; two
# optimizers alive together (a GAN's) are one.
source "$(dirname "$0")/lib/common.sh"
PY=/usr/bin/python3
need_exe "$PY" "$TT_BIN/tunetrail"
need_py torch
cd "$T"

cat >mlp.py <<'EOF'
import argparse
import torch
from torch import nn
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, required=True)
p.add_argument("--epochs", type=int, default=3)
p.add_argument("--seed", type=int, default=7)
p.add_argument("--workers", type=int, default=0)
p.add_argument("--out", default="mlp.pt")
a = p.parse_args()
torch.manual_seed(a.seed)
X = torch.randn(192, 8)
y = (X[:, 0] - X[:, 3] > 0).float().unsqueeze(1)
data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32,
                                   shuffle=True, num_workers=a.workers)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, weight_decay=1e-4)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
lossf = nn.BCEWithLogitsLoss()
for ep in range(a.epochs):
    for xb, yb in data:
        opt.zero_grad()
        lossf(model(xb), yb).backward()
        opt.step()
    sched.step()
    with torch.no_grad():
        print("epoch %d val_loss %.6f" % (ep, lossf(model(X), y).item()))
torch.save(model.state_dict(), a.out)
EOF

say "three runs with --lr 0.2, 0.05, 0.01: three trials, lr from the optimizer"
for lr in 0.2 0.05 0.01; do
    w=0
    [ "$lr" = 0.05 ] && w=2 # one run with DataLoader workers (forked, each seeded by torch)
    tt_rc rc run --study mlp --store "$DB" --metric 'val_loss=val_loss ([0-9.]+)' -- \
        "$PY" mlp.py --lr "$lr" --workers "$w" --out "mlp-$lr.pt" >"out.$lr" 2>"err.$lr"
    expect_eq "$rc" 0 "mlp.py --lr $lr exit code"
    expect_eq "$(tail -n 1 "err.$lr")" "tunetrail: 1 trial (1 ok); adapters: torch 1" "summary of --lr $lr"
done
"$PY" mlp.py --lr 0.2 --out bare.pt >bare.out 2>bare.err || fail "mlp.py failed without tunetrail"
tt_strip_summary err.0.2
cmp -s bare.out out.0.2 && cmp -s bare.err err.0.2 || fail "output differs with tunetrail: $(diff bare.out out.0.2 | head -4)"
echo "[$TT_NAME]   ok: stdout and stderr byte-identical with and without tunetrail"
trials_json --study mlp
for id in $(python3 -c 'import json,sys; print(" ".join(str(json.loads(l)["id"]) for l in open(sys.argv[1])))' trials.json); do
    tt show "$id" --store "$DB" --json >"show.$id.json" || fail "tunetrail show $id failed"
done
sums=""
for lr in 0.2 0.05 0.01; do sums="$sums $lr=$(sha256 "mlp-$lr.pt")"; done
# shellcheck disable=SC2086 # one argument per run
pycheck '
import os
check(len(trials) == 3 and all(t["framework"] == "torch" for t in trials), "three torch trials")
sums = dict(a.split("=") for a in args)
by_lr = {}
for t in trials:
    flag = t["argv"][t["argv"].index("--lr") + 1]
    by_lr[flag] = t
    p = t["params"]
    src = t.get("param_sources") or {}
    check(p.get("lr") == p.get("torch.optimizer.lr") == flag and src.get("lr") == "argparse",
          "--lr %s: argparse lr %r (source %r) equals torch.optimizer.lr %r" % (flag, p.get("lr"), src.get("lr"),
                                                                         p.get("torch.optimizer.lr")))
    check(p.get("torch.optimizer.lr") == flag and p.get("torch.optimizer.initial_lr") == flag,
          "--lr %s: torch.optimizer.lr and initial_lr = %s" % (flag, p.get("torch.optimizer.lr")))
    want = {"torch.optimizer": "SGD", "torch.optimizer.momentum": "0.9", "torch.optimizer.weight_decay": "0.0001",
            "torch.optimizer.nesterov": "false", "torch.scheduler": "StepLR", "torch.scheduler.step_size": "2",
            "torch.scheduler.gamma": "0.5", "torch.manual_seed": "7",
            "torch.model_file": os.path.abspath("mlp-%s.pt" % flag)}
    check({k: p.get(k) for k in want} == want, "--lr %s: optimizer, scheduler, seed, model file" % flag)
    show = json.load(open("show.%d.json" % t["id"]))
    seeds = [q for q in show["param_points"] if q["key"] == "torch.manual_seed"]
    check(len(seeds) == 1, "--lr %s: one torch.manual_seed row (DataLoader workers add none): %s" % (flag, seeds))
    printed = [l.split()[-1] for l in open("out." + flag).read().splitlines()]
    pts = ["%.6f" % q["value"] for q in show["metric_points"] if q["name"] == "val_loss"]
    check(pts == printed and len(pts) == 3, "--lr %s: the 3 printed val_loss lines are its metric points" % flag)
    outs = {o["path"]: o["sha256"] for o in t["outputs"]}
    check(outs.get(os.path.abspath("mlp-%s.pt" % flag)) == sums[flag], "--lr %s: the torch.save file is its output" % flag)
check(sorted(by_lr) == ["0.01", "0.05", "0.2"], "one trial per run")
' $sums
tt processes --study mlp --store "$DB" --json >procs.all || fail "tunetrail processes failed"
expect_eq "$(grep -c . procs.all)" 9 "processes: 3 runs + 2 DataLoader workers per epoch of one run"
# a worker inherits its parent's Python state: reporting into the parent's
# trial would be refused by the store (another origin's trial)
expect_eq "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM refusals").fetchone()[0])' "$DB")" \
    0 "events the store refused (a forked worker reported into its parent's trial)"

say "the record: torch.manual_seed is a seed, the learning rate a choice"
tt keygen -o keys >/dev/null || fail "keygen failed"
tt attest mlp-0.05.pt --objective val_loss:min --store "$DB" --key keys/tunetrail.key -o rec.json >/dev/null || fail "attest failed"
pycheck '
import base64
p = json.loads(base64.b64decode(json.load(open("rec.json"))["payload"]))["predicate"]
check(p["producedBy"]["params"]["torch.optimizer.lr"] == "0.05", "producedBy is the --lr 0.05 trial")
roles = {}
def walk(o):
    if isinstance(o, dict):
        if "key" in o and "role" in o:
            roles[o["key"]] = o["role"]
        for v in o.values():
            walk(v)
    elif isinstance(o, list):
        for v in o:
            walk(v)
walk(p)
check(roles.get("torch.manual_seed") == "seed", "torch.manual_seed has the seed role (%s)" % roles.get("torch.manual_seed"))
check(roles.get("torch.optimizer.lr") == "choice", "torch.optimizer.lr is a choice")
check(roles.get("torch.model_file") == "path", "torch.model_file is a path")
'

say "--trial mlp.py: still one trial, its argv --lr equal to the optimizer's"
tt_rc rc run --study pat --store "$DB" --trial mlp.py -- "$PY" mlp.py --lr 0.3 --epochs 1 >/dev/null 2>err.pat
expect_eq "$rc" 0 "mlp.py exit code"
expect_eq "$(tail -n 1 err.pat)" "tunetrail: 1 trial (1 ok); adapters: torch 1" "summary"
trials_json --study pat
pycheck '
check(len(trials) == 1 and trials[0]["framework"] == "torch", "one torch trial")
p = trials[0]["params"]
check(p.get("lr") == p.get("torch.optimizer.lr") == "0.3", "argv lr = torch.optimizer.lr = 0.3 (%s, %s)" % (p.get("lr"), p.get("torch.optimizer.lr")))
'

cat >two.py <<'EOF'
import torch
from torch import nn
torch.manual_seed(1)
X = torch.randn(64, 4)
y = X.sum(1, keepdim=True)
def train(opt, model, n=5):
    for _ in range(n):
        opt.zero_grad()
        ((model(X) - y) ** 2).mean().backward()
        opt.step()
def fit(lr):
    model = nn.Linear(4, 1)
    train(torch.optim.Adam(model.parameters(), lr=lr, betas=(0.8, 0.99)), model)
for lr in (0.1, 0.01):  # a sweep in one process: the old optimizer is gone when the next steps
    fit(lr)
g, d = nn.Linear(4, 1), nn.Linear(4, 1)  # a GAN's two optimizers, alive together
og = torch.optim.SGD(g.parameters(), lr=0.3)
od = torch.optim.RMSprop(d.parameters(), lr=0.004)
for _ in range(3):
    train(og, g, 1)
    train(od, d, 1)
EOF

say "a sweep of two models in one process: two trials; two live optimizers: one"
tt_rc rc run --study two --store "$DB" -- "$PY" two.py >/dev/null 2>err.two
expect_eq "$rc" 0 "two.py exit code"
expect_eq "$(tail -n 1 err.two)" "tunetrail: 3 trials (3 ok); adapters: torch 3" "summary"
trials_json --study two
pycheck '
ps = sorted((t["params"] for t in trials), key=lambda p: p.get("torch.optimizer"))
check([p.get("torch.optimizer") for p in ps] == ["Adam", "Adam", "SGD"], "trials: Adam, Adam, SGD (+RMSprop)")
check(sorted(p["torch.optimizer.lr"] for p in ps[:2]) == ["0.01", "0.1"] and ps[0]["torch.optimizer.betas"] == "[0.8, 0.99]",
      "the sweep: lr 0.1 and 0.01, betas [0.8, 0.99]")
check(ps[2].get("torch.optimizer[1]") == "RMSprop" and ps[2].get("torch.optimizer[1].lr") == "0.004" and ps[2]["torch.optimizer.lr"] == "0.3",
      "the GAN trial: torch.optimizer SGD lr 0.3, torch.optimizer[1] RMSprop lr 0.004")
check([p.get("torch.manual_seed") for p in ps] == ["1", "1", "1"], "the seed in effect is on every trial of the process")
'
echo "[$TT_NAME] PASS"
