/* about_fann.c - the FANN row of the adapter table (registry.h): its
 * libraries and refit keys. FANN ships no training program whose lines we
 * read. The hooks are in hook_fann.c. */
#include "registry.h"

#include <stddef.h>

/* The order is the hooks' (hook_fann.c): the third is the double build.
 * libfixedfann cannot train; any other library is not FANN. */
static const char *const libraries[] = {"libfann.so", "libfloatfann.so", "libdoublefann.so", NULL};
static const char *const refit_ignore[] = {"model_file", NULL};

/* Roles in the record (docs/RECORD.md): the keys that name a file or
 * describe the data. */
static const char *const path_fields[] = {"model_file", NULL};
static const char *const info_fields[] = {"train.num_data", NULL};

/* Global (hidden in the shim): the hooks pass it to adapter_open. */
const struct tt_adapter tt_adapter_fann = {"fann", libraries, NULL, refit_ignore,
                                        path_fields, info_fields, NULL};
TT_ADAPTER_REGISTER(tt_adapter_fann);
