#!/usr/bin/env bash
# collector_kill.sh - a collector SIGKILLed mid-run and restarted on the same
# port and store loses nothing and duplicates nothing: tt_writer writes 400
# files while tunetraild dies and comes back; afterwards (plus a flush for
# whatever was still spooled) the store holds its process once and all 400
# written files once each with the right sha256.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild" "$TT_PROGS/tt_writer"
N=400
cd "$T"
mkdir -p "$T/w"
PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT

say "tunetraild up, tt_writer running through it"
tt_start_collector cpid "$PORT" "$DB" "$T/collector.log"
tt_bg runpid timeout -k 5 "$TT_TIMEOUT" "$TT_BIN/tunetrail" run --study kill --collector "$EP" \
    --trial 'tt_*' -- "$TT_PROGS/tt_writer" "$T/w" "$N" 10


wait_file "$T/w/w-50"
say "SIGKILL tunetraild mid-run"
tt_stop "$cpid" KILL
wait_file "$T/w/w-150"
say "restart tunetraild on the same port and store"
tt_start_collector cpid2 "$PORT" "$DB" "$T/collector.log"

rc=0
wait "$runpid" || rc=$?
expect_eq "$rc" 0 "tunetrail run exit code"
[ -e "$T/w/w-$((N - 1))" ] || fail "tt_writer did not finish"
tt_rc rc flush --collector "$EP"
expect_eq "$rc" 0 "tunetrail flush exit code"

say "every process and file record present exactly once"
trials_json --study kill
procs_json kill
pycheck "$PYPROCS"'
import os, hashlib
n = int(args[0])
check(len(trials) == 1, "one trial (got %d)" % len(trials))
t = trials[0]
check(t.get("status") == "ok", "status ok (%r)" % t.get("status"))
outs = [o for o in t.get("outputs") or [] if os.path.basename(o["path"]).startswith("w-")]
paths = [os.path.realpath(o["path"]) for o in outs]
check(len(paths) == len(set(paths)), "no output listed twice")
check(len(paths) == n, "%d written files among outputs (got %d)" % (n, len(paths)))
bad = [p for p, o in zip(paths, outs)
       if o.get("sha256") != hashlib.sha256(open(p, "rb").read()).hexdigest()]
check(not bad, "every output sha256 right (wrong: %s)" % bad[:5])
check(len(PROCS) == 1, "study kill has exactly 1 process (got %d)" % len(PROCS))
check(PROCS[0]["status"] == "ok", "the process ended ok (%r)" % PROCS[0]["status"])
' "$N"

tt_stop "$cpid2" TERM
echo "[$TT_NAME] PASS"
