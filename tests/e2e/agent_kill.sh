#!/usr/bin/env bash
# agent_kill.sh - `tunetrail run` SIGKILLed in the middle of 6,000 short
# processes loses none of them and duplicates none: what the agent took is in
# its journal and spool, what it did not is in each shim's spool (the copies
# its acks had not covered, and everything after its death), and `tunetrail
# flush` delivers them with the session's --trial pattern applied as it would
# have been live: 3,000 `true` processes give 3,000 trials, the 3,000
# `test` processes none.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail"
N=3000
cd "$T"

say "6,000 short processes under tunetrail run --trial true; the agent is SIGKILLed after ~2,000"
# The loop marks its progress in files, so the kill lands mid-run without a clock.
tt_bg runpid "$TT_BIN/tunetrail" run --study kill --store "$DB" --trial true -- \
    /bin/sh -c 'echo $$ >"'"$T"'/sh.pid"; i=0; while [ $i -lt '"$N"' ]; do /bin/true; /usr/bin/test 1; i=$((i + 1));
                [ $i = 1000 ] && : >"'"$T"'/mark"; done; : >"'"$T"'/done"'
timeout 120 bash -c 'until [ -e "$1" ]; do sleep 0.01; done' _ "$T/mark" || fail "the loop never reached 1000"
tt_stop "$runpid" KILL
timeout "$TT_TIMEOUT" bash -c 'until [ -e "$1" ]; do sleep 0.05; done' _ "$T/done" || fail "the loop did not finish"
# the shell's own end record follows its last file
timeout 60 tail --pid="$(cat "$T/sh.pid")" -f /dev/null || fail "the loop's shell did not exit"

tt_rc rc flush --store "$DB"
expect_eq "$rc" 0 "tunetrail flush exit code"
ls "$TUNETRAIL_HOME/spool" | grep -q 'spool$' && fail "spool files left after flush: $(ls "$TUNETRAIL_HOME/spool")"

say "every process once, every true process with its one pattern trial"
procs_json kill
trials_json --study kill
pycheck "$PYPROCS"'
import collections
n = int(args[0])
by = collections.Counter(os.path.basename(p["exe"] or "") for p in PROCS)
check(by["true"] == n, "%d true processes stored (got %d)" % (n, by["true"]))
check(by["test"] == n, "%d test processes stored (got %d)" % (n, by["test"]))
check(by[""] == 0, "no process without its exe (got %d)" % by[""])
check(len({p["uuid"] for p in PROCS}) == len(PROCS), "no process listed twice")
ok = [p for p in PROCS if os.path.basename(p["exe"] or "") == "true" and p["status"] == "ok"]
check(len(ok) == n, "every true process ended ok (got %d)" % len(ok))
check(len(trials) == n, "%d trials (got %d)" % (n, len(trials)))
check(all(t.get("status") == "ok" for t in trials), "every trial ok")
' "$N"
echo "[$TT_NAME] PASS"
