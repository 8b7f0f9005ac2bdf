#!/usr/bin/env bash
# Installs the Debian packages tunetrail builds, tests and demos with, if any
# are missing. Used by scripts/quickstart.sh and .ci/run. Needs root or sudo.
# --fuzz: also clang and its libFuzzer + sanitizer runtimes, for the fuzz
# targets (-DTT_FUZZ=ON, tests/fuzz/; clang only recommends the runtimes).
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config git
  protobuf-c-compiler libprotobuf-c-dev libzmq3-dev libsqlite3-dev libsodium-dev
  libjansson-dev libcmocka-dev
  libpq-dev                              # the PostgreSQL store (collector/store/store_pg.c)
  postgresql-15                          # a private server for tests/e2e/pg_store.sh and bench/bench_pg.sh
  libyaml-dev                            # config files a trial reads (collector/config_parse.c)
  libsvm-tools liblinear-tools           # real training programs (demo, e2e tests)
  libsvm-dev liblinear-dev               # <libsvm/svm.h>, <linear.h>: the libsvm and liblinear adapters
  libfann-dev                            # tests/progs/tt_fann_*.c (FANN adapter)
  darknet                                # libdarknet.so for tests/progs/tt_darknet_train.c (darknet adapter)
  python3 python-is-python3              # svm-grid's shebang is `#!/usr/bin/env python`
  python3-sklearn                        # tests/e2e: a scikit-learn search with n_jobs=2 (loky workers)
  python3-xgboost python3-torch python3-optuna  # the Python hook's framework tests (python/tunetrail_hook)
  sqlite3 procps coreutils findutils diffutils
  systemd                                # systemd-analyze verify of packaging/tunetraild.service (tests/e2e/systemd_unit.sh)
  chromium                               # tests/e2e/report_html.sh opens the HTML report headless
)
if [ "${1:-}" = --fuzz ]; then
  pkgs+=(clang libclang-rt-14-dev)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
  echo "tunetrail: installing ${missing[*]}" >&2
  $sudo apt-get update -q </dev/null
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi

# Minimal images may exclude /usr/share/doc (dpkg path-exclude); the demo and
# the e2e tests need liblinear-tools' example data set, so take it from the
# package itself.
HEART=/usr/share/doc/liblinear-tools/examples/heart_scale
if [ ! -s "$HEART" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download liblinear-tools </dev/null && dpkg-deb -x liblinear-tools_*.deb x)
  $sudo install -D -m 0644 "$tmp/x$HEART" "$HEART"
  rm -rf "$tmp"
fi
