/* test_store_guard.c - what the store refuses and flags (issue 15): event
 * times outside the window, names over their bounds (refused); a clock far
 * ahead, a late spool, a name not UTF-8 (stored, flagged in `received`,
 * with the receive time beside the client's); a full store reported as
 * STORE_ERR_FULL; a damaged file failing store_check; new files 0600 under
 * umask 000; a missing or empty file refused under STORE_EXISTING; an
 * (origin, seq) resent with other bytes is a conflict, with the same bytes a
 * duplicate, across a reopen (digests in the origins row and in
 * `digest_runs`, or in the `digests` of a store written before). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "event_fixture.h"
#include "store.h"
#include "store_fixture.h"

static const uint8_t ORIGIN[16] = {0x15, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const uint8_t SESSION[16] = {0x15, 0xaa, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Ingests one SessionStart (study, time t) with seq, of a session of its
 * own per seq (a second start of one session is refused); returns the result. */
static struct ingest_result session(tt_store *st, uint64_t seq, const char *study, int64_t t)
{
    struct evfx_batch b = {0};
    Tunetrail__Event *e = evfx_event(&b, ORIGIN, seq, t < 0 ? 0 : t);
    e->has_time_ns = 1;
    e->time_ns = t; /* evfx_event leaves a negative time unset */
    uint8_t sess[16];
    memcpy(sess, SESSION, 16);
    sess[15] = (uint8_t)seq;
    evfx_session_start(&b, e, sess, study);
    uint8_t *buf;
    size_t len = evfx_pack(&b, 1, seq, ORIGIN, &buf);
    struct ingest_result r;
    ingest_batch(st, buf, len, &r);
    free(buf);
    evfx_clear(&b);
    return r;
}

static int64_t count(tt_store *st, const char *sql)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(store_sqlite(st), sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

static void test_time_window(void **state)
{
    struct fx *f = *state;
    int64_t now = now_ns();
    /* A bit flip's date (2262) and a negative time: refused. */
    struct ingest_result r = session(f->st, 0, "s", INT64_MAX - 1);
    assert_int_equal(r.status, INGEST_REJECTED);
    assert_non_null(strstr(r.error, "time_ns"));
    assert_int_equal(session(f->st, 0, "s", -5).status, INGEST_REJECTED);
    /* 400 days ahead: stored, flagged; on time: stored, not flagged; 30 days
     * late (a spool flushed later): stored, flagged. */
    r = session(f->st, 0, "ahead", now + 400LL * 86400 * 1000000000);
    assert_int_equal(r.status, INGEST_OK);
    assert_int_equal(r.flagged, 1);
    r = session(f->st, 1, "ontime", now);
    assert_int_equal(r.status, INGEST_OK);
    assert_int_equal(r.flagged, 0);
    r = session(f->st, 2, "late", now - 30LL * 86400 * 1000000000);
    assert_int_equal(r.flagged, 1);
    assert_int_equal(count(f->st, "SELECT count(*) FROM sessions"), 3);
    assert_int_equal(count(f->st, "SELECT count(*) FROM received"), 3);
    assert_int_equal(count(f->st, "SELECT count(*) FROM received"
                                  " WHERE json_extract(flags, '$.clock_ahead') = 1"
                                  " AND client_max_ns - recv_ns > 399 * 86400 * 1000000000"),
                     1);
    assert_int_equal(count(f->st, "SELECT count(*) FROM received"
                                  " WHERE json_extract(flags, '$.late') = 1"), 1);
    assert_int_equal(count(f->st, "SELECT count(*) FROM received WHERE flags IS NULL"), 1);
    /* a resend stores nothing: no new row */
    assert_int_equal(session(f->st, 1, "ontime", now).duplicates, 1);
    assert_int_equal(count(f->st, "SELECT count(*) FROM received"), 3);
}

static void test_names(void **state)
{
    struct fx *f = *state;
    int64_t now = now_ns();
    char longname[STORE_STUDY_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    struct ingest_result r = session(f->st, 0, longname, now);
    assert_int_equal(r.status, INGEST_REJECTED);
    longname[STORE_STUDY_MAX] = 0; /* exactly the bound: fine */
    assert_int_equal(session(f->st, 0, longname, now).status, INGEST_OK);
    /* Latin-1 and a control character: stored as sent, flagged. */
    r = session(f->st, 1, "caf\xe9", now);
    assert_int_equal(r.status, INGEST_OK);
    assert_int_equal(r.flagged, 1);
    assert_int_equal(session(f->st, 2, "tab\there", now).flagged, 1);
    assert_int_equal(session(f->st, 3, "caf\xc3\xa9", now).flagged, 0); /* UTF-8 */
    assert_int_equal(count(f->st, "SELECT count(*) FROM studies WHERE name = CAST(X'636166e9' AS TEXT)"),
                     1);
    assert_int_equal(count(f->st, "SELECT sum(json_extract(flags, '$.name_not_utf8')) FROM received"),
                     2);
}

static void test_store_full(void **state)
{
    struct fx *f = *state;
    int64_t now = now_ns();
    assert_int_equal(session(f->st, 0, "s", now).status, INGEST_OK);
    int64_t pages = count(f->st, "PRAGMA page_count");
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count=%lld", (long long)pages);
    assert_int_equal(sqlite3_exec(store_sqlite(f->st), sql, NULL, NULL, NULL), SQLITE_OK);
    struct evfx_batch b = {0};
    char big[20000];
    memset(big, 'n', sizeof big - 1);
    big[sizeof big - 1] = 0;
    for (int i = 0; i < 50; i++)
        evfx_note(&b, evfx_event(&b, ORIGIN, 1 + (uint64_t)i, now), big);
    uint8_t *buf;
    size_t len = evfx_pack(&b, 1, 9, ORIGIN, &buf);
    struct ingest_result r;
    assert_int_equal(ingest_batch(f->st, buf, len, &r), -1);
    assert_int_equal(r.status, INGEST_RETRY);
    assert_int_equal(r.store_error, STORE_ERR_FULL);
    assert_non_null(strstr(r.error, "store full"));
    assert_string_equal(store_error_name(STORE_ERR_FULL), "store full");
    free(buf);
    evfx_clear(&b);
}

/* Ingests notes seqs [first, first + n) of ORIGIN, text "<tag> <seq>", all
 * at one time (a resend must be the same bytes). */
static struct ingest_result notes(tt_store *st, uint64_t first, int n, const char *tag)
{
    static int64_t t0;
    if (!t0)
        t0 = now_ns();
    struct evfx_batch b = {0};
    char text[64][16]; /* evfx_note keeps the pointer */
    assert_true(n <= 64);
    for (int i = 0; i < n; i++) {
        snprintf(text[i], sizeof text[i], "%s %llu", tag, (unsigned long long)first + (uint64_t)i);
        evfx_note(&b, evfx_event(&b, ORIGIN, first + (uint64_t)i, t0), text[i]);
    }
    uint8_t *buf;
    size_t len = evfx_pack(&b, 1, first, ORIGIN, &buf);
    struct ingest_result r;
    ingest_batch(st, buf, len, &r);
    free(buf);
    evfx_clear(&b);
    return r;
}

static void test_conflicts(void **state)
{
    struct fx *f = *state;
    char err[256];
    /* 150 seqs in three transactions: 0-99 spill to `digest_runs` as one
     * run, the last 50 stay in the origins row. */
    for (int k = 0; k < 3; k++)
        assert_int_equal(notes(f->st, (uint64_t)k * 50, 50, "a").stored, 50);
    store_close(f->st);
    assert_non_null(f->st = store_open(f->path, STORE_CREATE, err, sizeof err));
    uint64_t probe[] = {3, 70, 149};
    for (size_t i = 0; i < 3; i++) {
        struct ingest_result r = notes(f->st, probe[i], 1, "a");
        assert_int_equal(r.status, INGEST_OK);
        assert_int_equal(r.duplicates, 1);
        assert_int_equal(r.conflicts, 0);
        r = notes(f->st, probe[i], 1, "b");
        assert_int_equal(r.status, INGEST_OK);
        assert_int_equal(r.duplicates, 0);
        assert_int_equal(r.conflicts, 1);
        assert_int_equal(r.stored, 0);
    }
    assert_int_equal(count(f->st, "SELECT count(*) FROM refusals"), 3);
    assert_int_equal(count(f->st, "SELECT count(*) FROM notes WHERE text LIKE 'b %'"), 0);
}

/* A store written before `digest_runs` keeps its spilled runs in `digests`
 * (WITHOUT ROWID, same columns): its writer of today still finds them, so a
 * resend of an old seq with other bytes stays a conflict. */
static void test_conflicts_legacy_digests(void **state)
{
    struct fx *f = *state;
    char err[256];
    for (int k = 0; k < 3; k++)
        assert_int_equal(notes(f->st, (uint64_t)k * 50, 50, "a").stored, 50);
    /* seqs 0-99 spilled as one run at the second commit, 100-149 in the row */
    assert_int_equal(count(f->st, "SELECT count(*) FROM digest_runs"), 1);
    assert_int_equal(count(f->st, "SELECT count(*) FROM digests"), 0);
    assert_int_equal(sqlite3_exec(store_sqlite(f->st),
                                  "INSERT INTO digests SELECT origin_id, seq_lo, d FROM digest_runs;"
                                  " DELETE FROM digest_runs",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    store_close(f->st);
    assert_non_null(f->st = store_open(f->path, STORE_CREATE, err, sizeof err));
    uint64_t probe[] = {3, 70};
    for (size_t i = 0; i < 2; i++) {
        struct ingest_result r = notes(f->st, probe[i], 1, "a");
        assert_int_equal(r.duplicates, 1);
        assert_int_equal(r.conflicts, 0);
        r = notes(f->st, probe[i], 1, "b");
        assert_int_equal(r.conflicts, 1);
        assert_int_equal(r.stored, 0);
    }
}

/* The last seqs an origin may use (SQLite integers are signed): their run of
 * digests ends at INT64_MAX, and checking a resend against it once computed
 * run_lo + run_n past INT64_MAX (found by tests/fuzz/fuzz_ingest, UBSan). */
static void test_conflicts_at_max_seq(void **state)
{
    struct fx *f = *state;
    assert_int_equal(notes(f->st, INT64_MAX - 1, 2, "a").stored, 2);
    struct ingest_result r = notes(f->st, INT64_MAX - 1, 2, "a");
    assert_int_equal(r.status, INGEST_OK);
    assert_int_equal(r.duplicates, 2);
    r = notes(f->st, INT64_MAX, 1, "b");
    assert_int_equal(r.status, INGEST_OK);
    assert_int_equal(r.conflicts, 1);
    assert_int_equal(r.stored, 0);
}

static void test_new_file_modes(void **state)
{
    (void)state;
    char path[64] = "/tmp/tt-guard-XXXXXX", p[80];
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    mode_t old = umask(0);
    char err[256];
    /* STORE_EXISTING: a missing file is not made a store */
    assert_null(store_open(path, STORE_CREATE | STORE_EXISTING, err, sizeof err));
    assert_non_null(strstr(err, "--create"));
    assert_int_equal(access(path, F_OK), -1);
    tt_store *st = store_open(path, STORE_CREATE, err, sizeof err);
    assert_non_null(st);
    assert_int_equal(session(st, 0, "s", now_ns()).status, INGEST_OK);
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        struct stat sb;
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        assert_int_equal(stat(p, &sb), 0);
        if ((sb.st_mode & 0777) != 0600)
            fail_msg("%s has mode %03o under umask 000, expected 600", p, sb.st_mode & 0777);
    }
    store_close(st);
    /* An empty file: refused under STORE_EXISTING, made 0600 otherwise. */
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
    fd = open(path, O_WRONLY | O_CREAT, 0666);
    close(fd);
    assert_null(store_open(path, STORE_CREATE | STORE_EXISTING, err, sizeof err));
    assert_non_null(strstr(err, "empty (0 bytes)"));
    assert_non_null(st = store_open(path, STORE_CREATE, err, sizeof err));
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    store_close(st);
    umask(old);
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
}

static void test_check_damaged(void **state)
{
    struct fx *f = *state;
    int64_t now = now_ns();
    for (uint64_t i = 0; i < 200; i++)
        assert_int_equal(session(f->st, i, "s", now).status, INGEST_OK);
    store_close(f->st); /* checkpoints the WAL into the file */
    f->st = NULL;
    char err[512];
    assert_int_equal(store_check(f->path, 0, err, sizeof err), 0);
    /* zero page 3 (4 KiB pages) */
    int fd = open(f->path, O_WRONLY);
    char zero[4096] = {0};
    assert_int_equal(pwrite(fd, zero, sizeof zero, 2 * 4096), (ssize_t)sizeof zero);
    close(fd);
    assert_int_equal(store_check(f->path, 0, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
    f->st = store_open(f->path, STORE_READONLY, err, sizeof err); /* for teardown */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_time_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_full, setup, teardown),
        cmocka_unit_test(test_new_file_modes),
        cmocka_unit_test_setup_teardown(test_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflicts_legacy_digests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflicts_at_max_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_damaged, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
