#!/usr/bin/env bash
# Collector ingest throughput vs a raw ZeroMQ + prepared-INSERT loop, same run.
# Budget (DESIGN.md): >= 1M events/s into SQLite on 2 cores, <= 2x the baseline.
# The first line is the realistic case (a few processes running at a time),
# the second the worst case (every batch touches every one of 300 trials).
set -eu
B="${TT_BUILD:-$(dirname "$0")/../build}/bench/bench_ingest"
"$B" -n "${TT_BENCH_EVENTS:-2000000}" -c 4
"$B" -n "${TT_BENCH_EVENTS:-2000000}" -c 300 | sed 's/^ingest/worst case: ingest/'
