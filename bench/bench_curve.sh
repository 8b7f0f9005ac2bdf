#!/usr/bin/env bash
# The lab collector's cost: collector ingest over tcp with CURVE (encryption,
# a ZAP handshake, each batch checked and stored under its client's identity)
# against the same ingest without, same run (ratio = time with / time without).
set -eu
B="${TT_BUILD:-$(dirname "$0")/../build}/bench/bench_ingest"
"$B" -C -t tcp -n "${TT_BENCH_EVENTS:-1000000}" -c 4
