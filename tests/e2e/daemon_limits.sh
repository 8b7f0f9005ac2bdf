#!/usr/bin/env bash
# daemon_limits.sh - no client can exhaust tunetraild (issue 15, item 9):
#  - a multipart bomb (128 frames of 16 MiB = 2 GiB in one message): the
#    daemon's peak RSS (VmHWM in /proc) stays far below the bomb, the
#    connection is dropped and counted (dropped_peer_bytes=1);
#  - a connection flood (300 idle TCP connections, --max-connections 40):
#    while it holds, the daemon's open fds (/proc/PID/fd) stay within 40 of
#    its idle count, a normal run through it is stored (expected 1 trial,
#    exact), and the drops are counted (dropped_idle).
# Figures come from /proc, never from a clock.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild" "$TT_PROGS/tt_zmq_bomb"
cd "$T"
echo data >"$T/in.txt"
MAXC=40
PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT
LOG=$T/collector.log
tt_bg cpid "$TT_BIN/tunetraild" --bind "$EP" --store "$DB" --create --max-connections "$MAXC" >>"$LOG" 2>&1
wait_port "$PORT"

kb() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$cpid/status"; }
nfds() { ls "/proc/$cpid/fd" | wc -l; }
alive() { kill -0 "$cpid" 2>/dev/null || { tail -n 20 "$LOG" >&2; fail "tunetraild died after $1"; }; }

say "a multipart bomb of 128 x 16 MiB"
base_kb=$(kb VmHWM)
timeout 120 "$TT_PROGS/tt_zmq_bomb" "$EP" 128 16 || fail "tt_zmq_bomb failed"
alive "the bomb"
peak_kb=$(kb VmHWM)
bomb_kb=$((128 * 16 * 1024))
echo "[$TT_NAME]   peak RSS $((peak_kb / 1024)) MiB (idle $((base_kb / 1024)) MiB) for a $((bomb_kb / 1024)) MiB message"
# The limit is 64 MiB in flight per connection; a quarter of the bomb leaves
# room for what arrives between two checks on a fast machine.
[ "$peak_kb" -lt $((bomb_kb / 4)) ] || fail "peak RSS $peak_kb kB is not below a quarter of the bomb ($((bomb_kb / 4)) kB)"
echo "[$TT_NAME]   ok: peak RSS < $((bomb_kb / 4 / 1024)) MiB"
grep -q " event=limit reason=max_peer_bytes action=dropped peer=127.0.0.1:[0-9]* inflight=[0-9]* error=\"[0-9]* bytes in flight, over --max-peer-bytes" "$LOG" ||
    { tail -n 5 "$LOG" >&2; fail "the bomb's connection was not dropped for its bytes in flight"; }

say "a flood of 300 idle connections with --max-connections $MAXC"
base_fds=$(nfds)
# Each completes the ZMTP 3.0 handshake as a DEALER (greeting, NULL
# mechanism, READY), so libzmq's handshake timeout never closes it: an
# idle agent, as far as the daemon can tell.
timeout 120 /usr/bin/python3 - "$PORT" "$T/flood.ready" "$T/flood.done" <<'PY' &
import os, socket, struct, sys, time
port, ready, done = int(sys.argv[1]), sys.argv[2], sys.argv[3]
greeting = b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\0") + b"\0" * 32
prop = b"\x0bSocket-Type" + struct.pack(">I", 6) + b"DEALER"
body = b"\x05READY" + prop
ready_cmd = b"\x04" + bytes([len(body)]) + body
conns = []
for _ in range(300):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(greeting + ready_cmd)
        conns.append(s)
    except OSError as e:
        print("flood: connect failed:", e, file=sys.stderr)
open(ready, "w").close()
while not os.path.exists(done):  # hold them until the test has measured
    time.sleep(0.05)
PY
fpid=$!
TT_BG_PIDS+=("$fpid")
timeout 60 bash -c "until [ -e '$T/flood.ready' ]; do sleep 0.05; done" || fail "the flood did not start"
# The daemon drops the excess as it sees the connections: wait (bounded)
# until it has caught up, then measure.
timeout 60 bash -c "until [ \$(ls /proc/$cpid/fd | wc -l) -le $((base_fds + MAXC)) ]; do sleep 0.1; done" ||
    fail "the daemon holds $(nfds) fds with 300 connections open (idle: $base_fds, limit $MAXC)"
tt_rc rc run --study flood --collector "$EP" -- cat "$T/in.txt" >/dev/null
expect_eq "$rc" 0 "a run through the flooded collector"
during=$(nfds)
echo "[$TT_NAME]   open fds during the flood: $during (idle $base_fds, --max-connections $MAXC)"
[ "$during" -le $((base_fds + MAXC + 1)) ] || fail "open fds $during > $base_fds + $MAXC + 1"
echo "[$TT_NAME]   ok: open fds <= $((base_fds + MAXC + 1))"
alive "the flood"
touch "$T/flood.done"
wait "$fpid" || true
n=$(tt trials --store "$DB" --study flood --json | wc -l)
expect_eq "$n" 1 "trials stored during the flood (expected 1)"

say "the counters in tunetraild's summary"
tt_stop "$cpid"
line=$(grep " event=summary " "$LOG" | tail -n 1)
echo "[$TT_NAME]   $line"
dpb=$(sed -E 's/.*dropped_peer_bytes=([0-9]+).*/\1/' <<<"$line")
didle=$(sed -E 's/.*dropped_idle=([0-9]+).*/\1/' <<<"$line")
expect_eq "$dpb" 1 "dropped_peer_bytes (the bomb)"
[ "$didle" -ge $((300 - MAXC)) ] || fail "dropped_idle=$didle, expected >= $((300 - MAXC))"
echo "[$TT_NAME]   ok: dropped_idle=$didle >= $((300 - MAXC))"
logfmt_check "$LOG"
echo "[$TT_NAME] PASS"
