#!/usr/bin/env bash
# collector_slow.sh - a collector that acknowledged the run's first batches and
# then stalls (SIGSTOP) is not "unreachable" (issue 15, item 12): the run's
# delivery line says it did not acknowledge everything in time and keeps the
# rest in the spool; once the collector goes on (SIGCONT), flush delivers it,
# and the store holds every process once.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild" "$TT_PROGS/tt_writer"
N=300
cd "$T"
mkdir -p "$T/w"
PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT

say "tunetraild acknowledges the first batches, then is stopped mid-run"
tt_start_collector cpid "$PORT" "$DB" "$T/collector.log"
tt_bg runpid timeout -k 5 "$TT_TIMEOUT" "$TT_BIN/tunetrail" run --study slow --collector "$EP" \
    -- sh -c "i=0; while [ \$i -lt $N ]; do : >\"$T/w/f-\$i\"; i=\$((i + 1))
                [ \$i != 100 ] || until [ -e '$T/w/go' ]; do sleep 0.05; done; done; touch '$T/w/done'" \
    2>"$T/run.err"
wait_file "$T/w/f-99"
# the agent has had acks by now? wait for the store to hold something
timeout 60 bash -c 'until [ "$(sqlite3 "$1" "SELECT count(*) FROM processes" 2>/dev/null || echo 0)" -gt 0 ]; do sleep 0.05; done' _ "$DB" ||
    fail "nothing was stored before the stop"
kill -STOP "$cpid"
touch "$T/w/go" # the other 200 files are written while the collector is stopped
rc=0
wait "$runpid" || rc=$?
kill -CONT "$cpid"
expect_eq "$rc" 0 "tunetrail run exit code"
cat "$T/run.err" >&2
tt_strip_summary "$T/run.err"
last=$(tail -n 1 "$T/run.err")
grep -q "did not acknowledge everything in time (it is reachable: busy?); [0-9]* records kept" <<<"$last" ||
    fail "the delivery line does not say the collector was slow: '$last'"
! grep -q unreachable "$T/run.err" || fail "the agent said 'unreachable' although the collector had acknowledged"

say "flush delivers the rest once the collector goes on; every process once"
tt_rc rc flush --collector "$EP"
expect_eq "$rc" 0 "tunetrail flush exit code"
tt_stop "$cpid" TERM
procs_json slow
trials_json --study slow
pycheck "$PYPROCS"'
import os
n = int(args[0])
uu = [p["uuid"] for p in PROCS]
names = [os.path.basename(p["exe"]) for p in PROCS]
check(names.count("touch") == 1 and set(names) <= {"dash", "sh", "bash", "sleep", "touch"},
      "the shell, its sleeps and one touch (got %s)" % sorted(set(names)))
check(len(uu) == len(set(uu)), "no process stored twice")
check(all(p["status"] == "ok" for p in PROCS), "every process ended ok")
check(len(trials) == 1, "one trial, the command (got %d)" % len(trials))
outs = [o["path"] for o in trials[0]["outputs"] if os.path.basename(o["path"]).startswith("f-")]
check(len(outs) == n and len(set(outs)) == n, "%d files written, each once (got %d)" % (n, len(outs)))
' "$N"
echo "[$TT_NAME] PASS"
