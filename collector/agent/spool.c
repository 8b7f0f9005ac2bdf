/* spool.c - see spool.h. Frames themselves are proto/wire.c's. */
#include "spool.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tunetrail.pb-c.h"
#include "wire.h"

int spool_open_locked(const char *path, int create, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
    if (fd < 0)
        return tt_fail(err, errlen, "cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return tt_fail(err, errlen, "%s is locked by a live agent", path);
    }
    return fd;
}

/* ---- Batches split and joined at event boundaries, on the packed bytes
 * (tunetrail.proto: Batch.events = 4, Event.session_start = 10,
 * Event.session_end = 11). */
#define PB_BATCH_EVENTS 4
#define PB_EVENT_SESSION_START 10
#define PB_EVENT_SESSION_END 11

static int pb_varint(const uint8_t *p, size_t len, size_t *off, uint64_t *v)
{
    *v = 0;
    for (int sh = 0; sh < 64 && *off < len; sh += 7) {
        uint8_t b = p[(*off)++];
        *v |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

/* Steps over the field at p[*off], setting its number and the start of its
 * body (for a length-delimited field). Returns 0, or -1 if malformed. */
static int pb_field(const uint8_t *p, size_t len, size_t *off, uint32_t *num, size_t *body)
{
    uint64_t key, n;
    if (pb_varint(p, len, off, &key) < 0)
        return -1;
    *num = (uint32_t)(key >> 3);
    *body = *off;
    switch (key & 7) {
    case 0: return pb_varint(p, len, off, &n);
    case 1: n = 8; break;
    case 5: n = 4; break;
    case 2:
        if (pb_varint(p, len, off, &n) < 0)
            return -1;
        *body = *off;
        break;
    default: return -1;
    }
    if (n > len - *off)
        return -1;
    *off += n;
    return 0;
}

/* 1 if the packed Event p[0, len) has field num. */
static int event_has(const uint8_t *p, size_t len, uint32_t num)
{
    size_t off = 0, body;
    uint32_t f;
    while (off < len)
        if (pb_field(p, len, &off, &f, &body) < 0)
            return 0;
        else if (f == num)
            return 1;
    return 0;
}

/* Where a packed Batch's events start (the header is every field before:
 * ship.c packs it first), its event count, and the extent of its
 * SessionStart event if any. -1 if it is not laid out that way. */
struct batch_layout {
    size_t ev0, nev, ss, ss_end;
    int has_end;
};

static int batch_layout(const uint8_t *p, size_t len, struct batch_layout *l)
{
    memset(l, 0, sizeof *l);
    l->ev0 = len;
    size_t off = 0, body;
    uint32_t f;
    while (off < len) {
        size_t start = off;
        if (pb_field(p, len, &off, &f, &body) < 0)
            return -1;
        if (f != PB_BATCH_EVENTS) {
            if (l->ev0 != len)
                return -1; /* a header field after the events */
            continue;
        }
        if (l->ev0 == len)
            l->ev0 = start;
        l->nev++;
        if (!l->ss_end && event_has(p + body, off - body, PB_EVENT_SESSION_START)) {
            l->ss = start;
            l->ss_end = off;
        }
        l->has_end |= event_has(p + body, off - body, PB_EVENT_SESSION_END);
    }
    return 0;
}

/* The META copy of the last SessionStart spooled, with the file it went to:
 * written again before that session's SessionEnd. An agent spools one
 * session, from one thread. */
static struct {
    dev_t dev;
    ino_t ino;
    uint8_t *buf;
    size_t len;
} meta_kept;

static uint8_t *put_frame(uint8_t *o, uint8_t kind, const uint8_t *hdr, size_t hl, const uint8_t *ev,
                          size_t el)
{
    memcpy(o + TT_FRAME_HDR, hdr, hl);
    if (el)
        memcpy(o + TT_FRAME_HDR + hl, ev, el);
    wire_frame_header(o, kind, o + TT_FRAME_HDR, (uint32_t)(hl + el));
    return o + TT_FRAME_HDR + hl + el;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int spool_append_batch(int fd, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    struct batch_layout l;
    if (len > TT_FRAME_MAX_PAYLOAD || batch_layout(buf, len, &l) < 0 || l.nev == 0) {
        if (wire_frame_append(fd, TT_FRAME_BATCH, buf, (uint32_t)len) < 0)
            return tt_fail(err, errlen, "spool write: %s", strerror(errno));
        return 0;
    }
    struct stat st = {0};
    if ((l.ss_end || l.has_end) && fstat(fd, &st) < 0)
        return tt_fail(err, errlen, "spool stat: %s", strerror(errno));
    const size_t hl = l.ev0, fh = TT_FRAME_HDR + hl;
    if (l.ss_end) {
        uint8_t *m = malloc(hl + l.ss_end - l.ss);
        if (!m)
            return tt_fail(err, errlen, "out of memory");
        memcpy(m, buf, hl);
        memcpy(m + hl, buf + l.ss, l.ss_end - l.ss);
        free(meta_kept.buf);
        meta_kept.buf = m;
        meta_kept.len = hl + l.ss_end - l.ss;
        meta_kept.dev = st.st_dev;
        meta_kept.ino = st.st_ino;
    }
    int meta = meta_kept.buf && (l.ss_end || l.has_end) && meta_kept.dev == st.st_dev &&
               meta_kept.ino == st.st_ino;
    uint8_t *out = malloc(len + l.nev * fh + (meta ? TT_FRAME_HDR + meta_kept.len : 0));
    if (!out)
        return tt_fail(err, errlen, "out of memory");
    uint8_t *o = out;
    if (meta)
        o = put_frame(o, TT_FRAME_META, meta_kept.buf, meta_kept.len, NULL, 0);
    size_t off = l.ev0, part = l.ev0, body;
    uint32_t f;
    while (off < len) {
        pb_field(buf, len, &off, &f, &body); /* checked by batch_layout */
        if (off - part >= SPOOL_PART_BYTES || off == len) {
            o = put_frame(o, TT_FRAME_BATCH, buf, hl, buf + part, off - part);
            part = off;
        }
    }
    /* one write: O_APPEND keeps a batch's frames together */
    int rc = write_all(fd, out, (size_t)(o - out));
    free(out);
    if (rc < 0)
        return tt_fail(err, errlen, "spool write: %s", strerror(errno));
    return 0;
}

int spool_append_acked(int fd, uint64_t seq, char *err, size_t errlen)
{
    uint8_t p[8];
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(seq >> (8 * i));
    if (wire_frame_append(fd, TT_FRAME_ACKED, p, sizeof p) < 0)
        return tt_fail(err, errlen, "spool write: %s", strerror(errno));
    return 0;
}

int spool_sync(int fd, char *err, size_t errlen)
{
    if (fdatasync(fd) < 0)
        return tt_fail(err, errlen, "spool fdatasync: %s", strerror(errno));
    return 0;
}

/* One CRC-valid BATCH or META frame, before parts are joined. */
struct frame {
    uint64_t seq;
    const uint8_t *p;
    size_t len, nev;
    int has_ss;
};

struct frames {
    struct frame *v;
    size_t n, cap;
};

static int frames_add(struct frames *fs, struct frame f)
{
    if (fs->n == fs->cap) {
        size_t cap = fs->cap ? fs->cap * 2 : 64;
        struct frame *p = realloc(fs->v, cap * sizeof *p);
        if (!p)
            return -1;
        fs->v = p;
        fs->cap = cap;
    }
    fs->v[fs->n++] = f;
    return 0;
}

static int damage_add(struct spool_contents *c, size_t off, size_t len, const char *why)
{
    c->damaged_bytes += len;
    struct spool_damage *last = c->ndamage ? &c->damage[c->ndamage - 1] : NULL;
    if (last && last->off + last->len == off) {
        last->len += len; /* one report for adjacent skips, e.g. a zeroed block */
        return 0;
    }
    struct spool_damage *p = realloc(c->damage, (c->ndamage + 1) * sizeof *p);
    if (!p)
        return -1;
    c->damage = p;
    c->damage[c->ndamage++] = (struct spool_damage){off, len, why};
    return 0;
}

/* Unpacks a BATCH or META payload: its seq, event count and whether it holds
 * a SessionStart. -1 if it is not a Batch. */
static int frame_decode(const uint8_t *p, size_t len, struct frame *f)
{
    Tunetrail__Batch *b = tunetrail__batch__unpack(NULL, len, p);
    if (!b)
        return -1;
    *f = (struct frame){.seq = b->batch_seq, .p = p, .len = len, .nev = b->n_events};
    for (size_t i = 0; i < b->n_events; i++)
        f->has_ss |= b->events[i]->kind_case == TUNETRAIL__EVENT__KIND_SESSION_START;
    tunetrail__batch__free_unpacked(b, NULL);
    return 0;
}

/* Appends the events of the part f (its header dropped) to batch b, which
 * then owns a joined copy. */
static int batch_join(struct spool_batch *b, const struct frame *f)
{
    struct batch_layout l;
    if (batch_layout(f->p, f->len, &l) < 0)
        return -1;
    size_t add = f->len - l.ev0;
    uint8_t *n = realloc(b->own, b->len + add);
    if (!n)
        return -1;
    if (!b->own)
        memcpy(n, b->buf, b->len);
    memcpy(n + b->len, f->p + l.ev0, add);
    b->own = n;
    b->buf = n;
    b->len += add;
    b->nevents += f->nev;
    return 0;
}

static int batch_add(struct spool_contents *c, size_t *cap, const struct frame *f)
{
    if (c->nbatch == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        struct spool_batch *p = realloc(c->batch, *cap * sizeof *p);
        if (!p)
            return -1;
        c->batch = p;
    }
    c->batch[c->nbatch++] = (struct spool_batch){.seq = f->seq, .buf = f->p, .len = f->len,
                                                 .nevents = f->nev};
    return 0;
}

/* Builds c->batch from the intact frames: consecutive parts with one seq are
 * joined; a SessionStart whose part was lost comes back from a META copy (into
 * the rest of its batch, or as a batch of its own, first). */
static int batches_build(struct spool_contents *c, const struct frames *parts, const struct frames *metas)
{
    size_t cap = 0;
    int have_ss = 0;
    for (size_t i = 0; i < parts->n; i++) {
        const struct frame *f = &parts->v[i];
        have_ss |= f->has_ss;
        if (i > 0 && parts->v[i - 1].seq == f->seq) {
            if (batch_join(&c->batch[c->nbatch - 1], f) < 0)
                return -1;
        } else if (batch_add(c, &cap, f) < 0) {
            return -1;
        }
    }
    if (have_ss || metas->n == 0)
        return 0;
    const struct frame *m = &metas->v[0];
    for (size_t i = 0; i < c->nbatch; i++)
        if (c->batch[i].seq == m->seq) {
            c->batch[i].recovered = 1;
            return batch_join(&c->batch[i], m);
        }
    if (batch_add(c, &cap, m) < 0)
        return -1;
    struct spool_batch r = c->batch[c->nbatch - 1];
    memmove(c->batch + 1, c->batch, (c->nbatch - 1) * sizeof *c->batch);
    r.recovered = 1;
    c->batch[0] = r;
    return 0;
}

int spool_load_fd(int fd, struct spool_contents *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return tt_fail(err, errlen, "spool stat: %s", strerror(errno));
    size_t cap = (size_t)st.st_size + 1, len = 0;
    c->data = malloc(cap);
    if (!c->data)
        return tt_fail(err, errlen, "out of memory");
    /* pread from 0: the fd is O_APPEND and may have been written through */
    for (;;) {
        if (len == cap) {
            uint8_t *p = realloc(c->data, cap * 2);
            if (!p)
                goto oom;
            c->data = p;
            cap *= 2;
        }
        ssize_t r = pread(fd, c->data + len, cap - len, (off_t)len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            tt_fail(err, errlen, "spool read: %s", strerror(errno));
            goto err;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    c->len = len;
    size_t off = 0;
    uint64_t *acked = NULL;
    size_t nacked = 0, acap = 0;
    struct frames parts = {0}, metas = {0};
    for (;;) {
        uint8_t kind;
        const uint8_t *pl;
        uint32_t plen;
        size_t at = off;
        enum wire_frame_status s = wire_frame_next(c->data, len, &off, &kind, &pl, &plen);
        if (s == WIRE_FRAME_END)
            break;
        if (s == WIRE_FRAME_TORN) {
            c->torn++;
            if (damage_add(c, at, len - at, "torn tail") < 0)
                goto oom_frames;
            break;
        }
        if (s == WIRE_FRAME_CORRUPT) {
            c->corrupt++;
            if (damage_add(c, at, off - at, "bad frame") < 0)
                goto oom_frames;
            continue;
        }
        if (kind == TT_FRAME_ACKED && plen == 8) {
            uint64_t v = 0;
            for (int i = 0; i < 8; i++)
                v |= (uint64_t)pl[i] << (8 * i);
            if (nacked == acap) {
                acap = acap ? acap * 2 : 64;
                uint64_t *p = realloc(acked, acap * sizeof *p);
                if (!p)
                    goto oom_frames;
                acked = p;
            }
            acked[nacked++] = v;
        } else if (kind == TT_FRAME_BATCH || kind == TT_FRAME_META) {
            struct frame f;
            if (frame_decode(pl, plen, &f) < 0) {
                c->undecodable++;
                if (damage_add(c, at, off - at, "not a Batch") < 0)
                    goto oom_frames;
                continue;
            }
            if (frames_add(kind == TT_FRAME_BATCH ? &parts : &metas, f) < 0)
                goto oom_frames;
        }
    }
    if (batches_build(c, &parts, &metas) < 0)
        goto oom_frames;
    free(parts.v);
    free(metas.v);
    for (size_t i = 0; i < c->nbatch; i++)
        for (size_t j = 0; j < nacked; j++)
            if (acked[j] == c->batch[i].seq) {
                c->batch[i].acked = 1;
                break;
            }
    free(acked);
    return 0;
oom_frames:
    free(parts.v);
    free(metas.v);
    free(acked);
oom:
    tt_fail(err, errlen, "out of memory");
err:
    spool_contents_free(c);
    return -1;
}

int spool_load(const char *path, struct spool_contents *c, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tt_fail(err, errlen, "cannot open %s: %s", path, strerror(errno));
    int rc = spool_load_fd(fd, c, err, errlen);
    close(fd);
    return rc;
}

void spool_contents_free(struct spool_contents *c)
{
    for (size_t i = 0; i < c->nbatch; i++)
        free(c->batch[i].own);
    free(c->damage);
    free(c->data);
    free(c->batch);
    memset(c, 0, sizeof *c);
}

size_t spool_unacked(const struct spool_contents *c, size_t *nevents)
{
    size_t n = 0, ev = 0;
    for (size_t i = 0; i < c->nbatch; i++)
        if (!c->batch[i].acked) {
            n++;
            ev += c->batch[i].nevents;
        }
    if (nevents)
        *nevents = ev;
    return n;
}

int spool_keep_damaged(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
    const char *slash = strrchr(path, '/');
    int dl = slash ? (int)(slash - path) : 1;
    const char *dir = slash ? path : ".", *name = slash ? slash + 1 : path;
    char d[PATH_MAX];
    if (snprintf(d, sizeof d, "%.*s/" TT_SPOOL_DAMAGED, dl, dir) >= (int)sizeof d)
        return tt_fail(err, errlen, "%s: path too long", path);
    if (mkdir(d, 0700) < 0 && errno != EEXIST)
        return tt_fail(err, errlen, "cannot make %s: %s", d, strerror(errno));
    struct stat a, b;
    if (stat(path, &a) < 0)
        return tt_fail(err, errlen, "cannot stat %s: %s", path, strerror(errno));
    /* a name already there is either this file (kept by an earlier flush that
     * could not finish) or an older one of the same name: then take .1, .2 */
    for (unsigned n = 0; n < 100; n++) {
        int w = n ? snprintf(out, cap, "%s/%s.%u", d, name, n) : snprintf(out, cap, "%s/%s", d, name);
        if (w < 0 || (size_t)w >= cap)
            return tt_fail(err, errlen, "%s: path too long", path);
        if (link(path, out) == 0)
            return 0;
        if (errno != EEXIST)
            return tt_fail(err, errlen, "cannot keep %s as %s: %s", path, out, strerror(errno));
        if (stat(out, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
            return 0;
    }
    return tt_fail(err, errlen, "cannot keep %s: too many damaged files of that name in %s", path, d);
}

int spool_take_shim(const char *path, struct spool_contents *out, int *live, char *err,
                    size_t errlen)
{
    *live = 0;
    int fd = spool_open_locked(path, 0, err, errlen);
    if (fd < 0) {
        if (errno == EWOULDBLOCK)
            *live = 1;
        return errno == EWOULDBLOCK || errno == ENOENT ? 0 : -1;
    }
    int rc = spool_load_fd(fd, out, err, errlen);
    char kept[PATH_MAX];
    if (rc == 0 && out->len == 0) {
        unlink(path);
        spool_contents_free(out);
        rc = 0;
    } else if (rc == 0 && out->ndamage && spool_keep_damaged(path, kept, sizeof kept, err, errlen) < 0) {
        spool_contents_free(out); /* never ship what we could not keep */
        rc = -1;
    } else {
        rc = rc < 0 ? -1 : 1;
    }
    close(fd);
    return rc;
}
