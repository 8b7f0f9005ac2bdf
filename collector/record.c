/* record.c - builds the provenance record's Statement (docs/RECORD.md).
 * Placeholder until the builder lands; see record.h. */
#include "record.h"

#include <stdio.h>

json_t *record_build(tt_store *st, const struct record_opts *o, char *err, size_t errlen)
{
    (void)st;
    (void)o;
    snprintf(err, errlen, "record_build: not implemented yet");
    return NULL;
}
