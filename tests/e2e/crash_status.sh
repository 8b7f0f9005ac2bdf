#!/usr/bin/env bash
# crash_status.sh - a crash the shim cannot see is still `crashed` with its
# signal (issue 15, item 7): a program that took SIGSEGV/SIGABRT over and put
# SIG_DFL back, then faults or aborts, as the command (the agent reads its
# wait status) and as a grandchild under sh and under Python's subprocess
# (the parent's shim reports what its wait call returned). A SIGKILL stays
# `killed`. And a child exec'd with another TUNETRAIL_SOCK / _HOME /
# _SESSION in its envp is still recorded in the run (item 12).
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" "$TT_PROGS/tt_sigdfl" "$TT_PROGS/tt_envp_exec" "$TT_PROGS/tt_exit3" \
    "$TT_PROGS/tt_sleep" /usr/bin/python3 sh
P=$TT_PROGS
cd "$T"

# run_study STUDY EXPECTED_RC CMD... : CMD under tunetrail run into STUDY.
run_study() {
    local study=$1 want=$2
    shift 2
    local rc
    tt_rc rc run --study "$study" --store "$DB" -- "$@" >"$T/$study.out" 2>"$T/$study.err"
    [ "$rc" = "$want" ] || { cat "$T/$study.err" >&2; fail "tunetrail run ($study) exited $rc, expected $want"; }
    echo "[$TT_NAME]   ok: tunetrail run ($study) exit code = $want"
    procs_json "$study"
    trials_json --study "$study"
}

# check_sigdfl STUDY SIGNAL: the one tt_sigdfl process of STUDY crashed with SIGNAL.
check_sigdfl() {
    pycheck "$PYPROCS
got = [(p['status'], p['signal'], p['relation']) for p in PROCS if os.path.basename(p['exe'] or '') == 'tt_sigdfl']
check(len(got) == 1, 'one tt_sigdfl process in study %s (got %s)' % (args[0], got))
check(got[0][:2] == ('crashed', int(args[1])), 'tt_sigdfl crashed with signal %s (got %s)' % (args[1], got[0][:2]))
others = [(os.path.basename(p['exe'] or ''), p['status']) for p in PROCS if os.path.basename(p['exe'] or '') != 'tt_sigdfl']
check(all(s in ('ok', 'exec') for _, s in others), 'its parents ended ok (%s)' % others)
" "$1" "$2"
}

say "the command resets SIG_DFL, then segfaults: crashed, signal 11, exit 139"
run_study root_segv 139 "$P/tt_sigdfl" segv
check_sigdfl root_segv 11
pycheck "check(len(trials) == 1 and trials[0]['status'] == 'crashed' and trials[0]['signal'] == 11, 'its trial crashed with signal 11 (%s)' % [(t['status'], t['signal']) for t in trials])"
grep -q '^tunetrail: 1 trial (1 crashed)' "$T/root_segv.err" || fail "summary line does not say 1 crashed: $(tail -n 1 "$T/root_segv.err")"

say "the command resets SIG_DFL, then abort(): crashed, signal 6, exit 134"
run_study root_abort 134 "$P/tt_sigdfl" abort
check_sigdfl root_abort 6

say "the command execs into it (sh -c 'exec ...'): the last image of the chain crashed, signal 6"
run_study chain_abort 134 sh -c "exec \"$P/tt_sigdfl\" abort"
check_sigdfl chain_abort 6

say "the same as grandchildren under sh: crashed, signals 11 and 6"
run_study sh_segv 0 sh -c "\"$P/tt_sigdfl\" segv; echo after"
check_sigdfl sh_segv 11
run_study sh_abort 0 sh -c "\"$P/tt_sigdfl\" abort; echo after"
check_sigdfl sh_abort 6

say "a grandchild under Python's subprocess: crashed, signal 11"
run_study py_segv 0 /usr/bin/python3 -c 'import subprocess, sys; subprocess.run([sys.argv[1], "segv"])' "$P/tt_sigdfl"
check_sigdfl py_segv 11

say "a SIGKILLed grandchild stays killed (a signal from outside is no crash)"
tt_bg runpid timeout -k 5 "$TT_TIMEOUT" "$TT_BIN/tunetrail" run --study sh_kill --store "$DB" \
    -- sh -c "\"$P/tt_sleep\" \"$T/sleep.pid\" 600; echo after"
timeout 60 bash -c 'until [ -s "$1" ]; do sleep 0.05; done' _ "$T/sleep.pid" || fail "tt_sleep wrote no pid file"
kill -KILL "$(cat "$T/sleep.pid")"
rc=0
wait "$runpid" || rc=$?
expect_eq "$rc" 0 "tunetrail run exit code (sh goes on after its child's death)"
procs_json sh_kill
trials_json --study sh_kill
pycheck "$PYPROCS
got = [(p['status'], p['signal']) for p in PROCS if os.path.basename(p['exe'] or '') == 'tt_sleep']
check(got == [('killed', 9)], 'tt_sleep killed, signal 9 (got %s)' % got)
"

say "a child exec'd with another TUNETRAIL_SOCK/HOME/SESSION in its envp is recorded in the run"
echo "some input" >"$T/in.txt"
run_study envp 3 "$P/tt_envp_exec" "$T/elsewhere" "$P/tt_exit3" "$T/in.txt"
pycheck "$PYPROCS
names = sorted(os.path.basename(p['exe'] or '') for p in PROCS)
check(names == ['tt_envp_exec', 'tt_exit3'], 'both processes in the run (got %s)' % names)
c = [p for p in PROCS if os.path.basename(p['exe'] or '') == 'tt_exit3'][0]
root = [p for p in PROCS if os.path.basename(p['exe'] or '') == 'tt_envp_exec'][0]
check(c['parent'] == root['uuid'], 'the child is linked to its parent')
check((c['status'], c['exit_code']) == ('failed', 3), 'the child failed with exit 3 (%s %s)' % (c['status'], c['exit_code']))
"
[ ! -e "$T/elsewhere" ] || fail "the child wrote under the other TUNETRAIL_HOME: $(find "$T/elsewhere" | head -5)"
echo "[$TT_NAME]   ok: nothing under the other TUNETRAIL_HOME"
echo "[$TT_NAME] PASS"
