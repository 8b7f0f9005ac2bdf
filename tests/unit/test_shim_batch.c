/* Unit tests for plugin/shim_batch.c and the spool path of shim_conn.c: the
 * appended bytes must be a Batch that protobuf-c unpacks, and spool frames
 * must read back with wire_frame_next. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"
#include "tunetrail.pb-c.h"

static const uint8_t origin[TT_UUID_LEN] = {1, 2, 3};

/* Appends FileAccess{path} as event `seq` with the shim's encoder. */
static int append_file(struct shim_batch *b, const char *path, uint64_t seq)
{
    struct pb_w w;
    shim_batch_writer(b, &w);
    struct shim_pb_ev m = shim_pb_event_begin(&w, origin, seq, 0, PB_F_EVENT_FILE_ACCESS);
    pb_str(&w, PB_F_FILE_ACCESS_PATH, path);
    shim_pb_event_end(&w, m);
    return shim_batch_commit(b, &w);
}

static void path_body(struct pb_w *w, const void *arg)
{
    pb_str(w, PB_F_FILE_ACCESS_PATH, arg);
}

static void test_append_unpacks(void **state)
{
    static struct shim_batch b;
    uint8_t sender[TT_UUID_LEN];
    memset(sender, 0xab, sizeof sender);
    for (int i = 0; i < 3; i++) {
        char p[32];
        snprintf(p, sizeof p, "/data/f%d", i);
        assert_int_equal(append_file(&b, p, (uint64_t)i), 0);
    }
    size_t len;
    /* A batch_seq needing a multi-byte varint exercises the header sizing. */
    const uint8_t *d = shim_batch_finish(&b, sender, 300000, &len);
    Tunetrail__Batch *bt = tunetrail__batch__unpack(NULL, len, d);
    assert_non_null(bt);
    assert_int_equal(bt->schema_version, 1);
    assert_int_equal(bt->batch_seq, 300000);
    assert_int_equal(bt->sender.len, TT_UUID_LEN);
    assert_memory_equal(bt->sender.data, sender, TT_UUID_LEN);
    assert_int_equal(bt->n_events, 3);
    assert_string_equal(bt->events[2]->file_access->path, "/data/f2");
    assert_int_equal(bt->events[1]->seq, 1);
    tunetrail__batch__free_unpacked(bt, NULL);
}

static void test_full_refuses_whole_events(void **state)
{
    static struct shim_batch b;
    static char big[8000];
    memset(big, 'x', sizeof big - 1);
    int n = 0;
    size_t before = b.len;
    while (append_file(&b, big, 0) == 0)
        n++;
    /* entry = tag + 2-byte len + Event{origin 18, seq 2, time 2, tag + 2 + FileAccess{tag + 2 + path}} */
    size_t entry = 3 + 18 + 2 + 2 + 3 + 3 + (sizeof big - 1);
    assert_int_equal(b.len - before, n * entry);
    assert_int_equal(n, (SHIM_DGRAM_MAX - SHIM_BATCH_HDR_MAX) / (int)entry);
    size_t len;
    uint8_t sender[TT_UUID_LEN] = {0};
    const uint8_t *d = shim_batch_finish(&b, sender, 0, &len);
    assert_true(len <= SHIM_DGRAM_MAX);
    Tunetrail__Batch *bt = tunetrail__batch__unpack(NULL, len, d);
    assert_non_null(bt);
    assert_int_equal(bt->n_events, n);
    tunetrail__batch__free_unpacked(bt, NULL);
}

static void test_spool_roundtrip(void **state)
{
    char home[] = "/tmp/tt-test-shim-XXXXXX";
    assert_non_null(mkdtemp(home));
    char hv[PATH_MAX + 32];
    snprintf(hv, sizeof hv, "TUNETRAIL_HOME=%s/deep/er", home);
    char *const env[] = {hv, NULL};
    shim_config_load(&shim_cfg, env, NULL); /* bare run: no TUNETRAIL_SOCK */
    char *argv[] = {"prog", "--lr", "0.1", NULL};
    shim_proc_init(3, argv, (char **)env);
    shim_conn_start();
    struct shim_event ev = {PB_F_EVENT_FILE_ACCESS, path_body, "/data/x"};
    assert_int_equal(shim_emit(&ev), 0);

    char path[PATH_MAX];
    assert_int_equal(shim_conn_spool_path(path, sizeof path), 0);
    assert_non_null(strstr(path, "/deep/er/spool/shim-bare-"));
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t buf[1 << 17];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t off = 0;
    uint8_t kind;
    const uint8_t *pl;
    uint32_t plen;
    int kinds[2], i = 0;
    while (wire_frame_next(buf, n, &off, &kind, &pl, &plen) == WIRE_FRAME_OK && i < 2) {
        assert_int_equal(kind, TT_FRAME_BATCH);
        Tunetrail__Batch *bt = tunetrail__batch__unpack(NULL, plen, pl);
        assert_non_null(bt);
        assert_int_equal(bt->batch_seq, (uint64_t)i);
        assert_int_equal(bt->n_events, 1);
        assert_int_equal(bt->events[0]->seq, (uint64_t)i);
        assert_memory_equal(bt->events[0]->origin.data, shim_proc.uuid, TT_UUID_LEN);
        kinds[i++] = bt->events[0]->kind_case;
        if (bt->events[0]->kind_case == TUNETRAIL__EVENT__KIND_PROCESS_START) {
            Tunetrail__ProcessStart *ps = bt->events[0]->process_start;
            assert_int_equal(ps->n_argv, 3);
            assert_string_equal(ps->argv[2], "0.1");
            assert_int_equal(ps->pid, getpid());
            assert_false(ps->has_parent);
        }
        tunetrail__batch__free_unpacked(bt, NULL);
    }
    assert_int_equal(i, 2);
    assert_int_equal(kinds[0], TUNETRAIL__EVENT__KIND_PROCESS_START);
    /* The live spool is locked (tunetrail flush skips it); a fork child's
     * reset drops its copy of the fd, and the lock stays with us. */
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
    assert_int_equal(errno, EWOULDBLOCK);
    pid_t kid = fork();
    if (kid == 0) {
        shim_conn_reset_child();
        _exit(flock(fd, LOCK_EX | LOCK_NB) == -1 ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(kid, &status, 0), kid);
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
    close(fd);
    assert_int_equal(kinds[1], TUNETRAIL__EVENT__KIND_FILE_ACCESS);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", home);
    assert_int_equal(system(cmd), 0);
}

static void test_parent_hint(void **state)
{
    char hint[128], want[128], hex[TT_UUID_HEX_LEN + 1];
    shim_proc.pid = getpid();
    shim_proc.start_pending = 0;
    shim_proc_parent_hint(hint, sizeof hint);
    snprintf(want, sizeof want, "TUNETRAIL_PARENT=%s:%d", wire_hex(hex, shim_proc.uuid, TT_UUID_LEN),
             (int)getpid());
    assert_string_equal(hint, want);
    /* An unreported fork child passes its parent on. */
    shim_proc_forked_child();
    shim_proc.parent_pid = 12345;
    shim_proc_parent_hint(hint, sizeof hint);
    snprintf(want, sizeof want, "TUNETRAIL_PARENT=%s:12345", wire_hex(hex, shim_proc.parent, TT_UUID_LEN));
    assert_string_equal(hint, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_unpacks),
        cmocka_unit_test(test_full_refuses_whole_events),
        cmocka_unit_test(test_spool_roundtrip),
        cmocka_unit_test(test_parent_hint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
