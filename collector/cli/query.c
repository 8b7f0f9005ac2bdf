/* query.c - `tunetrail studies`, `tunetrail trials`, `tunetrail show`: the
 * read side of the store. Reads only the views store_sqlite.c defines
 * (trial_view, process_view) plus the plain event tables, so the rules for
 * status and study live in one place. JSON output is one object per line
 * (jansson); field names are a public contract (DESIGN.md), add, never rename. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "cli.h"
#include "paths.h"
#include "record.h"
#include "store.h"
#include "wire.h"
#include "jsonfmt.h"

struct q {
    const char *cmd;
    char *path;
    tt_store *st;
    sqlite3 *db;
    sqlite3_stmt *params, *metrics, *inputs, *outputs, *proc;
    sqlite3_stmt *ev_procs, *ev_metrics, *ev_data, *ev_of;
};

/* A trial that is an evaluation (store_sqlite.c: eval_trial_view) is not
 * listed nor counted; its metrics show on the trial it evaluates. The
 * evaluation processes are found once per command into a TEMP table
 * (q_eval): one pass over the hashed inputs instead of one per trial. */
#define NOT_EVAL " (COALESCE(opened_by, '') = 'adapter' OR process NOT IN (SELECT process FROM q_eval))"

struct qopts {
    int json, help;
    const char *store, *study;
};

/* Parses the shared flags; `allow_study` only for trials. Returns 0, or 2
 * after printing usage for a bad flag. */
static int parse(int argc, char **argv, int allow_study, struct qopts *o, void (*usage)(FILE *))
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},          {"store", required_argument, NULL, 's'},
        {"study", required_argument, NULL, 'S'},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    optind = 0; /* glibc: full re-initialisation, argv[0] is the subcommand */
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': o->json = 1; break;
        case 's': o->store = optarg; break;
        case 'S':
            if (!allow_study)
                goto bad;
            o->study = optarg;
            break;
        case 'h': o->help = 1; usage(stdout); return 0;
        default: goto bad;
        }
    }
    return 0;
bad:
    fputc('\n', stderr);
    usage(stderr);
    return 2;
}

static int q_open(struct q *q, const char *cmd, const char *flag)
{
    char err[512];
    memset(q, 0, sizeof *q);
    q->cmd = cmd;
    if (paths_store(flag, &q->path, err, sizeof err) < 0) {
        fprintf(stderr, "tunetrail %s: %s\n", cmd, err);
        return -1;
    }
    if (!(q->st = store_open(q->path, STORE_READONLY, err, sizeof err))) {
        fprintf(stderr, "tunetrail %s: cannot open store %s: %s\n", cmd, q->path, err);
        return -1;
    }
    q->db = store_sqlite(q->st);
    char *msg = NULL;
    if (sqlite3_exec(q->db,
                     "CREATE TEMP TABLE q_eval AS SELECT process, trial_id FROM eval_process_view;"
                     " CREATE INDEX temp.q_eval_process ON q_eval(process);"
                     " CREATE INDEX temp.q_eval_trial ON q_eval(trial_id);",
                     NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "tunetrail %s: cannot read store %s: %s\n", cmd, q->path,
                msg ? msg : sqlite3_errmsg(q->db));
        sqlite3_free(msg);
        return -1;
    }
    /* Per path, the latest row that has a hash wins over rows without one. */
#define FILES_SQL(modes)                                                                         \
    "SELECT path, sha256, size, max((sha256 IS NOT NULL) * 4000000000000000000"                  \
    " + COALESCE(time_ns, 0)) FROM files WHERE process = ?1 AND mode IN " modes                  \
    " GROUP BY path ORDER BY path"
    const char *sql[] = {
        "SELECT key, value, source FROM params WHERE trial_id = ?1 ORDER BY time_ns, origin_id, seq",
        "SELECT name, value, step, split, direction, time_ns FROM metrics WHERE trial_id = ?1"
        " ORDER BY step, time_ns, origin_id, seq",
        FILES_SQL("(0, 2)"),
        FILES_SQL("(1, 2)"),
        "SELECT uuid, parent, relation, pid, ppid, exe, argv, cwd, host, user, uid, git_commit,"
        " git_dirty, started_ns, ended_ns, status, exit_code, signal, utime_us, stime_us,"
        " maxrss_kb, study_name, session FROM process_view WHERE uuid = ?1",
        "SELECT e.process, p.session FROM q_eval e LEFT JOIN processes p ON p.uuid = e.process"
        " WHERE e.trial_id = ?1 ORDER BY p.started_ns, e.process",
        "SELECT name, value, step, split, direction, time_ns FROM eval_metric_view"
        " WHERE process = ?1 AND trial_id = ?2 ORDER BY step, time_ns, origin_id, seq",
        "SELECT path, sha256 FROM eval_data_view WHERE process = ?1 ORDER BY path",
        "SELECT min(trial_id) FROM q_eval WHERE process = ?1",
    };
    sqlite3_stmt **out[] = {&q->params,   &q->metrics,    &q->inputs,  &q->outputs,
                            &q->proc,     &q->ev_procs,   &q->ev_metrics, &q->ev_data,
                            &q->ev_of};
    for (size_t i = 0; i < sizeof sql / sizeof *sql; i++) {
        if (sqlite3_prepare_v2(q->db, sql[i], -1, out[i], NULL) != SQLITE_OK) {
            fprintf(stderr, "tunetrail %s: cannot read store %s: %s\n", cmd, q->path,
                    sqlite3_errmsg(q->db));
            return -1;
        }
    }
    return 0;
}

static void q_close(struct q *q)
{
    sqlite3_finalize(q->params);
    sqlite3_finalize(q->metrics);
    sqlite3_finalize(q->inputs);
    sqlite3_finalize(q->outputs);
    sqlite3_finalize(q->proc);
    sqlite3_finalize(q->ev_procs);
    sqlite3_finalize(q->ev_metrics);
    sqlite3_finalize(q->ev_data);
    sqlite3_finalize(q->ev_of);
    store_close(q->st);
    free(q->path);
}

/* ---- value helpers */
static json_t *iso_time(sqlite3_stmt *s, int col)
{
    if (sqlite3_column_type(s, col) == SQLITE_NULL)
        return json_null();
    return jsonfmt_iso_ns(sqlite3_column_int64(s, col));
}

static json_t *col_str(sqlite3_stmt *s, int col)
{
    const unsigned char *v = sqlite3_column_text(s, col);
    return v ? json_string((const char *)v) : json_null();
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

static const char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

/* ---- building objects */
static json_t *files_json(sqlite3_stmt *s, const void *proc, int plen)
{
    json_t *a = json_array();
    if (!proc)
        return a;
    sqlite3_bind_blob(s, 1, proc, plen, SQLITE_TRANSIENT);
    while (sqlite3_step(s) == SQLITE_ROW)
        json_array_append_new(a, json_pack("{s:o,s:o,s:o}", "path", col_str(s, 0), "sha256",
                                           col_hex(s, 1), "size", col_int(s, 2)));
    sqlite3_reset(s);
    return a;
}

static json_t *process_json(struct q *q, const void *uuid, int len)
{
    sqlite3_stmt *s = q->proc;
    json_t *o = NULL;
    sqlite3_bind_blob(s, 1, uuid, len, SQLITE_TRANSIENT);
    if (sqlite3_step(s) == SQLITE_ROW) {
        static const char *rel[] = {"unknown", "root", "fork", "exec"};
        int r = sqlite3_column_int(s, 2);
        o = json_pack("{s:o,s:o,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
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
        json_object_set_new(o, "exit_code", col_int(s, 16));
        json_object_set_new(o, "signal", col_int(s, 17));
        json_object_set_new(o, "utime_us", col_int(s, 18));
        json_object_set_new(o, "stime_us", col_int(s, 19));
        json_object_set_new(o, "maxrss_kb", col_int(s, 20));
        json_object_set_new(o, "study", col_str(s, 21));
        json_object_set_new(o, "session", col_hex(s, 22));
    }
    sqlite3_reset(s);
    return o;
}

/* The evaluations of trial id: one object per metric point of each
 * evaluation process, with its data files. Caller owns the array. */
static json_t *evaluations_json(struct q *q, int64_t id)
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
            json_t *e = json_pack("{s:o,s:f,s:o,s:o,s:o,s:O,s:o,s:o,s:o}", "metric", col_str(m, 0),
                                  "value", sqlite3_column_double(m, 1), "step", col_int(m, 2),
                                  "split", col_str(m, 3), "direction", col_str(m, 4), "data",
                                  data, "process", col_hex(p, 0), "session", col_hex(p, 1),
                                  "time", iso_time(m, 5));
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
static int64_t evaluation_of(struct q *q, sqlite3_stmt *r)
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
static json_t *trial_json(struct q *q, sqlite3_stmt *r, int full)
{
    int64_t id = sqlite3_column_int64(r, 0);
    json_t *o = json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id",
                          (json_int_t)id, "uuid", col_hex(r, 1), "process", col_hex(r, 2),
                          "session", col_hex(r, 3), "study", col_str(r, 4), "status",
                          col_str(r, 5), "exe", col_str(r, 6), "argv", col_json(r, 7), "started",
                          iso_time(r, 8), "ended", iso_time(r, 9), "exit_code", col_int(r, 10),
                          "signal", col_int(r, 11), "framework", col_str(r, 12));
    json_t *params = json_object(), *sources = json_object(), *metrics = json_object();
    json_t *points = json_array();
    sqlite3_bind_int64(q->params, 1, id);
    while (sqlite3_step(q->params) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(q->params, 0);
        json_object_set_new(params, k, col_str(q->params, 1));
        json_object_set_new(sources, k, col_str(q->params, 2));
    }
    sqlite3_reset(q->params);
    sqlite3_bind_int64(q->metrics, 1, id);
    while (sqlite3_step(q->metrics) == SQLITE_ROW) {
        sqlite3_stmt *m = q->metrics;
        const char *name = (const char *)sqlite3_column_text(m, 0);
        json_object_set_new(metrics, name, json_real(sqlite3_column_double(m, 1)));
        if (full)
            json_array_append_new(points, json_pack("{s:s,s:f,s:o,s:o,s:o,s:o}", "name", name, "value",
                                                    sqlite3_column_double(m, 1), "step",
                                                    col_int(m, 2), "split", col_str(m, 3),
                                                    "direction", col_str(m, 4), "time",
                                                    iso_time(m, 5)) ?: json_null());
    }
    sqlite3_reset(q->metrics);
    json_object_set_new(o, "params", params);
    json_object_set_new(o, "metrics", metrics);
    const void *proc = sqlite3_column_blob(r, 2);
    int plen = sqlite3_column_bytes(r, 2);
    json_object_set_new(o, "inputs", files_json(q->inputs, proc, plen));
    json_object_set_new(o, "outputs", files_json(q->outputs, proc, plen));
    json_object_set_new(o, "evaluations", evaluations_json(q, id));
    if (!full) {
        json_decref(sources);
        json_decref(points);
        return o;
    }
    json_object_set_new(o, "opened_by", col_str(r, 13));
    json_object_set_new(o, "index", col_int(r, 14));
    json_object_set_new(o, "error", col_str(r, 15));
    int64_t of = evaluation_of(q, r);
    json_object_set_new(o, "evaluation_of", of ? json_integer(of) : json_null());
    json_object_set_new(o, "param_sources", sources);
    json_object_set_new(o, "metric_points", points);
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

static void print_json_line(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    if (s)
        puts(s);
    free(s);
}

/* Comma-separated list of every study, for "no study" errors. */
static char *study_names(struct q *q)
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

/* ---- tunetrail studies */
static void studies_usage(FILE *f)
{
    fprintf(f, "usage: tunetrail studies [--json] [--store PATH]\n\n"
               "Lists every study in the store with its trial counts by status, sessions,\n"
               "and first/last activity. A trial of any status counts.\n\n"
               "  --json        one JSON object per line: study, trials, ok, failed, crashed,\n"
               "                killed, running, sessions, first, last\n"
               "  --store PATH  SQLite store (default $TUNETRAIL_STORE, else\n"
               "                $TUNETRAIL_HOME/trail.db)\n");
}

int cmd_studies(int argc, char **argv)
{
    struct qopts o;
    int rc = parse(argc, argv, 0, &o, studies_usage);
    if (rc || o.help)
        return rc;
    if (optind < argc) {
        fprintf(stderr, "tunetrail studies: unexpected argument '%s'\n\n", argv[optind]);
        studies_usage(stderr);
        return 2;
    }
    struct q q;
    if (q_open(&q, "studies", o.store) < 0) {
        q_close(&q);
        return 1;
    }
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
        "  (SELECT count(*) FROM sessions WHERE sessions.study = names.name), t.first, t.last"
        " FROM names LEFT JOIN t ON t.study = names.name ORDER BY names.name";
    if (sqlite3_prepare_v2(q.db, sql, -1, &s, NULL) != SQLITE_OK) {
        fprintf(stderr, "tunetrail studies: cannot read store %s: %s\n", q.path,
                sqlite3_errmsg(q.db));
        q_close(&q);
        return 1;
    }
    if (!o.json)
        printf("%-24s %7s %6s %6s %7s %6s %7s %8s  %-24s\n", "STUDY", "TRIALS", "OK", "FAILED",
               "CRASHED", "KILLED", "RUNNING", "SESSIONS", "LAST");
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_t *j = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "study",
                              col_str(s, 0), "trials", col_int(s, 1), "ok", col_int(s, 2),
                              "failed", col_int(s, 3), "crashed", col_int(s, 4), "killed",
                              col_int(s, 5), "running", col_int(s, 6), "sessions",
                              col_int(s, 7), "first", iso_time(s, 8), "last", iso_time(s, 9));
        if (o.json)
            print_json_line(j);
        else
            printf("%-24s %7lld %6lld %6lld %7lld %6lld %7lld %8lld  %-24s\n", jstr(j, "study"),
                   (long long)sqlite3_column_int64(s, 1), (long long)sqlite3_column_int64(s, 2),
                   (long long)sqlite3_column_int64(s, 3), (long long)sqlite3_column_int64(s, 4),
                   (long long)sqlite3_column_int64(s, 5), (long long)sqlite3_column_int64(s, 6),
                   (long long)sqlite3_column_int64(s, 7), jstr(j, "last"));
        json_decref(j);
    }
    sqlite3_finalize(s);
    q_close(&q);
    return 0;
}

/* ---- tunetrail trials */
static void trials_usage(FILE *f)
{
    fprintf(f, "usage: tunetrail trials [--study NAME] [--json] [--store PATH]\n\n"
               "Lists the trials of a study (every status: ok, failed, crashed, killed,\n"
               "running), oldest first. `tunetrail show ID` gives everything about one.\n\n"
               "  --study NAME  only this study (default $TUNETRAIL_STUDY, else all studies)\n"
               "  --json        one JSON object per line: id, uuid, study, status, exe, argv,\n"
               "                params, metrics, inputs, outputs, started, ended, exit_code,\n"
               "                signal, process, session, framework, evaluations\n"
               "                (test metrics of later runs that read this trial's model)\n"
               "  --store PATH  SQLite store (default $TUNETRAIL_STORE, else\n"
               "                $TUNETRAIL_HOME/trail.db)\n");
}

/* "k=v k=v" of a trial's params, cut to fit a table column. */
static void params_line(json_t *params, char *out, size_t outlen)
{
    const char *k;
    json_t *v;
    size_t len = 0;
    out[0] = 0;
    json_object_foreach(params, k, v)
    {
        int n = snprintf(out + len, outlen - len, "%s%s=%s", len ? " " : "", k,
                         json_string_value(v) ? json_string_value(v) : "");
        if (n < 0 || (size_t)n >= outlen - len) {
            if (outlen > 4)
                strcpy(out + outlen - 4, "...");
            return;
        }
        len += (size_t)n;
    }
}

int cmd_trials(int argc, char **argv)
{
    struct qopts o;
    int rc = parse(argc, argv, 1, &o, trials_usage);
    if (rc || o.help)
        return rc;
    if (optind < argc) {
        fprintf(stderr, "tunetrail trials: unexpected argument '%s'\n\n", argv[optind]);
        trials_usage(stderr);
        return 2;
    }
    const char *study = o.study ? o.study : getenv("TUNETRAIL_STUDY");
    if (study && !*study)
        study = NULL;
    struct q q;
    sqlite3_stmt *s = NULL;
    json_t *rows = json_array();
    rc = 1;
    if (q_open(&q, "trials", o.store) < 0)
        goto out;
    if (study) {
        sqlite3_stmt *c;
        int found = 0;
        if (sqlite3_prepare_v2(q.db,
                               "SELECT 1 FROM studies WHERE name = ?1 UNION"
                               " SELECT 1 FROM trial_view WHERE study = ?1 LIMIT 1",
                               -1, &c, NULL) == SQLITE_OK) {
            sqlite3_bind_text(c, 1, study, -1, SQLITE_STATIC);
            found = sqlite3_step(c) == SQLITE_ROW;
            sqlite3_finalize(c);
        }
        if (!found) {
            char *names = study_names(&q);
            fprintf(stderr, "tunetrail trials: no study '%s' in %s; studies: %s\n", study,
                    q.path, names ? names : "?");
            free(names);
            goto out;
        }
    }
    if (sqlite3_prepare_v2(q.db, study ? TRIAL_COLS " WHERE study = ?1 AND" NOT_EVAL " ORDER BY id"
                                       : TRIAL_COLS " WHERE" NOT_EVAL " ORDER BY id",
                           -1, &s, NULL) != SQLITE_OK) {
        fprintf(stderr, "tunetrail trials: cannot read store %s: %s\n", q.path,
                sqlite3_errmsg(q.db));
        goto out;
    }
    if (study)
        sqlite3_bind_text(s, 1, study, -1, SQLITE_STATIC);
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_t *t = trial_json(&q, s, 0);
        if (o.json) {
            print_json_line(t);
            json_decref(t);
        } else {
            json_array_append_new(rows, t);
        }
    }
    if (!o.json) {
        /* Aligned columns: widths from the data, exe shown by its basename. */
        int wid = 2, wst = 6, wexe = 3;
        size_t i;
        json_t *t;
        json_array_foreach(rows, i, t)
        {
            char idb[24];
            const char *exe = strrchr(jstr(t, "exe"), '/');
            exe = exe ? exe + 1 : jstr(t, "exe");
            int n = snprintf(idb, sizeof idb, "%lld",
                             (long long)json_integer_value(json_object_get(t, "id")));
            wid = n > wid ? n : wid;
            wst = (int)strlen(jstr(t, "status")) > wst ? (int)strlen(jstr(t, "status")) : wst;
            wexe = (int)strlen(exe) > wexe ? (int)strlen(exe) : wexe;
        }
        wexe = wexe > 24 ? 24 : wexe;
        printf("%*s  %-*s  %-*s  %-24s  %s\n", wid, "ID", wst, "STATUS", wexe, "EXE", "STARTED",
               "PARAMS");
        json_array_foreach(rows, i, t)
        {
            char pl[96];
            const char *exe = strrchr(jstr(t, "exe"), '/');
            exe = exe ? exe + 1 : jstr(t, "exe");
            params_line(json_object_get(t, "params"), pl, sizeof pl);
            printf("%*lld  %-*s  %-*.*s  %-24s  %s\n", wid,
                   (long long)json_integer_value(json_object_get(t, "id")), wst,
                   jstr(t, "status"), wexe, wexe, *exe ? exe : "?",
                   *jstr(t, "started") ? jstr(t, "started") : "-", pl);
        }
        if (!json_array_size(rows))
            fprintf(stderr, "tunetrail trials: no trials%s%s in %s\n", study ? " in study " : "",
                    study ? study : "", q.path);
    }
    rc = 0;
out:
    sqlite3_finalize(s);
    json_decref(rows);
    q_close(&q);
    return rc;
}

/* ---- tunetrail show */
static void show_usage(FILE *f)
{
    fprintf(f, "usage: tunetrail show TRIAL [--json] [--store PATH]\n\n"
               "Everything about one trial: params with their sources, metrics, input and\n"
               "output files with SHA-256, its process and the chain of parents, timings, CPU,\n"
               "max RSS, git commit. TRIAL is the id from `tunetrail trials`, or the trial\n"
               "uuid in hex (a unique prefix is enough).\n\n"
               "  --json        one JSON object: the `trials --json` fields plus param_sources,\n"
               "                metric_points, processes (nearest first), opened_by, error,\n"
               "                evaluation_of (the trial an evaluation evaluates, else null)\n"
               "  --store PATH  SQLite store (default $TUNETRAIL_STORE, else\n"
               "                $TUNETRAIL_HOME/trail.db)\n");
}

/* Resolves an id or uuid hex prefix. Returns the id, 0 if none, -1 if the
 * prefix is ambiguous. */
static int64_t resolve_trial(struct q *q, const char *arg)
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

/* Prints one argument so it can be pasted back into a shell: as is when it
 * holds only safe characters, else in single quotes ('\'' for a quote). An
 * argv such as `sh -c "svm-train -c 8 data"` then reads as what ran. */
static void print_shell_word(const char *s)
{
    if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                        "@%+=:,./_-") == strlen(s)) {
        fputs(s, stdout);
        return;
    }
    putchar('\'');
    for (; *s; s++)
        if (*s == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*s);
    putchar('\'');
}

static void print_argv(json_t *argv)
{
    size_t i;
    json_t *a;
    json_array_foreach(argv, i, a) {
        if (i)
            putchar(' ');
        const char *s = json_string_value(a);
        print_shell_word(s ? s : "");
    }
}

static void print_files(const char *title, json_t *files)
{
    size_t i;
    json_t *f;
    printf("%s (%zu):\n", title, json_array_size(files));
    json_array_foreach(files, i, f)
    {
        json_t *size = json_object_get(f, "size");
        printf("  %-64s  %s", *jstr(f, "sha256") ? jstr(f, "sha256") : "(not hashed)",
               jstr(f, "path"));
        if (json_is_integer(size))
            printf("  (%lld bytes)", (long long)json_integer_value(size));
        putchar('\n');
    }
}

static void show_human(json_t *t)
{
    const char *k;
    json_t *v;
    size_t i;
    printf("trial %lld  %s\n", (long long)json_integer_value(json_object_get(t, "id")),
           jstr(t, "uuid"));
    if (json_is_integer(json_object_get(t, "evaluation_of")))
        printf("  evaluation of trial %lld: its metrics are that trial's test metrics\n",
               (long long)json_integer_value(json_object_get(t, "evaluation_of")));
    printf("  study:      %s\n", *jstr(t, "study") ? jstr(t, "study") : "(unknown)");
    printf("  status:     %s", jstr(t, "status"));
    if (json_is_integer(json_object_get(t, "exit_code")))
        printf(" (exit %lld)", (long long)json_integer_value(json_object_get(t, "exit_code")));
    if (json_is_integer(json_object_get(t, "signal")))
        printf(" (signal %lld)", (long long)json_integer_value(json_object_get(t, "signal")));
    if (*jstr(t, "error"))
        printf(" - %s", jstr(t, "error"));
    printf("\n  framework:  %s (opened by %s)\n", *jstr(t, "framework") ? jstr(t, "framework") : "?",
           *jstr(t, "opened_by") ? jstr(t, "opened_by") : "?");
    printf("  started:    %s\n  ended:      %s\n",
           *jstr(t, "started") ? jstr(t, "started") : "-", *jstr(t, "ended") ? jstr(t, "ended") : "-");
    printf("  session:    %s\n", *jstr(t, "session") ? jstr(t, "session") : "(bare run)");
    printf("  exe:        %s\n  argv:       ", jstr(t, "exe"));
    print_argv(json_object_get(t, "argv"));
    printf("\nparams (%zu):\n", json_object_size(json_object_get(t, "params")));
    json_t *src = json_object_get(t, "param_sources");
    json_object_foreach(json_object_get(t, "params"), k, v)
        printf("  %-20s = %-20s  [%s]\n", k, json_string_value(v) ? json_string_value(v) : "",
               jstr(src, k));
    /* Last value of each metric (points are ordered by step), with how many
     * points led there; `show --json` has every point. */
    json_t *pts = json_object_get(t, "metric_points"), *last = json_object();
    json_array_foreach(pts, i, v)
    {
        json_t *prev = json_object_get(last, jstr(v, "name"));
        json_int_t n = prev ? json_integer_value(json_object_get(prev, "n")) : 0;
        json_t *cur = json_deep_copy(v);
        json_object_set_new(cur, "n", json_integer(n + 1));
        json_object_set_new(last, jstr(v, "name"), cur);
    }
    printf("metrics (%zu, last value of each):\n", json_object_size(last));
    json_object_foreach(last, k, v)
    {
        printf("  %-20s = %-12g", k, json_real_value(json_object_get(v, "value")));
        json_int_t step = json_integer_value(json_object_get(v, "step"));
        if (step >= 0)
            printf("  step %lld", (long long)step);
        if (*jstr(v, "split"))
            printf("  split %s", jstr(v, "split"));
        if (*jstr(v, "direction"))
            printf("  (%s)", jstr(v, "direction"));
        printf("  [%lld points]\n", (long long)json_integer_value(json_object_get(v, "n")));
    }
    json_decref(last);
    print_files("inputs", json_object_get(t, "inputs"));
    print_files("outputs", json_object_get(t, "outputs"));
    json_t *evs = json_object_get(t, "evaluations");
    printf("evaluations (%zu):\n", json_array_size(evs));
    json_array_foreach(evs, i, v)
    {
        printf("  %-20s = %-12g  split %s  process %s\n", jstr(v, "metric"),
               json_real_value(json_object_get(v, "value")), jstr(v, "split"), jstr(v, "process"));
        size_t j;
        json_t *d;
        json_array_foreach(json_object_get(v, "data"), j, d)
            printf("    data %s  %s\n", jstr(d, "sha256"), jstr(d, "path"));
    }
    json_t *chain = json_object_get(t, "processes");
    printf("process and parents (%zu):\n", json_array_size(chain));
    json_array_foreach(chain, i, v)
    {
        printf("  %*s[%s] pid %lld  %s  %s\n", (int)i * 2, "", jstr(v, "relation"),
               (long long)json_integer_value(json_object_get(v, "pid")), jstr(v, "status"),
               jstr(v, "exe"));
        printf("  %*s  argv: ", (int)i * 2, "");
        print_argv(json_object_get(v, "argv"));
        double cpu = (double)(json_integer_value(json_object_get(v, "utime_us")) +
                              json_integer_value(json_object_get(v, "stime_us"))) / 1e6;
        printf("\n  %*s  uuid %s  cwd %s  host %s  user %s\n", (int)i * 2, "", jstr(v, "uuid"),
               jstr(v, "cwd"), jstr(v, "host"), jstr(v, "user"));
        printf("  %*s  started %s  ended %s  cpu %.3f s  max rss %lld KiB\n", (int)i * 2, "",
               *jstr(v, "started") ? jstr(v, "started") : "-",
               *jstr(v, "ended") ? jstr(v, "ended") : "-", cpu,
               (long long)json_integer_value(json_object_get(v, "maxrss_kb")));
        if (*jstr(v, "git_commit"))
            printf("  %*s  git %s%s\n", (int)i * 2, "", jstr(v, "git_commit"),
                   json_is_true(json_object_get(v, "git_dirty")) ? " (dirty)" : "");
    }
}

int cmd_show(int argc, char **argv)
{
    struct qopts o;
    int rc = parse(argc, argv, 0, &o, show_usage);
    if (rc || o.help)
        return rc;
    if (optind != argc - 1) {
        fprintf(stderr, "tunetrail show: %s\n\n",
                optind >= argc ? "which trial? give its id or uuid" : "one trial at a time");
        show_usage(stderr);
        return 2;
    }
    const char *arg = argv[optind];
    struct q q;
    sqlite3_stmt *s = NULL;
    rc = 1;
    if (q_open(&q, "show", o.store) < 0)
        goto out;
    int64_t id = resolve_trial(&q, arg);
    if (id == 0) {
        fprintf(stderr, "tunetrail show: no trial '%s' in %s (see `tunetrail trials`)\n", arg,
                q.path);
        goto out;
    }
    if (id < 0) {
        fprintf(stderr, "tunetrail show: '%s' matches several trials in %s; give more of the uuid\n",
                arg, q.path);
        goto out;
    }
    if (sqlite3_prepare_v2(q.db, TRIAL_COLS " WHERE id = ?1", -1, &s, NULL) != SQLITE_OK) {
        fprintf(stderr, "tunetrail show: cannot read store %s: %s\n", q.path,
                sqlite3_errmsg(q.db));
        goto out;
    }
    sqlite3_bind_int64(s, 1, id);
    if (sqlite3_step(s) != SQLITE_ROW) {
        fprintf(stderr, "tunetrail show: no trial '%s' in %s\n", arg, q.path);
        goto out;
    }
    json_t *t = trial_json(&q, s, 1);
    if (o.json)
        print_json_line(t);
    else
        show_human(t);
    json_decref(t);
    rc = 0;
out:
    sqlite3_finalize(s);
    q_close(&q);
    return rc;
}
