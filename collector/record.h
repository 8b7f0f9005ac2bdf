/* record.h - the provenance record's content (docs/RECORD.md): building the
 * in-toto Statement for a study from the store, and loading one back from a
 * record file. Used by attest, verify and report.
 *
 * Error convention: NULL / -1 on failure with "<what> (<which file/flag>)" in
 * err[errlen]; returned json_t objects are owned by the caller (json_decref). */
#ifndef TT_RECORD_H
#define TT_RECORD_H

#include <stddef.h>

#include <jansson.h>

#include "store.h"

#define RECORD_PREDICATE_TYPE "https://tunetrail.dev/search-provenance/v1"
#define RECORD_STATEMENT_TYPE "https://in-toto.io/Statement/v1"

struct record_opts {
    const char *study;     /* NULL: the producing trial's study (or the default study) */
    const char *model;     /* subject file, or NULL for a study report (no producedBy/released) */
    const char *objective; /* "NAME:max" / "NAME:min" / NULL = default (documented in RECORD.md) */
};

/* Builds the whole Statement (subject, predicate with `trials`). */
json_t *record_build(tt_store *st, const struct record_opts *o, char *err, size_t errlen);

/* The computed sections, from leaf objects alone (attest from the store's
 * log, verify from a record's `trials`; same input -> identical JSON).
 * trials: every leaf in log order (the last leaf of a trial counts);
 * excluded: [{"trial": uuid}] left out of the search; produced: the uuid of
 * the trial that wrote the subject, or NULL; objective: a metric name or NULL
 * (default: the metric with a direction most trials reported); dir_max: 1
 * max, 0 min, -1 the metric's recorded direction. Outputs new references to
 * predicate.search (without running / excluded / compute.all_processes),
 * predicate.selection, predicate.choices and producedBy.refit_of (NULL when
 * not a refit). -1 with err when no trial reported the objective. */
int record_compute(json_t *trials, json_t *excluded, const char *produced, const char *objective,
                   int dir_max, json_t **search, json_t **selection, json_t **choices,
                   json_t **refit, char *err, size_t errlen);

/* "NAME:max" / "NAME:min" / "NAME" (dir_max = -1). -1 with err if malformed. */
int record_objective_parse(const char *spec, char *name, size_t namelen, int *dir_max, char *err,
                           size_t errlen);

/* 1 if a param key names a repetition (seed, run, rep...), see RECORD.md. */
int record_seed_like(const char *key);

/* ISO 8601 UTC string with milliseconds for a time in ns. */
json_t *record_iso_ns(long long ns);

/* Reads a record file (a DSSE envelope) and returns its Statement, without
 * checking the signature (verify does that). */
json_t *record_load(const char *path, char *err, size_t errlen);

/* As record_load, and *keyids (if keyids is non-NULL) = a new JSON array of
 * the envelope's non-empty signature keyids (unverified; caller decrefs). */
json_t *record_load_keyids(const char *path, json_t **keyids, char *err, size_t errlen);

#endif
