/* selbias.c - selection-bias statistics (see selbias.h, docs/RECORD.md).
 *
 * The budget is BBC-CV on 1,000 configurations x 10,000 examples with
 * B = 1000 in about 2 s on 2 cores: 10^10 (configuration, example) pairs.
 * A replicate's in-bag score of a configuration is sum_i count_i * correct_i;
 * writing the counts in binary (bit planes: count_i = sum_k 2^k plane_k[i],
 * and a count rarely exceeds 7) turns it into a few popcounts of 64 examples
 * at a time. Regression has no such trick: the count-weighted losses are
 * added in register tiles (4 replicates x 8 configurations) over blocks of
 * examples that fit the L2 cache, every sum in example order, so that a
 * reference reproduces it bit for bit (hence also -ffp-contract=off). */
#include "selbias.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SM64_GAMMA 0x9E3779B97F4A7C15ULL

static const char *set_why(const char **why, const char *text)
{
    if (why)
        *why = text;
    return text;
}

int selbias_table_init(struct selbias_table *t, enum selbias_kind kind, size_t n, size_t m,
                       size_t k)
{
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->n = n;
    t->m = m;
    t->k = k;
    t->fold_max = 1;
    t->words = (m + 63) / 64;
    if (m && kind == SELBIAS_CLASSIFICATION && n &&
        !(t->correct = calloc(n * t->words, sizeof *t->correct)))
        return -1;
    if (m && kind == SELBIAS_REGRESSION && n && !(t->loss = calloc(n * m, sizeof *t->loss)))
        return -1;
    if (k && n && !(t->fold = calloc(k * n, sizeof *t->fold)))
        return -1;
    return 0;
}

void selbias_table_free(struct selbias_table *t)
{
    free(t->correct);
    free(t->loss);
    free(t->fold);
    memset(t, 0, sizeof *t);
}

double selbias_loss_of(enum selbias_loss kind, double p, double y)
{
    double d = p - y;
    return kind == SELBIAS_SQUARED ? d * d : fabs(d);
}

uint64_t selbias_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += SM64_GAMMA);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Is a better than b in the table's direction (accuracy up, loss down)? */
static inline int better(const struct selbias_table *t, double a, double b)
{
    return t->kind == SELBIAS_CLASSIFICATION ? a > b : a < b;
}

int selbias_full(const struct selbias_table *t, double *perf, size_t *best, const char **why)
{
    if (t->m == 0 || t->n == 0) {
        set_why(why, "no out-of-fold predictions recorded");
        return -1;
    }
    if (t->kind == SELBIAS_CLASSIFICATION) {
        for (size_t c = 0; c < t->n; c++) {
            uint64_t s = 0;
            for (size_t w = 0; w < t->words; w++)
                s += (uint64_t)__builtin_popcountll(t->correct[c * t->words + w]);
            perf[c] = (double)s / (double)t->m;
        }
    } else {
        /* Example order, as BBC-CV's sums; a row at a time (cache order). */
        for (size_t c = 0; c < t->n; c++)
            perf[c] = 0;
        for (size_t i = 0; i < t->m; i++)
            for (size_t c = 0; c < t->n; c++)
                perf[c] += t->loss[i * t->n + c];
        for (size_t c = 0; c < t->n; c++)
            perf[c] /= (double)t->m;
    }
    *best = 0;
    for (size_t c = 1; c < t->n; c++)
        if (better(t, perf[c], perf[*best]))
            *best = c;
    return 0;
}

/* ---- BBC-CV ------------------------------------------------------------ */

/* Every loss finite? (An infinite one would make 0 * inf a NaN in the
 * tiles, and no best would be defined.) */
static int losses_finite(const struct selbias_table *t)
{
    if (t->kind != SELBIAS_REGRESSION)
        return 1;
    for (size_t q = 0; q < t->n * t->m; q++)
        if (!isfinite(t->loss[q]))
            return 0;
    return 1;
}

/* Sum over k < P of popcount(x & planes[w * P + k]) << k, over the words:
 * the in-bag number of correct predictions, each example weighted by its
 * bootstrap count. The popcnt clone is the one that meets the budget. */
__attribute__((target_clones("popcnt", "default"))) static uint64_t
inbag_correct(const uint64_t *bits, const uint64_t *planes, size_t words, unsigned P)
{
    uint64_t acc[3] = {0};
    switch (P) { /* the usual plane counts get unrolled loops */
    case 1:
        for (size_t w = 0; w < words; w++)
            acc[0] += (uint64_t)__builtin_popcountll(bits[w] & planes[w]);
        break;
    case 2:
        for (size_t w = 0; w < words; w++) {
            uint64_t x = bits[w];
            acc[0] += (uint64_t)__builtin_popcountll(x & planes[2 * w]);
            acc[1] += (uint64_t)__builtin_popcountll(x & planes[2 * w + 1]);
        }
        break;
    case 3:
        for (size_t w = 0; w < words; w++) {
            uint64_t x = bits[w];
            acc[0] += (uint64_t)__builtin_popcountll(x & planes[3 * w]);
            acc[1] += (uint64_t)__builtin_popcountll(x & planes[3 * w + 1]);
            acc[2] += (uint64_t)__builtin_popcountll(x & planes[3 * w + 2]);
        }
        break;
    default: { /* a count >= 8: rare (m >= ~1000); any P */
        uint64_t s = 0;
        for (unsigned k = 0; k < P; k++) {
            uint64_t a = 0;
            for (size_t w = 0; w < words; w++)
                a += (uint64_t)__builtin_popcountll(bits[w] & planes[w * P + k]);
            s += a << k;
        }
        return s;
    }
    }
    return acc[0] + (acc[1] << 1) + (acc[2] << 2);
}

/* Regression in-bag sums, the hot loop: S[r][c] += w[r][i] * L[i][c] for
 * i = 0..m-1 in order, for a tile of TILE_R replicates x TILE_C
 * configurations held in registers while the examples stream by (the AVX2
 * clone: 8 accumulators, 2 loads and 4 broadcasts per example). A weight of
 * 0 adds 0 * L = +-0, which leaves a sum unchanged, so the result is that of
 * skipping the examples not drawn, as documented (losses are finite). */
#define TILE_R 4
#define TILE_C 8
typedef double v4d __attribute__((vector_size(32)));

__attribute__((target_clones("avx2", "default"))) static void
inbag_tile(double *S, size_t n, const double *L, const double *w, size_t m, size_t i0, size_t i1)
{
    /* Named accumulators: an array of them would live on the stack. */
    v4d a00, a01, a10, a11, a20, a21, a30, a31;
    double *S0 = S, *S1 = S + n, *S2 = S + 2 * n, *S3 = S + 3 * n;
    const double *w0 = w, *w1 = w + m, *w2 = w + 2 * m, *w3 = w + 3 * m;
    memcpy(&a00, S0, 32), memcpy(&a01, S0 + 4, 32);
    memcpy(&a10, S1, 32), memcpy(&a11, S1 + 4, 32);
    memcpy(&a20, S2, 32), memcpy(&a21, S2 + 4, 32);
    memcpy(&a30, S3, 32), memcpy(&a31, S3 + 4, 32);
    for (size_t i = i0; i < i1; i++) {
        v4d l0, l1;
        memcpy(&l0, L + i * n, 32);
        memcpy(&l1, L + i * n + 4, 32);
        v4d x0 = {w0[i], w0[i], w0[i], w0[i]}, x1 = {w1[i], w1[i], w1[i], w1[i]};
        v4d x2 = {w2[i], w2[i], w2[i], w2[i]}, x3 = {w3[i], w3[i], w3[i], w3[i]};
        a00 += x0 * l0, a01 += x0 * l1;
        a10 += x1 * l0, a11 += x1 * l1;
        a20 += x2 * l0, a21 += x2 * l1;
        a30 += x3 * l0, a31 += x3 * l1;
    }
    memcpy(S0, &a00, 32), memcpy(S0 + 4, &a01, 32);
    memcpy(S1, &a10, 32), memcpy(S1 + 4, &a11, 32);
    memcpy(S2, &a20, 32), memcpy(S2 + 4, &a21, 32);
    memcpy(S3, &a30, 32), memcpy(S3 + 4, &a31, 32);
}

/* The same sums for the edges of the tiling (fewer replicates or
 * configurations left), one at a time, skipping the examples not drawn. */
static void inbag_edge(double *S, size_t n, const double *L, const double *w, size_t m, size_t i0,
                       size_t i1, size_t nr, size_t nc)
{
    for (size_t r = 0; r < nr; r++)
        for (size_t i = i0; i < i1; i++)
            if (w[r * m + i] != 0)
                for (size_t c = 0; c < nc; c++)
                    S[r * n + c] += w[r * m + i] * L[i * n + c];
}

struct bbc_job {
    const struct selbias_table *t;
    uint64_t seed;
    size_t b0, b1; /* replicates [b0, b1) */
    double *values;
    int oom;
    int started;
};

/* Regression: replicates per pass over the loss table (80 MB at 1000 x
 * 10000): it is read from memory B / REG_BATCH times, not B times. */
#define REG_BATCH 32
/* The bytes of loss rows handled at a time (half a typical L2 cache). */
#define REG_ROWS_BYTES (128 * 1024)

/* The best in-bag configuration of one classification replicate (ties: the
 * lowest index); planes has room for 32 bit planes of the counts. */
static size_t select_classification(const struct selbias_table *t, const uint32_t *cnt,
                                    uint64_t *planes)
{
    size_t m = t->m, W = t->words, best = 0;
    uint32_t maxc = 0;
    for (size_t i = 0; i < m; i++)
        if (cnt[i] > maxc)
            maxc = cnt[i];
    unsigned P = 0;
    while (P < 32 && (maxc >> P))
        P++;
    memset(planes, 0, W * P * sizeof *planes);
    for (size_t i = 0; i < m; i++)
        for (unsigned k = 0; k < P; k++)
            planes[(i / 64) * P + k] |= (uint64_t)((cnt[i] >> k) & 1) << (i % 64);
    uint64_t top = 0;
    for (size_t c = 0; c < t->n; c++) {
        uint64_t s = inbag_correct(t->correct + c * W, planes, W, P);
        if (c == 0 || s > top) {
            top = s;
            best = c;
        }
    }
    return best;
}

/* The selected configuration's performance on the out-of-bag examples
 * (count 0), in example order; NaN when there is none. */
static double out_of_bag(const struct selbias_table *t, const uint32_t *cnt, size_t best)
{
    size_t m = t->m, n = t->n;
    uint64_t nout = 0, ok = 0;
    double s = 0;
    for (size_t i = 0; i < m; i++)
        if (!cnt[i]) {
            nout++;
            if (t->kind == SELBIAS_CLASSIFICATION)
                ok += (t->correct[best * t->words + i / 64] >> (i % 64)) & 1;
            else
                s += t->loss[i * n + best];
        }
    if (!nout)
        return NAN;
    return t->kind == SELBIAS_CLASSIFICATION ? (double)ok / (double)nout : s / (double)nout;
}

static void *bbc_worker(void *arg)
{
    struct bbc_job *j = arg;
    const struct selbias_table *t = j->t;
    size_t m = t->m, n = t->n, W = t->words;
    size_t R = t->kind == SELBIAS_REGRESSION ? REG_BATCH : 1;
    uint32_t *cnt = malloc(R * m * sizeof *cnt);
    /* Counts fit in 32 planes (m < 2^32). */
    uint64_t *planes = t->kind == SELBIAS_CLASSIFICATION ? malloc(W * 32 * sizeof *planes) : NULL;
    double *S = t->kind == SELBIAS_REGRESSION ? malloc(R * n * sizeof *S) : NULL;
    double *wt = t->kind == SELBIAS_REGRESSION ? malloc(R * m * sizeof *wt) : NULL;
    if (!cnt || (!planes && (!S || !wt))) {
        j->oom = 1;
        goto out;
    }
    /* Replicate b's draws are numbers b*m .. b*m+m-1 of the run. */
    uint64_t state = j->seed + (uint64_t)j->b0 * (uint64_t)m * SM64_GAMMA;
    for (size_t b0 = j->b0; b0 < j->b1; b0 += R) {
        size_t nr = j->b1 - b0 < R ? j->b1 - b0 : R;
        memset(cnt, 0, nr * m * sizeof *cnt);
        for (size_t r = 0; r < nr; r++)
            for (size_t d = 0; d < m; d++)
                cnt[r * m + selbias_index(selbias_splitmix64(&state), m)]++;
        if (t->kind == SELBIAS_CLASSIFICATION) {
            size_t best = select_classification(t, cnt, planes);
            j->values[b0] = out_of_bag(t, cnt, best);
            continue;
        }
        memset(S, 0, nr * n * sizeof *S);
        for (size_t q = 0; q < nr * m; q++)
            wt[q] = (double)cnt[q];
        /* Examples outer, in blocks of rows that fit the L2 cache: each
         * block is read from memory once per batch, then from cache by the
         * tiles; the sums still go through the examples in order. */
        size_t ib = REG_ROWS_BYTES / (n * sizeof(double));
        ib = ib < 8 ? 8 : ib;
        for (size_t i0 = 0; i0 < m; i0 += ib) {
            size_t i1 = m - i0 < ib ? m : i0 + ib;
            for (size_t c0 = 0; c0 < n; c0 += TILE_C)
                for (size_t r0 = 0; r0 < nr; r0 += TILE_R) {
                    size_t rr = nr - r0 < TILE_R ? nr - r0 : TILE_R;
                    size_t cc = n - c0 < TILE_C ? n - c0 : TILE_C;
                    if (rr == TILE_R && cc == TILE_C)
                        inbag_tile(S + r0 * n + c0, n, t->loss + c0, wt + r0 * m, m, i0, i1);
                    else
                        inbag_edge(S + r0 * n + c0, n, t->loss + c0, wt + r0 * m, m, i0, i1,
                                   rr, cc);
                }
        }
        for (size_t r = 0; r < nr; r++) {
            const double *Sr = S + r * n;
            size_t best = 0;
            for (size_t c = 1; c < n; c++)
                if (Sr[c] < Sr[best])
                    best = c;
            j->values[b0 + r] = out_of_bag(t, cnt + r * m, best);
        }
    }
out:
    free(cnt);
    free(planes);
    free(S);
    free(wt);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of n sorted values, linear interpolation between order
 * statistics (Hyndman & Fan type 7): h = (n - 1) q, v[floor h] + (h -
 * floor h) (v[floor h + 1] - v[floor h]). */
static double quantile7(const double *v, size_t n, double q)
{
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n)
        return v[n - 1];
    return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

/* 1 if t has out-of-fold predictions of at least two configurations (BBC-CV
 * and PBO select among them), else 0 with why. */
static int selectable(const struct selbias_table *t, const char **why)
{
    if (t->m == 0) {
        set_why(why, "no out-of-fold predictions recorded");
        return 0;
    }
    if (t->n < 2) {
        set_why(why, "one configuration: nothing was selected");
        return 0;
    }
    return 1;
}

int selbias_bbc(const struct selbias_table *t, const struct selbias_opts *o, struct selbias_bbc *r,
                double *values, const char **why)
{
    if (!selectable(t, why))
        return -1;
    if (t->m < SELBIAS_MIN_EXAMPLES) {
        set_why(why, "fewer than 10 examples");
        return -1;
    }
    if (o->B < 2) {
        set_why(why, "fewer than 2 bootstrap replicates");
        return -1;
    }
    if (!losses_finite(t)) {
        set_why(why, "a loss is not finite");
        return -1;
    }
    double *perf = malloc(t->n * sizeof *perf);
    double *v = values ? values : malloc(o->B * sizeof *v);
    unsigned nt = o->threads ? o->threads : 1;
    if (nt > o->B)
        nt = o->B;
    struct bbc_job *jobs = calloc(nt, sizeof *jobs);
    pthread_t *tid = calloc(nt, sizeof *tid);
    int rc = -1;
    if (!perf || !v || !jobs || !tid) {
        set_why(why, "out of memory");
        goto out;
    }
    selbias_full(t, perf, &r->best, NULL);
    r->best_value = perf[r->best];
    for (unsigned k = 0; k < nt; k++)
        jobs[k] = (struct bbc_job){t, o->seed, (size_t)o->B * k / nt, (size_t)o->B * (k + 1) / nt,
                                   v, 0, 0};
    for (unsigned k = 1; k < nt; k++)
        if (pthread_create(&tid[k], NULL, bbc_worker, &jobs[k]) == 0)
            jobs[k].started = 1;
        else
            bbc_worker(&jobs[k]); /* no thread: the same values, later */
    bbc_worker(&jobs[0]);
    int oom = jobs[0].oom;
    for (unsigned k = 1; k < nt; k++) {
        if (jobs[k].started)
            pthread_join(tid[k], NULL);
        oom |= jobs[k].oom;
    }
    if (oom) {
        set_why(why, "out of memory");
        goto out;
    }
    /* In replicate order: the same sum whatever the thread count. */
    double sum = 0;
    size_t used = 0;
    for (size_t b = 0; b < o->B; b++)
        if (!isnan(v[b])) {
            sum += v[b];
            used++;
        }
    if (used == 0) {
        set_why(why, "every out-of-bag set was empty");
        goto out;
    }
    double *sorted = malloc(used * sizeof *sorted);
    if (!sorted) {
        set_why(why, "out of memory");
        goto out;
    }
    size_t u = 0;
    for (size_t b = 0; b < o->B; b++)
        if (!isnan(v[b]))
            sorted[u++] = v[b];
    qsort(sorted, used, sizeof *sorted, cmp_double);
    r->estimate = sum / (double)used;
    r->lo = quantile7(sorted, used, 0.025);
    r->hi = quantile7(sorted, used, 0.975);
    r->used = used;
    free(sorted);
    rc = 0;
out:
    free(perf);
    if (v != values)
        free(v);
    free(jobs);
    free(tid);
    return rc;
}

/* ---- Tibshirani & Tibshirani (2009) ---------------------------------------- */

int selbias_tibshirani(const struct selbias_table *t, struct selbias_tt *r, const char **why)
{
    if (t->k == 0) {
        set_why(why, "no per-fold scores recorded");
        return -1;
    }
    if (t->n < 2) {
        set_why(why, "one configuration: nothing was selected");
        return -1;
    }
    if (t->k < 2) {
        set_why(why, "fewer than 2 folds");
        return -1;
    }
    size_t n = t->n, chosen = 0;
    double cv_best = 0;
    for (size_t c = 0; c < n; c++) {
        double s = 0;
        for (size_t f = 0; f < t->k; f++)
            s += t->fold[f * n + c];
        s /= (double)t->k;
        if (c == 0 || (t->fold_max ? s > cv_best : s < cv_best)) {
            cv_best = s;
            chosen = c;
        }
    }
    double bias = 0;
    for (size_t f = 0; f < t->k; f++) {
        const double *row = t->fold + f * n;
        double top = row[0];
        for (size_t c = 1; c < n; c++)
            if (t->fold_max ? row[c] > top : row[c] < top)
                top = row[c];
        bias += t->fold_max ? top - row[chosen] : row[chosen] - top;
    }
    bias /= (double)t->k;
    r->chosen = chosen;
    r->cv = cv_best;
    r->bias = bias;
    r->corrected = t->fold_max ? cv_best - bias : cv_best + bias;
    return 0;
}

/* ---- PBO by CSCV ----------------------------------------------------------- */

unsigned selbias_blocks(size_t m, unsigned S)
{
    if (S > SELBIAS_S_MAX)
        S = SELBIAS_S_MAX;
    S &= ~1u;
    while (S >= 2 && m / S < SELBIAS_MIN_BLOCK)
        S -= 2;
    return S >= 2 ? S : 0;
}

static size_t choose(unsigned n, unsigned k)
{
    size_t r = 1;
    for (unsigned i = 1; i <= k; i++)
        r = r * (n - k + i) / i;
    return r;
}

int selbias_pbo(const struct selbias_table *t, const struct selbias_opts *o, struct selbias_pbo *r,
                double *logits, const char **why)
{
    if (!selectable(t, why))
        return -1;
    unsigned S = selbias_blocks(t->m, o->S);
    if (!S) {
        set_why(why, "too few examples for 2 blocks of 10");
        return -1;
    }
    if (!losses_finite(t)) {
        set_why(why, "a loss is not finite");
        return -1;
    }
    size_t n = t->n, m = t->m;
    /* blk[b * n + c]: configuration c's sum over block b (correct count, or
     * loss summed in example order). Block b = examples
     * [floor(b m / S), floor((b + 1) m / S)). */
    double *blk = calloc((size_t)S * n, sizeof *blk);
    double *is = malloc(n * sizeof *is), *os = malloc(n * sizeof *os);
    if (!blk || !is || !os) {
        free(blk);
        free(is);
        free(os);
        set_why(why, "out of memory");
        return -1;
    }
    for (unsigned b = 0; b < S; b++) {
        size_t i0 = (size_t)b * m / S, i1 = (size_t)(b + 1) * m / S;
        for (size_t c = 0; c < n; c++) {
            double s = 0;
            if (t->kind == SELBIAS_CLASSIFICATION) {
                const uint64_t *bits = t->correct + c * t->words;
                uint64_t k = 0;
                for (size_t i = i0; i < i1; i++)
                    k += (bits[i / 64] >> (i % 64)) & 1;
                s = (double)k;
            } else {
                for (size_t i = i0; i < i1; i++)
                    s += t->loss[i * n + c];
            }
            blk[b * n + c] = s;
        }
    }
    unsigned h = S / 2, comb[32], in[32];
    for (unsigned i = 0; i < h; i++)
        comb[i] = i;
    size_t splits = 0, overfit = 0;
    for (;;) {
        memset(in, 0, sizeof in);
        for (unsigned i = 0; i < h; i++)
            in[comb[i]] = 1;
        for (size_t c = 0; c < n; c++)
            is[c] = os[c] = 0;
        /* Block order, for both halves: a reference sums the same way. */
        for (unsigned b = 0; b < S; b++) {
            double *dst = in[b] ? is : os;
            const double *row = blk + (size_t)b * n;
            for (size_t c = 0; c < n; c++)
                dst[c] += row[c];
        }
        size_t star = 0;
        for (size_t c = 1; c < n; c++)
            if (better(t, is[c], is[star]))
                star = c;
        size_t worse = 0, equal = 0;
        for (size_t c = 0; c < n; c++) {
            if (better(t, os[star], os[c]))
                worse++;
            else if (os[c] == os[star])
                equal++;
        }
        /* Mid-rank r = worse + (equal + 1) / 2 in 1..n (n = best); logit
         * ln(r / (n + 1 - r)) <= 0 iff 2 r <= n + 1. */
        double rank = (double)worse + (double)(equal + 1) / 2.0;
        if (logits)
            logits[splits] = log(rank / ((double)n + 1.0 - rank));
        if (2 * worse + equal <= n)
            overfit++;
        splits++;
        /* Next combination in lexicographic order. */
        int i = (int)h - 1;
        while (i >= 0 && comb[i] == S - h + (unsigned)i)
            i--;
        if (i < 0)
            break;
        comb[i]++;
        for (unsigned j = (unsigned)i + 1; j < h; j++)
            comb[j] = comb[j - 1] + 1;
    }
    free(blk);
    free(is);
    free(os);
    r->S = S;
    r->splits = splits;
    r->overfit = overfit;
    r->pbo = (double)overfit / (double)splits;
    return 0;
}

/* ---- JSON ------------------------------------------------------------------ */

static json_t *omitted(const char *why)
{
    return json_pack("{s:s}", "omitted", why ? why : "unknown");
}

static const char *metric_name(const struct selbias_table *t)
{
    if (t->kind == SELBIAS_CLASSIFICATION)
        return "accuracy";
    return t->loss_kind == SELBIAS_SQUARED ? "mean_squared_error" : "mean_absolute_error";
}

static json_t *bbc_json(const struct selbias_table *t, const struct selbias_opts *o)
{
    struct selbias_bbc r;
    const char *why = NULL;
    if (selbias_bbc(t, o, &r, NULL, &why) != 0)
        return omitted(why);
    char seed[17];
    snprintf(seed, sizeof seed, "%016llx", (unsigned long long)o->seed);
    double infl = t->kind == SELBIAS_CLASSIFICATION ? r.best_value - r.estimate
                                                    : r.estimate - r.best_value;
    return json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:i, s:i, s:s, s:I, s:f, s:f, s:[f, f], s:f}}", "method",
        "BBC-CV (Tsamardinos, Greasidou, Borboudakis 2018): bootstrap the examples of the pooled "
        "out-of-fold predictions, select the best configuration on the in-bag examples, score it "
        "on the out-of-bag ones; SplitMix64, index = floor(top 53 bits x m / 2^53)",
        "assumption",
        "examples are independent draws; the out-of-fold predictions of every configuration "
        "come from the same folds",
        "values", "metric", metric_name(t), "generator", "splitmix64", "replicates", (int)o->B,
        "replicates_used", (int)r.used, "seed", seed, "best_configuration", (json_int_t)r.best,
        "best_value", r.best_value, "estimate", r.estimate, "interval_95", r.lo, r.hi,
        "inflation", infl);
}

static json_t *tt_json(const struct selbias_table *t)
{
    struct selbias_tt r;
    const char *why = NULL;
    if (selbias_tibshirani(t, &r, &why) != 0)
        return omitted(why);
    return json_pack(
        "{s:s, s:s, s:{s:i, s:s, s:I, s:f, s:f, s:f}}", "method",
        "Tibshirani & Tibshirani 2009: bias = mean over folds of (the fold's best score - the "
        "fold's score of the configuration with the best mean)",
        "assumption", "folds of about equal size; every configuration scored on the same folds",
        "values", "folds", (int)t->k, "direction", t->fold_max ? "max" : "min",
        "chosen_configuration", (json_int_t)r.chosen, "cv_value", r.cv, "bias", r.bias,
        "corrected", r.corrected);
}

static json_t *pbo_json(const struct selbias_table *t, const struct selbias_opts *o)
{
    struct selbias_pbo r;
    const char *why = NULL;
    unsigned S = selbias_blocks(t->m, o->S);
    size_t cap = S ? choose(S, S / 2) : 1;
    double *lg = malloc(cap * sizeof *lg);
    if (!lg)
        return NULL;
    if (selbias_pbo(t, o, &r, lg, &why) != 0) {
        free(lg);
        return omitted(why);
    }
    /* Histogram: bin j = [j / 2, (j + 1) / 2), j = floor(2 logit); only the
     * non-empty bins, ascending. |logit| <= ln n bounds j. */
    long jmin = 0, jmax = 0;
    for (size_t s = 0; s < r.splits; s++) {
        long j = (long)floor(2.0 * lg[s]);
        if (s == 0 || j < jmin)
            jmin = j;
        if (s == 0 || j > jmax)
            jmax = j;
    }
    size_t nb = (size_t)(jmax - jmin + 1);
    size_t *cnt = calloc(nb, sizeof *cnt);
    json_t *lo = json_array(), *count = json_array();
    if (!cnt || !lo || !count) {
        free(lg);
        free(cnt);
        json_decref(lo);
        json_decref(count);
        return NULL;
    }
    for (size_t s = 0; s < r.splits; s++)
        cnt[(long)floor(2.0 * lg[s]) - jmin]++;
    double mean = 0;
    for (size_t s = 0; s < r.splits; s++)
        mean += lg[s];
    mean /= (double)r.splits;
    for (size_t b = 0; b < nb; b++)
        if (cnt[b]) {
            json_array_append_new(lo, json_real((double)((long)b + jmin) / 2.0));
            json_array_append_new(count, json_integer((json_int_t)cnt[b]));
        }
    free(cnt);
    free(lg);
    return json_pack(
        "{s:s, s:s, s:{s:i, s:I, s:I, s:f, s:f, s:{s:f, s:o, s:o}}}", "method",
        "PBO by CSCV (Bailey, Borwein, Lopez de Prado, Zhu 2017): S contiguous blocks, every half "
        "of them in-sample against the rest; the share of splits whose in-sample best has an "
        "out-of-sample logit <= 0 (at or below the median)",
        "assumption", "blocks are exchangeable (no order effect across the examples)", "values",
        "blocks", (int)r.S, "splits", (json_int_t)r.splits, "overfit_splits",
        (json_int_t)r.overfit, "pbo", r.pbo, "logit_mean", mean, "logit_histogram", "width", 0.5,
        "lo", lo, "count", count);
}

json_t *selbias_json(const struct selbias_table *t, const struct selbias_opts *o)
{
    json_t *b = bbc_json(t, o), *tt = tt_json(t), *p = pbo_json(t, o);
    if (!b || !tt || !p) {
        json_decref(b);
        json_decref(tt);
        json_decref(p);
        return NULL;
    }
    return json_pack("{s:o, s:o, s:o}", "bbc_cv", b, "tibshirani", tt, "pbo_cscv", p);
}
