/* about_xgboost.c - the XGBoost row of the adapter table (registry.h). The
 * hooks are Python (python/tunetrail_hook/hook_xgboost.py): no library, no
 * program; the row names the framework (tunetrail_framework_loaded marks it
 * loaded, so a process that imports xgboost and fails before training is a
 * failed trial) and gives its keys' roles and refit keys to the record. */
#include "registry.h"

#include <stddef.h>

/* A refit after a search with early stopping trains on more rows, without
 * early stopping or folds, and writes the model. */
static const char *const refit_ignore[] = {"model_file", "nfold", "early_stopping_rounds",
                                           "best_iteration", "num_row", NULL};

/* Roles in the record (docs/RECORD.md): the keys that name a file or
 * describe the data or the run's outcome rather than a choice. */
static const char *const path_fields[] = {"model_file", NULL};
static const char *const info_fields[] = {"num_row", "num_col", "best_iteration", NULL};

const struct tt_adapter tt_adapter_xgboost = {"xgboost", NULL, NULL, refit_ignore,
                                           path_fields, info_fields, NULL};
TT_ADAPTER_REGISTER(tt_adapter_xgboost);
