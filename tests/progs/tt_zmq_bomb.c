/* tt_zmq_bomb ENDPOINT FRAMES MIB - one multipart message of FRAMES frames of
 * MIB MiB each through a ZeroMQ DEALER (the daemon-limits test). Every frame
 * points at one shared buffer (zero-copy), so the sender holds MIB MiB
 * whatever FRAMES is. Waits up to 60 s for libzmq to push it out (or for the
 * collector to hang up), then exits 0; 1 if the message could not be queued,
 * 2 on a usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: tt_zmq_bomb ENDPOINT FRAMES MIB\n");
        return 2;
    }
    long frames = strtol(argv[2], NULL, 10);
    size_t len = (size_t)strtoul(argv[3], NULL, 10) << 20;
    if (frames < 1 || len == 0)
        return 2;
    char *buf = malloc(len);
    if (!buf)
        return 1;
    memset(buf, 'x', len);
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 60000, sndto = 10000, once = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &sndto, sizeof sndto);
    /* no reconnect: once the collector hangs up, the rest is not resent */
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &once, sizeof once);
    int rc = 1;
    if (zmq_connect(s, argv[1]) != 0)
        goto out;
    for (long i = 0; i < frames; i++) {
        zmq_msg_t m;
        zmq_msg_init_data(&m, buf, len, NULL, NULL);
        if (zmq_msg_send(&m, s, i + 1 < frames ? ZMQ_SNDMORE : 0) < 0) {
            fprintf(stderr, "tt_zmq_bomb: frame %ld: %s\n", i, zmq_strerror(zmq_errno()));
            zmq_msg_close(&m);
            goto out;
        }
    }
    rc = 0;
    printf("queued %ld frames of %zu bytes\n", frames, len);
out:
    zmq_close(s); /* lingers until sent or the peer is gone */
    zmq_ctx_term(ctx);
    free(buf);
    return rc;
}
