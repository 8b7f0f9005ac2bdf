#!/usr/bin/env bash
# python_hook.sh - the Python hook `tunetrail run` loads into every Python
# process (python/sitecustomize.py): it is invisible to a script that
# imports no framework (same output, only the hook's two modules imported,
# no framework trial, none of its files among the trial's files); the
# sitecustomize it shadows still runs (the user's on PYTHONPATH, else
# Debian's); TUNETRAIL_PYTHON=0 leaves Python alone; a hook that fails
# disables itself and says so once, only under TUNETRAIL_DEBUG=1.
source "$(dirname "$0")/lib/common.sh"
PY=/usr/bin/python3
need_exe "$PY" "$TT_BIN/tunetrail"
HOOK=$(realpath "$TT_BIN/../lib/tunetrail/python")
[ -f "$HOOK/sitecustomize.py" ] || fail "no Python hook at $HOOK (the tunetrail_python target)"
cd "$T"

# Prints which sitecustomize ran and its flag parsed by argparse; its
# modules go to a file.
cat >plain.py <<'EOF'
import argparse, sys
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.5)
a = p.parse_args()
sc = sys.modules.get("sitecustomize")
print("sitecustomize", getattr(sc, "__file__", None))
print("lr", a.lr)
print("stderr line", file=sys.stderr)
with open("plain.modules", "w") as f:
    f.write("\n".join(sorted(sys.modules)) + "\n")
with open("plain.path", "w") as f:
    f.write("\n".join(sys.path) + "\n")
EOF

cat >hello.py <<'EOF'
import sys
print("hello")
print("stderr line", file=sys.stderr)
with open("hello.modules", "w") as f:
    f.write("\n".join(sorted(sys.modules)) + "\n")
EOF

say "a script that imports no framework: same output, no framework trial, only the hook's modules"
"$PY" hello.py >bare.out 2>bare.err || fail "bare run of hello.py failed"
mv hello.modules bare.modules
tt_rc rc run --study hello --store "$DB" -- "$PY" hello.py >run.out 2>run.err
expect_eq "$rc" 0 "exit code"
expect_eq "$(tail -n 1 run.err)" "tunetrail: 1 trial (1 ok); no adapter opened a trial" "summary line"
tt_strip_summary run.err
cmp -s bare.out run.out || fail "stdout differs from a bare run: $(diff bare.out run.out)"
cmp -s bare.err run.err || fail "stderr differs from a bare run: $(diff bare.err run.err)"
echo "[$TT_NAME]   ok: stdout and stderr byte-identical to a bare run"
expect_eq "$(comm -13 bare.modules hello.modules | tr '\n' ' ')" "tunetrail_hook tunetrail_hook.frameworks " \
    "modules imported beyond a bare run's"
trials_json --study hello
pycheck "check([t['framework'] for t in trials] == ['argv'], 'one trial, the command itself, no framework (%s)' % [t['framework'] for t in trials])"

say "argparse's params, and none of the hook's files among the trial's files"
"$PY" plain.py --lr 0.25 >bare.out 2>bare.err || fail "bare run of plain.py failed"
tt_rc rc run --study plain --store "$DB" -- "$PY" plain.py --lr 0.25 >run.out 2>run.err
expect_eq "$rc" 0 "exit code"
cmp -s bare.out run.out || fail "stdout differs from a bare run (Debian's sitecustomize runs in both): $(diff bare.out run.out)"
trials_json --study plain
id=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["id"])' "$T/trials.json")
tt show "$id" --store "$DB" --json --files all >show.json || fail "tunetrail show $id failed"
pycheck "
t = trials[0]
check(t['params'] == {'lr': '0.25'} and t['param_sources'] == {'lr': 'argparse'}, 'its param from argparse (%s)' % t['param_sources'])
show = json.load(open('show.json'))
paths = [f['path'] for k in ('inputs', 'outputs') for f in show.get(k) or []]
paths += [f['path'] for f in show.get('environment_files') or []]
ours = [p for p in paths if p.startswith('$HOOK/')]
check(paths and not ours, 'none of the hook files among the trial files (%d files; %s)' % (len(paths), ours[:3]))
"

say "a sitecustomize of the user's on PYTHONPATH still runs (the hook too)"
mkdir site
cat >site/sitecustomize.py <<'EOF'
import os
print("user sitecustomize ran")
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "marker"), "w").close()
EOF
PYTHONPATH="$T/site" tt_rc rc run --study usersite --store "$DB" -- "$PY" plain.py >run.out 2>run.err
expect_eq "$rc" 0 "exit code"
expect_eq "$(head -n 2 run.out | tr '\n' ' ')" "user sitecustomize ran sitecustomize $T/site/sitecustomize.py " \
    "the user's sitecustomize printed and is the one in sys.modules"
[ -e site/marker ] || fail "the user's sitecustomize did not write its marker"
trials_json --study usersite
pycheck "check([t['param_sources'] for t in trials] == [{'lr': 'argparse:default'}], 'the hook ran too: lr from argparse (%s)' % [t['param_sources'] for t in trials])"

say "TUNETRAIL_PYTHON=0: no hook (argv params, none of its modules)"
TUNETRAIL_PYTHON=0 tt_rc rc run --study off --store "$DB" -- "$PY" plain.py --lr 0.125 >run.out 2>run.err
expect_eq "$rc" 0 "exit code"
grep -q '^tunetrail_hook$' plain.modules && fail "tunetrail_hook was imported with TUNETRAIL_PYTHON=0"
grep -qx "$HOOK" plain.path && fail "the hook is on sys.path with TUNETRAIL_PYTHON=0"
trials_json --study off
pycheck "check([t['param_sources'] for t in trials] == [{'lr': 'argv'}], 'lr from argv, not argparse (%s)' % [t['param_sources'] for t in trials])"

say "TUNETRAIL_PYTHON naming a directory without the hook: said, Python runs without it"
TUNETRAIL_PYTHON="$T/nothere" tt_rc rc run --study nothere --store "$DB" -- "$PY" plain.py --lr 0.125 >run.out 2>run.err
expect_eq "$rc" 0 "exit code"
expect_eq "$(head -n 1 run.err)" \
    "tunetrail: TUNETRAIL_PYTHON=$T/nothere: no sitecustomize.py there; Python runs without the hook" "first line on stderr"
grep -q '^tunetrail_hook$' plain.modules && fail "tunetrail_hook was imported from a directory without it"

say "a hook that fails disables itself: the program unchanged, said once under TUNETRAIL_DEBUG=1"
cp -r "$HOOK" broken
rm -rf broken/tunetrail_hook/__pycache__
cat >broken/tunetrail_hook/hook_broken.py <<'EOF'
def patch(module):
    raise RuntimeError("boom")
EOF
echo 'register("json", "hook_broken", "patch")' >>broken/tunetrail_hook/frameworks.py
cat >twice.py <<'EOF'
import json, argparse
import json.decoder, json.encoder
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float)
print(json.dumps({"lr": p.parse_args().lr}))
EOF
"$PY" twice.py --lr 2 >bare.out 2>bare.err || fail "bare run of twice.py failed"
for debug in 0 1; do
    TUNETRAIL_PYTHON="$T/broken" TUNETRAIL_DEBUG=$debug tt_rc rc run --study broken$debug --store "$DB" -- \
        "$PY" twice.py --lr 2 >run.out 2>run.err
    expect_eq "$rc" 0 "exit code (TUNETRAIL_DEBUG=$debug)"
    cmp -s bare.out run.out || fail "stdout differs from a bare run: $(diff bare.out run.out)"
    expect_eq "$(grep -c 'tunetrail: python hook disabled' run.err || true)" "$debug" \
        "'python hook disabled' lines with TUNETRAIL_DEBUG=$debug"
    [ "$debug" = 0 ] || grep -q 'tunetrail: python hook disabled: RuntimeError: boom$' run.err ||
        fail "the line does not say why: $(grep 'python hook' run.err)"
    trials_json --study broken$debug
    pycheck "check([t['param_sources'] for t in trials] == [{'lr': 'argv'}], 'disabled before argparse was patched: lr from argv (%s)' % [t['param_sources'] for t in trials])"
done
echo "[$TT_NAME] PASS"
