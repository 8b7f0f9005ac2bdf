#!/usr/bin/env bash
# agent_close.sh - the agent ends a connection itself once its image has
# exited (issue 14: one wake-up less per short process), and that costs no
# record: a process that records over time (start, a file, a pause, a file)
# leaves no spool file of its own while the agent is live, nor one whose
# exec failed (its ProcessEnd{EXEC} is not its last word); both recorded in
# full, nothing in a spool after the run.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" /usr/bin/python3 sh
cd "$T"

say "a process that records twice, a pause apart: no spool file of its own while the agent is live"
tt_rc rc run --study twice --store "$DB" -- sh -c '
/usr/bin/python3 -c "
import time
open(\"a.txt\", \"w\").write(\"a\")
time.sleep(0.2)
open(\"b.txt\", \"w\").write(\"b\")
"
ls "$TUNETRAIL_HOME/spool" >spool.ls' >"$T/twice.out" 2>"$T/twice.err"
[ "$rc" = 0 ] || { cat "$T/twice.err" >&2; fail "tunetrail run (twice) exited $rc"; }
session=$(/usr/bin/python3 -c '
import json, sys
print(json.loads(open(sys.argv[1]).readline())["session"])' <(tt processes --store "$DB" --study twice --json))
# the agent's own files carry the session twice (its journal) or are agent-*
others=$(grep -v -e "^agent-" -e "^shim-$session-$session\." spool.ls || true)
expect_eq "$others" "" "shim spool files while the agent was live"
/usr/bin/python3 - "$DB" "$T" <<'PY' || fail "the files of study twice"
import sqlite3, sys, os
db = sqlite3.connect(sys.argv[1])
got = {os.path.basename(p) for (p,) in db.execute(
    "select f.path from files f join processes p on p.uuid = f.process "
    "where p.study = 'twice' and p.exe like '%python3%' and f.mode in (1, 2)")}
if got != {"a.txt", "b.txt"}:
    sys.exit("[agent_close] FAIL: python3 wrote a.txt and b.txt, recorded %s" % sorted(got))
print("[agent_close]   ok: both files python3 wrote are recorded")
PY

say "an exec that fails ends no connection: the image's later records still reach the live agent"
# The shim sends ProcessEnd{EXEC} before the exec; when the exec fails the
# image goes on, and so must its connection.
tt_rc rc run --study execfail --store "$DB" -- /usr/bin/python3 -c '
import os, sys, time
try:
    os.execv("/nonexistent/prog", ["prog"])
except OSError:
    pass
open("after.txt", "w").write("x")
time.sleep(0.2)
print("\n".join(os.listdir(os.environ["TUNETRAIL_HOME"] + "/spool")))
sys.exit(4)
' >"$T/execfail.ls" 2>"$T/execfail.err"
[ "$rc" = 4 ] || { cat "$T/execfail.err" >&2; fail "tunetrail run (execfail) exited $rc, expected 4"; }
session=$(/usr/bin/python3 -c '
import json, sys
print(json.loads(open(sys.argv[1]).readline())["session"])' <(tt processes --store "$DB" --study execfail --json))
others=$(grep -v -e "^agent-" -e "^shim-$session-$session\." "$T/execfail.ls" || true)
expect_eq "$others" "" "shim spool files while the agent was live, after a failed exec"
/usr/bin/python3 - "$DB" <<'PY' || fail "the files of study execfail"
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
got = [os.path.basename(p) for (p,) in db.execute(
    "select f.path from files f join processes p on p.uuid = f.process "
    "where p.study = 'execfail' and p.exe like '%python3%' and f.mode in (1, 2)")]
if "after.txt" not in got:
    sys.exit("[agent_close] FAIL: python3 wrote after.txt after the failed exec, recorded %s" % got)
print("[agent_close]   ok: after.txt, written after the failed exec, is recorded")
PY
expect_eq "$(find "$TUNETRAIL_HOME/spool" -name '*.spool' 2>/dev/null | wc -l)" 0 "spool files left after the run"
echo "[$TT_NAME] PASS"
