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

/* Whole file into a malloc'd NUL-terminated buffer; records are one line of
 * up to tens of MB, so a single read is simplest and fastest. */
static char *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open record: %s (%s)", strerror(errno), path);
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) < 0)
        goto ioerr;
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) < 0)
        goto ioerr;
    if (!(buf = malloc((size_t)n + 1))) {
        snprintf(err, errlen, "out of memory reading record (%s)", path);
        goto err;
    }
    if (fread(buf, 1, (size_t)n, f) != (size_t)n)
        goto ioerr;
    buf[n] = '\0';
    *len = (size_t)n;
    fclose(f);
    return buf;
ioerr:
    snprintf(err, errlen, "cannot read record: %s (%s)", errno ? strerror(errno) : "short read",
             path);
err:
    free(buf);
    fclose(f);
    return NULL;
}

static int check_statement(const json_t *st, const char *path, char *err, size_t errlen)
{
    const char *t = json_string_value(json_object_get(st, "_type"));
    const char *pt = json_string_value(json_object_get(st, "predicateType"));
    if (!json_is_object(st)) {
        snprintf(err, errlen, "record payload is not a JSON object (%s)", path);
        return -1;
    }
    if (!t || strcmp(t, RECORD_STATEMENT_TYPE)) {
        snprintf(err, errlen, "record payload is not an in-toto Statement v1: _type is %s (%s)",
                 t ? t : "missing", path);
        return -1;
    }
    if (!pt || strcmp(pt, RECORD_PREDICATE_TYPE)) {
        snprintf(err, errlen, "record is not a tunetrail search provenance: predicateType is %s (%s)",
                 pt ? pt : "missing", path);
        return -1;
    }
    if (!json_is_object(json_object_get(st, "predicate"))) {
        snprintf(err, errlen, "record has no predicate object (%s)", path);
        return -1;
    }
    if (!json_is_array(json_object_get(st, "subject"))) {
        snprintf(err, errlen, "record has no subject array (%s)", path);
        return -1;
    }
    return 0;
}

int record_from_statement(json_t *stmt, struct record *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_t *pred = json_object_get(stmt, "predicate");
    json_t *trials = json_object_get(pred, "trials");
    char serr[200];
    size_t n = json_array_size(trials);
    if (!json_is_object(pred)) {
        snprintf(err, errlen, "record has no predicate object");
        goto err;
    }
    if (trials && !json_is_array(trials)) {
        snprintf(err, errlen, "predicate.trials is not an array");
        goto err;
    }
    /* calloc(0) may return NULL: keep the arrays non-NULL for an empty log */
    out->leaf = calloc(n ? n : 1, sizeof *out->leaf);
    out->text = calloc(n ? n : 1, sizeof *out->text);
    out->len = calloc(n ? n : 1, sizeof *out->len);
    if (!out->leaf || !out->text || !out->len)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        json_t *l = json_array_get(trials, i);
        if (!json_is_object(l)) {
            snprintf(err, errlen, "trials[%zu]: not a JSON object", i);
            goto err;
        }
        /* the canonical text is what the log hashed: verify recomputes the
         * root from these bytes, so they must come from RECORD_LEAF_FLAGS */
        char *d = json_dumps(l, RECORD_LEAF_FLAGS);
        if (!d)
            goto oom;
        size_t len = strlen(d);
        char *t = leaf_arena_alloc(&out->arena, len + 1);
        if (!t) {
            free(d);
            goto oom;
        }
        memcpy(t, d, len + 1);
        free(d);
        out->text[i] = t;
        out->len[i] = len;
        if (leafscan(t, len, &out->leaf[i], &out->arena, serr, sizeof serr) < 0) {
            snprintf(err, errlen, "trials[%zu]: %s", i, serr);
            goto err;
        }
        out->n = i + 1;
    }
    json_object_del(pred, "trials");
    out->stmt = stmt;
    return 0;
oom:
    snprintf(err, errlen, "out of memory reading the record's trials");
err:
    json_decref(stmt);
    out->stmt = NULL;
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
        snprintf(err, errlen, "not a DSSE envelope: %s (%s)", derr, path);
        goto err;
    }
    parsed = 1;
    free(text);
    text = NULL;
    if (!env.payload_type || strcmp(env.payload_type, DSSE_INTOTO_TYPE)) {
        snprintf(err, errlen, "envelope payloadType is %s, expected %s (%s)",
                 env.payload_type ? env.payload_type : "missing", DSSE_INTOTO_TYPE, path);
        goto err;
    }
    json_error_t je;
    st = json_loadb((const char *)env.payload, env.payload_len, 0, &je);
    if (!st) {
        snprintf(err, errlen, "record payload is not JSON: %s at line %d column %d (%s)", je.text,
                 je.line, je.column, path);
        goto err;
    }
    if (check_statement(st, path, err, errlen) < 0)
        goto err;
    if (keyids) {
        if (!(ids = json_array()))
            goto err;
        for (size_t i = 0; i < env.nsigs; i++)
            if (env.sigs[i].keyid && env.sigs[i].keyid[0])
                json_array_append_new(ids, json_string(env.sigs[i].keyid));
    }
    dsse_free(&env);
    parsed = 0;
    char lerr[400];
    int rc = record_from_statement(st, out, lerr, sizeof lerr);
    st = NULL; /* stolen either way */
    if (rc < 0) {
        snprintf(err, errlen, "%s (%s)", lerr, path);
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
