/* about_optuna.c - the Optuna row of the adapter table (registry.h). The
 * hooks are Python (python/tunetrail_hook/hook_optuna.py): no library, no
 * program; the row names the framework (tunetrail_framework_loaded) and
 * says that an Optuna trial's number and state describe the trial, not a
 * choice of the search (the suggested params are the choices). */
#include "registry.h"

#include <stddef.h>

static const char *const info_fields[] = {"number", "state", NULL};

const struct tt_adapter tt_adapter_optuna = {"optuna", NULL, NULL, NULL, NULL, info_fields, NULL};
TT_ADAPTER_REGISTER(tt_adapter_optuna);
