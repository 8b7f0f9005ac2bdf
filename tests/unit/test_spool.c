/* test_spool.c - agent spool frames: round trip, torn tail, corrupt middle
 * with resync, ACKED frames marking batches as not to be resent, batches
 * split into parts (damage costs one part), the SessionStart's META copy, and
 * damaged files kept. */
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

/* Frame offsets, kinds and event counts of the file at path. */
static size_t frames_of(const char *path, size_t *off, uint8_t *kind, size_t *nev, size_t max)
{
    struct spool_contents c;
    assert_int_equal(spool_load(path, &c, NULL, 0), 0);
    size_t o = 0, n = 0;
    for (;;) {
        const uint8_t *pl;
        uint32_t plen;
        size_t at = o;
        if (wire_frame_next(c.data, c.len, &o, &kind[n], &pl, &plen) != WIRE_FRAME_OK)
            break;
        assert_true(n < max);
        Tunetrail__Batch *b = tunetrail__batch__unpack(NULL, plen, pl);
        nev[n] = b ? b->n_events : 0;
        tunetrail__batch__free_unpacked(b, NULL);
        off[n++] = at;
    }
    spool_contents_free(&c);
    return n;
}

static void poke(const char *path, size_t at, const void *b, size_t n)
{
    int wfd = open(path, O_WRONLY); /* pwrite on O_APPEND would append on Linux */
    assert_int_equal(pwrite(wfd, b, n, (off_t)at), (ssize_t)n);
    close(wfd);
}

/* A 600-event batch goes out as parts; the reader joins them; a flipped byte
 * in one part costs that part's events only, and is reported where it is. */
static void parts_joined_damage_costs_one_part(void **st)
{
    char path[64];
    int fd = tmp_spool(path);
    append(fd, 7, 600);
    size_t off[64], nev[64];
    uint8_t kind[64];
    size_t n = frames_of(path, off, kind, nev, 64);
    assert_true(n >= 3);
    struct spool_contents c;
    assert_int_equal(spool_load_fd(fd, &c, NULL, 0), 0);
    assert_int_equal(c.nbatch, 1);
    assert_int_equal(c.batch[0].seq, 7);
    assert_int_equal(c.batch[0].nevents, 600);
    Tunetrail__Batch *b = tunetrail__batch__unpack(NULL, c.batch[0].len, c.batch[0].buf);
    assert_non_null(b);
    assert_int_equal(b->n_events, 600);
    for (size_t i = 0; i < 600; i++)
        assert_int_equal(b->events[i]->seq, i); /* in order */
    tunetrail__batch__free_unpacked(b, NULL);
    spool_contents_free(&c);

    uint8_t x = 0xff;
    poke(path, off[1] + TT_FRAME_HDR + 5, &x, 1);
    assert_int_equal(spool_load_fd(fd, &c, NULL, 0), 0);
    assert_int_equal(c.nbatch, 1);
    assert_true(nev[1] > 0);
    assert_int_equal(c.batch[0].nevents, 600 - nev[1]);
    assert_int_equal(c.ndamage, 1);
    assert_int_equal(c.damage[0].off, off[1]);
    assert_int_equal(c.damage[0].len, off[2] - off[1]);
    spool_contents_free(&c);
    close(fd);
    unlink(path);
}

static void append_session(int fd, uint64_t seq, const uint8_t *sess, int start)
{
    struct evfx_batch b = {0};
    if (start)
        evfx_session_start(&b, evfx_event(&b, sess, 0, -1), sess, "the-study");
    for (size_t i = 0; i < 3; i++)
        evfx_note(&b, evfx_event(&b, NULL, seq * 10 + i, -1), "hello");
    if (!start) {
        Tunetrail__Event *e = evfx_event(&b, sess, 1, -1);
        e->kind_case = TUNETRAIL__EVENT__KIND_SESSION_END;
        Tunetrail__SessionEnd *se = evfx_alloc(&b, sizeof *se);
        tunetrail__session_end__init(se);
        e->session_end = se;
    }
    uint8_t *buf;
    size_t len = evfx_pack(&b, -1, seq, sess, &buf);
    assert_int_equal(spool_append_batch(fd, buf, len, NULL, 0), 0);
    free(buf);
    evfx_clear(&b);
}

static int has_study(const struct spool_batch *sb)
{
    Tunetrail__Batch *b = tunetrail__batch__unpack(NULL, sb->len, sb->buf);
    assert_non_null(b);
    int found = 0;
    for (size_t i = 0; i < b->n_events; i++)
        found |= b->events[i]->kind_case == TUNETRAIL__EVENT__KIND_SESSION_START &&
                 !strcmp(b->events[i]->session_start->study, "the-study");
    tunetrail__batch__free_unpacked(b, NULL);
    return found;
}

/* The SessionStart survives the loss of the frame holding it, from either
 * META copy (before its batch, and again before the SessionEnd's). */
static void session_start_recovered(void **st)
{
    char path[64];
    const uint8_t sess[16] = {1, 2, 3};
    int fd = tmp_spool(path);
    append_session(fd, 0, sess, 1);
    append(fd, 1, 2);
    append_session(fd, 2, sess, 0);
    size_t off[16], nev[16];
    uint8_t kind[16];
    size_t n = frames_of(path, off, kind, nev, 16);
    assert_int_equal(n, 5); /* META, BATCH 0, BATCH 1, META, BATCH 2 */
    assert_int_equal(kind[0], TT_FRAME_META);
    assert_int_equal(kind[1], TT_FRAME_BATCH);
    assert_int_equal(kind[3], TT_FRAME_META);
    /* the first batch's magic overwritten: its notes are lost, not its session */
    poke(path, off[1], "XXXX", 4);
    struct spool_contents c;
    assert_int_equal(spool_load_fd(fd, &c, NULL, 0), 0);
    assert_int_equal(c.nbatch, 3);
    assert_int_equal(c.batch[0].seq, 0);
    assert_true(c.batch[0].recovered);
    assert_int_equal(c.batch[0].nevents, 1);
    assert_true(has_study(&c.batch[0]));
    spool_contents_free(&c);
    /* and the first META too: the second copy serves */
    poke(path, off[0], "XXXX", 4);
    assert_int_equal(spool_load_fd(fd, &c, NULL, 0), 0);
    assert_int_equal(c.nbatch, 3);
    assert_true(c.batch[0].recovered && has_study(&c.batch[0]));
    assert_int_equal(c.ndamage, 1); /* one adjacent span */
    assert_int_equal(c.damage[0].off, 0);
    assert_int_equal(c.damage[0].len, off[2]);
    spool_contents_free(&c);
    close(fd);
    unlink(path);
}

/* A damaged file is hard-linked under damaged/, once. */
static void damaged_kept(void **st)
{
    char dir[] = "/tmp/tt-dmg-XXXXXX", path[128], kept[256], kept2[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/agent-x.spool", dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(spool_keep_damaged(path, kept, sizeof kept, NULL, 0), 0);
    char want[256];
    snprintf(want, sizeof want, "%s/" TT_SPOOL_DAMAGED "/agent-x.spool", dir);
    assert_string_equal(kept, want);
    assert_int_equal(spool_keep_damaged(path, kept2, sizeof kept2, NULL, 0), 0);
    assert_string_equal(kept2, want); /* the same file: not kept twice */
    unlink(path);
    assert_int_equal(access(kept, F_OK), 0);
    unlink(kept);
    snprintf(want, sizeof want, "%s/" TT_SPOOL_DAMAGED, dir);
    rmdir(want);
    rmdir(dir);
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
        cmocka_unit_test(parts_joined_damage_costs_one_part),
        cmocka_unit_test(session_start_recovered),
        cmocka_unit_test(damaged_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
