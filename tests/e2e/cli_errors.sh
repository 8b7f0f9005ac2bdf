#!/usr/bin/env bash
# cli_errors.sh - the CLI fails loudly and precisely: an unknown study, an
# unknown trial, a missing or non-SQLite store, a bad flag and a missing
# command each give a non-zero exit and a message naming the thing; readers
# never create a store; `--help` of every command exits 0.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild" "$TT_PROGS/tt_exit3"
cd "$T"

# expect_error NAME WANT_RC|nonzero NEEDLE CMD... - CMD fails (with WANT_RC if
# numeric) and its stderr mentions NEEDLE.
expect_error() {
    local name=$1 want=$2 needle=$3
    shift 3
    local rc=0
    timeout -k 5 60 "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
    if [ "$want" = nonzero ]; then
        [ "$rc" -ne 0 ] || fail "$name: exit 0, expected failure"
    else
        [ "$rc" = "$want" ] || { cat "$T/err" >&2; fail "$name: exit $rc, expected $want"; }
    fi
    [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || fail "$name: timed out"
    grep -qF -- "$needle" "$T/err" || { cat "$T/err" >&2; fail "$name: stderr does not name '$needle'"; }
    echo "[$TT_NAME]   ok: $name -> exit $rc, names '$needle'"
}
TUNE=$TT_BIN/tunetrail

say "a store with one study"
tt_rc rc run --study known --store "$DB" -- "$TT_PROGS/tt_exit3"
expect_eq "$rc" 3 "tunetrail run exit code"

say "unknown study / unknown trial"
expect_error "trials --study nosuchstudy" nonzero nosuchstudy "$TUNE" trials --store "$DB" --study nosuchstudy
expect_error "trials --study nosuchstudy --json" nonzero nosuchstudy "$TUNE" trials --store "$DB" --study nosuchstudy --json
expect_error "show 987654" nonzero 987654 "$TUNE" show --store "$DB" 987654
expect_error "show deadbeefcafe" nonzero deadbeefcafe "$TUNE" show --store "$DB" --json deadbeefcafe
expect_error "processes --study nosuchstudy" 1 nosuchstudy "$TUNE" processes --store "$DB" --study nosuchstudy --json
expect_error "log --study nosuchstudy" 1 nosuchstudy "$TUNE" log --store "$DB" --study nosuchstudy

say "missing or unreadable store"
for cmd in studies trials processes log; do
    expect_error "$cmd --store missing" nonzero "$T/missing.db" "$TUNE" "$cmd" --store "$T/missing.db"
done
expect_error "show --store missing" nonzero "$T/missing.db" "$TUNE" show --store "$T/missing.db" 1
[ ! -e "$T/missing.db" ] || fail "a reader created the missing store $T/missing.db"
head -c 8192 /dev/urandom >"$T/garbage.db"
expect_error "studies --store garbage" nonzero "$T/garbage.db" "$TUNE" studies --store "$T/garbage.db"
mkdir -p "$T/dir.db"
expect_error "trials --store DIR" nonzero "$T/dir.db" "$TUNE" trials --store "$T/dir.db"
expect_error "TUNETRAIL_STORE=missing studies" nonzero "$T/missing2.db" env TUNETRAIL_STORE="$T/missing2.db" "$TUNE" studies

say "bad flags"
for cmd in run flush studies trials show processes log; do
    expect_error "$cmd --bogus-flag" 2 --bogus-flag "$TUNE" "$cmd" --bogus-flag
done
expect_error "show --head (only log takes it)" 2 usage "$TUNE" show --store "$DB" --head 1
expect_error "processes with an argument" 2 extra "$TUNE" processes --store "$DB" extra
expect_error "unknown command" 2 frobnicate "$TUNE" frobnicate
expect_error "tunetraild --bogus-flag" nonzero --bogus-flag "$TT_BIN/tunetraild" --bogus-flag
expect_error "tunetraild without --bind" nonzero --bind "$TT_BIN/tunetraild" --store "$DB"

say "tunetrail run without a command, or with a command that does not exist"
expect_error "run without a command" 2 run "$TUNE" run --store "$DB"
expect_error "run of a missing program" nonzero /nonexistent/prog "$TUNE" run --store "$DB" -- /nonexistent/prog

say "--help of every command exits 0 and prints usage on stdout"
for cmd in run flush studies trials show processes log; do
    rc=0
    timeout 30 "$TUNE" "$cmd" --help >"$T/help" 2>&1 || rc=$?
    expect_eq "$rc" 0 "tunetrail $cmd --help exit code"
    grep -qi usage "$T/help" || fail "tunetrail $cmd --help prints no usage"
done
rc=0
timeout 30 "$TUNE" --help >"$T/help" || rc=$?
expect_eq "$rc" 0 "tunetrail --help exit code"
grep -q "^  processes " "$T/help" && grep -q "^  log " "$T/help" || fail "tunetrail --help does not list processes and log"
rc=0
timeout 30 "$TT_BIN/tunetraild" --help >"$T/help" || rc=$?
expect_eq "$rc" 0 "tunetraild --help exit code"
grep -q -- --bind "$T/help" || fail "tunetraild --help does not mention --bind"
echo "[$TT_NAME] PASS"
