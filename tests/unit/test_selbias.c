/* test_selbias.c - properties of the selection-bias statistics
 * (collector/record/selbias.h) on synthetic tables whose truth is known.
 * Exact agreement with an independent implementation is tests/e2e/
 * selbias_ref.sh; here: does each statistic say what it should about a search?
 *
 * Tolerances come from the sampling distributions, not from tuning:
 * - Pure noise (every configuration correct with the same p on independent
 *   examples): a replicate's out-of-bag examples are independent of the
 *   in-bag ones the selection used, so E[BBC-CV] = p exactly, while the raw
 *   best is inflated by about sd * E[max of n standard normals]
 *   (sqrt(.75 * .25 / 2000) * 2.249 = 0.0218 for n = 50, m = 2000). The
 *   out-of-sample rank of the in-sample best is uniform, so E[PBO] = 1/2.
 *   One table's PBO is very noisy (sd 0.165 measured over 300 tables, range
 *   0.11 - 0.95), so the test averages 40 independent tables: sd of the mean
 *   0.165 / sqrt(40) = 0.026, tolerance 0.12 (4.6 sd). BBC-CV's sd per table
 *   was 0.0058 (classification) and 0.020 (regression): tolerances on the
 *   40-table means 0.005 and 0.015 (5 sd), against inflations of the raw best
 *   of +0.022 and -0.070 that they must remove.
 * - One configuration better by a wide margin (0.9 against 0.7, m = 2000):
 *   every selection (in-bag, a CSCV half of 1000 examples) picks it with a
 *   margin of 10 sd or more, so PBO is exactly 0 and BBC-CV differs from
 *   its full-data accuracy only by bootstrap noise averaged over B = 1000
 *   (sd ~0.0003): tolerance 0.003.
 * Seeds are fixed: the outcome is the same at every run. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "selbias.h"

enum { N = 50, M = 2000, K = 10, TABLES = 40 };

static double unif(uint64_t *s)
{
    return (double)(selbias_splitmix64(s) >> 11) / 9007199254740992.0;
}

static double gauss(uint64_t *s)
{
    double u = unif(s), v = unif(s);
    return sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v);
}

/* Classification: configuration c correct with probability p[c]; K fold
 * scores = the accuracy on K contiguous folds. */
static void make_cls(struct selbias_table *t, const double *p, uint64_t seed)
{
    assert_int_equal(selbias_table_init(t, SELBIAS_CLASSIFICATION, N, M, K), 0);
    for (size_t c = 0; c < N; c++)
        for (size_t i = 0; i < M; i++)
            if (unif(&seed) < p[c]) {
                selbias_set_correct(t, c, i);
                t->fold[(i * K / M) * N + c] += 1.0 / (M / K);
            }
}

static const struct selbias_opts OPTS = {0x0123456789abcdefULL, SELBIAS_B_DEFAULT,
                                         SELBIAS_S_DEFAULT, 2};

static void noise_classification(void **state)
{
    double p[N], bbc = 0, raw = 0, pbo = 0;
    for (size_t c = 0; c < N; c++)
        p[c] = 0.75;
    for (int k = 0; k < TABLES; k++) {
        struct selbias_table t;
        struct selbias_bbc b;
        struct selbias_pbo q;
        struct selbias_tt tt;
        make_cls(&t, p, 1000 + (uint64_t)k);
        assert_int_equal(selbias_bbc(&t, &OPTS, &b, NULL, NULL), 0);
        assert_int_equal(selbias_pbo(&t, &OPTS, &q, NULL, NULL), 0);
        assert_int_equal(selbias_tibshirani(&t, &tt, NULL), 0);
        assert_int_equal(q.S, 16);
        assert_int_equal(q.splits, 12870);
        /* The correction goes the right way on every table. */
        assert_true(b.estimate < b.best_value);
        assert_true(tt.bias > 0 && tt.corrected < tt.cv);
        bbc += b.estimate / TABLES;
        raw += b.best_value / TABLES;
        pbo += q.pbo / TABLES;
        selbias_table_free(&t);
    }
    printf("noise, classification: raw best %.4f, BBC-CV %.4f, PBO %.3f (truth 0.75, 0.5)\n", raw,
           bbc, pbo);
    assert_true(raw - 0.75 > 0.015); /* the inflation to remove is there */
    assert_true(fabs(bbc - 0.75) <= 0.005);
    assert_true(fabs(pbo - 0.5) <= 0.12);
}

static void noise_regression(void **state)
{
    double bbc = 0, raw = 0, pbo = 0;
    for (int k = 0; k < TABLES; k++) {
        struct selbias_table t;
        struct selbias_bbc b;
        struct selbias_pbo q;
        uint64_t s = 5000 + (uint64_t)k;
        assert_int_equal(selbias_table_init(&t, SELBIAS_REGRESSION, N, M, 0), 0);
        t.loss_kind = SELBIAS_SQUARED;
        for (size_t i = 0; i < M; i++)
            for (size_t c = 0; c < N; c++) /* prediction = truth + N(0, 1) */
                t.loss[i * N + c] = selbias_loss_of(SELBIAS_SQUARED, gauss(&s), 0);
        assert_int_equal(selbias_bbc(&t, &OPTS, &b, NULL, NULL), 0);
        assert_int_equal(selbias_pbo(&t, &OPTS, &q, NULL, NULL), 0);
        assert_true(b.estimate > b.best_value); /* a loss: the raw best is too low */
        bbc += b.estimate / TABLES;
        raw += b.best_value / TABLES;
        pbo += q.pbo / TABLES;
        selbias_table_free(&t);
    }
    printf("noise, regression: raw best MSE %.4f, BBC-CV %.4f, PBO %.3f (truth 1, 0.5)\n", raw,
           bbc, pbo);
    assert_true(1.0 - raw > 0.05);
    assert_true(fabs(bbc - 1.0) <= 0.015);
    assert_true(fabs(pbo - 0.5) <= 0.12);
}

static void one_truly_better(void **state)
{
    double p[N];
    for (size_t c = 0; c < N; c++)
        p[c] = 0.7;
    p[17] = 0.9;
    for (int k = 0; k < 5; k++) {
        struct selbias_table t;
        struct selbias_bbc b;
        struct selbias_pbo q;
        struct selbias_tt tt;
        make_cls(&t, p, 9000 + (uint64_t)k);
        assert_int_equal(selbias_bbc(&t, &OPTS, &b, NULL, NULL), 0);
        assert_int_equal(selbias_pbo(&t, &OPTS, &q, NULL, NULL), 0);
        assert_int_equal(selbias_tibshirani(&t, &tt, NULL), 0);
        printf("one better: raw %.4f, BBC-CV %.4f, PBO %.3f, T&T bias %.4f\n", b.best_value,
               b.estimate, q.pbo, tt.bias);
        assert_int_equal(b.best, 17);
        assert_int_equal(tt.chosen, 17);
        assert_true(fabs(b.best_value - b.estimate) <= 0.003);
        assert_true(q.pbo == 0.0);
        assert_true(tt.bias <= 0.005);
        selbias_table_free(&t);
    }
}

/* The statistics say why they are missing; nothing is made up. */
static void omissions(void **state)
{
    struct selbias_table t;
    struct selbias_bbc b;
    struct selbias_pbo q;
    struct selbias_tt tt;
    const char *why = NULL;
    assert_int_equal(selbias_table_init(&t, SELBIAS_CLASSIFICATION, 3, 0, 0), 0);
    assert_int_equal(selbias_bbc(&t, &OPTS, &b, NULL, &why), -1);
    assert_string_equal(why, "no out-of-fold predictions recorded");
    assert_int_equal(selbias_pbo(&t, &OPTS, &q, NULL, &why), -1);
    assert_string_equal(why, "no out-of-fold predictions recorded");
    assert_int_equal(selbias_tibshirani(&t, &tt, &why), -1);
    assert_string_equal(why, "no per-fold scores recorded");
    selbias_table_free(&t);
    /* The number of blocks shrinks to keep 10 examples in each. */
    assert_int_equal(selbias_blocks(270, 16), 16);
    assert_int_equal(selbias_blocks(159, 16), 14);
    assert_int_equal(selbias_blocks(64, 16), 6);
    assert_int_equal(selbias_blocks(20, 16), 2);
    assert_int_equal(selbias_blocks(19, 16), 0);
    assert_int_equal(selbias_blocks(1000, 15), 14);
    assert_int_equal(selbias_blocks(100000, 64), 20); /* C(20, 10) splits at most */
}

/* The generator is SplitMix64 as published (first outputs for seed 0 and
 * 1234567, from the reference implementation's known outputs). */
static void generator(void **state)
{
    uint64_t s = 0;
    assert_true(selbias_splitmix64(&s) == 0xe220a8397b1dcdafULL);
    assert_true(selbias_splitmix64(&s) == 0x6e789e6aa1b965f4ULL);
    s = 1234567;
    assert_true(selbias_splitmix64(&s) == 6457827717110365317ULL);
    assert_true(selbias_splitmix64(&s) == 3203168211198807973ULL);
    /* index = floor(top 53 bits * m / 2^53): the extremes */
    assert_int_equal(selbias_index(0, 270), 0);
    assert_int_equal(selbias_index(UINT64_MAX, 270), 269);
    assert_int_equal(selbias_index(0x8000000000000000ULL, 270), 135);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generator),
        cmocka_unit_test(omissions),
        cmocka_unit_test(noise_classification),
        cmocka_unit_test(noise_regression),
        cmocka_unit_test(one_truly_better),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
