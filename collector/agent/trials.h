/* trials.h - the agent's bookkeeping of process images and the trials they
 * make, and what it adds to the shim's records before shipping: exe and file
 * hashes, user, git state, missing parents, synthesised ends,
 * and trials for --trial patterns and the root fallback. Shared by
 * `tunetrail run` (datagrams from live connections) and `tunetrail flush`
 * (frames from shim spool files).
 *
 * Hashing runs on worker threads (hashpool.h) so a first read of a big file
 * never stalls the agent's loop (a stalled loop lets the shims' sockets fill
 * and pushes them to spool fallbacks). An event that needs a hash is held,
 * packed, in its origin's queue until the hash is known; that origin's later
 * events queue behind it, so each origin's events reach the batcher in seq
 * order, while other origins flow on. The caller polls trials_hash_fd and calls
 * trials_hash_ready; trials_wait (and trials_finish) drain everything.
 *
 * Error convention: 0 on success, -1 on failure with a message in err. */
#ifndef TT_TRIALS_H
#define TT_TRIALS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ship.h"

typedef struct tt_trials tt_trials;

struct trials_config {
    uint8_t origin[16];       /* agent-made events: session uuid, or flush uuid */
    const uint8_t *session;   /* 16 bytes, or NULL for bare-run spools */
    char *const *patterns;    /* --trial globs, matched on basenames */
    size_t npatterns;
    unsigned hash_threads;    /* hashing threads; 0 = hash inline (flush) */
};

struct trials_counts {
    unsigned trials_started, trials_finished, trials_failed, processes;
};

/* New recorder shipping through ship (borrowed). NULL on ENOMEM. */
tt_trials *trials_new(const struct trials_config *cfg, tt_ship *ship);
void trials_free(tt_trials *r);

/* The pid the agent started, for REL_ROOT and the root fallback. */
void trials_set_root_pid(tt_trials *r, pid_t pid);

/* Decodes one packed Batch that arrived on connection conn (any id >= 0; use
 * -1 for spool frames), enriches its events and ships them. A malformed
 * datagram is dropped with an error; nothing else is affected. */
int trials_feed(tt_trials *r, int conn, const uint8_t *buf, size_t len, char *err, size_t errlen);

/* Connection conn reached EOF: every image seen on it without an end record
 * is ended from its wait status when known (trials_child_status, /proc),
 * else waits for it (trials_tick), and at worst gets ProcessEnd{END_KILLED}. */
int trials_conn_eof(tt_trials *r, int conn, char *err, size_t errlen);

/* 1 once if the last trials_feed from conn ended its image for good (an
 * exit or a fatal signal, not an exec): the agent may close conn without
 * waiting to be woken by its EOF. */
int trials_conn_finished(tt_trials *r, int conn);

/* The agent is closing connection conn while its process is still alive
 * (a daemon the command left behind): its images stay `running`, with no
 * synthesised end. The process's later records reach its spool file (its
 * sends fail with EPIPE) and `tunetrail flush` ships its real end. */
void trials_conn_detach(tt_trials *r, int conn);

/* An eventfd (owned by r) that is readable when hashes finished; -1 if
 * hashing is inline. Put it in the poll set. */
int trials_hash_fd(const tt_trials *r);

/* Takes finished hashes and ships the held events whose turn has come.
 * Never blocks. */
int trials_hash_ready(tt_trials *r, char *err, size_t errlen);

/* Blocks until every requested hash is done and every held event shipped. */
int trials_wait(tt_trials *r, char *err, size_t errlen);

/* Events held for hashes right now; files actually read so far. */
size_t trials_held(const tt_trials *r);
unsigned long trials_hash_reads(const tt_trials *r);

/* Fills origin, seq and time_ns of an agent-made event and ships it. */
int trials_emit(tt_trials *r, Tunetrail__Event *ev, char *err, size_t errlen);

/* Records a process the shim cannot enter (a statically linked or a setuid
 * root command): ProcessStart now, trials_agent_process_end with its wait
 * status. `why` (e.g. "setuid", "statically linked") goes into a Note on the
 * process and into the run's summary line. */
int trials_agent_process_start(tt_trials *r, pid_t pid, const char *exe, char *const *argv, const char *why,
                               char *err, size_t errlen);
int trials_agent_process_end(tt_trials *r, int wstatus, char *err, size_t errlen);

/* Process pid was reaped with wstatus by its parent ppid: the agent (the
 * command it started) or a shim (from its Note{level "wait"}). Ends its
 * image if its connection is already gone, else keeps the status for its
 * EOF (or, image not seen yet, for its ProcessStart); corrects an image
 * ended as killed for want of better. A shim's own end record always wins. */
int trials_child_status(tt_trials *r, pid_t pid, pid_t ppid, int wstatus, char *err, size_t errlen);

/* Images whose connection ended without an end record wait briefly for a
 * wait status (above) before they are ended from /proc or as killed:
 * trials_tick does that for those due; trials_tick_timeout_ms is the time
 * until the next is due (-1: none). Never block. */
int trials_tick(tt_trials *r, char *err, size_t errlen);
long trials_tick_timeout_ms(const tt_trials *r);

/* If no trial was opened by anything in this recorder, opens one trial
 * (opened_by "root", argv params) for the root: with a root pid, the last
 * image of its exec chain; without (bare spools), every image without a
 * parent among the images seen, followed down its exec chain. */
int trials_root_fallback(tt_trials *r, char *err, size_t errlen);

/* Hashes files still open for writing by images that ended or vanished,
 * synthesises END_KILLED for images never ended when force_end is set
 * (except detached ones: still alive, see trials_conn_detach), opens the
 * trials of images that failed before opening one (docs/INTERNALS.md "Failed
 * trials": the one rule, for `run` and `flush` alike), then waits for
 * every hash (trials_wait): afterwards nothing is held back. */
int trials_finish(tt_trials *r, int force_end, char *err, size_t errlen);

void trials_counts(const tt_trials *r, struct trials_counts *out);

/* One line (no newline, malloc'd; NULL on ENOMEM) for the end of a run:
 * trials by status, trials per adapter, --trial patterns that matched no
 * process, adapters that could not attach and why. */
char *trials_summary(const tt_trials *r);

/* Number of images seen (processes), for flush's summary. */
size_t trials_images(const tt_trials *r);

#endif
