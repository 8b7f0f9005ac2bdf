/* shim_trial.h - trials opened inside a process: by framework adapters
 * (the files in adapters/) and, for metrics, by the program-output scanner.
 *
 * A process may open several trials (liblinear -C, a CV search); at most one
 * is *current* per process (the last opened and not ended). Params and
 * metrics name their trial explicitly, or pass NULL for the current one; a
 * metric with no current trial is sent without a trial and the store
 * attaches it to the trial of its process (the `--trial`/root trial).
 *
 * All functions: thread-safe, never allocate, never print, keep errno; they
 * return 0 on success and -1 if the record could not be sent or spooled.
 * Strings are copied into the event before return. */
#ifndef TT_SHIM_TRIAL_H
#define TT_SHIM_TRIAL_H

#include <stdint.h>

#include "wire.h"

/* Opens a trial: emits TrialStart{trial, process, framework, opened_by =
 * "adapter", index = n-th trial of this process}. Fills uuid_out. */
int shim_trial_open(const char *framework, uint8_t uuid_out[TT_UUID_LEN]);

/* Param{trial, key, value, source}; source NULL means "adapter". */
int shim_trial_param(const uint8_t *trial, const char *key, const char *value, const char *source);

/* Metric{trial, name, value, step (-1: not stepped), split ("train", "valid",
 * "test" or NULL), direction ("max", "min" or NULL)}. */
int shim_trial_metric(const uint8_t *trial, const char *name, double value, int64_t step,
                      const char *split, const char *direction);

/* A cross-validation's out-of-fold predictions (proto Predictions): kind
 * PB_PRED_CORRECT with `correct` (n bits, LSB first), PB_PRED_VALUE with
 * `value` and `label` (n doubles each), or PB_PRED_FOLD_SCORE with `value`
 * (n folds' scores; no labels_fnv); `fold` (n bytes, the fold each
 * example was tested in) or NULL; labels_fnv from shim_labels_fnv. Sent in
 * chunks with shim_emit_later, before the trial's end. */
struct shim_predictions {
    int kind;
    uint32_t n, nr_fold;
    const uint8_t *correct;
    const double *value, *label;
    const uint8_t *fold;
    uint64_t labels_fnv;
};
int shim_trial_predictions(const uint8_t *trial, const struct shim_predictions *p);

/* FNV-1a 64 over n doubles as little-endian bytes. */
uint64_t shim_labels_fnv(const double *y, uint32_t n);

/* TrialEnd{trial, status (PB_TRIAL_*), error or NULL}; the current trial, if
 * it is this one, is no longer current. */
int shim_trial_end(const uint8_t *trial, int status, const char *error);

/* Copies the current trial's uuid into out and returns 1, or returns 0. */
int shim_trial_current(uint8_t out[TT_UUID_LEN]);

/* Number of trials this process image opened so far (0 in a fresh fork
 * child). The output scanner's built-ins for programs whose adapter records
 * the same metric exactly skip their printed copy when this is > 0. */
int shim_trial_count(void);

#endif
