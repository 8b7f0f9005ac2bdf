#!/usr/bin/env bash
# daemon_status.sh - `tunetrail status` against a real tunetraild with CURVE
# (issue 12, part 4):
#   - bad flags exit 2 naming the flag; a down collector exits 1 with
#     "collector EP did not answer within N s";
#   - after real svm-train runs of an allowed client, its status (text and
#     --json) reports the batches and events the store holds (table
#     `received`), the store's kind, path and size, lag 0 when idle, and
#     the asker's identity;
#   - a client with an unlisted key and a client without CURVE are refused
#     and show in refused-by-reason (auth_unknown_key, auth_no_key); the
#     unlisted key cannot ask either (exit 1);
#   - every line of the daemon's log is logfmt with ts= level= event=, and
#     its summary at stop carries the same counters.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild" svm-train sqlite3
DATA=/usr/share/doc/liblinear-tools/examples/heart_scale
[ -r "$DATA" ] || { echo "no $DATA" >&2; exit 77; }
cd "$T"
SRV=$T/srv
tt keygen --curve -o "$SRV" >/dev/null || fail "keygen --curve failed"
for u in alice eve; do
    TUNETRAIL_HOME=$T/$u tt keygen --curve >/dev/null || fail "keygen --curve for $u failed"
done
printf '%s alice@gpu-1\n' "$(cat "$T/alice/keys/curve.pub")" >"$T/clients"
PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT
# status USER ARG... - `tunetrail status` as USER against $EP, pinning the collector's curve.pub.
status() {
    local u=$1
    shift
    TUNETRAIL_HOME=$T/$u tt status --collector "$EP" --collector-key "$SRV/curve.pub" "$@"
}

say "bad flags: exit 2, naming the flag"
tt_rc rc status --collector "$EP" --bogus 2>"$T/bad.err"
expect_eq "$rc" 2 "exit code on an unknown option"
grep -q "unknown option '--bogus'" "$T/bad.err" || fail "the flag is not named: $(cat "$T/bad.err")"
tt_rc rc status --collector "$EP" --timeout soon 2>"$T/bad.err"
expect_eq "$rc" 2 "exit code on a bad --timeout"
grep -q -- "--timeout wants seconds from 1 to 3600, got 'soon'" "$T/bad.err" || fail "unclear: $(cat "$T/bad.err")"
tt_rc rc status 2>"$T/bad.err"
expect_eq "$rc" 2 "exit code without --collector"
grep -q -- "--collector ENDPOINT is required" "$T/bad.err" || fail "unclear: $(cat "$T/bad.err")"
tt status --help >"$T/help" || fail "status --help failed"
grep -q "auth_unknown_key" "$T/help" && grep -q "^Lag:" "$T/help" || fail "--help does not explain the reasons and the lag"

say "a down collector: exit 1 with the message"
rc=0
status alice --timeout 2 >"$T/down.out" 2>"$T/down.err" || rc=$?
expect_eq "$rc" 1 "exit code against a down collector"
grep -qx "tunetrail status: collector $EP did not answer within 2 s" "$T/down.err" || fail "unclear: $(cat "$T/down.err")"

tt_bg dpid "$TT_BIN/tunetraild" --bind "$EP" --store "$DB" --create --curve-key "$SRV/curve.key" \
    --clients "$T/clients" --client-hwm 4 >>"$T/d.log" 2>&1
wait_port "$PORT"

say "real svm-train runs of an allowed client"
for c in 1 4; do
    rc=0
    TUNETRAIL_HOME=$T/alice tt run --study heart --collector "$EP" --collector-key "$SRV/curve.pub" -- \
        svm-train -q -c "$c" "$DATA" "$T/m$c.model" 2>"$T/run$c.err" || rc=$?
    expect_eq "$rc" 0 "tunetrail run exit code (-c $c)"
done
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM trial_view WHERE study = 'heart'")" 2 "trials stored"

say "refused clients: an unlisted key, and one without CURVE"
rc=0
TUNETRAIL_HOME=$T/eve tt run --study heart --collector "$EP" --collector-key "$SRV/curve.pub" -- \
    svm-train -q "$DATA" "$T/eve.model" 2>"$T/eve.err" || rc=$?
expect_eq "$rc" 0 "eve's run exit code (her command's)"
rc=0
TUNETRAIL_HOME=$T/eve tt run --study plain --collector "$EP" -- svm-train -q "$DATA" "$T/plain.model" \
    2>"$T/plain.err" || rc=$?
expect_eq "$rc" 0 "the plain run's exit code"
rc=0
status eve --timeout 3 >"$T/eve.out" 2>"$T/eve.st.err" || rc=$?
expect_eq "$rc" 1 "status asked with an unlisted key"
grep -q "refused this client's CURVE key" "$T/eve.st.err" || fail "eve was not told: $(cat "$T/eve.st.err")"

say "status (text and --json) reports what the store holds"
status alice >"$T/status.txt" || fail "status failed: $(cat "$T/status.txt")"
cat "$T/status.txt"
status alice --json >"$T/status.json" || fail "status --json failed"
expect_eq "$(wc -l <"$T/status.json")" 1 "lines of status --json"
read -r nb ne <<<"$(sqlite3 -separator ' ' "$DB" "SELECT count(*), sum(stored) FROM received")"
dbsize=$(( $(stat -c %s "$DB") ))
/usr/bin/python3 - "$T/status.json" "$nb" "$ne" "$DB" "$dbsize" "$T/status.txt" <<'PY' || fail "status does not match the store (above)"
import json, sys, time
st = json.load(open(sys.argv[1]))
nb, ne, db, dbsize = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
text = open(sys.argv[6]).read()
def check(cond, msg):
    if not cond:
        sys.exit("FAIL: %s: %s" % (msg, json.dumps(st)))
    print("[daemon_status]   ok: " + msg)
check(st["events"] == ne, "events = the store's sum(received.stored) = %d" % ne)
# A batch whose ack was late is resent and answered a duplicate: committed
# too, but `received` has rows only for batches that stored something.
check(st["batches"] >= nb > 0, "batches %d >= the store's %d" % (st["batches"], nb))
r = st["refused"]
check(r["auth_unknown_key"] >= 1, "auth_unknown_key = %d >= 1 (eve)" % r["auth_unknown_key"])
check(r["auth_no_key"] >= 1, "auth_no_key = %d >= 1 (the plain client)" % r["auth_no_key"])
check(r["forbidden"] == 0 and r["revoked"] == 0 and r["dropped_peer_bytes"] == 0, "nothing else refused")
check(st["store_kind"] == "sqlite" and st["store_path"] == db, "store sqlite %s" % db)
check(st["store_bytes"] >= dbsize > 0, "store_bytes %d >= the file's %d" % (st["store_bytes"], dbsize))
check(st["lag_ms"] == 0, "lag 0 while idle")
now = time.time_ns()
check(st["started_ns"] < st["last_commit_ns"] <= now, "last commit after the start, before now")
check(st["uptime_ms"] > 0 and st["connections"] >= 1, "uptime > 0, this client connected")
check(st["curve"] is True and st["identity"] == "alice@gpu-1", "asked over CURVE as alice@gpu-1")
check(st["client_hwm"] == 4, "client_hwm 4 (--client-hwm)")
check("ingested    %d batches, %d events" % (st["batches"], st["events"]) in text, "the text says the same")
check("auth_unknown_key=%d" % r["auth_unknown_key"] in text, "the text names auth_unknown_key")
PY

say "the daemon's log: logfmt, and its summary carries the same counters"
tt_stop "$dpid"
logfmt_check "$T/d.log"
expect_eq "$(logfmt_get "$T/d.log" summary events)" "$ne" "events in the summary"
[ "$(logfmt_get "$T/d.log" auth_refused reason reason=auth_unknown_key)" = auth_unknown_key ] ||
    fail "no auth_refused line for eve: $(cat "$T/d.log")"
expect_eq "$(logfmt_get "$T/d.log" start client_hwm)" 4 "client_hwm in the start line"
echo "[$TT_NAME] PASS"
