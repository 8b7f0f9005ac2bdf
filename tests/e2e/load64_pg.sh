#!/usr/bin/env bash
# load64_pg.sh - load64.sh on the PostgreSQL store (issue 12 part 5): 64
# CURVE agents running svm-train against one tunetraild writing a private
# PostgreSQL server; every event stored once (through the readers' own
# replica, and row by row on tunetraild's).
STORE=postgresql exec bash "$(dirname "$0")/load64.sh" "$@"
