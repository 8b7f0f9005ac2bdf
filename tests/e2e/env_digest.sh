#!/usr/bin/env bash
# env_digest.sh - a Python trial's environment is summarised, not listed:
# its leaf is a few KB, carries the environment digest and the Debian (and,
# with scikit-learn, Python) packages, lists no /usr/lib/python3* file, and
# keeps the script, its own data file and a data set read from under
# /usr/lib as inputs; the digest recomputes from the stored file rows
# (`show --files all`) and from the files on disk; svm-train keeps
# heart_scale (under /usr/share/doc) as an input.
source "$(dirname "$0")/lib/common.sh"

PY=/usr/bin/python3
HEART=/usr/share/doc/liblinear-tools/examples/heart_scale
need_exe "$TT_BIN/tunetrail" "$PY" svm-train
[ -r "$HEART" ] || fail "missing $HEART (liblinear-tools)"
cd "$T"
SK=0
"$PY" -c 'import sklearn' 2>/dev/null && SK=1
# a data file that ships under a code prefix: data, not environment
IRIS=$("$PY" -c 'import os, sklearn.datasets as d; print(os.path.join(os.path.dirname(d.__file__), "data", "iris.csv"))' 2>/dev/null || true)
[ -n "$IRIS" ] && [ -r "$IRIS" ] || IRIS=

printf 'x,y\n1,0\n2,1\n3,1\n' >"$T/mydata.csv"
cat >"$T/train.py" <<'EOF'
import argparse, csv, json, os, sys
try:
    import sklearn.linear_model
except ImportError:
    pass
p = argparse.ArgumentParser()
p.add_argument("--data")
p.add_argument("--extra", default="")
p.add_argument("--C", type=float, default=1.0)
a = p.parse_args()
with open(a.data) as f:
    rows = list(csv.reader(f))
if a.extra:
    with open(a.extra) as f:
        rows += list(csv.reader(f))
print("accuracy: %.3f" % (0.5 + len(rows) / 1000))
EOF

say "a Python script (root trial) under tunetrail run"
tt run --study py --store "$DB" "$PY" train.py --data mydata.csv ${IRIS:+--extra "$IRIS"} --C 2 \
    >"$T/py.out" 2>"$T/py.err" || { cat "$T/py.err" >&2; fail "tunetrail run python failed"; }
tt log --study py --store "$DB" --json >"$T/log.json" || fail "tunetrail log --json failed"
id=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["trial"])' "$T/log.json")
tt show --store "$DB" --json --files all "$id" >"$T/show.json" || fail "tunetrail show --files all failed"
tt show --store "$DB" "$id" >"$T/show.txt" || fail "tunetrail show failed"
trials_json --study py

pycheck '
import hashlib, os
log = [json.loads(l) for l in open(args[0]) if l.strip()]
check(len(log) == 1, "one leaf in the log (got %d)" % len(log))
text = log[0]["leaf"]
leaf = json.loads(text)
check(len(text) < 4096, "the leaf is a few KB: %d bytes" % len(text))
env = leaf.get("environment") or {}
check(len(env.get("digest", "")) == 64, "the leaf carries an environment digest (%r)" % env.get("digest"))
check(env.get("files", 0) > 50, "the environment counts the interpreter files (%r)" % env.get("files"))
deb = (env.get("packages") or {}).get("deb") or {}
py311 = [k for k in deb if "python3" in k and deb[k]]
check(py311, "a Debian python3 package with its version is named (%r)" % deb)
check(any(k.startswith("libpython3.") for k in deb), "the standard library package (libpython3.*) is named (%r)" % sorted(deb))
if args[4] == "1":
    pyp = (env.get("packages") or {}).get("python") or {}
    check(pyp.get("scikit-learn"), "the Python package scikit-learn with its version (%r)" % pyp)
    check("python3-sklearn" in deb, "the Debian package python3-sklearn (%r)" % sorted(deb))
ins = {i["path"]: i.get("sha256") for i in leaf.get("inputs") or []}
code = [p for p in ins if p.startswith("/usr/lib/python3") and p != args[3]]
check(not code, "no /usr/lib/python3* file but the data set in inputs (%r)" % code[:5])
data = os.path.realpath(args[1])
check(ins.get(data) == hashlib.sha256(open(data, "rb").read()).hexdigest(), "its own data file %s is an input with its sha256" % data)
check(os.path.realpath(args[2]) in ins, "the script is an input")
if args[3]:
    check(args[3] in ins, "a data set under /usr/lib (%s) stays an input" % args[3])

# the digest from the stored rows (show --files all) and from the files on disk
show = json.load(open(args[5]))
ef = show.get("environment_files") or []
check(len(ef) == env["files"], "show --files all lists the %d environment files (%d)" % (env["files"], len(ef)))
check(show.get("environment", {}).get("digest") == env["digest"], "show reports the leaf digest")
h = hashlib.sha256()
disk = 0
for f in sorted(ef, key=lambda f: f["path"].encode()):
    h.update(f["path"].encode() + b"\0" + bytes.fromhex(f["sha256"]))
    disk += hashlib.sha256(open(f["path"], "rb").read()).hexdigest() == f["sha256"]
check(h.hexdigest() == env["digest"], "the digest recomputes from the stored rows (RECORD.md encoding)")
check(disk == len(ef), "every environment file hash matches the file on disk (%d of %d)" % (disk, len(ef)))
' "$T/log.json" "$T/mydata.csv" "$T/train.py" "$IRIS" "$SK" "$T/show.json"

say "show prints the summary, not the files"
grep -q '^environment: [0-9]* files, digest ' "$T/show.txt" || fail "show has no environment line"
! grep -q '/usr/lib/python3.*\.pyc' "$T/show.txt" || fail "show lists the interpreter's .pyc files without --files all"
echo "[$TT_NAME]   ok: show summarises the environment"

say "svm-train on heart_scale: the data set under /usr/share stays an input"
tt run --study svm --store "$DB" svm-train -c 2 "$HEART" "$T/heart.model" >/dev/null 2>"$T/svm.err" ||
    { cat "$T/svm.err" >&2; fail "tunetrail run svm-train failed"; }
tt log --study svm --store "$DB" --json >"$T/svmlog.json" || fail "tunetrail log --json (svm) failed"
trials_json --study svm
pycheck '
leaf = json.loads(json.loads(open(args[0]).readline())["leaf"])
ins = {i["path"]: i.get("sha256") for i in leaf.get("inputs") or []}
check(ins.get(args[1]) == args[2], "heart_scale is an input with its sha256 (%r)" % ins)
' "$T/svmlog.json" "$HEART" "$(sha256 "$HEART")"
