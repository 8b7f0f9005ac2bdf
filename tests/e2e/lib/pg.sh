# tests/e2e/lib/pg.sh - a private PostgreSQL server for a test (source after
# common.sh). Debian's postgresql-15 binaries, a cluster in $T/pg, listening
# on a Unix socket only (no TCP). As root (.ci/run) the server runs as
# nobody: PostgreSQL refuses to run as root.
#
# After pg_start:
#   $PGURI   postgresql:// URI of the database tt (user postgres, trust auth)
#   pg_stop [MODE]      stops it (MODE: fast, or immediate = a crash)
#   pg_restart          starts it again on the same cluster
#   psqlq SQL           runs SQL in tt, prints the rows unaligned
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

# Runs a server-side command as the cluster's owner.
pg_as() {
    if [ "$(id -u)" -eq 0 ]; then
        setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
    else
        "$@"
    fi
}

pg_start() {
    if [ ! -x "$PGBIN/initdb" ] || [ ! -x "$PGBIN/pg_ctl" ]; then
        echo "[$TT_NAME] SKIP: no PostgreSQL server binaries in $PGBIN (apt-get install postgresql-15)"
        exit 77
    fi
    PGDIR=$T/pg
    PGSOCK=$T/pg/sock
    mkdir -p "$PGDIR/data" "$PGSOCK"
    if [ "$(id -u)" -eq 0 ]; then
        chmod 711 "$T" # nobody may pass through to its own directory, nothing more
        chown -R nobody:nogroup "$PGDIR"
    fi
    chmod 700 "$PGDIR/data"
    pg_as "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 --no-sync \
        >"$PGDIR/initdb.log" 2>&1 || { cat "$PGDIR/initdb.log" >&2; fail "initdb failed"; }
    pg_restart
    timeout 30 "$PGBIN/createdb" -h "$PGSOCK" -U postgres tt || fail "createdb failed"
    PGURI="postgresql:///tt?host=$PGSOCK&user=postgres"
    TT_PG_UP=1
    # Stopped before common.sh's cleanup removes $T; tt_cleanup reads the
    # test's status from $? (set +e: under -e a failing `(exit 1)` would end
    # the trap before it, leaving the daemons running).
    trap '__rc=$?; pg_stop immediate >/dev/null 2>&1 || true; set +e; (exit $__rc); tt_cleanup' EXIT
}

pg_restart() {
    pg_as "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 \
        -o "-k $PGSOCK -h '' -c fsync=off" start >/dev/null ||
        { cat "$PGDIR/server.log" >&2; fail "pg_ctl start failed"; }
}

pg_stop() {
    [ -n "${TT_PG_UP:-}" ] || return 0
    pg_as "$PGBIN/pg_ctl" -D "$PGDIR/data" -m "${1:-fast}" -w -t 60 stop >/dev/null
}

psqlq() { timeout 30 "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PGSOCK" -U postgres -d tt -c "$1"; }
