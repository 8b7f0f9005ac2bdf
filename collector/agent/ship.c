/* ship.c - see ship.h.
 *
 * A packed Batch is its header fields followed by `0x22 varint(len) Event`
 * per event, in any order (protobuf), so events are packed once into a
 * growing buffer as they arrive and the header is packed in front at seal
 * time: no event objects are kept alive, and their memory stays the
 * caller's. */
#include "ship.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <jansson.h>
#include <sodium.h>

#include "checkpoint.h"
#include "keys.h"
#include "paths.h"
#include "wire.h"

#include "spool.h"
#include "jsonfmt.h"
#include "store.h"
#include "tt_env.h"

#define SHIP_RETRY_MS 500 /* back-off after an ACK_RETRY; retry of a spool write */

/* Pending batches, in the order they were made (seq order): sent in that
 * order, so the collector meets a process's start before its later events
 * (with CURVE a batch naming an origin whose start is not stored waits). */
struct pending {
    uint64_t seq;
    uint8_t *buf;
    size_t len, nevents;
    int64_t sent_ms; /* 0 = not sent yet (sink had no room) */
    int held;        /* not in the spool (write failed): only in memory */
};

/* A held batch dropped at the memory bound: if its ack still comes, it was
 * not lost after all. */
struct dropped {
    uint64_t seq;
    size_t nevents;
};

struct tt_ship {
    tt_sink *sink;
    int spool_fd;
    uint8_t sender[16];
    uint64_t next_seq;
    uint8_t *ev;     /* packed events of the open batch */
    size_t evlen, evcap, evn;
    int64_t open_ms; /* when the open batch got its first event */
    struct pending *p;
    size_t np, pcap;
    struct ship_stats st;
    int receipts_fd; /* $TUNETRAIL_HOME/receipts/<sender>.jsonl, opened at the first receipt */
    int receipts_failed;
    int store_error; /* the collector's store fault in its last ack (enum store_error) */
    char fault_text[320]; /* with STORE_ERR_FORBIDDEN: "refused this client: <why>" */
    ship_filter_fn filter;
    void *filter_arg;
    size_t held_bytes, hold_max; /* batches the spool could not take, kept in memory */
    int64_t hold_retry_ms;       /* next spool write attempt for them */
    char spool_err[TT_ERR_MAX];   /* why the spool refused, said once */
    struct dropped *dr;          /* held batches dropped at hold_max, unacked */
    size_t ndr;
    uint64_t dropped_events;
};

int64_t ship_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

tt_ship *ship_new(tt_sink *sink, int spool_fd, const uint8_t sender[16])
{
    tt_ship *sh = calloc(1, sizeof *sh);
    if (!sh)
        return NULL;
    sh->sink = sink;
    sh->spool_fd = spool_fd;
    memcpy(sh->sender, sender, 16);
    sh->hold_max = SHIP_HOLD_MAX;
    const char *hm = getenv(TT_ENV_HOLD_MAX);
    char *end;
    unsigned long long v = hm && *hm ? strtoull(hm, &end, 10) : 0;
    if (hm && *hm && !*end)
        sh->hold_max = (size_t)v;
    return sh;
}

void ship_free(tt_ship *sh)
{
    if (!sh)
        return;
    if (sh->receipts_fd > 0)
        close(sh->receipts_fd);
    for (size_t i = 0; i < sh->np; i++)
        free(sh->p[i].buf);
    free(sh->p);
    free(sh->dr);
    free(sh->ev);
    free(sh);
}

static int reserve(tt_ship *sh, size_t more)
{
    if (sh->evlen + more <= sh->evcap)
        return 0;
    size_t nc = sh->evcap ? sh->evcap : 65536;
    while (nc < sh->evlen + more)
        nc *= 2;
    uint8_t *p = realloc(sh->ev, nc);
    if (!p)
        return -1;
    sh->ev = p;
    sh->evcap = nc;
    return 0;
}

void ship_set_filter(tt_ship *sh, ship_filter_fn fn, void *arg)
{
    sh->filter = fn;
    sh->filter_arg = arg;
}

int ship_event(tt_ship *sh, const Tunetrail__Event *ev, char *err, size_t errlen)
{
    if (sh->filter && sh->filter(sh->filter_arg, ev))
        return 0;
    size_t n = protobuf_c_message_get_packed_size(&ev->base);
    if (reserve(sh, n + 11) < 0)
        return tt_fail(err, errlen, "out of memory");
    uint8_t *p = sh->ev + sh->evlen;
    *p++ = 0x22; /* field 4 (events), wire type 2 */
    size_t v = n;
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    p += protobuf_c_message_pack(&ev->base, p);
    sh->evlen = (size_t)(p - sh->ev);
    if (sh->evn++ == 0)
        sh->open_ms = ship_now_ms();
    if (sh->evn >= SHIP_BATCH_EVENTS || sh->evlen >= SHIP_BATCH_BYTES)
        return ship_seal(sh, err, errlen);
    return 0;
}

/* Removes p[k], keeping the others in order. */
static void unpend(tt_ship *sh, size_t k)
{
    memmove(&sh->p[k], &sh->p[k + 1], (sh->np - k - 1) * sizeof *sh->p);
    sh->np--;
}

static int track(tt_ship *sh, uint64_t seq, uint8_t *buf, size_t len, size_t nevents, int held)
{
    if (sh->np == sh->pcap) {
        size_t nc = sh->pcap ? sh->pcap * 2 : 64;
        struct pending *p = realloc(sh->p, nc * sizeof *p);
        if (!p)
            return -1;
        sh->p = p;
        sh->pcap = nc;
    }
    sh->p[sh->np++] = (struct pending){seq, buf, len, nevents, 0, held};
    if (held)
        sh->held_bytes += len;
    return 0;
}

/* Appends a batch to the spool and syncs it; a failed write is cut back off
 * (no torn frame left for readers to skip). The first failure is said once. */
static int spool_put(tt_ship *sh, const uint8_t *buf, size_t len)
{
    char err[TT_ERR_MAX];
    struct stat st;
    int have = fstat(sh->spool_fd, &st) == 0;
    if (spool_append_batch(sh->spool_fd, buf, len, err, sizeof err) == 0 &&
        spool_sync(sh->spool_fd, err, sizeof err) == 0)
        return 0;
    if (have)
        (void)!ftruncate(sh->spool_fd, st.st_size);
    if (!sh->spool_err[0]) {
        snprintf(sh->spool_err, sizeof sh->spool_err, "%s", err);
        fprintf(stderr, "tunetrail: %s; records are kept in memory (up to %zu bytes) and written when "
                        "the spool has room\n", err, sh->hold_max);
    }
    return -1;
}

/* Over the memory bound: the oldest held batches go (counted). */
static void hold_bound(tt_ship *sh)
{
    while (sh->held_bytes > sh->hold_max) {
        size_t k = SIZE_MAX;
        for (size_t i = 0; i < sh->np; i++)
            if (sh->p[i].held && (k == SIZE_MAX || sh->p[i].seq < sh->p[k].seq))
                k = i;
        if (k == SIZE_MAX)
            break;
        struct dropped *nd = realloc(sh->dr, (sh->ndr + 1) * sizeof *nd);
        if (nd) {
            sh->dr = nd;
            sh->dr[sh->ndr++] = (struct dropped){sh->p[k].seq, sh->p[k].nevents};
        }
        sh->dropped_events += sh->p[k].nevents;
        sh->held_bytes -= sh->p[k].len;
        free(sh->p[k].buf);
        unpend(sh, k);
    }
}

/* Writes held batches to the spool, oldest first, until one fails. */
static void hold_retry(tt_ship *sh)
{
    for (;;) {
        size_t k = SIZE_MAX;
        for (size_t i = 0; i < sh->np; i++)
            if (sh->p[i].held && (k == SIZE_MAX || sh->p[i].seq < sh->p[k].seq))
                k = i;
        if (k == SIZE_MAX || spool_put(sh, sh->p[k].buf, sh->p[k].len) < 0)
            break;
        sh->p[k].held = 0;
        sh->held_bytes -= sh->p[k].len;
    }
    sh->hold_retry_ms = ship_now_ms() + SHIP_RETRY_MS;
}

/* 1 if a batch before p[k] has not been sent yet. */
static int unsent_before(const tt_ship *sh, size_t k)
{
    for (size_t i = 0; i < k; i++)
        if (sh->p[i].sent_ms == 0)
            return 1;
    return 0;
}

static int send_one(tt_ship *sh, struct pending *p, char *err, size_t errlen)
{
    int rc = sink_send(sh->sink, p->seq, p->buf, p->len, err, errlen);
    if (rc < 0)
        return -1;
    if (rc == 0)
        p->sent_ms = ship_now_ms();
    return 0;
}

int ship_seal(tt_ship *sh, char *err, size_t errlen)
{
    if (!sh->evn)
        return 0;
    Tunetrail__Batch b = TUNETRAIL__BATCH__INIT;
    b.has_schema_version = 1;
    b.schema_version = TUNETRAIL__SCHEMA_VERSION__SCHEMA_VERSION;
    b.has_sender = 1;
    b.sender.data = sh->sender;
    b.sender.len = 16;
    b.has_batch_seq = 1;
    b.batch_seq = sh->next_seq;
    size_t hl = tunetrail__batch__get_packed_size(&b);
    uint8_t *buf = malloc(hl + sh->evlen);
    if (!buf)
        return tt_fail(err, errlen, "out of memory");
    tunetrail__batch__pack(&b, buf);
    memcpy(buf + hl, sh->ev, sh->evlen);
    size_t len = hl + sh->evlen, nev = sh->evn;
    /* Spool before send: once the collector may have it, so must we. If the
     * spool cannot take it (disk full), memory holds it until it can. */
    int held = 0;
    if (sh->spool_fd >= 0)
        held = (sh->held_bytes && (hold_retry(sh), sh->held_bytes)) || spool_put(sh, buf, len) < 0;
    if (track(sh, sh->next_seq, buf, len, nev, held) < 0) {
        free(buf);
        return tt_fail(err, errlen, "out of memory");
    }
    sh->next_seq++;
    sh->evlen = sh->evn = 0;
    /* Not ahead of an earlier batch the sink had no room for (a CURVE
     * handshake still going on): ship_pump sends them in order. */
    if (!unsent_before(sh, sh->np - 1) && send_one(sh, &sh->p[sh->np - 1], err, errlen) < 0)
        return -1;
    hold_bound(sh);
    return 0;
}

int ship_raw(tt_ship *sh, uint64_t seq, const uint8_t *buf, size_t len, size_t nevents, char *err,
             size_t errlen)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return tt_fail(err, errlen, "out of memory");
    memcpy(copy, buf, len);
    if (track(sh, seq, copy, len, nevents, 0) < 0) {
        free(copy);
        return tt_fail(err, errlen, "out of memory");
    }
    if (unsent_before(sh, sh->np - 1))
        return 0;
    return send_one(sh, &sh->p[sh->np - 1], err, errlen);
}

static void drop(tt_ship *sh, size_t i)
{
    if (sh->p[i].held)
        sh->held_bytes -= sh->p[i].len;
    free(sh->p[i].buf);
    unpend(sh, i);
}

/* Opens the receipts file on first use. Returns the fd, or -1 (warned once:
 * receipts are evidence for later, never a reason to stop recording). */
static int receipts_open(tt_ship *sh)
{
    if (sh->receipts_fd > 0 || sh->receipts_failed)
        return sh->receipts_fd > 0 ? sh->receipts_fd : -1;
    char path[2048], err[2400], *home = NULL, hex[33];
    wire_hex(hex, sh->sender, 16);
    if (paths_home(&home, err, sizeof err) == 0) {
        snprintf(path, sizeof path, "%s/receipts", home);
        if (mkdir(path, 0700) == 0 || errno == EEXIST) {
            snprintf(path, sizeof path, "%s/receipts/%s.jsonl", home, hex);
            sh->receipts_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        }
        if (sh->receipts_fd <= 0)
            tt_fail(err, sizeof err, "%s: %s", path, strerror(errno));
        free(home);
    }
    if (sh->receipts_fd <= 0) {
        sh->receipts_fd = 0;
        sh->receipts_failed = 1;
        fprintf(stderr, "tunetrail: cannot keep log receipts: %s\n", err);
        return -1;
    }
    return sh->receipts_fd;
}

/* Appends one JSON line per checkpoint of the ack (docs/RECORD.md, receipts). */
static void keep_receipts(tt_ship *sh, const struct sink_ack *a)
{
    if (!a->n_checkpoints || receipts_open(sh) < 0)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    json_t *when = jsonfmt_iso_ns((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    for (size_t i = 0; i < a->n_checkpoints; i++) {
        const struct sink_checkpoint *c = &a->checkpoints[i];
        json_t *o = checkpoint_json(c->tree_size, c->root, c->key, c->sig);
        if (o) {
            json_object_set_new(o, "study", jsonfmt_string(c->study));
            json_object_set(o, "received", when);
        }
        char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        if (!line)
            continue;
        size_t n = strlen(line);
        line[n] = '\n'; /* one write per line: O_APPEND keeps lines whole */
        if (write(sh->receipts_fd, line, n + 1) != (ssize_t)(n + 1))
            fprintf(stderr, "tunetrail: writing a log receipt: %s\n", strerror(errno));
        free(line);
    }
    json_decref(when);
}

int ship_pump(tt_ship *sh, char *err, size_t errlen)
{
    int64_t now = ship_now_ms();
    if (sh->evn && now - sh->open_ms >= SHIP_BATCH_AGE_MS && ship_seal(sh, err, errlen) < 0)
        return -1;
    struct sink_ack a;
    while (sink_recv_ack(sh->sink, &a) == 1) {
        /* A store fault is not a network one: say which, once per change. */
        int fault = a.status == TUNETRAIL__ACK__STATUS__ACK_RETRY && a.store_error != STORE_ERR_BUSY
                        ? a.store_error
                        : STORE_ERR_NONE;
        if (fault == STORE_ERR_FORBIDDEN && sh->store_error != STORE_ERR_FORBIDDEN) /* the first reason */
            snprintf(sh->fault_text, sizeof sh->fault_text, "refused this client: %s",
                     sink_refusal(sh->sink)[0] ? sink_refusal(sh->sink) : "not authorised");
        if (fault && fault != sh->store_error)
            fprintf(stderr, "tunetrail: collector %s: %s; records stay in the spool and are resent\n",
                    sink_dest(sh->sink), fault == STORE_ERR_FORBIDDEN
                                             ? sh->fault_text
                                             : store_error_name((enum store_error)fault));
        /* A busy store says nothing new: a standing fault (full, refused)
         * stays the one to report until an ack clears it. */
        if (!(a.status == TUNETRAIL__ACK__STATUS__ACK_RETRY && a.store_error == STORE_ERR_BUSY))
            sh->store_error = fault;
        for (size_t i = 0; i < sh->ndr; i++)
            if (sh->dr[i].seq == a.batch_seq && a.status != TUNETRAIL__ACK__STATUS__ACK_RETRY) {
                /* delivered before we gave it up: not lost */
                if (a.status == TUNETRAIL__ACK__STATUS__ACK_OK)
                    sh->dropped_events -= sh->dr[i].nevents;
                sh->dr[i] = sh->dr[--sh->ndr];
                break;
            }
        for (size_t i = 0; i < sh->np; i++) {
            if (sh->p[i].seq != a.batch_seq)
                continue;
            if (a.status == TUNETRAIL__ACK__STATUS__ACK_RETRY) {
                /* transient store trouble: back off, then resend */
                sh->p[i].sent_ms = now - SHIP_RESEND_MS + SHIP_RETRY_MS;
                break;
            }
            if (!sink_ack_trusted(sh->sink, &a, sh->p[i].buf, sh->p[i].len))
                break; /* resent after SHIP_RESEND_MS like an unacked batch */
            if (a.status == TUNETRAIL__ACK__STATUS__ACK_OK)
                keep_receipts(sh, &a); /* only a trusted ack's receipts */
            if (a.status == TUNETRAIL__ACK__STATUS__ACK_REJECTED) {
                /* Resending a malformed batch would never end; it stays
                 * readable in the spool only if something else is unacked. */
                sh->st.rejected++;
                fprintf(stderr, "tunetrail: collector rejected batch %llu\n",
                        (unsigned long long)a.batch_seq);
            } else {
                sh->st.events_acked += sh->p[i].nevents;
                sh->st.stored += a.stored;
                sh->st.duplicates += a.duplicates;
            }
            if (sh->spool_fd >= 0)
                spool_append_acked(sh->spool_fd, a.batch_seq, NULL, 0);
            drop(sh, i);
            break;
        }
        sink_ack_free(&a);
    }
    now = ship_now_ms();
    if (sh->held_bytes && now >= sh->hold_retry_ms)
        hold_retry(sh);
    for (size_t i = 0; i < sh->np; i++) {
        struct pending *p = &sh->p[i];
        if (p->sent_ms == 0 || now - p->sent_ms >= SHIP_RESEND_MS) {
            if (send_one(sh, p, err, errlen) < 0)
                return -1;
            if (p->sent_ms == 0)
                break; /* sink has no room: try the rest later */
        }
    }
    return 0;
}

long ship_next_timeout_ms(const tt_ship *sh)
{
    int64_t now = ship_now_ms();
    long t = -1;
    if (sh->evn) {
        long d = (long)(sh->open_ms + SHIP_BATCH_AGE_MS - now);
        t = d < 0 ? 0 : d;
    }
    if (sink_acks_queued(sh->sink))
        return 0; /* the embedded sink acked inside send: drain it now */
    if (sh->held_bytes) {
        long d = (long)(sh->hold_retry_ms - now);
        d = d < 0 ? 0 : d;
        if (t < 0 || d < t)
            t = d;
    }
    for (size_t i = 0; i < sh->np; i++) {
        long d = sh->p[i].sent_ms ? (long)(sh->p[i].sent_ms + SHIP_RESEND_MS - now) : 100;
        if (d < 0)
            d = 0;
        if (t < 0 || d < t)
            t = d;
    }
    return t;
}

size_t ship_pending(const tt_ship *sh, size_t *events)
{
    if (events) {
        size_t e = sh->evn;
        for (size_t i = 0; i < sh->np; i++)
            e += sh->p[i].nevents;
        *events = e;
    }
    return sh->np;
}

const struct ship_stats *ship_stats(const tt_ship *sh) { return &sh->st; }

size_t ship_held(const tt_ship *sh, size_t *events)
{
    size_t n = 0, e = 0;
    for (size_t i = 0; i < sh->np; i++)
        if (sh->p[i].held)
            n++, e += sh->p[i].nevents;
    if (events)
        *events = e;
    return n;
}

uint64_t ship_give_up(tt_ship *sh, const char **why)
{
    if (sh->held_bytes)
        hold_retry(sh);
    for (size_t i = sh->np; i-- > 0;)
        if (sh->p[i].held) {
            sh->dropped_events += sh->p[i].nevents;
            drop(sh, i);
        }
    if (why)
        *why = sh->spool_err[0] ? sh->spool_err : NULL;
    return sh->dropped_events;
}

const char *ship_store_error(const tt_ship *sh)
{
    if (sh->store_error == STORE_ERR_FORBIDDEN)
        return sh->fault_text;
    return sh->store_error ? store_error_name((enum store_error)sh->store_error) : NULL;
}

void ship_drain(tt_ship *sh, long ms)
{
    char err[TT_ERR_MAX];
    int64_t deadline = ship_now_ms() + ms;
    void *zs = sink_zmq_socket(sh->sink);
    while (ship_pump(sh, err, sizeof err) == 0 && ship_pending(sh, NULL) > 0) {
        long left = (long)(deadline - ship_now_ms());
        if (left <= 0)
            break;
        long to = ship_next_timeout_ms(sh);
        if (to < 0 || to > left)
            to = left;
        if (zs) {
            zmq_pollitem_t it = {zs, 0, ZMQ_POLLIN, 0};
            zmq_poll(&it, 1, to);
        } else if (to > 0) {
            struct timespec ts = {to / 1000, (to % 1000) * 1000000};
            nanosleep(&ts, NULL);
        }
    }
}
