#!/usr/bin/env bash
# lab_ini.sh - lab conventions set once (issue 10, part 8): a tunetrail.ini
# at the repository root, found from a subdirectory, makes an unmodified
# program's printed line a metric without --metric and its [trial] pattern
# opens trials without --trial; the session records which file (path,
# SHA-256, patterns) and `show` / `studies` name it; a tunetrail.ini in the
# working directory wins over the root's; a malformed line stops the run
# before the command starts, with FILE:LINE in the error and exit 2.
source "$(dirname "$0")/lib/common.sh"

need_exe svm-scale git /usr/bin/python3 "$TT_BIN/tunetrail"
mkdir -p "$T/lab/exp"
cp /usr/share/doc/liblinear-tools/examples/heart_scale "$T/lab/heart_scale"
git -C "$T/lab" init -q
INI=$T/lab/tunetrail.ini
cat >"$INI" <<'EOF'
# our lab's conventions
[metric]
holdout = ^HOLDOUT ([0-9.]+)

[trial]
pattern = svm-scale
EOF
cd "$T/lab/exp"
PRINT=(/usr/bin/python3 -c 'print("HOLDOUT 0.8125")')

say "without the file, the printed line is no metric (control)"
mv "$INI" "$T/away.ini"
tt_rc rc run --study control --store "$DB" -- "${PRINT[@]}" >/dev/null
expect_eq "$rc" 0 "tunetrail run without tunetrail.ini"
trials_json --study control
pycheck 'check(len(trials) == 1 and "holdout" not in trials[0]["metrics"], "no holdout metric: %s" % [t["metrics"] for t in trials])'
mv "$T/away.ini" "$INI"

say "[metric] from the repository root's tunetrail.ini: the printed line is a metric"
tt_rc rc run --study lab --store "$DB" -- "${PRINT[@]}" >"$T/print.out"
expect_eq "$rc" 0 "tunetrail run with tunetrail.ini"
expect_eq "$(cat "$T/print.out")" "HOLDOUT 0.8125" "the program's output, unchanged"
trials_json --study lab
pycheck '
check(len(trials) == 1, "one trial: the command itself, the file pattern having matched nothing (got %d)" % len(trials))
check(trials[0]["metrics"].get("holdout") == 0.8125, "metric holdout = 0.8125 (%s)" % trials[0]["metrics"])
'
id=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["id"])' "$T/trials.json")

say "the session records the file: show --json, show, studies --json"
tt show --store "$DB" --json "$id" >"$T/show.json" || fail "tunetrail show --json failed"
tt show --store "$DB" "$id" >"$T/show.txt" || fail "tunetrail show failed"
tt studies --store "$DB" --json >"$T/studies.json" || fail "tunetrail studies --json failed"
pycheck '
c = json.load(open(args[0])).get("conventions") or {}
check(c.get("file") == args[2], "show --json: conventions.file = %s (%s)" % (args[2], c.get("file")))
check(c.get("sha256") == args[3], "show --json: conventions.sha256 = sha256sum of the file")
check(c.get("metric") == ["holdout=^HOLDOUT ([0-9.]+)"] and c.get("trial") == ["svm-scale"],
      "show --json: the patterns it applied (%s, %s)" % (c.get("metric"), c.get("trial")))
check("conventions: " + args[2] in open(args[1]).read(), "show names the file")
st = {s["study"]: s for s in map(json.loads, open(args[4]))}
check([x["file"] for x in st["lab"]["conventions"]] == [args[2]], "studies --json: lab ran with the file")
check(st["control"]["conventions"] == [], "studies --json: control ran without one")
' "$T/show.json" "$T/show.txt" "$INI" "$(sha256 "$INI")" "$T/studies.json"

say "[trial] pattern: each svm-scale is a trial without --trial, with its argv params"
tt_rc rc run --study scale --store "$DB" -- sh -c \
    'svm-scale -l -1 -u 1 ../heart_scale >s1; svm-scale -l 0 -u 1 ../heart_scale >s2'
expect_eq "$rc" 0 "tunetrail run of two svm-scale"
trials_json --study scale
pycheck '
import os
check(len(trials) == 2, "two trials (got %d)" % len(trials))
check(all(os.path.basename(t["exe"]) == "svm-scale" for t in trials), "both are svm-scale (not sh)")
check([t["params"].get("l") for t in trials] == ["-1", "0"], "argv params l = -1, 0")
'

say "the working directory's tunetrail.ini wins over the repository root's"
printf '[metric]\nlocal = ^HOLDOUT ([0-9.]+)\n' >tunetrail.ini
tt_rc rc run --study local --store "$DB" -- "${PRINT[@]}" >/dev/null
expect_eq "$rc" 0 "tunetrail run with a local tunetrail.ini"
trials_json --study local
pycheck 'check(trials[0]["metrics"] == {"local": 0.8125}, "only the local file applied: %s" % trials[0]["metrics"])'
rm tunetrail.ini

say "a malformed line: exit 2, FILE:LINE and what was expected, the command never runs"
bad() { # bad LINE TEXT EXPECTED-WORDS
    printf '%b' "$2" >"$INI"
    tt_rc rc run --study broken --store "$DB" -- touch "$T/ran" 2>"$T/bad.err"
    expect_eq "$rc" 2 "exit status for: $(head -c 40 "$INI" | tr '\n' '|')"
    grep -qF "$INI:$1: " "$T/bad.err" || fail "error does not name $INI:$1: $(cat "$T/bad.err")"
    grep -qF "$3" "$T/bad.err" || fail "error does not say '$3': $(cat "$T/bad.err")"
    [ ! -e "$T/ran" ] || fail "the command ran despite the bad tunetrail.ini"
    echo "[$TT_NAME]   ok: $(cat "$T/bad.err")"
}
bad 3 '# x\n[metric]\nacc = Accuracy = ([0-9.]+\n' "bad regex"
bad 4 '[metric]\nacc = x\n\n[trials]\npattern = svm-train\n' "expected [metric], [trial] or [collector]"
bad 2 '[trial]\nsvm-train\n' "expected key=value"
bad 2 '[trial]\nprogram = svm-train\n' "pattern = GLOB"
bad 1 'acc = x\n' "outside a section"
bad 3 '[metric]\na = x\na = y\n' "given twice"
tt studies --store "$DB" --json | grep -q '"study":"broken"' && fail "a session was recorded for a run that should not start"
echo "[$TT_NAME] PASS"
