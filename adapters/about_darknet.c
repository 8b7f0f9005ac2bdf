/* about_darknet.c - the darknet row of the adapter table (registry.h): its
 * library, the lines the darknet program prints while training, its refit
 * keys. The hooks are in hook_darknet.c. */
#include "registry.h"

#include <stddef.h>

/* "12: 3.20, 3.25 avg, 0.001 rate, 0.1 seconds, 64 images" (detector) or
 * "12, 0.034: 3.20, 3.25 avg, ..." (classifier). */
static void train_line(struct tt_lines *l, const char *s, const char *end)
{
    const char *p = s;
    int64_t step;
    double x, loss, avg;
    if (!tt_lines_integer(&p, end, &step))
        return;
    if (p < end && *p == ',') { /* classifier: ", <epoch>" */
        p++;
        if (!tt_lines_number(&p, end, &x))
            return;
    }
    if (p == end || *p++ != ':' || !tt_lines_number(&p, end, &loss) || p == end || *p++ != ',' ||
        !tt_lines_number(&p, end, &avg) || !tt_lines_prefix(p, end, " avg", &p))
        return;
    l->metric(l, "loss", loss, step, "train", "min");
    l->metric(l, "loss_avg", avg, step, "train", "min");
}

static const char *const libraries[] = {"libdarknet.so", NULL};
/* Read even when the hooks record (only the printed line has loss_avg). */
static const struct tt_adapter_exe exes[] = {{"darknet", train_line, 0}, {NULL, NULL, 0}};
static const char *const refit_ignore[] = {"model_file", NULL};

/* Roles in the record (docs/RECORD.md): the keys that name a file or
 * describe the data. */
static const char *const path_fields[] = {"model_file", "cfg_file", "weights_file", NULL};

/* Global (hidden in the shim): the hooks pass it to adapter_open. */
const struct tt_adapter tt_adapter_darknet = {"darknet", libraries, exes, refit_ignore,
                                        path_fields, NULL, NULL};
TT_ADAPTER_REGISTER(tt_adapter_darknet);
