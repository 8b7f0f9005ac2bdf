#!/usr/bin/env bash
# spool_full.sh - the spool directory on a full tmpfs with the collector down:
# the agent keeps what the spool cannot take in memory up to
# TUNETRAIL_HOLD_MAX, says once how many records of which session it had to
# drop, and its "records kept" line counts only what the spool holds: a
# later `tunetrail flush` ships exactly that many. `--strict` turns a drop
# into exit 75 when the command itself exited 0; without it, and when the
# command failed, the command's status stands.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild"
if [ "$(id -u)" != 0 ]; then
    echo "[$TT_NAME] SKIP: mounting a tmpfs needs root (CI runs as root)"
    exit 77
fi
SP=$TUNETRAIL_HOME/spool
mkdir -p "$SP"
mount -t tmpfs -o size=256k tmpfs "$SP" || fail "cannot mount a tmpfs on $SP"
# tt_cleanup reads the test's status from $?: keep it across the umount
trap '__rc=$?; umount "$SP" 2>/dev/null; (exit $__rc); tt_cleanup' EXIT
# 64 KiB left: the first batches fit, the rest do not
dd if=/dev/zero of="$SP/filler" bs=4k count=48 2>/dev/null
PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT
export TUNETRAIL_HOLD_MAX=20000
cd "$T"

# run NAME RCVAR OPTS... -- CMD: one run with the collector down; its stderr in $T/NAME.err.
run() {
    local name=$1 __var=$2
    shift 2
    local __st=0
    timeout -k 5 "$TT_TIMEOUT" "$TT_BIN/tunetrail" run --study full --collector "$EP" "$@" 2>"$T/$name.err" || __st=$?
    printf -v "$__var" '%s' "$__st"
}
# kept NAME - the records its "kept in" line claims (0 without one).
kept() { sed -n 's/.* \([0-9][0-9]*\) records kept in .*/\1/p' "$T/$1.err" | awk '{s+=$1} END {print s+0}'; }
# dropped NAME - "N records of session S (study full) dropped" lines: "COUNT N".
dropped() { grep -c ' records of session [0-9a-f]\{32\} (study full) dropped: .*No space left on device' "$T/$1.err" || true; }

LOOP='for i in $(seq 300); do /bin/true; done'
say "--strict, the command exits 0: records dropped, exit 75"
run strict rc --strict -- sh -c "$LOOP"
cat "$T/strict.err" >&2
expect_eq "$rc" 75 "exit status of --strict with records dropped"
expect_eq "$(dropped strict)" 1 "the drop said once"
n1=$(kept strict)
[ "$n1" -gt 0 ] || fail "some records fit in the spool (kept line: $n1)"

say "without --strict: the command's status"
run plain rc -- sh -c "$LOOP"
expect_eq "$rc" 0 "exit status without --strict"
expect_eq "$(dropped plain)" 1 "the drop said once"

say "--strict, the command exits 3: its status stands"
run failing rc --strict -- sh -c "$LOOP; exit 3"
expect_eq "$rc" 3 "exit status of --strict when the command failed"
expect_eq "$(dropped failing)" 1 "the drop said once"

total=$(( n1 + $(kept plain) + $(kept failing) ))
say "room again, the collector up: flush ships exactly the $total records the runs said they kept"
rm -f "$SP/filler"
tt_start_collector cpid "$PORT" "$DB" "$T/collector.log"
out=$(tt flush --collector "$EP") || fail "tunetrail flush failed: $out"
echo "$out"
shipped=$(echo "$out" | sed -n 's/^tunetrail flush: shipped \([0-9]*\) events .*/\1/p')
expect_eq "$shipped" "$total" "records flushed vs records the final lines said were kept"
ls "$SP" | grep -q 'spool$' && fail "spool files left after flush: $(ls "$SP")"
tt_stop "$cpid" TERM
echo "[$TT_NAME] PASS"
