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

#include "curve.h"
#include "keys.h"
#include "store.h"
#include "wire.h"

/* Largest message we read: our payload limit plus room for framing. Bigger
 * messages make libzmq drop the connection before allocating them. */
#define COLLECTOR_MAXMSGSIZE ((int64_t)TT_FRAME_MAX_PAYLOAD + (64 << 10))

/* What one client may make the daemon hold (docs/INTERNALS.md, "Daemon
 * limits"). libzmq delivers a multipart message only whole and caps each
 * frame, not the message: a peer streaming frames is bounded by the bytes it
 * has in flight - received by the kernel for its connection (TCP_INFO) and
 * not yet handed to us - not by a frame count we could only see at the end. */
#define COLLECTOR_MAX_FRAMES 3 /* [identity] [delimiter] batch: the protocol's */
#define COLLECTOR_MAX_PEER_BYTES ((int64_t)64 << 20)
#define COLLECTOR_MAX_BUFFERED ((int64_t)256 << 20)
#define COLLECTOR_MAX_CONNECTIONS 512
/* --client-hwm: whole messages queued per connection (ZMQ_RCVHWM) before
 * libzmq stops reading it and TCP pushes back; nothing is dropped. 8 (it
 * was 32): 64 agents hold at most 64 x (8 + 1) of the agent's batches (1 MiB
 * each at most) and --max-buffered stops them before that; a group commit
 * still fills from 4 agents, and bench_ingest's single agent showed no loss
 * against 32 (docs/INTERNALS.md, "Daemon limits"). */
#define COLLECTOR_CLIENT_HWM 8

struct collector_limits {
    int64_t max_message;    /* bytes of a message (and of any frame); 0: COLLECTOR_MAXMSGSIZE */
    int64_t max_peer_bytes; /* in flight from one tcp:// connection; 0: default; < 0: none */
    int64_t max_buffered;   /* in flight from all of them; 0: default; < 0: none */
    int max_connections;    /* at once; 0: default; < 0: none */
};

struct collector_stats {
    uint64_t batches;    /* batches committed (ACK_OK) */
    uint64_t events;     /* events newly stored */
    uint64_t duplicates; /* events already present */
    uint64_t rejected;   /* malformed/oversized messages and failed handshakes */
    uint64_t retries;    /* batches answered ACK_RETRY (store busy / I/O) */
    uint64_t flagged;    /* events stored with a flag (clock skew, name not UTF-8) */
    uint64_t refused;    /* events naming another origin's process/trial/session (not applied) */
    uint64_t conflicts;  /* events reusing a stored (origin, seq) with other bytes (not applied) */
    uint64_t store_errors;  /* batches answered RETRY for full / damaged / I/O / read-only */
    uint64_t too_many_frames; /* messages of more than COLLECTOR_MAX_FRAMES frames (rejected) */
    uint64_t oversized;  /* messages over max_message bytes (rejected) */
    uint64_t dropped_peer_bytes; /* connections dropped: over max_peer_bytes in flight */
    uint64_t dropped_buffered;   /* connections dropped: the total was over max_buffered */
    uint64_t dropped_idle;       /* connections dropped: max_connections reached */
    uint64_t auth_no_key;        /* handshakes refused: a client without CURVE (plain) */
    uint64_t auth_unknown_key;   /* handshakes refused: a CURVE key not in the clients file */
    uint64_t forbidden;          /* batches refused: the identity may not write them */
    uint64_t revoked;            /* connections dropped: their CURVE key left the clients
                                    file (SIGHUP) after their handshake */
    uint64_t reloads;            /* clients/access files reloaded (SIGHUP) */
    uint64_t drained;            /* messages stored and acked after the stop signal */
    uint64_t hwm_reached;        /* a connection sent --client-hwm messages in one busy
                                    stretch: at its mark, libzmq stopped reading it */
    uint64_t connections;        /* open now */
    uint64_t peak_connections;
};

struct collector_opts {
    int quiet;              /* don't log rejects to stderr (benchmarks) */
    const char *ready_file; /* if set, touched once bound (tests wait on it) */
    struct collector_limits limits;
    /* Signs every ack (Ack fields 71-73: the batch's digest, our word on
     * it) with this key (with its secret); NULL: acks unsigned. Borrowed. */
    const struct tt_key *signer;
    /* The lab collector: with curve_secret (Z85), only CURVE clients whose
     * public key is in clients are let in (a ZAP handler on
     * inproc://zeromq.zap.01 of zctx, answered in the serve loop), and each
     * batch is stored under its client's identity (ingest_input.identity).
     * Both borrowed; NULL: plain ZMTP, no identities. */
    const char *curve_secret;
    const struct curve_clients *clients;
    /* Reload (SIGHUP): when *reload is non-zero the loop clears it and calls
     * on_reload(reload_arg) between groups; that may replace the contents of
     * *clients (and of the access rules it owns). A connection whose key is
     * then gone, or names another identity, is dropped at its next message
     * (not stored, not acked); its reconnect meets the new list. */
    int client_hwm;          /* ZMQ_RCVHWM per connection; 0: COLLECTOR_CLIENT_HWM */
    /* For status requests (Batch.status_request): the store's path (its
     * size on disk is stat'ed) and kind ("sqlite" if NULL). Borrowed. */
    const char *store_path, *store_kind;
    volatile sig_atomic_t *reload;
    void (*on_reload)(void *arg);
    void *reload_arg;
};

/* Binds a ROUTER on endpoint (tcp://, ipc://, inproc:// of zctx) and serves
 * (an ipc:// socket file is made 0600 whatever the umask: only our user
 * connects)
 * until *stop becomes non-zero (checked at least every 100 ms; SIGINT/SIGTERM
 * handlers set it). Then it drains: the messages libzmq has already queued
 * are stored and acked (stats.drained) before the socket closes, its acks
 * given up to 1 s to leave. Stores into st, which stays owned by the caller. Logs
 * each rejected message, refusal and dropped connection to stderr as one
 * logfmt line (logfmt.h; event=reject, auth_refused, forbidden, limit, ...).
 * A status request is answered with the counters (send_status). out (may be NULL) receives the final counters, and is also
 * updated as it runs. opts may be NULL. Returns 0 after a clean stop, -1 if the
 * endpoint cannot be bound or ZeroMQ fails. */
int collector_serve(void *zctx, const char *endpoint, tt_store *st, volatile sig_atomic_t *stop,
                    struct collector_stats *out, const struct collector_opts *opts, char *err,
                    size_t errlen);

#endif
