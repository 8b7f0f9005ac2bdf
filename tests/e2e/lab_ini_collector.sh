#!/usr/bin/env bash
# lab_ini_collector.sh - tunetrail.ini's [collector] section (issue 12, part
# 1): endpoint, key (the collector's public key file) and curve_key (this
# client's secret key), relative paths from the file's directory. With no
# flag and no environment, `tunetrail run` and `tunetrail flush` in the
# project ship to that collector over CURVE (stored under the client's
# identity); TUNETRAIL_COLLECTOR or --store win over the file; a bad line
# stops the run with exit 2 and FILE:LINE before the command starts.
source "$(dirname "$0")/lib/common.sh"
tt_requires_adapter libsvm
need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild" svm-train
DATA=/usr/share/doc/liblinear-tools/examples/heart_scale
P=$T/proj
mkdir -p "$P"
cd "$P"
tt keygen --curve -o "$T/srv" >/dev/null || fail "keygen --curve for the collector failed"
tt keygen --curve -o "$P/me" >/dev/null || fail "keygen --curve for the client failed"
cp "$T/srv/curve.pub" "$P/collector.pub"
echo "$(cat "$P/me/curve.pub") alice@gpu-1" >"$T/clients"
PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT
daemon() {
    tt_bg dpid "$TT_BIN/tunetraild" --bind "$EP" --store "$DB" --create --curve-key "$T/srv/curve.key" \
        --clients "$T/clients" >>"$T/d.log" 2>&1
    wait_port "$PORT"
}
# $TUNETRAIL_HOME has no CURVE key: only the file's curve_key can make the handshake.
printf '[metric]\nacc = ^Cross Validation Accuracy = ([0-9.]+)%%\n[collector]\nendpoint = %s\nkey = collector.pub\ncurve_key = me/curve.key\n' \
    "$EP" >tunetrail.ini
# identity_of STUDY STORE - the identities of STUDY's processes in STORE, sorted, comma-separated.
identity_of() {
    tt processes --store "$2" --study "$1" --json | /usr/bin/python3 -c '
import json, sys
print(",".join(sorted({str(json.loads(l)["identity"]) for l in sys.stdin if l.strip()})))'
}

say "no flag, no environment: run ships to the file's collector over CURVE"
daemon
tt_rc rc run --study ini -- svm-train -q -v 5 "$DATA" >/dev/null 2>"$T/run.err"
expect_eq "$rc" 0 "tunetrail run exit code"
! grep -q "records kept\|not verified" "$T/run.err" || fail "not delivered over CURVE: $(cat "$T/run.err")"
expect_eq "$(identity_of ini "$DB")" "alice@gpu-1" "identity of the run's processes"

say "flush with no flag ships to the file's collector too"
tt_stop "$dpid"
tt_rc rc run --study ini -- svm-train -q -v 5 -c 4 "$DATA" >/dev/null 2>"$T/down.err"
expect_eq "$rc" 0 "tunetrail run exit code with the collector down"
grep -q "collector $EP unreachable; [0-9]* records kept" "$T/down.err" || fail "the run did not keep its records: $(cat "$T/down.err")"
daemon
tt_rc rc flush >"$T/flush.out" 2>"$T/flush.err"
expect_eq "$rc" 0 "tunetrail flush exit code"
grep -q "^tunetrail flush: shipped [1-9][0-9]* events" "$T/flush.out" || fail "flush shipped nothing: $(cat "$T/flush.out" "$T/flush.err")"
expect_eq "$(tt trials --store "$DB" --study ini --json | wc -l)" 2 "trials of study ini"
expect_eq "$(identity_of ini "$DB")" "alice@gpu-1" "identity after the flush"

say "TUNETRAIL_COLLECTOR names another collector: the file's endpoint and keys stay out"
PORT2=$(free_port)
tt_start_collector d2 "$PORT2" "$T/other.db" "$T/d2.log"
TUNETRAIL_COLLECTOR=tcp://127.0.0.1:$PORT2 tt run --study env -- svm-train -q -v 5 "$DATA" >/dev/null 2>"$T/env.err" ||
    fail "the run to TUNETRAIL_COLLECTOR failed: $(cat "$T/env.err")"
expect_eq "$(identity_of env "$T/other.db")" "None" "identity on the plain collector (no CURVE)"
tt_stop "$d2"

say "--store: local, the file's endpoint stays out"
tt_rc rc run --study local --store "$T/local.db" -- svm-train -q -v 5 "$DATA" >/dev/null 2>"$T/local.err"
expect_eq "$rc" 0 "tunetrail run --store exit code"
expect_eq "$(tt trials --store "$T/local.db" --study local --json | wc -l)" 1 "trials in the local store"
tt_stop "$dpid"

say "a bad [collector] line: exit 2, FILE:LINE and what was expected, the command never runs"
bad() { # bad LINE TEXT EXPECTED-WORDS
    printf '%b' "$2" >tunetrail.ini
    tt_rc rc run --study broken -- touch "$T/ran" 2>"$T/bad.err"
    expect_eq "$rc" 2 "exit status for: $(tr '\n' '|' <tunetrail.ini | head -c 60)"
    grep -qF "$P/tunetrail.ini:$1: " "$T/bad.err" || fail "error does not name tunetrail.ini:$1: $(cat "$T/bad.err")"
    grep -qF "$3" "$T/bad.err" || fail "error does not say '$3': $(cat "$T/bad.err")"
    [ ! -e "$T/ran" ] || fail "the command ran despite the bad tunetrail.ini"
    echo "[$TT_NAME]   ok: $(cat "$T/bad.err")"
}
bad 2 '[collector]\nendpoint = http://x:1\n' "expected tcp://HOST:PORT or ipc://PATH"
bad 2 '[collector]\nhost = x\n' "has no key 'host'; expected endpoint, key"
bad 3 '[collector]\nendpoint = tcp://127.0.0.1:1\nendpoint = tcp://127.0.0.1:2\n' "given twice"
bad 3 "[collector]\nendpoint = $EP\nkey = missing.pub\n" "[collector] key: "
chmod 644 me/curve.key
bad 4 "[collector]\nendpoint = $EP\n\ncurve_key = me/curve.key\n" "[collector] curve_key: "
echo "[$TT_NAME] PASS"
