#!/usr/bin/env bash
# daemon_drain.sh - SIGTERM drains tunetraild (issue 12, part 4): stopped
# while a real agent ships tt_writer's records through CURVE, it stores and
# acks what it had received, exits 0 with its summary line (drained=N); the
# agent spools the rest, and after a restart and `tunetrail flush` every
# event is stored exactly once (no origin's seq twice, no hole left) and
# all 400 written files are there once.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild" "$TT_PROGS/tt_writer" sqlite3
N=400
cd "$T"
mkdir -p "$T/w"
SRV=$T/srv
tt keygen --curve -o "$SRV" >/dev/null || fail "keygen --curve failed"
tt keygen --curve >/dev/null || fail "keygen --curve (client) failed"
printf '%s lab@node-1\n' "$(cat "$TUNETRAIL_HOME/keys/curve.pub")" >"$T/clients"
PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT
daemon() {
    tt_bg "$1" "$TT_BIN/tunetraild" --bind "$EP" --store "$DB" --create --curve-key "$SRV/curve.key" \
        --clients "$T/clients" >>"$T/d.log" 2>&1
    wait_port "$PORT"
}

daemon dpid
tt_bg runpid timeout -k 5 "$TT_TIMEOUT" "$TT_BIN/tunetrail" run --study drain --collector "$EP" \
    --collector-key "$SRV/curve.pub" --trial 'tt_*' -- "$TT_PROGS/tt_writer" "$T/w" "$N" 10
wait_file "$T/w/w-100"

say "SIGTERM mid-run: exit 0 and the summary line"
kill -TERM "$dpid"
timeout 30 tail --pid="$dpid" -f /dev/null || fail "tunetraild did not exit after SIGTERM"
rc=0
wait "$dpid" || rc=$?
expect_eq "$rc" 0 "tunetraild exit code after SIGTERM"
grep -Eq " level=info event=summary batches=[1-9][0-9]* .* drained=[0-9]+$" "$T/d.log" ||
    fail "no summary line with drained=: $(tail -n 3 "$T/d.log")"
wait_file "$T/w/w-200"

say "restart; the run ends, flush ships what it spooled"
daemon dpid2
rc=0
wait "$runpid" || rc=$?
expect_eq "$rc" 0 "tunetrail run exit code"
tt_rc rc flush --collector "$EP" --collector-key "$SRV/curve.pub"
expect_eq "$rc" 0 "tunetrail flush exit code"

say "every event stored once"
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM (SELECT origin_id, seq FROM (SELECT origin_id, seq FROM files
    UNION ALL SELECT origin_id, seq FROM params UNION ALL SELECT origin_id, seq FROM metrics
    UNION ALL SELECT origin_id, seq FROM notes) GROUP BY origin_id, seq HAVING count(*) > 1)")" 0 "events stored twice"
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM ahead")" 0 "events stored past a hole (one lost before them)"
trials_json --study drain
pycheck '
import os
n = int(args[0])
check(len(trials) == 1, "one trial (got %d)" % len(trials))
outs = [os.path.realpath(o["path"]) for o in trials[0].get("outputs") or []
        if os.path.basename(o["path"]).startswith("w-")]
check(len(outs) == len(set(outs)) == n, "%d written files once each (got %d, %d distinct)" % (n, len(outs), len(set(outs))))
' "$N"
tt_stop "$dpid2"
echo "[$TT_NAME] ok"
