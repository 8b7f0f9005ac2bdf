#!/usr/bin/env bash
# daemon_hwm.sh - memory stays bounded with many clients (issue 12, part 4):
# 64 agents (tt_zmq_agents: a DEALER each, as the agent) queue 12 big batches
# each (40 notes of 8 KiB: ~330 KB a batch, ~250 MiB in all) while tunetraild
# is stopped (SIGSTOP); on SIGCONT they all send at once. With --client-hwm 2
# the daemon reads at most ~2 batches of each connection ahead of its store
# (libzmq stops reading a connection at its mark; TCP pushes back), so its
# peak RSS (VmHWM in /proc) stays within 64 x (2 + 1) batches, one group of
# 32 and 64 MiB for SQLite (its cache is 16 MiB), libzmq and the allocator:
# ~135 MiB in all (measured: 98-110 MiB), far below the 250 MiB sent
# (without the mark: 223 MiB). Nothing is lost: every agent's batches are
# acked and every note is stored once.
# `tunetrail status` counts the connections that reached their mark.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild" "$TT_PROGS/tt_zmq_agents" sqlite3
cd "$T"
AGENTS=64 BATCHES=12 EVENTS=40 NOTE=8192 HWM=2
PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT
LOG=$T/d.log
# Under AddressSanitizer (-DTT_SANITIZE=ON) freed memory waits in a 256 MiB
# quarantine before reuse: without it the daemon's RSS is its own again.
if ldd "$TT_BIN/tunetraild" | grep -q libasan; then
    export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0
fi
tt_bg dpid "$TT_BIN/tunetraild" --bind "$EP" --store "$DB" --create --client-hwm "$HWM" >>"$LOG" 2>&1
wait_port "$PORT"
kb() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$dpid/status"; }

say "$AGENTS agents queue $BATCHES batches of $EVENTS x $NOTE-byte notes each; the daemon is stopped"
base_kb=$(kb VmHWM)
kill -STOP "$dpid"
tt_bg apid timeout -k 5 300 "$TT_PROGS/tt_zmq_agents" "$EP" "$AGENTS" "$BATCHES" "$EVENTS" "$NOTE" "$T/ready" \
    >"$T/agents.out" 2>"$T/agents.err"
wait_file "$T/ready"
kill -CONT "$dpid"
rc=0
wait "$apid" || rc=$?
expect_eq "$rc" 0 "tt_zmq_agents exit code (every batch acked): $(cat "$T/agents.out" "$T/agents.err")"
echo "[$TT_NAME]   agents: $(cat "$T/agents.out")"

say "every note stored once"
want=$((AGENTS * BATCHES * EVENTS))
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM notes")" "$want" "notes stored"
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM (SELECT DISTINCT origin_id, seq FROM notes)")" "$want" "distinct (origin, seq)"
expect_eq "$(sqlite3 "$DB" "SELECT count(DISTINCT origin_id) FROM notes")" "$AGENTS" "origins (one per agent)"

say "peak RSS bounded by the marks, not by what was sent"
peak_kb=$(kb VmHWM)
batch_kb=$(( (EVENTS * (NOTE + 48) + 64) / 1024 ))
sent_kb=$((AGENTS * BATCHES * batch_kb))
bound_kb=$(( (AGENTS * (HWM + 1) + 32) * batch_kb + 64 * 1024 ))
echo "[$TT_NAME]   peak RSS grew $(( (peak_kb - base_kb) / 1024 )) MiB (idle $((base_kb / 1024)) MiB) for $((sent_kb / 1024)) MiB sent; bound $((bound_kb / 1024)) MiB"
[ $((peak_kb - base_kb)) -le "$bound_kb" ] || fail "peak RSS grew $((peak_kb - base_kb)) kB, over the bound $bound_kb kB"
echo "[$TT_NAME]   ok: growth <= $((bound_kb / 1024)) MiB"

say "status counts the marks reached"
tt status --collector "$EP" --json >"$T/status.json" || fail "status failed"
/usr/bin/python3 - "$T/status.json" "$want" "$HWM" <<'PY' || fail "status (above): $(cat "$T/status.json")"
import json, sys
st = json.load(open(sys.argv[1]))
assert st["client_hwm"] == int(sys.argv[3]), "client_hwm"
assert st["hwm_reached"] >= 1, "hwm_reached"
assert st["events"] == int(sys.argv[2]), "events"
print("[daemon_hwm]   ok: status: client_hwm=%d hwm_reached=%d events=%d peak_connections=%d"
      % (st["client_hwm"], st["hwm_reached"], st["events"], st["peak_connections"]))
PY
tt_stop "$dpid"
logfmt_check "$LOG"
echo "[$TT_NAME] PASS"
