#!/usr/bin/env bash
# failed_trials.sh - a configuration that fails before its framework trains
# still counts. A shell sweep of six svm-train / liblinear-train commands,
# three of which fail (an invalid kernel, a missing data file, an invalid
# solver), run WITHOUT --trial: every command is a trial with its argv
# params and the right status, the shell and a successful svm-predict are
# not, `tunetrail run` says so in its summary line, and the attested record
# of the refit of the best one has failure_rate 3/7. The same sweep run bare
# (LD_PRELOAD, no agent) and shipped by `tunetrail flush` gives the same
# trials: one rule for both paths.
source "$(dirname "$0")/lib/common.sh"
tt_requires_adapter libsvm liblinear
need_exe svm-train svm-predict liblinear-train "$TT_BIN/tunetrail"
SHIM=$(find "$TT_BUILD" -name libtunetrail.so -print -quit)
[ -n "$SHIM" ] || fail "libtunetrail.so not found under $TT_BUILD"
cp /usr/share/doc/liblinear-tools/examples/heart_scale "$T/heart_scale"
cd "$T"

cat >sweep.sh <<'EOF'
svm-train -v 3 -c 1 heart_scale
svm-train -v 3 -c 8 heart_scale
svm-train -v 3 -c 1 -t 9 heart_scale
svm-train -v 3 -c 2 missing_file
liblinear-train -v 3 -c 1 heart_scale
liblinear-train -v 3 -s 99 -c 1 heart_scale
EOF

# check_sweep - the trials of $T/trials.json are the sweep's six commands.
check_sweep() {
    pycheck "
import os
got = sorted((os.path.basename(t['exe']), t['status'], tuple(t['argv'][1:])) for t in trials)
want = sorted([
    ('svm-train', 'ok', ('-v', '3', '-c', '1', 'heart_scale')),
    ('svm-train', 'ok', ('-v', '3', '-c', '8', 'heart_scale')),
    ('svm-train', 'failed', ('-v', '3', '-c', '1', '-t', '9', 'heart_scale')),
    ('svm-train', 'failed', ('-v', '3', '-c', '2', 'missing_file')),
    ('liblinear-train', 'ok', ('-v', '3', '-c', '1', 'heart_scale')),
    ('liblinear-train', 'failed', ('-v', '3', '-s', '99', '-c', '1', 'heart_scale')),
])
check(got == want, 'six trials, one per command, with their statuses (got %s)' % got)
for t in trials:
    if t['status'] != 'failed':
        continue
    p = t['params']
    want = {'svm-train': {'v', 'c'}, 'liblinear-train': {'v', 's', 'c'}}[os.path.basename(t['exe'])]
    check(want <= set(p), '%s failed trial has its argv params %s (got %s)' % (t['argv'][3:], sorted(want), p))
    check(t.get('exit_code') == 1, 'failed trial exit_code 1 (%r)' % t.get('exit_code'))
"
}

say "the sweep under tunetrail run, without --trial"
tt_rc rc run --study sweep --store "$DB" -- sh sweep.sh >run.out 2>run.err
expect_eq "$rc" 1 "tunetrail run exit code (the shell's: its last command failed)"
trials_json --study sweep
check_sweep
expect_eq "$(tail -n 1 run.err)" "tunetrail: 6 trials (3 ok, 3 failed); adapters: libsvm 2, liblinear 1" \
    "the summary line"

say "a framework loaded, no trial of the same program: still a trial; a failed svm-predict is none"
tt_rc rc run --study only --store "$DB" -- sh -c \
    'svm-train -c 4 -t 9 heart_scale; svm-predict heart_scale missing.model p.out' >/dev/null 2>only.err
expect_eq "$rc" 1 "exit code (svm-predict's)"
expect_eq "$(tail -n 1 only.err)" "tunetrail: 1 trial (1 failed); no adapter opened a trial" "summary line"
trials_json --study only
pycheck "
got = [(t['exe'], t['status'], t['params']) for t in trials]
check(got == [('/usr/bin/svm-train', 'failed', {'c': '4', 't': '9'})], 'one failed svm-train trial (got %s)' % got)
"

say "refit c=8 and evaluate it (svm-predict is no trial); its record: failure_rate 3 of 7"
tt_rc rc run --study sweep --store "$DB" -- sh -c \
    'svm-train -c 8 heart_scale best.model && svm-predict heart_scale best.model pred.out' >/dev/null 2>refit.err
expect_eq "$rc" 0 "refit and svm-predict exit code"
expect_eq "$(tail -n 1 refit.err)" "tunetrail: 1 trial (1 ok); 1 evaluation; adapters: libsvm 1" "the refit's summary line"
tt keygen -o "$T/keys" >/dev/null || fail "keygen failed"
tt attest best.model --study sweep --store "$DB" --key "$T/keys/tunetrail.key" -o rec.json >/dev/null ||
    fail "attest best.model failed"
python3 - rec.json <<'PY' || fail "record check failed"
import base64, json, sys
st = json.loads(base64.b64decode(json.load(open(sys.argv[1]))["payload"]))
s = st["predicate"]["search"]
print("[failed_trials]   search:", {k: s[k] for k in ("trials", "by_status", "failure_rate")})
assert s["trials"] == 7, s["trials"]
assert s["by_status"].get("failed") == 3 and s["by_status"].get("ok") == 4, s["by_status"]
assert abs(s["failure_rate"] - 3 / 7) < 1e-12, s["failure_rate"]
PY
echo "[$TT_NAME]   ok: record: 7 trials, 3 failed, failure_rate 3/7"

say "the same sweep bare (LD_PRELOAD, no agent), shipped by tunetrail flush"
mkdir bare && cp sweep.sh heart_scale bare/
(cd bare && TUNETRAIL_STUDY=bare LD_PRELOAD=$SHIM sh sweep.sh >/dev/null 2>&1) || true
tt flush --store "$DB" >flush.out 2>&1 || { cat flush.out >&2; fail "tunetrail flush failed"; }
trials_json --study bare
check_sweep
echo "[$TT_NAME] PASS"
