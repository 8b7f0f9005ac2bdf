/* preds.c - out-of-fold predictions joined from their chunks; see preds.h. */
#include "preds.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "wire.h"

size_t preds_data_len(int kind, uint32_t n)
{
    return kind == PREDS_CORRECT ? ((size_t)n + 7) / 8
           : kind == PREDS_VALUE ? 16 * (size_t)n
                                 : 8 * (size_t)n;
}

const uint8_t *preds_data(const struct preds *p)
{
    return p->kind == PREDS_CORRECT ? p->correct : p->value;
}

static const char *const kind_names[] = {[PREDS_CORRECT] = "correct", [PREDS_VALUE] = "value",
                                         [PREDS_FOLD_SCORE] = "fold_scores"};

const char *preds_kind_name(int kind)
{
    return kind >= PREDS_CORRECT && kind <= PREDS_FOLD_SCORE ? kind_names[kind] : NULL;
}

int preds_kind_of(const char *name)
{
    for (int k = PREDS_CORRECT; name && k <= PREDS_FOLD_SCORE; k++)
        if (!strcmp(name, kind_names[k]))
            return k;
    return -1;
}

sqlite3_stmt *preds_prepare(sqlite3 *db)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v3(db,
                           "SELECT kind, n, off, count, nr_fold, labels_fnv, correct, value, label,"
                           " fold FROM predictions WHERE trial_id = ?1 ORDER BY off, origin_id, seq",
                           -1, SQLITE_PREPARE_PERSISTENT, &q, NULL) != SQLITE_OK)
        return NULL;
    return q;
}

void preds_free(struct preds *p)
{
    free(p->correct);
    free(p->value);
    free(p->fold);
    p->correct = p->value = p->label = p->fold = NULL;
}

static int omit(struct preds *p, const char *why)
{
    preds_free(p);
    snprintf(p->omitted, sizeof p->omitted, "%s", why);
    return 1;
}

int preds_read(sqlite3_stmt *q, int64_t trial_id, struct preds *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    if (!q)
        return 0;
    sqlite3_bind_int64(q, 1, trial_id);
    int rc, rows = 0, folds = -1, r = 1;
    uint32_t next = 0; /* examples joined so far */
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int kind = sqlite3_column_int(q, 0);
        uint32_t n = (uint32_t)sqlite3_column_int64(q, 1), off = (uint32_t)sqlite3_column_int64(q, 2),
                 count = (uint32_t)sqlite3_column_int64(q, 3);
        uint32_t nr_fold = (uint32_t)sqlite3_column_int64(q, 4);
        uint64_t fnv = (uint64_t)sqlite3_column_int64(q, 5);
        int has_fold = sqlite3_column_bytes(q, 9) > 0;
        if (p->omitted[0])
            continue;
        if (rows++ == 0) {
            p->kind = kind, p->n = n, p->nr_fold = nr_fold, p->labels_fnv = fnv;
            folds = has_fold;
            size_t bytes = preds_data_len(kind, n);
            p->correct = kind == PREDS_CORRECT ? calloc(1, bytes) : NULL;
            p->value = kind != PREDS_CORRECT ? calloc(1, bytes) : NULL;
            p->label = kind == PREDS_VALUE && p->value ? p->value + 8 * (size_t)n : NULL;
            p->fold = has_fold ? malloc(n) : NULL;
            if ((!p->correct && !p->value) || (has_fold && !p->fold)) {
                tt_fail(err, errlen, "out of memory");
                r = -1;
                break;
            }
        }
        if (kind != p->kind || n != p->n || nr_fold != p->nr_fold || fnv != p->labels_fnv ||
            has_fold != folds) {
            omit(p, "its chunks disagree on kind, n, folds or labels");
            continue;
        }
        if (off != next) {
            omit(p, off < next ? "two chunks cover the same examples"
                               : "a chunk is missing");
            continue;
        }
        if ((kind == PREDS_CORRECT ? (size_t)sqlite3_column_bytes(q, 6) != ((size_t)count + 7) / 8
                                   : (size_t)sqlite3_column_bytes(q, 7) != 8 * (size_t)count ||
                                         (p->label && (size_t)sqlite3_column_bytes(q, 8) !=
                                                          8 * (size_t)count)) ||
            (has_fold && (size_t)sqlite3_column_bytes(q, 9) != count) ||
            (kind == PREDS_CORRECT && off % 8)) {
            omit(p, "a chunk's data does not match its count");
            continue;
        }
        if (kind == PREDS_CORRECT)
            memcpy(p->correct + off / 8, sqlite3_column_blob(q, 6), ((size_t)count + 7) / 8);
        else {
            memcpy(p->value + 8 * (size_t)off, sqlite3_column_blob(q, 7), 8 * (size_t)count);
            if (p->label)
                memcpy(p->label + 8 * (size_t)off, sqlite3_column_blob(q, 8), 8 * (size_t)count);
        }
        if (has_fold)
            memcpy(p->fold + off, sqlite3_column_blob(q, 9), count);
        next = off + count;
    }
    if (r == 1 && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        tt_fail(err, errlen, "predictions: %s", sqlite3_errstr(rc));
        r = -1;
    }
    sqlite3_reset(q);
    if (r < 0) {
        preds_free(p);
        return -1;
    }
    if (!rows)
        return 0;
    if (!p->omitted[0] && next != p->n) {
        char why[120];
        snprintf(why, sizeof why, "its chunks cover %u of %u examples", next, p->n);
        omit(p, why);
    }
    return 1;
}

void preds_digest(const struct preds *p, uint8_t out[32])
{
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    uint8_t head[5] = {(uint8_t)p->kind, (uint8_t)p->n, (uint8_t)(p->n >> 8),
                       (uint8_t)(p->n >> 16), (uint8_t)(p->n >> 24)};
    crypto_hash_sha256_update(&h, head, sizeof head);
    crypto_hash_sha256_update(&h, preds_data(p), preds_data_len(p->kind, p->n));
    if (p->fold)
        crypto_hash_sha256_update(&h, p->fold, p->n);
    crypto_hash_sha256_final(&h, out);
}

json_t *preds_summary(const struct preds *p)
{
    if (p->omitted[0])
        return json_pack("{s:s}", "omitted", p->omitted);
    uint8_t d[32];
    char hex[65], fnv[17];
    preds_digest(p, d);
    snprintf(fnv, sizeof fnv, "%016llx", (unsigned long long)p->labels_fnv);
    json_t *o = json_pack("{s:s, s:I, s:I, s:b, s:s}", "kind", preds_kind_name(p->kind), "n", (json_int_t)p->n, "nr_fold", (json_int_t)p->nr_fold, "folds",
                          p->fold != NULL, "sha256", wire_hex(hex, d, 32));
    if (o && p->kind != PREDS_FOLD_SCORE)
        json_object_set_new(o, "labels_fnv", json_string(fnv));
    if (o && p->kind == PREDS_CORRECT) {
        json_int_t right = 0;
        for (size_t i = 0; i < ((size_t)p->n + 7) / 8; i++)
            right += __builtin_popcount(p->correct[i]);
        json_object_set_new(o, "right", json_integer(right));
    }
    return o;
}
