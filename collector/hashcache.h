/* hashcache.h - SHA-256 of files, cached by what the agent's own fstat says
 * (dev, ino, size, mtime_ns), so 110 processes reading one data file cost one
 * hash. Not thread-safe: one cache per thread.
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

/* Number of files actually read (cache misses) so far; for tests and stats. */
unsigned long hashcache_misses(const tt_hashcache *hc);

#endif
