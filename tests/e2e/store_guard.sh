#!/usr/bin/env bash
# store_guard.sh - tunetraild and its store (issue 15, items 5 and 11):
#  - a missing or empty store is refused without --create (and no file made);
#  - under umask 000 a new store, its -wal and -shm, and an ipc:// socket are
#    0600, and a run through the ipc:// endpoint is stored;
#  - a store with 100 flipped bytes, or one zeroed page, is refused at start
#    with "damaged", before anything is written to it;
#  - a full disk under the store (a 3 MiB tmpfs, root only): the agent's
#    last line before the run's summary says "store full", not "unreachable", a flush while it is
#    still full says "store full" too, and once there is room `tunetrail flush` stores every
#    process: expected vs stored.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild"
cd "$T"
echo data >"$T/in.txt"

# daemon_refuses WHAT PATTERN ARG... - tunetraild ARG... must exit 1 at once
# with PATTERN in its output.
daemon_refuses() {
    local what=$1 pattern=$2 rc=0
    shift 2
    timeout 60 "$TT_BIN/tunetraild" --bind "tcp://127.0.0.1:$(free_port)" "$@" >"$T/refused.log" 2>&1 || rc=$?
    expect_eq "$rc" 1 "tunetraild exit status on $what"
    grep -q -- "$pattern" "$T/refused.log" || { cat "$T/refused.log" >&2; fail "no '$pattern' in tunetraild's output on $what"; }
    echo "[$TT_NAME]   said: $(head -n 1 "$T/refused.log")"
}

say "a missing store without --create is refused, and not created"
daemon_refuses "a missing store" "pass --create" --store "$T/missing.db"
[ ! -e "$T/missing.db" ] || fail "tunetraild created $T/missing.db without --create"

say "an empty (0-byte) store without --create is refused"
: >"$T/empty.db"
daemon_refuses "an empty store" "empty (0 bytes)" --store "$T/empty.db"
expect_eq "$(stat -c %s "$T/empty.db")" 0 "the empty file's size after the refusal"

say "umask 000: a new store, its -wal and -shm, and the ipc:// socket are 0600"
mkdir -p "$T/sock"
chmod 755 "$T/sock"
LOG=$T/collector.log
(umask 000 && exec "$TT_BIN/tunetraild" --bind "ipc://$T/sock/c.sock" --store "$T/ipc.db" --create) >>"$LOG" 2>&1 &
cpid=$!
TT_BG_PIDS+=("$cpid")
timeout 20 bash -c "until [ -S '$T/sock/c.sock' ]; do sleep 0.05; done" || { cat "$LOG" >&2; fail "no ipc socket"; }
(umask 000 && tt run --study ipc --collector "ipc://$T/sock/c.sock" -- cat "$T/in.txt" >/dev/null) ||
    fail "tunetrail run through ipc:// failed"
for f in "$T/ipc.db" "$T/ipc.db-wal" "$T/ipc.db-shm" "$T/sock/c.sock"; do
    [ -e "$f" ] || fail "$f does not exist"
    expect_eq "$(stat -c %a "$f")" 600 "mode of $(basename "$f") under umask 000"
done
tt_stop "$cpid"
n=$(tt trials --store "$T/ipc.db" --study ipc --json | wc -l)
expect_eq "$n" 1 "trials stored through the ipc:// endpoint (expected 1)"

say "a store with 100 flipped bytes and one with a zeroed page are refused"
PORT=$(free_port)
tt_start_collector cpid "$PORT" "$DB" "$LOG"
for i in 1 2 3; do
    tt run --study good --collector "tcp://127.0.0.1:$PORT" -- sh -c "for k in \$(seq 50); do cat '$T/in.txt'; done" >/dev/null ||
        fail "run $i through the collector failed"
done
tt_stop "$cpid"
size=$(stat -c %s "$DB")
[ "$size" -ge 40960 ] || fail "the store is only $size bytes; the damage below needs >= 10 pages"
cp "$DB" "$T/flipped.db"
cp "$DB" "$T/zeroed.db"
/usr/bin/python3 - "$T/flipped.db" "$T/zeroed.db" <<'PY' || fail "could not damage the copies"
import random, sys
rnd = random.Random(15)
with open(sys.argv[1], "r+b") as f:
    data = bytearray(f.read())
    for _ in range(100):  # past page 1: its header would only say "not a database"
        i = rnd.randrange(4096, len(data))
        data[i] ^= 0xFF
    f.seek(0)
    f.write(data)
with open(sys.argv[2], "r+b") as f:
    f.seek(2 * 4096)  # page 3
    f.write(b"\0" * 4096)
PY
sum_before=$(sha256 "$T/flipped.db")
daemon_refuses "100 flipped bytes" "is damaged" --store "$T/flipped.db"
expect_eq "$(sha256 "$T/flipped.db")" "$sum_before" "the damaged store is left as it was"
daemon_refuses "a zeroed page" "is damaged" --store "$T/zeroed.db"
[ ! -e "$T/zeroed.db-wal" ] || [ "$(stat -c %s "$T/zeroed.db-wal")" = 0 ] || fail "tunetraild wrote to the damaged store"

say "the undamaged store still starts and holds its 3 runs"
tt_start_collector cpid "$PORT" "$DB" "$LOG"
tt_stop "$cpid"
expect_eq "$(tt trials --store "$DB" --study good --json | wc -l)" 3 "trials of study good"

say "a full disk under the store: 'store full', then flush stores everything"
if [ "$(id -u)" != 0 ]; then
    echo "[$TT_NAME] SKIP (this part only): mounting a tmpfs needs root (CI runs as root)"
    echo "[$TT_NAME] PASS"
    exit 0
fi
mkdir -p "$T/mnt"
# 8 MiB, filled but for ~1 MiB: once the filler goes, the store's WAL (up to
# 1000 pages, 4 MiB, before SQLite's auto-checkpoint recycles it) must fit,
# or the flush itself meets a full disk (seen on a loaded VM with 3 MiB).
mount -t tmpfs -o size=8m tmpfs "$T/mnt" || fail "cannot mount a tmpfs on $T/mnt"
trap '__rc=$?; umount "$T/mnt" 2>/dev/null; (exit $__rc); tt_cleanup' EXIT # keep the test's status for tt_cleanup
PORT=$(free_port)
tt_start_collector cpid "$PORT" "$T/mnt/full.db" "$LOG"
head -c $((7168 * 1024)) /dev/zero >"$T/mnt/filler" 2>/dev/null || true
N=1500
tt_rc rc run --study full --collector "tcp://127.0.0.1:$PORT" -- \
    sh -c "for k in \$(seq $N); do cat '$T/in.txt' >/dev/null; done" 2>"$T/run.err"
expect_eq "$rc" 0 "the command's exit status under a full collector store"
tt_strip_summary "$T/run.err" # the run's summary line comes last; delivery is said just before it
last=$(tail -n 1 "$T/run.err")
echo "[$TT_NAME]   last line: $last"
grep -q "store full; [0-9]* records kept" <<<"$last" || fail "the agent's last line does not say 'store full'"
! grep -q unreachable "$T/run.err" || fail "the agent said 'unreachable' although the collector answered"
grep -q "store full" "$LOG" || fail "tunetraild did not log the full store"
say "flush while the store is still full: it says 'store full', not only 'not delivered'"
tt_rc rc flush --collector "tcp://127.0.0.1:$PORT" >"$T/flush.full.out" 2>"$T/flush.full.err"
expect_eq "$rc" 1 "flush exit status while the store is full (records remain spooled)"
last=$(tail -n 1 "$T/flush.full.err")
echo "[$TT_NAME]   last line: $last"
grep -q "^tunetrail flush: collector tcp://127.0.0.1:$PORT: store full; records stay in the spool ([0-9]* records in [0-9]* spool files" \
    <<<"$last" || { cat "$T/flush.full.err" >&2; fail "flush does not say the collector's store is full"; }
rm -f "$T/mnt/filler"
tt flush --collector "tcp://127.0.0.1:$PORT" >"$T/flush.out" 2>&1 || { cat "$T/flush.out" "$LOG" >&2; df -k "$T/mnt" >&2; fail "flush failed"; }
tt_stop "$cpid"
stored=$(tt processes --store "$T/mnt/full.db" --study full --json | wc -l)
# sh, seq and N cat processes
expect_eq "$stored" $((N + 2)) "processes stored after the flush (expected $((N + 2)))"
echo "[$TT_NAME] PASS"
