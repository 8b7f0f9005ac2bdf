#!/usr/bin/env bash
# Runs every bench/*.sh benchmark in turn; each prints its figures.
set -u
for b in "$(dirname "$0")"/bench_*.sh; do
  [ -e "$b" ] || continue
  echo "== $(basename "$b")"
  bash "$b"
done
