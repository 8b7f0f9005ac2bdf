/* agent_rec.h - what the agent adds to the shim's records before shipping:
 * exe and file hashes, user, git state, missing parents, synthesised ends,
 * and trials for --trial patterns and the root fallback. Shared by
 * `tunetrail run` (datagrams from live connections) and `tunetrail flush`
 * (frames from shim spool files). Hashing is inline (see hashcache.h): the
 * cache makes repeated inputs free, and a first read of a big file delays
 * the loop, not the training processes, whose datagrams queue in the socket.
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

/* Hashes files still open for writing by images that ended or vanished, and
 * synthesises END_KILLED for images never ended when force_end is set. */
int rec_finish(tt_rec *r, int force_end, char *err, size_t errlen);

void rec_counts(const tt_rec *r, struct rec_counts *out);

/* Number of images seen (processes), for flush's summary. */
size_t rec_images(const tt_rec *r);

#endif
