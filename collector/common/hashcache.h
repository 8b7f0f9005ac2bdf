/* hashcache.h - SHA-256 of files, cached by what the agent's own fstat says
 * (dev, ino, size, mtime_ns), so 110 processes reading one data file cost one
 * hash. The table is not thread-safe (one owner thread: the agent's loop,
 * see hashpool.h); hashcache_sha256_fd is, so workers stream files with it.
 *
 * Error convention: 0 on success, -1 with errno set. */
#ifndef TT_HASHCACHE_H
#define TT_HASHCACHE_H

#include <stdint.h>
#include <sys/stat.h>

typedef struct tt_hashcache tt_hashcache;

/* Returns a new empty cache, or NULL (ENOMEM). Free with hashcache_free. */
tt_hashcache *hashcache_new(void);
void hashcache_free(tt_hashcache *hc);

/* Opens path, fstats it, and fills sha[32] from the cache or by streaming the
 * file through libsodium's SHA-256. If st_out is non-NULL it receives the
 * stat the hash belongs to. A file that changed while being hashed is hashed
 * but not cached. Returns 0, or -1 with errno (ENOENT if it vanished). */
int hashcache_file(tt_hashcache *hc, const char *path, uint8_t sha[32], struct stat *st_out);

/* Cache-only lookup by stat tuple: 1 with sha[32] filled on a hit, 0 on a
 * miss. Reads no file. */
int hashcache_lookup(const tt_hashcache *hc, const struct stat *st, uint8_t sha[32]);

/* Remembers sha[32] for the stat tuple st. Returns 0, or -1 (ENOMEM). */
int hashcache_put(tt_hashcache *hc, const struct stat *st, const uint8_t sha[32]);

/* Streams fd from its current offset to EOF through SHA-256 into sha[32].
 * Thread-safe (per-thread buffer). Returns 0, or -1 with errno. */
int hashcache_sha256_fd(int fd, uint8_t sha[32]);

/* SHA-256 of the file at path, uncached (attest's and verify's model file).
 * Returns 0, or -1 with errno. */
int hashcache_sha256_path(const char *path, uint8_t sha[32]);

/* 1 if a and b have the same (dev, ino, size, mtime): the cache key. */
int hashcache_same_key(const struct stat *a, const struct stat *b);

/* Number of files actually read (cache misses) so far; for tests and stats. */
unsigned long hashcache_misses(const tt_hashcache *hc);

#endif
