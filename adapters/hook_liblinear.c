/* hook_liblinear.c - the liblinear adapter (liblinear.so.4): train and
 * cross_validation are trials; inside find_parameters (liblinear-train -C)
 * every (C, p) tried is its own trial; save_model names the model.
 *
 * Keys (docs/ADAPTERS.md): liblinear.solver_type (by name), eps, C,
 * nr_weight, weight_label, weight, p; liblinear.l, liblinear.n (features,
 * with the bias feature), liblinear.bias; liblinear.nr_fold for CVs and
 * searches; liblinear.model_file. Metrics: cv_accuracy (percent, valid, max)
 * for classifiers; cv_mse (valid, min) and, for cross_validation, cv_scc
 * (valid, max) for the SVR solvers.
 *
 * RATIONALE: find_parameters does not call cross_validation; a static
 * function of liblinear (find_parameter_C) trains each fold with train() and
 * predicts the held-out rows with predict(), both through the PLT, so both
 * reach us. While a search runs on this thread, consecutive train calls with
 * the same (C, p) (nr_fold of them) form one trial, and each predict is
 * scored against the label of the row it was given (found by address in
 * prob->x): the same count liblinear makes for its "log2c= ... rate=" line.
 * MSE sums the same terms in fold order instead of row order, so it may
 * differ from liblinear's in the last bits (not in the printed digits).
 *
 * Out-of-fold predictions (adapters/oof.h): cross_validation's as libsvm's
 * (the folds told from each fold's training rows); a search's from each
 * predict, the fold being the (C, p) trial's train call in progress. */
#include "adapter.h"
#include "oof.h"

#include <errno.h>
#include <linear.h>
#include <pthread.h>
#include <string.h>

#define NS "liblinear"

extern const struct tt_adapter tt_adapter_liblinear; /* about_liblinear.c */

static __thread int depth __attribute__((tls_model("initial-exec")));

/* One find_parameters call in progress on this thread. */
struct search {
    const struct problem *prob;
    const struct parameter *param;
    int nr_fold;
    int sorted;            /* prob->x is in increasing address order */
    int open;              /* a (C, p) trial is open */
    uint8_t trial[TT_UUID_LEN];
    double C, p;
    int trains;
    long total, correct;
    double sqerr;
    struct oof oof; /* the open trial's predictions (kept: oof.map) */
};
/* The cross_validation in progress on this thread, if its predictions are kept. */
static __thread struct oof *cap __attribute__((tls_model("initial-exec")));
static __thread struct search *cur_search __attribute__((tls_model("initial-exec")));

static struct adapter_last last = ADAPTER_LAST_INIT; /* the last trial opened */

/* A fork child forgets the last trial, and a search it was forked inside
 * of (by the forking thread, the child's only one) keeps going without the
 * parent's open (C, p) trial, which the parent ends. */
static void fork_child(void)
{
    adapter_last_reset(&last);
    if (cur_search)
        cur_search->open = 0;
}
TT_ADAPTER_FORK(fork_child);

#define NSOLVERS 14
static const char *const solvers[NSOLVERS] = {
    "L2R_LR", "L2R_L2LOSS_SVC_DUAL", "L2R_L2LOSS_SVC", "L2R_L1LOSS_SVC_DUAL", "MCSVM_CS",
    "L1R_L2LOSS_SVC", "L1R_LR", "L2R_LR_DUAL", NULL, NULL, NULL,
    "L2R_L2LOSS_SVR", "L2R_L2LOSS_SVR_DUAL", "L2R_L1LOSS_SVR_DUAL"};

static int is_regression(int s)
{
    return s == L2R_L2LOSS_SVR || s == L2R_L2LOSS_SVR_DUAL || s == L2R_L1LOSS_SVR_DUAL;
}

/* Opens a trial with every parameter field; C and p as given (a search
 * overrides the ones in param). Returns 1 if opened. */
static int open_trial(uint8_t t[TT_UUID_LEN], const struct problem *prob,
                      const struct parameter *param, double C, double p, int nr_fold)
{
    if (shim_trial_open(NS, t) < 0)
        return 0;
    adapter_last_set(&last, t);
    char b[16];
    if (param) {
        adapter_param_str(t, NS, "solver_type", adapter_enum_name(solvers, NSOLVERS, param->solver_type, b, sizeof b));
        adapter_param_double(t, NS, "eps", param->eps);
        adapter_param_double(t, NS, "C", C);
        adapter_param_int(t, NS, "nr_weight", param->nr_weight);
        int nw = param->nr_weight > 0 && param->weight_label && param->weight ? param->nr_weight : 0;
        adapter_param_list(t, NS, "weight_label", nw ? param->weight_label : (const int *)"", NULL, nw);
        adapter_param_list(t, NS, "weight", NULL, param->weight, nw);
        adapter_param_double(t, NS, "p", p);
    }
    if (prob) {
        adapter_param_int(t, NS, "l", prob->l);
        adapter_param_int(t, NS, "n", prob->n);
        adapter_param_double(t, NS, "bias", prob->bias);
    }
    if (nr_fold > 0)
        adapter_param_int(t, NS, "nr_fold", nr_fold);
    return 1;
}

static void search_close(struct search *s)
{
    if (!s->open)
        return;
    s->open = 0;
    oof_send_filled(&s->oof, s->trial, s->prob->y, (uint32_t)s->nr_fold);
    if (s->total > 0) {
        if (is_regression(s->param->solver_type))
            shim_trial_metric(s->trial, "cv_mse", s->sqerr / (double)s->total, -1, "valid", "min");
        else
            shim_trial_metric(s->trial, "cv_accuracy", 100.0 * (double)s->correct / (double)s->total,
                              -1, "valid", "max");
    }
    shim_trial_end(s->trial, PB_TRIAL_OK, NULL);
}

/* A fold's train call inside a search: starts the next (C, p) trial when
 * the setting changes or the previous one has all its folds. */
static void search_train(struct search *s, const struct parameter *param)
{
    if (s->open && param->C == s->C && param->p == s->p && s->trains < s->nr_fold) {
        s->trains++;
        return;
    }
    search_close(s);
    s->C = param->C;
    s->p = param->p;
    s->trains = 1;
    s->total = s->correct = 0;
    s->sqerr = 0;
    oof_clear(&s->oof);
    s->open = open_trial(s->trial, s->prob, s->param, param->C, param->p, s->nr_fold);
}

/* Row index of x in s->prob->x, or -1. */
static int search_row(const struct search *s, const struct feature_node *x)
{
    struct feature_node **rows = s->prob->x;
    int n = s->prob->l;
    if (s->sorted) {
        int lo = 0, hi = n - 1;
        while (lo <= hi) {
            int mid = lo + (hi - lo) / 2;
            if (rows[mid] == x)
                return mid;
            if ((uintptr_t)rows[mid] < (uintptr_t)x)
                lo = mid + 1;
            else
                hi = mid - 1;
        }
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (rows[i] == x)
            return i;
    return -1;
}

struct model *train(const struct problem *prob, const struct parameter *param)
{
    static struct adapter_site site;
    __auto_type real = HOOK_NEXT(&site.next, train);
    int how = adapter_open(&site, &tt_adapter_liblinear, (void *)real, depth);
    if (how == ADAPTER_MISSING)
        return NULL;
    if (how == ADAPTER_PASS) {
        struct search *s = cur_search;
        if (depth && s && param && shim_busy == 0)
            search_train(s, param); /* a fold inside find_parameters; keeps errno */
        else if (depth && cap && prob && !s)
            oof_train_fold(cap, (const void *const *)prob->x, prob->l > 0 ? (uint32_t)prob->l : 0);
        return real(prob, param);
    }
    uint8_t t[TT_UUID_LEN];
    int rec = open_trial(t, prob, param, param ? param->C : 0, param ? param->p : 0, 0);
    adapter_enter(&depth);
    struct model *m = real(prob, param);
    adapter_leave(&depth);
    if (rec) {
        int saved = errno;
        shim_trial_end(t, m ? PB_TRIAL_OK : PB_TRIAL_FAILED, m ? NULL : "train returned NULL");
        errno = saved;
    }
    return m;
}

double predict(const struct model *model_, const struct feature_node *x)
{
    /* Outside a search (nearly every call) it passes through before the
     * dladdr check: predict is timed by bench/bench_adapter.c. */
    static struct adapter_site site;
    __auto_type real = HOOK_NEXT(&site.next, predict);
    struct search *s = cur_search;
    int how = adapter_open(&site, &tt_adapter_liblinear, (void *)real, !s);
    if (how == ADAPTER_MISSING)
        return 0;
    double v = real(model_, x);
    if (how > 0 && s->open && depth) {
        int i = search_row(s, x);
        if (i >= 0) {
            double y = s->prob->y[i];
            s->total++;
            s->correct += v == y;
            s->sqerr += (v - y) * (v - y);
            oof_set(&s->oof, (uint32_t)i, v, y, s->trains - 1);
        }
    }
    return v;
}

void cross_validation(const struct problem *prob, const struct parameter *param, int nr_fold,
                      double *target)
{
    static struct adapter_site site;
    __auto_type real = HOOK_NEXT(&site.next, cross_validation);
    int how = adapter_open(&site, &tt_adapter_liblinear, (void *)real, depth);
    if (how == ADAPTER_MISSING)
        return;
    if (how == ADAPTER_PASS) {
        real(prob, param, nr_fold, target);
        return;
    }
    uint8_t t[TT_UUID_LEN];
    int rec = open_trial(t, prob, param, param ? param->C : 0, param ? param->p : 0, nr_fold);
    struct oof o;
    int keep = rec && prob && param && prob->x && prob->y && prob->l > 0 && !cap &&
               oof_begin(&o, (const void *const *)prob->x, (uint32_t)prob->l,
                         is_regression(param->solver_type) ? PB_PRED_VALUE : PB_PRED_CORRECT) ==
                   0;
    if (keep)
        cap = &o;
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
        if (is_regression(param->solver_type)) {
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

void find_parameters(const struct problem *prob, const struct parameter *param, int nr_fold,
                     double start_C, double start_p, double *best_C, double *best_p,
                     double *best_score)
{
    static struct adapter_site site;
    __auto_type real = HOOK_NEXT(&site.next, find_parameters);
    /* a search without data records nothing: passed through like a nested call */
    int how = adapter_open(&site, &tt_adapter_liblinear, (void *)real,
                           depth || !prob || !param || !prob->x);
    if (how == ADAPTER_MISSING)
        return;
    if (how == ADAPTER_PASS) {
        real(prob, param, nr_fold, start_C, start_p, best_C, best_p, best_score);
        return;
    }
    struct search s = {.prob = prob, .param = param, .nr_fold = nr_fold > 0 ? nr_fold : 1, .sorted = 1};
    for (int i = 1; i < prob->l && s.sorted; i++)
        s.sorted = (uintptr_t)prob->x[i - 1] < (uintptr_t)prob->x[i];
    if (prob->y && prob->l > 0)
        oof_begin(&s.oof, (const void *const *)prob->x, (uint32_t)prob->l,
                  is_regression(param->solver_type) ? PB_PRED_VALUE : PB_PRED_CORRECT);
    cur_search = &s;
    adapter_enter(&depth);
    real(prob, param, nr_fold, start_C, start_p, best_C, best_p, best_score);
    adapter_leave(&depth);
    cur_search = NULL;
    int saved = errno;
    search_close(&s);
    oof_end(&s.oof);
    errno = saved;
}

int save_model(const char *model_file_name, const struct model *model_)
{
    static struct adapter_site site;
    __auto_type real = HOOK_NEXT(&site.next, save_model);
    int how = adapter_open(&site, &tt_adapter_liblinear, (void *)real, 0);
    if (how == ADAPTER_MISSING)
        return -1;
    if (how == ADAPTER_PASS)
        return real(model_file_name, model_);
    int r = real(model_file_name, model_);
    if (r == 0)
        adapter_last_model_file(&last, NS, model_file_name);
    return r;
}
