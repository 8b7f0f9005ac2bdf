/* store_read.c - the read side of the store: the JSON objects `tunetrail
 * studies`, `trials`, `show`, `processes` and `log` print (store.h,
 * "Reading"). Reads only the views store_sqlite.c defines (trial_view,
 * process_view, eval_*_view) plus the plain event and log tables, so the
 * rules for status and study live in one place. Field names are a public contract: add, never rename. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "jsonfmt.h"
#include "leaf.h"
#include "store.h"
#include "preds.h"
#include "store_files.h"
#include "util.h"
#include "wire.h"

struct store_reader {
    const char *path;
    sqlite3 *db;
    sqlite3_stmt *params, *metrics, *inputs, *outputs, *proc;
    sqlite3_stmt *ev_procs, *ev_metrics, *ev_data, *ev_of, *envpk;
    sqlite3_stmt *preds; /* prepared at first use */
    int preds_tried;
};

/* The columns process_row reads, in its order. */
#define PROC_COLS                                                                                \
    "SELECT uuid, parent, relation, pid, ppid, exe, argv, cwd, host, user, uid, git_commit,"    \
    " git_dirty, started_ns, ended_ns, status, exit_code, signal, utime_us, stime_us,"          \
    " maxrss_kb, study_name, session,"                                                        \
    " (SELECT identity FROM identities WHERE identities.uuid = COALESCE(session, uuid))"        \
    " FROM process_view"

/* A trial that is an evaluation (store_sqlite.c: eval_trial_view) is not
 * listed nor counted; its metrics show on the trial it evaluates. The
 * evaluation processes are found once per command into a TEMP table
 * (q_eval): one pass over the hashed inputs instead of one per trial. */
#define NOT_EVAL " (COALESCE(opened_by, '') = 'adapter' OR process NOT IN (SELECT process FROM q_eval))"

store_reader *store_reader_open(tt_store *st, char *err, size_t errlen)
{
    struct store_reader *q = calloc(1, sizeof *q);
    if (!q) {
        tt_fail(err, errlen, "out of memory");
        return NULL;
    }
    q->path = store_path(st);
    q->db = store_sqlite(st);
    char *msg = NULL;
    /* A store no authenticated collector wrote yet may lack the identity
     * tables (a writer adds them): read them as empty. */
    sqlite3_stmt *t;
    int has_ident = 0;
    if (sqlite3_prepare_v2(q->db, "SELECT count(*) FROM sqlite_master WHERE name IN"
                           " ('identities', 'study_owners')", -1, &t, NULL) == SQLITE_OK) {
        has_ident = sqlite3_step(t) == SQLITE_ROW && sqlite3_column_int(t, 0) == 2;
        sqlite3_finalize(t);
    }
    if (!has_ident &&
        sqlite3_exec(q->db,
                     "CREATE TEMP TABLE IF NOT EXISTS identities(uuid BLOB PRIMARY KEY, identity TEXT,"
                     " first_ns INTEGER); CREATE TEMP TABLE IF NOT EXISTS study_owners(study TEXT"
                     " PRIMARY KEY, identity TEXT, first_ns INTEGER);",
                     NULL, NULL, &msg) != SQLITE_OK) {
        tt_fail(err, errlen, "cannot read store %s: %s", q->path, msg ? msg : sqlite3_errmsg(q->db));
        sqlite3_free(msg);
        store_reader_close(q);
        return NULL;
    }
    if (sqlite3_exec(q->db,
                     "CREATE TEMP TABLE q_eval AS SELECT process, trial_id FROM eval_process_view;"
                     " CREATE INDEX temp.q_eval_process ON q_eval(process);"
                     " CREATE INDEX temp.q_eval_trial ON q_eval(trial_id);",
                     NULL, NULL, &msg) != SQLITE_OK) {
        tt_fail(err, errlen, "cannot read store %s: %s", q->path, msg ? msg : sqlite3_errmsg(q->db));
        sqlite3_free(msg);
        store_reader_close(q);
        return NULL;
    }
    const char *sql[] = {
        "SELECT key, value, source FROM params WHERE trial_id = ?1 ORDER BY time_ns, origin_id, seq",
        "SELECT name, value, step, split, direction, time_ns FROM metrics WHERE trial_id = ?1"
        " ORDER BY step, time_ns, origin_id, seq",
        STORE_FILES_SQL(STORE_FILES_IN_MODES),
        STORE_FILES_SQL(STORE_FILES_OUT_MODES),
        PROC_COLS " WHERE uuid = ?1",
        /* The evaluation's own trial: the one its process opened outside an
         * adapter (store_sqlite.c: eval_trial_view). */
        "SELECT e.process, p.session, (SELECT min(t.id) FROM trials t WHERE t.process = e.process"
        "  AND COALESCE(t.opened_by, '') <> 'adapter')"
        " FROM q_eval e LEFT JOIN processes p ON p.uuid = e.process"
        " WHERE e.trial_id = ?1 ORDER BY p.started_ns, e.process",
        "SELECT name, value, step, split, direction, time_ns FROM eval_metric_view"
        " WHERE process = ?1 AND trial_id = ?2 ORDER BY step, time_ns, origin_id, seq",
        "SELECT path, sha256 FROM eval_data_view WHERE process = ?1 ORDER BY path",
        "SELECT min(trial_id) FROM q_eval WHERE process = ?1",
        STORE_FILES_ENV_PACKAGES_SQL,
    };
    sqlite3_stmt **out[] = {&q->params,   &q->metrics,    &q->inputs,  &q->outputs,
                            &q->proc,     &q->ev_procs,   &q->ev_metrics, &q->ev_data,
                            &q->ev_of,    &q->envpk};
    for (size_t i = 0; i < sizeof sql / sizeof *sql; i++) {
        if (sqlite3_prepare_v2(q->db, sql[i], -1, out[i], NULL) != SQLITE_OK) {
            tt_fail(err, errlen, "cannot read store %s: %s", q->path, sqlite3_errmsg(q->db));
            store_reader_close(q);
            return NULL;
        }
    }
    return q;
}

void store_reader_close(store_reader *q)
{
    if (!q)
        return;
    sqlite3_exec(q->db, "DROP TABLE IF EXISTS temp.q_eval", NULL, NULL, NULL);
    sqlite3_finalize(q->preds);
    sqlite3_finalize(q->params);
    sqlite3_finalize(q->metrics);
    sqlite3_finalize(q->inputs);
    sqlite3_finalize(q->outputs);
    sqlite3_finalize(q->proc);
    sqlite3_finalize(q->ev_procs);
    sqlite3_finalize(q->ev_metrics);
    sqlite3_finalize(q->ev_data);
    sqlite3_finalize(q->ev_of);
    sqlite3_finalize(q->envpk);
    free(q);
}

/* ---- value helpers */
static json_t *iso_time(sqlite3_stmt *s, int col)
{
    if (sqlite3_column_type(s, col) == SQLITE_NULL)
        return json_null();
    return jsonfmt_iso_ns(sqlite3_column_int64(s, col));
}

/* Text as stored; bytes that are not UTF-8 repaired, their exact bytes
 * put under the object's "raw" by with_raw (jsonfmt.h). */
static json_t *col_str(sqlite3_stmt *s, int col)
{
    return jsonfmt_text((const char *)sqlite3_column_text(s, col));
}

/* o with its "raw" member, or NULL (and o released) if it could not be
 * built whole: a reader never prints an object with text missing. */
static json_t *with_raw(json_t *o)
{
    if (!o) {
        jsonfmt_forget_raw();
        return NULL;
    }
    if (jsonfmt_attach_raw(o) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* An identity (printable ASCII, checked when the clients file is read), or null. */
static json_t *col_ident(sqlite3_stmt *s, int col)
{
    const char *v = (const char *)sqlite3_column_text(s, col);
    json_t *j = v ? json_string(v) : NULL;
    return j ? j : json_null();
}

/* A metric value as the record writes it (leaf.c): a number, or "nan",
 * "inf", "-inf". SQLite stores a NaN as NULL. */
static json_t *col_metric(sqlite3_stmt *s, int col)
{
    if (sqlite3_column_type(s, col) == SQLITE_NULL)
        return json_string("nan");
    double v = sqlite3_column_double(s, col);
    if (isinf(v))
        return json_string(v > 0 ? "inf" : "-inf");
    return json_real(v);
}

static json_t *col_int(sqlite3_stmt *s, int col)
{
    return sqlite3_column_type(s, col) == SQLITE_NULL ? json_null()
                                                      : json_integer(sqlite3_column_int64(s, col));
}

static json_t *col_hex(sqlite3_stmt *s, int col)
{
    int n = sqlite3_column_bytes(s, col);
    const void *b = sqlite3_column_blob(s, col);
    if (!b || n <= 0 || n > 64)
        return json_null();
    char hex[129];
    return json_string(wire_hex(hex, b, (size_t)n));
}

static json_t *col_json(sqlite3_stmt *s, int col)
{
    const char *v = (const char *)sqlite3_column_text(s, col);
    json_t *j = v ? json_loads(v, 0, NULL) : NULL;
    return j ? j : json_array();
}

/* ---- building objects */
static json_t *file_row(sqlite3_stmt *s)
{
    return json_pack("{s:o,s:o,s:o,s:o}", "path", col_str(s, 0), "sha256", col_hex(s, 1), "size",
                     col_int(s, 2), "error", col_str(s, 3));
}

static json_t *files_json(sqlite3_stmt *s, const void *proc, int plen)
{
    json_t *a = json_array();
    if (!proc)
        return a;
    sqlite3_bind_blob(s, 1, proc, plen, SQLITE_TRANSIENT);
    while (sqlite3_step(s) == SQLITE_ROW)
        json_array_append_new(a, file_row(s));
    sqlite3_reset(s);
    return a;
}

/* A process's inputs into o as the leaf splits them (leaf.c): "inputs"
 * without the environment, "environment" its summary (absent if none) and,
 * with all, "environment_files" (its files, each as an input). */
static void inputs_json(store_reader *q, json_t *o, const void *proc, int plen, int all)
{
    json_t *in = json_array(), *envf = all ? json_array() : NULL;
    struct leaf_file *env = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *s = q->inputs;
    if (proc)
        sqlite3_bind_blob(s, 1, proc, plen, SQLITE_TRANSIENT);
    while (proc && sqlite3_step(s) == SQLITE_ROW) {
        const void *sha = sqlite3_column_bytes(s, 1) == 32 ? sqlite3_column_blob(s, 1) : NULL;
        if (!store_files_is_env(sqlite3_column_int(s, 4), sha)) {
            json_array_append_new(in, file_row(s));
            continue;
        }
        if (envf)
            json_array_append_new(envf, file_row(s));
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            struct leaf_file *p = realloc(env, nc * sizeof *p);
            if (!p)
                break;
            env = p;
            cap = nc;
        }
        uint8_t *copy = malloc(32);
        char *path = strdup((const char *)sqlite3_column_text(s, 0));
        if (!copy || !path) {
            free(copy);
            free(path);
            break;
        }
        memcpy(copy, sha, 32);
        env[n++] = (struct leaf_file){.path = path, .sha256 = copy, .env = 1};
    }
    sqlite3_reset(s);
    json_object_set_new(o, "inputs", in);
    json_t *sum = proc ? leaf_environment(q->envpk, proc, plen, env, n) : NULL;
    if (sum)
        json_object_set_new(o, "environment", sum);
    if (envf)
        json_object_set_new(o, "environment_files", envf);
    for (size_t i = 0; i < n; i++) {
        free((char *)env[i].path);
        free((uint8_t *)env[i].sha256);
    }
    free(env);
}

/* One process object from a PROC_COLS row. Caller owns it. */
static json_t *process_row(sqlite3_stmt *s)
{
    static const char *rel[] = {"unknown", "root", "fork", "exec"};
    int r = sqlite3_column_int(s, 2);
    json_t *o = json_pack("{s:o,s:o,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
                          "uuid", col_hex(s, 0), "parent", col_hex(s, 1), "relation",
                          r >= 0 && r < 4 ? rel[r] : "unknown", "pid", col_int(s, 3), "ppid",
                          col_int(s, 4), "exe", col_str(s, 5), "argv", col_json(s, 6), "cwd",
                          col_str(s, 7), "host", col_str(s, 8), "user", col_str(s, 9), "uid",
                          col_int(s, 10), "git_commit", col_str(s, 11), "git_dirty",
                          sqlite3_column_type(s, 12) == SQLITE_NULL
                              ? json_null()
                              : json_boolean(sqlite3_column_int(s, 12)),
                          "started", iso_time(s, 13), "ended", iso_time(s, 14), "status",
                          col_str(s, 15));
    if (!o)
        return NULL;
    json_object_set_new(o, "exit_code", col_int(s, 16));
    json_object_set_new(o, "signal", col_int(s, 17));
    json_object_set_new(o, "utime_us", col_int(s, 18));
    json_object_set_new(o, "stime_us", col_int(s, 19));
    json_object_set_new(o, "maxrss_kb", col_int(s, 20));
    json_object_set_new(o, "study", col_str(s, 21));
    json_object_set_new(o, "session", col_hex(s, 22));
    /* The lab collector's authenticated identity of its session (else of
     * the process itself); host and user above are what the client claimed. */
    json_object_set_new(o, "identity", col_ident(s, 23));
    return o;
}

static json_t *process_json(store_reader *q, const void *uuid, int len)
{
    sqlite3_stmt *s = q->proc;
    json_t *o = NULL;
    sqlite3_bind_blob(s, 1, uuid, len, SQLITE_TRANSIENT);
    if (sqlite3_step(s) == SQLITE_ROW)
        o = process_row(s);
    sqlite3_reset(s);
    return o;
}

/* The evaluations of trial id: one object per metric point of each
 * evaluation process, with its data files. Caller owns the array. */
static json_t *evaluations_json(store_reader *q, int64_t id)
{
    json_t *a = json_array();
    sqlite3_stmt *p = q->ev_procs;
    sqlite3_bind_int64(p, 1, id);
    while (sqlite3_step(p) == SQLITE_ROW) {
        const void *proc = sqlite3_column_blob(p, 0);
        int plen = sqlite3_column_bytes(p, 0);
        json_t *data = json_array();
        sqlite3_stmt *d = q->ev_data;
        sqlite3_bind_blob(d, 1, proc, plen, SQLITE_TRANSIENT);
        while (sqlite3_step(d) == SQLITE_ROW)
            json_array_append_new(data, json_pack("{s:o,s:o}", "path", col_str(d, 0), "sha256",
                                                  col_hex(d, 1)));
        sqlite3_reset(d);
        sqlite3_stmt *m = q->ev_metrics;
        sqlite3_bind_blob(m, 1, proc, plen, SQLITE_TRANSIENT);
        sqlite3_bind_int64(m, 2, id);
        while (sqlite3_step(m) == SQLITE_ROW) {
            json_t *e = json_pack("{s:o,s:o,s:o,s:o,s:o,s:O,s:o,s:o,s:o,s:o}", "metric",
                                  col_str(m, 0), "value", col_metric(m, 1), "step",
                                  col_int(m, 2), "split", col_str(m, 3), "direction",
                                  col_str(m, 4), "data", data, "process", col_hex(p, 0),
                                  "session", col_hex(p, 1), "time", iso_time(m, 5), "trial",
                                  col_int(p, 2));
            if (e)
                json_array_append_new(a, e);
        }
        sqlite3_reset(m);
        json_decref(data);
    }
    sqlite3_reset(p);
    return a;
}

/* The trial that trial row r evaluates (opened_by at col 13, process at 2),
 * or 0 if r is a trial of its own. */
static int64_t evaluation_of(store_reader *q, sqlite3_stmt *r)
{
    const char *by = (const char *)sqlite3_column_text(r, 13);
    if ((by && !strcmp(by, "adapter")) || sqlite3_column_type(r, 2) == SQLITE_NULL)
        return 0;
    int64_t t = 0;
    sqlite3_bind_blob(q->ev_of, 1, sqlite3_column_blob(r, 2), sqlite3_column_bytes(r, 2),
                      SQLITE_TRANSIENT);
    if (sqlite3_step(q->ev_of) == SQLITE_ROW)
        t = sqlite3_column_int64(q->ev_of, 0);
    sqlite3_reset(q->ev_of);
    return t;
}

#define TRIAL_COLS                                                                               \
    "SELECT id, uuid, process, session, study, status, exe, argv, started_ns, ended_ns,"        \
    " exit_code, signal, framework, opened_by, idx, error FROM trial_view"

/* One trial object from a TRIAL_COLS row. `full` adds what only `show` needs
 * (param sources, every metric point, the process chain). Caller owns it. */
static json_t *trial_json(store_reader *q, sqlite3_stmt *r, int full)
{
    int64_t id = sqlite3_column_int64(r, 0);
    json_t *o = json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id",
                          (json_int_t)id, "uuid", col_hex(r, 1), "process", col_hex(r, 2),
                          "session", col_hex(r, 3), "study", col_str(r, 4), "status",
                          col_str(r, 5), "exe", col_str(r, 6), "argv", col_json(r, 7), "started",
                          iso_time(r, 8), "ended", iso_time(r, 9), "exit_code", col_int(r, 10),
                          "signal", col_int(r, 11), "framework", col_str(r, 12));
    json_t *params = json_object(), *sources = json_object(), *metrics = json_object();
    json_t *points = json_array(), *ppoints = json_array();
    sqlite3_bind_int64(q->params, 1, id);
    while (sqlite3_step(q->params) == SQLITE_ROW) {
        /* A key that is not UTF-8 (flagged name_not_utf8 at ingest) is a
         * repaired member name; param_points keeps its bytes under "raw". */
        const char *kraw = (const char *)sqlite3_column_text(q->params, 0);
        char *k = jsonfmt_utf8_fix(kraw ? kraw : "");
        if (!k)
            continue;
        json_object_set_new(params, k, col_str(q->params, 1));
        json_object_set_new(sources, k, col_str(q->params, 2));
        /* Every value a key took, in order: `params` keeps only the last. */
        if (full)
            json_array_append_new(ppoints, json_pack("{s:o,s:o,s:o}", "key", jsonfmt_text(kraw),
                                                     "value", col_str(q->params, 1), "source",
                                                     col_str(q->params, 2)));
        free(k);
    }
    sqlite3_reset(q->params);
    sqlite3_bind_int64(q->metrics, 1, id);
    while (sqlite3_step(q->metrics) == SQLITE_ROW) {
        sqlite3_stmt *m = q->metrics;
        const char *nraw = (const char *)sqlite3_column_text(m, 0);
        char *name = jsonfmt_utf8_fix(nraw ? nraw : "");
        if (name)
            json_object_set_new(metrics, name, col_metric(m, 1));
        free(name);
        if (full)
            json_array_append_new(points, json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "name",
                                                    jsonfmt_text(nraw), "value",
                                                    col_metric(m, 1), "step",
                                                    col_int(m, 2), "split", col_str(m, 3),
                                                    "direction", col_str(m, 4), "time",
                                                    iso_time(m, 5)) ?: json_null());
    }
    sqlite3_reset(q->metrics);
    json_object_set_new(o, "params", params);
    json_object_set_new(o, "metrics", metrics);
    const void *proc = sqlite3_column_blob(r, 2);
    int plen = sqlite3_column_bytes(r, 2);
    inputs_json(q, o, proc, plen, full & STORE_READ_ENV_FILES);
    json_object_set_new(o, "outputs", files_json(q->outputs, proc, plen));
    json_object_set_new(o, "evaluations", evaluations_json(q, id));
    json_object_set_new(o, "param_sources", sources);
    if (!full) {
        json_decref(points);
        json_decref(ppoints);
        return o;
    }
    json_object_set_new(o, "opened_by", col_str(r, 13));
    json_object_set_new(o, "index", col_int(r, 14));
    json_object_set_new(o, "error", col_str(r, 15));
    int64_t of = evaluation_of(q, r);
    json_object_set_new(o, "evaluation_of", of ? json_integer(of) : json_null());
    json_object_set_new(o, "metric_points", points);
    json_object_set_new(o, "param_points", ppoints);
    /* The process and its ancestors, nearest first; bounded against cycles. */
    json_t *chain = json_array();
    uint8_t cur[TT_UUID_LEN];
    int have = proc && plen == TT_UUID_LEN;
    if (have)
        memcpy(cur, proc, TT_UUID_LEN);
    for (int depth = 0; have && depth < 64; depth++) {
        json_t *p = process_json(q, cur, TT_UUID_LEN);
        if (!p)
            break;
        json_array_append_new(chain, p);
        const char *parent = json_string_value(json_object_get(p, "parent"));
        have = parent && wire_unhex(cur, parent, TT_UUID_LEN) == 0;
    }
    json_object_set_new(o, "processes", chain);
    return o;
}

/* Comma-separated list of every study, for "no study" errors. */
char *store_read_study_names(store_reader *q)
{
    sqlite3_stmt *s;
    size_t cap = 256, len = 0;
    char *out = calloc(1, cap);
    if (!out || sqlite3_prepare_v2(q->db,
                                   "SELECT name FROM studies UNION SELECT study FROM trial_view"
                                   " WHERE study IS NOT NULL ORDER BY 1",
                                   -1, &s, NULL) != SQLITE_OK)
        return out;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *n = (const char *)sqlite3_column_text(s, 0);
        size_t need = len + strlen(n) + 3;
        if (need > cap) {
            char *grown = realloc(out, cap = need * 2);
            if (!grown)
                break;
            out = grown;
        }
        len += (size_t)sprintf(out + len, "%s%s", len ? ", " : "", n);
    }
    sqlite3_finalize(s);
    if (!len)
        snprintf(out, cap, "(none)");
    return out;
}

/* Resolves an id or uuid hex prefix. Returns the id, 0 if none, -1 if the
 * prefix is ambiguous. */
int64_t store_read_resolve_trial(store_reader *q, const char *arg)
{
    sqlite3_stmt *s;
    int64_t id = 0;
    int digits = *arg != 0, hex = *arg != 0;
    for (const char *p = arg; *p; p++) {
        digits &= isdigit((unsigned char)*p) != 0;
        hex &= isxdigit((unsigned char)*p) != 0;
    }
    if (digits && strlen(arg) < 12) {
        if (sqlite3_prepare_v2(q->db, "SELECT id FROM trials WHERE id = ?1", -1, &s, NULL) ==
            SQLITE_OK) {
            sqlite3_bind_int64(s, 1, strtoll(arg, NULL, 10));
            if (sqlite3_step(s) == SQLITE_ROW)
                id = sqlite3_column_int64(s, 0);
            sqlite3_finalize(s);
        }
        if (id)
            return id;
    }
    if (!hex || strlen(arg) > TT_UUID_HEX_LEN)
        return 0;
    if (sqlite3_prepare_v2(q->db,
                           "SELECT id FROM trials WHERE substr(lower(hex(uuid)), 1, length(?1))"
                           " = lower(?1) LIMIT 2",
                           -1, &s, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW) {
        id = sqlite3_column_int64(s, 0);
        if (sqlite3_step(s) == SQLITE_ROW)
            id = -1;
    }
    sqlite3_finalize(s);
    return id;
}

int store_read_study_exists(store_reader *q, const char *study)
{
    sqlite3_stmt *c;
    int found = 0;
    if (sqlite3_prepare_v2(q->db,
                           "SELECT 1 FROM studies WHERE name = ?1 UNION"
                           " SELECT 1 FROM trial_view WHERE study = ?1 LIMIT 1",
                           -1, &c, NULL) == SQLITE_OK) {
        sqlite3_bind_text(c, 1, study, -1, SQLITE_STATIC);
        found = sqlite3_step(c) == SQLITE_ROW;
        sqlite3_finalize(c);
    }
    return found;
}

json_t *store_read_studies(store_reader *q, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    const char *sql =
        "WITH names AS (SELECT name FROM studies UNION SELECT study FROM trial_view"
        "  WHERE study IS NOT NULL),"
        " t AS (SELECT study, count(*) n, sum(status = 'ok') ok, sum(status = 'failed') failed,"
        "  sum(status = 'crashed') crashed, sum(status = 'killed') killed,"
        "  sum(status = 'running') running, min(started_ns) first,"
        "  max(COALESCE(ended_ns, started_ns)) last FROM trial_view WHERE" NOT_EVAL
        "  GROUP BY study)"
        " SELECT names.name, COALESCE(t.n, 0), COALESCE(t.ok, 0), COALESCE(t.failed, 0),"
        "  COALESCE(t.crashed, 0), COALESCE(t.killed, 0), COALESCE(t.running, 0),"
        "  (SELECT count(*) FROM sessions WHERE sessions.study = names.name), t.first, t.last,"
        "  (SELECT identity FROM study_owners WHERE study_owners.study = names.name)"
        " FROM names LEFT JOIN t ON t.study = names.name ORDER BY names.name";
    if (sqlite3_prepare_v2(q->db, sql, -1, &s, NULL) != SQLITE_OK) {
        tt_fail(err, errlen, "cannot read store %s: %s", q->path, sqlite3_errmsg(q->db));
        return NULL;
    }
    json_t *a = json_array();
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_t *row = with_raw(json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "study",
                                           col_str(s, 0), "trials", col_int(s, 1), "ok",
                                           col_int(s, 2), "failed", col_int(s, 3), "crashed",
                                           col_int(s, 4), "killed", col_int(s, 5), "running",
                                           col_int(s, 6), "sessions", col_int(s, 7), "first",
                                           iso_time(s, 8), "last", iso_time(s, 9)));
        if (row) /* the lab collector's first authenticated writer, or null */
            json_object_set_new(row, "owner", col_ident(s, 10));
        if (!row) {
            sqlite3_finalize(s);
            json_decref(a);
            tt_fail(err, errlen, "cannot render a study of %s (out of memory?)", q->path);
            return NULL;
        }
        json_array_append_new(a, row);
    }
    sqlite3_finalize(s);
    return a;
}

int store_read_trials(store_reader *q, const char *study, int full,
                      void (*fn)(json_t *trial, void *arg), void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    /* Start order, as the help says; id breaks ties (and a trial not started
     * yet, if any, comes last). */
#define TRIAL_ORDER " ORDER BY started_ns IS NULL, started_ns, id"
    if (sqlite3_prepare_v2(q->db, study ? TRIAL_COLS " WHERE study = ?1 AND" NOT_EVAL TRIAL_ORDER
                                        : TRIAL_COLS " WHERE" NOT_EVAL TRIAL_ORDER,
                           -1, &s, NULL) != SQLITE_OK)
        return tt_fail(err, errlen, "cannot read store %s: %s", q->path, sqlite3_errmsg(q->db));
    if (study)
        sqlite3_bind_text(s, 1, study, -1, SQLITE_STATIC);
    while (sqlite3_step(s) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0);
        json_t *t = with_raw(trial_json(q, s, full));
        if (!t) { /* never skipped in silence */
            sqlite3_finalize(s);
            return tt_fail(err, errlen, "cannot render trial %lld of %s (out of memory?)",
                           (long long)id, q->path);
        }
        fn(t, arg);
        json_decref(t);
    }
    sqlite3_finalize(s);
    return 0;
}

json_t *store_read_trial(store_reader *q, int64_t id, int full, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    json_t *t = NULL;
    if (sqlite3_prepare_v2(q->db, TRIAL_COLS " WHERE id = ?1", -1, &s, NULL) != SQLITE_OK) {
        tt_fail(err, errlen, "cannot read store %s: %s", q->path, sqlite3_errmsg(q->db));
        return NULL;
    }
    sqlite3_bind_int64(s, 1, id);
    if (sqlite3_step(s) == SQLITE_ROW) {
        t = with_raw(trial_json(q, s, full));
        if (!t)
            tt_fail(err, errlen, "cannot render trial %lld of %s (out of memory?)", (long long)id,
                    q->path);
    } else
        tt_fail(err, errlen, "no trial %lld in %s", (long long)id, q->path);
    sqlite3_finalize(s);
    return t;
}

int store_read_processes(store_reader *q, const char *study,
                         void (*fn)(json_t *process, void *arg), void *arg, char *err,
                         size_t errlen)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(q->db, study ? PROC_COLS " WHERE study_name = ?1 ORDER BY started_ns, uuid"
                                        : PROC_COLS " ORDER BY started_ns, uuid",
                           -1, &s, NULL) != SQLITE_OK)
        return tt_fail(err, errlen, "cannot read store %s: %s", q->path, sqlite3_errmsg(q->db));
    if (study)
        sqlite3_bind_text(s, 1, study, -1, SQLITE_STATIC);
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_t *p = with_raw(process_row(s));
        if (!p) {
            sqlite3_finalize(s);
            return tt_fail(err, errlen, "cannot render a process of %s (out of memory?)", q->path);
        }
        fn(p, arg);
        json_decref(p);
    }
    sqlite3_finalize(s);
    return 0;
}

int store_read_log(store_reader *q, const char *study, void (*fn)(json_t *leaf, void *arg),
                   void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(q->db, study ? "SELECT study, idx, leaf, hash, trial_id, time_ns FROM log"
                                          " WHERE study = ?1 ORDER BY study, idx"
                                        : "SELECT study, idx, leaf, hash, trial_id, time_ns FROM log"
                                          " ORDER BY study, idx",
                           -1, &s, NULL) != SQLITE_OK)
        return tt_fail(err, errlen, "cannot read the log of %s: %s", q->path,
                       sqlite3_errmsg(q->db));
    if (study)
        sqlite3_bind_text(s, 1, study, -1, SQLITE_STATIC);
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_t *l = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "study", col_str(s, 0), "index",
                              col_int(s, 1), "leaf", col_str(s, 2), "hash", col_hex(s, 3),
                              "trial", col_int(s, 4), "time", iso_time(s, 5));
        if (!(l = with_raw(l))) {
            sqlite3_finalize(s);
            return tt_fail(err, errlen, "cannot render a log entry of %s (out of memory?)", q->path);
        }
        fn(l, arg);
        json_decref(l);
    }
    sqlite3_finalize(s);
    return 0;
}

json_t *store_read_log_heads(store_reader *q, const char *study, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    const char *sql =
        "SELECT h.study, h.size, c.tree_size, c.root, c.key, c.sig, c.time_ns FROM log_head h"
        " LEFT JOIN checkpoints c ON c.study = h.study AND c.tree_size ="
        "  (SELECT max(tree_size) FROM checkpoints WHERE study = h.study)"
        " WHERE ?1 IS NULL OR h.study = ?1 ORDER BY h.study";
    if (sqlite3_prepare_v2(q->db, sql, -1, &s, NULL) != SQLITE_OK) {
        tt_fail(err, errlen, "cannot read the log of %s: %s", q->path, sqlite3_errmsg(q->db));
        return NULL;
    }
    if (study)
        sqlite3_bind_text(s, 1, study, -1, SQLITE_STATIC);
    json_t *a = json_array();
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_t *ck = json_null();
        if (sqlite3_column_type(s, 2) != SQLITE_NULL)
            ck = json_pack("{s:o,s:o,s:o,s:o,s:o}", "tree_size", col_int(s, 2), "root",
                           col_hex(s, 3), "key", col_hex(s, 4), "sig", col_hex(s, 5), "time",
                           iso_time(s, 6));
        json_array_append_new(a, with_raw(json_pack("{s:o,s:o,s:o}", "study", col_str(s, 0), "size",
                                           col_int(s, 1), "checkpoint", ck ? ck : json_null())));
    }
    sqlite3_finalize(s);
    return a;
}

/* Prepares sql with ?1 bound to study when study is not NULL (a NULL ?1
 * means every study). NULL with a message in err on failure. */
static sqlite3_stmt *prepare_study(store_reader *q, const char *sql, const char *study, char *err,
                                   size_t errlen)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(q->db, sql, -1, &s, NULL) != SQLITE_OK) {
        tt_fail(err, errlen, "cannot read store %s: %s", q->path, sqlite3_errmsg(q->db));
        return NULL;
    }
    if (study)
        sqlite3_bind_text(s, 1, study, -1, SQLITE_STATIC);
    return s;
}

json_t *store_read_metric_kinds(store_reader *q, const char *study, char *err, size_t errlen)
{
    /* Most common (split, direction) of each name first, so the first row
     * of a name is the one kept. */
    sqlite3_stmt *s = prepare_study(
        q,
        "SELECT m.name, m.split, m.direction, count(DISTINCT m.trial_id) n FROM metrics m"
        " JOIN trial_view t ON t.id = m.trial_id WHERE (?1 IS NULL OR t.study = ?1) AND" NOT_EVAL
        " GROUP BY m.name, m.split, m.direction ORDER BY m.name, n DESC",
        study, err, errlen);
    if (!s)
        return NULL;
    json_t *o = json_object();
    while (sqlite3_step(s) == SQLITE_ROW) {
        char *name = jsonfmt_utf8_fix((const char *)sqlite3_column_text(s, 0));
        if (name && !json_object_get(o, name))
            json_object_set_new(o, name, json_pack("{s:o,s:o,s:o}", "split",
                                                   jsonfmt_string((const char *)sqlite3_column_text(s, 1)) ?: json_null(),
                                                   "direction",
                                                   jsonfmt_string((const char *)sqlite3_column_text(s, 2)) ?: json_null(),
                                                   "trials", col_int(s, 3)));
        free(name);
    }
    sqlite3_finalize(s);
    return o;
}

json_t *store_read_conventions(store_reader *q, const char *study, const char *session,
                               char *err, size_t errlen)
{
    sqlite3_stmt *s = prepare_study(
        q,
        "SELECT n.text, s.uuid FROM notes n JOIN origins o ON o.id = n.origin_id"
        " JOIN sessions s ON s.uuid = o.uuid WHERE n.level = 'conventions'"
        " AND (?1 IS NULL OR s.study = ?1) AND (?2 IS NULL OR lower(hex(s.uuid)) = lower(?2))"
        " ORDER BY s.started_ns, n.seq",
        study, err, errlen);
    if (!s)
        return NULL;
    if (session)
        sqlite3_bind_text(s, 2, session, -1, SQLITE_STATIC);
    json_t *a = json_array();
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(s, 0);
        json_t *c = text ? json_loads(text, 0, NULL) : NULL;
        if (!json_is_object(c)) { /* kept as written rather than dropped */
            json_decref(c);
            c = json_pack("{s:o}", "text", jsonfmt_string(text) ?: json_null());
        }
        json_object_set_new(c, "session", col_hex(s, 1));
        json_array_append_new(a, c);
    }
    sqlite3_finalize(s);
    return a;
}

/* ---- What the collector refused or flagged (`tunetrail audit`). The
 * tables `refusals` and `received` are made by writers (IF NOT EXISTS): a
 * store no writer of this version has opened has none, which reads as
 * nothing refused, nothing flagged. */
static int has_table(store_reader *q, const char *name)
{
    sqlite3_stmt *s;
    int found = 0;
    if (sqlite3_prepare_v2(q->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                           -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        found = sqlite3_step(s) == SQLITE_ROW;
        sqlite3_finalize(s);
    }
    return found;
}

/* The study an origin or sender uuid (expression X) belongs to: the
 * session's, else the process's; NULL if it is neither (a fresh uuid). */
#define STUDY_OF(x)                                                                              \
    "COALESCE((SELECT study FROM sessions WHERE uuid = " x "),"                                 \
    " (SELECT study_name FROM process_view WHERE uuid = " x "))"
#define REFUSAL_STUDY STUDY_OF("r.origin")
#define RECEIVED_STUDY STUDY_OF("r.sender")
/* A note's study: its process's, else its origin's. */
#define NOTE_STUDY                                                                               \
    "COALESCE((SELECT study_name FROM process_view WHERE uuid = n.process),"                    \
    " (SELECT study FROM sessions WHERE uuid = o.uuid),"                                        \
    " (SELECT study_name FROM process_view WHERE uuid = o.uuid))"
#define WARN_LEVELS " n.level IN ('warn', 'warning', 'error')"

/* The name of an Event's kind field (tunetrail.proto, `oneof kind`). */
static const char *event_kind_name(int k)
{
    static const char *names[] = {"session_start", "session_end", "process_start",
                                  "process_end",   "file_access", "trial_start",
                                  "param",         "metric",      "trial_end",
                                  "note"};
    return k >= 10 && k <= 19 ? names[k - 10] : "unknown";
}

json_t *store_read_audit_counts(store_reader *q, const char *study, char *err, size_t errlen)
{
    json_t *o = json_pack("{s:I,s:I,s:I,s:o}", "refused", (json_int_t)0, "flagged",
                          (json_int_t)0, "notes", (json_int_t)0, "reasons", json_array());
    sqlite3_stmt *s;
    if (has_table(q, "refusals")) {
        if (!(s = prepare_study(q,
                                "SELECT why, count(*) FROM refusals r WHERE ?1 IS NULL OR " REFUSAL_STUDY
                                " = ?1 GROUP BY why ORDER BY count(*) DESC, why",
                                study, err, errlen)))
            goto fail;
        json_int_t n = 0;
        while (sqlite3_step(s) == SQLITE_ROW) {
            n += sqlite3_column_int64(s, 1);
            json_array_append_new(json_object_get(o, "reasons"),
                                  json_pack("{s:o,s:o}", "why", col_str(s, 0), "count", col_int(s, 1)));
        }
        sqlite3_finalize(s);
        json_object_set_new(o, "refused", json_integer(n));
    }
    if (has_table(q, "received")) {
        if (!(s = prepare_study(q,
                                "SELECT count(*) FROM received r WHERE flags IS NOT NULL AND"
                                " (?1 IS NULL OR " RECEIVED_STUDY " = ?1)",
                                study, err, errlen)))
            goto fail;
        if (sqlite3_step(s) == SQLITE_ROW)
            json_object_set_new(o, "flagged", col_int(s, 0));
        sqlite3_finalize(s);
    }
    if (!(s = prepare_study(q,
                            "SELECT count(*) FROM notes n LEFT JOIN origins o ON o.id = n.origin_id"
                            " WHERE" WARN_LEVELS " AND (?1 IS NULL OR " NOTE_STUDY " = ?1)",
                            study, err, errlen)))
        goto fail;
    if (sqlite3_step(s) == SQLITE_ROW)
        json_object_set_new(o, "notes", col_int(s, 0));
    sqlite3_finalize(s);
    return o;
fail:
    json_decref(o);
    return NULL;
}

/* Calls fn for each row of s (built by row), stopping at the first that
 * cannot be rendered. */
static int each_row(store_reader *q, sqlite3_stmt *s, json_t *(*row)(sqlite3_stmt *),
                    void (*fn)(json_t *, void *), void *arg, const char *what, char *err,
                    size_t errlen)
{
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_t *o = with_raw(row(s));
        if (!o) {
            sqlite3_finalize(s);
            return tt_fail(err, errlen, "cannot render %s of %s (out of memory?)", what, q->path);
        }
        fn(o, arg);
        json_decref(o);
    }
    sqlite3_finalize(s);
    return 0;
}

static json_t *refusal_row(sqlite3_stmt *s)
{
    return json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:s,s:o,s:o}", "kind", "refusal", "time",
                     iso_time(s, 0), "sender", col_hex(s, 1), "batch_seq", col_int(s, 2), "origin",
                     col_hex(s, 3), "seq", col_int(s, 4), "event",
                     event_kind_name(sqlite3_column_int(s, 5)), "why", col_str(s, 6), "study",
                     col_str(s, 7));
}

int store_read_refusals(store_reader *q, const char *study, void (*fn)(json_t *, void *),
                        void *arg, char *err, size_t errlen)
{
    if (!has_table(q, "refusals"))
        return 0;
    sqlite3_stmt *s = prepare_study(
        q,
        "SELECT recv_ns, sender, batch_seq, origin, seq, kind, why, study FROM (SELECT r.*, "
        REFUSAL_STUDY " AS study FROM refusals r) WHERE ?1 IS NULL OR study = ?1 ORDER BY id",
        study, err, errlen);
    return s ? each_row(q, s, refusal_row, fn, arg, "a refusal", err, errlen) : -1;
}

static json_t *received_row(sqlite3_stmt *s)
{
    const char *f = (const char *)sqlite3_column_text(s, 7);
    json_t *flags = f ? json_loads(f, 0, NULL) : NULL;
    if (!flags) /* kept as written rather than dropped */
        flags = jsonfmt_text(f);
    return json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "kind", "received", "time",
                     iso_time(s, 0), "sender", col_hex(s, 1), "batch_seq", col_int(s, 2), "events",
                     col_int(s, 3), "stored", col_int(s, 4), "client_first", iso_time(s, 5),
                     "client_last", iso_time(s, 6), "flags", flags, "study", col_str(s, 8));
}

int store_read_flagged(store_reader *q, const char *study, void (*fn)(json_t *, void *),
                       void *arg, char *err, size_t errlen)
{
    if (!has_table(q, "received"))
        return 0;
    sqlite3_stmt *s = prepare_study(
        q,
        "SELECT recv_ns, sender, batch_seq, events, stored, client_min_ns, client_max_ns, flags,"
        " study FROM (SELECT r.*, " RECEIVED_STUDY " AS study FROM received r"
        "  WHERE flags IS NOT NULL) WHERE ?1 IS NULL OR study = ?1 ORDER BY id",
        study, err, errlen);
    return s ? each_row(q, s, received_row, fn, arg, "a received batch", err, errlen) : -1;
}

static json_t *note_row(sqlite3_stmt *s)
{
    return json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "kind", "note", "time", iso_time(s, 0),
                     "level", col_str(s, 1), "process", col_hex(s, 2), "exe", col_str(s, 3),
                     "session", col_hex(s, 4), "study", col_str(s, 5), "text", col_str(s, 6));
}

int store_read_warnings(store_reader *q, const char *study, void (*fn)(json_t *, void *),
                        void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *s = prepare_study(
        q,
        "SELECT time_ns, level, process, exe, session, study, text FROM (SELECT n.time_ns,"
        " n.level, n.process, p.exe, COALESCE(p.session, (SELECT uuid FROM sessions WHERE uuid ="
        " o.uuid)) AS session, " NOTE_STUDY " AS study, n.text, n.origin_id, n.seq FROM notes n"
        " LEFT JOIN origins o ON o.id = n.origin_id LEFT JOIN processes p ON p.uuid = n.process"
        " WHERE" WARN_LEVELS ") WHERE ?1 IS NULL OR study = ?1 ORDER BY time_ns, origin_id, seq",
        study, err, errlen);
    return s ? each_row(q, s, note_row, fn, arg, "a note", err, errlen) : -1;
}

int store_read_predictions(store_reader *r, int64_t trial_id, struct preds *p, char *err,
                           size_t errlen)
{
    if (!r->preds_tried) {
        r->preds_tried = 1;
        r->preds = preds_prepare(r->db); /* NULL: no such table, so no predictions */
    }
    return preds_read(r->preds, trial_id, p, err, errlen);
}
