#!/usr/bin/env bash
# origin_guard.sh - another origin cannot rewrite or erase a run.
# 1. While a real run (two svm-train trials) waits, 2000 notes forged for its
#    session's origin (seqs 0..1999, from a fresh sender) are refused and
#    counted; the run's later events are all stored and attest/verify say OK.
# 2. A ProcessStart for the run's svm-train process and a Metric for its
#    trial, from a fresh origin: refused; the process, the trial and the
#    study log unchanged.
# 3. An (origin, seq) sent again with other bytes is a conflict, with the
#    same bytes a duplicate. tunetraild's summary counts each.
source "$(dirname "$0")/lib/common.sh"
tt_requires_adapter libsvm
need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild" "$TT_PROGS/tt_zmq_send" svm-train
cd "$T"
cp /usr/share/doc/liblinear-tools/examples/heart_scale "$T/heart_scale"
PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT
LOG=$T/collector.log
tt_start_collector cpid "$PORT" "$DB" "$LOG"
tt keygen >/dev/null

# forge OUT SENDER_HEX BATCH_SEQ KIND ARGS... - writes one packed Batch.
#   notes ORIGIN_HEX FIRST N        N notes of ORIGIN, seqs FIRST..FIRST+N-1, each
#                                   a tunetrail.ini (level conventions) `show` would print
#   note ORIGIN_HEX SEQ TEXT        one note
#   takeover ORIGIN_HEX PROC_HEX TRIAL_HEX   a ProcessStart for PROC (seq 0)
#                                   and a Metric cv_accuracy=100 for TRIAL (seq 1)
forge() {
    timeout 30 python3 - "$@" <<'PY' || fail "cannot forge a batch"
import os, struct, sys
sys.path.insert(0, os.environ["TT_E2E_LIB"])
from pbfake import varint, field, s, event, batch
out, sender, bseq, kind = sys.argv[1], bytes.fromhex(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
a = sys.argv[5:]
evs = []
if kind == "notes":
    o = bytes.fromhex(a[0])
    for q in range(int(a[1]), int(a[1]) + int(a[2])):
        evs.append(event(o, q, 19, s(2, "conventions") + s(3, '{"forged": %d}' % q)))
elif kind == "note":
    evs.append(event(bytes.fromhex(a[0]), int(a[1]), 19, s(2, "info") + s(3, a[2])))
elif kind == "takeover":
    o, p, t = (bytes.fromhex(x) for x in a[:3])
    evs.append(event(o, 0, 12, s(1, p) + s(7, "/evil/exe") + s(10, "evil")))
    evs.append(event(o, 1, 17, s(1, t) + s(2, "cv_accuracy") + field(3, 1, struct.pack("<d", 100.0))
                     + s(6, "max")))
open(out, "wb").write(batch(sender, bseq, evs))
PY
}
send() { timeout 30 "$TT_PROGS/tt_zmq_send" "$EP" file "$1" >/dev/null || fail "tt_zmq_send $1 failed"; }
newuuid() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }

say "a run waits; 2000 notes forged for its session's origin are sent meanwhile"
cat >"$T/job.sh" <<'SH'
while [ ! -e go ]; do sleep 0.05; done
svm-train -v 3 heart_scale >/dev/null
svm-train -c 4 heart_scale m.model >/dev/null
SH
tt_bg rpid "$TT_BIN/tunetrail" run --study guard --collector "$EP" --trial svm-train -- /bin/bash "$T/job.sh"
SESSION=
for _ in $(seq 1 400); do
    SESSION=$(tt processes --store "$DB" --study guard --json 2>/dev/null |
        python3 -c 'import json,sys; print(next((json.loads(l)["session"] for l in sys.stdin if l.strip()), ""))' || true)
    [ -n "$SESSION" ] && break
    sleep 0.05
done
[ -n "$SESSION" ] || fail "the run's session did not reach the store"
FORGER=$(newuuid)
forge "$T/forged.bin" "$FORGER" 0 notes "$SESSION" 0 2000
send "$T/forged.bin"
touch "$T/go"
rrc=0
wait "$rpid" || rrc=$?
expect_eq "$rrc" 0 "tunetrail run exit status"

trials_json --study guard
pycheck '
check(len(trials) == 2, "both svm-train trials stored (got %d)" % len(trials))
check(all(t["status"] == "ok" for t in trials), "both ok (%r)" % [t["status"] for t in trials])
check(any("cv_accuracy" in t["metrics"] for t in trials), "the cross-validation metric is stored")
check(all(t["params"] for t in trials), "params stored")
'
for id in $(python3 -c 'import json,sys; [print(json.loads(l)["id"]) for l in open(sys.argv[1]) if l.strip()]' "$T/trials.json"); do
    tt show --store "$DB" --json "$id" >"$T/show.json" || fail "show $id failed"
    grep -q forged "$T/show.json" && fail "trial $id shows a forged note: $(grep -o '"conventions":[^}]*}' "$T/show.json")"
done
echo "[$TT_NAME]   ok: no trial shows a forged note"
tt processes --store "$DB" --study guard --json >"$T/procs.json" || fail "tunetrail processes failed"
expect_eq "$(grep -c '"status":"running"' "$T/procs.json" || true)" 0 "processes left running"
tt attest --store "$DB" --study guard --objective cv_accuracy:max "$T/m.model" -o "$T/r.json" \
    >"$T/attest.out" 2>&1 || fail "attest failed: $(cat "$T/attest.out")"
tt verify "$T/r.json" "$T/m.model" >"$T/verify.out" 2>&1 || fail "verify failed: $(cat "$T/verify.out")"
grep -q "^verify: OK" "$T/verify.out" || fail "verify: $(cat "$T/verify.out")"
echo "[$TT_NAME]   ok: attest 2 trials, verify OK"

say "a ProcessStart and a Metric from a fresh origin for the run's process and trial: refused"
read -r PROC TRIAL <<<"$(python3 -c '
import json, sys
t = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
t = [x for x in t if "cv_accuracy" in x["metrics"]][0]
print(t["process"], t["uuid"])' "$T/trials.json")"
tt show --store "$DB" --json "$TRIAL" >"$T/before.json" || fail "show $TRIAL failed"
tt log --store "$DB" --study guard --json >"$T/log.before" || fail "tunetrail log failed"
EVIL=$(newuuid)
forge "$T/takeover.bin" "$EVIL" 0 takeover "$EVIL" "$PROC" "$TRIAL"
send "$T/takeover.bin"
tt show --store "$DB" --json "$TRIAL" >"$T/after.json" || fail "show $TRIAL failed"
python3 - "$T/before.json" "$T/after.json" <<'PY' || fail "the forged events changed the trial"
import json, sys
b, a = (json.load(open(f)) for f in sys.argv[1:3])
for k in ("exe", "argv", "metrics", "metric_points", "status"):
    assert a[k] == b[k], "%s changed: %r -> %r" % (k, b[k], a[k])
assert a["processes"][0]["exe"] == b["processes"][0]["exe"], "process exe changed"
PY
echo "[$TT_NAME]   ok: exe, argv, metrics unchanged"
tt log --store "$DB" --study guard --json >"$T/log.after" || fail "tunetrail log failed"
expect_eq "$(wc -l <"$T/log.after")" "$(wc -l <"$T/log.before")" "study log entries"

say "an (origin, seq) again with other bytes is a conflict, with the same bytes a duplicate"
G=$(newuuid)
forge "$T/a.bin" "$G" 0 note "$G" 0 first
forge "$T/b.bin" "$G" 1 note "$G" 0 second
send "$T/a.bin"
send "$T/b.bin"
send "$T/a.bin"

say "tunetraild's summary counts the refusals and the conflict"
kill -TERM "$cpid"
timeout 30 tail --pid="$cpid" -f /dev/null || fail "tunetraild did not stop"
line=$(grep -E ' event=summary .*refused=' "$LOG" | tail -n 1)
[ -n "$line" ] || { cat "$LOG" >&2; fail "no summary line with refused=N"; }
echo "[$TT_NAME]   summary: $line"
expect_eq "$(sed -E 's/.* refused=([0-9]+).*/\1/' <<<"$line")" 2002 "refused (2000 notes, ProcessStart, Metric)"
expect_eq "$(sed -E 's/.* conflicts=([0-9]+).*/\1/' <<<"$line")" 1 "conflicts"
grep -q " event=batch .* conflicts=1 " "$LOG" || fail "the conflict is not logged"
echo "[$TT_NAME] PASS"
