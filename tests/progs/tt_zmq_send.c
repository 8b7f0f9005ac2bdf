/* tt_zmq_send ENDPOINT KIND [ARG] - sends one hostile message to a collector
 * through a ZeroMQ DEALER (the agent's socket type), for the malformed-input
 * test. KIND:
 *   random N      N random bytes (from /dev/urandom)
 *   truncated     a Batch that starts like a valid one (schema_version,
 *                 sender, batch_seq) but whose event field claims more bytes
 *                 than follow
 *   oversized M   an M MiB Batch: a valid prefix and one event field filling
 *                 the rest (M < 256)
 *   file PATH     the bytes of PATH, as they are
 * Waits up to 2 s for a reply and prints "reply N bytes" or "no reply" (a
 * collector may drop what it rejects; either is fine for the test, which
 * checks that the collector stays up). Exits 0 if the message was sent,
 * 1 otherwise, 2 on a usage error. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static int fill_random(uint8_t *buf, size_t n)
{
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f)
        return -1;
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    return got == n ? 0 : -1;
}

/* A Batch header: schema_version=1, sender=16 bytes, batch_seq=7. */
static size_t batch_prefix(uint8_t *p)
{
    size_t o = 0;
    p[o++] = 0x08; /* field 1, varint */
    p[o++] = 0x01;
    p[o++] = 0x12; /* field 2, bytes */
    p[o++] = 16;
    for (int i = 0; i < 16; i++)
        p[o++] = (uint8_t)(0xA0 + i);
    p[o++] = 0x18; /* field 3, varint */
    p[o++] = 0x07;
    return o;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        goto usage;
    uint8_t *buf = NULL;
    size_t len = 0;
    const char *kind = argv[2];
    if (!strcmp(kind, "random") && argc > 3) {
        len = strtoul(argv[3], NULL, 10);
        if (!(buf = malloc(len ? len : 1)) || fill_random(buf, len) != 0)
            goto fail;
    } else if (!strcmp(kind, "truncated")) {
        if (!(buf = malloc(64)))
            goto fail;
        len = batch_prefix(buf);
        buf[len++] = 0x22; /* field 4 (events), length-delimited */
        buf[len++] = 100;  /* claims 100 bytes ... */
        buf[len++] = 0x0a; /* ... but only a few follow */
        buf[len++] = 0x10;
        buf[len++] = 0x01;
    } else if (!strcmp(kind, "oversized") && argc > 3) {
        len = strtoul(argv[3], NULL, 10) << 20;
        if (len < 64 || !(buf = malloc(len)))
            goto fail;
        size_t o = batch_prefix(buf);
        /* One event field whose length covers exactly the rest of the
         * message, as a padded 4-byte varint (valid protobuf; < 256 MiB). */
        size_t body = len - o - 5;
        buf[o++] = 0x22;
        buf[o++] = (uint8_t)((body & 0x7f) | 0x80);
        buf[o++] = (uint8_t)(((body >> 7) & 0x7f) | 0x80);
        buf[o++] = (uint8_t)(((body >> 14) & 0x7f) | 0x80);
        buf[o++] = (uint8_t)((body >> 21) & 0x7f);
        memset(buf + o, 'x', len - o);
    } else if (!strcmp(kind, "file") && argc > 3) {
        FILE *f = fopen(argv[3], "rb");
        if (!f || fseek(f, 0, SEEK_END) != 0)
            goto fail;
        long n = ftell(f);
        rewind(f);
        if (n < 0 || !(buf = malloc((size_t)n + 1)) || fread(buf, 1, (size_t)n, f) != (size_t)n) {
            fclose(f);
            goto fail;
        }
        fclose(f);
        len = (size_t)n;
    } else {
        goto usage;
    }

    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 3000, rcvto = 2000, sndto = 3000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &rcvto, sizeof rcvto);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &sndto, sizeof sndto);
    int rc = 1;
    if (zmq_connect(s, argv[1]) != 0) {
        fprintf(stderr, "tt_zmq_send: connect %s: %s\n", argv[1], zmq_strerror(zmq_errno()));
        goto out;
    }
    if (zmq_send(s, buf, len, 0) < 0) {
        fprintf(stderr, "tt_zmq_send: send: %s\n", zmq_strerror(zmq_errno()));
        goto out;
    }
    rc = 0;
    char reply[4096];
    int n = zmq_recv(s, reply, sizeof reply, 0);
    if (n >= 0)
        printf("reply %d bytes\n", n);
    else
        printf("no reply\n");
out:
    zmq_close(s);
    zmq_ctx_term(ctx);
    free(buf);
    return rc;

fail:
    perror("tt_zmq_send");
    free(buf);
    return 1;
usage:
    fprintf(stderr, "usage: tt_zmq_send ENDPOINT random N | truncated | oversized MIB | file PATH\n");
    return 2;
}
