#!/usr/bin/env bash
# One command for a fresh Debian machine: installs what is missing, builds, and
# records a real small search (svm-grid over heart_scale, 110 svm-train runs)
# in the embedded default store, then prints what was recorded.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bash "$src/scripts/install-deps.sh"
cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$src/build" -j"$(nproc)" >/dev/null
tt="$src/build/bin/tunetrail"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp /usr/share/doc/liblinear-tools/examples/heart_scale "$work/"
cd "$work"
echo "== tunetrail run --study quickstart --trial svm-train -- svm-grid ... heart_scale"
"$tt" run --study quickstart --trial svm-train -- \
  svm-grid -svmtrain /usr/bin/svm-train -gnuplot null -out null heart_scale | tail -n 1
echo
echo "== tunetrail trials --study quickstart   (last 10)"
"$tt" trials --study quickstart | tail -n 10
echo
echo "== tunetrail studies"
"$tt" studies
id=$("$tt" trials --study quickstart --json | tail -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo
echo "== tunetrail show $id"
"$tt" show "$id"
