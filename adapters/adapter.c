/* adapter.c - helpers shared by the framework adapters; see adapter.h. */
#include "adapter.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int adapter_lib_matches(const void *addr, const char *lib_prefix)
{
    Dl_info di;
    if (!addr || !dladdr(addr, &di) || !di.dli_fname)
        return 0;
    const char *b = strrchr(di.dli_fname, '/');
    b = b ? b + 1 : di.dli_fname;
    return strncmp(b, lib_prefix, strlen(lib_prefix)) == 0;
}

int adapter_active(struct adapter_site *site, void *real, const struct tt_adapter *a)
{
    if (!real || !shim_cfg.enabled || shim_busy)
        return 0;
    int o = __atomic_load_n(&site->owned, __ATOMIC_RELAXED);
    if (o == 0) {
        int saved = errno;
        shim_busy++; /* dladdr may take the loader lock and allocate */
        o = -1;
        for (int i = 0; a->libraries[i] && o < 0; i++)
            if (adapter_lib_matches(real, a->libraries[i]))
                o = i + 1;
        shim_busy--;
        errno = saved;
        __atomic_store_n(&site->owned, o, __ATOMIC_RELAXED);
    }
    return o > 0 ? o : 0;
}

static int param_kv(const uint8_t *trial, const char *prefix, const char *field, const char *value)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s", prefix, field);
    return shim_trial_param(trial, key, value, NULL);
}

void adapter_fmt_double(double v, char *buf, size_t cap)
{
    /* %.15g is exact for every value typed on a command line; the rare
     * double that needs more gets all 17 digits. */
    snprintf(buf, cap, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, cap, "%.17g", v);
}

int adapter_param_str(const uint8_t *trial, const char *prefix, const char *field, const char *value)
{
    int saved = errno;
    int r = param_kv(trial, prefix, field, value);
    errno = saved;
    return r;
}

int adapter_param_int(const uint8_t *trial, const char *prefix, const char *field, long long value)
{
    int saved = errno;
    char v[32];
    snprintf(v, sizeof v, "%lld", value);
    int r = param_kv(trial, prefix, field, v);
    errno = saved;
    return r;
}

int adapter_param_double(const uint8_t *trial, const char *prefix, const char *field, double value)
{
    int saved = errno;
    char v[40];
    adapter_fmt_double(value, v, sizeof v);
    int r = param_kv(trial, prefix, field, v);
    errno = saved;
    return r;
}

int adapter_param_list(const uint8_t *trial, const char *prefix, const char *field, const int *ints,
                       const double *doubles, int n)
{
    int saved = errno;
    char v[ADAPTER_VALUE_MAX];
    size_t len = 0;
    v[len++] = '[';
    for (int i = 0; i < n; i++) {
        char item[40];
        if (ints)
            snprintf(item, sizeof item, "%d", ints[i]);
        else
            adapter_fmt_double(doubles ? doubles[i] : 0, item, sizeof item);
        size_t il = strlen(item);
        if (len + il + 2 + 5 >= sizeof v) {
            memcpy(v + len, "...", 3);
            len += 3;
            break;
        }
        if (i) {
            memcpy(v + len, ", ", 2);
            len += 2;
        }
        memcpy(v + len, item, il);
        len += il;
    }
    v[len++] = ']';
    v[len] = 0;
    int r = param_kv(trial, prefix, field, v);
    errno = saved;
    return r;
}

const char *adapter_enum_name(const char *const *names, int count, int value, char *buf, size_t cap)
{
    if (value >= 0 && value < count && names[value])
        return names[value];
    snprintf(buf, cap, "%d", value);
    return buf;
}

int adapter_cv_accuracy(const double *target, const double *y, int n, double *acc)
{
    if (n <= 0)
        return -1;
    int correct = 0;
    for (int i = 0; i < n; i++)
        if (target[i] == y[i])
            correct++;
    *acc = 100.0 * correct / n;
    return 0;
}

int adapter_cv_regression(const double *target, const double *y, int n, double *mse, double *scc)
{
    if (n <= 0)
        return -1;
    /* the same sums, in the same order, as svm-train's do_cross_validation,
     * so the figures agree to the last bit with what it prints */
    double total_error = 0, sumv = 0, sumy = 0, sumvv = 0, sumyy = 0, sumvy = 0;
    for (int i = 0; i < n; i++) {
        double yi = y[i], v = target[i];
        total_error += (v - yi) * (v - yi);
        sumv += v;
        sumy += yi;
        sumvv += v * v;
        sumyy += yi * yi;
        sumvy += v * yi;
    }
    *mse = total_error / n;
    *scc = ((n * sumvy - sumv * sumy) * (n * sumvy - sumv * sumy)) /
           ((n * sumvv - sumv * sumv) * (n * sumyy - sumy * sumy));
    return 0;
}

int adapter_model_file(const uint8_t *trial, const char *prefix, const char *path)
{
    if (!trial || !path)
        return -1;
    int saved = errno;
    char abs[PATH_MAX];
    const char *p = shim_path_absolute(AT_FDCWD, path, abs, sizeof abs) == 0 ? abs : path;
    int r = param_kv(trial, prefix, "model_file", p);
    errno = saved;
    return r;
}

void adapter_last_set(struct adapter_last *l, const uint8_t trial[TT_UUID_LEN])
{
    pthread_mutex_lock(&l->lock);
    memcpy(l->trial, trial, TT_UUID_LEN);
    l->have = 1;
    pthread_mutex_unlock(&l->lock);
}

void adapter_last_reset(struct adapter_last *l)
{
    pthread_mutex_init(&l->lock, NULL);
    l->have = 0;
}

void adapter_last_model_file(struct adapter_last *l, const char *prefix, const char *path)
{
    uint8_t t[TT_UUID_LEN];
    pthread_mutex_lock(&l->lock);
    int have = l->have;
    memcpy(t, l->trial, TT_UUID_LEN);
    pthread_mutex_unlock(&l->lock);
    if (have)
        adapter_model_file(t, prefix, path); /* keeps errno */
}
