/* Unit tests for plugin/shim_batch.c and the spool path of shim_conn.c: the
 * appended bytes must be a Batch that protobuf-c unpacks, and spool frames
 * must read back with wire_frame_next. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

static Tunetrail__Event file_event(const char *path, uint64_t seq)
{
    static uint8_t origin[TT_UUID_LEN] = {1, 2, 3};
    static Tunetrail__FileAccess fa;
    Tunetrail__FileAccess init = TUNETRAIL__FILE_ACCESS__INIT;
    fa = init;
    fa.path = (char *)path;
    Tunetrail__Event ev = TUNETRAIL__EVENT__INIT;
    ev.has_origin = ev.has_seq = 1;
    ev.origin.len = TT_UUID_LEN;
    ev.origin.data = origin;
    ev.seq = seq;
    ev.kind_case = TUNETRAIL__EVENT__KIND_FILE_ACCESS;
    ev.file_access = &fa;
    return ev;
}

static void test_append_unpacks(void **state)
{
    static struct shim_batch b;
    uint8_t sender[TT_UUID_LEN];
    memset(sender, 0xab, sizeof sender);
    for (int i = 0; i < 3; i++) {
        char p[32];
        snprintf(p, sizeof p, "/data/f%d", i);
        Tunetrail__Event ev = file_event(p, (uint64_t)i);
        assert_int_equal(shim_batch_append(&b, &ev), 0);
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
    Tunetrail__Event ev = file_event(big, 0);
    int n = 0;
    while (shim_batch_append(&b, &ev) == 0)
        n++;
    assert_int_equal(n, (SHIM_DGRAM_MAX - SHIM_BATCH_HDR_MAX) / (int)(sizeof big + 3 + 20));
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
    Tunetrail__Event ev = file_event("/data/x", 0);
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
