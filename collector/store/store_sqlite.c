/* store_sqlite.c - the SQLite store: schema, open, and idempotent batch ingest.
 *
 * Dedupe without a row per event. Every event is identified by (origin uuid,
 * seq), and one origin's events arrive almost always in seq order. So each
 * origin keeps a high-water mark `hwm` (every seq <= hwm is stored; -1 for
 * none), in origins and cached in memory, written back once per batch per
 * origin touched. seq <= hwm is a duplicate; seq == hwm+1 is new and advances
 * hwm; seq > hwm+1 (a hole before it) takes the exact path: a row in
 * ahead(origin_id, seq), whose insert dedupes it, and when the hole fills hwm
 * advances over those rows and deletes them. The common path therefore costs
 * no B-tree insert beyond the event's own row.
 *
 * Append-friendly tables. metrics, files, params and notes are rowid tables
 * filled in arrival order, with only the lookup indexes the CLI needs
 * (metrics/params by trial id, files by process). A batch then dirties the
 * tails of those tables and one index page per trial/process it touches,
 * instead of one leaf per trial in a table keyed by trial (measured: 2x
 * fewer pages written per commit with 4 trials per batch, far more with 300).
 * uuids map to small integers (origins, trials) through in-memory hash maps.
 *
 * Order independence. Every row an event touches is upserted: a Metric may
 * arrive before its TrialStart (the trials row is created with only its uuid),
 * a ProcessEnd before its ProcessStart. A shim's own end record wins over an
 * agent-synthesised END_KILLED whatever the arrival order (ProcessEnd upsert's
 * WHERE clause). Study and status are derived at read time (process_view,
 * trial_view), never frozen at ingest, so late arrivals change them correctly.
 *
 * Several writers (tunetrail run instances, tunetraild) may share one file:
 * WAL, busy_timeout, BEGIN IMMEDIATE per batch. The cached hwm is only valid
 * while no other connection has written: PRAGMA data_version, read under the
 * write lock at the start of each batch, tells, and the origin cache is then
 * reloaded. The in-memory caches are dropped on rollback. Nothing is ever
 * deleted (but absorbed ahead rows).
 *
 * The study log (schema 4, collector/slog.c): each transaction reports
 * what its events touched, and before COMMIT the trials that became final
 * (or changed after being sealed) are appended as leaves of their study's
 * Merkle log and a checkpoint is signed, in the same transaction. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "leaf.h"
#include "slog.h"
#include "store_pg.h"
#include "tunetrail.pb-c.h"
#include "wire.h"
#include "jsonfmt.h"
#include "util.h"

#define STORE_SCHEMA_VERSION 5 /* 2: hwm dedupe, append-order tables; 3: evaluation views;
                                  4: the study log (log, log_head, checkpoints);
                                  5: files.env, files.packages (the environment) */
#define STORE_BUSY_MS 10000
#define STORE_STR_MAX (64u << 10) /* any one string field */
#define STORE_LIST_MAX 65536      /* argv / env entries */
#define ARENA_CHUNK (4u << 20)
#define CKPT_KICK_FRAMES 4096 /* background checkpoint every 16 MiB of WAL */
#define CKPT_SYNC_FRAMES 16384 /* the writer finishes one itself at 64 MiB */

static const char *schema_sql =
    "CREATE TABLE origins(id INTEGER PRIMARY KEY, uuid BLOB NOT NULL UNIQUE,"
    " hwm INTEGER NOT NULL DEFAULT -1);\n"
    /* events stored past a hole in their origin's seq; absorbed into hwm */
    "CREATE TABLE ahead(origin_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " PRIMARY KEY(origin_id, seq)) WITHOUT ROWID;\n"
    "CREATE TABLE studies(name TEXT PRIMARY KEY, first_ns INTEGER);\n"
    "CREATE TABLE sessions(uuid BLOB PRIMARY KEY, study TEXT, host TEXT, user TEXT, cwd TEXT,"
    " argv TEXT, trial_patterns TEXT, tool_version TEXT, started_ns INTEGER, ended_ns INTEGER,"
    " exit_code INTEGER, signal INTEGER);\n"
    "CREATE TABLE processes(uuid BLOB PRIMARY KEY, session BLOB, study TEXT, parent BLOB,"
    " relation INTEGER, pid INTEGER, ppid INTEGER, exe TEXT, exe_sha256 BLOB, argv TEXT, cwd TEXT,"
    " host TEXT, uid INTEGER, user TEXT, env TEXT, git_commit TEXT, git_dirty INTEGER,"
    " started_ns INTEGER, ended_ns INTEGER, end_how INTEGER, exit_code INTEGER, signal INTEGER,"
    " utime_us INTEGER, stime_us INTEGER, maxrss_kb INTEGER);\n"
    "CREATE INDEX processes_session ON processes(session);\n"
    "CREATE TABLE files(process BLOB NOT NULL, origin_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " path TEXT NOT NULL, mode INTEGER, dev INTEGER, ino INTEGER, size INTEGER, mtime_ns INTEGER,"
    " closed INTEGER, sha256 BLOB, error TEXT, time_ns INTEGER, env INTEGER, packages TEXT);\n"
    "CREATE INDEX files_process ON files(process);\n"
    "CREATE TABLE trials(id INTEGER PRIMARY KEY, uuid BLOB NOT NULL UNIQUE, process BLOB,"
    " framework TEXT, opened_by TEXT, idx INTEGER, started_ns INTEGER, ended_ns INTEGER,"
    " status INTEGER, error TEXT);\n"
    "CREATE INDEX trials_process ON trials(process);\n"
    "CREATE TABLE params(trial_id INTEGER NOT NULL, origin_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " key TEXT NOT NULL, value TEXT, source TEXT, time_ns INTEGER);\n"
    "CREATE INDEX params_trial ON params(trial_id);\n"
    "CREATE TABLE metrics(trial_id INTEGER NOT NULL, origin_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " name TEXT NOT NULL, step INTEGER, value REAL, split TEXT, direction TEXT, time_ns INTEGER);\n"
    "CREATE INDEX metrics_trial ON metrics(trial_id);\n"
    "CREATE TABLE notes(origin_id INTEGER NOT NULL, seq INTEGER NOT NULL, process BLOB, level TEXT,"
    " text TEXT, time_ns INTEGER);\n"
    /* Derived, never stored: status and study follow whatever has arrived. */
    "CREATE VIEW process_view AS SELECT p.*, COALESCE(s.study, p.study) AS study_name,"
    " CASE WHEN p.end_how IS NULL THEN 'running' WHEN p.end_how = 1 THEN"
    "  CASE WHEN p.exit_code = 0 THEN 'ok' ELSE 'failed' END"
    "  WHEN p.end_how = 2 THEN 'crashed' WHEN p.end_how = 3 THEN 'exec'"
    "  WHEN p.end_how = 4 THEN 'killed' ELSE 'unknown' END AS status"
    " FROM processes p LEFT JOIN sessions s ON s.uuid = p.session;\n"
    "CREATE VIEW trial_view AS SELECT t.id, t.uuid, t.process, t.framework, t.opened_by, t.idx,"
    " COALESCE(t.started_ns, p.started_ns) AS started_ns,"
    " COALESCE(t.ended_ns, p.ended_ns) AS ended_ns,"
    " COALESCE(CASE t.status WHEN 1 THEN 'ok' WHEN 2 THEN 'failed' WHEN 3 THEN 'crashed'"
    "  WHEN 4 THEN 'killed' END, p.status, 'running') AS status,"
    " t.error, p.study_name AS study, p.session, p.exe, p.argv,"
    " CASE WHEN p.end_how = 1 THEN p.exit_code END AS exit_code,"
    " CASE WHEN p.end_how = 2 THEN p.signal END AS signal"
    " FROM trials t LEFT JOIN process_view p ON p.uuid = t.process;\n";

/* The environment (schema 5, FileAccess.environment / .packages): a process's
 * environment files are read apart from its inputs (leaf.c). A store of
 * schema 2-4 gets the columns from its next writer; its rows keep env NULL,
 * so its sealed leaves stay what they were. */
static const char *env_columns_sql = "ALTER TABLE files ADD COLUMN env INTEGER;\n"
                                     "ALTER TABLE files ADD COLUMN packages TEXT;\n";
static const char *env_index_sql =
    "CREATE INDEX IF NOT EXISTS files_env ON files(process) WHERE env = 1;\n";

/* What arrived when (no schema version of its own: IF NOT EXISTS, added by
 * any writer): one row per committed batch that stored something, with the
 * collector's receive time beside the client's event times, and the events
 * stored with a flag (docs/INTERNALS.md, "What the store accepts"). */
static const char *received_sql =
    "CREATE TABLE IF NOT EXISTS received(id INTEGER PRIMARY KEY, recv_ns INTEGER NOT NULL,"
    " sender BLOB, batch_seq INTEGER, events INTEGER, stored INTEGER, client_min_ns INTEGER,"
    " client_max_ns INTEGER, flags TEXT);\n";

/* Who may write what (no schema version of their own, like `received`;
 * docs/INTERNALS.md, "Origins, ownership and conflicts"):
 * digests - the 8-byte SipHash of each stored event's bytes, as runs of
 *   consecutive seqs (d holds 8 bytes per seq from seq_lo), so a resend with
 *   the same bytes is a duplicate and one with other bytes a conflict. An
 *   origin's latest run (up to RUN_SPILL seqs) lives in its `origins` row
 *   (run_lo, run), which each transaction rewrites anyway for the hwm; a
 *   full run becomes a `digest_runs` row. With 300 processes in every batch,
 *   a row per origin per transaction would dirty a page per origin; and the
 *   runs are appended in rowid order, with only a small (origin_id, seq_lo)
 *   index entry per run placed by origin: keyed by origin, the 520-byte rows
 *   themselves dirtied a leaf per origin per transaction (measured: ~10% of
 *   the CPU per event with 300 trials per batch). Stores written before
 *   keep their runs in `digests` (same columns, WITHOUT ROWID), still read;
 * carriers - senders (a flush's fresh uuid) that delivered a process's own
 *   events, and so may extend that process like its session;
 * refusals - each event refused (another origin's process or trial, a
 *   session's origin from another sender) or in conflict, never applied. */
#define RUN_SPILL 64 /* digests kept in an origins row before they move to `digest_runs` */
static const char *owner_columns_sql = "ALTER TABLE origins ADD COLUMN run_lo INTEGER;\n"
                                       "ALTER TABLE origins ADD COLUMN run BLOB;\n";
static const char *owner_sql =
    "CREATE TABLE IF NOT EXISTS digests(origin_id INTEGER NOT NULL, seq_lo INTEGER NOT NULL,"
    " d BLOB NOT NULL, PRIMARY KEY(origin_id, seq_lo)) WITHOUT ROWID;\n"
    "CREATE TABLE IF NOT EXISTS digest_runs(id INTEGER PRIMARY KEY, origin_id INTEGER NOT NULL,"
    " seq_lo INTEGER NOT NULL, d BLOB NOT NULL);\n"
    "CREATE UNIQUE INDEX IF NOT EXISTS digest_runs_at ON digest_runs(origin_id, seq_lo);\n"
    "CREATE TABLE IF NOT EXISTS carriers(process BLOB NOT NULL, sender BLOB NOT NULL,"
    " PRIMARY KEY(process, sender)) WITHOUT ROWID;\n"
    "CREATE TABLE IF NOT EXISTS refusals(id INTEGER PRIMARY KEY, recv_ns INTEGER NOT NULL,"
    " sender BLOB, batch_seq INTEGER, origin BLOB, seq INTEGER, kind INTEGER, why TEXT);\n"
    /* The lab collector (CURVE): the identity that first sent each origin
     * and sender uuid, and each study's first authenticated writer. */
    "CREATE TABLE IF NOT EXISTS identities(uuid BLOB PRIMARY KEY, identity TEXT NOT NULL,"
    " first_ns INTEGER NOT NULL) WITHOUT ROWID;\n"
    "CREATE TABLE IF NOT EXISTS study_owners(study TEXT PRIMARY KEY, identity TEXT NOT NULL,"
    " first_ns INTEGER NOT NULL);\n";

/* Out-of-fold predictions (issue 13; no schema version of their own, like
 * `received`): one row per Predictions chunk, joined by the leaf and by
 * store_read_predictions (docs/RECORD.md, "Out-of-fold predictions"). */
static const char *predictions_sql =
    "CREATE TABLE IF NOT EXISTS predictions(trial_id INTEGER NOT NULL, origin_id INTEGER NOT NULL,"
    " seq INTEGER NOT NULL, kind INTEGER NOT NULL, n INTEGER NOT NULL, off INTEGER NOT NULL,"
    " count INTEGER NOT NULL, nr_fold INTEGER, labels_fnv INTEGER, correct BLOB, value BLOB,"
    " label BLOB, fold BLOB);\n"
    "CREATE INDEX IF NOT EXISTS predictions_trial ON predictions(trial_id);\n";

/* Evaluations (schema 3), derived at read time like status and study, so
 * the model's producing trial and the evaluating process may arrive in any
 * order, from any session. A written file is looked up by content: */
static const char *eval_index_sql =
    "CREATE INDEX IF NOT EXISTS files_written_sha ON files(sha256)"
    " WHERE mode IN (1, 2) AND sha256 IS NOT NULL;\n";

/* Views only: a store of schema 2 gets them added by its next writer, and a
 * reader of such a store makes them TEMP (see eval_views_temp).
 *  eval_model_view: each hashed file a process read, with the trial that
 *   produced that content (NULL if none): a trial of another process of the
 *   same study whose process wrote it without having read it (so a `cp`
 *   wrapped in tunetrail does not become a producer). Several producers: the
 *   earliest process wins; in a process with several trials, the one whose
 *   model_file param names the path, else the last one started before the
 *   write.
 *  eval_process_view: (process, trial_id) - the process read a model of
 *   trial_id and reported a metric outside adapter trials.
 *  eval_trial_view: (id, evaluates) - a trial that is an evaluation: opened
 *   by the root fallback or a --trial pattern (not an adapter) in an
 *   evaluation process. It is not a trial of the study.
 *  eval_metric_view: the evaluation's metrics, on the evaluated trial, split
 *   'test'; those of its eval trials plus its trial-less ones.
 *  eval_data_view: a process's evaluation data files - every hashed file it
 *   read that is not a model it evaluates nor under a system directory.
 *   Meaningful for the processes of eval_process_view; filter by process. */
static const char *eval_views_sql =
    "CREATE VIEW eval_model_view AS SELECT r.process AS process, r.path AS path,"
    " r.sha256 AS sha256, (SELECT t.id FROM files w JOIN process_view pw ON pw.uuid = w.process"
    "  JOIN trials t ON t.process = w.process"
    "  WHERE w.sha256 = r.sha256 AND w.mode IN (1, 2) AND w.process <> r.process"
    "   AND pw.study_name IS pr.study_name AND NOT EXISTS (SELECT 1 FROM files x"
    "    WHERE x.process = w.process AND x.mode = 0 AND x.sha256 = r.sha256)"
    "  ORDER BY pw.started_ns, w.process, EXISTS (SELECT 1 FROM params k WHERE k.trial_id = t.id"
    "    AND k.key LIKE '%model_file' AND k.value = w.path) DESC,"
    "   COALESCE(t.started_ns <= w.time_ns, 0) DESC, t.started_ns DESC, t.id LIMIT 1) AS trial_id"
    " FROM files r JOIN process_view pr ON pr.uuid = r.process"
    " WHERE r.mode IN (0, 2) AND r.sha256 IS NOT NULL;\n"
    "CREATE VIEW eval_process_view AS SELECT DISTINCT m.process AS process, m.trial_id AS trial_id"
    " FROM eval_model_view m WHERE m.trial_id IS NOT NULL AND (EXISTS (SELECT 1 FROM trials e"
    "   JOIN metrics x ON x.trial_id = e.id WHERE e.process = m.process"
    "   AND COALESCE(e.opened_by, '') <> 'adapter')"
    "  OR EXISTS (SELECT 1 FROM metrics x WHERE x.trial_id = 0"
    "   AND x.origin_id = (SELECT id FROM origins WHERE uuid = m.process)));\n"
    "CREATE VIEW eval_trial_view AS SELECT t.id AS id, min(ep.trial_id) AS evaluates"
    " FROM trials t JOIN eval_process_view ep ON ep.process = t.process"
    " WHERE COALESCE(t.opened_by, '') <> 'adapter' GROUP BY t.id;\n"
    "CREATE VIEW eval_metric_view AS SELECT ep.trial_id AS trial_id, ep.process AS process,"
    " x.name AS name, x.value AS value, x.step AS step, 'test' AS split, x.direction AS direction,"
    " x.time_ns AS time_ns, x.origin_id AS origin_id, x.seq AS seq"
    " FROM eval_process_view ep JOIN trials e ON e.process = ep.process"
    "  AND COALESCE(e.opened_by, '') <> 'adapter' JOIN metrics x ON x.trial_id = e.id"
    " UNION ALL SELECT ep.trial_id, ep.process, x.name, x.value, x.step, 'test', x.direction,"
    " x.time_ns, x.origin_id, x.seq FROM eval_process_view ep"
    " JOIN origins o ON o.uuid = ep.process JOIN metrics x ON x.trial_id = 0 AND x.origin_id = o.id;\n"
    "CREATE VIEW eval_data_view AS SELECT f.process AS process, f.path AS path,"
    " max(f.sha256) AS sha256 FROM files f WHERE f.mode IN (0, 2) AND f.sha256 IS NOT NULL"
    " AND f.sha256 NOT IN (SELECT m.sha256 FROM eval_model_view m WHERE m.process = f.process"
    "  AND m.trial_id IS NOT NULL)"
    " AND f.path NOT GLOB '/usr/*' AND f.path NOT GLOB '/etc/*' AND f.path NOT GLOB '/lib*'"
    " AND f.path NOT GLOB '/proc/*' AND f.path NOT GLOB '/sys/*' AND f.path NOT GLOB '/dev/*'"
    " GROUP BY f.process, f.path;\n";

/* ---- uuid -> id map: open addressing; uuids are random, so their first
 * 8 bytes are a good hash. Bounded by IDMAP_MAX, checked between batches. */
struct idmap_slot {
    uint8_t key[TT_UUID_LEN];
    int64_t id; /* 0 = empty */
};
struct idmap {
    struct idmap_slot *slots;
    size_t cap, n;
};
#define IDMAP_MAX (1u << 22) /* bound memory; beyond it the map is restarted between batches */

static uint64_t idmap_hash(const uint8_t *k)
{
    uint64_t h;
    memcpy(&h, k, 8);
    return h * 0x9E3779B97F4A7C15ull;
}

static int64_t idmap_get(const struct idmap *m, const uint8_t *k)
{
    if (!m->cap)
        return 0;
    for (size_t i = idmap_hash(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->slots[i].id)
            return 0;
        if (!memcmp(m->slots[i].key, k, TT_UUID_LEN))
            return m->slots[i].id;
    }
}

static void idmap_clear(struct idmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

/* Returns 0, or -1 if out of memory (the map is unchanged). */
static int idmap_put(struct idmap *m, const uint8_t *k, int64_t id)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 1024;
        struct idmap_slot *ns = calloc(ncap, sizeof *ns);
        if (!ns)
            return -1;
        for (size_t j = 0; j < m->cap; j++) {
            if (!m->slots[j].id)
                continue;
            size_t i = idmap_hash(m->slots[j].key) & (ncap - 1);
            while (ns[i].id)
                i = (i + 1) & (ncap - 1);
            ns[i] = m->slots[j];
        }
        free(m->slots);
        m->slots = ns;
        m->cap = ncap;
    }
    size_t i = idmap_hash(k) & (m->cap - 1);
    while (m->slots[i].id && memcmp(m->slots[i].key, k, TT_UUID_LEN))
        i = (i + 1) & (m->cap - 1);
    if (!m->slots[i].id)
        m->n++;
    memcpy(m->slots[i].key, k, TT_UUID_LEN);
    m->slots[i].id = id;
    return 0;
}

/* ---- bump arena for protobuf-c unpack: one reset per batch instead of a
 * malloc/free pair per field. */
struct arena_chunk {
    struct arena_chunk *next;
    size_t cap, used;
    max_align_t data[];
};
struct arena {
    struct arena_chunk *head;
};

static void *arena_alloc(void *data, size_t size)
{
    struct arena *a = data;
    size = (size + 15) & ~(size_t)15;
    struct arena_chunk *c = a->head;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;
        struct arena_chunk *n = malloc(sizeof *n + cap);
        if (!n)
            return NULL;
        n->cap = cap;
        n->used = 0;
        n->next = c;
        a->head = c = n;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    return p;
}

/* Nothing: arena_reset frees a whole batch at once, so a decoded batch is
 * never walked by free_unpacked (measured ~2% of ingest). */
static void arena_free(void *data, void *ptr) { (void)data, (void)ptr; }

/* Keeps one chunk for the next batch; frees the rest so one huge batch does
 * not pin its memory forever. */
static void arena_reset(struct arena *a, int all)
{
    struct arena_chunk *c = a->head;
    if (!c)
        return;
    struct arena_chunk *keep = all ? NULL : c;
    if (keep) {
        c = c->next;
        keep->next = NULL;
        keep->used = 0;
    }
    while (c) {
        struct arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    a->head = keep;
}

/* ---- the store */
enum stmt_id {
    S_BEGIN, S_COMMIT, S_ROLLBACK, S_DATA_VERSION, S_ORIGIN_GET, S_ORIGIN_NEW, S_ORIGIN_HWM,
    S_AHEAD_ADD, S_AHEAD_TAKE, S_TRIAL_ID, S_STUDY, S_SESSION_START,
    S_SESSION_END, S_PROC_START, S_PROC_END, S_FILE, S_TRIAL_START, S_PARAM, S_METRIC,
    S_TRIAL_END, S_NOTE, S_TRIAL_OF_PROC, S_ADOPT_METRICS, S_RECEIVED, S_IS_SESSION,
    S_PROC_OWNER, S_CARRIER_ADD, S_TRIAL_OWNER, S_DIGEST_GET, S_DIGEST_ADD, S_REFUSAL,
    S_IDENT_GET, S_IDENT_ADD, S_OWNER_GET, S_OWNER_ADD, S_SESSION_STUDY, S_PROC_STUDY,
    S_PREDICTIONS, S__COUNT
};

static const char *stmt_sql[S__COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_DATA_VERSION] = "PRAGMA data_version",
    [S_ORIGIN_GET] = "SELECT id, hwm, (SELECT count(*) FROM ahead WHERE origin_id = origins.id),"
                     " run_lo, run FROM origins WHERE uuid = ?1",
    [S_ORIGIN_NEW] = "INSERT INTO origins(uuid) VALUES(?1) RETURNING id",
    [S_ORIGIN_HWM] = "UPDATE origins SET hwm = ?2, run_lo = ?3, run = ?4 WHERE id = ?1",
    [S_AHEAD_ADD] = "INSERT OR IGNORE INTO ahead(origin_id, seq) VALUES(?1,?2)",
    [S_AHEAD_TAKE] = "DELETE FROM ahead WHERE origin_id = ?1 AND seq = ?2",
    [S_TRIAL_ID] = "INSERT INTO trials(uuid) VALUES(?1) ON CONFLICT(uuid) DO UPDATE SET uuid=uuid"
                   " RETURNING id",
    [S_STUDY] = "INSERT OR IGNORE INTO studies(name, first_ns) VALUES(?1,?2)",
    [S_SESSION_START] =
        "INSERT INTO sessions(uuid, study, host, user, cwd, argv, trial_patterns, tool_version,"
        " started_ns) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9) ON CONFLICT(uuid) DO UPDATE SET"
        " study=excluded.study, host=excluded.host, user=excluded.user, cwd=excluded.cwd,"
        " argv=excluded.argv, trial_patterns=excluded.trial_patterns,"
        " tool_version=excluded.tool_version, started_ns=excluded.started_ns",
    [S_SESSION_END] = "INSERT INTO sessions(uuid, ended_ns, exit_code, signal) VALUES(?1,?2,?3,?4)"
                      " ON CONFLICT(uuid) DO UPDATE SET ended_ns=excluded.ended_ns,"
                      " exit_code=excluded.exit_code, signal=excluded.signal",
    [S_PROC_START] =
        "INSERT INTO processes(uuid, session, study, parent, relation, pid, ppid, exe, exe_sha256,"
        " argv, cwd, host, uid, user, env, git_commit, git_dirty, started_ns)"
        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)"
        " ON CONFLICT(uuid) DO UPDATE SET session=excluded.session, study=excluded.study,"
        " parent=excluded.parent, relation=excluded.relation, pid=excluded.pid,"
        " ppid=excluded.ppid, exe=excluded.exe, exe_sha256=excluded.exe_sha256,"
        " argv=excluded.argv, cwd=excluded.cwd, host=excluded.host, uid=excluded.uid,"
        " user=excluded.user, env=excluded.env, git_commit=excluded.git_commit,"
        " git_dirty=excluded.git_dirty, started_ns=excluded.started_ns",
    /* The WHERE is the "shim's end wins over a synthesised KILLED" rule. */
    [S_PROC_END] =
        "INSERT INTO processes(uuid, ended_ns, end_how, exit_code, signal, utime_us, stime_us,"
        " maxrss_kb) VALUES(?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT(uuid) DO UPDATE SET"
        " ended_ns=excluded.ended_ns, end_how=excluded.end_how, exit_code=excluded.exit_code,"
        " signal=excluded.signal, utime_us=excluded.utime_us, stime_us=excluded.stime_us,"
        " maxrss_kb=excluded.maxrss_kb"
        " WHERE processes.end_how IS NULL OR (processes.end_how = 4 AND excluded.end_how <> 4)",
    /* OR IGNORE on the appends: no constraint can then abort the statement,
     * so SQLite needs no statement journal for it (validation already
     * guarantees the NOT NULL columns). */
    [S_FILE] = "INSERT OR IGNORE INTO files(process, origin_id, seq, path, mode, dev, ino, size,"
               " mtime_ns, closed, sha256, error, time_ns, env, packages)"
               " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
    [S_TRIAL_START] =
        "INSERT INTO trials(uuid, process, framework, opened_by, idx, started_ns)"
        " VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT(uuid) DO UPDATE SET process=excluded.process,"
        " framework=excluded.framework, opened_by=excluded.opened_by, idx=excluded.idx,"
        " started_ns=excluded.started_ns",
    [S_PARAM] = "INSERT OR IGNORE INTO params(trial_id, origin_id, seq, key, value, source, time_ns)"
                " VALUES(?1,?2,?3,?4,?5,?6,?7)",
    [S_METRIC] = "INSERT OR IGNORE INTO metrics(trial_id, origin_id, seq, name, step, value, split,"
                 " direction, time_ns) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
    [S_TRIAL_END] = "INSERT INTO trials(uuid, status, error, ended_ns) VALUES(?1,?2,?3,?4)"
                    " ON CONFLICT(uuid) DO UPDATE SET status=excluded.status,"
                    " error=excluded.error, ended_ns=excluded.ended_ns",
    [S_PREDICTIONS] = "INSERT INTO predictions(trial_id, origin_id, seq, kind, n, off, count,"
                      " nr_fold, labels_fnv, correct, value, label, fold)"
                      " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
    [S_NOTE] = "INSERT OR IGNORE INTO notes(origin_id, seq, process, level, text, time_ns)"
               " VALUES(?1,?2,?3,?4,?5,?6)",
    /* A Metric without a trial (a program's printed output, no adapter trial
     * open) belongs to the trial of its process: the first one, found at
     * ingest if it exists, else adopted when that trial's TrialStart comes
     * (the root trial is opened only when the run ends). trial_id 0 = none. */
    [S_TRIAL_OF_PROC] = "SELECT id FROM trials WHERE process = ?1 ORDER BY id LIMIT 1",
    [S_ADOPT_METRICS] = "UPDATE metrics SET trial_id = ?1 WHERE trial_id = 0"
                        " AND origin_id = (SELECT id FROM origins WHERE uuid = ?2)",
    [S_RECEIVED] = "INSERT INTO received(recv_ns, sender, batch_seq, events, stored, client_min_ns,"
                   " client_max_ns, flags) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
    [S_IS_SESSION] = "SELECT started_ns IS NOT NULL FROM sessions WHERE uuid = ?1",
    /* session, started?, ?2 a carrier of it?, any carrier? */
    [S_PROC_OWNER] = "SELECT session, started_ns IS NOT NULL,"
                     " EXISTS(SELECT 1 FROM carriers WHERE process = ?1 AND sender = ?2),"
                     " EXISTS(SELECT 1 FROM carriers WHERE process = ?1)"
                     " FROM processes WHERE uuid = ?1",
    [S_CARRIER_ADD] = "INSERT OR IGNORE INTO carriers(process, sender) VALUES(?1,?2)",
    [S_TRIAL_OWNER] = "SELECT process FROM trials WHERE uuid = ?1",
    /* The run starting last at or before ?2, of either table (digest_runs
     * first on a tie: it is the newer). */
    [S_DIGEST_GET] = "SELECT seq_lo, d FROM (SELECT * FROM (SELECT seq_lo, d, 0 AS k FROM digest_runs"
                     " WHERE origin_id = ?1 AND seq_lo <= ?2 ORDER BY seq_lo DESC LIMIT 1)"
                     " UNION ALL SELECT * FROM (SELECT seq_lo, d, 1 FROM digests"
                     " WHERE origin_id = ?1 AND seq_lo <= ?2 ORDER BY seq_lo DESC LIMIT 1))"
                     " ORDER BY seq_lo DESC, k LIMIT 1",
    [S_DIGEST_ADD] = "INSERT OR REPLACE INTO digest_runs(origin_id, seq_lo, d) VALUES(?1,?2,?3)",
    [S_REFUSAL] = "INSERT INTO refusals(recv_ns, sender, batch_seq, origin, seq, kind, why)"
                  " VALUES(?1,?2,?3,?4,?5,?6,?7)",
    [S_IDENT_GET] = "SELECT identity FROM identities WHERE uuid = ?1",
    [S_IDENT_ADD] = "INSERT OR IGNORE INTO identities(uuid, identity, first_ns) VALUES(?1, ?2, ?3)",
    [S_OWNER_GET] = "SELECT identity FROM study_owners WHERE study = ?1",
    [S_OWNER_ADD] = "INSERT OR IGNORE INTO study_owners(study, identity, first_ns) VALUES(?1, ?2, ?3)",
    [S_SESSION_STUDY] = "SELECT study FROM sessions WHERE uuid = ?1 AND started_ns IS NOT NULL",
    [S_PROC_STUDY] = "SELECT study_name FROM process_view WHERE uuid = ?1 AND started_ns IS NOT NULL",
};

/* A multi-row INSERT being filled: the high-volume kinds (metrics, files)
 * go STORE_MULTI_ROWS rows per sqlite3_step. Rows point into the batch's
 * unpacked events, so a batch flushes before it returns. */
#define STORE_MULTI_ROWS 32
struct pending_row {
    const Tunetrail__Event *ev;
    int64_t tid, oid;
};
struct pending {
    int kind, cols, n;
    sqlite3_stmt *multi, *single; /* multi owned here; single is in stmt[] */
    struct pending_row rows[STORE_MULTI_ROWS];
};

/* One origin's dedupe state; `saved` is the hwm in the database. */
struct origin {
    int64_t id, hwm, saved;
    int64_t ahead;      /* rows in `ahead` for this origin */
    uint64_t batch;     /* last batch that touched it (write-back list) */
    /* Digests of the seqs from run_lo on that are not in `digests`: the
     * origins row's run, plus this transaction's (written by origins_save). */
    int64_t run_lo;
    size_t run_n, run_cap;
    uint8_t *run;
    int run_dirty;
    /* The last sender this origin's events were accepted from. */
    uint8_t ok_sender[TT_UUID_LEN];
    int ok_set;
};

/* The background checkpointer: its own connection and thread; the writer's
 * WAL hook kicks it. */
struct ckpt {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sqlite3 *db;
    int running, stop, kick;
    int last_kick; /* WAL frames when last kicked */
};

struct tt_store {
    struct ckpt *ckpt;
    sqlite3 *db;
    char *path;
    int readonly;
    sqlite3_stmt *stmt[S__COUNT];
    struct idmap origin_ix; /* uuid -> index + 1 in origv */
    struct origin *origv;
    size_t norig, caporig;
    size_t *touched; /* origv indexes touched by this batch */
    size_t ntouched, captouched;
    uint64_t batch;          /* batches begun, for origin.batch */
    struct pending pend[2];  /* metrics, files */
    int64_t data_version;    /* as of our last transaction; others' commits change it */
    struct idmap trials;
    /* Ownership already checked in this connection: process / trial uuid ->
     * id of the origin allowed to extend it (a cache: a miss costs a lookup). */
    struct idmap proc_ok, trial_ok;
    const Tunetrail__Batch *cur_b; /* the batch being stored (its sender) */
    struct ingest_result *cur_res;
    struct store_log *log;   /* writers only */
    unsigned cur_batch;      /* index of the batch being stored in this transaction */
    int64_t recv_ns;         /* the batch being stored: its receive time (ingest_input) */
    int ck_valid;            /* the last ingest call committed: its checkpoints stand */
    int held;                /* store_sqlite_ingest(hold) left its transaction open */
    struct store_pg *pg;     /* a PostgreSQL store's link; this is its replica */
    store_access_fn access;  /* NULL: a study is its first authenticated writer's */
    void *access_arg;
    struct arena arena;
    ProtobufCAllocator alloc;
};

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        tt_fail(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int read_user_version(sqlite3 *db, int *v)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(s);
    *v = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : -1;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Adds files.env and files.packages to an older store unless there. */
/* The origins row's pending digest run: added by any writer, once. */
static int owner_columns(sqlite3 *db, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('origins') WHERE name = 'run'", -1,
                           &s, NULL) != SQLITE_OK)
        return tt_fail(err, errlen, "%s", sqlite3_errmsg(db));
    int has = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return has ? 0 : exec_sql(db, owner_columns_sql, err, errlen);
}

static int env_columns(sqlite3 *db, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    int has = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('files') WHERE name = 'env'", -1, &s,
                           NULL) != SQLITE_OK)
        return tt_fail(err, errlen, "%s", sqlite3_errmsg(db));
    has = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return has ? 0 : exec_sql(db, env_columns_sql, err, errlen);
}

/* Creates the schema once; BEGIN IMMEDIATE serialises concurrent first opens. */
static int ensure_schema(tt_store *st, char *err, size_t errlen)
{
    int v;
    if (exec_sql(st->db, "BEGIN IMMEDIATE", err, errlen) < 0)
        return -1;
    if (read_user_version(st->db, &v) < 0) {
        tt_fail(err, errlen, "%s", sqlite3_errmsg(st->db));
        goto err;
    }
    if (v == 0 || v == 2 || v == 3 || v == 4) {
        /* 2 -> 3 adds an index and views: nothing stored changes. 3 -> 4 adds
         * the log, and seals the trials already final. 4 -> 5 adds two
         * columns to files: nothing sealed changes. */
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version=%d", STORE_SCHEMA_VERSION);
        if ((v == 0 && exec_sql(st->db, schema_sql, err, errlen) < 0) ||
            (v != 0 && env_columns(st->db, err, errlen) < 0) ||
            exec_sql(st->db, env_index_sql, err, errlen) < 0 ||
            ((v == 0 || v == 2) && exec_sql(st->db, eval_index_sql, err, errlen) < 0) ||
            ((v == 0 || v == 2) && exec_sql(st->db, eval_views_sql, err, errlen) < 0) ||
            (v != 4 && exec_sql(st->db, slog_schema_sql, err, errlen) < 0) ||
            exec_sql(st->db, sql, err, errlen) < 0)
            goto err;
    } else if (v != STORE_SCHEMA_VERSION) {
        tt_fail(err, errlen, "store schema version %d, this tunetrail knows %d", v,
                STORE_SCHEMA_VERSION);
        goto err;
    }
    if (exec_sql(st->db, received_sql, err, errlen) < 0 ||
        exec_sql(st->db, owner_sql, err, errlen) < 0 || owner_columns(st->db, err, errlen) < 0 ||
        exec_sql(st->db, predictions_sql, err, errlen) < 0)
        goto err;
    if (!(st->log = slog_new(st->db, err, errlen)))
        goto err;
    if (v == 2 || v == 3) {
        int rc = slog_seal_all(st->log, now_ns());
        if (rc != SQLITE_OK) {
            tt_fail(err, errlen, "sealing the trials of the upgraded store: %s", sqlite3_errstr(rc));
            goto err;
        }
    }
    return exec_sql(st->db, "COMMIT", err, errlen);
err:
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* A reader of a schema-2 store (written by an older tunetrail, not opened by
 * a writer since) cannot add the evaluation views to the file: it defines
 * them as TEMP views of its own connection, which resolve first. */
static int eval_views_temp(tt_store *st, char *err, size_t errlen)
{
    static const char from[] = "CREATE VIEW ", to[] = "CREATE TEMP VIEW ";
    size_t n = strlen(eval_views_sql), k = 0;
    for (const char *p = eval_views_sql; (p = strstr(p, from)); p += sizeof from - 1)
        k++;
    char *sql = malloc(n + k * (sizeof to - sizeof from) + 1), *q = sql;
    if (!sql) {
        tt_fail(err, errlen, "out of memory");
        return -1;
    }
    for (const char *p = eval_views_sql, *hit; *p; p = hit + sizeof from - 1) {
        if (!(hit = strstr(p, from))) {
            strcpy(q, p);
            q += strlen(p);
            break;
        }
        memcpy(q, p, (size_t)(hit - p));
        q += hit - p;
        memcpy(q, to, sizeof to - 1);
        q += sizeof to - 1;
    }
    *q = 0;
    int rc = exec_sql(st->db, sql, err, errlen);
    free(sql);
    return rc;
}

/* Prepares "INSERT INTO table(cols) VALUES(?,..),(?,..).." for STORE_MULTI_ROWS
 * rows from the single-row statement's prefix (everything up to VALUES). */
static int pending_prepare(tt_store *st, struct pending *p, int kind, int single, int cols)
{
    const char *sql = stmt_sql[single];
    const char *v = strstr(sql, " VALUES");
    size_t pre = (size_t)(v - sql);
    size_t cap = pre + 16 + (size_t)STORE_MULTI_ROWS * (size_t)(cols * 2 + 4);
    char *buf = malloc(cap), *q;
    if (!buf)
        return SQLITE_NOMEM;
    memcpy(buf, sql, pre);
    q = buf + pre;
    q += sprintf(q, " VALUES");
    for (int r = 0; r < STORE_MULTI_ROWS; r++) {
        *q++ = r ? ',' : ' ';
        *q++ = '(';
        for (int c = 0; c < cols; c++) {
            if (c)
                *q++ = ',';
            *q++ = '?';
        }
        *q++ = ')';
    }
    *q = 0;
    p->kind = kind;
    p->cols = cols;
    p->n = 0;
    p->single = st->stmt[single];
    int rc = sqlite3_prepare_v3(st->db, buf, -1, SQLITE_PREPARE_PERSISTENT, &p->multi, NULL);
    free(buf);
    return rc;
}

/* 1 if the store at path holds nothing: no file, or a 0-byte file with no
 * WAL content (a store killed before its first checkpoint has a 0-byte main
 * file and its pages in -wal). */
static int store_is_empty(const char *path, int *missing)
{
    struct stat sb;
    *missing = stat(path, &sb) < 0 && errno == ENOENT;
    if (*missing)
        return 1;
    if (sb.st_size != 0)
        return 0;
    char wal[4096];
    snprintf(wal, sizeof wal, "%s-wal", path);
    return stat(wal, &sb) < 0 || sb.st_size == 0;
}

/* A writer about to make a new store: refuses under STORE_EXISTING; else
 * creates a missing file 0600 (O_EXCL: a concurrent first open may win) and
 * makes an empty one 0600 before SQLite writes into it - its -wal and -shm
 * then get 0600 too. An existing store is left as its owner made it. */
static int make_private(const char *path, int flags, char *err, size_t errlen)
{
    int missing;
    if (!store_is_empty(path, &missing))
        return 0;
    if (flags & STORE_EXISTING)
        return tt_fail(err, errlen,
                       missing ? "no such file; pass --create to start a new store there"
                               : "the file is empty (0 bytes), not a tunetrail store; if a new"
                                 " store is what you want, pass --create");
    if (missing) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            return tt_fail(err, errlen, "cannot create: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    if (chmod(path, 0600) < 0 && errno != EPERM)
        return tt_fail(err, errlen, "chmod 0600: %s", strerror(errno));
    return 0;
}

tt_store *store_open(const char *path, int flags, char *err, size_t errlen)
{
    if (store_pg_uri(path))
        return store_pg_open(path, NULL, flags, err, errlen);
    return store_sqlite_open(path, flags, err, errlen);
}

tt_store *store_sqlite_open(const char *path, int flags, char *err, size_t errlen)
{
    tt_store *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        tt_fail(err, errlen, "out of memory");
        free(st);
        return NULL;
    }
    st->readonly = !(flags & STORE_CREATE);
    st->alloc = (ProtobufCAllocator){arena_alloc, arena_free, &st->arena};
    struct stat sb;
    if (st->readonly && stat(path, &sb) < 0) {
        tt_fail(err, errlen, "%s", strerror(errno));
        goto err;
    }
    if (!st->readonly && make_private(path, flags, err, errlen) < 0)
        goto err;
    int oflags = st->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &st->db, oflags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        tt_fail(err, errlen, "%s", st->db ? sqlite3_errmsg(st->db) : "out of memory");
        goto err;
    }
    sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
    if (st->readonly) {
        int v;
        if (read_user_version(st->db, &v) < 0) {
            tt_fail(err, errlen, "%s", sqlite3_errmsg(st->db));
            goto err;
        }
        if (v == 2 && eval_views_temp(st, err, errlen) < 0)
            goto err;
        /* Not upgraded yet: files without the environment columns, which
         * a TEMP view (resolved first) adds as NULL: every file an input. */
        if ((v == 2 || v == 3 || v == 4) &&
            exec_sql(st->db,
                     "CREATE TEMP VIEW files AS SELECT *, NULL AS env, NULL AS packages"
                     " FROM main.files;",
                     err, errlen) < 0)
            goto err;
        /* Not upgraded yet: an empty log (its trials get sealed by the next writer). */
        if ((v == 2 || v == 3) &&
            exec_sql(st->db,
                     "CREATE TEMP TABLE log(study TEXT, idx INTEGER, trial_id INTEGER, leaf TEXT,"
                     " hash BLOB, time_ns INTEGER); CREATE TEMP TABLE log_head(study TEXT, size"
                     " INTEGER, frontier BLOB); CREATE TEMP TABLE checkpoints(study TEXT, tree_size"
                     " INTEGER, root BLOB, key BLOB, sig BLOB, time_ns INTEGER);",
                     err, errlen) < 0)
            goto err;
        if (v != STORE_SCHEMA_VERSION && v != 2 && v != 3 && v != 4) {
            tt_fail(err, errlen, v ? "store schema version %d, this tunetrail knows %d"
                                   : "not a tunetrail store (schema version %d, expected %d)",
                    v, STORE_SCHEMA_VERSION);
            goto err;
        }
        return st;
    }
    /* WAL: readers never block the writer; NORMAL: a commit survives a crash
     * of the process, and at worst the last commits are lost on power loss -
     * which the agent's spool covers, since it keeps batches until acked. */
    /* Append-order tables leave few hot pages (table tails, index tails per
     * running trial/process), so a 16 MiB cache holds them with room for
     * hundreds of concurrent trials; a bigger one only costs page faults
     * (~12 us each here) while it fills. temp_store=MEMORY keeps statement
     * journals off disk (measured: they were a pwrite per few inserts).
     * Checkpoints fsync, so they run every 64 MiB of WAL rather than every
     * 4 MiB. (Measured: 16 KiB pages are slower - each hot page a batch
     * touches is rewritten whole.) */
    if (exec_sql(st->db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                 " PRAGMA cache_size=-16384; PRAGMA temp_store=MEMORY;"
                 " PRAGMA wal_autocheckpoint=16384;",
                 err, errlen) < 0 ||
        ensure_schema(st, err, errlen) < 0)
        goto err;
    for (int i = 0; i < S__COUNT; i++) {
        if (sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
                               NULL) != SQLITE_OK) {
            tt_fail(err, errlen, "prepare: %s", sqlite3_errmsg(st->db));
            goto err;
        }
    }
    if (pending_prepare(st, &st->pend[0], TUNETRAIL__EVENT__KIND_METRIC, S_METRIC, 9) !=
            SQLITE_OK ||
        pending_prepare(st, &st->pend[1], TUNETRAIL__EVENT__KIND_FILE_ACCESS, S_FILE, 15) !=
            SQLITE_OK) {
        tt_fail(err, errlen, "prepare: %s", sqlite3_errmsg(st->db));
        goto err;
    }
    return st;
err:
    store_close(st);
    return NULL;
}

static void ckpt_stop(tt_store *st);
static void origins_forget(tt_store *st);

void store_close(tt_store *st)
{
    if (!st)
        return;
    store_pg_close(st->pg);
    ckpt_stop(st);
    for (int i = 0; i < S__COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    for (int i = 0; i < 2; i++)
        sqlite3_finalize(st->pend[i].multi);
    slog_free(st->log); /* its statements first: sqlite3_close refuses open ones */
    sqlite3_close(st->db);
    idmap_clear(&st->origin_ix);
    idmap_clear(&st->trials);
    origins_forget(st);
    free(st->origv);
    free(st->touched);
    arena_reset(&st->arena, 1);
    free(st->path);
    free(st);
}

/* ---- checkpoints off the ingest path. A PASSIVE checkpoint on another
 * connection copies committed WAL frames into the database while the writer
 * goes on appending (2 cores: measured 0.55 -> 0.75M events/s store-only).
 * It can rarely finish the whole WAL under a steady writer, and the WAL only
 * restarts from its beginning after a complete one; so at CKPT_SYNC_FRAMES
 * the writer runs one itself, which has little left to copy. */
static void *ckpt_main(void *arg)
{
    tt_store *st = arg;
    struct ckpt *c = st->ckpt;
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        if (!c->kick) {
            pthread_cond_wait(&c->cv, &c->mu);
            continue;
        }
        c->kick = 0;
        pthread_mutex_unlock(&c->mu);
        /* BUSY (the writer is checkpointing) is fine: the next kick retries. */
        sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static int ckpt_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    tt_store *st = arg;
    struct ckpt *c = st->ckpt;
    if (frames >= CKPT_SYNC_FRAMES) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        c->last_kick = 0;
        return SQLITE_OK;
    }
    if (frames < c->last_kick) /* the WAL restarted */
        c->last_kick = 0;
    if (frames - c->last_kick >= CKPT_KICK_FRAMES) {
        c->last_kick = frames;
        pthread_mutex_lock(&c->mu);
        c->kick = 1;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
    return SQLITE_OK;
}

int store_background_checkpoints(tt_store *st, char *err, size_t errlen)
{
    if (st->readonly || st->ckpt)
        return 0;
    struct ckpt *c = calloc(1, sizeof *c);
    if (!c) {
        tt_fail(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (sqlite3_open_v2(st->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        tt_fail(err, errlen, "checkpointer: %s", c->db ? sqlite3_errmsg(c->db) : "out of memory");
        goto err;
    }
    sqlite3_wal_autocheckpoint(c->db, 0); /* it never writes, but be explicit */
    st->ckpt = c;
    if (pthread_create(&c->th, NULL, ckpt_main, st) != 0) {
        tt_fail(err, errlen, "checkpointer: cannot start thread");
        st->ckpt = NULL;
        goto err;
    }
    c->running = 1;
    sqlite3_wal_hook(st->db, ckpt_hook, st); /* replaces the autocheckpoint */
    return 0;
err:
    sqlite3_close(c->db);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
    return -1;
}

static void ckpt_stop(tt_store *st)
{
    struct ckpt *c = st->ckpt;
    if (!c)
        return;
    sqlite3_wal_hook(st->db, NULL, NULL);
    sqlite3_wal_autocheckpoint(st->db, CKPT_SYNC_FRAMES);
    pthread_mutex_lock(&c->mu);
    c->stop = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (c->running)
        pthread_join(c->th, NULL);
    sqlite3_close(c->db);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
    st->ckpt = NULL;
}

struct sqlite3 *store_sqlite(tt_store *st) { return st->db; }
struct store_pg **store_pg_slot(tt_store *st) { return &st->pg; }
const char *store_path(tt_store *st) { return st->path; }

const char *store_error_name(enum store_error e)
{
    switch (e) {
    case STORE_ERR_NONE: return "";
    case STORE_ERR_BUSY: return "store busy";
    case STORE_ERR_FULL: return "store full";
    case STORE_ERR_DAMAGED: return "store damaged";
    case STORE_ERR_READONLY: return "store read-only";
    case STORE_ERR_FORBIDDEN: return "not authorised";
    case STORE_ERR_IO: break;
    }
    return "store I/O error";
}

static enum store_error classify(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return STORE_ERR_BUSY;
    case SQLITE_FULL: return STORE_ERR_FULL;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return STORE_ERR_DAMAGED;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN: return STORE_ERR_READONLY;
    default: return STORE_ERR_IO;
    }
}

struct check_budget {
    struct timespec end;
    int expired;
};

static int check_progress(void *arg)
{
    struct check_budget *b = arg;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > b->end.tv_sec || (now.tv_sec == b->end.tv_sec && now.tv_nsec >= b->end.tv_nsec))
        b->expired = 1;
    return b->expired;
}

int store_check(const char *path, long budget_ms, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int rc = -1;
    struct check_budget b = {{0, 0}, 0};
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        tt_fail(err, errlen, "%s", db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(db, STORE_BUSY_MS);
    if (budget_ms > 0) {
        clock_gettime(CLOCK_MONOTONIC, &b.end);
        b.end.tv_sec += budget_ms / 1000;
        b.end.tv_nsec += (budget_ms % 1000) * 1000000;
        if (b.end.tv_nsec >= 1000000000)
            b.end.tv_sec++, b.end.tv_nsec -= 1000000000;
        sqlite3_progress_handler(db, 10000, check_progress, &b);
    }
    /* At most 10 problems: enough to say what is wrong, bounded output. */
    if (sqlite3_prepare_v2(db, "PRAGMA quick_check(10)", -1, &s, NULL) != SQLITE_OK) {
        tt_fail(err, errlen, "%s", sqlite3_errmsg(db));
        goto out;
    }
    size_t used = 0;
    int n = 0, step;
    char msg[1024] = "";
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(s, 0);
        if (line && !strcmp(line, "ok") && n == 0) {
            rc = 0;
            continue;
        }
        rc = -1;
        if (used < sizeof msg)
            used += (size_t)snprintf(msg + used, sizeof msg - used, "%s%s", n++ ? "; " : "",
                                     line ? line : "?");
    }
    for (char *c = msg; *c; c++) /* one log line */
        if (*c == '\n')
            *c = ' ';
    if (b.expired) {
        tt_fail(err, errlen, "quick_check stopped after %ld ms (its budget); the store is only"
                             " partly checked", budget_ms);
        rc = 1;
    } else if (step != SQLITE_DONE) {
        tt_fail(err, errlen, "%s", sqlite3_errmsg(db));
        rc = -1;
    } else if (rc < 0) {
        tt_fail(err, errlen, "%s", n ? msg : "quick_check returned nothing");
    }
out:
    sqlite3_finalize(s);
    sqlite3_close(db);
    return rc;
}

/* ---- validation: reject before touching the database */
static int uuid_ok(ProtobufCBinaryData b) { return b.len == TT_UUID_LEN; }
static int uuid_opt_ok(ProtobufCBinaryData b) { return b.len == 0 || b.len == TT_UUID_LEN; }
static int str_ok(const char *s) { return !s || strnlen(s, STORE_STR_MAX + 1) <= STORE_STR_MAX; }
static int strs_ok(char **v, size_t n)
{
    if (n > STORE_LIST_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!str_ok(v[i]))
            return 0;
    return 1;
}

static int name_ok(const char *s, size_t max) { return !s || strnlen(s, max + 1) <= max; }

/* 1 if s (NULL is fine) is valid UTF-8 without C0 controls or DEL: a name a
 * person typed. Names that are not are stored as sent, and flagged. */
static int name_clean(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (p && *p) {
        unsigned c = *p;
        size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                                : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (n == 0 || (n == 1 && (c < 0x20 || c == 0x7f)) || (n == 2 && c < 0xc2) ||
            (n == 4 && c > 0xf4))
            return 0;
        for (size_t i = 1; i < n; i++)
            if ((p[i] & 0xc0) != 0x80)
                return 0;
        if ((n == 3 && c == 0xe0 && p[1] < 0xa0) || (n == 3 && c == 0xed && p[1] >= 0xa0) ||
            (n == 4 && c == 0xf0 && p[1] < 0x90) || (n == 4 && c == 0xf4 && p[1] >= 0x90))
            return 0; /* overlong, surrogate, beyond U+10FFFF */
        p += n;
    }
    return 1;
}

/* 1 if every name-like field of ev is clean (name_clean). */
static int names_clean(const Tunetrail__Event *ev)
{
    switch (ev->kind_case) {
    case TUNETRAIL__EVENT__KIND_SESSION_START:
        return name_clean(ev->session_start->study) && name_clean(ev->session_start->host) &&
               name_clean(ev->session_start->user);
    case TUNETRAIL__EVENT__KIND_PROCESS_START:
        return name_clean(ev->process_start->study) && name_clean(ev->process_start->host) &&
               name_clean(ev->process_start->user);
    case TUNETRAIL__EVENT__KIND_TRIAL_START:
        return name_clean(ev->trial_start->framework) && name_clean(ev->trial_start->opened_by);
    case TUNETRAIL__EVENT__KIND_PARAM:
        return name_clean(ev->param->key) && name_clean(ev->param->source);
    case TUNETRAIL__EVENT__KIND_METRIC:
        return name_clean(ev->metric->name) && name_clean(ev->metric->split) &&
               name_clean(ev->metric->direction);
    default:
        return 1;
    }
}

/* Returns NULL if ev is well-formed, else what is wrong with it (why points
 * into buf when it carries a value). recv_ns: the collector's clock. */
static const char *validate_event(const Tunetrail__Event *ev, int64_t recv_ns, char *buf,
                                  size_t buflen)
{
    if (!uuid_ok(ev->origin))
        return "origin is not a 16-byte uuid";
    if (!ev->has_seq)
        return "event without seq";
    if (ev->seq > INT64_MAX) /* SQLite integers are signed */
        return "seq out of range";
    if (ev->has_time_ns &&
        (ev->time_ns < 0 || ev->time_ns - recv_ns > STORE_TIME_AHEAD_NS)) {
        snprintf(buf, buflen,
                 "time_ns %lld is outside [1970-01-01, receive time + 5 years]; the sender's"
                 " clock or the batch is broken",
                 (long long)ev->time_ns);
        return buf;
    }
    switch (ev->kind_case) {
    case TUNETRAIL__EVENT__KIND_SESSION_START: {
        const Tunetrail__SessionStart *m = ev->session_start;
        if (!uuid_ok(m->session))
            return "SessionStart.session is not a uuid";
        if (!str_ok(m->study) || !str_ok(m->host) || !str_ok(m->user) || !str_ok(m->cwd) ||
            !str_ok(m->tool_version) || !strs_ok(m->argv, m->n_argv) ||
            !strs_ok(m->trial_patterns, m->n_trial_patterns))
            return "SessionStart string too long";
        if (!name_ok(m->study, STORE_STUDY_MAX) || !name_ok(m->host, STORE_NAME_MAX) ||
            !name_ok(m->user, STORE_NAME_MAX))
            return "SessionStart study (256 bytes at most), host or user too long";
        return NULL;
    }
    case TUNETRAIL__EVENT__KIND_SESSION_END:
        return uuid_ok(ev->session_end->session) ? NULL : "SessionEnd.session is not a uuid";
    case TUNETRAIL__EVENT__KIND_PROCESS_START: {
        const Tunetrail__ProcessStart *m = ev->process_start;
        if (!uuid_ok(m->process) || !uuid_opt_ok(m->session) || !uuid_opt_ok(m->parent))
            return "ProcessStart process/session/parent is not a uuid";
        if (m->exe_sha256.len != 0 && m->exe_sha256.len != 32)
            return "ProcessStart.exe_sha256 is not 32 bytes";
        if (!str_ok(m->exe) || !str_ok(m->cwd) || !str_ok(m->host) || !str_ok(m->user) ||
            !str_ok(m->study) || !str_ok(m->git_commit) || !strs_ok(m->argv, m->n_argv) ||
            !strs_ok(m->env, m->n_env))
            return "ProcessStart string too long";
        if (!name_ok(m->study, STORE_STUDY_MAX) || !name_ok(m->host, STORE_NAME_MAX) ||
            !name_ok(m->user, STORE_NAME_MAX))
            return "ProcessStart study (256 bytes at most), host or user too long";
        return NULL;
    }
    case TUNETRAIL__EVENT__KIND_PROCESS_END:
        if (!uuid_ok(ev->process_end->process))
            return "ProcessEnd.process is not a uuid";
        return ev->process_end->has_how ? NULL : "ProcessEnd without how";
    case TUNETRAIL__EVENT__KIND_FILE_ACCESS: {
        const Tunetrail__FileAccess *m = ev->file_access;
        if (!uuid_ok(m->process))
            return "FileAccess.process is not a uuid";
        if (!m->path || !*m->path || !str_ok(m->path) || !str_ok(m->error) ||
            !str_ok(m->packages))
            return "FileAccess.path missing or too long";
        if (m->sha256.len != 0 && m->sha256.len != 32)
            return "FileAccess.sha256 is not 32 bytes";
        return NULL;
    }
    case TUNETRAIL__EVENT__KIND_TRIAL_START: {
        const Tunetrail__TrialStart *m = ev->trial_start;
        if (!uuid_ok(m->trial) || !uuid_ok(m->process))
            return "TrialStart trial/process is not a uuid";
        return name_ok(m->framework, STORE_NAME_MAX) && name_ok(m->opened_by, STORE_NAME_MAX)
                   ? NULL
                   : "TrialStart framework or opened_by too long (1024 bytes at most)";
    }
    case TUNETRAIL__EVENT__KIND_PARAM: {
        const Tunetrail__Param *m = ev->param;
        if (!uuid_ok(m->trial))
            return "Param.trial is not a uuid";
        if (!m->key || !*m->key || !m->value)
            return "Param without key or value";
        if (!name_ok(m->key, STORE_NAME_MAX))
            return "Param.key too long (1024 bytes at most)";
        return str_ok(m->value) && str_ok(m->source) ? NULL : "Param string too long";
    }
    case TUNETRAIL__EVENT__KIND_METRIC: {
        const Tunetrail__Metric *m = ev->metric;
        if (!uuid_opt_ok(m->trial)) /* none: the trial of its process */
            return "Metric.trial is not a uuid";
        if (!m->name || !*m->name || !m->has_value)
            return "Metric without name or value";
        return name_ok(m->name, STORE_NAME_MAX) && name_ok(m->split, STORE_NAME_MAX) &&
                       name_ok(m->direction, STORE_NAME_MAX)
                   ? NULL
                   : "Metric name, split or direction too long (1024 bytes at most)";
    }
    case TUNETRAIL__EVENT__KIND_TRIAL_END:
        if (!uuid_ok(ev->trial_end->trial))
            return "TrialEnd.trial is not a uuid";
        return str_ok(ev->trial_end->error) ? NULL : "TrialEnd.error too long";
    case TUNETRAIL__EVENT__KIND_PREDICTIONS: {
        const Tunetrail__Predictions *m = ev->predictions;
        if (!uuid_ok(m->trial))
            return "Predictions.trial is not a uuid";
        if (!m->has_kind || (m->kind != TUNETRAIL__PREDICTIONS__KIND__PRED_CORRECT &&
                             m->kind != TUNETRAIL__PREDICTIONS__KIND__PRED_VALUE &&
                             m->kind != TUNETRAIL__PREDICTIONS__KIND__PRED_FOLD_SCORE))
            return "Predictions.kind is not CORRECT, VALUE or FOLD_SCORE";
        if (!m->has_n || m->n == 0 || m->n > STORE_PREDICTIONS_MAX || !m->has_count ||
            m->count == 0 || m->offset > m->n || m->count > m->n - m->offset)
            return "Predictions n, offset or count out of range";
        if (m->kind == TUNETRAIL__PREDICTIONS__KIND__PRED_CORRECT
                ? m->offset % 8 || m->correct.len != (m->count + 7) / 8 || m->n_value || m->n_label
                : m->n_value != m->count || m->correct.len ||
                      m->n_label != (m->kind == TUNETRAIL__PREDICTIONS__KIND__PRED_VALUE ? m->count : 0))
            return "Predictions data does not match its kind and count";
        if (m->fold.len && m->fold.len != m->count)
            return "Predictions.fold is not one byte per example";
        return NULL;
    }
    case TUNETRAIL__EVENT__KIND_NOTE:
        if (!uuid_opt_ok(ev->note->process))
            return "Note.process is not a uuid";
        return str_ok(ev->note->level) && str_ok(ev->note->text) ? NULL : "Note too long";
    default:
        return "event of unknown kind";
    }
}

/* ---- ingest helpers: each returns an SQLite result code */
static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}
static void bind_blob(sqlite3_stmt *s, int i, ProtobufCBinaryData b)
{
    if (b.len)
        sqlite3_bind_blob(s, i, b.data, (int)b.len, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}
static void bind_i64(sqlite3_stmt *s, int i, int has, int64_t v)
{
    if (has)
        sqlite3_bind_int64(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

/* JSON array of strings; the returned text is malloc'd (NULL-able). */
static char *json_strings(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, jsonfmt_string(v[i])); /* bad UTF-8 repaired, not dropped */
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

/* Runs a bound statement to completion and resets it. */
static int run(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Records a study name (first seen at t) for `tunetrail studies`. */
static int note_study(tt_store *st, const char *study, int has_t, int64_t t)
{
    sqlite3_stmt *s = st->stmt[S_STUDY];
    bind_text(s, 1, study);
    bind_i64(s, 2, has_t, t);
    return run(s);
}

struct pending;
static int pending_flush(tt_store *st, struct pending *p);

/* Maps a uuid to its row id in origins or trials, creating the row. */
static int lookup_id(tt_store *st, int which, struct idmap *m, const uint8_t *uuid, int64_t *id);

/* TrialStart of m->process: its process's trial-less metrics stored so far
 * (pending rows included) become this trial's. */
static int adopt_metrics(tt_store *st, const Tunetrail__TrialStart *m)
{
    int64_t tid;
    int rc = pending_flush(st, &st->pend[0]);
    if (rc != SQLITE_OK || (rc = lookup_id(st, S_TRIAL_ID, &st->trials, m->trial.data, &tid)) != SQLITE_OK)
        return rc;
    slog_metrics_forget(st->log, tid); /* its points change behind the log's back */
    sqlite3_stmt *s = st->stmt[S_ADOPT_METRICS];
    sqlite3_bind_int64(s, 1, tid);
    bind_blob(s, 2, m->process);
    return run(s);
}

/* The first trial of process `origin`, 0 if it has none yet. */
static int trial_of_process(tt_store *st, const ProtobufCBinaryData *origin, int64_t *tid)
{
    sqlite3_stmt *s = st->stmt[S_TRIAL_OF_PROC];
    bind_blob(s, 1, *origin);
    int rc = sqlite3_step(s);
    *tid = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int lookup_id(tt_store *st, int which, struct idmap *m, const uint8_t *uuid, int64_t *id)
{
    if ((*id = idmap_get(m, uuid)))
        return SQLITE_OK;
    sqlite3_stmt *s = st->stmt[which];
    sqlite3_bind_blob(s, 1, uuid, TT_UUID_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
        rc = SQLITE_OK;
    }
    sqlite3_reset(s);
    if (rc == SQLITE_OK)
        (void)idmap_put(m, uuid, *id); /* a cache: a miss only costs a lookup */
    return rc;
}

/* Tells the log that trial `uuid` (whose row exists) may have become final. */
static int touch_trial(tt_store *st, const uint8_t *uuid)
{
    int64_t tid;
    int rc = lookup_id(st, S_TRIAL_ID, &st->trials, uuid, &tid);
    return rc == SQLITE_OK ? slog_touch_trial(st->log, tid, st->cur_batch) : rc;
}

static int apply_control(tt_store *st, const Tunetrail__Event *ev)
{
    int64_t t = ev->time_ns;
    int has_t = ev->has_time_ns;
    sqlite3_stmt *s;
    int rc = SQLITE_OK;
    switch (ev->kind_case) {
    case TUNETRAIL__EVENT__KIND_SESSION_START: {
        const Tunetrail__SessionStart *m = ev->session_start;
        char *argv = json_strings(m->argv, m->n_argv);
        char *pats = json_strings(m->trial_patterns, m->n_trial_patterns);
        s = st->stmt[S_SESSION_START];
        bind_blob(s, 1, m->session);
        bind_text(s, 2, m->study);
        bind_text(s, 3, m->host);
        bind_text(s, 4, m->user);
        bind_text(s, 5, m->cwd);
        bind_text(s, 6, argv);
        bind_text(s, 7, pats);
        bind_text(s, 8, m->tool_version);
        bind_i64(s, 9, has_t, t);
        rc = run(s);
        free(argv);
        free(pats);
        if (rc == SQLITE_OK) /* its processes' trials may now have a study */
            rc = slog_touch_session(st->log, m->session.data, st->cur_batch);
        if (rc == SQLITE_OK && m->study && *m->study)
            rc = note_study(st, m->study, has_t, t);
        break;
    }
    case TUNETRAIL__EVENT__KIND_SESSION_END: {
        const Tunetrail__SessionEnd *m = ev->session_end;
        s = st->stmt[S_SESSION_END];
        bind_blob(s, 1, m->session);
        bind_i64(s, 2, has_t, t);
        bind_i64(s, 3, m->has_exit_code, m->exit_code);
        bind_i64(s, 4, m->has_signal, m->signal);
        rc = run(s);
        break;
    }
    case TUNETRAIL__EVENT__KIND_PROCESS_START: {
        const Tunetrail__ProcessStart *m = ev->process_start;
        char *argv = json_strings(m->argv, m->n_argv);
        char *env = json_strings(m->env, m->n_env);
        s = st->stmt[S_PROC_START];
        bind_blob(s, 1, m->process);
        bind_blob(s, 2, m->session);
        bind_text(s, 3, m->study);
        bind_blob(s, 4, m->parent);
        bind_i64(s, 5, m->has_relation, m->relation);
        bind_i64(s, 6, m->has_pid, m->pid);
        bind_i64(s, 7, m->has_ppid, m->ppid);
        bind_text(s, 8, m->exe);
        bind_blob(s, 9, m->exe_sha256);
        bind_text(s, 10, argv);
        bind_text(s, 11, m->cwd);
        bind_text(s, 12, m->host);
        bind_i64(s, 13, m->has_uid, m->uid);
        bind_text(s, 14, m->user);
        bind_text(s, 15, env);
        bind_text(s, 16, m->git_commit);
        bind_i64(s, 17, m->has_git_dirty, m->git_dirty);
        bind_i64(s, 18, has_t, t);
        rc = run(s);
        free(argv);
        free(env);
        if (rc == SQLITE_OK)
            rc = slog_touch_process(st->log, m->process.data, st->cur_batch);
        if (rc == SQLITE_OK && !m->session.len && m->study && *m->study)
            rc = note_study(st, m->study, has_t, t);
        break;
    }
    case TUNETRAIL__EVENT__KIND_PROCESS_END: {
        const Tunetrail__ProcessEnd *m = ev->process_end;
        s = st->stmt[S_PROC_END];
        bind_blob(s, 1, m->process);
        bind_i64(s, 2, has_t, t);
        sqlite3_bind_int(s, 3, m->how);
        bind_i64(s, 4, m->has_exit_code, m->exit_code);
        bind_i64(s, 5, m->has_signal, m->signal);
        bind_i64(s, 6, m->has_utime_us, m->utime_us);
        bind_i64(s, 7, m->has_stime_us, m->stime_us);
        bind_i64(s, 8, m->has_maxrss_kb, m->maxrss_kb);
        rc = run(s);
        if (rc == SQLITE_OK)
            rc = slog_touch_process(st->log, m->process.data, st->cur_batch);
        break;
    }
    case TUNETRAIL__EVENT__KIND_TRIAL_START: {
        const Tunetrail__TrialStart *m = ev->trial_start;
        s = st->stmt[S_TRIAL_START];
        bind_blob(s, 1, m->trial);
        bind_blob(s, 2, m->process);
        bind_text(s, 3, m->framework);
        bind_text(s, 4, m->opened_by);
        bind_i64(s, 5, m->has_index, m->index);
        bind_i64(s, 6, has_t, t);
        if ((rc = run(s)) == SQLITE_OK && m->process.len == TT_UUID_LEN)
            rc = adopt_metrics(st, m);
        if (rc == SQLITE_OK)
            rc = touch_trial(st, m->trial.data);
        break;
    }
    case TUNETRAIL__EVENT__KIND_TRIAL_END: {
        const Tunetrail__TrialEnd *m = ev->trial_end;
        s = st->stmt[S_TRIAL_END];
        bind_blob(s, 1, m->trial);
        bind_i64(s, 2, m->has_status && m->status != TUNETRAIL__TRIAL_END__STATUS__TRIAL_UNSPECIFIED,
                 m->status);
        bind_text(s, 3, m->error);
        bind_i64(s, 4, has_t, t);
        if ((rc = run(s)) == SQLITE_OK)
            rc = touch_trial(st, m->trial.data);
        break;
    }
    default:
        break;
    }
    return rc;
}

/* Forgets every cached origin: after a rollback, or when another connection
 * may have moved their hwm. Only between batches or on failure. */
static void origins_forget(tt_store *st)
{
    for (size_t i = 0; i < st->norig; i++)
        free(st->origv[i].run);
    idmap_clear(&st->origin_ix);
    idmap_clear(&st->proc_ok);
    idmap_clear(&st->trial_ok);
    st->norig = st->ntouched = 0;
}

/* Finds (loading or creating its row) the dedupe state of an origin. The
 * pointer is valid until the next origin_get. */
static int origin_get(tt_store *st, const uint8_t *uuid, struct origin **out)
{
    int64_t ix = idmap_get(&st->origin_ix, uuid);
    if (ix) {
        *out = &st->origv[ix - 1];
        return SQLITE_OK;
    }
    if (st->norig == st->caporig) {
        size_t ncap = st->caporig ? st->caporig * 2 : 256;
        struct origin *nv = realloc(st->origv, ncap * sizeof *nv);
        if (!nv)
            return SQLITE_NOMEM;
        st->origv = nv;
        st->caporig = ncap;
    }
    struct origin o = {.hwm = -1};
    sqlite3_stmt *s = st->stmt[S_ORIGIN_GET];
    sqlite3_bind_blob(s, 1, uuid, TT_UUID_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        o.id = sqlite3_column_int64(s, 0);
        o.hwm = sqlite3_column_int64(s, 1);
        o.ahead = sqlite3_column_int64(s, 2);
        int rn = sqlite3_column_bytes(s, 4) / 8;
        if (rn > 0) {
            size_t cap = rn < RUN_SPILL ? RUN_SPILL : (size_t)rn;
            if (!(o.run = malloc(cap * 8))) {
                sqlite3_reset(s);
                return SQLITE_NOMEM;
            }
            memcpy(o.run, sqlite3_column_blob(s, 4), (size_t)rn * 8);
            o.run_lo = sqlite3_column_int64(s, 3);
            o.run_n = (size_t)rn;
            o.run_cap = cap;
        }
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_reset(s);
    if (rc == SQLITE_OK && !o.id) {
        s = st->stmt[S_ORIGIN_NEW];
        sqlite3_bind_blob(s, 1, uuid, TT_UUID_LEN, SQLITE_STATIC);
        if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            o.id = sqlite3_column_int64(s, 0);
            rc = SQLITE_OK;
        }
        sqlite3_reset(s);
    }
    if (rc != SQLITE_OK) {
        free(o.run);
        return rc;
    }
    o.saved = o.hwm;
    /* The map must never lose an origin within a batch: a second copy of its
     * state would let a duplicate through. */
    if (idmap_put(&st->origin_ix, uuid, (int64_t)st->norig + 1) < 0) {
        free(o.run);
        return SQLITE_NOMEM;
    }
    st->origv[st->norig] = o;
    *out = &st->origv[st->norig++];
    return SQLITE_OK;
}

/* Decides whether (o, seq) is new, recording it if so: *dup = 1 if it was
 * stored before. */
static int dedupe(tt_store *st, struct origin *o, int64_t seq, int *dup)
{
    int rc;
    *dup = 0;
    if (seq <= o->hwm) {
        *dup = 1;
        return SQLITE_OK;
    }
    sqlite3_stmt *s;
    if (seq == o->hwm + 1) {
        o->hwm = seq;
        /* The hole before earlier out-of-order events may just have filled. */
        s = st->stmt[S_AHEAD_TAKE];
        while (o->ahead) {
            sqlite3_bind_int64(s, 1, o->id);
            sqlite3_bind_int64(s, 2, o->hwm + 1);
            if ((rc = run(s)) != SQLITE_OK)
                return rc;
            if (!sqlite3_changes(st->db))
                break;
            o->ahead--;
            o->hwm++;
        }
    } else {
        s = st->stmt[S_AHEAD_ADD];
        sqlite3_bind_int64(s, 1, o->id);
        sqlite3_bind_int64(s, 2, seq);
        if ((rc = run(s)) != SQLITE_OK)
            return rc;
        if (!sqlite3_changes(st->db)) {
            *dup = 1;
            return SQLITE_OK;
        }
        o->ahead++;
    }
    if (o->batch != st->batch) {
        if (st->ntouched == st->captouched) {
            size_t ncap = st->captouched ? st->captouched * 2 : 64;
            size_t *nt = realloc(st->touched, ncap * sizeof *nt);
            if (!nt)
                return SQLITE_NOMEM;
            st->touched = nt;
            st->captouched = ncap;
        }
        o->batch = st->batch;
        st->touched[st->ntouched++] = (size_t)(o - st->origv);
    }
    return SQLITE_OK;
}

/* ---- digests: what bytes each stored (origin, seq) had */

/* The SipHash-2-4 of an event's bytes. A checksum, not a secret: the key is
 * fixed, so every collector computes the same digests. */
static void event_digest(const uint8_t *p, size_t n, uint8_t out[8])
{
    static const uint8_t key[crypto_shorthash_KEYBYTES];
    crypto_shorthash(out, p, n, key);
}

/* Writes o's pending run of digests as one row. */
static int run_write(tt_store *st, struct origin *o)
{
    if (!o->run_n)
        return SQLITE_OK;
    sqlite3_stmt *s = st->stmt[S_DIGEST_ADD];
    sqlite3_bind_int64(s, 1, o->id);
    sqlite3_bind_int64(s, 2, o->run_lo);
    sqlite3_bind_blob(s, 3, o->run, (int)(o->run_n * 8), SQLITE_STATIC);
    o->run_n = 0;
    o->run_dirty = 1;
    return run(s);
}

/* Remembers the digest of newly stored (o, seq); a seq that does not extend
 * the pending run writes it and starts another. */
static int run_add(tt_store *st, struct origin *o, int64_t seq, const uint8_t d[8])
{
    int rc;
    /* seq - run_lo, not run_lo + run_n: a run may end at INT64_MAX (seqs are >= 0) */
    if (o->run_n && seq - o->run_lo != (int64_t)o->run_n && (rc = run_write(st, o)) != SQLITE_OK)
        return rc;
    if (!o->run_n)
        o->run_lo = seq;
    if (o->run_n == o->run_cap) {
        size_t nc = o->run_cap ? o->run_cap * 2 : 64;
        uint8_t *g = realloc(o->run, nc * 8);
        if (!g)
            return SQLITE_NOMEM;
        o->run = g;
        o->run_cap = nc;
    }
    memcpy(o->run + 8 * o->run_n++, d, 8);
    o->run_dirty = 1;
    return SQLITE_OK;
}

/* *same = 0 if (o, seq) was stored with a digest other than d, else 1 (the
 * same, or stored before digests were kept). */
static int digest_same(tt_store *st, struct origin *o, int64_t seq, const uint8_t d[8], int *same)
{
    *same = 1;
    if (o->run_n && seq >= o->run_lo && seq - o->run_lo < (int64_t)o->run_n) {
        *same = !memcmp(o->run + 8 * (seq - o->run_lo), d, 8);
        return SQLITE_OK;
    }
    sqlite3_stmt *s = st->stmt[S_DIGEST_GET];
    sqlite3_bind_int64(s, 1, o->id);
    sqlite3_bind_int64(s, 2, seq);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        int64_t k = seq - sqlite3_column_int64(s, 0);
        const uint8_t *b = sqlite3_column_blob(s, 1);
        if (b && k < sqlite3_column_bytes(s, 1) / 8)
            *same = !memcmp(b + 8 * k, d, 8);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_reset(s);
    return rc;
}

/* Writes back the hwm and the digests of every origin this batch moved. */
static int origins_save(tt_store *st)
{
    sqlite3_stmt *s = st->stmt[S_ORIGIN_HWM];
    for (size_t i = 0; i < st->ntouched; i++) {
        struct origin *o = &st->origv[st->touched[i]];
        int rc0 = o->run_n >= RUN_SPILL ? run_write(st, o) : SQLITE_OK;
        if (rc0 != SQLITE_OK)
            return rc0;
        if (o->hwm == o->saved && !o->run_dirty)
            continue;
        sqlite3_bind_int64(s, 1, o->id);
        sqlite3_bind_int64(s, 2, o->hwm);
        bind_i64(s, 3, o->run_n > 0, o->run_lo);
        if (o->run_n)
            sqlite3_bind_blob(s, 4, o->run, (int)(o->run_n * 8), SQLITE_STATIC);
        else
            sqlite3_bind_null(s, 4);
        o->run_dirty = 0;
        int rc = run(s);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

/* After the commit: the database now holds what memory holds. */
static void origins_committed(tt_store *st)
{
    for (size_t i = 0; i < st->ntouched; i++) {
        struct origin *o = &st->origv[st->touched[i]];
        o->saved = o->hwm;
    }
    st->ntouched = 0;
}

/* Starts a batch's transaction and revalidates the caches under its lock. */
static int batch_begin(tt_store *st)
{
    if (st->origin_ix.n >= IDMAP_MAX)
        origins_forget(st);
    if (st->trials.n >= IDMAP_MAX)
        idmap_clear(&st->trials);
    int rc = run(st->stmt[S_BEGIN]);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_stmt *s = st->stmt[S_DATA_VERSION];
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(s, 0);
        if (v != st->data_version)
            origins_forget(st); /* another writer committed: its hwm may be ahead */
        slog_begin(st->log, v != st->data_version); /* ... and it may have sealed trials */
        st->data_version = v;
        rc = SQLITE_OK;
    }
    sqlite3_reset(s);
    st->batch++;
    st->ntouched = 0;
    return rc;
}

/* Binds one Metric row at parameter offset base (a multi-row INSERT's row). */
static void bind_metric(sqlite3_stmt *s, int base, int64_t tid, int64_t oid,
                        const Tunetrail__Event *ev)
{
    const Tunetrail__Metric *m = ev->metric;
    sqlite3_bind_int64(s, base + 1, tid);
    sqlite3_bind_int64(s, base + 2, oid);
    sqlite3_bind_int64(s, base + 3, (int64_t)ev->seq);
    bind_text(s, base + 4, m->name);
    sqlite3_bind_int64(s, base + 5, m->has_step ? m->step : -1);
    sqlite3_bind_double(s, base + 6, m->value);
    bind_text(s, base + 7, m->split);
    bind_text(s, base + 8, m->direction);
    bind_i64(s, base + 9, ev->has_time_ns, ev->time_ns);
}

static void bind_file(sqlite3_stmt *s, int base, int64_t oid, const Tunetrail__Event *ev)
{
    const Tunetrail__FileAccess *m = ev->file_access;
    const Tunetrail__FileStat *fs = m->stat;
    bind_blob(s, base + 1, m->process);
    sqlite3_bind_int64(s, base + 2, oid);
    sqlite3_bind_int64(s, base + 3, (int64_t)ev->seq);
    bind_text(s, base + 4, m->path);
    sqlite3_bind_int(s, base + 5, m->mode);
    bind_i64(s, base + 6, fs && fs->has_dev, fs ? (int64_t)fs->dev : 0);
    bind_i64(s, base + 7, fs && fs->has_ino, fs ? (int64_t)fs->ino : 0);
    bind_i64(s, base + 8, fs && fs->has_size, fs ? (int64_t)fs->size : 0);
    bind_i64(s, base + 9, fs && fs->has_mtime_ns, fs ? fs->mtime_ns : 0);
    sqlite3_bind_int(s, base + 10, m->has_closed && m->closed);
    bind_blob(s, base + 11, m->sha256);
    bind_text(s, base + 12, m->error);
    bind_i64(s, base + 13, ev->has_time_ns, ev->time_ns);
    bind_i64(s, base + 14, m->has_environment && m->environment, 1); /* else NULL */
    bind_text(s, base + 15, m->packages && *m->packages ? m->packages : NULL);
}

/* Runs the pending rows of one multi-row INSERT: the full statement when all
 * its rows are bound, else row by row with the single-row one. */
static int pending_flush(tt_store *st, struct pending *p)
{
    int rc = SQLITE_OK;
    if (p->n == STORE_MULTI_ROWS) {
        rc = run(p->multi);
    } else {
        for (int i = 0; i < p->n && rc == SQLITE_OK; i++) {
            const struct pending_row *r = &p->rows[i];
            if (p->kind == TUNETRAIL__EVENT__KIND_METRIC)
                bind_metric(p->single, 0, r->tid, r->oid, r->ev);
            else
                bind_file(p->single, 0, r->oid, r->ev);
            rc = run(p->single);
        }
    }
    p->n = 0;
    (void)st;
    return rc;
}

/* Adds a row to a multi-row INSERT, running it when full. */
static int pending_add(tt_store *st, struct pending *p, int64_t tid, int64_t oid,
                       const Tunetrail__Event *ev)
{
    int base = p->n * p->cols;
    if (p->kind == TUNETRAIL__EVENT__KIND_METRIC)
        bind_metric(p->multi, base, tid, oid, ev);
    else
        bind_file(p->multi, base, oid, ev);
    p->rows[p->n++] = (struct pending_row){ev, tid, oid};
    return p->n == STORE_MULTI_ROWS ? pending_flush(st, p) : SQLITE_OK;
}

/* ---- ownership (docs/INTERNALS.md, "Origins, ownership and conflicts") */

/* What the store knows of process p: whether its row exists and was started,
 * whether its session is `org` or `org` is one of its carriers, and whether
 * it has an owner at all (a session or a carrier). */
struct proc_owner {
    int exists, started, owned_by_org, owned;
};
static int proc_owner(tt_store *st, const uint8_t *p, const uint8_t *org, struct proc_owner *w)
{
    memset(w, 0, sizeof *w);
    sqlite3_stmt *s = st->stmt[S_PROC_OWNER];
    sqlite3_bind_blob(s, 1, p, TT_UUID_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, org, TT_UUID_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const void *sess = sqlite3_column_blob(s, 0);
        int has_sess = sess && sqlite3_column_bytes(s, 0) == TT_UUID_LEN;
        w->exists = 1;
        w->started = sqlite3_column_int(s, 1);
        w->owned_by_org = (has_sess && !memcmp(sess, org, TT_UUID_LEN)) || sqlite3_column_int(s, 2);
        w->owned = has_sess || sqlite3_column_int(s, 3);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_reset(s);
    return rc;
}

/* *ok = 1 if origin o (uuid org) may extend process p: p itself, its
 * session, a sender that carried p's own events, or anyone while p has no
 * owner yet (not arrived, or a bare process no one carried). */
static int may_extend_process(tt_store *st, struct origin *o, const uint8_t *org,
                              const uint8_t *p, int *ok)
{
    *ok = 1;
    if (!memcmp(org, p, TT_UUID_LEN) || idmap_get(&st->proc_ok, p) == o->id)
        return SQLITE_OK;
    struct proc_owner w;
    int rc = proc_owner(st, p, org, &w);
    if (rc != SQLITE_OK)
        return rc;
    *ok = !w.exists || !w.owned || w.owned_by_org;
    if (*ok && w.owned)
        (void)idmap_put(&st->proc_ok, p, o->id);
    return SQLITE_OK;
}

/* Trial t's process (*has = 0 if the trial or its process is not known). */
static int trial_process(tt_store *st, const uint8_t *t, uint8_t proc[TT_UUID_LEN], int *has)
{
    sqlite3_stmt *s = st->stmt[S_TRIAL_OWNER];
    sqlite3_bind_blob(s, 1, t, TT_UUID_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    *has = 0;
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_bytes(s, 0) == TT_UUID_LEN) {
            memcpy(proc, sqlite3_column_blob(s, 0), TT_UUID_LEN);
            *has = 1;
        }
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_reset(s);
    return rc;
}

/* *ok = 1 if origin o may extend trial t: whoever may extend its process. */
static int may_extend_trial(tt_store *st, struct origin *o, const uint8_t *org, const uint8_t *t,
                            int *ok)
{
    *ok = 1;
    if (idmap_get(&st->trial_ok, t) == o->id)
        return SQLITE_OK;
    uint8_t proc[TT_UUID_LEN];
    int has, rc = trial_process(st, t, proc, &has);
    if (rc != SQLITE_OK || !has)
        return rc;
    if ((rc = may_extend_process(st, o, org, proc, ok)) == SQLITE_OK && *ok)
        (void)idmap_put(&st->trial_ok, t, o->id);
    return rc;
}

/* Whether this batch's sender may send events of origin o: *why stays NULL,
 * or says why not. A session's events come only from that session (the
 * agent sends as its session); a process's events from any sender, which
 * then carries that process (a flush sends spooled events from a fresh
 * sender, and its own trials for them). */
static int sender_check(tt_store *st, struct origin *o, const Tunetrail__Event *ev,
                        const char **why)
{
    const ProtobufCBinaryData *sb = &st->cur_b->sender;
    const uint8_t *snd = sb->len == TT_UUID_LEN ? sb->data : NULL, *org = ev->origin.data;
    *why = NULL;
    if (snd && o->ok_set && !memcmp(o->ok_sender, snd, TT_UUID_LEN))
        return SQLITE_OK;
    if (!snd || memcmp(snd, org, TT_UUID_LEN)) {
        sqlite3_stmt *s = st->stmt[S_IS_SESSION];
        sqlite3_bind_blob(s, 1, org, TT_UUID_LEN, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc == SQLITE_ROW) {
            *why = "a session's events from another sender";
            return SQLITE_OK;
        }
        if (rc != SQLITE_DONE)
            return rc;
        if (!snd)
            return SQLITE_OK; /* no sender: nothing to remember */
        /* A process's own events: its session sends them (nothing to note),
         * else the sender becomes a carrier. */
        const Tunetrail__ProcessStart *ps = ev->kind_case == TUNETRAIL__EVENT__KIND_PROCESS_START
                                                ? ev->process_start : NULL;
        int by_session = ps && ps->session.len == TT_UUID_LEN &&
                         !memcmp(ps->session.data, snd, TT_UUID_LEN);
        if (!by_session) {
            struct proc_owner w;
            if ((rc = proc_owner(st, org, snd, &w)) != SQLITE_OK)
                return rc;
            if (!w.owned_by_org) {
                s = st->stmt[S_CARRIER_ADD];
                sqlite3_bind_blob(s, 1, org, TT_UUID_LEN, SQLITE_STATIC);
                sqlite3_bind_blob(s, 2, snd, TT_UUID_LEN, SQLITE_STATIC);
                if ((rc = run(s)) != SQLITE_OK)
                    return rc;
            }
        }
    }
    memcpy(o->ok_sender, snd, TT_UUID_LEN);
    o->ok_set = 1;
    return SQLITE_OK;
}

/* Whether event ev (origin o, new) may be applied: *why stays NULL, or says
 * why not. Events create or extend processes and trials of their own origin,
 * or of processes the origin owns (its session's, or carried); a start is
 * never applied twice (it would rewrite what was recorded). */
static int owner_check(tt_store *st, struct origin *o, const Tunetrail__Event *ev,
                       const char **why)
{
    const uint8_t *org = ev->origin.data;
    const ProtobufCBinaryData *proc = NULL, *trial = NULL;
    int ok = 1, rc = SQLITE_OK;
    *why = NULL;
    switch (ev->kind_case) {
    case TUNETRAIL__EVENT__KIND_SESSION_START:
    case TUNETRAIL__EVENT__KIND_SESSION_END: {
        /* A session is its own origin (the agent sends as it): another
         * origin may name only a session not recorded yet. */
        int start = ev->kind_case == TUNETRAIL__EVENT__KIND_SESSION_START;
        const ProtobufCBinaryData *u =
            start ? &ev->session_start->session : &ev->session_end->session;
        sqlite3_stmt *s = st->stmt[S_IS_SESSION];
        sqlite3_bind_blob(s, 1, u->data, (int)u->len, SQLITE_STATIC);
        rc = sqlite3_step(s);
        int exists = rc == SQLITE_ROW, started = exists && sqlite3_column_int(s, 0);
        sqlite3_reset(s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return rc;
        if (start && started)
            *why = "a second start for a session";
        else if (exists && (u->len != TT_UUID_LEN || memcmp(u->data, org, TT_UUID_LEN)))
            *why = "another origin's session";
        return SQLITE_OK;
    }
    case TUNETRAIL__EVENT__KIND_PROCESS_START: {
        struct proc_owner w;
        const uint8_t *p = ev->process_start->process.data;
        if ((rc = proc_owner(st, p, org, &w)) != SQLITE_OK)
            return rc;
        if (w.started)
            *why = "a second start for a process";
        else if (memcmp(p, org, TT_UUID_LEN) && w.exists && w.owned && !w.owned_by_org)
            *why = "another origin's process";
        return SQLITE_OK;
    }
    case TUNETRAIL__EVENT__KIND_PROCESS_END:
        proc = &ev->process_end->process;
        break;
    case TUNETRAIL__EVENT__KIND_FILE_ACCESS:
        proc = &ev->file_access->process;
        break;
    case TUNETRAIL__EVENT__KIND_TRIAL_START: {
        uint8_t p[TT_UUID_LEN];
        int has;
        if ((rc = trial_process(st, ev->trial_start->trial.data, p, &has)) != SQLITE_OK)
            return rc;
        if (has) {
            *why = "a second start for a trial";
            return SQLITE_OK;
        }
        proc = &ev->trial_start->process;
        break;
    }
    case TUNETRAIL__EVENT__KIND_TRIAL_END:
        trial = &ev->trial_end->trial;
        break;
    case TUNETRAIL__EVENT__KIND_PARAM:
        trial = &ev->param->trial;
        break;
    case TUNETRAIL__EVENT__KIND_METRIC:
        trial = &ev->metric->trial;
        break;
    case TUNETRAIL__EVENT__KIND_PREDICTIONS:
        trial = &ev->predictions->trial;
        break;
    default:
        return SQLITE_OK;
    }
    if (proc && proc->len == TT_UUID_LEN) {
        if ((rc = may_extend_process(st, o, org, proc->data, &ok)) == SQLITE_OK && !ok)
            *why = "another origin's process";
    } else if (trial && trial->len == TT_UUID_LEN) {
        if ((rc = may_extend_trial(st, o, org, trial->data, &ok)) == SQLITE_OK && !ok)
            *why = "another origin's trial";
    }
    return rc;
}

/* Records an event not applied: a row of `refusals`, counted in the result. */
static int refuse(tt_store *st, const Tunetrail__Event *ev, int conflict, const char *why)
{
    struct ingest_result *res = st->cur_res;
    if (conflict)
        res->conflicts++;
    else
        res->refused++;
    char hex[TT_UUID_HEX_LEN + 1];
    if (!res->refusal[0])
        snprintf(res->refusal, sizeof res->refusal, "origin %s seq %llu: %s",
                 wire_hex(hex, ev->origin.data, TT_UUID_LEN), (unsigned long long)ev->seq, why);
    sqlite3_stmt *s = st->stmt[S_REFUSAL];
    sqlite3_bind_int64(s, 1, st->recv_ns);
    bind_blob(s, 2, st->cur_b->sender);
    bind_i64(s, 3, st->cur_b->has_batch_seq, (int64_t)st->cur_b->batch_seq);
    bind_blob(s, 4, ev->origin);
    sqlite3_bind_int64(s, 5, (int64_t)ev->seq);
    sqlite3_bind_int(s, 6, (int)ev->kind_case);
    bind_text(s, 7, why);
    return run(s);
}

enum ev_fate { EV_STORED, EV_DUPLICATE, EV_REFUSED };

/* Stores one event (its packed bytes span/spanlen, NULL if unknown); *fate
 * says what became of it. */
static int ingest_event(tt_store *st, const Tunetrail__Event *ev, const uint8_t *span,
                        size_t spanlen, enum ev_fate *fate)
{
    int64_t oid, tid;
    struct origin *o;
    const char *why;
    int dup, rc = origin_get(st, ev->origin.data, &o);
    if (rc != SQLITE_OK || (rc = sender_check(st, o, ev, &why)) != SQLITE_OK)
        return rc;
    uint8_t d[8];
    if (span)
        event_digest(span, spanlen, d);
    if (why) { /* before dedupe: a refused sender does not take the origin's seq */
        int same = 0; /* ... but the very bytes stored already are a duplicate */
        if (span && (int64_t)ev->seq <= o->hwm &&
            (rc = digest_same(st, o, (int64_t)ev->seq, d, &same)) != SQLITE_OK)
            return rc;
        *fate = same ? EV_DUPLICATE : EV_REFUSED;
        return same ? SQLITE_OK : refuse(st, ev, 0, why);
    }
    oid = o->id;
    if ((rc = dedupe(st, o, (int64_t)ev->seq, &dup)) != SQLITE_OK)
        return rc;
    if (dup) {
        int same = 1;
        if (span && (rc = digest_same(st, o, (int64_t)ev->seq, d, &same)) != SQLITE_OK)
            return rc;
        *fate = same ? EV_DUPLICATE : EV_REFUSED;
        return same ? SQLITE_OK
                    : refuse(st, ev, 1, "conflict: this (origin, seq) is stored with other bytes");
    }
    if (span && (rc = run_add(st, o, (int64_t)ev->seq, d)) != SQLITE_OK)
        return rc;
    if ((rc = owner_check(st, o, ev, &why)) != SQLITE_OK)
        return rc;
    if (why) { /* its seq is taken: a resend of it is a duplicate */
        *fate = EV_REFUSED;
        return refuse(st, ev, 0, why);
    }
    *fate = EV_STORED;
    sqlite3_stmt *s;
    switch (ev->kind_case) {
    case TUNETRAIL__EVENT__KIND_METRIC:
        if (ev->metric->trial.len == 0)
            rc = trial_of_process(st, &ev->origin, &tid);
        else
            rc = lookup_id(st, S_TRIAL_ID, &st->trials, ev->metric->trial.data, &tid);
        if (rc != SQLITE_OK ||
            (rc = slog_touch_trial_if_sealed(st->log, tid, st->cur_batch)) != SQLITE_OK ||
            (rc = slog_metric(st->log, tid, oid, (int64_t)ev->seq, ev->metric->name,
                              ev->metric->value, ev->metric->has_step ? ev->metric->step : -1,
                              ev->has_time_ns, ev->time_ns, ev->metric->split,
                              ev->metric->direction)) != SQLITE_OK)
            return rc;
        return pending_add(st, &st->pend[0], tid, oid, ev);
    case TUNETRAIL__EVENT__KIND_FILE_ACCESS:
    {
        const Tunetrail__FileAccess *m = ev->file_access;
        const Tunetrail__FileStat *fs = m->stat;
        if ((rc = slog_touch_process_if_sealed(st->log, m->process.data, st->cur_batch)) !=
                SQLITE_OK ||
            (rc = slog_file(st->log, m->process.data, m->path, m->mode,
                            m->sha256.len ? m->sha256.data : NULL, fs && fs->has_size,
                            fs ? (int64_t)fs->size : 0, ev->has_time_ns, ev->time_ns,
                            m->has_environment && m->environment)) != SQLITE_OK)
            return rc;
        return pending_add(st, &st->pend[1], 0, oid, ev);
    }
    case TUNETRAIL__EVENT__KIND_PARAM: {
        const Tunetrail__Param *m = ev->param;
        if ((rc = lookup_id(st, S_TRIAL_ID, &st->trials, m->trial.data, &tid)) != SQLITE_OK ||
            (rc = slog_touch_trial_if_sealed(st->log, tid, st->cur_batch)) != SQLITE_OK)
            return rc;
        s = st->stmt[S_PARAM];
        sqlite3_bind_int64(s, 1, tid);
        sqlite3_bind_int64(s, 2, oid);
        sqlite3_bind_int64(s, 3, (int64_t)ev->seq);
        bind_text(s, 4, m->key);
        bind_text(s, 5, m->value);
        bind_text(s, 6, m->source);
        bind_i64(s, 7, ev->has_time_ns, ev->time_ns);
        break;
    }
    case TUNETRAIL__EVENT__KIND_PREDICTIONS: {
        const Tunetrail__Predictions *m = ev->predictions;
        if ((rc = lookup_id(st, S_TRIAL_ID, &st->trials, m->trial.data, &tid)) != SQLITE_OK ||
            (rc = slog_touch_trial_if_sealed(st->log, tid, st->cur_batch)) != SQLITE_OK)
            return rc;
        s = st->stmt[S_PREDICTIONS];
        sqlite3_bind_int64(s, 1, tid);
        sqlite3_bind_int64(s, 2, oid);
        sqlite3_bind_int64(s, 3, (int64_t)ev->seq);
        sqlite3_bind_int(s, 4, (int)m->kind);
        sqlite3_bind_int64(s, 5, m->n);
        sqlite3_bind_int64(s, 6, m->offset);
        sqlite3_bind_int64(s, 7, m->count);
        bind_i64(s, 8, m->has_nr_fold, m->nr_fold);
        bind_i64(s, 9, m->has_labels_fnv, (int64_t)m->labels_fnv);
        bind_blob(s, 10, m->correct);
        /* VALUE chunks as little-endian doubles, the wire's packed bytes */
        uint8_t *vb = NULL, *lb = NULL;
        if (m->n_value) { /* FOLD_SCORE: no labels (n_label 0, an empty blob) */
            vb = sqlite3_malloc64(16 * (uint64_t)m->n_value);
            if (!vb)
                return SQLITE_NOMEM;
            lb = vb + 8 * m->n_value;
            for (size_t k = 0; k < m->n_value; k++) {
                uint64_t a, b;
                memcpy(&a, &m->value[k], 8);
                b = 0;
                if (m->n_label)
                    memcpy(&b, &m->label[k], 8);
                for (int i = 0; i < 8; i++) {
                    vb[8 * k + i] = (uint8_t)(a >> (8 * i));
                    lb[8 * k + i] = (uint8_t)(b >> (8 * i));
                }
            }
            sqlite3_bind_blob(s, 11, vb, (int)(8 * m->n_value), SQLITE_TRANSIENT);
            if (m->n_label)
                sqlite3_bind_blob(s, 12, lb, (int)(8 * m->n_value), SQLITE_TRANSIENT);
            else
                sqlite3_bind_null(s, 12);
            sqlite3_free(vb);
        } else {
            sqlite3_bind_null(s, 11);
            sqlite3_bind_null(s, 12);
        }
        bind_blob(s, 13, m->fold);
        break;
    }
    case TUNETRAIL__EVENT__KIND_NOTE: {
        const Tunetrail__Note *m = ev->note;
        s = st->stmt[S_NOTE];
        sqlite3_bind_int64(s, 1, oid);
        sqlite3_bind_int64(s, 2, (int64_t)ev->seq);
        bind_blob(s, 3, m->process);
        bind_text(s, 4, m->level);
        bind_text(s, 5, m->text);
        bind_i64(s, 6, ev->has_time_ns, ev->time_ns);
        break;
    }
    default: /* control events: upserts */
        return apply_control(st, ev);
    }
    return run(s);
}

/* Decodes and validates one packed Batch (into the arena). Returns it, or
 * NULL with res->status REJECTED and res->error set. */
static Tunetrail__Batch *batch_decode(tt_store *st, const uint8_t *buf, size_t len,
                                      struct ingest_result *res)
{
    res->status = INGEST_REJECTED;
    if (len > TT_FRAME_MAX_PAYLOAD) {
        snprintf(res->error, sizeof res->error, "batch of %zu bytes exceeds %u", len,
                 TT_FRAME_MAX_PAYLOAD);
        return NULL;
    }
    Tunetrail__Batch *b = tunetrail__batch__unpack(&st->alloc, len, buf);
    if (!b) {
        snprintf(res->error, sizeof res->error, "not a valid protobuf Batch (%zu bytes)", len);
        return NULL;
    }
    res->batch_seq = b->batch_seq;
    if (!b->has_schema_version || b->schema_version != TUNETRAIL__SCHEMA_VERSION__SCHEMA_VERSION) {
        snprintf(res->error, sizeof res->error, "schema_version %u, expected %d",
                 b->has_schema_version ? b->schema_version : 0,
                 TUNETRAIL__SCHEMA_VERSION__SCHEMA_VERSION);
        goto bad;
    }
    if (!uuid_opt_ok(b->sender)) {
        snprintf(res->error, sizeof res->error, "sender is not a 16-byte uuid");
        goto bad;
    }
    for (size_t i = 0; i < b->n_events; i++) {
        char why_buf[160];
        const char *why = validate_event(b->events[i], st->recv_ns, why_buf, sizeof why_buf);
        if (why) {
            snprintf(res->error, sizeof res->error, "event %zu: %s", i, why);
            goto bad;
        }
    }
    return b;
bad:
    tunetrail__batch__free_unpacked(b, &st->alloc);
    return NULL;
}

/* The row of `received` for a batch that stored events: the receive time
 * beside the client's times, and what was flagged. */
static int note_received(tt_store *st, const Tunetrail__Batch *b, const struct ingest_result *res,
                         int64_t tmin, int64_t tmax, uint32_t ahead, uint32_t late,
                         uint32_t unclean)
{
    char flags[128];
    int n = 0;
    flags[0] = 0;
    if (ahead || late || unclean) {
        n = snprintf(flags, sizeof flags, "{");
        if (ahead)
            n += snprintf(flags + n, sizeof flags - (size_t)n, "\"clock_ahead\":%u", ahead);
        if (late)
            n += snprintf(flags + n, sizeof flags - (size_t)n, "%s\"late\":%u", ahead ? "," : "",
                          late);
        if (unclean)
            n += snprintf(flags + n, sizeof flags - (size_t)n, "%s\"name_not_utf8\":%u",
                          ahead || late ? "," : "", unclean);
        snprintf(flags + n, sizeof flags - (size_t)n, "}");
    }
    sqlite3_stmt *s = st->stmt[S_RECEIVED];
    sqlite3_bind_int64(s, 1, st->recv_ns);
    bind_blob(s, 2, b->sender);
    bind_i64(s, 3, b->has_batch_seq, (int64_t)b->batch_seq);
    sqlite3_bind_int64(s, 4, (int64_t)b->n_events);
    sqlite3_bind_int64(s, 5, res->stored);
    bind_i64(s, 6, tmin <= tmax, tmin);
    bind_i64(s, 7, tmin <= tmax, tmax);
    bind_text(s, 8, flags[0] ? flags : NULL);
    return run(s);
}

/* Reads a varint at *p (< end); -1 if it runs past end or is too long. */
static int pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (int sh = 0; sh < 64 && *p < end; sh += 7) {
        uint8_t c = *(*p)++;
        r |= (uint64_t)(c & 0x7f) << sh;
        if (!(c & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

/* The bytes of each event of a packed Batch (field 4), in order, as sent:
 * what an (origin, seq) digest covers. Returns 0 if there are exactly n. */
static int event_spans(const uint8_t *buf, size_t len, size_t n, const uint8_t **at, size_t *sz)
{
    const uint8_t *p = buf, *end = buf + len;
    size_t k = 0;
    while (p < end) {
        uint64_t key, v;
        if (pb_varint(&p, end, &key) < 0)
            return -1;
        switch (key & 7) {
        case 0:
            if (pb_varint(&p, end, &v) < 0)
                return -1;
            break;
        case 1:
        case 5: {
            size_t w = (key & 7) == 1 ? 8 : 4;
            if ((size_t)(end - p) < w)
                return -1;
            p += w;
            break;
        }
        case 2:
            if (pb_varint(&p, end, &v) < 0 || v > (uint64_t)(end - p))
                return -1;
            if (key >> 3 == 4) {
                if (k == n)
                    return -1;
                at[k] = p;
                sz[k++] = (size_t)v;
            }
            p += v;
            break;
        default:
            return -1;
        }
    }
    return k == n ? 0 : -1;
}

/* Stores a validated batch's events in the open transaction. */
static int batch_store(tt_store *st, const Tunetrail__Batch *b, const uint8_t *buf, size_t len,
                       struct ingest_result *res)
{
    int rc;
    int64_t tmin = INT64_MAX, tmax = INT64_MIN;
    uint32_t ahead = 0, late = 0, unclean = 0;
    const uint8_t **at = NULL;
    size_t *sz = NULL;
    if (b->n_events) {
        at = malloc(b->n_events * sizeof *at);
        sz = malloc(b->n_events * sizeof *sz);
        if (!at || !sz) {
            free(at);
            free(sz);
            return SQLITE_NOMEM;
        }
    }
    int spans = b->n_events && event_spans(buf, len, b->n_events, at, sz) == 0;
    st->cur_b = b;
    st->cur_res = res;
    for (size_t i = 0; i < b->n_events; i++) {
        const Tunetrail__Event *ev = b->events[i];
        enum ev_fate fate = EV_STORED;
        if ((rc = ingest_event(st, ev, spans ? at[i] : NULL, spans ? sz[i] : 0, &fate)) !=
            SQLITE_OK) {
            free(at);
            free(sz);
            return rc;
        }
        if (fate == EV_DUPLICATE)
            res->duplicates++;
        if (fate != EV_STORED)
            continue;
        res->stored++;
        int flagged = 0;
        if (ev->has_time_ns) {
            tmin = ev->time_ns < tmin ? ev->time_ns : tmin;
            tmax = ev->time_ns > tmax ? ev->time_ns : tmax;
            if (ev->time_ns - st->recv_ns > STORE_SKEW_AHEAD_NS)
                ahead++, flagged = 1;
            else if (st->recv_ns - ev->time_ns > STORE_LATE_NS)
                late++, flagged = 1;
        }
        if (!names_clean(ev))
            unclean++, flagged = 1;
        res->flagged += (uint32_t)flagged;
    }
    free(at);
    free(sz);
    /* The pending rows point into b: flush before it is freed. */
    if ((rc = pending_flush(st, &st->pend[0])) != SQLITE_OK ||
        (rc = pending_flush(st, &st->pend[1])) != SQLITE_OK)
        return rc;
    return res->stored ? note_received(st, b, res, tmin, tmax, ahead, late, unclean) : SQLITE_OK;
}

/* ---- Authenticated writers (ingest_input.identity). A batch is checked as
 * a whole before anything of it is applied, with lookups only, so a refused
 * batch leaves no trace and the agent keeps it whole. */
struct auth {
    tt_store *st;
    const char *idn;
    struct ingest_result *res;
    const uint8_t *seen[16]; /* uuids already checked in this batch */
    size_t nseen;
};

/* *ok = 0 (and res->error says why) if uuid u was first sent by another
 * identity. */
static int auth_uuid(struct auth *a, const ProtobufCBinaryData *u, const char *what, int *ok)
{
    if (u->len != TT_UUID_LEN)
        return SQLITE_OK;
    for (size_t i = 0; i < a->nseen; i++)
        if (!memcmp(a->seen[i], u->data, TT_UUID_LEN))
            return SQLITE_OK;
    sqlite3_stmt *s = a->st->stmt[S_IDENT_GET];
    sqlite3_bind_blob(s, 1, u->data, TT_UUID_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *other = (const char *)sqlite3_column_text(s, 0);
        if (other && strcmp(other, a->idn)) {
            char hex[TT_UUID_HEX_LEN + 1];
            snprintf(a->res->error, sizeof a->res->error,
                     "identity %s may not write %s %s: it was first sent by identity %.64s", a->idn,
                     what, wire_hex(hex, u->data, TT_UUID_LEN), other);
            *ok = 0;
        }
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_reset(s);
    if (a->nseen < sizeof a->seen / sizeof a->seen[0])
        a->seen[a->nseen++] = u->data;
    return rc;
}

/* *ok = 0 if the identity may not write study (the access rules, else the
 * study's first authenticated writer). */
static int auth_study(struct auth *a, const char *study, int *ok)
{
    if (!study || !*study)
        return SQLITE_OK;
    if (a->st->access) {
        if (!a->st->access(a->st->access_arg, a->idn, study)) {
            snprintf(a->res->error, sizeof a->res->error,
                     "identity %s may not write study %.100s (no line of the access file allows it)",
                     a->idn, study);
            *ok = 0;
        }
        return SQLITE_OK;
    }
    sqlite3_stmt *s = a->st->stmt[S_OWNER_GET];
    bind_text(s, 1, study);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *owner = (const char *)sqlite3_column_text(s, 0);
        if (owner && strcmp(owner, a->idn)) {
            snprintf(a->res->error, sizeof a->res->error,
                     "identity %s may not write study %.100s: it belongs to identity %.64s", a->idn,
                     study, owner);
            *ok = 0;
        }
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_reset(s);
    return rc;
}

static int auth_bind(tt_store *st, const char *idn, const ProtobufCBinaryData *u)
{
    if (u->len != TT_UUID_LEN)
        return SQLITE_OK;
    sqlite3_stmt *s = st->stmt[S_IDENT_ADD];
    sqlite3_bind_blob(s, 1, u->data, TT_UUID_LEN, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, idn, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, st->recv_ns);
    return run(s);
}

static int auth_own(tt_store *st, const char *idn, const char *study)
{
    if (!study || !*study)
        return SQLITE_OK;
    sqlite3_stmt *s = st->stmt[S_OWNER_ADD];
    bind_text(s, 1, study);
    sqlite3_bind_text(s, 2, idn, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, st->recv_ns);
    return run(s);
}

/* Binds every uuid and study batch b names to idn, where not bound yet. */
static int auth_bind_all(tt_store *st, const Tunetrail__Batch *b, const char *idn)
{
    int rc = auth_bind(st, idn, &b->sender);
    for (size_t i = 0; i < b->n_events && rc == SQLITE_OK; i++) {
        const Tunetrail__Event *ev = b->events[i];
        if ((rc = auth_bind(st, idn, &ev->origin)) != SQLITE_OK)
            break;
        if (ev->kind_case == TUNETRAIL__EVENT__KIND_SESSION_START)
            rc = auth_own(st, idn, ev->session_start->study);
        else if (ev->kind_case == TUNETRAIL__EVENT__KIND_PROCESS_START)
            rc = auth_own(st, idn, ev->process_start->study);
    }
    return rc;
}

/* The study of origin u (a session or a process): from its start in this
 * batch, else as stored. *known = 0 if its start has not arrived. */
static int origin_study(struct auth *a, const Tunetrail__Batch *b, const ProtobufCBinaryData *u,
                        int depth, char *study, size_t n, int *known)
{
    *known = 0;
    study[0] = 0;
    if (u->len != TT_UUID_LEN)
        return SQLITE_OK;
    for (size_t i = 0; i < b->n_events; i++) {
        const Tunetrail__Event *ev = b->events[i];
        if (ev->kind_case == TUNETRAIL__EVENT__KIND_SESSION_START &&
            ev->session_start->session.len == TT_UUID_LEN &&
            !memcmp(ev->session_start->session.data, u->data, TT_UUID_LEN)) {
            snprintf(study, n, "%s", ev->session_start->study ? ev->session_start->study : "");
            *known = 1;
            return SQLITE_OK;
        }
        if (ev->kind_case == TUNETRAIL__EVENT__KIND_PROCESS_START &&
            ev->process_start->process.len == TT_UUID_LEN &&
            !memcmp(ev->process_start->process.data, u->data, TT_UUID_LEN)) {
            const Tunetrail__ProcessStart *ps = ev->process_start;
            if ((ps->study && *ps->study) || ps->session.len != TT_UUID_LEN || depth) {
                snprintf(study, n, "%s", ps->study ? ps->study : "");
                *known = 1;
                return SQLITE_OK;
            }
            return origin_study(a, b, &ps->session, 1, study, n, known);
        }
    }
    for (int w = 0; w < 2; w++) {
        sqlite3_stmt *s = a->st->stmt[w ? S_PROC_STUDY : S_SESSION_STUDY];
        sqlite3_bind_blob(s, 1, u->data, TT_UUID_LEN, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            const char *v = (const char *)sqlite3_column_text(s, 0);
            snprintf(study, n, "%s", v ? v : "");
            *known = 1;
        }
        sqlite3_reset(s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return rc;
        if (*known)
            break;
    }
    return SQLITE_OK;
}

/* Checks batch b for identity idn (see ingest_input): *ok = 1 and every uuid
 * and study it names bound to idn (those not bound yet), or *ok = 0 with
 * res->error set and nothing written. Each event's study is its origin's
 * (a SessionStart's or ProcessStart's own): an origin whose start has not
 * arrived makes the batch wait (it is the agent's earlier batch, resent
 * first), so nothing of a refused session or process is stored later. */
static int batch_authorize(tt_store *st, const Tunetrail__Batch *b, const char *idn,
                           struct ingest_result *res, int *ok)
{
    struct auth a = {.st = st, .idn = idn, .res = res};
    const uint8_t *done[16]; /* origins whose study was checked */
    size_t ndone = 0;
    int pending = 0; /* refused only because an origin's start is not stored yet */
    int rc = auth_uuid(&a, &b->sender, "sender", ok);
    for (size_t i = 0; i < b->n_events && rc == SQLITE_OK && *ok; i++) {
        const Tunetrail__Event *ev = b->events[i];
        const ProtobufCBinaryData *sess = NULL;
        if (ev->kind_case == TUNETRAIL__EVENT__KIND_SESSION_START)
            sess = &ev->session_start->session;
        else if (ev->kind_case == TUNETRAIL__EVENT__KIND_PROCESS_START)
            sess = &ev->process_start->session;
        if ((rc = auth_uuid(&a, &ev->origin, "origin", ok)) != SQLITE_OK || !*ok ||
            (sess && ((rc = auth_uuid(&a, sess, "session", ok)) != SQLITE_OK || !*ok)))
            break;
        size_t k = 0;
        while (k < ndone && memcmp(done[k], ev->origin.data, TT_UUID_LEN))
            k++;
        if (k < ndone)
            continue;
        char study[STORE_STUDY_MAX + 1];
        int known;
        if ((rc = origin_study(&a, b, &ev->origin, 0, study, sizeof study, &known)) != SQLITE_OK)
            break;
        if (!known) {
            /* A wait, not a refusal: the batch with the start was lost with
             * a restarted collector, or is still in flight (BUSY: the agent
             * resends quietly; STORE_FORBIDDEN would tell the user "refused"). */
            pending = 1;
            char hex[TT_UUID_HEX_LEN + 1];
            snprintf(res->error, sizeof res->error,
                     "identity %s: origin %s has no start stored (its session or process start"
                     " must be accepted first)", idn, wire_hex(hex, ev->origin.data, TT_UUID_LEN));
            *ok = 0;
            break;
        }
        if ((rc = auth_study(&a, study, ok)) != SQLITE_OK || !*ok)
            break;
        if (ndone < sizeof done / sizeof done[0])
            done[ndone++] = ev->origin.data;
    }
    if (rc == SQLITE_OK && *ok) /* bind what is not bound yet */
        rc = auth_bind_all(st, b, idn);
    if (rc == SQLITE_OK && !*ok) {
        res->status = INGEST_RETRY;
        res->store_error = pending ? STORE_ERR_BUSY : STORE_ERR_FORBIDDEN;
    }
    return rc;
}

void store_set_access(tt_store *st, store_access_fn fn, void *arg)
{
    st->access = fn;
    st->access_arg = arg;
}

/* Marks every batch of the group that was not malformed RETRY (why: e and
 * msg) after the transaction was rolled back; batches from index `from` on
 * were not looked at yet (decoded only to echo their batch_seq). */
static void retry_all(tt_store *st, const struct ingest_input *in, size_t n, size_t from,
                      struct ingest_result *res, enum store_error e, const char *msg)
{
    for (size_t j = 0; j < n; j++) {
        if (j >= from) {
            Tunetrail__Batch *b = batch_decode(st, in[j].buf, in[j].len, &res[j]);
            arena_reset(&st->arena, 0); /* frees b: see arena_free */
            if (!b)
                continue;
        } else if (res[j].status == INGEST_REJECTED) {
            continue;
        }
        res[j].status = INGEST_RETRY;
        res[j].store_error = e;
        res[j].stored = res[j].duplicates = res[j].flagged = 0;
        res[j].refused = res[j].conflicts = 0;
        res[j].refusal[0] = 0;
        snprintf(res[j].error, sizeof res[j].error, "%s", msg);
    }
}

/* Undoes the open transaction and the caches it moved. */
static void txn_undo(tt_store *st)
{
    run(st->stmt[S_ROLLBACK]);
    st->pend[0].n = st->pend[1].n = 0;
    /* Ids first seen and hwm moved in this transaction were rolled back. */
    origins_forget(st);
    idmap_clear(&st->trials);
    slog_rollback(st->log);
    st->held = 0;
}

static void retry_rc(tt_store *st, const struct ingest_input *in, size_t n, size_t from,
                     struct ingest_result *res, int rc)
{
    char msg[sizeof res->error];
    snprintf(msg, sizeof msg, "%s: %s: %s", store_error_name(classify(rc)), st->path,
             rc == SQLITE_BUSY ? "another writer holds the lock" : sqlite3_errstr(rc));
    retry_all(st, in, n, from, res, classify(rc), msg);
}

int store_sqlite_ingest(tt_store *st, const struct ingest_input *in, size_t n,
                        struct ingest_result *res, int hold)
{
    int rc = SQLITE_OK, began = 0, all_ok = 1;
    size_t i = 0;
    memset(res, 0, n * sizeof *res);
    st->ck_valid = 0;
    st->held = 0;
    int64_t call_ns = now_ns();
    if (st->readonly) {
        for (i = 0; i < n; i++) {
            res[i].status = INGEST_RETRY;
            res[i].store_error = STORE_ERR_READONLY;
            snprintf(res[i].error, sizeof res[i].error, "store %s is open read-only", st->path);
        }
        return -1;
    }
    st->recv_ns = call_ns;
    for (i = 0; i < n; i++) {
        /* Each batch is checked and stored at its own receive time; the log
         * seals at the last one's. */
        st->recv_ns = in[i].received_ns ? in[i].received_ns : call_ns;
        Tunetrail__Batch *b = batch_decode(st, in[i].buf, in[i].len, &res[i]);
        if (!b) {
            all_ok = 0;
            arena_reset(&st->arena, 0);
            continue;
        }
        if (!began) {
            began = 1; /* BEGIN may fail after taking the lock: ROLLBACK is harmless */
            rc = batch_begin(st);
        }
        st->cur_batch = (unsigned)i;
        int allowed = 1;
        if (rc == SQLITE_OK && in[i].identity && in[i].replay)
            rc = auth_bind_all(st, b, in[i].identity);
        else if (rc == SQLITE_OK && in[i].identity)
            rc = batch_authorize(st, b, in[i].identity, &res[i], &allowed);
        if (rc == SQLITE_OK && !allowed) {
            all_ok = 0;
            arena_reset(&st->arena, 0);
            continue; /* nothing of it written: the others of the group commit */
        }
        if (rc == SQLITE_OK)
            rc = batch_store(st, b, in[i].buf, in[i].len, &res[i]);
        arena_reset(&st->arena, 0); /* frees b */
        if (rc != SQLITE_OK)
            goto fail;
        res[i].status = INGEST_OK; /* once the COMMIT below succeeds */
    }
    if (began && ((rc = slog_seal(st->log, st->recv_ns)) != SQLITE_OK ||
                  (rc = origins_save(st)) != SQLITE_OK))
        goto fail;
    if (began && hold) {
        st->held = 1;
        return all_ok ? 0 : -1;
    }
    if (began && (rc = run(st->stmt[S_COMMIT])) != SQLITE_OK)
        goto fail;
    if (began) {
        origins_committed(st);
        slog_committed(st->log);
        st->ck_valid = 1;
    }
    return all_ok ? 0 : -1;
fail:
    /* Busy, I/O, full disk or a bug: nothing is committed and the senders keep
     * their batches, so RETRY is always safe - for every batch of the group
     * that was not malformed, including those not yet looked at. */
    txn_undo(st);
    if (i < n)
        res[i].status = INGEST_OK; /* decoded: it is retried, not dropped */
    retry_rc(st, in, n, i + 1, res, rc);
    return -1;
}

int store_sqlite_finish(tt_store *st, const struct ingest_input *in, size_t n,
                        struct ingest_result *res, enum store_error e, const char *why)
{
    if (!st->held)
        return 0;
    int rc = why ? SQLITE_ABORT : run(st->stmt[S_COMMIT]);
    if (rc == SQLITE_OK) {
        st->held = 0;
        origins_committed(st);
        slog_committed(st->log);
        st->ck_valid = 1;
        return 0;
    }
    txn_undo(st);
    if (why)
        retry_all(st, in, n, n, res, e, why);
    else
        retry_rc(st, in, n, n, res, rc);
    return -1;
}

int ingest_batches(tt_store *st, const struct ingest_input *in, size_t n,
                   struct ingest_result *res)
{
    if (st->pg)
        return store_pg_ingest(st, in, n, res);
    return store_sqlite_ingest(st, in, n, res, 0);
}

int ingest_batch(tt_store *st, const uint8_t *buf, size_t len, struct ingest_result *res)
{
    struct ingest_input in = {.buf = buf, .len = len};
    return ingest_batches(st, &in, 1, res);
}

int store_set_signer(tt_store *st, const struct tt_key *k)
{
    if (st->readonly || !st->log)
        return -1;
    slog_set_signer(st->log, k);
    return 0;
}

const struct store_checkpoint *store_checkpoints(tt_store *st, size_t *n)
{
    *n = 0;
    if (!st->log || !st->ck_valid)
        return NULL;
    return slog_checkpoints(st->log, n);
}
