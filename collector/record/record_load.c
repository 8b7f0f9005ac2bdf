/* record_load.c - reads a provenance record file (a DSSE envelope, dsse.h)
 * back into a struct record (record.h, docs/RECORD.md): the Statement
 * without predicate.trials, and each leaf as its canonical text plus scanned
 * fields. No signature check here: `tunetrail verify` does that; `report`
 * only renders. */
#include "record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsse.h"
#include "util.h"

/* Whole file into a malloc'd NUL-terminated buffer; records are one line of
 * up to tens of MB, so a single read is simplest and fastest. */
static char *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        tt_fail(err, errlen, "cannot open record: %s (%s)", strerror(errno), path);
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) < 0)
        goto ioerr;
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) < 0)
        goto ioerr;
    if (!(buf = malloc((size_t)n + 1))) {
        tt_fail(err, errlen, "out of memory reading record (%s)", path);
        goto err;
    }
    if (fread(buf, 1, (size_t)n, f) != (size_t)n)
        goto ioerr;
    buf[n] = '\0';
    *len = (size_t)n;
    fclose(f);
    return buf;
ioerr:
    tt_fail(err, errlen, "cannot read record: %s (%s)", errno ? strerror(errno) : "short read",
             path);
err:
    free(buf);
    fclose(f);
    return NULL;
}

struct elems {
    struct record *r;
    size_t base; /* offset of the array in r->raw */
    size_t cap;  /* room in r->leaf / text / len */
    char *err;
    size_t errlen;
};

static int one_leaf(void *ctx, size_t i, size_t start, size_t end)
{
    struct elems *e = ctx;
    struct record *r = e->r;
    char serr[200];
    if (i == e->cap) {
        size_t cap = e->cap * 2;
        struct leafscan_leaf *leaf = realloc(r->leaf, cap * sizeof *leaf);
        if (leaf)
            r->leaf = leaf;
        const char **text = realloc(r->text, cap * sizeof *text);
        if (text)
            r->text = text;
        size_t *len = realloc(r->len, cap * sizeof *len);
        if (len)
            r->len = len;
        if (!leaf || !text || !len) {
            snprintf(e->err, e->errlen, "out of memory reading the record's trials");
            return -1;
        }
        e->cap = cap;
    }
    r->text[i] = r->raw + e->base + start;
    r->len[i] = end - start;
    if (leafscan(r->text[i], r->len[i], &r->leaf[i], &r->arena, serr, sizeof serr) < 0) {
        snprintf(e->err, e->errlen, "trials[%zu]: %s", i, serr);
        return -1;
    }
    r->n = i + 1;
    return 0;
}

int record_from_payload(char *payload, size_t len, struct record *out, char *err, size_t errlen)
{
    size_t ps, pe, ts = 0, te = 0;
    char serr[200];
    char *head = NULL;
    memset(out, 0, sizeof *out);
    out->raw = payload;
    int r = leafscan_member(payload, len, "predicate", &ps, &pe, serr, sizeof serr);
    if (r == 0)
        r = leafscan_member(payload + ps, pe - ps, "trials", &ts, &te, serr, sizeof serr);
    if (r < 0) {
        tt_fail(err, errlen, "payload is not JSON: %s", serr);
        goto err;
    }
    if (r == 0) {
        ts += ps;
        te += ps;
    }
    /* the Statement without the trials: small enough for jansson */
    size_t hn = r == 0 ? ts + 2 + (len - te) : len;
    if (!(head = malloc(hn + 1)))
        goto oom;
    if (r == 0) {
        memcpy(head, payload, ts);
        memcpy(head + ts, "[]", 2);
        memcpy(head + ts + 2, payload + te, len - te);
    } else
        memcpy(head, payload, len);
    json_error_t je;
    if (!(out->stmt = json_loadb(head, hn, 0, &je))) {
        tt_fail(err, errlen, "payload is not JSON: %s at line %d column %d", je.text, je.line,
                 je.column);
        goto err;
    }
    free(head);
    head = NULL;
    const char *t = json_string_value(json_object_get(out->stmt, "_type"));
    const char *pt = json_string_value(json_object_get(out->stmt, "predicateType"));
    if (!t || strcmp(t, RECORD_STATEMENT_TYPE)) {
        tt_fail(err, errlen, "not an in-toto Statement v1: _type is %s", t ? t : "missing");
        goto err;
    }
    if (!pt || strcmp(pt, RECORD_PREDICATE_TYPE)) {
        tt_fail(err, errlen, "not a tunetrail search provenance: predicateType is %s",
                 pt ? pt : "missing");
        goto err;
    }
    json_t *pred = json_object_get(out->stmt, "predicate");
    if (!json_is_object(pred)) {
        tt_fail(err, errlen, "record has no predicate object");
        goto err;
    }
    if (!json_is_array(json_object_get(out->stmt, "subject"))) {
        tt_fail(err, errlen, "record has no subject array");
        goto err;
    }
    if (!json_is_array(json_object_get(pred, "trials")) && r == 0) {
        tt_fail(err, errlen, "predicate.trials is not an array");
        goto err;
    }
    json_object_del(pred, "trials");
    /* non-NULL even for an empty log; grown by one_leaf */
    struct elems e = {out, ts, 1024, err, errlen};
    out->leaf = calloc(e.cap, sizeof *out->leaf);
    out->text = calloc(e.cap, sizeof *out->text);
    out->len = calloc(e.cap, sizeof *out->len);
    if (!out->leaf || !out->text || !out->len)
        goto oom;
    err[0] = 0;
    if (r == 0 && leafscan_elements(payload + ts, te - ts, one_leaf, &e, serr, sizeof serr) < 0) {
        if (!err[0])
            tt_fail(err, errlen, "predicate.trials: %s", serr);
        goto err;
    }
    return 0;
oom:
    tt_fail(err, errlen, "out of memory reading the record's trials");
err:
    free(head);
    record_free(out);
    return -1;
}

int record_load(const char *path, struct record *out, json_t **keyids, char *err, size_t errlen)
{
    struct dsse_envelope env;
    json_t *st = NULL, *ids = NULL;
    size_t len = 0;
    int parsed = 0;
    char derr[256];
    if (keyids)
        *keyids = NULL;
    memset(out, 0, sizeof *out);
    memset(&env, 0, sizeof env);
    char *text = slurp(path, &len, err, errlen);
    if (!text)
        return -1;
    if (dsse_parse(text, len, &env, derr, sizeof derr) < 0) {
        tt_fail(err, errlen, "not a DSSE envelope: %s (%s)", derr, path);
        goto err;
    }
    parsed = 1;
    free(text);
    text = NULL;
    if (!env.payload_type || strcmp(env.payload_type, DSSE_INTOTO_TYPE)) {
        tt_fail(err, errlen, "envelope payloadType is %s, expected %s (%s)",
                 env.payload_type ? env.payload_type : "missing", DSSE_INTOTO_TYPE, path);
        goto err;
    }
    if (keyids) {
        if (!(ids = json_array()))
            goto err;
        for (size_t i = 0; i < env.nsigs; i++)
            if (env.sigs[i].keyid && env.sigs[i].keyid[0])
                json_array_append_new(ids, json_string(env.sigs[i].keyid));
    }
    char *payload = (char *)env.payload;
    size_t plen = env.payload_len;
    env.payload = NULL; /* record_from_payload owns it now */
    dsse_free(&env);
    parsed = 0;
    char lerr[400];
    if (record_from_payload(payload, plen, out, lerr, sizeof lerr) < 0) {
        tt_fail(err, errlen, "record payload: %s (%s)", lerr, path);
        goto err;
    }
    if (keyids)
        *keyids = ids;
    return 0;
err:
    json_decref(st);
    json_decref(ids);
    free(text);
    if (parsed)
        dsse_free(&env);
    return -1;
}
