/* about_torch.c - the PyTorch row of the adapter table (registry.h). The
 * hooks are Python (python/tunetrail_hook/hook_torch.py): no library, no
 * program; the row names the framework (tunetrail_framework_loaded marks it
 * loaded, so a process that imports torch and fails before its first
 * optimizer step is a failed trial) and gives its keys' roles to the
 * record. torch.manual_seed is a seed by its name (docs/RECORD.md). */
#include "registry.h"

#include <stddef.h>

static const char *const refit_ignore[] = {"model_file", NULL};
static const char *const path_fields[] = {"model_file", NULL};

const struct tt_adapter tt_adapter_torch = {"torch", NULL, NULL, refit_ignore, path_fields, NULL, NULL};
TT_ADAPTER_REGISTER(tt_adapter_torch);
