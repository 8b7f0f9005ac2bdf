/* spool.h - agent-side spool files: writing the agent's own spool (batch
 * frames, then ACKED frames as the collector commits), and loading any spool
 * (agent or shim) back into memory for `tunetrail flush`.
 *
 * A live agent holds an exclusive flock on its spool for its whole life, so
 * flush can tell a dead agent's spool (lock free) from a live one.
 *
 * Error convention: 0 on success, -1 on failure with a message in err. */
#ifndef TT_SPOOL_H
#define TT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

/* Opens (creating, 0600, O_APPEND) path and takes an exclusive non-blocking
 * flock. Returns the fd, or -1 (errno EWOULDBLOCK if another process holds
 * the lock). The caller owns the fd; closing it drops the lock. */
int spool_open_locked(const char *path, int create, char *err, size_t errlen);

/* Appends one packed Batch, in one write(), as TT_FRAME_BATCH parts of at
 * most about SPOOL_PART_BYTES of events each: every part is a Batch with the
 * same header (sender, batch_seq) and a run of the events, so a damaged frame
 * costs the events of that part only. A batch holding a SessionStart is
 * preceded by a TT_FRAME_META copy of it (header + that event), and the copy
 * is written again before the batch holding the SessionEnd, so a damaged
 * first frame does not lose the session's study. No sync: call spool_sync
 * once per group of batches. */
#define SPOOL_PART_BYTES 2048
int spool_append_batch(int fd, const uint8_t *buf, size_t len, char *err, size_t errlen);

/* Appends a TT_FRAME_ACKED frame for batch_seq (u64 LE). Not synced: losing
 * an ACKED frame only means a harmless resend. */
int spool_append_acked(int fd, uint64_t batch_seq, char *err, size_t errlen);

/* fdatasync: the group commit point. */
int spool_sync(int fd, char *err, size_t errlen);

struct spool_batch {
    uint64_t seq;        /* Batch.batch_seq */
    const uint8_t *buf;  /* the packed Batch: inside spool_contents.data, or
                          * own when parts were joined */
    size_t len;
    size_t nevents;
    int acked;           /* a later ACKED frame names this seq */
    int recovered;       /* its SessionStart came from a META copy */
    uint8_t *own;        /* malloc'd joined parts, or NULL */
};

/* Bytes a reader skipped: [off, off + len) of the file. */
struct spool_damage {
    size_t off, len;
    const char *why; /* "bad frame", "torn tail", "not a Batch" */
};

struct spool_contents {
    uint8_t *data;             /* whole file, malloc'd */
    size_t len;
    struct spool_batch *batch; /* malloc'd, in file order */
    size_t nbatch;
    size_t torn;               /* torn tail frames skipped */
    size_t corrupt;            /* corrupt regions skipped (resynced) */
    size_t undecodable;        /* CRC-valid frames that are not a Batch */
    struct spool_damage *damage; /* malloc'd, adjacent skips merged, in file order */
    size_t ndamage;
    size_t damaged_bytes;      /* sum of damage[].len */
};

/* Reads the spool from fd (from offset 0) and indexes its frames. Torn and
 * corrupt frames are skipped (resyncing on the next valid frame), never
 * returned, and listed in damage[]. Parts of one batch (consecutive BATCH
 * frames with one batch_seq) are joined back into one Batch; a batch whose
 * SessionStart was lost gets it back from a META copy. Free with
 * spool_contents_free. */
int spool_load_fd(int fd, struct spool_contents *out, char *err, size_t errlen);

/* Same, opening path read-only. */
int spool_load(const char *path, struct spool_contents *out, char *err, size_t errlen);

void spool_contents_free(struct spool_contents *c);

/* Takes a shim's spool file for shipping. The shim writes only to a file it
 * holds flock(LOCK_EX) on (plugin/shim_conn.c), so: if the lock is held, the
 * process is alive and the file is skipped; a file with damage is kept under
 * damaged/ (spool_keep_damaged) before it is returned; if the file is empty, the shim may
 * be about to lock it, so it is removed here while we hold the lock (the shim
 * then sees it unlinked and picks a fresh name). Returns 1 with *out filled
 * (the caller ships it, then unlinks path), 0 if skipped or removed empty
 * (*live set to 1 when locked), -1 on error with err set. */
int spool_take_shim(const char *path, struct spool_contents *out, int *live, char *err,
                    size_t errlen);

/* Keeps a damaged spool file: hard-links path as <its dir>/damaged/<name>
 * (the directory made 0700), so the caller's later unlink of path moves it
 * rather than deleting it. Where the link is, into out[cap]. Returns 0/-1. */
int spool_keep_damaged(const char *path, char *out, size_t cap, char *err, size_t errlen);

/* Number of batches not acked, and their event count if nevents != NULL. */
size_t spool_unacked(const struct spool_contents *c, size_t *nevents);

#endif
