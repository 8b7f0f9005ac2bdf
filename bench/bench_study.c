/* bench_study.c - a synthetic study of N trials written straight into a store
 * (through ingest_batches, so the collector's own sealing builds the log), for
 * the attest / report budget (DESIGN.md: <= 1 s on a 100k-trial study).
 *
 * A random search: lr log-uniform, depth 2..12, optimizer and batch from small
 * sets, a seed; every 10th trial repeats an earlier configuration with a new
 * seed (so the noise floor is defined); 3% of the processes fail, 1% are
 * killed. The best trial "writes" MODEL (a real file; its sha256 goes into
 * the FileAccess), so `tunetrail attest MODEL` has a subject.
 *
 * With -p M, every finished trial also sends the out-of-fold predictions of
 * a 5-fold cross-validation over M examples (right with the trial's score as
 * the probability; the same folds for all), for the selection-bias statistics.
 *
 * usage: bench_study -o STORE -m MODEL [-n TRIALS] [-s STUDY] [-p EXAMPLES]
 *        bench_study -r STORE [-s STUDY]   (baselines: read every leaf; parse them with jansson) */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "bench.h"
#include "event_fixture.h"
#include "keys.h"
#include "store.h"
#include "tunetrail.pb-c.h"
#include "wire.h"

#define GROUP 32

static uint32_t g_pred_m; /* -p: examples of each trial's out-of-fold predictions */

struct cfg {
    double lr;
    int depth, opt, batch, seed;
};

static const char *const opts[] = {"adam", "sgd", "rmsprop"};
static const int batches[] = {32, 64, 128, 256};

static double score(const struct cfg *c)
{
    double l = log10(c->lr);
    double u = (double)rand() / RAND_MAX, v = (double)rand() / RAND_MAX;
    double noise = sqrt(-2 * log(u + 1e-12)) * cos(2 * M_PI * v) * 0.01;
    return 0.9 - 0.02 * (l + 3) * (l + 3) - 0.003 * abs(c->depth - 7) + (c->opt == 0 ? 0.01 : 0) +
           noise;
}

static int generate(const char *path, const char *model, size_t n, const char *study)
{
    char err[512];
    tt_store *st = store_open(path, STORE_CREATE, err, sizeof err);
    if (!st) {
        fprintf(stderr, "bench_study: %s\n", err);
        return 1;
    }
    struct tt_key key;
    if (key_collector(NULL, &key, err, sizeof err) == 0)
        store_set_signer(st, &key);
    srand(42);
    struct cfg *c = malloc(n * sizeof *c);
    double *val = malloc(n * sizeof *val);
    int *how = malloc(n * sizeof *how); /* 0 ok, 1 failed, 2 killed */
    size_t best = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % 10 == 9) {
            c[i] = c[rand() % i];
            c[i].seed = rand() % 1000;
        } else {
            c[i].lr = pow(10, -5 + 4.0 * rand() / RAND_MAX);
            c[i].depth = 2 + rand() % 11;
            c[i].opt = rand() % 3;
            c[i].batch = batches[rand() % 4];
            c[i].seed = rand() % 1000;
        }
        val[i] = score(&c[i]);
        int r = rand() % 100;
        how[i] = r < 3 ? 1 : r < 4 ? 2 : 0;
        if (how[i] == 0 && val[i] > val[best])
            best = i;
    }
    /* the model file the best trial writes */
    FILE *mf = fopen(model, "w");
    if (!mf) {
        perror(model);
        return 1;
    }
    fprintf(mf, "synthetic model of trial %zu\n", best);
    fclose(mf);
    uint8_t msha[32];
    crypto_hash_sha256(msha, (const uint8_t *)"", 0);
    {
        char line[128];
        int len = snprintf(line, sizeof line, "synthetic model of trial %zu\n", best);
        crypto_hash_sha256(msha, (const uint8_t *)line, (unsigned long long)len);
    }

    uint8_t session[16];
    wire_uuid_new(session);
    struct ingest_input in[GROUP];
    struct ingest_result res[GROUP];
    uint8_t *bufs[GROUP];
    size_t g = 0;
    uint64_t bseq = 0;
    int64_t t0 = (int64_t)time(NULL) * 1000000000LL - (int64_t)n * 2000000000LL;
    double start = bench_now();
    for (size_t i = (size_t)-1; i != n; i++) {
        struct evfx_batch b = {0};
        uint8_t proc[16], trial[16];
        uint64_t seq = 0;
        char vals[5][32], *argv[3] = {"train.py", "--config", "synthetic"};
        int64_t t = t0 + (int64_t)i * 2000000000LL;
        if (i == (size_t)-1) { /* the session's start */
            evfx_session_start(&b, evfx_event(&b, session, seq++, t0), session, study);
        } else {
            wire_uuid_new(proc);
            wire_uuid_new(trial);
            Tunetrail__ProcessStart *ps = evfx_process_start(&b, evfx_event(&b, proc, seq++, t),
                                                             proc, session, NULL,
                                                             "/usr/bin/python3");
            ps->argv = argv;
            ps->n_argv = 3;
            /* adapter keys are "<framework>.<field>" */
            evfx_trial_start(&b, evfx_event(&b, proc, seq++, t), trial, proc, "syn", "adapter");
            snprintf(vals[0], 32, "%.6g", c[i].lr);
            snprintf(vals[1], 32, "%d", c[i].depth);
            snprintf(vals[2], 32, "%s", opts[c[i].opt]);
            snprintf(vals[3], 32, "%d", c[i].batch);
            snprintf(vals[4], 32, "%d", c[i].seed);
            static const char *const keys[] = {"syn.lr", "syn.depth", "syn.optimizer",
                                               "syn.batch_size", "syn.seed"};
            for (int k = 0; k < 5; k++)
                evfx_param(&b, evfx_event(&b, proc, seq++, t + 1000), trial, keys[k], vals[k],
                           "adapter");
            if (how[i] == 0) {
                Tunetrail__Metric *me = evfx_metric(
                    &b, evfx_event(&b, proc, seq++, t + 1000000000LL), trial, "val_acc", val[i]);
                me->split = "valid";
                me->direction = "max";
            }
            if (how[i] == 0 && g_pred_m) {
                enum { CHUNK = 4096 };
                uint8_t bits[CHUNK / 8], fold[CHUNK];
                for (uint32_t off = 0; off < g_pred_m; off += CHUNK) {
                    uint32_t cnt = g_pred_m - off < CHUNK ? g_pred_m - off : CHUNK;
                    memset(bits, 0, sizeof bits);
                    for (uint32_t x = 0; x < cnt; x++) {
                        if ((double)rand() / RAND_MAX < val[i])
                            bits[x / 8] |= (uint8_t)(1u << (x % 8));
                        fold[x] = (uint8_t)((off + x) % 5);
                    }
                    evfx_predictions(&b, evfx_event(&b, proc, seq++, t + 1050000000LL), trial,
                                     g_pred_m, off, cnt, bits, fold, 5);
                }
            }
            if (i == best) {
                Tunetrail__FileAccess *fa =
                    evfx_file(&b, evfx_event(&b, proc, seq++, t + 1100000000LL), proc, model,
                              TUNETRAIL__FILE_ACCESS__MODE__MODE_WRITE);
                fa->has_closed = 1;
                fa->closed = 1;
                fa->sha256 = evfx_bin(msha, 32);
                fa->has_sha256 = 1;
            }
            Tunetrail__ProcessEnd *pe =
                evfx_process_end(&b, evfx_event(&b, proc, seq++, t + 1500000000LL), proc,
                                 how[i] == 2 ? TUNETRAIL__PROCESS_END__HOW__END_KILLED
                                             : TUNETRAIL__PROCESS_END__HOW__END_EXIT,
                                 how[i] == 1);
            /* exit_code is sent for a kill too (0): the workload as it always was */
            pe->has_exit_code = 1;
            pe->has_utime_us = pe->has_maxrss_kb = 1;
            pe->utime_us = 1500000 + rand() % 100000;
            pe->maxrss_kb = 200000 + rand() % 50000;
        }
        size_t len = evfx_pack(&b, 1, bseq++, session, &bufs[g]);
        evfx_clear(&b);
        in[g] = (struct ingest_input){.buf = bufs[g], .len = len};
        g++;
        if (g == GROUP || i + 1 == n) {
            if (ingest_batches(st, in, g, res) != 0) {
                fprintf(stderr, "bench_study: ingest failed: %s\n", res[0].error);
                return 1;
            }
            for (size_t k = 0; k < g; k++)
                free(bufs[k]);
            g = 0;
        }
    }
    double took = bench_now() - start;
    fprintf(stderr, "bench_study: %zu trials into %s in %.2f s (best trial %zu writes %s)\n", n,
            path, took, best, model);
    store_close(st);
    free(c);
    free(val);
    free(how);
    return 0;
}

/* Baselines measured on the same store: reading every leaf out of SQLite (the
 * floor of any record that lists the whole log) and, for scale, parsing them
 * into jansson trees. Prints "read_s parse_s leaves bytes". */
static int baseline(const char *path, const char *study)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT leaf FROM log WHERE study = ?1 ORDER BY idx", -1, &s,
                           NULL) != SQLITE_OK) {
        fprintf(stderr, "bench_study: %s: %s\n", path, sqlite3_errmsg(db));
        return 1;
    }
    sqlite3_bind_text(s, 1, study, -1, SQLITE_STATIC);
    size_t n = 0, bytes = 0, cap = 0;
    char **text = NULL;
    size_t *len = NULL;
    double t = bench_now();
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            text = realloc(text, cap * sizeof *text);
            len = realloc(len, cap * sizeof *len);
        }
        len[n] = (size_t)sqlite3_column_bytes(s, 0);
        text[n] = malloc(len[n]);
        memcpy(text[n], sqlite3_column_text(s, 0), len[n]);
        bytes += len[n++];
    }
    double read_s = bench_now() - t;
    t = bench_now();
    json_t *all = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(all, json_loadb(text[i], len[i], 0, NULL));
    double parse_s = bench_now() - t;
    json_decref(all);
    printf("%.4f %.4f %zu %zu\n", read_s, parse_s, n, bytes);
    for (size_t i = 0; i < n; i++)
        free(text[i]);
    free(text);
    free(len);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return 0;
}

int main(int argc, char **argv)
{
    const char *out = NULL, *model = NULL, *readp = NULL, *study = "bench";
    size_t n = 100000;
    int c;
    while ((c = getopt(argc, argv, "o:m:n:s:r:p:")) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'm': model = optarg; break;
        case 'n': n = strtoul(optarg, NULL, 10); break;
        case 's': study = optarg; break;
        case 'r': readp = optarg; break;
        case 'p': g_pred_m = (uint32_t)strtoul(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "usage: bench_study -o STORE -m MODEL [-n TRIALS] [-s STUDY] [-p EXAMPLES] | -r STORE\n");
            return 2;
        }
    }
    if (sodium_init() < 0)
        return 1;
    if (readp)
        return baseline(readp, study);
    if (!out || !model || n < 2) {
        fprintf(stderr, "usage: bench_study -o STORE -m MODEL [-n TRIALS] [-s STUDY] [-p EXAMPLES] | -r STORE\n");
        return 2;
    }
    return generate(out, model, n, study);
}
