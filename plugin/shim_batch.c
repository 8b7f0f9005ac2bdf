/* shim_batch.c - a Batch built by appending packed events; see shim.h.
 *
 * RATIONALE: a packed Batch is its header fields followed by
 * `tag(4, LEN) | varint len | Event` repeated, and protobuf readers accept
 * fields in any order. So events are packed once, straight into the datagram
 * buffer, and the header is written in front of them at send time: no
 * intermediate Batch struct, no allocation, no copy. */
#include "shim.h"

#include <string.h>

size_t shim_batch_room(const struct shim_batch *b)
{
    return sizeof b->buf - SHIM_BATCH_HDR_MAX - b->len;
}

void shim_batch_writer(struct shim_batch *b, struct pb_w *w)
{
    pb_init(w, b->buf + SHIM_BATCH_HDR_MAX + b->len, shim_batch_room(b));
}

int shim_batch_commit(struct shim_batch *b, const struct pb_w *w)
{
    if (w->err)
        return -1;
    b->len += w->len;
    return 0;
}

uint8_t *shim_batch_frame(uint8_t *events, size_t elen, const uint8_t sender[TT_UUID_LEN],
                          uint64_t batch_seq, size_t *len)
{
    uint8_t hdr[SHIM_BATCH_HDR_MAX];
    size_t h = shim_pb_batch_header(hdr, sender, batch_seq);
    uint8_t *start = events - h;
    memcpy(start, hdr, h);
    *len = h + elen;
    return start;
}

const uint8_t *shim_batch_finish(struct shim_batch *b, const uint8_t sender[TT_UUID_LEN],
                                 uint64_t batch_seq, size_t *len)
{
    return shim_batch_frame(b->buf + SHIM_BATCH_HDR_MAX, b->len, sender, batch_seq, len);
}
