#!/usr/bin/env bash
# statuses.sh - every way a process can end maps to the right trial status:
# non-zero exit -> failed (exit_code), fatal signal -> crashed (signal) with
# `tunetrail run` exiting 128+signal, SIGKILL -> killed; a fork tree is
# linked; a grandchild exec'd through `env -i` is still recorded with its
# parent; 8 threads' written files are all outputs with the right sha256;
# and without --trial the root process is the only trial.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" "$TT_PROGS/tt_exit3" "$TT_PROGS/tt_segv" "$TT_PROGS/tt_abort" \
    "$TT_PROGS/tt_sleep" "$TT_PROGS/tt_forktree" "$TT_PROGS/tt_envi_exec" "$TT_PROGS/tt_threads8"
P=$TT_PROGS
cd "$T"
echo "some input data" >"$T/in.txt"

# run_study STUDY EXPECTED_RC [--trial PAT] -- CMD... : runs CMD under
# tunetrail run into study STUDY and checks the exit code.
run_study() {
    local study=$1 want=$2
    shift 2
    local rc
    tt_rc rc run --study "$study" --store "$DB" "$@" >"$T/$study.out" 2>"$T/$study.err"
    [ "$rc" = "$want" ] || { cat "$T/$study.err" >&2; fail "tunetrail run ($study) exited $rc, expected $want"; }
    echo "[$TT_NAME]   ok: tunetrail run ($study) exit code = $want"
    trials_json --study "$study"
}

# show_all - `tunetrail show --json` of every trial in $T/trials.json into
# $T/show.json (one object per line, same order).
show_all() {
    : >"$T/show.json"
    local id
    for id in $(python3 -c 'import json,sys; [print(json.loads(l)["id"]) for l in open(sys.argv[1]) if l.strip()]' "$T/trials.json"); do
        tt show --store "$DB" --json "$id" | head -n 1 >>"$T/show.json" || fail "tunetrail show --json $id failed"
    done
}

# Python for the checks below: PYPROCS (lib/common.sh) plus `shows`, the
# show --json objects of $T/show.json in trial order.
ANCESTORS="$PYPROCS"'
shows = [json.loads(l) for l in open(os.path.join(os.path.dirname(sys.argv[1]), "show.json")) if l.strip()]
'
base() { printf 'import os\nB = lambda t: os.path.basename(t.get("exe") or "")\n'; }

say "tt_exit3 -> failed, exit_code 3, its input file hashed"
run_study exit3 3 --trial 'tt_*' -- "$P/tt_exit3" "$T/in.txt"
pycheck "$(base)
import os
check(len(trials) == 1, 'one trial (got %d)' % len(trials))
t = trials[0]
check(B(t) == 'tt_exit3', 'exe is tt_exit3 (%r)' % t.get('exe'))
check(t.get('status') == 'failed', 'status failed (%r)' % t.get('status'))
check(t.get('exit_code') == 3, 'exit_code 3 (%r)' % t.get('exit_code'))
check(t.get('argv', [None])[-1] == args[1], 'argv ends with the input path (%r)' % t.get('argv'))
ins = {os.path.realpath(i['path']): i.get('sha256') for i in t.get('inputs') or []}
check(ins.get(os.path.realpath(args[1])) == args[0], 'input %s sha256 %s (inputs %s)' % (args[1], args[0], ins))
" "$(sha256 "$T/in.txt")" "$T/in.txt"

say "tt_segv -> crashed, signal 11, tunetrail run exits 139"
run_study segv 139 --trial 'tt_*' -- "$P/tt_segv"
pycheck "$(base)
check(len(trials) == 1 and B(trials[0]) == 'tt_segv', 'one tt_segv trial (%s)' % [B(t) for t in trials])
check(trials[0].get('status') == 'crashed', 'status crashed (%r)' % trials[0].get('status'))
check(trials[0].get('signal') == 11, 'signal 11 (%r)' % trials[0].get('signal'))
"

say "tt_abort -> crashed, signal 6, tunetrail run exits 134"
run_study abort 134 --trial 'tt_*' -- "$P/tt_abort"
pycheck "$(base)
check(len(trials) == 1 and B(trials[0]) == 'tt_abort', 'one tt_abort trial (%s)' % [B(t) for t in trials])
check(trials[0].get('status') == 'crashed', 'status crashed (%r)' % trials[0].get('status'))
check(trials[0].get('signal') == 6, 'signal 6 (%r)' % trials[0].get('signal'))
"

say "tt_sleep SIGKILLed -> killed, tunetrail run exits 137"
tt_bg runpid timeout -k 5 "$TT_TIMEOUT" "$TT_BIN/tunetrail" run --study sleep --store "$DB" --trial 'tt_*' \
    -- "$P/tt_sleep" "$T/sleep.pid" 600
timeout 60 bash -c 'until [ -s "$1" ]; do sleep 0.05; done' _ "$T/sleep.pid" || fail "tt_sleep wrote no pid file"
kill -KILL "$(cat "$T/sleep.pid")"
rc=0
wait "$runpid" || rc=$?
expect_eq "$rc" 137 "tunetrail run exit code after SIGKILL of its command"
trials_json --study sleep
pycheck "$(base)
check(len(trials) == 1 and B(trials[0]) == 'tt_sleep', 'one tt_sleep trial (%s)' % [B(t) for t in trials])
check(trials[0].get('status') == 'killed', 'status killed (%r)' % trials[0].get('status'))
"

say "tt_forktree -> ok, 5 processes, every non-root process linked to a parent"
mkdir -p "$T/tree"
for r in root c0 c1 g0 g1; do echo "$r" >"$T/tree/$r"; done
run_study forktree 0 --trial 'tt_*' -- "$P/tt_forktree" "$T/tree"
show_all
procs_json forktree
pycheck "$(base)
$ANCESTORS
check(len(trials) >= 1, 'at least one trial')
check(all(t.get('status') == 'ok' for t in trials), 'all trials ok (%s)' % [t.get('status') for t in trials])
check(all(B(t) == 'tt_forktree' for t in trials), 'all trials are tt_forktree images')
names = [os.path.basename(p['exe'] or '') for p in PROCS]
check(names == ['tt_forktree'] * 5, 'study forktree has 5 tt_forktree processes (got %s)' % names)
check(all(p['status'] == 'ok' for p in PROCS), 'all 5 processes ok (%s)' % [p['status'] for p in PROCS])
uuids = {p['uuid'] for p in PROCS}
roots = [p for p in PROCS if not p['parent']]
check(len(roots) == 1, 'exactly one process without a parent (got %d)' % len(roots))
check(all(p['parent'] in uuids for p in PROCS if p['parent']), 'every other process parent is in the tree')
kids = {u: sum(1 for p in PROCS if p['parent'] == u) for u in uuids}
check(sorted(kids.values()) == [0, 0, 1, 1, 2], 'shape: root with 2 children, each with 1 child (%s)' % sorted(kids.values()))
"

say "tt_envi_exec -> the grandchild under env -i is recorded, with its parent chain"
run_study envi 3 --trial 'tt_*' -- "$P/tt_envi_exec" "$P/tt_exit3" "$T/in.txt"
show_all
procs_json envi
pycheck "$(base)
$ANCESTORS
import os
names = sorted(B(t) for t in trials)
check(names == ['tt_envi_exec', 'tt_exit3'], 'trials tt_envi_exec and tt_exit3 (got %s)' % names)
g = [t for t in trials if B(t) == 'tt_exit3'][0]
check(g.get('status') == 'failed' and g.get('exit_code') == 3, 'grandchild failed with exit_code 3 (%r %r)' % (g.get('status'), g.get('exit_code')))
ins = {os.path.realpath(i['path']): i.get('sha256') for i in g.get('inputs') or []}
check(ins.get(os.path.realpath(args[1])) == args[0], 'grandchild input %s hashed (%s)' % (args[1], ins))
gs = shows[trials.index(g)]
anc = ancestors(gs)
check(anc[:1] == ['env'] and 'tt_envi_exec' in anc, 'grandchild parent chain has env and tt_envi_exec (%s)' % anc)
" "$(sha256 "$T/in.txt")" "$T/in.txt"

say "tt_threads8 -> ok, its 8 written files among outputs with the right sha256"
mkdir -p "$T/thr"
echo "shared input" >"$T/thr/input"
run_study threads 0 --trial 'tt_*' -- "$P/tt_threads8" "$T/thr"
pycheck "$(base)
import os, hashlib
check(len(trials) == 1 and B(trials[0]) == 'tt_threads8', 'one tt_threads8 trial')
t = trials[0]
check(t.get('status') == 'ok', 'status ok (%r)' % t.get('status'))
outs = {os.path.realpath(o['path']): o.get('sha256') for o in t.get('outputs') or []}
for i in range(8):
    p = os.path.realpath(os.path.join(args[0], 'out-%d' % i))
    want = hashlib.sha256(open(p, 'rb').read()).hexdigest()
    check(outs.get(p) == want, 'output out-%d with sha256 %s (got %r)' % (i, want[:12], outs.get(p)))
ins = [os.path.realpath(i['path']) for i in t.get('inputs') or []]
check(os.path.realpath(os.path.join(args[0], 'input')) in ins, 'input file among inputs')
" "$T/thr"

say "without --trial the root process is the only trial"
run_study rootonly 3 -- "$P/tt_envi_exec" "$P/tt_exit3" "$T/in.txt"
pycheck "$(base)
check(len(trials) == 1, 'exactly one trial (got %d: %s)' % (len(trials), [B(t) for t in trials]))
check(B(trials[0]) == 'tt_envi_exec', 'the root process tt_envi_exec is the trial (%r)' % trials[0].get('exe'))
check(trials[0].get('status') == 'failed' and trials[0].get('exit_code') == 3, 'root trial failed with exit 3')
"
echo "[$TT_NAME] PASS"
