/* sink.c - see sink.h. */
#include "sink.h"
#include "util.h"

#include <errno.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include <sodium.h>

#include "checkpoint.h"
#include "curve.h"
#include "keys.h"
#include "store.h"
#include "tunetrail.pb-c.h"

#define SINK_LINGER_MS 1000
#define SINK_SNDHWM 10000
#define SINK_ACKQ_MAX 4096

struct tt_sink {
    char *dest;
    void *ctx, *sock; /* ZeroMQ sink */
    tt_store *store;  /* embedded sink */
    struct sink_ack q[SINK_ACKQ_MAX];
    size_t qhead, qlen;
    int pinned, said_untrusted;
    int curve;           /* CURVE to a pinned server key: acks authenticated by the channel */
    char refusal[256];   /* the last ACK_RETRY/STORE_ERR_FORBIDDEN's error */
    void *mon;           /* with CURVE: the DEALER's handshake failures */
    const char *hs_refused;
    uint8_t pin[32];
    uint64_t verified, unverified, untrusted;
};

static tt_sink *sink_open_curve(const char *endpoint, const char *store_path,
                                const struct curve_pin *pin, const char *curve_key, char *err,
                                size_t errlen);

tt_sink *sink_open(const char *endpoint, const char *store_path, char *err, size_t errlen)
{
    return sink_open_curve(endpoint, store_path, NULL, NULL, err, errlen);
}

tt_sink *sink_open_keyed(const char *endpoint, const char *store_path, const char *collector_key,
                         const char *curve_key, char *err, size_t errlen)
{
    struct curve_pin pin;
    if (collector_key && curve_load_pin(collector_key, &pin, err, errlen) < 0)
        return NULL;
    tt_sink *s = sink_open_curve(endpoint, store_path, collector_key ? &pin : NULL, curve_key, err,
                                 errlen);
    if (s && collector_key && pin.has_ed25519) {
        memcpy(s->pin, pin.ed25519.pk, 32);
        s->pinned = 1;
    }
    return s;
}

const char *sink_refusal(const tt_sink *s) { return s->refusal; }

static tt_sink *sink_open_curve(const char *endpoint, const char *store_path,
                                const struct curve_pin *pin, const char *curve_key, char *err,
                                size_t errlen)
{
    tt_sink *s = calloc(1, sizeof *s);
    if (!s) {
        tt_fail(err, errlen, "out of memory");
        return NULL;
    }
    s->dest = strdup(endpoint ? endpoint : store_path);
    if (!s->dest) {
        tt_fail(err, errlen, "out of memory");
        goto err;
    }
    if (!endpoint) {
        s->store = store_open(store_path, STORE_CREATE, err, errlen);
        if (!s->store)
            goto err;
        struct tt_key k;
        char kerr[512];
        if (key_collector(NULL, &k, kerr, sizeof kerr) == 0)
            store_set_signer(s->store, &k);
        else
            fprintf(stderr, "tunetrail: log checkpoints not signed: %s\n", kerr);
        memset(&k, 0, sizeof k);
        return s;
    }
    s->ctx = zmq_ctx_new();
    if (!s->ctx || !(s->sock = zmq_socket(s->ctx, ZMQ_DEALER))) {
        tt_fail(err, errlen, "zmq: %s", zmq_strerror(errno));
        goto err;
    }
    /* IMMEDIATE: queue nothing for a collector that is not connected, so a
     * send fails fast and the batch stays in our spool instead of in limbo. */
    int one = 1, linger = SINK_LINGER_MS, hwm = SINK_SNDHWM, zero = 0;
    zmq_setsockopt(s->sock, ZMQ_IMMEDIATE, &one, sizeof one);
    zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s->sock, ZMQ_SNDTIMEO, &zero, sizeof zero);
    if (pin && pin->has_curve) {
        char def[4096], sk[CURVE_Z85_LEN + 1], pk[CURVE_Z85_LEN + 1];
        if (!curve_key) {
            if (!key_default_dir(def, sizeof def - 16)) {
                tt_fail(err, errlen, "cannot find $TUNETRAIL_HOME/keys for this client's CURVE key");
                goto err;
            }
            strcat(def, "/curve.key");
            curve_key = def;
        }
        if (access(curve_key, F_OK) < 0) {
            tt_fail(err, errlen, "this client has no CURVE key %s: make one with `tunetrail keygen"
                                 " --curve` and have the collector's clients file list its curve.pub"
                                 " (or give --curve-key FILE)", curve_key);
            goto err;
        }
        int rc = curve_load_secret(curve_key, sk, pk, err, errlen);
        if (rc == 0 && (zmq_setsockopt(s->sock, ZMQ_CURVE_SERVERKEY, pin->curve, CURVE_Z85_LEN + 1) < 0 ||
                        zmq_setsockopt(s->sock, ZMQ_CURVE_PUBLICKEY, pk, CURVE_Z85_LEN + 1) < 0 ||
                        zmq_setsockopt(s->sock, ZMQ_CURVE_SECRETKEY, sk, CURVE_Z85_LEN + 1) < 0))
            rc = tt_fail(err, errlen, "CURVE: %s", zmq_strerror(errno));
        sodium_memzero(sk, sizeof sk);
        if (rc < 0)
            goto err;
        s->curve = 1;
        /* A refused handshake looks like silence to the DEALER: the monitor
         * tells it from an unreachable collector. */
        char mep[64];
        int unlimited = 0;
        snprintf(mep, sizeof mep, "inproc://tt-sink-mon-%p", (void *)s);
        if (zmq_socket_monitor(s->sock, mep, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                                                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) == 0 &&
            (s->mon = zmq_socket(s->ctx, ZMQ_PAIR)) &&
            (zmq_setsockopt(s->mon, ZMQ_RCVHWM, &unlimited, sizeof unlimited) < 0 ||
             zmq_connect(s->mon, mep) < 0)) {
            zmq_close(s->mon);
            s->mon = NULL;
        }
    }
    if (zmq_connect(s->sock, endpoint) < 0) {
        tt_fail(err, errlen, "cannot connect to %s: %s", endpoint, zmq_strerror(errno));
        goto err;
    }
    return s;
err:
    sink_close(s);
    return NULL;
}

const char *sink_handshake_refused(tt_sink *s)
{
    while (s->mon) {
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        zmq_msg_init(&addr);
        int got = zmq_msg_recv(&ev, s->mon, ZMQ_DONTWAIT) >= 0;
        if (got && zmq_msg_more(&ev))
            zmq_msg_recv(&addr, s->mon, 0);
        if (got && zmq_msg_size(&ev) >= 6) {
            uint16_t e;
            memcpy(&e, zmq_msg_data(&ev), 2);
            s->hs_refused = e == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                                ? "refused this client's CURVE key (not in its clients file: send"
                                  " it your curve.pub)"
                                : "failed the CURVE handshake (not a CURVE collector, or another"
                                  " key than the pinned one?)";
        }
        zmq_msg_close(&ev);
        zmq_msg_close(&addr);
        if (!got)
            break;
    }
    return s->hs_refused;
}

void sink_close(tt_sink *s)
{
    if (!s)
        return;
    if (s->mon) {
        int zero = 0;
        zmq_socket_monitor(s->sock, NULL, 0);
        zmq_setsockopt(s->mon, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(s->mon);
    }
    if (s->sock)
        zmq_close(s->sock);
    if (s->ctx)
        zmq_ctx_term(s->ctx);
    if (s->store)
        store_close(s->store);
    for (size_t i = 0; i < s->qlen; i++)
        sink_ack_free(&s->q[(s->qhead + i) % SINK_ACKQ_MAX]);
    free(s->dest);
    free(s);
}

const char *sink_dest(const tt_sink *s) { return s->dest; }

void *sink_zmq_socket(tt_sink *s) { return s->sock; }

size_t sink_acks_queued(const tt_sink *s) { return s->qlen; }

static void push_ack(tt_sink *s, const struct sink_ack *a)
{
    if (s->qlen == SINK_ACKQ_MAX) { /* caller not draining: drop oldest, it will resend */
        sink_ack_free(&s->q[s->qhead]);
        s->qhead = (s->qhead + 1) % SINK_ACKQ_MAX, s->qlen--;
    }
    s->q[(s->qhead + s->qlen) % SINK_ACKQ_MAX] = *a;
    s->qlen++;
}

int sink_send(tt_sink *s, uint64_t seq, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    if (s->store) {
        struct ingest_result r;
        memset(&r, 0, sizeof r);
        ingest_batch(s->store, buf, len, &r);
        struct sink_ack a = {.batch_seq = seq,
                             .status = TUNETRAIL__ACK__STATUS__ACK_RETRY,
                             .stored = r.stored,
                             .duplicates = r.duplicates,
                             .embedded = 1};
        if (r.status == INGEST_OK) {
            a.status = TUNETRAIL__ACK__STATUS__ACK_OK;
            size_t n;
            const struct store_checkpoint *ck = store_checkpoints(s->store, &n);
            if (n && (a.checkpoints = calloc(n, sizeof *a.checkpoints))) {
                for (size_t i = 0; i < n; i++) {
                    struct sink_checkpoint *c = &a.checkpoints[a.n_checkpoints];
                    if (!(c->study = strdup(ck[i].study)))
                        break;
                    c->tree_size = ck[i].tree_size;
                    memcpy(c->root, ck[i].root, 32);
                    memcpy(c->key, ck[i].key, 32);
                    memcpy(c->sig, ck[i].sig, 64);
                    a.n_checkpoints++;
                }
            }
        }
        else if (r.status == INGEST_REJECTED)
            a.status = TUNETRAIL__ACK__STATUS__ACK_REJECTED;
        else
            a.store_error = (int)r.store_error;
        if (r.status != INGEST_OK)
            tt_fail(err, errlen, "%s", r.error[0] ? r.error : "store error");
        push_ack(s, &a);
        return 0;
    }
    if (zmq_send(s->sock, buf, len, ZMQ_DONTWAIT) >= 0)
        return 0;
    if (errno == EAGAIN || errno == EINTR)
        return 1;
    return tt_fail(err, errlen, "zmq send: %s", zmq_strerror(errno));
}

int sink_recv_ack(tt_sink *s, struct sink_ack *ack)
{
    if (s->store || !s->sock) {
        if (!s->qlen)
            return 0;
        *ack = s->q[s->qhead];
        s->qhead = (s->qhead + 1) % SINK_ACKQ_MAX;
        s->qlen--;
        return 1;
    }
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return 0;
        }
        Tunetrail__Ack *a = tunetrail__ack__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        if (!a)
            continue; /* not an Ack: ignore, the batch will be resent */
        ack->batch_seq = a->batch_seq;
        ack->status = a->has_status ? (int)a->status : TUNETRAIL__ACK__STATUS__ACK_OK;
        ack->stored = a->stored;
        ack->duplicates = a->duplicates;
        ack->store_error = a->has_store_error ? (int)a->store_error : 0;
        if (ack->store_error == STORE_ERR_FORBIDDEN)
            snprintf(s->refusal, sizeof s->refusal, "%s", a->error ? a->error : "");
        ack->embedded = 0;
        ack->has_digest = a->has_batch_digest && a->batch_digest.len == 32;
        if (ack->has_digest)
            memcpy(ack->digest, a->batch_digest.data, 32);
        ack->has_sig = a->has_ack_key && a->ack_key.len == 32 && a->has_ack_sig && a->ack_sig.len == 64;
        if (ack->has_sig) {
            memcpy(ack->key, a->ack_key.data, 32);
            memcpy(ack->sig, a->ack_sig.data, 64);
        }
        ack->n_checkpoints = 0;
        ack->checkpoints = a->n_checkpoints ? calloc(a->n_checkpoints, sizeof *ack->checkpoints)
                                            : NULL;
        for (size_t i = 0; ack->checkpoints && i < a->n_checkpoints; i++) {
            const Tunetrail__Checkpoint *c = a->checkpoints[i];
            struct sink_checkpoint *o = &ack->checkpoints[ack->n_checkpoints];
            if (!c->study || c->root.len != 32 || c->key.len != 32 || c->sig.len != 64 ||
                !(o->study = strdup(c->study)))
                continue; /* malformed receipt: ignore it, not the ack */
            o->tree_size = c->tree_size;
            memcpy(o->root, c->root.data, 32);
            memcpy(o->key, c->key.data, 32);
            memcpy(o->sig, c->sig.data, 64);
            ack->n_checkpoints++;
        }
        tunetrail__ack__free_unpacked(a, NULL);
        return 1;
    }
}

int sink_pin_file(tt_sink *s, const char *path, char *err, size_t errlen)
{
    struct tt_key k;
    if (key_load_public(path, &k, err, errlen) < 0)
        return -1;
    memcpy(s->pin, k.pk, 32);
    s->pinned = 1;
    return 0;
}

/* The embedded store is this process: nothing to check. */
int sink_ack_trusted(tt_sink *sh, const struct sink_ack *a, const uint8_t *buf, size_t len)
{
    /* A rejection releases the batch too (it is never resent): it needs the
     * same proof as an ok. */
    if (a->embedded)
        return 1;
    uint8_t d[32] = {0};
    /* Hashed only when something checks it: an unpinned ack without a digest
     * (an older collector) is taken on its word. */
    if (a->has_digest || sh->pinned)
        crypto_generichash(d, 32, buf, len, NULL, 0);
    const char *why = NULL;
    if (a->has_digest && memcmp(d, a->digest, 32))
        why = "names other bytes than the batch sent";
    else if (sh->pinned) {
        struct ack_claim c = {.batch_seq = a->batch_seq, .status = a->status, .stored = (int)a->stored,
                              .duplicates = (int)a->duplicates, .n = a->n_checkpoints};
        const char *studies[64];
        uint64_t sizes[64];
        uint8_t roots[64][32];
        memcpy(c.digest, d, 32);
        for (size_t i = 0; i < a->n_checkpoints && i < 64; i++) {
            studies[i] = a->checkpoints[i].study;
            sizes[i] = a->checkpoints[i].tree_size;
            memcpy(roots[i], a->checkpoints[i].root, 32);
        }
        c.study = studies, c.tree_size = sizes, c.root = (const uint8_t(*)[32])roots;
        if (!a->has_digest || !a->has_sig)
            why = "is not signed";
        else if (memcmp(a->key, sh->pin, 32))
            why = "is signed by another key than the pinned one";
        else if (a->n_checkpoints > 64 || ack_verify(sh->pin, &c, a->sig) < 0)
            why = "carries a signature that does not verify";
    }
    if (!why) {
        if (sh->pinned || sh->curve)
            sh->verified++;
        else
            sh->unverified++;
        return 1;
    }
    sh->untrusted++;
    if (!sh->said_untrusted) {
        sh->said_untrusted = 1;
        fprintf(stderr, "tunetrail: collector %s acknowledged batch %llu but the ack %s; the batch is not "
                        "counted as delivered and stays in the spool\n",
                sh->dest, (unsigned long long)a->batch_seq, why);
    }
    return 0;
}

void sink_trust(const tt_sink *s, struct sink_trust *out)
{
    out->verified = s->verified;
    out->unverified = s->unverified;
    out->untrusted = s->untrusted;
    out->pinned = s->pinned || s->curve;
    out->remote = s->store == NULL;
}

void sink_say_unverified(const tt_sink *sink, const char *who)
{
    struct sink_trust tr;
    sink_trust(sink, &tr);
    if (tr.remote && !tr.pinned && tr.unverified)
        fprintf(stderr, "%s: delivery to %s not verified: its acks were taken on its word (pin its key: "
                        "--collector-key FILE, the collector's collector.pub)\n",
                who, sink_dest(sink));
}

void sink_ack_free(struct sink_ack *a)
{
    for (size_t i = 0; i < a->n_checkpoints; i++)
        free(a->checkpoints[i].study);
    free(a->checkpoints);
    a->checkpoints = NULL;
    a->n_checkpoints = 0;
}
