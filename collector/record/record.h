/* record.h - the provenance record's content (docs/RECORD.md): building the
 * in-toto Statement for a study from the store, and loading one back from a
 * record file. Used by attest, verify and report.
 *
 * Error convention: NULL / -1 on failure with "<what> (<which file/flag>)" in
 * err[errlen]; returned json_t objects are owned by the caller (json_decref). */
#ifndef TT_RECORD_H
#define TT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "leafscan.h"
#include "store.h"

#define RECORD_PREDICATE_TYPE "https://tunetrail.dev/search-provenance/v1"
#define RECORD_STATEMENT_TYPE "https://in-toto.io/Statement/v1"

struct record_opts {
    const char *study;     /* NULL: the producing trial's study (or the default study) */
    const char *model;     /* subject file, or NULL for a study report (no producedBy/released) */
    const char *objective; /* "NAME:max" / "NAME:min" / NULL = default (documented in RECORD.md) */
};

/* A record in memory. The Statement's predicate has no `trials` member: the
 * leaves are kept as their canonical texts (spliced into the payload by
 * record_payload) and as scanned fields (for statistics and plots), because
 * a JSON tree of 100k leaves costs seconds. */
struct record {
    json_t *stmt;             /* in-toto Statement, predicate.trials left out */
    size_t n;                 /* leaves, in log order */
    struct leafscan_leaf *leaf;    /* leaf[i]: scanned fields of leaf i */
    const char **text;        /* text[i], len[i]: canonical text of leaf i (in the arena) */
    size_t *len;
    struct leafscan_arena arena, arena2; /* arena2: the second scanning thread's */
    /* record_build reads the leaf texts straight into the payload buffer,
     * after room for the Statement's head: '[' text[0] ',' text[1] ... at
     * pbuf + pstart, so the payload needs no copy of them (record_payload). */
    uint8_t *pbuf;
    size_t pbufsize, pstart, pend;
    char *raw; /* record_from_payload: the payload the texts point into (free) */
};

/* Builds the whole record for a study from the store: reads and checks the
 * study's log, finds the trial that wrote o->model (by SHA-256). 0 or -1. */
int record_build(tt_store *st, const struct record_opts *o, struct record *out, char *err,
                 size_t errlen);

/* Reads a record file (a DSSE envelope) without checking its signature
 * (verify does that); the leaves are re-serialised canonically and scanned.
 * keyids (may be NULL) receives a new array of the signatures' keyids. */
int record_load(const char *path, struct record *out, json_t **keyids, char *err, size_t errlen);

/* Reads a record's payload (a Statement's JSON text; out takes ownership of
 * the malloc'd payload, also on failure). The Statement without `trials` is
 * parsed with jansson; each trials[i] is scanned where it lies, and its
 * bytes, exactly as in the payload, are leaf i (attest writes the log's
 * stored texts, and a signed payload cannot be re-formatted). -1 with err
 * ("trials[17]: ...", "not JSON ...") on a malformed payload. */
int record_from_payload(char *payload, size_t len, struct record *out, char *err, size_t errlen);

void record_free(struct record *r);

/* The payload: the Statement with predicate.trials = the leaf texts, as one
 * JSON text of *len bytes at *start, with at least room writable bytes
 * before it (for dsse_write_inplace's PAE prefix). The memory belongs to r
 * (record_free). -1 if out of memory. */
int record_payload(struct record *r, size_t room, uint8_t **start, size_t *len);

/* A trial's out-of-fold data as the record carries it (predicate.predictions,
 * docs/RECORD.md "Out-of-fold predictions"): the bytes its leaf's
 * predictions.sha256 covers after the 5-byte head (the bits; the values
 * then the labels; or the fold scores), and its folds (n bytes) or NULL.
 * The leaf gives kind and n. */
struct record_pred {
    const char *trial; /* uuid */
    const uint8_t *data;
    size_t dlen;
    const uint8_t *fold;
    size_t leaf;       /* the trial's last leaf with predictions */
    void *own;         /* freed by record_preds_free */
};
struct record_preds {
    struct record_pred *v; /* sorted by trial (strcmp) */
    size_t n;
};
void record_preds_free(struct record_preds *p);

/* attest: the data of every trial whose last leaf has predictions, read
 * from the store (trial_id[i]: the store's id of leaf i's trial) and checked
 * against the leaf's digest; *json: predicate.predictions, [{"trial",
 * "data" (base64), "fold" (base64, when known)}] in log order. 0, or -1
 * with err (the store's data differ from what a leaf sealed). */
int record_preds_from_store(tt_store *st, const struct record *rec, const int64_t *trial_id,
                            struct record_preds *out, json_t **json, char *err, size_t errlen);

/* verify: predicate.predictions decoded and checked: each entry's digest is
 * its trial's leaf's, and every trial whose last leaf has predictions has
 * an entry. 0, or -1 with why. */
int record_preds_from_json(const json_t *arr, const struct record *rec, struct record_preds *out,
                           char *why, size_t whylen);
/* The entry of trial, or NULL. */
const struct record_pred *record_preds_get(const struct record_preds *p, const char *trial);
/* SHA-256 of (kind, n, data, fold) as preds.c hashes it; kind from the leaf's
 * "correct" / "value" / "fold_scores", -1 if unknown. */
int record_pred_digest(const char *kind, int64_t n, const struct record_pred *e, uint8_t out[32]);

/* The computed sections, from scanned leaves alone (attest from the store's
 * log, verify from a record's `trials`: same leaves -> identical JSON).
 * leaf[0..n-1]: every leaf in log order (the last leaf of a trial counts);
 * excluded: [{"trial": uuid}] left out of the search; produced: the uuid of
 * the trial that wrote the subject, or NULL; objective: a metric name or NULL
 * (default: the metric with a direction most trials reported); dir_max: 1
 * max, 0 min, -1 the metric's recorded direction. Outputs new references to
 * predicate.search (without running / excluded / compute.all_processes),
 * predicate.selection, predicate.choices, producedBy.refit_of (NULL when
 * not a refit) and the held-out selection: [{"sha256", "metric",
 * "direction", "models_compared", "released_rank", "selected_release",
 * "selection_reason"}] per evaluation data file, sorted by sha256, merged
 * into predicate.holdout.files (any out pointer may be NULL). Evaluations
 * are the excluded trials whose entry names the trial they evaluate
 * ("evaluates"). -1 with err (naming the metrics that exist) when no trial
 * reported the objective. */
int record_compute(const struct leafscan_leaf *leaf, size_t n, json_t *excluded, const char *produced,
                   const char *objective, int dir_max, const struct record_preds *preds,
                   json_t **search, json_t **selection, json_t **choices, json_t **refit,
                   json_t **holdout, char *err, size_t errlen);

/* "NAME:max" / "NAME:min" / "NAME" (dir_max = -1). -1 with err if malformed. */
int record_objective_parse(const char *spec, char *name, size_t namelen, int *dir_max, char *err,
                           size_t errlen);

/* 1 if a param key names a repetition (seed, run, rep...), see RECORD.md. */
int record_seed_like(const char *key);

/* With TUNETRAIL_TIMING set, prints the time since the previous call to
 * stderr as "  <what>  <seconds> s" (the benchmark's phase breakdown). */
void record_phase(const char *what);

/* Checks the record at recpath against model (and the receipts in
 * receipts, if not NULL; the signing key from pubfile, else the keys under
 * $TUNETRAIL_HOME): every check runs even after one fails. Returns 0 if all
 * hold, 1 if some fail, with *line a malloc'd "verify: OK ..." or
 * "verify: FAILED <check>: <why>; ok: ..." line; -1 with err if the file
 * cannot be read (*line NULL). */
int record_verify(const char *recpath, const char *model, const char *pubfile,
                  const char *receipts, char **line, char *err, size_t errlen);

#endif
