#!/usr/bin/env bash
# record_identity.sh - who wrote the trials, in the provenance record (issue
# 12, part 2): alice (2 runs) and bob (1 run) record svm-train trials of one
# study through a CURVE tunetraild, and a third run goes straight into the
# store (no collector, no identity). The attested record lists each session
# of its trials once with the identity the collector authenticated and the
# user and host the client claimed; verify checks the list against the
# trials; the report (HTML and Markdown) shows it; a record re-signed with a
# session left out of the list fails verify, naming it.
source "$(dirname "$0")/lib/common.sh"
tt_requires_adapter libsvm
need_exe "$TT_BIN/tunetrail" "$TT_BIN/tunetraild" svm-train "$TT_PROGS/tt_resign"
cp /usr/share/doc/liblinear-tools/examples/heart_scale "$T/heart_scale"
cd "$T"
SRV=$T/srv
tt keygen --curve -o "$SRV" >/dev/null || fail "keygen --curve failed"
for u in alice bob; do
    TUNETRAIL_HOME=$T/$u tt keygen --curve >/dev/null || fail "keygen --curve for $u failed"
done
printf '%s alice@gpu-1\n%s bob@gpu-2\n' "$(cat "$T/alice/keys/curve.pub")" "$(cat "$T/bob/keys/curve.pub")" >"$T/clients"
printf '*@* heart\n' >"$T/access"
PORT=$(free_port)
EP=tcp://127.0.0.1:$PORT
tt_bg dpid "$TT_BIN/tunetraild" --bind "$EP" --store "$DB" --create --curve-key "$SRV/curve.key" \
    --clients "$T/clients" --access "$T/access" >>"$T/d.log" 2>&1
wait_port "$PORT"

# train USER ARG... - USER runs svm-train ARG... into study heart through the collector.
train() {
    local u=$1
    shift
    TUNETRAIL_HOME=$T/$u tt run --study heart --collector "$EP" --collector-key "$SRV/curve.pub" -- \
        svm-train -q "$@" >/dev/null 2>"$T/$u.err" || fail "$u's run failed: $(cat "$T/$u.err")"
    ! grep -q "records kept" "$T/$u.err" || fail "$u's run was not delivered: $(cat "$T/$u.err")"
}
say "alice and bob train through the CURVE collector, a third run goes to the store directly"
train alice -v 5 -c 1 heart_scale
train bob -v 5 -c 4 heart_scale
train alice -c 1 heart_scale heart.model
tt_stop "$dpid"
tt run --study heart --store "$DB" -- svm-train -q -v 5 -c 16 heart_scale >/dev/null 2>&1 || fail "the local run failed"

say "attest: the record lists each session with its identity and the claimed user and host"
tt keygen -o "$T/keys" >/dev/null || fail "keygen failed"
tt attest heart.model --store "$DB" --key "$T/keys/tunetrail.key" -o rec.json >/dev/null || fail "attest failed"
/usr/bin/python3 - rec.json "$(id -un)" <<'PY' || fail "the record's sessions are not as run"
import base64, collections, json, socket, sys
p = json.loads(base64.b64decode(json.load(open(sys.argv[1]))["payload"]))["predicate"]
ss = p["sessions"]
got = collections.Counter(s["identity"] for s in ss)
assert got == {"alice@gpu-1": 2, "bob@gpu-2": 1, None: 1}, got
claimed = {(s["claimed"]["user"], s["claimed"]["host"]) for s in ss}
assert claimed == {(sys.argv[2], socket.gethostname())}, claimed
assert {t["session"] for t in p["trials"]} == {s["session"] for s in ss}, "sessions are not the trials' sessions"
print("[record_identity]   ok: sessions %s, claimed %s" % (dict(got), claimed))
PY
tt_rc rc verify rec.json heart.model --pubkey "$T/keys/tunetrail.pub" >v.out
cat v.out
expect_eq "$rc" 0 "verify exit code"
grep -q "sessions (4, 3 with an authenticated identity)" v.out || fail "verify does not name the sessions"

say "report: HTML and Markdown say who wrote the trials"
tt report --record rec.json -o report.html || fail "report failed"
grep -q "<h2>Who wrote the trials</h2>" report.html || fail "no sessions section in the HTML report"
grep -q "<tr><td>alice@gpu-1</td><td>$(id -un)@$(hostname) <span class=\"sub\">(claimed)</span></td><td class=\"n\">2</td>" \
    report.html || fail "alice's 2 sessions are not in the HTML report"
tt report --record rec.json --format md -o - >report.md || fail "report --format md failed"
grep "^| Written by" report.md
grep -q "^| Written by (identity the collector authenticated) | alice@gpu-1 (claimed $(id -un)@$(hostname)): 2 sessions; bob@gpu-2 (claimed [^)]*): 1 session; no authenticated identity (claimed [^)]*): 1 session |" \
    report.md || fail "the Markdown report does not say who wrote the trials"

say "a record re-signed with bob's session left out of the list fails verify"
/usr/bin/python3 - rec.json edited.json <<'PY' || fail "cannot edit the record"
import base64, json, re, sys
raw = base64.b64decode(json.load(open(sys.argv[1]))["payload"]).decode()
n = len(raw)
raw = re.sub(r'\{"claimed":\{[^{}]*\},"identity":"bob@gpu-2","session":"[0-9a-f]{32}"\},?', "", raw, count=1)
assert len(raw) < n, "bob's entry not found"
raw = raw.replace(',]', ']')
open(sys.argv[2], "w").write(raw)
PY
"$TT_PROGS/tt_resign" "$T/keys/tunetrail.key" edited.json re-sessions.json || fail "tt_resign failed"
tt_rc rc verify re-sessions.json heart.model --pubkey "$T/keys/tunetrail.pub" >v.out
cat v.out
expect_eq "$rc" 1 "verify of a record missing a session"
grep -q "^verify: FAILED sessions: trials\[[0-9]*\]'s session [0-9a-f]\{32\} is not listed; ok: signature" v.out ||
    fail "verify does not name the missing session"
echo "[$TT_NAME] PASS"
