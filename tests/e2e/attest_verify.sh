#!/usr/bin/env bash
# attest_verify.sh - the whole provenance workflow on real programs: an
# svm-grid search recorded, the chosen (c, g) refitted with svm-train, the
# model evaluated with svm-predict, attested, verified; then a changed record,
# a changed model and a trial removed from the store each make verify fail
# and say which check failed.
source "$(dirname "$0")/lib/common.sh"
tt_requires_adapter libsvm
need_exe svm-grid svm-train svm-predict python "$TT_BIN/tunetrail"
cp /usr/share/doc/liblinear-tools/examples/heart_scale "$T/heart_scale"
cd "$T"

say "keygen, then a 6 x 4 grid search (24 trials)"
tt keygen -o "$T/keys" >/dev/null || fail "keygen failed"
KEY=$T/keys/tunetrail.key PUB=$T/keys/tunetrail.pub
tt_rc rc run --study heart --store "$DB" -- svm-grid -log2c -5,5,2 -log2g -7,-1,2 \
    -svmtrain /usr/bin/svm-train -gnuplot null -out null heart_scale >"$T/grid.out"
expect_eq "$rc" 0 "svm-grid exit code"
read -r C G RATE < <(tail -n 1 "$T/grid.out")
[ -n "$RATE" ] || fail "svm-grid printed no 'c g rate' line"

say "refit with the chosen c=$C g=$G, then evaluate the model"
tt_rc rc run --study heart --store "$DB" -- svm-train -c "$C" -g "$G" heart_scale heart.model >/dev/null
expect_eq "$rc" 0 "svm-train refit exit code"
tt_rc rc run --study heart --store "$DB" -- svm-predict heart_scale heart.model pred.out >/dev/null
expect_eq "$rc" 0 "svm-predict exit code"
cp heart.model released.model # a copy still matches by content

say "attest the copied model"
tt attest released.model --store "$DB" --key "$KEY" -o rec.json >attest.out || fail "attest failed"
cat attest.out
python3 - "$T/rec.json" "$RATE" <<'PY' || fail "record content"
import base64, json, sys
env = json.load(open(sys.argv[1]))
assert env["payloadType"] == "application/vnd.in-toto+json", env["payloadType"]
st = json.loads(base64.b64decode(env["payload"]))
p = st["predicate"]
def check(c, m):
    if not c:
        print("FAIL: " + m, file=sys.stderr); sys.exit(1)
    print("  ok: " + m)
check(st["_type"] == "https://in-toto.io/Statement/v1", "in-toto Statement v1")
check(st["subject"][0]["name"] == "released.model", "subject is the model file")
s, sel = p["search"], p["selection"]
check(s["trials"] == 25 and s["by_status"].get("ok") == 25, "25 trials counted (24 search + refit), all ok")
check(len(s["excluded"]) == 1 and "evaluation" in s["excluded"][0]["reason"], "svm-predict is an evaluation, not a search trial")
check(sel["objective"]["name"] == "cv_accuracy" and sel["objective"]["direction"] == "max", "objective cv_accuracy (max) by default")
check(sel["n"] == 24, "N = 24 trials reported the objective")
r = sel["released"]
check(r["from"] == "refit_of" and len(p["producedBy"]["refit_of"]["trials"]) == 1, "released value from the refit's search trial")
check(abs(r["value"] - float(sys.argv[2])) < 1e-3, "released value %.4f = svm-grid's best rate %s" % (r["value"], sys.argv[2]))
check(r["rank"] == 1, "released trial ranks first")
check("libsvm.nr_fold" in p["producedBy"]["refit_of"]["ignored"], "the fold count is ignored when matching the refit")
dm = sel["expected_max"]
check(len(dm["n"]) == 24 and dm["n"][0] == 1 and dm["n"][-1] == 24, "E[max] curve for n = 1..24")
check(abs(dm["mean"][-1] - sel["best"]) < 1.0 and dm["mean"][0] <= dm["mean"][-1], "E[max] rises towards the best")
ch = {c["key"]: c for c in p["choices"]}
check(ch["libsvm.C"]["varied"] and ch["libsvm.C"]["distinct"] == 6, "libsvm.C varied over 6 values")
check(ch["libsvm.gamma"]["distinct"] == 4 and "omega2" in ch["libsvm.gamma"]["effect"], "libsvm.gamma: 4 values with an effect size")
check(not ch["libsvm.kernel_type"]["varied"] and "never varied" in ch["libsvm.kernel_type"]["note"], "kernel_type never varied")
check(s["kind"]["kind"] == "grid", "the search looks like a grid")
check("omitted" in sel["noise_floor"], "noise floor omitted: no configuration repeated")
sb = sel["selection_bias"]
check(sb["table"]["configurations"] == 24 and sb["table"]["examples"] == 270 and sb["table"]["folds"] == 5,
      "selection bias: the 24 CVs' out-of-fold predictions pooled (270 examples, 5 shared folds)")
bb = sb["bbc_cv"]["values"]
check(bb["best_value"] == sel["best"] / 100 and bb["estimate"] < bb["best_value"] and
      bb["interval_95"][0] < bb["estimate"] < bb["interval_95"][1],
      "BBC-CV: raw best %.4f = the best cv_accuracy, corrected %.4f inside its interval %s" %
      (bb["best_value"], bb["estimate"], bb["interval_95"]))
check(0 <= sb["pbo_cscv"]["values"]["pbo"] <= 1 and sb["tibshirani"]["values"]["bias"] >= 0,
      "Tibshirani's bias and PBO computed")
h = p["holdout"]["files"]
check(len(h) == 1 and h[0]["trials_evaluated"] == 1 and not h[0]["adaptive"], "heart_scale evaluated once, not adaptively")
check(p["producedBy"]["evaluations"][0]["metric"] == "accuracy", "the test accuracy is on producedBy")
check(p["log"]["tree_size"] == len(p["trials"]) >= 26, "the record lists the whole log")
PY

say "verify holds, with and without receipts"
tt_rc rc verify rec.json released.model --pubkey "$PUB" --receipts "$TUNETRAIL_HOME/receipts" >v.out
cat v.out
expect_eq "$rc" 0 "verify exit code"
grep -q '^verify: OK .*signature.*subject.*predicate.*log.*receipts (' v.out || fail "verify line: $(cat v.out)"

say "one byte changed in the record -> signature fails"
python3 - rec.json bad-rec.json <<'PY'
import base64, json, sys
env = json.load(open(sys.argv[1]))
pl = bytearray(base64.b64decode(env["payload"]))
i = pl.index(b'"trials":') + 40
pl[i] = pl[i] ^ 1 if chr(pl[i] ^ 1).isalnum() else pl[i]
env["payload"] = base64.b64encode(bytes(pl)).decode()
json.dump(env, open(sys.argv[2], "w"))
PY
tt_rc rc verify bad-rec.json released.model --pubkey "$PUB" >v.out
cat v.out
expect_eq "$rc" 1 "verify of a changed record"
grep -q '^verify: FAILED signature' v.out || fail "verify should name the signature"

say "the author edits the record and signs it again -> the recomputation catches it"
need_exe "$TT_PROGS/tt_resign"
# edit WHAT OUT: python edits the Statement, tt_resign signs it with the real key
edit() {
    python3 - rec.json "$T/edited.json" "$1" <<'PY'
import base64, json, re, sys
# edit the payload's text in place, so what is not edited keeps its bytes
raw = base64.b64decode(json.load(open(sys.argv[1]))["payload"]).decode()
i = raw.rindex('"trials":[') + len('"trials":[')  # the predicate's, after refit_of's
dec, spans, j = json.JSONDecoder(), [], i
while raw[j] != "]":
    _, k = dec.raw_decode(raw, j)
    spans.append((j, k))
    j = k + 1 if raw[k] == "," else k
what = sys.argv[3]
if what == "rank":          # a better best than the trials give
    raw = re.sub(r'"best":(-?[0-9.eE+]+)', lambda m: '"best":%r' % (float(m.group(1)) + 1), raw, count=1)
elif what == "drop":        # a search trial left out, the tree size to match
    s, e = spans[3]
    raw = raw[:s] + raw[e + 1:]
    n = len(spans)
    raw = raw.replace('"tree_size":%d' % n, '"tree_size":%d' % (n - 1))
elif what == "selbias":     # a bias-corrected value the trials cannot give
    i = raw.index('"selection_bias":')
    m = re.compile(r'"estimate":(-?[0-9.eE+]+)').search(raw, i)
    raw = raw[:m.start(1)] + repr(float(m.group(1)) + 0.01) + raw[m.end(1):]
elif what == "pred":        # one stored out-of-fold prediction changed
    i = raw.index('"data":"', raw.index('"predictions":[')) + len('"data":"')
    raw = raw[:i] + ("B" if raw[i] != "B" else "C") + raw[i + 1:]
elif what == "status":      # a trial's status rewritten inside its leaf
    s, e = spans[5]
    leaf = raw[s:e]
    assert '"status":"ok"' in leaf
    raw = raw[:s] + leaf.replace('"status":"ok"', '"status":"failed"') + raw[e:]
open(sys.argv[2], "w").write(raw)
PY
    "$TT_PROGS/tt_resign" "$KEY" "$T/edited.json" "$2" || fail "tt_resign failed"
}
edit rank re-rank.json
tt_rc rc verify re-rank.json released.model --pubkey "$PUB" >v.out; cat v.out
expect_eq "$rc" 1 "verify of a re-signed record with a better 'best'"
grep -q '^verify: FAILED predicate: selection\.best .*ok: .*log (26 leaves' v.out ||
    fail "verify should name selection.best and find the log intact"
edit drop re-drop.json
tt_rc rc verify re-drop.json released.model --pubkey "$PUB" >v.out; cat v.out
expect_eq "$rc" 1 "verify of a re-signed record missing a trial"
grep -q 'FAILED .*predicate.*log: the 25 listed trials do not hash to the attested root' v.out ||
    fail "verify should name the predicate and the log"
edit selbias re-selbias.json
tt_rc rc verify re-selbias.json released.model --pubkey "$PUB" >v.out; cat v.out
expect_eq "$rc" 1 "verify of a re-signed record with a made-up selection bias"
grep -q '^verify: FAILED predicate: selection\.selection_bias' v.out || fail "verify should name selection.selection_bias"
edit pred re-pred.json
tt_rc rc verify re-pred.json released.model --pubkey "$PUB" >v.out; cat v.out
expect_eq "$rc" 1 "verify of a re-signed record with one stored prediction changed"
grep -q "^verify: FAILED predictions: predictions\[0\]: trial [0-9a-f]*'s data is not what its leaf's sha256 commits to" v.out ||
    fail "verify should name the changed prediction's trial"
edit status re-status.json
tt_rc rc verify re-status.json released.model --pubkey "$PUB" >v.out; cat v.out
expect_eq "$rc" 1 "verify of a re-signed record with a trial's status changed"
grep -q 'log: the 26 listed trials do not hash' v.out || fail "verify should name the log"

say "-o onto a pipe writes into it and leaves it a pipe (a rename would replace /dev/null with a file)"
mkfifo "$T/rec.fifo"
timeout 60 cat "$T/rec.fifo" >"$T/from-fifo.json" &
catpid=$!
tt attest released.model --store "$DB" --key "$KEY" -o "$T/rec.fifo" >/dev/null || fail "attest -o FIFO failed"
wait "$catpid" || fail "reading the FIFO failed"
[ -p "$T/rec.fifo" ] || fail "attest replaced the FIFO $T/rec.fifo with $(stat -c %F "$T/rec.fifo")"
tt verify "$T/from-fifo.json" released.model --pubkey "$PUB" >/dev/null || fail "the record read from the FIFO does not verify"

say "one byte changed in the model -> subject fails"
cp released.model bad.model
printf 'X' | dd of=bad.model bs=1 seek=10 conv=notrunc 2>/dev/null
tt_rc rc verify rec.json bad.model --pubkey "$PUB" >v.out
cat v.out
expect_eq "$rc" 1 "verify of a changed model"
grep -q '^verify: FAILED subject' v.out || fail "verify should name the subject"

# The next two checks play an attacker who edits the SQLite file by hand
# (drops the append-only triggers, rewrites the log): what no interface
# allows, so they write the backend's tables directly, on a copy. They read
# nothing through the schema: what they check comes from attest and verify.
say "a leaf deleted from the store -> attest refuses"
cp "$DB" "$T/cut.db"
python3 - "$T/cut.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='log'").fetchall():
    db.execute("DROP TRIGGER " + name)
db.execute("DELETE FROM log WHERE study='heart' AND idx=3")
db.commit()
PY
tt_rc rc attest released.model --store "$T/cut.db" --key "$KEY" -o rec2.json 2>err.out
expect_eq "$rc" 1 "attest on a store with a hole in its log"
grep -q "no leaf 3" err.out || fail "attest should name the missing leaf: $(cat err.out)"

say "a trial removed and the log rebuilt -> verify fails on the receipts"
cp "$DB" "$T/cut.db"
python3 - "$T/cut.db" <<'PY'
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name IN ('log','checkpoints')").fetchall():
    db.execute("DROP TRIGGER " + name)
rows = db.execute("SELECT trial_id, leaf, hash, time_ns FROM log WHERE study='heart' ORDER BY idx").fetchall()
gone = rows.pop(2)                         # a search trial vanishes
db.execute("DELETE FROM trials WHERE id=?", (gone[0],))
db.execute("DELETE FROM log WHERE study='heart'")
db.execute("DELETE FROM checkpoints WHERE study='heart'")
for i, r in enumerate(rows):
    db.execute("INSERT INTO log(study, idx, trial_id, leaf, hash, time_ns) VALUES('heart',?,?,?,?,?)", (i,) + r)
def node(a, b): return hashlib.sha256(b"\x01" + a + b).digest()
stack = {}                                  # bit -> subtree hash
n = 0
for r in rows:
    h, k = r[2], 0
    while n >> k & 1:
        h = node(stack.pop(k), h); k += 1
    stack[k] = h; n += 1
frontier = b"".join(stack[k] for k in sorted(stack, reverse=True))
db.execute("UPDATE log_head SET size=?, frontier=? WHERE study='heart'", (n, frontier))
db.commit()
PY
tt attest released.model --store "$T/cut.db" --key "$KEY" -o rec3.json >/dev/null || fail "attest on the rebuilt store"
tt_rc rc verify rec3.json released.model --pubkey "$PUB" >v.out
cat v.out
expect_eq "$rc" 0 "without receipts a rebuilt log cannot be told (the documented limit)"
tt_rc rc verify rec3.json released.model --pubkey "$PUB" --receipts "$TUNETRAIL_HOME/receipts" >v.out
cat v.out
expect_eq "$rc" 1 "verify with receipts of a log missing a trial"
grep -q '^verify: FAILED receipts' v.out || fail "verify should name the receipts"

say "bad input: unknown model, unknown objective, bad objective, no key"
echo nothing >other.model
tt_rc rc attest other.model --store "$DB" --key "$KEY" -o x.json 2>err.out
expect_eq "$rc" 1 "attest of a file no trial wrote"
grep -q "other.model.*no trial" err.out || fail "message: $(cat err.out)"
tt_rc rc attest released.model --store "$DB" --key "$KEY" --objective nosuch:max -o x.json 2>err.out
expect_eq "$rc" 1 "attest with an objective nobody reported"
grep -q "objective 'nosuch'.*no trial" err.out || fail "message: $(cat err.out)"
tt_rc rc attest released.model --store "$DB" --key "$KEY" --objective acc:best -o x.json 2>err.out
expect_eq "$rc" 2 "attest with a malformed --objective"
grep -q "direction must be max or min" err.out || fail "message: $(cat err.out)"
tt_rc rc attest released.model --store "$DB" -o x.json 2>err.out
expect_eq "$rc" 1 "attest without a key"
grep -q "tunetrail keygen" err.out || fail "message should point to keygen: $(cat err.out)"
[ ! -e x.json ] || fail "a failed attest left x.json behind"
echo "[$TT_NAME] PASS"
