/* report.h - renders a provenance record (docs/RECORD.md) for people: one
 * self-contained HTML page (inline CSS and SVG drawn here, no script, no
 * fetch: a Content-Security-Policy forbids it) or a Markdown "Search
 * disclosure" section for a model card. `tunetrail report` is cmd_report
 * (cli/report.c); the record comes from record_build (--study) or record_load.
 *
 * Error convention: 0 on success, -1 with "<what>" in err[errlen]. */
#ifndef TT_REPORT_H
#define TT_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "record.h"

enum report_format { REPORT_HTML, REPORT_MD };

struct report_opts {
    enum report_format format;
    const char *source;   /* what the record was read from, shown in the footer (may be NULL) */
    const json_t *keyids; /* JSON array of the envelope's signing keyids, or NULL (unknown) */
};

/* Writes the report of record rec to out: the numbers from rec->stmt's
 * predicate, the plots from the scanned leaves rec->leaf[0..n-1] (the last
 * leaf of each trial counts, search.excluded trials left out). rec is only
 * read (borrowed). Trials are drawn as density cells instead of one mark each
 * beyond REPORT_DENSITY_N points, so a 100,000-trial record gives a file of a
 * few hundred kB. Fails only if the Statement has no predicate or a write
 * fails. */
int report_write(FILE *out, const struct record *rec, const struct report_opts *o, char *err,
                 size_t errlen);

#define REPORT_DENSITY_N 3000

#endif
