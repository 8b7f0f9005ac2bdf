/* tt_zmq_impostor ENDPOINT READY_FILE MODE - a collector impostor for the
 * ack-trust test (tests/e2e/ack_trust.sh): binds a ROUTER on ENDPOINT, touches
 * READY_FILE, and acks every Batch "ok, all stored" without storing anything,
 * until SIGTERM. MODE:
 *   plain    acks as a collector without a key would: no digest, no signature
 *   digest   names the batch's true SHA-256 but signs with a key of its own
 *   replay   signs with its own key and names a wrong digest
 * Prints "acked N batches" on exit. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include <sodium.h>

#include "checkpoint.h"
#include "tunetrail.pb-c.h"

static volatile sig_atomic_t stop;
static void on_term(int s) { (void)s; stop = 1; }

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[3], "plain") && strcmp(argv[3], "digest") && strcmp(argv[3], "replay"))) {
        fprintf(stderr, "usage: tt_zmq_impostor ENDPOINT READY_FILE plain|digest|replay\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    struct tt_key k = {0};
    crypto_sign_keypair(k.pk, k.sk);
    k.has_secret = 1;
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    void *ctx = zmq_ctx_new(), *r = zmq_socket(ctx, ZMQ_ROUTER);
    if (zmq_bind(r, argv[1]) < 0) {
        fprintf(stderr, "tt_zmq_impostor: bind %s: %s\n", argv[1], zmq_strerror(zmq_errno()));
        return 1;
    }
    FILE *f = fopen(argv[2], "w");
    if (f)
        fclose(f);
    unsigned long acked = 0;
    while (!stop) {
        zmq_pollitem_t it = {r, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&id, r, 0) < 0 || zmq_msg_recv(&body, r, 0) < 0)
            goto next;
        Tunetrail__Batch *b = tunetrail__batch__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
        if (!b)
            goto next;
        Tunetrail__Ack a = TUNETRAIL__ACK__INIT;
        a.has_batch_seq = a.has_status = a.has_stored = a.has_duplicates = 1;
        a.batch_seq = b->batch_seq;
        a.status = TUNETRAIL__ACK__STATUS__ACK_OK;
        a.stored = (uint32_t)b->n_events;
        uint8_t d[32], sig[64];
        crypto_generichash(d, 32, zmq_msg_data(&body), zmq_msg_size(&body), NULL, 0);
        if (!strcmp(argv[3], "replay"))
            d[0] ^= 1;
        if (strcmp(argv[3], "plain")) {
            struct ack_claim c = {.batch_seq = a.batch_seq, .status = (int)a.status, .stored = (int)a.stored};
            memcpy(c.digest, d, 32);
            ack_sign(&k, &c, sig);
            a.has_batch_digest = a.has_ack_key = a.has_ack_sig = 1;
            a.batch_digest = (ProtobufCBinaryData){32, d};
            a.ack_key = (ProtobufCBinaryData){32, k.pk};
            a.ack_sig = (ProtobufCBinaryData){64, sig};
        }
        uint8_t out[512];
        size_t n = tunetrail__ack__pack(&a, out);
        zmq_send(r, zmq_msg_data(&id), zmq_msg_size(&id), ZMQ_SNDMORE);
        zmq_send(r, out, n, 0);
        acked++;
        tunetrail__batch__free_unpacked(b, NULL);
    next:
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
    printf("acked %lu batches\n", acked);
    zmq_close(r);
    zmq_ctx_term(ctx);
    return 0;
}
