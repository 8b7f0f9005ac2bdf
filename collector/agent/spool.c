/* spool.c - see spool.h. Frames themselves are proto/wire.c's. */
#include "spool.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
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

int spool_append_batch(int fd, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    if (wire_frame_append(fd, TT_FRAME_BATCH, buf, (uint32_t)len) < 0)
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
    size_t off = 0, bcap = 0;
    uint64_t *acked = NULL;
    size_t nacked = 0, acap = 0;
    for (;;) {
        uint8_t kind;
        const uint8_t *pl;
        uint32_t plen;
        enum wire_frame_status s = wire_frame_next(c->data, len, &off, &kind, &pl, &plen);
        if (s == WIRE_FRAME_END)
            break;
        if (s == WIRE_FRAME_TORN) {
            c->torn++;
            break;
        }
        if (s == WIRE_FRAME_CORRUPT) {
            c->corrupt++;
            continue;
        }
        if (kind == TT_FRAME_ACKED && plen == 8) {
            uint64_t v = 0;
            for (int i = 0; i < 8; i++)
                v |= (uint64_t)pl[i] << (8 * i);
            if (nacked == acap) {
                acap = acap ? acap * 2 : 64;
                uint64_t *p = realloc(acked, acap * sizeof *p);
                if (!p) {
                    free(acked);
                    goto oom;
                }
                acked = p;
            }
            acked[nacked++] = v;
        } else if (kind == TT_FRAME_BATCH) {
            Tunetrail__Batch *b = tunetrail__batch__unpack(NULL, plen, pl);
            if (!b) {
                c->undecodable++;
                continue;
            }
            if (c->nbatch == bcap) {
                bcap = bcap ? bcap * 2 : 64;
                struct spool_batch *p = realloc(c->batch, bcap * sizeof *p);
                if (!p) {
                    tunetrail__batch__free_unpacked(b, NULL);
                    free(acked);
                    goto oom;
                }
                c->batch = p;
            }
            c->batch[c->nbatch++] = (struct spool_batch){
                .seq = b->batch_seq, .buf = pl, .len = plen, .nevents = b->n_events};
            tunetrail__batch__free_unpacked(b, NULL);
        }
    }
    for (size_t i = 0; i < c->nbatch; i++)
        for (size_t j = 0; j < nacked; j++)
            if (acked[j] == c->batch[i].seq) {
                c->batch[i].acked = 1;
                break;
            }
    free(acked);
    return 0;
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
    if (rc == 0 && out->len == 0) {
        unlink(path);
        spool_contents_free(out);
        rc = 0;
    } else {
        rc = rc < 0 ? -1 : 1;
    }
    close(fd);
    return rc;
}
