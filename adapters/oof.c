/* oof.c - out-of-fold predictions kept during a cross-validation; see oof.h. */
#include "oof.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "shim_trial.h"

static uint32_t slot_of(const void *x, uint32_t mask)
{
    uint64_t h = (uint64_t)(uintptr_t)x * 0x9e3779b97f4a7c15ULL;
    return (uint32_t)(h >> 32) & mask;
}

int oof_begin(struct oof *o, const void *const *rows, uint32_t n, int kind)
{
    memset(o, 0, sizeof *o);
    if (!rows || n == 0 || n > OOF_ROWS_MAX)
        return -1;
    int saved = errno;
    uint32_t slots = 2;
    while (slots < 2 * n)
        slots <<= 1;
    /* one mapping: keys, indexes, values, folds, stamps, bits (aligned parts first) */
    size_t len = (size_t)slots * sizeof(void *) + (size_t)slots * sizeof(uint32_t) +
                 (kind == PB_PRED_VALUE ? (size_t)n * sizeof(double) : 0) + 2 * (size_t)n +
                 ((size_t)n + 7) / 8;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        errno = saved;
        return -1;
    }
    uint8_t *p = m;
    o->map = m;
    o->maplen = len;
    o->n = n;
    o->kind = kind;
    o->key = (const void **)p;
    p += (size_t)slots * sizeof(void *);
    o->idx = (uint32_t *)p;
    p += (size_t)slots * sizeof(uint32_t);
    if (kind == PB_PRED_VALUE) {
        o->value = (double *)p;
        p += (size_t)n * sizeof(double);
    }
    o->fold = p;
    p += n;
    o->stamp = p;
    p += n;
    o->correct = p;
    o->mask = slots - 1;
    memset(o->fold, 0xff, n);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t s = slot_of(rows[i], o->mask);
        while (o->key[s]) {
            if (o->key[s] == rows[i]) { /* two rows, one pointer: rows cannot be told apart */
                oof_end(o);
                errno = saved;
                return -1;
            }
            s = (s + 1) & o->mask;
        }
        o->key[s] = rows[i];
        o->idx[s] = i;
    }
    errno = saved;
    return 0;
}

int64_t oof_row(const struct oof *o, const void *x)
{
    if (!o->map || !x)
        return -1;
    for (uint32_t s = slot_of(x, o->mask); o->key[s]; s = (s + 1) & o->mask)
        if (o->key[s] == x)
            return o->idx[s];
    return -1;
}

void oof_train_fold(struct oof *o, const void *const *rows, uint32_t n)
{
    if (!o->map || o->folds_bad)
        return;
    if (o->folds >= 254 || !rows || n >= o->n) {
        o->folds_bad = 1;
        return;
    }
    uint8_t mark = (uint8_t)(o->folds + 1);
    for (uint32_t j = 0; j < n; j++) {
        int64_t i = oof_row(o, rows[j]);
        if (i < 0) {
            o->folds_bad = 1;
            return;
        }
        o->stamp[i] = mark;
    }
    for (uint32_t i = 0; i < o->n; i++) {
        if (o->stamp[i] == mark)
            continue;
        if (o->fold[i] != 0xff) { /* tested twice: not a partition */
            o->folds_bad = 1;
            return;
        }
        o->fold[i] = (uint8_t)o->folds;
    }
    o->folds++;
}

void oof_set(struct oof *o, uint32_t i, double v, double y, int f)
{
    if (!o->map || i >= o->n)
        return;
    if (o->kind == PB_PRED_VALUE)
        o->value[i] = v;
    else if (v == y)
        o->correct[i / 8] |= (uint8_t)(1u << (i % 8));
    o->fold[i] = f >= 0 && f < 255 ? (uint8_t)f : 0xff;
}

void oof_clear(struct oof *o)
{
    if (!o->map)
        return;
    memset(o->fold, 0xff, o->n);
    memset(o->correct, 0, ((size_t)o->n + 7) / 8);
}

static void send(struct oof *o, const uint8_t *trial, const double *target, const double *y,
                 uint32_t nr_fold)
{
    int folds = !o->folds_bad;
    for (uint32_t i = 0; i < o->n && folds; i++)
        folds = o->fold[i] != 0xff;
    struct shim_predictions p = {
        .kind = o->kind,
        .n = o->n,
        .nr_fold = nr_fold,
        .correct = o->correct,
        .value = target,
        .label = y,
        .fold = folds ? o->fold : NULL,
        .labels_fnv = shim_labels_fnv(y, o->n),
    };
    shim_trial_predictions(trial, &p);
}

void oof_send(struct oof *o, const uint8_t *trial, const double *target, const double *y,
              uint32_t nr_fold)
{
    if (!o->map || !target || !y)
        return;
    int saved = errno;
    if (o->kind == PB_PRED_CORRECT) {
        memset(o->correct, 0, ((size_t)o->n + 7) / 8);
        for (uint32_t i = 0; i < o->n; i++)
            if (target[i] == y[i])
                o->correct[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    send(o, trial, target, y, nr_fold);
    errno = saved;
}

void oof_send_filled(struct oof *o, const uint8_t *trial, const double *y, uint32_t nr_fold)
{
    if (!o->map || !y)
        return;
    for (uint32_t i = 0; i < o->n; i++)
        if (o->fold[i] == 0xff) /* a row never predicted: no record rather than a hole */
            return;
    int saved = errno;
    send(o, trial, o->value, y, nr_fold);
    errno = saved;
}

void oof_end(struct oof *o)
{
    if (o->map)
        munmap(o->map, o->maplen);
    memset(o, 0, sizeof *o);
}
