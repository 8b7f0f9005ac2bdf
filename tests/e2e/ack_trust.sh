#!/usr/bin/env bash
# ack_trust.sh - an ack is trusted only as far as it can be checked (issue 15,
# item 10). An impostor that acks every batch "ok, stored" without storing:
#   - without a pinned key, the run takes its word but its last line says
#     delivery was not verified; an ack naming other bytes than the batch sent
#     is refused even then;
#   - with the real collector's key pinned (--collector-key), an unsigned ack
#     or one signed by another key is refused: the records stay in the spool,
#     the run says so, and `tunetrail flush` to the real collector delivers
#     every one of them, once;
#   - against the real collector with its key pinned: no warning, nothing kept.
# Bad input: --collector-key without --collector, or a file that is no key.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild" "$TT_PROGS/tt_zmq_impostor" sqlite3
cd "$T"
REAL=$(free_port)
tt_start_collector cpid "$REAL" "$DB" "$T/collector.log"
PIN=$TUNETRAIL_HOME/collector.pub
[ -s "$PIN" ] || fail "tunetraild made no collector.pub in $TUNETRAIL_HOME"
[ "$(logfmt_get "$T/collector.log" start ack_pub)" = "$PIN" ] && [ -n "$(logfmt_get "$T/collector.log" start ack_key)" ] ||
    fail "tunetraild did not say which key signs its acks: $(cat "$T/collector.log")"

# impostor MODE - starts the impostor on a new port; sets IMP (its endpoint) and ipid.
impostor() {
    local port
    port=$(free_port)
    rm -f "$T/imp.ready"
    tt_bg ipid "$TT_PROGS/tt_zmq_impostor" "tcp://127.0.0.1:$port" "$T/imp.ready" "$1"
    wait_file "$T/imp.ready"
    IMP=tcp://127.0.0.1:$port
}
# files STUDY N [RUN ARG...] - a run writing N files f-1..f-N in $T/STUDY; stderr to $T/STUDY.err.
files() {
    local study=$1 n=$2
    shift 2
    mkdir -p "$T/$study"
    tt_rc rc run --study "$study" "$@" -- sh -c "i=0; while [ \$i -lt $n ]; do i=\$((i + 1)); : >'$T/$study/f-'\$i; done" \
        2>"$T/$study.err"
    expect_eq "$rc" 0 "tunetrail run exit code ($study)"
    tt_strip_summary "$T/$study.err"
}
spools() { find "$TUNETRAIL_HOME/spool" -maxdepth 1 -name '*.spool' 2>/dev/null | wc -l; }

say "no key pinned: the impostor's word is taken, and the run says delivery was not verified"
impostor plain
files unpinned 10 --collector "$IMP"
grep -q "delivery to $IMP not verified" "$T/unpinned.err" || fail "no 'not verified' line: $(cat "$T/unpinned.err")"
tt_stop "$ipid"

say "no key pinned: an ack naming other bytes than the batch is refused all the same"
impostor replay
files wrongdigest 10 --collector "$IMP"
grep -q "but the ack names other bytes than the batch sent" "$T/wrongdigest.err" ||
    fail "a wrong digest was not refused: $(cat "$T/wrongdigest.err")"
grep -q "records kept in" "$T/wrongdigest.err" || fail "the run does not say its records were kept"
tt_stop "$ipid"

say "the real collector's key pinned: an unsigned ack is refused, the records kept"
impostor plain
files unsigned 20 --collector "$IMP" --collector-key "$PIN"
grep -q "but the ack is not signed" "$T/unsigned.err" || fail "unsigned ack not refused: $(cat "$T/unsigned.err")"
grep -q "acknowledged without the pinned key's signature.*records kept in" "$T/unsigned.err" ||
    fail "the last line does not say why records were kept: $(cat "$T/unsigned.err")"
! grep -q "not verified" "$T/unsigned.err" || fail "a pinned run said 'not verified'"
tt_stop "$ipid"

say "the real collector's key pinned: an ack signed by another key is refused"
impostor digest
files otherkey 20 --collector "$IMP" --collector-key "$PIN"
grep -q "is signed by another key than the pinned one" "$T/otherkey.err" ||
    fail "a foreign signature was not refused: $(cat "$T/otherkey.err")"
tt_stop "$ipid"
[ "$(spools)" -gt 0 ] || fail "no spool kept after refused acks"

say "flush to the real collector, its key pinned: every refused record delivered, once; spools gone"
tt_rc rc flush --collector "tcp://127.0.0.1:$REAL" --collector-key "$PIN" 2>"$T/flush.err"
cat "$T/flush.err" >&2
expect_eq "$rc" 0 "tunetrail flush exit code"
! grep -q "not verified" "$T/flush.err" || fail "a pinned flush said 'not verified'"
expect_eq "$(spools)" 0 "spool files left after the flush"
for s in wrongdigest unsigned otherkey; do
    n=$(tt trials --store "$DB" --study "$s" --json | python3 -c '
import json, sys, os
outs = [o["path"] for l in sys.stdin if l.strip() for o in json.loads(l)["outputs"]]
print(len([p for p in outs if os.path.basename(p).startswith("f-")]), len(set(outs)) == len(outs))')
    want=$([ $s = wrongdigest ] && echo 10 || echo 20)
    expect_eq "$n" "$want True" "files of study $s stored (count, each once)"
done
expect_eq "$(tt studies --store "$DB" --json | grep -c '"unpinned"' || true)" 0 "the impostor's unverified study in the real store"

say "the real collector, its key pinned: verified, nothing kept, no warning"
files verified 20 --collector "tcp://127.0.0.1:$REAL" --collector-key "$PIN"
[ ! -s "$T/verified.err" ] || fail "warnings from a verified run: $(cat "$T/verified.err")"
expect_eq "$(spools)" 0 "spool files left after a verified run"

say "bad input: --collector-key without --collector; a file that is no key"
tt_rc rc run --collector-key "$PIN" -- true 2>"$T/bad1.err"
expect_eq "$rc" 2 "exit code of --collector-key without --collector"
grep -q -- "--collector-key .* needs --collector" "$T/bad1.err" || fail "unclear error: $(cat "$T/bad1.err")"
echo "not a key" >"$T/bogus.pub"
tt_rc rc flush --collector "tcp://127.0.0.1:$REAL" --collector-key "$T/bogus.pub" 2>"$T/bad2.err"
expect_eq "$rc" 2 "exit code of a bogus --collector-key"
grep -q "bogus.pub" "$T/bad2.err" || fail "the error does not name the file: $(cat "$T/bad2.err")"
tt_stop "$cpid"
echo "[$TT_NAME] PASS"
