#!/usr/bin/env bash
# bench_adapter.sh - runs bench_adapter with the shim preloaded (bare run:
# no agent; nothing is recorded for a passed-through call).
set -euo pipefail
TT_BUILD=${TT_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
if [ ! -x "$TT_BUILD/bench/bench_adapter" ]; then
    echo "bench_adapter: not built (it needs the liblinear adapter: install liblinear-dev)"
    exit 0
fi
exec env -u TUNETRAIL_SOCK LD_PRELOAD="$TT_BUILD/lib/libtunetrail.so" TUNETRAIL_HOME="$(mktemp -d)" \
    "$TT_BUILD/bench/bench_adapter"
