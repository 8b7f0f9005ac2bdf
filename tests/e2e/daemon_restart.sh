#!/usr/bin/env bash
# daemon_restart.sh - the lab collector's faults (issue 12, part 5), with
# CURVE agents each running a real training loop (svm-train -v 5 on
# heart_scale), every event counted against a reference run:
#   1. tunetraild SIGKILLed mid-ingest (agents running, part of their events
#      stored) and restarted on the same store and port: after the agents'
#      own resends and `tunetrail flush`, every event is stored once.
#   2. the store's disk full (a tmpfs, filled): the agents' runs are
#      unchanged and say "store full" with their records kept, tunetraild
#      logs it; once the space is freed, `tunetrail flush` stores every
#      event once, tunetraild says the store commits again, and after that
#      neither side names "store full".
# Part 2 mounts a tmpfs: as root, or (unshare -rm) as root of a namespace.
# Not root: the whole test runs as root of a user and mount namespace of its
# own, where it may mount.
if [ "$(id -u)" != 0 ] && [ -z "${TT_UNSHARED:-}" ] && unshare -rm true 2>/dev/null; then
    TT_UNSHARED=1 exec unshare -rm bash "$0" "$@"
fi
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/agents.sh"

need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild" svm-train sqlite3
DATA=/usr/share/doc/liblinear-tools/examples/heart_scale
[ -r "$DATA" ] || { echo "[$TT_NAME] SKIP: no $DATA (install liblinear-tools)"; exit 77; }
cd "$T"
AGENTS=16
LOOPS=8
# After round 2 and round 6 each agent writes a marker (a shell redirection:
# no process): agent 1's tell the test when to kill and when to restart.
LOOP="for c in $(seq -s " " "$LOOPS"); do svm-train -q -v 5 -c \$c $DATA;"
LOOP+=" case \$c in 2|6) : >\"$T/m\${AGENT:-0}-\$c\";; esac; done"

say "reference: one agent runs the loop against its own collector"
agents_reference "$LOOP"
TOTAL=$((AGENTS * PER_AGENT))
agents_keys "$AGENTS"
PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT

say "1. $AGENTS agents running, tunetraild SIGKILLed mid-ingest"
agents_daemon dpid "$PORT" "$DB" "$T/d.log" --create
agents_start "$AGENTS" "$EP" "$LOOP"
wait_file "$T/m1-2"
tt_stop "$dpid" KILL
before=$(sqlite3 "$DB" "SELECT coalesce(sum(hwm + 1), 0) FROM origins")
echo "[$TT_NAME]   stored when killed: $before of $TOTAL events"
[ "$before" -gt 0 ] && [ "$before" -lt "$TOTAL" ] || fail "the kill was not mid-ingest ($before of $TOTAL stored)"
wait_file "$T/m1-6"
say "restarted on the same store (no --create) and port while the agents run"
agents_daemon dpid "$PORT" "$DB" "$T/d.log"
agents_wait "$AGENTS"
[ "$(grep -c 'Cross Validation Accuracy' "$T/a1.out")" = "$LOOPS" ] || fail "agent 1's loop printed: $(cat "$T/a1.out")"
agents_flush "$AGENTS" "$EP"
echo "[$TT_NAME]   agents that needed a flush: $FLUSHED"
tt_stop "$dpid"
for c in refused conflicts forbidden; do
    expect_eq "$(stopped "$T/d.log" "$c")" 0 "the restarted tunetraild's $c count"
done
say "every event stored once: $AGENTS x $PER_AGENT"
agents_check_once "$DB" "$AGENTS" "$LOOPS" "$TOTAL"

say "2. the store's disk full, then freed"
AGENTS=8
TOTAL=$((AGENTS * PER_AGENT))
MNT=$T/mnt
mkdir -p "$MNT"
rm -f "$T"/m*-*
PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT
if [ "$(id -u)" != 0 ]; then
    echo "[$TT_NAME] SKIP (this part only): a tmpfs needs root, or unshare -rm (user namespaces)"
    echo "[$TT_NAME] PASS"
    exit 0
fi
mount -t tmpfs -o size=16m tmpfs "$MNT" || fail "cannot mount a tmpfs on $MNT"
trap '__rc=$?; umount "$MNT" 2>/dev/null; (exit $__rc); tt_cleanup' EXIT # keep the test's status for tt_cleanup
agents_daemon dpid "$PORT" "$MNT/full.db" "$T/full.log" --create
# An empty WAL first: frames of the store's creation, once checkpointed, are
# rewritten in place by the next commits, so the first batches would fit in
# a "full" disk (real, but then not every agent would meet the fault).
expect_eq "$(sqlite3 "$MNT/full.db" "PRAGMA wal_checkpoint(TRUNCATE)")" "0|0|0" "WAL truncated (busy|frames|checkpointed)"
cat /dev/zero >"$MNT/filler" 2>/dev/null || true
echo "[$TT_NAME]   free on the store's tmpfs: $(df -k --output=avail "$MNT/" | tail -n 1 | tr -d ' ') KiB"
agents_start "$AGENTS" "$EP" "$LOOP"
agents_wait "$AGENTS"
for i in $(seq "$AGENTS"); do
    expect_eq "$(grep -c 'Cross Validation Accuracy' "$T/a$i.out")" "$LOOPS" "agent $i's loop output"
    tt_strip_summary "$T/a$i.err"
    grep -q "store full; [0-9]* records kept in" <(tail -n 1 "$T/a$i.err") ||
        fail "agent $i's last line does not say 'store full' with its records kept: $(cat "$T/a$i.err")"
    ! grep -q unreachable "$T/a$i.err" || fail "agent $i said 'unreachable' although the collector answered"
done
echo "[$TT_NAME]   agent 1: $(tail -n 1 "$T/a1.err")"
grep -q "store full" "$T/full.log" || fail "tunetraild did not log the full store: $(cat "$T/full.log")"
expect_eq "$(sqlite3 "$MNT/full.db" "SELECT count(*) FROM processes")" 0 "processes stored while the disk is full"

say "space freed: flush stores everything once, and the errors stop"
rm -f "$MNT/filler"
agents_flush "$AGENTS" "$EP"
expect_eq "$FLUSHED" "$AGENTS" "agents that flushed"
for i in $(seq "$AGENTS"); do
    ! grep -q "store full" "$T/f$i.out" "$T/f$i.err" || fail "agent $i's flush still says 'store full': $(cat "$T/f$i.err")"
done
last=$(grep -E "store full|commits again" "$T/full.log" | tail -n 1)
echo "[$TT_NAME]   tunetraild's last word on it: $last"
grep -q "the store commits again" <<<"$last" || fail "tunetraild did not say the store commits again: $(cat "$T/full.log")"
tt_stop "$dpid"
agents_check_once "$MNT/full.db" "$AGENTS" "$LOOPS" "$TOTAL"
echo "[$TT_NAME] PASS"
