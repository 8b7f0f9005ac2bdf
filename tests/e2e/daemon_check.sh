#!/usr/bin/env bash
# daemon_check.sh - `tunetraild --check` (issue 12, part 4), with the flags of
# a real start: a good lab config passes (exit 0, one "ok" line per check) and
# then really serves a real agent; each broken piece (a clients line, an access
# line, a world-readable CURVE secret, a damaged store, a missing store without
# --create) fails with exit 1 and names the file (and line), and --check never
# binds nor creates anything.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild" svm-train sqlite3
DATA=/usr/share/doc/liblinear-tools/examples/heart_scale
[ -r "$DATA" ] || { echo "no $DATA" >&2; exit 77; }
cd "$T"
SRV=$T/srv
tt keygen --curve -o "$SRV" >/dev/null || fail "keygen --curve failed"
TUNETRAIL_HOME=$T/alice tt keygen --curve >/dev/null || fail "keygen --curve for alice failed"
printf '# lab\n%s alice@gpu-1\n' "$(cat "$T/alice/keys/curve.pub")" >"$T/clients"
printf 'alice@* *\n' >"$T/access"
PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT
FLAGS=(--bind "$EP" --store "$DB" --curve-key "$SRV/curve.key" --clients "$T/clients" --access "$T/access")

# check NAME WANT_RC [ARG...] - tunetraild --check with FLAGS and ARG...; output in $T/NAME.out.
check() {
    local name=$1 want=$2 rc=0
    shift 2
    timeout 60 "$TT_BIN/tunetraild" --check "${FLAGS[@]}" "$@" >"$T/$name.out" 2>&1 || rc=$?
    expect_eq "$rc" "$want" "tunetraild --check exit code ($name): $(cat "$T/$name.out")"
}

say "a new store without --create: FAIL store, and nothing created"
check nostore 1
grep -q "^FAIL store $DB: missing or empty (a new store needs --create)" "$T/nostore.out" || fail "$(cat "$T/nostore.out")"
[ ! -e "$DB" ] || fail "--check created the store"
say "with --create: all ok, still nothing created or bound"
check create 0 --create
expect_eq "$(grep -c '^ok   ' "$T/create.out")" 6 "ok lines (config, curve-key, clients, access, key, store)"
[ ! -e "$DB" ] && [ ! -e "$TUNETRAIL_HOME/collector.key" ] || fail "--check created a file"

say "a real start with the same flags serves a real agent; then --check passes on its store"
tt_bg dpid "$TT_BIN/tunetraild" "${FLAGS[@]}" --create >>"$T/d.log" 2>&1
wait_port "$PORT"
TUNETRAIL_HOME=$T/alice tt run --study heart --collector "$EP" --collector-key "$SRV/curve.pub" -- \
    svm-train -q "$DATA" "$T/m" 2>"$T/run.err" || fail "tunetrail run failed: $(cat "$T/run.err")"
tt_stop "$dpid"
check good 0
grep -q "^ok   store $DB: opens, quick_check passed" "$T/good.out" || fail "$(cat "$T/good.out")"
grep -q "^ok   clients $T/clients: 1 clients" "$T/good.out" || fail "$(cat "$T/good.out")"

say "a bad clients line: FAIL with FILE:LINE, the other checks still run"
cp "$T/clients" "$T/clients.good"
echo 'not-a-key bob@x' >>"$T/clients"
check badclients 1
grep -q "^FAIL clients: $T/clients:3: 'not-a-key' is not a CURVE public key" "$T/badclients.out" || fail "$(cat "$T/badclients.out")"
grep -q "^ok   store " "$T/badclients.out" || fail "the store was not checked after a bad clients file"
cp "$T/clients.good" "$T/clients"

say "a bad access line: FAIL with FILE:LINE"
printf 'alice@* *\nbob@*\n' >"$T/access"
check badaccess 1
grep -q "^FAIL access: $T/access:2: expected <identity glob> <study glob>" "$T/badaccess.out" || fail "$(cat "$T/badaccess.out")"
printf 'alice@* *\n' >"$T/access"

say "a CURVE secret readable by others: FAIL curve-key"
chmod 644 "$SRV/curve.key"
check readable 1
grep -q "^FAIL curve-key: $SRV/curve.key: .*readable by others" "$T/readable.out" || fail "$(cat "$T/readable.out")"
chmod 600 "$SRV/curve.key"

say "a damaged store: FAIL store (quick_check)"
check good2 0
size=$(stat -c %s "$DB")
dd if=/dev/urandom of="$DB" bs=4096 seek=1 count=$((size / 4096 - 1)) conv=notrunc status=none
check damaged 1
grep -q "^FAIL store $DB: damaged (SQLite quick_check" "$T/damaged.out" || fail "$(cat "$T/damaged.out")"
echo "[$TT_NAME] ok"
