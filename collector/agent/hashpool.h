/* hashpool.h - SHA-256 of files on worker threads, so the agent's event loop
 * never stalls on the first read of a big file (GBs of training data): the
 * loop asks for a hash, gets a job handle at once, and keeps serving the
 * shims' sockets; a worker streams the file; the loop learns of finished
 * jobs through an eventfd it polls, and collects them.
 *
 * The loop thread opens and fstats the file itself, so the hash belongs to the
 * agent's own stat (dev, ino, size, mtime_ns). The cache (hashcache.h) and the
 * table of jobs in flight live on the loop thread only: a second request for
 * a key that is cached or being hashed costs no read. Workers touch only the
 * job they are hashing, under the pool's mutex at hand-over.
 *
 * Every function except the workers' is for the one owner thread.
 *
 * Error convention: functions returning int give 0 on success, -1 with errno;
 * a job's own failure is in its err field, not in a return value. */
#ifndef TT_HASHPOOL_H
#define TT_HASHPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define HASHPOOL_THREADS 2 /* two cores hash two big inputs at once; more buys nothing here */

typedef struct tt_hashpool tt_hashpool;

struct hashpool_job {
    int done;         /* 1 once sha/err are final (set by the owner thread only) */
    int err;          /* 0, or the errno of open/fstat/read (ENOENT: vanished) */
    uint8_t sha[32];  /* valid when done && !err */
    struct stat st;   /* the agent's fstat the hash belongs to (valid unless err
                         came from open/fstat) */
    int has_st;
    /* private to hashpool.c */
    int fd, refs, cacheable, inflight;
    struct hashpool_job *next;
};

/* New pool with nthreads workers (0 = hash synchronously inside
 * hashpool_get, for tools that have no loop to keep alive). NULL with errno
 * on failure (ENOMEM, thread or eventfd creation). Free with hashpool_free. */
tt_hashpool *hashpool_new(unsigned nthreads);

/* Stops the workers (a file being hashed is finished first) and frees every
 * job. Jobs still referenced by the caller are freed too: put them first. */
void hashpool_free(tt_hashpool *p);

/* An eventfd that is readable when finished jobs wait for hashpool_collect;
 * -1 for a synchronous pool. Owned by the pool. */
int hashpool_fd(const tt_hashpool *p);

/* Asks for the hash of path. Returns a job with one reference for the
 * caller: already done on a cache hit or when path cannot be opened (err set;
 * EINVAL for a non-regular file, never read: a FIFO could block forever);
 * else queued to a worker, or joined to the identical job already in flight.
 * NULL only on ENOMEM. Release with hashpool_put. */
struct hashpool_job *hashpool_get(tt_hashpool *p, const char *path);

/* Drops the caller's reference; the job is freed when nobody holds it. */
void hashpool_put(tt_hashpool *p, struct hashpool_job *j);

/* Marks finished jobs done and caches their hashes (unless the file changed
 * while being read). Never blocks. Returns how many jobs finished. */
size_t hashpool_collect(tt_hashpool *p);

/* Blocks until no job is in flight, collecting them all. */
void hashpool_wait(tt_hashpool *p);

/* Jobs queued or being hashed. */
size_t hashpool_inflight(const tt_hashpool *p);

/* Files actually read (cache misses, in-flight joins excluded). */
unsigned long hashpool_reads(const tt_hashpool *p);

#endif
