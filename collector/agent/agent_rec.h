/* agent_rec.h - what the agent adds to the shim's records before shipping:
 * exe and file hashes, user, git state, missing parents, synthesised ends,
 * and trials for --trial patterns and the root fallback. Shared by
 * `tunetrail run` (datagrams from live connections) and `tunetrail flush`
 * (frames from shim spool files).
 *
 * Hashing runs on worker threads (hashpool.h) so a first read of a big file
 * never stalls the agent's loop (a stalled loop lets the shims' sockets fill
 * and pushes them to spool fallbacks). An event that needs a hash is held,
 * packed, in its origin's queue until the hash is known; that origin's later
 * events queue behind it, so each origin's events reach the batcher in seq
 * order, while other origins flow on. The caller polls rec_hash_fd and calls
 * rec_hash_ready; rec_wait (and rec_finish) drain everything.
 *
 * Error convention: 0 on success, -1 on failure with a message in err. */
#ifndef TT_AGENT_REC_H
#define TT_AGENT_REC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent_ship.h"

typedef struct tt_rec tt_rec;

struct rec_config {
    uint8_t origin[16];       /* agent-made events: session uuid, or flush uuid */
    const uint8_t *session;   /* 16 bytes, or NULL for bare-run spools */
    char *const *patterns;    /* --trial globs, matched on basenames */
    size_t npatterns;
    unsigned hash_threads;    /* hashing threads; 0 = hash inline (flush) */
};

struct rec_counts {
    unsigned trials_started, trials_finished, trials_failed, processes;
};

/* New recorder shipping through ship (borrowed). NULL on ENOMEM. */
tt_rec *rec_new(const struct rec_config *cfg, tt_ship *ship);
void rec_free(tt_rec *r);

/* The pid the agent started, for REL_ROOT and the root fallback. */
void rec_set_root_pid(tt_rec *r, pid_t pid);

/* Decodes one packed Batch that arrived on connection conn (any id >= 0; use
 * -1 for spool frames), enriches its events and ships them. A malformed
 * datagram is dropped with an error; nothing else is affected. */
int rec_feed(tt_rec *r, int conn, const uint8_t *buf, size_t len, char *err, size_t errlen);

/* Connection conn reached EOF: every image seen on it without an end record
 * gets a synthesised ProcessEnd{END_KILLED}. */
int rec_conn_eof(tt_rec *r, int conn, char *err, size_t errlen);

/* The agent is closing connection conn while its process is still alive
 * (a daemon the command left behind): its images stay `running`, with no
 * synthesised end. The process's later records reach its spool file (its
 * sends fail with EPIPE) and `tunetrail flush` ships its real end. */
void rec_conn_detach(tt_rec *r, int conn);

/* An eventfd (owned by r) that is readable when hashes finished; -1 if
 * hashing is inline. Put it in the poll set. */
int rec_hash_fd(const tt_rec *r);

/* Takes finished hashes and ships the held events whose turn has come.
 * Never blocks. */
int rec_hash_ready(tt_rec *r, char *err, size_t errlen);

/* Blocks until every requested hash is done and every held event shipped. */
int rec_wait(tt_rec *r, char *err, size_t errlen);

/* Events held for hashes right now; files actually read so far. */
size_t rec_held(const tt_rec *r);
unsigned long rec_hash_reads(const tt_rec *r);

/* Fills origin, seq and time_ns of an agent-made event and ships it. */
int rec_emit(tt_rec *r, Tunetrail__Event *ev, char *err, size_t errlen);

/* Records a process the shim cannot see (a statically linked root command):
 * ProcessStart now, rec_agent_process_end at its exit. */
int rec_agent_process_start(tt_rec *r, pid_t pid, const char *exe, char *const *argv, char *err,
                            size_t errlen);
int rec_agent_process_end(tt_rec *r, int exit_code, int sig, char *err, size_t errlen);

/* If no trial was opened by anything in this recorder, opens one trial
 * (opened_by "root", argv params) for the root: with a root pid, the last
 * image of its exec chain; without (bare spools), every image without a
 * parent among the images seen, followed down its exec chain. */
int rec_root_fallback(tt_rec *r, char *err, size_t errlen);

/* Hashes files still open for writing by images that ended or vanished,
 * synthesises END_KILLED for images never ended when force_end is set
 * (except detached ones: still alive, see rec_conn_detach), then waits for
 * every hash (rec_wait): afterwards nothing is held back. */
int rec_finish(tt_rec *r, int force_end, char *err, size_t errlen);

void rec_counts(const tt_rec *r, struct rec_counts *out);

/* Number of images seen (processes), for flush's summary. */
size_t rec_images(const tt_rec *r);

#endif
