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

/* Reads a record file (a DSSE envelope) and returns its Statement, without
 * checking the signature (verify does that). */
json_t *record_load(const char *path, char *err, size_t errlen);

/* As record_load, and *keyids (if keyids is non-NULL) = a new JSON array of
 * the envelope's non-empty signature keyids (unverified; caller decrefs). */
json_t *record_load_keyids(const char *path, json_t **keyids, char *err, size_t errlen);

#endif
