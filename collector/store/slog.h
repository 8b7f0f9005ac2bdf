/* slog.h - the study log inside the SQLite store (store-internal: only
 * store_sqlite.c calls it). Every trial of a study, once final, is appended
 * as a leaf (store/leaf.h) to its study's RFC 9162 Merkle log; a trial
 * whose leaf text changed later gets a new leaf (a revision). After a
 * transaction grew a study's log, the collector signs a checkpoint (study,
 * size, root). Tables (fixed contract, read by attest/verify):
 *   log(study, idx, trial_id, leaf, hash, time_ns), log_head(study, size,
 *   frontier), checkpoints(study, tree_size, root, key, sig, time_ns);
 * log and checkpoints refuse UPDATE and DELETE (triggers).
 *
 * When is a trial sealed: trial_view.status is not 'running', its study is
 * known, and its process has ended (so the leaf carries the process's
 * resources and files once, instead of a revision at process end).
 *
 * Cheap on the ingest path: the store reports what each event touched
 * (slog_touch_*); only trials that can have become final (TrialEnd,
 * ProcessEnd, ProcessStart, SessionStart) or that are already sealed (late
 * params, metrics, files) are looked at when the transaction seals. Whether
 * a trial / process is sealed is asked of the log once per key (never the
 * whole log) and remembered until another writer commits (slog_begin's
 * `changed`). What a leaf shows of a trial's metrics and its process's
 * files is tracked in memory as they are stored (slog_metric, slog_file),
 * so sealing reads only the trial's own few rows.
 *
 * Error convention: int functions return an SQLite result code (SQLITE_OK on
 * success); on failure the caller rolls back and calls slog_rollback. */
#ifndef TT_SLOG_H
#define TT_SLOG_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct sqlite3;
struct tt_key;
struct store_log;

/* Schema of the log (v4), run inside the schema transaction. */
extern const char *slog_schema_sql;

/* New log state on db (whose schema has the log tables). NULL if out of
 * memory or a statement does not prepare (message in err). */
struct store_log *slog_new(struct sqlite3 *db, char *err, size_t errlen);
void slog_free(struct store_log *lg);

/* Copies k (which must hold its secret) as the checkpoint signer; NULL: no
 * checkpoints are signed (the log still grows). */
void slog_set_signer(struct store_log *lg, const struct tt_key *k);

/* Starts a transaction's bookkeeping (after BEGIN). changed: another writer
 * committed since our last transaction, so the sealed sets are stale. */
void slog_begin(struct store_log *lg, int changed);

/* What the event of batch number `batch` (0-based within the transaction)
 * touched. Return SQLITE_OK or SQLITE_NOMEM. The _if_sealed forms touch only
 * a trial / process that has a leaf already (late events), and may load the
 * sealed sets (an SQLite code on failure). */
int slog_touch_trial(struct store_log *lg, int64_t trial_id, unsigned batch);
int slog_touch_process(struct store_log *lg, const uint8_t uuid[16], unsigned batch);
int slog_touch_session(struct store_log *lg, const uint8_t uuid[16], unsigned batch);
int slog_touch_trial_if_sealed(struct store_log *lg, int64_t trial_id, unsigned batch);
int slog_touch_process_if_sealed(struct store_log *lg, const uint8_t uuid[16], unsigned batch);

/* A Metric point of trial_id just stored (dedupe passed): each trial's last
 * point per name is kept in memory, so sealing does not re-read every point
 * (a trial of a training loop has thousands). Exact only for trials whose
 * every point this connection stored; others are read from the store. */
int slog_metric(struct store_log *lg, int64_t trial_id, int64_t origin_id, int64_t seq,
                const char *name, double value, int64_t step, int has_time, int64_t time_ns,
                const char *split, const char *direction);
/* A FileAccess row of process proc just stored (dedupe passed; mode as the
 * row's, sha256 32 bytes or NULL): each process's inputs and outputs are
 * kept in memory as the leaf shows them, so sealing does not re-read its
 * file rows (thousands, scattered across the file). Exact only for
 * processes whose every row this connection stored; others are read from
 * the store. env: the row's environment flag (files.env). Call it before
 * the row is inserted. */
int slog_file(struct store_log *lg, const uint8_t proc[16], const char *path, int mode,
              const uint8_t *sha256, int has_size, int64_t size, int has_time, int64_t time_ns,
              int env);

/* trial_id's points changed behind slog_metric (adopted trial-less metrics). */
void slog_metrics_forget(struct store_log *lg, int64_t trial_id);

/* Inside the transaction, before COMMIT: appends the leaves of the touched
 * trials that are final and new or changed, in started order, then signs and
 * stores a checkpoint per study that grew. now_ns stamps the rows. */
int slog_seal(struct store_log *lg, int64_t now_ns);

/* Every final trial without a leaf, in started order (upgrade of a store
 * written before the log existed). Inside the caller's transaction. */
int slog_seal_all(struct store_log *lg, int64_t now_ns);

/* After COMMIT: the checkpoints of this transaction become visible through
 * slog_checkpoints. After ROLLBACK: forget everything of it. */
void slog_committed(struct store_log *lg);
void slog_rollback(struct store_log *lg);

/* The checkpoints signed by the last committed transaction (owned by lg,
 * valid until the next slog_begin). */
const struct store_checkpoint *slog_checkpoints(const struct store_log *lg, size_t *n);

#endif
