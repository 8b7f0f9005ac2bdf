/* leaf.c - see leaf.h. The leaf reads the same rows `tunetrail show` does
 * (collector/query.c), so a leaf and `show` agree on a trial: params in
 * arrival order with the last value of a key winning, metrics ordered by
 * step then time with the last point of a name winning, and per path the
 * latest file row that has a hash. */
#include "leaf.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "util.h"
#include "wire.h"
#include "jsonfmt.h"
#include "preds.h"
#include "store_files.h"

int leaf_canonical(json_t *leaf, char **text)
{
    *text = json_dumps(leaf, JSONFMT_CANONICAL);
    return *text ? 0 : -1;
}

enum { Q_TRIAL, Q_PARAMS, Q_METRICS, Q_INPUTS, Q_OUTPUTS, Q_ENVPKG, Q__COUNT };


static const char *leaf_sql[Q__COUNT] = {
    /* trial_view's columns (collector/store_sqlite.c) spelled out on the base
     * tables: SQLite cannot flatten that view (a LEFT JOIN of process_view)
     * and would materialize every process per trial. test_store_log checks
     * both agree. */
    [Q_TRIAL] = "SELECT t.uuid, COALESCE(s.study, p.study),"
                " COALESCE(CASE t.status WHEN 1 THEN 'ok' WHEN 2 THEN 'failed' WHEN 3 THEN 'crashed'"
                "  WHEN 4 THEN 'killed' END, CASE WHEN p.uuid IS NULL THEN NULL"
                "  WHEN p.end_how IS NULL THEN 'running' WHEN p.end_how = 1 THEN"
                "  CASE WHEN p.exit_code = 0 THEN 'ok' ELSE 'failed' END"
                "  WHEN p.end_how = 2 THEN 'crashed' WHEN p.end_how = 3 THEN 'exec'"
                "  WHEN p.end_how = 4 THEN 'killed' ELSE 'unknown' END, 'running'),"
                " t.framework, t.opened_by, t.process, p.session,"
                " COALESCE(t.started_ns, p.started_ns), COALESCE(t.ended_ns, p.ended_ns),"
                " CASE WHEN p.end_how = 1 THEN p.exit_code END,"
                " CASE WHEN p.end_how = 2 THEN p.signal END, t.error, p.exe, p.exe_sha256,"
                " p.argv, p.git_commit, p.git_dirty, p.utime_us, p.stime_us, p.maxrss_kb"
                " FROM trials t LEFT JOIN processes p ON p.uuid = t.process"
                " LEFT JOIN sessions s ON s.uuid = p.session WHERE t.id = ?1",
    [Q_PARAMS] = "SELECT key, value, source FROM params WHERE trial_id = ?1"
                 " ORDER BY time_ns, origin_id, seq",
    [Q_METRICS] = "SELECT name, value, step, split, direction FROM metrics WHERE trial_id = ?1"
                  " ORDER BY step, time_ns, origin_id, seq",
    [Q_INPUTS] = STORE_FILES_SQL(STORE_FILES_IN_MODES),
    [Q_OUTPUTS] = STORE_FILES_SQL(STORE_FILES_OUT_MODES),
    [Q_ENVPKG] = STORE_FILES_ENV_PACKAGES_SQL,
};

struct leaf_ctx {
    sqlite3 *db;
    sqlite3_stmt *q[Q__COUNT];
    sqlite3_stmt *preds; /* NULL: the store has no predictions table */
};


struct leaf_ctx *leaf_ctx_new(sqlite3 *db, char *err, size_t errlen)
{
    struct leaf_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        tt_fail(err, errlen, "out of memory");
        return NULL;
    }
    c->db = db;
    for (int i = 0; i < Q__COUNT; i++) {
        if (sqlite3_prepare_v3(db, leaf_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &c->q[i], NULL) !=
            SQLITE_OK) {
            tt_fail(err, errlen, "leaf: %s", sqlite3_errmsg(db));
            leaf_ctx_free(c);
            return NULL;
        }
    }
    c->preds = preds_prepare(db);
    return c;
}

void leaf_ctx_free(struct leaf_ctx *c)
{
    if (!c)
        return;
    for (int i = 0; i < Q__COUNT; i++)
        sqlite3_finalize(c->q[i]);
    sqlite3_finalize(c->preds);
    free(c);
}

/* Sets key to v unless v is NULL (no value: left out). Steals v. */
static void put(json_t *o, const char *key, json_t *v)
{
    if (v)
        json_object_set_new(o, key, v);
}

static json_t *col_text(sqlite3_stmt *s, int i)
{
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return NULL;
    return jsonfmt_string((const char *)sqlite3_column_text(s, i));
}

static json_t *col_int(sqlite3_stmt *s, int i)
{
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return NULL;
    return json_integer(sqlite3_column_int64(s, i));
}

static json_t *col_hex(sqlite3_stmt *s, int i)
{
    int n = sqlite3_column_bytes(s, i);
    const void *b = sqlite3_column_blob(s, i);
    if (!b || n <= 0 || n > 64)
        return NULL;
    char hex[129];
    wire_hex(hex, b, (size_t)n);
    return json_string(hex);
}

/* A metric value: a JSON number, or "nan" / "inf" / "-inf" (JSON has none). */
static json_t *metric_value(double v)
{
    if (isnan(v))
        return json_string("nan");
    if (isinf(v))
        return json_string(v > 0 ? "inf" : "-inf");
    return json_real(v);
}

/* argv as stored (JSON text of an array of strings), each string repaired. */
static json_t *argv_json(sqlite3_stmt *s, int i)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    if (!t)
        return NULL;
    json_t *a = json_loads(t, JSON_DECODE_ANY, NULL);
    if (!json_is_array(a)) {
        json_decref(a);
        return NULL;
    }
    return a;
}

/* The rows of a STORE_FILES_SQL statement as leaf_files (copies, in v's
 * one allocation list: free with files_read_free). -1 if out of memory. */
struct files_read {
    struct leaf_file *v;
    size_t n, cap;
};

static void files_read_free(struct files_read *fr)
{
    for (size_t i = 0; i < fr->n; i++) {
        free((char *)fr->v[i].path);
        free((uint8_t *)fr->v[i].sha256);
    }
    free(fr->v);
    memset(fr, 0, sizeof *fr);
}

static int files_read(sqlite3_stmt *s, const void *proc, int plen, struct files_read *fr)
{
    int rc = 0;
    memset(fr, 0, sizeof *fr);
    sqlite3_bind_blob(s, 1, proc, plen, SQLITE_STATIC);
    while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
        const char *path = (const char *)sqlite3_column_text(s, 0);
        if (!path)
            continue;
        if (fr->n == fr->cap) {
            size_t nc = fr->cap ? fr->cap * 2 : 16;
            struct leaf_file *nv = realloc(fr->v, nc * sizeof *nv);
            if (!nv) {
                rc = -1;
                break;
            }
            fr->v = nv;
            fr->cap = nc;
        }
        struct leaf_file *f = &fr->v[fr->n];
        memset(f, 0, sizeof *f);
        uint8_t *sha = NULL;
        if (sqlite3_column_bytes(s, 1) == 32 && (sha = malloc(32)))
            memcpy(sha, sqlite3_column_blob(s, 1), 32);
        f->sha256 = sha;
        if (!(f->path = strdup(path)) || (!sha && sqlite3_column_bytes(s, 1) == 32)) {
            free((char *)f->path);
            free(sha);
            rc = -1;
            break;
        }
        f->has_size = sqlite3_column_type(s, 2) != SQLITE_NULL;
        f->size = sqlite3_column_int64(s, 2);
        f->env = sqlite3_column_int(s, 4);
        fr->n++;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

/* Files as the leaf shows them; skip_env: leave out the environment. */
static json_t *files_given(const struct leaf_file *v, size_t n, int skip_env)
{
    json_t *a = json_array();
    char hex[65];
    for (size_t i = 0; i < n; i++) {
        if (skip_env && store_files_is_env(v[i].env, v[i].sha256))
            continue;
        json_t *f = json_object();
        put(f, "path", jsonfmt_string(v[i].path));
        if (v[i].sha256) {
            wire_hex(hex, v[i].sha256, 32);
            json_object_set_new(f, "sha256", json_string(hex));
        }
        if (v[i].has_size)
            json_object_set_new(f, "size", json_integer(v[i].size));
        json_array_append_new(a, f);
    }
    return a;
}

void leaf_environment_digest(const struct leaf_file *v, size_t n, uint8_t out[32])
{
    crypto_hash_sha256_state st;
    static const unsigned char zero = 0;
    crypto_hash_sha256_init(&st);
    for (size_t i = 0; i < n; i++) {
        if (!store_files_is_env(v[i].env, v[i].sha256))
            continue;
        crypto_hash_sha256_update(&st, (const unsigned char *)v[i].path, strlen(v[i].path));
        crypto_hash_sha256_update(&st, &zero, 1);
        crypto_hash_sha256_update(&st, v[i].sha256, 32);
    }
    crypto_hash_sha256_final(&st, out);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* {"deb": {name: version}, "python": {...}} from the package lists pk reads;
 * NULL if none. Tokens are sorted first, so a name with two versions (two
 * site-packages) shows both, space-separated, in the same order whatever
 * order the rows come in. */
static json_t *env_packages(sqlite3_stmt *pk, const void *proc, int plen)
{
    char **tok = NULL;
    size_t n = 0, cap = 0;
    sqlite3_bind_blob(pk, 1, proc, plen, SQLITE_STATIC);
    while (sqlite3_step(pk) == SQLITE_ROW) {
        char *list = strdup((const char *)sqlite3_column_text(pk, 0));
        char *save = NULL;
        for (char *t = list ? strtok_r(list, " ", &save) : NULL; t; t = strtok_r(NULL, " ", &save)) {
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 32;
                char **p = realloc(tok, nc * sizeof *p);
                if (!p)
                    break;
                tok = p;
                cap = nc;
            }
            if ((tok[n] = strdup(t)))
                n++;
        }
        free(list);
    }
    sqlite3_reset(pk);
    sqlite3_clear_bindings(pk);
    size_t u = 0; /* sorted, then each token once */
    if (n)
        qsort(tok, n, sizeof *tok, cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (u && !strcmp(tok[i], tok[u - 1]))
            free(tok[i]);
        else
            tok[u++] = tok[i];
    }
    n = u;
    json_t *o = n ? json_object() : NULL;
    for (size_t i = 0; i < n; i++) {
        char *colon = strchr(tok[i], ':'), *eq = colon ? strchr(colon, '=') : NULL;
        if (colon) {
            *colon = 0;
            if (eq)
                *eq = 0;
            json_t *kind = json_object_get(o, tok[i]);
            if (!kind)
                json_object_set_new(o, tok[i], kind = json_object());
            char *name = jsonfmt_utf8_fix(colon + 1);
            const char *ver = eq ? eq + 1 : "";
            const char *prev = json_string_value(json_object_get(kind, name ? name : ""));
            if (name && prev) {
                size_t l = strlen(prev) + strlen(ver) + 2;
                char *both = malloc(l);
                if (both) {
                    snprintf(both, l, "%s %s", prev, ver);
                    json_object_set_new(kind, name, jsonfmt_string(both));
                }
                free(both);
            } else if (name) {
                json_object_set_new(kind, name, jsonfmt_string(ver));
            }
            free(name);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(tok[i]);
    free(tok);
    return o;
}

json_t *leaf_environment(sqlite3_stmt *pk, const void *proc, int plen, const struct leaf_file *v,
                         size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += store_files_is_env(v[i].env, v[i].sha256) != 0;
    if (!k)
        return NULL;
    uint8_t d[32];
    char hex[65];
    leaf_environment_digest(v, n, d);
    json_t *o = json_object();
    json_object_set_new(o, "digest", json_string(wire_hex(hex, d, 32)));
    json_object_set_new(o, "files", json_integer((json_int_t)k));
    put(o, "packages", env_packages(pk, proc, plen));
    return o;
}

json_t *leaf_metric_point(double value, int value_null, int64_t step, const char *split,
                          const char *direction)
{
    json_t *m = json_object();
    if (value == 0)
        value = 0.0; /* -0.0 */
    json_object_set_new(m, "value", value_null ? json_string("nan") : metric_value(value));
    if (step >= 0)
        json_object_set_new(m, "step", json_integer(step));
    if (split && *split)
        json_object_set_new(m, "split", jsonfmt_string(split));
    if (direction && *direction)
        json_object_set_new(m, "direction", jsonfmt_string(direction));
    return m;
}

json_t *leaf_ctx_object(struct leaf_ctx *c, int64_t trial_id, char *err, size_t errlen)
{
    return leaf_ctx_object_with(c, trial_id, NULL, err, errlen);
}

static json_t *object_given(struct leaf_ctx *c, int64_t trial_id, struct leaf_given *g,
                            char *err, size_t errlen);

json_t *leaf_ctx_object_with(struct leaf_ctx *c, int64_t trial_id, json_t *given, char *err,
                             size_t errlen)
{
    struct leaf_given g = {.metrics = given};
    return object_given(c, trial_id, &g, err, errlen);
}

static json_t *object_given(struct leaf_ctx *c, int64_t trial_id, struct leaf_given *g,
                            char *err, size_t errlen)
{
    json_t *given = g ? g->metrics : NULL;
    sqlite3_stmt *r = c->q[Q_TRIAL];
    json_t *o = NULL;
    sqlite3_bind_int64(r, 1, trial_id);
    int rc = sqlite3_step(r);
    if (rc != SQLITE_ROW) {
        if (rc == SQLITE_DONE)
            tt_fail(err, errlen, "no trial %lld", (long long)trial_id);
        else
            tt_fail(err, errlen, "leaf: %s", sqlite3_errmsg(c->db));
        json_decref(given);
        goto out;
    }
    o = json_object();
    json_object_set_new(o, "v", json_integer(LEAF_VERSION));
    put(o, "trial", col_hex(r, 0));
    put(o, "study", col_text(r, 1));
    put(o, "status", col_text(r, 2));
    put(o, "framework", col_text(r, 3));
    put(o, "opened_by", col_text(r, 4));
    put(o, "process", col_hex(r, 5));
    put(o, "session", col_hex(r, 6));
    put(o, "started_ns", col_int(r, 7));
    put(o, "ended_ns", col_int(r, 8));
    put(o, "exit_code", col_int(r, 9));
    put(o, "signal", col_int(r, 10));
    put(o, "error", col_text(r, 11));
    put(o, "exe", col_text(r, 12));
    put(o, "exe_sha256", col_hex(r, 13));
    put(o, "argv", argv_json(r, 14));
    put(o, "git_commit", col_text(r, 15));
    if (sqlite3_column_type(r, 16) != SQLITE_NULL)
        json_object_set_new(o, "git_dirty", json_boolean(sqlite3_column_int(r, 16)));
    if (sqlite3_column_type(r, 17) != SQLITE_NULL || sqlite3_column_type(r, 18) != SQLITE_NULL) {
        /* Saturated: the times are the sender's int64s, not checked at ingest
         * (a sum past INT64_MAX was UB, found by tests/fuzz/fuzz_ingest). */
        long long u = sqlite3_column_int64(r, 17), st = sqlite3_column_int64(r, 18), cpu;
        if (__builtin_add_overflow(u, st, &cpu))
            cpu = u > 0 ? LLONG_MAX : LLONG_MIN;
        json_object_set_new(o, "cpu_us", json_integer(cpu));
    }
    put(o, "maxrss_kb", col_int(r, 19));

    /* An adapter's own keys are named "<framework>.<field>": their source is
     * implied (docs/RECORD.md), which keeps a libsvm leaf ~40% shorter. */
    const char *fw = json_string_value(json_object_get(o, "framework"));
    size_t fwlen = fw ? strlen(fw) : 0;
    json_t *params = json_object(), *sources = json_object();
    sqlite3_stmt *s = c->q[Q_PARAMS];
    sqlite3_bind_int64(s, 1, trial_id);
    while (sqlite3_step(s) == SQLITE_ROW) {
        char *k = jsonfmt_utf8_fix((const char *)sqlite3_column_text(s, 0));
        if (!k)
            continue;
        json_t *v = col_text(s, 1), *src = col_text(s, 2);
        if (v)
            json_object_set_new(params, k, v);
        if (src && fw && !strcmp(json_string_value(src), "adapter") && !strncmp(k, fw, fwlen) &&
            k[fwlen] == '.') {
            json_decref(src);
            src = NULL;
        }
        if (src)
            json_object_set_new(sources, k, src);
        else
            json_object_del(sources, k); /* the last row of a key speaks for it */
        free(k);
    }
    sqlite3_reset(s);
    json_object_set_new(o, "params", params);
    if (json_object_size(sources))
        json_object_set_new(o, "sources", sources);
    else
        json_decref(sources);

    json_t *metrics = given ? given : json_object();
    s = c->q[Q_METRICS];
    sqlite3_bind_int64(s, 1, trial_id);
    while (!given && sqlite3_step(s) == SQLITE_ROW) {
        char *name = jsonfmt_utf8_fix((const char *)sqlite3_column_text(s, 0));
        if (!name)
            continue;
        json_object_set_new(metrics, name,
                            leaf_metric_point(sqlite3_column_double(s, 1),
                                              sqlite3_column_type(s, 1) == SQLITE_NULL,
                                              sqlite3_column_type(s, 2) == SQLITE_NULL
                                                  ? -1
                                                  : sqlite3_column_int64(s, 2),
                                              (const char *)sqlite3_column_text(s, 3),
                                              (const char *)sqlite3_column_text(s, 4)));
        free(name);
    }
    sqlite3_reset(s);
    json_object_set_new(o, "metrics", metrics);

    const void *proc = sqlite3_column_blob(r, 5);
    int plen = sqlite3_column_bytes(r, 5);
    if (proc && plen > 0) {
        struct files_read in = {0}, out = {0};
        const struct leaf_file *vi, *vo;
        size_t ni, no;
        if (g && g->has_files) {
            vi = g->inputs, ni = g->ninputs, vo = g->outputs, no = g->noutputs;
        } else if (files_read(c->q[Q_INPUTS], proc, plen, &in) < 0 ||
                   files_read(c->q[Q_OUTPUTS], proc, plen, &out) < 0) {
            files_read_free(&in);
            files_read_free(&out);
            tt_fail(err, errlen, "leaf: out of memory");
            json_decref(o);
            o = NULL;
            goto out;
        } else {
            vi = in.v, ni = in.n, vo = out.v, no = out.n;
        }
        json_object_set_new(o, "inputs", files_given(vi, ni, 1));
        json_object_set_new(o, "outputs", files_given(vo, no, 0));
        put(o, "environment", leaf_environment(c->q[Q_ENVPKG], proc, plen, vi, ni));
        files_read_free(&in);
        files_read_free(&out);
    }
    {
        struct preds pr;
        int have = preds_read(c->preds, trial_id, &pr, err, errlen);
        if (have < 0) {
            json_decref(o);
            o = NULL;
            goto out;
        }
        if (have)
            json_object_set_new(o, "predictions", preds_summary(&pr));
        preds_free(&pr);
    }
out:
    sqlite3_reset(r);
    return o;
}

char *leaf_ctx_build(struct leaf_ctx *c, int64_t trial_id, char *err, size_t errlen)
{
    return leaf_ctx_build_with(c, trial_id, NULL, err, errlen);
}

char *leaf_ctx_build_with(struct leaf_ctx *c, int64_t trial_id, json_t *metrics, char *err,
                          size_t errlen)
{
    struct leaf_given g = {.metrics = metrics};
    return leaf_ctx_build_given(c, trial_id, &g, err, errlen);
}

char *leaf_ctx_build_given(struct leaf_ctx *c, int64_t trial_id, struct leaf_given *g, char *err,
                           size_t errlen)
{
    json_t *o = object_given(c, trial_id, g, err, errlen);
    if (!o)
        return NULL;
    char *text = NULL;
    if (leaf_canonical(o, &text) < 0)
        tt_fail(err, errlen, "leaf: out of memory");
    json_decref(o);
    return text;
}

json_t *leaf_object(sqlite3 *db, int64_t trial_id, char *err, size_t errlen)
{
    struct leaf_ctx *c = leaf_ctx_new(db, err, errlen);
    json_t *o = c ? leaf_ctx_object(c, trial_id, err, errlen) : NULL;
    leaf_ctx_free(c);
    return o;
}

char *leaf_build(sqlite3 *db, int64_t trial_id, char *err, size_t errlen)
{
    struct leaf_ctx *c = leaf_ctx_new(db, err, errlen);
    char *t = c ? leaf_ctx_build(c, trial_id, err, errlen) : NULL;
    leaf_ctx_free(c);
    return t;
}
