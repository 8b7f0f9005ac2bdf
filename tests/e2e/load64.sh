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
#   env: STORE=sqlite (the store kind; the only one this build has),
#        AGENTS=64, LOOPS=3
source "$(dirname "$0")/lib/common.sh"

STORE=${STORE:-sqlite}
AGENTS=${AGENTS:-64}
LOOPS=${LOOPS:-3}
need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild" svm-train sqlite3
DATA=/usr/share/doc/liblinear-tools/examples/heart_scale
[ -r "$DATA" ] || { echo "[$TT_NAME] SKIP: no $DATA (install liblinear-tools)"; exit 77; }
case $STORE in
sqlite) STORE_ARG=$DB ;;
*) fail "STORE=$STORE: this build has no such store (sqlite)" ;;
esac
cd "$T"
LOOP="for c in $(seq -s " " "$LOOPS"); do svm-train -q -v 5 -c \$c $DATA; done" # sh + LOOPS processes

# stopped LOG NAME - the counter NAME of LOG's last "tunetraild: stopped:" line.
stopped() { grep 'tunetraild: stopped:' "$1" | tail -n 1 | grep -o " $2=[0-9]*" | cut -d= -f2; }

say "reference: one agent runs the loop against its own collector"
RPORT=$(free_port)
tt_start_collector rpid "$RPORT" "$T/ref.db" "$T/ref.log"
tt run --study load --collector "tcp://127.0.0.1:$RPORT" -- sh -c "$LOOP" >/dev/null 2>"$T/ref.err" ||
    fail "the reference run failed: $(cat "$T/ref.err")"
tt_stop "$rpid"
per_agent=$(stopped "$T/ref.log" events)
[ "${per_agent:-0}" -gt 0 ] || fail "the reference collector stored nothing: $(cat "$T/ref.log")"
echo "[$TT_NAME]   one agent's loop stores $per_agent events"

say "$AGENTS agents with their own CURVE keys, listed in the clients file"
SRV=$T/srv
tt keygen --curve -o "$SRV" >/dev/null || fail "keygen --curve for the collector failed"
: >"$T/clients"
for i in $(seq "$AGENTS"); do
    TUNETRAIL_HOME=$T/a$i tt keygen --curve >/dev/null || fail "keygen --curve for agent $i failed"
    echo "$(cat "$T/a$i/keys/curve.pub") agent$i@load" >>"$T/clients"
done
# one study written by all: the lab's access file says so (by default the
# first writer would own it and the 63 others be refused)
echo 'agent*@load load' >"$T/access"
PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT
tt_bg dpid "$TT_BIN/tunetraild" --bind "$EP" --store "$STORE_ARG" --create --curve-key "$SRV/curve.key" \
    --clients "$T/clients" --access "$T/access" >>"$T/d.log" 2>&1
wait_port "$PORT"

say "$AGENTS agents run $LOOPS x svm-train -v 5 each, all at once"
t0=$(date +%s%N)
# A subshell that waits for every agent: its children's CPU (cutime, cstime
# of /proc/self/stat) is then every agent's and every command's.
(
    pids=()
    for i in $(seq "$AGENTS"); do
        TUNETRAIL_HOME=$T/a$i timeout -k 5 "$TT_TIMEOUT" "$TT_BIN/tunetrail" run --study load --collector "$EP" \
            --collector-key "$SRV/curve.pub" -- sh -c "$LOOP" >"$T/a$i.out" 2>"$T/a$i.err" &
        pids+=($!)
    done
    for i in $(seq "$AGENTS"); do
        rc=0
        wait "${pids[$((i - 1))]}" || rc=$?
        echo "$rc" >"$T/a$i.rc"
    done
    read -r -a st </proc/self/stat # comm is "(bash)": no space in it
    echo $((st[15] + st[16])) >"$T/agents.ticks"
)
t1=$(date +%s%N)
bad=0
for i in $(seq "$AGENTS"); do
    [ "$(cat "$T/a$i.rc")" = 0 ] || { echo "agent $i exit $(cat "$T/a$i.rc"): $(cat "$T/a$i.err")" >&2; bad=$((bad + 1)); }
done
expect_eq "$bad" 0 "agents that did not exit 0"
[ "$(grep -c 'Cross Validation Accuracy' "$T/a1.out")" = "$LOOPS" ] || fail "agent 1's loop printed: $(cat "$T/a1.out")"

# An agent whose acks did not all come back in time (a busy collector on a
# shared machine) keeps the rest in its spool and says so: flush delivers it,
# and whatever had been stored meanwhile is a duplicate, not a second copy.
flushed=0
for i in $(seq "$AGENTS"); do
    ! grep -q "dropped\|unreachable\|refused" "$T/a$i.err" || fail "agent $i: $(cat "$T/a$i.err")"
    if grep -q "records kept in" "$T/a$i.err"; then
        echo "[$TT_NAME]   agent $i: $(grep 'records kept in' "$T/a$i.err")"
        TUNETRAIL_HOME=$T/a$i tt flush --collector "$EP" --collector-key "$SRV/curve.pub" >/dev/null 2>"$T/f$i.err" ||
            fail "agent $i's flush failed: $(cat "$T/f$i.err")"
        flushed=$((flushed + 1))
    fi
done
left=$(find "$T"/a*/spool -name '*.spool' 2>/dev/null | wc -l)
expect_eq "$left" 0 "spool files left in the agents' homes"

status=$(cat "/proc/$dpid/status")
hwm_kb=$(awk '/^VmHWM:/ {print $2}' <<<"$status")
read -r -a dst <"/proc/$dpid/stat"
dticks=$((dst[13] + dst[14]))
tt_stop "$dpid"

say "every event stored once: $AGENTS x $per_agent"
expect_eq "$(stopped "$T/d.log" events)" $((AGENTS * per_agent)) "events tunetraild stored"
# (rejected and auth_no_key count wait_port's probe: a plain TCP connect)
for c in refused conflicts forbidden auth_unknown_key; do
    expect_eq "$(stopped "$T/d.log" "$c")" 0 "tunetraild's $c count"
done
dups=$(stopped "$T/d.log" duplicates)

say "sessions, processes, trials and metrics: each once, under its agent's identity"
tt processes --store "$STORE_ARG" --study load --json >"$T/procs.cli.json" || fail "tunetrail processes --json failed"
trials_json --study load
tt studies --store "$STORE_ARG" --json >"$T/studies.json" || fail "tunetrail studies --json failed"
pycheck '
from collections import Counter
agents, loops = int(args[0]), int(args[1])
procs = [json.loads(l) for l in open(args[2]) if l.strip()]
studies = [json.loads(l) for l in open(args[3]) if l.strip()]
check(len(procs) == agents * (1 + loops), "%d processes (got %d)" % (agents * (1 + loops), len(procs)))
check(len({p["uuid"] for p in procs}) == len(procs), "each process uuid once")
check(all(p["status"] == "ok" for p in procs), "every process ok")
sess = Counter(p["session"] for p in procs)
check(len(sess) == agents, "%d sessions (got %d)" % (agents, len(sess)))
check(set(sess.values()) == {1 + loops}, "%d processes in each session" % (1 + loops))
ids = {}
for p in procs:
    ids.setdefault(p["session"], set()).add(p["identity"])
check(all(len(v) == 1 for v in ids.values()), "one identity per session")
check(sorted(v.pop() for v in ids.values()) == sorted("agent%d@load" % i for i in range(1, agents + 1)),
      "each agent identity on exactly one session")
check(len(trials) == agents * loops, "%d trials (got %d)" % (agents * loops, len(trials)))
check(len({t["uuid"] for t in trials}) == len(trials), "each trial uuid once")
check(all(t["status"] == "ok" and t["framework"] == "libsvm" for t in trials), "every trial ok, libsvm")
per = Counter((t["session"], t["params"]["libsvm.C"]) for t in trials)
check(set(per.values()) == {1} and len(per) == agents * loops, "C = 1..%d once in each session" % loops)
check(all(set(t["metrics"]) == {"cv_accuracy"} for t in trials), "every trial has its cv_accuracy")
check(sum(s["sessions"] for s in studies if s["study"] == "load") == agents, "studies --json: %d sessions" % agents)
' "$AGENTS" "$LOOPS" "$T/procs.cli.json" "$T/studies.json"

if [ "$STORE" = sqlite ]; then
    say "row by row (SQLite): no seq hole, no (origin, seq) twice, nothing refused"
    q() { sqlite3 "$DB" "$1"; }
    expect_eq "$(q "SELECT count(*) FROM ahead")" 0 "events stored past a hole"
    expect_eq "$(q "SELECT sum(hwm + 1) FROM origins")" $((AGENTS * per_agent)) "events by the origins' high-water marks"
    expect_eq "$(q "SELECT sum(stored) FROM received")" $((AGENTS * per_agent)) "events by the received batches"
    expect_eq "$(q "SELECT count(*) FROM (SELECT origin_id, seq FROM (SELECT origin_id, seq FROM files
        UNION ALL SELECT origin_id, seq FROM params UNION ALL SELECT origin_id, seq FROM metrics
        UNION ALL SELECT origin_id, seq FROM notes) GROUP BY 1, 2 HAVING count(*) > 1)")" 0 "(origin, seq) stored twice"
    expect_eq "$(q "SELECT count(*) FROM metrics")" $((AGENTS * LOOPS)) "metric rows"
    expect_eq "$(q "SELECT count(*) FROM refusals")" 0 "refusals"
fi

tck=$(getconf CLK_TCK)
awk -v s="$STORE" -v n="$AGENTS" -v l="$LOOPS" -v w=$((t1 - t0)) -v h="$hwm_kb" -v d="$dticks" \
    -v a="$(cat "$T/agents.ticks")" -v k="$tck" -v e=$((AGENTS * per_agent)) -v u="${dups:-0}" -v f="$flushed" \
    'BEGIN { printf "load64: store=%s agents=%d loops=%d wall=%.2f s daemon_peak_rss=%d KiB daemon_cpu=%.2f s agents_cpu=%.2f s events=%d duplicates=%d flushed=%d\n", s, n, l, w / 1e9, h, d / k, a / k, e, u, f }'
echo "[$TT_NAME] PASS"
