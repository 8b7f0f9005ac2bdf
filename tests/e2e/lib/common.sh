# tests/e2e/lib/common.sh - helpers sourced by every tests/e2e/*.sh script.
# (In lib/ so the tests/e2e/*.sh glob does not register it as a test.)
#
# After `source`, a test has:
#   $T          its private temp dir (removed at exit, with every helper
#               process it started through tt_bg / tt_start_collector)
#   $DB         $T/trail.db, the SQLite store to pass with --store
#   TUNETRAIL_HOME=$T/home, and no TUNETRAIL_* leaking in from the caller
#   $TT_BIN, $TT_PROGS, $TT_SRC, $TT_BUILD (set by ctest; defaults below
#   let a developer run `bash tests/e2e/x.sh` against build-e2e/)
# Every command that could hang runs under `timeout`.
set -euo pipefail

TT_SRC=${TT_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
TT_BUILD=${TT_BUILD:-$TT_SRC/build-e2e}
TT_BIN=${TT_BIN:-$TT_BUILD/bin}
TT_PROGS=${TT_PROGS:-$TT_BUILD/tests/progs}
TT_NAME=$(basename "$0" .sh)
TT_TIMEOUT=${TT_TIMEOUT:-120}

unset TUNETRAIL_COLLECTOR TUNETRAIL_STORE TUNETRAIL_STUDY TUNETRAIL_SOCK TUNETRAIL_SESSION \
      TUNETRAIL_PARENT TUNETRAIL_SHIM LD_PRELOAD
T=$(mktemp -d "${TMPDIR:-/tmp}/tt-e2e-$TT_NAME.XXXXXX")
export TUNETRAIL_HOME=$T/home
mkdir -p "$TUNETRAIL_HOME"
DB=$T/trail.db
TT_BG_PIDS=()

tt_cleanup() {
    local rc=$?
    local p
    for p in "${TT_BG_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${TT_BG_PIDS[@]}"; do
        timeout 10 tail --pid="$p" -f /dev/null 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
    done
    if [ "$rc" -ne 0 ] && [ -n "${TT_KEEP:-}" ]; then
        echo "[$TT_NAME] kept $T" >&2
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap tt_cleanup EXIT

# say TEXT - announce what is being checked.
say() { echo "[$TT_NAME] check: $*"; }

# fail TEXT - stop the test with a clear message.
fail() {
    echo "[$TT_NAME] FAIL: $*" >&2
    exit 1
}

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
    [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
    echo "[$TT_NAME]   ok: $3 = $2"
}

# need_exe PATH... - fail (not skip) if a binary the test needs is missing:
# a test that silently skips would pass on a broken build.
need_exe() {
    local x
    for x in "$@"; do
        [ -x "$x" ] || command -v "$x" >/dev/null 2>&1 || fail "missing executable $x (build it / install its package)"
    done
}

# need_py MODULE... - skips the test (exit 77, with the reason and Debian's
# package of each) unless Debian's /usr/bin/python3 imports every MODULE
# (frameworks load only in that interpreter; `python3` on PATH may be another).
need_py() {
    local err
    if ! err=$(/usr/bin/python3 -c "import $(IFS=,; echo "$*")" 2>&1); then
        echo "[$TT_NAME] SKIP: /usr/bin/python3 cannot import $*: ${err##*$'\n'} (install$(printf ' python3-%s' "$@"))"
        exit 77
    fi
}

# TT_E2E_LIB: this directory, for python helpers the tests import (pbfake.py).
export TT_E2E_LIB
TT_E2E_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# tt_requires_adapter FW... - skip the test (exit 77, ctest "Skipped") when
# this build has no FW adapter (its framework's header was not found at
# configure time), saying which package would build it.
tt_requires_adapter() {
    local fw
    for fw in "$@"; do
        case ",${TT_ADAPTERS-libsvm,liblinear,fann,darknet}," in
        *",$fw,"*) ;;
        *)
            local why
            why=$(tr ',' '\n' <<<"${TT_ADAPTERS_SKIPPED:-}" | sed -n "s/^$fw=//p")
            echo "[$TT_NAME] SKIP: the $fw adapter is not built (${why:-not configured}); this test needs it"
            exit 77
            ;;
        esac
    done
}

# tt ARG... - the tunetrail CLI under a timeout.
tt() { timeout -k 5 "$TT_TIMEOUT" "$TT_BIN/tunetrail" "$@"; }

# tt_rc VAR ARG... - runs `tt ARG...` and stores its exit status in VAR
# without tripping `set -e`.
tt_rc() {
    local __var=$1
    shift
    local __rc=0
    tt "$@" || __rc=$?
    printf -v "$__var" '%s' "$__rc"
}

# tt_strip_summary FILE - removes the one-line summary `tunetrail run` ends
# with on stderr ("tunetrail: N trials ..."), so what remains is the
# command's own stderr, to compare with a bare run's.
tt_strip_summary() {
    local last
    last=$(tail -n 1 "$1")
    case $last in
    "tunetrail: "[0-9]*" trial"*) sed -i '$d' "$1" ;;
    *) fail "$1 does not end with tunetrail run's summary line (last line: '$last')" ;;
    esac
}

# sha256 FILE - lower-case hex SHA-256 as sha256sum prints it.
sha256() { sha256sum "$1" | cut -d' ' -f1; }

# free_port - a TCP port nothing listens on right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT - waits (up to 20 s) until something accepts on 127.0.0.1:PORT.
wait_port() {
    timeout 20 python3 - "$1" <<'PY' || fail "nothing listens on port $1 after 20 s"
import socket, sys, time
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        break
    except OSError:
        time.sleep(0.05)
PY
}

# tt_bg PIDVAR CMD... - starts CMD in the background (killed at exit).
tt_bg() {
    local __var=$1
    shift
    "$@" &
    local __pid=$!
    TT_BG_PIDS+=("$__pid")
    printf -v "$__var" '%s' "$__pid"
}

# tt_start_collector PIDVAR PORT STORE LOG - starts tunetraild on
# tcp://127.0.0.1:PORT writing STORE (--create: made if missing), output to
# LOG; waits until it listens.
tt_start_collector() {
    local __var=$1 port=$2 store=$3 log=$4
    tt_bg "$__var" "$TT_BIN/tunetraild" --bind "tcp://127.0.0.1:$port" --store "$store" --create >>"$log" 2>&1
    wait_port "$port"
}

# wait_file F - until F exists (a program's progress marker, not a clock; 60 s at most).
wait_file() { timeout 60 bash -c 'until [ -e "$1" ]; do sleep 0.02; done' _ "$1" || fail "$1 never appeared"; }

# tt_stop PID [SIGNAL] - signals PID (default TERM) and waits for it (20 s max).
tt_stop() {
    kill -"${2:-TERM}" "$1" 2>/dev/null || true
    local rc=0
    timeout 20 tail --pid="$1" -f /dev/null || fail "process $1 did not exit after SIG${2:-TERM}"
    wait "$1" 2>/dev/null || rc=$?
    return 0
}

# trials_json [ARG...] - `tunetrail trials --json --store $DB ARG...` into
# $T/trials.json, failing the test if the command fails.
trials_json() {
    tt trials --store "$DB" --json "$@" >"$T/trials.json" || fail "tunetrail trials --json $* failed"
}

# pycheck SCRIPT [ARG...] - runs a python3 check; the script gets the trials
# (a list of dicts, parsed from $T/trials.json, one object per line) as
# `trials`, a helper `check(cond, msg)` and sys.argv. Non-zero exit = fail.
pycheck() {
    local script=$1
    shift
    timeout 60 python3 - "$T/trials.json" "$@" <<PY || fail "python check failed (see above)"
import json, sys
def check(cond, msg):
    if not cond:
        print("[$TT_NAME] FAIL: " + msg, file=sys.stderr)
        sys.exit(1)
    print("[$TT_NAME]   ok: " + msg)
trials = []
with open(sys.argv[1]) as f:
    for n, line in enumerate(f, 1):
        line = line.strip()
        if not line:
            continue
        try:
            trials.append(json.loads(line))
        except ValueError as e:
            check(False, "line %d of trials --json is not JSON: %s: %r" % (n, e, line[:200]))
args = sys.argv[2:]
$script
PY
}

# procs_json STUDY [STORE] - every process image of STUDY, one JSON object per
# line into $T/procs.json: {uuid, parent, relation, exe, status, exit_code,
# signal}, from `tunetrail processes --json`. relation stays the wire's code
# (1 root, 2 fork, 3 exec; 0 unknown), as the tests compare it, though the
# CLI prints its name.
procs_json() {
    tt processes --store "${2:-$DB}" --study "$1" --json >"$T/procs.cli.json" ||
        fail "tunetrail processes --study $1 --json failed"
    timeout 60 python3 - "$T/procs.cli.json" >"$T/procs.json" <<'PY' || fail "cannot read processes of study $1"
import json, sys
code = {"unknown": 0, "root": 1, "fork": 2, "exec": 3}
for line in open(sys.argv[1]):
    if not line.strip():
        continue
    p = json.loads(line)
    print(json.dumps({"uuid": p["uuid"], "parent": p["parent"], "relation": code[p["relation"]],
                      "exe": p["exe"], "status": p["status"], "exit_code": p["exit_code"],
                      "signal": p["signal"]}))
PY
}

# Python, for pycheck scripts: PROCS (the objects procs_json wrote) and
# ancestors(show) (basenames of a `show --json` trial's ancestor processes,
# nearest first, from its "processes" chain, which starts with its own).
PYPROCS='
import os
PROCS = [json.loads(l) for l in open(os.path.join(os.path.dirname(sys.argv[1]), "procs.json")) if l.strip()]
def ancestors(show):
    return [os.path.basename(p.get("exe") or "") for p in (show.get("processes") or [])[1:]]
'

# tunetraild's log (logfmt, lib/logfmt.py):
# logfmt_check FILE - every line of FILE is logfmt with ts= level= event=
#   from the documented vocabulary (fails the test naming the line).
logfmt_check() {
    local n
    n=$(timeout 60 /usr/bin/python3 "$TT_E2E_LIB/logfmt.py" check "$1") || fail "$1 is not tunetraild's logfmt (above)"
    echo "[$TT_NAME]   ok: $n lines of $(basename "$1") are logfmt with ts= level= event="
}
# logfmt_get FILE EVENT KEY [K=V]... - KEY of the last event=EVENT line (with each K=V); empty if none.
logfmt_get() { timeout 60 /usr/bin/python3 "$TT_E2E_LIB/logfmt.py" get "$@" || true; }
# logfmt_count FILE EVENT [K=V]... - how many event=EVENT lines (with each K=V).
logfmt_count() { timeout 60 /usr/bin/python3 "$TT_E2E_LIB/logfmt.py" count "$@"; }
