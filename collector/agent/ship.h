/* ship.h - the agent's outbound path: packs events into Batches
 * (sender + batch_seq), writes each Batch to the spool (group commit) BEFORE
 * sending it to the sink, records acks in the spool, and resends what is not
 * acked after a timeout. Used by `tunetrail run` and `tunetrail flush`.
 *
 * Error convention: 0 on success, -1 on failure with a message in err. */
#ifndef TT_SHIP_H
#define TT_SHIP_H

#include <stddef.h>
#include <stdint.h>

#include "sink.h"
#include "tunetrail.pb-c.h"

#define SHIP_BATCH_EVENTS 1000   /* seal a batch at this many events */
#define SHIP_BATCH_BYTES (1u << 20)
#define SHIP_BATCH_AGE_MS 50     /* ...or when its first event is this old */
#define SHIP_RESEND_MS 2000      /* resend an unacked batch after this long */
#define SHIP_HOLD_MAX (64u << 20) /* bytes of batches the spool could not take, kept in
                                   * memory (TUNETRAIL_HOLD_MAX overrides) */

typedef struct tt_ship tt_ship;

struct ship_stats {
    uint64_t events_acked;  /* events in acked batches */
    uint64_t stored;        /* newly stored, as the collector said */
    uint64_t duplicates;    /* already present */
    uint64_t rejected;      /* batches the collector refused (dropped) */
};

/* New shipper sending to sink (borrowed). spool_fd (borrowed, may be -1 for
 * none) receives BATCH frames before sending and ACKED frames on acks.
 * sender is copied. NULL on ENOMEM. */
tt_ship *ship_new(tt_sink *sink, int spool_fd, const uint8_t sender[16]);
void ship_free(tt_ship *sh);

/* A filter sees every event given to ship_event and returns 1 to drop it
 * (flush: what a killed agent's spool already holds). */
typedef int (*ship_filter_fn)(void *arg, const Tunetrail__Event *ev);
void ship_set_filter(tt_ship *sh, ship_filter_fn fn, void *arg);

/* Packs ev into the open batch (the event is not retained). Seals the batch
 * if it is full. */
int ship_event(tt_ship *sh, const Tunetrail__Event *ev, char *err, size_t errlen);

/* Seals the open batch if it has events: spool append + fdatasync, then send.
 * If the spool cannot take it (disk full), the batch is held in memory,
 * sent all the same, and written when the spool has room (ship_pump
 * retries); over SHIP_HOLD_MAX bytes held, the oldest held batches are
 * dropped and counted (ship_give_up). */
int ship_seal(tt_ship *sh, char *err, size_t errlen);

/* Tracks and sends an already-spooled packed Batch with its own seq (flush of
 * a dead agent's spool: resent as it is, so the collector dedupes it). */
int ship_raw(tt_ship *sh, uint64_t seq, const uint8_t *buf, size_t len, size_t nevents, char *err,
             size_t errlen);

/* Does the periodic work: seals an open batch older than SHIP_BATCH_AGE_MS,
 * drains acks, resends batches unacked for SHIP_RESEND_MS, retries sends that
 * could not go. Call after every poll wakeup. Returns 0/-1. */
int ship_pump(tt_ship *sh, char *err, size_t errlen);

/* Milliseconds until ship_pump has timed work to do (for a poll timeout), or
 * -1 if none. */
long ship_next_timeout_ms(const tt_ship *sh);

/* Unacked batches (sealed but not acked) and their events; open batch events
 * are counted in *events but not in the return value. */
size_t ship_pending(const tt_ship *sh, size_t *events);

/* Pumps until nothing is pending or ms have passed, waiting on the sink's
 * acks in between (the last step of `tunetrail run` and of flush). */
void ship_drain(tt_ship *sh, long ms);

const struct ship_stats *ship_stats(const tt_ship *sh);

/* Batches sealed but not in the spool (held in memory), and their events.
 * Whoever deletes what fed the shipper waits for 0. */
size_t ship_held(const tt_ship *sh, size_t *events);

/* The last word on held batches: one more spool write each; those that
 * still cannot be written are dropped. Returns every event dropped (at the
 * bound or now) and not acked since; *why (may be NULL) is the spool's
 * error, or NULL. After it, ship_pending counts only spooled batches. */
uint64_t ship_give_up(tt_ship *sh, const char **why);

/* What the collector said of its store in the last ack if that was a retry
 * for a store fault ("store full", "store damaged", ...), NULL otherwise. */
const char *ship_store_error(const tt_ship *sh);

/* Milliseconds on CLOCK_MONOTONIC, shared by the agent loop. */
int64_t ship_now_ms(void);

#endif
