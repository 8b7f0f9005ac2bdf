/* test_spool.c - agent spool frames: round trip, torn tail, corrupt middle
 * with resync, and ACKED frames marking batches as not to be resent. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "event_fixture.h"
#include "spool.h"
#include "tunetrail.pb-c.h"
#include "wire.h"

/* Packs a Batch with seq and nev Notes into a malloc'd buffer. */
static uint8_t *make_batch(uint64_t seq, size_t nev, size_t *len)
{
    struct evfx_batch b = {0};
    for (size_t i = 0; i < nev; i++)
        evfx_note(&b, evfx_event(&b, NULL, i, -1), "hello");
    uint8_t *buf;
    *len = evfx_pack(&b, -1, seq, NULL, &buf);
    evfx_clear(&b);
    return buf;
}

static int tmp_spool(char *path)
{
    strcpy(path, "/tmp/tt_spool_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    fd = spool_open_locked(path, 0, NULL, 0);
    assert_true(fd >= 0);
    return fd;
}

static void append(int fd, uint64_t seq, size_t nev)
{
    size_t len;
    uint8_t *b = make_batch(seq, nev, &len);
    assert_int_equal(spool_append_batch(fd, b, len, NULL, 0), 0);
    free(b);
}

static void round_trip(void **st)
{
    char path[64];
    int fd = tmp_spool(path);
    for (uint64_t s = 0; s < 5; s++)
        append(fd, s, (size_t)s + 1);
    assert_int_equal(spool_sync(fd, NULL, 0), 0);
    struct spool_contents c;
    assert_int_equal(spool_load(path, &c, NULL, 0), 0);
    assert_int_equal(c.nbatch, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(c.batch[i].seq, i);
        assert_int_equal(c.batch[i].nevents, i + 1);
        assert_false(c.batch[i].acked);
    }
    assert_int_equal(c.torn + c.corrupt, 0);
    size_t ev;
    assert_int_equal(spool_unacked(&c, &ev), 5);
    assert_int_equal(ev, 15);
    spool_contents_free(&c);
    /* a second locker is refused while we hold it */
    assert_int_equal(spool_open_locked(path, 0, NULL, 0), -1);
    close(fd);
    unlink(path);
}

static void torn_tail_skipped(void **st)
{
    char path[64];
    int fd = tmp_spool(path);
    append(fd, 0, 2);
    append(fd, 1, 2);
    off_t full = lseek(fd, 0, SEEK_END);
    append(fd, 2, 3);
    off_t end = lseek(fd, 0, SEEK_END);
    assert_int_equal(ftruncate(fd, full + (end - full) / 2), 0); /* crash mid-write */
    struct spool_contents c;
    assert_int_equal(spool_load_fd(fd, &c, NULL, 0), 0);
    assert_int_equal(c.nbatch, 2);
    assert_int_equal(c.torn, 1);
    assert_int_equal(c.batch[1].seq, 1);
    spool_contents_free(&c);
    close(fd);
    unlink(path);
}

static void corrupt_middle_resyncs(void **st)
{
    char path[64];
    int fd = tmp_spool(path);
    append(fd, 0, 1);
    off_t second = lseek(fd, 0, SEEK_END);
    append(fd, 1, 4);
    append(fd, 2, 1);
    /* flip payload bytes of the middle frame: its CRC no longer matches */
    uint8_t junk[4] = {0xde, 0xad, 0xbe, 0xef};
    int wfd = open(path, O_WRONLY); /* pwrite on O_APPEND would append on Linux */
    assert_int_equal(pwrite(wfd, junk, sizeof junk, second + TT_FRAME_HDR + 3), 4);
    close(wfd);
    struct spool_contents c;
    assert_int_equal(spool_load_fd(fd, &c, NULL, 0), 0);
    assert_int_equal(c.nbatch, 2);
    assert_int_equal(c.batch[0].seq, 0);
    assert_int_equal(c.batch[1].seq, 2);
    assert_true(c.corrupt >= 1);
    spool_contents_free(&c);
    close(fd);
    unlink(path);
}

static void acked_not_resent(void **st)
{
    char path[64];
    int fd = tmp_spool(path);
    for (uint64_t s = 0; s < 4; s++)
        append(fd, s, 2);
    assert_int_equal(spool_append_acked(fd, 0, NULL, 0), 0);
    assert_int_equal(spool_append_acked(fd, 2, NULL, 0), 0);
    struct spool_contents c;
    assert_int_equal(spool_load_fd(fd, &c, NULL, 0), 0);
    assert_int_equal(c.nbatch, 4);
    assert_true(c.batch[0].acked);
    assert_false(c.batch[1].acked);
    assert_true(c.batch[2].acked);
    assert_false(c.batch[3].acked);
    size_t ev;
    assert_int_equal(spool_unacked(&c, &ev), 2);
    assert_int_equal(ev, 4);
    spool_contents_free(&c);
    close(fd);
    unlink(path);
}

/* The reader side of the shim's lock protocol (spool_take_shim). */
static void take_shim_lock_protocol(void **st)
{
    char path[] = "/tmp/tt-take-XXXXXX";
    int holder = mkstemp(path);
    assert_true(holder >= 0);
    struct spool_contents c;
    int live;
    char err[256];

    /* a live shim holds the lock: skipped, file kept */
    assert_int_equal(flock(holder, LOCK_EX), 0);
    append(holder, 0, 2);
    assert_int_equal(spool_take_shim(path, &c, &live, err, sizeof err), 0);
    assert_int_equal(live, 1);
    assert_int_equal(access(path, F_OK), 0);

    /* the shim is gone: taken with its batch, the caller unlinks */
    close(holder);
    assert_int_equal(spool_take_shim(path, &c, &live, err, sizeof err), 1);
    assert_int_equal(live, 0);
    assert_int_equal(c.nbatch, 1);
    spool_contents_free(&c);
    assert_int_equal(access(path, F_OK), 0);

    /* empty and unlocked (a shim between create and lock): removed under our
     * lock, so the shim's post-lock check sees it unlinked */
    assert_int_equal(truncate(path, 0), 0);
    int shim = open(path, O_WRONLY | O_APPEND);
    assert_true(shim >= 0);
    assert_int_equal(spool_take_shim(path, &c, &live, err, sizeof err), 0);
    assert_int_equal(live, 0);
    assert_int_equal(access(path, F_OK), -1);
    struct stat sb;
    assert_int_equal(flock(shim, LOCK_EX | LOCK_NB), 0);
    assert_int_equal(fstat(shim, &sb), 0);
    assert_int_equal(sb.st_nlink, 0);
    close(shim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(torn_tail_skipped),
        cmocka_unit_test(corrupt_middle_resyncs),
        cmocka_unit_test(acked_not_resent),
        cmocka_unit_test(take_shim_lock_protocol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
