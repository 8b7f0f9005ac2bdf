/* fuzz_seeds.c - writes the seed corpora of the fuzz targets into two
 * directories, so no binary seed is committed:
 *   fuzz_seeds INGEST_DIR FRAME_DIR [SPOOL...]
 * INGEST_DIR (fuzz_ingest) gets every BATCH and META frame payload of each
 * spool (real batches: tests/fuzz/seeds.sh spools a real run) and a few
 * batches built with the event fixture that reach what one run does not: a
 * trial with every event kind, an evaluation, a resent process from another
 * sender. FRAME_DIR (fuzz_frame) gets each spool file whole. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event_fixture.h"
#include "wire.h"

static int g_rc;

static void put(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "fuzz_seeds: %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

static uint8_t *slurp(const char *path, size_t *n)
{
    int fd = open(path, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0) {
        fprintf(stderr, "fuzz_seeds: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    uint8_t *buf = malloc(sb.st_size ? sb.st_size : 1);
    *n = read(fd, buf, sb.st_size) == sb.st_size ? (size_t)sb.st_size : 0;
    close(fd);
    return buf;
}

static void spool_seeds(const char *bdir, const char *fdir, const char *spool, int idx)
{
    size_t len, off = 0;
    uint8_t *buf = slurp(spool, &len);
    char name[64];
    snprintf(name, sizeof name, "spool-%d", idx);
    put(fdir, name, buf, len);
    int frames = 0;
    for (;;) {
        uint8_t kind;
        const uint8_t *p;
        uint32_t plen;
        enum wire_frame_status s = wire_frame_next(buf, len, &off, &kind, &p, &plen);
        if (s == WIRE_FRAME_END || s == WIRE_FRAME_TORN)
            break;
        if (s != WIRE_FRAME_OK || (kind != TT_FRAME_BATCH && kind != TT_FRAME_META))
            continue;
        snprintf(name, sizeof name, "spool-%d-frame-%d", idx, frames++);
        put(bdir, name, p, plen);
    }
    if (!frames) {
        fprintf(stderr, "fuzz_seeds: %s: no batch frame\n", spool);
        g_rc = 1;
    }
    free(buf);
}

/* The next event of b from origin, 1 us after the previous one. */
static Tunetrail__Event *next_event(struct evfx_batch *b, const uint8_t *origin, uint64_t *seq)
{
    uint64_t n = (*seq)++;
    return evfx_event(b, origin, n, EVFX_T0 + (int64_t)n * 1000);
}

static void fixture_seeds(const char *dir)
{
    static uint8_t sess[16] = {0x51}, proc[16] = {0x52}, child[16] = {0x53}, trial[16] = {0x54},
                   eval[16] = {0x55};
    static char *argv[] = {"svm-train", "-c", "4", "-g", "0.5", "heart_scale", "model"};
    struct evfx_batch b = {0};
    uint64_t seq = 0;
#define EV(origin) next_event(&b, origin, &seq)
    evfx_session_start(&b, EV(sess), sess, "fuzz");
    Tunetrail__ProcessStart *ps = evfx_process_start(&b, EV(proc), proc, sess, "fuzz",
                                                     "/usr/bin/svm-train");
    ps->argv = argv, ps->n_argv = 7, ps->has_pid = 1, ps->pid = 4242;
    evfx_trial_start(&b, EV(proc), trial, proc, "libsvm", "svm_train");
    evfx_param(&b, EV(proc), trial, "C", "4", "argv");
    evfx_param(&b, EV(proc), trial, "gamma", "0.5", "argv");
    evfx_file(&b, EV(proc), proc, "heart_scale", TUNETRAIL__FILE_ACCESS__MODE__MODE_READ);
    evfx_metric(&b, EV(proc), trial, "accuracy", 0.8412);
    evfx_metric(&b, EV(proc), NULL, "nSV", 132);
    evfx_note(&b, EV(proc), "optimization finished");
    evfx_file(&b, EV(proc), proc, "model", TUNETRAIL__FILE_ACCESS__MODE__MODE_WRITE);
    evfx_trial_end(&b, EV(proc), trial, TUNETRAIL__TRIAL_END__STATUS__TRIAL_OK);
    /* a child process (fork) with an evaluation trial, then both ends */
    Tunetrail__ProcessStart *cs = evfx_process_start(&b, EV(child), child, sess, "fuzz",
                                                     "/usr/bin/svm-predict");
    cs->parent = evfx_bin(proc, 16), cs->has_parent = 1;
    cs->relation = TUNETRAIL__PROCESS_START__RELATION__REL_FORK, cs->has_relation = 1;
    evfx_trial_start(&b, EV(child), eval, child, "libsvm", "svm_predict");
    evfx_metric(&b, EV(child), eval, "accuracy", 0.79);
    evfx_trial_end(&b, EV(child), eval, TUNETRAIL__TRIAL_END__STATUS__TRIAL_FAILED);
    evfx_process_end(&b, EV(child), child, TUNETRAIL__PROCESS_END__HOW__END_SIGNAL, 11);
    evfx_process_end(&b, EV(proc), proc, TUNETRAIL__PROCESS_END__HOW__END_EXIT, 0);
#undef EV
    uint8_t *out;
    size_t n = evfx_pack(&b, TUNETRAIL__SCHEMA_VERSION__SCHEMA_VERSION, 1, sess, &out);
    put(dir, "fixture-all-kinds", out, n);
    free(out);
    /* the process's part alone, sent by the process (the shim's batches) */
    n = evfx_pack_events(b.ev + 1, 11, TUNETRAIL__SCHEMA_VERSION__SCHEMA_VERSION, 7, proc, &out);
    put(dir, "fixture-process", out, n);
    free(out);
    evfx_clear(&b);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: fuzz_seeds INGEST_DIR FRAME_DIR [SPOOL...]\n");
        return 2;
    }
    fixture_seeds(argv[1]);
    for (int i = 3; i < argc; i++)
        spool_seeds(argv[1], argv[2], argv[i], i - 3);
    return g_rc;
}
