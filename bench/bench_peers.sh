#!/usr/bin/env bash
# bench_peers.sh - tunetrail beside the tools a lab would use instead, on a
# sweep of very short trials: a shell loop of 50 `svm-train -v 5` runs (-c
# over 50 values, 2^-5 .. 2^4.8) on a 100-example slice of heart_scale.
# Every round runs each variant once, in turn, so that all share the noise
# of the (shared) machine; ROUNDS rounds (default 5, minimum 3), the median
# and the spread (min-max) per variant are printed:
#   bare       sh sweep.sh
#   tunetrail  tunetrail run --trial svm-train (embedded store, a fresh
#              TUNETRAIL_HOME per round); the store must hold 50 trials
#   reprozip   reprozip trace (ptrace), a fresh --dir per round; the trace
#              must hold the 50 svm-train executions
#   strace     strace -f -e trace=process,file -o FILE
#   optuna     a Python loop that records the same 50 trials in an Optuna
#              study with storage="sqlite:///..." (GridSampler over the same
#              50 values, so the same 50 commands run), against the same loop
#              calling subprocess without Optuna (the python-loop baseline);
#              both times are of the whole interpreter process, so Optuna's
#              import counts; its cost per trial after the import (the two
#              loops timed inside the interpreter, the study's creation
#              included) is printed beside it. GridSampler reads every past
#              trial back from the storage at each trial: Optuna's Random
#              and TPE samplers spend less per trial (about 0.55-0.6x of it
#              here), but would not run the same 50 commands
# A peer not installed prints a line saying which package gives it; a peer
# that fails on the sweep prints its exit status instead of a ratio.
#   env: TT_BIN (default build/bin), ROUNDS, PY (default /usr/bin/python3)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
TT_BIN=$(realpath "${TT_BIN:-$SRC/build/bin}")
ROUNDS=${ROUNDS:-5}
[ "$ROUNDS" -ge 3 ] || ROUNDS=3
PY=${PY:-/usr/bin/python3}
[ -x "$TT_BIN/tunetrail" ] || { echo "bench_peers: no $TT_BIN/tunetrail (set TT_BIN)" >&2; exit 1; }
[ -x "$PY" ] || { echo "bench_peers: no $PY (set PY)" >&2; exit 1; }
command -v svm-train >/dev/null || { echo "bench_peers: no svm-train (apt-get install libsvm-tools)" >&2; exit 1; }
DATA=/usr/share/doc/liblinear-tools/examples/heart_scale
[ -s "$DATA" ] || { echo "bench_peers: $DATA missing (apt-get install liblinear-tools)" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
unset TUNETRAIL_COLLECTOR TUNETRAIL_STORE LD_PRELOAD
# reprozip keeps its usage-statistics state under $HOME: keep it in the temp dir.
export HOME=$T/home
mkdir -p "$HOME"
cd "$T"
head -n 100 "$DATA" >slice
awk 'BEGIN { for (i = 0; i < 50; i++) printf "%.6g\n", 2 ^ ((i - 25) / 5) }' >cs
{
    echo 'set -e'
    while read -r c; do echo "svm-train -v 5 -c $c slice >/dev/null"; done <cs
} >sweep.sh

# The Python variants: "loop" runs the 50 commands with subprocess; "optuna"
# runs them as the objective of a study stored in SQLite. Both parse the
# accuracy svm-train prints and fail unless all 50 trials produced one.
# Optuna's per-trial log lines are turned off (WARNING): the figure is of
# its storage bookkeeping, not of its logging.
cat >peers.py <<'PY'
import re, subprocess, sys, time
mode, db, out = sys.argv[1], sys.argv[2], sys.argv[3]
cs = [float(l) for l in open("cs")]
acc = re.compile(rb"Cross Validation Accuracy = ([0-9.]+)%")

def run(c):
    out = subprocess.run(["svm-train", "-v", "5", "-c", repr(c), "slice"],
                         stdout=subprocess.PIPE, check=True).stdout
    return float(acc.search(out).group(1))

if mode == "loop":
    t0 = time.monotonic()
    n = len([run(c) for c in cs])
    t1 = time.monotonic()
else:
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    t0 = time.monotonic() # the storage's creation is part of recording
    study = optuna.create_study(study_name="peers", storage="sqlite:///" + db,
                                direction="maximize",
                                sampler=optuna.samplers.GridSampler({"c": cs}))
    study.optimize(lambda t: run(t.suggest_float("c", min(cs), max(cs), log=True)),
                   n_trials=len(cs))
    t1 = time.monotonic()
    n = len(optuna.load_study(study_name="peers", storage="sqlite:///" + db)
            .get_trials(states=(optuna.trial.TrialState.COMPLETE,)))
if n != len(cs):
    sys.exit("peers.py: %s recorded %d trials, not %d" % (mode, n, len(cs)))
print(int((t1 - t0) * 1e9), file=open(out, "w"))
PY

have_optuna=0
"$PY" -c 'import optuna' 2>/dev/null && have_optuna=1
have_reprozip=0
command -v reprozip >/dev/null && have_reprozip=1
have_strace=0
command -v strace >/dev/null && have_strace=1

# one VARIANT ROUND - runs the sweep once; prints "VARIANT ns" or, when the
# tool failed, "VARIANT fail STATUS". Its output goes to $T/VARIANT.ROUND.out.
one() {
    local v=$1 r=$2 t0 t1 rc=0 o=$T/$1.$2.out
    t0=$(date +%s%N)
    case $v in
    bare) timeout 600 sh sweep.sh >"$o" 2>&1 || rc=$? ;;
    tunetrail)
        TUNETRAIL_HOME=$T/tt$r timeout 600 "$TT_BIN/tunetrail" run --study peers --trial svm-train \
            -- sh sweep.sh >"$o" 2>&1 || rc=$? ;;
    reprozip)
        timeout 600 reprozip trace -d "$T/rz$r" --dont-identify-packages \
            sh sweep.sh </dev/null >"$o" 2>&1 || rc=$? ;;
    strace) timeout 600 strace -f -e trace=process,file -o "$T/strace$r.txt" sh sweep.sh >"$o" 2>&1 || rc=$? ;;
    pyloop) timeout 600 "$PY" peers.py loop - "$T/pyloop$r.ns" >"$o" 2>&1 || rc=$? ;;
    optuna) timeout 600 "$PY" peers.py optuna "$T/optuna$r.db" "$T/optuna$r.ns" >"$o" 2>&1 || rc=$? ;;
    esac
    t1=$(date +%s%N)
    if [ "$rc" -ne 0 ]; then echo "$v fail $rc"; else echo "$v $((t1 - t0))"; fi
}

variants=(bare tunetrail)
[ "$have_reprozip" = 1 ] && variants+=(reprozip)
[ "$have_strace" = 1 ] && variants+=(strace)
[ "$have_optuna" = 1 ] && variants+=(pyloop optuna)

one bare 0 >/dev/null # warm the page cache
[ "$have_optuna" = 1 ] && one pyloop 0 >/dev/null
: >times
for r in $(seq "$ROUNDS"); do
    for v in "${variants[@]}"; do one "$v" "$r" >>times; done
done

# The baselines and tunetrail must have worked, or no figure means anything.
for v in bare tunetrail pyloop; do
    if grep -q "^$v fail" times; then
        f=$(grep "^$v fail" times | head -n 1 | cut -d' ' -f3)
        echo "bench_peers: $v failed (exit $f):" >&2
        cat "$T/$v".*.out >&2
        exit 1
    fi
done
ntt=()
for r in $(seq "$ROUNDS"); do
    ntt+=("$(TUNETRAIL_HOME=$T/tt$r "$TT_BIN/tunetrail" trials --study peers --json | wc -l)")
done
for n in "${ntt[@]}"; do
    [ "$n" -eq 50 ] || { echo "bench_peers: a tunetrail round recorded $n trials, not 50" >&2; exit 1; }
done
# What the tracers recorded, counted in the last round's trace: the 50
# svm-train executions (reprozip's executed_files; strace's execve of the
# svm-train that PATH finds, the one that succeeds: sh tries the PATH entries
# before it, and -f splits a successful execve over two lines).
nrz=-
[ "$have_reprozip" = 1 ] && [ -s "$T/rz$ROUNDS/trace.sqlite3" ] &&
    nrz=$("$PY" -c 'import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute(
    "select count(*) from executed_files where name like ?", ("%/svm-train",)).fetchone()[0])' \
        "$T/rz$ROUNDS/trace.sqlite3")
nst=-
[ "$have_strace" = 1 ] && [ -s "$T/strace$ROUNDS.txt" ] &&
    nst=$(grep -cF "execve(\"$(command -v svm-train)\"" "$T/strace$ROUNDS.txt" || true)

"$PY" - "$have_reprozip" "$have_strace" "$have_optuna" "${ntt[-1]}" "$nrz" "$nst" "$ROUNDS" <<'PY'
import statistics, sys
have_rz, have_st, have_opt, ntt, nrz, nst, rounds = sys.argv[1:8]
t, fail = {}, {}
for line in open("times"):
    v, *rest = line.split()
    if rest[0] == "fail":
        fail.setdefault(v, rest[1])
    else:
        t.setdefault(v, []).append(int(rest[0]) / 1e9)
med = {v: statistics.median(x) for v, x in t.items()}
spread = lambda v: "%.3f-%.3f" % (min(t[v]), max(t[v]))
print("bench_peers: 50 x svm-train -v 5 on 100 examples of heart_scale, %d rounds, medians (min-max)"
      % len(t["bare"]))
print("bare: %.3f s (%s)" % (med["bare"], spread("bare")))

def peer(v, note=""):
    if v in fail:
        print("%s: failed on this sweep (exit %s)" % (v, fail[v]))
    else:
        print("%s: %.3f s (%.2f x bare) (%s)%s" % (v, med[v], med[v] / med["bare"], spread(v), note))

peer("tunetrail", "; store: %s trials" % ntt)
if have_rz == "1":
    peer("reprozip", "; trace: %s svm-train executions" % nrz)
else:
    print("reprozip: skipped (not installed: apt install reprozip)")
if have_st == "1":
    peer("strace", "; %s svm-train execve" % nst)
else:
    print("strace: skipped (not installed: apt install strace)")
if have_opt == "1":
    if "optuna" in fail:
        print("optuna: failed on this sweep (exit %s)" % fail["optuna"])
    else:
        # The loops alone, timed inside the interpreter: Optuna's cost per
        # trial without its import.
        loop = lambda v: statistics.median(int(open("%s%d.ns" % (v, r)).read()) / 1e9
                                           for r in range(1, int(rounds) + 1))
        per = (loop("optuna") - loop("pyloop")) / 50 * 1e3
        print("optuna: %.3f s (%.2f x bare python loop %.3f s (%s)) (%s); %+.1f ms per trial "
              "after its import; storage: 50 complete trials"
              % (med["optuna"], med["optuna"] / med["pyloop"], med["pyloop"], spread("pyloop"),
                 spread("optuna"), per))
else:
    print("optuna: skipped (not installed: apt install python3-optuna)")
PY
