#!/usr/bin/env bash
# One command for a fresh Debian machine: installs what is missing, builds,
# records a real small search (svm-grid over heart_scale, 110 svm-train
# cross-validations) in the embedded default store, refits the best (c, g),
# attests the model and prints its provenance record.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bash "$src/scripts/install-deps.sh"
cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$src/build" -j"$(nproc)" >/dev/null
tt="$src/build/bin/tunetrail"
if ! "$tt" --version | grep -Eq '^adapters: (.* )?libsvm( |$)'; then
  "$tt" --version >&2
  echo "quickstart: the libsvm adapter was not built (libsvm's header <libsvm/svm.h> was not found);" >&2
  echo "quickstart: the demo records svm-grid's cross-validations through it: apt-get install libsvm-dev" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp /usr/share/doc/liblinear-tools/examples/heart_scale "$work/"
cd "$work"
study=quickstart-$(date +%Y%m%d-%H%M%S)
echo "== tunetrail run --study $study -- svm-grid ... heart_scale"
read -r c g rate < <("$tt" run --study "$study" -- \
  svm-grid -svmtrain /usr/bin/svm-train -gnuplot null -out null heart_scale | tail -n 1)
echo "svm-grid chose c=$c g=$g (cross-validation accuracy $rate%)"
echo
echo "== tunetrail run --study $study -- svm-train -c $c -g $g heart_scale heart.model   (the refit)"
"$tt" run --study "$study" -- svm-train -c "$c" -g "$g" heart_scale heart.model >/dev/null
echo
echo "== tunetrail trials --study $study   (last 5)"
"$tt" trials --study "$study" | tail -n 5
echo
keydir=${TUNETRAIL_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/tunetrail}/keys
if [ ! -e "$keydir/tunetrail.key" ]; then
  echo "== tunetrail keygen"
  "$tt" keygen
  echo
fi
echo "== tunetrail attest heart.model -o heart.model.tt.json"
"$tt" attest heart.model -o heart.model.tt.json
echo
echo "== tunetrail verify heart.model.tt.json heart.model"
"$tt" verify heart.model.tt.json heart.model
echo
echo "== tunetrail report --record heart.model.tt.json --format md -o -"
"$tt" report --record heart.model.tt.json --format md -o -
mkdir -p "$src/build/quickstart"
cp heart.model heart.model.tt.json "$src/build/quickstart/"
"$tt" report --record heart.model.tt.json -o "$src/build/quickstart/report.html"
echo
echo "The model, its record and an HTML report are in $src/build/quickstart/"
