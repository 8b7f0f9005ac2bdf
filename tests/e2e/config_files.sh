#!/usr/bin/env bash
# config_files - config files a trial reads become params `file:<name>`:
# YAML, darknet-style .cfg, key=value .conf and JSON read by the trial's
# process are parsed by the agent into exact key paths and values; a
# malformed JSON file leaves the run successful and is recorded as an input
# with its parse error (FileAccess.error "<name>:<line>: <what>"); files
# under system directories are not parsed; the root-fallback trial gets the
# params of what its process read too.
source "$(dirname "$0")/lib/common.sh"
need_exe "$TT_PROGS/tt_cfgread"

cat >"$T/cfg.yaml" <<'Y'
# experiment
model:
  name: resnet
  depth: 18
  dropout: 0.50
optim:
  lr: 1e-3
  betas: [0.9, 0.999]
Y
cat >"$T/net.cfg" <<'C'
[net]
batch=64
learning_rate=0.001
[convolutional]
batch_normalize=1
filters=16
activation=leaky
[maxpool]
size=2
[convolutional]
filters=32
activation=linear
C
printf 'seed = 7\n# comment\nname=run one\n' >"$T/run.conf"
printf '{\n  "a": 1,\n  "b": ,\n}\n' >"$T/bad.json"
printf '{"hidden": {"units": [64, 32]}, "act": "relu", "rate": 0.10}\n' >"$T/good.json"

say "tt_cfgread under --trial reads five config files, exits 0"
rc=0
tt run --store "$DB" --study cfg --trial tt_cfgread -- "$TT_PROGS/tt_cfgread" --lr 0.5 \
    --config "$T/cfg.yaml" --config "$T/net.cfg" --config "$T/run.conf" --config "$T/bad.json" \
    --config "$T/good.json" --config /etc/hostname >"$T/out" || rc=$?
expect_eq "$rc" 0 "exit code with a malformed config file"
expect_eq "$(grep -c '^read ' "$T/out")" 6 "files the program read"

trials_json --study cfg
id=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["id"])' "$T/trials.json")
tt show "$id" --store "$DB" --json >"$T/show.json" || fail "tunetrail show $id --json failed"

say "params with exact values and file:<name> sources"
pycheck '
check(len(trials) == 1, "one trial (got %d)" % len(trials))
show = json.load(open(args[0]))
p, src = show["params"], show.get("param_sources", {})
want = {
    "model.name": ("resnet", "file:cfg.yaml"), "model.depth": ("18", "file:cfg.yaml"),
    "model.dropout": ("0.50", "file:cfg.yaml"), "optim.lr": ("1e-3", "file:cfg.yaml"),
    "optim.betas[0]": ("0.9", "file:cfg.yaml"), "optim.betas[1]": ("0.999", "file:cfg.yaml"),
    "net.batch": ("64", "file:net.cfg"), "net.learning_rate": ("0.001", "file:net.cfg"),
    "convolutional[0].batch_normalize": ("1", "file:net.cfg"),
    "convolutional[0].filters": ("16", "file:net.cfg"),
    "convolutional[1].filters": ("32", "file:net.cfg"),
    "convolutional[1].activation": ("linear", "file:net.cfg"),
    "maxpool.size": ("2", "file:net.cfg"),
    "seed": ("7", "file:run.conf"), "name": ("run one", "file:run.conf"),
    "hidden.units[0]": ("64", "file:good.json"), "hidden.units[1]": ("32", "file:good.json"),
    "act": ("relu", "file:good.json"), "rate": ("0.1", "file:good.json"),
}
for k, (v, s) in want.items():
    check(p.get(k) == v, "param %s = %r (got %r)" % (k, v, p.get(k)))
    check(src.get(k) == s, "source of %s = %s (got %r)" % (k, s, src.get(k)))
check(p.get("lr") == "0.5" and src.get("lr") == "argv", "argv params still there (lr = %r)" % p.get("lr"))
check(not any(s == "file:bad.json" for s in src.values()), "no params from the malformed bad.json")
check(not any(s == "file:hostname" for s in src.values()), "nothing parsed under /etc")
n = sum(1 for s in src.values() if s.startswith("file:"))
check(n == 20, "20 file params in all (got %d)" % n)
inputs = [i["path"] for i in show["inputs"]]
check(any(x.endswith("/bad.json") for x in inputs), "bad.json is still an input")
' "$T/show.json"

say "the malformed file carries its parse error with the line number"
err=$(python3 - "$T/show.json" <<'PY'
import json, sys
show = json.load(open(sys.argv[1]))
rows = [(i["error"], int(i["sha256"] is not None)) for i in show["inputs"] if i["path"].endswith("/bad.json")]
print(rows[0][0] if rows else "none", rows[0][1] if rows else 0)
PY
)
case "$err" in
"bad.json:3: "*" 1") echo "[$TT_NAME]   ok: bad.json error: $err" ;;
*) fail "bad.json error/hash: got '$err', expected 'bad.json:3: ...' with a hash" ;;
esac
good_err=$(python3 -c 'import json,sys; print(sum(1 for i in json.load(open(sys.argv[1]))["inputs"] if i["path"].endswith("/cfg.yaml") and i["error"] is not None))' "$T/show.json")
expect_eq "$good_err" 0 "no error on a good file"

say "root fallback: the command's own trial gets the params of what it read"
rc=0
tt run --store "$DB" --study root -- "$TT_PROGS/tt_cfgread" "$T/net.cfg" >/dev/null || rc=$?
expect_eq "$rc" 0 "exit code (root fallback)"
trials_json --study root
pycheck '
check(len(trials) == 1, "one root trial (got %d)" % len(trials))
p = trials[0]["params"]
check(p.get("convolutional[1].filters") == "32", "convolutional[1].filters = 32 (got %r)" % p.get("convolutional[1].filters"))
check(p.get("net.batch") == "64", "net.batch = 64")
'
