/* collector.h - the collector's serve loop: a ZeroMQ ROUTER that receives
 * packed tunetrail.Batch messages, stores them and acks each after commit.
 * Used by tunetraild, and by tests and benchmarks in a thread.
 *
 * Wire: each request is [identity][Batch] (a DEALER sending one frame; an
 * empty delimiter frame before the Batch is tolerated and echoed). The reply
 * is [identity][packed tunetrail.Ack] sent only after the batch's transaction
 * committed (or was rejected / failed with RETRY).
 *
 * Error convention: returns 0 on success, -1 with a message in err[errlen]. */
#ifndef TT_COLLECTOR_H
#define TT_COLLECTOR_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "wire.h"

/* Largest message we read: our payload limit plus room for framing. Bigger
 * messages make libzmq drop the connection before allocating them. */
#define COLLECTOR_MAXMSGSIZE ((int64_t)TT_FRAME_MAX_PAYLOAD + (64 << 10))

struct collector_stats {
    uint64_t batches;    /* batches committed (ACK_OK) */
    uint64_t events;     /* events newly stored */
    uint64_t duplicates; /* events already present */
    uint64_t rejected;   /* malformed/oversized messages and failed handshakes */
    uint64_t retries;    /* batches answered ACK_RETRY (store busy / I/O) */
};

struct collector_opts {
    int quiet;              /* don't log rejects to stderr (benchmarks) */
    const char *ready_file; /* if set, touched once bound (tests wait on it) */
};

/* Binds a ROUTER on endpoint (tcp://, ipc://, inproc:// of zctx) and serves
 * until *stop becomes non-zero (checked at least every 100 ms; SIGINT/SIGTERM
 * handlers set it). Stores into st, which stays owned by the caller. Logs each
 * rejected message to stderr as "tunetraild: rejected <reason> from <sender>
 * (rejected=N)". out (may be NULL) receives the final counters, and is also
 * updated as it runs. opts may be NULL. Returns 0 after a clean stop, -1 if the
 * endpoint cannot be bound or ZeroMQ fails. */
int collector_serve(void *zctx, const char *endpoint, tt_store *st, volatile sig_atomic_t *stop,
                    struct collector_stats *out, const struct collector_opts *opts, char *err,
                    size_t errlen);

#endif
