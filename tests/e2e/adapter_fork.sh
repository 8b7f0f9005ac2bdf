#!/usr/bin/env bash
# adapter_fork.sh - an adapter's state belongs to one process: a fork child
# that saves a model its parent trained (tt_libsvm_fork) does not name the
# parent's trial, which gets exactly one libsvm.model_file, the parent's.
# (Before the adapters' fork resets, the child's save added its path to the
# parent's trial.)
source "$(dirname "$0")/lib/common.sh"
tt_requires_adapter libsvm

need_exe "$TT_PROGS/tt_libsvm_fork" python3 "$TT_BIN/tunetrail"
cd "$T"

say "fork child saves first, then the parent: one trial, one model_file, the parent's"
tt_rc rc run --study fork --store "$DB" -- "$TT_PROGS/tt_libsvm_fork" child.model parent.model
expect_eq "$rc" 0 "tt_libsvm_fork exit code"
[ -s child.model ] && [ -s parent.model ] || fail "models not written"
trials_json --study fork
pycheck '
check(len(trials) == 1, "one trial: the training, in the parent (got %d)" % len(trials))
check(trials[0].get("framework") == "libsvm", "framework libsvm")
' 
# Every value the param took (show's param_points), not only the last one.
trials_json
for id in $(python3 -c 'import json,sys; [print(json.loads(l)["id"]) for l in open(sys.argv[1]) if l.strip()]' "$T/trials.json"); do
    tt show "$id" --store "$DB" --json || fail "tunetrail show $id --json failed"
done >"$T/shows.json"
python3 - "$T/shows.json" "$T" <<'PY' || fail "model_file rows"
import json, sys
shows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = [p["value"] for s in shows for p in s["param_points"] if p["key"] == "libsvm.model_file"]
assert rows == [sys.argv[2] + "/parent.model"], "libsvm.model_file rows: %r" % rows
print("[adapter_fork]   ok: one libsvm.model_file row, the parent's: %s" % rows[0])
PY
echo "[$TT_NAME] PASS"
