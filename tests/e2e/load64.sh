#!/usr/bin/env bash
# load64.sh - the lab collector under load (issue 12, part 5): 64 agents at
# once, each with its own TUNETRAIL_HOME and CURVE key (all listed in the
# clients file), each running a real training loop (3 x `svm-train -v 5` on
# heart_scale), against one tunetraild. Afterwards every event is stored
# exactly once:
#   - tunetraild's count of newly stored events is 64 times what one agent
#     running the same loop stores (a reference run on its own collector),
#     whatever resends happened meanwhile (counted as duplicates, not stored);
#   - sessions, processes, trials and metrics (through `tunetrail ... --json`)
#     are 64 x 1, 64 x 4, 64 x 3 and 64 x 3, each uuid once, each under its
#     agent's identity, every process and trial ok;
#   - on SQLite also row by row: every origin's seqs stored without a hole,
#     no (origin, seq) twice, nothing refused.
# Prints the agents' wall time and the daemon's peak RSS (VmHWM) and CPU time,
# figures only (a shared machine: no threshold). Ends with one line
# `load64: ...` that bench/bench_load64.sh reads.
#   env: STORE=sqlite | postgresql (a private server, lib/pg.sh; the rows are
#        then checked on tunetraild's replica), AGENTS=64, LOOPS=3
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/agents.sh"

STORE=${STORE:-sqlite}
AGENTS=${AGENTS:-64}
LOOPS=${LOOPS:-3}
need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild" svm-train sqlite3
DATA=/usr/share/doc/liblinear-tools/examples/heart_scale
[ -r "$DATA" ] || { echo "[$TT_NAME] SKIP: no $DATA (install liblinear-tools)"; exit 77; }
DAEMON_ARGS=(--create)
case $STORE in
sqlite) STORE_ARG=$DB ROWS=$DB ;;
postgresql)
    source "$(dirname "$0")/lib/pg.sh"
    pg_start
    STORE_ARG=$PGURI ROWS=$T/replica.db
    DAEMON_ARGS=(--replica "$ROWS")
    ;;
*) fail "STORE=$STORE: no such store kind (sqlite, postgresql)" ;;
esac
cd "$T"
LOOP="for c in $(seq -s " " "$LOOPS"); do svm-train -q -v 5 -c \$c $DATA; done" # sh + LOOPS processes

say "reference: one agent runs the loop against its own collector"
agents_reference "$LOOP"

say "$AGENTS agents with their own CURVE keys, listed in the clients file"
agents_keys "$AGENTS"
PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT
agents_daemon dpid "$PORT" "$STORE_ARG" "$T/d.log" "${DAEMON_ARGS[@]}"

say "$AGENTS agents run $LOOPS x svm-train -v 5 each, all at once"
t0=$(date +%s%N)
agents_start "$AGENTS" "$EP" "$LOOP"
agents_wait "$AGENTS"
t1=$(date +%s%N)
[ "$(grep -c 'Cross Validation Accuracy' "$T/a1.out")" = "$LOOPS" ] || fail "agent 1's loop printed: $(cat "$T/a1.out")"
for i in $(seq "$AGENTS"); do
    ! grep -q "unreachable\|refused\|store full" "$T/a$i.err" || fail "agent $i: $(cat "$T/a$i.err")"
done
# An agent whose acks did not all come back in time (a busy collector on a
# shared machine) keeps the rest in its spool and says so: flush delivers it,
# and whatever had been stored meanwhile is a duplicate, not a second copy.
agents_flush "$AGENTS" "$EP"

status=$(cat "/proc/$dpid/status")
hwm_kb=$(awk '/^VmHWM:/ {print $2}' <<<"$status")
read -r -a dst <"/proc/$dpid/stat"
dticks=$((dst[13] + dst[14]))
tt_stop "$dpid"

say "every event stored once: $AGENTS x $PER_AGENT"
expect_eq "$(stopped "$T/d.log" events)" $((AGENTS * PER_AGENT)) "events tunetraild stored"
# (rejected and auth_no_key count wait_port's probe: a plain TCP connect)
for c in refused conflicts forbidden auth_unknown_key; do
    expect_eq "$(stopped "$T/d.log" "$c")" 0 "tunetraild's $c count"
done
agents_check_once "$STORE_ARG" "$AGENTS" "$LOOPS" $((AGENTS * PER_AGENT)) "$ROWS"

tck=$(getconf CLK_TCK)
awk -v s="$STORE" -v n="$AGENTS" -v l="$LOOPS" -v w=$((t1 - t0)) -v h="$hwm_kb" -v d="$dticks" \
    -v a="$(cat "$T/agents.ticks")" -v k="$tck" -v e=$((AGENTS * PER_AGENT)) -v u="$(stopped "$T/d.log" duplicates)" \
    -v f="$FLUSHED" 'BEGIN { printf "load64: store=%s agents=%d loops=%d wall=%.2f s daemon_peak_rss=%d KiB daemon_cpu=%.2f s agents_cpu=%.2f s events=%d duplicates=%d flushed=%d\n", s, n, l, w / 1e9, h, d / k, a / k, e, u, f }'
echo "[$TT_NAME] PASS"
