#!/usr/bin/env bash
# agent_bigfile.sh - a run whose command reads a big (300 MB) data file while
# another process keeps producing file events: the agent hashes on worker
# threads, so every event is still recorded, the big input carries the right
# sha256, every written file its own, and no spool file is left behind.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" "$TT_PROGS/tt_writer"
cd "$T"
head -c 300M /dev/urandom >"$T/big.dat"
BIG_SHA=$(sha256 "$T/big.dat")
mkdir -p "$T/out"
N=1500

# cat the big file (its input needs the big hash) while tt_writer writes N
# small files (each closed write needs a hash of its own)
cat >"$T/job.sh" <<EOF
#!/bin/sh
cat "$T/big.dat" >/dev/null &
"$TT_PROGS/tt_writer" "$T/out" $N 0
wait
EOF
chmod +x "$T/job.sh"

say "tunetrail run over a 300 MB read and $N small writes"
start=$(date +%s.%N)
tt_rc rc run --study big --store "$DB" --trial cat --trial tt_writer -- "$T/job.sh" >"$T/run.out" 2>"$T/run.err"
end=$(date +%s.%N)
[ "$rc" = 0 ] || { cat "$T/run.err" >&2; fail "tunetrail run exited $rc"; }
echo "[$TT_NAME]   info: run took $(python3 -c "print(round($end - $start, 2))") s"
grep -q "records kept" "$T/run.err" && fail "agent kept records in its spool: $(cat "$T/run.err")"
left=$(find "$TUNETRAIL_HOME" -name '*.spool' | wc -l)
expect_eq "$left" 0 "spool files left after the run"

trials_json --study big
pycheck "
import os, hashlib
by = {os.path.basename(t.get('exe') or ''): t for t in trials}
check(sorted(by) == ['cat', 'tt_writer'], 'trials cat and tt_writer (got %s)' % sorted(by))
c = by['cat']
check(c.get('status') == 'ok', 'cat ok (%r)' % c.get('status'))
ins = {os.path.realpath(i['path']): i for i in c.get('inputs') or []}
big = ins.get(os.path.realpath(args[1]))
check(big is not None, 'big.dat among cat inputs (%s)' % list(ins))
check(big.get('sha256') == args[0], 'big.dat sha256 %s (got %r)' % (args[0][:16], big.get('sha256')))
check(big.get('size') == 300 << 20, 'big.dat size (%r)' % big.get('size'))
w = by['tt_writer']
check(w.get('status') == 'ok', 'tt_writer ok (%r)' % w.get('status'))
outs = {os.path.realpath(o['path']): o.get('sha256') for o in w.get('outputs') or []}
n = int(args[3])
check(len(outs) == n, 'tt_writer has %d outputs (got %d)' % (n, len(outs)))
bad = [i for i in range(n)
       if outs.get(os.path.realpath(os.path.join(args[2], 'w-%d' % i))) != hashlib.sha256(b'%d\n' % i).hexdigest()]
check(not bad, 'every output has its sha256 (wrong: %s)' % bad[:10])
" "$BIG_SHA" "$T/big.dat" "$T/out" "$N"
echo "[$TT_NAME] PASS"
