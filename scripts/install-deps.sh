#!/usr/bin/env bash
# Installs the Debian packages tunetrail builds, tests and demos with, if any
# are missing. Used by scripts/quickstart.sh and .ci/run. Needs root or sudo.
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config git
  protobuf-c-compiler libprotobuf-c-dev libzmq3-dev libsqlite3-dev libsodium-dev
  libjansson-dev libcmocka-dev
  libsvm-tools liblinear-tools python3 python-is-python3 sqlite3
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "tunetrail: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
