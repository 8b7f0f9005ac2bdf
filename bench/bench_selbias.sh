#!/usr/bin/env bash
# The selection-bias statistics (BBC-CV, PBO, Tibshirani) against one plain
# evaluation of every configuration on every example, same run: the issue's
# synthetic 1,000 x 10,000 (B = 1000), half and a tenth of it (how it
# scales), svm-grid's heart_scale size (110 x 270), and regression.
set -eu
B="${TT_BUILD:-$(dirname "$0")/../build}/bench/bench_selbias"
"$B" 1000 10000 1000
"$B" 500 10000 1000
"$B" 1000 5000 1000
"$B" 110 270 1000
"$B" 1000 10000 1000 regression
