/* tt_zmq_agents ENDPOINT AGENTS BATCHES EVENTS NOTE_BYTES READY_FILE - many
 * agents at once, for the per-client high-water mark test (daemon_hwm.sh).
 * Each agent is a thread with its own DEALER (the agent's socket type) and
 * its own sender uuid, which is also the origin of its events: BATCHES
 * batches of EVENTS notes of NOTE_BYTES bytes each (seqs 0, 1, ...). It
 * queues every batch at once (no ZMQ_IMMEDIATE: they wait in its socket
 * until the collector takes the connection), touches READY_FILE when all
 * agents have queued theirs, then waits for the acks as the real agent
 * does: a batch acked ACK_OK is done; one answered ACK_RETRY, or not
 * answered within 5 s of its last send, is sent again (the collector stores
 * it once). Prints "acked=N stored=N duplicates=N resent=N" and exits 0
 * when every batch is acked, 1 if not within 240 s, 2 on a usage error. */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "tunetrail.pb-c.h"
#include "wire.h"

#define RESEND_MS 5000
#define DEADLINE_MS 240000

static void *ctx;
static const char *endpoint;
static int nbatches, nevents, note_bytes;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int queued;
static uint64_t t_acked, t_stored, t_dups, t_resent;
static int t_failed;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One packed Batch b of this agent. */
static uint8_t *pack_batch(const uint8_t uuid[16], int b, size_t *len)
{
    Tunetrail__Batch batch = TUNETRAIL__BATCH__INIT;
    Tunetrail__Event *ev = calloc((size_t)nevents, sizeof *ev);
    Tunetrail__Event **evp = calloc((size_t)nevents, sizeof *evp);
    Tunetrail__Note *notes = calloc((size_t)nevents, sizeof *notes);
    char *text = malloc((size_t)note_bytes + 1);
    if (!ev || !evp || !notes || !text)
        abort();
    memset(text, 'n', (size_t)note_bytes);
    text[note_bytes] = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    for (int i = 0; i < nevents; i++) {
        tunetrail__event__init(&ev[i]);
        tunetrail__note__init(&notes[i]);
        notes[i].level = "info";
        notes[i].text = text;
        ev[i].origin = (ProtobufCBinaryData){16, (uint8_t *)uuid};
        ev[i].has_origin = ev[i].has_seq = ev[i].has_time_ns = 1;
        ev[i].seq = (uint64_t)b * (uint64_t)nevents + (uint64_t)i;
        ev[i].time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        ev[i].kind_case = TUNETRAIL__EVENT__KIND_NOTE;
        ev[i].note = &notes[i];
        evp[i] = &ev[i];
    }
    batch.has_schema_version = batch.has_sender = batch.has_batch_seq = 1;
    batch.schema_version = 1;
    batch.sender = (ProtobufCBinaryData){16, (uint8_t *)uuid};
    batch.batch_seq = (uint64_t)b;
    batch.n_events = (size_t)nevents;
    batch.events = evp;
    *len = tunetrail__batch__get_packed_size(&batch);
    uint8_t *buf = malloc(*len);
    if (!buf)
        abort();
    tunetrail__batch__pack(&batch, buf);
    free(text);
    free(notes);
    free(evp);
    free(ev);
    return buf;
}

static void *agent(void *arg)
{
    (void)arg;
    uint8_t uuid[16];
    wire_uuid_new(uuid);
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(s, endpoint) < 0) {
        fprintf(stderr, "tt_zmq_agents: connect %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        exit(1);
    }
    uint8_t **bufs = calloc((size_t)nbatches, sizeof *bufs);
    size_t *lens = calloc((size_t)nbatches, sizeof *lens);
    int64_t *sent_ms = calloc((size_t)nbatches, sizeof *sent_ms);
    char *done = calloc((size_t)nbatches, 1);
    if (!bufs || !lens || !sent_ms || !done)
        abort();
    for (int b = 0; b < nbatches; b++) {
        bufs[b] = pack_batch(uuid, b, &lens[b]);
        zmq_send(s, bufs[b], lens[b], 0);
        sent_ms[b] = now_ms();
    }
    pthread_mutex_lock(&mu);
    queued++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    uint64_t acked = 0, stored = 0, dups = 0, resent = 0;
    int64_t deadline = now_ms() + DEADLINE_MS;
    while (acked < (uint64_t)nbatches && now_ms() < deadline) {
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, 200);
        int64_t t = now_ms();
        if (it.revents & ZMQ_POLLIN) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, s, 0) >= 0) {
                Tunetrail__Ack *a = tunetrail__ack__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
                if (a && a->batch_seq < (uint64_t)nbatches && !done[a->batch_seq]) {
                    if (a->status == TUNETRAIL__ACK__STATUS__ACK_OK) {
                        done[a->batch_seq] = 1;
                        acked++;
                        stored += a->stored;
                        dups += a->duplicates;
                    } else if (a->status == TUNETRAIL__ACK__STATUS__ACK_RETRY) {
                        sent_ms[a->batch_seq] = t - RESEND_MS + 1000; /* again in 1 s */
                    } else {
                        fprintf(stderr, "tt_zmq_agents: batch %llu rejected: %s\n",
                                (unsigned long long)a->batch_seq, a->error ? a->error : "?");
                        exit(1);
                    }
                }
                if (a)
                    tunetrail__ack__free_unpacked(a, NULL);
            }
            zmq_msg_close(&m);
        }
        for (int b = 0; b < nbatches; b++)
            if (!done[b] && t - sent_ms[b] >= RESEND_MS) {
                zmq_send(s, bufs[b], lens[b], ZMQ_DONTWAIT);
                sent_ms[b] = t;
                resent++;
            }
    }
    pthread_mutex_lock(&mu);
    t_acked += acked;
    t_stored += stored;
    t_dups += dups;
    t_resent += resent;
    t_failed |= acked < (uint64_t)nbatches;
    pthread_mutex_unlock(&mu);
    for (int b = 0; b < nbatches; b++)
        free(bufs[b]);
    free(bufs);
    free(lens);
    free(sent_ms);
    free(done);
    zmq_close(s);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: tt_zmq_agents ENDPOINT AGENTS BATCHES EVENTS NOTE_BYTES READY_FILE\n");
        return 2;
    }
    endpoint = argv[1];
    int nagents = atoi(argv[2]);
    nbatches = atoi(argv[3]);
    nevents = atoi(argv[4]);
    note_bytes = atoi(argv[5]);
    if (nagents < 1 || nbatches < 1 || nevents < 1 || note_bytes < 1) {
        fprintf(stderr, "tt_zmq_agents: every count must be >= 1\n");
        return 2;
    }
    ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, nagents + 16);
    pthread_t *th = calloc((size_t)nagents, sizeof *th);
    for (int i = 0; i < nagents; i++)
        if (pthread_create(&th[i], NULL, agent, NULL) != 0) {
            fprintf(stderr, "tt_zmq_agents: cannot start agent %d\n", i);
            return 1;
        }
    pthread_mutex_lock(&mu);
    while (queued < nagents)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    int fd = open(argv[6], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0)
        close(fd);
    for (int i = 0; i < nagents; i++)
        pthread_join(th[i], NULL);
    free(th);
    printf("acked=%llu stored=%llu duplicates=%llu resent=%llu\n", (unsigned long long)t_acked,
           (unsigned long long)t_stored, (unsigned long long)t_dups, (unsigned long long)t_resent);
    zmq_ctx_term(ctx);
    return t_failed ? 1 : 0;
}
