#!/usr/bin/env bash
# tests/run-all.sh - the one test command (README, .ci/run): configures a
# build directory, builds everything (the programs, the shim, the test
# programs), then runs every unit and end-to-end test with ctest.
#   BUILD_DIR   build directory (default: build-tests in the source tree)
#   JOBS        parallel build / test jobs (default: 2)
#   CMAKE_ARGS  extra arguments for the cmake configure step
# Extra arguments go to ctest (e.g. `-L e2e`, `-R svm_grid`).
# Exits non-zero if the build or any test fails.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$SRC/build-tests}
JOBS=${JOBS:-2}

# shellcheck disable=SC2086 # CMAKE_ARGS is a list of words on purpose
cmake -S "$SRC" -B "$BUILD_DIR" -DBUILD_TESTING=ON ${CMAKE_ARGS:-}
cmake --build "$BUILD_DIR" -j "$JOBS"
cd "$BUILD_DIR"
rc=0
ctest --output-on-failure -j "$JOBS" "$@" || rc=$?
# A skipped test (an adapter whose framework is not installed) says why.
log=Testing/Temporary/LastTest.log
if [ -f "$log" ] && grep -q '\] SKIP: ' "$log"; then
    echo "Skipped, and why:"
    grep -h '\] SKIP: ' "$log" | sed 's/^/  /'
fi
exit "$rc"
