/* test_hashpool.c - hashing on worker threads: two requests for one file
 * while it is in flight share one job and one read; the eventfd wakes the
 * owner; a finished hash is cached; files that cannot be hashed finish at
 * once with their errno; many files hash right in parallel; the inline pool
 * (0 threads) behaves the same. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "hashpool.h"

static char dir[] = "/tmp/tt_hp_XXXXXX";

static int setup(void **st)
{
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **st)
{
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes n bytes of a pattern seeded by seed into dir/name; want gets its hash. */
static void make_file(const char *name, size_t n, unsigned seed, char *path, size_t cap, uint8_t want[32])
{
    snprintf(path, cap, "%s/%s", dir, name);
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(i * 131 + seed);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b, n), (ssize_t)n);
    close(fd);
    crypto_hash_sha256(want, b, n);
    free(b);
}

static void same_file_in_flight_is_one_job(void **st)
{
    char path[256];
    uint8_t want[32];
    make_file("big", 32u << 20, 7, path, sizeof path, want); /* long enough to still be in flight */
    tt_hashpool *p = hashpool_new(2);
    assert_non_null(p);
    assert_true(hashpool_fd(p) >= 0);
    struct hashpool_job *a = hashpool_get(p, path);
    struct hashpool_job *b = hashpool_get(p, path);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_equal(a, b); /* not collected yet, so still in flight: joined */
    assert_false(a->done);
    assert_int_equal(hashpool_reads(p), 1);

    /* the eventfd wakes us; collect marks the job done */
    while (!a->done) {
        struct pollfd pfd = {hashpool_fd(p), POLLIN, 0};
        assert_true(poll(&pfd, 1, 20000) == 1);
        hashpool_collect(p);
    }
    assert_true(b->done);
    assert_int_equal(a->err, 0);
    assert_memory_equal(a->sha, want, 32);
    assert_memory_equal(b->sha, want, 32);
    assert_int_equal(a->st.st_size, 32u << 20);
    assert_int_equal(hashpool_inflight(p), 0);
    hashpool_put(p, a);
    hashpool_put(p, b);

    /* cached now: done at once, no read */
    struct hashpool_job *c = hashpool_get(p, path);
    assert_non_null(c);
    assert_true(c->done);
    assert_memory_equal(c->sha, want, 32);
    assert_int_equal(hashpool_reads(p), 1);
    hashpool_put(p, c);
    hashpool_free(p);
}

static void unhashable_finish_at_once(void **st)
{
    tt_hashpool *p = hashpool_new(1);
    assert_non_null(p);
    char path[256];
    snprintf(path, sizeof path, "%s/missing", dir);
    struct hashpool_job *j = hashpool_get(p, path);
    assert_non_null(j);
    assert_true(j->done);
    assert_int_equal(j->err, ENOENT);
    hashpool_put(p, j);

    snprintf(path, sizeof path, "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    j = hashpool_get(p, path); /* never read: it would block */
    assert_true(j->done);
    assert_int_equal(j->err, EINVAL);
    hashpool_put(p, j);
    assert_int_equal(hashpool_reads(p), 0);
    assert_int_equal(hashpool_inflight(p), 0);
    hashpool_free(p);
}

static void many_files(tt_hashpool *p)
{
    enum { N = 40 };
    struct hashpool_job *j[N];
    uint8_t want[N][32];
    for (int i = 0; i < N; i++) {
        char name[32], path[256];
        snprintf(name, sizeof name, "f%d", i);
        make_file(name, (size_t)i * 7919, (unsigned)i, path, sizeof path, want[i]);
        assert_non_null(j[i] = hashpool_get(p, path));
    }
    hashpool_wait(p);
    assert_int_equal(hashpool_inflight(p), 0);
    for (int i = 0; i < N; i++) {
        assert_true(j[i]->done);
        assert_int_equal(j[i]->err, 0);
        assert_memory_equal(j[i]->sha, want[i], 32);
        hashpool_put(p, j[i]);
    }
    assert_int_equal(hashpool_reads(p), N);
}

static void many_files_threads(void **st)
{
    tt_hashpool *p = hashpool_new(2);
    assert_non_null(p);
    many_files(p);
    hashpool_free(p);
}

static void many_files_inline(void **st)
{
    tt_hashpool *p = hashpool_new(0);
    assert_non_null(p);
    assert_int_equal(hashpool_fd(p), -1);
    many_files(p);
    hashpool_free(p);
}

/* Freeing a pool with jobs queued and in progress must neither hang nor leak
 * (run under ASan in the sanitizer build). */
static void free_with_jobs_in_flight(void **st)
{
    char path[256];
    uint8_t want[32];
    make_file("mid", 8u << 20, 3, path, sizeof path, want);
    tt_hashpool *p = hashpool_new(1);
    assert_non_null(p);
    struct hashpool_job *j = hashpool_get(p, path);
    assert_non_null(j);
    hashpool_put(p, j); /* the in-flight table still holds it */
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "q%d", i);
        make_file(name, 1u << 20, (unsigned)i, path, sizeof path, want);
        hashpool_put(p, hashpool_get(p, path));
    }
    hashpool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_file_in_flight_is_one_job),
        cmocka_unit_test(unhashable_finish_at_once),
        cmocka_unit_test(many_files_threads),
        cmocka_unit_test(many_files_inline),
        cmocka_unit_test(free_with_jobs_in_flight),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
