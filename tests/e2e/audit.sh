#!/usr/bin/env bash
# audit.sh - what the collector refused or flagged is shown to a user
# (issue 15: nothing hidden), by a real tunetraild on a real store:
#  - a statically linked program run under `tunetrail run`: the agent's
#    warning note ("recorded from outside only");
#  - 3 notes forged for that run's session from another sender: refused;
#  - a SessionStart 2 hours ahead of the collector's clock: stored, its
#    batch flagged clock_ahead.
# `tunetrail audit` prints each section with its rows, `--json` one object
# per line with "kind", `--study` keeps what is tied to the study, and
# `tunetrail studies` ends with the line that points to `tunetrail audit`.
source "$(dirname "$0")/lib/common.sh"
need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild" "$TT_PROGS/tt_zmq_send" "$TT_PROGS/tt_static"
cd "$T"
PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT
LOG=$T/collector.log
tt_start_collector cpid "$PORT" "$DB" "$LOG"

say "a clean store: audit says nothing was refused, studies has no pointer line"
tt run --study aud --collector "$EP" -- true 2>/dev/null || fail "tunetrail run true failed"
tt audit --store "$DB" >"$T/clean.out" || fail "tunetrail audit failed on a clean store"
grep -qx "Refused events: 0" "$T/clean.out" || fail "clean audit: $(cat "$T/clean.out")"
tt studies --store "$DB" >"$T/studies.out" || fail "tunetrail studies failed"
! grep -q "tunetrail audit" "$T/studies.out" || fail "studies points to audit on a clean store"

say "a static program under tunetrail run: the agent's warning note"
tt run --study aud --collector "$EP" -- "$TT_PROGS/tt_static" hello >"$T/static.out" 2>"$T/static.err" ||
    fail "tunetrail run tt_static failed: $(cat "$T/static.err")"
grep -q "static hello" "$T/static.out" || fail "tt_static's output is missing"
SESSION=$(tt processes --store "$DB" --study aud --json |
    /usr/bin/python3 -c 'import json,sys; print([json.loads(l) for l in sys.stdin if "tt_static" in l][0]["session"])') ||
    fail "no tt_static process in the store"

# forge OUT SENDER_HEX KIND ARGS... - writes one packed Batch (batch_seq 0).
#   notes ORIGIN_HEX N      N notes (seqs 0..N-1) of ORIGIN
#   ahead SESSION_HEX STUDY  a SessionStart of SESSION (its own origin and
#                            sender), 2 hours ahead of now
forge() {
    timeout 30 /usr/bin/python3 - "$@" <<'PY' || fail "cannot forge a batch"
import os, sys, time
sys.path.insert(0, os.environ["TT_E2E_LIB"])
from pbfake import varint, field, s, event, batch
out, sender, kind, a = sys.argv[1], bytes.fromhex(sys.argv[2]), sys.argv[3], sys.argv[4:]
now = time.time_ns()
if kind == "notes":
    evs = [event(bytes.fromhex(a[0]), q, 19, s(2, "info") + s(3, "forged %d" % q), now)
           for q in range(int(a[1]))]
else:
    sess = bytes.fromhex(a[0])
    evs = [event(sess, 0, 10, s(1, sess) + s(2, a[1]) + s(3, "skewhost"), now + 2 * 3600 * 10**9)]
open(out, "wb").write(batch(sender, 0, evs))
PY
}
send() { timeout 30 "$TT_PROGS/tt_zmq_send" "$EP" file "$1" >/dev/null || fail "tt_zmq_send $1 failed"; }
newuuid() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }

say "3 notes forged for the run's session, from another sender: refused"
FORGER=$(newuuid)
forge "$T/forged.bin" "$FORGER" notes "$SESSION" 3
send "$T/forged.bin"
say "a session whose clock is 2 hours ahead: stored, flagged"
SKEW=$(newuuid)
forge "$T/ahead.bin" "$SKEW" ahead "$SKEW" skew
send "$T/ahead.bin"

say "tunetrail audit: the three sections, with their rows"
tt audit --store "$DB" >"$T/audit.out" || fail "tunetrail audit failed"
cat "$T/audit.out"
grep -qx "Refused events: 3 (never applied)" "$T/audit.out" || fail "no 'Refused events: 3' line"
grep -qE "^ +3  a session's events from another sender$" "$T/audit.out" || fail "no count by reason"
grep -qE "^  [0-9-]{10} [0-9:]{8}  ${FORGER:0:8}  ${SESSION:0:8}:2 +note +a session's events from another sender$" \
    "$T/audit.out" || fail "no refusal row (time, sender, origin:seq, event, why) for seq 2"
grep -qx "Flagged batches: 1 (stored; their times or names are suspect)" "$T/audit.out" || fail "no 'Flagged batches: 1' line"
grep -qE "^  [0-9-]{10} [0-9:]{8}  [0-9-]{10} [0-9:]{8} \.\. [0-9-]{10} [0-9:]{8}  ${SKEW:0:8}  \{\"clock_ahead\":1\}$" \
    "$T/audit.out" || fail "no flagged batch row (receive time, client times, sender, flags)"
grep -qx "Warnings: 1" "$T/audit.out" || fail "no 'Warnings: 1' line"
grep -qE "^  [0-9-]{10} [0-9:]{8}  warn +aud +tt_static +.*tt_static is statically linked: .*recorded from outside only" \
    "$T/audit.out" || fail "no warning row (time, level, study, process, text)"

say "tunetrail audit --json: one object per line with its kind and fields"
tt audit --store "$DB" --json >"$T/audit.json" || fail "tunetrail audit --json failed"
tt audit --store "$DB" --json --study aud >"$T/aud.json" || fail "tunetrail audit --json --study aud failed"
tt audit --store "$DB" --json --study skew >"$T/skew.json" || fail "tunetrail audit --json --study skew failed"
/usr/bin/python3 - "$T" "$FORGER" "$SESSION" "$SKEW" <<'PY' || fail "audit --json check failed"
import json, sys, datetime
d, forger, session, skew = sys.argv[1:]
def load(f):
    return [json.loads(l) for l in open(d + "/" + f) if l.strip()]
def iso(t):
    return datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ")
def check(cond, msg):
    if not cond:
        sys.exit("[audit] FAIL: " + msg)
    print("[audit]   ok: " + msg)
rows = load("audit.json")
kinds = [r["kind"] for r in rows]
check(kinds == ["refusal"] * 3 + ["received", "note"], "kinds in order: 3 refusals, received, note (%r)" % kinds)
ref = rows[:3]
check([r["seq"] for r in ref] == [0, 1, 2], "refused seqs 0, 1, 2")
check(all(r["sender"] == forger and r["origin"] == session and r["event"] == "note"
          and r["why"] == "a session's events from another sender" and r["study"] == "aud"
          and r["batch_seq"] == 0 for r in ref), "refusals: sender, origin, event, why, study (%r)" % ref[0])
rec = rows[3]
check(rec["flags"] == {"clock_ahead": 1} and rec["sender"] == skew and rec["study"] == "skew"
      and rec["events"] == 1 and rec["stored"] == 1, "received: flags, sender, study, counts (%r)" % rec)
lead = iso(rec["client_first"]) - iso(rec["time"])
check(rec["client_first"] == rec["client_last"] and datetime.timedelta(hours=1, minutes=59) < lead
      < datetime.timedelta(hours=2, minutes=1), "client time 2 hours after the receive time (%s)" % lead)
note = rows[4]
check(note["level"] == "warn" and note["study"] == "aud" and note["session"] == session
      and note["exe"].endswith("/tt_static") and "statically linked" in note["text"]
      and len(note["process"] or "") == 32, "note: level, study, session, exe, process, text (%r)" % note)
check([r["kind"] for r in load("aud.json")] == ["refusal"] * 3 + ["note"], "--study aud: the refusals and the note")
check([r["kind"] for r in load("skew.json")] == ["received"], "--study skew: the flagged batch only")
PY

say "tunetrail studies ends with the line that points to tunetrail audit"
tt studies --store "$DB" >"$T/studies.out" || fail "tunetrail studies failed"
expect_eq "$(tail -n 1 "$T/studies.out")" "3 events refused, 1 batch flagged: tunetrail audit" "studies' last line"
tt studies --store "$DB" --json >"$T/studies.json" || fail "tunetrail studies --json failed"
! grep -q "tunetrail audit" "$T/studies.json" || fail "studies --json prints the pointer line"

say "a missing store and an unknown study: clear messages"
tt_rc rc audit --store "$T/missing.db" 2>"$T/missing.err"
expect_eq "$rc" 1 "audit exit status on a missing store"
grep -q "cannot open store $T/missing.db" "$T/missing.err" || fail "no clear message: $(cat "$T/missing.err")"
tt_rc rc audit --store "$DB" --study nope 2>"$T/nope.err"
expect_eq "$rc" 1 "audit exit status on an unknown study"
grep -q "no study 'nope'" "$T/nope.err" || fail "no clear message: $(cat "$T/nope.err")"
echo "[$TT_NAME] PASS"
