/* fuzz_frame.c - libFuzzer target: each input is a spool file's bytes, read
 * frame by frame with wire_frame_next as the agent's spool reader and
 * `tunetrail flush` read a damaged spool. Every frame it returns must lie
 * inside the buffer, every step must move forward (a damaged spool must not
 * loop the reader), and a BATCH frame's payload is unpacked as a Batch.
 * Seeds: real spool files (tests/fuzz/seeds.sh). */
#include <stdint.h>
#include <stdlib.h>

#include "tunetrail.pb-c.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    for (;;) {
        size_t before = off;
        uint8_t kind;
        const uint8_t *payload;
        uint32_t plen;
        enum wire_frame_status s = wire_frame_next(data, size, &off, &kind, &payload, &plen);
        if (s == WIRE_FRAME_END || s == WIRE_FRAME_TORN)
            break;
        if (off <= before || off > size)
            abort();
        if (s != WIRE_FRAME_OK)
            continue;
        if (payload < data || plen > size || payload + plen > data + size)
            abort();
        if (kind == TT_FRAME_BATCH || kind == TT_FRAME_META) {
            Tunetrail__Batch *b = tunetrail__batch__unpack(NULL, plen, payload);
            if (b)
                tunetrail__batch__free_unpacked(b, NULL);
        }
    }
    return 0;
}
