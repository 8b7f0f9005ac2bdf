/* store_pg.h - inside the store: the PostgreSQL backend (store_pg.c) and the
 * SQLite entry points it drives. A PostgreSQL store is a local SQLite
 * replica (a plain tt_store) plus a link to the database's batch log; the
 * replica applies that log through store_sqlite_ingest, so one
 * implementation of the ingest rules serves both (docs/INTERNALS.md,
 * "PostgreSQL"). */
#ifndef TT_STORE_PG_H
#define TT_STORE_PG_H

#include "store.h"

struct store_pg;

/* 1 if spec names a PostgreSQL store (postgresql:// or postgres://). */
int store_pg_uri(const char *spec);

/* The replica under $TUNETRAIL_HOME/replicas (replica NULL), caught up
 * with the database, linked to it. flags as store_open: STORE_CREATE for a
 * writer (creates the schema), else a reader. */
tt_store *store_pg_open(const char *uri, const char *replica, int flags, char *err, size_t errlen);
void store_pg_close(struct store_pg *pg);
int store_pg_ingest(tt_store *st, const struct ingest_input *in, size_t n,
                    struct ingest_result *res);

/* The SQLite store behind store_open. */
tt_store *store_sqlite_open(const char *path, int flags, char *err, size_t errlen);
/* ingest_batches on the SQLite file. hold: on success leave the
 * transaction open (sealed, not committed) for store_sqlite_finish. */
int store_sqlite_ingest(tt_store *st, const struct ingest_input *in, size_t n,
                        struct ingest_result *res, int hold);
/* Commits a held transaction (why NULL), or rolls it back and answers its
 * batches RETRY with e and why. No-op if none is held. Returns 0 if
 * committed (or none held). */
int store_sqlite_finish(tt_store *st, const struct ingest_input *in, size_t n,
                        struct ingest_result *res, enum store_error e, const char *why);
/* Where st keeps its PostgreSQL link. */
struct store_pg **store_pg_slot(tt_store *st);

#endif
