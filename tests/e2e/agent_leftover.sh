#!/usr/bin/env bash
# agent_leftover.sh - honest end-of-run states. A process the command leaves
# behind (alive, still connected when `tunetrail run` finishes) is recorded
# `running`, never `killed`; when it later exits on its own its real end goes
# to its spool file and `tunetrail flush` records it (`ok`, exit 0). A shim
# spool whose flock is held (a live process's) is skipped by the agent's
# end-of-run pickup and by flush, and shipped once the lock is free.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" "$TT_PROGS/tt_exit3" flock
SHIM=$(find "$TT_BUILD" -name libtunetrail.so -print -quit)
[ -n "$SHIM" ] || fail "libtunetrail.so not found under $TT_BUILD"
cd "$T"
echo "input" >"$T/in.txt"
SPOOL=$TUNETRAIL_HOME/spool

# The leftover and the lock holder each block reading a FIFO until the test
# writes to it, so no timing decides the test: the leftover then exits 0 on
# its own (a SIGTERM would kill it without the shim seeing an end: that one
# *is* killed). The leftover is dash under its own name, to be its own trial.
mkfifo "$T/go" "$T/unlock"
ln -s "$(command -v sh)" "$T/leftover"
release() { timeout 5 sh -c 'echo >"$1"' _ "$1" 2>/dev/null || true; }
trap 'rc=$?; release "$T/go"; release "$T/unlock"; (exit $rc); tt_cleanup' EXIT

# A bare run of tt_exit3 leaves a shim spool; the command below renames it
# into its own session's name and holds its flock past the run, as a live
# process would.
LD_PRELOAD=$SHIM "$TT_PROGS/tt_exit3" "$T/in.txt" || true
bare=$(ls "$SPOOL"/shim-bare-*.spool 2>/dev/null | head -n 1)
[ -n "$bare" ] || fail "a bare LD_PRELOAD run left no spool file"
mv "$bare" "$T/locked.spool"

cat >"$T/job.sh" <<EOF
#!/bin/sh
"$T/leftover" -c 'echo \$\$ >"$T/left.pid.tmp"; mv "$T/left.pid.tmp" "$T/left.pid"; read x <"$T/go"; exit 0' \
    </dev/null >/dev/null 2>&1 &
L="$SPOOL/shim-\$TUNETRAIL_SESSION-00000000000000000000000000000001.spool"
mv "$T/locked.spool" "\$L"
echo "\$L" >"$T/locked.path"
flock "\$L" sh -c 'echo locked >"$T/lock.held"; read x <"$T/unlock"' </dev/null >/dev/null 2>&1 &
while [ ! -s "$T/left.pid" ] || [ ! -s "$T/lock.held" ]; do sleep 0.02; done
exit 0
EOF
chmod +x "$T/job.sh"

# count_exe NAME - processes named NAME in the store, any study, by status.
count_exe() {
    tt processes --store "$DB" --json >"$T/allprocs.json" || fail "tunetrail processes --json failed"
    python3 - "$T/allprocs.json" "$1" <<'PY'
import json, os, sys
procs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
st = sorted(s for e, s in ((p["exe"], p["status"]) for p in procs) if os.path.basename(e or "") == sys.argv[2])
print(",".join(st) or "none")
PY
}

say "the command exits, leaving a process alive and a locked shim spool"
tt_rc rc run --study left --store "$DB" --trial leftover -- "$T/job.sh" >"$T/run.out" 2>"$T/run.err"
[ "$rc" = 0 ] || { cat "$T/run.err" >&2; fail "tunetrail run exited $rc"; }
pid=$(cat "$T/left.pid")
kill -0 "$pid" 2>/dev/null || fail "the leftover is gone already"

trials_json --study left
procs_json left
pycheck "$PYPROCS
check(len(trials) == 1, 'one trial, the leftover (%s)' % [t.get('argv') for t in trials])
t = trials[0]
check(os.path.basename((t.get('argv') or [''])[0]) == 'leftover', 'the trial is the leftover (%r)' % t.get('argv'))
check(t.get('status') == 'running', 'leftover trial is running right after the run (%r)' % t.get('status'))
check(not [p for p in PROCS if p['status'] == 'killed'], 'no process recorded killed (%s)' % [(p['exe'], p['status']) for p in PROCS])
"
[ -f "$(cat "$T/locked.path")" ] || fail "the agent took a shim spool whose flock was held"
expect_eq "$(count_exe tt_exit3)" none "tt_exit3 (in the locked spool) not shipped yet"

say "flush while the lock is held skips that spool"
tt flush --store "$DB" >"$T/flush1.out" 2>&1 || true
[ -f "$(cat "$T/locked.path")" ] || fail "flush took a shim spool whose flock was held"
expect_eq "$(count_exe tt_exit3)" none "tt_exit3 still not shipped"

say "the leftover exits 0 on its own; once the lock is free, flush records its real end"
release "$T/go"
release "$T/unlock"
timeout 60 tail --pid="$pid" -f /dev/null || fail "the leftover did not exit"
timeout 60 bash -c 'until flock -n "$1" true; do sleep 0.1; done' _ "$(cat "$T/locked.path")" \
    || fail "the spool lock was never released"
tt flush --store "$DB" >"$T/flush2.out" 2>&1 || { cat "$T/flush2.out" >&2; fail "tunetrail flush failed"; }
trials_json --study left
procs_json left
pycheck "$PYPROCS
t = trials[0]
check(t.get('status') == 'ok' and t.get('exit_code') == 0, 'leftover trial ok, exit 0 after the flush (%r, %r)' % (t.get('status'), t.get('exit_code')))
check(not [p for p in PROCS if p['status'] in ('killed', 'running')], 'nothing killed or running (%s)' % [(p['exe'], p['status']) for p in PROCS])
"
expect_eq "$(count_exe tt_exit3)" failed "tt_exit3 from the once-locked spool, shipped after its lock was freed"
left=$(find "$SPOOL" -name '*.spool' | wc -l)
expect_eq "$left" 0 "spool files left after the flush"
echo "[$TT_NAME] PASS"
