/* record.c - builds the provenance record's Statement for a study from the
 * store (docs/RECORD.md): the log's leaves, the producing trial, and what the
 * leaves cannot carry (evaluations, running trials, driver processes).
 * The statistics themselves are computed from the leaves (record_stats.c). */
#include "record.h"

#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "hashcache.h"
#include "keys.h"
#include "merkle.h"
#include "paths.h"
#include "util.h"
#include "wire.h"
#include "jsonfmt.h"

/* What record_build keeps of the log besides the record itself. */
struct loginfo {
    merkle_hash *hash;
    int64_t *trial_id;
    merkle_hash head_root; /* the root of the collector's log_head */
    /* check_thread's inputs and results */
    const struct record *r;
    const char *dbpath, *study;
    merkle_hash root;
    long bad_leaf; /* first leaf whose text does not hash to its stored hash, or -1 */
    int64_t running;
    json_t *all_processes;
    double t_hash, t_all; /* seconds, for TUNETRAIL_TIMING */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Rehashes every leaf text and computes the root (a pass over tens of MB),
 * then counts running trials and all processes: run on a second core while
 * the statistics are computed. */
static void *check_thread(void *p)
{
    struct loginfo *l = p;
    double t0 = now_s();
    l->bad_leaf = -1;
    for (size_t i = 0; i < l->r->n; i++) {
        merkle_hash h;
        merkle_leaf_hash(l->r->text[i], l->r->len[i], h);
        if (memcmp(h, l->hash[i], MERKLE_HASH)) {
            l->bad_leaf = (long)i;
            break;
        }
    }
    merkle_root(l->hash, l->r->n, l->root);
    l->t_hash = now_s() - t0;
    /* two scans of the study's trials and processes, on a store handle of
     * this thread's own (a handle is single-threaded) */
    tt_store *st = store_open(l->dbpath, STORE_READONLY, NULL, 0);
    if (st) {
        l->running = store_count_running(st, l->study);
        l->all_processes = store_study_compute(st, l->study);
        store_close(st);
    }
    l->t_all = now_s() - t0;
    return NULL;
}

static void loginfo_free(struct loginfo *l)
{
    free(l->hash);
    free(l->trial_id);
    json_decref(l->all_processes);
}

/* One half of the leaves, scanned by one thread into its own arena. */
struct scanjob {
    struct record *r;
    size_t from, to;
    struct leafscan_arena *arena;
    long bad; /* the leaf that failed, or -1 */
    char err[TT_ERR_MAX];
};

static void *scan_thread(void *p)
{
    struct scanjob *j = p;
    for (size_t i = j->from; i < j->to; i++)
        if (leafscan(j->r->text[i], j->r->len[i], &j->r->leaf[i], j->arena, j->err,
                     sizeof j->err) != 0) {
            j->bad = (long)i;
            break;
        }
    return NULL;
}

/* Room before the leaves for the Statement's head and the PAE prefix. The
 * head is a few hundred KB at most (50 values per key); the mapping is
 * virtual until touched. */
#define PAYLOAD_HEAD_ROOM ((size_t)64 << 20)
#define PAYLOAD_TAIL_ROOM ((size_t)1 << 20)

/* load_leaves' state while the store hands it the study's leaves. */
struct leafload {
    const char *study;
    struct record *r;
    struct loginfo *l;
    size_t w, cap;
    char *err;
    size_t errlen;
};

/* One leaf from the store: its text copied straight into the payload
 * buffer, its stored hash and trial id kept; the log must be contiguous. */
static int load_leaf(const struct store_leaf *sl, void *arg)
{
    struct leafload *ll = arg;
    struct record *r = ll->r;
    struct loginfo *l = ll->l;
    if (sl->idx != (int64_t)r->n) {
        tt_fail(ll->err, ll->errlen,
                 "the log of study '%s' has no leaf %zu (next is %lld): the store was altered",
                 ll->study, r->n, (long long)sl->idx);
        return -1;
    }
    if (r->n == ll->cap) {
        ll->cap = ll->cap ? ll->cap * 2 : 1024;
        l->hash = realloc(l->hash, ll->cap * sizeof *l->hash);
        l->trial_id = realloc(l->trial_id, ll->cap * sizeof *l->trial_id);
        r->leaf = realloc(r->leaf, ll->cap * sizeof *r->leaf);
        r->text = realloc(r->text, ll->cap * sizeof *r->text);
        r->len = realloc(r->len, ll->cap * sizeof *r->len);
    }
    if (ll->w + sl->len + 1 + PAYLOAD_TAIL_ROOM > r->pbufsize) {
        tt_fail(ll->err, ll->errlen, "the log of study '%s' is longer than its store file",
                 ll->study);
        return -1;
    }
    if (r->n)
        r->pbuf[ll->w++] = ',';
    char *text = (char *)r->pbuf + ll->w;
    memcpy(text, sl->text, sl->len);
    ll->w += sl->len;
    if (!sl->hash) {
        tt_fail(ll->err, ll->errlen, "leaf %zu of study '%s' has no hash: the store was altered",
                 r->n, ll->study);
        return -1;
    }
    memcpy(l->hash[r->n], sl->hash, MERKLE_HASH);
    l->trial_id[r->n] = sl->trial_id;
    r->text[r->n] = text;
    r->len[r->n] = sl->len;
    r->n++;
    return 0;
}

/* Reads the study's log into r (texts, straight into the payload buffer,
 * and scanned fields) and l (stored hashes, trial ids, the head's root);
 * checks that it is contiguous and that the head has as many leaves.
 * check_thread then checks the hashes. */
static int load_leaves(tt_store *st, const char *study, struct record *r, struct loginfo *l,
                       char *err, size_t errlen)
{
    /* the leaves cannot be longer than the store's file and its WAL */
    const char *dbpath = store_path(st);
    struct stat sb;
    size_t room = 0;
    char wal[4200];
    if (stat(dbpath, &sb) == 0)
        room += (size_t)sb.st_size;
    snprintf(wal, sizeof wal, "%s-wal", dbpath);
    if (stat(wal, &sb) == 0)
        room += (size_t)sb.st_size;
    r->pbufsize = PAYLOAD_HEAD_ROOM + 2 * room + PAYLOAD_TAIL_ROOM;
    if (!(r->pbuf = tt_big_alloc(r->pbufsize))) {
        tt_fail(err, errlen, "out of memory (%zu MB for the log)", r->pbufsize >> 20);
        return -1;
    }
    r->pstart = PAYLOAD_HEAD_ROOM;
    struct leafload ll = {study, r, l, r->pstart, 0, err, errlen};
    r->pbuf[ll.w++] = '[';
    if (store_log_each(st, study, load_leaf, &ll, err, errlen) != 0)
        return -1;
    r->pend = ll.w;
    record_phase("  read leaves");
    /* scan the two halves on two cores, each into its own arena */
    struct scanjob jobs[2] = {{r, 0, r->n / 2, &r->arena, -1, ""},
                              {r, r->n / 2, r->n, &r->arena2, -1, ""}};
    pthread_t th;
    int threaded = pthread_create(&th, NULL, scan_thread, &jobs[1]) == 0;
    if (!threaded)
        scan_thread(&jobs[1]);
    scan_thread(&jobs[0]);
    if (threaded)
        pthread_join(th, NULL);
    for (int k = 0; k < 2; k++)
        if (jobs[k].bad >= 0) {
            tt_fail(err, errlen, "leaf %ld of study '%s': %s", jobs[k].bad, study, jobs[k].err);
            return -1;
        }
    record_phase("  scan leaves (2 threads)");
    if (!r->n)
        return 0;
    /* the head the collector extends must agree with the leaves */
    struct merkle_frontier f;
    if (store_log_head(st, study, &f) != 0 || f.size != r->n) {
        tt_fail(err, errlen,
                 "the log head of study '%s' does not match its %zu leaves: the store was altered",
                 study, r->n);
        return -1;
    }
    merkle_frontier_root(&f, l->head_root);
    return 0;
}

static const char *js(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Evaluation trials (a process that read one of the study's models and
 * reported a metric): listed, left out of the search. */
static json_t *excluded_json(tt_store *st, const struct record *r, const struct loginfo *l)
{
    json_t *out = json_array(), *ids = store_evaluation_trials(st);
    json_t *done = json_object();
    for (size_t i = 0; json_object_size(ids) && i < r->n; i++) {
        char k[32];
        snprintf(k, sizeof k, "%lld", (long long)l->trial_id[i]);
        json_t *ev = json_object_get(ids, k);
        const char *u = r->leaf[i].trial;
        if (!ev || !u || json_object_get(done, u))
            continue;
        json_object_set_new(done, u, json_true());
        char why[128];
        snprintf(why, sizeof why, "evaluation of trial %s", json_string_value(ev));
        json_array_append_new(out, json_pack("{s:s,s:s,s:s}", "trial", u, "reason", why,
                                             "evaluates", json_string_value(ev)));
    }
    json_decref(done);
    json_decref(ids);
    return out;
}

/* Holdout reuse: each evaluation data file with the trials evaluated on it. */
/* The entry of hsel (record_compute's held-out selection) for sha, or NULL. */
static json_t *hsel_get(json_t *hsel, const char *sha)
{
    size_t i;
    json_t *h;
    json_array_foreach(hsel, i, h) if (!strcmp(js(h, "sha256"), sha)) return h;
    return NULL;
}

static json_t *holdout_json(tt_store *st, const char *study, const struct record *r,
                            json_t *excluded, json_t *hsel)
{
    json_t *files = store_holdout_files(st, study);
    /* latest start of a counted trial, for "adaptive" */
    json_t *skip = json_object(), *x;
    size_t i;
    json_array_foreach(excluded, i, x) json_object_set_new(skip, js(x, "trial"), json_true());
    json_t *out = json_array();
    const char *sha;
    json_t *f;
    json_object_foreach(files, sha, f)
    {
        int64_t first = json_integer_value(json_object_get(f, "first_ns"));
        const char *after = NULL;
        for (size_t j = 0; j < r->n; j++)
            if (r->leaf[j].has_started && r->leaf[j].started_ns > first &&
                !json_object_get(skip, r->leaf[j].trial)) {
                after = r->leaf[j].trial;
                break;
            }
        json_t *paths = json_array();
        const char *p;
        json_t *v;
        json_object_foreach(json_object_get(f, "paths"), p, v) json_array_append_new(paths, json_string(p));
        char why[160];
        if (after)
            snprintf(why, sizeof why,
                     "trial %s started after the first evaluation on this file was reported", after);
        else
            snprintf(why, sizeof why, "no trial started after the first evaluation on this file");
        json_array_append_new(
            out, json_pack("{s:s,s:o,s:I,s:I,s:o,s:b,s:s}", "sha256", sha, "paths", paths,
                           "trials_evaluated", (json_int_t)json_object_size(json_object_get(f, "trials")),
                           "evaluations", (json_int_t)json_object_size(json_object_get(f, "processes")),
                           "first_evaluated", first ? jsonfmt_iso_ns(first) : json_null(),
                           "adaptive", after != NULL, "reason", why));
        /* which model the file picked: computed from the leaves (verify redoes it) */
        json_t *h = hsel_get(hsel, sha), *e = json_array_get(out, json_array_size(out) - 1);
        static const char *const sel_keys[] = {"metric", "direction", "models_compared",
                                               "released_rank", "selected_release",
                                               "selection_reason", NULL};
        for (int k = 0; h && sel_keys[k]; k++)
            json_object_set(e, sel_keys[k], json_object_get(h, sel_keys[k]));
    }
    json_decref(files);
    json_decref(skip);
    return json_pack("{s:s,s:o}", "assumption",
                     "an evaluation is a process that read a model of this study (by hash) and "
                     "reported a metric; its data files are the other files it read; a file "
                     "evaluated before a later trial started may have guided the search",
                     "files", out);
}

static json_t *proof_json(const struct record *r, const struct loginfo *l, size_t idx)
{
    merkle_hash path[MERKLE_MAX_PATH];
    int n = merkle_inclusion_proof(l->hash, r->n, idx, path, MERKLE_MAX_PATH);
    json_t *p = json_array();
    for (int i = 0; i < n; i++) {
        char hex[65];
        json_array_append_new(p, json_string(wire_hex(hex, path[i], 32)));
    }
    return json_pack("{s:I,s:s,s:o}", "leaf_index", (json_int_t)idx, "trial",
                     r->leaf[idx].trial, "path", p);
}

/* The index of the last leaf of trial uuid, or -1. */
/* The sessions the leaves name, in log order of first appearance, each with
 * the identity the lab collector authenticated (null: none) and the user and
 * host the client claimed (docs/RECORD.md, "sessions"). */
static json_t *sessions_json(tt_store *st, const char *study, const struct record *r)
{
    json_t *ids = store_session_identities(st, study), *seen = json_object(), *out = json_array();
    for (size_t i = 0; i < r->n; i++) {
        const char *u = r->leaf[i].session;
        if (!u || json_object_get(seen, u))
            continue;
        json_object_set_new(seen, u, json_true());
        json_t *e = json_object_get(ids, u);
        json_array_append_new(out, json_pack("{s:s,s:O?,s:O?}", "session", u, "identity",
                                             json_object_get(e, "identity"), "claimed",
                                             json_object_get(e, "claimed")));
    }
    json_decref(seen);
    json_decref(ids);
    return out;
}

static long last_leaf_of(const struct record *r, const char *uuid)
{
    for (size_t i = r->n; i-- > 0;) {
        const char *u = r->leaf[i].trial;
        if (u && !strcmp(u, uuid))
            return (long)i;
    }
    return -1;
}

static int timing_on(void)
{
    static int on = -1;
    if (on < 0)
        on = getenv("TUNETRAIL_TIMING") != NULL;
    return on;
}

void record_phase(const char *what)
{
    static double last;
    if (!timing_on())
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double t = ts.tv_sec + ts.tv_nsec / 1e9;
    if (last > 0)
        fprintf(stderr, "  %-28s %8.3f s\n", what, t - last);
    last = t;
}

int record_build(tt_store *st, const struct record_opts *o, struct record *out, char *err,
                 size_t errlen)
{
    struct loginfo l = {0};
    json_t *search = NULL, *sel = NULL, *choices = NULL, *refit = NULL, *hsel = NULL;
    json_t *produced_by = NULL, *excluded = NULL, *subject = json_array(), *predsj = NULL;
    struct record_preds preds = {0};
    char *study = NULL;
    uint8_t sha[32];
    int64_t pid = 0;
    char produced[33] = "";
    char name[256];
    int dir_max = -1, rc = -1, threaded = 0;
    char shahex[65];
    pthread_t th;

    memset(out, 0, sizeof *out);
    record_phase("start");
    if (o->objective && record_objective_parse(o->objective, name, sizeof name, &dir_max, err,
                                               errlen) != 0)
        goto out;
    if (o->model) {
        if (hashcache_sha256_path(o->model, sha) != 0) {
            tt_fail(err, errlen, "%s: cannot read: %s", o->model, strerror(errno));
            goto out;
        }
        wire_hex(shahex, sha, 32);
        if (store_find_producer(st, sha, o->study, &pid, produced, &study) != 0) {
            tt_fail(err, errlen,
                     "%s (sha256 %.16s...): no trial%s%s wrote this file; attest a model written "
                     "by a command run under `tunetrail run`",
                     o->model, shahex, o->study ? " of study " : "", o->study ? o->study : "");
            goto out;
        }
        if (!study) {
            tt_fail(err, errlen, "%s: the trial that wrote it has no study yet", o->model);
            goto out;
        }
        const char *base = strrchr(o->model, '/');
        json_array_append_new(subject, json_pack("{s:s,s:{s:s}}", "name", base ? base + 1 : o->model,
                                                 "digest", "sha256", shahex));
    } else if (paths_study(o->study, &study, err, errlen) != 0)
        goto out;

    record_phase("find producer");
    if (load_leaves(st, study, out, &l, err, errlen) != 0)
        goto out;
    record_phase("load + check leaves");
    if (!out->n) {
        tt_fail(err, errlen, "study '%s' has no finished trials in its log", study);
        goto out;
    }
    l.r = out;
    l.dbpath = store_path(st);
    l.study = study;
    threaded = pthread_create(&th, NULL, check_thread, &l) == 0;
    if (!threaded)
        check_thread(&l);
    long pidx = -1;
    if (o->model) {
        pidx = last_leaf_of(out, produced);
        if (pidx < 0) {
            tt_fail(err, errlen,
                     "%s: the trial that wrote it (%s) is not final yet (still running?): attest "
                     "after it ends",
                     o->model, produced);
            goto out;
        }
    }
    excluded = excluded_json(st, out, &l);
    record_phase("evaluation trials");
    if (record_preds_from_store(st, out, l.trial_id, &preds, &predsj, err, errlen) != 0)
        goto out;
    record_phase("out-of-fold predictions");
    if (record_compute(out->leaf, out->n, excluded, o->model ? produced : NULL,
                       o->objective ? name : NULL, dir_max, &preds, &search, &sel, &choices,
                       &refit, &hsel, err, errlen) != 0) {
        char tmp[512];
        snprintf(tmp, sizeof tmp, "study '%s': %s", study, err);
        tt_fail(err, errlen, "%s", tmp);
        goto out;
    }
    record_phase("record_compute");

    if (threaded)
        pthread_join(th, NULL);
    threaded = 0;
    if (l.bad_leaf >= 0) {
        tt_fail(err, errlen,
                 "leaf %ld of study '%s' does not match its stored hash: the store was altered",
                 l.bad_leaf, study);
        goto out;
    }
    if (memcmp(l.root, l.head_root, MERKLE_HASH)) {
        tt_fail(err, errlen,
                 "the log head's root of study '%s' is not the root of its leaves: the store was "
                 "altered",
                 study);
        goto out;
    }
    json_object_set_new(search, "running", json_integer(l.running));
    json_object_set(search, "excluded", excluded);
    json_object_set_new(json_object_get(search, "compute"), "all_processes",
                        l.all_processes ? l.all_processes : json_null());
    l.all_processes = NULL;
    record_phase("waiting for the 2nd thread");
    if (timing_on())
        fprintf(stderr, "    (2nd thread: leaf hashes + root %.3f s, then running + all processes: %.3f s in all)\n",
                l.t_hash, l.t_all);
    const uint8_t *root = l.root;
    char roothex[65];
    wire_hex(roothex, root, 32);
    json_t *proofs = json_array();
    if (pidx >= 0) {
        /* one leaf: a JSON tree is cheap here */
        json_t *pl = json_loadb(out->text[pidx], out->len[pidx], 0, NULL);
        produced_by = json_pack("{s:s,s:I}", "trial", produced, "leaf_index", (json_int_t)pidx);
        static const char *const copy[] = {"status", "exe", "exe_sha256", "argv", "params",
                                           "metrics", "inputs", "outputs", "git_commit",
                                           "git_dirty", "framework", "started_ns", "ended_ns",
                                           NULL};
        for (int i = 0; pl && copy[i]; i++)
            if (json_object_get(pl, copy[i]))
                json_object_set(produced_by, copy[i], json_object_get(pl, copy[i]));
        json_decref(pl);
        json_t *evs = store_model_evaluations(st, pid), *e;
        size_t ei;
        /* the values on a file the released model was picked on */
        json_array_foreach(evs, ei, e)
        {
            json_t *h = js(e, "data_sha256") ? hsel_get(hsel, js(e, "data_sha256")) : NULL;
            if (h && json_is_true(json_object_get(h, "selected_release")) &&
                !strcmp(js(h, "metric"), js(e, "metric")))
                json_object_set_new(e, "optimistic", json_true());
        }
        json_object_set_new(produced_by, "evaluations", evs);
        json_array_append_new(proofs, proof_json(out, &l, (size_t)pidx));
        if (refit) {
            json_object_set(produced_by, "refit_of", refit);
            size_t i;
            json_t *u;
            json_array_foreach(json_object_get(refit, "trials"), i, u)
            {
                long k = last_leaf_of(out, json_string_value(u));
                if (k >= 0)
                    json_array_append_new(proofs, proof_json(out, &l, (size_t)k));
            }
        }
    }
    json_t *log = json_pack("{s:s,s:I,s:s,s:o,s:o}", "hash",
                            "RFC 9162 SHA-256 (leaf 0x00, node 0x01); trials[i] is leaf i, hashed "
                            "as its canonical JSON text",
                            "tree_size", (json_int_t)out->n, "root", roothex, "checkpoint",
                            store_stored_checkpoint(st, study, out->n, root), "proofs", proofs);
    json_t *pred = json_pack("{s:s,s:o,s:{s:s,s:s}}", "study", study, "created",
                             jsonfmt_iso_ns((long long)time(NULL) * 1000000000LL), "tool", "name",
                             "tunetrail", "version", TT_VERSION);
    if (produced_by)
        json_object_set_new(pred, "producedBy", produced_by);
    produced_by = NULL;
    json_object_set_new(pred, "search", search);
    json_object_set_new(pred, "selection", sel);
    json_object_set_new(pred, "choices", choices);
    record_phase("root, proofs, producedBy");
    json_object_set_new(pred, "holdout", holdout_json(st, study, out, excluded, hsel));
    record_phase("holdout");
    json_object_set_new(pred, "sessions", sessions_json(st, study, out));
    if (predsj)
        json_object_set_new(pred, "predictions", predsj);
    predsj = NULL;
    json_object_set_new(pred, "log", log);
    search = sel = choices = NULL;
    out->stmt = json_pack("{s:s,s:O,s:s,s:o}", "_type", RECORD_STATEMENT_TYPE, "subject", subject,
                          "predicateType", RECORD_PREDICATE_TYPE, "predicate", pred);
    rc = 0;
out:
    if (threaded)
        pthread_join(th, NULL);
    json_decref(predsj);
    record_preds_free(&preds);
    json_decref(search);
    json_decref(sel);
    json_decref(choices);
    json_decref(refit);
    json_decref(hsel);
    json_decref(produced_by);
    json_decref(excluded);
    json_decref(subject);
    loginfo_free(&l);
    free(study);
    if (rc != 0)
        record_free(out);
    return rc;
}

void record_free(struct record *r)
{
    json_decref(r->stmt);
    free(r->leaf);
    free(r->text);
    free(r->len);
    leafscan_arena_free(&r->arena);
    leafscan_arena_free(&r->arena2);
    tt_big_free(r->pbuf, r->pbufsize);
    free(r->raw);
    memset(r, 0, sizeof *r);
}

/* The Statement is dumped with a placeholder for predicate.trials, which is
 * then replaced by the leaf texts: they are canonical already, and
 * re-serialising 100k leaves through a JSON tree costs seconds. record_build
 * left them in place in r->pbuf; a record from elsewhere gets them copied. */
int record_payload(struct record *r, size_t room, uint8_t **start, size_t *len)
{
    static const char mark[] = "\"\\u0001trials\\u0001\"";
    if (!r->pbuf) {
        size_t total = 2;
        for (size_t i = 0; i < r->n; i++)
            total += r->len[i] + 1;
        r->pbufsize = PAYLOAD_HEAD_ROOM + total + PAYLOAD_TAIL_ROOM;
        if (!(r->pbuf = tt_big_alloc(r->pbufsize)))
            return -1;
        r->pstart = PAYLOAD_HEAD_ROOM;
        uint8_t *p = r->pbuf + r->pstart;
        *p++ = '[';
        for (size_t i = 0; i < r->n; i++) {
            if (i)
                *p++ = ',';
            memcpy(p, r->text[i], r->len[i]);
            p += r->len[i];
        }
        r->pend = (size_t)(p - r->pbuf);
    }
    json_t *pred = json_object_get(r->stmt, "predicate");
    json_object_set_new(pred, "trials", json_string("\001trials\001"));
    char *head = json_dumps(r->stmt, JSONFMT_CANONICAL);
    json_object_del(pred, "trials");
    char *at = head ? strstr(head, mark) : NULL;
    size_t pre = at ? (size_t)(at - head) : 0, post = at ? strlen(at + sizeof mark - 1) : 0;
    if (!at || pre + room > r->pstart || post + 1 > PAYLOAD_TAIL_ROOM) {
        free(head);
        return -1;
    }
    uint8_t *begin = r->pbuf + r->pstart - pre;
    memcpy(begin, head, pre);
    r->pbuf[r->pend] = ']';
    memcpy(r->pbuf + r->pend + 1, at + sizeof mark - 1, post);
    free(head);
    *start = begin;
    *len = pre + (r->pend + 1 - r->pstart) + post;
    return 0;
}
