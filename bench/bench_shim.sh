#!/usr/bin/env bash
# bench_shim.sh - what the shim adds to a process that does not train.
# Starts /bin/true N times per round with a small C harness (shim_spawn.c:
# vfork + execve, no bash fork per process), ROUNDS rounds, the variants
# alternating inside every round, the median round taken per variant:
#   bare    no preload
#   empty   LD_PRELOAD of an empty library: the floor any preload pays here
#   spool   the shim without an agent (bare run: records go to a spool file)
#   agent   the shim under `tunetrail run`, talking to a live agent that
#           stores every process
# All four run in one harness process under `tunetrail run`, so they share
# one run. Prints one line: ms per process bare, and ms added by each
# preload (budget <= 0.05 ms over the empty library, which shows the floor of
# any preload); a second line with CPU time per process, which holds still on
# a loaded machine: each variant's own (over the empty library) and the
# agent's per recorded process; and the physical floor of the exit's wait for
# the agent's ack: one SOCK_SEQPACKET datagram and its reply between two
# processes (seqpacket_rtt.c).
#   env: TT_BIN (default build/bin), TT_SHIM (default $TT_BIN/../lib/libtunetrail.so),
#        N (default 500), ROUNDS (default 7), CC (default cc)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
TT_BIN=$(realpath "${TT_BIN:-$SRC/build/bin}")
TT_SHIM=${TT_SHIM:-$(cd "$TT_BIN/../lib" 2>/dev/null && pwd)/libtunetrail.so}
N=${N:-500}
ROUNDS=${ROUNDS:-7}
CC=${CC:-cc}
[ -x "$TT_BIN/tunetrail" ] || { echo "bench_shim: no $TT_BIN/tunetrail (set TT_BIN)" >&2; exit 1; }
[ -f "$TT_SHIM" ] || { echo "bench_shim: no $TT_SHIM (set TT_SHIM)" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
unset TUNETRAIL_COLLECTOR TUNETRAIL_STORE LD_PRELOAD
export TUNETRAIL_HOME=$T/home

"$CC" -O2 -o "$T/shim_spawn" "$SRC/bench/shim_spawn.c"
"$CC" -O2 -o "$T/seqpacket_rtt" "$SRC/bench/seqpacket_rtt.c"
echo 'void tt_bench_empty(void) {}' >"$T/empty.c"
"$CC" -shared -fPIC -O2 -o "$T/libempty.so" "$T/empty.c"

out=$(TUNETRAIL_SHIM="$TT_SHIM" timeout 1200 "$TT_BIN/tunetrail" run --study bench --store "$T/trail.db" -- \
    "$T/shim_spawn" "$N" "$ROUNDS" /bin/true -- \
    bare - \
    empty "LD_PRELOAD=$T/libempty.so" \
    spool "LD_PRELOAD=$TT_SHIM,TUNETRAIL_HOME=$T/spoolhome" \
    agent inherit)
rtt=$("$T/seqpacket_rtt" 5000 "$ROUNDS" 300)
python3 - "$N" "$out" "$rtt" <<'PY'
import sys
n = int(sys.argv[1])
rows = [l.split() for l in sys.argv[2].splitlines()]
ms = {r[0]: int(r[1]) / 1e6 for r in rows}
cpu = {r[0]: int(r[2]) / 1e6 for r in rows}
agent_cpu = {r[0]: int(r[3]) / 1e6 for r in rows}
add = lambda k: ms[k] - ms["bare"]
print("bench_shim: /bin/true x%d: bare %.2f ms; empty preload %+.2f ms; shim (spool) %+.2f ms; "
      "shim (agent) %+.2f ms (floor of any preload here: %.2f ms; "
      "shim over the floor: spool %+.3f, agent %+.3f; budget 0.05 ms: %s)"
      % (n, ms["bare"], add("empty"), add("spool"), add("agent"), add("empty"),
         ms["spool"] - ms["empty"], ms["agent"] - ms["empty"],
         "ok" if ms["agent"] - ms["empty"] <= 0.05 else "OVER"))
print("bench_shim: CPU per process: bare %.3f ms; over the empty preload: shim (spool) %+.3f ms, "
      "shim (agent) %+.3f ms, plus the agent's %.3f ms per recorded process (the empty "
      "variant's %.3f: its idle wake-ups); floor of the exit's ack wait: one SOCK_SEQPACKET "
      "round trip %.3f ms"
      % (cpu["bare"], cpu["spool"] - cpu["empty"], cpu["agent"] - cpu["empty"],
         agent_cpu["agent"], agent_cpu["empty"], int(sys.argv[3]) / 1e6))
PY
