/* record_load.c - reads a provenance record file (a DSSE envelope, dsse.h)
 * back into its in-toto Statement (docs/RECORD.md). No signature check here:
 * `tunetrail verify` does that; `report` only renders. */
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

json_t *record_load_keyids(const char *path, json_t **keyids, char *err, size_t errlen)
{
    struct dsse_envelope env;
    json_t *st = NULL;
    size_t len = 0;
    int parsed = 0;
    char derr[256];
    if (keyids)
        *keyids = NULL;
    memset(&env, 0, sizeof env);
    char *text = slurp(path, &len, err, errlen);
    if (!text)
        return NULL;
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
        *keyids = json_array();
        for (size_t i = 0; i < env.nsigs; i++)
            if (env.sigs[i].keyid && env.sigs[i].keyid[0])
                json_array_append_new(*keyids, json_string(env.sigs[i].keyid));
    }
    dsse_free(&env);
    return st;
err:
    json_decref(st);
    free(text);
    if (parsed)
        dsse_free(&env);
    return NULL;
}

json_t *record_load(const char *path, char *err, size_t errlen)
{
    return record_load_keyids(path, NULL, err, errlen);
}
