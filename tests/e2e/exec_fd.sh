#!/usr/bin/env bash
# exec_fd.sh - the exec calls that take a file descriptor: fexecve and
# execveat, each with an empty environment. The program they start must be
# recorded (the shim put itself back into its environment) as a trial with
# its status, exit code and hashed input, the exec'ing program among its
# ancestors.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" "$TT_PROGS/tt_fdexec" "$TT_PROGS/tt_exit3"
cd "$T"
echo "some input data" >"$T/in.txt"
want_sha=$(sha256 "$T/in.txt")

for how in fexecve execveat; do
    say "$how: tt_exit3 started through $how is a recorded trial"
    tt_rc rc run --study "$how" --store "$DB" --trial 'tt_*' -- \
        "$TT_PROGS/tt_fdexec" "$how" "$TT_PROGS/tt_exit3" "$T/in.txt" >"$T/$how.out" 2>"$T/$how.err"
    expect_eq "$rc" 3 "tunetrail run tt_fdexec $how exit code"
    trials_json --study "$how"
    id=$(/usr/bin/python3 -c '
import json, os, sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    if os.path.basename(t.get("exe") or "") == "tt_exit3":
        print(t["id"])' "$T/trials.json")
    [ -n "$id" ] || fail "$how: no tt_exit3 trial (trials: $(cat "$T/trials.json"))"
    tt show --store "$DB" --json "$id" >"$T/show.json" || fail "tunetrail show $id failed"
    pycheck '
import os
t = json.load(open(args[0]))
check(t.get("status") == "failed" and t.get("exit_code") == 3,
      "%s: tt_exit3 failed with exit code 3 (%r %r)" % (args[2], t.get("status"), t.get("exit_code")))
ins = {os.path.realpath(i["path"]): i.get("sha256") for i in t.get("inputs") or []}
check(ins.get(os.path.realpath(args[1])) == args[3], "%s: its input is hashed (%s)" % (args[2], ins))
chain = [os.path.basename(p.get("exe") or "") for p in t.get("processes") or []]
check("tt_fdexec" in chain[1:], "%s: tt_fdexec is an ancestor image (%s)" % (args[2], chain))
' "$T/show.json" "$T/in.txt" "$how" "$want_sha"
done
echo "[$TT_NAME] PASS"
