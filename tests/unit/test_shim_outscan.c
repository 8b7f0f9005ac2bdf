/* test_shim_outscan.c - the output scanner: line assembly across calls, long
 * lines and big chunks, the built-in matchers on the programs' real lines,
 * user patterns and their errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shim_outscan.h"

#define GOT_MAX 64
static struct {
    char name[32], split[8], dir[8];
    double value;
    int64_t step;
} got[GOT_MAX];
static int ngot;

static void collect(const struct shim_outscan_metric *m, void *arg)
{
    (void)arg;
    assert_true(ngot < GOT_MAX);
    snprintf(got[ngot].name, sizeof got[ngot].name, "%s", m->name);
    snprintf(got[ngot].split, sizeof got[ngot].split, "%s", m->split ? m->split : "");
    snprintf(got[ngot].dir, sizeof got[ngot].dir, "%s", m->direction ? m->direction : "");
    got[ngot].value = m->value;
    got[ngot].step = m->step;
    ngot++;
}

static struct shim_outscan sc;

static void setup_for(const char *exe, const char *spec)
{
    char err[256] = "";
    ngot = 0;
    int r = shim_outscan_setup(&sc, exe, spec, collect, NULL, err, sizeof err);
    if (r < 0)
        fail_msg("setup: %s", err);
    assert_int_equal(r, 1);
}

static void feed(int stream, const char *s) { shim_outscan_feed(&sc, stream, s, strlen(s)); }

static void expect(int i, const char *name, double v, int64_t step, const char *split,
                   const char *dir)
{
    assert_true(i < ngot);
    assert_string_equal(got[i].name, name);
    assert_float_equal(got[i].value, v, 1e-9);
    assert_int_equal(got[i].step, step);
    assert_string_equal(got[i].split, split);
    assert_string_equal(got[i].dir, dir);
}

static void svm_train_lines(void **state)
{
    setup_for("svm-train", NULL);
    feed(0, "*\noptimization finished, #iter = 125\nnu = 0.461423\n");
    feed(0, "Cross Validation Accuracy = 82.963%\n");
    feed(0, "Cross Validation Mean squared error = 0.541007\n"
            "Cross Validation Squared correlation coefficient = 0.46761\n");
    assert_int_equal(ngot, 3);
    expect(0, "cv_accuracy", 82.963, -1, "valid", "max");
    expect(1, "cv_mse", 0.541007, -1, "valid", "min");
    expect(2, "cv_scc", 0.46761, -1, "valid", "max");
    /* svm-predict's lines mean nothing in svm-train */
    feed(0, "Accuracy = 86.6667% (234/270) (classification)\n");
    assert_int_equal(ngot, 3);
    shim_outscan_free(&sc);
}

static void svm_predict_lines(void **state)
{
    setup_for("svm-predict", NULL);
    feed(0, "Accuracy = 86.6667% (234/270) (classification)\n");
    feed(0, "Mean squared error = 0.413585 (regression)\n");
    feed(0, "Squared correlation coefficient = 0.590283 (regression)\n");
    assert_int_equal(ngot, 3);
    expect(0, "accuracy", 86.6667, -1, "test", "max");
    expect(1, "mse", 0.413585, -1, "test", "min");
    expect(2, "scc", 0.590283, -1, "test", "max");
    shim_outscan_free(&sc);
}

static void liblinear_lines(void **state)
{
    setup_for("liblinear-train", NULL);
    feed(0, "Doing parameter search with 5-fold cross validation.\n");
    feed(0, "log2c= -13.00\trate=82.2222\nlog2c= -12.00\trate=82.963\n");
    feed(0, "log2c=  -1.00\trate=83.3333\n");
    feed(0, "Best C = 0.000488281  CV accuracy = 83.3333%\n");
    assert_int_equal(ngot, 3);
    expect(0, "cv_accuracy", 82.2222, 0, "valid", "max");
    expect(1, "cv_accuracy", 82.963, 1, "valid", "max");
    expect(2, "cv_accuracy", 83.3333, 2, "valid", "max");
    shim_outscan_free(&sc);
}

static void darknet_lines(void **state)
{
    setup_for("darknet", NULL);
    feed(0, "1: 3.200000, 3.250000 avg, 0.001000 rate, 0.100000 seconds, 64 images\n");
    feed(0, "12, 0.034: 2.5, 2.75 avg, 0.1 rate, 0.2 seconds, 768 images\n");
    feed(0, "13: nothing like a loss line\n7 layers\n");
    assert_int_equal(ngot, 4);
    expect(0, "loss", 3.2, 1, "train", "min");
    expect(1, "loss_avg", 3.25, 1, "train", "min");
    expect(2, "loss", 2.5, 12, "train", "min");
    expect(3, "loss_avg", 2.75, 12, "train", "min");
    shim_outscan_free(&sc);
}

/* A line split over many calls, and over calls that end mid-number. */
static void split_across_calls(void **state)
{
    setup_for("svm-train", NULL);
    const char *line = "Cross Validation Accuracy = 85.1852%\n";
    for (const char *p = line; *p; p++)
        shim_outscan_feed(&sc, 0, p, 1);
    feed(0, "Cross Valid");
    feed(0, "ation Accuracy = 8");
    feed(0, "5.5%\r\nCross Validation Accuracy = 1");
    assert_int_equal(ngot, 2);
    feed(0, "2\n");
    assert_int_equal(ngot, 3);
    expect(0, "cv_accuracy", 85.1852, -1, "valid", "max");
    expect(1, "cv_accuracy", 85.5, -1, "valid", "max");
    expect(2, "cv_accuracy", 12, -1, "valid", "max");
    shim_outscan_free(&sc);
}

/* stdout and stderr are assembled apart: interleaved halves do not mix. */
static void streams_apart(void **state)
{
    setup_for("svm-train", NULL);
    feed(SHIM_OUTSCAN_STDOUT, "Cross Validation Accuracy = ");
    feed(SHIM_OUTSCAN_STDERR, "warning: something\nCross Validation ");
    feed(SHIM_OUTSCAN_STDOUT, "70%\n");
    feed(SHIM_OUTSCAN_STDERR, "Accuracy = 60%\n");
    assert_int_equal(ngot, 2);
    expect(0, "cv_accuracy", 70, -1, "valid", "max");
    expect(1, "cv_accuracy", 60, -1, "valid", "max");
    shim_outscan_free(&sc);
}

/* A line longer than the buffer is not matched (its number could be cut);
 * the next line is. */
static void long_lines(void **state)
{
    setup_for("svm-train", NULL);
    char big[3 * SHIM_OUTSCAN_LINE_MAX];
    int n = snprintf(big, sizeof big, "Cross Validation Accuracy = 1");
    memset(big + n, '1', sizeof big - (size_t)n - 1);
    big[sizeof big - 1] = 0;
    feed(0, "Cross Validation Accuracy = 1");   /* opened in the buffer */
    feed(0, big);                                /* overflows it */
    feed(0, "\nCross Validation Accuracy = 42%\n");
    feed(0, big);                                /* long line in one call */
    feed(0, "\nCross Validation Accuracy = 43%\n");
    assert_int_equal(ngot, 2);
    expect(0, "cv_accuracy", 42, -1, "valid", "max");
    expect(1, "cv_accuracy", 43, -1, "valid", "max");
    shim_outscan_free(&sc);
}

/* A chunk over SHIM_OUTSCAN_FEED_MAX is skipped but its short tail is kept. */
static void big_chunk(void **state)
{
    setup_for("svm-train", NULL);
    size_t n = SHIM_OUTSCAN_FEED_MAX + 4096;
    char *buf = malloc(n + 1);
    assert_non_null(buf);
    memset(buf, 'x', n);
    memcpy(buf, "Cross Validation Accuracy = 1%\n", 31); /* skipped: in the big chunk */
    const char *tail = "\nCross Validation Accuracy = ";
    memcpy(buf + n - strlen(tail), tail, strlen(tail));
    shim_outscan_feed(&sc, 0, buf, n);
    feed(0, "77%\n");
    assert_int_equal(ngot, 1);
    expect(0, "cv_accuracy", 77, -1, "valid", "max");
    free(buf);
    shim_outscan_free(&sc);
}

/* A cut line (printf longer than the format buffer) is not matched. */
static void cut_line(void **state)
{
    setup_for(NULL, "loss=loss=([0-9.]+)");
    feed(0, "loss=1");
    shim_outscan_cut(&sc, 0);
    feed(0, "23\nloss=4\n");
    assert_int_equal(ngot, 1);
    expect(0, "loss", 4, 0, "", "");
    shim_outscan_free(&sc);
}

static void user_patterns(void **state)
{
    /* acc has no group: the whole match is the number */
    setup_for("some-trainer", "loss=loss=([0-9.]+)\nacc=[0-9]+\\.[0-9]+$\ne=e=([0-9.e+-]+)");
    feed(0, "epoch 1 loss=0.5 acc: 0.25\n");
    feed(1, "epoch 2 loss=0.25 accuracy: 0.5\n");
    feed(0, "nothing here\nloss=abc\ne=1e-3\n");
    assert_int_equal(ngot, 5);
    expect(0, "loss", 0.5, 0, "", "");
    expect(1, "acc", 0.25, 0, "", "");
    expect(2, "loss", 0.25, 1, "", "");
    expect(3, "acc", 0.5, 1, "", "");
    expect(4, "e", 0.001, 0, "", "");
    shim_outscan_free(&sc);
}

/* Built-ins and user patterns together in svm-train. */
static void builtin_and_user(void **state)
{
    setup_for("svm-train", "iters=#iter = ([0-9]+)");
    feed(0, "optimization finished, #iter = 125\nCross Validation Accuracy = 80%\n");
    assert_int_equal(ngot, 2);
    expect(0, "iters", 125, 0, "", "");
    expect(1, "cv_accuracy", 80, -1, "valid", "max");
    shim_outscan_free(&sc);
}

static void bad_specs(void **state)
{
    char err[256];
    assert_int_equal(shim_outscan_setup(&sc, "x", "loss=(", collect, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "loss=("));
    shim_outscan_free(&sc);
    assert_int_equal(shim_outscan_setup(&sc, "x", "noequals", collect, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "NAME=REGEX"));
    shim_outscan_free(&sc);
    assert_int_equal(shim_outscan_setup(&sc, "x", "=abc", collect, NULL, err, sizeof err), -1);
    shim_outscan_free(&sc);
    /* nothing to scan: not active */
    assert_int_equal(shim_outscan_setup(&sc, "python3", NULL, collect, NULL, err, sizeof err), 0);
    assert_int_equal(shim_outscan_setup(&sc, "python3", "", collect, NULL, err, sizeof err), 0);
    assert_true(shim_outscan_builtin_for("svm-train") > 0);
    assert_true(shim_outscan_builtin_for("svm-predict") > 0);
    assert_true(shim_outscan_builtin_for("liblinear-train") > 0);
    assert_true(shim_outscan_builtin_for("darknet") > 0);
    assert_int_equal(shim_outscan_builtin_for("svm-grid"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(svm_train_lines),   cmocka_unit_test(svm_predict_lines),
        cmocka_unit_test(liblinear_lines),   cmocka_unit_test(darknet_lines),
        cmocka_unit_test(split_across_calls), cmocka_unit_test(streams_apart),
        cmocka_unit_test(long_lines),        cmocka_unit_test(big_chunk),
        cmocka_unit_test(cut_line),          cmocka_unit_test(user_patterns),
        cmocka_unit_test(builtin_and_user),  cmocka_unit_test(bad_specs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
