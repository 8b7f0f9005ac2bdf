/* shim_batch.c - a Batch built by appending packed events; see shim.h.
 *
 * RATIONALE: a packed Batch is its header fields followed by
 * `tag(4, LEN) | varint len | Event` repeated, and protobuf readers accept
 * fields in any order. So events are packed once, straight into the datagram
 * buffer, and the header is written in front of them at send time: no
 * intermediate Batch struct, no allocation, no copy. */
#include "shim.h"

#include <string.h>

static size_t varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

size_t shim_batch_room(const struct shim_batch *b)
{
    return sizeof b->buf - SHIM_BATCH_HDR_MAX - b->len;
}

int shim_batch_append(struct shim_batch *b, const Tunetrail__Event *ev)
{
    size_t sz = protobuf_c_message_get_packed_size(&ev->base);
    uint8_t pre[11];
    pre[0] = (4 << 3) | 2; /* field 4 (events), wire type LEN */
    size_t pl = 1 + varint(pre + 1, sz);
    if (pl + sz > shim_batch_room(b))
        return -1;
    uint8_t *p = b->buf + SHIM_BATCH_HDR_MAX + b->len;
    memcpy(p, pre, pl);
    protobuf_c_message_pack(&ev->base, p + pl);
    b->len += pl + sz;
    return 0;
}

uint8_t *shim_batch_frame(uint8_t *events, size_t elen, const uint8_t sender[TT_UUID_LEN],
                          uint64_t batch_seq, size_t *len)
{
    uint8_t hdr[SHIM_BATCH_HDR_MAX];
    size_t h = 0;
    hdr[h++] = (1 << 3) | 0; /* schema_version */
    h += varint(hdr + h, TUNETRAIL__SCHEMA_VERSION__SCHEMA_VERSION);
    hdr[h++] = (2 << 3) | 2; /* sender */
    hdr[h++] = TT_UUID_LEN;
    memcpy(hdr + h, sender, TT_UUID_LEN);
    h += TT_UUID_LEN;
    hdr[h++] = (3 << 3) | 0; /* batch_seq */
    h += varint(hdr + h, batch_seq);
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
