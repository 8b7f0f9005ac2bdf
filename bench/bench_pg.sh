#!/usr/bin/env bash
# The PostgreSQL store's ingest (events/s: the batch log in the database plus
# the local replica applying it) against a raw libpq COPY of the same batch
# bodies into a plain table, same run, same synthetic batches as
# bench_ingest. A private server (Debian postgresql-15) on a Unix socket, as
# the tests start it (tests/e2e/lib/pg.sh), with fsync off on both sides.
set -eu
TT_BUILD="${TT_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}"
source "$(dirname "$0")/../tests/e2e/lib/common.sh"
source "$(dirname "$0")/../tests/e2e/lib/pg.sh"
pg_start
"$TT_BUILD/bench/bench_ingest" -P "$PGURI" -n "${TT_BENCH_EVENTS:-500000}" -c 4
