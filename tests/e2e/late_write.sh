#!/usr/bin/env bash
# late_write.sh - a file written after its close event: a shell's `{ ...; }
# >f` opens f, dup2s it onto stdout and closes the original fd before the
# group runs, so the shim's close event (and a prompt hash by the agent) see
# f empty. The agent hashes such a file again at the process's end when it
# changed since its close: the trial's output carries the final content's
# sha256, and attest finds the trial that wrote it.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" sha256sum
cd "$T"
export TUNETRAIL_HOME=$T/home
tt keygen >/dev/null 2>&1 || fail "keygen failed"
say "sh -c '{ sleep; echo; } >out' records out's final sha256"
tt run --store "$DB" --study lw --metric 'score=score ([0-9.]+)' -- \
    sh -c 'echo score 0.9; { sleep 0.5; echo "model weights"; } >model.out' >/dev/null 2>run.err ||
    fail "tunetrail run failed: $(cat run.err)"
want=$(sha256sum model.out | cut -d' ' -f1)
tt trials --store "$DB" --study lw --json >"$T/trials.json" || fail "tunetrail trials --json failed"
pycheck '
import os
outs = [o for t in trials for o in t.get("outputs") or [] if os.path.basename(o["path"]) == "model.out"]
check(len(outs) == 1, "one output model.out (got %s)" % outs)
check(outs[0].get("sha256") == args[0], "model.out sha256 is its final content: %s (want %s)" % (outs[0].get("sha256"), args[0]))
check(outs[0].get("size") == 14, "model.out size 14 (got %s)" % outs[0].get("size"))
' "$want"
say "attest finds the trial that wrote it"
tt attest model.out --objective score:max --store "$DB" -o rec.json >/dev/null || fail "attest model.out failed"
tt verify rec.json model.out >/dev/null || fail "verify failed"
echo "[$TT_NAME] PASS"
