/* about_liblinear.c - the liblinear row of the adapter table (registry.h):
 * its library, the lines liblinear-train -C and liblinear-predict print,
 * its refit keys. The
 * hooks are in hook_liblinear.c. */
#include "registry.h"

#include <stddef.h>

/* liblinear-train -C: "log2c= -5.00\trate=83.7037" (classification) or
 * "... mse=0.5" / "MSE=0.5" (regression): one line per C value, in order,
 * so the step is the count of such lines. */
static void train_line(struct tt_lines *l, const char *s, const char *end)
{
    const char *r;
    if (!tt_lines_prefix(s, end, "log2c=", &r))
        return;
    for (const char *q = r; q < end; q++) {
        const char *t = q;
        double v;
        if (tt_lines_prefix(q, end, "rate=", &t) && tt_lines_number(&t, end, &v)) {
            l->metric(l, "cv_accuracy", v, l->count++, "valid", "max");
            return;
        }
        if ((tt_lines_prefix(q, end, "mse=", &t) || tt_lines_prefix(q, end, "MSE=", &t)) &&
            tt_lines_number(&t, end, &v)) {
            l->metric(l, "cv_mse", v, l->count++, "valid", "min");
            return;
        }
    }
}

static const char *const libraries[] = {"liblinear.so", NULL};
/* RATIONALE: the hooks score every (C, p) of find_parameters exactly; the
 * printed line is a rounded copy. */
/* liblinear-predict trains nothing: its lines (as svm-predict's) are
 * always read. */
static const struct tt_adapter_exe exes[] = {
    {"liblinear-train", train_line, 1}, {"liblinear-predict", tt_lines_predict, 0}, {NULL, NULL, 0}};
static const char *const refit_ignore[] = {"nr_fold", "model_file", NULL};

/* Roles in the record (docs/RECORD.md): the keys that name a file or
 * describe the data, and the options of its programs that restate a field. */
static const char *const path_fields[] = {"model_file", NULL};
static const char *const info_fields[] = {"l", "n", NULL};
static const struct tt_adapter_flag flags[] = {
    {"liblinear-train", "s", "solver_type"}, {"liblinear-train", "c", "C"},
    {"liblinear-train", "p", "p"}, {"liblinear-train", "e", "eps"},
    {"liblinear-train", "B", "bias"}, {"liblinear-train", "v", "nr_fold"},
    {"liblinear-train", "w*", "weight"}, {NULL, NULL, NULL}};

/* Global (hidden in the shim): the hooks pass it to adapter_open. */
const struct tt_adapter tt_adapter_liblinear = {"liblinear", libraries, exes, refit_ignore,
                                        path_fields, info_fields, flags};
TT_ADAPTER_REGISTER(tt_adapter_liblinear);
