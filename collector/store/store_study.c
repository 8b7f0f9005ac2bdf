/* store_study.c - what the provenance record reads of a study besides the
 * trials' leaves (store.h, "A study's record"): its log, the trial that
 * wrote a model, evaluations, running trials, all processes' compute, the
 * stored checkpoint. The record (collector/record/) holds no SQL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "checkpoint.h"
#include "keys.h"
#include "merkle.h"
#include "jsonfmt.h"
#include "store.h"
#include "util.h"

int store_log_each(tt_store *st, const char *study, store_leaf_fn fn, void *arg, char *err,
                   size_t errlen)
{
    sqlite3 *db = store_sqlite(st);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db,
                           "SELECT idx, trial_id, leaf, hash FROM log WHERE study = ?1 ORDER BY idx",
                           -1, &s, NULL) != SQLITE_OK)
        return tt_fail(err, errlen,
                       "store has no study log (%s): open it once with this version's "
                       "`tunetrail run` or tunetraild to upgrade it",
                       sqlite3_errmsg(db));
    sqlite3_bind_text(s, 1, study, -1, SQLITE_STATIC);
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_leaf l = {
            .idx = sqlite3_column_int64(s, 0),
            .trial_id = sqlite3_column_int64(s, 1),
            .text = (const char *)sqlite3_column_text(s, 2),
            .len = (size_t)sqlite3_column_bytes(s, 2),
            .hash = sqlite3_column_bytes(s, 3) == 32 ? sqlite3_column_blob(s, 3) : NULL,
        };
        stop = fn(&l, arg) != 0;
    }
    if (stop) {
        sqlite3_finalize(s);
        return -1;
    }
    if (rc != SQLITE_DONE) {
        tt_fail(err, errlen, "reading the log: %s", sqlite3_errmsg(db));
        sqlite3_finalize(s);
        return -1;
    }
    sqlite3_finalize(s);
    return 0;
}

int store_log_head(tt_store *st, const char *study, struct merkle_frontier *f)
{
    sqlite3 *db = store_sqlite(st);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "SELECT size, frontier FROM log_head WHERE study = ?1", -1, &s,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(s, 1, study, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_ROW &&
                     merkle_frontier_decode(f, (uint64_t)sqlite3_column_int64(s, 0),
                                            sqlite3_column_blob(s, 1),
                                            (size_t)sqlite3_column_bytes(s, 1)) == 0
                 ? 0
                 : -1;
    sqlite3_finalize(s);
    return rc;
}

/* The same rule as eval_model_view: the earliest writing process that did
 * not read the content first; in a process with several trials, the one
 * whose model_file names the path, else the last one started before the
 * write. */
int store_find_producer(tt_store *st, const uint8_t sha[32], const char *study, int64_t *id,
                        char uuid[33], char **study_out)
{
    sqlite3_stmt *s;
    const char *sql =
        "SELECT t.id, pw.study_name, lower(hex(t.uuid)) FROM files w JOIN process_view pw ON pw.uuid = w.process"
        " JOIN trials t ON t.process = w.process"
        " WHERE w.sha256 = ?1 AND w.mode IN (1, 2) AND (?2 IS NULL OR pw.study_name = ?2)"
        "  AND NOT EXISTS (SELECT 1 FROM files x WHERE x.process = w.process AND x.mode = 0"
        "   AND x.sha256 = w.sha256)"
        " ORDER BY pw.started_ns, w.process, EXISTS (SELECT 1 FROM params k WHERE k.trial_id = t.id"
        "   AND k.key LIKE '%model_file' AND k.value = w.path) DESC,"
        "  COALESCE(t.started_ns <= w.time_ns, 0) DESC, t.started_ns DESC, t.id LIMIT 1";
    if (sqlite3_prepare_v2(store_sqlite(st), sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_blob(s, 1, sha, 32, SQLITE_STATIC);
    if (study)
        sqlite3_bind_text(s, 2, study, -1, SQLITE_STATIC);
    int found = sqlite3_step(s) == SQLITE_ROW;
    if (found) {
        *id = sqlite3_column_int64(s, 0);
        const char *sn = (const char *)sqlite3_column_text(s, 1);
        *study_out = sn ? strdup(sn) : NULL;
        snprintf(uuid, 33, "%s", (const char *)sqlite3_column_text(s, 2));
    }
    sqlite3_finalize(s);
    return found ? 0 : -1;
}

json_t *store_evaluation_trials(tt_store *st)
{
    json_t *ids = json_object();
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(store_sqlite(st),
                           "SELECT e.id, (SELECT lower(hex(uuid)) FROM trials WHERE id = e.evaluates)"
                           " FROM eval_trial_view e",
                           -1, &s, NULL) != SQLITE_OK)
        return ids;
    while (sqlite3_step(s) == SQLITE_ROW) {
        char k[32];
        snprintf(k, sizeof k, "%lld", (long long)sqlite3_column_int64(s, 0));
        const char *ev = (const char *)sqlite3_column_text(s, 1);
        json_object_set_new(ids, k, json_string(ev ? ev : ""));
    }
    sqlite3_finalize(s);
    return ids;
}

/* The study's processes, through the sessions index: process_view would
 * derive every process's study and status (100k rows) to keep a few. */
#define STUDY_PROCS                                                                              \
    " FROM processes p WHERE p.session IN (SELECT uuid FROM sessions WHERE study = ?1)"         \
    " OR (p.study = ?1 AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.uuid = p.session))"

int64_t store_count_running(tt_store *st, const char *study)
{
    sqlite3_stmt *s;
    int64_t n = 0;
    if (sqlite3_prepare_v2(store_sqlite(st),
                           "SELECT count(*) FROM trials t WHERE t.process IN (SELECT p.uuid"
                           STUDY_PROCS ") AND NOT EXISTS (SELECT 1 FROM log l WHERE l.trial_id = t.id)",
                           -1, &s, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(s, 1, study, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

/* A stored text as the leaves show it (repaired), or JSON null. */
static json_t *text_or_null(sqlite3_stmt *s, int col)
{
    const char *v = (const char *)sqlite3_column_text(s, col);
    json_t *j = v ? jsonfmt_string(v) : NULL;
    return j ? j : json_null();
}

json_t *store_session_identities(tt_store *st, const char *study)
{
    json_t *out = json_object();
    sqlite3_stmt *s;
    /* identities is added by the first writer of this version: an older
     * store has none, and every session reads as unauthenticated. */
    static const char *const sql[] = {
        "SELECT lower(hex(s.uuid)), s.user, s.host,"
        " (SELECT identity FROM identities i WHERE i.uuid = s.uuid)"
        " FROM sessions s WHERE s.study = ?1",
        "SELECT lower(hex(s.uuid)), s.user, s.host, NULL FROM sessions s WHERE s.study = ?1"};
    if (sqlite3_prepare_v2(store_sqlite(st), sql[0], -1, &s, NULL) != SQLITE_OK &&
        sqlite3_prepare_v2(store_sqlite(st), sql[1], -1, &s, NULL) != SQLITE_OK)
        return out;
    sqlite3_bind_text(s, 1, study, -1, SQLITE_STATIC);
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_t *claimed = json_pack("{s:o,s:o}", "user", text_or_null(s, 1), "host", text_or_null(s, 2));
        json_object_set_new(out, (const char *)sqlite3_column_text(s, 0),
                            json_pack("{s:o,s:o}", "identity", text_or_null(s, 3), "claimed", claimed));
    }
    sqlite3_finalize(s);
    return out;
}

json_t *store_study_compute(tt_store *st, const char *study)
{
    sqlite3_stmt *s;
    json_t *o = NULL;
    if (sqlite3_prepare_v2(store_sqlite(st),
                           "SELECT count(*), total(COALESCE(utime_us, 0) + COALESCE(stime_us, 0)),"
                           " total(CASE WHEN ended_ns > started_ns THEN ended_ns - started_ns END),"
                           " COALESCE(max(maxrss_kb), 0)" STUDY_PROCS,
                           -1, &s, NULL) != SQLITE_OK)
        return json_null();
    sqlite3_bind_text(s, 1, study, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW)
        o = json_pack("{s:I,s:f,s:f,s:I,s:s}", "processes", sqlite3_column_int64(s, 0),
                      "cpu_seconds", sqlite3_column_double(s, 1) / 1e6, "wall_seconds",
                      sqlite3_column_double(s, 2) / 1e9, "peak_rss_kb", sqlite3_column_int64(s, 3),
                      "note",
                      "every process of the study (search drivers and evaluations included), "
                      "from the store; not verifiable from this record");
    sqlite3_finalize(s);
    return o ? o : json_null();
}

json_t *store_holdout_files(tt_store *st, const char *study)
{
    json_t *files = json_object();
    sqlite3_stmt *s;
    const char *sql =
        "SELECT lower(hex(d.sha256)), d.path, ep.trial_id, lower(hex(ep.process)),"
        " (SELECT min(x.time_ns) FROM eval_metric_view x WHERE x.process = ep.process)"
        " FROM eval_process_view ep JOIN eval_data_view d ON d.process = ep.process"
        " JOIN process_view p ON p.uuid = ep.process WHERE p.study_name = ?1"
        " ORDER BY 5, 1";
    if (sqlite3_prepare_v2(store_sqlite(st), sql, -1, &s, NULL) != SQLITE_OK)
        return files;
    sqlite3_bind_text(s, 1, study, -1, SQLITE_STATIC);
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *sha = (const char *)sqlite3_column_text(s, 0);
        json_t *f = json_object_get(files, sha);
        if (!f) {
            f = json_pack("{s:o,s:o,s:o,s:I}", "paths", json_object(), "trials", json_object(),
                          "processes", json_object(), "first_ns",
                          (json_int_t)sqlite3_column_int64(s, 4));
            json_object_set_new(files, sha, f);
        }
        char k[32];
        snprintf(k, sizeof k, "%lld", (long long)sqlite3_column_int64(s, 2));
        /* Repaired as in the leaves (docs/RECORD.md): a path that is not
         * UTF-8 would otherwise be no member at all. */
        char *path = jsonfmt_utf8_fix((const char *)sqlite3_column_text(s, 1));
        if (path)
            json_object_set_new(json_object_get(f, "paths"), path, json_true());
        free(path);
        json_object_set_new(json_object_get(f, "trials"), k, json_true());
        json_object_set_new(json_object_get(f, "processes"),
                            (const char *)sqlite3_column_text(s, 3), json_true());
        int64_t t = sqlite3_column_int64(s, 4);
        if (t && t < json_integer_value(json_object_get(f, "first_ns")))
            json_object_set_new(f, "first_ns", json_integer(t));
    }
    sqlite3_finalize(s);
    return files;
}

json_t *store_model_evaluations(tt_store *st, int64_t id)
{
    json_t *out = json_array();
    sqlite3_stmt *s;
    const char *sql = "SELECT m.name, m.value, m.split, (SELECT lower(hex(d.sha256)) FROM"
                      " eval_data_view d WHERE d.process = m.process ORDER BY d.path LIMIT 1),"
                      " (SELECT d.path FROM eval_data_view d WHERE d.process = m.process"
                      " ORDER BY d.path LIMIT 1)"
                      " FROM eval_metric_view m WHERE m.trial_id = ?1 ORDER BY m.time_ns, m.seq";
    if (sqlite3_prepare_v2(store_sqlite(st), sql, -1, &s, NULL) != SQLITE_OK)
        return out;
    sqlite3_bind_int64(s, 1, id);
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_t *e = json_pack("{s:o,s:f,s:s}", "metric",
                              jsonfmt_string((const char *)sqlite3_column_text(s, 0)),
                              "value", sqlite3_column_double(s, 1), "split", "test");
        if (sqlite3_column_type(s, 3) != SQLITE_NULL) {
            json_object_set_new(e, "data_sha256", json_string((const char *)sqlite3_column_text(s, 3)));
            json_object_set_new(e, "data_path", jsonfmt_string((const char *)sqlite3_column_text(s, 4)));
        }
        json_array_append_new(out, e);
    }
    sqlite3_finalize(s);
    return out;
}

json_t *store_stored_checkpoint(tt_store *st, const char *study, size_t size,
                                const uint8_t root[32])
{
    sqlite3_stmt *s;
    json_t *o = NULL;
    if (sqlite3_prepare_v2(store_sqlite(st),
                           "SELECT root, key, sig FROM checkpoints WHERE study = ?1 AND tree_size = ?2",
                           -1, &s, NULL) != SQLITE_OK)
        return json_null();
    sqlite3_bind_text(s, 1, study, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)size);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_bytes(s, 0) == 32 &&
        !memcmp(sqlite3_column_blob(s, 0), root, 32) && sqlite3_column_bytes(s, 1) == 32 &&
        sqlite3_column_bytes(s, 2) == 64)
        o = checkpoint_json(size, root, sqlite3_column_blob(s, 1), sqlite3_column_blob(s, 2));
    sqlite3_finalize(s);
    return o ? o : json_null();
}
