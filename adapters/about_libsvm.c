/* about_libsvm.c - the libsvm row of the adapter table (registry.h): its
 * library, the lines svm-train and svm-predict print, its refit keys. The
 * hooks are in hook_libsvm.c. */
#include "registry.h"

#include <string.h>

/* svm-train -v: "Cross Validation Accuracy = 82.963%", "... Mean squared
 * error = X", "... Squared correlation coefficient = X". */
static void svm_train_line(struct tt_lines *l, const char *s, const char *end)
{
    if (end - s > 17 && s[0] == 'C' && !memcmp(s, "Cross Validation ", 17)) {
        const char *r = s + 17;
        if (!tt_lines_prefixed(l, r, end, "Accuracy = ", "cv_accuracy", "valid", "max") &&
            !tt_lines_prefixed(l, r, end, "Mean squared error = ", "cv_mse", "valid", "min"))
            tt_lines_prefixed(l, r, end, "Squared correlation coefficient = ", "cv_scc", "valid", "max");
    }
}

static const char *const libraries[] = {"libsvm.so", NULL};
/* RATIONALE: svm_cross_validation computes cv_* exactly from the folds'
 * predictions; svm-train's printed line is a rounded copy. svm-predict
 * trains nothing, so its lines are always read. */
static const struct tt_adapter_exe exes[] = {
    {"svm-train", svm_train_line, 1}, {"svm-predict", tt_lines_predict, 0}, {NULL, NULL, 0}};
/* A refit (svm-train without -v after a grid search) differs from the
 * search's trials in these and is otherwise the same configuration. */
static const char *const refit_ignore[] = {"nr_fold", "model_file", NULL};

/* Roles in the record (docs/RECORD.md): the keys that name a file or
 * describe the data, and the options of its programs that restate a field. */
static const char *const path_fields[] = {"model_file", NULL};
static const char *const info_fields[] = {"l", "n_features", NULL};
static const struct tt_adapter_flag flags[] = {
    {"svm-train", "s", "svm_type"}, {"svm-train", "t", "kernel_type"}, {"svm-train", "d", "degree"},
    {"svm-train", "g", "gamma"}, {"svm-train", "r", "coef0"}, {"svm-train", "c", "C"},
    {"svm-train", "n", "nu"}, {"svm-train", "p", "p"}, {"svm-train", "m", "cache_size"},
    {"svm-train", "e", "eps"}, {"svm-train", "h", "shrinking"}, {"svm-train", "b", "probability"},
    {"svm-train", "v", "nr_fold"}, {"svm-train", "w*", "weight"}, {NULL, NULL, NULL}};

/* Global (hidden in the shim): the hooks pass it to adapter_open. */
const struct tt_adapter tt_adapter_libsvm = {"libsvm", libraries, exes, refit_ignore,
                                        path_fields, info_fields, flags};
TT_ADAPTER_REGISTER(tt_adapter_libsvm);
