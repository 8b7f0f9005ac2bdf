/* test_store_eval.c - evaluations (docs/ADAPTERS.md "Evaluations"): a
 * process that reads a model some trial of its study wrote (same SHA-256)
 * and reports a metric is an evaluation of that trial, whatever the arrival
 * order; a copied model still matches; a process of another study does not
 * link. Checked through the store's reader views (eval_*_view). */
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

/* uuids: byte 0 tells them apart */
static uint8_t U_AGENT[16] = {1}, U_TRAIN[16] = {2}, U_EVAL[16] = {3}, U_COPY[16] = {4},
               U_OTHER[16] = {5}, T_TRAIN[16] = {6}, T_EVAL[16] = {7}, T_COPY[16] = {8},
               T_OTHER[16] = {9};
static uint8_t SHA_MODEL[32] = {0xaa, 1}, SHA_TEST[32] = {0xbb, 2}, SHA_TRAIN[32] = {0xcc, 3};

/* The event being built (tests/fixture/event_fixture.h): put() sends it. */
static struct evfx_batch g_ev;

/* Ingests the event built in g_ev as its own batch; fails the test if not
 * stored. */
static void put(tt_store *st)
{
    static uint64_t bseq;
    uint8_t *buf;
    size_t len = evfx_pack(&g_ev, TUNETRAIL__SCHEMA_VERSION__SCHEMA_VERSION, bseq++, NULL, &buf);
    evfx_clear(&g_ev);
    struct ingest_result r;
    if (ingest_batch(st, buf, len, &r) < 0)
        fail_msg("ingest: %s", r.error);
    free(buf);
}

static Tunetrail__Event *ev_base(uint8_t *origin, uint64_t seq)
{
    return evfx_event(&g_ev, origin, seq, EVFX_T0 + (int64_t)seq * 1000);
}

static void proc_start(tt_store *st, uint8_t *p, const char *study, int64_t t0)
{
    Tunetrail__Event *e = ev_base(p, 0);
    e->time_ns = t0;
    evfx_process_start(&g_ev, e, p, NULL, study, "/usr/bin/x");
    put(st);
}

static void file(tt_store *st, uint8_t *p, uint64_t seq, const char *path, int mode, uint8_t *sha)
{
    Tunetrail__FileAccess *m = evfx_file(&g_ev, ev_base(p, seq), p, path, mode);
    m->sha256 = evfx_bin(sha, 32), m->has_sha256 = 1;
    put(st);
}

static void trial(tt_store *st, uint8_t *origin, uint64_t seq, uint8_t *t, uint8_t *p,
                  const char *by)
{
    evfx_trial_start(&g_ev, ev_base(origin, seq), t, p, strcmp(by, "adapter") ? "argv" : "libsvm",
                     by);
    put(st);
}

/* A trial-less metric (the output scanner's), or one on trial t. */
static void metric(tt_store *st, uint8_t *p, uint64_t seq, uint8_t *t, const char *name, double v)
{
    evfx_metric(&g_ev, ev_base(p, seq), t, name, v)->split = (char *)"test";
    put(st);
}

/* The producer: svm-train writes the model, in study s. */
static void train_run(tt_store *st)
{
    proc_start(st, U_TRAIN, "s", 1000);
    trial(st, U_TRAIN, 1, T_TRAIN, U_TRAIN, "adapter");
    file(st, U_TRAIN, 2, "/d/train", 0, SHA_TRAIN);
    metric(st, U_TRAIN, 3, T_TRAIN, "cv_accuracy", 80.0);
    file(st, U_TRAIN, 4, "/d/model", 1, SHA_MODEL);
}

/* An evaluator: reads model (by some path) and test data, prints accuracy;
 * the agent's root fallback opens its trial (agent origin, seq aseq). */
static void eval_run(tt_store *st, uint8_t *p, uint8_t *t, const char *study, const char *model,
                     double acc, uint64_t aseq)
{
    proc_start(st, p, study, 2000);
    file(st, p, 1, model, 0, SHA_MODEL);
    file(st, p, 2, "/d/test", 0, SHA_TEST);
    metric(st, p, 3, NULL, "accuracy", acc);
    trial(st, U_AGENT, aseq, t, p, "root");
}

static int64_t q_int(tt_store *st, const char *sql, uint8_t *bind)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(store_sqlite(st), sql, -1, &s, NULL), SQLITE_OK);
    if (bind)
        sqlite3_bind_blob(s, 1, bind, 16, SQLITE_STATIC);
    int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return v;
}

static int64_t trial_id(tt_store *st, uint8_t *t)
{
    return q_int(st, "SELECT id FROM trials WHERE uuid = ?1", t);
}

/* The evaluation of U_EVAL (T_EVAL) on T_TRAIN, with its metric and data. */
static void check_linked(tt_store *st)
{
    int64_t tt = trial_id(st, T_TRAIN), te = trial_id(st, T_EVAL);
    assert_true(tt > 0 && te > 0);
    assert_int_equal(q_int(st, "SELECT evaluates FROM eval_trial_view WHERE id = (SELECT id FROM"
                               " trials WHERE uuid = ?1)", T_EVAL), tt);
    assert_int_equal(q_int(st, "SELECT count(*) FROM eval_trial_view WHERE id = (SELECT id FROM"
                               " trials WHERE uuid = ?1)", T_TRAIN), 0);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM eval_metric_view WHERE trial_id = %lld AND"
                              " process = ?1 AND name = 'accuracy' AND value = 81.5 AND split = 'test'",
             (long long)tt);
    assert_int_equal(q_int(st, sql, U_EVAL), 1);
    /* the training trial's own metrics are not evaluations */
    assert_int_equal(q_int(st, "SELECT count(*) FROM eval_metric_view WHERE name = 'cv_accuracy'",
                           NULL), 0);
    assert_int_equal(q_int(st, "SELECT count(*) FROM eval_data_view WHERE process = ?1", U_EVAL), 1);
    assert_int_equal(q_int(st, "SELECT count(*) FROM eval_data_view WHERE process = ?1 AND"
                               " path = '/d/test' AND hex(sha256) LIKE 'BB02%'", U_EVAL), 1);
}

static void test_train_then_eval(void **state)
{
    struct fx *f = *state;
    train_run(f->st);
    eval_run(f->st, U_EVAL, T_EVAL, "s", "/d/model", 81.5, 0);
    check_linked(f->st);
}

/* The evaluation arrives first (e.g. the training session's spool is
 * flushed later): the link appears when the producer does. */
static void test_eval_then_train(void **state)
{
    struct fx *f = *state;
    eval_run(f->st, U_EVAL, T_EVAL, "s", "/d/model", 81.5, 0);
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM eval_trial_view", NULL), 0);
    train_run(f->st);
    check_linked(f->st);
}

/* Matching is by content: a copy under another name is the same model,
 * and adds a second evaluation of the same trial. */
static void test_copied_model(void **state)
{
    struct fx *f = *state;
    train_run(f->st);
    eval_run(f->st, U_EVAL, T_EVAL, "s", "/d/model", 81.5, 0);
    eval_run(f->st, U_COPY, T_COPY, "s", "/elsewhere/model2", 81.5, 1);
    check_linked(f->st);
    int64_t tt = trial_id(f->st, T_TRAIN);
    assert_int_equal(q_int(f->st, "SELECT evaluates FROM eval_trial_view WHERE id = (SELECT id"
                                  " FROM trials WHERE uuid = ?1)", T_COPY), tt);
    assert_int_equal(q_int(f->st, "SELECT count(DISTINCT process) FROM eval_metric_view", NULL), 2);
}

/* The same model file read by a process of another study is no evaluation:
 * its trial stays a trial. */
static void test_other_study(void **state)
{
    struct fx *f = *state;
    train_run(f->st);
    eval_run(f->st, U_OTHER, T_OTHER, "other", "/d/model", 70.0, 0);
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM eval_trial_view", NULL), 0);
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM eval_process_view", NULL), 0);
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM eval_metric_view", NULL), 0);
}

/* A training process that reads a model (fine-tuning) opens adapter trials:
 * those stay trials, and its training metrics are not test metrics. A
 * process that reads the model but reports nothing is not an evaluation. */
static void test_adapter_reader_and_silent_reader(void **state)
{
    struct fx *f = *state;
    train_run(f->st);
    proc_start(f->st, U_EVAL, "s", 3000);
    file(f->st, U_EVAL, 1, "/d/model", 0, SHA_MODEL);
    trial(f->st, U_EVAL, 2, T_EVAL, U_EVAL, "adapter");
    metric(f->st, U_EVAL, 3, T_EVAL, "loss", 0.5);
    proc_start(f->st, U_COPY, "s", 3000);
    file(f->st, U_COPY, 1, "/d/model", 0, SHA_MODEL);
    trial(f->st, U_AGENT, 0, T_COPY, U_COPY, "root");
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM eval_trial_view", NULL), 0);
    assert_int_equal(q_int(f->st, "SELECT count(*) FROM eval_metric_view", NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_train_then_eval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_then_train, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copied_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_study, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adapter_reader_and_silent_reader, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
