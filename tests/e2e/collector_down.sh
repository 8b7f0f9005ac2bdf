#!/usr/bin/env bash
# collector_down.sh - nothing is lost when the collector is down: runs against
# a port where nothing listens finish with their command's exit code and leave
# a spool; after tunetraild starts, `tunetrail flush` ships everything, and the
# collector's store matches (trial for trial, process count for process count)
# a reference run of the same workload into an embedded store. A second flush
# duplicates nothing.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild" "$TT_PROGS/tt_envi_exec" "$TT_PROGS/tt_forktree"
P=$TT_PROGS
cd "$T"
echo "input" >"$T/in.txt"
mkdir -p "$T/tree"
for r in root c0 c1 g0 g1; do echo "$r" >"$T/tree/$r"; done
PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT
DB2=$T/collector.db

# workload STORE_OR_COLLECTOR_ARGS... - the same two runs each time.
workload() {
    local rc
    tt_rc rc run --study down "$@" --trial 'tt_*' -- "$P/tt_envi_exec" "$P/tt_exit3" "$T/in.txt"
    expect_eq "$rc" 3 "tunetrail run $* (env -i exec of tt_exit3) exit code"
    tt_rc rc run --study down "$@" --trial 'tt_*' -- "$P/tt_forktree" "$T/tree"
    expect_eq "$rc" 0 "tunetrail run $* (fork tree) exit code"
}

# summary STORE OUT - a canonical summary of study `down` in STORE: the trial
# and process counts, the studies --json counters, and the sorted (exe,
# status, exit code, signal[, inputs, outputs]) of every process and trial.
summary() {
    tt trials --store "$1" --study down --json >"$T/sum.trials" || fail "tunetrail trials --store $1 failed"
    tt studies --store "$1" --json >"$T/sum.studies" || fail "tunetrail studies --store $1 failed"
    procs_json down "$1"
    timeout 60 python3 - "$T/sum.trials" "$T/sum.studies" "$T/procs.json" >"$2" <<'PY' || fail "cannot summarise $1"
import json, os, sys
trials = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ids = [t["id"] for t in trials]
assert len(ids) == len(set(ids)), "duplicate trial ids: %s" % ids
rows = sorted(json.dumps([os.path.basename(t.get("exe") or ""), t.get("status"), t.get("exit_code"),
                          t.get("signal"),
                          sorted((i["path"], i.get("sha256")) for i in t.get("inputs") or []),
                          sorted((o["path"], o.get("sha256")) for o in t.get("outputs") or [])])
              for t in trials)
st = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
st = [s for s in st if s.get("study", s.get("name")) == "down"]
assert len(st) == 1, "study down listed %d times" % len(st)
counts = {k: v for k, v in st[0].items() if k not in ("study", "first", "last")}
procs = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
uu = [p["uuid"] for p in procs]
assert len(uu) == len(set(uu)), "a process stored twice"
print("trials", len(trials))
print("processes", len(procs))
print("counts", json.dumps(counts, sort_keys=True))
for p in sorted(json.dumps([os.path.basename(p["exe"] or ""), p["relation"], p["status"], p["exit_code"],
                            p["signal"]]) for p in procs):
    print("process", p)
for r in rows:
    print(r)
PY
}

say "reference: the workload into an embedded store"
export TUNETRAIL_HOME=$T/home-ref
mkdir -p "$TUNETRAIL_HOME"
workload --store "$T/ref.db"
summary "$T/ref.db" "$T/ref.sum"
grep -q '^trials [1-9]' "$T/ref.sum" || fail "reference run recorded no trials"

say "collector down: runs complete with their exit codes and leave a spool"
export TUNETRAIL_HOME=$T/home
workload --collector "$EP"
n=$(find "$TUNETRAIL_HOME/spool" -type f -size +0 2>/dev/null | wc -l)
[ "$n" -ge 1 ] || fail "no spool file under $TUNETRAIL_HOME/spool after runs with the collector down"
echo "[$TT_NAME]   ok: $n spool file(s) left"

say "tunetraild up, tunetrail flush ships everything once"
tt_start_collector cpid "$PORT" "$DB2" "$T/collector.log"
tt_rc rc flush --collector "$EP"
expect_eq "$rc" 0 "tunetrail flush exit code"
summary "$DB2" "$T/got.sum"
diff "$T/ref.sum" "$T/got.sum" >&2 || fail "collector store after flush differs from the reference run"
echo "[$TT_NAME]   ok: collector store == reference ($(head -1 "$T/got.sum"))"

say "a second flush duplicates nothing"
tt_rc rc flush --collector "$EP"
expect_eq "$rc" 0 "second tunetrail flush exit code"
summary "$DB2" "$T/got2.sum"
diff "$T/ref.sum" "$T/got2.sum" >&2 || fail "second flush changed the collector store"
echo "[$TT_NAME]   ok: unchanged after a second flush"

tt_stop "$cpid" TERM
echo "[$TT_NAME] PASS"
