/* shim_pb.c - the shim's protobuf writer; see shim_pb.h. */
#include "shim_pb.h"

#include <string.h>

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2 };

void pb_init(struct pb_w *w, void *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->err = 0;
}

static int fits(struct pb_w *w, size_t n)
{
    if (w->err || n > w->cap - w->len) {
        w->err = 1;
        return 0;
    }
    return 1;
}

static size_t varint_at(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

void pb_varint(struct pb_w *w, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = varint_at(tmp, v);
    if (fits(w, n)) {
        memcpy(w->buf + w->len, tmp, n);
        w->len += n;
    }
}

void pb_tag(struct pb_w *w, unsigned field, unsigned wire_type)
{
    pb_varint(w, (uint64_t)field << 3 | wire_type);
}

void pb_u64(struct pb_w *w, unsigned field, uint64_t v)
{
    pb_tag(w, field, WT_VARINT);
    pb_varint(w, v);
}

void pb_i64(struct pb_w *w, unsigned field, int64_t v)
{
    pb_tag(w, field, WT_VARINT);
    pb_varint(w, (uint64_t)v);
}

void pb_bool(struct pb_w *w, unsigned field, int v)
{
    pb_u64(w, field, v ? 1 : 0);
}

void pb_fixed64(struct pb_w *w, unsigned field, uint64_t bits)
{
    pb_tag(w, field, WT_I64);
    if (fits(w, 8)) {
        for (int i = 0; i < 8; i++) /* little-endian on the wire, whatever the host */
            w->buf[w->len++] = (uint8_t)(bits >> (8 * i));
    }
}

void pb_double(struct pb_w *w, unsigned field, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    pb_fixed64(w, field, bits);
}

void pb_doubles(struct pb_w *w, unsigned field, const double *v, size_t n)
{
    if (!n)
        return;
    pb_tag(w, field, WT_LEN);
    pb_varint(w, 8 * (uint64_t)n);
    if (!fits(w, 8 * n))
        return;
    for (size_t k = 0; k < n; k++) {
        uint64_t bits;
        memcpy(&bits, &v[k], sizeof bits);
        for (int i = 0; i < 8; i++)
            w->buf[w->len++] = (uint8_t)(bits >> (8 * i));
    }
}

void pb_bytes(struct pb_w *w, unsigned field, const void *p, size_t n)
{
    pb_tag(w, field, WT_LEN);
    pb_varint(w, n);
    if (fits(w, n)) {
        memcpy(w->buf + w->len, p, n);
        w->len += n;
    }
}

void pb_str(struct pb_w *w, unsigned field, const char *s)
{
    if (s)
        pb_bytes(w, field, s, strlen(s));
}

size_t pb_begin(struct pb_w *w, unsigned field)
{
    pb_tag(w, field, WT_LEN);
    size_t mark = w->len;
    if (fits(w, PB_LEN_RESERVE))
        w->len += PB_LEN_RESERVE;
    return mark;
}

void pb_end(struct pb_w *w, size_t mark)
{
    if (w->err)
        return;
    size_t body = w->len - mark - PB_LEN_RESERVE;
    if (body > PB_LEN_MAX) {
        w->err = 1;
        return;
    }
    uint8_t *p = w->buf + mark;
    size_t n = varint_at(p, body); /* n <= PB_LEN_RESERVE, body starts after the reserve */
    if (n < PB_LEN_RESERVE) {
        memmove(p + n, p + PB_LEN_RESERVE, body);
        w->len -= PB_LEN_RESERVE - n;
    }
}

uint8_t *pb_room(struct pb_w *w, size_t *avail)
{
    if (w->err) {
        *avail = 0;
        return NULL;
    }
    *avail = w->cap - w->len;
    return w->buf + w->len;
}

void pb_advance(struct pb_w *w, size_t n)
{
    if (fits(w, n))
        w->len += n;
}

void shim_pb_file_stat(struct pb_w *w, unsigned field, const struct stat *st)
{
    size_t m = pb_begin(w, field);
    pb_u64(w, PB_F_FILE_STAT_DEV, (uint64_t)st->st_dev);
    pb_u64(w, PB_F_FILE_STAT_INO, (uint64_t)st->st_ino);
    pb_u64(w, PB_F_FILE_STAT_SIZE, (uint64_t)st->st_size);
    pb_i64(w, PB_F_FILE_STAT_MTIME_NS, (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec);
    pb_end(w, m);
}

struct shim_pb_ev shim_pb_event_begin(struct pb_w *w, const uint8_t origin[16], uint64_t seq,
                                      int64_t time_ns, unsigned kind)
{
    struct shim_pb_ev m;
    m.event = pb_begin(w, PB_F_BATCH_EVENTS);
    pb_bytes(w, PB_F_EVENT_ORIGIN, origin, 16);
    pb_u64(w, PB_F_EVENT_SEQ, seq);
    pb_i64(w, PB_F_EVENT_TIME_NS, time_ns);
    m.kind = pb_begin(w, kind);
    return m;
}

void shim_pb_event_end(struct pb_w *w, struct shim_pb_ev m)
{
    pb_end(w, m.kind);
    pb_end(w, m.event);
}

size_t shim_pb_batch_header(uint8_t *out, const uint8_t sender[16], uint64_t batch_seq)
{
    struct pb_w w;
    pb_init(&w, out, SHIM_PB_BATCH_HDR_MAX);
    pb_u32(&w, PB_F_BATCH_SCHEMA_VERSION, PB_SCHEMA_VERSION);
    pb_bytes(&w, PB_F_BATCH_SENDER, sender, 16);
    pb_u64(&w, PB_F_BATCH_BATCH_SEQ, batch_seq);
    return w.len; /* 2 + 18 + 1 + at most 10 = 31: always fits */
}
