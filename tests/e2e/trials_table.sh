#!/usr/bin/env bash
# trials_table.sh - reading a search from the terminal (issue 10, part 6).
# A real svm-train sweep over C (libsvm records 19 keys per trial, most of
# them constant): `tunetrail trials` shows status, cv_accuracy and the
# varied key libsvm.C as columns, the constant keys once below the table,
# in start order (checked on two pattern trials whose ids are the reverse
# of their start order); --sort / --top pick the right rows; --csv, read
# back with Python's csv module, holds the same trials and values as --json.
source "$(dirname "$0")/lib/common.sh"

need_exe svm-train cat mkfifo /usr/bin/python3 "$TT_BIN/tunetrail"
cp /usr/share/doc/liblinear-tools/examples/heart_scale "$T/heart_scale"
cd "$T"

say "a sweep of five svm-train -v 5 runs (one with class weights, a list with a comma)"
tt_rc rc run --study sweep --store "$DB" -- sh -c \
    'for c in 8 0.5 2 32; do svm-train -c $c -v 5 heart_scale; done
     svm-train -c 4 -w1 2 -w-1 0.5 -v 5 heart_scale' >"$T/sweep.out"
expect_eq "$rc" 0 "tunetrail run of the sweep"
trials_json --study sweep
tt trials --store "$DB" --study sweep >"$T/table.txt" || fail "tunetrail trials failed"
cat "$T/table.txt"

# table.py FILE: the table as {"header": [names], "rows": [{name: cell}]},
# cells cut at the header's columns (left-aligned cells start where their
# name starts; right-aligned metric cells end where their name ends).
cat >"$T/table.py" <<'PY'
import json, re, sys
lines = open(sys.argv[1]).read().splitlines()
head = lines[0]
cols = [(m.group(), m.start(), m.end()) for m in re.finditer(r"\S+", head)]
rows = []
for line in lines[1:]:
    if not re.match(r"^\s*\d+\s", line):
        break
    row = {}
    for i, (name, s, e) in enumerate(cols):
        if name == "ID" or name in sys.argv[2:]:   # right-aligned
            prev = cols[i - 1][2] if i else 0
            row[name] = line[prev:e].strip()
        else:
            nxt = cols[i + 1][1] if i + 1 < len(cols) else len(line)
            row[name] = line[s:nxt].strip()
    rows.append(row)
print(json.dumps({"header": [c[0] for c in cols], "rows": rows,
                  "footer": lines[1 + len(rows):]}))
PY
table() { /usr/bin/python3 "$T/table.py" "$1" cv_accuracy >"$1.json" || fail "cannot parse $1"; }
table "$T/table.txt"

say "a sweep whose runs each write a model file, under --trial svm-train: only choices are columns"
tt_rc rc run --study paths --store "$DB" --trial svm-train -- sh -c \
    'for c in 1 4 16; do svm-train -c $c heart_scale m_$c.model; done' >/dev/null
expect_eq "$rc" 0 "tunetrail run of the model-writing sweep"
tt trials --store "$DB" --study paths >"$T/paths.txt" || fail "tunetrail trials --study paths failed"
cat "$T/paths.txt"
/usr/bin/python3 "$T/table.py" "$T/paths.txt" >"$T/paths.json" || fail "cannot parse the paths table"
pycheck '
tab = json.load(open(args[0]))
h = tab["header"]
check("libsvm.C" in h, "the choice libsvm.C is a column: %s" % h)
check("libsvm.model_file" not in h, "the model file (a path) is not a column: %s" % h)
check("c" not in h, "argv -c, restating libsvm.C, is not a column: %s" % h)
foot = " ".join(tab["footer"])
check("libsvm.model_file (path)" in foot and "c (info)" in foot,
      "the varied non-choices are named below the table with their roles: %r" % foot[:160])
' "$T/paths.json"

say "the table: cv_accuracy and libsvm.C columns, constant keys below, values as --json"
pycheck '
tab = json.load(open(args[0]))
h = tab["header"]
check(len(trials) == 5, "5 trials (got %d)" % len(trials))
check(h[:3] == ["ID", "STATUS", "cv_accuracy"], "status then the metric first: %s" % h[:4])
check("libsvm.C" in h, "the varied key libsvm.C is a column: %s" % h)
for k in ("libsvm.kernel_type", "libsvm.eps", "libsvm.gamma", "libsvm.nr_fold"):
    check(k not in h, "constant key %s is not a column" % k)
foot = " ".join(tab["footer"])
check("libsvm.kernel_type=RBF" in foot and "libsvm.nr_fold=5" in foot,
      "constant keys are listed once below the table: %r" % foot[:120])
check(h.index("libsvm.C") < h.index("STARTED"), "varied keys come before STARTED and EXE")
rows = tab["rows"]
check([int(r["ID"]) for r in rows] == [t["id"] for t in trials], "table rows = --json trials, same order")
for r, t in zip(rows, trials):
    check(r["STATUS"] == t["status"] == "ok", "trial %s status ok" % t["id"])
    check(r["libsvm.C"] == t["params"]["libsvm.C"], "trial %s libsvm.C %s" % (t["id"], r["libsvm.C"]))
    check(r["cv_accuracy"] == "%.6g" % t["metrics"]["cv_accuracy"],
          "trial %s cv_accuracy %s" % (t["id"], r["cv_accuracy"]))
check([t["params"]["libsvm.C"] for t in trials] == ["8", "0.5", "2", "32", "4"],
      "trials listed in the order they ran (C = 8, 0.5, 2, 32, 4)")
' "$T/table.txt.json"

say "start order, not id order: two pattern trials whose ids are the reverse of their starts"
# `cat p` starts first and blocks until sh opens p for writing (which
# waits for that reader); `cat /dev/null` runs and ends; once its trial is
# in the store (the only trial there: a sync point, polled with sqlite3
# because an ASan-built tunetrail cannot run under the shim), sh closes p
# and `cat p` ends. A pattern trial gets its id when the agent sees its
# process end, so the first started has the larger id. (Waiting for the store, not for time: the agent may hold a process's
# end while it hashes its files.)
mkfifo "$T/p"
ODB=$T/order.db # its own store: the sync point counts its trials
tt_rc rc run --study order --trial cat --store "$ODB" -- sh -c \
    'cat p >/dev/null & exec 3>p; cat /dev/null
     /usr/bin/python3 -c "$0" "$1"; exec 3>&-; wait' '
import sqlite3, sys, time
while True:  # until the first trial is stored (bounded by the test timeout)
    try:
        if sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM trials").fetchone()[0]:
            break
    except sqlite3.Error:
        pass
    time.sleep(0.1)' "$ODB"
expect_eq "$rc" 0 "tunetrail run of the two cats"
tt trials --store "$ODB" --study order >"$T/order.txt" || fail "tunetrail trials --study order failed"
table "$T/order.txt"
tt trials --store "$ODB" --study order --json >"$T/trials.json" || fail "tunetrail trials --json --study order failed"
pycheck '
rows = json.load(open(args[0]))["rows"]
check(len(trials) == 2, "2 trials (got %d)" % len(trials))
check([t["argv"][1] for t in trials] == ["p", "/dev/null"], "--json: cat p (started first) first")
check(trials[0]["started"] <= trials[1]["started"], "--json: in start order")
check(trials[0]["id"] > trials[1]["id"], "the first started has the larger id (else this check proves nothing)")
check([int(r["ID"]) for r in rows] == [t["id"] for t in trials], "the table lists them in start order too")
' "$T/order.txt.json"

say "--sort and --top select the right rows"
trials_json --study sweep
cp "$T/trials.json" "$T/sweep.json"
tt trials --store "$DB" --study sweep --sort cv_accuracy >"$T/s1.txt" 2>"$T/s1.err" || fail "--sort cv_accuracy failed"
tt trials --store "$DB" --study sweep --sort +libsvm.C >"$T/s2.txt" || fail "--sort +libsvm.C failed"
tt trials --store "$DB" --study sweep --top 2 >"$T/s3.txt" || fail "--top 2 failed"
tt trials --store "$DB" --study sweep --sort -libsvm.C --top 1 --json >"$T/s4.json" || fail "--sort -libsvm.C --top 1 --json failed"
tt trials --store "$DB" --study sweep --sort +cv_accuracy --top 3 --json >"$T/s5.json" || fail "--sort +cv_accuracy failed"
for f in s1 s2 s3; do table "$T/$f.txt"; done
tt_rc rc trials --store "$DB" --study sweep --sort no_such_metric
expect_eq "$rc" 2 "--sort of an unknown name: usage error"
pycheck '
ids = lambda f: [int(r["ID"]) for r in json.load(open(f))["rows"]]
jids = lambda f: [json.loads(l)["id"] for l in open(f) if l.strip()]
pos = {t["id"]: i for i, t in enumerate(trials)}
cv = {t["id"]: t["metrics"]["cv_accuracy"] for t in trials}
C = {t["id"]: float(t["params"]["libsvm.C"]) for t in trials}
best = sorted(cv, key=lambda i: (-cv[i], pos[i]))   # direction max: highest first, ties in start order
check(ids(args[0]) == best, "--sort cv_accuracy: highest first %s (got %s)" % (best, ids(args[0])))
check("highest first" in open(args[5]).read(), "--sort says which way it sorted")
byc = sorted(C, key=lambda i: C[i])
check(ids(args[1]) == byc, "--sort +libsvm.C: numerically, lowest first %s (got %s)" % (byc, ids(args[1])))
check(ids(args[2]) == best[:2], "--top 2: the two best by the objective %s (got %s)" % (best[:2], ids(args[2])))
check(jids(args[3]) == [max(C, key=lambda i: C[i])], "--sort -libsvm.C --top 1 --json: the C=32 trial")
worst = sorted(cv, key=lambda i: (cv[i], pos[i]))[:3]
check(jids(args[4]) == worst, "--sort +cv_accuracy --top 3 --json: the three worst %s" % worst)
' "$T/s1.txt.json" "$T/s2.txt.json" "$T/s3.txt.json" "$T/s4.json" "$T/s5.json" "$T/s1.err"

say "--csv reads back with Python's csv module: the trials and values of --json"
tt trials --store "$DB" --study sweep --csv >"$T/sweep.csv" || fail "tunetrail trials --csv failed"
head -c 400 "$T/sweep.csv"; echo
timeout 60 /usr/bin/python3 - "$T/sweep.csv" "$T/sweep.json" <<'PY' || fail "the CSV does not match --json"
import csv, json, sys
def check(cond, msg):
    if not cond:
        print("[trials_table] FAIL: " + msg, file=sys.stderr)
        sys.exit(1)
    print("[trials_table]   ok: " + msg)
raw = open(sys.argv[1], "rb").read()
check(raw.count(b"\r\n") == raw.count(b"\n") == 6, "RFC 4180: 6 records, each ended by CRLF")
with open(sys.argv[1], newline="") as f:
    rows = list(csv.DictReader(f))
trials = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
cols = list(rows[0].keys())
check(cols[:3] == ["trial", "status", "started"], "first columns trial, status, started: %s" % cols[:4])
check(cols.index("cv_accuracy") < cols.index("libsvm.C"), "metrics before params")
check([int(r["trial"]) for r in rows] == [t["id"] for t in trials], "same trials, same order as --json")
for r, t in zip(rows, trials):
    check(r["status"] == t["status"] and r["started"] == t["started"] and r["uuid"] == t["uuid"],
          "trial %s: status, started, uuid" % t["id"])
    v, w = float(r["cv_accuracy"]), t["metrics"]["cv_accuracy"]
    check(abs(v - w) <= 1e-12 * abs(w), "trial %s: cv_accuracy %r = %r" % (t["id"], r["cv_accuracy"], w))
    for k, val in t["params"].items():
        check(r.get(k) == val, "trial %s: %s = %r (csv %r)" % (t["id"], k, val, r.get(k)))
    check(set(r) == set(cols), "trial %s: no extra or missing cell" % t["id"])
check(any(r["libsvm.weight_label"] == "[1, -1]" for r in rows), "a value with a comma reads back whole")
PY
echo "[$TT_NAME] PASS"
