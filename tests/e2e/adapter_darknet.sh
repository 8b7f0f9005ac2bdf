#!/usr/bin/env bash
# adapter_darknet.sh - the darknet adapter on tests/progs/tt_darknet_train (a
# tiny conv net trained with Debian's libdarknet.so), no --trial flag: one
# trial, framework darknet, the [net] section and every layer as params equal
# to the .cfg the program wrote, a `loss` metric per training step equal to
# the printed loss with the printed step, the weights file among the outputs
# (sha256) and named by darknet.model_file; output and weights byte-identical
# with and without tunetrail.
source "$(dirname "$0")/lib/common.sh"
tt_requires_adapter darknet

need_exe python3 "$TT_BIN/tunetrail" "$TT_PROGS/tt_darknet_train"
[ -f /usr/lib/darknet/libdarknet.so ] || fail "missing /usr/lib/darknet/libdarknet.so (apt-get install darknet)"
mkdir -p "$T/bare" "$T/tt"

say "bare run (no tunetrail)"
rc=0
(cd "$T/bare" && timeout -k 5 120 "$TT_PROGS/tt_darknet_train" >out 2>err) || rc=$?
expect_eq "$rc" 0 "bare tt_darknet_train exit code"

say "wrapped run: same output, same weights"
cd "$T/tt"
tt_rc rc run --study dk --store "$DB" -- "$TT_PROGS/tt_darknet_train" >out 2>err
expect_eq "$rc" 0 "wrapped tt_darknet_train exit code"
cmp -s "$T/bare/out" out || fail "stdout differs with tunetrail"
tt_strip_summary err
cmp -s "$T/bare/err" err || fail "stderr differs with tunetrail"
cmp -s "$T/bare/tiny.weights" tiny.weights || fail "weights differ with tunetrail"
echo "[$TT_NAME]   ok: stdout, stderr and weights identical"

trials_json --study dk
expect_eq "$(wc -l <"$T/trials.json")" 1 "trials in study dk"
tt show --store "$DB" --json "$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["id"])' "$T/trials.json")" >"$T/show.json" ||
    fail "tunetrail show failed"

say "params, metrics and model of the trial"
pycheck '
import math
show = json.load(open(args[0]))
cfg, out, weights, wsha = args[1], args[2], args[3], args[4]
t = trials[0]
check(t["framework"] == "darknet" and show["opened_by"] == "adapter" and t["status"] == "ok",
      "framework darknet, opened by the adapter, ok")
p = t["params"]
src = show["param_sources"]

# the .cfg as written: [net] then the layers, in order
sections = []
for line in open(cfg):
    line = line.strip()
    if line.startswith("["):
        sections.append((line.strip("[]"), {}))
    elif "=" in line:
        k, v = line.split("=", 1)
        sections[-1][1][k] = v
net, layers = sections[0][1], sections[1:]

def same(key, want):
    got = p.get(key)
    ok = got is not None and (got == want or (want.replace(".", "", 1).lstrip("-").isdigit()
                                              and float(got) == float(want)))
    check(ok and src.get(key) == "adapter", "%s = %r (cfg %r, source %s)" % (key, got, want, src.get(key)))

for k in ("batch", "subdivisions", "width", "height", "channels", "learning_rate", "momentum",
          "decay", "max_batches"):
    same("darknet.net." + k, net[k])
same("darknet.net.policy", net["policy"].upper())
check(p.get("darknet.net.steps") == "[%s]" % ", ".join(net["steps"].split(",")), "darknet.net.steps = %r" % p.get("darknet.net.steps"))
check(p.get("darknet.net.scales") == "[%s]" % ", ".join(repr(float(s)) for s in net["scales"].split(",")),
      "darknet.net.scales = %r" % p.get("darknet.net.scales"))
check(p["darknet.net.learning_rate"] == "0.1" and p["darknet.net.decay"] == "0.0005",
      "floats in their shortest form (0.1, 0.0005)")
same("darknet.layers", str(len(layers)))
for i, (kind, kv) in enumerate(layers):
    pre = "darknet.layer[%d]." % i
    same(pre + "type", kind.upper())
    for k, v in kv.items():
        if k == "activation":
            same(pre + k, v.upper())
        elif k == "pad":   # pad=1 means size/2 pixels
            same(pre + k, str(int(kv["size"]) // 2 if v == "1" else 0))
        else:
            same(pre + k, v)
check(p.get("darknet.layer[2].probability") == "0.25", "dropout probability 0.25 as text")
check(not any(k.startswith("darknet.layer[%d]" % len(layers)) for k in p), "no layer beyond the last")
check(p.get("darknet.cfg_file") == cfg, "darknet.cfg_file = %s" % p.get("darknet.cfg_file"))

# loss of every step == the printed line "N: loss, avg avg, rate rate, images"
printed = []
for line in open(out):
    n, rest = line.split(": ", 1)
    printed.append((int(n), rest.split(",")[0]))
pts = [m for m in show["metric_points"] if m["name"] == "loss"]
check(len(printed) == 10 and len(pts) == len(printed), "%d loss points for %d printed steps" % (len(pts), len(printed)))
for m, (n, v) in zip(pts, printed):
    if m["step"] != n or "%f" % m["value"] != v or m["split"] != "train" or m["direction"] != "min":
        check(False, "loss point %r == printed step %d loss %s (train, min)" % (m, n, v))
check(True, "every loss point equals its printed step and loss (train, min)")

check(p.get("darknet.model_file") == weights, "darknet.model_file = %s" % p.get("darknet.model_file"))
outs = {o["path"]: o["sha256"] for o in show["outputs"]}
check(outs.get(weights) == wsha, "weights among the outputs with sha256 %s" % wsha)
' "$T/show.json" "$T/tt/tiny.cfg" "$T/tt/out" "$T/tt/tiny.weights" "$(sha256 "$T/tt/tiny.weights")"
echo "[$TT_NAME] PASS"
