/* store.h - the trial store: SQLite (WAL) today, PostgreSQL later, behind one
 * interface. Ingest is idempotent: each event (origin uuid, seq) is stored at
 * most once, so any hop may resend a batch.
 *
 * Error convention: functions return 0 on success, -1 on failure with a
 * human-readable message in err[errlen] (when err is non-NULL). Returned
 * objects are owned by the caller and freed with the matching *_free/close. */
#ifndef TT_STORE_H
#define TT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef struct tt_store tt_store;

enum store_open_flags {
    STORE_READONLY = 1, /* CLI readers: fail if the file does not exist */
    STORE_CREATE = 2,   /* writers: create the file (mode 0600 whatever the umask) and the
                           schema if the file is missing or empty */
    STORE_EXISTING = 4, /* with STORE_CREATE: refuse a missing or empty (0-byte) file
                           instead of making a new store there (tunetraild without --create) */
};

/* A store this call made from nothing (missing or empty file) is chmod 0600,
 * its -wal and -shm too (SQLite gives them the database file's mode). An
 * existing store keeps the mode its owner gave it. */
tt_store *store_open(const char *path, int flags, char *err, size_t errlen);
void store_close(tt_store *st);

/* A PostgreSQL store: path "postgresql://..." or "postgres://..." (a libpq
 * URI). store_open keeps its local SQLite replica under
 * $TUNETRAIL_HOME/replicas; store_open_replica at replica (NULL: there).
 * STORE_CREATE: a writer (tunetraild), which creates the schema in the
 * database; else a reader, which catches its replica up and reads it.
 * Anything else: as store_open. docs/INTERNALS.md, "PostgreSQL". */
tt_store *store_open_replica(const char *path, const char *replica, int flags, char *err,
                             size_t errlen);
/* path as messages show it: a PostgreSQL URI with its password masked (in
 * buf), else path itself. */
const char *store_shown(const char *path, char *buf, size_t n);
/* 1 if path names a PostgreSQL store. */
int store_is_postgres(const char *path);
/* Connects to PostgreSQL store uri without writing: 0 with msg saying how
 * many batches its log holds (or that a writer will create it), else -1
 * with msg naming the URI (password masked) and why. */
int store_check_postgres(const char *uri, char *msg, size_t n);

/* Integrity check of the file at path, on a read-only connection of its own:
 * PRAGMA quick_check (every page and index entry is well-formed; no
 * cross-check of index contents), at most budget_ms (<= 0: no limit). Returns
 * 0 if it passed, 1 if it was stopped at the budget (err says so), -1 if the
 * file is damaged or cannot be read (err: the first problems quick_check
 * listed, or SQLite's error). Run it before store_open on a file that
 * exists: a writer must not start on a damaged store. */
int store_check(const char *path, long budget_ms, char *err, size_t errlen);

enum ingest_status {
    INGEST_OK = 0,       /* committed; safe to ack */
    INGEST_REJECTED = 1, /* malformed or oversized: drop it, resending won't help */
    INGEST_RETRY = 2,    /* store busy or I/O error: nothing committed, resend */
};

/* Why a batch got INGEST_RETRY, as the collector tells the agent (Ack.store_error). */
enum store_error {
    STORE_ERR_NONE = 0,
    STORE_ERR_BUSY = 1,     /* another writer held the lock, or (with an identity) an
                               origin's start is not stored yet: transient */
    STORE_ERR_FULL = 2,     /* disk or quota full (SQLITE_FULL) */
    STORE_ERR_DAMAGED = 3,  /* SQLITE_CORRUPT / NOTADB: the file is damaged */
    STORE_ERR_IO = 4,       /* SQLITE_IOERR and anything else */
    STORE_ERR_READONLY = 5, /* the file or its directory is not writable */
    STORE_ERR_FORBIDDEN = 6, /* the sender's authenticated identity may not write this
                                (not a store fault: nothing was stored; error says why) */
};
/* "store busy", "store full", "store damaged", "store I/O error", "store
 * read-only", "not authorised", or "" for STORE_ERR_NONE. */
const char *store_error_name(enum store_error e);

/* Timestamps and names an ingest validates (docs/INTERNALS.md, "What the
 * store accepts"). An event whose time_ns is negative or more than
 * STORE_TIME_AHEAD_NS after the collector's receive time is refused (its
 * batch REJECTED: no clock gives that, a damaged batch does); more than
 * STORE_SKEW_AHEAD_NS ahead or STORE_LATE_NS behind, it is stored and flagged
 * in `received` (a clock off, or a spool flushed late: never lost). */
#define STORE_TIME_AHEAD_NS (5LL * 366 * 86400 * 1000000000LL) /* 5 years */
#define STORE_SKEW_AHEAD_NS (300LL * 1000000000LL)        /* 5 minutes */
#define STORE_LATE_NS (86400LL * 1000000000LL)            /* 1 day */
#define STORE_STUDY_MAX 256 /* bytes of a study name */
#define STORE_PREDICTIONS_MAX (1u << 24) /* examples of one cross-validation */
#define STORE_NAME_MAX 1024 /* bytes of a param key, metric name, split, direction,
                               framework, opened_by, host, user */

struct ingest_result {
    enum ingest_status status;
    enum store_error store_error; /* for INGEST_RETRY: why */
    uint32_t flagged;    /* events stored with a flag (clock skew, name not UTF-8) */
    uint64_t batch_seq;  /* echoed from the Batch */
    uint32_t stored;     /* events newly stored */
    uint32_t duplicates; /* events already present with the same bytes (ignored) */
    /* Events not applied (docs/INTERNALS.md, "Origins, ownership and
     * conflicts"), each a row of `refusals`: refused names another origin's
     * process or trial, or a session's origin from another sender; conflicts
     * reuse a stored (origin, seq) with other bytes. refusal: the first. */
    uint32_t refused, conflicts;
    char refusal[200];
    char error[256];
};

/* Decodes, validates and stores one packed tunetrail.Batch in one transaction,
 * committed before return. Returns 0 if res->status == INGEST_OK, else -1. */
int ingest_batch(tt_store *st, const uint8_t *buf, size_t len, struct ingest_result *res);

/* Who may write which study when an authenticated identity writes. fn
 * returns 1 if identity may write study, else 0. NULL (the default): a
 * study belongs to the first authenticated identity that wrote it (table
 * study_owners), and others are refused. */
typedef int (*store_access_fn)(void *arg, const char *identity, const char *study);
void store_set_access(tt_store *st, store_access_fn fn, void *arg);

/* Group commit: stores n packed Batches in one transaction, res[i] for
 * in[i], each exactly as ingest_batch would report it. A malformed batch is
 * REJECTED alone; if the store fails, every other batch is RETRY (nothing
 * committed). One commit for several queued batches writes each hot page
 * once instead of once per batch. Returns 0 if every res[i] is INGEST_OK. */
struct ingest_input {
    const uint8_t *buf;
    size_t len;
    /* The sender's authenticated identity (the collector's CURVE handshake),
     * or NULL: nothing checked nor recorded. With one, the batch is stored
     * only if the identity may write it (docs/INTERNALS.md, "The lab
     * collector"): no uuid it names (sender, event origins, a ProcessStart's
     * session) was first sent by another identity, and each study a
     * SessionStart or ProcessStart names is allowed (store_set_access).
     * Else nothing of it is stored and it is answered INGEST_RETRY with
     * STORE_ERR_FORBIDDEN (the agent keeps it). */
    const char *identity;
    /* When the collector received the batch, or 0: now. Stored in
     * `received`, the identity rows and the log's leaves, and the clock
     * events are checked against: a replica replaying a batch from
     * PostgreSQL passes the recorded time so that it stores the same rows. */
    int64_t received_ns;
    /* 1: the batch was accepted before (a PostgreSQL replica's catch-up):
     * identity is recorded but not checked again. */
    int replay;
};
int ingest_batches(tt_store *st, const struct ingest_input *in, size_t n,
                   struct ingest_result *res);

/* The study log (collector/slog.h, docs/RECORD.md): trials become
 * leaves of their study's Merkle log when final; after a transaction grew a
 * study's log, the store signs a checkpoint with the signer's key. */
struct tt_key;
struct store_checkpoint {
    const char *study;
    uint64_t tree_size;
    uint8_t root[32];
    uint8_t key[32];   /* the signer's ed25519 public key */
    uint8_t sig[64];   /* checkpoint_sign (common/checkpoint.h) */
    char keyid[65];
    uint64_t batches;  /* bit i: batch i of the last ingest call grew this log (i >= 63: bit 63) */
};

/* Copies k (with its secret) as the checkpoint signer; NULL stops signing.
 * Returns 0, or -1 on a read-only store. */
int store_set_signer(tt_store *st, const struct tt_key *k);

/* The checkpoints signed by the last ingest_batch / ingest_batches call that
 * committed (none if it failed), owned by st and valid until the next ingest
 * call. *n receives the count. */
const struct store_checkpoint *store_checkpoints(tt_store *st, size_t *n);

/* Moves WAL checkpoints off the ingest path: a thread with its own
 * connection checkpoints (PASSIVE) while ingest_batch goes on; stopped by
 * store_close. For long-lived writers (tunetraild); not for a process that
 * forks. No-op on a read-only store. Returns 0, or -1 with err set. */
int store_background_checkpoints(tt_store *st, char *err, size_t errlen);

/* ---- Reading: the objects `tunetrail studies / trials / show / processes /
 * log --json` print
 * (store_read.c). A reader borrows st (open it STORE_READONLY) and is
 * closed before it. Objects are new references owned by the caller; their
 * field names are a public contract. Errors: NULL / -1 with err set. */
typedef struct store_reader store_reader;
store_reader *store_reader_open(tt_store *st, char *err, size_t errlen);
void store_reader_close(store_reader *r);
/* Every study with its trial counts by status, sessions, first and last
 * activity: an array of {study, trials, ok, failed, crashed, killed,
 * running, sessions, first, last}, by name. */
json_t *store_read_studies(store_reader *r, char *err, size_t errlen);
/* 1 if study has a session or a trial, else 0. */
int store_read_study_exists(store_reader *r, const char *study);
/* "a, b, c" (every study name) or "(none)", malloc'd, for "no study" errors. */
char *store_read_study_names(store_reader *r);
/* Calls fn(trial, arg) for each trial of study (NULL: all studies), oldest
 * first, evaluations left out (their metrics show on the trial they
 * evaluate); the trial is borrowed for the call. `full` adds what `show`
 * prints (param sources, metric points, the process chain). */
int store_read_trials(store_reader *r, const char *study, int full,
                      void (*fn)(json_t *trial, void *arg), void *arg, char *err, size_t errlen);
/* The trial with an id, or a uuid hex prefix: its id, 0 if none, -1 if the
 * prefix matches several. */
int64_t store_read_resolve_trial(store_reader *r, const char *arg);
/* One trial by id (full as above), or NULL with err. full may add
 * STORE_READ_ENV_FILES: "environment_files", every file the environment
 * digest covers (`show --files all`). */
#define STORE_READ_ENV_FILES 2
json_t *store_read_trial(store_reader *r, int64_t id, int full, char *err, size_t errlen);

/* The out-of-fold predictions of trial id, joined (collector/store/preds.h,
 * docs/RECORD.md "Out-of-fold predictions"): 1 with *p filled (free with
 * preds_free), 0 if the trial has none, -1 with err set. */
struct preds;
int store_read_predictions(store_reader *r, int64_t trial_id, struct preds *p, char *err,
                           size_t errlen);

/* Calls fn(process, arg) for each process image of study (NULL: every
 * process, with or without a study), by start time; the object (borrowed for
 * the call) has the fields of `show --json`'s "processes" entries: uuid,
 * parent, relation ("root", "fork", "exec" or "unknown"), pid, ppid, exe,
 * argv, cwd, host, user, uid, git_commit, git_dirty, started, ended, status,
 * exit_code, signal, utime_us, stime_us, maxrss_kb, study, session. */
int store_read_processes(store_reader *r, const char *study,
                         void (*fn)(json_t *process, void *arg), void *arg, char *err,
                         size_t errlen);
/* Calls fn(leaf, arg) for each leaf of study's log (NULL: every study), by
 * study then index: {study, index, leaf (the leaf's JSON text, exactly as
 * hashed), hash (hex SHA-256(0x00 || leaf)), trial (its id), time}. */
int store_read_log(store_reader *r, const char *study, void (*fn)(json_t *leaf, void *arg),
                   void *arg, char *err, size_t errlen);
/* The head of each study's log (study NULL: every study with a log), by
 * name: an array of {study, size, checkpoint}, checkpoint being the latest
 * signed one, {tree_size, root, key, sig (hex), time}, or null if none. */
json_t *store_read_log_heads(store_reader *r, const char *study, char *err, size_t errlen);
/* The metrics the trials of study (NULL: every study) reported, evaluations
 * left out: {name: {split, direction, trials}}, split and direction the
 * most common ones recorded for the name (null if none), trials how many
 * trials reported it. */
json_t *store_read_metric_kinds(store_reader *r, const char *study, char *err, size_t errlen);
/* The lab conventions (a tunetrail.ini, docs/RECORD.md "Conventions") the
 * sessions of study (NULL: any) or of one session (hex uuid; NULL: any)
 * ran with, by session start: an array of {file, sha256, metric, trial,
 * session}; empty if none did. */
json_t *store_read_conventions(store_reader *r, const char *study, const char *session,
                               char *err, size_t errlen);

/* What the collector refused or flagged, and the warnings recorded
 * (`tunetrail audit`, docs/INTERNALS.md "What the store accepts" and
 * "Origins, ownership and conflicts"). study (NULL: all) keeps what can be
 * tied to it: a refusal by its origin (a session or process of the study;
 * an origin never stored, such as a forger's fresh uuid, has no study), a
 * received batch by its sender (a session; a flush's sender has none), a
 * note by its process, else its origin.
 * Counts: {refused, flagged (batches), notes (warnings), reasons: [{why,
 * count}] most frequent first}. */
json_t *store_read_audit_counts(store_reader *r, const char *study, char *err, size_t errlen);
/* Each refused event, oldest first: {kind: "refusal", time (receive time),
 * sender, batch_seq, origin, seq, event (the Event's kind field name, e.g.
 * "process_start"), why, study (null if none)}. */
int store_read_refusals(store_reader *r, const char *study, void (*fn)(json_t *refusal, void *arg),
                        void *arg, char *err, size_t errlen);
/* Each batch stored with a flag, oldest first: {kind: "received", time
 * (receive time), sender, batch_seq, events, stored, client_first,
 * client_last (the events' own times), flags ({"clock_ahead": N, "late": N,
 * "name_not_utf8": N}), study}. */
int store_read_flagged(store_reader *r, const char *study, void (*fn)(json_t *batch, void *arg),
                       void *arg, char *err, size_t errlen);
/* Each note of level warn, warning or error, by time: {kind: "note", time,
 * level, process, exe, session, study, text}. */
int store_read_warnings(store_reader *r, const char *study, void (*fn)(json_t *note, void *arg),
                        void *arg, char *err, size_t errlen);

/* ---- A study's record: what the provenance record (collector/record/)
 * reads besides the trials (store_study.c). */
struct merkle_frontier;
/* One leaf of a study's log, borrowed for the callback. hash is NULL when
 * the stored hash is not 32 bytes (an altered store). */
struct store_leaf {
    int64_t idx, trial_id;
    const char *text;
    size_t len;
    const uint8_t *hash;
};
/* fn returns 0 to go on, non-zero to stop (its own error). */
typedef int (*store_leaf_fn)(const struct store_leaf *leaf, void *arg);
/* Calls fn for each leaf of study's log, by index. Returns 0; -1 with err
 * set when the store cannot be read, or -1 (err untouched) when fn stopped. */
int store_log_each(tt_store *st, const char *study, store_leaf_fn fn, void *arg, char *err,
                   size_t errlen);
/* The head the collector extends (size and frontier) into *f: 0, or -1 if
 * the study has none or it does not decode. */
int store_log_head(tt_store *st, const char *study, struct merkle_frontier *f);
/* The trial that wrote content sha (in study, NULL: any): 0 with its id,
 * uuid (hex) and study (malloc'd, may be NULL), or -1 if no trial did. */
int store_find_producer(tt_store *st, const uint8_t sha[32], const char *study, int64_t *id,
                        char uuid[33], char **study_out);
/* Evaluation trials: an object trial id (decimal string) -> the uuid (hex)
 * of the trial it evaluates. New reference. */
json_t *store_evaluation_trials(tt_store *st);
/* Trials of the study not final yet (so not in its log). */
int64_t store_count_running(tt_store *st, const char *study);
/* Compute of every process of the study: {processes, cpu_seconds,
 * wall_seconds, peak_rss_kb, note}, or JSON null. New reference. */
json_t *store_study_compute(tt_store *st, const char *study);
/* The lab collector's word on each session of the study: an object session
 * uuid (hex) -> {identity: the authenticated identity (CURVE) or null,
 * claimed: {user, host} as the client sent them}. New reference. */
json_t *store_session_identities(tt_store *st, const char *study);
/* Each evaluation data file of the study, by sha256 (hex): {paths: {path:
 * true}, trials: {id: true}, processes: {uuid: true}, first_ns}. */
json_t *store_holdout_files(tt_store *st, const char *study);
/* Metrics later processes reported on the model of trial id: an array of
 * {metric, value, split: "test", data_sha256, data_path} in time order. */
json_t *store_model_evaluations(tt_store *st, int64_t id);
/* The collector's signed checkpoint of exactly this tree (checkpoint_json
 * form), or JSON null. New reference. */
json_t *store_stored_checkpoint(tt_store *st, const char *study, size_t size,
                                const uint8_t root[32]);

/* The SQLite backend's own connection, for its unit tests (tests/unit/
 * test_store_*.c) and benchmarks; the roles read through the functions
 * above, so a second backend implements those. The handle stays owned by
 * st; do not close it. */
struct sqlite3;
struct sqlite3 *store_sqlite(tt_store *st);

/* The file the store was opened from (owned by st). */
const char *store_path(tt_store *st);

#endif
