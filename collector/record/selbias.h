/* selbias.h - how much selecting the best of n configurations inflated its
 * score: BBC-CV, Tibshirani & Tibshirani's bias, PBO by CSCV (docs/RECORD.md,
 * "Selection bias", defines every rule exactly). Pure functions over an
 * in-memory table; no I/O. Every result is reproducible bit for bit from the
 * table and the recorded seed, whatever the number of threads. */
#ifndef TT_SELBIAS_H
#define TT_SELBIAS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum selbias_kind { SELBIAS_CLASSIFICATION, SELBIAS_REGRESSION };
enum selbias_loss { SELBIAS_SQUARED, SELBIAS_ABSOLUTE };

/* n configurations x m out-of-fold predictions (the same m examples, in the
 * same order, for every configuration), and optionally k per-fold scores. */
struct selbias_table {
    enum selbias_kind kind;
    size_t n; /* configurations */
    size_t m; /* examples; 0 = no out-of-fold predictions */
    /* classification: correct[c * words + i / 64] bit i % 64 = example i was
     * predicted correctly by configuration c; bits from m on are 0 */
    size_t words;
    uint64_t *correct;
    /* regression: loss[i * n + c] = the loss of configuration c on example i
     * (example-major: one bootstrap pass reads it in order) */
    enum selbias_loss loss_kind;
    double *loss;
    /* per-fold scores: fold[f * n + c], k folds; 0 = none */
    size_t k;
    double *fold;
    int fold_max; /* 1: a larger fold score is better (accuracy), 0: smaller (error) */
};

/* Allocates the arrays of an all-zero table (correct or loss by kind, fold
 * when k > 0). 0, or -1 out of memory. */
int selbias_table_init(struct selbias_table *t, enum selbias_kind kind, size_t n, size_t m,
                       size_t k);
void selbias_table_free(struct selbias_table *t);
static inline void selbias_set_correct(struct selbias_table *t, size_t c, size_t i)
{
    t->correct[c * t->words + i / 64] |= (uint64_t)1 << (i % 64);
}
/* The loss of prediction p against truth y: (p - y)^2 or |p - y|. */
double selbias_loss_of(enum selbias_loss kind, double p, double y);

/* SplitMix64 (Steele, Lea, Flood 2014): draw t (0-based) of a run seeded s is
 * mix(s + (t + 1) * 0x9E3779B97F4A7C15 mod 2^64). */
uint64_t selbias_splitmix64(uint64_t *state);
/* floor((x >> 11) * m / 2^53): an index in 0..m-1 from one draw. */
static inline size_t selbias_index(uint64_t x, size_t m)
{
    return (size_t)(((unsigned __int128)(x >> 11) * m) >> 53);
}

struct selbias_opts {
    uint64_t seed;    /* BBC-CV's generator seed (recorded) */
    unsigned B;       /* bootstrap replicates (1000) */
    unsigned S;       /* CSCV blocks asked for (16); even, >= 2 */
    unsigned threads; /* >= 1; any count gives the same bytes */
};
#define SELBIAS_B_DEFAULT 1000
#define SELBIAS_S_DEFAULT 16
/* ... and at most (C(20, 10) = 184,756 splits). */
#define SELBIAS_S_MAX 20
/* A CSCV block holds at least this many examples (S shrinks to fit). */
#define SELBIAS_MIN_BLOCK 10
/* BBC-CV needs at least this many examples. */
#define SELBIAS_MIN_EXAMPLES 10

/* Performance of each configuration on all m examples (accuracy, or mean
 * loss), and the best one (ties: lowest index). -1 with why if m == 0. */
int selbias_full(const struct selbias_table *t, double *perf, size_t *best, const char **why);

struct selbias_bbc {
    double estimate;   /* mean of the used replicates' out-of-bag values */
    double lo, hi;     /* 2.5 % and 97.5 % percentiles (linear interpolation) */
    size_t used;       /* replicates with a non-empty out-of-bag set */
    size_t best;       /* the best configuration on all examples */
    double best_value; /* its performance on all examples (the raw best) */
};
/* BBC-CV. values, if non-NULL, gets the B replicate values (NaN for a
 * replicate skipped for an empty out-of-bag set). */
int selbias_bbc(const struct selbias_table *t, const struct selbias_opts *o, struct selbias_bbc *r,
                double *values, const char **why);

struct selbias_tt {
    size_t chosen;    /* best mean fold score (ties: lowest index) */
    double cv;        /* its mean fold score */
    double bias;      /* mean over folds of (fold best - chosen's), oriented >= 0 */
    double corrected; /* cv - bias (max) or cv + bias (min) */
};
int selbias_tibshirani(const struct selbias_table *t, struct selbias_tt *r, const char **why);

/* The number of CSCV blocks used for m examples when S are asked for: the
 * largest even number <= min(S, SELBIAS_S_MAX) with m / blocks >=
 * SELBIAS_MIN_BLOCK; 0 if < 2. */
unsigned selbias_blocks(size_t m, unsigned S);

struct selbias_pbo {
    unsigned S;     /* blocks used */
    size_t splits;  /* C(S, S/2) */
    size_t overfit; /* splits with logit <= 0 */
    double pbo;     /* overfit / splits */
};
/* logits, if non-NULL, gets the splits' logits in enumeration order (room
 * for C(S, S/2) values, S = selbias_blocks(m, o->S)). */
int selbias_pbo(const struct selbias_table *t, const struct selbias_opts *o, struct selbias_pbo *r,
                double *logits, const char **why);

/* The three as JSON: {"bbc_cv": ..., "tibshirani": ..., "pbo_cscv": ...},
 * each {"method", "assumption", "values": {...}} or {"omitted": reason}.
 * New reference, NULL out of memory. */
json_t *selbias_json(const struct selbias_table *t, const struct selbias_opts *o);

#endif
