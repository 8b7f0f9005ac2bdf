/* test_store_ingest.c - the store's binding semantics (docs/INTERNALS.md
 * "Store semantics"): dedupe, order independence, the killed-vs-exit rule,
 * trial status derivation, study derivation, rejection of malformed batches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"
#include "tunetrail.pb-c.h"
#include "wire.h"

#include "event_fixture.h"
#include "store_fixture.h"

/* ---- event builders (tests/fixture/event_fixture.h): the events live in
 * g_evs until the next ingest() or the end of the test */
static uint8_t U_SESSION[16] = {1}, U_PROC[16] = {2}, U_TRIAL[16] = {3};
static struct evfx_batch g_evs;

static Tunetrail__Event *ev_new(uint8_t *origin, uint64_t seq)
{
    return evfx_event(&g_evs, origin, seq, EVFX_T0 + (int64_t)seq * 1000000);
}

static Tunetrail__Event *ev_session(uint64_t seq, const char *study)
{
    Tunetrail__Event *e = ev_new(U_SESSION, seq);
    evfx_session_start(&g_evs, e, U_SESSION, study);
    return e;
}

static Tunetrail__Event *ev_pstart(uint8_t *proc, uint8_t *session, const char *study)
{
    static char *argv[] = {"svm-train", "-c", "4", "data"};
    Tunetrail__Event *e = ev_new(proc, 0);
    Tunetrail__ProcessStart *m =
        evfx_process_start(&g_evs, e, proc, session, study, "/usr/bin/svm-train");
    m->argv = argv;
    m->n_argv = 4;
    m->has_pid = 1;
    m->pid = 1234;
    return e;
}

static Tunetrail__Event *ev_pend(uint8_t *origin, uint64_t seq, uint8_t *proc, int how, int code)
{
    Tunetrail__Event *e = ev_new(origin, seq);
    evfx_process_end(&g_evs, e, proc, how, code);
    return e;
}

static Tunetrail__Event *ev_tstart(uint64_t seq)
{
    Tunetrail__Event *e = ev_new(U_PROC, seq);
    evfx_trial_start(&g_evs, e, U_TRIAL, U_PROC, "libsvm", NULL);
    return e;
}

static Tunetrail__Event *ev_tend(uint64_t seq, int status)
{
    Tunetrail__Event *e = ev_new(U_PROC, seq);
    /* has_status even for UNSPECIFIED (0): test_unspecified_trial_end */
    evfx_trial_end(&g_evs, e, U_TRIAL, status);
    return e;
}

static Tunetrail__Event *ev_metric(uint64_t seq, const char *name, double v)
{
    Tunetrail__Event *e = ev_new(U_PROC, seq);
    evfx_metric(&g_evs, e, U_TRIAL, name, v);
    return e;
}

static Tunetrail__Event *ev_file(uint64_t seq, const char *path)
{
    Tunetrail__Event *e = ev_new(U_PROC, seq);
    evfx_file(&g_evs, e, U_PROC, path, -1);
    return e;
}

static Tunetrail__Event *ev_param(uint64_t seq, const char *k, const char *v)
{
    Tunetrail__Event *e = ev_new(U_PROC, seq);
    evfx_param(&g_evs, e, U_TRIAL, k, v, "argv");
    return e;
}

/* Packs events into a Batch, ingests it, frees every event built so far. */
static struct ingest_result ingest(tt_store *st, int version, size_t n, ...)
{
    Tunetrail__Event *evs[32];
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        evs[i] = va_arg(ap, Tunetrail__Event *);
    va_end(ap);
    uint8_t *buf;
    size_t len = evfx_pack_events(evs, n, version, 77, U_SESSION, &buf);
    struct ingest_result r;
    if (ingest_batch(st, buf, len, &r) < 0 && getenv("TT_TEST_VERBOSE"))
        fprintf(stderr, "ingest: %s\n", r.error);
    free(buf);
    evfx_clear(&g_evs);
    return r;
}

/* The store fixture's teardown, freeing the events a test left in g_evs. */
static int teardown_events(void **state)
{
    evfx_clear(&g_evs);
    return teardown(state);
}

static long long count(tt_store *st, const char *sql)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(store_sqlite(st), sql, -1, &s, NULL), SQLITE_OK);
    long long v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return v;
}

static char *text(tt_store *st, const char *sql)
{
    static char buf[256];
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(store_sqlite(st), sql, -1, &s, NULL), SQLITE_OK);
    buf[0] = 0;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        snprintf(buf, sizeof buf, "%s", sqlite3_column_text(s, 0));
    else
        snprintf(buf, sizeof buf, "(null)");
    sqlite3_finalize(s);
    return buf;
}

#define V 1
#define EXIT TUNETRAIL__PROCESS_END__HOW__END_EXIT
#define KILLED TUNETRAIL__PROCESS_END__HOW__END_KILLED
#define SIGNAL TUNETRAIL__PROCESS_END__HOW__END_SIGNAL

static void test_dedupe(void **state)
{
    tt_store *st = ((struct fx *)*state)->st;
    for (int round = 0; round < 2; round++) {
        struct ingest_result r =
            ingest(st, V, 6, ev_session(0, "s1"), ev_pstart(U_PROC, U_SESSION, NULL),
                   ev_tstart(1), ev_param(2, "c", "4"), ev_metric(3, "accuracy", 0.9),
                   ev_file(4, "/data/train"));
        assert_int_equal(r.status, INGEST_OK);
        assert_int_equal(r.batch_seq, 77);
        assert_int_equal(r.stored, round ? 0 : 6);
        assert_int_equal(r.duplicates, round ? 6 : 0);
    }
    assert_int_equal(count(st, "SELECT count(*) FROM metrics"), 1);
    assert_int_equal(count(st, "SELECT count(*) FROM params"), 1);
    assert_int_equal(count(st, "SELECT count(*) FROM files"), 1);
    assert_int_equal(count(st, "SELECT count(*) FROM trials"), 1);
    assert_int_equal(count(st, "SELECT count(*) FROM processes"), 1);
    assert_string_equal(text(st, "SELECT study FROM trial_view"), "s1");
    assert_string_equal(text(st, "SELECT status FROM trial_view"), "running");
}

static void test_end_before_start(void **state)
{
    tt_store *st = ((struct fx *)*state)->st;
    /* everything reversed: metric, trial end-less, process end, then the starts */
    assert_int_equal(ingest(st, V, 2, ev_metric(3, "acc", 0.5), ev_pend(U_PROC, 9, U_PROC, EXIT, 3))
                         .status,
                     INGEST_OK);
    /* the metric created the trial row; it has no process yet */
    assert_string_equal(text(st, "SELECT status FROM trial_view"), "running");
    assert_int_equal(ingest(st, V, 3, ev_tstart(1), ev_pstart(U_PROC, U_SESSION, NULL),
                            ev_session(0, "late"))
                         .status,
                     INGEST_OK);
    assert_string_equal(text(st, "SELECT status FROM trial_view"), "failed");
    assert_string_equal(text(st, "SELECT study FROM trial_view"), "late");
    assert_string_equal(text(st, "SELECT framework FROM trial_view"), "libsvm");
    assert_string_equal(text(st, "SELECT exe FROM trial_view"), "/usr/bin/svm-train");
    assert_int_equal(count(st, "SELECT exit_code FROM trial_view"), 3);
    assert_int_equal(count(st, "SELECT count(*) FROM trials"), 1);
}

static void test_killed_then_exit(void **state)
{
    tt_store *st = ((struct fx *)*state)->st;
    ingest(st, V, 1, ev_pstart(U_PROC, U_SESSION, NULL));
    ingest(st, V, 1, ev_pend(U_SESSION, 5, U_PROC, KILLED, 0));
    assert_string_equal(text(st, "SELECT status FROM process_view"), "killed");
    ingest(st, V, 1, ev_pend(U_PROC, 6, U_PROC, EXIT, 0));
    assert_string_equal(text(st, "SELECT status FROM process_view"), "ok");
}

static void test_exit_then_killed(void **state)
{
    tt_store *st = ((struct fx *)*state)->st;
    ingest(st, V, 1, ev_pend(U_PROC, 6, U_PROC, SIGNAL, 11));
    ingest(st, V, 1, ev_pend(U_SESSION, 5, U_PROC, KILLED, 0));
    ingest(st, V, 1, ev_pstart(U_PROC, U_SESSION, NULL));
    assert_string_equal(text(st, "SELECT status FROM process_view"), "crashed");
    assert_int_equal(count(st, "SELECT signal FROM process_view"), 11);
}

static void test_trial_status(void **state)
{
    tt_store *st = ((struct fx *)*state)->st;
    ingest(st, V, 3, ev_pstart(U_PROC, NULL, "bare-study"), ev_tstart(1),
           ev_pend(U_PROC, 9, U_PROC, EXIT, 0));
    /* no TrialEnd: the process's status; bare run: ProcessStart.study */
    assert_string_equal(text(st, "SELECT status FROM trial_view"), "ok");
    assert_string_equal(text(st, "SELECT study FROM trial_view"), "bare-study");
    assert_int_equal(count(st, "SELECT count(*) FROM studies WHERE name='bare-study'"), 1);
    /* TrialEnd.status wins over the process */
    ingest(st, V, 1, ev_tend(8, TUNETRAIL__TRIAL_END__STATUS__TRIAL_FAILED));
    assert_string_equal(text(st, "SELECT status FROM trial_view"), "failed");
}

static void test_unspecified_trial_end(void **state)
{
    tt_store *st = ((struct fx *)*state)->st;
    ingest(st, V, 3, ev_tstart(1), ev_tend(2, TUNETRAIL__TRIAL_END__STATUS__TRIAL_UNSPECIFIED),
           ev_pend(U_PROC, 9, U_PROC, KILLED, 0));
    assert_string_equal(text(st, "SELECT status FROM trial_view"), "killed");
}

static void test_reject_bad_version(void **state)
{
    tt_store *st = ((struct fx *)*state)->st;
    struct ingest_result r = ingest(st, 99, 1, ev_metric(1, "a", 1));
    assert_int_equal(r.status, INGEST_REJECTED);
    assert_non_null(strstr(r.error, "schema_version"));
    r = ingest(st, -1, 1, ev_metric(1, "a", 1));
    assert_int_equal(r.status, INGEST_REJECTED);
    assert_int_equal(count(st, "SELECT count(*) FROM metrics"), 0);
}

static void test_reject_bad_uuid_nothing_stored(void **state)
{
    tt_store *st = ((struct fx *)*state)->st;
    static uint8_t short_uuid[16] = {9};
    Tunetrail__Event *bad = ev_metric(2, "b", 2);
    bad->metric->trial = (ProtobufCBinaryData){15, short_uuid};
    /* a good event first: the whole batch must still be dropped */
    struct ingest_result r = ingest(st, V, 2, ev_metric(1, "a", 1), bad);
    assert_int_equal(r.status, INGEST_REJECTED);
    assert_non_null(strstr(r.error, "event 1"));
    assert_int_equal(count(st, "SELECT count(*) FROM metrics"), 0);
    assert_int_equal(count(st, "SELECT count(*) FROM trials"), 0);

    Tunetrail__Event *noseq = ev_metric(3, "c", 3);
    noseq->has_seq = 0;
    assert_int_equal(ingest(st, V, 1, noseq).status, INGEST_REJECTED);
    Tunetrail__Event *nokind = ev_new(U_PROC, 4);
    assert_int_equal(ingest(st, V, 1, nokind).status, INGEST_REJECTED);
    Tunetrail__Event *nopath = ev_file(5, "");
    assert_int_equal(ingest(st, V, 1, nopath).status, INGEST_REJECTED);
    assert_int_equal(count(st, "SELECT count(*) FROM files"), 0);
}

static void test_reject_garbage_bytes(void **state)
{
    tt_store *st = ((struct fx *)*state)->st;
    const uint8_t garbage[] = "\xff\xff\xff\xff garbage that is not protobuf";
    struct ingest_result r;
    assert_int_equal(ingest_batch(st, garbage, sizeof garbage, &r), -1);
    assert_int_equal(r.status, INGEST_REJECTED);
    /* truncated: a valid batch cut in the middle of an event */
    Tunetrail__Event *e = ev_param(1, "lr", "0.1");
    uint8_t *buf;
    size_t n = evfx_pack_events(&e, 1, 1, 0, NULL, &buf);
    assert_int_equal(ingest_batch(st, buf, n - 3, &r), -1);
    assert_int_equal(r.status, INGEST_REJECTED);
    assert_int_equal(ingest_batch(st, buf, n, &r), 0);
    assert_int_equal(r.stored, 1);
    free(buf);
}

static void test_reopen_and_readonly(void **state)
{
    struct fx *f = *state;
    ingest(f->st, V, 1, ev_metric(1, "a", 1));
    char err[256];
    tt_store *ro = store_open(f->path, STORE_READONLY, err, sizeof err);
    assert_non_null(ro);
    assert_int_equal(count(ro, "SELECT count(*) FROM metrics"), 1);
    struct ingest_result r;
    assert_int_equal(ingest_batch(ro, (const uint8_t *)"", 0, &r), -1);
    store_close(ro);
    /* a second writer on the same file sees the same ids */
    tt_store *w2 = store_open(f->path, STORE_CREATE, err, sizeof err);
    assert_non_null(w2);
    r = ingest(w2, V, 1, ev_metric(1, "a", 1));
    assert_int_equal(r.duplicates, 1);
    store_close(w2);
    assert_null(store_open("/nonexistent/dir/x.db", STORE_READONLY, err, sizeof err));
    assert_non_null(strstr(err, "No such file"));
}

/* hwm dedupe: holes, out-of-order arrival, duplicates on both sides of the
 * hwm, and the hole filling later, across batches and within one. */
static void test_out_of_order_gaps(void **state)
{
    tt_store *st = ((struct fx *)*state)->st;
    struct ingest_result r;
    /* 0, 1 in order; 4 and 6 past a hole; 4 again in the same batch */
    r = ingest(st, V, 5, ev_metric(0, "m", 0), ev_metric(1, "m", 1), ev_metric(4, "m", 4),
               ev_metric(6, "m", 6), ev_metric(4, "m", 4));
    assert_int_equal(r.status, INGEST_OK);
    assert_int_equal(r.stored, 4);
    assert_int_equal(r.duplicates, 1);
    assert_int_equal(count(st, "SELECT hwm FROM origins"), 1);
    assert_int_equal(count(st, "SELECT count(*) FROM ahead"), 2);
    /* resend of everything so far: all duplicates */
    r = ingest(st, V, 4, ev_metric(6, "m", 6), ev_metric(0, "m", 0), ev_metric(4, "m", 4),
               ev_metric(1, "m", 1));
    assert_int_equal(r.stored, 0);
    assert_int_equal(r.duplicates, 4);
    /* 3 then 2: 2 fills the hole, hwm jumps over 3 and 4 to 4, 6 stays ahead */
    r = ingest(st, V, 1, ev_metric(3, "m", 3));
    assert_int_equal(r.stored, 1);
    r = ingest(st, V, 2, ev_metric(2, "m", 2), ev_metric(3, "m", 3));
    assert_int_equal(r.stored, 1);
    assert_int_equal(r.duplicates, 1);
    assert_int_equal(count(st, "SELECT hwm FROM origins"), 4);
    assert_int_equal(count(st, "SELECT count(*) FROM ahead"), 1);
    /* 5 fills the last hole */
    r = ingest(st, V, 3, ev_metric(5, "m", 5), ev_metric(6, "m", 6), ev_metric(7, "m", 7));
    assert_int_equal(r.stored, 2);
    assert_int_equal(r.duplicates, 1);
    assert_int_equal(count(st, "SELECT hwm FROM origins"), 7);
    assert_int_equal(count(st, "SELECT count(*) FROM ahead"), 0);
    assert_int_equal(count(st, "SELECT count(*) FROM metrics"), 8);
    assert_int_equal(count(st, "SELECT count(DISTINCT seq) FROM metrics"), 8);
    assert_int_equal(count(st, "SELECT sum(value) FROM metrics"), 0 + 1 + 2 + 3 + 4 + 5 + 6 + 7);
}

/* The hwm and ahead rows are durable: a fresh handle dedupes the same way. */
static void test_dedupe_after_reopen(void **state)
{
    struct fx *f = *state;
    ingest(f->st, V, 3, ev_metric(0, "m", 0), ev_metric(1, "m", 1), ev_metric(5, "m", 5));
    store_close(f->st);
    char err[256];
    f->st = store_open(f->path, STORE_CREATE, err, sizeof err);
    assert_non_null(f->st);
    struct ingest_result r =
        ingest(f->st, V, 4, ev_metric(1, "m", 1), ev_metric(5, "m", 5), ev_metric(2, "m", 2),
               ev_metric(0, "m", 0));
    assert_int_equal(r.stored, 1);
    assert_int_equal(r.duplicates, 3);
    assert_int_equal(count(f->st, "SELECT count(*) FROM metrics"), 4);
}

/* Two writers on one file (two tunetrail run, or run + tunetraild): each
 * one's cached hwm must not let the other's events in twice. */
static void test_two_writers(void **state)
{
    struct fx *f = *state;
    char err[256];
    tt_store *b = store_open(f->path, STORE_CREATE, err, sizeof err);
    assert_non_null(b);
    struct ingest_result r = ingest(f->st, V, 2, ev_metric(0, "m", 0), ev_metric(1, "m", 1));
    assert_int_equal(r.stored, 2);
    r = ingest(b, V, 3, ev_metric(0, "m", 0), ev_metric(1, "m", 1), ev_metric(2, "m", 2));
    assert_int_equal(r.stored, 1);
    assert_int_equal(r.duplicates, 2);
    /* a's cache says hwm 1; b moved it to 2 */
    r = ingest(f->st, V, 2, ev_metric(2, "m", 2), ev_metric(3, "m", 3));
    assert_int_equal(r.stored, 1);
    assert_int_equal(r.duplicates, 1);
    r = ingest(b, V, 2, ev_metric(3, "m", 3), ev_metric(4, "m", 4));
    assert_int_equal(r.stored, 1);
    assert_int_equal(count(f->st, "SELECT count(*) FROM metrics"), 5);
    store_close(b);
}

/* seq is stored as a signed SQLite integer: beyond INT64_MAX is malformed. */
static void test_reject_huge_seq(void **state)
{
    tt_store *st = ((struct fx *)*state)->st;
    struct ingest_result r = ingest(st, V, 1, ev_metric(UINT64_MAX, "m", 1));
    assert_int_equal(r.status, INGEST_REJECTED);
    assert_int_equal(count(st, "SELECT count(*) FROM metrics"), 0);
}

/* With checkpoints in the background, many batches still all land. */
static void test_background_checkpoints(void **state)
{
    tt_store *st = ((struct fx *)*state)->st;
    char err[256];
    assert_int_equal(store_background_checkpoints(st, err, sizeof err), 0);
    for (uint64_t i = 0; i < 200; i++) {
        struct ingest_result r = ingest(st, V, 1, ev_metric(i, "m", (double)i));
        assert_int_equal(r.stored, 1);
    }
    assert_int_equal(count(st, "SELECT count(*) FROM metrics"), 200);
}

/* Packs events into a Batch (malloc'd buffer in *buf); the events stay in
 * g_evs. */
static size_t pack(uint8_t **buf, int version, size_t n, Tunetrail__Event **evs)
{
    return evfx_pack_events(evs, n, version, n * 100 + (size_t)version, NULL, buf);
}

/* A replayed batch (a PostgreSQL replica's catch-up) is checked and stored
 * at its recorded receive time, not the replica's clock: every replica
 * stores the same rows. */
static void test_received_ns(void **state)
{
    tt_store *st = ((struct fx *)*state)->st;
    const int64_t t = EVFX_T0 + 1000000000LL;
    uint8_t *buf;
    Tunetrail__Event *e[] = {ev_metric(0, "m", 0), ev_metric(1, "m", 1)};
    struct ingest_input in = {.len = pack(&buf, V, 2, e), .received_ns = t};
    in.buf = buf;
    struct ingest_result r;
    assert_int_equal(ingest_batches(st, &in, 1, &r), 0);
    assert_int_equal(r.stored, 2);
    assert_int_equal(r.flagged, 0); /* on time as of t; years late as of now */
    assert_int_equal(count(st, "SELECT recv_ns FROM received"), t);
    free(buf);
}

/* Group commit: each batch answered on its own; a malformed one is rejected
 * alone; a duplicate across two batches of one group is stored once. */
static void test_group(void **state)
{
    tt_store *st = ((struct fx *)*state)->st;
    struct ingest_input in[4] = {{0}};
    memset(in, 0, sizeof in);
    uint8_t *bufs[4];
    Tunetrail__Event *e0[] = {ev_metric(0, "m", 0), ev_metric(1, "m", 1)};
    Tunetrail__Event *e1[] = {ev_metric(2, "m", 2)};
    Tunetrail__Event *e2[] = {ev_metric(1, "m", 1), ev_metric(2, "m", 2), ev_metric(3, "m", 3)};
    in[0].len = pack(&bufs[0], V, 2, e0);
    in[1].len = pack(&bufs[1], 99, 1, e1); /* bad schema version */
    in[2].len = pack(&bufs[2], V, 3, e2);
    bufs[3] = (uint8_t *)strdup("garbage");
    in[3].len = 7;
    for (int i = 0; i < 4; i++)
        in[i].buf = bufs[i];
    struct ingest_result r[4];
    assert_int_equal(ingest_batches(st, in, 4, r), -1);
    assert_int_equal(r[0].status, INGEST_OK);
    assert_int_equal(r[0].stored, 2);
    assert_int_equal(r[0].batch_seq, 200 + V);
    assert_int_equal(r[1].status, INGEST_REJECTED);
    assert_non_null(strstr(r[1].error, "schema_version"));
    assert_int_equal(r[2].status, INGEST_OK);
    assert_int_equal(r[2].stored, 2);
    assert_int_equal(r[2].duplicates, 1);
    assert_int_equal(r[3].status, INGEST_REJECTED);
    assert_int_equal(count(st, "SELECT count(*) FROM metrics"), 4);
    /* the same group again: all duplicates, nothing new */
    assert_int_equal(ingest_batches(st, in, 1, r), 0);
    assert_int_equal(r[0].duplicates, 2);
    assert_int_equal(count(st, "SELECT count(*) FROM metrics"), 4);
    for (int i = 0; i < 4; i++)
        free(bufs[i]);
}

/* A store failure mid-group: nothing committed, every valid batch RETRY
 * (with its batch_seq), the malformed one still REJECTED; resending works. */
static void test_group_retry(void **state)
{
    struct fx *f = *state;
    struct ingest_input in[3] = {{0}};
    memset(in, 0, sizeof in);
    uint8_t *bufs[3];
    Tunetrail__Event *e0[] = {ev_metric(0, "m", 0)};
    Tunetrail__Event *e1[] = {ev_metric(1, "m", 1), ev_metric(2, "m", 2)};
    Tunetrail__Event *e2[] = {ev_metric(3, "m", 3), ev_metric(4, "m", 4), ev_metric(5, "m", 5)};
    in[0].len = pack(&bufs[0], V, 1, e0);
    in[1].len = pack(&bufs[1], 99, 2, e1);
    in[2].len = pack(&bufs[2], V, 3, e2);
    for (int i = 0; i < 3; i++)
        in[i].buf = bufs[i];
    /* another connection holds the write lock: BEGIN IMMEDIATE is busy */
    sqlite3 *other;
    assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_busy_timeout(store_sqlite(f->st), 1);
    struct ingest_result r[3];
    assert_int_equal(ingest_batches(f->st, in, 3, r), -1);
    assert_int_equal(r[0].status, INGEST_RETRY);
    assert_int_equal(r[0].stored, 0);
    assert_int_equal(r[1].status, INGEST_REJECTED);
    assert_int_equal(r[2].status, INGEST_RETRY);
    assert_int_equal(r[2].batch_seq, 300 + V);
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    assert_int_equal(count(f->st, "SELECT count(*) FROM metrics"), 0);
    ingest_batches(f->st, in, 3, r);
    assert_int_equal(r[0].status, INGEST_OK);
    assert_int_equal(r[2].status, INGEST_OK);
    assert_int_equal(r[2].stored, 3);
    /* seq 1, 2 never came: 3..5 are ahead of a hole, 0 is the hwm */
    assert_int_equal(count(f->st, "SELECT hwm FROM origins"), 0);
    assert_int_equal(count(f->st, "SELECT count(*) FROM ahead"), 3);
    assert_int_equal(count(f->st, "SELECT count(*) FROM metrics"), 4);
    for (int i = 0; i < 3; i++)
        free(bufs[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dedupe, setup, teardown_events),
        cmocka_unit_test_setup_teardown(test_end_before_start, setup, teardown_events),
        cmocka_unit_test_setup_teardown(test_killed_then_exit, setup, teardown_events),
        cmocka_unit_test_setup_teardown(test_exit_then_killed, setup, teardown_events),
        cmocka_unit_test_setup_teardown(test_trial_status, setup, teardown_events),
        cmocka_unit_test_setup_teardown(test_unspecified_trial_end, setup, teardown_events),
        cmocka_unit_test_setup_teardown(test_reject_bad_version, setup, teardown_events),
        cmocka_unit_test_setup_teardown(test_reject_bad_uuid_nothing_stored, setup, teardown_events),
        cmocka_unit_test_setup_teardown(test_reject_garbage_bytes, setup, teardown_events),
        cmocka_unit_test_setup_teardown(test_reopen_and_readonly, setup, teardown_events),
        cmocka_unit_test_setup_teardown(test_out_of_order_gaps, setup, teardown_events),
        cmocka_unit_test_setup_teardown(test_dedupe_after_reopen, setup, teardown_events),
        cmocka_unit_test_setup_teardown(test_two_writers, setup, teardown_events),
        cmocka_unit_test_setup_teardown(test_reject_huge_seq, setup, teardown_events),
        cmocka_unit_test_setup_teardown(test_background_checkpoints, setup, teardown_events),
        cmocka_unit_test_setup_teardown(test_group, setup, teardown_events),
        cmocka_unit_test_setup_teardown(test_received_ns, setup, teardown_events),
        cmocka_unit_test_setup_teardown(test_group_retry, setup, teardown_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
