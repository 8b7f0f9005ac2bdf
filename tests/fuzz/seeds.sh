#!/usr/bin/env bash
# tests/fuzz/seeds.sh TUNETRAIL FUZZ_SEEDS OUT - the fuzz targets' seed
# corpora from a real run: `tunetrail run` of svm-train then svm-predict
# (libsvm-tools) with the collector down, so every batch the agent and the
# shims made stays in the spool; fuzz_seeds splits the spool into batches
# (OUT/ingest, for fuzz_ingest) and copies the files whole (OUT/frame, for
# fuzz_frame), and adds a few fixture batches. Uses TUNETRAIL_HOME=OUT/home.
set -euo pipefail
TT=$(realpath "$1") SEEDS=$(realpath "$2") OUT=$(realpath -m "$3")
HEART=/usr/share/doc/liblinear-tools/examples/heart_scale
for x in "$TT" "$SEEDS" svm-train svm-predict "$HEART"; do
    [ -e "$x" ] || command -v "$x" >/dev/null || { echo "seeds.sh: missing $x" >&2; exit 1; }
done
mkdir -p "$OUT/ingest" "$OUT/frame" "$OUT/home"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cp "$HEART" "$OUT/heart_scale"
(cd "$OUT" && TUNETRAIL_HOME=$OUT/home timeout 120 "$TT" run --study fuzz \
    --collector "tcp://127.0.0.1:$port" -- \
    sh -c 'svm-train -c 4 -g 0.5 -v 3 heart_scale m >/dev/null; svm-train -c 2 heart_scale m >/dev/null &&
           svm-predict heart_scale m out >/dev/null') 2>"$OUT/run.err" ||
    { echo "seeds.sh: tunetrail run failed:" >&2; cat "$OUT/run.err" >&2; exit 1; }
shopt -s nullglob
spools=("$OUT"/home/spool/*.spool)
[ ${#spools[@]} -gt 0 ] || { echo "seeds.sh: the run left no spool in $OUT/home/spool" >&2; exit 1; }
"$SEEDS" "$OUT/ingest" "$OUT/frame" "${spools[@]}"
