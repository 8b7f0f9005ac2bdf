#!/usr/bin/env bash
# svm_grid.sh - a whole search driver, unmodified: Debian's svm-grid (python)
# runs svm-train through /bin/sh for each of its 11 x 10 (c, g) grid points.
# Under `tunetrail run --trial svm-train` the store must hold exactly 110
# trials, all ok, each with params c and g equal to the values in its argv,
# heart_scale among its inputs with the sha256 sha256sum computes, and the
# sh / python processes recorded as processes (ancestors), not as trials.
source "$(dirname "$0")/lib/common.sh"

need_exe svm-grid svm-train python "$TT_BIN/tunetrail"
cp /usr/share/doc/liblinear-tools/examples/heart_scale "$T/heart_scale"
cd "$T"

say "svm-grid under tunetrail run exits 0"
tt_rc rc run --study heart --trial svm-train --store "$DB" -- \
    svm-grid -svmtrain /usr/bin/svm-train -gnuplot null -out null heart_scale >"$T/grid.out"
expect_eq "$rc" 0 "tunetrail run svm-grid exit code"
grep -Eq '^[0-9.e+-]+ [0-9.e+-]+ [0-9.]+$' "$T/grid.out" || fail "svm-grid printed no final 'c g rate' line"

say "the README's example is what svm-grid chose: its refit line has svm-grid's (c, g), its comment the line"
read -r c g rate < <(tail -n 1 "$T/grid.out")
readme_refit=$(grep -E '^tunetrail run .*svm-train -c .* heart_scale heart.model' "$TT_SRC/README.md" | head -n 1)
[ -n "$readme_refit" ] || fail "README.md has no 'tunetrail run ... svm-train -c C -g G heart_scale heart.model' line"
read -r rc_ rg_ < <(sed -E 's/.*svm-train -c ([^ ]+) -g ([^ ]+) .*/\1 \2/' <<<"$readme_refit")
awk -v a="$c" -v b="$rc_" -v x="$g" -v y="$rg_" 'BEGIN { exit !(a + 0 == b + 0 && x + 0 == y + 0) }' ||
    fail "README refits -c $rc_ -g $rg_, but svm-grid chose c=$c g=$g on heart_scale"
grep -qF "svm-grid's last line: $c $g $rate " "$TT_SRC/README.md" ||
    fail "README.md does not quote svm-grid's last line '$c $g $rate'"
echo "[$TT_NAME]   ok: README refit (c, g) = ($rc_, $rg_) = svm-grid's choice"

say "110 trials, all ok, params c/g from argv, heart_scale input hashed"
trials_json --study heart
pycheck '
import os
want_sha, data = args[0], os.path.realpath(args[1])
check(len(trials) == 110, "exactly 110 trials (got %d)" % len(trials))
bad = [t.get("id") for t in trials if t.get("status") != "ok"]
check(not bad, "every trial has status ok (not ok: %s)" % bad[:10])
check(all(t.get("study") == "heart" for t in trials), "every trial is in study heart")
check(all(os.path.basename(t.get("exe") or "") == "svm-train" for t in trials),
      "every trial exe is svm-train (no sh / python / env trial)")
seen = set()
for t in trials:
    argv = t.get("argv") or []
    if not (isinstance(argv, list) and "-c" in argv and "-g" in argv):
        check(False, "trial %s argv has -c and -g: %s" % (t.get("id"), argv))
    c, g = argv[argv.index("-c") + 1], argv[argv.index("-g") + 1]
    p = t.get("params") or {}
    if str(p.get("c")) != c or str(p.get("g")) != g:
        check(False, "trial %s params c=%r g=%r match argv c=%r g=%r" % (t.get("id"), p.get("c"), p.get("g"), c, g))
    seen.add((c, g))
    ins = [i for i in (t.get("inputs") or []) if os.path.realpath(i.get("path", "")) == data]
    if not ins or ins[-1].get("sha256") != want_sha:
        check(False, "trial %s has input %s with sha256 %s (inputs: %s)" % (t.get("id"), data, want_sha, t.get("inputs")))
check(len(seen) == 110, "110 distinct (c, g) configurations (got %d)" % len(seen))
check(True, "all 110 trials: params c, g == argv values; heart_scale input sha256 == sha256sum")
' "$(sha256 "$T/heart_scale")" "$T/heart_scale"

say "tunetrail trials (human output) lists the trials"
tt trials --store "$DB" --study heart >"$T/trials.txt" || fail "tunetrail trials failed"
[ "$(grep -c . "$T/trials.txt")" -ge 110 ] || fail "tunetrail trials printed fewer than 110 lines"
grep -q svm-train "$T/trials.txt" || fail "tunetrail trials does not mention svm-train"

say "tunetrail show ID and show ID --json for one trial; sh and python are its ancestors"
id=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["id"])' "$T/trials.json")
tt show --store "$DB" "$id" >"$T/show.txt" || fail "tunetrail show $id failed"
grep -q svm-train "$T/show.txt" || fail "tunetrail show $id does not mention svm-train"
# the sh parent's one-word command string is shown quoted, as it ran
grep -q "/bin/sh -c '\"/usr/bin/svm-train\" -c " "$T/show.txt" \
    || fail "tunetrail show $id: sh's argv is not shell-quoted: $(grep -m1 'sh -c' "$T/show.txt")"
tt show --store "$DB" --json "$id" >"$T/show.json" || fail "tunetrail show --json $id failed"
procs_json heart
pycheck "$PYPROCS"'
show = json.load(open(args[0]))
check(str(show.get("id")) == args[1], "show --json gives trial %s" % args[1])
check(os.path.basename(show.get("exe") or "") == "svm-train", "show exe is svm-train (%r)" % show.get("exe"))
anc = ancestors(show)
check(anc[:1] and anc[0] in ("sh", "dash"), "the trial process parent is sh (chain: %s)" % anc)
check(any(a.startswith("python") for a in anc), "python is an ancestor of the trial (chain: %s)" % anc)
names = [os.path.basename(p["exe"] or "") for p in PROCS]
nsh = sum(n in ("sh", "dash") for n in names)
check(names.count("svm-train") == 110, "110 svm-train processes (got %d)" % names.count("svm-train"))
check(nsh >= 110, "at least 110 sh processes recorded (got %d)" % nsh)
check(any(n.startswith("python") for n in names), "the python process is recorded")
uuids = {p["uuid"] for p in PROCS}
orphans = [p for p in PROCS if p["relation"] != 1 and p["parent"] not in uuids]
check(not orphans, "every non-root process has its parent recorded (orphans: %s)" % orphans[:3])
main = [p for p, n in zip(PROCS, names) if n in ("svm-train", "sh", "dash") or n.startswith("python")]
check(all(p["status"] in ("ok", "exec") for p in main), "every svm-train, sh and python process ended ok or by exec")
' "$T/show.json" "$id"
echo "[$TT_NAME] PASS"
