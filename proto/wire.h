/* wire.h - helpers shared by every hop: spool frames and file names,
 * CRC-32C, UUIDs.
 *
 * Linked into the shim, so: libc only, no allocation, no global state,
 * async-signal-safe where noted.
 *
 * Error convention: functions return 0 on success and -1 on failure (errno set
 * where a syscall failed); frame readers return a wire_frame_status.
 */
#ifndef TT_WIRE_H
#define TT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define TT_UUID_LEN 16
#define TT_UUID_HEX_LEN 32

/* Spool frame: a fixed 16-byte little-endian header, then the payload.
 *   magic u32 "TTS1" | kind u8 | 3 zero bytes | len u32 | crc32c u32
 * The CRC covers kind, len and payload, so a torn or overwritten frame is
 * detected and never misread. Payloads are capped so a corrupt length cannot
 * make a reader allocate or skip gigabytes. */
#define TT_FRAME_MAGIC 0x31535454u /* "TTS1" */
#define TT_FRAME_HDR 16
#define TT_FRAME_MAX_PAYLOAD (16u << 20) /* 16 MiB */

/* Spool file names, under $TUNETRAIL_HOME/spool. Writers and readers meet
 * only by these names, so each piece is defined here once:
 *   shim-<session hex, or "bare">-<process uuid hex>[.N].spool  (a shim's;
 *       .N when a reader took the previous name first: plugin/shim_conn.c)
 *   agent-<sender uuid hex>.spool  (a `tunetrail run`'s, or a flush's own)
 * Readers find them with the globs below. */
#define TT_SPOOL_SHIM "shim-"
#define TT_SPOOL_AGENT "agent-"
#define TT_SPOOL_BARE "bare" /* in place of the session: a run without an agent */
#define TT_SPOOL_SEP "-"     /* between session and process */
#define TT_SPOOL_EXT ".spool"
#define TT_SPOOL_AGENT_FMT TT_SPOOL_AGENT "%s" TT_SPOOL_EXT /* sender hex */
#define TT_SPOOL_AGENT_GLOB TT_SPOOL_AGENT "*" TT_SPOOL_EXT
#define TT_SPOOL_SHIM_GLOB TT_SPOOL_SHIM "*" TT_SPOOL_EXT
#define TT_SPOOL_SHIM_BARE_GLOB TT_SPOOL_SHIM TT_SPOOL_BARE TT_SPOOL_SEP "*" TT_SPOOL_EXT
#define TT_SPOOL_SHIM_SESSION_GLOB_FMT TT_SPOOL_SHIM "%s" TT_SPOOL_SEP "*" TT_SPOOL_EXT /* session hex */
/* Subdirectory where `tunetrail flush` keeps files it found damaged, under
 * their own names; no glob above matches there, so they are never reshipped. */
#define TT_SPOOL_DAMAGED "damaged"

/* A batch may span consecutive BATCH frames with one batch_seq ("parts",
 * each a Batch with the same header and a run of the events: agent spools,
 * collector/agent/spool.c), so damage costs one part. Readers join them;
 * a reader that does not treats each part as a batch and loses nothing.
 * META frames are redundant copies; readers that do not know them skip them. */
enum tt_frame_kind {
    TT_FRAME_BATCH = 1, /* payload: a packed tunetrail.Batch, or one part of it */
    TT_FRAME_ACKED = 2, /* payload: u64 LE batch_seq the collector committed */
    TT_FRAME_META = 3,  /* payload: a packed Batch (the header of the batch it was
                         * copied from) holding a copy of the session's SessionStart */
};

enum wire_frame_status {
    WIRE_FRAME_OK = 0,      /* payload, plen and kind set; off advanced */
    WIRE_FRAME_END = 1,     /* clean end of buffer */
    WIRE_FRAME_TORN = 2,    /* incomplete frame at the end: skipped */
    WIRE_FRAME_CORRUPT = 3, /* bad bytes: *off advanced past them to the next magic */
};

/* CRC-32C (Castagnoli). Pure function; async-signal-safe. */
uint32_t wire_crc32c(uint32_t crc, const void *buf, size_t len);

/* Writes the 16-byte header for a frame of `kind` with `payload` into hdr.
 * Async-signal-safe. */
void wire_frame_header(uint8_t hdr[TT_FRAME_HDR], uint8_t kind, const void *payload, uint32_t len);

/* Reads the frame at buf[*off]. On OK, points *payload into buf (no copy). On
 * CORRUPT, advances *off to the next plausible frame start so the caller can
 * carry on; on TORN, sets *off = len. */
enum wire_frame_status wire_frame_next(const uint8_t *buf, size_t len, size_t *off, uint8_t *kind,
                                       const uint8_t **payload, uint32_t *plen);

/* Appends one frame with a single write() on an O_APPEND fd, so concurrent
 * appenders never interleave. Retries on EINTR and short writes. Returns 0/-1.
 * Async-signal-safe (uses a stack buffer up to 64 KiB, writev beyond). */
int wire_frame_append(int fd, uint8_t kind, const void *payload, uint32_t len);

/* Fills out with a random RFC 4122 version-4 UUID from getrandom(). */
int wire_uuid_new(uint8_t out[TT_UUID_LEN]);

/* Lower-case hex of n bytes into out (2n chars + NUL). Returns out. */
char *wire_hex(char *out, const uint8_t *in, size_t n);

/* Parses 2n hex chars into n bytes. Returns 0/-1. */
int wire_unhex(uint8_t *out, const char *in, size_t n);

#endif
