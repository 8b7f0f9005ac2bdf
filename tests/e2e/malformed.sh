#!/usr/bin/env bash
# malformed.sh - hostile input never takes the collector down: random bytes on
# its raw TCP port, random bytes, a truncated valid-looking Batch and a 20 MiB
# message through a ZeroMQ DEALER. Afterwards tunetraild is alive, a normal
# run through it is stored, and its SIGTERM summary counts the rejects.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild" "$TT_PROGS/tt_zmq_send" "$TT_PROGS/tt_exit3"
cd "$T"
PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT
LOG=$T/collector.log
tt_start_collector cpid "$PORT" "$DB" "$LOG"

alive() { kill -0 "$cpid" 2>/dev/null || { cat "$LOG" >&2; fail "tunetraild died after $1"; }; }

say "random bytes over raw TCP"
timeout 30 python3 - "$PORT" <<'PY' || fail "could not send raw bytes"
import os, socket, sys
for size in (1, 64, 4096, 1 << 16):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    try:
        s.sendall(os.urandom(size))
    except OSError:
        pass  # the collector may hang up first: fine
    s.close()
# A ZMTP-looking greeting with a bogus mechanism.
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03\x00" + b"BOGUS".ljust(20, b"\0") + b"\0" * 32)
s.close()
PY
alive "raw TCP garbage"

say "random bytes, a truncated Batch and a 20 MiB message through a DEALER"
timeout 30 "$TT_PROGS/tt_zmq_send" "$EP" random 1000 || fail "tt_zmq_send random failed"
alive "random bytes via ZeroMQ"
timeout 30 "$TT_PROGS/tt_zmq_send" "$EP" truncated || fail "tt_zmq_send truncated failed"
alive "a truncated batch"
timeout 60 "$TT_PROGS/tt_zmq_send" "$EP" oversized 20 || fail "tt_zmq_send oversized failed"
alive "a 20 MiB message"
wait_port "$PORT"

say "a normal run through the collector still works"
echo "data" >"$T/in.txt"
tt_rc rc run --study after --collector "$EP" -- "$TT_PROGS/tt_exit3" "$T/in.txt"
expect_eq "$rc" 3 "tunetrail run exit code"
alive "a normal run"
trials_json --study after
pycheck '
check(len(trials) == 1, "one trial stored after the garbage (got %d)" % len(trials))
check(trials[0].get("status") == "failed" and trials[0].get("exit_code") == 3, "it failed with exit 3")
'

say "SIGTERM: tunetraild exits 0 and its summary counts the rejects"
kill -TERM "$cpid"
rc=0
timeout 30 tail --pid="$cpid" -f /dev/null || fail "tunetraild did not stop on SIGTERM"
wait "$cpid" || rc=$?
expect_eq "$rc" 0 "tunetraild exit status after SIGTERM"
line=$(grep " event=summary " "$LOG" | tail -n 1)
[ -n "$line" ] || { cat "$LOG" >&2; fail "no summary line with rejected=N in the collector's output"; }
n=$(sed -E 's/.*rejected=([0-9]+).*/\1/' <<<"$line")
echo "[$TT_NAME]   summary: $line"
# At least the random and the truncated DEALER messages; the raw garbage and
# the oversized message may be dropped by ZeroMQ before the collector sees them.
[ "$n" -ge 2 ] || fail "summary counts $n rejects, expected >= 2"
echo "[$TT_NAME]   ok: rejected=$n >= 2"
logfmt_check "$LOG"
echo "[$TT_NAME] PASS"
