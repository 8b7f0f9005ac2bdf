/* trials.c - see trials.h. */
#include "trials.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "argv_params.h"
#include "config_track.h"
#include "envpkg.h"
#include "gitinfo.h"
#include "hashpool.h"
#include "wire.h"

/* A file an image opened for writing: hashed at its close event, or at the
 * image's end if none came. A closed one stays listed with the stat its
 * close reported, and is hashed again at the end if it changed since: a
 * shell's `echo x >f` closes f right after dup2-ing it onto stdout, before
 * the write, so the close's stat and a prompt hash can see it empty. */
struct pwrite {
    char *path;
    int closed;
    uint64_t size;
    int64_t mtime_ns;
    struct pwrite *next;
};

/* A param of a whole image (Note{level "params"}: the Python hook's argparse
 * namespace), put on every trial of the image. */
struct pparam {
    char *key, *value, *source;
};

struct img {
    uint8_t uuid[16];
    uint8_t parent[16];
    int has_parent, relation;
    pid_t pid, ppid;
    int conn;
    int ended, failed;
    int detached;     /* connection closed by us while the process lived on */
    int agent_made;   /* ProcessStart made by the agent (static root) */
    int live;         /* came over a connection: its pid is a process of this machine, now */
    int gone;         /* its connection ended without an end record: waiting for its wait status */
    int64_t gone_check_ms; /* when to look at /proc again (monotonic ms) */
    int wst_known, wst;    /* a wait status reported before its connection ended */
    int synth;        /* ended by the agent as killed without knowing how */
    int execd;        /* ended by a successful exec: an image of the same pid follows */
    char *exe;        /* copy */
    char **argv;      /* copy, NULL-terminated */
    int argc;
    struct pwrite *writes; /* opened for writing, close not seen yet */
    char *pattern;    /* "pattern:<p>" matched; its trial opens at the end unless an adapter opened one */
    int adapted;      /* an adapter opened a trial here while a pattern matched */
    int64_t start_ns; /* ProcessStart time: a deferred pattern trial starts then */
    int status;       /* TS_*, once ended */
    unsigned ntrials; /* trials opened in this image */
    int fw;           /* an adapter's framework library is loaded (ProcessStart/End.frameworks) */
    int evaluator;    /* ProcessStart.evaluator: an evaluation program, never a failed trial */
    int loose_metric; /* reported a metric outside any trial (a printed line) */
    int helper;       /* an interpreter's helper (interp.c rules): never a trial */
    int copy;         /* a forked copy of its parent image (same exe and argv) */
    int script;       /* argv index of an interpreter's script or module; 0: none */
    char *program;    /* "the same program": exe, or an interpreter's script; NULL for helpers */
    char *group;      /* the session (hex), or "study:<name>" for bare runs: programs compare within it */
    struct pparam *pp; /* the image's own params: they replace its argv params */
    size_t npp;
};

#define EARLY_MAX 64 /* wait statuses kept for images not yet seen */

/* How a trial or image ended, for the run's summary. */
enum { TS_RUNNING, TS_OK, TS_FAILED, TS_CRASHED, TS_KILLED, TS_N };
static const char *const ts_name[TS_N] = {"running", "ok", "failed", "crashed", "killed"};

struct trial {
    uint8_t uuid[16];
    size_t img;      /* index into imgs, or SIZE_MAX if unknown */
    int done;
    int status;      /* TS_* */
    int evaluation;  /* opened for an evaluation program's printed metric */
};

/* A counted name: an adapter with its trials, or an adapter that could not
 * attach in a program (name = adapter, what = exe). */
struct tally {
    char *name, *what;
    unsigned n;
};

/* What a finished hash fills into a held event. */
enum hold_kind { HOLD_NONE, HOLD_EXE, HOLD_FILE };
struct hold {
    enum hold_kind kind;
    int with_stat;      /* also the agent's stat (exe_stat / FileAccess.stat) */
    const char *errtxt; /* FileAccess.error prefix if hashing fails */
};

/* An event waiting in its origin's queue: packed, because the unpacked
 * message it came from is freed when trials_feed returns. */
struct held {
    struct held *next;
    uint8_t *buf;
    size_t len;
    struct hashpool_job *job; /* NULL: waits only for the events before it */
    struct hold h;
};

/* Per-origin FIFO, present only while it holds something: an origin's events
 * leave in arrival order (its seq order), other origins are not delayed. */
struct oq {
    uint8_t origin[16];
    struct held *head, *tail;
};

struct tt_trials {
    struct trials_config cfg;
    uint8_t session[16];
    int has_session;
    tt_ship *ship;
    uint64_t seq;
    pid_t root_pid;
    struct img *imgs;
    size_t nimg, cimg;
    int finished_conn; /* the connection whose image the last feed ended for good, else -1 */
    struct trial *trials;
    size_t ntr, ctr;
    unsigned finished, failed;
    tt_hashpool *hp;
    struct oq *q;
    size_t nq, cq;
    size_t nheld;
    tt_gitinfo *git;
    uid_t user_uid;
    char *user;
    cfgtrack *ctrack;    /* config files read -> Params (config_track.h) */
    tt_envpkg *envpkg;   /* environment files and their packages (envpkg.h) */
    char ctrack_err[256];  /* why cfg_emit failed */
    unsigned *pattern_hits; /* per --trial pattern: processes it matched (helpers aside) */
    struct tally *adapters, *unattached;
    size_t nadapters, nunattached;
    struct tally *outside;   /* name = why, what = exe: recorded from outside only */
    struct tally *unentered; /* name = why, what = exe: exec'd by a shim, run without it */
    size_t noutside, nunentered;
    struct early {
        pid_t pid, ppid;
        int ws;
    } early[EARLY_MAX];      /* wait statuses reported before their image's start */
    size_t nearly;           /* reported so far (ring index) */
    int any_gone;            /* an image may be gone and not ended (trials_tick walks) */
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cfg_emit(void *arg, const uint8_t trial[16], const char *key, const char *value,
                    const char *source);

tt_trials *trials_new(const struct trials_config *cfg, tt_ship *ship)
{
    tt_trials *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->cfg = *cfg;
    if (cfg->session) {
        memcpy(r->session, cfg->session, 16);
        r->has_session = 1;
    }
    r->ship = ship;
    r->user_uid = (uid_t)-1;
    r->finished_conn = -1;
    r->hp = hashpool_new(cfg->hash_threads);
    r->git = gitinfo_new();
    r->ctrack = config_track_new(cfg_emit, r);
    r->envpkg = envpkg_new(NULL);
    r->pattern_hits = calloc(cfg->npatterns + 1, sizeof *r->pattern_hits);
    if (!r->hp || !r->git || !r->ctrack || !r->envpkg || !r->pattern_hits) {
        trials_free(r);
        return NULL;
    }
    return r;
}

void trials_free(tt_trials *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nimg; i++) {
        for (int k = 0; k < r->imgs[i].argc; k++)
            free(r->imgs[i].argv[k]);
        free(r->imgs[i].argv);
        free(r->imgs[i].exe);
        free(r->imgs[i].pattern);
        free(r->imgs[i].program);
        free(r->imgs[i].group);
        for (size_t k = 0; k < r->imgs[i].npp; k++) {
            free(r->imgs[i].pp[k].key);
            free(r->imgs[i].pp[k].value);
            free(r->imgs[i].pp[k].source);
        }
        free(r->imgs[i].pp);
        for (struct pwrite *w = r->imgs[i].writes, *n; w; w = n) {
            n = w->next;
            free(w->path);
            free(w);
        }
    }
    free(r->imgs);
    free(r->trials);
    for (size_t i = 0; i < r->nq; i++)
        for (struct held *h = r->q[i].head, *n; h; h = n) {
            n = h->next;
            hashpool_put(r->hp, h->job);
            free(h->buf);
            free(h);
        }
    free(r->q);
    hashpool_free(r->hp);
    gitinfo_free(r->git);
    config_track_free(r->ctrack);
    envpkg_free(r->envpkg);
    free(r->user);
    free(r->pattern_hits);
    for (size_t i = 0; i < r->nadapters; i++)
        free(r->adapters[i].name);
    for (size_t i = 0; i < r->nunattached; i++) {
        free(r->unattached[i].name);
        free(r->unattached[i].what);
    }
    for (size_t i = 0; i < r->noutside; i++) {
        free(r->outside[i].name);
        free(r->outside[i].what);
    }
    for (size_t i = 0; i < r->nunentered; i++) {
        free(r->unentered[i].name);
        free(r->unentered[i].what);
    }
    free(r->adapters);
    free(r->unattached);
    free(r->outside);
    free(r->unentered);
    free(r);
}

void trials_set_root_pid(tt_trials *r, pid_t pid) { r->root_pid = pid; }

size_t trials_images(const tt_trials *r) { return r->nimg; }

void trials_counts(const tt_trials *r, struct trials_counts *out)
{
    out->trials_started = (unsigned)r->ntr;
    out->trials_finished = r->finished;
    out->trials_failed = r->failed;
    out->processes = (unsigned)r->nimg;
}

static void set_stat(Tunetrail__FileStat *fs, const struct stat *st)
{
    fs->has_dev = fs->has_ino = fs->has_size = fs->has_mtime_ns = 1;
    fs->dev = (uint64_t)st->st_dev;
    fs->ino = (uint64_t)st->st_ino;
    fs->size = (uint64_t)st->st_size;
    fs->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Ships ev with what job j (done, or NULL = out of memory) says filled in
 * as h asks; ev is left as it was. */
static struct img *find_img(tt_trials *r, const ProtobufCBinaryData *u);

static int out_filled(tt_trials *r, Tunetrail__Event *ev, const struct hold *h, const struct hashpool_job *j,
                      char *err, size_t errlen)
{
    int e = j ? j->err : ENOMEM, rc;
    Tunetrail__FileStat fs = TUNETRAIL__FILE_STAT__INIT;
    if (h->kind == HOLD_EXE && ev->kind_case == TUNETRAIL__EVENT__KIND_PROCESS_START) {
        Tunetrail__ProcessStart *ps = ev->process_start, saved = *ps;
        if (!e) {
            ps->has_exe_sha256 = 1;
            ps->exe_sha256 = (ProtobufCBinaryData){32, (uint8_t *)j->sha};
            if (h->with_stat && j->has_st) {
                set_stat(&fs, &j->st);
                ps->exe_stat = &fs;
            }
        }
        rc = ship_event(r->ship, ev, err, errlen);
        *ps = saved; /* protobuf-c frees the unpacked fields, not ours */
        return rc;
    }
    if (h->kind == HOLD_FILE && ev->kind_case == TUNETRAIL__EVENT__KIND_FILE_ACCESS) {
        Tunetrail__FileAccess *fa = ev->file_access, saved = *fa;
        char msg[300];
        if (!e) {
            fa->has_sha256 = 1;
            fa->sha256 = (ProtobufCBinaryData){32, (uint8_t *)j->sha};
            /* parse a read config file now that it is hashed; a parse
             * error is recorded on the file (docs/ADAPTERS.md) */
            const ProtobufCBinaryData *u = fa->has_process && fa->process.len == 16 ? &fa->process : &ev->origin;
            if ((!fa->has_mode || fa->mode == TUNETRAIL__FILE_ACCESS__MODE__MODE_READ) && u->len == 16 && !fa->error)
                fa->error = (char *)config_track_hashed(r->ctrack, u->data, fa->path);
            /* a read hashed file of the system or the interpreter: summarised in the leaf */
            const struct img *im = find_img(r, u);
            if ((!fa->has_mode || fa->mode == TUNETRAIL__FILE_ACCESS__MODE__MODE_READ) &&
                envpkg_is_environment(im ? im->exe : NULL, fa->path)) {
                fa->has_environment = fa->environment = 1;
                fa->packages = (char *)envpkg_packages(r->envpkg, fa->path);
            }
            if (h->with_stat && j->has_st) {
                set_stat(&fs, &j->st);
                fa->stat = &fs;
            }
        } else if (!fa->error) {
            snprintf(msg, sizeof msg, "%s: %s", h->errtxt ? h->errtxt : "cannot hash", strerror(e));
            fa->error = msg;
        }
        rc = ship_event(r->ship, ev, err, errlen);
        *fa = saved;
        return rc;
    }
    return ship_event(r->ship, ev, err, errlen);
}

static struct oq *find_q(tt_trials *r, const uint8_t origin[16])
{
    for (size_t i = 0; i < r->nq; i++)
        if (!memcmp(r->q[i].origin, origin, 16))
            return &r->q[i];
    return NULL;
}

/* Every event leaves through here. It goes to the batcher now if its
 * origin holds nothing back and its hash (if any) is known; else it waits in
 * its origin's queue. Takes over the caller's reference to j. */
static int out_event(tt_trials *r, Tunetrail__Event *ev, const struct hold *h, struct hashpool_job *j, char *err,
                     size_t errlen)
{
    static const uint8_t none[16];
    static const struct hold plain = {HOLD_NONE, 0, NULL};
    if (!h)
        h = &plain;
    const uint8_t *origin = ev->has_origin && ev->origin.len == 16 ? ev->origin.data : none;
    struct oq *q = find_q(r, origin);
    if (!q && (h->kind == HOLD_NONE || !j || j->done)) {
        int rc = out_filled(r, ev, h, j, err, errlen);
        hashpool_put(r->hp, j);
        return rc;
    }
    struct held *hd = calloc(1, sizeof *hd);
    if (hd) {
        hd->len = tunetrail__event__get_packed_size(ev);
        hd->buf = malloc(hd->len ? hd->len : 1);
    }
    if (!q && r->nq == r->cq) {
        size_t nc = r->cq ? r->cq * 2 : 16;
        struct oq *nqs = realloc(r->q, nc * sizeof *nqs);
        if (nqs) {
            r->q = nqs;
            r->cq = nc;
        }
    }
    if (!hd || !hd->buf || (!q && r->nq == r->cq)) {
        if (hd)
            free(hd->buf);
        free(hd);
        hashpool_put(r->hp, j);
        return tt_fail(err, errlen, "out of memory: event dropped");
    }
    tunetrail__event__pack(ev, hd->buf);
    hd->job = j;
    hd->h = *h;
    if (!q) {
        q = &r->q[r->nq++];
        memcpy(q->origin, origin, 16);
        q->head = q->tail = NULL;
    }
    if (q->tail)
        q->tail->next = hd;
    else
        q->head = hd;
    q->tail = hd;
    r->nheld++;
    return 0;
}

/* Ships every held event whose turn has come (its hash and those of the
 * events before it in its origin are known). */
static int cfg_flush(tt_trials *r, char *err, size_t errlen);

static int release_ready(tt_trials *r, char *err, size_t errlen)
{
    int rc = 0;
    for (size_t i = 0; i < r->nq;) {
        struct oq *q = &r->q[i];
        while (q->head && (!q->head->job || q->head->job->done || q->head->h.kind == HOLD_NONE)) {
            struct held *hd = q->head;
            q->head = hd->next;
            if (!q->head)
                q->tail = NULL;
            Tunetrail__Event *ev = tunetrail__event__unpack(NULL, hd->len, hd->buf);
            char e2[256];
            int x = ev ? out_filled(r, ev, &hd->h, hd->job, e2, sizeof e2)
                       : tt_fail(e2, sizeof e2, "held event does not unpack: dropped");
            if (x < 0 && rc == 0) {
                rc = -1;
                tt_fail(err, errlen, "%s", e2);
            }
            if (ev)
                tunetrail__event__free_unpacked(ev, NULL);
            hashpool_put(r->hp, hd->job);
            free(hd->buf);
            free(hd);
            r->nheld--;
        }
        if (!q->head)
            r->q[i] = r->q[--r->nq];
        else
            i++;
    }
    if (cfg_flush(r, rc ? NULL : err, errlen) < 0)
        rc = -1;
    return rc;
}

/* Asks for path's hash and sends ev out with it (now or once known). */
static int out_hashed(tt_trials *r, Tunetrail__Event *ev, const char *path, const struct hold *h, char *err,
                      size_t errlen)
{
    return out_event(r, ev, h, hashpool_get(r->hp, path), err, errlen);
}

int trials_hash_fd(const tt_trials *r) { return hashpool_fd(r->hp); }

int trials_hash_ready(tt_trials *r, char *err, size_t errlen)
{
    if (hashpool_collect(r->hp) == 0 && r->nheld == 0)
        return 0;
    return release_ready(r, err, errlen);
}

int trials_wait(tt_trials *r, char *err, size_t errlen)
{
    hashpool_wait(r->hp);
    return release_ready(r, err, errlen);
}

size_t trials_held(const tt_trials *r) { return r->nheld; }

unsigned long trials_hash_reads(const tt_trials *r) { return hashpool_reads(r->hp); }

static void stamp(tt_trials *r, Tunetrail__Event *ev)
{
    ev->has_origin = 1;
    ev->origin.data = r->cfg.origin;
    ev->origin.len = 16;
    ev->has_seq = 1;
    ev->seq = r->seq++;
    ev->has_time_ns = 1;
    ev->time_ns = now_ns();
}

int trials_emit(tt_trials *r, Tunetrail__Event *ev, char *err, size_t errlen)
{
    stamp(r, ev);
    return out_event(r, ev, NULL, NULL, err, errlen);
}

/* Emits Param{trial, key, value, source} the agent derived itself. */
static int emit_param(tt_trials *r, const uint8_t trial[16], const char *key, const char *value,
                      const char *source, char *err, size_t errlen)
{
    Tunetrail__Event pe = TUNETRAIL__EVENT__INIT;
    Tunetrail__Param p = TUNETRAIL__PARAM__INIT;
    pe.kind_case = TUNETRAIL__EVENT__KIND_PARAM;
    pe.param = &p;
    p.has_trial = 1;
    p.trial = (ProtobufCBinaryData){16, (uint8_t *)trial};
    p.key = (char *)key;
    p.value = (char *)value;
    p.source = (char *)source;
    return trials_emit(r, &pe, err, errlen);
}

/* config_track.h emit function: Param{trial, key, value, source "file:<name>"}. */
static int cfg_emit(void *arg, const uint8_t trial[16], const char *key, const char *value,
                    const char *source)
{
    tt_trials *r = arg;
    return emit_param(r, trial, key, value, source, r->ctrack_err, sizeof r->ctrack_err);
}

/* Emits the params of parsed config files to their trials. Not while
 * release_ready walks the queues (emitting may grow them). */
static int cfg_flush(tt_trials *r, char *err, size_t errlen)
{
    return config_track_flush(r->ctrack) ? tt_fail(err, errlen, "%s", r->ctrack_err) : 0;
}

static struct img *find_img(tt_trials *r, const ProtobufCBinaryData *u)
{
    if (u->len != 16)
        return NULL;
    for (size_t i = r->nimg; i-- > 0;)
        if (!memcmp(r->imgs[i].uuid, u->data, 16))
            return &r->imgs[i];
    return NULL;
}

static struct img *add_img(tt_trials *r, const uint8_t uuid[16])
{
    if (r->nimg == r->cimg) {
        size_t nc = r->cimg ? r->cimg * 2 : 64;
        struct img *p = realloc(r->imgs, nc * sizeof *p);
        if (!p)
            return NULL;
        r->imgs = p;
        r->cimg = nc;
    }
    struct img *im = &r->imgs[r->nimg++];
    memset(im, 0, sizeof *im);
    memcpy(im->uuid, uuid, 16);
    im->conn = -1;
    return im;
}

static void copy_argv(struct img *im, char *const *argv, size_t n)
{
    im->argv = calloc(n + 1, sizeof *im->argv);
    if (!im->argv)
        return;
    for (size_t i = 0; i < n; i++)
        if ((im->argv[i] = strdup(argv[i] ? argv[i] : "")))
            im->argc++;
}

static const char *base(const char *p)
{
    const char *s = p ? strrchr(p, '/') : NULL;
    return s ? s + 1 : p ? p : "";
}

/* a b c joined, malloc'd; NULL on ENOMEM. */
static char *cat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb);
        memcpy(s + la + lb, c, lc + 1);
    }
    return s;
}

static const char *user_of(tt_trials *r, uid_t uid)
{
    if (r->user && r->user_uid == uid)
        return r->user;
    struct passwd *pw = getpwuid(uid);
    if (!pw)
        return NULL;
    free(r->user);
    r->user = strdup(pw->pw_name);
    r->user_uid = uid;
    return r->user;
}

static int add_trial(tt_trials *r, const uint8_t uuid[16], size_t img)
{
    if (r->ntr == r->ctr) {
        size_t nc = r->ctr ? r->ctr * 2 : 64;
        struct trial *p = realloc(r->trials, nc * sizeof *p);
        if (!p)
            return -1;
        r->trials = p;
        r->ctr = nc;
    }
    r->trials[r->ntr].img = img;
    r->trials[r->ntr].done = 0;
    r->trials[r->ntr].status = TS_RUNNING;
    r->trials[r->ntr].evaluation = 0;
    memcpy(r->trials[r->ntr++].uuid, uuid, 16);
    if (img < r->nimg) {
        r->imgs[img].ntrials++;
        config_track_trial_open(r->ctrack, r->imgs[img].uuid, uuid);
    }
    return 0;
}

/* Counts one for name in *t (a set of names with counts); what (may be
 * NULL) must match too. Out of memory: not counted. */
static void tally_add(struct tally **t, size_t *n, const char *name, const char *what)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*t)[i].name, name) && !strcmp((*t)[i].what ? (*t)[i].what : "", what ? what : "")) {
            (*t)[i].n++;
            return;
        }
    struct tally *p = realloc(*t, (*n + 1) * sizeof *p);
    if (!p)
        return;
    *t = p;
    p[*n].name = strdup(name);
    p[*n].what = what ? strdup(what) : NULL;
    p[*n].n = 1;
    if (p[*n].name)
        (*n)++;
    else
        free(p[*n].what);
}

/* The params of image im for its trial tu: those the process reported
 * about itself (docs/INTERNALS.md "Params of a process": argparse knows
 * what argv means, the heuristic only guesses, so the two never mix), else
 * Param{trial, argv key, value, source "argv"} for each parsed argv item. */
static int emit_argv_params(tt_trials *r, struct img *im, const uint8_t tu[16], char *err, size_t errlen)
{
    if (im->npp) {
        int rc = 0;
        for (size_t i = 0; i < im->npp && rc == 0; i++)
            rc = emit_param(r, tu, im->pp[i].key, im->pp[i].value, im->pp[i].source, err, errlen);
        return rc;
    }
    struct argv_param *ps;
    size_t np;
    /* an interpreter's own options are not the script's params */
    int from = im->script > 0 && im->script < im->argc ? im->script : 0;
    if (argv_params_parse(im->argc - from, im->argv + from, &ps, &np) < 0)
        return tt_fail(err, errlen, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < np && rc == 0; i++) {
        rc = emit_param(r, tu, ps[i].key, ps[i].value, "argv", err, errlen);
    }
    argv_params_free(ps, np);
    return rc;
}

/* Note{level "params"} from image im: text is [[key, value, source], ...].
 * Each key replaces its earlier value; a changed one goes at once to the
 * image's trials still open (later trials get them all as they open). A
 * malformed note is stored as it came and changes nothing (the program's
 * record is not lost for a hook's mistake). */
static int image_params(tt_trials *r, struct img *im, const char *text, char *err, size_t errlen)
{
    json_t *a = json_loads(text, JSON_REJECT_DUPLICATES, NULL), *e;
    size_t i;
    int rc = 0;
    if (!json_is_array(a)) {
        json_decref(a);
        return 0;
    }
    json_array_foreach(a, i, e)
    {
        const char *k = json_string_value(json_array_get(e, 0)), *v = json_string_value(json_array_get(e, 1)),
                   *src = json_string_value(json_array_get(e, 2));
        if (json_array_size(e) != 3 || !k || !*k || !v || !src)
            continue;
        size_t j = 0;
        while (j < im->npp && strcmp(im->pp[j].key, k))
            j++;
        if (j < im->npp && !strcmp(im->pp[j].value, v) && !strcmp(im->pp[j].source, src))
            continue;
        struct pparam *np = j < im->npp ? im->pp : realloc(im->pp, (im->npp + 1) * sizeof *np);
        if (np)
            im->pp = np;
        char *nv = strdup(v), *ns = strdup(src), *nk = j < im->npp ? NULL : strdup(k);
        if (!nv || !ns || (j == im->npp && !nk) || !np) {
            free(nv), free(ns), free(nk);
            rc = tt_fail(err, errlen, "out of memory");
            break;
        }
        if (j == im->npp)
            im->pp[im->npp++].key = nk;
        else
            free(im->pp[j].value), free(im->pp[j].source);
        im->pp[j].value = nv;
        im->pp[j].source = ns;
        size_t idx = (size_t)(im - r->imgs);
        for (size_t t = 0; t < r->ntr && rc == 0; t++)
            if (r->trials[t].img == idx && !r->trials[t].done) {
                uint8_t tu[16];
                memcpy(tu, r->trials[t].uuid, 16);
                rc = emit_param(r, tu, im->pp[j].key, nv, ns, err, errlen);
            }
    }
    json_decref(a);
    return rc;
}

/* Opens an agent-made trial in image im with its argv params. */
static int open_trial(tt_trials *r, struct img *im, const char *opened_by, char *err, size_t errlen)
{
    uint8_t tu[16];
    if (wire_uuid_new(tu) < 0)
        return tt_fail(err, errlen, "getrandom: %s", strerror(errno));
    if (add_trial(r, tu, (size_t)(im - r->imgs)) < 0)
        return tt_fail(err, errlen, "out of memory");
    Tunetrail__Event ev = TUNETRAIL__EVENT__INIT;
    Tunetrail__TrialStart ts = TUNETRAIL__TRIAL_START__INIT;
    ev.kind_case = TUNETRAIL__EVENT__KIND_TRIAL_START;
    ev.trial_start = &ts;
    ts.has_trial = ts.has_process = ts.has_index = 1;
    ts.trial = (ProtobufCBinaryData){16, tu};
    ts.process = (ProtobufCBinaryData){16, im->uuid};
    ts.framework = "argv";
    ts.opened_by = (char *)opened_by;
    ts.index = 0;
    stamp(r, &ev);
    if (im->start_ns) /* a deferred pattern trial began with its process */
        ev.time_ns = im->start_ns;
    if (out_event(r, &ev, NULL, NULL, err, errlen) < 0)
        return -1;
    int rc = emit_argv_params(r, im, tu, err, errlen);
    /* a trial opened after its process ended is already decided */
    if (rc == 0 && im->ended) {
        r->trials[r->ntr - 1].done = 1;
        r->trials[r->ntr - 1].status = im->status;
        if (im->failed)
            r->failed++;
        else
            r->finished++;
    }
    if (rc == 0)
        rc = cfg_flush(r, err, errlen);
    return rc;
}

/* A pattern matches the program's name (exe or argv[0]) or, for an
 * interpreter, its script's basename or its module; never a helper. */
static int match_trial(tt_trials *r, struct img *im, char *err, size_t errlen)
{
    if (im->helper)
        return 0;
    const char *script = im->script > 0 && im->script < im->argc ? im->argv[im->script] : NULL;
    if (script && !strncmp(script, "-m", 2) && script[2])
        script += 2; /* python -mmodule */
    int first = 1;
    for (size_t i = 0; i < r->cfg.npatterns; i++) {
        const char *pat = r->cfg.patterns[i];
        int hit = (im->exe && fnmatch(pat, base(im->exe), 0) == 0) ||
                  (im->argc > 0 && fnmatch(pat, base(im->argv[0]), 0) == 0) ||
                  (script && fnmatch(pat, base(script), 0) == 0);
        if (hit)
            r->pattern_hits[i]++;
        if (hit && first) {
            first = 0;
            /* Deferred to the image's end (settle_pattern): an adapter
             * trial in the same image replaces it (one trial per
             * configuration), taking over its argv params. */
            char by[512];
            snprintf(by, sizeof by, "pattern:%s", pat);
            if (!im->pattern && !im->adapted && !(im->pattern = strdup(by)))
                return tt_fail(err, errlen, "out of memory");
        }
    }
    return 0;
}

/* Opens im's deferred pattern trial, if it still has one. Call before the
 * image is ended (so the trial is counted with the image's outcome). */
static int settle_pattern(tt_trials *r, struct img *im, char *err, size_t errlen)
{
    if (!im->pattern)
        return 0;
    char *by = im->pattern;
    im->pattern = NULL;
    int rc = open_trial(r, im, by, err, errlen);
    free(by);
    return rc;
}

static void end_img(tt_trials *r, struct img *im, int status)
{
    int failed = status != TS_OK;
    im->ended = 1;
    im->failed = failed;
    im->status = status;
    size_t idx = (size_t)(im - r->imgs);
    for (size_t i = 0; i < r->ntr && im->ntrials; i++)
        if (r->trials[i].img == idx && !r->trials[i].done) {
            r->trials[i].done = 1;
            r->trials[i].status = status;
            if (failed)
                r->failed++;
            else
                r->finished++;
        }
}

/* Hashes written files of im whose close we never saw, and again those
 * that changed after their close (struct pwrite). */
static int flush_writes(tt_trials *r, struct img *im, char *err, size_t errlen)
{
    int rc = 0;
    while (im->writes && rc == 0) {
        struct pwrite *w = im->writes;
        im->writes = w->next;
        struct stat sb;
        Tunetrail__FileStat fs = TUNETRAIL__FILE_STAT__INIT;
        if (w->closed) { /* hashed at its close: again only if it changed since */
            if (stat(w->path, &sb) == 0)
                set_stat(&fs, &sb);
            if (!fs.has_size || (fs.size == w->size && fs.mtime_ns == w->mtime_ns)) {
                free(w->path);
                free(w);
                continue;
            }
        }
        Tunetrail__Event ev = TUNETRAIL__EVENT__INIT;
        Tunetrail__FileAccess fa = TUNETRAIL__FILE_ACCESS__INIT;
        if (w->closed)
            fa.stat = &fs;
        ev.kind_case = TUNETRAIL__EVENT__KIND_FILE_ACCESS;
        ev.file_access = &fa;
        fa.has_process = fa.has_mode = fa.has_closed = 1;
        fa.process = (ProtobufCBinaryData){16, im->uuid};
        fa.path = w->path;
        fa.mode = TUNETRAIL__FILE_ACCESS__MODE__MODE_WRITE;
        fa.closed = 1;
        static const struct hold h = {HOLD_FILE, 1, "cannot hash at process end"};
        stamp(r, &ev);
        rc = out_hashed(r, &ev, w->path, &h, err, errlen);
        free(w->path);
        free(w);
    }
    return rc;
}

/* ev = ProcessEnd{process: im, how} the agent writes for an image. */
static void end_event(Tunetrail__Event *ev, Tunetrail__ProcessEnd *pe, const struct img *im,
                      Tunetrail__ProcessEnd__How how)
{
    *ev = (Tunetrail__Event)TUNETRAIL__EVENT__INIT;
    *pe = (Tunetrail__ProcessEnd)TUNETRAIL__PROCESS_END__INIT;
    ev->kind_case = TUNETRAIL__EVENT__KIND_PROCESS_END;
    ev->process_end = pe;
    pe->has_process = pe->has_how = 1;
    pe->process = (ProtobufCBinaryData){16, (uint8_t *)im->uuid};
    pe->how = how;
}

static int synth_end(tt_trials *r, struct img *im, char *err, size_t errlen)
{
    Tunetrail__Event ev;
    Tunetrail__ProcessEnd pe;
    end_event(&ev, &pe, im, TUNETRAIL__PROCESS_END__HOW__END_KILLED);
    if (settle_pattern(r, im, err, errlen) < 0)
        return -1;
    im->gone = 0;
    im->synth = 1;
    end_img(r, im, TS_KILLED);
    if (flush_writes(r, im, err, errlen) < 0)
        return -1;
    return trials_emit(r, &ev, err, errlen);
}

/* ---- ends the shim could not send (docs/INTERNALS.md "Ends from outside") */

#define GONE_CHECK_MS 250 /* a vanished image's /proc is looked at again after this */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Signals a program raises on itself by faulting or aborting: `crashed`.
 * The shim's set (plugin/shim_sig.c) plus SIGSYS (seccomp) and SIGTRAP;
 * any other signal came from outside (kill, the OOM killer): `killed`. */
static int crash_signal(int sig)
{
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGABRT ||
           sig == SIGSYS || sig == SIGTRAP;
}

/* 1 and *ws if pid is a zombie of our own user (it ended and its parent has
 * not reaped it yet): field 52 of /proc/PID/stat is its wait status. The
 * kernel shows 0 there to whoever may not ptrace it, hence the owner check. */
static int proc_zombie_status(pid_t pid, int *ws)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    ssize_t n = fstat(fd, &st) == 0 && st.st_uid == geteuid() ? read(fd, buf, sizeof buf - 1) : -1;
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the command name may hold anything */
    if (!p || p[1] != ' ' || p[2] != 'Z')
        return 0;
    p += 2; /* field 3, the state */
    for (int field = 3; field < 52; field++) {
        p = strchr(p, ' ');
        if (!p)
            return 0;
        p++;
    }
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p)
        return 0;
    *ws = (int)v;
    return 1;
}

/* Corrects the status of an ended image and of its trials. */
static void restatus_img(tt_trials *r, struct img *im, int status)
{
    size_t idx = (size_t)(im - r->imgs);
    int was_failed = im->failed, failed = status != TS_OK;
    for (size_t i = 0; i < r->ntr && im->ntrials; i++)
        if (r->trials[i].img == idx && r->trials[i].done && r->trials[i].status == im->status) {
            r->trials[i].status = status;
            if (was_failed != failed) {
                r->failed += failed ? 1 : -1;
                r->finished += failed ? -1 : 1;
            }
        }
    im->status = status;
    im->failed = failed;
}

/* im ended with wait status ws (read by the agent as the command's parent,
 * reported by its parent's shim, or read from /proc). An image the agent
 * had ended as killed for want of better is corrected: the store lets any
 * other end replace a synthesised END_KILLED. */
static int end_wstatus(tt_trials *r, struct img *im, int ws, char *err, size_t errlen)
{
    Tunetrail__Event ev;
    Tunetrail__ProcessEnd pe;
    int st;
    Tunetrail__ProcessEnd__How how;
    if (WIFSIGNALED(ws)) {
        int crash = crash_signal(WTERMSIG(ws));
        how = crash ? TUNETRAIL__PROCESS_END__HOW__END_SIGNAL : TUNETRAIL__PROCESS_END__HOW__END_KILLED;
        st = crash ? TS_CRASHED : TS_KILLED;
    } else {
        how = TUNETRAIL__PROCESS_END__HOW__END_EXIT;
        st = WEXITSTATUS(ws) ? TS_FAILED : TS_OK;
    }
    end_event(&ev, &pe, im, how);
    if (WIFSIGNALED(ws)) {
        pe.has_signal = 1;
        pe.signal = WTERMSIG(ws);
    } else {
        pe.has_exit_code = 1;
        pe.exit_code = WEXITSTATUS(ws);
    }
    if (im->ended) {
        /* a KILLED over a synthesised KILLED changes nothing in the store */
        if (!im->synth || how == TUNETRAIL__PROCESS_END__HOW__END_KILLED)
            return 0;
        im->synth = 0;
        restatus_img(r, im, st);
        return trials_emit(r, &ev, err, errlen);
    }
    im->gone = 0;
    if (settle_pattern(r, im, err, errlen) < 0)
        return -1;
    end_img(r, im, st);
    if (flush_writes(r, im, err, errlen) < 0)
        return -1;
    return trials_emit(r, &ev, err, errlen);
}

/* An image whose process is gone without its own end record: the wait
 * status if anyone told us or /proc still shows it, else killed. */
static int end_unreported(tt_trials *r, struct img *im, char *err, size_t errlen)
{
    int ws;
    if (im->wst_known)
        return end_wstatus(r, im, im->wst, err, errlen);
    if (im->live && proc_zombie_status(im->pid, &ws))
        return end_wstatus(r, im, ws, err, errlen);
    return synth_end(r, im, err, errlen);
}

int trials_child_status(tt_trials *r, pid_t pid, pid_t ppid, int wstatus, char *err, size_t errlen)
{
    for (size_t i = r->nimg; i-- > 0;) {
        struct img *im = &r->imgs[i];
        if (im->pid != pid || im->agent_made || !im->live || (ppid > 0 && im->ppid != ppid))
            continue;
        if (im->execd)
            break; /* the image it exec'd into is not seen yet */
        if (im->ended || im->gone)
            return end_wstatus(r, im, wstatus, err, errlen); /* ended by its own record: no-op */
        /* its last records may still wait in its socket: used at its EOF,
         * or by the image it is exec'ing into (below) */
        im->wst_known = 1;
        im->wst = wstatus;
        break;
    }
    /* Its ProcessStart (or that of the image its last exec made) may not be
     * read yet, its connection being polled after its parent's: kept for
     * on_process_start, the oldest dropped first. */
    if (ppid > 0) {
        struct early *e = &r->early[r->nearly++ % EARLY_MAX];
        e->pid = pid;
        e->ppid = ppid;
        e->ws = wstatus;
    }
    return 0;
}

int trials_tick(tt_trials *r, char *err, size_t errlen)
{
    if (!r->any_gone)
        return 0; /* the common case, on every wake-up of the loop: no walk */
    int64_t now = mono_ms();
    r->any_gone = 0;
    for (size_t i = 0; i < r->nimg; i++) {
        struct img *im = &r->imgs[i];
        if (!im->gone || im->ended)
            continue;
        r->any_gone = 1;
        if (now < im->gone_check_ms)
            continue;
        int ws, rc = 0;
        im->gone_check_ms = now + GONE_CHECK_MS;
        if (r->root_pid > 0 && im->pid == r->root_pid)
            continue; /* the agent reaps it: trials_child_status */
        if (proc_zombie_status(im->pid, &ws))
            rc = end_wstatus(r, im, ws, err, errlen);
        else if (kill(im->pid, 0) < 0 && errno == ESRCH)
            rc = synth_end(r, im, err, errlen); /* reaped by a parent that told nobody */
        if (rc < 0) {
            r->any_gone = 1; /* the rest are looked at next time */
            return -1;
        }
    }
    return 0;
}

long trials_tick_timeout_ms(const tt_trials *r)
{
    if (!r->any_gone)
        return -1;
    int64_t now = mono_ms(), next = -1;
    for (size_t i = 0; i < r->nimg; i++)
        if (r->imgs[i].gone && !r->imgs[i].ended && (next < 0 || r->imgs[i].gone_check_ms < next))
            next = r->imgs[i].gone_check_ms;
    return next < 0 ? -1 : next <= now ? 0 : (long)(next - now);
}

/* What an image runs (argv_params.h): helper, script, its program and
 * group for "the same program", and what the shim said of its frameworks. */
static void classify(tt_trials *r, struct img *im, const Tunetrail__ProcessStart *ps)
{
    struct argv_program ap;
    argv_program(im->argc, im->argv, im->exe, &ap);
    im->helper = ap.helper;
    im->script = ap.script;
    im->fw = ps->n_frameworks > 0;
    im->evaluator = ps->has_evaluator && ps->evaluator;
    /* a fork that did not exec: the same exe and argv as its parent image */
    struct img *par = NULL;
    for (size_t i = r->nimg; im->has_parent && i-- > 0;)
        if (!memcmp(r->imgs[i].uuid, im->parent, 16))
            par = &r->imgs[i];
    if (par && par != im && par->exe && im->exe && !strcmp(par->exe, im->exe) && par->argc == im->argc) {
        int same = 1;
        for (int k = 0; k < im->argc && same; k++)
            same = !strcmp(par->argv[k], im->argv[k]);
        im->copy = same;
        if (same && ap.interpreter)
            im->helper = 1; /* multiprocessing's fork workers, a shell's subshells */
    }
    if (!im->helper) {
        if (ap.name && ap.module)
            im->program = cat3("module:", ap.name, "");
        else if (ap.name && ap.name[0] != '/' && ps->cwd)
            im->program = cat3(ps->cwd, "/", ap.name);
        else if (ap.name)
            im->program = strdup(ap.name);
        else if (im->exe)
            im->program = strdup(im->exe);
    }
    char hex[33];
    if (ps->has_session && ps->session.len == 16) {
        wire_hex(hex, ps->session.data, 16);
        im->group = strdup(hex);
    } else {
        im->group = cat3("study:", ps->study ? ps->study : "", "");
    }
    for (size_t i = 0; i < ps->n_unattached; i++)
        tally_add(&r->unattached, &r->nunattached, ps->unattached[i], im->exe ? im->exe : "?");
}

static int on_process_start(tt_trials *r, int conn, Tunetrail__Event *ev, char *err, size_t errlen)
{
    Tunetrail__ProcessStart *ps = ev->process_start;
    const ProtobufCBinaryData *u = ps->has_process && ps->process.len == 16 ? &ps->process : &ev->origin;
    if (u->len != 16)
        return out_event(r, ev, NULL, NULL, err, errlen);
    struct img *im = find_img(r, u);
    if (!im && !(im = add_img(r, u->data)))
        return tt_fail(err, errlen, "out of memory");
    im->conn = conn;
    im->live = conn >= 0;
    im->pid = ps->pid;
    im->ppid = ps->ppid;
    /* kept, not taken: every image of an exec chain shares pid and ppid,
     * and the last one is the one that needs it */
    for (size_t i = 0; i < EARLY_MAX && i < r->nearly && im->live && !im->wst_known; i++)
        if (r->early[i].pid == im->pid && r->early[i].ppid == im->ppid) {
            im->wst_known = 1;
            im->wst = r->early[i].ws;
        }
    if (ev->has_time_ns && !im->start_ns)
        im->start_ns = ev->time_ns;
    if (!im->argv)
        copy_argv(im, ps->argv, ps->n_argv);
    if (!im->exe && ps->exe)
        im->exe = strdup(ps->exe);

    /* Save what we overwrite: the unpacked message owns its fields and
     * protobuf-c frees them; ours must be taken back out before that. */
    Tunetrail__ProcessStart saved = *ps;
    uint8_t parent[16];
    if (!ps->user && ps->has_uid)
        ps->user = (char *)user_of(r, (uid_t)ps->uid);
    const char *commit;
    int dirty;
    if (!ps->git_commit && gitinfo_for_dir(r->git, ps->cwd, &commit, &dirty) == 1) {
        ps->git_commit = (char *)commit;
        ps->has_git_dirty = 1;
        ps->git_dirty = dirty;
    }
    struct hashpool_job *exe_job = NULL;
    if (!ps->has_exe_sha256 && ps->exe)
        exe_job = hashpool_get(r->hp, ps->exe);
    if (r->has_session && !(ps->has_session && ps->session.len == 16)) {
        ps->has_session = 1;
        ps->session = (ProtobufCBinaryData){16, r->session};
    }
    if (ps->has_parent && ps->parent.len == 16) {
        memcpy(im->parent, ps->parent.data, 16);
        im->has_parent = 1;
    } else {
        /* INTERNALS.md "Process identity": link to the live image with
         * pid == our ppid; the newest such image is the current one. */
        for (size_t i = r->nimg; i-- > 0;) {
            struct img *p = &r->imgs[i];
            if (p != im && !p->ended && p->pid == ps->ppid && ps->ppid > 0) {
                memcpy(parent, p->uuid, 16);
                ps->has_parent = 1;
                ps->parent = (ProtobufCBinaryData){16, parent};
                ps->has_relation = 1;
                ps->relation = TUNETRAIL__PROCESS_START__RELATION__REL_FORK;
                memcpy(im->parent, parent, 16);
                im->has_parent = 1;
                break;
            }
        }
        if (!im->has_parent && r->root_pid > 0 && ps->pid == r->root_pid) {
            ps->has_relation = 1;
            ps->relation = TUNETRAIL__PROCESS_START__RELATION__REL_ROOT;
        }
    }
    im->relation = ps->has_relation ? (int)ps->relation : 0;
    if (!im->group)
        classify(r, im, ps);
    static const struct hold h = {HOLD_EXE, 0, NULL};
    int rc = exe_job ? out_event(r, ev, &h, exe_job, err, errlen) : out_event(r, ev, NULL, NULL, err, errlen);
    *ps = saved;
    if (rc < 0)
        return -1;
    return match_trial(r, im, err, errlen);
}

static int on_file_access(tt_trials *r, Tunetrail__Event *ev, char *err, size_t errlen)
{
    Tunetrail__FileAccess *fa = ev->file_access;
    if (!fa->path || fa->has_sha256)
        return out_event(r, ev, NULL, NULL, err, errlen);
    int writing = fa->has_mode && fa->mode != TUNETRAIL__FILE_ACCESS__MODE__MODE_READ;
    const ProtobufCBinaryData *u = fa->has_process && fa->process.len == 16 ? &fa->process : &ev->origin;
    struct img *im = find_img(r, u);
    if (!writing && u->len == 16)
        config_track_read(r->ctrack, u->data, fa->path);
    if (writing && !fa->closed) {
        /* hash at its close event, or at process end if none comes */
        if (im) {
            struct pwrite *w = calloc(1, sizeof *w);
            if (w && (w->path = strdup(fa->path))) {
                w->next = im->writes;
                im->writes = w;
            } else {
                free(w);
            }
        }
        return out_event(r, ev, NULL, NULL, err, errlen);
    }
    if (writing && im) {
        struct pwrite *w = NULL;
        for (struct pwrite *p = im->writes; p && !w; p = p->next)
            if (!strcmp(p->path, fa->path))
                w = p;
        if (!w && (w = calloc(1, sizeof *w))) {
            if ((w->path = strdup(fa->path))) {
                w->next = im->writes;
                im->writes = w;
            } else {
                free(w);
                w = NULL;
            }
        }
        if (w) {
            w->closed = 1;
            w->size = fa->stat && fa->stat->has_size ? fa->stat->size : UINT64_MAX;
            w->mtime_ns = fa->stat && fa->stat->has_mtime_ns ? fa->stat->mtime_ns : INT64_MIN;
        }
    }
    static const struct hold h = {HOLD_FILE, 0, "cannot hash"};
    return out_hashed(r, ev, fa->path, &h, err, errlen);
}

int trials_feed(tt_trials *r, int conn, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    Tunetrail__Batch *b = tunetrail__batch__unpack(NULL, len, buf);
    if (!b)
        return tt_fail(err, errlen, "malformed batch (%zu bytes) dropped", len);
    int rc = 0;
    for (size_t i = 0; i < b->n_events && rc == 0; i++) {
        Tunetrail__Event *ev = b->events[i];
        switch (ev->kind_case) {
        case TUNETRAIL__EVENT__KIND_PROCESS_START:
            rc = on_process_start(r, conn, ev, err, errlen);
            break;
        case TUNETRAIL__EVENT__KIND_FILE_ACCESS:
            rc = on_file_access(r, ev, err, errlen);
            break;
        case TUNETRAIL__EVENT__KIND_PROCESS_END: {
            Tunetrail__ProcessEnd *pe = ev->process_end;
            const ProtobufCBinaryData *u = pe->has_process && pe->process.len == 16 ? &pe->process : &ev->origin;
            struct img *im = find_img(r, u);
            if (im && !im->ended) {
                int st = TS_FAILED;
                if (pe->how == TUNETRAIL__PROCESS_END__HOW__END_EXEC ||
                    (pe->how == TUNETRAIL__PROCESS_END__HOW__END_EXIT && pe->exit_code == 0))
                    st = TS_OK;
                else if (pe->how == TUNETRAIL__PROCESS_END__HOW__END_SIGNAL)
                    st = TS_CRASHED;
                else if (pe->how == TUNETRAIL__PROCESS_END__HOW__END_KILLED)
                    st = TS_KILLED;
                if (pe->n_frameworks)
                    im->fw = 1;
                im->gone = 0;
                im->execd = pe->how == TUNETRAIL__PROCESS_END__HOW__END_EXEC;
                if (settle_pattern(r, im, err, errlen) < 0) {
                    rc = -1;
                    break;
                }
                end_img(r, im, st);
                rc = flush_writes(r, im, err, errlen);
            }
            /* An exec can fail and the image go on; any other end is its last word. */
            if (im && im->ended && conn >= 0 && im->conn == conn && !im->execd)
                r->finished_conn = conn;
            if (rc == 0)
                rc = out_event(r, ev, NULL, NULL, err, errlen);
            break;
        }
        case TUNETRAIL__EVENT__KIND_TRIAL_START: {
            Tunetrail__TrialStart *ts = ev->trial_start;
            size_t idx = SIZE_MAX;
            const ProtobufCBinaryData *u = ts->has_process && ts->process.len == 16 ? &ts->process : &ev->origin;
            struct img *im = find_img(r, u);
            if (im)
                idx = (size_t)(im - r->imgs);
            if (ts->trial.len == 16 && add_trial(r, ts->trial.data, idx) < 0)
                rc = tt_fail(err, errlen, "out of memory");
            if (rc == 0 && ts->framework && strcmp(ts->framework, "argv"))
                tally_add(&r->adapters, &r->nadapters, ts->framework, NULL);
            if (rc == 0)
                rc = out_event(r, ev, NULL, NULL, err, errlen);
            /* an adapter trial replaces the image's --trial pattern trial,
             * taking its params; the image's own params go to every trial */
            if (rc == 0 && im && (im->pattern || im->adapted || im->npp) && ts->trial.len == 16) {
                if (im->pattern || im->adapted) {
                    free(im->pattern);
                    im->pattern = NULL;
                    im->adapted = 1;
                }
                uint8_t tu[16];
                memcpy(tu, ts->trial.data, 16);
                rc = emit_argv_params(r, im, tu, err, errlen);
            }
            break;
        }
        case TUNETRAIL__EVENT__KIND_TRIAL_END: {
            Tunetrail__TrialEnd *te = ev->trial_end;
            if (te->trial.len == 16)
                config_track_trial_end(r->ctrack, te->trial.data);
            for (size_t k = 0; k < r->ntr; k++)
                if (te->trial.len == 16 && !memcmp(r->trials[k].uuid, te->trial.data, 16) &&
                    !r->trials[k].done && te->status != TUNETRAIL__TRIAL_END__STATUS__TRIAL_UNSPECIFIED) {
                    r->trials[k].done = 1;
                    switch (te->status) {
                    case TUNETRAIL__TRIAL_END__STATUS__TRIAL_OK: r->trials[k].status = TS_OK; break;
                    case TUNETRAIL__TRIAL_END__STATUS__TRIAL_CRASHED: r->trials[k].status = TS_CRASHED; break;
                    case TUNETRAIL__TRIAL_END__STATUS__TRIAL_KILLED: r->trials[k].status = TS_KILLED; break;
                    default: r->trials[k].status = TS_FAILED;
                    }
                    if (te->status == TUNETRAIL__TRIAL_END__STATUS__TRIAL_OK)
                        r->finished++;
                    else
                        r->failed++;
                }
            rc = out_event(r, ev, NULL, NULL, err, errlen);
            break;
        }
        case TUNETRAIL__EVENT__KIND_METRIC: {
            struct img *im = ev->metric->trial.len == 16 ? NULL : find_img(r, &ev->origin);
            if (im)
                im->loose_metric = 1;
            rc = out_event(r, ev, NULL, NULL, err, errlen);
            break;
        }
        case TUNETRAIL__EVENT__KIND_NOTE: {
            /* a shim reaped a child that a signal ended, or exec'd a program
             * it cannot enter (docs/INTERNALS.md "Ends from outside") */
            const Tunetrail__Note *n = ev->note;
            int pid, ws;
            char why[16];
            struct img *par = find_img(r, &ev->origin);
            if (n->level && !strcmp(n->level, "wait") && n->text && par && par->live &&
                sscanf(n->text, "{\"pid\":%d,\"wait_status\":%d}", &pid, &ws) == 2 && pid > 0)
                rc = trials_child_status(r, pid, par->pid, ws, err, errlen);
            if (n->level && !strcmp(n->level, "params") && n->text && par)
                rc = image_params(r, par, n->text, err, errlen);
            if (n->level && !strcmp(n->level, "unentered") && n->text &&
                sscanf(n->text, "%15[a-z] ", why) == 1 && strchr(n->text, ' '))
                tally_add(&r->unentered, &r->nunentered, why, strchr(n->text, ' ') + 1);
            if (rc == 0)
                rc = out_event(r, ev, NULL, NULL, err, errlen);
            break;
        }
        default:
            rc = out_event(r, ev, NULL, NULL, err, errlen);
        }
    }
    tunetrail__batch__free_unpacked(b, NULL);
    if (rc == 0)
        rc = cfg_flush(r, err, errlen);
    return rc;
}

int trials_conn_eof(tt_trials *r, int conn, char *err, size_t errlen)
{
    for (size_t i = 0; i < r->nimg; i++) {
        struct img *im = &r->imgs[i];
        if (im->conn != conn)
            continue;
        im->conn = -2; /* connection ids are reused by the caller */
        if (im->ended)
            continue;
        int ws, rc = 0;
        if (im->wst_known)
            rc = end_wstatus(r, im, im->wst, err, errlen);
        else if (proc_zombie_status(im->pid, &ws))
            rc = end_wstatus(r, im, ws, err, errlen);
        else {
            /* it is still dying, or its parent reaped it: its parent's shim
             * (ChildEnd), our own wait or a later look at /proc tells how */
            im->gone = 1;
            im->gone_check_ms = mono_ms() + GONE_CHECK_MS;
            r->any_gone = 1;
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

int trials_conn_finished(tt_trials *r, int conn)
{
    if (conn < 0 || r->finished_conn != conn)
        return 0;
    r->finished_conn = -1;
    return 1;
}

void trials_conn_detach(tt_trials *r, int conn)
{
    for (size_t i = 0; i < r->nimg; i++)
        if (r->imgs[i].conn == conn) {
            r->imgs[i].conn = -2;
            if (!r->imgs[i].ended)
                r->imgs[i].detached = 1;
        }
}

int trials_agent_process_start(tt_trials *r, pid_t pid, const char *exe, char *const *argv, const char *why,
                               char *err, size_t errlen)
{
    uint8_t u[16];
    if (wire_uuid_new(u) < 0)
        return tt_fail(err, errlen, "getrandom: %s", strerror(errno));
    struct img *im = add_img(r, u);
    if (!im)
        return tt_fail(err, errlen, "out of memory");
    size_t n = 0;
    while (argv[n])
        n++;
    copy_argv(im, argv, n);
    im->exe = strdup(exe);
    im->pid = pid;
    im->ppid = getpid();
    im->agent_made = 1;
    im->start_ns = now_ns();
    Tunetrail__Event ev = TUNETRAIL__EVENT__INIT;
    Tunetrail__ProcessStart ps = TUNETRAIL__PROCESS_START__INIT;
    ev.kind_case = TUNETRAIL__EVENT__KIND_PROCESS_START;
    ev.process_start = &ps;
    ps.has_process = ps.has_relation = ps.has_pid = ps.has_ppid = ps.has_uid = 1;
    ps.process = (ProtobufCBinaryData){16, im->uuid};
    if (r->has_session) {
        ps.has_session = 1;
        ps.session = (ProtobufCBinaryData){16, r->session};
    }
    ps.relation = TUNETRAIL__PROCESS_START__RELATION__REL_ROOT;
    ps.pid = pid;
    ps.ppid = getpid();
    ps.exe = (char *)exe;
    ps.argv = (char **)argv;
    ps.n_argv = n;
    char cwd[4096], host[256] = "";
    ps.cwd = getcwd(cwd, sizeof cwd) ? cwd : NULL;
    gethostname(host, sizeof host - 1);
    ps.host = host;
    ps.uid = getuid();
    ps.user = (char *)user_of(r, getuid());
    const char *commit;
    int dirty;
    if (ps.cwd && gitinfo_for_dir(r->git, ps.cwd, &commit, &dirty) == 1) {
        ps.git_commit = (char *)commit;
        ps.has_git_dirty = 1;
        ps.git_dirty = dirty;
    }
    classify(r, im, &ps);
    static const struct hold h = {HOLD_EXE, 1, NULL};
    stamp(r, &ev);
    if (out_hashed(r, &ev, exe, &h, err, errlen) < 0)
        return -1;
    /* why there are no files, params or metrics: on the process, for readers */
    tally_add(&r->outside, &r->noutside, why, exe);
    char text[PATH_MAX + 128];
    snprintf(text, sizeof text, "%s is %s: the shim cannot enter it; recorded from outside only (start, exit)",
             exe, why);
    Tunetrail__Event nev = TUNETRAIL__EVENT__INIT;
    Tunetrail__Note note = TUNETRAIL__NOTE__INIT;
    nev.kind_case = TUNETRAIL__EVENT__KIND_NOTE;
    nev.note = &note;
    note.has_process = 1;
    note.process = (ProtobufCBinaryData){16, im->uuid};
    note.level = "warn";
    note.text = text;
    if (trials_emit(r, &nev, err, errlen) < 0)
        return -1;
    return match_trial(r, im, err, errlen);
}

int trials_agent_process_end(tt_trials *r, int wstatus, char *err, size_t errlen)
{
    for (size_t i = r->nimg; i-- > 0;) {
        struct img *im = &r->imgs[i];
        if (im->agent_made && !im->ended)
            return end_wstatus(r, im, wstatus, err, errlen);
    }
    return 0;
}

/* Follows exec successors (same pid, parent == im, REL_EXEC) to the last. */
static struct img *exec_tail(tt_trials *r, struct img *im)
{
    for (int guard = 0; guard < 1000; guard++) {
        struct img *next = NULL;
        for (size_t i = 0; i < r->nimg; i++) {
            struct img *c = &r->imgs[i];
            if (c->has_parent && !memcmp(c->parent, im->uuid, 16) && c->pid == im->pid &&
                c->relation == TUNETRAIL__PROCESS_START__RELATION__REL_EXEC)
                next = c;
        }
        if (!next)
            return im;
        im = next;
    }
    return im;
}

int trials_root_fallback(tt_trials *r, char *err, size_t errlen)
{
    if (r->ntr)
        return 0;
    if (r->root_pid > 0) {
        for (size_t i = r->nimg; i-- > 0;)
            if (r->imgs[i].pid == r->root_pid)
                return open_trial(r, &r->imgs[i], "root", err, errlen);
        return 0;
    }
    size_t n = r->nimg; /* open_trial does not add images */
    for (size_t i = 0; i < n; i++) {
        struct img *im = &r->imgs[i];
        int has = 0;
        for (size_t k = 0; k < n && im->has_parent && !has; k++)
            has = !memcmp(r->imgs[k].uuid, im->parent, 16);
        if (!has && open_trial(r, exec_tail(r, im), "root", err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* docs/INTERNALS.md "Failed trials": an image that ended failed, crashed
 * or killed without opening a trial is a trial when a framework was loaded
 * in it (an evaluation program aside) or when it runs the same program as
 * an image of its group (session, or bare study) that had a trial. Helpers
 * and forked copies never are; a --trial match was settled already. */
static int open_failed_trials(tt_trials *r, char *err, size_t errlen)
{
    struct prog {
        const char *program, *group;
    } *progs = NULL;
    size_t np = 0, n = r->nimg; /* open_trial adds no image */
    for (size_t i = 0; i < n; i++) {
        const struct img *im = &r->imgs[i];
        if (!im->ntrials || !im->program || !im->group || im->copy)
            continue;
        size_t k = 0;
        while (k < np && (strcmp(progs[k].program, im->program) || strcmp(progs[k].group, im->group)))
            k++;
        if (k < np)
            continue;
        struct prog *p = realloc(progs, (np + 1) * sizeof *p);
        if (!p) {
            free(progs);
            return tt_fail(err, errlen, "out of memory");
        }
        progs = p;
        progs[np++] = (struct prog){im->program, im->group};
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct img *im = &r->imgs[i];
        if (!im->ended || im->status == TS_OK || im->ntrials || im->helper || im->copy)
            continue;
        const char *why = NULL;
        if (im->fw && !im->evaluator)
            why = "failed:framework";
        for (size_t k = 0; !why && im->program && im->group && k < np; k++)
            if (!strcmp(progs[k].program, im->program) && !strcmp(progs[k].group, im->group))
                why = "failed:program";
        if (why)
            rc = open_trial(r, im, why, err, errlen);
    }
    free(progs);
    return rc;
}

/* docs/INTERNALS.md "Failed trials": an evaluation program (svm-predict,
 * liblinear-predict: ProcessStart.evaluator) that printed its metric outside
 * any trial, e.g. inside a Makefile sweep, gets a trial of its own; the
 * store makes it an evaluation of the model it read. So it is a leaf of the
 * study's log, and a record can count every use of a held-out file. Other
 * programs' loose metrics stay loose: `train | tee log` must not make tee a
 * trial. Runs after open_failed_trials, so these never make failures trials. */
static int open_evaluation_trials(tt_trials *r, char *err, size_t errlen)
{
    size_t n = r->nimg; /* open_trial adds no image */
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct img *im = &r->imgs[i];
        if (!im->evaluator || !im->loose_metric || im->ntrials || im->helper || im->copy)
            continue;
        rc = open_trial(r, im, "evaluation", err, errlen);
        if (rc == 0)
            r->trials[r->ntr - 1].evaluation = 1;
    }
    return rc;
}

int trials_finish(tt_trials *r, int force_end, char *err, size_t errlen)
{
    for (size_t i = 0; i < r->nimg; i++) {
        struct img *im = &r->imgs[i];
        if (im->ended) {
            if (flush_writes(r, im, err, errlen) < 0)
                return -1;
        } else if (force_end && !im->agent_made && !im->detached) {
            if (end_unreported(r, im, err, errlen) < 0)
                return -1;
        }
        if (settle_pattern(r, im, err, errlen) < 0) /* still running: open it now */
            return -1;
    }
    if (open_failed_trials(r, err, errlen) < 0 || open_evaluation_trials(r, err, errlen) < 0)
        return -1;
    return trials_wait(r, err, errlen);
}

char *trials_summary(const tt_trials *r)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    unsigned by[TS_N] = {0};
    size_t ntr = 0, nev = 0;
    for (size_t i = 0; i < r->ntr; i++) {
        if (r->trials[i].evaluation) {
            nev++;
            continue;
        }
        ntr++;
        by[r->trials[i].done ? r->trials[i].status : TS_RUNNING]++;
    }
    fprintf(f, "tunetrail: %zu trial%s", ntr, ntr == 1 ? "" : "s");
    const char *sep = " (";
    static const int order[] = {TS_OK, TS_FAILED, TS_CRASHED, TS_KILLED, TS_RUNNING};
    for (size_t k = 0; k < sizeof order / sizeof *order; k++)
        if (by[order[k]]) {
            fprintf(f, "%s%u %s", sep, by[order[k]], ts_name[order[k]]);
            sep = ", ";
        }
    if (ntr)
        fputc(')', f);
    if (nev)
        fprintf(f, "; %zu evaluation%s", nev, nev == 1 ? "" : "s");
    if (!r->nadapters)
        fputs("; no adapter opened a trial", f);
    for (size_t i = 0; i < r->nadapters; i++)
        fprintf(f, "%s%s %u", i ? ", " : "; adapters: ", r->adapters[i].name, r->adapters[i].n);
    for (size_t i = 0; i < r->cfg.npatterns; i++)
        if (!r->pattern_hits[i])
            fprintf(f, "; --trial '%s' matched nothing", r->cfg.patterns[i]);
    for (size_t i = 0; i < r->nunattached; i++)
        fprintf(f, "; the %s adapter could not attach to %s: %s is built into it, not loaded from its library",
                r->unattached[i].name, r->unattached[i].what, r->unattached[i].name);
    for (size_t i = 0; i < r->noutside; i++)
        fprintf(f, "; %s is %s: recorded from outside only", base(r->outside[i].what), r->outside[i].name);
    for (size_t i = 0; i < r->nunentered; i++)
        fprintf(f, "; %s (%s) ran %u time%s without the shim: not recorded", r->unentered[i].what,
                r->unentered[i].name, r->unentered[i].n, r->unentered[i].n == 1 ? "" : "s");
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}
