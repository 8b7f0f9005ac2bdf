/* sink.h - where the agent and `tunetrail flush` send Batches: a remote
 * collector over a ZeroMQ DEALER socket, or the embedded store. Both look the
 * same to the caller: send a packed Batch, later receive an ack for its
 * batch_seq. The embedded sink commits synchronously inside sink_send and
 * queues the ack; the ZeroMQ sink never blocks.
 *
 * Error convention: 0 on success, -1 on failure with a message in err. */
#ifndef TT_SINK_H
#define TT_SINK_H

#include <stddef.h>
#include <stdint.h>

typedef struct tt_sink tt_sink;

/* A signed study-log head the collector returned with an ack (a receipt). */
struct sink_checkpoint {
    char *study;
    uint64_t tree_size;
    uint8_t root[32], key[32], sig[64];
};

struct sink_ack {
    uint64_t batch_seq;
    int status;          /* TUNETRAIL__ACK__STATUS__ACK_OK / _REJECTED / _RETRY */
    uint32_t stored;     /* events newly stored */
    uint32_t duplicates; /* events already present */
    size_t n_checkpoints;                /* receipts for the study logs this batch grew */
    struct sink_checkpoint *checkpoints; /* malloc'd; owned by the receiver: sink_ack_free */
    int store_error; /* with ACK_RETRY: Ack.store_error (enum store_error), 0 if none */
    /* The collector's word on the batch (Ack fields 71-73), checked by
     * ship.c against the batch it sent and the pinned key. */
    int has_digest, has_sig;
    uint8_t digest[32], key[32], sig[64];
    int embedded; /* from the embedded store, in this process: nothing to verify */
};

/* Opens like sink_open, pinning the collector's keys from collector_key (a
 * --collector-key file, curve.h curve_load_pin; NULL: none). A CURVE key
 * in it makes the connection CURVE (ZMQ_CURVE_SERVERKEY: only the holder of
 * that key's secret can answer) with our own key pair from curve_key (NULL:
 * $TUNETRAIL_HOME/keys/curve.key); acks on it are authenticated by the
 * channel. An ed25519 key in it pins the ack signatures (sink_pin_file);
 * with both, both apply. */
tt_sink *sink_open_keyed(const char *endpoint, const char *store_path, const char *collector_key,
                         const char *curve_key, char *err, size_t errlen);

/* If the CURVE handshake with the collector failed (it refused our key, or
 * it is not a CURVE collector): why, else NULL. Reads the socket monitor's
 * events queued so far. Owned by s. */
const char *sink_handshake_refused(tt_sink *s);

/* The collector's reason with its last ACK_RETRY for STORE_ERR_FORBIDDEN
 * (Ack.error), or "" if none. Owned by s. */
const char *sink_refusal(const tt_sink *s);

/* Pins the collector's ed25519 public key, read from path (a .pub file of
 * `tunetrail keygen`, or tunetraild's collector.pub): a batch is then
 * released (its spool copy dropped) only on an ack that names the batch's
 * digest (BLAKE2b-256) and is signed by this key; any other ok or rejected ack is
 * untrusted, counted, said once on stderr, and the batch stays pending
 * (resent; kept in the spool at the end). Without a pin, a remote
 * collector's acks are taken on its word (counted as unverified). */
int sink_pin_file(tt_sink *s, const char *path, char *err, size_t errlen);

/* Whether ack a (not ACK_RETRY) for the packed batch buf[len] may release
 * it: 1 yes, 0 no (see sink_pin_file). Counts each answer. */
int sink_ack_trusted(tt_sink *s, const struct sink_ack *a, const uint8_t *buf, size_t len);

/* Acks of a remote collector so far: verified (digest ours, signed by the
 * pinned key), unverified (no key pinned), untrusted (refused). */
struct sink_trust {
    uint64_t verified, unverified, untrusted;
    int pinned, remote;
};
void sink_trust(const tt_sink *s, struct sink_trust *out);

/* At the end of a run or flush: if a remote collector's acks were taken on
 * its word (no key pinned), says so on stderr, prefixed with who. */
void sink_say_unverified(const tt_sink *s, const char *who);

/* Frees an ack's checkpoints (the struct itself is the caller's). */
void sink_ack_free(struct sink_ack *a);

/* endpoint non-NULL: connect a DEALER to it (never fails for an unreachable
 * collector: ZeroMQ connects in the background). endpoint NULL: open the
 * SQLite store at store_path with STORE_CREATE, signing log checkpoints with
 * the collector key (key_collector(NULL): $TUNETRAIL_HOME/collector.key,
 * created on first use; without it, a warning on stderr and no receipts).
 * Returns NULL on failure. */
tt_sink *sink_open(const char *endpoint, const char *store_path, char *err, size_t errlen);

/* Closes the sink; pending ZeroMQ sends linger at most ~1 s. NULL is fine. */
void sink_close(tt_sink *s);

/* Human-readable destination ("tcp://host:port" or the store path). Owned by s. */
const char *sink_dest(const tt_sink *s);

/* Sends one packed Batch whose batch_seq is seq. Returns 0 if sent (or, for
 * the embedded sink, committed or rejected: an ack is queued), 1 if it could
 * not go now (no peer / queue full: retry later), -1 on a hard error. */
int sink_send(tt_sink *s, uint64_t seq, const uint8_t *buf, size_t len, char *err, size_t errlen);

/* Pops one ack without blocking. Returns 1 with *ack filled, 0 if none. */
int sink_recv_ack(tt_sink *s, struct sink_ack *ack);

/* Number of acks already queued (the embedded sink acks inside sink_send). */
size_t sink_acks_queued(const tt_sink *s);

/* The ZeroMQ socket to put in a zmq_poll set (ZMQ_POLLIN = acks ready), or
 * NULL for the embedded sink, whose acks are ready right after sink_send. */
void *sink_zmq_socket(tt_sink *s);

#endif
