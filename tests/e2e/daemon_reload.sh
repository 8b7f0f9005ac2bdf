#!/usr/bin/env bash
# daemon_reload.sh - SIGHUP reloads tunetraild's clients and access files
# (issue 12, part 4), against real agents running svm-train and tt_writer:
#   - a bad new clients file is refused with a log line, the old list stays
#     in force (alice still gets in);
#   - alice's key removed + SIGHUP: her next run is refused at the handshake,
#     nothing of it stored, records kept; bob still gets in;
#   - an agent of alice's connected before the reload loses its connection
#     at its next batch (counted `revoked`), and nothing it sends after the
#     reload is stored.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild" "$TT_PROGS/tt_writer" svm-train sqlite3
DATA=/usr/share/doc/liblinear-tools/examples/heart_scale
[ -r "$DATA" ] || { echo "no $DATA" >&2; exit 77; }
cd "$T"
SRV=$T/srv
tt keygen --curve -o "$SRV" >/dev/null || fail "keygen --curve failed"
for u in alice bob; do
    TUNETRAIL_HOME=$T/$u tt keygen --curve >/dev/null || fail "keygen --curve for $u failed"
done
ALICE="$(cat "$T/alice/keys/curve.pub") alice@gpu-1"
BOB="$(cat "$T/bob/keys/curve.pub") bob@gpu-2"
printf '%s\n%s\n' "$ALICE" "$BOB" >"$T/clients"
printf 'alice@* *\nbob@* *\n' >"$T/access"
PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT
tt_bg dpid "$TT_BIN/tunetraild" --bind "$EP" --store "$DB" --create --curve-key "$SRV/curve.key" \
    --clients "$T/clients" --access "$T/access" >>"$T/d.log" 2>&1
wait_port "$PORT"

# train USER STUDY - USER runs svm-train into STUDY; stderr in $T/USER-STUDY.err.
train() {
    local rc=0
    TUNETRAIL_HOME=$T/$1 tt run --study "$2" --collector "$EP" --collector-key "$SRV/curve.pub" -- \
        svm-train -q "$DATA" "$T/$1.model" 2>"$T/$1-$2.err" || rc=$?
    expect_eq "$rc" 0 "tunetrail run exit code ($1, $2)"
}
trials() { sqlite3 "$DB" "SELECT count(*) FROM trial_view WHERE study = '$1'"; }
# hup N - SIGHUP and wait for the Nth reload line (refused or done) in the log.
hup() {
    kill -HUP "$dpid"
    timeout 30 bash -c 'until [ "$(grep -c " event=reload " "$1")" -ge "$2" ]; do sleep 0.05; done' \
        _ "$T/d.log" "$1" || fail "no reload line after SIGHUP $1: $(cat "$T/d.log")"
}
stopped() { logfmt_get "$T/d.log" summary "$1"; }

say "a bad new clients file is refused with FILE:LINE; the old list stays in force"
cp "$T/clients" "$T/clients.good"
echo 'not-a-key eve@x' >>"$T/clients"
hup 1
logfmt_get "$T/d.log" reload error result=refused | grep -q "^$T/clients:3: 'not-a-key' is not a CURVE public key" ||
    fail "no refusal line: $(cat "$T/d.log")"
train alice a1
expect_eq "$(trials a1)" 1 "alice's trials after a refused reload"

say "an agent of alice's connected before her key is revoked"
mkdir -p "$T/w"
tt_bg wpid env TUNETRAIL_HOME="$T/alice" timeout -k 5 "$TT_TIMEOUT" "$TT_BIN/tunetrail" run --study long \
    --collector "$EP" --collector-key "$SRV/curve.pub" --trial 'tt_*' -- "$TT_PROGS/tt_writer" "$T/w" 300 10 \
    2>"$T/long.err"
wait_file "$T/w/w-50"

say "alice's key removed + SIGHUP"
printf '%s\n' "$BOB" >"$T/clients"
hup 2
[ "$(logfmt_get "$T/d.log" reload clients result=ok clients_file="$T/clients")" = 1 ] || fail "no reload line: $(cat "$T/d.log")"
rc=0
wait "$wpid" || rc=$?
expect_eq "$rc" 0 "the long run's exit code"
grep -q "records kept in" "$T/long.err" || fail "the revoked agent kept nothing: $(cat "$T/long.err")"
grep -q " event=revoked reason=revoked action=dropped .*its CURVE key was revoked" "$T/d.log" || fail "the open connection was not dropped: $(cat "$T/d.log")"

say "alice's next run: refused at the handshake, nothing stored; bob still gets in"
train alice a2
grep -q "refused this client's CURVE key.*records kept in" "$T/alice-a2.err" ||
    fail "alice was not refused: $(cat "$T/alice-a2.err")"
expect_eq "$(trials a2)" 0 "alice's trials after the revocation"
train bob b1
expect_eq "$(trials b1)" 1 "bob's trials after alice's revocation"
tt_stop "$dpid"
[ "$(stopped revoked)" -ge 1 ] || fail "revoked not counted: $(tail -n 1 "$T/d.log")"
expect_eq "$(stopped reloads)" 2 "reloads counted"
logfmt_check "$T/d.log"
echo "[$TT_NAME] ok"
