/* bench_selbias.c - the selection-bias statistics (collector/record/selbias.h)
 * on a synthetic table of N configurations x M examples, B replicates: the
 * seconds of BBC-CV (1 and 2 threads), PBO by CSCV and Tibshirani, against
 * a baseline measured in the same run: one plain evaluation of every
 * configuration on every example (what the record's raw best costs).
 * usage: bench_selbias N M B [regression] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "selbias.h"

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_selbias N M B [regression]\n");
        return 2;
    }
    size_t n = strtoul(argv[1], NULL, 10), m = strtoul(argv[2], NULL, 10);
    unsigned B = (unsigned)strtoul(argv[3], NULL, 10);
    int reg = argc > 4 && strcmp(argv[4], "regression") == 0;
    struct selbias_table t;
    if (selbias_table_init(&t, reg ? SELBIAS_REGRESSION : SELBIAS_CLASSIFICATION, n, m, 10) != 0) {
        fprintf(stderr, "bench_selbias: out of memory\n");
        return 1;
    }
    uint64_t st = 42;
    for (size_t c = 0; c < n; c++)
        for (size_t i = 0; i < m; i++) {
            double u = (double)(selbias_splitmix64(&st) >> 11) / 9007199254740992.0;
            if (reg)
                t.loss[i * n + c] = u * u;
            else if (u < 0.8)
                selbias_set_correct(&t, c, i);
        }
    for (size_t f = 0; f < t.k * n; f++)
        t.fold[f] = (double)(selbias_splitmix64(&st) >> 11) / 9007199254740992.0;

    double *perf = malloc(n * sizeof *perf);
    size_t best;
    double t0 = bench_now();
    selbias_full(&t, perf, &best, NULL);
    double base = bench_now() - t0;

    struct selbias_opts o = {0x5eed, B, SELBIAS_S_DEFAULT, 1};
    struct selbias_bbc r1, r2;
    t0 = bench_now();
    selbias_bbc(&t, &o, &r1, NULL, NULL);
    double bbc1 = bench_now() - t0;
    o.threads = 2;
    t0 = bench_now();
    selbias_bbc(&t, &o, &r2, NULL, NULL);
    double bbc2 = bench_now() - t0;
    struct selbias_pbo p;
    t0 = bench_now();
    selbias_pbo(&t, &o, &p, NULL, NULL);
    double pbo = bench_now() - t0;
    struct selbias_tt tt;
    t0 = bench_now();
    selbias_tibshirani(&t, &tt, NULL);
    double tib = bench_now() - t0;

    printf("%s %zu configurations x %zu examples, B=%u\n", reg ? "regression" : "classification",
           n, m, B);
    printf("  baseline (evaluate all once)  %9.4f s\n", base);
    printf("  BBC-CV, 1 thread              %9.4f s  (%.0fx baseline)\n", bbc1, bbc1 / base);
    printf("  BBC-CV, 2 threads             %9.4f s  (%.0fx baseline, same estimate: %s)\n", bbc2,
           bbc2 / base, r1.estimate == r2.estimate ? "yes" : "NO");
    printf("  PBO by CSCV, S=%u (%zu splits) %9.4f s\n", p.S, p.splits, pbo);
    printf("  Tibshirani, 10 folds          %9.4f s\n", tib);
    free(perf);
    selbias_table_free(&t);
    return 0;
}
