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
};

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
