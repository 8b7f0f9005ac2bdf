/* test_store_collector.c - collector_serve over real ZeroMQ: acks after
 * commit, duplicates on resend, malformed messages and raw garbage on the TCP
 * port rejected and counted while the loop keeps serving. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "collector.h"
#include "event_fixture.h"
#include "store.h"
#include "tunetrail.pb-c.h"

struct srv {
    void *zctx;
    char ep[64];
    tt_store *st;
    volatile sig_atomic_t stop;
    struct collector_stats stats;
    int rc;
    char err[256];
};

static void *serve(void *p)
{
    struct srv *s = p;
    struct collector_opts o = {.quiet = 1};
    s->rc = collector_serve(s->zctx, s->ep, s->st, &s->stop, &s->stats, &o, s->err, sizeof s->err);
    return NULL;
}

/* A TrialStart and a metric of it, packed into buf (room for 512 bytes). */
static size_t pack_batch(uint8_t *buf, uint64_t batch_seq)
{
    static uint8_t proc[16] = {7, 7}, trial[16] = {8, 8};
    struct evfx_batch b = {0};
    evfx_trial_start(&b, evfx_event(&b, proc, 0, -1), trial, proc, NULL, NULL);
    evfx_metric(&b, evfx_event(&b, proc, 1, -1), trial, "accuracy", 0.75);
    uint8_t *packed;
    size_t n = evfx_pack(&b, 1, batch_seq, NULL, &packed);
    assert_true(n <= 512);
    memcpy(buf, packed, n);
    free(packed);
    evfx_clear(&b);
    return n;
}

static Tunetrail__Ack *recv_ack(void *d)
{
    uint8_t buf[2048];
    int n = zmq_recv(d, buf, sizeof buf, 0);
    assert_true(n > 0);
    Tunetrail__Ack *a = tunetrail__ack__unpack(NULL, (size_t)n, buf);
    assert_non_null(a);
    return a;
}

static void test_serve(void **state)
{
    struct srv s;
    memset(&s, 0, sizeof s);
    char path[] = "/tmp/tt-collector-test-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    char err[256];
    s.st = store_open(path, STORE_CREATE, err, sizeof err);
    assert_non_null(s.st);
    s.zctx = zmq_ctx_new();
    int port = 30000 + getpid() % 20000;
    snprintf(s.ep, sizeof s.ep, "tcp://127.0.0.1:%d", port);
    pthread_t th;
    pthread_create(&th, NULL, serve, &s);

    void *d = zmq_socket(s.zctx, ZMQ_DEALER);
    int tmo = 5000;
    zmq_setsockopt(d, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    assert_int_equal(zmq_connect(d, s.ep), 0);
    uint8_t buf[512];
    size_t n = pack_batch(buf, 41);

    /* first send: stored; second: the same events are duplicates */
    for (int round = 0; round < 2; round++) {
        assert_int_equal(zmq_send(d, buf, n, 0), (int)n);
        Tunetrail__Ack *a = recv_ack(d);
        assert_int_equal(a->status, TUNETRAIL__ACK__STATUS__ACK_OK);
        assert_int_equal(a->batch_seq, 41);
        assert_int_equal(a->stored, round ? 0 : 2);
        assert_int_equal(a->duplicates, round ? 2 : 0);
        tunetrail__ack__free_unpacked(a, NULL);
    }

    /* malformed payload: answered REJECTED, and the loop carries on */
    const char junk[] = "\x0a\xff\xff\xff\xff\x0f not a batch";
    zmq_send(d, junk, sizeof junk, 0);
    Tunetrail__Ack *a = recv_ack(d);
    assert_int_equal(a->status, TUNETRAIL__ACK__STATUS__ACK_REJECTED);
    assert_non_null(a->error);
    tunetrail__ack__free_unpacked(a, NULL);

    /* wrong framing: two non-empty frames after the identity - no reply */
    zmq_send(d, "x", 1, ZMQ_SNDMORE);
    zmq_send(d, buf, n, 0);

    /* raw garbage on the TCP port: a failed handshake, counted */
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(sock, (struct sockaddr *)&sa, sizeof sa), 0);
    const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    assert_true(write(sock, http, sizeof http - 1) > 0);
    usleep(100000);
    close(sock);

    /* still serving */
    n = pack_batch(buf, 42);
    zmq_send(d, buf, n, 0);
    a = recv_ack(d);
    assert_int_equal(a->status, TUNETRAIL__ACK__STATUS__ACK_OK);
    assert_int_equal(a->duplicates, 2);
    tunetrail__ack__free_unpacked(a, NULL);

    for (int i = 0; i < 50 && s.stats.rejected < 3; i++)
        usleep(100000);
    s.stop = 1;
    pthread_join(th, NULL);
    assert_int_equal(s.rc, 0);
    assert_int_equal(s.stats.batches, 3);
    assert_int_equal(s.stats.events, 2);
    assert_int_equal(s.stats.duplicates, 4);
    assert_int_equal(s.stats.rejected, 3);

    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(d);
    zmq_ctx_term(s.zctx);
    store_close(s.st);
    char p2[64];
    unlink(path);
    snprintf(p2, sizeof p2, "%s-wal", path);
    unlink(p2);
    snprintf(p2, sizeof p2, "%s-shm", path);
    unlink(p2);
}

static void test_bind_failure(void **state)
{
    char err[256];
    volatile sig_atomic_t stop = 0;
    void *zctx = zmq_ctx_new();
    assert_int_equal(collector_serve(zctx, "bogus://nowhere", NULL, &stop, NULL, NULL, err,
                                     sizeof err),
                     -1);
    assert_non_null(strstr(err, "bogus://nowhere"));
    zmq_ctx_term(zctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serve),
        cmocka_unit_test(test_bind_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
