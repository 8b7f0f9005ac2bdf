/* record_preds.c - the out-of-fold data a record carries (predicate.predictions,
 * docs/RECORD.md "Out-of-fold predictions"): read from the store by attest,
 * decoded and checked against the leaves by verify. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preds.h"
#include "record.h"
#include "util.h"
#include "wire.h"

void record_preds_free(struct record_preds *p)
{
    for (size_t i = 0; p && i < p->n; i++)
        free(p->v[i].own);
    if (p)
        free(p->v);
    if (p)
        p->v = NULL, p->n = 0;
}

static int by_trial(const void *a, const void *b)
{
    const struct record_pred *x = a, *y = b;
    return strcmp(x->trial, y->trial);
}

/* The last leaf with predictions of each trial, in log order: idx[0..*n). */
static size_t *pred_leaves(const struct record *rec, size_t *n)
{
    size_t k = 0;
    for (size_t i = 0; i < rec->n; i++)
        k += rec->leaf[i].pred_kind && rec->leaf[i].trial;
    *n = 0;
    if (!k)
        return NULL;
    size_t *idx = malloc(k * sizeof *idx);
    json_t *seen = json_object();
    if (!idx || !seen) {
        free(idx);
        json_decref(seen);
        return NULL;
    }
    for (size_t i = rec->n; i-- > 0;) { /* from the end: the first seen is the last leaf */
        const struct leafscan_leaf *l = &rec->leaf[i];
        if (!l->pred_kind || !l->trial || json_object_get(seen, l->trial))
            continue;
        json_object_set_new(seen, l->trial, json_true());
        idx[k - 1 - (*n)++] = i;
    }
    json_decref(seen);
    memmove(idx, idx + (k - *n), *n * sizeof *idx);
    return idx;
}

static char *b64(const uint8_t *p, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(cap);
    if (s)
        sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

int record_preds_from_store(tt_store *st, const struct record *rec, const int64_t *trial_id,
                            struct record_preds *out, json_t **json, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    *json = NULL;
    size_t n;
    size_t *idx = pred_leaves(rec, &n);
    if (!n)
        return 0;
    size_t *distinct = NULL, ndistinct = 0;
    store_reader *rd = store_reader_open(st, err, errlen);
    json_t *arr = json_array();
    out->v = calloc(n, sizeof *out->v);
    int rc = -1;
    if (!rd || !arr || !out->v) {
        if (rd)
            tt_fail(err, errlen, "out of memory");
        goto done;
    }
    /* RATIONALE: the trials of one search are usually tested on the same
     * folds: an entry whose folds equal an earlier entry's names it
     * ("fold_same_as": its index) instead of repeating n bytes (10 kB of a
     * 10,000-example CV, where its bits take 1.25 kB). */
    distinct = malloc(n * sizeof *distinct);
    if (!distinct) {
        tt_fail(err, errlen, "out of memory");
        goto done;
    }
    for (size_t j = 0; j < n; j++) {
        const struct leafscan_leaf *l = &rec->leaf[idx[j]];
        struct preds p;
        int have = store_read_predictions(rd, trial_id[idx[j]], &p, err, errlen);
        if (have < 0)
            goto done;
        uint8_t d[32];
        char hex[65];
        if (have && !p.omitted[0])
            preds_digest(&p, d);
        if (!have || p.omitted[0] || strcmp(wire_hex(hex, d, 32), l->pred_sha256)) {
            preds_free(&p);
            tt_fail(err, errlen,
                    "trial %s: the store's out-of-fold predictions are not those its leaf %zu "
                    "sealed: the store was altered",
                    l->trial, idx[j]);
            goto done;
        }
        struct record_pred *e = &out->v[out->n++];
        size_t dlen = preds_data_len(p.kind, p.n);
        uint8_t *own = malloc(dlen + (p.fold ? p.n : 0) + 1);
        if (!own) {
            preds_free(&p);
            tt_fail(err, errlen, "out of memory");
            goto done;
        }
        memcpy(own, preds_data(&p), dlen);
        if (p.fold)
            memcpy(own + dlen, p.fold, p.n);
        *e = (struct record_pred){l->trial, own, dlen, p.fold ? own + dlen : NULL, idx[j], own};
        long same = -1;
        for (size_t di = 0; e->fold && di < ndistinct && same < 0; di++) {
            const struct record_pred *q = &out->v[distinct[di]];
            if (rec->leaf[q->leaf].pred_n == (int64_t)p.n && !memcmp(q->fold, e->fold, p.n))
                same = (long)distinct[di];
        }
        if (e->fold && same < 0)
            distinct[ndistinct++] = out->n - 1;
        char *a = b64(e->data, e->dlen), *f = e->fold && same < 0 ? b64(e->fold, p.n) : NULL;
        json_t *o = a ? json_pack("{s:s,s:s}", "trial", l->trial, "data", a) : NULL;
        if (o && f)
            json_object_set_new(o, "fold", json_string(f));
        if (o && same >= 0)
            json_object_set_new(o, "fold_same_as", json_integer(same));
        free(a);
        free(f);
        preds_free(&p);
        if (!o || json_array_append_new(arr, o)) {
            tt_fail(err, errlen, "out of memory");
            goto done;
        }
    }
    qsort(out->v, out->n, sizeof *out->v, by_trial); /* after: fold_same_as indexes log order */
    *json = arr;
    arr = NULL;
    rc = 0;
done:
    free(distinct);
    store_reader_close(rd);
    json_decref(arr);
    free(idx);
    if (rc)
        record_preds_free(out);
    return rc;
}

static uint8_t *unb64(const char *s, size_t *n)
{
    size_t len = s ? strlen(s) : 0, cap = len / 4 * 3 + 3;
    uint8_t *b = malloc(cap ? cap : 1);
    if (!b || !s ||
        sodium_base642bin(b, cap, s, len, NULL, n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(b);
        return NULL;
    }
    return b;
}

int record_preds_from_json(const json_t *arr, const struct record *rec, struct record_preds *out,
                           char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    size_t n;
    size_t *idx = pred_leaves(rec, &n);
    json_t *want = json_object(); /* trial -> its last leaf with predictions */
    for (size_t j = 0; j < n; j++)
        json_object_set_new(want, rec->leaf[idx[j]].trial, json_integer((json_int_t)idx[j]));
    free(idx);
    size_t m = json_array_size(arr);
    if (arr && !json_is_array(arr)) {
        snprintf(why, whylen, "predictions is not an array");
        goto bad;
    }
    out->v = calloc(m ? m : 1, sizeof *out->v);
    if (!out->v) {
        snprintf(why, whylen, "out of memory");
        goto bad;
    }
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        const char *u = json_string_value(json_object_get(e, "trial"));
        json_t *li = u ? json_object_get(want, u) : NULL;
        if (!li) {
            snprintf(why, whylen, "predictions[%zu]: no trial's last leaf commits to predictions of %s",
                     i, u ? u : "(no trial)");
            goto bad;
        }
        const struct leafscan_leaf *l = &rec->leaf[json_integer_value(li)];
        size_t dlen = 0, flen = 0;
        uint8_t *d = unb64(json_string_value(json_object_get(e, "data")), &dlen);
        const char *fs = json_string_value(json_object_get(e, "fold"));
        json_t *sa = json_object_get(e, "fold_same_as");
        uint8_t *f = fs ? unb64(fs, &flen) : NULL;
        if (!fs && sa) { /* the folds of an earlier entry, by its index */
            json_int_t k = json_is_integer(sa) ? json_integer_value(sa) : -1;
            const struct record_pred *q = k >= 0 && (size_t)k < i ? &out->v[k] : NULL;
            if (!q || !q->fold) {
                free(d);
                snprintf(why, whylen, "predictions[%zu]: fold_same_as is not an earlier entry with folds", i);
                goto bad;
            }
            flen = (size_t)rec->leaf[q->leaf].pred_n;
            f = malloc(flen ? flen : 1);
            if (f)
                memcpy(f, q->fold, flen);
            fs = "";
        }
        uint8_t *own = d ? malloc(dlen + flen + 1) : NULL;
        if (!own || (fs && !f)) {
            free(d);
            free(f);
            free(own);
            snprintf(why, whylen, "predictions[%zu] (trial %s): data or fold is not base64", i, u);
            goto bad;
        }
        memcpy(own, d, dlen);
        if (f)
            memcpy(own + dlen, f, flen);
        free(d);
        free(f);
        struct record_pred *r = &out->v[out->n++];
        *r = (struct record_pred){l->trial, own, dlen, fs ? own + dlen : NULL,
                                  (size_t)json_integer_value(li), own};
        uint8_t dig[32];
        char hex[65];
        if ((fs && (int64_t)flen != l->pred_n) ||
            record_pred_digest(l->pred_kind, l->pred_n, r, dig) != 0 ||
            strcmp(wire_hex(hex, dig, 32), l->pred_sha256)) {
            snprintf(why, whylen,
                     "predictions[%zu]: trial %s's data is not what its leaf's sha256 commits to", i,
                     u);
            goto bad;
        }
        json_object_del(want, u);
    }
    if (json_object_size(want)) {
        const char *k = json_object_iter_key(json_object_iter(want));
        snprintf(why, whylen, "trial %s's leaf commits to predictions the record does not carry (%zu such trials)",
                 k, json_object_size(want));
        goto bad;
    }
    json_decref(want);
    qsort(out->v, out->n, sizeof *out->v, by_trial);
    return 0;
bad:
    json_decref(want);
    record_preds_free(out);
    return -1;
}
