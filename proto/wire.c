/* wire.c - spool frames, CRC-32C and UUIDs; see wire.h. libc only. */
#include "wire.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <unistd.h>

/* Bitwise-reflected CRC-32C, table built at compile time would need a
 * generator; a 256-entry table computed once is not signal-safe to build
 * lazily, so the table is a constant. Generated with polynomial 0x82F63B78. */
static const uint32_t crc_table[256] = {
#define C1(c) (((c) & 1) ? (((c) >> 1) ^ 0x82F63B78u) : ((c) >> 1))
#define C8(c) C1(C1(C1(C1(C1(C1(C1(C1(c))))))))
#define R4(n) C8(n), C8(n + 1), C8(n + 2), C8(n + 3)
#define R16(n) R4(n), R4(n + 4), R4(n + 8), R4(n + 12)
#define R64(n) R16(n), R16(n + 16), R16(n + 32), R16(n + 48)
    R64(0u), R64(64u), R64(128u), R64(192u)
#undef R64
#undef R16
#undef R4
#undef C8
#undef C1
};

uint32_t wire_crc32c(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    crc = ~crc;
    while (len--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t frame_crc(uint8_t kind, uint32_t len, const void *payload)
{
    uint8_t k[8] = {kind, 0, 0, 0};
    put32(k + 4, len);
    return wire_crc32c(wire_crc32c(0, k, sizeof k), payload, len);
}

void wire_frame_header(uint8_t hdr[TT_FRAME_HDR], uint8_t kind, const void *payload, uint32_t len)
{
    put32(hdr, TT_FRAME_MAGIC);
    hdr[4] = kind;
    hdr[5] = hdr[6] = hdr[7] = 0;
    put32(hdr + 8, len);
    put32(hdr + 12, frame_crc(kind, len, payload));
}

/* Finds the next magic strictly after `from`; returns len if none. */
static size_t next_magic(const uint8_t *buf, size_t len, size_t from)
{
    for (size_t i = from + 1; i + 4 <= len; i++)
        if (get32(buf + i) == TT_FRAME_MAGIC)
            return i;
    return len;
}

enum wire_frame_status wire_frame_next(const uint8_t *buf, size_t len, size_t *off, uint8_t *kind,
                                       const uint8_t **payload, uint32_t *plen)
{
    size_t o = *off;
    if (o >= len)
        return WIRE_FRAME_END;
    if (len - o < TT_FRAME_HDR) {
        /* A short tail is torn if it could be the start of a frame. */
        *off = len;
        return WIRE_FRAME_TORN;
    }
    const uint8_t *h = buf + o;
    uint32_t n = get32(h + 8);
    if (get32(h) != TT_FRAME_MAGIC || h[5] || h[6] || h[7] || n > TT_FRAME_MAX_PAYLOAD) {
        *off = next_magic(buf, len, o);
        return WIRE_FRAME_CORRUPT;
    }
    if (len - o - TT_FRAME_HDR < n) {
        /* Either the tail was torn by a crash, or the length is corrupt and a
         * later frame follows: resync if another magic exists. */
        size_t m = next_magic(buf, len, o);
        *off = m;
        return m == len ? WIRE_FRAME_TORN : WIRE_FRAME_CORRUPT;
    }
    if (frame_crc(h[4], n, h + TT_FRAME_HDR) != get32(h + 12)) {
        *off = next_magic(buf, len, o);
        return *off == len && o + TT_FRAME_HDR + n == len ? WIRE_FRAME_TORN : WIRE_FRAME_CORRUPT;
    }
    *kind = h[4];
    *payload = h + TT_FRAME_HDR;
    *plen = n;
    *off = o + TT_FRAME_HDR + n;
    return WIRE_FRAME_OK;
}

int wire_frame_append(int fd, uint8_t kind, const void *payload, uint32_t len)
{
    if (len > TT_FRAME_MAX_PAYLOAD) {
        errno = EMSGSIZE;
        return -1;
    }
    uint8_t hdr[TT_FRAME_HDR];
    wire_frame_header(hdr, kind, payload, len);
    struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)payload, len}};
    size_t left = sizeof hdr + len;
    int cnt = 2;
    struct iovec *v = iov;
    while (left > 0) {
        ssize_t w = writev(fd, v, cnt);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        left -= (size_t)w;
        while (cnt > 0 && (size_t)w >= v->iov_len) {
            w -= (ssize_t)v->iov_len;
            v++;
            cnt--;
        }
        if (cnt > 0) {
            v->iov_base = (uint8_t *)v->iov_base + w;
            v->iov_len -= (size_t)w;
        }
    }
    return 0;
}

int wire_uuid_new(uint8_t out[TT_UUID_LEN])
{
    size_t got = 0;
    while (got < TT_UUID_LEN) {
        ssize_t r = getrandom(out + got, TT_UUID_LEN - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)r;
    }
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x40);
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
    return 0;
}

char *wire_hex(char *out, const uint8_t *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
    return out;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int wire_unhex(uint8_t *out, const char *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(in[2 * i]), lo = hi < 0 ? -1 : hexval(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
