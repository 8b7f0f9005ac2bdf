/* stats.c - the selection statistics of a provenance record (see stats.h).
 *
 * The budget is attest on 100,000 trials in well under a second, so the two
 * expected-maximum curves never spend N operations per curve point once n is
 * large: for draw count n only the values whose weight can still change a
 * double are visited. The cut-off is a weight of e^-CUT_LOG (about 5e-32):
 * far below one ulp of any mean, and small enough that even a standard
 * deviation near zero loses less than 1e-15 of the value range. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>

/* Log of the smallest weight (Dodge: (i/N)^n, Tang: the tail of the
 * hypergeometric weights) that is still summed. */
#define CUT_LOG 72.0
#define CUT_W 5.4e-32 /* ~ exp(-CUT_LOG) */

/* Dodge: how many multiplications F *= i/N may be chained before the powers
 * are recomputed with exp (each adds at most one rounding: <= 64 ulp). */
#define MAX_CHAINED_MULS 64
/* ... and the largest step in n taken by multiplication. */
#define MAX_MUL_STEP 4

static const char *set_why(const char **why, const char *text)
{
    if (why)
        *why = text;
    return text;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void stats_sort(double *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_double);
}

size_t stats_curve_points(size_t N, uint32_t *ns, size_t max)
{
    /* The log-spaced part has LOG_POINTS steps from 100 to N; rounding
     * collapses duplicates, so the total stays at or under 300. */
    enum { DENSE = 1000, HEAD = 100, LOG_POINTS = 200 };
    size_t k = 0;
    if (N == 0 || max == 0)
        return 0;
    if (N > UINT32_MAX)
        N = UINT32_MAX; /* ns are uint32_t; no study comes near this */
    size_t head = N <= DENSE ? N : HEAD;
    for (size_t n = 1; n <= head && k < max; n++)
        ns[k++] = (uint32_t)n;
    if (N > DENSE) {
        double lr = log((double)N / HEAD);
        for (int j = 1; j <= LOG_POINTS && k < max; j++) {
            double x = j == LOG_POINTS ? (double)N : floor(HEAD * exp(lr * j / LOG_POINTS) + 0.5);
            uint32_t n = x >= (double)N ? (uint32_t)N : (uint32_t)x;
            if (n > ns[k - 1])
                ns[k++] = n;
        }
    }
    /* Cut short by max: the curve must still end at N. */
    if (ns[k - 1] != N)
        ns[k - 1] = (uint32_t)N;
    return k;
}

/* log(i/N) for i in 1..N-1, accurate in both regimes: log1p keeps the
 * precision of tiny values near i = N, plain log that of small ratios. */
static double log_frac(size_t i, size_t N)
{
    if (2 * i < N)
        return log((double)i / (double)N);
    return log1p(-(double)(N - i) / (double)N);
}

/* First index whose Dodge weight F_i = (i/N)^n can matter (>= 1). */
static size_t dodge_lo(size_t N, uint32_t n)
{
    double x = floor((double)N * exp(-CUT_LOG / n));
    size_t lo = x < 2 ? 1 : (size_t)x - 1; /* one below: rounding of exp */
    return lo < 1 ? 1 : lo;
}

/* The two sums of one Dodge curve point over i = lo..N-1 (see the caller):
 * *a = sum F_i (v(i+1) - v(i)), *b = sum (v(i) - c)^2 (F_i - F_{i-1}).
 * With mul, F_i *= i/N first, in the same pass (the dense head of the curve
 * is one such step per point, so this halves its memory traffic). F[lo-1]
 * must be 0. Two partial sums each break the add latency chains. */
static inline __attribute__((always_inline)) void
dodge_moments(double *F, const double *X, const double *vv, size_t lo, size_t N, double c, int mul,
              double *a, double *b)
{
    double a0 = 0, a1 = 0, b0 = 0, b1 = 0, prev = F[lo - 1];
    size_t i = lo;
    for (; i + 1 < N; i += 2) {
        double f0 = F[i], f1 = F[i + 1];
        if (mul) {
            f0 *= X[i];
            f1 *= X[i + 1];
            F[i] = f0;
            F[i + 1] = f1;
        }
        double d0 = vv[i] - c, d1 = vv[i + 1] - c;
        a0 += f0 * (vv[i + 1] - vv[i]);
        a1 += f1 * (vv[i + 2] - vv[i + 1]);
        b0 += d0 * d0 * (f0 - prev);
        b1 += d1 * d1 * (f1 - f0);
        prev = f1;
    }
    for (; i < N; i++) {
        double f0 = F[i];
        if (mul) {
            f0 *= X[i];
            F[i] = f0;
        }
        double d0 = vv[i] - c;
        a0 += f0 * (vv[i + 1] - vv[i]);
        b0 += d0 * d0 * (f0 - prev);
        prev = f0;
    }
    *a = a0 + a1;
    *b = b0 + b1;
}

int stats_emax_dodge(const double *v, size_t N, const uint32_t *ns, size_t k, double *mean,
                     double *sd, const char **why)
{
    double *F = NULL, *L = NULL, *X = NULL;
    if (N == 0) {
        set_why(why, "no values");
        return -1;
    }
    for (size_t j = 0; j < k; j++)
        if (ns[j] < 1) {
            set_why(why, "n must be at least 1");
            return -1;
        }
    if (N == 1) {
        for (size_t j = 0; j < k; j++) {
            mean[j] = v[0];
            sd[j] = 0;
        }
        return 0;
    }
    /* 1-based arrays: F[i] = (i/N)^n for the current n, F[N] = 1. */
    F = malloc((N + 1) * sizeof *F);
    L = malloc((N + 1) * sizeof *L);
    X = malloc((N + 1) * sizeof *X);
    if (!F || !L || !X) {
        set_why(why, "out of memory");
        goto err;
    }
    for (size_t i = 1; i < N; i++) {
        L[i] = log_frac(i, N);
        X[i] = (double)i / (double)N;
    }
    F[N] = 1.0;
    const double *vv = v - 1; /* vv[i] = v(i), 1-based as in the formulas */

    uint32_t cur = 0; /* n that F[valid_lo..N-1] holds; 0 = none */
    size_t valid_lo = N;
    int chained = 0;
    for (size_t j = 0; j < k; j++) {
        uint32_t n = ns[j];
        size_t lo = dodge_lo(N, n);
        int fuse = 0;
        if (cur && n > cur && n - cur <= MAX_MUL_STEP && lo >= valid_lo &&
            chained + (int)(n - cur) <= MAX_CHAINED_MULS) {
            /* Consecutive n (the dense head of the curve): multiply, no exp. */
            for (uint32_t s = cur + 1; s < n; s++)
                for (size_t i = lo; i < N; i++)
                    F[i] *= X[i];
            fuse = 1; /* the last factor is applied inside the moments pass */
            chained += (int)(n - cur);
        } else if (n != cur || lo < valid_lo) {
            for (size_t i = lo; i < N; i++)
                F[i] = exp((double)n * L[i]);
            chained = 0;
        }
        cur = n;
        valid_lo = lo;

        /* One pass for both moments. E_n by summation by parts: v(N) - sum
         * F_i (v(i+1) - v(i)); every term is >= 0 and scaled by a gap, not
         * by the values, so an offset in the objective (accuracy 0.97 +-
         * 0.001) costs no precision. The variance as sum (v(i) - c)^2 p_n(i)
         * - (E_n - c)^2 around c = the median of p_n, which is within one SD
         * of the mean (|mean - median| <= sd for any distribution): the
         * subtraction loses at most a bit. The mass below lo (at most
         * e^-CUT_LOG) goes to v(lo). */
        size_t mi = (size_t)ceil((double)N * exp(-M_LN2 / n));
        double c = vv[mi < lo ? lo : mi > N ? N : mi];
        F[lo - 1] = 0;
        double a = 0, b = 0;
        if (fuse)
            dodge_moments(F, X, vv, lo, N, c, 1, &a, &b);
        else
            dodge_moments(F, X, vv, lo, N, c, 0, &a, &b);
        double dN = vv[N] - c;
        b += dN * dN * (1.0 - F[N - 1]);
        double E = vv[N] - a;
        double var = b - (E - c) * (E - c);
        mean[j] = E;
        sd[j] = var > 0 ? sqrt(var) : 0;
    }
    free(F);
    free(L);
    free(X);
    return 0;
err:
    free(F);
    free(L);
    free(X);
    return -1;
}

int stats_emax_tang(const double *v, size_t N, const uint32_t *ns, size_t k, double *mean,
                    const char **why)
{
    if (N == 0) {
        set_why(why, "no values");
        return -1;
    }
    for (size_t j = 0; j < k; j++)
        if (ns[j] < 1 || ns[j] > N) {
            set_why(why, "n must be in 1..N (draws without replacement)");
            return -1;
        }
    const double *vv = v - 1;
    double top = vv[N];
    for (size_t j = 0; j < k; j++) {
        size_t n = ns[j];
        /* w_i = C(i-1, n-1) / C(N, n), from w_N = n/N downwards by the ratio
         * w_{i-1}/w_i = (i-n)/(i-1): no factorials, no exp, and the weights
         * shrink monotonically, so the walk stops once the whole remaining
         * tail (at most w_i (i-1)/(n-1), a geometric bound) is negligible.
         * Summing (v(N) - v(i)) w_i keeps an offset in the values out of the
         * rounding, as in the Dodge sum. */
        double w = (double)n / (double)N, acc = 0;
        for (size_t i = N;; i--) {
            acc += (top - vv[i]) * w;
            if (i == n)
                break;
            w *= (double)(i - n) / (double)(i - 1); /* now w_{i-1} */
            if (n > 1 && w * (double)(i - 2) < CUT_W * (double)(n - 1))
                break;
        }
        mean[j] = top - acc;
    }
    return 0;
}

double stats_median(const double *v, size_t N)
{
    if (N == 0)
        return NAN;
    if (N % 2)
        return v[N / 2];
    return v[N / 2 - 1] + (v[N / 2] - v[N / 2 - 1]) / 2;
}

/* First index with v[i] > x (upper) or v[i] >= x (!upper). */
static size_t bound(const double *v, size_t N, double x, int upper)
{
    size_t lo = 0, hi = N;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (upper ? v[mid] <= x : v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t stats_rank(const double *v, size_t N, double value, size_t *ties)
{
    size_t lo = bound(v, N, value, 0), hi = bound(v, N, value, 1);
    if (ties)
        *ties = hi - lo;
    return 1 + (N - hi);
}

/* ---- E[max of N standard normals] ------------------------------------- */

/* log Phi(x) without underflow or cancellation on either side. */
static double log_Phi(double x)
{
    if (x < 0)
        return log(0.5 * erfc(-x / M_SQRT2));
    return log1p(-0.5 * erfc(x / M_SQRT2));
}

/* x N phi(x) Phi(x)^(N-1), assembled in log space: Phi^(N-1) alone
 * underflows long before the product does for N in the millions. */
static double emax_integrand(double x, double logN, double Nm1)
{
    static const double log_sqrt_2pi = 0.91893853320467274178;
    return x * exp(logN - 0.5 * x * x - log_sqrt_2pi + Nm1 * log_Phi(x));
}

/* Nodes and weights of GL_POINTS-point Gauss-Legendre on [-1, 1], by Newton
 * on the Legendre recurrence (computed, not typed in: no digit to get wrong). */
#define GL_POINTS 16
static void gauss_legendre(double *x, double *w)
{
    for (int i = 0; i < (GL_POINTS + 1) / 2; i++) {
        double z = cos(M_PI * (i + 0.75) / (GL_POINTS + 0.5)), pp = 0;
        for (int it = 0; it < 100; it++) {
            double p1 = 1, p2 = 0;
            for (int j = 1; j <= GL_POINTS; j++) {
                double p3 = p2;
                p2 = p1;
                p1 = ((2.0 * j - 1) * z * p2 - (j - 1.0) * p3) / j;
            }
            pp = GL_POINTS * (z * p1 - p2) / (z * z - 1);
            double dz = p1 / pp;
            z -= dz;
            if (fabs(dz) < 1e-16)
                break;
        }
        x[i] = -z;
        x[GL_POINTS - 1 - i] = z;
        w[i] = w[GL_POINTS - 1 - i] = 2 / ((1 - z * z) * pp * pp);
    }
}

double stats_emax_normal(size_t N)
{
    if (N <= 1)
        return 0;
    /* The density of the maximum sits near sqrt(2 ln N) with a width of
     * about 1/sqrt(2 ln N) >= 0.17 for N <= 10^7; panels of 1/8 with 16
     * points each resolve it far beyond 1e-12. Outside [-9, 9 + sqrt(2 ln
     * N)] the integrand is below 1e-17 in total. */
    double gx[GL_POINTS], gw[GL_POINTS];
    gauss_legendre(gx, gw);
    double logN = log((double)N), Nm1 = (double)(N - 1);
    double a = -9.0, b = 9.0 + sqrt(2 * logN), h = 0.125;
    int panels = (int)ceil((b - a) / h);
    double sum = 0, comp = 0; /* Kahan: ~2000 terms of mixed sign */
    for (int p = 0; p < panels; p++) {
        double mid = a + (p + 0.5) * h, part = 0;
        for (int q = 0; q < GL_POINTS; q++)
            part += gw[q] * emax_integrand(mid + 0.5 * h * gx[q], logN, Nm1);
        double y = part * 0.5 * h - comp, t = sum + y;
        comp = (t - sum) - y;
        sum = t;
    }
    return sum;
}

/* ---- grouped statistics ----------------------------------------------- */

/* Per-group count, mean and within-group sum of squares, two-pass around
 * a shift (the first value), so constant groups give exactly 0. */
struct group_acc {
    size_t n;
    double sum, mean, ss;
};

static struct group_acc *group_scan(const double *v, const uint32_t *group, size_t N,
                                    size_t ngroups, const char **why)
{
    struct group_acc *g = calloc(ngroups ? ngroups : 1, sizeof *g);
    if (!g) {
        set_why(why, "out of memory");
        return NULL;
    }
    double shift = N ? v[0] : 0;
    for (size_t i = 0; i < N; i++) {
        if (group[i] >= ngroups) {
            set_why(why, "group id out of range");
            free(g);
            return NULL;
        }
        g[group[i]].n++;
        g[group[i]].sum += v[i] - shift;
    }
    for (size_t b = 0; b < ngroups; b++)
        g[b].mean = g[b].n ? shift + g[b].sum / (double)g[b].n : 0;
    for (size_t i = 0; i < N; i++) {
        double d = v[i] - g[group[i]].mean;
        g[group[i]].ss += d * d;
    }
    return g;
}

int stats_pooled_sd(const double *v, const uint32_t *group, size_t N, size_t ngroups, double *sd,
                    size_t *repeated, size_t *dof, const char **why)
{
    struct group_acc *g = group_scan(v, group, N, ngroups, why);
    if (!g)
        return -1;
    size_t rep = 0, df = 0;
    double ss = 0;
    for (size_t b = 0; b < ngroups; b++)
        if (g[b].n >= 2) {
            rep++;
            df += g[b].n - 1;
            ss += g[b].ss;
        }
    free(g);
    if (repeated)
        *repeated = rep;
    if (dof)
        *dof = df;
    if (rep == 0) {
        set_why(why, "no configuration was repeated");
        return -1;
    }
    *sd = sqrt(ss / (double)df);
    return 0;
}

int stats_omega2(const double *v, const uint32_t *group, size_t N, size_t ngroups, double *omega2,
                 double *range, const char **why)
{
    struct group_acc *g = group_scan(v, group, N, ngroups, why);
    if (!g)
        return -1;
    size_t k = 0;
    double shift = N ? v[0] : 0, tot = 0, lo = INFINITY, hi = -INFINITY;
    for (size_t b = 0; b < ngroups; b++)
        if (g[b].n) {
            k++;
            tot += g[b].sum;
            lo = fmin(lo, g[b].mean);
            hi = fmax(hi, g[b].mean);
        }
    if (k < 2) {
        set_why(why, "fewer than 2 groups");
        goto err;
    }
    if (N <= k) {
        set_why(why, "no replicate within any group (N <= number of groups)");
        goto err;
    }
    double gm = shift + tot / (double)N, sst = 0, ssw = 0, ssb = 0;
    for (size_t i = 0; i < N; i++)
        sst += (v[i] - gm) * (v[i] - gm);
    for (size_t b = 0; b < ngroups; b++)
        if (g[b].n) {
            ssw += g[b].ss;
            ssb += (double)g[b].n * (g[b].mean - gm) * (g[b].mean - gm);
        }
    double msw = ssw / (double)(N - k);
    if (sst + msw == 0) {
        set_why(why, "the objective does not vary");
        goto err;
    }
    *omega2 = (ssb - (double)(k - 1) * msw) / (sst + msw);
    if (range)
        *range = hi - lo;
    free(g);
    return 0;
err:
    free(g);
    return -1;
}

/* ---- ranks ------------------------------------------------------------- */

struct vi {
    double v;
    size_t i;
};

static int cmp_vi(const void *a, const void *b)
{
    const struct vi *x = a, *y = b;
    if (x->v != y->v)
        return (x->v > y->v) - (x->v < y->v);
    return (x->i > y->i) - (x->i < y->i); /* a total order: same result on every libc */
}

static struct vi *sorted_pairs(const double *x, size_t N)
{
    struct vi *p = malloc((N ? N : 1) * sizeof *p);
    if (!p)
        return NULL;
    for (size_t i = 0; i < N; i++) {
        p[i].v = x[i];
        p[i].i = i;
    }
    qsort(p, N, sizeof *p, cmp_vi);
    return p;
}

/* Average ranks (1-based) of x into r; 0 if x is constant, -1 on no memory. */
static int avg_ranks(const double *x, size_t N, double *r, int *constant)
{
    struct vi *p = sorted_pairs(x, N);
    if (!p)
        return -1;
    *constant = p[0].v == p[N - 1].v;
    for (size_t s = 0; s < N;) {
        size_t e = s;
        while (e + 1 < N && p[e + 1].v == p[s].v)
            e++;
        double rank = (double)(s + e) / 2 + 1;
        for (size_t t = s; t <= e; t++)
            r[p[t].i] = rank;
        s = e + 1;
    }
    free(p);
    return 0;
}

int stats_spearman(const double *x, const double *y, size_t N, double *rho, const char **why)
{
    double *rx = NULL, *ry = NULL;
    int cx = 0, cy = 0;
    if (N < 3) {
        set_why(why, "fewer than 3 values");
        return -1;
    }
    rx = malloc(N * sizeof *rx);
    ry = malloc(N * sizeof *ry);
    if (!rx || !ry || avg_ranks(x, N, rx, &cx) || avg_ranks(y, N, ry, &cy)) {
        set_why(why, "out of memory");
        goto err;
    }
    if (cx || cy) {
        set_why(why, cx ? "the key does not vary" : "the objective does not vary");
        goto err;
    }
    double m = (double)(N + 1) / 2, sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < N; i++) {
        double a = rx[i] - m, b = ry[i] - m;
        sxy += a * b;
        sxx += a * a;
        syy += b * b;
    }
    *rho = sxy / sqrt(sxx * syy);
    free(rx);
    free(ry);
    return 0;
err:
    free(rx);
    free(ry);
    return -1;
}

size_t stats_quantile_bins(const double *x, size_t N, size_t maxbins, uint32_t *bin, double *edges)
{
    if (N == 0)
        return 0;
    if (maxbins == 0)
        maxbins = 1;
    struct vi *p = sorted_pairs(x, N);
    if (!p)
        return 0;
    /* Close the current bin at the start of a run of equal values once it
     * holds its share of what is left: (N - start) / (bins left). Sharing
     * what is left, rather than cutting at fixed quantiles, keeps one big run
     * of ties from turning every later distinct value into a bin of its own. */
    size_t b = 0, start = 0;
    edges[0] = p[0].v;
    for (size_t s = 0; s < N;) {
        if (s > 0 && b + 1 < maxbins && (s - start) * (maxbins - b) >= N - start) {
            b++;
            start = s;
            edges[b] = p[s].v;
        }
        size_t e = s;
        while (e < N && p[e].v == p[s].v)
            bin[p[e++].i] = (uint32_t)b;
        s = e;
    }
    edges[b + 1] = p[N - 1].v;
    free(p);
    return b + 1;
}
