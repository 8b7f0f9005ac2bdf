/* bench_adapter - adapter costs (DESIGN.md budgets), same-run baselines:
 *   1. a hooked call that passes through: liblinear's predict() outside a
 *      search, called through the global scope (as a program's PLT would:
 *      the preloaded shim's wrapper) vs the library's own predict; budget
 *      <= 50 ns added. Run under LD_PRELOAD=libtunetrail.so (bench_adapter.sh).
 *   2. a recorded metric: shim_trial_metric (this binary links the shim's
 *      logic objects and talks to a draining SOCK_SEQPACKET peer, as under
 *      `tunetrail run`) vs an empty call through a function pointer; budget
 *      <= 200 ns added. (A bare run's spool adds a CRC-32C per 64 KiB
 *      frame: several times more per metric.)
 * Prints medians of 7 rounds. */
#include "bench.h"
#include "shim.h"
#include "shim_trial.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linear.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof *v, cmpd);
    return v[n / 2];
}

typedef double (*predict_fn)(const struct model *, const struct feature_node *);
static volatile double sink;

static double time_predict(predict_fn f, const struct model *m, const struct feature_node *x, long n)
{
    double t0 = bench_now();
    for (long i = 0; i < n; i++)
        sink += f(m, x);
    return (bench_now() - t0) / n * 1e9;
}

static void print_null(const char *s) { (void)s; }

/* The agent's side of the socket: accepts the one connection and drains it. */
static void *drain(void *arg)
{
    int c = accept(*(int *)arg, NULL, NULL);
    static char buf[1 << 17];
    while (c >= 0 && recv(c, buf, sizeof buf, 0) > 0)
        ;
    return NULL;
}

static __attribute__((noinline)) int noop_metric(const uint8_t *t, const char *name, double v, int64_t step,
                                                 const char *split, const char *dir)
{
    __asm__ volatile("" ::"r"(t), "r"(name), "r"(split), "r"(dir), "x"(v), "r"(step) : "memory");
    return 0;
}

int main(void)
{
    enum { ROUNDS = 7 };
    const long N = 2000000, M = 200000;
    /* ---- 1. pass-through ---- */
    void *h = dlopen("liblinear.so.4", RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        fprintf(stderr, "bench_adapter: %s\n", dlerror());
        return 1;
    }
    struct model *(*real_train)(const struct problem *, const struct parameter *) = dlsym(h, "train");
    predict_fn real_predict = (predict_fn)dlsym(h, "predict");
    predict_fn hooked = (predict_fn)dlsym(RTLD_DEFAULT, "predict");
    void (*quiet)(void (*)(const char *)) = dlsym(h, "set_print_string_function");
    Dl_info di;
    int shim = hooked && dladdr((void *)hooked, &di) && strstr(di.dli_fname, "libtunetrail");
    struct feature_node rows[4][3] = {{{1, 1}, {2, 0}, {-1, 0}}, {{1, 0}, {2, 1}, {-1, 0}},
                                      {{1, 1}, {2, 1}, {-1, 0}}, {{1, -1}, {2, -1}, {-1, 0}}};
    struct feature_node *xs[4] = {rows[0], rows[1], rows[2], rows[3]};
    double ys[4] = {1, -1, 1, -1};
    struct problem prob = {4, 2, ys, xs, -1};
    struct parameter par = {.solver_type = L2R_L2LOSS_SVC, .eps = 0.01, .C = 1};
    if (quiet)
        quiet(print_null);
    struct model *m = real_train(&prob, &par);
    double a[ROUNDS], b[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        a[r] = time_predict(real_predict, m, rows[0], N);
        b[r] = time_predict(hooked, m, rows[0], N);
    }
    double base = median(a, ROUNDS), hk = median(b, ROUNDS);
    printf("pass-through  predict(): bare %.1f ns, via %s %.1f ns, added %.1f ns (budget 50) ratio %.3f\n",
           base, shim ? "shim" : "global scope (NO SHIM PRELOADED)", hk, hk - base, hk / base);

    /* ---- 2. recorded metric ---- */
    char home[] = "/tmp/tt-bench-adapter-XXXXXX";
    if (!mkdtemp(home))
        return 1;
    char hv[PATH_MAX + 32], sv[PATH_MAX + 32];
    snprintf(hv, sizeof hv, "TUNETRAIL_HOME=%s", home);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/s", home);
    snprintf(sv, sizeof sv, "TUNETRAIL_SOCK=%s", sa.sun_path);
    int ls = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 1) < 0)
        return 1;
    pthread_t th;
    pthread_create(&th, NULL, drain, &ls);
    char *const env[] = {hv, sv, NULL};
    shim_config_load(&shim_cfg, env, NULL);
    char *argv[] = {"bench_adapter", NULL};
    shim_proc_init(1, argv, (char **)env);
    uint8_t t[TT_UUID_LEN];
    shim_trial_open("bench", t);
    int (*volatile nop)(const uint8_t *, const char *, double, int64_t, const char *, const char *) = noop_metric;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = bench_now();
        for (long i = 0; i < M; i++)
            nop(t, "loss", (double)i, i, "train", "min");
        a[r] = (bench_now() - t0) / M * 1e9;
        t0 = bench_now();
        for (long i = 0; i < M; i++)
            shim_trial_metric(t, "loss", (double)i, i, "train", "min");
        b[r] = (bench_now() - t0) / M * 1e9;
    }
    shim_trial_end(t, PB_TRIAL_OK, NULL);
    base = median(a, ROUNDS);
    hk = median(b, ROUNDS);
    printf("metric        shim_trial_metric(): empty call %.1f ns, recorded %.1f ns, added %.1f ns (budget 200)\n",
           base, hk, hk - base);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", home);
    if (system(cmd) != 0)
        return 1;
    return 0;
}
