/* Unit tests for plugin/shim_pb.c, the shim's own protobuf encoder: every
 * event kind it writes is decoded with protobuf-c (tunetrail__batch__unpack)
 * and every field checked, and its field/enum table is checked against the
 * descriptors generated from proto/tunetrail.proto, both ways, so the encoder
 * cannot drift from the schema unnoticed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "shim.h"
#include "tunetrail.pb-c.h"

static const ProtobufCMessageDescriptor *const messages[] = {
    &tunetrail__batch__descriptor,        &tunetrail__event__descriptor,
    &tunetrail__file_stat__descriptor,    &tunetrail__process_start__descriptor,
    &tunetrail__process_end__descriptor,  &tunetrail__file_access__descriptor,
    &tunetrail__trial_start__descriptor,  &tunetrail__param__descriptor,
    &tunetrail__metric__descriptor,       &tunetrail__trial_end__descriptor,
    &tunetrail__note__descriptor,         &tunetrail__predictions__descriptor,
};

/* "FILE_STAT" -> "FileStat" */
static void camel(char *out, const char *upper)
{
    int up = 1;
    for (; *upper; upper++) {
        if (*upper == '_') {
            up = 1;
            continue;
        }
        *out++ = up ? *upper : (char)tolower((unsigned char)*upper);
        up = 0;
    }
    *out = 0;
}

static void lower(char *out, const char *upper)
{
    while (*upper)
        *out++ = (char)tolower((unsigned char)*upper++);
    *out = 0;
}

static const ProtobufCMessageDescriptor *message(const char *upper)
{
    char name[64];
    camel(name, upper);
    for (size_t i = 0; i < sizeof messages / sizeof *messages; i++)
        if (strcmp(messages[i]->short_name, name) == 0)
            return messages[i];
    fail_msg("no message %s in the schema", name);
    return NULL;
}

static const struct {
    const char *msg, *field;
    unsigned number;
} table[] = {
#define F(m, f, n) {#m, #f, n},
    SHIM_PB_FIELDS(F)
#undef F
};

static void test_fields_match_schema(void **state)
{
    /* Our numbers are the schema's... */
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        char fname[64];
        lower(fname, table[i].field);
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field_by_name(message(table[i].msg), fname);
        if (!fd)
            fail_msg("%s.%s is not in tunetrail.proto", table[i].msg, fname);
        assert_int_equal(fd->id, table[i].number);
    }
    /* ...and every field of these messages is in our table. */
    for (size_t m = 0; m < sizeof messages / sizeof *messages; m++) {
        for (unsigned f = 0; f < messages[m]->n_fields; f++) {
            const ProtobufCFieldDescriptor *fd = &messages[m]->fields[f];
            int found = 0;
            for (size_t i = 0; i < sizeof table / sizeof *table && !found; i++)
                found = message(table[i].msg) == messages[m] && table[i].number == fd->id;
            if (!found)
                fail_msg("%s.%s (%u) missing from SHIM_PB_FIELDS", messages[m]->short_name, fd->name,
                         fd->id);
        }
    }
}

static void test_enums_match_schema(void **state)
{
    static const struct {
        const char *prefix;
        const ProtobufCEnumDescriptor *d;
    } enums[] = {
        {"SCHEMA", &tunetrail__schema_version__descriptor},
        {"REL", &tunetrail__process_start__relation__descriptor},
        {"END", &tunetrail__process_end__how__descriptor},
        {"MODE", &tunetrail__file_access__mode__descriptor},
        {"TRIAL", &tunetrail__trial_end__status__descriptor},
        {"PRED", &tunetrail__predictions__kind__descriptor},
    };
    static const struct {
        const char *e, *v;
        int n;
    } ours[] = {
#define E(e, v, n) {#e, #v, n},
        SHIM_PB_ENUMS(E)
#undef E
    };
    for (size_t i = 0; i < sizeof ours / sizeof *ours; i++) {
        const ProtobufCEnumDescriptor *d = NULL;
        for (size_t k = 0; k < sizeof enums / sizeof *enums; k++)
            if (strcmp(enums[k].prefix, ours[i].e) == 0)
                d = enums[k].d;
        assert_non_null(d);
        char name[64];
        snprintf(name, sizeof name, "%s_%s", ours[i].e, ours[i].v);
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(d, name);
        if (!v)
            fail_msg("enum value %s is not in tunetrail.proto", name);
        assert_int_equal(v->value, ours[i].n);
    }
    for (size_t k = 0; k < sizeof enums / sizeof *enums; k++) {
        for (unsigned j = 0; j < enums[k].d->n_values; j++) {
            int found = 0;
            for (size_t i = 0; i < sizeof ours / sizeof *ours && !found; i++) {
                char name[64];
                snprintf(name, sizeof name, "%s_%s", ours[i].e, ours[i].v);
                found = strcmp(name, enums[k].d->values[j].name) == 0;
            }
            if (!found && strcmp(enums[k].d->values[j].name, "SCHEMA_VERSION_UNSPECIFIED") != 0)
                fail_msg("%s missing from SHIM_PB_ENUMS", enums[k].d->values[j].name);
        }
    }
}

/* ---- every event kind, encoded and decoded ---------------------------- */

static const uint8_t origin[TT_UUID_LEN] = {0xde, 0xad, 0xbe, 0xef, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t trial[TT_UUID_LEN] = {0x77, 1};
static const uint8_t sender[TT_UUID_LEN] = {0x55, 2};

static Tunetrail__Batch *finish(uint8_t *buf, struct pb_w *w, uint64_t bseq)
{
    assert_false(w->err);
    size_t len;
    const uint8_t *d = shim_batch_frame(w->buf, w->len, sender, bseq, &len);
    assert_true(d >= buf);
    Tunetrail__Batch *b = tunetrail__batch__unpack(NULL, len, d);
    assert_non_null(b);
    assert_int_equal(b->schema_version, 1);
    assert_int_equal(b->batch_seq, bseq);
    assert_memory_equal(b->sender.data, sender, TT_UUID_LEN);
    return b;
}

static void check_head(const Tunetrail__Event *e, uint64_t seq, int64_t t, int kind)
{
    assert_true(e->has_origin && e->has_seq && e->has_time_ns);
    assert_int_equal(e->origin.len, TT_UUID_LEN);
    assert_memory_equal(e->origin.data, origin, TT_UUID_LEN);
    assert_int_equal(e->seq, seq);
    assert_int_equal(e->time_ns, t);
    assert_int_equal(e->kind_case, kind);
}

static void test_adapter_events(void **state)
{
    static uint8_t buf[SHIM_BATCH_HDR_MAX + 4096];
    struct pb_w w;
    pb_init(&w, buf + SHIM_BATCH_HDR_MAX, sizeof buf - SHIM_BATCH_HDR_MAX);
    const int64_t t = 1700000000123456789;

    struct shim_pb_ev m = shim_pb_event_begin(&w, origin, 0, t, PB_F_EVENT_TRIAL_START);
    pb_bytes(&w, PB_F_TRIAL_START_TRIAL, trial, TT_UUID_LEN);
    pb_bytes(&w, PB_F_TRIAL_START_PROCESS, origin, TT_UUID_LEN);
    pb_str(&w, PB_F_TRIAL_START_FRAMEWORK, "libsvm");
    pb_str(&w, PB_F_TRIAL_START_OPENED_BY, "adapter");
    pb_u32(&w, PB_F_TRIAL_START_INDEX, 3);
    shim_pb_event_end(&w, m);

    m = shim_pb_event_begin(&w, origin, 1, t, PB_F_EVENT_PARAM);
    pb_bytes(&w, PB_F_PARAM_TRIAL, trial, TT_UUID_LEN);
    pb_str(&w, PB_F_PARAM_KEY, "C");
    pb_str(&w, PB_F_PARAM_VALUE, "0.5");
    pb_str(&w, PB_F_PARAM_SOURCE, "argv");
    shim_pb_event_end(&w, m);

    m = shim_pb_event_begin(&w, origin, 2, -5, PB_F_EVENT_METRIC);
    pb_bytes(&w, PB_F_METRIC_TRIAL, trial, TT_UUID_LEN);
    pb_str(&w, PB_F_METRIC_NAME, "accuracy");
    pb_double(&w, PB_F_METRIC_VALUE, -0.8125e-3);
    pb_i64(&w, PB_F_METRIC_STEP, -1);
    pb_str(&w, PB_F_METRIC_SPLIT, "test");
    pb_str(&w, PB_F_METRIC_DIRECTION, "max");
    shim_pb_event_end(&w, m);

    m = shim_pb_event_begin(&w, origin, 3, t, PB_F_EVENT_TRIAL_END);
    pb_bytes(&w, PB_F_TRIAL_END_TRIAL, trial, TT_UUID_LEN);
    pb_enum(&w, PB_F_TRIAL_END_STATUS, PB_TRIAL_FAILED);
    pb_str(&w, PB_F_TRIAL_END_ERROR, "diverged");
    shim_pb_event_end(&w, m);

    /* A body over 127 bytes exercises the 2-byte length close-up. */
    char text[300];
    memset(text, 'n', sizeof text - 1);
    text[sizeof text - 1] = 0;
    m = shim_pb_event_begin(&w, origin, 4, t, PB_F_EVENT_NOTE);
    pb_bytes(&w, PB_F_NOTE_PROCESS, origin, TT_UUID_LEN);
    pb_str(&w, PB_F_NOTE_LEVEL, "warn");
    pb_str(&w, PB_F_NOTE_TEXT, text);
    shim_pb_event_end(&w, m);

    Tunetrail__Batch *b = finish(buf, &w, 1ull << 40);
    assert_int_equal(b->n_events, 5);
    Tunetrail__Event **e = b->events;

    check_head(e[0], 0, t, TUNETRAIL__EVENT__KIND_TRIAL_START);
    Tunetrail__TrialStart *ts = e[0]->trial_start;
    assert_memory_equal(ts->trial.data, trial, TT_UUID_LEN);
    assert_memory_equal(ts->process.data, origin, TT_UUID_LEN);
    assert_string_equal(ts->framework, "libsvm");
    assert_string_equal(ts->opened_by, "adapter");
    assert_true(ts->has_index);
    assert_int_equal(ts->index, 3);

    check_head(e[1], 1, t, TUNETRAIL__EVENT__KIND_PARAM);
    assert_memory_equal(e[1]->param->trial.data, trial, TT_UUID_LEN);
    assert_string_equal(e[1]->param->key, "C");
    assert_string_equal(e[1]->param->value, "0.5");
    assert_string_equal(e[1]->param->source, "argv");

    check_head(e[2], 2, -5, TUNETRAIL__EVENT__KIND_METRIC);
    Tunetrail__Metric *mt = e[2]->metric;
    assert_memory_equal(mt->trial.data, trial, TT_UUID_LEN);
    assert_string_equal(mt->name, "accuracy");
    assert_true(mt->has_value && mt->value == -0.8125e-3);
    assert_true(mt->has_step);
    assert_int_equal(mt->step, -1);
    assert_string_equal(mt->split, "test");
    assert_string_equal(mt->direction, "max");

    check_head(e[3], 3, t, TUNETRAIL__EVENT__KIND_TRIAL_END);
    assert_memory_equal(e[3]->trial_end->trial.data, trial, TT_UUID_LEN);
    assert_int_equal(e[3]->trial_end->status, TUNETRAIL__TRIAL_END__STATUS__TRIAL_FAILED);
    assert_string_equal(e[3]->trial_end->error, "diverged");

    check_head(e[4], 4, t, TUNETRAIL__EVENT__KIND_NOTE);
    assert_memory_equal(e[4]->note->process.data, origin, TT_UUID_LEN);
    assert_string_equal(e[4]->note->level, "warn");
    assert_string_equal(e[4]->note->text, text);
    tunetrail__batch__free_unpacked(b, NULL);
}

/* Predictions: packed doubles and a fixed64 decode as protobuf-c reads them. */
static void test_predictions_event(void **state)
{
    static uint8_t buf[SHIM_BATCH_HDR_MAX + 4096];
    struct pb_w w;
    pb_init(&w, buf + SHIM_BATCH_HDR_MAX, sizeof buf - SHIM_BATCH_HDR_MAX);
    const double v[3] = {1.5, -0.0, 1e300}, y[3] = {1, 2, -3};
    const uint8_t fold[3] = {0, 1, 2}, bits[1] = {0x05};
    struct shim_pb_ev m = shim_pb_event_begin(&w, origin, 0, 7, PB_F_EVENT_PREDICTIONS);
    pb_bytes(&w, PB_F_PREDICTIONS_TRIAL, trial, TT_UUID_LEN);
    pb_enum(&w, PB_F_PREDICTIONS_KIND, PB_PRED_VALUE);
    pb_u64(&w, PB_F_PREDICTIONS_N, 3);
    pb_u64(&w, PB_F_PREDICTIONS_OFFSET, 0);
    pb_u64(&w, PB_F_PREDICTIONS_COUNT, 3);
    pb_bytes(&w, PB_F_PREDICTIONS_CORRECT, bits, 1);
    pb_doubles(&w, PB_F_PREDICTIONS_VALUE, v, 3);
    pb_doubles(&w, PB_F_PREDICTIONS_LABEL, y, 3);
    pb_bytes(&w, PB_F_PREDICTIONS_FOLD, fold, 3);
    pb_u64(&w, PB_F_PREDICTIONS_NR_FOLD, 3);
    pb_fixed64(&w, PB_F_PREDICTIONS_LABELS_FNV, 0xcbf29ce484222325ULL);
    shim_pb_event_end(&w, m);
    Tunetrail__Batch *b = finish(buf, &w, 1);
    assert_int_equal(b->n_events, 1);
    check_head(b->events[0], 0, 7, TUNETRAIL__EVENT__KIND_PREDICTIONS);
    const Tunetrail__Predictions *p = b->events[0]->predictions;
    assert_memory_equal(p->trial.data, trial, TT_UUID_LEN);
    assert_int_equal(p->kind, TUNETRAIL__PREDICTIONS__KIND__PRED_VALUE);
    assert_int_equal(p->n, 3);
    assert_int_equal(p->count, 3);
    assert_int_equal(p->n_value, 3);
    assert_int_equal(p->n_label, 3);
    assert_memory_equal(p->value, v, sizeof v);
    assert_memory_equal(p->label, y, sizeof y);
    assert_int_equal(p->correct.len, 1);
    assert_memory_equal(p->fold.data, fold, 3);
    assert_true(p->has_labels_fnv);
    assert_true(p->labels_fnv == 0xcbf29ce484222325ULL);
    tunetrail__batch__free_unpacked(b, NULL);
}

static void test_overflow_sets_err(void **state)
{
    uint8_t buf[SHIM_BATCH_HDR_MAX + 40];
    struct pb_w w;
    pb_init(&w, buf + SHIM_BATCH_HDR_MAX, sizeof buf - SHIM_BATCH_HDR_MAX);
    struct shim_pb_ev m = shim_pb_event_begin(&w, origin, 0, 0, PB_F_EVENT_NOTE);
    pb_str(&w, PB_F_NOTE_TEXT, "far too long for forty bytes, so it must not fit");
    shim_pb_event_end(&w, m);
    assert_true(w.err);
    assert_true(w.len <= w.cap);
    size_t avail;
    assert_null(pb_room(&w, &avail));
    assert_int_equal(avail, 0);
}

/* ---- the shim's own events, through shim_emit into a bare-run spool ---- */

static char home[] = "/tmp/tt-test-pb-XXXXXX";

/* Reads the spool and returns its events (caller frees each batch). */
static int read_spool(Tunetrail__Batch **out, int max)
{
    char path[PATH_MAX];
    assert_int_equal(shim_conn_spool_path(path, sizeof path), 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t buf[1 << 18];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t off = 0;
    uint8_t kind;
    const uint8_t *pl;
    uint32_t plen;
    int i = 0;
    while (i < max && wire_frame_next(buf, n, &off, &kind, &pl, &plen) == WIRE_FRAME_OK) {
        out[i] = tunetrail__batch__unpack(NULL, plen, pl);
        assert_non_null(out[i]);
        assert_int_equal(out[i]->n_events, 1);
        assert_memory_equal(out[i]->sender.data, shim_proc.uuid, TT_UUID_LEN);
        assert_int_equal(out[i]->batch_seq, (uint64_t)i);
        i++;
    }
    return i;
}

static void test_shim_events(void **state)
{
    assert_non_null(mkdtemp(home));
    char hv[PATH_MAX + 32], pv[128], hex[TT_UUID_HEX_LEN + 1];
    uint8_t parent[TT_UUID_LEN];
    memset(parent, 0x42, sizeof parent);
    snprintf(hv, sizeof hv, "TUNETRAIL_HOME=%s", home);
    snprintf(pv, sizeof pv, "TUNETRAIL_PARENT=%s:%d", wire_hex(hex, parent, TT_UUID_LEN), (int)getppid());
    char *const env[] = {hv, pv, "TUNETRAIL_STUDY=pbstudy",
                         "TUNETRAIL_SESSION=00112233445566778899aabbccddeeff", NULL};
    shim_config_load(&shim_cfg, env, "/lib/libtunetrail.so");
    setenv("OMP_NUM_THREADS", "3", 1);
    static char longarg[SHIM_ARG_MAX + 100];
    memset(longarg, 'a', sizeof longarg - 1);
    char *argv[] = {"prog", "--lr", "0.1", longarg, NULL};
    memset(&shim_proc, 0, sizeof shim_proc);
    shim_proc_init(4, argv, (char **)env);
    shim_conn_start();

    /* FileAccess: a written file, open and close. */
    char fpath[PATH_MAX];
    snprintf(fpath, sizeof fpath, "%s/out.bin", home);
    int fd = open(fpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    shim_file_opened(AT_FDCWD, fpath, fd, O_WRONLY | O_CREAT | O_TRUNC);
    assert_int_equal(write(fd, "hello", 5), 5);
    struct shim_wfd wfd;
    assert_int_equal(shim_file_closing(fd, &wfd), 1);
    close(fd);
    shim_file_closed(&wfd);
    shim_proc_end(PB_END_EXIT, 3, 0);

    Tunetrail__Batch *b[8];
    assert_int_equal(read_spool(b, 8), 4);

    /* ProcessStart: every field the shim fills in. */
    Tunetrail__Event *e = b[0]->events[0];
    assert_int_equal(e->kind_case, TUNETRAIL__EVENT__KIND_PROCESS_START);
    assert_int_equal(e->seq, 0);
    assert_memory_equal(e->origin.data, shim_proc.uuid, TT_UUID_LEN);
    Tunetrail__ProcessStart *ps = e->process_start;
    assert_memory_equal(ps->process.data, shim_proc.uuid, TT_UUID_LEN);
    assert_true(ps->has_session);
    assert_int_equal(ps->session.data[0], 0x00);
    assert_int_equal(ps->session.data[15], 0xff);
    assert_true(ps->has_parent);
    assert_memory_equal(ps->parent.data, parent, TT_UUID_LEN);
    assert_int_equal(ps->relation, TUNETRAIL__PROCESS_START__RELATION__REL_FORK);
    assert_int_equal(ps->pid, getpid());
    assert_int_equal(ps->ppid, getppid());
    assert_int_equal(ps->uid, getuid());
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = 0;
    assert_string_equal(ps->exe, exe);
    struct stat st;
    assert_int_equal(stat(exe, &st), 0);
    assert_non_null(ps->exe_stat);
    assert_int_equal(ps->exe_stat->dev, st.st_dev);
    assert_int_equal(ps->exe_stat->ino, st.st_ino);
    assert_int_equal(ps->exe_stat->size, st.st_size);
    assert_int_equal(ps->exe_stat->mtime_ns, (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
    assert_int_equal(ps->n_argv, 4);
    assert_string_equal(ps->argv[1], "--lr");
    assert_string_equal(ps->argv[2], "0.1");
    assert_int_equal(strlen(ps->argv[3]), SHIM_ARG_MAX - 1);
    assert_non_null(strstr(ps->argv[3], SHIM_TRUNC_MARK));
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_string_equal(ps->cwd, cwd);
    struct utsname uts;
    uname(&uts);
    assert_string_equal(ps->host, uts.nodename);
    int omp = 0;
    for (size_t i = 0; i < ps->n_env; i++)
        omp += strcmp(ps->env[i], "OMP_NUM_THREADS=3") == 0;
    assert_int_equal(omp, 1);
    assert_string_equal(ps->study, "pbstudy");
    assert_false(ps->has_exe_sha256 || ps->user || ps->git_commit || ps->has_git_dirty);

    /* FileAccess at open and at close. */
    for (int k = 1; k <= 2; k++) {
        e = b[k]->events[0];
        assert_int_equal(e->kind_case, TUNETRAIL__EVENT__KIND_FILE_ACCESS);
        assert_int_equal(e->seq, (uint64_t)k);
        assert_true(e->time_ns > 1600000000ll * 1000000000);
        Tunetrail__FileAccess *fa = e->file_access;
        assert_memory_equal(fa->process.data, shim_proc.uuid, TT_UUID_LEN);
        assert_string_equal(fa->path, fpath);
        assert_int_equal(fa->mode, TUNETRAIL__FILE_ACCESS__MODE__MODE_WRITE);
        assert_int_equal(stat(fpath, &st), 0);
        assert_int_equal(fa->stat->dev, st.st_dev);
        assert_int_equal(fa->stat->ino, st.st_ino);
        assert_int_equal(fa->stat->size, k == 1 ? 0 : 5);
        assert_int_equal(fa->has_closed && fa->closed, k == 2);
        assert_false(fa->has_sha256 || fa->error);
    }

    /* ProcessEnd. */
    e = b[3]->events[0];
    assert_int_equal(e->kind_case, TUNETRAIL__EVENT__KIND_PROCESS_END);
    Tunetrail__ProcessEnd *pe = e->process_end;
    assert_memory_equal(pe->process.data, shim_proc.uuid, TT_UUID_LEN);
    assert_int_equal(pe->how, TUNETRAIL__PROCESS_END__HOW__END_EXIT);
    assert_true(pe->has_exit_code);
    assert_int_equal(pe->exit_code, 3);
    assert_false(pe->has_signal);
    assert_true(pe->has_utime_us && pe->has_stime_us && pe->has_maxrss_kb);
    assert_true(pe->maxrss_kb > 0);
    for (int k = 0; k < 4; k++)
        tunetrail__batch__free_unpacked(b[k], NULL);

    /* A crash end with a negative exit code field absent and the signal set. */
    shim_proc.end_sent = 0;
    shim_proc_end(PB_END_SIGNAL, 0, 11);
    Tunetrail__Batch *c[8];
    assert_int_equal(read_spool(c, 8), 5);
    pe = c[4]->events[0]->process_end;
    assert_int_equal(pe->how, TUNETRAIL__PROCESS_END__HOW__END_SIGNAL);
    assert_true(pe->has_signal);
    assert_int_equal(pe->signal, 11);
    assert_false(pe->has_exit_code);
    for (int k = 0; k < 5; k++)
        tunetrail__batch__free_unpacked(c[k], NULL);

    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", home);
    assert_int_equal(system(cmd), 0);
}

static void test_negative_int32(void **state)
{
    uint8_t buf[SHIM_BATCH_HDR_MAX + 200];
    struct pb_w w;
    pb_init(&w, buf + SHIM_BATCH_HDR_MAX, sizeof buf - SHIM_BATCH_HDR_MAX);
    struct shim_pb_ev m = shim_pb_event_begin(&w, origin, 7, 0, PB_F_EVENT_PROCESS_END);
    pb_enum(&w, PB_F_PROCESS_END_HOW, PB_END_EXIT);
    pb_i32(&w, PB_F_PROCESS_END_EXIT_CODE, -1);
    pb_i64(&w, PB_F_PROCESS_END_MAXRSS_KB, INT64_MIN);
    shim_pb_event_end(&w, m);
    Tunetrail__Batch *b = finish(buf, &w, 0);
    assert_int_equal(b->events[0]->process_end->exit_code, -1);
    assert_true(b->events[0]->process_end->maxrss_kb == INT64_MIN);
    tunetrail__batch__free_unpacked(b, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_match_schema),
        cmocka_unit_test(test_enums_match_schema),
        cmocka_unit_test(test_adapter_events),
        cmocka_unit_test(test_predictions_event),
        cmocka_unit_test(test_overflow_sets_err),
        cmocka_unit_test(test_negative_int32),
        cmocka_unit_test(test_shim_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
