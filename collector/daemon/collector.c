/* collector.c - see collector.h. One thread, one ROUTER: SQLite takes one
 * writer at a time anyway, and batching (not threads) is what buys throughput.
 * A bad message never stops the loop: it is logged, counted and answered with
 * ACK_REJECTED when it has a sender we can answer.
 *
 * Limits (collector.h). Connections are known from the socket monitor
 * (ACCEPTED / DISCONNECTED carry the fd) and each message names the fd it
 * came from (ZMQ_SRCFD). What a tcp:// peer has in flight is the kernel's
 * count of bytes received on its connection (TCP_INFO) minus the wire bytes
 * of the messages we got from it: it covers a multipart message libzmq is
 * still assembling, which we cannot see. A connection over a limit is shut
 * down under libzmq, which then drops it and its partial message like any
 * broken connection. An agent so dropped reconnects and resends what was not
 * acknowledged: nothing is lost, and the drop is counted. */
#include "collector.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_received */
#include <netinet/in.h>

#include <zmq.h>

#include <sodium.h>

#include "checkpoint.h"
#include "logfmt.h"
#include "tunetrail.pb-c.h"
#include "util.h"

#define POLL_MS 100
#define FAST_POLL_MS 10 /* while a connection has a large message in flight */
#define FAST_BYTES (1 << 20)
#define DRAIN_MAX 256 /* messages per wake-up before we look at stop and the monitor */
#define GROUP_MAX 32  /* batches per transaction at most (group commit) */
#define MAX_FRAMES COLLECTOR_MAX_FRAMES
#define FD_RESERVE 64 /* fds kept for the store, its WAL, libzmq's own */

/* One received message: its frames, valid or not. */
struct msg {
    zmq_msg_t frames[MAX_FRAMES];
    int n;
    int fd;         /* the connection it came from (ZMQ_SRCFD), -1 if unknown */
    uint64_t bytes; /* its wire bytes, all frames but the identity */
};

/* One connection, as the socket monitor reported it. */
struct peer {
    int fd;
    int tcp;            /* TCP_INFO answers: its bytes in flight are known */
    int dropped;        /* shut down by us; libzmq's DISCONNECTED not seen yet */
    int64_t last_ms;    /* accepted, or its last message */
    uint64_t delivered; /* wire bytes of the messages we received from it */
    uint64_t inflight;  /* at the last check */
    uint64_t run;       /* messages received since the queue was last empty */
};

struct serve {
    void *router, *mon, *zap;
    const struct curve_clients *clients; /* with zap */
    char said[8][256];                   /* refusal reasons logged lately (each said once) */
    unsigned nsaid;
    tt_store *st;
    struct collector_stats stats;
    struct collector_stats *out;
    int quiet;
    const struct tt_key *signer; /* signs acks, or NULL */
    struct collector_limits lim;
    struct peer *peers;
    size_t npeers, cappeers;
    int64_t checked_ms; /* last peers_check */
    int fast;           /* poll at FAST_POLL_MS */
    enum store_error last_store_error;
    int hwm;                /* --client-hwm: ZMQ_RCVHWM of each connection */
    int64_t start_ms;       /* CLOCK_MONOTONIC at start */
    int64_t started_ns;     /* CLOCK_REALTIME at start */
    int64_t busy_since_ms;  /* the wake-up that found messages, until the queue is empty; 0: caught up */
    int64_t retry_since_ms; /* the first retry since the last commit; 0: none */
    int64_t last_commit_ns; /* CLOCK_REALTIME; 0: none yet */
    uint64_t inflight;      /* over all connections, at the last check */
    const char *store_path, *store_kind;
    struct msg msgs[GROUP_MAX]; /* one group's messages */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void publish(struct serve *s)
{
    if (s->out)
        *s->out = s->stats;
}

/* 1 the first time reason is seen among the last 8 said: a refused client
 * retries forever, its log line is worth one. */
static int say_once(struct serve *s, const char *reason)
{
    for (unsigned i = 0; i < 8; i++)
        if (!strncmp(s->said[i], reason, sizeof s->said[i] - 1))
            return 0;
    snprintf(s->said[s->nsaid++ % 8], sizeof s->said[0], "%s", reason);
    return 1;
}

/* peer= and id= (hex of the routing id, 8 bytes at most) of a message,
 * and identity= when CURVE authenticated it. */
static void log_sender(struct logline *l, zmq_msg_t *id, zmq_msg_t *payload)
{
    const char *peer = payload ? zmq_msg_gets(payload, "Peer-Address") : NULL;
    const char *who = payload ? zmq_msg_gets(payload, "User-Id") : NULL;
    char hex[2 * 8 + 1];
    size_t n = zmq_msg_size(id) < 8 ? zmq_msg_size(id) : 8;
    wire_hex(hex, zmq_msg_data(id), n);
    log_kv(l, "peer", "%s", peer ? peer : "?");
    log_kv(l, "id", "%s", hex);
    if (who && *who)
        log_kv(l, "identity", "%s", who);
}

/* event=reject: a message (or handshake) we could not take. reason is a
 * word of the vocabulary (docs/INTERNALS.md), error the details. The
 * sender is the message's (id, payload) or, before any message, where. */
static void log_reject(struct serve *s, const char *reason, const char *error, zmq_msg_t *id,
                       zmq_msg_t *payload, const char *where)
{
    s->stats.rejected++;
    publish(s);
    if (s->quiet)
        return;
    struct logline l;
    log_begin(&l, "warn", "reject");
    log_kv(&l, "reason", "%s", reason);
    if (id)
        log_sender(&l, id, payload);
    else
        log_kv(&l, "peer", "%s", where ? where : "?");
    log_kv(&l, "error", "%s", error);
    log_kv(&l, "rejected", "%llu", (unsigned long long)s->stats.rejected);
    log_end(&l);
}

/* The ack of batch j of the last group: with the checkpoints of the study
 * logs its trials grew (receipts for the agent). */
static void send_ack(struct serve *s, zmq_msg_t *frames, int nframes, const struct ingest_result *r,
                     int j)
{
    Tunetrail__Ack ack = TUNETRAIL__ACK__INIT;
    size_t nck = 0, k = 0;
    const struct store_checkpoint *ck = store_checkpoints(s->st, &nck);
    Tunetrail__Checkpoint cps[8], *cpp[8];
    uint64_t bit = 1ull << (j < 63 ? j : 63);
    for (size_t i = 0; i < nck && k < 8; i++) {
        if (!(ck[i].batches & bit))
            continue;
        Tunetrail__Checkpoint *c = &cps[k];
        tunetrail__checkpoint__init(c);
        c->study = (char *)ck[i].study;
        c->has_tree_size = c->has_root = c->has_key = c->has_sig = 1;
        c->tree_size = ck[i].tree_size;
        c->root = (ProtobufCBinaryData){32, (uint8_t *)ck[i].root};
        c->key = (ProtobufCBinaryData){32, (uint8_t *)ck[i].key};
        c->sig = (ProtobufCBinaryData){64, (uint8_t *)ck[i].sig};
        cpp[k] = c;
        k++;
    }
    ack.n_checkpoints = k;
    ack.checkpoints = k ? cpp : NULL;
    ack.has_schema_version = 1;
    ack.schema_version = TUNETRAIL__SCHEMA_VERSION__SCHEMA_VERSION;
    ack.has_batch_seq = 1;
    ack.batch_seq = r->batch_seq;
    ack.has_status = 1;
    ack.status = r->status == INGEST_OK         ? TUNETRAIL__ACK__STATUS__ACK_OK
                 : r->status == INGEST_REJECTED ? TUNETRAIL__ACK__STATUS__ACK_REJECTED
                                                : TUNETRAIL__ACK__STATUS__ACK_RETRY;
    ack.has_stored = ack.has_duplicates = 1;
    ack.stored = r->stored;
    ack.duplicates = r->duplicates;
    if (r->status == INGEST_RETRY && r->store_error != STORE_ERR_NONE) {
        ack.has_store_error = 1;
        ack.store_error = (Tunetrail__Ack__StoreError)r->store_error;
    }
    if (r->error[0])
        ack.error = (char *)r->error;
    /* Our word on these exact bytes: an agent that pinned our key keeps its
     * copy until it holds this (an impostor that acks without storing
     * cannot sign it). */
    uint8_t digest[32], sig[64];
    const char *studies[8];
    uint64_t sizes[8];
    uint8_t roots[8][32];
    crypto_generichash(digest, 32, zmq_msg_data(&frames[nframes - 1]), zmq_msg_size(&frames[nframes - 1]), NULL, 0);
    ack.has_batch_digest = 1;
    ack.batch_digest = (ProtobufCBinaryData){32, digest};
    if (s->signer) {
        struct ack_claim c = {.batch_seq = ack.batch_seq, .status = (int)ack.status, .stored = (int)ack.stored,
                              .duplicates = (int)ack.duplicates, .n = k, .study = studies,
                              .tree_size = sizes, .root = (const uint8_t(*)[32])roots};
        memcpy(c.digest, digest, 32);
        for (size_t i = 0; i < k; i++) {
            studies[i] = cps[i].study;
            sizes[i] = cps[i].tree_size;
            memcpy(roots[i], cps[i].root.data, 32);
        }
        if (ack_sign(s->signer, &c, sig) == 0) {
            ack.has_ack_key = ack.has_ack_sig = 1;
            ack.ack_key = (ProtobufCBinaryData){32, (uint8_t *)s->signer->pk};
            ack.ack_sig = (ProtobufCBinaryData){64, sig};
        }
    }
    uint8_t small[1024], *buf = small; /* error is < 256 bytes; studies may be long */
    size_t need = tunetrail__ack__get_packed_size(&ack);
    if (need > sizeof small && !(buf = malloc(need))) {
        ack.n_checkpoints = 0; /* the receipts are a bonus; the ack must go */
        ack.has_ack_sig = 0;   /* it covered them: unverifiable now, so resent */
        buf = small;
    }
    size_t n = tunetrail__ack__pack(&ack, buf);
    /* Echo identity and delimiter (if any); a vanished peer's reply is dropped
     * by ROUTER, which is fine: the agent resends what it did not see acked. */
    for (int i = 0; i < nframes - 1; i++)
        zmq_send(s->router, zmq_msg_data(&frames[i]), zmq_msg_size(&frames[i]), ZMQ_SNDMORE);
    zmq_send(s->router, buf, n, 0);
    if (buf != small)
        free(buf);
}

/* Answers a status request (Batch.status_request) with an Ack carrying
 * collector_status: nothing of the request is stored. */
static void send_status(struct serve *s, struct msg *m, uint64_t seq)
{
    Tunetrail__Ack ack = TUNETRAIL__ACK__INIT;
    Tunetrail__CollectorStatus st = TUNETRAIL__COLLECTOR_STATUS__INIT;
    const struct collector_stats *c = &s->stats;
    const struct {
        const char *name;
        uint64_t n;
    } reasons[] = {
        {"auth_no_key", c->auth_no_key},     {"auth_unknown_key", c->auth_unknown_key},
        {"revoked", c->revoked},             {"forbidden", c->forbidden},
        {"rejected", c->rejected},           {"oversized", c->oversized},
        {"too_many_frames", c->too_many_frames}, {"dropped_peer_bytes", c->dropped_peer_bytes},
        {"dropped_buffered", c->dropped_buffered}, {"dropped_idle", c->dropped_idle},
        {"refused", c->refused},             {"conflicts", c->conflicts},
        {"store_errors", c->store_errors},
    };
    enum { NR = sizeof reasons / sizeof *reasons };
    Tunetrail__StatusCount counts[NR], *pc[NR];
    for (size_t i = 0; i < NR; i++) {
        tunetrail__status_count__init(&counts[i]);
        counts[i].name = (char *)reasons[i].name;
        counts[i].has_n = 1;
        counts[i].n = reasons[i].n;
        pc[i] = &counts[i];
    }
    int64_t now = mono_ms();
    st.version = (char *)TT_VERSION;
    st.has_started_ns = st.has_uptime_ms = st.has_connections = st.has_peak_connections = 1;
    st.started_ns = s->started_ns;
    st.uptime_ms = (uint64_t)(now - s->start_ms);
    st.connections = (uint32_t)c->connections;
    st.peak_connections = (uint32_t)c->peak_connections;
    st.has_batches = st.has_events = st.has_duplicates = st.has_retries = 1;
    st.batches = c->batches;
    st.events = c->events;
    st.duplicates = c->duplicates;
    st.retries = c->retries;
    st.n_refused = NR;
    st.refused = pc;
    st.store_kind = (char *)(s->store_kind ? s->store_kind : "sqlite");
    if (s->store_path) {
        /* The file and its WAL: what the store holds on disk right now. */
        char wal[4096];
        struct stat sb;
        st.store_path = (char *)s->store_path;
        st.has_store_bytes = 1;
        if (stat(s->store_path, &sb) == 0)
            st.store_bytes += (uint64_t)sb.st_size;
        snprintf(wal, sizeof wal, "%s-wal", s->store_path);
        if (stat(wal, &sb) == 0)
            st.store_bytes += (uint64_t)sb.st_size;
    }
    int64_t lag = s->busy_since_ms ? now - s->busy_since_ms : 0;
    if (s->retry_since_ms && now - s->retry_since_ms > lag)
        lag = now - s->retry_since_ms;
    st.has_lag_ms = st.has_last_commit_ns = st.has_client_hwm = st.has_hwm_reached = 1;
    st.lag_ms = (uint64_t)lag;
    st.last_commit_ns = s->last_commit_ns;
    st.client_hwm = (uint32_t)s->hwm;
    st.hwm_reached = c->hwm_reached;
    st.has_inflight_bytes = st.has_curve = 1;
    st.inflight_bytes = s->inflight;
    st.curve = s->zap != NULL;
    const char *who = s->zap ? zmq_msg_gets(&m->frames[m->n - 1], "User-Id") : NULL;
    st.identity = (char *)(who ? who : "");
    ack.has_schema_version = ack.has_batch_seq = ack.has_status = 1;
    ack.schema_version = TUNETRAIL__SCHEMA_VERSION__SCHEMA_VERSION;
    ack.batch_seq = seq;
    ack.status = TUNETRAIL__ACK__STATUS__ACK_OK;
    ack.collector_status = &st;
    size_t need = tunetrail__ack__get_packed_size(&ack);
    uint8_t *buf = malloc(need ? need : 1);
    if (!buf)
        return; /* the asker times out and says so */
    size_t len = tunetrail__ack__pack(&ack, buf);
    for (int i = 0; i < m->n - 1; i++)
        zmq_send(s->router, zmq_msg_data(&m->frames[i]), zmq_msg_size(&m->frames[i]), ZMQ_SNDMORE);
    zmq_send(s->router, buf, len, 0);
    free(buf);
}

/* Receives one whole message without waiting. Returns 0 (m->n frames kept,
 * more than MAX_FRAMES noted as n = -MAX_FRAMES; m->fd, m->bytes set), or
 * -1 if nothing was there (EAGAIN) or ZeroMQ failed (errno set). */
static int recv_msg(struct serve *s, struct msg *m)
{
    int more = 1, extra = 0, nf = 0;
    m->n = 0;
    m->fd = -1;
    m->bytes = 0;
    while (more) {
        zmq_msg_t f;
        zmq_msg_init(&f);
        if (zmq_msg_recv(&f, s->router, m->n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            int e = errno;
            zmq_msg_close(&f);
            for (int i = 0; i < m->n; i++)
                zmq_msg_close(&m->frames[i]);
            m->n = 0;
            errno = e;
            return -1;
        }
        more = zmq_msg_more(&f);
        if (nf++ > 0) { /* the identity is ROUTER's, not the peer's */
            size_t sz = zmq_msg_size(&f);
            m->bytes += sz + (sz < 256 ? 2 : 9); /* ZMTP frame header */
            if (m->fd < 0)
                m->fd = zmq_msg_get(&f, ZMQ_SRCFD);
        }
        if (m->n < MAX_FRAMES)
            m->frames[m->n++] = f;
        else {
            extra = 1;
            zmq_msg_close(&f);
        }
    }
    if (extra)
        m->n = -m->n; /* keep the frames to close, mark the message malformed */
    return 0;
}

static void close_msg(struct msg *m)
{
    int n = m->n < 0 ? -m->n : m->n;
    for (int i = 0; i < n; i++)
        zmq_msg_close(&m->frames[i]);
}

static struct peer *peer_find(struct serve *s, int fd)
{
    for (size_t i = 0; i < s->npeers; i++)
        if (s->peers[i].fd == fd)
            return &s->peers[i];
    return NULL;
}

static void peers_publish(struct serve *s)
{
    uint64_t live = 0;
    for (size_t i = 0; i < s->npeers; i++)
        live += !s->peers[i].dropped;
    s->stats.connections = live;
    if (live > s->stats.peak_connections)
        s->stats.peak_connections = live;
    publish(s);
}

static void peer_accepted(struct serve *s, int fd)
{
    struct peer *p = peer_find(s, fd); /* a DISCONNECTED we missed: the fd is new */
    if (!p) {
        if (s->npeers == s->cappeers) {
            size_t nc = s->cappeers ? 2 * s->cappeers : 64;
            struct peer *np = realloc(s->peers, nc * sizeof *np);
            if (!np)
                return; /* untracked: only its limits are lost */
            s->peers = np;
            s->cappeers = nc;
        }
        p = &s->peers[s->npeers++];
    }
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    *p = (struct peer){.fd = fd, .last_ms = mono_ms()};
    p->tcp = getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0;
    peers_publish(s);
}

static void peer_gone(struct serve *s, int fd)
{
    struct peer *p = peer_find(s, fd);
    if (p) {
        *p = s->peers[--s->npeers];
        peers_publish(s);
    }
}

/* "ip:port" of a tcp:// connection; addr unchanged for others. */
static void peer_addr(int fd, char *addr, size_t addrlen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
        char ip[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (ss.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
        snprintf(addr, addrlen, "%s:%d", ip, port);
    }
}

/* Shuts the connection down under libzmq (which then closes it and frees
 * what it was assembling). The fd is libzmq's: should it have closed it
 * and reused the number for a new connection in the microseconds since
 * its monitor events were read, that one is dropped and reconnects.
 * reason: the limit's word (max_peer_bytes, max_buffered, max_connections:
 * event=limit) or revoked (event=revoked); why: the details. */
static void peer_drop(struct serve *s, struct peer *p, const char *reason, const char *why,
                      uint64_t *counter)
{
    char addr[INET6_ADDRSTRLEN + 8] = "?";
    peer_addr(p->fd, addr, sizeof addr);
    shutdown(p->fd, SHUT_RDWR);
    p->dropped = 1;
    (*counter)++;
    if (!s->quiet) {
        struct logline l;
        log_begin(&l, "warn", strcmp(reason, "revoked") ? "limit" : "revoked");
        log_kv(&l, "reason", "%s", reason);
        log_kv(&l, "action", "dropped");
        log_kv(&l, "peer", "%s", addr);
        log_kv(&l, "inflight", "%llu", (unsigned long long)p->inflight);
        log_kv(&l, "error", "%s", why);
        log_kv(&l, "count", "%llu", (unsigned long long)*counter);
        log_end(&l);
    }
    peers_publish(s);
}

/* A connection sent --client-hwm messages within one busy stretch (the
 * queue never empty in between): it was at or near its mark, where libzmq
 * stops reading it until we drain it. Counted; said at 1, 2, 4, 8... */
static void peer_at_hwm(struct serve *s, struct peer *p, zmq_msg_t *id, zmq_msg_t *payload)
{
    (void)p;
    uint64_t c = ++s->stats.hwm_reached;
    publish(s);
    if (s->quiet || (c & (c - 1)))
        return;
    struct logline l;
    log_begin(&l, "info", "limit");
    log_kv(&l, "reason", "client_hwm");
    log_kv(&l, "action", "paused");
    if (payload)
        log_sender(&l, id, payload);
    log_kv(&l, "client_hwm", "%d", s->hwm);
    log_kv(&l, "count", "%llu", (unsigned long long)c);
    log_kv(&l, "msg", "not read until the daemon drains it; said at 1, 2, 4, 8... times");
    log_end(&l);
}

/* The receive queue is empty: the daemon has caught up. */
static void queue_empty(struct serve *s)
{
    s->busy_since_ms = 0;
    for (size_t i = 0; i < s->npeers; i++)
        s->peers[i].run = 0;
}

/* Applies the connection and in-flight limits (at most every FAST_POLL_MS). */
static void peers_check(struct serve *s)
{
    int64_t now = mono_ms();
    if (now - s->checked_ms < FAST_POLL_MS)
        return;
    s->checked_ms = now;
    uint64_t total = 0, live = 0;
    int fast = 0;
    for (size_t i = 0; i < s->npeers; i++) {
        struct peer *p = &s->peers[i];
        if (p->dropped)
            continue;
        live++;
        p->inflight = 0;
        struct tcp_info ti;
        socklen_t len = sizeof ti;
        if (!p->tcp || getsockopt(p->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
            len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received)
            continue;
        if (ti.tcpi_bytes_received > p->delivered)
            p->inflight = ti.tcpi_bytes_received - p->delivered;
        if (s->lim.max_peer_bytes > 0 && p->inflight > (uint64_t)s->lim.max_peer_bytes) {
            char why[128];
            snprintf(why, sizeof why, "%llu bytes in flight, over --max-peer-bytes %lld",
                     (unsigned long long)p->inflight, (long long)s->lim.max_peer_bytes);
            peer_drop(s, p, "max_peer_bytes", why, &s->stats.dropped_peer_bytes);
            live--;
            continue;
        }
        total += p->inflight;
        fast |= p->inflight >= FAST_BYTES;
    }
    while (s->lim.max_buffered > 0 && total > (uint64_t)s->lim.max_buffered) {
        struct peer *big = NULL;
        for (size_t i = 0; i < s->npeers; i++)
            if (!s->peers[i].dropped && (!big || s->peers[i].inflight > big->inflight))
                big = &s->peers[i];
        if (!big || !big->inflight)
            break;
        char why[224];
        snprintf(why, sizeof why, "%llu bytes in flight, the most while all peers had %llu, over"
                 " --max-buffered %lld", (unsigned long long)big->inflight,
                 (unsigned long long)total, (long long)s->lim.max_buffered);
        total -= big->inflight;
        peer_drop(s, big, "max_buffered", why, &s->stats.dropped_buffered);
        live--;
    }
    while (s->lim.max_connections > 0 && live > (uint64_t)s->lim.max_connections) {
        struct peer *old = NULL;
        for (size_t i = 0; i < s->npeers; i++)
            if (!s->peers[i].dropped && (!old || s->peers[i].last_ms < old->last_ms))
                old = &s->peers[i];
        if (!old)
            break;
        char why[128];
        snprintf(why, sizeof why, "the least recently active of %llu connections, over"
                 " --max-connections %d (idle %lld ms)", (unsigned long long)live,
                 s->lim.max_connections, (long long)(now - old->last_ms));
        peer_drop(s, old, "max_connections", why, &s->stats.dropped_idle);
        live--;
    }
    s->fast = fast;
    s->inflight = total;
}

/* 1 if payload is a status request (a small Batch with status_request set;
 * Batch.status_request), with its batch_seq in *seq. Batches of events are
 * not decoded twice: a request has no events, so it is small. */
static int status_request(zmq_msg_t *payload, uint64_t *seq)
{
    size_t len = zmq_msg_size(payload);
    if (len > 64)
        return 0;
    Tunetrail__Batch *b = tunetrail__batch__unpack(NULL, len, zmq_msg_data(payload));
    int yes = b && b->has_status_request && b->status_request;
    if (yes)
        *seq = b->batch_seq;
    if (b)
        tunetrail__batch__free_unpacked(b, NULL);
    return yes;
}

/* Receives the messages already queued (up to GROUP_MAX), stores their
 * batches in one transaction (group commit: one write of each hot page
 * instead of one per batch) and acks each after the commit. Under light load
 * a group is one batch, so nothing waits for company. Status requests are
 * answered after the group's commit, so their figures include it. Returns
 * the number of messages handled; 0 with errno set if none was there or
 * ZeroMQ failed. */
static int handle_group(struct serve *s)
{
    struct msg *msgs = s->msgs;
    struct ingest_input in[GROUP_MAX];
    struct ingest_result res[GROUP_MAX];
    int idx[GROUP_MAX]; /* in[k] comes from msgs[idx[k]] */
    int sidx[GROUP_MAX];  /* status requests: msgs[sidx[i]], batch_seq sseq[i] */
    uint64_t sseq[GROUP_MAX];
    int n = 0, k = 0, ns = 0, e = 0;
    while (n < GROUP_MAX) {
        if (recv_msg(s, &msgs[n]) < 0) {
            e = errno;
            if (e == EAGAIN)
                queue_empty(s);
            break;
        }
        struct msg *m = &msgs[n++];
        struct peer *p = m->fd >= 0 ? peer_find(s, m->fd) : NULL;
        if (p) {
            p->delivered += m->bytes;
            p->last_ms = mono_ms();
            if (++p->run == (uint64_t)s->hwm)
                peer_at_hwm(s, p, &m->frames[0], m->n >= 2 ? &m->frames[m->n - 1] : NULL);
        }
        if (m->n < 0)
            s->stats.too_many_frames++;
        if (m->n >= 2 && m->bytes > (uint64_t)s->lim.max_message) {
            char why[96];
            snprintf(why, sizeof why, "message of %llu bytes (over --max-message %lld)",
                     (unsigned long long)m->bytes, (long long)s->lim.max_message);
            s->stats.oversized++;
            log_reject(s, "oversized", why, &m->frames[0], &m->frames[m->n - 1], NULL);
            continue;
        }
        if (m->n < 2 || (m->n == 3 && zmq_msg_size(&m->frames[1]) != 0)) {
            char why[64];
            int nf = m->n < 0 ? -m->n : m->n;
            snprintf(why, sizeof why, "message of %s%d frames (want [identity][batch])",
                     m->n < 0 ? "more than " : "", nf);
            log_reject(s, "frames", why, &m->frames[0], nf > 1 ? &m->frames[nf - 1] : NULL, NULL);
            continue; /* no reply: we cannot tell which frame the peer would match */
        }
        zmq_msg_t *payload = &m->frames[m->n - 1];
        in[k].buf = zmq_msg_data(payload);
        in[k].len = zmq_msg_size(payload);
        in[k].received_ns = 0;
        in[k].replay = 0;
        /* The ZAP handler's user id: the identity the clients file gives
         * the key this connection authenticated with. */
        in[k].identity = s->zap ? zmq_msg_gets(payload, "User-Id") : NULL;
        if (s->zap && (!in[k].identity || !*in[k].identity)) {
            log_reject(s, "no_identity", "message without an authenticated identity", &m->frames[0],
                       payload, NULL);
            continue;
        }
        if (s->zap) {
            /* Its key as of its handshake (the ZAP reply's metadata) against
             * the clients file as of now: a key revoked by a reload since
             * then gets nothing stored and loses its connection, so its
             * reconnect meets the new list. */
            const char *key = zmq_msg_gets(payload, "X-Curve-Key");
            const char *now = key ? curve_clients_find(s->clients, key) : NULL;
            if (!now || strcmp(now, in[k].identity)) {
                char why[160];
                snprintf(why, sizeof why, "batch of %s: its CURVE key %s the clients file since"
                         " its handshake", in[k].identity,
                         now ? "names another identity in" : "is no longer in");
                log_reject(s, "revoked", why, &m->frames[0], payload, NULL);
                if (p && !p->dropped)
                    peer_drop(s, p, "revoked", "its CURVE key was revoked (clients file reloaded)",
                              &s->stats.revoked);
                continue;
            }
        }
        if (status_request(payload, &sseq[ns])) {
            sidx[ns++] = n - 1;
            continue;
        }
        idx[k++] = n - 1;
    }
    if (k)
        ingest_batches(s->st, in, (size_t)k, res);
    for (int j = 0; j < k; j++) {
        struct msg *m = &msgs[idx[j]];
        struct ingest_result *r = &res[j];
        zmq_msg_t *id = &m->frames[0], *payload = &m->frames[m->n - 1];
        struct logline l;
        switch (r->status) {
        case INGEST_OK:
            s->stats.batches++;
            s->stats.events += r->stored;
            s->stats.duplicates += r->duplicates;
            s->stats.flagged += r->flagged;
            s->stats.refused += r->refused;
            s->stats.conflicts += r->conflicts;
            s->last_commit_ns = real_ns();
            s->retry_since_ms = 0;
            publish(s);
            if ((r->refused || r->conflicts || r->flagged) && !s->quiet) {
                /* refused: another origin's process, trial or session;
                 * conflicts: origin and seq stored with other bytes (table
                 * `refusals`); flagged: a clock ahead or far behind ours, or
                 * a name not UTF-8 (table `received`). */
                log_begin(&l, "warn", "batch");
                log_sender(&l, id, payload);
                log_kv(&l, "batch_seq", "%llu", (unsigned long long)r->batch_seq);
                log_kv(&l, "stored", "%u", r->stored);
                log_kv(&l, "duplicates", "%u", r->duplicates);
                log_kv(&l, "refused", "%u", r->refused);
                log_kv(&l, "conflicts", "%u", r->conflicts);
                log_kv(&l, "flagged", "%u", r->flagged);
                if (r->refused || r->conflicts)
                    log_kv(&l, "first", "%s", r->refusal);
                log_end(&l);
            }
            if (s->last_store_error != STORE_ERR_NONE && !s->quiet) {
                log_begin(&l, "info", "store_ok");
                log_kv(&l, "msg", "the store commits again");
                log_end(&l);
            }
            s->last_store_error = STORE_ERR_NONE;
            break;
        case INGEST_REJECTED:
            log_reject(s, "malformed", r->error, id, payload, NULL);
            break;
        case INGEST_RETRY:
            if (r->store_error == STORE_ERR_FORBIDDEN) {
                s->stats.forbidden++;
                publish(s);
                if (!s->quiet && say_once(s, r->error)) {
                    log_begin(&l, "warn", "forbidden");
                    log_sender(&l, id, payload);
                    log_kv(&l, "batch_seq", "%llu", (unsigned long long)r->batch_seq);
                    log_kv(&l, "error", "%s", r->error);
                    log_kv(&l, "forbidden", "%llu", (unsigned long long)s->stats.forbidden);
                    log_kv(&l, "msg", "nothing of it stored; said once per reason");
                    log_end(&l);
                }
                break;
            }
            s->stats.retries++;
            if (!s->retry_since_ms)
                s->retry_since_ms = mono_ms();
            if (r->store_error != STORE_ERR_BUSY && r->store_error != STORE_ERR_NONE) {
                s->stats.store_errors++;
                if (r->store_error != s->last_store_error) {
                    log_begin(&l, "error", "store_error");
                    log_kv(&l, "error", "%s", r->error);
                    log_kv(&l, "msg", "agents are told so and keep their records until it"
                                      " commits again");
                    log_end(&l);
                }
                s->last_store_error = r->store_error;
            }
            publish(s);
            if (!s->quiet) {
                log_begin(&l, "warn", "retry");
                log_sender(&l, id, payload);
                log_kv(&l, "batch_seq", "%llu", (unsigned long long)r->batch_seq);
                log_kv(&l, "error", "%s", r->error);
                log_end(&l);
            }
            break;
        }
        send_ack(s, m->frames, m->n, r, j);
    }
    for (int i = 0; i < ns; i++)
        send_status(s, &msgs[sidx[i]], sseq[i]);
    for (int i = 0; i < n; i++)
        close_msg(&msgs[i]);
    errno = e;
    return n;
}

/* The socket monitor: connections come and go (ACCEPTED / DISCONNECTED,
 * with their fd), and a failed ZMTP handshake (garbage on the port, wrong
 * protocol) is a rejected message too, which libzmq reports only here.
 * Returns 1 if an event was read, 0 if none was queued. */
static int handle_monitor(struct serve *s)
{
    zmq_msg_t ev, addr;
    int got = 0;
    zmq_msg_init(&ev);
    zmq_msg_init(&addr);
    if (zmq_msg_recv(&ev, s->mon, ZMQ_DONTWAIT) < 0)
        goto out;
    got = 1;
    if (!zmq_msg_more(&ev) || zmq_msg_recv(&addr, s->mon, 0) < 0 || zmq_msg_size(&ev) < 6)
        goto out;
    uint16_t event;
    uint32_t value;
    memcpy(&event, zmq_msg_data(&ev), 2);
    memcpy(&value, (char *)zmq_msg_data(&ev) + 2, 4);
    if (event == ZMQ_EVENT_ACCEPTED) {
        peer_accepted(s, (int)value);
        goto out;
    }
    if (event == ZMQ_EVENT_DISCONNECTED || event == ZMQ_EVENT_CLOSED) {
        peer_gone(s, (int)value);
        goto out;
    }
    char where[160];
    snprintf(where, sizeof where, "%.*s", (int)zmq_msg_size(&addr), (char *)zmq_msg_data(&addr));
    if (s->zap && event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        s->stats.rejected++; /* the ZAP handler said who and why */
        publish(s);
        goto out;
    }
    if (s->zap) {
        /* A plain (NULL mechanism) client fails on the mechanism, or drops
         * the connection first when it saw ours: either way it had no key. */
        s->stats.auth_no_key++;
        if (s->stats.auth_no_key & (s->stats.auth_no_key - 1)) { /* said at 1, 2, 4, 8... */
            s->stats.rejected++;
            publish(s);
            goto out;
        }
        s->stats.rejected++;
        publish(s);
        if (!s->quiet) {
            struct logline l;
            log_begin(&l, "warn", "auth_refused");
            log_kv(&l, "reason", "auth_no_key");
            log_kv(&l, "peer", "%s", where);
            log_kv(&l, "error", "handshake without a CURVE key (%s %u)",
                   value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH ? "mechanism mismatch"
                   : event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL      ? "protocol error"
                                                                       : "dropped, errno",
                   value);
            log_kv(&l, "auth_no_key", "%llu", (unsigned long long)s->stats.auth_no_key);
            log_kv(&l, "msg", "the client needs `tunetrail keygen --curve` and the collector's"
                              " curve.pub as --collector-key; said at 1, 2, 4, 8... times");
            log_end(&l);
        }
        goto out;
    }
    char why[96];
    snprintf(why, sizeof why, "failed handshake (%s, code %u)",
             event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "protocol error"
             : event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH   ? "authentication"
                                                          : "connection dropped",
             value);
    log_reject(s, "handshake", why, NULL, NULL, where);
out:
    zmq_msg_close(&ev);
    zmq_msg_close(&addr);
    return got;
}

/* One ZAP request (RFC 27): [version][request id][domain][address]
 * [routing id][mechanism][credentials...]. A CURVE client is let in only if
 * its public key is in the clients file; the reply's user id (its identity)
 * is then on every message of its connection ("User-Id"). Returns 1 if a
 * request was read, 0 if none was queued. */
static int handle_zap(struct serve *s)
{
    zmq_msg_t f[8];
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s->zap, n ? 0 : ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        if (n < 8)
            f[n++] = m;
        else
            zmq_msg_close(&m);
    }
    if (!n)
        return 0;
    const char *status = "400", *text = "unknown key", *user = "";
    char key[CURVE_Z85_LEN + 1] = "", where[80] = "?";
    if (n >= 7 && zmq_msg_size(&f[5]) == 5 && !memcmp(zmq_msg_data(&f[5]), "CURVE", 5) &&
        zmq_msg_size(&f[6]) == 32) {
        zmq_z85_encode(key, zmq_msg_data(&f[6]), 32);
        const char *id = curve_clients_find(s->clients, key);
        if (id)
            status = "200", text = "OK", user = id;
    } else {
        text = "not CURVE";
    }
    if (n >= 4)
        snprintf(where, sizeof where, "%.*s", (int)zmq_msg_size(&f[3]), (char *)zmq_msg_data(&f[3]));
    if (*status != '2') {
        /* rejected is counted from the monitor's HANDSHAKE_FAILED_AUTH */
        s->stats.auth_unknown_key++;
        publish(s);
        char said[64];
        snprintf(said, sizeof said, "key %s", key);
        if (!s->quiet && say_once(s, said)) {
            struct logline l;
            log_begin(&l, "warn", "auth_refused");
            log_kv(&l, "reason", "auth_unknown_key");
            log_kv(&l, "peer", "%s", where);
            log_kv(&l, "key", "%s", key[0] ? key : "(none)");
            log_kv(&l, "error", "%s", text);
            log_kv(&l, "auth_unknown_key", "%llu", (unsigned long long)s->stats.auth_unknown_key);
            log_kv(&l, "msg", "this CURVE key is not in the clients file; said once per key");
            log_end(&l);
        }
    }
    /* The reply echoes version and request id. */
    zmq_send(s->zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(s->zap, n > 1 ? zmq_msg_data(&f[1]) : "", n > 1 ? zmq_msg_size(&f[1]) : 0, ZMQ_SNDMORE);
    zmq_send(s->zap, status, 3, ZMQ_SNDMORE);
    zmq_send(s->zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(s->zap, user, strlen(user), ZMQ_SNDMORE);
    /* Metadata (ZMTP properties): the key, on every message of the
     * connection, so a reload can tell which connections it revoked. */
    unsigned char meta[1 + 11 + 4 + CURVE_Z85_LEN];
    size_t metalen = 0;
    if (*status == '2') {
        meta[0] = 11;
        memcpy(meta + 1, "X-Curve-Key", 11);
        meta[12] = meta[13] = meta[14] = 0;
        meta[15] = CURVE_Z85_LEN;
        memcpy(meta + 16, key, CURVE_Z85_LEN);
        metalen = sizeof meta;
    }
    zmq_send(s->zap, meta, metalen, 0);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
    return 1;
}

/* An ipc:// endpoint's socket file: created under umask 077 (bind runs in
 * this thread) and chmod 0600 after, so no other user can connect or see
 * it whatever the caller's umask. Abstract (@name) and wildcard endpoints
 * have no file. */
static int bind_endpoint(void *router, const char *endpoint)
{
    int ipc = !strncmp(endpoint, "ipc://", 6);
    const char *path = endpoint + 6;
    mode_t old = 0;
    if (ipc)
        old = umask(077);
    int rc = zmq_bind(router, endpoint);
    if (ipc) {
        umask(old);
        if (rc == 0 && path[0] != '@' && strcmp(path, "*") && chmod(path, 0600) < 0)
            return -1;
    }
    return rc;
}

int collector_serve(void *zctx, const char *endpoint, tt_store *st, volatile sig_atomic_t *stop,
                    struct collector_stats *out, const struct collector_opts *opts, char *err,
                    size_t errlen)
{
    struct serve s = {.st = st, .out = out, .quiet = opts && opts->quiet, .signer = opts ? opts->signer : NULL};
    char mon_ep[64];
    int rc = -1;
    if (opts)
        s.lim = opts->limits;
    if (!s.lim.max_message)
        s.lim.max_message = COLLECTOR_MAXMSGSIZE;
    if (!s.lim.max_peer_bytes)
        s.lim.max_peer_bytes = COLLECTOR_MAX_PEER_BYTES;
    if (!s.lim.max_buffered)
        s.lim.max_buffered = COLLECTOR_MAX_BUFFERED;
    if (!s.lim.max_connections)
        s.lim.max_connections = COLLECTOR_MAX_CONNECTIONS;
    s.hwm = opts && opts->client_hwm > 0 ? opts->client_hwm : COLLECTOR_CLIENT_HWM;
    s.start_ms = mono_ms();
    s.started_ns = real_ns();
    if (opts) {
        s.store_path = opts->store_path;
        s.store_kind = opts->store_kind;
    }
    publish(&s);
    if (!(s.router = zmq_socket(zctx, ZMQ_ROUTER))) {
        tt_fail(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
        return -1;
    }
    int64_t maxmsg = s.lim.max_message;
    int linger = 1000; /* let the last acks leave on shutdown, but never hang */
    int hwm = s.hwm, unlimited = 0;
    zmq_setsockopt(s.router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    zmq_setsockopt(s.router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s.router, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (opts && opts->curve_secret) {
        /* The ZAP handler is bound before the ROUTER listens: without one,
         * libzmq would let every CURVE client in. */
        int one = 1, zero = 0;
        s.clients = opts->clients;
        if (!(s.zap = zmq_socket(zctx, ZMQ_REP)) ||
            zmq_setsockopt(s.zap, ZMQ_LINGER, &zero, sizeof zero) < 0 ||
            zmq_bind(s.zap, "inproc://zeromq.zap.01") < 0 ||
            zmq_setsockopt(s.router, ZMQ_CURVE_SERVER, &one, sizeof one) < 0 ||
            zmq_setsockopt(s.router, ZMQ_CURVE_SECRETKEY, opts->curve_secret, CURVE_Z85_LEN + 1) < 0 ||
            zmq_setsockopt(s.router, ZMQ_ZAP_DOMAIN, "tunetrail", 9) < 0) {
            tt_fail(err, errlen, "CURVE: %s", zmq_strerror(errno));
            goto done;
        }
    }
    snprintf(mon_ep, sizeof mon_ep, "inproc://tt-collector-mon-%p", (void *)&s);
    /* The monitor's queue unbounded (events are small, one per connection
     * change): a full one would block libzmq's I/O thread. */
    if (zmq_socket_monitor(s.router, mon_ep,
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_ACCEPTED |
                               ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED) < 0 ||
        !(s.mon = zmq_socket(zctx, ZMQ_PAIR)) ||
        zmq_setsockopt(s.mon, ZMQ_RCVHWM, &unlimited, sizeof unlimited) < 0 ||
        zmq_connect(s.mon, mon_ep) < 0) {
        tt_fail(err, errlen, "zmq monitor: %s", zmq_strerror(errno));
        goto done;
    }
    if (bind_endpoint(s.router, endpoint) < 0) {
        tt_fail(err, errlen, "cannot bind %s: %s", endpoint, zmq_strerror(errno));
        goto done;
    }
    /* A long-lived writer: checkpoint on another core, not between batches. */
    if (store_background_checkpoints(st, err, errlen) < 0)
        goto done;
    if (opts && opts->ready_file) {
        int fd = open(opts->ready_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
    }
    while (!*stop) {
        if (opts && opts->reload && *opts->reload) {
            *opts->reload = 0;
            if (opts->on_reload)
                opts->on_reload(opts->reload_arg);
            s.stats.reloads++;
            s.nsaid = 0; /* refusals are worth saying again under the new lists */
            memset(s.said, 0, sizeof s.said);
            publish(&s);
        }
        zmq_pollitem_t items[3] = {{s.router, 0, ZMQ_POLLIN, 0}, {s.mon, 0, ZMQ_POLLIN, 0},
                                   {s.zap, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, s.zap ? 3 : 2, s.fast ? FAST_POLL_MS : POLL_MS) < 0) {
            if (errno == EINTR)
                continue;
            tt_fail(err, errlen, "zmq_poll: %s", zmq_strerror(errno));
            goto done;
        }
        if (s.zap && (items[2].revents & ZMQ_POLLIN))
            while (handle_zap(&s))
                ;
        if (items[1].revents & ZMQ_POLLIN)
            while (handle_monitor(&s))
                ;
        if (items[0].revents & ZMQ_POLLIN) {
            if (!s.busy_since_ms)
                s.busy_since_ms = mono_ms();
            for (int i = 0; i < DRAIN_MAX && !*stop;) {
                int got = handle_group(&s);
                i += got;
                if (got < GROUP_MAX) {
                    if (!errno || errno == EAGAIN || errno == EINTR)
                        break;
                    tt_fail(err, errlen, "zmq_msg_recv: %s", zmq_strerror(errno));
                    goto done;
                }
            }
        }
        if (s.npeers)
            peers_check(&s);
    }
    /* Drain: what libzmq already queued is stored and acked, so an agent
     * whose batch arrived before the stop gets its ack; anything arriving
     * later is neither stored nor acked, and resent on its next connection.
     * Bounded by what the queues can hold (RCVHWM per connection). */
    for (uint64_t i = 0, cap = (uint64_t)(s.npeers + 1) * (uint64_t)s.hwm;;) {
        if (s.zap)
            while (handle_zap(&s))
                ;
        int got = handle_group(&s);
        i += got;
        s.stats.drained += got;
        if (got < GROUP_MAX || i >= cap)
            break;
    }
    publish(&s);
    rc = 0;
done:
    if (s.mon) {
        zmq_socket_monitor(s.router, NULL, 0);
        int zero = 0;
        zmq_setsockopt(s.mon, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(s.mon);
    }
    zmq_close(s.router);
    if (s.zap)
        zmq_close(s.zap);
    free(s.peers);
    publish(&s);
    return rc;
}
