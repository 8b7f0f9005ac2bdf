#!/usr/bin/env bash
# pg_store.sh - the PostgreSQL store on a real server (Debian postgresql-15,
# private cluster on a Unix socket): two tunetraild write one database at
# once while svm-grid searches run through both; a fresh reader sees the same
# trials as the same searches stored in SQLite, every replica computes the
# same study log (leaf hashes), attest + verify work from the database, the
# database refuses UPDATE/DELETE of the batch log; PostgreSQL crashed and
# restarted mid-run and a tunetraild SIGKILLed mid-run lose and duplicate
# nothing; a replica of another database is rebuilt; a bad URI and an
# unreachable server give clear errors with the password masked.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/pg.sh"
tt_requires_adapter libsvm
need_exe svm-grid svm-train python "$TT_BIN/tunetrail" "$TT_BIN/tunetraild" "$TT_PROGS/tt_writer"
pg_start
cp /usr/share/doc/liblinear-tools/examples/heart_scale "$T/heart_scale"
cd "$T"

say "a bad URI and an unreachable server: clear errors, password masked"
tt_rc rc trials --store "postgresql://u:s3cret@/tt?nosuchoption=1" 2>err.txt
expect_eq "$rc" 1 "trials exit code on a malformed URI"
grep -q 'postgresql://u:\*\*\*@/tt?nosuchoption=1.*not a valid connection URI' err.txt || fail "error: $(cat err.txt)"
! grep -q s3cret err.txt || fail "the password shows: $(cat err.txt)"
tt_rc rc studies --store "postgresql://u:s3cret@/tt?host=$T/nosock" 2>err.txt
expect_eq "$rc" 1 "studies exit code on an unreachable server"
grep -q "postgresql://u:\*\*\*@/tt?host=$T/nosock: cannot connect" err.txt || fail "error: $(cat err.txt)"
rc=0
timeout 30 "$TT_BIN/tunetraild" --bind "tcp://127.0.0.1:$(free_port)" \
    --store "postgresql://u:s3cret@/tt?host=$T/nosock" 2>err.txt || rc=$?
expect_eq "$rc" 1 "tunetraild exit code on an unreachable server"
grep -q "cannot open store: PostgreSQL postgresql://u:\*\*\*@" err.txt || fail "error: $(cat err.txt)"
! grep -q s3cret err.txt || fail "the password shows: $(cat err.txt)"
tt_rc rc trials --store "$PGURI" 2>err.txt
expect_eq "$rc" 1 "trials exit code before any writer made the schema"
grep -q "no tunetrail store there" err.txt || fail "error: $(cat err.txt)"

start_d() { # VAR PORT REPLICA
    local __v=$1
    tt_bg "$__v" "$TT_BIN/tunetraild" --bind "tcp://127.0.0.1:$2" --store "$PGURI" \
        --replica "$3" >>"$T/d-$2.log" 2>&1
    wait_port "$2"
}
PA=$(free_port)
start_d da "$PA" "$T/ra.db"
PB=$(free_port)
start_d db "$PB" "$T/rb.db"

say "two svm-grid searches at once, one through each tunetraild"
GRID=(svm-grid -log2c -1,3,2 -log2g -3,-1,2 -svmtrain /usr/bin/svm-train -gnuplot null -out null heart_scale)
tt_bg ga timeout -k 5 "$TT_TIMEOUT" "$TT_BIN/tunetrail" run --study ga --collector "tcp://127.0.0.1:$PA" -- "${GRID[@]}"
tt_bg gb timeout -k 5 "$TT_TIMEOUT" "$TT_BIN/tunetrail" run --study gb --collector "tcp://127.0.0.1:$PB" -- "${GRID[@]}"
rc=0; wait "$ga" >/dev/null || rc=$?
expect_eq "$rc" 0 "svm-grid through tunetraild A"
rc=0; wait "$gb" >/dev/null || rc=$?
expect_eq "$rc" 0 "svm-grid through tunetraild B"
tt_rc rc run --study ga --collector "tcp://127.0.0.1:$PA" -- svm-train -c 2 -g 0.5 heart_scale heart.model >/dev/null
expect_eq "$rc" 0 "refit through tunetraild A"

say "the same searches into SQLite: the fresh PostgreSQL reader sees the same trials"
for s in ga gb; do
    tt_rc rc run --study "$s" --store "$DB" -- "${GRID[@]}" >/dev/null
    expect_eq "$rc" 0 "svm-grid into SQLite ($s)"
done
tt_rc rc run --study ga --store "$DB" -- svm-train -c 2 -g 0.5 heart_scale heart2.model >/dev/null
summary() { # STORE -> one line per trial: study, status, choices, metric names (sorted)
    tt trials --json --store "$1" >"$T/t.json" || fail "trials --json --store $1"
    python3 - "$T/t.json" <<'PY'
import json, sys
rows = []
for l in open(sys.argv[1]):
    if l.strip():
        t = json.loads(l)
        ch = {k: v for k, v in (t.get("params") or {}).items() if k in ("libsvm.C", "libsvm.gamma")}
        rows.append(json.dumps([t.get("study"), t.get("status"), ch,
                                sorted((t.get("metrics") or {}).keys())], sort_keys=True))
print("\n".join(sorted(rows)))
PY
}
summary "$PGURI" >pg.sum
summary "$DB" >sq.sum
expect_eq "$(wc -l <pg.sum)" "$(wc -l <sq.sum)" "trials in PostgreSQL as in SQLite"
diff sq.sum pg.sum >&2 || fail "PostgreSQL and SQLite trials differ (above)"
echo "[$TT_NAME]   ok: PostgreSQL and SQLite trials alike"

say "attest + verify from the PostgreSQL store"
tt keygen -o "$T/keys" >/dev/null || fail "keygen failed"
tt attest heart.model --store "$PGURI" --key "$T/keys/tunetrail.key" -o rec.json >/dev/null ||
    fail "attest from PostgreSQL failed"
tt_rc rc verify rec.json heart.model --pubkey "$T/keys/tunetrail.pub" >v.out
expect_eq "$rc" 0 "verify exit code"
grep -q '^verify: OK' v.out || fail "verify: $(cat v.out)"
# The reader signs nothing: the record carries tunetraild A's checkpoint, from the database.
python3 - rec.json <<'PY' || fail "the record has no collector checkpoint"
import base64, json, sys
p = json.loads(base64.b64decode(json.load(open(sys.argv[1]))["payload"]))
ck = p["predicate"]["log"]["checkpoint"]
sys.exit(0 if ck and ck.get("sig") else 1)
PY
echo "[$TT_NAME]   ok: the record carries a collector's signed checkpoint"

say "the database refuses to change the batch log"
n0=$(psqlq "SELECT count(*) FROM tunetrail.batches")
for sql in "UPDATE tunetrail.batches SET writer = 'x'" "DELETE FROM tunetrail.batches WHERE id = 1" \
           "TRUNCATE tunetrail.batches"; do
    if psqlq "$sql" 2>err.txt; then fail "PostgreSQL accepted: $sql"; fi
    grep -q "append-only" err.txt || fail "$sql: $(cat err.txt)"
done
expect_eq "$(psqlq "SELECT count(*) FROM tunetrail.batches")" "$n0" "batches after the refused changes"

say "PostgreSQL crashed (pg_ctl stop -m immediate) mid-run, then restarted"
mkdir -p w1 w2
N=300
tt_bg r1 timeout -k 5 "$TT_TIMEOUT" "$TT_BIN/tunetrail" run --study w --collector "tcp://127.0.0.1:$PA" \
    --trial 'tt_*' -- "$TT_PROGS/tt_writer" "$T/w1" "$N" 10
wait_file w1/w-40
pg_stop immediate
wait_file w1/w-120
pg_restart
rc=0; wait "$r1" || rc=$?
expect_eq "$rc" 0 "tunetrail run exit code across the PostgreSQL crash"
grep "event=store_error" "$T/d-$PA.log" | head -2 | cut -c1-240
grep "event=store_error" "$T/d-$PA.log" | grep -q "PostgreSQL" || fail "tunetraild A logged no PostgreSQL error"
[ -n "$(logfmt_get "$T/d-$PA.log" store_ok msg)" ] || fail "tunetraild A did not log that the store commits again"
logfmt_check "$T/d-$PA.log"

say "tunetraild B SIGKILLed mid-run, restarted on its replica"
tt_bg r2 timeout -k 5 "$TT_TIMEOUT" "$TT_BIN/tunetrail" run --study w --collector "tcp://127.0.0.1:$PB" \
    --trial 'tt_*' -- "$TT_PROGS/tt_writer" "$T/w2" "$N" 10
wait_file w2/w-60
tt_stop "$db" KILL
wait_file w2/w-150
start_d db "$PB" "$T/rb.db"
rc=0; wait "$r2" || rc=$?
expect_eq "$rc" 0 "tunetrail run exit code across the tunetraild kill"
for p in "$PA" "$PB"; do
    tt_rc rc flush --collector "tcp://127.0.0.1:$p"
    expect_eq "$rc" 0 "flush to $p"
done

say "every record once, from a fresh reader"
rm -rf "$TUNETRAIL_HOME/replicas"
tt trials --store "$PGURI" --json --study w >"$T/trials.json" || fail "trials --study w"
pycheck '
import os
n = int(args[0])
check(len(trials) == 2, "two writer trials (got %d)" % len(trials))
for t in trials:
    outs = [o["path"] for o in t.get("outputs") or [] if os.path.basename(o["path"]).startswith("w-")]
    check(len(outs) == len(set(outs)) == n, "%d outputs once each (got %d, %d distinct)" % (n, len(outs), len(set(outs))))
    check(t.get("status") == "ok", "status ok")
' "$N"
expect_eq "$(tt processes --store "$PGURI" --json | wc -l)" \
    "$(tt processes --store "$PGURI" --json | python3 -c 'import json,sys; print(len({json.loads(l)["uuid"] for l in sys.stdin}))')" \
    "processes listed once each"

say "both replicas and a fresh reader's compute the same study log"
tt_stop "$da"
tt_stop "$db"
start_d da "$PA" "$T/ra.db" # a writer's open catches its replica up
start_d db "$PB" "$T/rb.db"
tt_stop "$da"
tt_stop "$db"
leaves() { tt log --json --store "$1" | python3 -c 'import json,sys; [print(o["study"], o["index"], o["hash"], o["time"]) for o in map(json.loads, sys.stdin)]'; }
leaves "$PGURI" >l.pg
leaves "$T/ra.db" >l.a
leaves "$T/rb.db" >l.b
# (A trial whose late events came after its end has a leaf per amendment.)
expect_eq "$(tt log --json --store "$PGURI" | python3 -c 'import json,sys; print(len({json.loads(l)["trial"] for l in sys.stdin}))')" \
    "$(($(wc -l <pg.sum) + 2))" "trials in the log (every trial final)"
diff l.pg l.a >&2 || fail "replica A's log differs from the reader's"
diff l.pg l.b >&2 || fail "replica B's log differs from the reader's"
echo "[$TT_NAME]   ok: $(wc -l <l.pg) leaves alike in 3 replicas"

say "a replica of another database is rebuilt, and ends the same"
R=$(ls "$TUNETRAIL_HOME"/replicas/*.db)
sqlite3 "$R" "UPDATE pg_replica SET store = 'another'"
leaves "$PGURI" >l.re 2>err.txt
grep -q "replicates another database; rebuilding" err.txt || fail "no rebuild message: $(cat err.txt)"
diff l.pg l.re >&2 || fail "the rebuilt replica's log differs"
echo "[$TT_NAME] PASS"
