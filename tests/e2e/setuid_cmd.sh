#!/usr/bin/env bash
# setuid_cmd.sh - a setuid command run by an ordinary user (issue 15, item
# 6): the loader ignores LD_PRELOAD for it, so `tunetrail run` records it
# from outside, as a static binary: a process row with exe, argv and exit
# status, a trial, and a message on stderr and in the summary line. A setuid
# program exec'd deeper (by sh, through fork+exec and through dash's vfork)
# is named in the summary line. Runs as `nobody` (setpriv), so it needs root.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" setpriv sh
if [ "$(id -u)" != 0 ]; then
    echo "[$TT_NAME] SKIP: needs root to run a command as nobody (setpriv)"
    exit 77
fi
MOUNT=/usr/bin/mount
[ -u "$MOUNT" ] || fail "$MOUNT is not setuid on this machine"
# nobody must reach the build and write the store and TUNETRAIL_HOME
setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$TT_BIN/tunetrail" ||
    fail "nobody cannot execute $TT_BIN/tunetrail: make the build directory readable"
chmod 755 "$T"
chown nobody:nogroup "$TUNETRAIL_HOME"
cd "$TUNETRAIL_HOME"

# as_nobody ARG...: tunetrail ARG... as nobody, with our TUNETRAIL_HOME.
as_nobody() {
    timeout -k 5 "$TT_TIMEOUT" setpriv --reuid=nobody --regid=nogroup --clear-groups \
        env HOME="$TUNETRAIL_HOME" TUNETRAIL_HOME="$TUNETRAIL_HOME" "$TT_BIN/tunetrail" "$@"
}
DB=$TUNETRAIL_HOME/trail.db

say "tunetrail run -- $MOUNT --version as nobody: recorded from outside"
rc=0
as_nobody run --study su --store "$DB" -- "$MOUNT" --version >"$T/su.out" 2>"$T/su.err" || rc=$?
expect_eq "$rc" 0 "tunetrail run exit code"
grep -q "^mount from util-linux" "$T/su.out" || fail "mount's own output is missing: $(cat "$T/su.out")"
grep -qx "tunetrail: $MOUNT is setuid: recorded only from outside (start, exit)" "$T/su.err" ||
    fail "no setuid message on stderr: $(cat "$T/su.err")"
tail -n 1 "$T/su.err" | grep -q "; mount is setuid: recorded from outside only$" ||
    fail "the summary line does not say so: $(tail -n 1 "$T/su.err")"
echo "[$TT_NAME]   ok: stderr and the summary line say it is recorded from outside"
as_nobody processes --store "$DB" --study su --json >"$T/procs.cli.json" || fail "tunetrail processes failed"
as_nobody trials --store "$DB" --study su --json >"$T/trials.json" || fail "tunetrail trials failed"
pycheck "
procs = [json.loads(l) for l in open(args[0]) if l.strip()]
check(len(procs) == 1, 'one process (got %d)' % len(procs))
p = procs[0]
check(p['exe'] == args[1] and p['argv'] == [args[1], '--version'], 'exe and argv (%r %r)' % (p['exe'], p['argv']))
check((p['status'], p['exit_code']) == ('ok', 0), 'status ok, exit 0 (%r %r)' % (p['status'], p['exit_code']))
check(p['user'] == 'nobody' and p['relation'] == 'root', 'user nobody, root process (%r %r)' % (p['user'], p['relation']))
check(len(trials) == 1 and trials[0]['process'] == p['uuid'], 'one trial, of that process')
check(trials[0]['status'] == 'ok' and trials[0]['params'].get('version') == 'true', 'trial ok with its argv param (%r)' % trials[0].get('params'))
" "$T/procs.cli.json" "$MOUNT"

say "a failing setuid command: its exit status"
rc=0
as_nobody run --study su_fail --store "$DB" -- "$MOUNT" --no-such-option >"$T/suf.out" 2>"$T/suf.err" || rc=$?
[ "$rc" != 0 ] || fail "mount --no-such-option exited 0"
as_nobody processes --store "$DB" --study su_fail --json >"$T/procs.cli.json" || fail "tunetrail processes failed"
pycheck "
p = [json.loads(l) for l in open(args[0]) if l.strip()]
check(len(p) == 1 and (p[0]['status'], p[0]['exit_code']) == ('failed', int(args[1])), 'failed with exit %s (%s)' % (args[1], [(x['status'], x['exit_code']) for x in p]))
" "$T/procs.cli.json" "$rc"

say "setuid programs exec'd deeper (by PATH, by path, through dash) are named in the summary line"
rc=0
as_nobody run --study su_deep --store "$DB" -- sh -c "mount --version >/dev/null; $MOUNT --version >/dev/null; echo done" \
    >"$T/deep.out" 2>"$T/deep.err" || rc=$?
expect_eq "$rc" 0 "tunetrail run exit code"
tail -n 1 "$T/deep.err" | grep -q "; $MOUNT (setuid) ran 2 times without the shim: not recorded" ||
    fail "the summary line does not name the setuid program: $(tail -n 1 "$T/deep.err")"
echo "[$TT_NAME]   ok: the summary line names $MOUNT, 2 times"
echo "[$TT_NAME] PASS"
