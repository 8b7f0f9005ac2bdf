#!/usr/bin/env bash
# log_receipts.sh - the study log and the agent's receipts (issue 4). A
# recorded svm-grid search (110 trials) leaves 110 leaves in its study's log,
# each hash == SHA-256(0x00 || leaf) and the RFC 9162 root of them equal to
# the root of the last receipt the agent kept (tree_size 110, signed by the
# collector key). Both with the embedded collector and through tunetraild
# (--key), and a resent spool (tunetrail flush) appends nothing.
source "$(dirname "$0")/lib/common.sh"

need_exe svm-grid svm-train python "$TT_BIN/tunetrail" "$TT_BIN/tunetraild"
cp /usr/share/doc/liblinear-tools/examples/heart_scale "$T/heart_scale"
cd "$T"

# check_log STORE STUDY RECEIPTS_FILE PUBKEY_FILE
# The log is read through `tunetrail log --json` (leaves) and `--head`.
check_log() {
    tt log --store "$1" --study "$2" --json >"$T/leaves.json" || fail "tunetrail log --study $2 failed"
    tt log --store "$1" --study "$2" --head --json >"$T/head.json" || fail "tunetrail log --head failed"
    timeout 60 python3 - "$@" "$T/leaves.json" "$T/head.json" <<'PY' || fail "log / receipt check failed (see above)"
import base64, hashlib, json, sys
store, study, rfile, pubfile, leaves, heads = sys.argv[1:7]
def check(cond, msg):
    if not cond:
        print("FAIL: " + msg, file=sys.stderr)
        sys.exit(1)
    print("  ok: " + msg)
rows = [(o["index"], o["leaf"], bytes.fromhex(o["hash"])) for o in map(json.loads, open(leaves)) if o["study"] == study]
head = [o for o in map(json.loads, open(heads)) if o["study"] == study][0]
check(len(rows) == 110, "the log of %s has 110 leaves (got %d)" % (study, len(rows)))
check([r[0] for r in rows] == list(range(len(rows))), "leaf indexes are 0..n-1")
for idx, leaf, h in rows:
    if hashlib.sha256(b"\0" + leaf.encode()).digest() != h:
        check(False, "leaf %d hash is SHA-256(0x00 || leaf)" % idx)
    o = json.loads(leaf)
    if o.get("study") != study or o.get("status") != "ok" or o.get("v") != 1:
        check(False, "leaf %d is an ok trial of %s: %s" % (idx, study, leaf[:200]))
trials = {json.loads(r[1])["trial"] for r in rows}
check(len(trials) == 110, "110 distinct trials in the log")
def mth(hs):
    if len(hs) == 1:
        return hs[0]
    k = 1
    while k * 2 < len(hs):
        k *= 2
    return hashlib.sha256(b"\1" + mth(hs[:k]) + mth(hs[k:])).digest()
root = mth([bytes(r[2]) for r in rows])
size = head["size"]
check(size == 110, "log_head size is 110")
ck = head["checkpoint"] and (head["checkpoint"]["tree_size"], bytes.fromhex(head["checkpoint"]["root"]))
check(ck and ck[0] == 110 and bytes(ck[1]) == root, "the latest stored checkpoint is (110, root)")
lines = [json.loads(l) for l in open(rfile) if l.strip()]
mine = [l for l in lines if l["study"] == study]
check(mine, "the receipts file has receipts of %s" % study)
last = mine[-1]
check(last["tree_size"] == 110, "the last receipt has tree_size 110 (got %s)" % last["tree_size"])
check(last["root"] == root.hex(), "the last receipt's root is the RFC 9162 root of the log")
sizes = [l["tree_size"] for l in mine]
check(sizes == sorted(sizes), "receipts grow monotonically")
pk = base64.b64decode(open(pubfile).read().split()[2])
check(base64.b64decode(last["key"]) == pk, "the receipt is signed by the collector key")
check(last["keyid"] == hashlib.sha256(pk).hexdigest(), "keyid = SHA-256 of the public key")
check(len(base64.b64decode(last["sig"])) == 64, "the signature is 64 bytes")
check(last["received"].endswith("Z") and "T" in last["received"], "received is an ISO time")
PY
}

say "embedded collector: svm-grid under tunetrail run"
tt_rc rc run --study heart --trial svm-train --store "$DB" -- \
    svm-grid -svmtrain /usr/bin/svm-train -gnuplot null -out null heart_scale >"$T/grid.out"
expect_eq "$rc" 0 "tunetrail run svm-grid exit code"
n=$(ls "$TUNETRAIL_HOME/receipts/"*.jsonl 2>/dev/null | wc -l)
expect_eq "$n" 1 "receipts files after one run"
R1=$(ls "$TUNETRAIL_HOME/receipts/"*.jsonl)
check_log "$DB" heart "$R1" "$TUNETRAIL_HOME/collector.pub"

say "tunetrail flush afterwards (embedded sink, nothing left to send) appends nothing"
before=$(tt log --store "$DB" --json | wc -l)
tt flush --store "$DB" >/dev/null 2>&1 || true
after=$(tt log --store "$DB" --json | wc -l)
expect_eq "$after" "$before" "log leaves after flush"

# "The log refuses DELETE" is a property of the SQLite backend (its
# triggers), not of the CLI: tests/unit/test_store_log.c, test_append_only.

say "tunetraild --key: the same search through a remote collector"
mkdir -p "$T/lab"
port=$(free_port)
tt_bg cpid "$TT_BIN/tunetraild" --bind "tcp://127.0.0.1:$port" --store "$T/remote.db" --create \
    --key "$T/lab/collector.key" >>"$T/collector.log" 2>&1
wait_port "$port"
tt_rc rc run --study heart2 --trial svm-train --collector "tcp://127.0.0.1:$port" -- \
    svm-grid -svmtrain /usr/bin/svm-train -gnuplot null -out null heart_scale >"$T/grid2.out"
expect_eq "$rc" 0 "tunetrail run --collector svm-grid exit code"
R2=$(ls "$TUNETRAIL_HOME/receipts/"*.jsonl | grep -vxF "$R1")
[ -n "$R2" ] || fail "no receipts file for the remote run"
check_log "$T/remote.db" heart2 "$R2" "$T/lab/collector.pub"
tt_stop "$cpid"
echo "[$TT_NAME] PASS"
