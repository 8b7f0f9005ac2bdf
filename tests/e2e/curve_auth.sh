#!/usr/bin/env bash
# curve_auth.sh - the lab collector (issue 12, parts 1-2): tunetraild with a
# CURVE key, a clients file and (later) an access file, and real agents
# running svm-train:
#   - an allowed client: everything stored once, under its identity;
#   - a client without CURVE, a client whose key is not listed, a client
#     whose key was removed (daemon restarted), and an authenticated client
#     writing a study it does not own: each refused, counted, logged, nothing
#     of it stored, and the agent keeps its records;
#   - an access file line lets the refused client in: its flush then stores
#     its records under its identity;
#   - bad clients / access lines and a non-loopback bind without keys stop
#     tunetraild with exit 2 and FILE:LINE.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild" svm-train sqlite3
DATA=/usr/share/doc/liblinear-tools/examples/heart_scale
[ -r "$DATA" ] || { echo "no $DATA" >&2; exit 77; }
cd "$T"
SRV=$T/srv
tt keygen --curve -o "$SRV" >"$T/keygen.out" || fail "keygen --curve failed"
[ "$(stat -c %a "$SRV/curve.key")" = 600 ] || fail "curve.key is not 0600"
[ "$(wc -c <"$SRV/curve.pub")" -eq 41 ] || fail "curve.pub is not one line of 40 Z85 characters"
for u in alice bob eve; do
    TUNETRAIL_HOME=$T/$u tt keygen --curve >/dev/null || fail "keygen --curve for $u failed"
done
ALICE="$(cat "$T/alice/keys/curve.pub") alice@gpu-1"
BOB="$(cat "$T/bob/keys/curve.pub") bob@gpu-2"
printf '# lab clients\n%s\n%s\n' "$ALICE" "$BOB" >"$T/clients"
PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT

# daemon [ARG...] - starts tunetraild with CURVE on $EP (log appended to $T/d.log); sets dpid.
daemon() {
    tt_bg dpid "$TT_BIN/tunetraild" --bind "$EP" --store "$DB" --create --curve-key "$SRV/curve.key" \
        --clients "$T/clients" "$@" >>"$T/d.log" 2>&1
    wait_port "$PORT"
}
# train USER STUDY [RUN ARG...] - USER runs svm-train into STUDY; stderr in $T/USER-STUDY.err.
train() {
    local u=$1 study=$2
    shift 2
    local rc=0
    TUNETRAIL_HOME=$T/$u tt run --study "$study" --collector "$EP" "$@" -- \
        svm-train -q "$DATA" "$T/$u.model" 2>"$T/$u-$study.err" || rc=$?
    expect_eq "$rc" 0 "tunetrail run exit code ($u, $study)"
}
# counts - what the store holds: sessions processes trials received identities.
counts() {
    sqlite3 "$DB" "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM processes),
        (SELECT count(*) FROM trials), (SELECT count(*) FROM received),
        (SELECT count(*) FROM identities)"
}
spools() { find "$T/$1/spool" -maxdepth 1 -name 'agent-*.spool' 2>/dev/null | wc -l; }
# stopped NAME - the counter NAME of the daemon's last summary (event=summary).
stopped() { logfmt_get "$T/d.log" summary "$1"; }

say "a non-loopback bind without CURVE is refused loudly (exit 2)"
rc=0
timeout 20 "$TT_BIN/tunetraild" --bind "tcp://0.0.0.0:$PORT" --store "$DB" --create 2>"$T/open.err" || rc=$?
expect_eq "$rc" 2 "tunetraild exit code on an open bind"
grep -q "REFUSING to listen on tcp://0.0.0.0:$PORT without CURVE" "$T/open.err" || fail "no loud refusal: $(cat "$T/open.err")"

say "bad clients and access lines: exit 2 with FILE:LINE"
printf '# ok\n%s\nnot-a-key bob@x\n' "$ALICE" >"$T/bad-clients"
rc=0
timeout 20 "$TT_BIN/tunetraild" --bind "$EP" --store "$DB" --create --curve-key "$SRV/curve.key" \
    --clients "$T/bad-clients" 2>"$T/bad.err" || rc=$?
expect_eq "$rc" 2 "tunetraild exit code on a bad clients line"
grep -q "$T/bad-clients:3: 'not-a-key' is not a CURVE public key" "$T/bad.err" || fail "no FILE:LINE: $(cat "$T/bad.err")"
printf '%s\n' "$(cat "$T/alice/keys/curve.pub")" >"$T/bad-clients"
rc=0
timeout 20 "$TT_BIN/tunetraild" --bind "$EP" --store "$DB" --create --curve-key "$SRV/curve.key" \
    --clients "$T/bad-clients" 2>"$T/bad.err" || rc=$?
expect_eq "$rc" 2 "tunetraild exit code on a clients line without identity"
grep -q "$T/bad-clients:1: expected <Z85 public key> <identity>" "$T/bad.err" || fail "no FILE:LINE: $(cat "$T/bad.err")"
printf 'alice@* heart\nbob@*\n' >"$T/bad-access"
rc=0
timeout 20 "$TT_BIN/tunetraild" --bind "$EP" --store "$DB" --create --curve-key "$SRV/curve.key" \
    --clients "$T/clients" --access "$T/bad-access" 2>"$T/bad.err" || rc=$?
expect_eq "$rc" 2 "tunetraild exit code on a bad access line"
grep -q "$T/bad-access:2: expected <identity glob> <study glob>" "$T/bad.err" || fail "no FILE:LINE: $(cat "$T/bad.err")"
[ ! -e "$DB" ] || fail "a refused start made a store"

say "an agent pinning a CURVE key without a key of its own says how to make one"
rc=0
TUNETRAIL_HOME=$T/nokeys tt run --collector "$EP" --collector-key "$SRV/curve.pub" -- true 2>"$T/nokeys.err" || rc=$?
expect_eq "$rc" 1 "tunetrail run exit code without a client key"
grep -q "this client has no CURVE key .*tunetrail keygen --curve" "$T/nokeys.err" || fail "unclear: $(cat "$T/nokeys.err")"

daemon
expect_eq "$(logfmt_get "$T/d.log" start curve_public_key curve=on)" "$(cat "$SRV/curve.pub")" "the public key in the start line"
expect_eq "$(logfmt_get "$T/d.log" start curve_pub)" "$SRV/curve.pub" "the public key file in the start line"

say "an allowed client: everything stored once, under its identity"
train alice heart --collector-key "$SRV/curve.pub"
expect_eq "$(spools alice)" 0 "alice's spools left"
! grep -q "not verified" "$T/alice-heart.err" || fail "a CURVE-pinned run said 'not verified'"
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM trial_view WHERE study = 'heart'")" 1 "trials of heart"
tt show 1 --json --store "$DB" >"$T/show.json" || fail "tunetrail show failed"
/usr/bin/python3 - "$T/show.json" <<'PY' || fail "show does not carry alice's identity: $(cat "$T/show.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert {p["identity"] for p in d["processes"]} == {"alice@gpu-1"}, d["processes"]
PY
tt studies --json --store "$DB" | grep -q '"owner":"alice@gpu-1"' || fail "studies --json has no owner"
base=$(counts)

say "a client without CURVE: refused at the handshake, nothing stored, records kept"
train bob plain
grep -q "records kept in" "$T/bob-plain.err" || fail "bob's plain run kept nothing: $(cat "$T/bob-plain.err")"
expect_eq "$(counts)" "$base" "store after a plain client"

say "a client whose key is not listed: refused at the handshake, nothing stored"
train eve heart --collector-key "$SRV/curve.pub"
grep -q "refused this client's CURVE key (not in its clients file.*records kept in" "$T/eve-heart.err" ||
    fail "eve's run does not say its key was refused: $(cat "$T/eve-heart.err")"
expect_eq "$(logfmt_get "$T/d.log" auth_refused key reason=auth_unknown_key)" "$(cat "$T/eve/keys/curve.pub")" \
    "the unknown key in its auth_refused line"
expect_eq "$(counts)" "$base" "store after an unknown key"

say "an authenticated client writing a study it does not own: refused whole, records kept, said why"
train bob heart --collector-key "$SRV/curve.pub"
grep -q "refused this client: identity bob@gpu-2 may not write study heart: it belongs to identity alice@gpu-1" \
    "$T/bob-heart.err" || fail "bob was not told why: $(cat "$T/bob-heart.err")"
! grep -q unreachable "$T/bob-heart.err" || fail "a refused client was told 'unreachable'"
expect_eq "$(spools bob)" 2 "bob's spools (plain + refused)"
expect_eq "$(counts)" "$base" "store after a forbidden write"
[ "$(logfmt_count "$T/d.log" forbidden identity=bob@gpu-2 \
    "error=identity bob@gpu-2 may not write study heart: it belongs to identity alice@gpu-1")" = 1 ] ||
    fail "the refusal was not logged (once): $(cat "$T/d.log")"

say "the counters: one of each refusal at least"
tt_stop "$dpid"
[ "$(stopped auth_no_key)" -ge 1 ] || fail "auth_no_key not counted: $(tail -n 1 "$T/d.log")"
[ "$(stopped auth_unknown_key)" -ge 1 ] || fail "auth_unknown_key not counted"
[ "$(stopped forbidden)" -ge 1 ] || fail "forbidden not counted"

say "a revoked key (removed from the clients file, daemon restarted): refused, nothing stored"
printf '%s\n' "$BOB" >"$T/clients"
daemon
train alice heart --collector-key "$SRV/curve.pub"
grep -q "refused this client's CURVE key.*records kept in" "$T/alice-heart.err" ||
    fail "the revoked client's records were not kept: $(cat "$T/alice-heart.err")"
expect_eq "$(counts)" "$base" "store after a revoked key"
tt_stop "$dpid"
expect_eq "$(stopped auth_unknown_key)" 1 "auth_unknown_key after the revoked client"

say "an access file line lets bob write heart: his flush stores his records once, as bob"
printf '%s\n%s\n' "$ALICE" "$BOB" >"$T/clients"
printf '# who writes what\nalice@* *\nbob@gpu-2 heart\n' >"$T/access"
daemon --access "$T/access"
TUNETRAIL_HOME=$T/bob tt flush --collector "$EP" --collector-key "$SRV/curve.pub" >"$T/flush.out" 2>"$T/flush.err" || true
expect_eq "$(spools bob)" 1 "bob's spools after the flush (the plain run's study 'plain' is not his)"
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM trial_view WHERE study = 'heart'")" 2 "trials of heart"
expect_eq "$(sqlite3 "$DB" "SELECT count(DISTINCT i.identity) FROM sessions s JOIN identities i ON i.uuid = s.uuid WHERE s.study = 'heart'")" 2 \
    "identities of heart's sessions"
tt_stop "$dpid"
logfmt_check "$T/d.log"
echo "[$TT_NAME] ok"
