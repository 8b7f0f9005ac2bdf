/* preds.h - a trial's out-of-fold predictions joined from the chunks the
 * store keeps (table `predictions`; docs/RECORD.md, "Out-of-fold
 * predictions"): for the trial's leaf (a summary with the data's digest)
 * and for the record's selection statistics (the data itself).
 *
 * Error convention: -1 on failure with err set; arrays are malloc'd and
 * freed by preds_free. */
#ifndef TT_PREDS_H
#define TT_PREDS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct sqlite3;
struct sqlite3_stmt;

enum { PREDS_CORRECT = 1, PREDS_VALUE = 2, PREDS_FOLD_SCORE = 3 }; /* Predictions.Kind */

struct preds {
    int kind;
    uint32_t n, nr_fold;
    uint64_t labels_fnv;
    uint8_t *correct;     /* CORRECT: (n + 7) / 8 bytes, bit i (LSB first) of byte i/8 */
    uint8_t *value;       /* VALUE, FOLD_SCORE: 8n bytes, little-endian doubles */
    uint8_t *label;       /* VALUE: 8n bytes (FOLD_SCORE: NULL) */
    uint8_t *fold;        /* n bytes, or NULL: the folds are not known */
    char omitted[120];    /* non-empty: chunks that do not make one whole (why) */
};

/* Bytes of the data of a (kind, n) record: (n + 7) / 8 bits (CORRECT), n
 * values then n labels (VALUE), n scores (FOLD_SCORE), doubles 8 bytes
 * each. */
size_t preds_data_len(int kind, uint32_t n);
/* The data as one span: p->correct (CORRECT) or p->value. */
const uint8_t *preds_data(const struct preds *p);
/* The leaf's name of a kind ("correct", "value", "fold_scores"), and back
 * (-1 for an unknown name or NULL). */
const char *preds_kind_name(int kind);
int preds_kind_of(const char *name);

/* The statement preds_read uses, prepared on db; NULL if the store has no
 * `predictions` table (a store no writer of this version opened). */
struct sqlite3_stmt *preds_prepare(struct sqlite3 *db);

/* Joins trial_id's chunks with q (from preds_prepare; NULL: none). Returns
 * 1 with *p filled (p->omitted set when the chunks do not join: then no
 * arrays), 0 if the trial has none, -1 on an error. */
int preds_read(struct sqlite3_stmt *q, int64_t trial_id, struct preds *p, char *err,
               size_t errlen);
void preds_free(struct preds *p);

/* SHA-256 of the joined data: kind (1 byte), n (4 bytes, little-endian),
 * then the bits (CORRECT), the values and the labels (VALUE) or the scores
 * (FOLD_SCORE), then the folds if known. */
void preds_digest(const struct preds *p, uint8_t out[32]);

/* The leaf's "predictions" object: {kind ("correct" | "value" |
 * "fold_scores"), n, nr_fold, folds (bool), labels_fnv (16 hex; not for
 * fold_scores), right (CORRECT: rows predicted right), sha256} or
 * {omitted: why}. New reference. */
json_t *preds_summary(const struct preds *p);

#endif
