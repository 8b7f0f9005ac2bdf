/* test_slog.c - the study log inside the store (collector/slog.h):
 * final trials become leaves, the head and root agree with merkle.c, resends
 * append nothing, late events make revisions, running trials wait, the log
 * is append-only, checkpoints verify, a schema-3 store is sealed on upgrade,
 * and a leaf survives a JSON round trip byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "checkpoint.h"
#include "keys.h"
#include "leaf.h"
#include "merkle.h"
#include "store.h"
#include "tunetrail.pb-c.h"
#include "wire.h"

#include "event_fixture.h"
#include "store_fixture.h"

static uint8_t U_SESSION[16] = {1}, U_PROC[16] = {2}, U_T1[16] = {3}, U_T2[16] = {4};

/* ---- the events of one run (tests/fixture/event_fixture.h); every event
 * stamped EVFX_T0 + seq ms */
static Tunetrail__Event *ev(struct evfx_batch *b, uint8_t *origin, uint64_t seq)
{
    return evfx_event(b, origin, seq, EVFX_T0 + (int64_t)seq * 1000000);
}

static void add_session(struct evfx_batch *b, uint64_t seq, const char *study)
{
    evfx_session_start(b, ev(b, U_SESSION, seq), U_SESSION, study);
}

static char *g_argv[] = {"svm-train", "-c", "4", "data"};
static size_t g_argc = 4;

static void add_pstart(struct evfx_batch *b, uint64_t seq)
{
    Tunetrail__ProcessStart *m =
        evfx_process_start(b, ev(b, U_PROC, seq), U_PROC, U_SESSION, NULL, "/usr/bin/svm-train");
    m->argv = g_argv;
    m->n_argv = g_argc;
}

static void add_pend(struct evfx_batch *b, uint64_t seq)
{
    Tunetrail__ProcessEnd *m = evfx_process_end(b, ev(b, U_PROC, seq), U_PROC,
                                                TUNETRAIL__PROCESS_END__HOW__END_EXIT, 0);
    m->has_utime_us = m->has_maxrss_kb = 1;
    m->utime_us = 1500;
    m->maxrss_kb = 3400;
}

static void add_tstart(struct evfx_batch *b, uint64_t seq, uint8_t *trial)
{
    evfx_trial_start(b, ev(b, U_PROC, seq), trial, U_PROC, "libsvm", "adapter");
}

static void add_tend(struct evfx_batch *b, uint64_t seq, uint8_t *trial)
{
    evfx_trial_end(b, ev(b, U_PROC, seq), trial, TUNETRAIL__TRIAL_END__STATUS__TRIAL_OK);
}

static void add_param(struct evfx_batch *b, uint64_t seq, uint8_t *trial, const char *k,
                      const char *v)
{
    evfx_param(b, ev(b, U_PROC, seq), trial, k, v, "adapter");
}

static void add_metric(struct evfx_batch *b, uint64_t seq, uint8_t *trial, const char *name,
                       double v)
{
    Tunetrail__Metric *m = evfx_metric(b, ev(b, U_PROC, seq), trial, name, v);
    m->has_step = 1;
    m->step = -1;
    m->split = "valid";
    m->direction = "max";
}

/* A FileAccess of U_PROC; time_ns -1: none; sha 0: none, else 32 bytes of it. */
static void add_file(struct evfx_batch *b, uint64_t seq, const char *path, int mode, uint8_t sha,
                     int64_t size, int64_t time_ns)
{
    Tunetrail__Event *e = evfx_event(b, U_PROC, seq, time_ns);
    Tunetrail__FileAccess *m = evfx_file(b, e, U_PROC, path, mode);
    if (sha) {
        uint8_t *h = evfx_alloc(b, 32);
        memset(h, sha, 32);
        m->sha256 = evfx_bin(h, 32), m->has_sha256 = 1;
    }
    if (size >= 0) {
        Tunetrail__FileStat *fs = evfx_alloc(b, sizeof *fs);
        tunetrail__file_stat__init(fs);
        fs->has_size = 1, fs->size = (uint64_t)size;
        m->stat = fs;
    }
}

/* Marks the last event of b (a FileAccess) as environment, with packages. */
static void mark_env(struct evfx_batch *b, const char *packages)
{
    Tunetrail__FileAccess *m = b->ev[b->n - 1]->file_access;
    m->has_environment = m->environment = 1;
    m->packages = (char *)packages;
}

/* Packs and ingests b (its events stay in b). */
static void ingest(tt_store *st, struct evfx_batch *b, struct ingest_result *r)
{
    uint8_t *buf;
    size_t len = evfx_pack(b, TUNETRAIL__SCHEMA_VERSION__SCHEMA_VERSION, 1, NULL, &buf);
    if (ingest_batch(st, buf, len, r) != 0)
        fail_msg("ingest: %s", r->error);
    assert_int_equal(r->status, INGEST_OK);
    free(buf);
}

/* The whole two-trial run, seqs from 0. */
static void build_run(struct evfx_batch *b, int with_end)
{
    add_session(b, 0, "demo");
    add_pstart(b, 0);
    add_tstart(b, 1, U_T1);
    add_param(b, 2, U_T1, "c", "4");
    add_metric(b, 3, U_T1, "cv_accuracy", 83.7);
    add_tend(b, 4, U_T1);
    add_tstart(b, 5, U_T2);
    add_param(b, 6, U_T2, "c", "8");
    add_metric(b, 7, U_T2, "cv_accuracy", 85.0);
    add_tend(b, 8, U_T2);
    if (with_end)
        add_pend(b, 9);
}

static int64_t q_int(tt_store *st, const char *sql)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(store_sqlite(st), sql, -1, &s, NULL), SQLITE_OK);
    int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return v;
}

/* Root of study's leaves from the log table; *n receives the count. */
static void log_root(tt_store *st, const char *study, merkle_hash root, size_t *n)
{
    merkle_hash hs[64];
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(store_sqlite(st),
                                        "SELECT hash, leaf FROM log WHERE study = ?1 ORDER BY idx",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(s, 1, study, -1, SQLITE_STATIC);
    *n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        assert_int_equal(sqlite3_column_bytes(s, 0), 32);
        memcpy(hs[*n], sqlite3_column_blob(s, 0), 32);
        merkle_hash again; /* hash == merkle_leaf_hash(leaf) */
        merkle_leaf_hash(sqlite3_column_text(s, 1), (size_t)sqlite3_column_bytes(s, 1), again);
        assert_memory_equal(again, hs[*n], 32);
        (*n)++;
    }
    sqlite3_finalize(s);
    merkle_root(hs, *n, root);
}

static void head_root(tt_store *st, const char *study, merkle_hash root, uint64_t *size)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(store_sqlite(st),
                                        "SELECT size, frontier FROM log_head WHERE study = ?1", -1,
                                        &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(s, 1, study, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    struct merkle_frontier f;
    *size = (uint64_t)sqlite3_column_int64(s, 0);
    assert_int_equal(merkle_frontier_decode(&f, *size, sqlite3_column_blob(s, 1),
                                            (size_t)sqlite3_column_bytes(s, 1)),
                     0);
    merkle_frontier_root(&f, root);
    sqlite3_finalize(s);
}

static void make_key(struct tt_key *k)
{
    assert_true(sodium_init() >= 0);
    memset(k, 0, sizeof *k);
    crypto_sign_keypair(k->pk, k->sk);
    k->has_secret = 1;
    key_set_id(k);
}

static void test_two_trials_resend_revision(void **state)
{
    struct fx *f = *state;
    struct tt_key k;
    make_key(&k);
    assert_int_equal(store_set_signer(f->st, &k), 0);
    struct evfx_batch b = {0};
    struct ingest_result r;
    build_run(&b, 1);
    ingest(f->st, &b, &r);
    evfx_clear(&b);

    merkle_hash root, hroot;
    size_t n;
    uint64_t size;
    log_root(f->st, "demo", root, &n);
    assert_int_equal(n, 2);
    head_root(f->st, "demo", hroot, &size);
    assert_int_equal(size, 2);
    assert_memory_equal(root, hroot, 32);
    /* started order: T1 first */
    assert_int_equal(q_int(f->st, "SELECT t.uuid = x'03000000000000000000000000000000' FROM log l"
                                  " JOIN trials t ON t.id = l.trial_id WHERE l.idx = 0"),
                     1);

    size_t nck;
    const struct store_checkpoint *ck = store_checkpoints(f->st, &nck);
    assert_int_equal(nck, 1);
    assert_string_equal(ck[0].study, "demo");
    assert_int_equal(ck[0].tree_size, 2);
    assert_memory_equal(ck[0].root, root, 32);
    assert_memory_equal(ck[0].key, k.pk, 32);
    assert_int_equal(ck[0].batches & 1, 1);
    assert_int_equal(checkpoint_verify(ck[0].key, "demo", 2, ck[0].root, ck[0].sig), 0);
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM checkpoints WHERE study = 'demo'"
                                  " AND tree_size = 2"),
                     1);

    /* resend: nothing new */
    build_run(&b, 1);
    ingest(f->st, &b, &r);
    evfx_clear(&b);
    assert_int_equal(r.stored, 0);
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM log"), 2);
    store_checkpoints(f->st, &nck);
    assert_int_equal(nck, 0);

    /* a late metric on sealed T1: a revision */
    add_metric(&b, 10, U_T1, "test_accuracy", 0.1);
    ingest(f->st, &b, &r);
    evfx_clear(&b);
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM log"), 3);
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM log WHERE idx = 2 AND trial_id ="
                                  " (SELECT id FROM trials WHERE uuid = x'03000000000000000000000000000000')"
                                  " AND leaf LIKE '%test_accuracy%'"),
                     1);
    ck = store_checkpoints(f->st, &nck);
    assert_int_equal(nck, 1);
    assert_int_equal(ck[0].tree_size, 3);
    log_root(f->st, "demo", root, &n);
    assert_memory_equal(ck[0].root, root, 32);
    head_root(f->st, "demo", hroot, &size);
    assert_memory_equal(root, hroot, 32);
}

static void test_running_trial_waits(void **state)
{
    struct fx *f = *state;
    struct evfx_batch b = {0};
    struct ingest_result r;
    build_run(&b, 0); /* trials ended, their process still runs */
    ingest(f->st, &b, &r);
    evfx_clear(&b);
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM log"), 0);
    add_pend(&b, 9);
    ingest(f->st, &b, &r);
    evfx_clear(&b);
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM log"), 2);
    /* no signer: the log grows, no checkpoint */
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM checkpoints"), 0);
    /* leaves carry the process's resources */
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM log WHERE leaf LIKE '%\"cpu_us\":1500%'"
                                  " AND leaf LIKE '%\"maxrss_kb\":3400%'"),
                     2);
}

/* CPU times are the sender's int64s: a sum past INT64_MAX saturates in the
 * leaf (it was UB; found by tests/fuzz/fuzz_ingest). */
static void test_cpu_time_saturates(void **state)
{
    struct fx *f = *state;
    struct evfx_batch b = {0};
    struct ingest_result r;
    build_run(&b, 1);
    Tunetrail__ProcessEnd *m = b.ev[b.n - 1]->process_end;
    m->utime_us = INT64_MAX;
    m->has_stime_us = 1;
    m->stime_us = 5658;
    ingest(f->st, &b, &r);
    evfx_clear(&b);
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM log WHERE leaf LIKE "
                                  "'%\"cpu_us\":9223372036854775807,%'"),
                     2);
}

static void test_no_study_waits(void **state)
{
    struct fx *f = *state;
    struct evfx_batch b = {0};
    struct ingest_result r;
    build_run(&b, 1);
    memmove(&b.ev[0], &b.ev[1], (b.n - 1) * sizeof b.ev[0]); /* without its SessionStart */
    b.n--;
    ingest(f->st, &b, &r);
    evfx_clear(&b);
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM log"), 0);
    add_session(&b, 0, "late");
    ingest(f->st, &b, &r);
    evfx_clear(&b);
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM log WHERE study = 'late'"), 2);
}

static void test_append_only(void **state)
{
    struct fx *f = *state;
    struct tt_key k;
    make_key(&k);
    store_set_signer(f->st, &k);
    struct evfx_batch b = {0};
    struct ingest_result r;
    build_run(&b, 1);
    ingest(f->st, &b, &r);
    evfx_clear(&b);
    sqlite3 *db = store_sqlite(f->st);
    char *msg = NULL;
    const char *bad[] = {"DELETE FROM log", "UPDATE log SET leaf = 'x'", "DELETE FROM checkpoints",
                         "UPDATE checkpoints SET tree_size = 9"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_not_equal(sqlite3_exec(db, bad[i], NULL, NULL, &msg), SQLITE_OK);
        assert_non_null(strstr(msg, "append-only"));
        sqlite3_free(msg);
        msg = NULL;
    }
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM log"), 2);
}

/* A schema-3 store (no log) is sealed by its next writer. */
static void test_upgrade_from_v3(void **state)
{
    struct fx *f = *state;
    struct evfx_batch b = {0};
    struct ingest_result r;
    build_run(&b, 1);
    ingest(f->st, &b, &r);
    evfx_clear(&b);
    char *msg = NULL;
    assert_int_equal(sqlite3_exec(store_sqlite(f->st),
                                  "DROP TABLE log; DROP TABLE log_head; DROP TABLE checkpoints;"
                                  " PRAGMA user_version = 3;",
                                  NULL, NULL, &msg),
                     SQLITE_OK);
    store_close(f->st);
    char err[256];
    tt_store *ro = store_open(f->path, STORE_READONLY, err, sizeof err);
    assert_non_null(ro); /* a reader sees an empty log */
    assert_int_equal(q_int(ro, "SELECT count(*) FROM log"), 0);
    store_close(ro);
    f->st = store_open(f->path, STORE_CREATE, err, sizeof err);
    if (!f->st)
        fail_msg("reopen: %s", err);
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM log WHERE study = 'demo'"), 2);
    assert_int_equal(q_int(f->st, "SELECT size FROM log_head WHERE study = 'demo'"), 2);
    assert_int_equal(q_int(f->st, "PRAGMA user_version"), 5);
}

static void assert_leaf_matches_store(tt_store *st, const char *uuid_hex_sql);

/* A schema-4 store (files without env / packages): a reader sees every file
 * as an input; the next writer adds the columns, and leaves stay as sealed. */
static void test_upgrade_from_v4(void **state)
{
    struct fx *f = *state;
    struct evfx_batch b = {0};
    struct ingest_result r;
    add_session(&b, 0, "demo");
    add_pstart(&b, 0);
    add_tstart(&b, 1, U_T1);
    add_file(&b, 2, "/usr/lib/python3.11/os.py", 0, 5, 10, 1);
    add_tend(&b, 3, U_T1);
    add_pend(&b, 4);
    ingest(f->st, &b, &r);
    evfx_clear(&b);
    char *msg = NULL;
    assert_int_equal(sqlite3_exec(store_sqlite(f->st),
                                  "DROP INDEX files_env; ALTER TABLE files DROP COLUMN env;"
                                  " ALTER TABLE files DROP COLUMN packages; PRAGMA user_version = 4;",
                                  NULL, NULL, &msg),
                     SQLITE_OK);
    store_close(f->st);
    char err[256];
    tt_store *ro = store_open(f->path, STORE_READONLY, err, sizeof err);
    assert_non_null(ro);
    store_reader *q = store_reader_open(ro, err, sizeof err);
    assert_non_null(q);
    json_t *t = store_read_trial(q, 1, 1, err, sizeof err);
    assert_non_null(t);
    assert_int_equal(json_array_size(json_object_get(t, "inputs")), 1);
    assert_null(json_object_get(t, "environment"));
    json_decref(t);
    store_reader_close(q);
    store_close(ro);
    f->st = store_open(f->path, STORE_CREATE, err, sizeof err);
    assert_non_null(f->st);
    assert_int_equal(q_int(f->st, "PRAGMA user_version"), 5);
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM files WHERE env IS NULL"), 1);
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM log"), 1);
    assert_leaf_matches_store(f->st, "x'03000000000000000000000000000000'");
}

static void test_leaf_round_trip(void **state)
{
    struct fx *f = *state;
    static char *argv[] = {"svm-train", "-c", "bad\xff\xfe utf8", "\xc3\xa9t\xc3\xa9"};
    g_argv[0] = argv[0];
    char **saved = NULL;
    (void)saved;
    struct evfx_batch b = {0};
    struct ingest_result r;
    add_session(&b, 0, "demo");
    Tunetrail__Event *e;
    add_pstart(&b, 0);
    e = b.ev[b.n - 1];
    e->process_start->argv = argv;
    e->process_start->n_argv = 4;
    add_tstart(&b, 1, U_T1);
    const double vals[] = {0.1, 1e300, 85.0, -0.0, 0.0 / 0.0, 1.0 / 0.0, -1.0 / 0.0, 1e-300};
    const char *names[] = {"a", "b", "c", "d", "e", "f", "g", "\xcf\x83-\xc3\xbc"};
    for (int i = 0; i < 8; i++)
        add_metric(&b, 2 + (uint64_t)i, U_T1, names[i], vals[i]);
    add_param(&b, 10, U_T1, "k\xff", "v\xc0");
    add_tend(&b, 11, U_T1);
    add_pend(&b, 12);
    ingest(f->st, &b, &r);
    evfx_clear(&b);

    char err[256];
    int64_t id = q_int(f->st, "SELECT id FROM trials WHERE uuid = x'03000000000000000000000000000000'");
    char *leaf = leaf_build(store_sqlite(f->st), id, err, sizeof err);
    assert_non_null(leaf);
    json_error_t je;
    json_t *o = json_loads(leaf, 0, &je);
    assert_non_null(o);
    char *again = NULL;
    assert_int_equal(leaf_canonical(o, &again), 0);
    assert_string_equal(leaf, again);
    /* the stored leaf is the same text */
    sqlite3_stmt *s;
    sqlite3_prepare_v2(store_sqlite(f->st), "SELECT leaf FROM log WHERE trial_id = ?1", -1, &s, NULL);
    sqlite3_bind_int64(s, 1, id);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), leaf);
    sqlite3_finalize(s);
    json_t *m = json_object_get(o, "metrics");
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "e"), "value")), "nan");
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "f"), "value")), "inf");
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "g"), "value")), "-inf");
    assert_true(json_real_value(json_object_get(json_object_get(m, "a"), "value")) == 0.1);
    assert_true(json_real_value(json_object_get(json_object_get(m, "b"), "value")) == 1e300);
    assert_non_null(json_object_get(m, "\xcf\x83-\xc3\xbc"));
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "argv"), 2)),
                        "bad\xef\xbf\xbd\xef\xbf\xbd utf8");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "params"), "k\xef\xbf\xbd")),
                        "v\xef\xbf\xbd");
    assert_non_null(strstr(leaf, "\"c\":{\"direction\":\"max\",\"split\":\"valid\",\"value\":85.0}"));
    /* SQLite keeps no -0.0; the canonical form does, through a round trip */
    json_t *t = json_pack("{s:f,s:f,s:f,s:f}", "z", -0.0, "a", 0.1, "b", 1e300, "c", 85.0);
    char *t1 = NULL, *t2 = NULL;
    assert_int_equal(leaf_canonical(t, &t1), 0);
    assert_string_equal(t1, "{\"a\":0.10000000000000001,\"b\":1.0000000000000001e300,\"c\":85.0,\"z\":-0.0}");
    json_decref(t);
    t = json_loads(t1, 0, NULL);
    assert_int_equal(leaf_canonical(t, &t2), 0);
    assert_string_equal(t1, t2);
    json_decref(t);
    free(t1);
    free(t2);
    assert_null(strstr(leaf, "\"error\"")); /* no value: left out */
    assert_int_equal(json_integer_value(json_object_get(o, "v")), 1);
    free(again);
    free(leaf);
    json_decref(o);
}

/* The stored leaf of trial uuid t equals the one built from the store now. */
static void assert_leaf_matches_store(tt_store *st, const char *uuid_hex_sql)
{
    char sql[256], err[256];
    snprintf(sql, sizeof sql, "SELECT id FROM trials WHERE uuid = %s", uuid_hex_sql);
    int64_t id = q_int(st, sql);
    char *fresh = leaf_build(store_sqlite(st), id, err, sizeof err);
    assert_non_null(fresh);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(store_sqlite(st), "SELECT leaf FROM log WHERE trial_id = ?1 ORDER BY idx DESC"
                                         " LIMIT 1", -1, &s, NULL);
    sqlite3_bind_int64(s, 1, id);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), fresh);
    sqlite3_finalize(s);
    free(fresh);
}

/* Files tracked in memory while stored give the leaf the store would: per
 * path and role the hashed row over unhashed, then the latest, the first
 * stored on a tie; modes 0/1/2 (and others: neither); no time, no size; many
 * paths (the per-process index); bad UTF-8; rows spread over batches, and a
 * process whose earlier rows were stored by another connection. */
static void test_files_in_memory(void **state)
{
    struct fx *f = *state;
    static char paths[40][32];
    struct evfx_batch b = {0};
    struct ingest_result r;
    add_session(&b, 0, "demo");
    add_pstart(&b, 0);
    add_tstart(&b, 1, U_T1);
    uint64_t seq = 2;
    const int64_t T = 1700000000000000000ll;
    /* ties: same key, different size; the first one wins */
    add_file(&b, seq++, "/d/tie", 0, 0, 1, T);
    add_file(&b, seq++, "/d/tie", 0, 0, 2, T);
    add_file(&b, seq++, "/d/tie", 2, 0, 3, T);
    /* a hashed row beats a later unhashed one */
    add_file(&b, seq++, "/d/model", 1, 7, 10, T + 5);
    add_file(&b, seq++, "/d/model", 1, 0, 11, T + 9);
    add_file(&b, seq++, "/d/model", 1, 8, 12, T + 3); /* older hash: loses */
    add_file(&b, seq++, "/d/notime", 0, 0, -1, -1);
    add_file(&b, seq++, "/d/notime", 0, 0, 5, -1); /* tie at 0: first */
    add_file(&b, seq++, "/d/both", 2, 9, 100, T);
    add_file(&b, seq++, "/d/both", 1, 0, 101, T + 1); /* output: unhashed loses */
    add_file(&b, seq++, "/d/odd", 5, 9, 100, T);       /* neither role */
    add_file(&b, seq++, "/d/bad\xff", 0, 3, 7, T);
    add_file(&b, seq++, "/d/Z", 0, 0, 1, T); /* byte order: "Z" < "b" */
    /* environment rows: summarised; one without a hash stays an input */
    add_file(&b, seq++, "/usr/lib/p/b.py", 0, 4, 1, T);
    mark_env(&b, "deb:p=1 python:p=1.0");
    add_file(&b, seq++, "/usr/lib/p/a.py", 0, 6, 1, T);
    mark_env(&b, "deb:p=1");
    add_file(&b, seq++, "/usr/lib/p/a.py", 0, 0, 2, T + 1);
    mark_env(&b, "deb:p=1");
    add_file(&b, seq++, "/usr/lib/q.py", 0, 0, 2, T);
    mark_env(&b, NULL);
    ingest(f->st, &b, &r);
    evfx_clear(&b);
    for (int i = 0; i < 40; i++) { /* past the linear scan: the index */
        snprintf(paths[i], sizeof paths[i], "/many/%02d", (i * 17) % 40);
        add_file(&b, seq++, paths[i], i % 3, (uint8_t)(i % 2 ? i : 0), i, T - i);
        add_file(&b, seq++, paths[i], i % 3, (uint8_t)(i % 4 ? 0 : i + 1), i + 1, T - i + 1);
    }
    add_tend(&b, seq++, U_T1);
    add_pend(&b, seq++);
    ingest(f->st, &b, &r);
    evfx_clear(&b);
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM log"), 1);
    assert_leaf_matches_store(f->st, "x'03000000000000000000000000000000'");
    {
        sqlite3_stmt *s;
        sqlite3_prepare_v2(store_sqlite(f->st), "SELECT leaf FROM log", -1, &s, NULL);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        char *leaf = strdup((const char *)sqlite3_column_text(s, 0));
        sqlite3_finalize(s);
        /* digest: "/usr/lib/p/a.py" 0x00 06*32, then "/usr/lib/p/b.py" 0x00 04*32 */
        uint8_t buf[2 * (15 + 1 + 32)], d[32];
        char want[200], hex[65];
        memcpy(buf, "/usr/lib/p/a.py", 16);
        memset(buf + 16, 6, 32);
        memcpy(buf + 48, "/usr/lib/p/b.py", 16);
        memset(buf + 64, 4, 32);
        crypto_hash_sha256(d, buf, sizeof buf);
        snprintf(want, sizeof want,
                 "\"environment\":{\"digest\":\"%s\",\"files\":2,\"packages\":{\"deb\":{\"p\":\"1\"},"
                 "\"python\":{\"p\":\"1.0\"}}}",
                 wire_hex(hex, d, 32));
        if (!strstr(leaf, want))
            fail_msg("leaf %s lacks %s", leaf, want);
        assert_null(strstr(leaf, "/usr/lib/p/"));
        assert_non_null(strstr(leaf, "/usr/lib/q.py"));
        free(leaf);
    }

    /* a late file (a revision) of the sealed process, through another
     * connection's store, then more through this one: read from the store */
    char err[256];
    tt_store *other = store_open(f->path, STORE_CREATE, err, sizeof err);
    assert_non_null(other);
    add_file(&b, seq++, "/d/late", 1, 4, 1, T + 100);
    ingest(other, &b, &r);
    evfx_clear(&b);
    store_close(other);
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM log"), 2);
    add_file(&b, seq++, "/d/late", 1, 0, 2, T + 200);
    add_file(&b, seq++, "/d/late2", 0, 0, 2, T + 200);
    ingest(f->st, &b, &r);
    evfx_clear(&b);
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM log"), 3);
    assert_leaf_matches_store(f->st, "x'03000000000000000000000000000000'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_trials_resend_revision, setup, teardown),
        cmocka_unit_test_setup_teardown(test_running_trial_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cpu_time_saturates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_study_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_from_v3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_from_v4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leaf_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_in_memory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
