/* bench_ingest.c - collector ingest throughput against its budget
 * (DESIGN.md: >= 1M events/s into SQLite on 2 cores, within 2x of a raw
 * "ZeroMQ + one prepared INSERT per event" loop), both measured in this run.
 *
 * Workload: P processes, each with one trial (ProcessStart, TrialStart, a few
 * Params), then mostly Metric and FileAccess events spread round-robin over
 * them, then ProcessEnd/TrialEnd; batches of ~1000 events. All batches are
 * packed before the clock starts.
 *   ingest:   DEALER -> collector_serve (ROUTER, decode, validate, dedupe,
 *             upsert, commit, signed ack) in a thread, fresh SQLite file, the
 *             log's checkpoints and the acks signed as tunetraild signs them; the
 *             collector commits the batches already queued together (group
 *             commit, <= 32: the DEALER keeps 32 in flight, as an agent
 *             replaying its spool does) and acks each after the commit.
 *   baseline: PUSH -> PULL in a thread, one transaction per batch, one
 *             prepared INSERT of each event's raw bytes into a plain table.
 *
 * Best of ROUNDS (default 3) alternating runs of each.
 * -d: both sides without ZeroMQ (ingest_batches in groups of 32 / the insert
 * loop called directly on the packed batches): the store's own cost.
 * -C: the lab collector's cost instead: the same ingest with CURVE (a
 * client key in the clients list, a ZAP handshake, each batch stored under
 * its identity, so the ownership checks run) against without, same run.
 * -P URI: the PostgreSQL store (bench/bench_pg.sh): ingest_batches in groups
 * of 32 into the store at URI (its log in the database, a fresh replica)
 * against a raw libpq COPY of the same batch bodies into a plain table, one
 * transaction per group. Each round drops both first.
 * usage: bench_ingest [-n EVENTS] [-p PROCESSES] [-c CONCURRENT] [-b BATCH] [-r ROUNDS] [-t tcp|ipc]
 *                     [-k KEEP.db] [-d] [-C] [-P URI] */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>
#include <sqlite3.h>
#include <zmq.h>

#include "bench.h"
#include "collector.h"
#include "event_fixture.h"
#include "keys.h"
#include "store.h"
#include "tunetrail.pb-c.h"
#include "wire.h"

struct packed {
    uint8_t *buf;
    size_t len;
    size_t events;
};

/* ---- workload */
struct gen {
    size_t nproc;
    uint8_t (*proc)[16], (*trial)[16];
    uint64_t *seq;
    struct evfx_batch b; /* the batch being built, cleared when packed */
    size_t cap;          /* events per batch */
    struct packed *out;
    size_t nout, capout, total;
    char **paths;
};

static Tunetrail__Event *ev(struct gen *g, size_t p)
{
    return evfx_event(&g->b, g->proc[p], g->seq[p]++, EVFX_T0 + (int64_t)g->total * 1000);
}

static void flush_batch(struct gen *g)
{
    if (!g->b.n)
        return;
    static uint8_t sender[16] = {0xbe, 0x4c};
    if (g->nout == g->capout) {
        g->capout = g->capout ? g->capout * 2 : 1024;
        g->out = realloc(g->out, g->capout * sizeof *g->out);
    }
    struct packed *pk = &g->out[g->nout++];
    pk->len = evfx_pack(&g->b, 1, g->nout - 1, sender, &pk->buf);
    pk->events = g->b.n;
    evfx_clear(&g->b);
}

static void added(struct gen *g)
{
    g->total++;
    if (g->b.n == g->cap)
        flush_batch(g);
}

static void generate(struct gen *g, size_t nevents, size_t nproc, size_t conc, size_t batch)
{
    static char *argv[] = {"svm-train", "-c", "4", "-g", "0.5", "data.train"};
    static const char *names[] = {"accuracy", "loss", "nsv", "obj"};
    memset(g, 0, sizeof *g);
    g->nproc = nproc;
    g->cap = batch;
    g->proc = calloc(nproc, 16);
    g->trial = calloc(nproc, 16);
    g->seq = calloc(nproc, sizeof *g->seq);
    g->paths = calloc(nproc, sizeof *g->paths);
    for (size_t p = 0; p < nproc; p++) {
        wire_uuid_new(g->proc[p]);
        wire_uuid_new(g->trial[p]);
        if (asprintf(&g->paths[p], "/home/lab/runs/run-%zu/model.bin", p) < 0)
            abort();
    }
    /* Processes run in waves of `conc` at a time, as a search driver runs
     * them (svm-grid: one or a few per core); events of the running ones
     * interleave. conc == nproc is the worst case: every batch touches every
     * trial. */
    size_t per = nevents / nproc; /* events per process, incl. 6 control events */
    for (size_t w = 0; w < nproc; w += conc) {
        size_t hi = w + conc < nproc ? w + conc : nproc;
        for (size_t p = w; p < hi; p++) {
            Tunetrail__ProcessStart *m =
                evfx_process_start(&g->b, ev(g, p), g->proc[p], NULL, "bench", "/usr/bin/svm-train");
            m->argv = argv, m->n_argv = 6;
            m->has_pid = 1, m->pid = 1000 + (int)p;
            added(g);
            evfx_trial_start(&g->b, ev(g, p), g->trial[p], g->proc[p], "libsvm", NULL);
            added(g);
            for (int k = 0; k < 2; k++) {
                evfx_param(&g->b, ev(g, p), g->trial[p], k ? "g" : "c", k ? "0.5" : "4", "argv");
                added(g);
            }
        }
        size_t body = (per - 6) * (hi - w);
        if (hi == nproc) /* the last wave takes the remainder */
            body = nevents - g->total - 2 * (hi - w);
        for (size_t i = 0; i < body; i++) {
            size_t p = w + i % (hi - w);
            Tunetrail__Event *e = ev(g, p);
            if (i % 10 < 7) {
                Tunetrail__Metric *m = evfx_metric(&g->b, e, g->trial[p], names[i % 4],
                                                   (double)(i % 1000) / 1000.0);
                m->has_step = 1;
                m->step = (int64_t)(i / (hi - w));
                m->split = "train";
            } else {
                Tunetrail__FileAccess *f = evfx_file(&g->b, e, g->proc[p], g->paths[p],
                                                     TUNETRAIL__FILE_ACCESS__MODE__MODE_WRITE);
                Tunetrail__FileStat *s = evfx_alloc(&g->b, sizeof *s);
                tunetrail__file_stat__init(s);
                s->has_dev = s->has_ino = s->has_size = s->has_mtime_ns = 1;
                s->dev = 2049, s->ino = 100000 + i, s->size = 4096 + i, s->mtime_ns = e->time_ns;
                f->stat = s;
            }
            added(g);
        }
        for (size_t p = w; p < hi; p++) {
            evfx_trial_end(&g->b, ev(g, p), g->trial[p], -1);
            added(g);
            evfx_process_end(&g->b, ev(g, p), g->proc[p], TUNETRAIL__PROCESS_END__HOW__END_EXIT,
                             p % 17 == 0); /* a few failures */
            added(g);
        }
    }
    flush_batch(g);
}

/* ---- ingest: DEALER -> collector_serve */
/* -C: the keys of one collector and one client. */
struct curve_keys {
    char spk[41], ssk[41], cpk[41], csk[41];
    struct curve_clients clients;
};

struct serve_arg {
    const struct curve_keys *curve; /* NULL: plain */
    void *zctx;
    const char *ep;
    tt_store *st;
    volatile sig_atomic_t stop;
    struct collector_stats stats;
    int rc;
    char err[256];
};

/* The CPU seconds (all threads) of the last run's timed part. */
static double cpu_last;

/* Signs the log's checkpoints and every ack, as tunetraild does. */
static struct tt_key signer;

static void *serve_thread(void *p)
{
    struct serve_arg *a = p;
    struct collector_opts o = {.quiet = 1, .signer = &signer};
    if (a->curve) {
        o.curve_secret = a->curve->ssk;
        o.clients = &a->curve->clients;
    }
    a->rc = collector_serve(a->zctx, a->ep, a->st, &a->stop, &a->stats, &o, a->err, sizeof a->err);
    return NULL;
}

static double run_ingest(void *zctx, const char *ep, const char *path, struct gen *g,
                         uint64_t *stored, const struct curve_keys *ck)
{
    char err[256];
    tt_store *st = store_open(path, STORE_CREATE, err, sizeof err);
    if (!st) {
        fprintf(stderr, "bench_ingest: store_open %s: %s\n", path, err);
        exit(1);
    }
    store_set_signer(st, &signer);
    struct serve_arg a = {.zctx = zctx, .ep = ep, .st = st, .curve = ck};
    pthread_t th;
    pthread_create(&th, NULL, serve_thread, &a);
    void *d = zmq_socket(zctx, ZMQ_DEALER);
    if (ck) {
        zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, ck->spk, 41);
        zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, ck->cpk, 41);
        zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, ck->csk, 41);
    }
    zmq_connect(d, ep);
    /* Warm-up: one empty batch proves the collector is bound before timing. */
    Tunetrail__Batch empty = TUNETRAIL__BATCH__INIT;
    empty.has_schema_version = 1, empty.schema_version = 1;
    uint8_t eb[16], ack[2048];
    size_t el = tunetrail__batch__pack(&empty, eb);
    zmq_send(d, eb, el, 0);
    zmq_recv(d, ack, sizeof ack, 0);

    const size_t window = 32; /* batches in flight: keeps the collector busy */
    size_t sent = 0, acked = 0;
    *stored = 0;
    double c0 = bench_cpu(), t0 = bench_now();
    while (acked < g->nout) {
        if (sent < g->nout && sent - acked < window) {
            zmq_send(d, g->out[sent].buf, g->out[sent].len, 0);
            sent++;
            continue;
        }
        int n = zmq_recv(d, ack, sizeof ack, 0);
        if (n < 0)
            continue;
        Tunetrail__Ack *a2 = tunetrail__ack__unpack(NULL, (size_t)(n > (int)sizeof ack ? (int)sizeof ack : n), ack);
        if (a2) {
            if (a2->status != TUNETRAIL__ACK__STATUS__ACK_OK)
                fprintf(stderr, "bench_ingest: batch %llu not ok: %s\n",
                        (unsigned long long)a2->batch_seq, a2->error ? a2->error : "");
            *stored += a2->stored;
            tunetrail__ack__free_unpacked(a2, NULL);
        }
        acked++;
    }
    double dt = bench_now() - t0;
    cpu_last = bench_cpu() - c0;
    a.stop = 1;
    pthread_join(th, NULL);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(d);
    store_close(st);
    return dt;
}

/* Stores g's batches on st straight through ingest_batches, in groups of 32
 * as collector_serve commits the batches queued in its window of 32 in
 * flight, with the WAL checkpoints off the ingest thread as tunetraild has
 * them. *stored: the events stored. Returns the seconds it took; the CPU
 * time of the process meanwhile goes to cpu_last. */
static double ingest_groups(tt_store *st, struct gen *g, uint64_t *stored)
{
    char err[256];
    if (store_background_checkpoints(st, err, sizeof err) < 0)
        fprintf(stderr, "bench_ingest: %s\n", err);
    *stored = 0;
    double c0 = bench_cpu(), t0 = bench_now();
    enum { GROUP = 32 };
    for (size_t i = 0; i < g->nout; i += GROUP) {
        struct ingest_input in[GROUP];
        struct ingest_result r[GROUP];
        size_t n = g->nout - i < GROUP ? g->nout - i : GROUP;
        for (size_t j = 0; j < n; j++)
            in[j] = (struct ingest_input){.buf = g->out[i + j].buf, .len = g->out[i + j].len};
        if (ingest_batches(st, in, n, r) < 0)
            fprintf(stderr, "bench_ingest: group at batch %zu: %s\n", i, r[0].error);
        for (size_t j = 0; j < n; j++)
            *stored += r[j].stored;
    }
    double dt = bench_now() - t0;
    cpu_last = bench_cpu() - c0;
    return dt;
}

/* ---- store only: ingest_batch in a loop, no ZeroMQ (-d): isolates the
 * store's own cost when tuning it. */
static double run_direct(const char *path, struct gen *g, uint64_t *stored)
{
    char err[256];
    tt_store *st = store_open(path, STORE_CREATE, err, sizeof err);
    if (!st) {
        fprintf(stderr, "bench_ingest: store_open %s: %s\n", path, err);
        exit(1);
    }
    double dt = ingest_groups(st, g, stored);
    store_close(st);
    return dt;
}

/* ---- baseline: PUSH -> PULL + one INSERT per event */
struct base_arg {
    void *zctx;
    const char *ep, *path;
    size_t nbatches;
    uint64_t inserted;
    double t_end, cpu_end;
};

static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int sh = 0; *p < end && sh < 64; sh += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

struct base_db {
    sqlite3 *db;
    sqlite3_stmt *ins, *begin, *commit;
};

static void base_open(struct base_db *d, const char *path)
{
    sqlite3_open(path, &d->db);
    sqlite3_exec(d->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                        "CREATE TABLE raw(body BLOB)", NULL, NULL, NULL);
    sqlite3_prepare_v2(d->db, "INSERT INTO raw(body) VALUES(?1)", -1, &d->ins, NULL);
    sqlite3_prepare_v2(d->db, "BEGIN", -1, &d->begin, NULL);
    sqlite3_prepare_v2(d->db, "COMMIT", -1, &d->commit, NULL);
}

static void base_close(struct base_db *d)
{
    sqlite3_finalize(d->ins), sqlite3_finalize(d->begin), sqlite3_finalize(d->commit);
    sqlite3_close(d->db);
}

/* One transaction, one prepared INSERT per event of the packed Batch. */
static uint64_t base_insert(struct base_db *d, const uint8_t *q, const uint8_t *end)
{
    uint64_t n = 0;
    sqlite3_step(d->begin), sqlite3_reset(d->begin);
    /* Walk the Batch's fields by hand: the events (field 4) are inserted
     * as they are, without decoding them. */
    while (q < end) {
        uint64_t tag, len;
        if (varint(&q, end, &tag) < 0)
            break;
        if ((tag & 7) == 0) {
            varint(&q, end, &len);
            continue;
        }
        if ((tag & 7) != 2 || varint(&q, end, &len) < 0 || len > (uint64_t)(end - q))
            break;
        if (tag >> 3 == 4) {
            sqlite3_bind_blob(d->ins, 1, q, (int)len, SQLITE_STATIC);
            sqlite3_step(d->ins);
            sqlite3_reset(d->ins);
            n++;
        }
        q += len;
    }
    sqlite3_step(d->commit), sqlite3_reset(d->commit);
    return n;
}

static void *base_thread(void *p)
{
    struct base_arg *a = p;
    struct base_db d;
    base_open(&d, a->path);
    void *pull = zmq_socket(a->zctx, ZMQ_PULL);
    zmq_bind(pull, a->ep);
    for (size_t b = 0; b < a->nbatches; b++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        zmq_msg_recv(&m, pull, 0);
        const uint8_t *q = zmq_msg_data(&m);
        a->inserted += base_insert(&d, q, q + zmq_msg_size(&m));
        zmq_msg_close(&m);
    }
    a->t_end = bench_now();
    a->cpu_end = bench_cpu();
    zmq_close(pull);
    base_close(&d);
    return NULL;
}

static double run_base_direct(const char *path, struct gen *g, uint64_t *inserted)
{
    struct base_db d;
    base_open(&d, path);
    *inserted = 0;
    double c0 = bench_cpu(), t0 = bench_now();
    for (size_t i = 0; i < g->nout; i++)
        *inserted += base_insert(&d, g->out[i].buf, g->out[i].buf + g->out[i].len);
    double dt = bench_now() - t0;
    cpu_last = bench_cpu() - c0;
    base_close(&d);
    return dt;
}

static double run_baseline(void *zctx, const char *ep, const char *path, struct gen *g,
                           uint64_t *inserted)
{
    struct base_arg a = {.zctx = zctx, .ep = ep, .path = path, .nbatches = g->nout};
    pthread_t th;
    pthread_create(&th, NULL, base_thread, &a);
    void *push = zmq_socket(zctx, ZMQ_PUSH);
    zmq_connect(push, ep);
    usleep(100000); /* let the PULL side bind: PUSH would otherwise queue, not fail */
    double c0 = bench_cpu(), t0 = bench_now();
    for (size_t i = 0; i < g->nout; i++)
        zmq_send(push, g->out[i].buf, g->out[i].len, 0);
    pthread_join(th, NULL);
    zmq_close(push);
    *inserted = a.inserted;
    cpu_last = a.cpu_end - c0;
    return a.t_end - t0;
}

static void rm_db(const char *p);

/* Server notices ("... does not exist, skipping") are not ours to print. */
static void pg_quiet(void *arg, const char *msg) { (void)arg, (void)msg; }

/* ---- PostgreSQL (-P) */
static PGconn *pg_conn(const char *uri)
{
    PGconn *c = PQconnectdb(uri);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "bench_ingest: %s", PQerrorMessage(c));
        exit(1);
    }
    PQsetNoticeProcessor(c, pg_quiet, NULL);
    return c;
}

static void pg_do(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_COPY_IN) {
        fprintf(stderr, "bench_ingest: %s: %s", sql, PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
}

/* The store's ingest: the batch log in the database, the replica applying it. */
static double run_pg(const char *uri, const char *replica, struct gen *g, uint64_t *stored)
{
    char err[1024];
    PGconn *c = pg_conn(uri);
    pg_do(c, "DROP SCHEMA IF EXISTS tunetrail CASCADE"); /* DROP is no row change */
    PQfinish(c);
    char lock[600];
    snprintf(lock, sizeof lock, "%s.lock", replica);
    rm_db(replica);
    unlink(lock);
    tt_store *st = store_open_replica(uri, replica, STORE_CREATE, err, sizeof err);
    if (!st) {
        fprintf(stderr, "bench_ingest: %s\n", err);
        exit(1);
    }
    double dt = ingest_groups(st, g, stored);
    store_close(st);
    rm_db(replica);
    unlink(lock);
    return dt;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* The baseline: the same rows (id, received_ns, body) by binary COPY into a
 * plain table, one transaction per group of 32. */
static double run_pg_copy(const char *uri, struct gen *g, uint64_t *rows)
{
    PGconn *c = pg_conn(uri);
    pg_do(c, "DROP TABLE IF EXISTS bench_copy");
    pg_do(c, "CREATE TABLE bench_copy(id bigint PRIMARY KEY, received_ns bigint NOT NULL,"
             " body bytea NOT NULL)");
    static const uint8_t head[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
    *rows = 0;
    double t0 = bench_now();
    for (size_t i = 0; i < g->nout; i += 32) {
        size_t n = g->nout - i < 32 ? g->nout - i : 32;
        pg_do(c, "BEGIN");
        pg_do(c, "COPY bench_copy FROM STDIN (FORMAT binary)");
        PQputCopyData(c, (const char *)head, sizeof head);
        for (size_t j = 0; j < n; j++) {
            uint8_t t[2 + 4 + 8 + 4 + 8 + 4];
            int64_t id = (int64_t)(i + j + 1), ns = (int64_t)(bench_now() * 1e9);
            t[0] = 0, t[1] = 3;
            put32(t + 2, 8), put32(t + 6, (uint32_t)((uint64_t)id >> 32)), put32(t + 10, (uint32_t)id);
            put32(t + 14, 8), put32(t + 18, (uint32_t)((uint64_t)ns >> 32)), put32(t + 22, (uint32_t)ns);
            put32(t + 26, (uint32_t)g->out[i + j].len);
            PQputCopyData(c, (const char *)t, sizeof t);
            PQputCopyData(c, (const char *)g->out[i + j].buf, (int)g->out[i + j].len);
            *rows += g->out[i + j].events;
        }
        PQputCopyData(c, "\377\377", 2);
        PQputCopyEnd(c, NULL);
        PGresult *r;
        while ((r = PQgetResult(c))) {
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                fprintf(stderr, "bench_ingest: COPY: %s", PQerrorMessage(c));
                exit(1);
            }
            PQclear(r);
        }
        pg_do(c, "COMMIT");
    }
    double dt = bench_now() - t0;
    pg_do(c, "DROP TABLE bench_copy");
    PQfinish(c);
    return dt;
}

static void rm_db(const char *p)
{
    char buf[512];
    unlink(p);
    snprintf(buf, sizeof buf, "%s-wal", p);
    unlink(buf);
    snprintf(buf, sizeof buf, "%s-shm", p);
    unlink(buf);
}

int main(int argc, char **argv)
{
    size_t n = 2000000, nproc = 300, conc = 4, batch = 1000;
    if (sodium_init() < 0)
        return 1;
    crypto_sign_keypair(signer.pk, signer.sk);
    signer.has_secret = 1;
    key_set_id(&signer);
    int rounds = 3, direct = 0, curve = 0;
    const char *transport = "ipc", *keep = NULL, *pguri = NULL;
    int c;
    while ((c = getopt(argc, argv, "n:p:c:b:r:t:k:P:dCh")) != -1) {
        switch (c) {
        case 'n': n = strtoull(optarg, NULL, 10); break;
        case 'p': nproc = strtoull(optarg, NULL, 10); break;
        case 'c': conc = strtoull(optarg, NULL, 10); break;
        case 'r': rounds = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
        case 'b': batch = strtoull(optarg, NULL, 10); break;
        case 't': transport = optarg; break;
        case 'k': keep = optarg; break;
        case 'd': direct = 1; break;
        case 'C': curve = 1; break;
        case 'P': pguri = optarg; break;
        default:
            fprintf(stderr, "usage: bench_ingest [-n EVENTS] [-p PROCESSES] [-c CONCURRENT] [-b BATCH] [-r ROUNDS]"
                            " [-t tcp|ipc] [-k KEEP.db] [-d] [-C] [-P URI]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (!nproc || !batch || n < nproc * 8) {
        fprintf(stderr, "bench_ingest: need EVENTS >= 8 * PROCESSES\n");
        return 2;
    }
    if (!conc || conc > nproc)
        conc = nproc;
    if (0) {
        fprintf(stderr, "bench_ingest: need EVENTS >= 6 * PROCESSES\n");
        return 2;
    }
    struct gen g;
    generate(&g, n, nproc, conc, batch);
    size_t bytes = 0;
    for (size_t i = 0; i < g.nout; i++)
        bytes += g.out[i].len;

    char dir[] = "/tmp/tt-bench-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char ep1[128], ep2[128], db1[128], db2[128];
    if (!strcmp(transport, "tcp")) {
        snprintf(ep1, sizeof ep1, "tcp://127.0.0.1:%d", 20000 + getpid() % 20000);
        snprintf(ep2, sizeof ep2, "tcp://127.0.0.1:%d", 20001 + getpid() % 20000);
    } else {
        snprintf(ep1, sizeof ep1, "ipc://%s/collector.sock", dir);
        snprintf(ep2, sizeof ep2, "ipc://%s/baseline.sock", dir);
    }
    snprintf(db1, sizeof db1, "%s", keep ? keep : "");
    if (!keep)
        snprintf(db1, sizeof db1, "%s/ingest.db", dir);
    else
        rm_db(db1);
    snprintf(db2, sizeof db2, "%s/baseline.db", dir);

    if (pguri) {
        char replica[160];
        snprintf(replica, sizeof replica, "%s/replica.db", dir);
        double ts = 1e30, tcp = 1e30;
        uint64_t st = 0, rows = 0;
        for (int r = 0; r < rounds; r++) {
            uint64_t s1, s2;
            double t1 = run_pg(pguri, replica, &g, &s1);
            double t2 = run_pg_copy(pguri, &g, &s2);
            ts = t1 < ts ? t1 : ts;
            tcp = t2 < tcp ? t2 : tcp;
            st = r ? (s1 < st ? s1 : st) : s1;
            rows = s2;
        }
        rmdir(dir);
        printf("workload: %zu events (%zu processes, %zu at a time, %zu batches of ~%zu, %.1f MB"
               " packed, groups of 32, best of %d)\n", g.total, nproc, conc, g.nout, batch,
               bytes / 1e6, rounds);
        printf("PostgreSQL store ingest: %.3fM events/s; baseline raw libpq COPY of the batches:"
               " %.3fM events/s; ratio %.2f\n",
               g.total / ts / 1e6, g.total / tcp / 1e6, ts / tcp);
        if (st != g.total || rows != g.total) {
            fprintf(stderr, "bench_ingest: stored %llu, copied %llu, expected %zu\n",
                    (unsigned long long)st, (unsigned long long)rows, g.total);
            return 1;
        }
        return 0;
    }
    /* Alternate the two, fresh files each round, and keep each one's best:
     * on a shared machine the load changes between runs. */
    struct curve_keys ck;
    memset(&ck, 0, sizeof ck);
    if (curve) {
        struct curve_client cl;
        if (zmq_curve_keypair(ck.spk, ck.ssk) < 0 || zmq_curve_keypair(ck.cpk, ck.csk) < 0) {
            fprintf(stderr, "bench_ingest: no CURVE in this libzmq\n");
            return 1;
        }
        memcpy(cl.key, ck.cpk, 41);
        snprintf(cl.identity, sizeof cl.identity, "bench@%d", (int)getpid());
        ck.clients.v = &cl;
        ck.clients.n = 1;
        if (direct) {
            fprintf(stderr, "bench_ingest: -C and -d exclude each other\n");
            return 2;
        }
        snprintf(ep2, sizeof ep2, "%s", ep1); /* the same endpoint, one after the other */
        snprintf(db2, sizeof db2, "%s/curve.db", dir);
        void *zctx = zmq_ctx_new();
        double tp = 1e30, tc = 1e30;
        uint64_t sp = 0, sc = 0;
        for (int r = 0; r < rounds; r++) {
            uint64_t s1, s2;
            rm_db(db1);
            rm_db(db2);
            double t1 = run_ingest(zctx, ep1, db1, &g, &s1, NULL);
            double t2 = run_ingest(zctx, ep2, db2, &g, &s2, &ck);
            tp = t1 < tp ? t1 : tp;
            tc = t2 < tc ? t2 : tc;
            sp = r ? (s1 < sp ? s1 : sp) : s1;
            sc = r ? (s2 < sc ? s2 : sc) : s2;
        }
        zmq_ctx_term(zctx);
        rm_db(db1);
        rm_db(db2);
        rmdir(dir);
        printf("workload: %zu events (%zu processes, %zu at a time, %zu batches of ~%zu, %.1f MB packed,"
               " %s, best of %d)\n", g.total, nproc, conc, g.nout, batch, bytes / 1e6, transport, rounds);
        printf("ingest with CURVE + identities: %.2fM events/s; without: %.2fM events/s; ratio %.2f\n",
               g.total / tc / 1e6, g.total / tp / 1e6, tc / tp);
        if (sp != g.total || sc != g.total) {
            fprintf(stderr, "bench_ingest: stored %llu plain, %llu with CURVE, expected %zu\n",
                    (unsigned long long)sp, (unsigned long long)sc, g.total);
            return 1;
        }
        return 0;
    }
    void *zctx = zmq_ctx_new();
    uint64_t stored = 0, inserted = 0;
    double ti = 1e30, tb = 1e30, ci = 1e30, cb = 1e30;
    for (int r = 0; r < rounds; r++) {
        uint64_t s1, s2;
        rm_db(db1);
        rm_db(db2);
        double t1 = direct ? run_direct(db1, &g, &s1) : run_ingest(zctx, ep1, db1, &g, &s1, NULL);
        ci = cpu_last < ci ? cpu_last : ci;
        double t2 = direct ? run_base_direct(db2, &g, &s2) : run_baseline(zctx, ep2, db2, &g, &s2);
        cb = cpu_last < cb ? cpu_last : cb;
        ti = t1 < ti ? t1 : ti;
        tb = t2 < tb ? t2 : tb;
        stored = r ? (s1 < stored ? s1 : stored) : s1;
        inserted = r ? (s2 < inserted ? s2 : inserted) : s2;
    }
    zmq_ctx_term(zctx);
    if (!keep)
        rm_db(db1);
    rm_db(db2);
    rmdir(dir);

    double ri = g.total / ti / 1e6, rb = g.total / tb / 1e6;
    printf("workload: %zu events (%zu processes, %zu at a time, %zu batches of ~%zu, %.1f MB packed, %s, best of %d)\n",
           g.total, nproc, conc, g.nout, batch, bytes / 1e6, direct ? "direct, no zmq" : transport,
           rounds);
    printf("ingest: %.2fM events/s; baseline raw zmq+insert: %.2fM events/s; ratio %.2f"
           " (budget >= 1M/s, <= 2x)\n",
           ri, rb, rb / ri);
    /* CPU time (all threads: client, ZeroMQ, store, checkpointer) is what the
     * other users of a shared machine do not inflate. */
    printf("cpu: ingest %.2f us/event; baseline %.2f us/event; ratio %.2f\n", ci / g.total * 1e6,
           cb / g.total * 1e6, ci / cb);
    if (stored != g.total || inserted != g.total) {
        fprintf(stderr, "bench_ingest: stored %llu, baseline inserted %llu, expected %zu\n",
                (unsigned long long)stored, (unsigned long long)inserted, g.total);
        return 1;
    }
    return 0;
}
