/* store_pg.c - the PostgreSQL store (docs/INTERNALS.md, "PostgreSQL").
 *
 * PostgreSQL holds what is authoritative: tunetrail.batches, the append-only,
 * totally ordered log of the batches the store accepted, bodies as received.
 * Every node (each tunetraild, each reader) keeps a local SQLite replica that
 * applies that log, in id order, through store_sqlite_ingest with each
 * batch's recorded receive time and identity. The ingest rules, exactly-once
 * and the study log thus have one implementation, and every replica computes
 * the same trials and the same Merkle leaves.
 *
 * A writer serialises on an advisory lock held to its COMMIT, so ids are
 * assigned in commit order and a replica is never missing a lower id than
 * one it applied. The replica's SQLite transaction stays open (sealed, with
 * its new last id) until PostgreSQL committed: a crash or a failed COMMIT
 * anywhere leaves a replica that is a prefix of the log, which the next call
 * catches up. */
#include "store_pg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>
#include <sqlite3.h>

#include "paths.h"
#include "util.h"

/* pg_advisory_xact_lock key of the writers ("tunetr" in ASCII). */
#define PG_LOCK_KEY "127941742441586"
/* Rows fetched per catch-up query (a writer's group is at most a few dozen). */
#define PG_PAGE 1024

static const char pg_schema_sql[] =
    "CREATE SCHEMA IF NOT EXISTS tunetrail;"
    "CREATE TABLE IF NOT EXISTS tunetrail.batches(id bigint PRIMARY KEY,"
    " received_ns bigint NOT NULL, identity text, digest bytea NOT NULL, body bytea NOT NULL,"
    " writer text NOT NULL);"
    /* The store's identity: a replica of another database (or of one
     * recreated under the same URI) is rebuilt, not extended. */
    "CREATE TABLE IF NOT EXISTS tunetrail.meta(store text NOT NULL);"
    /* Each writer's signed checkpoints of the study logs (every replica
     * computes the same roots), for readers, which sign nothing. */
    "CREATE TABLE IF NOT EXISTS tunetrail.checkpoints(n bigint GENERATED ALWAYS AS IDENTITY"
    " PRIMARY KEY, study text NOT NULL, tree_size bigint NOT NULL, root bytea NOT NULL,"
    " key bytea NOT NULL, sig bytea NOT NULL, time_ns bigint NOT NULL);"
    "INSERT INTO tunetrail.meta SELECT gen_random_uuid()::text"
    " WHERE NOT EXISTS (SELECT 1 FROM tunetrail.meta);"
    "CREATE OR REPLACE FUNCTION tunetrail.append_only() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN RAISE EXCEPTION 'tunetrail.% is append-only: % refused', TG_TABLE_NAME, TG_OP;"
    " END$$;"
    "CREATE OR REPLACE TRIGGER append_only BEFORE UPDATE OR DELETE ON tunetrail.batches"
    " FOR EACH ROW EXECUTE FUNCTION tunetrail.append_only();"
    "CREATE OR REPLACE TRIGGER append_only_truncate BEFORE TRUNCATE ON tunetrail.batches"
    " FOR EACH STATEMENT EXECUTE FUNCTION tunetrail.append_only();"
    "CREATE OR REPLACE TRIGGER append_only BEFORE UPDATE OR DELETE ON tunetrail.checkpoints"
    " FOR EACH ROW EXECUTE FUNCTION tunetrail.append_only();"
    "CREATE OR REPLACE TRIGGER append_only_truncate BEFORE TRUNCATE ON tunetrail.checkpoints"
    " FOR EACH STATEMENT EXECUTE FUNCTION tunetrail.append_only();"
    "CREATE OR REPLACE TRIGGER append_only BEFORE UPDATE OR DELETE ON tunetrail.meta"
    " FOR EACH ROW EXECUTE FUNCTION tunetrail.append_only();"
    "CREATE OR REPLACE TRIGGER append_only_truncate BEFORE TRUNCATE ON tunetrail.meta"
    " FOR EACH STATEMENT EXECUTE FUNCTION tunetrail.append_only();";

/* In the replica: which database it replicates and how far. */
static const char replica_sql[] =
    "CREATE TABLE IF NOT EXISTS pg_replica(store TEXT NOT NULL, last_id INTEGER NOT NULL,"
    " last_ck INTEGER NOT NULL DEFAULT 0);";

struct store_pg {
    PGconn *conn;
    char *shown;        /* the URI, password masked: every message names it */
    char store[64];     /* tunetrail.meta.store */
    char writer[96];    /* host/pid/random: tells this writer's groups apart */
    int64_t last_id;    /* the replica holds every batch up to it */
    int lock_fd;        /* flock on <replica>.lock for the replica's life */
    int writes;
};

int store_pg_uri(const char *spec)
{
    return spec && (!strncmp(spec, "postgresql://", 13) || !strncmp(spec, "postgres://", 11));
}

/* uri with the password (user:PASSWORD@ or password=...) replaced by ***. */
static char *mask_uri(const char *uri)
{
    size_t n = strlen(uri);
    char *out = malloc(n + 8), *q = out;
    if (!out)
        return NULL;
    const char *p = uri, *auth = strstr(uri, "://");
    auth = auth ? auth + 3 : uri;
    const char *slash = strpbrk(auth, "/?");
    const char *at = memchr(auth, '@', slash ? (size_t)(slash - auth) : strlen(auth));
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon) {
        memcpy(q, p, (size_t)(colon + 1 - p));
        q += colon + 1 - p;
        q += sprintf(q, "***");
        p = at;
    }
    while (*p) {
        if ((p == uri || p[-1] == '?' || p[-1] == '&') && !strncmp(p, "password=", 9)) {
            q += sprintf(q, "password=***");
            p += strcspn(p, "&");
            continue;
        }
        *q++ = *p++;
    }
    *q = 0;
    return out;
}

/* The default replica: $TUNETRAIL_HOME/replicas/<16 hex of sha256 of the
 * connection options but the password>.db, -tunetraild.db for a writer
 * (so that readers on its host do not wait for it). */
static int replica_default(const char *uri, int writer, char **out, char *err, size_t errlen)
{
    char *perr = NULL;
    PQconninfoOption *opt = PQconninfoParse(uri, &perr);
    if (!opt) {
        tt_fail(err, errlen, "%s", perr ? perr : "out of memory");
        PQfreemem(perr);
        return -1;
    }
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    for (PQconninfoOption *o = opt; o->keyword; o++) {
        if (!o->val || !strcmp(o->keyword, "password"))
            continue;
        crypto_hash_sha256_update(&h, (const uint8_t *)o->keyword, strlen(o->keyword) + 1);
        crypto_hash_sha256_update(&h, (const uint8_t *)o->val, strlen(o->val) + 1);
    }
    PQconninfoFree(opt);
    uint8_t d[32];
    crypto_hash_sha256_final(&h, d);
    char *home, hex[17];
    sodium_bin2hex(hex, sizeof hex, d, 8);
    if (paths_home(&home, err, errlen) < 0)
        return -1;
    size_t n = strlen(home) + 48;
    char *dir = malloc(n), *path = malloc(n);
    if (!dir || !path) {
        free(home), free(dir), free(path);
        return tt_fail(err, errlen, "out of memory");
    }
    snprintf(dir, n, "%s/replicas", home);
    snprintf(path, n, "%s/replicas/%s%s.db", home, hex, writer ? "-tunetraild" : "");
    free(home);
    if (paths_mkdirs(dir, err, errlen) < 0) {
        free(dir), free(path);
        return -1;
    }
    chmod(dir, 0700); /* replicas hold every user's argv, like the store */
    free(dir);
    *out = path;
    return 0;
}

/* Server notices ("... does not exist, skipping") are not ours to print. */
static void pg_quiet(void *arg, const char *msg) { (void)arg, (void)msg; }

/* libpq's message on one line (it spans several): logs are one line per event. */
static int pg_fail(struct store_pg *pg, char *err, size_t errlen, const char *what)
{
    char m[512];
    size_t k = 0;
    for (const char *p = PQerrorMessage(pg->conn); *p && k < sizeof m - 1; p++) {
        int sp = *p == '\n' || *p == '\t' || *p == ' ';
        if (!sp || (k && m[k - 1] != ' '))
            m[k++] = sp ? ' ' : *p;
    }
    while (k && m[k - 1] == ' ')
        k--;
    m[k] = 0;
    return tt_fail(err, errlen, "PostgreSQL %s: %s: %s", pg->shown, what, m);
}

/* Runs sql with no parameters; 0 if it succeeded. */
static int pg_exec(struct store_pg *pg, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(pg->conn, sql);
    ExecStatusType s = PQresultStatus(r);
    PQclear(r);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
        return 0;
    return pg_fail(pg, err, errlen, sql[0] == 'C' ? "creating the schema" : sql);
}

static int64_t be64(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | (uint8_t)p[i];
    return (int64_t)v;
}

static void put_be64(char *p, int64_t v)
{
    for (int i = 7; i >= 0; i--, v = (int64_t)((uint64_t)v >> 8))
        p[i] = (char)(v & 0xff);
}

/* max(id) of the log: in the caller's transaction. */
static int pg_max_id(struct store_pg *pg, int64_t *max, char *err, size_t errlen)
{
    PGresult *r = PQexec(pg->conn, "SELECT coalesce(max(id), 0) FROM tunetrail.batches");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return pg_fail(pg, err, errlen, "reading the batch log");
    }
    *max = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

static int replica_save(tt_store *st, int64_t last)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(store_sqlite(st), "UPDATE pg_replica SET last_id = ?", -1, &s, NULL) !=
        SQLITE_OK)
        return -1;
    sqlite3_bind_int64(s, 1, last);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Applies rows [a, b) of r (one writer's group: one transaction) to the
 * replica and records the last id with them. */
static int apply_group(tt_store *st, struct store_pg *pg, PGresult *r, int a, int b, char *err,
                       size_t errlen)
{
    int n = b - a, rc = -1;
    struct ingest_input *in = calloc((size_t)n, sizeof *in);
    struct ingest_result *res = calloc((size_t)n, sizeof *res);
    if (!in || !res) {
        free(in), free(res);
        return tt_fail(err, errlen, "out of memory");
    }
    int64_t last = be64(PQgetvalue(r, b - 1, 0));
    for (int i = 0; i < n; i++) {
        int row = a + i;
        uint8_t d[32];
        in[i].buf = (const uint8_t *)PQgetvalue(r, row, 4);
        in[i].len = (size_t)PQgetlength(r, row, 4);
        in[i].received_ns = be64(PQgetvalue(r, row, 1));
        in[i].identity = PQgetisnull(r, row, 2) ? NULL : PQgetvalue(r, row, 2);
        in[i].replay = 1;
        crypto_hash_sha256(d, in[i].buf, in[i].len);
        if (PQgetlength(r, row, 3) != 32 || memcmp(d, PQgetvalue(r, row, 3), 32)) {
            tt_fail(err, errlen,
                    "PostgreSQL %s: batch %lld does not match its digest: the log was altered",
                    pg->shown, (long long)be64(PQgetvalue(r, row, 0)));
            goto out;
        }
    }
    store_sqlite_ingest(st, in, (size_t)n, res, 1);
    for (int i = 0; i < n; i++) {
        if (res[i].status != INGEST_OK) {
            tt_fail(err, errlen, "replica %s: batch %lld of %s: %s", store_path(st),
                    (long long)be64(PQgetvalue(r, a + i, 0)), pg->shown, res[i].error);
            store_sqlite_finish(st, in, (size_t)n, res, STORE_ERR_IO, "replica");
            goto out;
        }
    }
    if (replica_save(st, last) < 0) {
        tt_fail(err, errlen, "replica %s: %s", store_path(st), sqlite3_errmsg(store_sqlite(st)));
        store_sqlite_finish(st, in, (size_t)n, res, STORE_ERR_IO, "replica");
        goto out;
    }
    if (store_sqlite_finish(st, in, (size_t)n, res, STORE_ERR_NONE, NULL) < 0) {
        tt_fail(err, errlen, "replica %s: %s", store_path(st), res[0].error);
        goto out;
    }
    pg->last_id = last;
    rc = 0;
out:
    free(in);
    free(res);
    return rc;
}

/* Applies every batch with id in (last_id, upto] (upto < 0: all), in id
 * order, one writer's group per transaction: rows with the same receive
 * time and writer were one ingest call there. */
static int catch_up(tt_store *st, struct store_pg *pg, int64_t upto, char *err, size_t errlen)
{
    int limit = PG_PAGE;
    for (;;) {
        char from[24], to[24], lim[16];
        snprintf(from, sizeof from, "%lld", (long long)pg->last_id);
        snprintf(to, sizeof to, "%lld", (long long)(upto < 0 ? INT64_MAX : upto));
        snprintf(lim, sizeof lim, "%d", limit);
        const char *params[3] = {from, to, lim};
        PGresult *r = PQexecParams(pg->conn,
                                   "SELECT id, received_ns, identity, digest, body, writer FROM"
                                   " tunetrail.batches WHERE id > $1 AND id <= $2 ORDER BY id"
                                   " LIMIT $3",
                                   3, NULL, params, NULL, NULL, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            PQclear(r);
            return pg_fail(pg, err, errlen, "reading the batch log");
        }
        int rows = PQntuples(r), a = 0;
        if (rows == 0) {
            PQclear(r);
            return 0;
        }
        while (a < rows) {
            int b = a + 1;
            while (b < rows && !memcmp(PQgetvalue(r, b, 1), PQgetvalue(r, a, 1), 8) &&
                   !strcmp(PQgetvalue(r, b, 5), PQgetvalue(r, a, 5)))
                b++;
            if (b == rows && rows == limit) /* the group may go on in the next page */
                break;
            if (apply_group(st, pg, r, a, b, err, errlen) < 0) {
                PQclear(r);
                return -1;
            }
            a = b;
        }
        PQclear(r);
        if (rows < limit)
            return 0;
        if (a == 0)
            limit *= 2; /* one group longer than a page */
    }
}

/* Copies the writers' checkpoints not copied yet into the replica's
 * checkpoints (a study's first one per tree size stays: all have its root).
 * In the caller's snapshot, after catch_up: they sign trees it holds. */
static int import_checkpoints(tt_store *st, struct store_pg *pg, char *err, size_t errlen)
{
    sqlite3 *db = store_sqlite(st);
    sqlite3_stmt *q = NULL, *s = NULL, *u = NULL;
    int64_t from = 0;
    if (sqlite3_prepare_v2(db, "SELECT last_ck FROM pg_replica", -1, &q, NULL) != SQLITE_OK)
        return tt_fail(err, errlen, "replica %s: %s", store_path(st), sqlite3_errmsg(db));
    if (sqlite3_step(q) == SQLITE_ROW)
        from = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    char fb[24];
    snprintf(fb, sizeof fb, "%lld", (long long)from);
    const char *pv[1] = {fb};
    PGresult *r = PQexecParams(pg->conn,
                               "SELECT n, study, tree_size, root, key, sig, time_ns FROM"
                               " tunetrail.checkpoints WHERE n > $1 ORDER BY n",
                               1, NULL, pv, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return pg_fail(pg, err, errlen, "reading the checkpoints");
    }
    int rows = PQntuples(r), rc = SQLITE_OK;
    if (!rows) {
        PQclear(r);
        return 0;
    }
    if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) == SQLITE_OK &&
        (rc = sqlite3_prepare_v2(db,
                                 "INSERT OR IGNORE INTO checkpoints(study, tree_size, root, key,"
                                 " sig, time_ns) VALUES(?, ?, ?, ?, ?, ?)",
                                 -1, &s, NULL)) == SQLITE_OK &&
        (rc = sqlite3_prepare_v2(db, "UPDATE pg_replica SET last_ck = ?", -1, &u, NULL)) ==
            SQLITE_OK) {
        for (int i = 0; i < rows && rc == SQLITE_OK; i++) {
            sqlite3_bind_text(s, 1, PQgetvalue(r, i, 1), PQgetlength(r, i, 1), SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, be64(PQgetvalue(r, i, 2)));
            for (int c = 3; c <= 5; c++)
                sqlite3_bind_blob(s, c, PQgetvalue(r, i, c), PQgetlength(r, i, c), SQLITE_STATIC);
            sqlite3_bind_int64(s, 6, be64(PQgetvalue(r, i, 6)));
            rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
            sqlite3_reset(s);
        }
        sqlite3_bind_int64(u, 1, be64(PQgetvalue(r, rows - 1, 0)));
        if (rc == SQLITE_OK)
            rc = sqlite3_step(u) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        tt_fail(err, errlen, "replica %s: checkpoints: %s", store_path(st), sqlite3_errmsg(db));
    if (rc != SQLITE_OK)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(s);
    sqlite3_finalize(u);
    PQclear(r);
    return rc == SQLITE_OK ? 0 : -1;
}

/* Publishes the checkpoints the replica signed for this call's batches
 * (after both commits). Best effort: a lost one is covered by the next,
 * which signs a larger tree. */
static void publish_checkpoints(tt_store *st, struct store_pg *pg, int64_t now)
{
    size_t n;
    const struct store_checkpoint *ck = store_checkpoints(st, &n);
    for (size_t i = 0; i < n; i++) {
        char size[8], t[8];
        put_be64(size, (int64_t)ck[i].tree_size);
        put_be64(t, now);
        const char *v[6] = {ck[i].study, size, (const char *)ck[i].root, (const char *)ck[i].key,
                            (const char *)ck[i].sig, t};
        int len[6] = {(int)strlen(ck[i].study), 8, 32, 32, 64, 8}, fmt[6] = {1, 1, 1, 1, 1, 1};
        PQclear(PQexecParams(pg->conn,
                             "INSERT INTO tunetrail.checkpoints(study, tree_size, root, key, sig,"
                             " time_ns) VALUES($1::text, $2::bigint, $3::bytea, $4::bytea,"
                             " $5::bytea, $6::bigint)",
                             6, NULL, v, len, fmt, 0));
    }
}

/* Connects and, for a writer, creates the schema; reads the store's id. */
static int pg_connect(struct store_pg *pg, const char *uri, int writer, char *err, size_t errlen)
{
    char *perr = NULL;
    PQconninfoOption *opt = PQconninfoParse(uri, &perr);
    if (!opt) {
        size_t n = perr ? strlen(perr) : 0;
        while (n && perr[n - 1] == '\n')
            n--;
        tt_fail(err, errlen, "PostgreSQL %s: not a valid connection URI: %.*s", pg->shown, (int)n,
                perr ? perr : "out of memory");
        PQfreemem(perr);
        return -1;
    }
    PQconninfoFree(opt);
    /* A host that does not answer would otherwise hold tunetraild (and its
     * PQreset at each call) for the kernel's TCP timeout; the URI's own
     * connect_timeout, if any, comes later and wins. */
    const char *const kw[] = {"connect_timeout", "dbname", NULL};
    const char *const val[] = {"10", uri, NULL};
    pg->conn = PQconnectdbParams(kw, val, 1);
    if (!pg->conn)
        return tt_fail(err, errlen, "PostgreSQL %s: out of memory", pg->shown);
    if (PQstatus(pg->conn) != CONNECTION_OK)
        return pg_fail(pg, err, errlen, "cannot connect");
    PQsetNoticeProcessor(pg->conn, pg_quiet, NULL);
    PGresult *r = PQexec(pg->conn, "SELECT to_regclass('tunetrail.meta') IS NOT NULL");
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    int has = ok && !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    if (!ok)
        return pg_fail(pg, err, errlen, "reading the schema");
    /* Only a missing schema is created: a writer's role then needs no more
     * than SELECT and INSERT on an existing one. */
    if (!has && writer) {
        if (pg_exec(pg, "BEGIN", err, errlen) < 0 ||
            pg_exec(pg, "SELECT pg_advisory_xact_lock(" PG_LOCK_KEY ")", err, errlen) < 0 ||
            pg_exec(pg, pg_schema_sql, err, errlen) < 0 || pg_exec(pg, "COMMIT", err, errlen) < 0)
            return -1;
    } else if (!has) {
        return tt_fail(err, errlen,
                       "PostgreSQL %s: no tunetrail store there (tunetraild --store URI"
                       " creates it)", pg->shown);
    }
    r = PQexec(pg->conn, "SELECT store FROM tunetrail.meta");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        PQclear(r);
        return pg_fail(pg, err, errlen, "reading tunetrail.meta");
    }
    snprintf(pg->store, sizeof pg->store, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

/* The replica's state: *store ("" if none) and *last. */
static int replica_state(tt_store *st, char *store, size_t n, int64_t *last)
{
    sqlite3 *db = store_sqlite(st);
    sqlite3_stmt *s;
    *last = 0;
    store[0] = 0;
    if (sqlite3_exec(db, replica_sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT store, last_id FROM pg_replica", -1, &s, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(s) == SQLITE_ROW) {
        snprintf(store, n, "%s", (const char *)sqlite3_column_text(s, 0));
        *last = sqlite3_column_int64(s, 1);
    }
    sqlite3_finalize(s);
    return 0;
}

static void unlink_replica(const char *path)
{
    char p[4096];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* Opens the replica at path for pg's database: rebuilt from nothing if it
 * replicates another one, or more than the database holds (restored from
 * a backup). */
static tt_store *replica_open(struct store_pg *pg, const char *path, int64_t max, char *err,
                              size_t errlen)
{
    for (int pass = 0; pass < 2; pass++) {
        tt_store *st = store_sqlite_open(path, STORE_CREATE, err, errlen);
        if (!st)
            return NULL;
        char store[64];
        int64_t last;
        if (replica_state(st, store, sizeof store, &last) < 0) {
            tt_fail(err, errlen, "replica %s: %s", path, sqlite3_errmsg(store_sqlite(st)));
            store_close(st);
            return NULL;
        }
        if (!store[0]) {
            sqlite3_stmt *s;
            int rc = sqlite3_prepare_v2(store_sqlite(st),
                                        "INSERT INTO pg_replica(store, last_id) VALUES(?, 0)", -1,
                                        &s, NULL);
            if (rc == SQLITE_OK) {
                sqlite3_bind_text(s, 1, pg->store, -1, SQLITE_STATIC);
                rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
                sqlite3_finalize(s);
            }
            if (rc != SQLITE_OK) {
                tt_fail(err, errlen, "replica %s: %s", path, sqlite3_errmsg(store_sqlite(st)));
                store_close(st);
                return NULL;
            }
            pg->last_id = 0;
            return st;
        }
        if (!strcmp(store, pg->store) && last <= max) {
            pg->last_id = last;
            return st;
        }
        store_close(st);
        if (pass)
            break;
        fprintf(stderr, "tunetrail: replica %s %s; rebuilding it from %s\n", path,
                strcmp(store, pg->store) ? "replicates another database"
                                         : "is ahead of the database (restored from a backup?)",
                pg->shown);
        unlink_replica(path);
    }
    tt_fail(err, errlen, "replica %s: cannot rebuild it", path);
    return NULL;
}

void store_pg_close(struct store_pg *pg)
{
    if (!pg)
        return;
    if (pg->conn)
        PQfinish(pg->conn);
    if (pg->lock_fd >= 0)
        close(pg->lock_fd);
    free(pg->shown);
    free(pg);
}

tt_store *store_pg_open(const char *uri, const char *replica, int flags, char *err, size_t errlen)
{
    struct store_pg *pg = calloc(1, sizeof *pg);
    char *path = NULL, lockp[4096];
    tt_store *st = NULL;
    int64_t max = 0;
    if (!pg || !(pg->shown = mask_uri(uri))) {
        free(pg);
        tt_fail(err, errlen, "out of memory");
        return NULL;
    }
    pg->lock_fd = -1;
    pg->writes = !!(flags & STORE_CREATE);
    if (sodium_init() < 0) {
        tt_fail(err, errlen, "libsodium cannot start");
        goto fail;
    }
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    snprintf(pg->writer, sizeof pg->writer, "%s/%ld/%08x", host, (long)getpid(),
             (unsigned)randombytes_random());
    if (pg_connect(pg, uri, pg->writes, err, errlen) < 0)
        goto fail;
    if (replica ? !(path = strdup(replica)) : replica_default(uri, pg->writes, &path, err, errlen) < 0) {
        if (replica)
            tt_fail(err, errlen, "out of memory");
        goto fail;
    }
    /* One process per replica: a writer refuses a busy one, a reader waits. */
    snprintf(lockp, sizeof lockp, "%s.lock", path);
    if ((pg->lock_fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
        tt_fail(err, errlen, "replica %s: %s", lockp, strerror(errno));
        goto fail;
    }
    if (flock(pg->lock_fd, LOCK_EX | (pg->writes ? LOCK_NB : 0)) < 0) {
        tt_fail(err, errlen,
                errno == EWOULDBLOCK ? "replica %s is in use by another writer (a tunetraild, or"
                                       " a tunetrail run --store postgresql://...); give each"
                                       " tunetraild its own (--replica PATH)"
                                     : "replica %s: cannot lock it",
                path);
        goto fail;
    }
    /* A reader's catch-up sees one snapshot; a writer's open needs none. */
    if (pg_exec(pg, pg->writes ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err,
                errlen) < 0 ||
        pg_max_id(pg, &max, err, errlen) < 0)
        goto fail;
    if (!(st = replica_open(pg, path, max, err, errlen)))
        goto fail;
    if (catch_up(st, pg, max, err, errlen) < 0 || import_checkpoints(st, pg, err, errlen) < 0 ||
        pg_exec(pg, "COMMIT", err, errlen) < 0)
        goto fail;
    free(path);
    *store_pg_slot(st) = pg;
    return st;
fail:
    store_close(st);
    free(path);
    store_pg_close(pg);
    return NULL;
}

/* Answers every batch not malformed RETRY with why (the database failed). */
static int pg_retry(tt_store *st, struct store_pg *pg, const struct ingest_input *in, size_t n,
                    struct ingest_result *res, const char *why)
{
    if (PQstatus(pg->conn) == CONNECTION_OK &&
        PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
        PQclear(PQexec(pg->conn, "ROLLBACK"));
    if (store_sqlite_finish(st, in, n, res, STORE_ERR_IO, why) == 0) {
        /* nothing was held: a malformed batch stays REJECTED */
        for (size_t i = 0; i < n; i++) {
            if (res[i].status == INGEST_REJECTED)
                continue;
            res[i].status = INGEST_RETRY;
            res[i].store_error = STORE_ERR_IO;
            res[i].stored = res[i].duplicates = res[i].flagged = 0;
            res[i].refused = res[i].conflicts = 0;
            snprintf(res[i].error, sizeof res[i].error, "%s", why);
        }
    }
    return -1;
}

/* A batch that changed the replica goes into the log; a pure duplicate
 * (every event already stored alike) changed nothing and needs no row. */
static int changed(const struct ingest_result *r)
{
    return r->status == INGEST_OK &&
           (r->stored || r->refused || r->conflicts || !r->duplicates);
}

int store_pg_ingest(tt_store *st, const struct ingest_input *in_, size_t n,
                    struct ingest_result *res)
{
    struct store_pg *pg = *store_pg_slot(st);
    char err[sizeof res->error];
    memset(res, 0, n * sizeof *res);
    if (!pg->writes) {
        for (size_t i = 0; i < n; i++) {
            res[i].status = INGEST_RETRY;
            res[i].store_error = STORE_ERR_READONLY;
            snprintf(res[i].error, sizeof res[i].error, "store %s is open read-only", pg->shown);
        }
        return -1;
    }
    struct ingest_input *in = malloc((n ? n : 1) * sizeof *in);
    if (!in)
        return pg_retry(st, pg, in_, n, res, "out of memory");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    for (size_t i = 0; i < n; i++) {
        in[i] = in_[i];
        if (!in[i].received_ns)
            in[i].received_ns = now;
    }
    int rc = -1;
    int64_t max;
    /* A connection lost at the last call (server restarted) is made again. */
    if (PQstatus(pg->conn) != CONNECTION_OK)
        PQreset(pg->conn);
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        pg_fail(pg, err, sizeof err, "cannot connect");
        pg_retry(st, pg, in, n, res, err);
        goto out;
    }
    if (pg_exec(pg, "BEGIN", err, sizeof err) < 0 ||
        pg_exec(pg, "SELECT pg_advisory_xact_lock(" PG_LOCK_KEY ")", err, sizeof err) < 0 ||
        pg_max_id(pg, &max, err, sizeof err) < 0) {
        pg_retry(st, pg, in, n, res, err);
        goto out;
    }
    if (max < pg->last_id) {
        snprintf(err, sizeof err,
                 "PostgreSQL %s holds fewer batches (%lld) than replica %s (%lld): restart"
                 " tunetraild to rebuild the replica", pg->shown, (long long)max, store_path(st),
                 (long long)pg->last_id);
        pg_retry(st, pg, in, n, res, err);
        goto out;
    }
    if (catch_up(st, pg, max, err, sizeof err) < 0) {
        pg_retry(st, pg, in, n, res, err);
        goto out;
    }
    rc = store_sqlite_ingest(st, in, n, res, 1);
    int64_t id = max;
    size_t k;
    for (k = 0; k < n; k++) {
        if (!changed(&res[k]))
            continue;
        char idb[8], tb[8];
        uint8_t d[32];
        put_be64(idb, ++id);
        put_be64(tb, in[k].received_ns);
        crypto_hash_sha256(d, in[k].buf, in[k].len);
        const char *v[6] = {idb, tb, in[k].identity, (const char *)d, (const char *)in[k].buf,
                            pg->writer};
        int len[6] = {8, 8, in[k].identity ? (int)strlen(in[k].identity) : 0, 32, (int)in[k].len,
                      (int)strlen(pg->writer)};
        int fmt[6] = {1, 1, 1, 1, 1, 1};
        PGresult *r = PQexecParams(pg->conn,
                                   "INSERT INTO tunetrail.batches(id, received_ns, identity,"
                                   " digest, body, writer) VALUES($1::bigint, $2::bigint,"
                                   " $3::text, $4::bytea, $5::bytea, $6::text)",
                                   6, NULL, v, len, fmt, 0);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok)
            break;
    }
    if (k < n) {
        pg_fail(pg, err, sizeof err, "storing a batch");
        pg_retry(st, pg, in, n, res, err);
        rc = -1;
        goto out;
    }
    if (id > max && replica_save(st, id) < 0) {
        snprintf(err, sizeof err, "replica %s: %s", store_path(st),
                 sqlite3_errmsg(store_sqlite(st)));
        pg_retry(st, pg, in, n, res, err);
        rc = -1;
        goto out;
    }
    if (pg_exec(pg, "COMMIT", err, sizeof err) < 0) {
        /* Committed or not, the replica stays a prefix of the log: the
         * next call catches up whatever did commit. */
        pg_retry(st, pg, in, n, res, err);
        rc = -1;
        goto out;
    }
    if (store_sqlite_finish(st, in, n, res, STORE_ERR_NONE, NULL) < 0)
        rc = -1; /* stored in the database; the next call applies it here */
    else if (id > max)
        pg->last_id = id;
    publish_checkpoints(st, pg, now); /* none unless the replica committed */
out:
    free(in);
    return rc;
}

const char *store_shown(const char *spec, char *buf, size_t n)
{
    if (!store_pg_uri(spec))
        return spec;
    char *m = mask_uri(spec);
    snprintf(buf, n, "%s", m ? m : "postgresql://...");
    free(m);
    return buf;
}

tt_store *store_open_replica(const char *spec, const char *replica, int flags, char *err,
                             size_t errlen)
{
    if (store_pg_uri(spec))
        return store_pg_open(spec, replica, flags, err, errlen);
    return store_sqlite_open(spec, flags, err, errlen);
}

int store_is_postgres(const char *path) { return store_pg_uri(path); }

int store_check_postgres(const char *uri, char *msg, size_t n)
{
    struct store_pg pg = {.lock_fd = -1};
    if (!(pg.shown = mask_uri(uri)))
        return tt_fail(msg, n, "out of memory");
    int rc = pg_connect(&pg, uri, 0, msg, n);
    int64_t max = 0;
    if (rc == 0 && (rc = pg_max_id(&pg, &max, msg, n)) == 0)
        snprintf(msg, n, "reachable, %lld batches in its log", (long long)max);
    else if (rc < 0 && strstr(msg, "no tunetrail store there") && PQstatus(pg.conn) == CONNECTION_OK)
        rc = 0, snprintf(msg, n, "reachable, no tunetrail schema yet (made at start)");
    if (pg.conn)
        PQfinish(pg.conn);
    free(pg.shown);
    return rc;
}
