/* test_stats.c - known answers for every statistic of collector/stats.h.
 *
 * Every expected number comes from tests/unit/stats_reference.py (pure
 * python, exact Fractions straight from the formulas of issue 4); the label
 * in brackets next to a number is the line of that script's output that
 * prints it. A few are also checked by hand in the comments. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "stats.h"

/* |got - want| <= rel * max(|want|, 1e-300) + abs */
#define assert_close(got, want, rel, abs_)                                                         \
    do {                                                                                           \
        double g_ = (got), w_ = (want);                                                            \
        double tol_ = (rel)*fabs(w_) + (abs_);                                                     \
        if (!(fabs(g_ - w_) <= tol_))                                                              \
            fail_msg("%s = %.17g, want %.17g (tol %.3g)", #got, g_, w_, tol_);                     \
    } while (0)
#define EXACT 1e-12 /* relative, where the reference is an exact fraction */

/* ---- sort, median, rank ------------------------------------------------- */

static void sort_median_rank(void **st)
{
    double v[] = {3, -1, 2, 2, 8, 0.5};
    stats_sort(v, 6);
    double want[] = {-1, 0.5, 2, 2, 3, 8};
    for (int i = 0; i < 6; i++)
        assert_true(v[i] == want[i]);
    assert_true(stats_median(v, 6) == 2);     /* (2 + 2) / 2 */
    assert_true(stats_median(v, 5) == 2);     /* -1 0.5 [2] 2 3 */
    assert_true(stats_median(v, 2) == -0.25); /* (-1 + 0.5) / 2 */
    assert_true(stats_median(v, 1) == -1);
    assert_true(isnan(stats_median(v, 0)));

    size_t ties;
    assert_int_equal(stats_rank(v, 6, 8, &ties), 1); /* the best */
    assert_int_equal(ties, 1);
    assert_int_equal(stats_rank(v, 6, 2, &ties), 3); /* 3 and 8 above it */
    assert_int_equal(ties, 2);
    assert_int_equal(stats_rank(v, 6, -1, &ties), 6);
    assert_int_equal(ties, 1);
    assert_int_equal(stats_rank(v, 6, 2.5, &ties), 3); /* absent: 1 + #greater */
    assert_int_equal(ties, 0);
    assert_int_equal(stats_rank(v, 6, 100, &ties), 1);
    assert_int_equal(ties, 0);
    assert_int_equal(stats_rank(v, 1, -1, NULL), 1);
}

/* ---- curve points ------------------------------------------------------- */

static void check_points(size_t N, size_t max, size_t want_count)
{
    uint32_t *ns = calloc(max ? max : 1, sizeof *ns);
    size_t k = stats_curve_points(N, ns, max);
    if (want_count)
        assert_int_equal(k, want_count);
    assert_true(k <= max);
    assert_true(k >= 1);
    assert_int_equal(ns[0], 1);
    assert_int_equal(ns[k - 1], N);
    for (size_t j = 1; j < k; j++)
        assert_true(ns[j] > ns[j - 1]);
    if (N > 1000 && max >= 300) {
        for (size_t j = 0; j < 100; j++) /* dense head 1..100 */
            assert_int_equal(ns[j], j + 1);
        assert_true(k <= 300 && k >= 250);
    }
    free(ns);
}

static void curve_points(void **st)
{
    check_points(1, 400, 1);
    check_points(2, 400, 2);
    check_points(1000, 1000, 1000); /* every n */
    check_points(1001, 400, 0);
    check_points(100000, 400, 0);
    check_points(10000000, 400, 0);
    check_points(100000, 50, 50); /* cut short, still ends at N */
    uint32_t ns[4];
    assert_int_equal(stats_curve_points(0, ns, 4), 0);
    assert_int_equal(stats_curve_points(10, ns, 0), 0);
}

/* ---- Dodge et al. 2019 -------------------------------------------------- */

/* By hand: v = {1,2,3}, n = 2: p = (1/9, 3/9, 5/9), E = (1 + 6 + 15)/9 =
 * 22/9, Var = sum (v - 22/9)^2 p = 38/81. n = 1 is the plain mean 2 and the
 * population variance 2/3. n = 3: p = (1, 7, 19)/27, E = 72/27 = 8/3. */
static void dodge_small(void **st)
{
    double v[] = {1, 2, 3}, m[3], s[3];
    uint32_t ns[] = {1, 2, 3};
    assert_int_equal(stats_emax_dodge(v, 3, ns, 3, m, s, NULL), 0);
    assert_close(m[0], 2.0, EXACT, 0);                       /* [dodge123 n=1] */
    assert_close(s[0], 0.81649658092772603273, EXACT, 0);    /* [dodge123 n=1] sqrt(2/3) */
    assert_close(m[1], 22.0 / 9, EXACT, 0);                  /* [dodge123 n=2] */
    assert_close(s[1], 0.68493488921877516114, EXACT, 0);    /* [dodge123 n=2] sqrt(38/81) */
    assert_close(m[2], 8.0 / 3, EXACT, 0);                   /* [dodge123 n=3] */
    assert_close(s[2], 0.54433105395181735515, EXACT, 0);    /* [dodge123 n=3] sqrt(8/27) */
}

/* A min objective (losses 0.5 0.25 0.5 0.125 1 0.25), negated by the caller,
 * with ties on two values. */
static const double tie_sorted[] = {-1.0, -0.5, -0.5, -0.25, -0.25, -0.125}; /* [tie table] */

static void dodge_ties_min_objective(void **st)
{
    static const double want_m[] = {-7.0 / 16,        -83.0 / 288,         -133.0 / 576,
                                    -2087.0 / 10368, -3797.0 / 20736, -63743.0 / 373248};
    static const double want_s[] = {0.28641098093474000041, 0.18118879341180207594,
                                    0.12784899509906014968, 0.10004709603132789162,
                                    0.083000099419358813586, 0.071439242624017977068};
    uint32_t ns[] = {1, 2, 3, 4, 5, 6};
    double m[6], s[6];
    assert_int_equal(stats_emax_dodge(tie_sorted, 6, ns, 6, m, s, NULL), 0);
    for (int j = 0; j < 6; j++) {
        assert_close(m[j], want_m[j], EXACT, 0); /* [dodge_tie n=j+1] */
        assert_close(s[j], want_s[j], EXACT, 0); /* [dodge_tie n=j+1] */
    }
    /* The same points in any order give the same numbers (no hidden state
     * from the incremental powers). */
    uint32_t rev[] = {6, 1, 5, 2, 4, 3};
    double m2[6], s2[6];
    assert_int_equal(stats_emax_dodge(tie_sorted, 6, rev, 6, m2, s2, NULL), 0);
    for (int j = 0; j < 6; j++) {
        assert_close(m2[j], want_m[rev[j] - 1], EXACT, 0);
        assert_close(s2[j], want_s[rev[j] - 1], EXACT, 0);
    }
}

static void dodge_one_value(void **st)
{
    double v[] = {7.5}, m[2], s[2];
    uint32_t ns[] = {1, 50};
    assert_int_equal(stats_emax_dodge(v, 1, ns, 2, m, s, NULL), 0);
    assert_true(m[0] == 7.5 && m[1] == 7.5); /* [dodge_one n=1], [dodge_one n=50] */
    assert_true(s[0] == 0 && s[1] == 0);
}

static void dodge_errors(void **st)
{
    double v[] = {1, 2}, m[1], s[1];
    uint32_t zero[] = {0}, one[] = {1};
    const char *why = NULL;
    assert_int_equal(stats_emax_dodge(v, 2, zero, 1, m, s, &why), -1);
    assert_non_null(why);
    why = NULL;
    assert_int_equal(stats_emax_dodge(v, 0, one, 1, m, s, &why), -1);
    assert_non_null(why);
}

/* Accuracies near 0.97: the offset must not eat the precision. */
static double off_table[20];
static void fill_off(void)
{
    for (int i = 0; i < 20; i++) /* [off table]: the same doubles as the script */
        off_table[i] = 0.97 + 0.001 * ((i * 7) % 20);
    stats_sort(off_table, 20);
}

static void dodge_offset_values(void **st)
{
    fill_off();
    uint32_t ns[] = {1, 3, 10, 20, 100};
    static const double want_m[] = {0.97949999999999998179, 0.98448749999999998622,
                                    0.98764027620304198121, 0.98846545423797099417,
                                    0.98899405282170000767};
    static const double want_s[] = {0.0057662812973354030662, 0.0038676018086147424093,
                                    0.0016392777079000187073, 0.00086737041888892514501,
                                    0.000077235246486055486726};
    double m[5], s[5];
    assert_int_equal(stats_emax_dodge(off_table, 20, ns, 5, m, s, NULL), 0);
    for (int j = 0; j < 5; j++) {
        assert_close(m[j], want_m[j], EXACT, 0); /* [dodge_off n=...] */
        assert_close(s[j], want_s[j], 1e-10, 0); /* [dodge_off n=...]: sd of a 1e-4 spread */
    }
}

/* v(i) = i^2 mod 101, i = 1..300: many ties, n beyond N. */
static double big_table[300];
static void fill_big(void)
{
    for (int i = 1; i <= 300; i++)
        big_table[i - 1] = (double)((i * i) % 101);
    stats_sort(big_table, 300);
}

static void dodge_big_table(void **st)
{
    fill_big();
    uint32_t ns[] = {1, 2, 50, 300, 1000};
    static const double want_m[] = {50.483333333333333333, 67.847122222222222222,
                                    98.662241294252578866, 99.992997672855902260,
                                    99.999999994951097926};
    static const double want_s[] = {30.193316957381295455, 24.680627930661091571,
                                    1.9751882252879502443, 0.14483510281923184763,
                                    0.00012307195538596052832};
    double m[5], s[5];
    assert_int_equal(stats_emax_dodge(big_table, 300, ns, 5, m, s, NULL), 0);
    for (int j = 0; j < 5; j++) {
        assert_close(m[j], want_m[j], EXACT, 0); /* [dodge_big n=...] */
        assert_close(s[j], want_s[j], 1e-9, 0);  /* [dodge_big n=...] */
    }
}

/* ---- Tang et al. 2020 --------------------------------------------------- */

/* By hand: v = {1,2,3}, n = 2: C(3,2) = 3 pairs {1,2} {1,3} {2,3}, maxima
 * 2, 3, 3: E = 8/3. */
static void tang_small_and_ties(void **st)
{
    double v[] = {1, 2, 3}, m[3];
    uint32_t ns3[] = {1, 2, 3};
    assert_int_equal(stats_emax_tang(v, 3, ns3, 3, m, NULL), 0);
    assert_close(m[0], 2.0, EXACT, 0);     /* [tang123 n=1] */
    assert_close(m[1], 8.0 / 3, EXACT, 0); /* [tang123 n=2] */
    assert_close(m[2], 3.0, EXACT, 0);     /* [tang123 n=3] */

    static const double want[] = {-7.0 / 16, -31.0 / 120, -1.0 / 5, -1.0 / 6, -7.0 / 48, -1.0 / 8};
    uint32_t ns[] = {1, 2, 3, 4, 5, 6};
    double t[6];
    assert_int_equal(stats_emax_tang(tie_sorted, 6, ns, 6, t, NULL), 0);
    for (int j = 0; j < 6; j++)
        assert_close(t[j], want[j], EXACT, 0); /* [tang_tie n=j+1] */

    double one[] = {7.5};
    uint32_t n1[] = {1};
    assert_int_equal(stats_emax_tang(one, 1, n1, 1, t, NULL), 0);
    assert_true(t[0] == 7.5); /* [dodge_one n=1] tang= */

    fill_off();
    uint32_t no[] = {1, 3, 10, 20};
    static const double want_off[] = {0.97949999999999998179, 0.98474999999999998646,
                                      0.98809090909090908033, 0.98899999999999999023};
    assert_int_equal(stats_emax_tang(off_table, 20, no, 4, t, NULL), 0);
    for (int j = 0; j < 4; j++)
        assert_close(t[j], want_off[j], EXACT, 0); /* [tang_off n=...] */

    fill_big();
    uint32_t nb[] = {1, 2, 50, 299, 300};
    static const double want_big[] = {50.483333333333333333, 67.905195094760312152,
                                      98.819619175929223128, 100, 100};
    assert_int_equal(stats_emax_tang(big_table, 300, nb, 5, t, NULL), 0);
    for (int j = 0; j < 5; j++)
        assert_close(t[j], want_big[j], EXACT, 0); /* [tang_big n=...] */
}

static void tang_errors(void **st)
{
    double v[] = {1, 2}, m[1];
    uint32_t three[] = {3}, zero[] = {0};
    const char *why = NULL;
    assert_int_equal(stats_emax_tang(v, 2, three, 1, m, &why), -1); /* n > N */
    assert_non_null(why);
    assert_int_equal(stats_emax_tang(v, 2, zero, 1, m, NULL), -1);
}

/* ---- large N: agreement between the fast paths and a plain sum ---------- */

/* Reference by the definition, every term, long double. */
static void dodge_plain(const double *v, size_t N, uint32_t n, double *mean, double *sd)
{
    long double E = 0, V = 0, prev = 0;
    for (size_t i = 1; i <= N; i++) {
        long double F = powl((long double)i / N, n), p = F - prev;
        prev = F;
        E += v[i - 1] * p;
    }
    prev = 0;
    for (size_t i = 1; i <= N; i++) {
        long double F = powl((long double)i / N, n), p = F - prev;
        prev = F;
        V += (v[i - 1] - E) * (v[i - 1] - E) * p;
    }
    *mean = (double)E;
    *sd = (double)sqrtl(V);
}

static double tang_plain(const double *v, size_t N, uint32_t n)
{
    long double E = 0, lc = lgammal(N + 1.0L) - lgammal(n + 1.0L) - lgammal(N - n + 1.0L);
    for (size_t i = n; i <= N; i++)
        E += v[i - 1] *
             expl(lgammal((long double)i) - lgammal((long double)n) - lgammal((long double)i - n + 1) - lc);
    return (double)E;
}

static void large_n_and_speed(void **st)
{
    enum { N = 100000 };
    double *v = malloc(N * sizeof *v);
    uint32_t ns[400];
    /* a skewed, tie-free objective: 0.8 + 0.15 * u^3 with a fixed LCG */
    uint64_t x = 42;
    for (size_t i = 0; i < N; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        double u = (double)(x >> 11) / 9007199254740992.0;
        v[i] = 0.8 + 0.15 * u * u * u;
    }
    stats_sort(v, N);
    size_t k = stats_curve_points(N, ns, 400);
    double *m = malloc(k * sizeof *m), *s = malloc(k * sizeof *s), *t = malloc(k * sizeof *t);

    struct timespec a, b, c;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(stats_emax_dodge(v, N, ns, k, m, s, NULL), 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_int_equal(stats_emax_tang(v, N, ns, k, t, NULL), 0);
    clock_gettime(CLOCK_MONOTONIC, &c);
    double td = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
    double tt = (c.tv_sec - b.tv_sec) * 1e3 + (c.tv_nsec - b.tv_nsec) / 1e6;
    /* Printed, not asserted: a loaded CI machine must not fail the suite. */
    printf("# curve N=%d, %zu points: dodge %.1f ms, tang %.1f ms\n", N, k, td, tt);

    for (size_t j = 1; j < k; j++) { /* more draws never lower the maximum */
        assert_true(m[j] >= m[j - 1]);
        assert_true(t[j] >= t[j - 1] - 1e-15);
        assert_true(t[j] >= m[j] - 1e-12); /* without replacement is at least with */
    }
    assert_true(t[k - 1] == v[N - 1]); /* n = N without replacement: the max */
    for (size_t j = 0; j < k; j += 37) {
        double pm, ps;
        dodge_plain(v, N, ns[j], &pm, &ps);
        assert_close(m[j], pm, 1e-12, 0);
        assert_close(s[j], ps, 1e-7, 1e-14);
        assert_close(t[j], tang_plain(v, N, ns[j]), 1e-11, 0);
    }
    free(v);
    free(m);
    free(s);
    free(t);
}

/* ---- E[max of N standard normals] --------------------------------------- */

static void emax_normal(void **st)
{
    assert_true(stats_emax_normal(1) == 0);
    assert_close(stats_emax_normal(2), 0.56418958354775628, 0, 1e-12); /* [emax closed N=2] 1/sqrt(pi) */
    assert_close(stats_emax_normal(3), 0.84628437532163447, 0, 1e-12); /* [emax closed N=3] */
    assert_close(stats_emax_normal(4), 1.0293753730039643, 0, 1e-12);  /* [emax closed N=4] */
    assert_close(stats_emax_normal(5), 1.1629644736405196, 0, 1e-12);  /* [emax closed N=5] */
    assert_close(stats_emax_normal(10), 1.53875273083517, 0, 1e-9);      /* [emax simpson N=10] */
    assert_close(stats_emax_normal(100), 2.50759363644168, 0, 1e-9);     /* [emax simpson N=100] */
    assert_close(stats_emax_normal(1000), 3.24143576913344, 0, 1e-9);    /* [emax simpson N=1000] */
    assert_close(stats_emax_normal(100000), 4.38431940310759, 0, 1e-9);  /* [emax simpson N=100000] */
    assert_close(stats_emax_normal(10000000), 5.30095401017333, 0, 1e-9); /* [emax simpson N=10000000] */
    double prev = 0; /* increasing in N */
    for (size_t n = 2; n < 20000000; n = n * 3 / 2 + 1) {
        double e = stats_emax_normal(n);
        assert_true(e > prev);
        prev = e;
    }
}

/* ---- grouped statistics ------------------------------------------------- */

static void pooled_sd(void **st)
{
    /* groups {1,3} {10} {4,4,7} {5,6,7,10}: SS = 2 + 0 + 6 + 14 = 22, dof =
     * 1 + 2 + 3 = 6, var = 11/3 [pooled] */
    double v[] = {1, 3, 10, 4, 4, 7, 5, 6, 7, 10};
    uint32_t g[] = {0, 0, 1, 2, 2, 2, 3, 3, 3, 3};
    double sd = 0;
    size_t rep = 0, dof = 0;
    assert_int_equal(stats_pooled_sd(v, g, 10, 4, &sd, &rep, &dof, NULL), 0);
    assert_close(sd, 1.9148542155126762200, EXACT, 0); /* [pooled] */
    assert_int_equal(rep, 3);
    assert_int_equal(dof, 6);

    /* nothing repeated */
    uint32_t single[] = {0, 1, 2};
    const char *why = NULL;
    assert_int_equal(stats_pooled_sd(v, single, 3, 3, &sd, &rep, &dof, &why), -1);
    assert_string_equal(why, "no configuration was repeated");
    assert_int_equal(rep, 0);

    /* repeated, identical values: a defined 0 */
    double same[] = {0.1, 0.1, 0.1, 0.7};
    uint32_t g2[] = {0, 0, 0, 1};
    assert_int_equal(stats_pooled_sd(same, g2, 4, 2, &sd, &rep, &dof, NULL), 0);
    assert_true(sd == 0);

    uint32_t bad[] = {0, 5};
    assert_int_equal(stats_pooled_sd(v, bad, 2, 2, &sd, &rep, &dof, NULL), -1);
}

static void omega2(void **st)
{
    /* {1,2,3} {4,5,6,7} {2,9}: means 2, 5.5, 5.5 (range 3.5); grand mean
     * 13/3; omega2 = 8/35 [omega2 3 groups] */
    double v[] = {1, 2, 3, 4, 5, 6, 7, 2, 9};
    uint32_t g[] = {0, 0, 0, 1, 1, 1, 1, 2, 2};
    double w2 = 0, range = 0;
    assert_int_equal(stats_omega2(v, g, 9, 3, &w2, &range, NULL), 0);
    assert_close(w2, 8.0 / 35, EXACT, 0); /* [omega2 3 groups] */
    assert_close(range, 3.5, EXACT, 0);

    /* empty group ids are ignored: the same data as groups 0, 4, 2 of 6 */
    uint32_t g6[] = {0, 0, 0, 4, 4, 4, 4, 2, 2};
    assert_int_equal(stats_omega2(v, g6, 9, 6, &w2, &range, NULL), 0);
    assert_close(w2, 8.0 / 35, EXACT, 0);

    /* equal group means: negative, reported as is [omega2 equal means] */
    double e[] = {1, 3, 2, 2, 0, 4};
    uint32_t ge[] = {0, 0, 1, 1, 2, 2};
    assert_int_equal(stats_omega2(e, ge, 6, 3, &w2, &range, NULL), 0);
    assert_close(w2, -0.5, EXACT, 0);
    assert_true(range == 0);

    const char *why = NULL;
    double flat[] = {0.1, 0.1, 0.1, 0.1}; /* 0.1 sums inexactly: still "no variance" */
    uint32_t gf[] = {0, 0, 1, 1};
    assert_int_equal(stats_omega2(flat, gf, 4, 2, &w2, &range, &why), -1);
    assert_non_null(why);
    why = NULL;
    uint32_t g1[] = {0, 0, 0, 0}; /* one group */
    assert_int_equal(stats_omega2(v, g1, 4, 1, &w2, &range, &why), -1);
    assert_non_null(why);
    why = NULL;
    uint32_t gn[] = {0, 1, 2}; /* N <= k */
    assert_int_equal(stats_omega2(v, gn, 3, 3, &w2, &range, &why), -1);
    assert_non_null(why);
}

static void spearman(void **st)
{
    double x[] = {1, 2, 2, 3, 4, 4, 4, 5};
    double y[] = {2, 1, 3, 3, 5, 4, 6, 6};
    double rho = 0;
    assert_int_equal(stats_spearman(x, y, 8, &rho, NULL), 0);
    assert_close(rho, 0.90077751054014766357, EXACT, 0); /* [spearman ties] */
    double a[] = {1, 2, 3, 4, 5}, b[] = {50, 40, 30, 20, 10};
    assert_int_equal(stats_spearman(a, b, 5, &rho, NULL), 0);
    assert_close(rho, -1, EXACT, 0); /* [spearman reversed] */
    /* monotone but not linear: rank correlation 1 */
    double c[] = {1, 10, 100, 1000, 10000};
    assert_int_equal(stats_spearman(a, c, 5, &rho, NULL), 0);
    assert_close(rho, 1, EXACT, 0);

    const char *why = NULL;
    double k[] = {3, 3, 3, 3, 3};
    assert_int_equal(stats_spearman(k, a, 5, &rho, &why), -1);
    assert_non_null(why);
    why = NULL;
    assert_int_equal(stats_spearman(a, k, 5, &rho, &why), -1);
    assert_non_null(why);
    why = NULL;
    assert_int_equal(stats_spearman(a, b, 2, &rho, &why), -1);
    assert_non_null(why);
}

/* Invariants of any binning: nb <= maxbins, ties share a bin, bins ordered
 * by value, edges[b] = smallest value of bin b, edges[nb] = max. */
static size_t check_bins(const double *x, size_t N, size_t maxbins, uint32_t *bin, double *edges)
{
    size_t nb = stats_quantile_bins(x, N, maxbins, bin, edges);
    assert_true(nb >= 1 && nb <= (maxbins ? maxbins : 1));
    for (size_t i = 0; i < N; i++) {
        assert_true(bin[i] < nb);
        assert_true(x[i] >= edges[bin[i]]);
        assert_true(x[i] <= edges[nb]);
        if (bin[i] + 1 < nb)
            assert_true(x[i] < edges[bin[i] + 1]);
        for (size_t j = 0; j < N; j++)
            if (x[j] == x[i])
                assert_int_equal(bin[j], bin[i]);
    }
    for (size_t b = 0; b < nb; b++) {
        int found = 0;
        for (size_t i = 0; i < N; i++)
            found |= bin[i] == b && x[i] == edges[b];
        assert_true(found);
    }
    return nb;
}

static void quantile_bins(void **st)
{
    uint32_t bin[400];
    double edges[401];

    /* 12 values into 4 bins [qbins small] */
    double s[] = {5, 1, 3, 3, 3, 2, 8, 7, 7, 4, 6, 9};
    assert_int_equal(check_bins(s, 12, 4, bin, edges), 4);
    uint32_t want[] = {1, 0, 0, 0, 0, 0, 3, 2, 2, 1, 1, 3};
    for (int i = 0; i < 12; i++)
        assert_int_equal(bin[i], want[i]);
    double we[] = {1, 4, 7, 8, 9};
    for (int b = 0; b <= 4; b++)
        assert_true(edges[b] == we[b]);

    /* a run of 50 ties, then 50 distinct values: the rest shared out evenly,
     * not one bin per value [qbins] */
    double q[100];
    for (int i = 0; i < 100; i++)
        q[i] = i < 50 ? 1 : i - 48;
    assert_int_equal(check_bins(q, 100, 10, bin, edges), 10);
    double wq[] = {1, 2, 8, 14, 20, 26, 32, 37, 42, 47, 51};
    for (int b = 0; b <= 10; b++)
        assert_true(edges[b] == wq[b]);

    /* 300 distinct values, 8 bins: 37 or 38 each */
    double d[300];
    for (int i = 0; i < 300; i++)
        d[i] = (double)((i * 37) % 300) / 7;
    assert_int_equal(check_bins(d, 300, 8, bin, edges), 8);
    size_t cnt[8] = {0};
    for (int i = 0; i < 300; i++)
        cnt[bin[i]]++;
    for (int b = 0; b < 8; b++)
        assert_true(cnt[b] >= 37 && cnt[b] <= 38);

    /* all equal: one bin; one value; maxbins larger than N */
    double e[] = {2, 2, 2, 2};
    assert_int_equal(check_bins(e, 4, 8, bin, edges), 1);
    assert_true(edges[0] == 2 && edges[1] == 2);
    assert_int_equal(check_bins(e, 1, 8, bin, edges), 1);
    double f[] = {3, 1, 2};
    assert_int_equal(check_bins(f, 3, 8, bin, edges), 3);
    assert_int_equal(check_bins(f, 3, 1, bin, edges), 1);
    /* heavy ties everywhere: never more than maxbins */
    double t[200];
    for (int i = 0; i < 200; i++)
        t[i] = (double)((i * 13) % 23);
    for (size_t mb = 1; mb <= 30; mb++)
        check_bins(t, 200, mb, bin, edges);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sort_median_rank),
        cmocka_unit_test(curve_points),
        cmocka_unit_test(dodge_small),
        cmocka_unit_test(dodge_ties_min_objective),
        cmocka_unit_test(dodge_one_value),
        cmocka_unit_test(dodge_errors),
        cmocka_unit_test(dodge_offset_values),
        cmocka_unit_test(dodge_big_table),
        cmocka_unit_test(tang_small_and_ties),
        cmocka_unit_test(tang_errors),
        cmocka_unit_test(large_n_and_speed),
        cmocka_unit_test(emax_normal),
        cmocka_unit_test(pooled_sd),
        cmocka_unit_test(omega2),
        cmocka_unit_test(spearman),
        cmocka_unit_test(quantile_bins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
