/* collector.c - see collector.h. One thread, one ROUTER: SQLite takes one
 * writer at a time anyway, and batching (not threads) is what buys throughput.
 * A bad message never stops the loop: it is logged, counted and answered with
 * ACK_REJECTED when it has a sender we can answer. */
#include "collector.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "tunetrail.pb-c.h"
#include "util.h"

#define POLL_MS 100
#define DRAIN_MAX 256 /* messages per wake-up before we look at stop and the monitor */
#define GROUP_MAX 32  /* batches per transaction at most (group commit) */
#define MAX_FRAMES 3  /* identity [delimiter] batch */

/* One received message: its frames, valid or not. */
struct msg {
    zmq_msg_t frames[MAX_FRAMES];
    int n;
};

struct serve {
    void *router, *mon;
    tt_store *st;
    struct collector_stats stats;
    struct collector_stats *out;
    int quiet;
    struct msg msgs[GROUP_MAX]; /* one group's messages */
};

static void publish(struct serve *s)
{
    if (s->out)
        *s->out = s->stats;
}

static void log_reject(struct serve *s, const char *reason, const char *sender)
{
    s->stats.rejected++;
    publish(s);
    if (!s->quiet)
        fprintf(stderr, "tunetraild: rejected %s from %s (rejected=%llu)\n", reason, sender,
                (unsigned long long)s->stats.rejected);
}

/* "<peer address> id <hex of the routing id>" for log lines. */
static void describe_sender(zmq_msg_t *id, zmq_msg_t *payload, char *out, size_t outlen)
{
    const char *peer = payload ? zmq_msg_gets(payload, "Peer-Address") : NULL;
    char hex[2 * 8 + 1];
    size_t n = zmq_msg_size(id) < 8 ? zmq_msg_size(id) : 8;
    wire_hex(hex, zmq_msg_data(id), n);
    snprintf(out, outlen, "%s id %s", peer ? peer : "peer", hex);
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
    if (r->error[0])
        ack.error = (char *)r->error;
    uint8_t small[1024], *buf = small; /* error is < 256 bytes; studies may be long */
    size_t need = tunetrail__ack__get_packed_size(&ack);
    if (need > sizeof small && !(buf = malloc(need))) {
        ack.n_checkpoints = 0; /* the receipts are a bonus; the ack must go */
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

/* Receives one whole message without waiting. Returns 0 (m->n frames kept,
 * more than MAX_FRAMES noted as n = MAX_FRAMES + 1), or -1 if nothing was
 * there (EAGAIN) or ZeroMQ failed (errno set). */
static int recv_msg(struct serve *s, struct msg *m)
{
    int more = 1, extra = 0;
    m->n = 0;
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

/* Receives the messages already queued (up to GROUP_MAX), stores their
 * batches in one transaction (group commit: one write of each hot page
 * instead of one per batch) and acks each after the commit. Under light load
 * a group is one batch, so nothing waits for company. Returns the number of
 * messages handled; 0 with errno set if none was there or ZeroMQ failed. */
static int handle_group(struct serve *s)
{
    struct msg *msgs = s->msgs;
    struct ingest_input in[GROUP_MAX];
    struct ingest_result res[GROUP_MAX];
    int idx[GROUP_MAX]; /* in[k] comes from msgs[idx[k]] */
    int n = 0, k = 0, e = 0;
    while (n < GROUP_MAX) {
        if (recv_msg(s, &msgs[n]) < 0) {
            e = errno;
            break;
        }
        struct msg *m = &msgs[n++];
        if (m->n < 2 || (m->n == 3 && zmq_msg_size(&m->frames[1]) != 0)) {
            char sender[128], why[64];
            int nf = m->n < 0 ? -m->n : m->n;
            describe_sender(&m->frames[0], nf > 1 ? &m->frames[nf - 1] : NULL, sender,
                            sizeof sender);
            snprintf(why, sizeof why, "message of %s%d frames (want [identity][batch])",
                     m->n < 0 ? "more than " : "", nf);
            log_reject(s, why, sender);
            continue; /* no reply: we cannot tell which frame the peer would match */
        }
        zmq_msg_t *payload = &m->frames[m->n - 1];
        in[k].buf = zmq_msg_data(payload);
        in[k].len = zmq_msg_size(payload);
        idx[k++] = n - 1;
    }
    if (k)
        ingest_batches(s->st, in, (size_t)k, res);
    for (int j = 0; j < k; j++) {
        struct msg *m = &msgs[idx[j]];
        struct ingest_result *r = &res[j];
        char sender[128];
        switch (r->status) {
        case INGEST_OK:
            s->stats.batches++;
            s->stats.events += r->stored;
            s->stats.duplicates += r->duplicates;
            publish(s);
            break;
        case INGEST_REJECTED:
            describe_sender(&m->frames[0], &m->frames[m->n - 1], sender, sizeof sender);
            log_reject(s, r->error, sender);
            break;
        case INGEST_RETRY:
            s->stats.retries++;
            publish(s);
            if (!s->quiet) {
                describe_sender(&m->frames[0], &m->frames[m->n - 1], sender, sizeof sender);
                fprintf(stderr, "tunetraild: retry batch %llu from %s: %s\n",
                        (unsigned long long)r->batch_seq, sender, r->error);
            }
            break;
        }
        send_ack(s, m->frames, m->n, r, j);
    }
    for (int i = 0; i < n; i++)
        close_msg(&msgs[i]);
    errno = e;
    return n;
}

/* A failed ZMTP handshake (garbage on the port, wrong protocol) is a rejected
 * message too; libzmq reports it only through the socket monitor. */
static void handle_monitor(struct serve *s)
{
    zmq_msg_t ev, addr;
    zmq_msg_init(&ev);
    zmq_msg_init(&addr);
    if (zmq_msg_recv(&ev, s->mon, ZMQ_DONTWAIT) < 0)
        goto out;
    if (!zmq_msg_more(&ev) || zmq_msg_recv(&addr, s->mon, 0) < 0 || zmq_msg_size(&ev) < 6)
        goto out;
    uint16_t event;
    uint32_t value;
    memcpy(&event, zmq_msg_data(&ev), 2);
    memcpy(&value, (char *)zmq_msg_data(&ev) + 2, 4);
    char where[160];
    snprintf(where, sizeof where, "%.*s", (int)zmq_msg_size(&addr), (char *)zmq_msg_data(&addr));
    char why[96];
    snprintf(why, sizeof why, "failed handshake (%s, code %u)",
             event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "protocol error"
             : event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH   ? "authentication"
                                                          : "connection dropped",
             value);
    log_reject(s, why, where);
out:
    zmq_msg_close(&ev);
    zmq_msg_close(&addr);
}

int collector_serve(void *zctx, const char *endpoint, tt_store *st, volatile sig_atomic_t *stop,
                    struct collector_stats *out, const struct collector_opts *opts, char *err,
                    size_t errlen)
{
    struct serve s = {.st = st, .out = out, .quiet = opts && opts->quiet};
    char mon_ep[64];
    int rc = -1;
    publish(&s);
    if (!(s.router = zmq_socket(zctx, ZMQ_ROUTER))) {
        tt_fail(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
        return -1;
    }
    int64_t maxmsg = COLLECTOR_MAXMSGSIZE;
    int linger = 1000; /* let the last acks leave on shutdown, but never hang */
    zmq_setsockopt(s.router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    zmq_setsockopt(s.router, ZMQ_LINGER, &linger, sizeof linger);
    snprintf(mon_ep, sizeof mon_ep, "inproc://tt-collector-mon-%p", (void *)&s);
    if (zmq_socket_monitor(s.router, mon_ep,
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) < 0 ||
        !(s.mon = zmq_socket(zctx, ZMQ_PAIR)) || zmq_connect(s.mon, mon_ep) < 0) {
        tt_fail(err, errlen, "zmq monitor: %s", zmq_strerror(errno));
        goto done;
    }
    if (zmq_bind(s.router, endpoint) < 0) {
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
        zmq_pollitem_t items[2] = {{s.router, 0, ZMQ_POLLIN, 0}, {s.mon, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, POLL_MS) < 0) {
            if (errno == EINTR)
                continue;
            tt_fail(err, errlen, "zmq_poll: %s", zmq_strerror(errno));
            goto done;
        }
        if (items[1].revents & ZMQ_POLLIN)
            handle_monitor(&s);
        if (items[0].revents & ZMQ_POLLIN) {
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
    }
    rc = 0;
done:
    if (s.mon) {
        zmq_socket_monitor(s.router, NULL, 0);
        int zero = 0;
        zmq_setsockopt(s.mon, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(s.mon);
    }
    zmq_close(s.router);
    publish(&s);
    return rc;
}
