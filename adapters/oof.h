/* oof.h - out-of-fold predictions of a cross-validation (issue 13;
 * docs/RECORD.md "Out-of-fold predictions"): what an adapter keeps while a
 * CV runs and sends with shim_trial_predictions before the trial ends.
 *
 * The folds: a framework's CV trains each fold on every row but the fold's
 * own, with the same row pointers the caller's problem holds (libsvm and
 * liblinear copy prob->x[perm[j]]). The rows a fold's training leaves out
 * are the rows it tests; oof_train_fold() is given each fold's training
 * rows, in order, and numbers the left-out rows with the fold's index.
 *
 * RATIONALE: memory from mmap, not malloc (the shim does not allocate from
 * the program's heap), sized by the problem (about 22 bytes per row), and
 * returned at oof_end; rows beyond OOF_ROWS_MAX are not kept (no record,
 * nothing else changes). Per thread: one CV at a time on a thread. */
#ifndef TT_OOF_H
#define TT_OOF_H

#include <stddef.h>
#include <stdint.h>

#include "shim.h"

#define OOF_ROWS_MAX (1u << 24)

struct oof {
    uint32_t n;
    int kind;              /* PB_PRED_CORRECT or PB_PRED_VALUE */
    uint8_t *correct;      /* n bits (CORRECT) */
    double *value;         /* n (VALUE) */
    uint8_t *fold;         /* n: fold of each row, 0xff while unknown */
    int folds;             /* folds seen by oof_train_fold */
    int folds_bad;         /* a fold's rows could not be told: no folds sent */
    /* row pointer -> index, open addressing (2 * n slots, a power of two) */
    const void **key;
    uint32_t *idx, mask;
    uint8_t *stamp;        /* n: the fold whose training last named the row */
    void *map;
    size_t maplen;
};

/* Maps room for n rows (rows[i]: the CV problem's row pointers) of kind.
 * Returns 0, or -1 (nothing kept: n is 0 or too big, mmap failed, or two
 * rows share a pointer). Keeps errno. */
SHIM_HIDDEN int oof_begin(struct oof *o, const void *const *rows, uint32_t n, int kind);

/* Index of row pointer x, or -1. */
SHIM_HIDDEN int64_t oof_row(const struct oof *o, const void *x);

/* One fold's training rows (in the framework's call order): the rows not
 * among them get fold number o->folds, then o->folds++. */
SHIM_HIDDEN void oof_train_fold(struct oof *o, const void *const *rows, uint32_t n);

/* Fills the record from a CV's predictions (target) and labels (y), both n
 * long, and sends it on trial; nr_fold as the program asked. Keeps errno. */
SHIM_HIDDEN void oof_send(struct oof *o, const uint8_t *trial, const double *target,
                          const double *y, uint32_t nr_fold);

/* Sends what o holds as filled row by row (oof_set), with y the labels. */
SHIM_HIDDEN void oof_send_filled(struct oof *o, const uint8_t *trial, const double *y,
                                 uint32_t nr_fold);

/* Row i predicted v (label y) in fold f. */
SHIM_HIDDEN void oof_set(struct oof *o, uint32_t i, double v, double y, int f);

/* Clears what oof_set filled (the next trial of a search reuses o). */
SHIM_HIDDEN void oof_clear(struct oof *o);

/* Unmaps; o is zeroed. */
SHIM_HIDDEN void oof_end(struct oof *o);

#endif
