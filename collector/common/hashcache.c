/* hashcache.c - see hashcache.h. A chained hash table keyed on the stat tuple. */
#include "hashcache.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HC_BUCKETS 4096

struct hc_entry {
    uint64_t dev, ino, size;
    int64_t mtime_ns;
    uint8_t sha[32];
    struct hc_entry *next;
};

struct tt_hashcache {
    struct hc_entry *b[HC_BUCKETS];
    unsigned long misses;
};

tt_hashcache *hashcache_new(void)
{
    if (sodium_init() < 0) {
        errno = EIO;
        return NULL;
    }
    return calloc(1, sizeof(tt_hashcache));
}

void hashcache_free(tt_hashcache *hc)
{
    if (!hc)
        return;
    for (size_t i = 0; i < HC_BUCKETS; i++)
        for (struct hc_entry *e = hc->b[i], *n; e; e = n) {
            n = e->next;
            free(e);
        }
    free(hc);
}

unsigned long hashcache_misses(const tt_hashcache *hc) { return hc->misses; }

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static size_t slot(const struct stat *st)
{
    uint64_t h = (uint64_t)st->st_ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)st->st_dev ^
                 (uint64_t)st->st_size * 31 ^ (uint64_t)mtime_ns(st);
    return (size_t)(h % HC_BUCKETS);
}

static struct hc_entry *find(tt_hashcache *hc, const struct stat *st)
{
    for (struct hc_entry *e = hc->b[slot(st)]; e; e = e->next)
        if (e->dev == (uint64_t)st->st_dev && e->ino == (uint64_t)st->st_ino &&
            e->size == (uint64_t)st->st_size && e->mtime_ns == mtime_ns(st))
            return e;
    return NULL;
}

int hashcache_lookup(const tt_hashcache *hc, const struct stat *st, uint8_t sha[32])
{
    struct hc_entry *e = find((tt_hashcache *)hc, st);
    if (!e)
        return 0;
    memcpy(sha, e->sha, 32);
    return 1;
}

int hashcache_put(tt_hashcache *hc, const struct stat *st, const uint8_t sha[32])
{
    struct hc_entry *e = find(hc, st);
    if (e) {
        memcpy(e->sha, sha, 32);
        return 0;
    }
    if (!(e = malloc(sizeof *e)))
        return -1;
    e->dev = (uint64_t)st->st_dev;
    e->ino = (uint64_t)st->st_ino;
    e->size = (uint64_t)st->st_size;
    e->mtime_ns = mtime_ns(st);
    memcpy(e->sha, sha, 32);
    size_t i = slot(st);
    e->next = hc->b[i];
    hc->b[i] = e;
    return 0;
}

int hashcache_same_key(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           mtime_ns(a) == mtime_ns(b);
}

int hashcache_sha256_fd(int fd, uint8_t sha[32])
{
    crypto_hash_sha256_state s;
    crypto_hash_sha256_init(&s);
    static __thread uint8_t buf[1 << 16];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        crypto_hash_sha256_update(&s, buf, (unsigned long long)r);
    }
    crypto_hash_sha256_final(&s, sha);
    return 0;
}

int hashcache_sha256_path(const char *path, uint8_t sha[32])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = hashcache_sha256_fd(fd, sha);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int hashcache_file(tt_hashcache *hc, const char *path, uint8_t sha[32], struct stat *st_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct stat st, st2;
    if (fstat(fd, &st) < 0)
        goto err;
    if (!S_ISREG(st.st_mode)) {
        errno = EINVAL; /* never read a FIFO or device: it could block forever */
        goto err;
    }
    if (st_out)
        *st_out = st;
    if (hashcache_lookup(hc, &st, sha)) {
        close(fd);
        return 0;
    }
    if (hashcache_sha256_fd(fd, sha) < 0)
        goto err;
    hc->misses++;
    /* Cache only if the file did not change under us; the hash is still the
     * best we have, so it is returned either way. */
    if (fstat(fd, &st2) == 0 && hashcache_same_key(&st, &st2))
        hashcache_put(hc, &st, sha);
    close(fd);
    return 0;
err:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}
