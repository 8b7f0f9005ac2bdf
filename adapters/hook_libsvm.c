/* hook_libsvm.c - the libsvm adapter (libsvm.so.3): svm_train and
 * svm_cross_validation are trials, svm_save_model names the trial's model.
 *
 * Keys (docs/ADAPTERS.md): libsvm.<every svm_parameter field>, svm_type and
 * kernel_type by name, weight_label / weight as lists; libsvm.l (instances)
 * and libsvm.n_features (largest feature index); libsvm.nr_fold for a CV;
 * libsvm.model_file. Metrics of a CV, computed from its predictions and the
 * labels exactly as svm-train prints them: cv_accuracy (percent, valid,
 * max) for C_SVC / NU_SVC / ONE_CLASS; cv_mse (valid, min) and cv_scc
 * (valid, max) for EPSILON_SVR / NU_SVR.
 *
 * RATIONALE: svm_cross_validation calls svm_train once per fold through the
 * PLT (and svm_train calls itself for probability estimates); a per-thread
 * depth keeps those inner calls out: one CV = one trial.
 *
 * Out-of-fold predictions (adapters/oof.h): every CV's predictions, right
 * or wrong per row (or the values, for SVR), with the fold each row was
 * tested in, told from the rows each of the CV's own svm_train calls
 * trains on (cap_depth keeps out svm_train's inner calls for probability
 * estimates, which train on subsets of a fold).
 *
 * RATIONALE (fork reset): svm_save_model names the last trial opened in
 * this process; a fork child that saves a model must not name its
 * parent's trial. */
#include "adapter.h"
#include "oof.h"

#include <errno.h>
#include <libsvm/svm.h>
#include <pthread.h>
#include <string.h>

#define NS "libsvm"

extern const struct tt_adapter tt_adapter_libsvm; /* about_libsvm.c */

static __thread int depth __attribute__((tls_model("initial-exec")));
static struct adapter_last last = ADAPTER_LAST_INIT; /* the last trial opened */

/* The CV in progress on this thread, if its predictions are kept. */
static __thread struct oof *cap __attribute__((tls_model("initial-exec")));
static __thread int cap_depth __attribute__((tls_model("initial-exec")));

static void fork_child(void)
{
    adapter_last_reset(&last);
}
TT_ADAPTER_FORK(fork_child);

static const char *const svm_types[] = {"C_SVC", "NU_SVC", "ONE_CLASS", "EPSILON_SVR", "NU_SVR"};
static const char *const kernels[] = {"LINEAR", "POLY", "RBF", "SIGMOID", "PRECOMPUTED"};

static void record_params(const uint8_t *t, const struct svm_problem *prob,
                          const struct svm_parameter *p)
{
    char b[16];
    adapter_param_str(t, NS, "svm_type", adapter_enum_name(svm_types, 5, p->svm_type, b, sizeof b));
    adapter_param_str(t, NS, "kernel_type", adapter_enum_name(kernels, 5, p->kernel_type, b, sizeof b));
    adapter_param_int(t, NS, "degree", p->degree);
    adapter_param_double(t, NS, "gamma", p->gamma);
    adapter_param_double(t, NS, "coef0", p->coef0);
    adapter_param_double(t, NS, "cache_size", p->cache_size);
    adapter_param_double(t, NS, "eps", p->eps);
    adapter_param_double(t, NS, "C", p->C);
    adapter_param_int(t, NS, "nr_weight", p->nr_weight);
    int nw = p->nr_weight > 0 && p->weight_label && p->weight ? p->nr_weight : 0;
    adapter_param_list(t, NS, "weight_label", nw ? p->weight_label : (const int *)"", NULL, nw);
    adapter_param_list(t, NS, "weight", NULL, p->weight, nw);
    adapter_param_double(t, NS, "nu", p->nu);
    adapter_param_double(t, NS, "p", p->p);
    adapter_param_int(t, NS, "shrinking", p->shrinking);
    adapter_param_int(t, NS, "probability", p->probability);
    if (!prob)
        return;
    adapter_param_int(t, NS, "l", prob->l);
    /* one pass over the sparse rows: linear in the data, small next to
     * training, which is at least quadratic in l */
    int maxf = 0;
    if (p->kernel_type == PRECOMPUTED) {
        maxf = prob->l;
    } else if (prob->x) {
        for (int i = 0; i < prob->l; i++)
            for (const struct svm_node *n = prob->x[i]; n && n->index != -1; n++)
                if (n->index > maxf)
                    maxf = n->index;
    }
    adapter_param_int(t, NS, "n_features", maxf);
}

static int opened(uint8_t t[TT_UUID_LEN], const struct svm_problem *prob,
                  const struct svm_parameter *param)
{
    if (shim_trial_open(NS, t) < 0)
        return 0;
    adapter_last_set(&last, t);
    if (param)
        record_params(t, prob, param);
    return 1;
}

struct svm_model *svm_train(const struct svm_problem *prob, const struct svm_parameter *param)
{
    static struct adapter_site site;
    __auto_type real = HOOK_NEXT(&site.next, svm_train);
    int how = adapter_open(&site, &tt_adapter_libsvm, (void *)real, depth);
    if (how == ADAPTER_MISSING)
        return NULL;
    if (how == ADAPTER_PASS) {
        struct oof *o = cap;
        if (!o || cap_depth || !prob)
            return real(prob, param);
        oof_train_fold(o, (const void *const *)prob->x, prob->l > 0 ? (uint32_t)prob->l : 0);
        cap_depth++;
        struct svm_model *m = real(prob, param);
        cap_depth--;
        return m;
    }
    uint8_t t[TT_UUID_LEN];
    int rec = opened(t, prob, param);
    adapter_enter(&depth);
    struct svm_model *m = real(prob, param);
    adapter_leave(&depth);
    if (rec) {
        int saved = errno;
        shim_trial_end(t, m ? PB_TRIAL_OK : PB_TRIAL_FAILED, m ? NULL : "svm_train returned NULL");
        errno = saved;
    }
    return m;
}

void svm_cross_validation(const struct svm_problem *prob, const struct svm_parameter *param,
                          int nr_fold, double *target)
{
    static struct adapter_site site;
    __auto_type real = HOOK_NEXT(&site.next, svm_cross_validation);
    int how = adapter_open(&site, &tt_adapter_libsvm, (void *)real, depth);
    if (how == ADAPTER_MISSING)
        return;
    if (how == ADAPTER_PASS) {
        real(prob, param, nr_fold, target);
        return;
    }
    uint8_t t[TT_UUID_LEN];
    int rec = opened(t, prob, param);
    struct oof o;
    int keep = 0;
    if (rec) {
        adapter_param_int(t, NS, "nr_fold", nr_fold);
        keep = prob && param && prob->x && prob->y && prob->l > 0 && !cap &&
               oof_begin(&o, (const void *const *)prob->x, (uint32_t)prob->l,
                         param->svm_type == EPSILON_SVR || param->svm_type == NU_SVR
                             ? PB_PRED_VALUE
                             : PB_PRED_CORRECT) == 0;
        if (keep)
            cap = &o;
    }
    adapter_enter(&depth);
    real(prob, param, nr_fold, target);
    adapter_leave(&depth);
    if (keep)
        cap = NULL;
    if (!rec)
        return;
    int saved = errno;
    if (keep) {
        if (target)
            oof_send(&o, t, target, prob->y, nr_fold > 0 ? (uint32_t)nr_fold : 0);
        oof_end(&o);
    }
    if (prob && param && target && prob->y) {
        if (param->svm_type == EPSILON_SVR || param->svm_type == NU_SVR) {
            double mse, scc;
            if (adapter_cv_regression(target, prob->y, prob->l, &mse, &scc) == 0) {
                shim_trial_metric(t, "cv_mse", mse, -1, "valid", "min");
                shim_trial_metric(t, "cv_scc", scc, -1, "valid", "max");
            }
        } else {
            double acc;
            if (adapter_cv_accuracy(target, prob->y, prob->l, &acc) == 0)
                shim_trial_metric(t, "cv_accuracy", acc, -1, "valid", "max");
        }
    }
    shim_trial_end(t, PB_TRIAL_OK, NULL);
    errno = saved;
}

int svm_save_model(const char *model_file_name, const struct svm_model *model)
{
    static struct adapter_site site;
    __auto_type real = HOOK_NEXT(&site.next, svm_save_model);
    int how = adapter_open(&site, &tt_adapter_libsvm, (void *)real, 0);
    if (how == ADAPTER_MISSING)
        return -1;
    if (how == ADAPTER_PASS)
        return real(model_file_name, model);
    int r = real(model_file_name, model);
    if (r == 0)
        adapter_last_model_file(&last, NS, model_file_name);
    return r;
}
