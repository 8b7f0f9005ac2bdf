# tests/e2e/lib/agents.sh - many agents against one tunetraild, and the
# check that every event they made is stored exactly once (load64.sh,
# daemon_restart.sh). Source after common.sh. Agent i has its own home
# $T/a$i, CURVE key and identity agent$i@load; all write study `load`.

# stopped LOG NAME - the counter NAME of LOG's last event=summary line (logfmt).
stopped() { logfmt_get "$1" summary "$2"; }

# agents_reference LOOP - sets PER_AGENT to the events one agent running
# `sh -c LOOP` stores, on a collector of its own (its count of new events).
agents_reference() {
    local rport rpid
    rport=$(free_port)
    tt_start_collector rpid "$rport" "$T/ref.db" "$T/ref.log"
    tt run --study load --collector "tcp://127.0.0.1:$rport" -- sh -c "$1" >/dev/null 2>"$T/ref.err" ||
        fail "the reference run failed: $(cat "$T/ref.err")"
    tt_stop "$rpid"
    PER_AGENT=$(stopped "$T/ref.log" events)
    [ "${PER_AGENT:-0}" -gt 0 ] || fail "the reference collector stored nothing: $(cat "$T/ref.log")"
    echo "[$TT_NAME]   one agent's loop stores $PER_AGENT events"
}

# agents_keys N - the collector's CURVE keys in $T/srv, N agents' keys, the
# clients file $T/clients and an access file $T/access letting them all
# write study `load` (by default its first writer would own it).
agents_keys() {
    tt keygen --curve -o "$T/srv" >/dev/null || fail "keygen --curve for the collector failed"
    : >"$T/clients"
    local i
    for i in $(seq "$1"); do
        TUNETRAIL_HOME=$T/a$i tt keygen --curve >/dev/null || fail "keygen --curve for agent $i failed"
        echo "$(cat "$T/a$i/keys/curve.pub") agent$i@load" >>"$T/clients"
    done
    echo 'agent*@load load' >"$T/access"
}

# agents_daemon PIDVAR PORT STORE LOG [ARG...] - tunetraild with CURVE, the
# clients and access files, on 127.0.0.1:PORT; waits until it listens.
agents_daemon() {
    local __v=$1 port=$2 store=$3 log=$4
    shift 4
    tt_bg "$__v" "$TT_BIN/tunetraild" --bind "tcp://127.0.0.1:$port" --store "$store" --curve-key "$T/srv/curve.key" \
        --clients "$T/clients" --access "$T/access" "$@" >>"$log" 2>&1
    wait_port "$port"
}

# agents_start N EP LOOP - starts N agents at once, agent i running
# `sh -c LOOP` (with $AGENT set to i) through EP: stdout $T/a$i.out, stderr
# $T/a$i.err. A background waiter writes each exit status to $T/a$i.rc and
# then the CPU ticks of all of them (cutime + cstime) to $T/agents.ticks.
agents_start() {
    local n=$1 ep=$2 loop=$3
    (
        pids=()
        for i in $(seq "$n"); do
            AGENT=$i TUNETRAIL_HOME=$T/a$i timeout -k 5 "$TT_TIMEOUT" "$TT_BIN/tunetrail" run --study load \
                --collector "$ep" --collector-key "$T/srv/curve.pub" -- sh -c "$loop" >"$T/a$i.out" 2>"$T/a$i.err" &
            pids+=($!)
        done
        for i in $(seq "$n"); do
            rc=0
            wait "${pids[$((i - 1))]}" || rc=$?
            echo "$rc" >"$T/a$i.rc"
        done
        read -r -a st </proc/self/stat # comm is "(bash)": no space in it
        echo $((st[15] + st[16])) >"$T/agents.ticks"
    ) &
    AGENTS_WAITER=$!
    TT_BG_PIDS+=("$AGENTS_WAITER")
}

# agents_wait N - waits for agents_start's agents; fails unless each exited 0.
agents_wait() {
    wait "$AGENTS_WAITER" || true
    local i bad=0
    for i in $(seq "$1"); do
        [ "$(cat "$T/a$i.rc" 2>/dev/null)" = 0 ] ||
            { echo "agent $i exit $(cat "$T/a$i.rc" 2>/dev/null): $(cat "$T/a$i.err")" >&2; bad=$((bad + 1)); }
    done
    expect_eq "$bad" 0 "agents that did not exit 0"
}

# agents_flush N EP - `tunetrail flush` for each agent that kept records
# (its line "N records kept in"); FLUSHED is how many did. Fails if one
# dropped records or a flush leaves any.
agents_flush() {
    local i
    FLUSHED=0
    for i in $(seq "$1"); do
        ! grep -q "dropped" "$T/a$i.err" || fail "agent $i dropped records: $(cat "$T/a$i.err")"
        grep -q "records kept in" "$T/a$i.err" || continue
        echo "[$TT_NAME]   agent $i: $(grep 'records kept in' "$T/a$i.err")"
        TUNETRAIL_HOME=$T/a$i tt flush --collector "$2" --collector-key "$T/srv/curve.pub" >"$T/f$i.out" 2>"$T/f$i.err" ||
            fail "agent $i's flush failed: $(cat "$T/f$i.err")"
        FLUSHED=$((FLUSHED + 1))
    done
    expect_eq "$(find "$T"/a*/spool -name '*.spool' 2>/dev/null | wc -l)" 0 "spool files left in the agents' homes"
}

# agents_check_once STORE N LOOPS EVENTS [ROWS] - the store holds what N agents
# running LOOPS svm-train each made, each once: N sessions of 1 + LOOPS
# processes and LOOPS trials (C = 1..LOOPS, each with cv_accuracy), under
# identities agent1..N@load (through `tunetrail ... --json`); on SQLite also
# EVENTS events by every origin's high-water mark and by the committed
# batches, no seq hole, no (origin, seq) twice, nothing refused (ROWS: the
# SQLite file to check row by row, for PostgreSQL a daemon's replica).
agents_check_once() {
    local store=$1 n=$2 loops=$3 events=$4 rows=${5:-$1}
    tt processes --store "$store" --study load --json >"$T/procs.cli.json" || fail "tunetrail processes --json failed"
    tt trials --store "$store" --study load --json >"$T/trials.json" || fail "tunetrail trials --json failed"
    tt studies --store "$store" --json >"$T/studies.json" || fail "tunetrail studies --json failed"
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
' "$n" "$loops" "$T/procs.cli.json" "$T/studies.json"
    [ -f "$rows" ] || return 0
    say "row by row (SQLite $(basename "$rows")): no seq hole, no (origin, seq) twice, nothing refused"
    q() { sqlite3 "$rows" "$1"; }
    expect_eq "$(q "SELECT count(*) FROM ahead")" 0 "events stored past a hole"
    expect_eq "$(q "SELECT sum(hwm + 1) FROM origins")" "$events" "events by the origins' high-water marks"
    expect_eq "$(q "SELECT sum(stored) FROM received")" "$events" "events by the committed batches"
    expect_eq "$(q "SELECT count(*) FROM (SELECT origin_id, seq FROM (SELECT origin_id, seq FROM files
        UNION ALL SELECT origin_id, seq FROM params UNION ALL SELECT origin_id, seq FROM metrics
        UNION ALL SELECT origin_id, seq FROM notes) GROUP BY 1, 2 HAVING count(*) > 1)")" 0 "(origin, seq) stored twice"
    expect_eq "$(q "SELECT count(*) FROM metrics")" $((n * loops)) "metric rows"
    expect_eq "$(q "SELECT count(*) FROM refusals")" 0 "refusals"
}
