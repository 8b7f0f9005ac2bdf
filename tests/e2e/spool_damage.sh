#!/usr/bin/env bash
# spool_damage.sh - a damaged spool costs its damaged frames only. A real
# spool (a `tunetrail run` of ~200 short processes with the collector down) is
# damaged five ways: one flipped byte in the middle, truncated to 60 %, a
# zeroed 4 KiB block, the file's first magic overwritten, and the magic of the
# frame holding the SessionStart overwritten. Each copy is flushed into its own
# store and must hold exactly what its intact frames hold (computed here from
# the undamaged copy's frames: processes whose ProcessStart survived, their
# trials, the session with its study), with flush naming the file and the
# byte offset it skipped, keeping the file under spool/damaged/, counting the
# damage in its summary line and exiting 3 (flush --help).
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" /bin/true /usr/bin/python3
cd "$T"
PORT=$(free_port) # nothing listens there: the collector is down

say "a spool of 202 processes (sh, seq, 200 x /bin/true) with the collector down"
tt_rc rc run --study dmg --collector "tcp://127.0.0.1:$PORT" --trial true -- \
    sh -c 'for i in $(seq 200); do /bin/true; done' 2>"$T/run.err"
expect_eq "$rc" 0 "tunetrail run exit code"
files=("$TUNETRAIL_HOME"/spool/agent-*.spool)
expect_eq "${#files[@]}" 1 "agent spool files"
NAME=$(basename "${files[0]}")
mv "$TUNETRAIL_HOME" "$T/orig"
SIZE=$(stat -c %s "$T/orig/spool/$NAME")

# counts STORE -> "processes P trials T sessions S" of study dmg
counts() {
    local p t s
    p=$(tt processes --store "$1" --study dmg --json | wc -l)
    t=$(tt trials --store "$1" --study dmg --json | wc -l)
    s=$(tt studies --store "$1" --json | /usr/bin/python3 -c \
        'import json,sys; print(sum(json.loads(l)["sessions"] for l in sys.stdin if json.loads(l)["study"]=="dmg"))')
    echo "processes $p trials $t sessions $s"
}

# model LO HI - what the intact frames hold when bytes [LO, HI) of the
# undamaged spool are damaged: the frame format of docs/INTERNALS.md (16-byte
# header, BATCH parts joined, META copy of the SessionStart), events decoded
# with a minimal protobuf reader (tunetrail.proto field numbers).
model() {
    /usr/bin/python3 - "$T/orig/spool/$NAME" "$1" "$2" <<'PY'
import struct, sys
def varint(b, i):
    r = s = 0
    while True:
        x = b[i]; i += 1; r |= (x & 0x7f) << s; s += 7
        if x < 0x80: return r, i
def fields(b):
    i = 0
    while i < len(b):
        k, i = varint(b, i); f, w = k >> 3, k & 7
        if w == 0: v, i = varint(b, i)
        elif w == 2: n, i = varint(b, i); v = b[i:i + n]; i += n
        elif w == 1: v = b[i:i + 8]; i += 8
        elif w == 5: v = b[i:i + 4]; i += 4
        else: raise ValueError("wire type %d" % w)
        yield f, v
d = open(sys.argv[1], 'rb').read()
lo, hi = int(sys.argv[2]), int(sys.argv[3])
o, kept, meta, lost, lostp = 0, [], None, [], set()
while o < len(d):
    magic, kind, n = struct.unpack_from('<IB3xI', d, o)
    assert magic == 0x31535454, "undamaged spool unreadable at byte %d" % o
    end = o + 16 + n
    events = [dict(fields(v)) for f, v in fields(d[o + 16:end]) if f == 4]
    if end <= lo or o >= hi:
        kept += events if kind == 1 else []
        meta = meta or (events if kind == 3 else None)
    else:
        lost.append((o, end))
        lostp |= {dict(fields(e[12]))[1] for e in events if 12 in e} if kind == 1 else set()
    o = end
has_ss = any(10 in e for e in kept)
if not has_ss and meta:
    kept, has_ss = kept + meta, True
ps = {dict(fields(e[12]))[1] for e in kept if 12 in e}
ts = [dict(fields(e[15])).get(2) for e in kept if 15 in e]
print("processes %d trials %d sessions %d" % (len(ps), sum(p in ps for p in ts), int(has_ss)))
# the damaged span as flush reports it: from the first damaged frame to the
# next intact one (or the end of the cut file); the processes that lost events
cut = hi == len(d)  # damage to the end: the file was cut at lo
print("span %d %d" % (lost[0][0], (lo if cut else lost[-1][1]) - lost[0][0]))
print("events %d lostprocs %d" % (len(kept), len(lostp)))
PY
}

say "the undamaged copy: everything, exit 0"
cp -a "$T/orig" "$T/home-ref"
TUNETRAIL_HOME=$T/home-ref tt_rc rc flush --store "$T/ref.db" >"$T/ref.out" 2>"$T/ref.err"
expect_eq "$rc" 0 "flush of the undamaged spool: exit code"
expect_eq "$(counts "$T/ref.db")" "processes 202 trials 200 sessions 1" "undamaged flush stored"

# damage KIND LO HI - damages a copy (bytes [LO, HI) of the file), flushes it
# and checks counts, report, damaged/ and exit status against the model.
damage() {
    local k=$1 lo=$2 hi=$3 h=$T/home-$1 f
    cp -a "$T/orig" "$h"
    f=$h/spool/$NAME
    case $k in
    flip) /usr/bin/python3 -c 'import sys
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x5a]))' "$f" "$lo" ;;
    trunc) truncate -s "$lo" "$f" ;;
    zero) dd if=/dev/zero of="$f" bs=1 seek="$lo" count=$((hi - lo)) conv=notrunc status=none ;;
    magic*) printf 'XXXX' | dd of="$f" bs=1 seek="$lo" conv=notrunc status=none ;;
    esac
    model "$lo" "$hi" >"$T/$k.model"
    local want span_off span_len events lostp
    want=$(sed -n 1p "$T/$k.model")
    read -r _ span_off span_len <<<"$(sed -n 2p "$T/$k.model")"
    read -r _ events _ lostp <<<"$(sed -n 3p "$T/$k.model")"
    say "$k (bytes $lo-$hi): the intact frames' records, nothing else lost"
    TUNETRAIL_HOME=$h tt_rc rc flush --store "$T/$k.db" >"$T/$k.out" 2>"$T/$k.err"
    cat "$T/$k.out" "$T/$k.err"
    expect_eq "$rc" 3 "$k: flush exit code (damage skipped)"
    expect_eq "$(counts "$T/$k.db")" "$want" "$k: stored"
    grep -qF "$h/spool/$NAME: skipped $span_len damaged bytes at offset $span_off (" "$T/$k.err" ||
        fail "$k: flush did not name $NAME and offset $span_off ($span_len bytes) on stderr"
    echo "[$TT_NAME]   ok: $k: stderr names the file and offset $span_off"
    grep -qF "shipped $events events from 1 spool files" "$T/$k.out" ||
        fail "$k: summary does not say the $events events shipped"
    grep -qF "skipped 1 damaged regions ($span_len bytes) in 1 files, kept in $h/spool/damaged" "$T/$k.out" ||
        fail "$k: summary does not count the skipped region"
    echo "[$TT_NAME]   ok: $k: summary: $events events shipped, 1 region of $span_len bytes skipped"
    [ ! -e "$f" ] || fail "$k: the damaged file is still in the spool"
    [ -f "$h/spool/damaged/$NAME" ] || fail "$k: the damaged file was not kept under spool/damaged/"
    [ -z "$(find "$h/spool" -maxdepth 1 -name '*.spool')" ] || fail "$k: spool files left for reshipping"
    echo "[$TT_NAME]   ok: $k: kept as spool/damaged/$NAME"
    LOST=$lostp
    TUNETRAIL_HOME=$h tt_rc rc flush --store "$T/$k.db" >/dev/null 2>&1
    expect_eq "$rc" 0 "$k: a second flush (nothing left)"
}

damage flip $((SIZE / 2)) $((SIZE / 2 + 1))
# one flipped byte costs one part of ~2 KiB (SPOOL_PART_BYTES): a few processes, not a batch's ~40
[ "$LOST" -ge 1 ] && [ "$LOST" -le 10 ] || fail "flip: one flipped byte touched $LOST processes (expected 1..10)"
echo "[$TT_NAME]   ok: flip: one flipped byte touched $LOST processes"
damage trunc $((SIZE * 6 / 10)) "$SIZE"
damage zero $((SIZE / 2 / 4096 * 4096)) $((SIZE / 2 / 4096 * 4096 + 4096))
damage magic 0 4
expect_eq "$(counts "$T/magic.db")" "processes 202 trials 200 sessions 1" "magic: the first magic is a META copy's"
# the frame holding the SessionStart is the first BATCH frame, after the META copy
SS=$(/usr/bin/python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(); print(16+struct.unpack_from("<I",d,8)[0])' "$T/orig/spool/$NAME")
damage magic-ss "$SS" $((SS + 4))
expect_eq "$(counts "$T/magic-ss.db" | awk '{print $6}')" 1 "magic-ss: the session (study dmg) recovered from its META copy"
echo "[$TT_NAME] PASS"
