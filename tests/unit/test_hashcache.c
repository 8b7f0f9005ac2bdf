/* test_hashcache.c - same stat tuple, one read; a changed file is re-hashed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "hashcache.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void same_stat_hashed_once(void **st)
{
    char path[] = "/tmp/tt_hc_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, "abc");
    tt_hashcache *hc = hashcache_new();
    assert_non_null(hc);
    uint8_t a[32], b[32], want[32];
    crypto_hash_sha256(want, (const unsigned char *)"abc", 3);
    for (int i = 0; i < 110; i++) {
        assert_int_equal(hashcache_file(hc, path, a, NULL), 0);
        assert_memory_equal(a, want, 32);
    }
    assert_int_equal(hashcache_misses(hc), 1);

    /* a new size/mtime is a new key */
    write_file(path, "abcd");
    struct timeval tv[2] = {{1000, 0}, {1000, 0}};
    utimes(path, tv);
    assert_int_equal(hashcache_file(hc, path, b, NULL), 0);
    crypto_hash_sha256(want, (const unsigned char *)"abcd", 4);
    assert_memory_equal(b, want, 32);
    assert_int_equal(hashcache_misses(hc), 2);

    unlink(path);
    assert_int_equal(hashcache_file(hc, path, b, NULL), -1);
    hashcache_free(hc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(same_stat_hashed_once)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
