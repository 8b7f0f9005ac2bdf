/* about_sklearn.c - the scikit-learn row of the adapter table (registry.h).
 * No library and no program: the hook is Python
 * (python/tunetrail_hook/hook_sklearn.py); the row lets it mark the
 * framework loaded (a script that fails before its first trial is a failed
 * trial) and tells the record how a refit of a search candidate may differ
 * from it. */
#include "registry.h"

#include <stddef.h>

static const char *const libraries[] = {NULL};
/* The refit's joblib/pickle file (sklearn.model_file); its params are the
 * candidate's get_params() and row, so nothing else may differ. */
static const char *const refit_ignore[] = {"model_file", NULL};
static const char *const path_fields[] = {"model_file", NULL};
/* The cross-validation's fold count and a halving search's iteration
 * describe how a candidate was scored, not the candidate; candidate (its
 * row in cv_results_, on the refit the best row) is no choice, but a refit
 * matches on it: exactly its candidate's row, not the same params at
 * another resource level of a halving search. */
static const char *const info_fields[] = {"n_splits", "iter", "candidate", NULL};

static const struct tt_adapter tt_adapter_sklearn = {"sklearn", libraries, NULL, refit_ignore,
                                                     path_fields, info_fields, NULL};
TT_ADAPTER_REGISTER(tt_adapter_sklearn);
