/* stats.h - the selection statistics of a provenance record (docs/RECORD.md).
 * Pure functions over arrays of doubles; no I/O. The caller orients values so
 * that larger is better (negates a `min` objective) before calling.
 *
 * Error convention: int functions return 0, or -1 when the statistic is
 * undefined for the input (too few values, no variance, ...), with a short
 * reason in *why (a static string) when why is non-NULL. */
#ifndef TT_STATS_H
#define TT_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Sorts v[0..n-1] ascending in place (NaNs must not be passed). */
void stats_sort(double *v, size_t n);

/* The n values at which the expected-maximum curve is reported: every
 * n = 1..N when N <= 1000; else 1..100 and then log-spaced up to N (N
 * included), about 300 points in all. Writes up to max entries to ns,
 * ascending, returns the count. */
size_t stats_curve_points(size_t N, uint32_t *ns, size_t max);

/* Expected maximum of n draws with replacement (Dodge et al. 2019) from the
 * N sorted values v: p_n(i) = (i/N)^n - ((i-1)/N)^n, E_n = sum v(i) p_n(i),
 * SD_n = sqrt(sum (v(i) - E_n)^2 p_n(i)), for each ns[j] (1 <= ns[j]).
 * Terms too small to change a double are skipped, so the cost is far below
 * N per point for large n. mean[j], sd[j] out. N >= 1. */
int stats_emax_dodge(const double *sorted, size_t N, const uint32_t *ns, size_t k, double *mean,
                     double *sd, const char **why);

/* Without replacement, unbiased (Tang et al. 2020):
 * E_n = sum_{i=n}^{N} v(i) C(i-1, n-1) / C(N, n), binomials in log space.
 * Every ns[j] must be in 1..N. */
int stats_emax_tang(const double *sorted, size_t N, const uint32_t *ns, size_t k, double *mean,
                    const char **why);

double stats_median(const double *sorted, size_t N);

/* Rank of value among the sorted values, 1 = best (largest): 1 + the number
 * of values strictly greater; *ties = the number of values equal to it
 * (itself included if present). */
size_t stats_rank(const double *sorted, size_t N, double value, size_t *ties);

/* E[max of N i.i.d. standard normals] = integral x N phi(x) Phi(x)^(N-1) dx,
 * by numerical integration (absolute error < 1e-9 for N up to 10^7).
 * N = 1 gives 0. */
double stats_emax_normal(size_t N);

/* Pooled within-group standard deviation: groups given by group[i] (any ids
 * 0..ngroups-1); sqrt(sum over groups of SS_within / sum of (n_g - 1)).
 * Only groups with n_g >= 2 contribute. *repeated = the number of such
 * groups, *dof = sum (n_g - 1). -1 with why if no group has 2 values. */
int stats_pooled_sd(const double *v, const uint32_t *group, size_t N, size_t ngroups, double *sd,
                    size_t *repeated, size_t *dof, const char **why);

/* One-way omega squared of v grouped by group[i] in 0..k-1 (empty groups
 * ignored): omega2 = (SS_b - (k-1) MS_w) / (SS_t + MS_w), MS_w = SS_w/(N-k),
 * with k the number of non-empty groups. *range = max - min of the group
 * means. -1 with why if k < 2, N <= k, or SS_t + MS_w == 0. */
int stats_omega2(const double *v, const uint32_t *group, size_t N, size_t ngroups, double *omega2,
                 double *range, const char **why);

/* Spearman rank correlation (average ranks for ties = Pearson on ranks).
 * -1 with why if N < 3 or either side is constant. */
int stats_spearman(const double *x, const double *y, size_t N, double *rho, const char **why);

/* Quantile bins for a numeric key with many distinct values: at most maxbins
 * bins of about N/maxbins values each, equal values always in the same bin.
 * bin[i] out for each x[i]; edges[0..nb] out (edges[b] = smallest value of
 * bin b, edges[nb] = the largest value overall); returns nb (>= 1). */
size_t stats_quantile_bins(const double *x, size_t N, size_t maxbins, uint32_t *bin, double *edges);

#endif
